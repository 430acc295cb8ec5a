//! The waitlist (see `anxin_domain::waitlist`): entries, the slots that
//! could suit them, and offers.
use crate::crypto::Sealed;
use crate::{row, Result};
use anxin_domain::ids::{ExpertId, HoldId, SeekerId, SlotId};
use anxin_domain::waitlist::{WaitlistStatus, Wish};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct WaitlistRow {
    pub id: Uuid,
    pub seeker_id: SeekerId,
    pub wish: Wish,
    pub status: WaitlistStatus,
    pub created_at: DateTime<Utc>,
    pub hold_id: Option<HoldId>,
    pub slot_id: Option<SlotId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "w.id, w.seeker_id, w.language, w.topic, w.expert_id, w.not_after, w.status,
     w.created_at, w.hold_id, w.slot_id, w.offer_expires_at";

fn entry(r: &PgRow) -> std::result::Result<WaitlistRow, sqlx::Error> {
    Ok(WaitlistRow {
        id: r.try_get("id")?,
        seeker_id: row::id(r, "seeker_id")?,
        wish: Wish {
            language: r.try_get("language")?,
            topic: r.try_get("topic")?,
            expert_id: r.try_get("expert_id")?,
            not_after: r.try_get("not_after")?,
        },
        status: row::named(r, "status")?,
        created_at: r.try_get("created_at")?,
        hold_id: r.try_get::<Option<Uuid>, _>("hold_id")?.map(HoldId),
        slot_id: r.try_get::<Option<Uuid>, _>("slot_id")?.map(SlotId),
        offer_expires_at: r.try_get("offer_expires_at")?,
    })
}

/// Adds an entry unless the seeker already has `at_most` waiting or offered;
/// `None` then.
#[tracing::instrument(skip(pool, wish, seeker_ref))]
pub async fn insert(
    pool: &PgPool,
    seeker: SeekerId,
    wish: &Wish,
    seeker_ref: Option<&Sealed>,
    at_most: i64,
) -> Result<Option<Uuid>> {
    let mut tx = pool.begin().await?;
    // One seeker's entries are added one at a time, so the count holds.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('waitlist:' || $1::text, 0))")
        .bind(seeker.0)
        .execute(&mut *tx)
        .await?;
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM waitlist WHERE seeker_id = $1 AND status IN ('waiting', 'offered')",
    )
    .bind(seeker.0)
    .fetch_one(&mut *tx)
    .await?;
    if active >= at_most {
        return Ok(None);
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO waitlist (id, seeker_id, language, topic, expert_id, not_after,
                               seeker_ref_ciphertext, seeker_ref_key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(seeker.0)
    .bind(&wish.language)
    .bind(&wish.topic)
    .bind(wish.expert_id)
    .bind(wish.not_after)
    .bind(seeker_ref.map(|r| r.bytes.clone()))
    .bind(seeker_ref.map(|r| r.key_id.clone()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<WaitlistRow>> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM waitlist w WHERE w.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(r.as_ref().map(entry).transpose()?)
}

/// A waiting entry's place in the line (1 = next), counting every waiting
/// entry that came before it.
#[tracing::instrument(skip(pool))]
pub async fn position(pool: &PgPool, id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM waitlist o, waitlist w
          WHERE w.id = $1 AND o.status = 'waiting' AND (o.created_at, o.id) <= (w.created_at, w.id)",
    )
    .bind(id)
    .fetch_one(pool)
    .await?)
}

/// Ends a waiting or offered entry of the seeker's; the entry as it was
/// when it ended (`None` when it was neither).
#[tracing::instrument(skip(pool))]
pub async fn cancel(pool: &PgPool, id: Uuid, seeker: SeekerId) -> Result<Option<WaitlistRow>> {
    let r = sqlx::query(&format!(
        "WITH before AS (SELECT {COLUMNS} FROM waitlist w
                           WHERE w.id = $1 AND w.seeker_id = $2
                             AND w.status IN ('waiting', 'offered') FOR UPDATE)
         UPDATE waitlist SET status = 'cancelled' FROM before WHERE waitlist.id = before.id
         RETURNING before.*"
    ))
    .bind(id)
    .bind(seeker.0)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(entry).transpose()?)
}

