//! Typed ids: a `SlotId` can't be passed where an `ExpertId` is meant.
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(ExpertId, SlotId, SeekerId, HoldId, BookingId, CallTaskId, SlateId, PaymentId);

/// A map keyed by ids, or by other keys the service made or verified (a
/// token after its signature), never by one a client could choose to
/// collide: foldhash, seeded per process, hashes a 16-byte id in a few
/// instructions where the standard library's SipHash takes many more, and
/// a slate looks up a few hundred (its slots, its experts' copies).
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
