//! The event log behind the operator dashboard: the append-only `events`
//! table (see `migrations/20261122000002_events.sql`) and the aggregate
//! queries over a window that `GET /v1/ops/summary` is built from.
//!
//! Bookings and calls are recorded by triggers in the writer's transaction;
//! what exists only in Redis or in a response (slates, holds, refusals) is
//! batch-inserted here by the API. Every query takes the window's bounds
//! from the caller, so the figures of one summary agree on "now".
//!
//! Breakdowns come back in one pass with `GROUPING SETS`: each row says what
//! it is grouped `by` (`all`, `priority_group`, `region`, or where a query
//! has them `bucket` and `organisation`) and its `key`.
use crate::row;
use crate::Result;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::{BookingId, ExpertId, SeekerId};
use anxin_domain::seeker::PriorityGroup;
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgPool, Postgres, Row};
use uuid::Uuid;

/// One event the API records (the triggers write the others).
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    /// The seeker's pseudonymous id; never a host-app subject.
    pub seeker_id: Option<Uuid>,
    pub priority_group: Option<PriorityGroup>,
    pub region: Option<String>,
    pub expert_id: Option<Uuid>,
    /// `slate_served`: the experts shown.
    pub expert_ids: Option<Vec<Uuid>>,
    pub slot_id: Option<Uuid>,
    pub hold_id: Option<Uuid>,
    pub booking_id: Option<Uuid>,
    /// `hold_refused`, `booking_refused`: the refusal's error code.
    pub refusal: Option<&'static str>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Inserts a batch in one statement (one round trip, one commit). The
/// statement text is the same for every batch size, so it is prepared once
/// per connection.
#[tracing::instrument(skip_all, fields(events = events.len()))]
pub async fn insert_batch(pool: &PgPool, events: &[NewEvent]) -> Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let col = |f: fn(&NewEvent) -> Option<Uuid>| events.iter().map(f).collect::<Vec<_>>();
    let time = |f: fn(&NewEvent) -> Option<DateTime<Utc>>| events.iter().map(f).collect::<Vec<_>>();
    // Every row's expert list goes in one flat binary `uuid[]`, each row
    // taking its slice (`xo`: where it starts, `xn`: how many; none for a
    // row without a list). Sent as text literals, Postgres' parsing of them
    // was a quarter of its work on the slates' rows.
    let mut flat: Vec<Uuid> = Vec::new();
    let mut starts: Vec<Option<i32>> = Vec::with_capacity(events.len());
    let mut lens: Vec<Option<i32>> = Vec::with_capacity(events.len());
    for e in events {
        match &e.expert_ids {
            Some(ids) => {
                starts.push(i32::try_from(flat.len()).ok());
                lens.push(i32::try_from(ids.len()).ok());
                flat.extend_from_slice(ids);
            }
            None => {
                starts.push(None);
                lens.push(None);
            }
        }
    }
    let done = sqlx::query(
        "INSERT INTO events (kind, at, seeker_id, priority_group, region, expert_id, expert_ids,
                             slot_id, hold_id, booking_id, refusal, starts_at, expires_at)
         SELECT k, a, s, pg, r, e,
                CASE WHEN xn IS NOT NULL THEN COALESCE(($7::uuid[])[xo + 1 : xo + xn], '{}') END,
                sl, h, b, o, st, ex
           FROM UNNEST($1::text[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[],
                       $6::uuid[], $14::int4[], $15::int4[], $8::uuid[], $9::uuid[], $10::uuid[],
                       $11::text[], $12::timestamptz[], $13::timestamptz[])
             AS t(k, a, s, pg, r, e, xo, xn, sl, h, b, o, st, ex)",
    )
    .bind(events.iter().map(|e| e.kind).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
    .bind(col(|e| e.seeker_id))
    .bind(
        events
            .iter()
            .map(|e| e.priority_group.map(PriorityGroup::as_str))
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|e| e.region.clone()).collect::<Vec<_>>())
    .bind(col(|e| e.expert_id))
    .bind(&flat)
    .bind(col(|e| e.slot_id))
    .bind(col(|e| e.hold_id))
    .bind(col(|e| e.booking_id))
    .bind(events.iter().map(|e| e.refusal).collect::<Vec<_>>())
    .bind(time(|e| e.starts_at))
    .bind(time(|e| e.expires_at))
    .bind(&starts)
    .bind(&lens)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Which part of the service a summary covers; everything by default.
