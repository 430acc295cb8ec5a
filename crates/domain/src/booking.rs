//! Holds and bookings: when a slot may be reserved, and the booking life cycle.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
    Completed,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirmed" => Some(Self::Confirmed),
            "cancelled" => Some(Self::Cancelled),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// A slot can be held and booked until `cutoff` before its end, so a slot
/// already running can still be booked for an immediate call.
pub fn reservable(ends_at: DateTime<Utc>, now: DateTime<Utc>, cutoff: Duration) -> bool {
    now < ends_at - cutoff
}

/// Whether cancelling also reopens the slot: only if it has not started.
pub fn cancel_reopens_slot(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < starts_at
}

/// Why a cancellation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefusal {
    AlreadyCancelled,
    AlreadyCompleted,
}

pub fn check_cancel(status: BookingStatus) -> Result<(), CancelRefusal> {
    match status {
        BookingStatus::Confirmed => Ok(()),
        BookingStatus::Cancelled => Err(CancelRefusal::AlreadyCancelled),
        BookingStatus::Completed => Err(CancelRefusal::AlreadyCompleted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_slot_is_reservable_until_the_cutoff() {
        let end: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let cutoff = Duration::minutes(15);
        assert!(reservable(end, end - Duration::minutes(30), cutoff));
        assert!(!reservable(end, end - Duration::minutes(15), cutoff));
        assert!(!reservable(end, end + Duration::minutes(1), cutoff));
    }
}
