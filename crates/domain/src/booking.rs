//! Holds and bookings: when a slot may be reserved, and the booking life cycle.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum BookingStatus as "booking status" {
        Confirmed = "confirmed",
        Cancelled = "cancelled",
        Completed = "completed",
    }
}

/// A slot can be held and booked until `cutoff` before its end, so a slot
/// already running can still be booked for an immediate call.
pub fn reservable(ends_at: DateTime<Utc>, now: DateTime<Utc>, cutoff: Duration) -> bool {
    now < ends_at - cutoff
}

/// How long after its start a slot may still be running, so still counts as
/// open capacity and is still listed (then `reservable` decides): the
/// longest a slot lasts. A listing from `t` reads the index from
/// `t - RUNNING_FOR`. The dashboard's upcoming-calls query bounds its scan
/// with the same window (`anxin_store::events::upcoming_calls`).
pub const RUNNING_FOR: Duration = Duration::minutes(crate::availability::MAX_SLOT_MINUTES as i64);

/// Whether cancelling also reopens the slot: only if it has not started.
pub fn cancel_reopens_slot(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < starts_at
}

/// Whether cancelling now gives a paid fee back: before the start, in full.
/// The refund sweep (`store::payments::owe_refunds`) applies the same rule
/// in SQL (`cancelled_at < starts_at`); pages say it with this.
pub fn cancel_refunds_fee(fee_paid: bool, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    fee_paid && now < starts_at
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
    fn a_paid_fee_comes_back_only_for_a_cancellation_before_the_start() {
        let start = Utc::now() + Duration::hours(1);
        assert!(cancel_refunds_fee(
            true,
            start,
            start - Duration::seconds(1)
        ));
        assert!(!cancel_refunds_fee(true, start, start));
        assert!(!cancel_refunds_fee(
            true,
            start,
            start + Duration::minutes(5)
        ));
        assert!(!cancel_refunds_fee(
            false,
            start,
            start - Duration::hours(2)
        ));
    }

    #[test]
    fn a_running_slot_is_reservable_until_the_cutoff() {
        let end: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let cutoff = Duration::minutes(15);
        assert!(reservable(end, end - Duration::minutes(30), cutoff));
        assert!(!reservable(end, end - Duration::minutes(15), cutoff));
        assert!(!reservable(end, end + Duration::minutes(1), cutoff));
    }

    #[test]
    fn a_slot_runs_for_at_most_four_hours() {
        assert_eq!(RUNNING_FOR, Duration::hours(4));
    }
}

/// Whether a slot is among the share held back for priority groups. The
/// choice is a deterministic hash of expert and start time, so every instance
/// (and a rebuild after a Redis wipe) picks the same slots, and it spreads the
/// share evenly over experts and hours.
pub fn held_back_for_priority(
    expert: crate::ids::ExpertId,
    starts_at: DateTime<Utc>,
    share: f64,
) -> bool {
    if share <= 0.0 {
        return false;
    }
    // FNV-1a over the expert id and the start minute.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let minute = starts_at.timestamp().div_euclid(60);
    for b in expert
        .0
        .as_bytes()
        .iter()
        .chain(minute.to_le_bytes().iter())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ((h % 10_000) as f64) < share * 10_000.0
}

#[cfg(test)]
mod priority_tests {
    use super::*;
    use crate::ids::ExpertId;

    #[test]
    fn about_the_configured_share_is_held_back() {
        let t0: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().unwrap();
        let held = (0..5000)
            .filter(|i| {
                held_back_for_priority(ExpertId::new(), t0 + Duration::minutes(30 * i), 0.3)
            })
            .count();
        assert!((1350..1650).contains(&held), "{held} of 5000");
        assert!(!held_back_for_priority(ExpertId::new(), t0, 0.0));
    }
}
