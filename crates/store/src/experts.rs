//! Experts and their availability rules.
use crate::crypto::Sealed;
use crate::{Result, StoreError};
use anxin_domain::availability::{
    Availability, AvailabilityInput, OverrideInput, Weekday, WeeklyInput,
};
use anxin_domain::expert::{ExpertProfile, ExpertStatus};
use anxin_domain::ids::ExpertId;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpertRow {
    #[sqlx(try_from = "Uuid")]
    pub id: ExpertId,
    pub display_name: String,
    pub timezone: String,
    pub languages: Vec<String>,
    pub specialties: Vec<String>,
    pub region: String,
    pub bio: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: ExpertStatus,
}

const EXPERT_COLUMNS: &str =
    "id, display_name, timezone, languages, specialties, region, bio, status";

/// Inserts an expert; with `demo` the insert is skipped when the id exists, so
/// seeding twice leaves one set. `pool` may be a transaction's connection, to
/// write the expert with its audit row.
#[tracing::instrument(skip(pool, profile, phone))]
pub async fn insert(
    pool: impl sqlx::PgExecutor<'_>,
    id: ExpertId,
    profile: &ExpertProfile,
    phone: &Sealed,
    status: ExpertStatus,
    demo: bool,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO experts (id, display_name, phone_ciphertext, phone_key_id, timezone, languages,
                              specialties, region, bio, status, demo)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.0)
    .bind(&profile.display_name)
    .bind(&phone.bytes)
    .bind(&phone.key_id)
    .bind(&profile.timezone)
    .bind(&profile.languages)
    .bind(&profile.specialties)
    .bind(&profile.region)
    .bind(&profile.bio)
    .bind(status.as_str())
    .bind(demo)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: ExpertId) -> Result<ExpertRow> {
    Ok(sqlx::query_as(&format!(
        "SELECT {EXPERT_COLUMNS} FROM experts WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_one(pool)
    .await?)
}

/// The expert's sealed phone number.
#[tracing::instrument(skip(pool))]
pub async fn sealed_phone(pool: &PgPool, id: ExpertId) -> Result<Sealed> {
    let (bytes, key_id): (Vec<u8>, String) =
        sqlx::query_as("SELECT phone_ciphertext, phone_key_id FROM experts WHERE id = $1")
            .bind(id.0)
            .fetch_one(pool)
            .await?;
    Ok(Sealed { key_id, bytes })
}

/// Locks the expert's row for the rest of the transaction: availability edits
/// and status changes of one expert run one at a time.
#[tracing::instrument(skip(conn))]
pub async fn lock(conn: &mut PgConnection, id: ExpertId) -> Result<ExpertRow> {
    Ok(sqlx::query_as(&format!(
        "SELECT {EXPERT_COLUMNS} FROM experts WHERE id = $1 FOR UPDATE"
    ))
    .bind(id.0)
    .fetch_one(conn)
    .await?)
}

#[tracing::instrument(skip(conn))]
pub async fn set_status(conn: &mut PgConnection, id: ExpertId, status: ExpertStatus) -> Result<()> {
    sqlx::query("UPDATE experts SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id.0)
        .bind(status.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Approved experts, for the slate and for reconcile.
#[tracing::instrument(skip(pool))]
pub async fn list_approved(pool: &PgPool) -> Result<Vec<ExpertRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {EXPERT_COLUMNS} FROM experts WHERE status = 'approved' ORDER BY id"
    ))
    .fetch_all(pool)
    .await?)
}

#[tracing::instrument(skip(pool))]
pub async fn list_by_status(pool: &PgPool, status: ExpertStatus) -> Result<Vec<ExpertRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {EXPERT_COLUMNS} FROM experts WHERE status = $1 ORDER BY created_at"
    ))
    .bind(status.as_str())
    .fetch_all(pool)
    .await?)
}

fn weekday_index(d: Weekday) -> i16 {
    Weekday::ALL.iter().position(|w| *w == d).unwrap_or(0) as i16
}

