//! The webhook outbox (see the migration `webhooks`): events are written by
//! triggers in the transactions that make the changes, and by the reminder
//! sweep here; any API instance leases due ones and delivers them.
use crate::crypto::Sealed;
use crate::row::{self, seconds};
use crate::Result;
use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// The triggers that write the outbox, on their tables.
const TRIGGERS: [(&str, &str); 3] = [
    ("bookings", "webhooks_of_bookings"),
    ("call_tasks", "webhooks_of_calls"),
    ("payments", "webhooks_of_payments"),
];

/// Turns webhooks on or off: on when a webhook URL is configured. Off, the
/// triggers are disabled altogether, so a booking pays nothing for them;
/// they are switched (a short table lock) only when their state differs.
#[tracing::instrument(skip(pool))]
pub async fn set_enabled(pool: &PgPool, enabled: bool) -> Result<()> {
    sqlx::query("UPDATE webhook_config SET enabled = $1 WHERE id = 1")
        .bind(enabled)
        .execute(pool)
        .await?;
    for (table, trigger) in TRIGGERS {
        let on: Option<bool> = sqlx::query_scalar(
            "SELECT tgenabled <> 'D' FROM pg_trigger WHERE tgname = $1 AND NOT tgisinternal",
        )
        .bind(trigger)
        .fetch_optional(pool)
        .await?;
        if on.is_some_and(|on| on != enabled) {
            let switch = if enabled { "ENABLE" } else { "DISABLE" };
            // Names from the constant above, never from input.
            sqlx::query(&format!("ALTER TABLE {table} {switch} TRIGGER {trigger}"))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Queues `call.reminder` for confirmed bookings starting within `within`
/// (once per booking: the outbox's unique index). Returns how many were
/// due one.
#[tracing::instrument(skip(pool))]
pub async fn queue_reminders(pool: &PgPool, within: Duration) -> Result<u64> {
    // The same function the triggers use: nothing while webhooks are off.
    let done = sqlx::query(
        "SELECT webhook('call.reminder', b.id, NULL, jsonb_build_object(
                    'booking_id', b.id, 'starts_at', b.starts_at, 'ends_at', b.ends_at))
           FROM bookings b
          WHERE b.status = 'confirmed' AND b.starts_at > now()
            AND b.starts_at <= now() + make_interval(secs => $1)
            AND NOT EXISTS (SELECT 1 FROM webhooks w
                             WHERE w.booking_id = b.id AND w.type = 'call.reminder')",
    )
    .bind(seconds(within))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A webhook to deliver now.
#[derive(Debug, Clone)]
pub struct DueWebhook {
    pub id: Uuid,
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Attempts before this one.
    pub attempts: i32,
    /// Retries stop 24 h after this.
    pub retry_from: DateTime<Utc>,
    /// The seeker's sealed `ref`, from the booking or the waitlist entry
    /// (none once erased).
    pub seeker_ref: Option<Sealed>,
    /// A `booking.cancelled`'s sealed reason, from the booking.
    pub cancel_reason: Option<Sealed>,
}

/// Leases up to `limit` due webhooks for `owner`, for `lease`: the oldest
/// undelivered event of each booking only, so a booking's events go out in
/// order (as far as retries allow: an event that gave up lets the next go).
#[tracing::instrument(skip(pool))]
pub async fn take_due(
    pool: &PgPool,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<DueWebhook>> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT w.id FROM webhooks w
              WHERE w.state = 'pending' AND w.next_at <= now()
                AND (w.lease_expires_at IS NULL OR w.lease_expires_at <= now())
                AND NOT EXISTS (SELECT 1 FROM webhooks e
                                 WHERE e.booking_id = w.booking_id AND e.state = 'pending'
                                   AND (e.created_at, e.id) < (w.created_at, w.id))
              ORDER BY w.next_at LIMIT $3
              FOR UPDATE SKIP LOCKED)
         UPDATE webhooks w
            SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2)
           FROM due WHERE w.id = due.id
      RETURNING w.id, w.type, w.data, w.created_at, w.attempts, w.retry_from,
                coalesce((SELECT b.seeker_ref_ciphertext FROM bookings b WHERE b.id = w.booking_id),
                         (SELECT l.seeker_ref_ciphertext FROM waitlist l WHERE l.id = w.waitlist_id))
                    AS seeker_ref_ciphertext,
                coalesce((SELECT b.seeker_ref_key_id FROM bookings b WHERE b.id = w.booking_id),
                         (SELECT l.seeker_ref_key_id FROM waitlist l WHERE l.id = w.waitlist_id))
                    AS seeker_ref_key_id,
                (SELECT b.cancel_reason_ciphertext FROM bookings b
                  WHERE b.id = w.booking_id AND w.type = 'booking.cancelled')
                    AS cancel_reason_ciphertext,
                (SELECT b.cancel_reason_key_id FROM bookings b
                  WHERE b.id = w.booking_id AND w.type = 'booking.cancelled')
                    AS cancel_reason_key_id",
    )
    .bind(owner)
    .bind(seconds(lease))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueWebhook {
                id: r.try_get("id")?,
                kind: r.try_get("type")?,
                data: r.try_get("data")?,
                created_at: r.try_get("created_at")?,
                attempts: r.try_get("attempts")?,
                retry_from: r.try_get("retry_from")?,
                seeker_ref: row::sealed(r, "seeker_ref")?,
                cancel_reason: row::sealed(r, "cancel_reason")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub enum Attempted {
    Delivered {
        status: i32,
    },
    /// Try again at `next_at`, or give up (`next_at` None).
    Failed {
        status: Option<i32>,
        error: String,
        next_at: Option<DateTime<Utc>>,
    },
}

/// Records an attempt, if `owner` still holds the lease.
#[tracing::instrument(skip(pool))]
pub async fn record_attempt(
    pool: &PgPool,
    id: Uuid,
    owner: &str,
    attempt: &Attempted,
) -> Result<()> {
    match attempt {
        Attempted::Delivered { status } => {
            sqlx::query(
                "UPDATE webhooks SET state = 'delivered', attempts = attempts + 1,
                        last_status = $3, last_error = NULL, delivered_at = now(),
                        lease_owner = NULL, lease_expires_at = NULL
                  WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(status)
            .execute(pool)
            .await?;
        }
        Attempted::Failed {
            status,
            error,
            next_at,
        } => {
            sqlx::query(
                "UPDATE webhooks SET attempts = attempts + 1, last_status = $3,
                        last_error = left($4, 300),
                        state = CASE WHEN $5::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                        next_at = COALESCE($5, next_at),
                        lease_owner = NULL, lease_expires_at = NULL
                  WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(status)
            .bind(error)
            .bind(next_at)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// The outbox's health, for the dashboard.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub pending: i64,
    pub failed: i64,
    pub oldest_undelivered: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip(pool))]
pub async fn health(pool: &PgPool) -> Result<Health> {
    let (pending, failed, oldest): (i64, i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'pending'),
                count(*) FILTER (WHERE state = 'failed'),
                min(created_at) FILTER (WHERE state = 'pending')
           FROM webhooks WHERE state <> 'delivered'",
    )
    .fetch_one(pool)
    .await?;
    Ok(Health {
        pending,
        failed,
        oldest_undelivered: oldest,
    })
}

/// Sends every event made since `since` again (delivered or failed ones
/// included): they go back to pending, due now, with fresh attempts.
#[tracing::instrument(skip(pool))]
pub async fn replay(pool: &PgPool, since: DateTime<Utc>) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE webhooks SET state = 'pending', next_at = now(), attempts = 0, retry_from = now(),
                lease_owner = NULL, lease_expires_at = NULL
          WHERE created_at >= $1",
    )
    .bind(since)
    .execute(pool)
    .await?
    .rows_affected())
}
