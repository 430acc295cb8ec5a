//! Call tasks: the outbox the call worker leases from, and the record of each
//! call attempt. A task is a booking's call (expert, then seeker), an
//! operator's callback on a referral (operator, then seeker), or a help-now
//! request's call to one on-duty expert (expert, then seeker): the same
//! lease, the same provider, the same record.
//!
//! A worker *leases* a due task: the row moves to `leased`, gets an expiry, and
//! its `fence` grows by one. The `(task id, fence)` pair is the worker's
//! [`Lease`]; every later write by that worker names it and only lands while
//! the fence is unchanged. So a worker that stalled past its lease (and whose
//! task another worker has since leased) can no longer write anything: its
//! writes match no row and it learns it lost the lease.
//!
//! Times of leases are the database's `now()`, so workers with skewed clocks
//! still agree on when a lease ran out.
use crate::crypto::Sealed;
use crate::row::{self, seconds};
use crate::{Result, StoreError};
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::{BookingId, CallTaskId};
use anxin_domain::proto::CallTask;
use chrono::{DateTime, Duration, Utc};
use prost::Message;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

anxin_domain::named! {
    /// Where a task stands in the outbox: waiting to be due, leased by a worker,
    /// finished, or cancelled with its booking.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TaskState as "call task state" {
        Pending = "pending",
        Leased = "leased",
        Done = "done",
        Cancelled = "cancelled",
    }
}

/// A worker's claim on one task: writes land only while `fence` is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub task_id: CallTaskId,
    pub fence: i64,
}

/// What a task calls about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The booking's call: its expert, then its seeker.
    Booking(BookingId),
    /// An operator's callback on this referral: the operator, then the seeker.
    Referral(Uuid),
    /// A help-now request's call: the on-duty expert dispatch chose, then
    /// the seeker.
    HelpNow(Uuid),
}

impl Subject {
    pub fn booking(self) -> Option<BookingId> {
        match self {
            Self::Booking(b) => Some(b),
            Self::Referral(_) | Self::HelpNow(_) => None,
        }
    }

    pub fn help_now(self) -> Option<Uuid> {
        match self {
            Self::HelpNow(h) => Some(h),
            _ => None,
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Booking(b) => write!(f, "booking {b}"),
            Self::Referral(r) => write!(f, "referral {r}"),
            Self::HelpNow(h) => write!(f, "help-now {h}"),
        }
    }
}

fn subject(r: &PgRow) -> std::result::Result<Subject, sqlx::Error> {
    let booking: Option<Uuid> = r.try_get("booking_id")?;
    let referral: Option<Uuid> = r.try_get("referral_id")?;
    let help_now: Option<Uuid> = r.try_get("help_now_id")?;
    match (booking, referral, help_now) {
        (Some(b), None, None) => Ok(Subject::Booking(BookingId(b))),
        (None, Some(r), None) => Ok(Subject::Referral(r)),
        (None, None, Some(h)) => Ok(Subject::HelpNow(h)),
        _ => Err(sqlx::Error::ColumnDecode {
            index: "booking_id".into(),
            source: "a call task names one booking, one referral or one help-now request".into(),
        }),
    }
}

/// A task just leased.
#[derive(Debug, Clone)]
pub struct LeasedTask {
    pub id: CallTaskId,
    pub subject: Subject,
    pub payload: Vec<u8>,
    pub fence: i64,
    /// Attempts started before this lease (an interrupted one included).
    pub attempts: i32,
    pub outcome: Option<CallOutcome>,
    pub lease_expires_at: DateTime<Utc>,
}

impl<'r> sqlx::FromRow<'r, PgRow> for LeasedTask {
    fn from_row(r: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row::id(r, "id")?,
            subject: subject(r)?,
            payload: r.try_get("payload")?,
            fence: r.try_get("fence")?,
            attempts: r.try_get("attempts")?,
            outcome: row::named_opt(r, "outcome")?,
            lease_expires_at: r.try_get("lease_expires_at")?,
        })
    }
}

impl LeasedTask {
    pub fn lease(&self) -> Lease {
        Lease {
            task_id: self.id,
            fence: self.fence,
        }
    }

    /// The outbox message the API wrote with the booking.
    pub fn call_task(&self) -> Result<CallTask> {
        CallTask::decode(self.payload.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("call task payload: {e}")))
    }

    /// The outcome of the last finished attempt, if any.
    pub fn last_outcome(&self) -> Option<CallOutcome> {
        self.outcome
    }
}