///
/// Seeker-side figures (funnel, holds, counts, time to connect) keep the
/// events of seekers of `regions` that involve an expert of `organisation`
/// (a slate showing one, a hold or booking on one's slot, one's calls);
/// expert-side figures (fairness, utilization) keep the experts of
/// `regions` and of `organisation`. A refused confirmation names no expert,
/// so an organisation's figures leave it out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Region codes (a region, or an area's regions).
    pub regions: Option<Vec<String>>,
    pub organisation: Option<Uuid>,
}

impl Scope {
    pub fn everything(&self) -> bool {
        self.regions.is_none() && self.organisation.is_none()
    }

    /// ` AND …` keeping the `events` rows (their own columns, unqualified)
    /// in scope, with the scope's two parameters numbered `$n`, `$n+1`;
    /// nothing for everything, so the unfiltered statement stays as it was.
    fn on_events(&self, n: usize) -> String {
        if self.everything() {
            return String::new();
        }
        let m = n + 1;
        format!(
            " AND (${n}::text[] IS NULL OR COALESCE(region, 'unknown') = ANY(${n}::text[]))
              AND (${m}::uuid IS NULL
                   OR expert_id IN (SELECT id FROM experts WHERE organisation_id = ${m}::uuid)
                   OR expert_ids && ARRAY(SELECT id FROM experts WHERE organisation_id = ${m}::uuid))"
        )
    }

    /// ` AND …` keeping experts (`alias`, the `experts` table) in scope, as
    /// `on_events`.
    fn on_experts(&self, alias: &str, n: usize) -> String {
        if self.everything() {
            return String::new();
        }
        let m = n + 1;
        format!(
            " AND (${n}::text[] IS NULL OR {alias}.region = ANY(${n}::text[]))
              AND (${m}::uuid IS NULL OR {alias}.organisation_id = ${m}::uuid)"
        )
    }

    /// Binds the scope's parameters after the others (none for everything).
    fn bind<'q, O>(
        &self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
    ) -> QueryAs<'q, Postgres, O, PgArguments> {
        if self.everything() {
            query
        } else {
            query.bind(self.regions.clone()).bind(self.organisation)
        }
    }
}

/// When each seeker first saw a slate since their `since` (for time to
/// match), in the order asked: one statement for a batch of bookings.
#[tracing::instrument(skip_all, fields(seekers = asked.len()))]
pub async fn first_slates_at(
    pool: &PgPool,
    asked: &[(SeekerId, DateTime<Utc>)],
) -> Result<Vec<Option<DateTime<Utc>>>> {
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT m.n, (SELECT min(e.at) FROM events e
                       WHERE e.kind = 'slate_served' AND e.seeker_id = m.seeker AND e.at >= m.since)
           FROM UNNEST($1::uuid[], $2::timestamptz[]) WITH ORDINALITY AS m(seeker, since, n)",
    )
    .bind(asked.iter().map(|(s, _)| s.0).collect::<Vec<_>>())
    .bind(asked.iter().map(|(_, t)| *t).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    let mut out = vec![None; asked.len()];
    for (n, first) in rows {
        if let Some(slot) = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = first;
        }
    }
    Ok(out)
}

