//! Help now (see `anxin_domain::help_now`): experts on duty, the queue of
//! seekers who need to talk now, and the dispatch that gives the first of
//! them a free expert to ring.
//!
//! Dispatch runs in the call worker, any number of them: one transaction at
//! a time holds the dispatch lock, so two workers never hand one expert two
//! requests or one request two experts. A request has at most one live call
//! task (a unique index), and a new one only once the last ring is over, so
//! one request is never bridged to two experts.
use crate::crypto::Sealed;
use crate::row::{self, seconds};
use crate::Result;
use anxin_domain::call::CallOutcome;
use anxin_domain::help_now::{
    assign, FreeExpert, HelpNowStatus, HelpNowWish, Waiting, CLEAR_OF_BOOKINGS,
};
use anxin_domain::ids::{CallTaskId, ExpertId, SeekerId};
use anxin_domain::proto::CallTask;
use anxin_domain::seeker::PriorityGroup;
use chrono::{DateTime, Duration, Utc};
use prost::Message;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// An expert (`e`, on duty as `d`) is free for a help-now call: approved,
/// on duty, in no call and rung for no other request, clear of booked
/// sessions, under the daily and weekly caps.
fn free() -> String {
    let clear = CLEAR_OF_BOOKINGS.num_seconds();
    format!(
        "
    e.status = 'approved'
    AND (d.until IS NULL OR d.until > now())
    AND NOT EXISTS (SELECT 1 FROM help_now_requests h
                     WHERE h.expert_id = e.id
                       AND h.status IN ('ringing_expert', 'calling_seeker', 'connected'))
    AND NOT EXISTS (SELECT 1 FROM call_tasks t JOIN bookings b ON b.id = t.booking_id
                     WHERE b.expert_id = e.id AND t.state = 'leased')
    AND NOT EXISTS (SELECT 1 FROM bookings b
                     WHERE b.expert_id = e.id AND b.status = 'confirmed'
                       AND b.starts_at < now() + make_interval(secs => {clear})
                       AND b.ends_at > now() - make_interval(secs => {clear}))
    AND NOT expert_day_full(e.id, now())"
    )
}

#[derive(Debug, Clone)]
pub struct HelpNowRow {
    pub id: Uuid,
    pub seeker_id: SeekerId,
    pub status: HelpNowStatus,
    pub region: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expert_id: Option<ExpertId>,
    pub connected_at: Option<DateTime<Utc>>,
    pub rollovers: i32,
    pub request_hash: Vec<u8>,
    /// The call's state and outcome, while or after one was placed.
    pub call_state: Option<String>,
    pub call_outcome: Option<CallOutcome>,
}

fn request(r: &PgRow) -> std::result::Result<HelpNowRow, sqlx::Error> {
    Ok(HelpNowRow {
        id: r.try_get("id")?,
        seeker_id: row::id(r, "seeker_id")?,
        status: row::named(r, "status")?,
        region: r.try_get("region")?,
        created_at: r.try_get("created_at")?,
        expert_id: r.try_get::<Option<Uuid>, _>("expert_id")?.map(ExpertId),
        connected_at: r.try_get("connected_at")?,
        rollovers: r.try_get("rollovers")?,
        request_hash: r.try_get("request_hash")?,
        call_state: r.try_get("call_state")?,
        call_outcome: row::named_opt(r, "call_outcome")?,
    })
}

const SELECT: &str = "SELECT h.id, h.seeker_id, h.status, h.region, h.created_at, h.expert_id,
            h.connected_at, h.rollovers, h.request_hash, t.call_state, t.outcome AS call_outcome
       FROM help_now_requests h
       LEFT JOIN LATERAL (SELECT call_state, outcome FROM call_tasks
                           WHERE help_now_id = h.id ORDER BY created_at DESC LIMIT 1) t ON true";

/// Switches an expert on duty (until `until`, or until switched off).
#[tracing::instrument(skip(pool))]
pub async fn go_on_duty(
    pool: &PgPool,
    expert: ExpertId,
    until: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO expert_duty (expert_id, until) VALUES ($1, $2)
         ON CONFLICT (expert_id) DO UPDATE SET until = EXCLUDED.until,
             since = CASE WHEN expert_duty.until IS NOT NULL AND expert_duty.until <= now()
                          THEN clock_timestamp() ELSE expert_duty.since END",
    )
    .bind(expert.0)
    .bind(until)
    .execute(pool)
    .await?;
    wake_workers(pool).await
}

