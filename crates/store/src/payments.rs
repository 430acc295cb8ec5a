//! Payments of the token fee, and the refund outbox (see the migration
//! `payments`). A payment belongs to one hold; its booking is the booking
//! made from that hold, found through `bookings.hold_id`.
use crate::row::{self, seconds};
use crate::Result;
use anxin_domain::ids::{BookingId, ExpertId, HoldId, PaymentId, SeekerId, SlotId};
use anxin_domain::payment::{PaymentStatus, ProviderName, RefundReason};
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

/// A payment as stored, with the booking made from its hold (if any).
#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub id: PaymentId,
    pub hold_id: HoldId,
    pub seeker_id: SeekerId,
    pub expert_id: ExpertId,
    pub slot_id: SlotId,
    pub provider: ProviderName,
    pub amount_minor: i32,
    pub currency: String,
    pub status: PaymentStatus,
    pub provider_trade_no: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub booking_id: Option<BookingId>,
}

impl<'r> sqlx::FromRow<'r, PgRow> for PaymentRow {
    fn from_row(r: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row::id(r, "id")?,
            hold_id: row::id(r, "hold_id")?,
            seeker_id: row::id(r, "seeker_id")?,
            expert_id: row::id(r, "expert_id")?,
            slot_id: row::id(r, "slot_id")?,
            provider: row::named(r, "provider")?,
            amount_minor: r.try_get("amount_minor")?,
            currency: r.try_get("currency")?,
            status: row::named(r, "status")?,
            provider_trade_no: r.try_get("provider_trade_no")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            paid_at: r.try_get("paid_at")?,
            refunded_at: r.try_get("refunded_at")?,
            booking_id: r
                .try_get::<Option<uuid::Uuid>, _>("booking_id")?
                .map(BookingId),
        })
    }
}

const SELECT: &str = "SELECT p.id, p.hold_id, p.seeker_id, p.expert_id, p.slot_id, p.provider,
            p.amount_minor, p.currency, p.status, p.provider_trade_no, p.created_at,
            p.expires_at, p.paid_at, p.refunded_at, b.id AS booking_id
       FROM payments p LEFT JOIN bookings b ON b.hold_id = p.hold_id";

/// What a new payment is for.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: PaymentId,
    pub hold_id: HoldId,
    pub seeker_id: SeekerId,
    pub expert_id: ExpertId,
    pub slot_id: SlotId,
    pub provider: ProviderName,
    pub amount_minor: i32,
    pub expires_at: DateTime<Utc>,
}

/// Creates the hold's payment, or returns the one it has: `(payment, new)`.
/// A hold's payment is the seeker's: another seeker's hold id finds nothing.
#[tracing::instrument(skip(pool, p), fields(hold_id = %p.hold_id))]
pub async fn create_or_get(pool: &PgPool, p: &NewPayment) -> Result<Option<(PaymentRow, bool)>> {
    let inserted = sqlx::query(
        "INSERT INTO payments (id, hold_id, seeker_id, expert_id, slot_id, provider, amount_minor,
                               expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (hold_id) DO NOTHING",
    )
    .bind(p.id.0)
    .bind(p.hold_id.0)
    .bind(p.seeker_id.0)
    .bind(p.expert_id.0)
    .bind(p.slot_id.0)
    .bind(p.provider.as_str())
    .bind(p.amount_minor)
    .bind(p.expires_at)
    .execute(pool)
    .await?;
    let found = by_hold(pool, p.hold_id).await?;
    Ok(found
        .filter(|f| f.seeker_id == p.seeker_id)
        .map(|f| (f, inserted.rows_affected() == 1)))
}

#[tracing::instrument(skip(pool))]
pub async fn by_hold(pool: &PgPool, hold: HoldId) -> Result<Option<PaymentRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE p.hold_id = $1"))
        .bind(hold.0)
        .fetch_optional(pool)
        .await?)
}

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: PaymentId) -> Result<Option<PaymentRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id.0)
        .fetch_optional(pool)
        .await?)
}