/// Leases up to `limit` due tasks for `owner`: pending tasks whose time has
/// come, and leased tasks whose lease ran out (their worker died or stalled).
/// `SKIP LOCKED` lets concurrent workers take disjoint sets without waiting on
/// each other.
#[tracing::instrument(skip(pool))]
pub async fn lease_due(
    pool: &PgPool,
    owner: &str,
    lease_for: Duration,
    limit: i64,
) -> Result<Vec<LeasedTask>> {
    Ok(sqlx::query_as(
        "WITH due AS (
             SELECT id FROM call_tasks
              WHERE (state = 'pending' AND due_at <= now())
                 OR (state = 'leased' AND lease_expires_at <= now())
              ORDER BY due_at
              LIMIT $3
              FOR UPDATE SKIP LOCKED
         )
         UPDATE call_tasks t
            SET state = 'leased', fence = t.fence + 1, lease_owner = $1,
                lease_expires_at = now() + make_interval(secs => $2), updated_at = now()
           FROM due
          WHERE t.id = due.id
      RETURNING t.id, t.booking_id, t.referral_id, t.help_now_id, t.payload, t.fence, t.attempts, t.outcome,
                t.lease_expires_at",
    )
    .bind(owner)
    .bind(seconds(lease_for))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How long until a task becomes leasable (a pending task's `due_at`, or the
/// expiry of a held lease), by the database's clock; zero when one is due
/// now, `None` when there is nothing to do.
#[tracing::instrument(skip(pool))]
pub async fn time_until_next_due(pool: &PgPool) -> Result<Option<Duration>> {
    let secs: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM min(CASE WHEN state = 'pending' THEN due_at
                                            ELSE lease_expires_at END) - now())::float8
           FROM call_tasks WHERE state IN ('pending', 'leased')",
    )
    .fetch_one(pool)
    .await?;
    Ok(secs.map(|s| Duration::milliseconds((s.max(0.0) * 1000.0) as i64)))
}

/// What renewing a lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    /// Still ours, extended.
    Held,
    /// Still ours, but the booking was cancelled meanwhile: hang up.
    Cancelled,
    /// Another worker holds the task now (or it is gone): stop writing.
    Lost,
}

/// Extends the lease while a call is up.
#[tracing::instrument(skip(pool))]
pub async fn renew(pool: &PgPool, lease: Lease, lease_for: Duration) -> Result<LeaseStatus> {
    let state: Option<String> = sqlx::query_scalar(
        "UPDATE call_tasks
            SET lease_expires_at = CASE WHEN state = 'leased'
                                        THEN now() + make_interval(secs => $3)
                                        ELSE lease_expires_at END
          WHERE id = $1 AND fence = $2
      RETURNING state",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(seconds(lease_for))
    .fetch_optional(pool)
    .await?;
    let state = state.map(TaskState::try_from).transpose()?;
    Ok(match state {
        Some(TaskState::Leased) => LeaseStatus::Held,
        Some(TaskState::Cancelled) => LeaseStatus::Cancelled,
        _ => LeaseStatus::Lost,
    })
}

/// Who to dial, sealed: the first party (a booking's expert, or the operator
/// calling back a referral) and the seeker. The numbers are opened only by
/// the worker, at dial time.
#[derive(Clone, sqlx::FromRow)]
pub struct DialTarget {
    /// The booking is still confirmed, or the referral still open: a call is
    /// still wanted.
    pub wanted: bool,
    /// The first party may be dialled: a booking's expert is approved (a
    /// suspended one never is), or the call is an operator's callback.
    pub first_party_allowed: bool,
    /// The booking's (or help-now request's) expert when this was read;
    /// `begin_attempt` dials only if it still has them.
    pub expert_id: Option<Uuid>,
    /// A help-now request whose expert already answered (the seeker was
    /// being called or they talked): a retry rings the same expert again.
    /// Otherwise an unfinished ring rolls over to the next expert.
    pub first_party_answered: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    expert_phone_ciphertext: Vec<u8>,
    expert_phone_key_id: String,
    seeker_phone_ciphertext: Option<Vec<u8>>,
    seeker_phone_key_id: Option<String>,
}

// Ciphertext is harmless, but it is noise in logs.
impl std::fmt::Debug for DialTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialTarget")
            .field("wanted", &self.wanted)
            .field("starts_at", &self.starts_at)
            .field("ends_at", &self.ends_at)
            .finish_non_exhaustive()
    }
}