#[tracing::instrument(skip(pool))]
pub async fn go_off_duty(pool: &PgPool, expert: ExpertId) -> Result<()> {
    sqlx::query("DELETE FROM expert_duty WHERE expert_id = $1")
        .bind(expert.0)
        .execute(pool)
        .await?;
    Ok(())
}

/// The expert's duty now: `Some(until)` while on duty.
#[tracing::instrument(skip(pool))]
pub async fn duty(pool: &PgPool, expert: ExpertId) -> Result<Option<Option<DateTime<Utc>>>> {
    Ok(sqlx::query_scalar(
        "SELECT until FROM expert_duty WHERE expert_id = $1 AND (until IS NULL OR until > now())",
    )
    .bind(expert.0)
    .fetch_optional(pool)
    .await?)
}

/// Experts on duty now, and how many of them are free for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnDuty {
    pub on_duty: i64,
    pub free: i64,
}

#[tracing::instrument(skip(pool))]
pub async fn on_duty(pool: &PgPool) -> Result<OnDuty> {
    let query = format!(
        "SELECT count(*) AS on_duty, count(*) FILTER (WHERE {}) AS free
           FROM expert_duty d JOIN experts e ON e.id = d.expert_id
          WHERE e.status = 'approved' AND (d.until IS NULL OR d.until > now())",
        free()
    );
    let (on_duty, free): (i64, i64) = sqlx::query_as(&query).fetch_one(pool).await?;
    Ok(OnDuty { on_duty, free })
}

/// Requests waiting in the queue now.
#[tracing::instrument(skip(pool))]
pub async fn queued(pool: &PgPool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM help_now_requests WHERE status = 'queued'")
            .fetch_one(pool)
            .await?,
    )
}

/// How long help-now calls have lasted this past week, on average; `None`
/// before the first.
#[tracing::instrument(skip(pool))]
pub async fn mean_call_seconds(pool: &PgPool) -> Result<Option<f64>> {
    Ok(sqlx::query_scalar(
        "SELECT avg(a.talk_seconds)::float8 FROM call_attempts a
           JOIN call_tasks t ON t.id = a.task_id
          WHERE t.help_now_id IS NOT NULL AND a.bridged_at IS NOT NULL
            AND a.ended_at > now() - interval '7 days'",
    )
    .fetch_one(pool)
    .await?)
}

/// A new request, or why not.
#[derive(Debug, Clone)]
pub enum Queued {
    Queued(Uuid),
    /// The seeker already has a live request.
    Active(Uuid),
    /// The seeker's earlier request with this Idempotency-Key.
    Replay(HelpNowRow),
}

pub struct NewRequest<'a> {
    pub seeker: SeekerId,
    pub group: PriorityGroup,
    pub wish: &'a HelpNowWish,
    pub region: Option<&'a str>,
    pub phone: &'a Sealed,
    pub note: Option<&'a Sealed>,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a [u8],
}

/// Puts the seeker in the queue and wakes the call workers.
#[tracing::instrument(skip_all, fields(seeker_id = %new.seeker))]
pub async fn enqueue(pool: &PgPool, new: &NewRequest<'_>) -> Result<Queued> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('help-now:' || $1::text, 0))")
        .bind(new.seeker.0)
        .execute(&mut *tx)
        .await?;
    if let Some(key) = new.idempotency_key {
        let q = format!("{SELECT} WHERE h.seeker_id = $1 AND h.idempotency_key = $2");
        if let Some(r) = sqlx::query(&q)
            .bind(new.seeker.0)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
        {
            return Ok(Queued::Replay(request(&r)?));
        }
    }
    let live: Option<Uuid> = sqlx::query_scalar(LIVE_OF)
        .bind(new.seeker.0)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(id) = live {
        return Ok(Queued::Active(id));
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO help_now_requests
            (id, seeker_id, priority_group, priority_rank, language, topic, region,
             phone_ciphertext, phone_key_id, note_ciphertext, note_key_id,
             idempotency_key, request_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id)
    .bind(new.seeker.0)
    .bind(new.group.as_str())
    .bind(anxin_domain::help_now::priority_rank(new.group))
    .bind(&new.wish.language)
    .bind(&new.wish.topic)
    .bind(new.region)
    .bind(&new.phone.bytes)
    .bind(&new.phone.key_id)
    .bind(new.note.map(|n| &n.bytes))
    .bind(new.note.map(|n| &n.key_id))
    .bind(new.idempotency_key)
    .bind(new.request_hash)
    .execute(&mut *tx)
    .await?;
    wake_workers(&mut *tx).await?;
    tx.commit().await?;
    Ok(Queued::Queued(id))
}

async fn wake_workers<'e>(conn: impl sqlx::PgExecutor<'e>) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, 'help-now')")
        .bind(crate::bookings::CALL_TASKS_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// The seeker's live request (queued or on the phone), if any.
#[tracing::instrument(skip(pool))]
pub async fn live_of(pool: &PgPool, seeker: SeekerId) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar(LIVE_OF)
        .bind(seeker.0)
        .fetch_optional(pool)
        .await?)
}