/// What recording a provider's word that the fee was paid did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkPaid {
    /// Now paid.
    Paid,
    /// It was already paid (or refunded since): a repeated notification.
    AlreadyPaid,
    /// Unknown payment.
    Unknown,
}

/// Records that the fee was paid, once. A payment that had expired is paid
/// all the same (the money was taken); the settler then refunds it, since
/// its hold lapsed without a booking.
#[tracing::instrument(skip(pool))]
pub async fn mark_paid(
    pool: &PgPool,
    id: PaymentId,
    provider_trade_no: Option<&str>,
) -> Result<MarkPaid> {
    let status: Option<String> = sqlx::query_scalar(
        "WITH p AS (SELECT id, status FROM payments WHERE id = $1 FOR UPDATE),
              paid AS (
                 UPDATE payments q
                    SET status = 'paid', paid_at = now(),
                        provider_trade_no = COALESCE($2, q.provider_trade_no)
                   FROM p
                  WHERE q.id = p.id AND p.status IN ('pending', 'expired')
              RETURNING q.id)
         SELECT CASE WHEN EXISTS (SELECT 1 FROM paid) THEN 'now_paid' ELSE p.status END FROM p",
    )
    .bind(id.0)
    .bind(provider_trade_no)
    .fetch_optional(pool)
    .await?;
    Ok(match status.as_deref() {
        None => MarkPaid::Unknown,
        Some("now_paid") => MarkPaid::Paid,
        Some(_) => MarkPaid::AlreadyPaid,
    })
}

/// Pending payments past their time become `expired`. Returns how many.
#[tracing::instrument(skip(pool))]
pub async fn expire_pending(pool: &PgPool) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE payments SET status = 'expired'
          WHERE status = 'pending' AND expires_at <= now()",
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// Puts every payment owed its money back into the refund outbox, once
/// each: a paid booking cancelled before it started, a paid hold that lapsed
/// without a booking (`lapse_after` past the payment's time, so a booking
/// being confirmed at the last moment is not refunded under it), and a call
/// that failed for a reason not the seeker's. Returns how many were added.
#[tracing::instrument(skip(pool))]
pub async fn owe_refunds(pool: &PgPool, lapse_after: Duration) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO refunds (payment_id, reason)
         SELECT p.id,
                CASE WHEN b.id IS NULL THEN 'hold_lapsed'
                     WHEN b.status = 'cancelled' THEN 'cancelled_before_start'
                     ELSE 'call_failed' END
           FROM payments p
           LEFT JOIN bookings b ON b.hold_id = p.hold_id
           LEFT JOIN call_tasks t ON t.booking_id = b.id
          WHERE p.status = 'paid'
            AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)
            AND ((b.id IS NULL AND greatest(p.expires_at, p.paid_at)
                                   <= now() - make_interval(secs => $1))
              OR (b.status = 'cancelled' AND b.cancelled_at < b.starts_at)
              OR (t.state = 'done'
                  AND t.outcome IN ('expert_no_answer', 'expert_busy', 'failed')))
         ON CONFLICT (payment_id) DO NOTHING",
    )
    .bind(seconds(lapse_after))
    .execute(pool)
    .await?
    .rows_affected())
}

/// A refund to make.
#[derive(Debug, Clone)]
pub struct DueRefund {
    pub payment: PaymentRow,
    pub reason: RefundReason,
    pub attempts: i32,
}

