//! Anxin's domain: ids, value types and the business rules, as plain functions
//! over plain types. Nothing here does I/O, so every rule is tested without a
//! database; the I/O crates translate to and from these types and never decide.

pub mod availability;
pub mod booking;
pub mod call;
pub mod clock;
pub mod error;
pub mod expert;
pub mod help_now;
pub mod ids;
pub mod named;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod organisation;
pub mod payment;
pub mod phone;
pub mod proto;
pub mod referral;
pub mod region;
pub mod resource;
pub mod seeker;
pub mod slate;
pub mod stats;
pub mod supervision;
pub mod vocabulary;
pub mod waitlist;

pub use error::ValidationError;