impl DialTarget {
    pub fn expert_phone(&self) -> Sealed {
        Sealed {
            key_id: self.expert_phone_key_id.clone(),
            bytes: self.expert_phone_ciphertext.clone(),
        }
    }

    /// `None` once the number was erased after the retention period.
    pub fn seeker_phone(&self) -> Option<Sealed> {
        match (&self.seeker_phone_ciphertext, &self.seeker_phone_key_id) {
            (Some(bytes), Some(key_id)) => Some(Sealed {
                key_id: key_id.clone(),
                bytes: bytes.clone(),
            }),
            _ => None,
        }
    }
}

/// How long an operator's callback may take, from when it is due: its
/// attempts and retries fit in this window, as a booking's fit in its slot.
pub const CALLBACK_WINDOW: Duration = Duration::minutes(20);

/// The call's parties and window. A callback's window is
/// [`CALLBACK_WINDOW`] from its due time; its first party is the operator.
/// A help-now call's window is `help_now::CALL_WINDOW` from when its task
/// was queued; its first party is the expert dispatch chose.
#[tracing::instrument(skip(pool))]
pub async fn dial_target(pool: &PgPool, task: CallTaskId, subject: Subject) -> Result<DialTarget> {
    let query = match subject {
        Subject::Booking(_) => {
            "SELECT b.status = 'confirmed' AS wanted, e.status = 'approved' AS first_party_allowed,
                    b.expert_id, false AS first_party_answered, b.starts_at, b.ends_at,
                    e.phone_ciphertext AS expert_phone_ciphertext,
                    e.phone_key_id AS expert_phone_key_id,
                    b.phone_ciphertext AS seeker_phone_ciphertext,
                    b.phone_key_id AS seeker_phone_key_id
               FROM call_tasks t JOIN bookings b ON b.id = t.booking_id
               JOIN experts e ON e.id = b.expert_id
              WHERE t.id = $1"
        }
        Subject::Referral(_) => {
            "SELECT r.status = 'open' AS wanted, true AS first_party_allowed,
                    NULL::uuid AS expert_id, false AS first_party_answered, t.due_at AS starts_at,
                    t.due_at + make_interval(secs => $2) AS ends_at,
                    COALESCE(t.operator_phone_ciphertext, '') AS expert_phone_ciphertext,
                    COALESCE(t.operator_phone_key_id, '') AS expert_phone_key_id,
                    r.phone_ciphertext AS seeker_phone_ciphertext,
                    r.phone_key_id AS seeker_phone_key_id
               FROM call_tasks t JOIN referrals r ON r.id = t.referral_id
              WHERE t.id = $1"
        }
        Subject::HelpNow(_) => {
            "SELECT h.status IN ('ringing_expert', 'calling_seeker', 'connected') AS wanted,
                    e.status = 'approved' AS first_party_allowed, h.expert_id,
                    h.status IN ('calling_seeker', 'connected') AS first_party_answered,
                    t.created_at AS starts_at, t.created_at + make_interval(secs => $3) AS ends_at,
                    e.phone_ciphertext AS expert_phone_ciphertext,
                    e.phone_key_id AS expert_phone_key_id,
                    h.phone_ciphertext AS seeker_phone_ciphertext,
                    h.phone_key_id AS seeker_phone_key_id
               FROM call_tasks t JOIN help_now_requests h ON h.id = t.help_now_id
               JOIN experts e ON e.id = h.expert_id
              WHERE t.id = $1"
        }
    };
    Ok(sqlx::query_as(query)
        .bind(task.0)
        .bind(seconds(CALLBACK_WINDOW))
        .bind(seconds(anxin_domain::help_now::CALL_WINDOW))
        .fetch_one(pool)
        .await?)
}

/// A callback just queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    Queued(CallTaskId),
    /// The referral is resolved (or gone): nobody is to be called.
    NotOpen,
    /// A callback on this referral is already waiting or ringing.
    AlreadyCalling,
}