/// Takes up to `limit` due refunds for this settler: each is pushed back by
/// `retry_after` (times the tries so far, at most an hour) before the
/// provider is called, so a settler that dies mid-call leaves it to be
/// retried, and two settlers never take the same one at once.
#[tracing::instrument(skip(pool))]
pub async fn take_due_refunds(
    pool: &PgPool,
    retry_after: Duration,
    limit: i64,
) -> Result<Vec<DueRefund>> {
    let taken: Vec<(uuid::Uuid, String, i32)> = sqlx::query_as(
        "WITH due AS (
             SELECT payment_id FROM refunds
              WHERE state = 'pending' AND next_at <= now()
              ORDER BY next_at LIMIT $2
              FOR UPDATE SKIP LOCKED)
         UPDATE refunds r
            SET attempts = r.attempts + 1,
                next_at = now() + least(make_interval(secs => $1 * (r.attempts + 1)),
                                        interval '1 hour')
           FROM due WHERE r.payment_id = due.payment_id
      RETURNING r.payment_id, r.reason, r.attempts",
    )
    .bind(seconds(retry_after))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut due = Vec::with_capacity(taken.len());
    for (id, reason, attempts) in taken {
        if let Some(payment) = get(pool, PaymentId(id)).await? {
            due.push(DueRefund {
                payment,
                reason: RefundReason::try_from(reason)?,
                attempts,
            });
        }
    }
    Ok(due)
}

/// The provider gave the money back: the refund is done and the payment
/// reads `refunded`, together.
#[tracing::instrument(skip(pool))]
pub async fn refund_done(pool: &PgPool, id: PaymentId) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE refunds SET state = 'done', done_at = now(), last_error = NULL WHERE payment_id = $1")
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE payments SET status = 'refunded', refunded_at = now()
          WHERE id = $1 AND status = 'paid'",
    )
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The provider refused or did not answer; it is tried again later. The
/// error is the provider's words, never a key or a signature.
#[tracing::instrument(skip(pool))]
pub async fn refund_failed(pool: &PgPool, id: PaymentId, error: &str) -> Result<()> {
    sqlx::query("UPDATE refunds SET last_error = left($2, 300) WHERE payment_id = $1")
        .bind(id.0)
        .bind(error)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records a provider's notification and what was made of it.
#[tracing::instrument(skip(pool))]
pub async fn record_notification(
    pool: &PgPool,
    provider: ProviderName,
    payment: Option<PaymentId>,
    trade_status: Option<&str>,
    verdict: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO payment_notifications (provider, payment_id, trade_status, verdict)
         VALUES ($1, (SELECT id FROM payments WHERE id = $2), left($3, 40), $4)",
    )
    .bind(provider.as_str())
    .bind(payment.map(|p| p.0))
    .bind(trade_status)
    .bind(verdict)
    .execute(pool)
    .await?;
    Ok(())
}

/// Payments by status, and those abandoned at payment (expired unpaid),
/// since `since`: the dashboard's payment figures.
#[tracing::instrument(skip(pool))]
pub async fn counts_since(
    pool: &PgPool,
    since: DateTime<Utc>,
    regions: Option<&[String]>,
) -> Result<Vec<(PaymentStatus, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM payments p
          WHERE created_at >= $1
            AND ($2::text[] IS NULL
                 OR (SELECT x.region FROM experts x WHERE x.id = p.expert_id) = ANY($2))
          GROUP BY status",
    )
    .bind(since)
    .bind(regions)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(s, n)| Ok((PaymentStatus::try_from(s)?, n)))
        .collect()
}

/// Payments of `provider` whose word is overdue: still pending (or expired
/// within the last hour, in case the money was taken at the last moment)
/// more than `late` after they were made, and not asked about within
/// `late`. Each one returned is marked asked now.
#[tracing::instrument(skip(pool))]
pub async fn take_overdue(
    pool: &PgPool,
    provider: ProviderName,
    late: Duration,
    limit: i64,
) -> Result<Vec<PaymentRow>> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "WITH due AS (
             SELECT id FROM payments
              WHERE provider = $1
                AND (status = 'pending' OR (status = 'expired' AND expires_at > now() - interval '1 hour'))
                AND created_at <= now() - make_interval(secs => $2)
                AND (queried_at IS NULL OR queried_at <= now() - make_interval(secs => $2))
              ORDER BY created_at LIMIT $3
              FOR UPDATE SKIP LOCKED)
         UPDATE payments p SET queried_at = now() FROM due WHERE p.id = due.id
      RETURNING p.id",
    )
    .bind(provider.as_str())
    .bind(seconds(late))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = get(pool, PaymentId(id)).await? {
            rows.push(p);
        }
    }
    Ok(rows)
}
