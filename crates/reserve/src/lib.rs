//! The fast path in Redis: holds, the open-slot index, booked markers,
//! exposure counters, cross-instance rate limits, and reconcile from Postgres.
//!
//! Redis is a cache of truth held in Postgres, never the only copy of anything
//! that matters: a hold lives only here (losing one costs a seeker a retry),
//! while bookings are committed to Postgres first and mirrored here after.
//! Every decision that must be atomic is one Lua script over the keys of one
//! hash slot (see `keys`).

//!
//! By concern: [`connection`] (the handle and its connections), [`holds`]
//! (both sides of a hold, booked markers), [`index`] (the open-slot index,
//! the slate's listings, the rebuild marker), [`exposure`] (what a served
//! slate leaves behind) and [`keys`] (every key's name).

mod cluster;
mod connection;
mod exposure;
mod holds;
mod index;
pub mod keys;

pub use cluster::SlotMap;
pub use connection::{RedisConnection, RedisServer, Reserve, CONNECT_TIMEOUT, RESPONSE_TIMEOUT};
pub use holds::{Hold, HoldRecord, HoldRequest, SlotHold};
pub use index::{IndexState, IndexedSlot, OpenSlots};

use chrono::{DateTime, TimeZone, Utc};
use redis::{RedisWrite, ToRedisArgs};
use std::fmt::Display;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from a script: {0}")]
    Protocol(String),
}

impl ReserveError {
    /// Redis is unreachable, restarting, loading or failing over: the request
    /// may succeed if retried shortly (503), which a bug would not (500).
    pub fn is_outage(&self) -> bool {
        let Self::Redis(e) = self else {
            return false;
        };
        e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(
                e.kind(),
                redis::ErrorKind::BusyLoadingError
                    | redis::ErrorKind::TryAgain
                    | redis::ErrorKind::ClusterDown
                    | redis::ErrorKind::MasterDown
                    | redis::ErrorKind::ReadOnly
                    // A cluster moving slots or promoting a replica, after
                    // the client's own retries and redirections ran out.
                    | redis::ErrorKind::Moved
                    | redis::ErrorKind::Ask
                    | redis::ErrorKind::ClusterConnectionNotFound
            )
    }
}

pub type Result<T> = std::result::Result<T, ReserveError>;

/// Settings of the fast path.
#[derive(Debug, Clone)]
pub struct ReserveConfig {
    pub key_prefix: String,
    pub hold_ttl: Duration,
    /// How long before a slot's end it stops being reservable.
    pub cutoff: Duration,
    pub max_holds_per_seeker: u32,
    /// Hold attempts per seeker per minute, across every instance.
    pub holds_per_minute_per_seeker: u32,
    pub idempotency_ttl: Duration,
}

impl ReserveConfig {
    /// The shared hold rate limit's interval: one more attempt per seeker
    /// every this long.
    pub(crate) fn rate_interval(&self) -> Duration {
        Duration::from_millis(60_000 / u64::from(self.holds_per_minute_per_seeker.max(1)))
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

pub(crate) fn instant(ms: &str) -> Result<DateTime<Utc>> {
    ms.parse::<i64>()
        .ok()
        .and_then(|m| Utc.timestamp_millis_opt(m).single())
        .ok_or_else(|| ReserveError::Protocol(format!("bad instant {ms:?}")))
}

pub(crate) fn first(reply: &[String]) -> &str {
    reply.first().map(String::as_str).unwrap_or("")
}

/// A script argument: anything with a `Display` form.
pub(crate) type Arg<'a> = &'a (dyn Display + Sync);

/// A script argument written in its `Display` form, with no `String` of its
/// own.
pub(crate) struct Shown<'a>(pub(crate) Arg<'a>);

impl ToRedisArgs for Shown<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        out.write_arg_fmt(self.0)
    }
}

/// A script's yes/no argument.
pub(crate) fn flag(yes: bool) -> Arg<'static> {
    if yes {
        &"1"
    } else {
        &"0"
    }
}

/// `args` as script arguments.
pub(crate) fn shown(args: &[String]) -> Vec<Arg<'_>> {
    args.iter().map(|a| a as Arg).collect()
}