/// The `by` / `key` columns of a `GROUPING SETS` over `dimensions`, each
/// alone (and `()`, `all`): the first dimension grouped on names the row.
fn by_key(dimensions: &[&str]) -> String {
    let by: String = dimensions
        .iter()
        .map(|d| format!(" WHEN GROUPING({d}) = 0 THEN '{d}'"))
        .collect();
    let key: String = dimensions
        .iter()
        .map(|d| format!(" WHEN GROUPING({d}) = 0 THEN {d}::text"))
        .collect();
    format!("CASE{by} ELSE 'all' END AS by, CASE{key} END AS key")
}

/// `by_key` of `GROUPING SETS ((), (priority_group), (region))`.
fn by_group_or_region() -> String {
    by_key(&["priority_group", "region"])
}

/// Runs one summary query in a short transaction of its own, planned for
/// what it is: memory enough for its hash tables and sorts over a week of
/// events to stay off disk (the default 4 MB spills), no JIT (compiling
/// costs more than it saves on these plans), and random reads priced as on
/// an SSD, so the covering index is scanned rather than the wide heap.
///
/// The scope's parameters are bound after the query's own.
async fn fetch_aggregate<'q, O>(
    pool: &PgPool,
    scope: &Scope,
    query: QueryAs<'q, Postgres, O, PgArguments>,
) -> Result<Vec<O>>
where
    O: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let query = scope.bind(query);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true),
                set_config('random_page_cost', '1.1', true)",
    )
    .execute(&mut *tx)
    .await?;
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The seeker funnel of one group. The cohort is the seekers who saw a slate
/// in the window; each later step counts those of them who got that far in
/// the window, so the funnel never widens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FunnelRow {
    pub by: String,
    pub key: Option<String>,
    pub saw_slate: i64,
    pub held: i64,
    pub booked: i64,
    pub connected: i64,
    pub completed: i64,
    /// Seekers with a time to match (first slate → first confirmed booking).
    pub ttm_count: i64,
    pub ttm_p50: Option<f64>,
    pub ttm_p95: Option<f64>,
}

/// Rows `by = 'bucket'` give the time series: seekers whose first slate
/// in the window fell in bucket `key` (`saw_slate`) and how many of them
/// booked (`booked`).
#[tracing::instrument(skip(pool))]
pub async fn funnel(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket_seconds: i64,
    scope: &Scope,
) -> Result<Vec<FunnelRow>> {
    let only = scope.on_events(4);
    let by = by_key(&["priority_group", "region", "bucket"]);
    let sql = format!(
        "WITH per_label AS (
             -- Hashed by seeker and label first: far fewer rows to sort.
             SELECT seeker_id, priority_group, COALESCE(region, 'unknown') AS region,
                    max(at) AS last_at,
                    min(at) FILTER (WHERE kind = 'slate_served') AS first_slate,
                    bool_or(kind = 'hold_placed') AS held,
                    min(at) FILTER (WHERE kind = 'booking_confirmed') AS first_booking
               FROM events
              WHERE kind IN ('slate_served', 'hold_placed', 'booking_confirmed')
                AND at >= $1 AND at <= $2 AND seeker_id IS NOT NULL{only}
              GROUP BY seeker_id, priority_group, COALESCE(region, 'unknown')
         ),
         per_seeker AS (
             -- A seeker is filed under their group and region of their
             -- latest event in the window.
             SELECT seeker_id,
                    (array_agg(priority_group ORDER BY last_at DESC))[1] AS priority_group,
                    (array_agg(region ORDER BY last_at DESC))[1] AS region,
                    min(first_slate) AS first_slate, bool_or(held) AS held,
                    min(first_booking) AS first_booking
               FROM per_label GROUP BY seeker_id
         ),
         calls AS (
             SELECT booking_id,
                    bool_or(kind = 'call_bridged') AS connected,
                    bool_or(kind = 'call_finished' AND call_outcome = 'completed') AS completed
               FROM events
              WHERE kind IN ('call_bridged', 'call_finished') AND at >= $1 AND at <= $2{only}
              GROUP BY booking_id
         ),
         seeker_calls AS (
             SELECT b.seeker_id, bool_or(c.connected) AS connected,
                    bool_or(c.completed) AS completed
               FROM events b JOIN calls c ON c.booking_id = b.booking_id
              WHERE b.kind = 'booking_confirmed' AND b.at >= $1 AND b.at <= $2{only}
              GROUP BY b.seeker_id
         ),
         cohort AS (
             SELECT p.priority_group, p.region, p.held, p.first_booking,
                    floor(EXTRACT(EPOCH FROM p.first_slate - $1) / $3)::int8 AS bucket,
                    COALESCE(sc.connected, false) AS connected,
                    COALESCE(sc.completed, false) AS completed,
                    CASE WHEN p.first_booking >= p.first_slate
                         THEN EXTRACT(EPOCH FROM p.first_booking - p.first_slate)::float8 END AS ttm
               FROM per_seeker p LEFT JOIN seeker_calls sc USING (seeker_id)
              WHERE p.first_slate IS NOT NULL
         )
         SELECT {by},
                count(*) AS saw_slate,
                count(*) FILTER (WHERE held) AS held,
                count(*) FILTER (WHERE first_booking IS NOT NULL) AS booked,
                count(*) FILTER (WHERE connected) AS connected,
                count(*) FILTER (WHERE completed) AS completed,
                count(ttm) AS ttm_count,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY ttm) AS ttm_p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY ttm) AS ttm_p95
           FROM cohort
          GROUP BY GROUPING SETS ((), (priority_group), (region), (bucket))"
    );
    fetch_aggregate(
        pool,
        scope,
        sqlx::query_as(&sql)
            .bind(since)
            .bind(until)
            .bind(bucket_seconds as f64),
    )
    .await
}