const LIVE_OF: &str = "SELECT id FROM help_now_requests WHERE seeker_id = $1
    AND status IN ('queued', 'ringing_expert', 'calling_seeker', 'connected')";

/// The seeker's request made with this Idempotency-Key, if any.
#[tracing::instrument(skip(pool, key))]
pub async fn by_key(pool: &PgPool, seeker: SeekerId, key: &str) -> Result<Option<HelpNowRow>> {
    let q = format!("{SELECT} WHERE h.seeker_id = $1 AND h.idempotency_key = $2");
    let r = sqlx::query(&q)
        .bind(seeker.0)
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(r.as_ref().map(request).transpose()?)
}

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<HelpNowRow>> {
    let q = format!("{SELECT} WHERE h.id = $1");
    let r = sqlx::query(&q).bind(id).fetch_optional(pool).await?;
    Ok(r.as_ref().map(request).transpose()?)
}

/// The request's place in the queue (1 = next).
#[tracing::instrument(skip(pool))]
pub async fn position(pool: &PgPool, id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM help_now_requests q, help_now_requests me
          WHERE me.id = $1 AND q.status = 'queued'
            AND (q.priority_rank, q.created_at, q.id) <= (me.priority_rank, me.created_at, me.id)",
    )
    .bind(id)
    .fetch_one(pool)
    .await?)
}

/// The seeker leaves: the request ends `cancelled`, and a call being placed
/// for it is cancelled (its worker hangs up at its next look). `false` when
/// the request had already ended.
#[tracing::instrument(skip(pool))]
pub async fn cancel(pool: &PgPool, id: Uuid, seeker: SeekerId) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let ended = end_live(&mut tx, seeker, Some(id)).await?;
    tx.commit().await?;
    Ok(ended == 1)
}

/// Ends the seeker's live requests (that one only, with `id`) as
/// `cancelled` and cancels their calls being placed, in the caller's
/// transaction; how many requests ended.
pub async fn end_live(
    conn: &mut sqlx::PgConnection,
    seeker: SeekerId,
    id: Option<Uuid>,
) -> Result<u64> {
    let ended: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE help_now_requests SET status = 'cancelled', ended_at = now()
          WHERE seeker_id = $1 AND ($2::uuid IS NULL OR id = $2)
            AND status IN ('queued', 'ringing_expert', 'calling_seeker', 'connected')
      RETURNING id",
    )
    .bind(seeker.0)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE call_tasks SET state = 'cancelled', call_state = 'cancelled',
                outcome = COALESCE(outcome, 'cancelled'), updated_at = now()
          WHERE help_now_id = ANY ($1) AND state IN ('pending', 'leased')",
    )
    .bind(&ended)
    .execute(&mut *conn)
    .await?;
    Ok(ended.len() as u64)
}

/// What one dispatch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispatched {
    /// Requests given an expert to ring.
    pub rung: usize,
    /// Requests still waiting for a free expert.
    pub waiting: usize,
    /// Requests that waited past the longest wait and ended `timed_out`.
    pub timed_out: u64,
}

/// Requests looked at in one dispatch, in queue order.
const PER_DISPATCH: i64 = 200;

