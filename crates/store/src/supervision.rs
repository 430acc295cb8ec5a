//! Training modules and their completion, supervisors, and debriefs (see
//! `anxin_domain::supervision`).
use crate::audit::Actor;
use crate::crypto::Sealed;
use crate::referrals::Session;
use crate::{row, Result};
use anxin_domain::ids::ExpertId;
use anxin_domain::referral::SessionOutcome;
use anxin_domain::supervision::{DebriefReason, DebriefStatus, Module};
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRow {
    pub id: Uuid,
    pub module: Module,
}

#[tracing::instrument(skip_all)]
pub async fn insert_module(pool: &PgPool, m: &Module) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO training_modules (id, title, url, body, required, self_attest)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&m.title)
    .bind(&m.url)
    .bind(&m.body)
    .bind(m.required)
    .bind(m.self_attest)
    .execute(pool)
    .await?;
    Ok(id)
}

fn module(r: &PgRow) -> std::result::Result<ModuleRow, sqlx::Error> {
    Ok(ModuleRow {
        id: r.try_get("id")?,
        module: Module {
            title: r.try_get("title")?,
            url: r.try_get("url")?,
            body: r.try_get("body")?,
            required: r.try_get("required")?,
            self_attest: r.try_get("self_attest")?,
        },
    })
}

/// Every module, required ones first, oldest first.
#[tracing::instrument(skip(pool))]
pub async fn modules(pool: &PgPool) -> Result<Vec<ModuleRow>> {
    let rows = sqlx::query(
        "SELECT id, title, url, body, required, self_attest FROM training_modules
          ORDER BY required DESC, created_at, id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(module)
        .collect::<std::result::Result<_, _>>()?)
}

#[tracing::instrument(skip(pool))]
pub async fn get_module(pool: &PgPool, id: Uuid) -> Result<Option<ModuleRow>> {
    let r = sqlx::query(
        "SELECT id, title, url, body, required, self_attest FROM training_modules WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(r.as_ref().map(module).transpose()?)
}

/// One module as it stands for one expert.
#[derive(Debug, Clone)]
pub struct Progress {
    pub module: ModuleRow,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The expert's progress through every module, required ones first.
#[tracing::instrument(skip(pool))]
pub async fn progress(pool: &PgPool, expert: ExpertId) -> Result<Vec<Progress>> {
    let rows = sqlx::query(
        "SELECT m.id, m.title, m.url, m.body, m.required, m.self_attest, c.completed_at
           FROM training_modules m
           LEFT JOIN training_completions c ON c.module_id = m.id AND c.expert_id = $1
          ORDER BY m.required DESC, m.created_at, m.id",
    )
    .bind(expert.0)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Progress {
                module: module(r)?,
                completed_at: r.try_get("completed_at")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()?)
}

/// The titles of the required modules the expert has not completed.
#[tracing::instrument(skip(conn))]
pub async fn missing_required(conn: &mut PgConnection, expert: ExpertId) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT m.title FROM training_modules m
          WHERE m.required AND NOT EXISTS (
                SELECT 1 FROM training_completions c
                 WHERE c.module_id = m.id AND c.expert_id = $1)
          ORDER BY m.created_at, m.id",
    )
    .bind(expert.0)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("title"))
        .collect::<std::result::Result<_, _>>()?)
}