/// Holds placed in the window and what became of them (as of `until`), and
/// hold attempts refused.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HoldRow {
    pub by: String,
    pub key: Option<String>,
    pub placed: i64,
    pub confirmed: i64,
    pub released: i64,
    pub expired: i64,
    pub active: i64,
    /// 409 `slot_unavailable`: someone else had the slot.
    pub refused_unavailable: i64,
    /// 409 `hold_limit`: the seeker already held a slot.
    pub refused_limit: i64,
}

#[tracing::instrument(skip(pool))]
pub async fn holds(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<HoldRow>> {
    let only = scope.on_events(3);
    let by = by_group_or_region();
    let sql = format!(
        "WITH placed AS (
             SELECT hold_id, priority_group, COALESCE(region, 'unknown') AS region, expires_at
               FROM events WHERE kind = 'hold_placed' AND at >= $1 AND at <= $2{only}
         ),
         resolved AS (
             -- A hold is resolved after it was placed, so inside the window.
             SELECT hold_id, bool_or(kind = 'booking_confirmed') AS confirmed,
                    bool_or(kind = 'hold_released') AS released
               FROM events
              WHERE kind IN ('booking_confirmed', 'hold_released') AND at >= $1 AND at <= $2
                AND hold_id IS NOT NULL{only}
              GROUP BY hold_id
         ),
         attempts AS (
             SELECT p.priority_group, p.region,
                    CASE WHEN r.confirmed THEN 'confirmed'
                         WHEN r.released THEN 'released'
                         WHEN p.expires_at <= $2 THEN 'expired'
                         ELSE 'active' END AS result
               FROM placed p LEFT JOIN resolved r USING (hold_id)
             UNION ALL
             SELECT priority_group, COALESCE(region, 'unknown'),
                    'refused_' || COALESCE(refusal, 'other')
               FROM events WHERE kind = 'hold_refused' AND at >= $1 AND at <= $2{only}
         )
         SELECT {by},
                count(*) FILTER (WHERE result NOT LIKE 'refused_%') AS placed,
                count(*) FILTER (WHERE result = 'confirmed') AS confirmed,
                count(*) FILTER (WHERE result = 'released') AS released,
                count(*) FILTER (WHERE result = 'expired') AS expired,
                count(*) FILTER (WHERE result = 'active') AS active,
                count(*) FILTER (WHERE result = 'refused_slot_unavailable') AS refused_unavailable,
                count(*) FILTER (WHERE result = 'refused_hold_limit') AS refused_limit
           FROM attempts
          GROUP BY GROUPING SETS ((), (priority_group), (region))"
    );
    fetch_aggregate(pool, scope, sqlx::query_as(&sql).bind(since).bind(until)).await
}