/// Ends requests that waited past `max_wait`, then gives the queued requests
/// in order (priority group, then arrival) the experts free now, as
/// `domain::help_now::assign` decides (the fewest help-now calls today, the
/// topic, the longest on duty; nobody twice for a request), and queues each
/// call due now. One dispatch at a time, across workers.
#[tracing::instrument(skip(pool))]
pub async fn dispatch(pool: &PgPool, max_wait: Duration) -> Result<Dispatched> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('help-now-dispatch', 0))")
        .execute(&mut *tx)
        .await?;
    let timed_out = sqlx::query(
        "UPDATE help_now_requests SET status = 'timed_out', ended_at = now()
          WHERE status = 'queued' AND created_at <= now() - make_interval(secs => $1)",
    )
    .bind(seconds(max_wait))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let queue: Vec<(Uuid, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, language, topic FROM help_now_requests WHERE status = 'queued'
          ORDER BY priority_rank, created_at, id LIMIT $1",
    )
    .bind(PER_DISPATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut done = Dispatched {
        timed_out,
        waiting: queue.len(),
        ..Dispatched::default()
    };
    if queue.is_empty() {
        tx.commit().await?;
        return Ok(done);
    }
    // Who is free is read once per dispatch; who rings for whom is
    // `domain::help_now::assign`.
    let free_query = format!(
        "SELECT e.id, e.languages, e.specialties,
                (SELECT count(*) FROM help_now_requests c
                  WHERE c.expert_id = e.id AND c.connected_at >= date_trunc('day', now())) AS calls_today
           FROM expert_duty d JOIN experts e ON e.id = d.expert_id
          WHERE {}
          ORDER BY d.since, e.id",
        free()
    );
    let free: Vec<(Uuid, Vec<String>, Vec<String>, i64)> =
        sqlx::query_as(&free_query).fetch_all(&mut *tx).await?;
    let ids: Vec<Uuid> = queue.iter().map(|(id, _, _)| *id).collect();
    let rung: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT request_id, expert_id FROM help_now_rings WHERE request_id = ANY ($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let waiting: Vec<Waiting> = queue
        .into_iter()
        .map(|(id, language, topic)| Waiting {
            id,
            language,
            topic,
            rung: rung
                .iter()
                .filter(|(r, _)| *r == id)
                .map(|(_, e)| *e)
                .collect(),
        })
        .collect();
    let free: Vec<FreeExpert> = free
        .into_iter()
        .map(|(id, languages, topics, calls_today)| FreeExpert {
            id,
            languages,
            topics,
            calls_today,
        })
        .collect();
    for (request, expert) in assign(&waiting, &free) {
        ring(&mut tx, request, ExpertId(expert)).await?;
        done.rung += 1;
        done.waiting -= 1;
    }
    if done.rung > 0 {
        wake_workers(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Gives the request this expert to ring: the ring is recorded (never again
/// for this request) and the call task queued, due now.
async fn ring(conn: &mut sqlx::PgConnection, id: Uuid, expert: ExpertId) -> Result<CallTaskId> {
    sqlx::query(
        "UPDATE help_now_requests SET status = 'ringing_expert', expert_id = $2
          WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(expert.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO help_now_rings (request_id, expert_id) VALUES ($1, $2)")
        .bind(id)
        .bind(expert.0)
        .execute(&mut *conn)
        .await?;
    let task = CallTaskId::new();
    let payload = CallTask {
        help_now_id: id.to_string(),
        ..CallTask::default()
    };
    sqlx::query(
        "INSERT INTO call_tasks (id, help_now_id, payload, due_at) VALUES ($1, $2, $3, now())",
    )
    .bind(task.0)
    .bind(id)
    .bind(payload.encode_to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(task)
}

/// After a help-now call's attempt, in the transaction that records it:
/// a ring the expert did not answer (no answer, busy, declined, a failure
/// before they picked up) puts the request back at its place in the queue
/// for the next free expert; a call that is over ends the request.
pub async fn after_attempt(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    outcome: CallOutcome,
    expert_answered: bool,
    finished: bool,
) -> Result<()> {
    // How the ring ended, when the expert never picked up.
    if !expert_answered {
        sqlx::query(
            "UPDATE help_now_rings SET outcome = $2
              WHERE request_id = $1
                AND expert_id = (SELECT expert_id FROM help_now_requests WHERE id = $1)",
        )
        .bind(id)
        .bind(outcome.as_str())
        .execute(&mut *conn)
        .await?;
    }
    if !finished {
        return Ok(());
    }
    if expert_answered || outcome == CallOutcome::Completed {
        sqlx::query(
            "UPDATE help_now_requests SET status = 'completed', ended_at = now()
              WHERE id = $1 AND status IN ('ringing_expert', 'calling_seeker', 'connected')",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
    } else {
        requeue(conn, id).await?;
    }
    Ok(())
}

/// Back to the queue at its old place, for the next free expert.
pub async fn requeue(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE help_now_requests SET status = 'queued', expert_id = NULL, rollovers = rollovers + 1
          WHERE id = $1 AND status IN ('ringing_expert', 'calling_seeker')",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    wake_workers(&mut *conn).await
}

/// A help-now call an expert took, as their portal lists it.
#[derive(Debug, Clone)]
pub struct TakenRow {
    pub id: Uuid,
    pub seeker_id: SeekerId,
    pub priority_group: String,
    pub status: HelpNowStatus,
    pub connected_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The seeker's few words, sealed.
    pub note: Option<Sealed>,
    /// The outcome the expert recorded, if they did.
    pub outcome: Option<anxin_domain::referral::SessionOutcome>,
    pub follow_up: Option<anxin_domain::referral::FollowUp>,
    pub urgency: Option<anxin_domain::referral::Urgency>,
}

/// The help-now calls this expert took (connected), newest first.
#[tracing::instrument(skip(pool))]
pub async fn taken_by(pool: &PgPool, expert: ExpertId, limit: i64) -> Result<Vec<TakenRow>> {
    let rows = sqlx::query(
        "SELECT h.id, h.seeker_id, h.priority_group, h.status, h.connected_at, h.ended_at,
                h.note_ciphertext, h.note_key_id, o.outcome, o.follow_up, o.urgency
           FROM help_now_requests h LEFT JOIN session_outcomes o ON o.help_now_id = h.id
          WHERE h.expert_id = $1 AND h.connected_at IS NOT NULL
          ORDER BY h.connected_at DESC LIMIT $2",
    )
    .bind(expert.0)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TakenRow {
                id: r.try_get("id")?,
                seeker_id: row::id(r, "seeker_id")?,
                priority_group: r.try_get("priority_group")?,
                status: row::named(r, "status")?,
                connected_at: r.try_get("connected_at")?,
                ended_at: r.try_get("ended_at")?,
                note: match (
                    r.try_get::<Option<Vec<u8>>, _>("note_ciphertext")?,
                    r.try_get::<Option<String>, _>("note_key_id")?,
                ) {
                    (Some(bytes), Some(key_id)) => Some(Sealed { key_id, bytes }),
                    _ => None,
                },
                outcome: row::named_opt(r, "outcome")?,
                follow_up: row::named_opt(r, "follow_up")?,
                urgency: row::named_opt(r, "urgency")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The experts rung for a request, in order: for tests and the record.
#[tracing::instrument(skip(pool))]
pub async fn rings(pool: &PgPool, id: Uuid) -> Result<Vec<(ExpertId, Option<String>)>> {
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT expert_id, outcome FROM help_now_rings WHERE request_id = $1 ORDER BY rung_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(e, o)| (ExpertId(e), o)).collect())
}

/// Service levels over requests made since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Levels {
    pub requested: i64,
    pub connected: i64,
    /// Left the queue (or timed out) before being connected.
    pub abandoned: i64,
    pub rollovers: i64,
    pub wait_p50_s: Option<f64>,
    pub wait_p95_s: Option<f64>,
}

#[tracing::instrument(skip(pool))]
pub async fn levels(
    pool: &PgPool,
    since: DateTime<Utc>,
    region: Option<&[String]>,
) -> Result<Levels> {
    let r = sqlx::query(
        "SELECT count(*) AS requested,
                count(*) FILTER (WHERE connected_at IS NOT NULL) AS connected,
                count(*) FILTER (WHERE connected_at IS NULL
                                   AND status IN ('cancelled', 'timed_out')) AS abandoned,
                COALESCE(sum(rollovers), 0)::int8 AS rollovers,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM connected_at - created_at))
                    FILTER (WHERE connected_at IS NOT NULL) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM connected_at - created_at))
                    FILTER (WHERE connected_at IS NOT NULL) AS p95
           FROM help_now_requests
          WHERE created_at >= $1 AND ($2::text[] IS NULL OR region = ANY ($2))",
    )
    .bind(since)
    .bind(region)
    .fetch_one(pool)
    .await?;
    Ok(Levels {
        requested: r.try_get("requested")?,
        connected: r.try_get("connected")?,
        abandoned: r.try_get("abandoned")?,
        rollovers: r.try_get("rollovers")?,
        wait_p50_s: r.try_get("p50")?,
        wait_p95_s: r.try_get("p95")?,
    })
}
