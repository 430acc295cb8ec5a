//! The call worker (`anxin worker`): turns due call tasks into two-way calls:
//! a booking's (its expert, then its seeker), an operator's callback on a
//! referral (the operator, then the seeker) and a help-now request's (an
//! on-duty expert, then the seeker), through one path.
//!
//! Help now: each turn of the loop also dispatches the help-now queue
//! (`anxin_store::help_now::dispatch`): the first waiting seekers get a free
//! on-duty expert each, whose call task is then leased like any other. The
//! expert rings for at most `help_now.ring`; a ring that is not answered
//! (or busy, declined, failed, interrupted by a crash) ends the task and
//! puts the request back at its place in the queue, and the next dispatch
//! rings another expert, never one rung for it before. Only once an expert
//! answers is the seeker dialled; a failure on the seeker's leg is retried
//! with the same expert, as for bookings.
//!
//! The loop leases due tasks from Postgres (`FOR UPDATE SKIP LOCKED`, so any
//! number of workers share the queue without dialing a task twice), wakes at
//! once on `NOTIFY anxin_call_tasks` (sent when a booking due soon is confirmed) and
//! otherwise at the next due time or a slow poll, and runs each task's call
//! in its own Tokio task.
//!
//! A task's call is supervised under its lease: the lease is renewed while
//! the call is up, and every write names the lease's fence, so a worker that
//! lost its lease can't write. A worker that cannot renew hangs up *before*
//! the lease can run out, so when another worker takes the task over the old
//! call is already gone: a crash or a partition never makes two live dials for
//! one booking. The new holder records the interrupted attempt as failed
//! ("worker lost lease") before dialing again.
//!
//! Phone numbers are opened (decrypted) only here, right before dialing, and
//! handed to the provider; they are never logged unmasked and never stored
//! in the clear. After the call, a sweep erases seekers' numbers once the
//! retention period has passed.
use crate::events::{call_event, EventStream};
use crate::provider::{
    CallHandle, CallProgress, CallProvider, CallReport, CallRequest, HangupReason,
};
use anxin_domain::call::{CallOutcome, CallState, RetryPolicy};
use anxin_domain::ids::BookingId;
use anxin_reserve::RedisConnection;
use anxin_store::call_tasks::{
    self, AttemptEnd, Lease, LeaseStatus, LeasedTask, NextStep, Subject,
};
use anxin_store::crypto::PhoneCipher;
use anxin_store::StoreError;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};
use tracing::{debug, error, info, warn, Instrument};

/// The channel `bookings::confirm` notifies on.
pub const CHANNEL: &str = anxin_store::bookings::CALL_TASKS_CHANNEL;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker in `call_tasks.lease_owner`.
    pub worker_id: String,
    /// How long a lease lasts without renewal. A crashed worker's call is
    /// resumed by another worker after at most this long.
    pub lease: Duration,
    /// The slow poll, a safety net behind LISTEN/NOTIFY.
    pub poll_interval: Duration,
    pub max_concurrent_calls: usize,
    pub retry: RetryPolicy,
    /// How long after a call the seeker's number is kept (then erased).
    pub phone_retention: Duration,
    /// How often to look for numbers to erase.
    pub erase_interval: Duration,
    pub events: EventStream,
    /// Told each attempt's outcome once its end is recorded: the metrics
    /// counter of the process this worker runs in (`anxin_call_outcomes_total`).
    pub on_attempt_end: Option<OutcomeHook>,
    pub help_now: HelpNowConfig,
}

/// Help now's rollover and give-up times.
#[derive(Debug, Clone, Copy)]
pub struct HelpNowConfig {
    /// An expert's phone rings this long before the next is tried
    /// (`ANXIN_HELP_NOW_RING_SECONDS`).
    pub ring: Duration,
    /// A request nobody could take this long ends `timed_out`
    /// (`ANXIN_HELP_NOW_MAX_WAIT_MINUTES`).
    pub max_wait: Duration,
}