/// Events counted by kind and detail: slates served, bookings confirmed /
/// cancelled (detail: who cancelled, `cancelled_by`) / completed,
/// confirmations refused (detail: the code, `refusal`), call attempts ended
/// and calls finished (detail: the call outcome, `call_outcome`). Rows
/// `by = 'bucket'` count them per bucket of time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CountRow {
    pub by: String,
    pub key: Option<String>,
    pub kind: String,
    /// The one detail column the kind sets (the table's checks allow no
    /// other), or none.
    pub detail: Option<String>,
    pub n: i64,
}

/// Bookings made in `[since, until)` by priority group and whether the host
/// app vouched for the group.
#[tracing::instrument(skip(pool))]
pub async fn priority_sources(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<(String, bool, i64)>> {
    let only = if scope.everything() {
        ""
    } else {
        " AND ($3::text[] IS NULL OR (SELECT region FROM seekers s WHERE s.id = b.seeker_id) = ANY($3))
          AND ($4::uuid IS NULL OR b.expert_id IN (SELECT id FROM experts WHERE organisation_id = $4))"
    };
    let sql = format!(
        "SELECT priority_group, priority_vouched, count(*) FROM bookings b
          WHERE created_at >= $1 AND created_at < $2{only} GROUP BY 1, 2"
    );
    Ok(scope
        .bind(sqlx::query_as(&sql).bind(since).bind(until))
        .fetch_all(pool)
        .await?)
}

#[tracing::instrument(skip(pool))]
pub async fn counts(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket_seconds: i64,
    scope: &Scope,
) -> Result<Vec<CountRow>> {
    let only = scope.on_events(4);
    let by = by_key(&["priority_group", "region", "bucket"]);
    let sql = format!(
        "SELECT {by}, kind, detail, count(*) AS n
           FROM (SELECT kind, COALESCE(refusal, call_outcome, cancelled_by) AS detail,
                        priority_group, COALESCE(region, 'unknown') AS region,
                        floor(EXTRACT(EPOCH FROM at - $1) / $3)::int8 AS bucket
                   FROM events
                  WHERE kind IN ('slate_served', 'booking_confirmed', 'booking_cancelled',
                                 'booking_completed', 'booking_refused', 'call_attempt_ended',
                                 'call_finished')
                    AND at >= $1 AND at <= $2{only}) e
          GROUP BY GROUPING SETS ((kind, detail), (kind, detail, priority_group),
                                  (kind, detail, region), (kind, detail, bucket))"
    );
    fetch_aggregate(
        pool,
        scope,
        sqlx::query_as(&sql)
            .bind(since)
            .bind(until)
            .bind(bucket_seconds as f64),
    )
    .await
}

/// The counts of `counts` that follow an expert (bookings, calls) by the
/// expert's organisation (`by = 'organisation'`, `key` its id). Apart from
/// `counts` because only these kinds name an expert: grouping the slates
/// too would cost the whole summary most of a second over a week.
#[tracing::instrument(skip(pool))]
pub async fn counts_by_organisation(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<CountRow>> {
    let only = scope.on_events(3);
    let sql = format!(
        "SELECT 'organisation' AS by, x.organisation_id::text AS key, e.kind, e.detail,
                count(*) AS n
           FROM (SELECT kind, COALESCE(refusal, call_outcome, cancelled_by) AS detail, expert_id
                   FROM events
                  WHERE kind IN ('booking_confirmed', 'booking_cancelled', 'booking_completed',
                                 'call_attempt_ended', 'call_finished')
                    AND at >= $1 AND at <= $2{only}) e
           JOIN experts x ON x.id = e.expert_id
          WHERE x.organisation_id IS NOT NULL
          GROUP BY 2, 3, 4"
    );
    fetch_aggregate(pool, scope, sqlx::query_as(&sql).bind(since).bind(until)).await
}

/// Percentiles of a duration, in seconds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PercentileRow {
    pub by: String,
    pub key: Option<String>,
    pub count: i64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// Time to connect: from when a call was due (the slot's start, or the
/// confirmation when the slot was already running) to its first bridge.
#[tracing::instrument(skip(pool))]
pub async fn connect_times(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<PercentileRow>> {
    let only = scope.on_events(3);
    let by = by_group_or_region();
    let sql = format!(
        "WITH firsts AS (
             SELECT DISTINCT ON (booking_id) booking_id, priority_group,
                    COALESCE(region, 'unknown') AS region,
                    GREATEST(EXTRACT(EPOCH FROM at - COALESCE(due_at, at))::float8, 0) AS secs
               FROM events
              WHERE kind = 'call_bridged' AND at >= $1 AND at <= $2{only}
              ORDER BY booking_id, at
         )
         SELECT {by}, count(*) AS count,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY secs) AS p95
           FROM firsts
          GROUP BY GROUPING SETS ((), (priority_group), (region))"
    );
    fetch_aggregate(pool, scope, sqlx::query_as(&sql).bind(since).bind(until)).await
}

/// One expert's load from one priority group: slate appearances and
/// bookings made in the window and not cancelled. Every expert who is
/// approved now or had load in the window has at least one row (with
/// `priority_group` NULL and zeros when nothing happened to them).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpertLoadRow {
    pub expert_id: Uuid,
    pub region: String,
    /// The expert's organisation (none for an independent expert).
    pub organisation: Option<String>,
    pub priority_group: Option<String>,
    pub exposures: i64,
    pub bookings: i64,
}

