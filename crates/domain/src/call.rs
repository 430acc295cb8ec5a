//! Two-way calls: the states a call passes through, the outcomes an attempt can
//! end with, and the retry policy that decides whether to dial again.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

crate::named! {
    /// Where a booking's call stands, as `GET /v1/bookings/{id}` shows it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum CallState as "call state" {
        /// Waiting for the slot to start.
        Scheduled = "scheduled",
        DialingExpert = "dialing_expert",
        DialingSeeker = "dialing_seeker",
        Bridged = "bridged",
        /// An attempt failed and another is due.
        RetryWaiting = "retry_waiting",
        Ended = "ended",
        Cancelled = "cancelled",
    }
}

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum CallOutcome as "call outcome" {
        Completed = "completed",
        ExpertNoAnswer = "expert_no_answer",
        ExpertBusy = "expert_busy",
        SeekerNoAnswer = "seeker_no_answer",
        SeekerBusy = "seeker_busy",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl CallOutcome {
    /// Outcomes worth dialing again for; a completed or cancelled call is final.
    pub fn is_retryable(self) -> bool {
        !matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// How often and how far apart to retry an unconnected call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff: Duration,
    /// The call is hung up this long after the slot's end.
    pub grace: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Duration::minutes(2),
            grace: Duration::minutes(5),
        }
    }
}

impl RetryPolicy {
    /// When to dial again after attempt number `attempt` (1-based) ended with
    /// `outcome`, or `None` when the call is finished. Retries happen only
    /// inside the slot, with enough time left to talk.
    pub fn next_attempt(
        &self,
        attempt: u32,
        outcome: CallOutcome,
        ended_at: DateTime<Utc>,
        slot_ends_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if !outcome.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let at = ended_at + self.backoff;
        (at < slot_ends_at).then_some(at)
    }

    /// The hard stop: both legs get BYE at this instant.
    pub fn hard_stop(&self, slot_ends_at: DateTime<Utc>) -> DateTime<Utc> {
        slot_ends_at + self.grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_inside_the_slot_and_up_to_the_limit() {
        let p = RetryPolicy::default();
        let t0: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let end = t0 + Duration::minutes(50);
        assert_eq!(
            p.next_attempt(1, CallOutcome::ExpertNoAnswer, t0, end),
            Some(t0 + Duration::minutes(2))
        );
        assert_eq!(
            p.next_attempt(3, CallOutcome::ExpertNoAnswer, t0, end),
            None
        );
        assert_eq!(p.next_attempt(1, CallOutcome::Completed, t0, end), None);
        assert_eq!(
            p.next_attempt(1, CallOutcome::SeekerBusy, end - Duration::minutes(1), end),
            None
        );
    }
}
