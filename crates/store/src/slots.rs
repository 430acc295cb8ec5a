//! Materialized slots. A slot is bookable when it is `open`, has no active
//! booking, and (if held back for priority groups) the seeker may take it.
use crate::Result;
use anxin_domain::availability::{SlotStatus, SlotTime};
use anxin_domain::ids::{ExpertId, SlotId};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotRow {
    #[sqlx(try_from = "Uuid")]
    pub id: SlotId,
    #[sqlx(try_from = "Uuid")]
    pub expert_id: ExpertId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub status: SlotStatus,
    pub priority_until: Option<DateTime<Utc>>,
    /// An active (not cancelled) booking holds it.
    pub booked: bool,
    /// The date the slot starts on in the expert's time zone: the day
    /// `max_sessions_per_day` counts it in.
    pub local_date: NaiveDate,
    /// The expert's cap on sessions per local day, if any.
    pub max_sessions_per_day: Option<i32>,
    /// The expert's cap on sessions per local week (Monday to Sunday).
    pub max_sessions_per_week: Option<i32>,
}

impl SlotRow {
    pub fn time(&self) -> SlotTime {
        SlotTime {
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        }
    }
}

const SLOT_SELECT: &str = "SELECT s.id, s.expert_id, s.starts_at, s.ends_at, s.status, s.priority_until,
        EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = s.id AND b.status <> 'cancelled') AS booked,
        (s.starts_at AT TIME ZONE COALESCE(a.timezone, 'UTC'))::date AS local_date, a.max_sessions_per_day,
        a.max_sessions_per_week
   FROM slots s LEFT JOIN availability a ON a.expert_id = s.expert_id";

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: SlotId) -> Result<SlotRow> {
    Ok(sqlx::query_as(&format!("{SLOT_SELECT} WHERE s.id = $1"))
        .bind(id.0)
        .fetch_one(pool)
        .await?)
}

/// The expert's open slots that end after `from`, booked or not.
#[tracing::instrument(skip(conn))]
pub async fn open_for_expert(
    conn: &mut PgConnection,
    expert: ExpertId,
    from: DateTime<Utc>,
) -> Result<Vec<SlotRow>> {
    Ok(sqlx::query_as(&format!(
        "{SLOT_SELECT} WHERE s.expert_id = $1 AND s.status = 'open' AND s.ends_at > $2 ORDER BY s.starts_at"
    ))
    .bind(expert.0)
    .bind(from)
    .fetch_all(conn)
    .await?)
}

/// Every open slot ending after `from`, for rebuilding the Redis index.
#[tracing::instrument(skip(pool))]
pub async fn all_open(pool: &PgPool, from: DateTime<Utc>) -> Result<Vec<SlotRow>> {
    Ok(sqlx::query_as(&format!(
        "{SLOT_SELECT} JOIN experts e ON e.id = s.expert_id
          WHERE e.status = 'approved' AND s.status = 'open' AND s.ends_at > $1"
    ))
    .bind(from)
    .fetch_all(pool)
    .await?)
}

/// Inserts new slots (or reopens withdrawn ones at the same start).
#[tracing::instrument(skip(conn, times))]
pub async fn insert(
    conn: &mut PgConnection,
    expert: ExpertId,
    times: &[SlotTime],
    priority_until: &[Option<DateTime<Utc>>],
) -> Result<Vec<SlotRow>> {
    let ids: Vec<Uuid> = times.iter().map(|_| Uuid::new_v4()).collect();
    let starts: Vec<DateTime<Utc>> = times.iter().map(|t| t.starts_at).collect();
    let ends: Vec<DateTime<Utc>> = times.iter().map(|t| t.ends_at).collect();
    Ok(sqlx::query_as(
        "WITH s AS (
           INSERT INTO slots (id, expert_id, starts_at, ends_at, priority_until)
           SELECT u.id, $2, u.starts_at, u.ends_at, u.priority_until
             FROM UNNEST($1::uuid[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[])
                  AS u(id, starts_at, ends_at, priority_until)
           ON CONFLICT (expert_id, starts_at)
           DO UPDATE SET status = 'open', ends_at = EXCLUDED.ends_at, priority_until = EXCLUDED.priority_until
           RETURNING id, expert_id, starts_at, ends_at, status, priority_until
         )
         SELECT s.*, false AS booked,
                (s.starts_at AT TIME ZONE COALESCE(a.timezone, 'UTC'))::date AS local_date,
                a.max_sessions_per_day, a.max_sessions_per_week
           FROM s LEFT JOIN availability a ON a.expert_id = s.expert_id",
    )
    .bind(&ids)
    .bind(expert.0)
    .bind(&starts)
    .bind(&ends)
    .bind(priority_until)
    .fetch_all(conn)
    .await?)
}

#[tracing::instrument(skip(conn, ids))]
pub async fn withdraw(conn: &mut PgConnection, ids: &[SlotId]) -> Result<()> {
    let ids: Vec<Uuid> = ids.iter().map(|s| s.0).collect();
    sqlx::query("UPDATE slots SET status = 'withdrawn' WHERE id = ANY($1)")
        .bind(&ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Each expert's slots starting in `[from, to)` that are offered (not
/// withdrawn), and how many of them are booked (not cancelled): the uptake
/// the balanced draw weighs against what each expert gives. Experts with no
/// such slot are absent.
#[tracing::instrument(skip(pool))]
pub async fn uptake(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<std::collections::HashMap<ExpertId, (u32, u32)>> {
    // A read in the background: on one core, so the requests keep the others
    // (with parallel workers it took both of two cores for 130 ms at 215,000
    // slots, and every slate in flight waited).
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(uuid::Uuid, i64, i64)> = sqlx::query_as(
        "SELECT s.expert_id, count(*), count(b.id)
           FROM slots s
           LEFT JOIN bookings b ON b.slot_id = s.id AND b.status <> 'cancelled'
          WHERE s.starts_at >= $1 AND s.starts_at < $2 AND s.status = 'open'
          GROUP BY s.expert_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(rows
        .into_iter()
        .map(|(expert, offered, booked)| (ExpertId(expert), (n(offered), n(booked))))
        .collect())
}