/// The whole UTC hours inside `[since, until]`, as `[from, to)`; empty
/// (`from == to`) when there is none.
pub fn whole_hours(since: DateTime<Utc>, until: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let hour = Duration::hours(1);
    let floor = |t: DateTime<Utc>| t.duration_trunc(hour).unwrap_or(t);
    let from = if floor(since) == since {
        since
    } else {
        floor(since) + hour
    };
    (from, floor(until).max(from))
}

/// Exposure comes from `exposure_hourly` and the batches not yet folded into
/// it (`exposure_pending`, see `fold_exposure`) for the window's whole hours,
/// and from the slates themselves for the partial hours at either end, so it
/// is exact without unnesting every slate of a week.
#[tracing::instrument(skip(pool))]
pub async fn expert_loads(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<ExpertLoadRow>> {
    let (from, to) = whole_hours(since, until);
    let only = scope.on_experts("ex", 5);
    let sql = format!(
        "WITH exposure AS (
                 SELECT expert_id, priority_group, sum(n)::int8 AS n
                   FROM (SELECT expert_id, priority_group, n
                           FROM exposure_hourly WHERE hour >= $3 AND hour < $4
                         UNION ALL
                         SELECT u.expert_id, p.priority_group, u.n
                           FROM exposure_pending p
                          CROSS JOIN LATERAL unnest(p.expert_ids, p.counts) AS u(expert_id, n)
                          WHERE p.hour >= $3 AND p.hour < $4
                         UNION ALL
                         SELECT x, COALESCE(e.priority_group, 'general'), 1
                           FROM events e CROSS JOIN LATERAL unnest(e.expert_ids) AS x
                          WHERE e.kind = 'slate_served' AND e.at >= $1 AND e.at < $3
                         UNION ALL
                         SELECT x, COALESCE(e.priority_group, 'general'), 1
                           FROM events e CROSS JOIN LATERAL unnest(e.expert_ids) AS x
                          WHERE e.kind = 'slate_served' AND e.at >= $4 AND e.at <= $2) u
                  GROUP BY 1, 2
             ),
             booked AS (
                 SELECT expert_id, priority_group, count(*) AS n
                   FROM (SELECT booking_id, expert_id, priority_group
                           FROM events
                          WHERE kind IN ('booking_confirmed', 'booking_cancelled')
                            AND at >= $1 AND at <= $2
                          GROUP BY booking_id, expert_id, priority_group
                         HAVING bool_or(kind = 'booking_confirmed')
                            AND NOT bool_or(kind = 'booking_cancelled')) b
                  GROUP BY 1, 2
             ),
             loads AS (
                 SELECT COALESCE(x.expert_id, b.expert_id) AS expert_id,
                        COALESCE(x.priority_group, b.priority_group) AS priority_group,
                        COALESCE(x.n, 0) AS exposures, COALESCE(b.n, 0) AS bookings
                   FROM exposure x
                   FULL JOIN booked b ON b.expert_id = x.expert_id
                                     AND b.priority_group = x.priority_group
                  WHERE x.n IS NULL OR x.n <> 0 OR b.n IS NOT NULL
             ),
             population AS (
                 SELECT id FROM experts WHERE status = 'approved'
                 UNION
                 SELECT expert_id FROM loads
             )
             SELECT p.id AS expert_id, COALESCE(ex.region, 'unknown') AS region,
                    ex.organisation_id::text AS organisation, l.priority_group,
                    COALESCE(l.exposures, 0)::int8 AS exposures,
                    COALESCE(l.bookings, 0)::int8 AS bookings
               FROM population p
               LEFT JOIN experts ex ON ex.id = p.id
               LEFT JOIN loads l ON l.expert_id = p.id
              WHERE true{only}"
    );
    fetch_aggregate(
        pool,
        scope,
        sqlx::query_as(&sql)
            .bind(since)
            .bind(until)
            .bind(from)
            .bind(to),
    )
    .await
}