/// Settles offers: booked when their hold became a booking, expired when
/// they lapsed unclaimed.
#[tracing::instrument(skip(pool))]
pub async fn settle_offers(pool: &PgPool) -> Result<()> {
    sqlx::query(
        "UPDATE waitlist w SET status = 'booked'
          WHERE w.status = 'offered'
            AND EXISTS (SELECT 1 FROM bookings b WHERE b.hold_id = w.hold_id)",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE waitlist SET status = 'expired'
          WHERE status = 'offered' AND offer_expires_at < now()",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Waiting entries, first come first.
#[tracing::instrument(skip(pool))]
pub async fn waiting(pool: &PgPool, limit: i64) -> Result<Vec<WaitlistRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM waitlist w WHERE w.status = 'waiting'
          ORDER BY w.created_at, w.id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(entry)
        .collect::<std::result::Result<_, _>>()?)
}

/// Open slots of approved experts that suit the wish, ending after
/// `ending_after` (still reservable then), soonest first (Redis decides
/// whether each is still free).
#[tracing::instrument(skip(pool, wish))]
pub async fn candidate_slots(
    pool: &PgPool,
    wish: &Wish,
    ending_after: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(SlotId, ExpertId)>> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT s.id, s.expert_id FROM slots s JOIN experts e ON e.id = s.expert_id
          WHERE e.status = 'approved' AND s.status = 'open' AND s.ends_at > $1
            AND NOT EXISTS (SELECT 1 FROM bookings b
                             WHERE b.slot_id = s.id AND b.status <> 'cancelled')
            AND ($2::text IS NULL OR $2 = ANY (e.languages))
            AND ($3::text IS NULL OR $3 = ANY (e.specialties))
            AND ($4::uuid IS NULL OR e.id = $4)
            AND ($5::timestamptz IS NULL OR s.starts_at <= $5)
          ORDER BY s.starts_at, s.id LIMIT $6",
    )
    .bind(ending_after)
    .bind(&wish.language)
    .bind(&wish.topic)
    .bind(wish.expert_id)
    .bind(wish.not_after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, e)| (SlotId(s), ExpertId(e)))
        .collect())
}

/// Records the offer of a waiting entry, and queues `waitlist.offered` for
/// the host app, in one transaction; false when the entry is no longer
/// waiting (left, or offered by another instance).
#[tracing::instrument(skip(pool))]
pub async fn offer(
    pool: &PgPool,
    id: Uuid,
    hold: HoldId,
    slot: SlotId,
    starts_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE waitlist SET status = 'offered', hold_id = $2, slot_id = $3, offer_expires_at = $4
          WHERE id = $1 AND status = 'waiting'",
    )
    .bind(id)
    .bind(hold.0)
    .bind(slot.0)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "SELECT webhook_for_waitlist($1, jsonb_build_object(
                    'waitlist_id', $1::uuid, 'hold_id', $2::uuid, 'slot_id', $3::uuid,
                    'starts_at', $4::timestamptz, 'expires_at', $5::timestamptz))",
    )
    .bind(id)
    .bind(hold.0)
    .bind(slot.0)
    .bind(starts_at)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Waiting, offered and booked entries, for the summary.
#[tracing::instrument(skip(pool))]
pub async fn counts(pool: &PgPool, since: DateTime<Utc>) -> Result<(i64, i64, i64)> {
    let r = sqlx::query(
        "SELECT count(*) FILTER (WHERE status = 'waiting') AS waiting,
                count(*) FILTER (WHERE status = 'offered') AS offered,
                count(*) FILTER (WHERE status = 'booked' AND created_at >= $1) AS booked
           FROM waitlist",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok((
        r.try_get("waiting")?,
        r.try_get("offered")?,
        r.try_get("booked")?,
    ))
}
