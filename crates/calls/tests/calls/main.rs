//! The call worker against real Postgres, real Redis and SIPp as the trunk.
//! One test binary (fast to link); each test has its own database, Redis key
//! and SIPp process on its own port, so they run in parallel.
// Test helpers may panic on a broken environment: that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod help_now;
mod helpers;
mod sip_calls;
mod workers;