/// Queues an operator's callback on an open referral, due now, and wakes
/// the call worker; in the caller's transaction, so the audit record and the
/// task land together.
#[tracing::instrument(skip(conn, operator_phone))]
pub async fn queue_callback(
    conn: &mut sqlx::PgConnection,
    referral: Uuid,
    operator_phone: &Sealed,
) -> Result<Queued> {
    let open: Option<bool> =
        sqlx::query_scalar("SELECT status = 'open' FROM referrals WHERE id = $1 FOR UPDATE")
            .bind(referral)
            .fetch_optional(&mut *conn)
            .await?;
    if open != Some(true) {
        return Ok(Queued::NotOpen);
    }
    let id = CallTaskId::new();
    let payload = CallTask {
        referral_id: referral.to_string(),
        ..CallTask::default()
    };
    let inserted = sqlx::query(
        "INSERT INTO call_tasks (id, referral_id, payload, due_at, operator_phone_ciphertext,
                                 operator_phone_key_id)
         VALUES ($1, $2, $3, now(), $4, $5)
         ON CONFLICT (referral_id) WHERE referral_id IS NOT NULL AND state IN ('pending', 'leased')
         DO NOTHING",
    )
    .bind(id.0)
    .bind(referral)
    .bind(payload.encode_to_vec())
    .bind(&operator_phone.bytes)
    .bind(&operator_phone.key_id)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Queued::AlreadyCalling);
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(crate::bookings::CALL_TASKS_CHANNEL)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(Queued::Queued(id))
}