/// Folds the exposure of batches of slates (`exposure_pending`, one row per
/// batch, hour and priority group) into `exposure_hourly`, up to `most`
/// batches in one statement; returns how many it folded. Readers see the
/// same exposure before and after (the rows move in one statement), and
/// instances folding at once take different batches.
pub async fn fold_exposure(pool: &PgPool, most: i32) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT fold_exposure($1)")
        .bind(most)
        .fetch_one(pool)
        .await?)
}

/// Offered slots of approved experts by expert region, by whether they
/// started before `now`, and by the priority group of the active booking on
/// them (NULL: not booked).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CapacityRow {
    pub region: String,
    /// The experts' organisation (none for independent experts).
    pub organisation: Option<String>,
    pub past: bool,
    pub booked_by: Option<String>,
    pub slots: i64,
}

/// Slots starting in `[from, to)`.
#[tracing::instrument(skip(pool))]
pub async fn capacity(
    pool: &PgPool,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    to: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<CapacityRow>> {
    let only = scope.on_experts("e", 4);
    let sql = format!(
        "SELECT e.region, e.organisation_id::text AS organisation, s.starts_at < $2 AS past,
                    b.priority_group AS booked_by, count(*) AS slots
               FROM slots s
               JOIN experts e ON e.id = s.expert_id AND e.status = 'approved'
               LEFT JOIN bookings b ON b.slot_id = s.id AND b.status <> 'cancelled'
              WHERE s.status = 'open' AND s.starts_at >= $1 AND s.starts_at < $3{only}
              GROUP BY 1, 2, 3, 4"
    );
    fetch_aggregate(
        pool,
        scope,
        sqlx::query_as(&sql).bind(from).bind(now).bind(to),
    )
    .await
}

/// An expert application waiting for an operator.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingExpert {
    pub id: Uuid,
    pub display_name: String,
    pub region: String,
    pub languages: Vec<String>,
    pub specialties: Vec<String>,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(skip(pool))]
