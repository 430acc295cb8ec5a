//! Anxin's calls: the worker that turns call tasks into two-way calls, and
//! the providers that place them.
//!
//! - [`provider`]: the `CallProvider` trait and the types crossing it.
//! - [`sip`]: third-party call control (RFC 3725) through a SIP trunk.
//! - [`simulated`]: a stand-in provider for demos, marked simulated everywhere.
//! - [`worker`]: leases due tasks from Postgres, runs their calls, records the
//!   attempts, retries per policy, and publishes call events to Redis.
//! - [`events`]: the Redis stream of call events.
//!
//! Nothing here knows HTTP; the API reads what the worker writes.
pub mod events;
pub mod provider;
pub mod simulated;
pub mod sip;
pub mod worker;

pub use provider::{CallHandle, CallProgress, CallProvider, CallReport, CallRequest, HangupReason};
pub use simulated::{SimulatedConfig, SimulatedProvider};
pub use sip::{SipConfig, SipError, SipProvider};
pub use worker::{run, HelpNowConfig, OutcomeHook, WorkerConfig, WorkerError};