/// Marks the module complete for the expert; a second mark keeps the first
/// one's time and author. True when this call completed it.
#[tracing::instrument(skip(conn, by))]
pub async fn complete(
    conn: &mut PgConnection,
    expert: ExpertId,
    module: Uuid,
    by: &Actor,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO training_completions (expert_id, module_id, marked_by_role, marked_by_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(expert.0)
    .bind(module)
    .bind(by.role)
    .bind(&by.id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets an expert's supervisor flag.
#[tracing::instrument(skip(conn))]
pub async fn set_flag(conn: &mut PgConnection, expert: ExpertId, supervisor: bool) -> Result<()> {
    sqlx::query("UPDATE experts SET supervisor = $2 WHERE id = $1")
        .bind(expert.0)
        .bind(supervisor)
        .execute(conn)
        .await?;
    Ok(())
}

/// Unassigns every expert `supervisor` supervises; how many.
#[tracing::instrument(skip(conn))]
pub async fn release_supervised(conn: &mut PgConnection, supervisor: ExpertId) -> Result<u64> {
    let done = sqlx::query("UPDATE experts SET supervisor_id = NULL WHERE supervisor_id = $1")
        .bind(supervisor.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Assigns (or, with `None`, removes) the expert's supervisor.
#[tracing::instrument(skip(conn))]
pub async fn set_supervisor(
    conn: &mut PgConnection,
    expert: ExpertId,
    supervisor: Option<ExpertId>,
) -> Result<()> {
    sqlx::query("UPDATE experts SET supervisor_id = $2 WHERE id = $1")
        .bind(expert.0)
        .bind(supervisor.map(|s| s.0))
        .execute(conn)
        .await?;
    Ok(())
}

/// An expert's place in supervision: their flag and their supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub supervisor: bool,
    pub supervisor_id: Option<ExpertId>,
    pub organisation_id: Option<Uuid>,
    pub approved: bool,
    /// The expert's region (a code).
    pub region: String,
}

#[tracing::instrument(skip(pool))]
pub async fn standing(pool: &PgPool, expert: ExpertId) -> Result<Option<Standing>> {
    let r = sqlx::query(
        "SELECT supervisor, supervisor_id, organisation_id, status = 'approved' AS approved, region
           FROM experts WHERE id = $1",
    )
    .bind(expert.0)
    .fetch_optional(pool)
    .await?;
    Ok(r.map(|r| {
        Ok::<_, sqlx::Error>(Standing {
            supervisor: r.try_get("supervisor")?,
            supervisor_id: r.try_get::<Option<Uuid>, _>("supervisor_id")?.map(ExpertId),
            organisation_id: r.try_get("organisation_id")?,
            approved: r.try_get("approved")?,
            region: r.try_get("region")?,
        })
    })
    .transpose()?)
}

/// The expert's last `n` recorded outcomes, newest session first.
#[tracing::instrument(skip(conn))]
pub async fn recent_outcomes(
    conn: &mut PgConnection,
    expert: ExpertId,
    n: i64,
) -> Result<Vec<SessionOutcome>> {
    let rows = sqlx::query(
        "SELECT o.outcome FROM session_outcomes o
           LEFT JOIN bookings b ON b.id = o.booking_id
           LEFT JOIN help_now_requests h ON h.id = o.help_now_id
          WHERE COALESCE(b.expert_id, h.expert_id) = $1
          ORDER BY COALESCE(b.starts_at, h.connected_at) DESC, o.recorded_at DESC LIMIT $2",
    )
    .bind(expert.0)
    .bind(n)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| row::named(r, "outcome"))
        .collect::<std::result::Result<_, _>>()?)
}

/// Opens the session's debrief unless it has one; its id when opened now.
#[tracing::instrument(skip(conn))]
pub async fn open_debrief(
    conn: &mut PgConnection,
    expert: ExpertId,
    session: Session,
    reason: DebriefReason,
    due_in: Duration,
) -> Result<Option<Uuid>> {
    let query = format!(
        "INSERT INTO debriefs (id, expert_id, booking_id, reason, due_at, help_now_id)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)
         ON CONFLICT ({}) DO NOTHING RETURNING id",
        session.column()
    );
    let r = sqlx::query(&query)
        .bind(Uuid::new_v4())
        .bind(expert.0)
        .bind(session.booking().map(|b| b.0))
        .bind(reason.as_str())
        .bind(row::seconds(due_in))
        .bind(session.help_now())
        .fetch_optional(conn)
        .await?;
    Ok(r.map(|r| r.try_get("id")).transpose()?)
}

#[derive(Debug, Clone)]
pub struct DebriefRow {
    pub id: Uuid,
    pub expert_id: ExpertId,
    pub expert_name: String,
    pub supervisor_id: Option<ExpertId>,
    pub organisation_id: Option<Uuid>,
    /// The expert's region (a code).
    pub region: String,
    /// The session it is about.
    pub session: Session,
    pub reason: DebriefReason,
    pub due_at: DateTime<Utc>,
    pub status: DebriefStatus,
    pub done_at: Option<DateTime<Utc>>,
}

/// Whose debriefs a listing holds.
#[derive(Debug, Clone)]
pub enum Whose {
    All,
    /// Experts of these regions (an area's operator).
    Regions(Vec<String>),
    /// The experts this supervisor supervises.
    SupervisedBy(ExpertId),
    /// One expert's own.
    Expert(ExpertId),
    Organisation(Uuid),
}

const DEBRIEF_COLUMNS: &str = "d.id, d.expert_id, e.display_name AS expert_name, e.supervisor_id,
     e.organisation_id, e.region, d.booking_id, d.help_now_id, d.reason, d.due_at, d.status,
     d.done_at";

fn debrief(r: &PgRow) -> std::result::Result<DebriefRow, sqlx::Error> {
    Ok(DebriefRow {
        id: r.try_get("id")?,
        expert_id: row::id(r, "expert_id")?,
        expert_name: r.try_get("expert_name")?,
        supervisor_id: r.try_get::<Option<Uuid>, _>("supervisor_id")?.map(ExpertId),
        organisation_id: r.try_get("organisation_id")?,
        region: r.try_get("region")?,
        session: crate::referrals::session(r)?,
        reason: row::named(r, "reason")?,
        due_at: r.try_get("due_at")?,
        status: row::named(r, "status")?,
        done_at: r.try_get("done_at")?,
    })
}

/// Debriefs of a status (any when `None`), soonest due first.
#[tracing::instrument(skip(pool))]
pub async fn debriefs(
    pool: &PgPool,
    whose: Whose,
    status: Option<DebriefStatus>,
    limit: i64,
) -> Result<Vec<DebriefRow>> {
    let (mut supervisor, mut expert, mut organisation, mut regions) = (None, None, None, None);
    match whose {
        Whose::All => {}
        Whose::Regions(codes) => regions = Some(codes),
        Whose::SupervisedBy(s) => supervisor = Some(s.0),
        Whose::Expert(e) => expert = Some(e.0),
        Whose::Organisation(o) => organisation = Some(o),
    }
    let rows = sqlx::query(&format!(
        "SELECT {DEBRIEF_COLUMNS} FROM debriefs d JOIN experts e ON e.id = d.expert_id
          WHERE ($1::uuid IS NULL OR e.supervisor_id = $1)
            AND ($2::uuid IS NULL OR d.expert_id = $2)
            AND ($3::uuid IS NULL OR e.organisation_id = $3)
            AND ($4::text[] IS NULL OR e.region = ANY($4))
            AND ($5::text IS NULL OR d.status = $5)
          ORDER BY d.status, d.due_at, d.id LIMIT $6"
    ))
    .bind(supervisor)
    .bind(expert)
    .bind(organisation)
    .bind(regions)
    .bind(status.map(DebriefStatus::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(debrief)
        .collect::<std::result::Result<_, _>>()?)
}

#[tracing::instrument(skip(conn))]
pub async fn lock_debrief(conn: &mut PgConnection, id: Uuid) -> Result<Option<DebriefRow>> {
    let r = sqlx::query(&format!(
        "SELECT {DEBRIEF_COLUMNS} FROM debriefs d JOIN experts e ON e.id = d.expert_id
          WHERE d.id = $1 FOR UPDATE OF d"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(r.as_ref().map(debrief).transpose()?)
}

/// Closes an open debrief with the supervisor's sealed note.
#[tracing::instrument(skip(conn, note, by))]
pub async fn close_debrief(
    conn: &mut PgConnection,
    id: Uuid,
    note: &Sealed,
    by: &Actor,
) -> Result<()> {
    sqlx::query(
        "UPDATE debriefs SET status = 'done', done_at = now(), done_by_role = $2,
                done_by_id = $3, note_ciphertext = $4, note_key_id = $5
          WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(by.role)
    .bind(&by.id)
    .bind(&note.bytes)
    .bind(&note.key_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Open debriefs and, of those, the ones past due: of an organisation's
/// experts, of these regions' experts, or all.
#[tracing::instrument(skip(pool))]
pub async fn open_counts(
    pool: &PgPool,
    organisation: Option<Uuid>,
    regions: Option<&[String]>,
) -> Result<(i64, i64)> {
    let r = sqlx::query(
        "SELECT count(*) AS open, count(*) FILTER (WHERE d.due_at < now()) AS overdue
           FROM debriefs d JOIN experts e ON e.id = d.expert_id
          WHERE d.status = 'open' AND ($1::uuid IS NULL OR e.organisation_id = $1)
            AND ($2::text[] IS NULL OR e.region = ANY($2))",
    )
    .bind(organisation)
    .bind(regions)
    .fetch_one(pool)
    .await?;
    Ok((r.try_get("open")?, r.try_get("overdue")?))
}

/// The required modules each of these experts has not completed, by title.
#[tracing::instrument(skip_all)]
pub async fn missing_for(
    pool: &PgPool,
    experts: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<String>>> {
    let rows: Vec<(Uuid, Vec<String>)> = sqlx::query_as(
        "SELECT e.id, array_agg(m.title ORDER BY m.created_at, m.id)
           FROM experts e CROSS JOIN training_modules m
          WHERE e.id = ANY($1) AND m.required AND NOT EXISTS (
                SELECT 1 FROM training_completions c
                 WHERE c.module_id = m.id AND c.expert_id = e.id)
          GROUP BY e.id",
    )
    .bind(experts)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One supervised expert as their supervisor sees them: no seeker, ever.
#[derive(Debug, Clone)]
pub struct SupervisedRow {
    pub expert_id: ExpertId,
    pub display_name: String,
    pub status: String,
    /// Sessions (confirmed or completed bookings) starting this week,
    /// Monday to Sunday in the expert's time zone.
    pub sessions_this_week: i64,
    pub max_sessions_per_day: Option<i32>,
    pub max_sessions_per_week: Option<i32>,
    /// Their last outcomes, newest first: (outcome, wellbeing).
    pub recent: Vec<(SessionOutcome, Option<i16>)>,
}

/// The experts this supervisor supervises, by name.
#[tracing::instrument(skip(pool))]
pub async fn supervised(pool: &PgPool, supervisor: ExpertId) -> Result<Vec<SupervisedRow>> {
    let rows = sqlx::query(
        "SELECT e.id, e.display_name, e.status, a.max_sessions_per_day, a.max_sessions_per_week,
                (SELECT count(*) FROM bookings b
                  WHERE b.expert_id = e.id AND b.status <> 'cancelled'
                    AND b.starts_at >= date_trunc('week', now() AT TIME ZONE coalesce(a.timezone, 'UTC'))
                                       AT TIME ZONE coalesce(a.timezone, 'UTC')
                    AND b.starts_at < (date_trunc('week', now() AT TIME ZONE coalesce(a.timezone, 'UTC'))
                                       + interval '7 days') AT TIME ZONE coalesce(a.timezone, 'UTC'))
                  AS sessions_this_week,
                coalesce(r.outcomes, '{}') AS outcomes, coalesce(r.wellbeing, '{}') AS wellbeing
           FROM experts e LEFT JOIN availability a ON a.expert_id = e.id
           LEFT JOIN LATERAL (
                SELECT array_agg(x.outcome ORDER BY x.starts_at DESC) AS outcomes,
                       array_agg(x.wellbeing ORDER BY x.starts_at DESC) AS wellbeing
                  FROM (SELECT o.outcome, o.wellbeing,
                               COALESCE(b.starts_at, h.connected_at) AS starts_at
                          FROM session_outcomes o
                          LEFT JOIN bookings b ON b.id = o.booking_id
                          LEFT JOIN help_now_requests h ON h.id = o.help_now_id
                         WHERE COALESCE(b.expert_id, h.expert_id) = e.id
                         ORDER BY 3 DESC LIMIT 5) x) r ON TRUE
          WHERE e.supervisor_id = $1
          ORDER BY e.display_name, e.id",
    )
    .bind(supervisor.0)
    .fetch_all(pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            let outcomes: Vec<String> = r.try_get("outcomes")?;
            let wellbeing: Vec<Option<i16>> = r.try_get("wellbeing")?;
            let recent = outcomes
                .into_iter()
                .zip(wellbeing)
                .map(|(o, w)| {
                    SessionOutcome::parse(&o).map(|o| (o, w)).ok_or_else(|| {
                        sqlx::Error::ColumnDecode {
                            index: "outcomes".into(),
                            source: format!("unknown outcome {o:?}").into(),
                        }
                    })
                })
                .collect::<std::result::Result<_, _>>()?;
            Ok(SupervisedRow {
                expert_id: row::id(r, "id")?,
                display_name: r.try_get("display_name")?,
                status: r.try_get("status")?,
                sessions_this_week: r.try_get("sessions_this_week")?,
                max_sessions_per_day: r.try_get("max_sessions_per_day")?,
                max_sessions_per_week: r.try_get("max_sessions_per_week")?,
                recent,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()?;
    Ok(rows)
}

/// The demo: every demo expert has done every required module.
#[tracing::instrument(skip(pool))]
pub async fn train_demo_experts(pool: &PgPool) -> Result<()> {
    sqlx::query(
        "INSERT INTO training_completions (expert_id, module_id, marked_by_role, marked_by_id)
         SELECT e.id, m.id, 'cli', 'anxin (demo)' FROM experts e CROSS JOIN training_modules m
          WHERE e.demo AND m.required
         ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The demo: the organisation's first demo expert by name supervises its
/// other demo experts (those without a supervisor); returns the supervisor.
#[tracing::instrument(skip(pool))]
pub async fn demo_supervision(pool: &PgPool, organisation: Uuid) -> Result<Option<ExpertId>> {
    let mut tx = pool.begin().await?;
    let first: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM experts WHERE demo AND organisation_id = $1 AND status = 'approved'
          ORDER BY display_name, id LIMIT 1",
    )
    .bind(organisation)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(s) = first {
        sqlx::query("UPDATE experts SET supervisor = true WHERE id = $1")
            .bind(s)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE experts SET supervisor_id = $2
              WHERE demo AND organisation_id = $1 AND id <> $2 AND supervisor_id IS NULL",
        )
        .bind(organisation)
        .bind(s)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(first.map(ExpertId))
}