pub async fn pending_experts(
    pool: &PgPool,
    offset: i64,
    limit: i64,
    regions: Option<&[String]>,
) -> Result<(Vec<PendingExpert>, i64)> {
    let page = sqlx::query_as(
        "SELECT id, display_name, region, languages, specialties, bio, created_at
           FROM experts WHERE status = 'applied' AND ($3::text[] IS NULL OR region = ANY($3))
          ORDER BY created_at, id OFFSET $1 LIMIT $2",
    )
    .bind(offset)
    .bind(limit)
    .bind(regions)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM experts
          WHERE status = 'applied' AND ($1::text[] IS NULL OR region = ANY($1))",
    )
    .bind(regions)
    .fetch_one(pool)
    .await?;
    Ok((page, total))
}

/// A call that is running or due before `until`, with where it stands. The
/// seeker is only their pseudonymous id (callers show the alias).
#[derive(Debug, Clone)]
pub struct UpcomingCall {
    pub booking_id: BookingId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub seeker_id: SeekerId,
    pub priority_group: PriorityGroup,
    pub expert_id: ExpertId,
    pub expert_name: String,
    pub call_state: CallState,
    pub outcome: Option<CallOutcome>,
    pub attempts: i32,
}

impl<'r> sqlx::FromRow<'r, PgRow> for UpcomingCall {
    fn from_row(r: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            booking_id: row::id(r, "booking_id")?,
            starts_at: r.try_get("starts_at")?,
            ends_at: r.try_get("ends_at")?,
            seeker_id: row::id(r, "seeker_id")?,
            priority_group: row::named(r, "priority_group")?,
            expert_id: row::id(r, "expert_id")?,
            expert_name: r.try_get("expert_name")?,
            // Every booking has its call task (written in one transaction).
            call_state: row::named(r, "call_state")?,
            outcome: row::named_opt(r, "outcome")?,
            attempts: r.try_get("attempts")?,
        })
    }
}

#[tracing::instrument(skip(pool))]
pub async fn upcoming_calls(
    pool: &PgPool,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
    regions: Option<&[String]>,
) -> Result<Vec<UpcomingCall>> {
    Ok(sqlx::query_as(
        "SELECT b.id AS booking_id, b.starts_at, b.ends_at, b.seeker_id, b.priority_group,
                e.id AS expert_id, e.display_name AS expert_name,
                t.call_state, t.outcome, t.attempts
           FROM bookings b
           JOIN experts e ON e.id = b.expert_id
           JOIN call_tasks t ON t.booking_id = b.id
          WHERE b.status <> 'cancelled' AND b.ends_at > $1
            -- $4 is now - RUNNING_FOR: a slot runs no longer than that, so
            -- this bounds the index scan.
            AND b.starts_at > $4 AND b.starts_at < $2
            AND ($5::text[] IS NULL OR e.region = ANY($5))
          ORDER BY b.starts_at, b.id
          LIMIT $3",
    )
    .bind(now)
    .bind(until)
    .bind(limit)
    .bind(now - anxin_domain::booking::RUNNING_FOR)
    .bind(regions)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hours_cover_the_inside_of_a_window() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            whole_hours(t("2026-11-22T10:20:00Z"), t("2026-11-22T13:05:00Z")),
            (t("2026-11-22T11:00:00Z"), t("2026-11-22T13:00:00Z"))
        );
        assert_eq!(
            whole_hours(t("2026-11-22T10:00:00Z"), t("2026-11-22T11:00:00Z")),
            (t("2026-11-22T10:00:00Z"), t("2026-11-22T11:00:00Z"))
        );
        // Inside one hour: nothing whole.
        let (from, to) = whole_hours(t("2026-11-22T10:20:00Z"), t("2026-11-22T10:50:00Z"));
        assert_eq!(from, to);
    }
}