fn hhmm(minute: i32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Replaces the expert's availability rules.
#[tracing::instrument(skip(conn, a))]
/// Saves the expert's availability. True when it changes which local day a
/// slot counts in or that day's cap (the time zone or
/// `max_sessions_per_day`): the slots already indexed must then be written
/// again.
pub async fn save_availability(
    conn: &mut PgConnection,
    expert: ExpertId,
    a: &Availability,
) -> Result<bool> {
    let before: Option<(String, Option<i32>, Option<i32>)> = sqlx::query_as(
        "SELECT timezone, max_sessions_per_day, max_sessions_per_week FROM availability
          WHERE expert_id = $1",
    )
    .bind(expert.0)
    .fetch_optional(&mut *conn)
    .await?;
    let cap = a.max_sessions_per_day.map(|n| n as i32);
    let week_cap = a.max_sessions_per_week.map(|n| n as i32);
    let day_rule_changed = before != Some((a.timezone.name().to_string(), cap, week_cap));
    sqlx::query(
        "INSERT INTO availability (expert_id, timezone, slot_minutes, max_sessions_per_day,
                                   max_sessions_per_week)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (expert_id) DO UPDATE
         SET timezone = $2, slot_minutes = $3, max_sessions_per_day = $4,
             max_sessions_per_week = $5, updated_at = now()",
    )
    .bind(expert.0)
    .bind(a.timezone.name())
    .bind(a.slot_minutes as i32)
    .bind(cap)
    .bind(week_cap)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM availability_rules WHERE expert_id = $1")
        .bind(expert.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM availability_overrides WHERE expert_id = $1")
        .bind(expert.0)
        .execute(&mut *conn)
        .await?;
    let (mut days, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
    for (day, ranges) in &a.weekly {
        for r in ranges {
            days.push(weekday_index(*day));
            starts.push(r.start_minute as i32);
            ends.push(r.end_minute as i32);
        }
    }
    sqlx::query(
        "INSERT INTO availability_rules (expert_id, weekday, start_minute, end_minute)
         SELECT $1, * FROM UNNEST($2::smallint[], $3::int[], $4::int[])",
    )
    .bind(expert.0)
    .bind(&days)
    .bind(&starts)
    .bind(&ends)
    .execute(&mut *conn)
    .await?;
    let (mut dates, mut ostarts, mut oends) = (Vec::new(), Vec::new(), Vec::new());
    for (date, ranges) in &a.overrides {
        if ranges.is_empty() {
            dates.push(*date);
            ostarts.push(None::<i32>);
            oends.push(None::<i32>);
        }
        for r in ranges {
            dates.push(*date);
            ostarts.push(Some(r.start_minute as i32));
            oends.push(Some(r.end_minute as i32));
        }
    }
    sqlx::query(
        "INSERT INTO availability_overrides (expert_id, date, start_minute, end_minute)
         SELECT $1, * FROM UNNEST($2::date[], $3::int[], $4::int[])",
    )
    .bind(expert.0)
    .bind(&dates)
    .bind(&ostarts)
    .bind(&oends)
    .execute(&mut *conn)
    .await?;
    Ok(day_rule_changed)
}

/// The expert's availability as they last wrote it (in its input shape, so it
/// revalidates through the same rules), or `None` if never set.
#[tracing::instrument(skip(pool))]
pub async fn load_availability(pool: &PgPool, expert: ExpertId) -> Result<Option<Availability>> {
    let Some(input) = load_availability_input(pool, expert).await? else {
        return Ok(None);
    };
    input
        .validate()
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("availability of {expert}: {e}")))
}

/// The expert's availability as they wrote it (the body `PUT` takes).
#[tracing::instrument(skip(pool))]
pub async fn load_availability_input(
    pool: &PgPool,
    expert: ExpertId,
) -> Result<Option<AvailabilityInput>> {
    let head: Option<(String, i32, Option<i32>, Option<i32>)> = sqlx::query_as(
        "SELECT timezone, slot_minutes, max_sessions_per_day, max_sessions_per_week
           FROM availability WHERE expert_id = $1",
    )
    .bind(expert.0)
    .fetch_optional(pool)
    .await?;
    let Some((timezone, slot_minutes, max_sessions_per_day, max_sessions_per_week)) = head else {
        return Ok(None);
    };
    let rules: Vec<(i16, i32, i32)> = sqlx::query_as(
        "SELECT weekday, start_minute, end_minute FROM availability_rules WHERE expert_id = $1",
    )
    .bind(expert.0)
    .fetch_all(pool)
    .await?;
    let overrides: Vec<(chrono::NaiveDate, Option<i32>, Option<i32>)> = sqlx::query_as(
        "SELECT date, start_minute, end_minute FROM availability_overrides WHERE expert_id = $1",
    )
    .bind(expert.0)
    .fetch_all(pool)
    .await?;
    let input = AvailabilityInput {
        timezone,
        slot_minutes: slot_minutes as u32,
        weekly: rules
            .into_iter()
            .map(|(d, s, e)| WeeklyInput {
                weekday: Weekday::ALL[(d as usize).min(6)],
                start: hhmm(s),
                end: hhmm(e),
            })
            .collect(),
        overrides: overrides
            .into_iter()
            .map(|(date, s, e)| OverrideInput {
                date: date.to_string(),
                closed: s.is_none(),
                start: s.map(hhmm),
                end: e.map(hhmm),
            })
            .collect(),
        max_sessions_per_day: max_sessions_per_day.map(|n| n.max(0) as u32),
        max_sessions_per_week: max_sessions_per_week.map(|n| n.max(0) as u32),
    };
    Ok(Some(input))
}

/// Experts that have an availability, for rolling the horizon forward.
#[tracing::instrument(skip(pool))]
pub async fn with_availability(pool: &PgPool) -> Result<Vec<ExpertId>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT a.expert_id FROM availability a JOIN experts e ON e.id = a.expert_id
         WHERE e.status = 'approved'",
    )
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(ExpertId).collect())
}