/// Closes attempts a previous lease holder started and never finished (it
/// died or stalled), so the record shows the interruption before the next
/// attempt. Returns the attempt numbers closed.
#[tracing::instrument(skip(pool))]
pub async fn close_interrupted_attempts(
    pool: &PgPool,
    lease: Lease,
    reason: &str,
) -> Result<Vec<i32>> {
    Ok(sqlx::query_scalar(
        "WITH t AS (SELECT id FROM call_tasks WHERE id = $1 AND fence = $2 FOR UPDATE)
         UPDATE call_attempts a
            SET ended_at = now(), outcome = 'failed', reason = $3
           FROM t
          WHERE a.task_id = t.id AND a.ended_at IS NULL AND a.fence < $2
      RETURNING a.attempt",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(reason)
    .fetch_all(pool)
    .await?)
}

/// Starts attempt number `attempt`: counts it on the task, shows the call as
/// dialing the expert, and inserts the attempt row. `false` when the lease
/// was lost (nothing written).
#[tracing::instrument(skip(pool))]
pub async fn begin_attempt(
    pool: &PgPool,
    lease: Lease,
    attempt: i32,
    simulated: bool,
    expert: Option<Uuid>,
) -> Result<bool> {
    // The last look before dialling, in the statement that records the
    // attempt: a booking's expert must still be its expert, and approved.
    // Suspension moves the booking first, so a suspended expert's number,
    // read a moment ago, is never dialled.
    let inserted: Option<i64> = sqlx::query_scalar(
        "WITH t AS (
             UPDATE call_tasks
                SET attempts = $3, call_state = $5, outcome = NULL, updated_at = now()
              WHERE id = $1 AND fence = $2 AND state = 'leased'
                AND (booking_id IS NULL
                     OR EXISTS (SELECT 1 FROM bookings b JOIN experts e ON e.id = b.expert_id
                                 WHERE b.id = call_tasks.booking_id AND b.expert_id = $6
                                   AND e.status = 'approved'))
                AND (help_now_id IS NULL
                     OR EXISTS (SELECT 1 FROM help_now_requests h JOIN experts e ON e.id = h.expert_id
                                 WHERE h.id = call_tasks.help_now_id AND h.expert_id = $6
                                   AND e.status = 'approved'
                                   AND h.status IN ('ringing_expert', 'calling_seeker', 'connected')))
          RETURNING id
         )
         INSERT INTO call_attempts (task_id, attempt, fence, simulated)
         SELECT id, $3, $2, $4 FROM t
         RETURNING id",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(attempt)
    .bind(simulated)
    .bind(CallState::DialingExpert.as_str())
    .bind(expert)
    .fetch_optional(pool)
    .await?;
    Ok(inserted.is_some())
}

/// Shows where the call stands (`GET /v1/bookings/{id}` reads it).
#[tracing::instrument(skip(pool))]
pub async fn set_call_state(pool: &PgPool, lease: Lease, state: CallState) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE call_tasks SET call_state = $3, updated_at = now()
          WHERE id = $1 AND fence = $2 AND state = 'leased'",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(state.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[tracing::instrument(skip(pool))]
pub async fn record_expert_answered(
    pool: &PgPool,
    lease: Lease,
    attempt: i32,
    at: DateTime<Utc>,
    sip_status: Option<i32>,
) -> Result<bool> {
    let done = sqlx::query(
        "WITH t AS (SELECT id FROM call_tasks WHERE id = $1 AND fence = $2 FOR UPDATE)
         UPDATE call_attempts a SET expert_answered_at = $4, expert_sip_status = $5
           FROM t WHERE a.task_id = t.id AND a.attempt = $3",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(attempt)
    .bind(at)
    .bind(sip_status)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Both legs are up: the attempt row gets its bridge time and the task shows
/// `bridged`, in one statement.
#[tracing::instrument(skip(pool))]
pub async fn record_bridged(
    pool: &PgPool,
    lease: Lease,
    attempt: i32,
    at: DateTime<Utc>,
    seeker_sip_status: Option<i32>,
) -> Result<bool> {
    let done = sqlx::query(
        "WITH t AS (
             UPDATE call_tasks SET call_state = $6, updated_at = now()
              WHERE id = $1 AND fence = $2 AND state = 'leased'
          RETURNING id
         )
         UPDATE call_attempts a SET bridged_at = $4, seeker_sip_status = $5
           FROM t WHERE a.task_id = t.id AND a.attempt = $3",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(attempt)
    .bind(at)
    .bind(seeker_sip_status)
    .bind(CallState::Bridged.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How an attempt ended, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptEnd {
    pub attempt: i32,
    pub outcome: CallOutcome,
    pub ended_at: DateTime<Utc>,
    pub expert_answered_at: Option<DateTime<Utc>>,
    pub bridged_at: Option<DateTime<Utc>>,
    pub expert_sip_status: Option<i32>,
    pub seeker_sip_status: Option<i32>,
    pub talk_seconds: i32,
    /// Why it failed, in words safe to show an operator (never a number).
    pub reason: Option<String>,
}

/// What happens to the task after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Dial again at this instant.
    RetryAt(DateTime<Utc>),
    /// The call is over; the task is done.
    Finished,
}

/// Records the end of an attempt and moves the task on, in one transaction:
/// back to `pending` for a retry, or `done`; a completed call also completes
/// the booking. `false` when the lease was lost (nothing written). A booking
/// cancelled during the call keeps its task `cancelled`; the attempt is still
/// recorded.
#[tracing::instrument(skip(pool))]
pub async fn conclude_attempt(
    pool: &PgPool,
    lease: Lease,
    end: &AttemptEnd,
    next: NextStep,
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let task: Option<(Option<Uuid>, Option<Uuid>, String)> = sqlx::query_as(
        "SELECT booking_id, help_now_id, state FROM call_tasks
          WHERE id = $1 AND fence = $2 FOR UPDATE",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((booking_id, help_now_id, state)) = task else {
        return Ok(false);
    };
    let state = TaskState::try_from(state)?;
    sqlx::query(
        "UPDATE call_attempts
            SET ended_at = $3, outcome = $4,
                expert_answered_at = COALESCE(expert_answered_at, $5),
                bridged_at = COALESCE(bridged_at, $6),
                expert_sip_status = COALESCE($7, expert_sip_status),
                seeker_sip_status = COALESCE($8, seeker_sip_status),
                talk_seconds = $9, reason = $10
          WHERE task_id = $1 AND attempt = $2",
    )
    .bind(lease.task_id.0)
    .bind(end.attempt)
    .bind(end.ended_at)
    .bind(end.outcome.as_str())
    .bind(end.expert_answered_at)
    .bind(end.bridged_at)
    .bind(end.expert_sip_status)
    .bind(end.seeker_sip_status)
    .bind(end.talk_seconds)
    .bind(&end.reason)
    .execute(&mut *tx)
    .await?;
    if state == TaskState::Leased {
        move_on(&mut tx, lease, end.outcome, next).await?;
        if let (Some(booking_id), CallOutcome::Completed) = (booking_id, end.outcome) {
            sqlx::query(
                "UPDATE bookings SET status = 'completed' WHERE id = $1 AND status = 'confirmed'",
            )
            .bind(booking_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(request) = help_now_id {
            let answered = end.expert_answered_at.is_some();
            let finished = next == NextStep::Finished;
            crate::help_now::after_attempt(&mut tx, request, end.outcome, answered, finished)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Ends a help-now call's task whose expert never answered (the ring was
/// interrupted, or the expert may no longer be dialled) and puts the request
/// back in the queue for the next free expert, in one transaction. `false`
/// when the lease was lost.
#[tracing::instrument(skip(pool))]
pub async fn roll_over(pool: &PgPool, lease: Lease, request: Uuid) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE call_tasks
            SET state = 'done', call_state = $3, outcome = COALESCE(outcome, 'failed'),
                lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
          WHERE id = $1 AND fence = $2 AND state = 'leased'",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(CallState::Ended.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::help_now::requeue(&mut tx, request).await?;
    tx.commit().await?;
    Ok(true)
}

async fn move_on(
    conn: &mut sqlx::PgConnection,
    lease: Lease,
    outcome: CallOutcome,
    next: NextStep,
) -> Result<()> {
    match next {
        NextStep::RetryAt(at) => {
            sqlx::query(
                "UPDATE call_tasks
                    SET state = 'pending', call_state = $3, outcome = $4, due_at = $5,
                        lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                  WHERE id = $1 AND fence = $2",
            )
            .bind(lease.task_id.0)
            .bind(lease.fence)
            .bind(CallState::RetryWaiting.as_str())
            .bind(outcome.as_str())
            .bind(at)
            .execute(conn)
            .await?;
        }
        NextStep::Finished => {
            sqlx::query(
                "UPDATE call_tasks
                    SET state = 'done', call_state = $3, outcome = $4,
                        lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                        operator_phone_ciphertext = NULL, operator_phone_key_id = NULL
                  WHERE id = $1 AND fence = $2",
            )
            .bind(lease.task_id.0)
            .bind(lease.fence)
            .bind(CallState::Ended.as_str())
            .bind(outcome.as_str())
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Ends a task without dialing (the slot is over, the attempts are used up,
/// the booking is no longer confirmed or the referral resolved, the number is
/// gone). A finished task forgets the operator's number it dialed. `outcome` is kept
/// as the task's outcome; `None` keeps the last attempt's.
#[tracing::instrument(skip(pool))]
pub async fn finish_without_dialing(
    pool: &PgPool,
    lease: Lease,
    outcome: Option<CallOutcome>,
) -> Result<bool> {
    // A help-now request whose call ends this way (its attempts used up,
    // its window over) is over too.
    let done = sqlx::query(
        "WITH t AS (
             UPDATE call_tasks
                SET state = 'done', call_state = $3, outcome = COALESCE($4, outcome),
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                    operator_phone_ciphertext = NULL, operator_phone_key_id = NULL
              WHERE id = $1 AND fence = $2 AND state = 'leased'
          RETURNING help_now_id
         ), h AS (
             UPDATE help_now_requests SET status = 'completed', ended_at = now()
               FROM t WHERE help_now_requests.id = t.help_now_id
                AND help_now_requests.status IN ('ringing_expert', 'calling_seeker', 'connected')
         )
         SELECT 1 FROM t",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(CallState::Ended.as_str())
    .bind(outcome.map(CallOutcome::as_str))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a leased task back, due again after `after`, without recording an
/// attempt: its first party may not be dialled now (a suspended expert whose
/// booking is being handed to someone else).
#[tracing::instrument(skip(pool))]
pub async fn put_back(pool: &PgPool, lease: Lease, after: Duration) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE call_tasks
            SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL,
                due_at = now() + make_interval(secs => $3), updated_at = now()
          WHERE id = $1 AND fence = $2 AND state = 'leased'",
    )
    .bind(lease.task_id.0)
    .bind(lease.fence)
    .bind(seconds(after))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Erases the seeker's number (and their note, `ref` and any cancellation
/// reason) from bookings whose call ended (or which were cancelled) more
/// than `retention` ago, and from referrals resolved that
/// long ago. The booking keeps its masked form and
/// its outcome. A finished task is never written again, so its `updated_at`
/// is when the call ended.
#[tracing::instrument(skip(pool))]
pub async fn erase_seeker_phones(pool: &PgPool, retention: Duration) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE bookings b SET phone_ciphertext = NULL, phone_key_id = NULL,
                               seeker_ref_ciphertext = NULL, seeker_ref_key_id = NULL,
                               note_ciphertext = NULL, note_key_id = NULL,
                               cancel_reason_ciphertext = NULL, cancel_reason_key_id = NULL
           FROM call_tasks t
          WHERE t.booking_id = b.id AND b.phone_ciphertext IS NOT NULL
            AND t.state IN ('done', 'cancelled')
            AND t.updated_at <= now() - make_interval(secs => $1)",
    )
    .bind(seconds(retention))
    .execute(pool)
    .await?;
    // A referral keeps its own copy until it is resolved; the retention
    // clock starts then.
    let referrals = sqlx::query(
        "UPDATE referrals SET phone_ciphertext = NULL, phone_key_id = NULL
          WHERE phone_ciphertext IS NOT NULL AND status = 'resolved'
            AND resolved_at <= now() - make_interval(secs => $1)",
    )
    .bind(seconds(retention))
    .execute(pool)
    .await?;
    // A help-now request's number and note, once it ended that long ago.
    let help_now = sqlx::query(
        "UPDATE help_now_requests
            SET phone_ciphertext = NULL, phone_key_id = NULL,
                note_ciphertext = NULL, note_key_id = NULL
          WHERE phone_ciphertext IS NOT NULL
            AND status IN ('completed', 'cancelled', 'timed_out')
            AND ended_at <= now() - make_interval(secs => $1)",
    )
    .bind(seconds(retention))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() + referrals.rows_affected() + help_now.rows_affected())
}

/// A task as stored, for operators and tests.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: CallTaskId,
    pub subject: Subject,
    pub state: TaskState,
    pub call_state: CallState,
    pub outcome: Option<CallOutcome>,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    pub fence: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl<'r> sqlx::FromRow<'r, PgRow> for TaskRow {
    fn from_row(r: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row::id(r, "id")?,
            subject: subject(r)?,
            state: row::named(r, "state")?,
            call_state: row::named(r, "call_state")?,
            outcome: row::named_opt(r, "outcome")?,
            due_at: r.try_get("due_at")?,
            attempts: r.try_get("attempts")?,
            fence: r.try_get("fence")?,
            lease_owner: r.try_get("lease_owner")?,
            lease_expires_at: r.try_get("lease_expires_at")?,
        })
    }
}

#[tracing::instrument(skip(pool))]
pub async fn by_booking(pool: &PgPool, booking: BookingId) -> Result<TaskRow> {
    Ok(sqlx::query_as(
        "SELECT id, booking_id, referral_id, help_now_id, state, call_state, outcome, due_at, attempts, fence,
                lease_owner, lease_expires_at
           FROM call_tasks WHERE booking_id = $1",
    )
    .bind(booking.0)
    .fetch_one(pool)
    .await?)
}

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt: i32,
    pub fence: i64,
    pub started_at: DateTime<Utc>,
    pub expert_answered_at: Option<DateTime<Utc>>,
    pub bridged_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<CallOutcome>,
    pub expert_sip_status: Option<i32>,
    pub seeker_sip_status: Option<i32>,
    pub talk_seconds: Option<i32>,
    pub reason: Option<String>,
    pub simulated: bool,
}

impl<'r> sqlx::FromRow<'r, PgRow> for AttemptRow {
    fn from_row(r: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            attempt: r.try_get("attempt")?,
            fence: r.try_get("fence")?,
            started_at: r.try_get("started_at")?,
            expert_answered_at: r.try_get("expert_answered_at")?,
            bridged_at: r.try_get("bridged_at")?,
            ended_at: r.try_get("ended_at")?,
            outcome: row::named_opt(r, "outcome")?,
            expert_sip_status: r.try_get("expert_sip_status")?,
            seeker_sip_status: r.try_get("seeker_sip_status")?,
            talk_seconds: r.try_get("talk_seconds")?,
            reason: r.try_get("reason")?,
            simulated: r.try_get("simulated")?,
        })
    }
}

#[tracing::instrument(skip(pool))]
pub async fn attempts(pool: &PgPool, task: CallTaskId) -> Result<Vec<AttemptRow>> {
    Ok(sqlx::query_as(
        "SELECT attempt, fence, started_at, expert_answered_at, bridged_at, ended_at, outcome,
                expert_sip_status, seeker_sip_status, talk_seconds, reason, simulated
           FROM call_attempts WHERE task_id = $1 ORDER BY attempt",
    )
    .bind(task.0)
    .fetch_all(pool)
    .await?)
}