impl Default for HelpNowConfig {
    fn default() -> Self {
        Self {
            ring: Duration::from_secs(20),
            max_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// While seekers wait for help now, the loop looks for free experts at
/// least this often (an expert's call ending frees them without a notice).
const HELP_NOW_LOOK: Duration = Duration::from_secs(1);

/// Something to tell of each recorded attempt's outcome.
#[derive(Clone)]
pub struct OutcomeHook(pub Arc<dyn Fn(CallOutcome) + Send + Sync>);

impl std::fmt::Debug for OutcomeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutcomeHook")
    }
}

impl WorkerConfig {
    /// Production-minded defaults: 30 s leases, a 15 s poll, 64 calls at
    /// once, the domain's default retry policy, numbers kept 7 days.
    pub fn new(events_key: impl Into<String>) -> Self {
        Self {
            worker_id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(15),
            max_concurrent_calls: 64,
            retry: RetryPolicy::default(),
            phone_retention: Duration::from_secs(7 * 24 * 3600),
            erase_interval: Duration::from_secs(60),
            events: EventStream {
                key: events_key.into(),
                max_len: 100_000,
            },
            on_attempt_end: None,
            help_now: HelpNowConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker configuration: {0}")]
    Config(&'static str),
}

#[derive(Debug, thiserror::Error)]
enum TaskError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("phone number: {0}")]
    Crypto(#[from] anxin_store::crypto::CryptoError),
}

struct Ctx {
    cfg: WorkerConfig,
    pool: PgPool,
    redis: RedisConnection,
    cipher: PhoneCipher,
    provider: Arc<dyn CallProvider>,
}

/// Runs the worker until `shutdown` resolves, then stops leasing and lets
/// the calls in progress finish (they keep renewing their leases). Dropping
/// the returned future instead hangs up every call at once; their tasks are
/// then resumed by another worker after their leases.
pub async fn run(
    cfg: WorkerConfig,
    pool: PgPool,
    redis: RedisConnection,
    cipher: PhoneCipher,
    provider: Arc<dyn CallProvider>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    if cfg.lease < Duration::from_millis(300) {
        return Err(WorkerError::Config("lease must be at least 300 ms"));
    }
    if cfg.max_concurrent_calls == 0 {
        return Err(WorkerError::Config(
            "max_concurrent_calls must be at least 1",
        ));
    }
    if cfg.poll_interval.is_zero() || cfg.erase_interval.is_zero() {
        return Err(WorkerError::Config("intervals must be longer than zero"));
    }
    // A confirmation notifies only calls due within NOTIFY_WITHIN; a longer
    // poll could find the others too late.
    if cfg.poll_interval > anxin_store::bookings::NOTIFY_WITHIN {
        return Err(WorkerError::Config(
            "poll_interval must not exceed the confirmation's notify window (60 s)",
        ));
    }
    info!(worker = %cfg.worker_id, simulated = provider.is_simulated(), "call worker starts");
    let ctx = Arc::new(Ctx {
        cfg,
        pool,
        redis,
        cipher,
        provider,
    });
    let wake = Arc::new(Notify::new());
    // Its own task, so a slow or reconnecting listener never holds up the
    // loop; aborted with the guard when `run` ends or is dropped.
    let listener = AbortOnDrop(tokio::spawn(listen(ctx.pool.clone(), wake.clone())));
    let mut calls: JoinSet<()> = JoinSet::new();
    let mut last_erase: Option<Instant> = None;
    tokio::pin!(shutdown);

    loop {
        while let Some(done) = calls.try_join_next() {
            if let Err(e) = done {
                error!(error = %e, "call task panicked; its lease will expire and it resumes");
            }
        }
        if last_erase.is_none_or_elapsed(ctx.cfg.erase_interval) {
            last_erase = Some(Instant::now());
            erase_numbers(&ctx).await;
        }
        let waiting = dispatch_help_now(&ctx).await;
        let free = ctx.cfg.max_concurrent_calls.saturating_sub(calls.len());
        if free > 0 {
            lease_and_start(&ctx, free, &mut calls).await;
        }
        let mut nap = next_nap(&ctx, calls.len() < ctx.cfg.max_concurrent_calls).await;
        if waiting {
            nap = nap.min(HELP_NOW_LOOK);
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = wake.notified() => debug!("woken by a new call task"),
            _ = tokio::time::sleep(nap) => {}
            Some(_) = calls.join_next(), if !calls.is_empty() => {}
        }
    }

    drop(listener);
    info!(
        calls = calls.len(),
        "call worker stopping; letting calls in progress finish"
    );
    while calls.join_next().await.is_some() {}
    Ok(())
}

/// Gives waiting help-now requests free experts to ring; `true` while some
/// still wait.
async fn dispatch_help_now(ctx: &Ctx) -> bool {
    let max_wait =
        chrono::Duration::from_std(ctx.cfg.help_now.max_wait).unwrap_or(chrono::Duration::MAX);
    match anxin_store::help_now::dispatch(&ctx.pool, max_wait).await {
        Ok(done) => {
            if done.rung > 0 || done.timed_out > 0 {
                info!(
                    rung = done.rung,
                    waiting = done.waiting,
                    timed_out = done.timed_out,
                    "help-now dispatch"
                );
            }
            done.waiting > 0
        }
        Err(e) => {
            warn!(error = %e, "help-now dispatch failed; trying again shortly");
            true
        }
    }
}

trait Elapsed {
    fn is_none_or_elapsed(&self, every: Duration) -> bool;
}

impl Elapsed for Option<Instant> {
    fn is_none_or_elapsed(&self, every: Duration) -> bool {
        match self {
            Some(at) => at.elapsed() >= every,
            None => true,
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Forwards notifications to the loop; reconnects forever.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    // Anything announced while we were not listening.
                    wake.notify_one();
                    loop {
                        match listener.recv().await {
                            Ok(_) => wake.notify_one(),
                            Err(e) => {
                                warn!(error = %e, "LISTEN connection lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(e) => warn!(error = %e, "LISTEN failed"),
            },
            Err(e) => warn!(error = %e, "cannot connect to LISTEN for call tasks"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How long to sleep when nothing wakes the loop: until the next task is
/// due, at most the poll interval. With no room for calls, only a finished
/// call (or the poll) matters.
async fn next_nap(ctx: &Ctx, room: bool) -> Duration {
    let poll = ctx.cfg.poll_interval;
    if !room {
        return poll;
    }
    match call_tasks::time_until_next_due(&ctx.pool).await {
        // A due task we could not lease is locked by another worker for a
        // moment: look again shortly rather than spin.
        Ok(Some(d)) => d
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(100), poll),
        Ok(None) => poll,
        Err(e) => {
            warn!(error = %e, "cannot read the next due time");
            poll.min(Duration::from_secs(1))
        }
    }
}

async fn lease_and_start(ctx: &Arc<Ctx>, free: usize, calls: &mut JoinSet<()>) {
    let lease_for = chrono::Duration::from_std(ctx.cfg.lease).unwrap_or(chrono::Duration::MAX);
    let limit = i64::try_from(free).unwrap_or(i64::MAX);
    // The leases run from no earlier than this: the clock against which a
    // worker that cannot renew hangs up in time.
    let asked = Instant::now();
    let leased = match call_tasks::lease_due(&ctx.pool, &ctx.cfg.worker_id, lease_for, limit).await
    {
        Ok(leased) => leased,
        Err(e) => {
            warn!(error = %e, "cannot lease call tasks");
            return;
        }
    };
    for task in leased {
        let span = tracing::info_span!(
            "call_task",
            subject = %task.subject,
            fence = task.fence,
        );
        calls.spawn(run_task(ctx.clone(), task, asked).instrument(span));
    }
}

async fn erase_numbers(ctx: &Ctx) {
    let retention =
        chrono::Duration::from_std(ctx.cfg.phone_retention).unwrap_or(chrono::Duration::MAX);
    match call_tasks::erase_seeker_phones(&ctx.pool, retention).await {
        Ok(0) => {}
        Ok(n) => info!(
            bookings = n,
            "erased seekers' numbers after the retention period"
        ),
        Err(e) => warn!(error = %e, "cannot erase seekers' numbers"),
    }
}

async fn run_task(ctx: Arc<Ctx>, task: LeasedTask, leased_at: Instant) {
    if let Err(e) = work(&ctx, &task, leased_at).await {
        // The task stays leased; once the lease runs out, a worker (maybe
        // this one) takes it again.
        warn!(error = %e, "call task failed; it resumes after its lease");
    }
}

/// One lease of one task: record what a previous holder left unfinished,
/// decide whether to dial, dial, record.
async fn work(ctx: &Ctx, task: &LeasedTask, leased_at: Instant) -> Result<(), TaskError> {
    let lease = task.lease();
    // Call events (the dashboards' stream) are about bookings only.
    let booking = task.subject.booking();
    let pool = &ctx.pool;
    let simulated = ctx.provider.is_simulated();
    let mut redis = ctx.redis.clone();

    let interrupted =
        call_tasks::close_interrupted_attempts(pool, lease, HangupReason::LeaseLost.describe())
            .await?;
    for n in &interrupted {
        warn!(
            attempt = n,
            "previous attempt was interrupted: its worker lost the lease"
        );
        let attempt = u32::try_from(*n).unwrap_or(0);
        let ended = (CallState::Ended, Some(CallOutcome::Failed));
        announce(ctx, &mut redis, booking, attempt, ended, Utc::now(), 0).await;
    }
    let payload = task.call_task()?;
    let target = call_tasks::dial_target(pool, task.id, task.subject).await?;
    let last_outcome = if interrupted.is_empty() {
        task.last_outcome()
    } else {
        Some(CallOutcome::Failed)
    };

    // A help-now ring that was cut short (its worker died) or whose expert
    // may no longer be dialled goes to the next expert, not this one again.
    if let Some(request) = task.subject.help_now() {
        let cut_short = !interrupted.is_empty() && !target.first_party_answered;
        if target.wanted && (cut_short || !target.first_party_allowed) {
            info!("help-now ring not answered; the next free expert is rung");
            call_tasks::roll_over(pool, lease, request).await?;
            return Ok(());
        }
    }
    if !target.wanted {
        info!("booking no longer confirmed, or referral resolved; not dialing");
        call_tasks::finish_without_dialing(pool, lease, None).await?;
        return Ok(());
    }
    if !target.first_party_allowed {
        // Suspended: the suspension hands the booking to another expert (or
        // cancels it) in a moment; look again then, never dial this one.
        info!("the booking's expert is suspended; not dialing, looking again shortly");
        call_tasks::put_back(pool, lease, chrono::Duration::seconds(5)).await?;
        return Ok(());
    }
    let attempt = task.attempts + 1;
    let attempt_no = u32::try_from(attempt).unwrap_or(u32::MAX);
    if attempt_no > ctx.cfg.retry.max_attempts {
        info!(attempts = task.attempts, "no attempts left");
        call_tasks::finish_without_dialing(pool, lease, last_outcome.or(Some(CallOutcome::Failed)))
            .await?;
        return Ok(());
    }
    if Utc::now() >= target.ends_at {
        info!("slot is over; not dialing");
        call_tasks::finish_without_dialing(pool, lease, last_outcome.or(Some(CallOutcome::Failed)))
            .await?;
        return Ok(());
    }
    let Some(sealed_seeker) = target.seeker_phone() else {
        warn!("seeker's number is erased; cannot dial");
        call_tasks::finish_without_dialing(pool, lease, Some(CallOutcome::Failed)).await?;
        return Ok(());
    };

    // Dial only on a fresh lease: the checks above may have taken a while,
    // and the call must be supervised (and renewed) from the start.
    let mut leased_at = leased_at;
    if leased_at.elapsed() >= ctx.cfg.lease / 3 {
        let asked = Instant::now();
        let lease_for = chrono::Duration::from_std(ctx.cfg.lease).unwrap_or(chrono::Duration::MAX);
        if call_tasks::renew(pool, lease, lease_for).await? != LeaseStatus::Held {
            info!("lease lost (or booking cancelled) before dialing");
            return Ok(());
        }
        leased_at = asked;
    }
    // The numbers are opened here, at dial time, and go only to the provider.
    let expert = ctx.cipher.open(&target.expert_phone())?;
    let seeker = ctx.cipher.open(&sealed_seeker)?;
    if !call_tasks::begin_attempt(pool, lease, attempt, simulated, target.expert_id).await? {
        // Either the lease is gone (then this changes nothing), or the
        // booking's expert changed or was suspended since the numbers were
        // read: take the task up again at once with a fresh read.
        info!("lease lost, or the booking's expert changed, before dialing");
        call_tasks::put_back(pool, lease, chrono::Duration::zero()).await?;
        return Ok(());
    }
    let first_party = match task.subject {
        Subject::Booking(_) | Subject::HelpNow(_) => "expert",
        Subject::Referral(_) => "operator",
    };
    info!(
        attempt,
        seeker_alias = %payload.seeker_alias,
        first_party,
        first = %expert,
        seeker = %seeker,
        simulated,
        "placing call"
    );
    let dialing = (CallState::DialingExpert, None);
    announce(ctx, &mut redis, booking, attempt_no, dialing, Utc::now(), 0).await;
    let handle = ctx.provider.place_call(CallRequest {
        task: task.id,
        attempt: attempt_no,
        expert,
        seeker,
        hard_stop: ctx.cfg.retry.hard_stop(target.ends_at),
        first_ring: task.subject.help_now().map(|_| ctx.cfg.help_now.ring),
    });

    let Some(report) = supervise(ctx, lease, leased_at, booking, attempt, handle, &mut redis).await
    else {
        // Lease lost: whoever holds the task now records this attempt.
        warn!(
            attempt,
            "lease lost during the call; hung up without recording"
        );
        return Ok(());
    };
    conclude(
        ctx,
        lease,
        task.subject,
        attempt,
        target.ends_at,
        &report,
        &mut redis,
    )
    .await;
    Ok(())
}

/// Follows the call to its end: records each step, renews the lease, and
/// hangs up when the booking is cancelled or the lease can't be kept.
/// Returns `None` when the lease was lost (nothing more may be written).
async fn supervise(
    ctx: &Ctx,
    lease: Lease,
    leased_at: Instant,
    booking: Option<BookingId>,
    attempt: i32,
    mut handle: CallHandle,
    redis: &mut RedisConnection,
) -> Option<CallReport> {
    let simulated = ctx.provider.is_simulated();
    let lease_len = ctx.cfg.lease;
    let renew_every = lease_len / 3;
    // Hang up this long before the lease could run out, so the BYEs are out
    // before another worker may take the task and dial.
    let safety = lease_len / 6;
    // The lease was granted or extended no earlier than this.
    let mut held_since = leased_at;
    let mut renew = tokio::time::interval_at(leased_at + renew_every, renew_every);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lost = false;
    let attempt_no = u32::try_from(attempt).unwrap_or(u32::MAX);

    loop {
        tokio::select! {
            progress = handle.next() => {
                let Some(progress) = progress else {
                    return (!lost).then(|| CallReport::failed("call provider stopped without a report", simulated));
                };
                if let CallProgress::Ended(report) = progress {
                    return (!lost).then_some(report);
                }
                if lost {
                    continue;
                }
                match record_progress(ctx, lease, booking, attempt_no, &progress, redis, renew_every).await {
                    Ok(true) => {}
                    // Refused: the booking was cancelled (the task is ours,
                    // no longer leased) or another worker took the task.
                    // Only the second means nothing more may be written: a
                    // cancelled call is hung up and its attempt concluded,
                    // as when a renewal finds the cancellation first.
                    Ok(false) => {
                        let lease_for = chrono::Duration::from_std(lease_len).unwrap_or(chrono::Duration::MAX);
                        match timeout(renew_every / 2, call_tasks::renew(&ctx.pool, lease, lease_for)).await {
                            Ok(Ok(LeaseStatus::Cancelled)) => {
                                info!("booking cancelled; hanging up");
                                handle.hang_up(HangupReason::BookingCancelled);
                            }
                            Ok(Ok(LeaseStatus::Held)) => warn!("call progress refused; lease still held"),
                            _ => {
                                warn!("lease lost during the call; hanging up");
                                lost = true;
                                handle.hang_up(HangupReason::LeaseLost);
                            }
                        }
                    }
                    Err(e) => warn!(error = %e, "call progress not recorded"),
                }
            }
            _ = renew.tick(), if !lost => {
                let sent = Instant::now();
                let lease_for = chrono::Duration::from_std(lease_len).unwrap_or(chrono::Duration::MAX);
                match timeout(renew_every / 2, call_tasks::renew(&ctx.pool, lease, lease_for)).await {
                    Ok(Ok(LeaseStatus::Held)) => held_since = sent,
                    Ok(Ok(LeaseStatus::Cancelled)) => {
                        held_since = sent;
                        info!("booking cancelled; hanging up");
                        handle.hang_up(HangupReason::BookingCancelled);
                    }
                    Ok(Ok(LeaseStatus::Lost)) => {
                        warn!("lease taken over; hanging up");
                        lost = true;
                        handle.hang_up(HangupReason::LeaseLost);
                    }
                    Ok(Err(e)) => warn!(error = %e, "lease not renewed"),
                    Err(_) => warn!("lease renewal timed out"),
                }
            }
            // Renewals keep failing (database unreachable): stop while the
            // lease still holds. After it runs out another worker may dial.
            _ = tokio::time::sleep_until(held_since + lease_len - safety), if !lost => {
                warn!("cannot keep the lease; hanging up before it runs out");
                lost = true;
                handle.hang_up(HangupReason::LeaseLost);
            }
        }
    }
}

/// Records one step. `Ok(false)` means the lease is gone.
async fn record_progress(
    ctx: &Ctx,
    lease: Lease,
    booking: Option<BookingId>,
    attempt: u32,
    progress: &CallProgress,
    redis: &mut RedisConnection,
    limit: Duration,
) -> Result<bool, StoreError> {
    let pool = &ctx.pool;
    let attempt_i32 = i32::try_from(attempt).unwrap_or(i32::MAX);
    let (written, event) = match progress {
        // Recorded (and published) when the attempt began.
        CallProgress::DialingExpert { .. } | CallProgress::Ended(_) => return Ok(true),
        CallProgress::ExpertAnswered { at, sip_status } => {
            let write = call_tasks::record_expert_answered(
                pool,
                lease,
                attempt_i32,
                *at,
                sip_status.map(i32::from),
            );
            (bounded(limit, write).await?, None)
        }
        CallProgress::DialingSeeker { at } => {
            let write = call_tasks::set_call_state(pool, lease, CallState::DialingSeeker);
            (
                bounded(limit, write).await?,
                Some((CallState::DialingSeeker, *at)),
            )
        }
        CallProgress::Bridged {
            at,
            seeker_sip_status,
        } => {
            let write = call_tasks::record_bridged(
                pool,
                lease,
                attempt_i32,
                *at,
                seeker_sip_status.map(i32::from),
            );
            (
                bounded(limit, write).await?,
                Some((CallState::Bridged, *at)),
            )
        }
    };
    if let (true, Some((state, at))) = (written, event) {
        announce(ctx, redis, booking, attempt, (state, None), at, 0).await;
    }
    Ok(written)
}

/// Publishes a booking's call event; a callback has none.
async fn announce(
    ctx: &Ctx,
    redis: &mut RedisConnection,
    booking: Option<BookingId>,
    attempt: u32,
    (state, outcome): (CallState, Option<CallOutcome>),
    at: DateTime<Utc>,
    talk_seconds: u32,
) {
    let Some(booking) = booking else { return };
    let simulated = ctx.provider.is_simulated();
    let event = call_event(
        booking,
        attempt,
        state,
        outcome,
        at,
        simulated,
        talk_seconds,
    );
    ctx.cfg.events.publish(redis, &event).await;
}

/// A store call that must not hold up lease renewal for long.
async fn bounded<T>(
    limit: Duration,
    write: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    timeout(limit, write)
        .await
        .unwrap_or(Err(StoreError::Other(sqlx::Error::PoolTimedOut)))
}

/// Records the attempt's end and what happens next (retry or done).
async fn conclude(
    ctx: &Ctx,
    lease: Lease,
    subject: Subject,
    attempt: i32,
    slot_ends_at: DateTime<Utc>,
    report: &CallReport,
    redis: &mut RedisConnection,
) {
    let booking = subject.booking();
    let attempt_no = u32::try_from(attempt).unwrap_or(u32::MAX);
    // A help-now expert who did not answer is not rung again: the request
    // rolls over to the next free expert (`help_now::after_attempt`).
    let rolls_over = subject.help_now().is_some() && report.expert_answered_at.is_none();
    let next =
        match ctx
            .cfg
            .retry
            .next_attempt(attempt_no, report.outcome, report.ended_at, slot_ends_at)
        {
            Some(at) if !rolls_over => NextStep::RetryAt(at),
            _ => NextStep::Finished,
        };
    let end = AttemptEnd {
        attempt,
        outcome: report.outcome,
        ended_at: report.ended_at,
        expert_answered_at: report.expert_answered_at,
        bridged_at: report.bridged_at,
        expert_sip_status: report.expert_sip_status.map(i32::from),
        seeker_sip_status: report.seeker_sip_status.map(i32::from),
        talk_seconds: i32::try_from(report.talk_seconds).unwrap_or(i32::MAX),
        reason: report.reason.clone(),
    };
    // A lost write here would make the next lease holder redial a call that
    // already happened, so a passing database error is worth a few retries.
    // The write is fenced: retrying can never overwrite a newer holder.
    let mut tries = 0;
    loop {
        tries += 1;
        match call_tasks::conclude_attempt(&ctx.pool, lease, &end, next).await {
            Ok(true) => {
                if let Some(OutcomeHook(tell)) = &ctx.cfg.on_attempt_end {
                    tell(report.outcome);
                }
                break;
            }
            Ok(false) => {
                warn!(attempt, "lease lost before the attempt was recorded");
                return;
            }
            Err(e) if tries < 5 => {
                warn!(error = %e, attempt, "attempt not recorded yet; retrying");
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            Err(e) => {
                error!(error = %e, attempt, "attempt not recorded");
                return;
            }
        }
    }
    match next {
        NextStep::RetryAt(at) => info!(
            attempt,
            outcome = report.outcome.as_str(),
            retry_at = %at,
            "attempt ended; retrying"
        ),
        NextStep::Finished => info!(
            attempt,
            outcome = report.outcome.as_str(),
            talk_seconds = report.talk_seconds,
            "call finished"
        ),
    }
    let ended = (CallState::Ended, Some(report.outcome));
    let (at, talk) = (report.ended_at, report.talk_seconds);
    announce(ctx, redis, booking, attempt_no, ended, at, talk).await;
}
