//! Webhooks to the host app: delivery of the outbox (`anxin_store::webhooks`).
//!
//! Each event is POSTed as JSON `{id, type, created_at, data}` with
//! `Anxin-Webhook-Id: <id>` and
//! `Anxin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//! under `ANXIN_WEBHOOK_SECRET` (the timestamped scheme Stripe and Svix
//! use: the receiver checks the HMAC and that `t` is recent, and drops
//! repeated ids). `data` carries `booking_id`, `starts_at`, what the event
//! is about, and `seeker_ref` (the seeker token's `ref` claim, opened from
//! its sealed copy only here, or null); never a phone number or a subject.
//!
//! Delivery is at least once: any API instance leases due events (so two
//! never send one at once), sends them concurrently with a bounded timeout,
//! and retries a failure with exponential backoff and jitter for 24 hours.
//! It runs beside the service, never on a request's path, so a slow or
//! failing receiver delays no booking and no call.
use crate::state::AppState;
use anxin_store::webhooks::{self, Attempted, DueWebhook};
use anxin_store::StoreError;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::ExposeSecret;
use sha2::Sha256;
use std::time::Duration;

/// How long an instance holds the events it is sending.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Events sent at once by one instance.
const BATCH: i64 = 32;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Retries stop this long after the event (or its replay).
pub const RETRY_FOR: chrono::Duration = chrono::Duration::hours(24);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Where events go and how they are signed (`ANXIN_WEBHOOK_*`).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: secrecy::SecretString,
    /// `call.reminder` goes out this long before the start.
    pub reminder: Duration,
    /// The wait before the first retry; each next one doubles.
    pub first_retry: Duration,
}

/// The signature header's value for `body` at `t`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `n + 1`, after `n` failed: doubling from
/// `first`, at most an hour, times a jitter of 0.5 to 1.5 so receivers
/// coming back are not hit by every sender at once.
pub fn backoff(first: Duration, failed: i32) -> Duration {
    let doublings = u32::try_from(failed.saturating_sub(1)).unwrap_or(0).min(20);
    let base = first.saturating_mul(1 << doublings).min(MAX_BACKOFF);
    base.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

/// What one round sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub delivered: u64,
    pub failed: u64,
}

fn payload(state: &AppState, w: &DueWebhook) -> serde_json::Value {
    let mut data = w.data.clone();
    let seeker_ref = w
        .seeker_ref
        .as_ref()
        .and_then(|sealed| state.cipher.open_text(sealed).ok());
    if let Some(map) = data.as_object_mut() {
        map.insert("seeker_ref".into(), seeker_ref.into());
        if w.kind == "booking.cancelled" {
            let reason = w
                .cancel_reason
                .as_ref()
                .and_then(|sealed| state.cipher.open_text(sealed).ok());
            map.insert("reason".into(), reason.into());
        }
    }
    serde_json::json!({
        "id": w.id,
        "type": w.kind,
        "created_at": w.created_at,
        "data": data,
    })
}

async fn send(
    state: &AppState,
    cfg: &WebhookConfig,
    http: &reqwest::Client,
    w: &DueWebhook,
) -> Attempted {
    let body = payload(state, w).to_string();
    let t = Utc::now().timestamp();
    let signed = signature(cfg.secret.expose_secret().as_bytes(), t, body.as_bytes());
    let sent = http
        .post(&cfg.url)
        .header("Content-Type", "application/json")
        .header("Anxin-Webhook-Id", w.id.to_string())
        .header("Anxin-Signature", signed)
        .body(body)
        .send()
        .await;
    let (status, error) = match sent {
        Ok(r) if r.status().is_success() => {
            return Attempted::Delivered {
                status: i32::from(r.status().as_u16()),
            }
        }
        Ok(r) => (
            Some(i32::from(r.status().as_u16())),
            format!("the receiver answered {}", r.status()),
        ),
        Err(e) if e.is_timeout() => (None, "the receiver did not answer in time".into()),
        Err(e) => (
            None,
            format!("cannot reach the receiver: {}", e.without_url()),
        ),
    };
    let wait =
        chrono::Duration::from_std(backoff(cfg.first_retry, w.attempts + 1)).unwrap_or(LEASE);
    let next = Utc::now() + wait;
    Attempted::Failed {
        status,
        error,
        next_at: (next <= w.retry_from + RETRY_FOR).then_some(next),
    }
}

/// One round: queue due reminders, then lease and send due events.
pub async fn deliver_due(state: &AppState, http: &reqwest::Client) -> Result<Sent, StoreError> {
    let Some(cfg) = state.config.webhook.as_ref() else {
        return Ok(Sent::default());
    };
    let reminder = chrono::Duration::from_std(cfg.reminder).unwrap_or_default();
    webhooks::queue_reminders(&state.pool, reminder).await?;
    let due = webhooks::take_due(&state.pool, &state.instance, LEASE, BATCH).await?;
    let attempts =
        futures_util::future::join_all(due.iter().map(|w| send(state, cfg, http, w))).await;
    let mut sent = Sent::default();
    for (w, attempt) in due.iter().zip(attempts) {
        match &attempt {
            Attempted::Delivered { .. } => sent.delivered += 1,
            Attempted::Failed { error, next_at, .. } => {
                sent.failed += 1;
                let gave_up = next_at.is_none();
                tracing::warn!(webhook_id = %w.id, kind = %w.kind, attempts = w.attempts + 1, gave_up, error = %error, "webhook not delivered");
            }
        }
        webhooks::record_attempt(&state.pool, w.id, &state.instance, &attempt).await?;
    }
    Ok(sent)
}

/// The client webhooks are sent with: bounded timeouts, no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Runs `deliver_due` every second, forever (when webhooks are on).
pub async fn keep_delivering(state: &AppState) {
    if state.config.webhook.is_none() {
        return;
    }
    let http = client();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = deliver_due(state, &http).await {
            tracing::warn!(error = %e, "delivering webhooks failed; retrying next round");
        }
    }
}

/// `anxin webhooks replay --since`: every event since then goes out again.
pub async fn replay(state: &AppState, since: DateTime<Utc>) -> Result<u64, StoreError> {
    webhooks::replay(&state.pool, since).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_and_the_body() {
        // HMAC-SHA256("secret", "1700000000.{}"), as Python's hmac computes it.
        assert_eq!(
            signature(b"secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_an_hour() {
        let first = Duration::from_secs(10);
        for failed in 1..=3 {
            let base = 10.0 * f64::from(1 << (failed - 1));
            let d = backoff(first, failed).as_secs_f64();
            assert!(d >= base * 0.5 && d < base * 1.5, "{failed}: {d}");
        }
        assert!(backoff(first, 40) < Duration::from_secs(5400));
    }
}
