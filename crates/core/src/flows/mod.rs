//! The use cases: each one sequences store and reserve calls around the rules
//! in `domain`. Handlers parse and authorize; flows orchestrate; the domain
//! decides.

pub mod availability;
pub mod bookings;
pub mod experts;
pub mod handover;
pub mod help_now;
pub mod holds;
pub mod organisations;
pub mod payments;
pub mod reach;
pub mod reconcile;
pub mod referrals;
pub mod regions;
pub mod resources;
pub mod seekers;
pub mod sign_in;
pub mod slate;
pub mod slots;
pub mod supervision;
pub mod waitlist;
pub mod webhooks;
