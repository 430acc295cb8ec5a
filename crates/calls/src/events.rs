//! Call events on a Redis stream, for dashboards. Each entry has one field,
//! `event`, holding a prost-encoded `anxin.v1.CallEvent`. The stream is capped
//! (`MAXLEN ~`), so it holds recent history only: Postgres stays the record.
//! Publishing is best effort: a Redis outage must not fail a call.
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::BookingId;
use anxin_domain::proto::CallEvent;
use anxin_reserve::RedisConnection;
use chrono::{DateTime, Utc};
use prost::Message;

/// Where events go.
#[derive(Debug, Clone)]
pub struct EventStream {
    pub key: String,
    /// Approximate cap on the stream's length.
    pub max_len: usize,
}

/// Builds the event. An event reports `DialingExpert`, `DialingSeeker`,
/// `Bridged` or `Ended`; `outcome` and `talk_seconds` matter for `Ended` only.
pub fn call_event(
    booking: BookingId,
    attempt: u32,
    state: CallState,
    outcome: Option<CallOutcome>,
    at: DateTime<Utc>,
    simulated: bool,
    talk_seconds: u32,
) -> CallEvent {
    CallEvent {
        booking_id: booking.to_string(),
        attempt,
        state: state.as_str().to_string(),
        outcome: outcome.map(|o| o.as_str().to_string()).unwrap_or_default(),
        at: at.timestamp(),
        simulated,
        talk_seconds,
    }
}

impl EventStream {
    /// Appends the event. Failures are logged, not returned, and a Redis
    /// that does not answer within a second is given up on: the caller is
    /// supervising a call and must get back to renewing its lease.
    #[tracing::instrument(skip_all, fields(booking_id = %event.booking_id, state = %event.state))]
    pub async fn publish(&self, redis: &mut RedisConnection, event: &CallEvent) {
        let xadd = redis::cmd("XADD")
            .arg(&self.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_len)
            .arg("*")
            .arg("event")
            .arg(event.encode_to_vec())
            .to_owned();
        let sent = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            xadd.query_async::<String>(redis),
        )
        .await;
        match sent {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "call event not published"),
            Err(_) => tracing::warn!("call event not published: Redis did not answer"),
        }
    }
}
