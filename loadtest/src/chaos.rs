//! `chaos` mode: contended seeker traffic that keeps going while
//! `loadtest/chaos.sh` breaks what Anxin depends on, with every answer
//! written down so that `chaos-report` (`report`) can say what each fault
//! cost.
//!
//! Each of `--seekers` seekers loops over its path until `--stop-file`
//! appears (or `--seconds` pass): slate → hold → the token fee, when `--pay`
//! says the service has one → confirm → cancel, except for a share of the
//! bookings that it keeps (`--keep`; `--keep-running` for slots already
//! running, whose calls the worker dials at once). Consecutive requests go
//! to the `--base` instances in turn, so a hold placed on one instance is
//! confirmed on the other; a request no instance took the connection for
//! goes to the next one, as a load balancer would send it. A confirmation
//! that gets no answer or a 5xx is retried with the same `Idempotency-Key`,
//! as a client should; a hold left over is released.
//!
//! One seeker in `--help-now-every` asks for help now instead, pass after
//! pass: `POST /v1/help-now` (with an `Idempotency-Key`, retried like a
//! confirmation), then `GET /v1/help-now/{id}` every half second until the
//! request ends (connected and completed, or timed out); a fifth of them
//! leave the queue after a moment (`DELETE`), so the worker has rings to
//! cancel too. The on-duty volunteers are the demo data's.
//!
//! `responses.tsv` has one line per request: when it was sent and answered
//! (Unix ms), the instance, the step, the status (0: no answer — refused,
//! reset or timed out), the error code (or `no_experts` for an empty slate),
//! the booking it names, and when the seeker's pass began.
pub mod report;

use crate::{create_seekers, print_stats, seeker_tokens, token, Ctx};
use anxin_core::token::Role;
use futures_util::future::join_all;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(clap::Args)]
pub struct ChaosArgs {
    /// `chaos`: stop after this long even if the stop file never appears.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// `chaos`: stop once this file exists.
    #[arg(long)]
    pub stop_file: Option<std::path::PathBuf>,
    /// `chaos`: share of bookings kept (not cancelled) on slots not yet
    /// started.
    #[arg(long, default_value_t = 0.1)]
    pub keep: f64,
    /// `chaos`: share of bookings kept on slots already running (their
    /// calls are dialed at once).
    #[arg(long, default_value_t = 0.5)]
    pub keep_running: f64,
    /// `chaos`: pay the token fee between hold and confirmation, through
    /// api.md's payment routes (`POST /v1/holds/{id}/payment`, then the
    /// simulated provider's page). Off while the service has no payment step.
    #[arg(long)]
    pub pay: bool,
    /// `chaos`: how long a seeker pauses between passes, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub think_ms: u64,
    /// `chaos`: one seeker in this many asks for help now instead of
    /// booking (0: none).
    #[arg(long, default_value_t = 10)]
    pub help_now_every: usize,
}

/// How long a help-now pass waits for its request to end before leaving.
const HELP_NOW_PATIENCE: Duration = Duration::from_secs(90);

/// A request that gets no answer in this long is logged as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries of a confirmation or a cancellation that got no answer or a 5xx.
const TRIES: usize = 3;
/// The pause after an answer that says the service is not well (no answer,
/// a 5xx, an empty slate): a client backs off rather than spin.
const UNWELL_PAUSE: Duration = Duration::from_millis(100);
/// The pause after a refusal other than a lost race (409).
const REFUSED_PAUSE: Duration = Duration::from_millis(50);
/// The pause after a 429.
const RATE_LIMITED_PAUSE: Duration = Duration::from_secs(1);
/// Every seeker together makes at most this many passes.
const MAX_PASSES: u64 = 2_000_000;

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `responses.tsv`, shared by every seeker.
struct ResponseLog {
    out: std::sync::Mutex<std::io::BufWriter<std::fs::File>>,
}

/// One request as `responses.tsv` has it (see the module's doc).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Response {
    pub sent_ms: i64,
    pub answered_ms: i64,
    pub instance: usize,
    pub step: String,
    pub status: u16,
    pub code: String,
    pub booking: Option<Uuid>,
    pub pass_ms: i64,
}

pub(crate) const RESPONSES_HEADER: &str =
    "sent_ms\tanswered_ms\tinstance\tstep\tstatus\tcode\tbooking\tpass_ms";

impl Response {
    fn line(&self) -> String {
        let booking = self.booking.map_or("-".to_string(), |b| b.to_string());
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.sent_ms,
            self.answered_ms,
            self.instance,
            self.step,
            self.status,
            self.code,
            booking,
            self.pass_ms
        )
    }

    pub(crate) fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split('\t').collect();
        let [sent, answered, instance, step, status, code, booking, pass] = f[..] else {
            return None;
        };
        Some(Self {
            sent_ms: sent.parse().ok()?,
            answered_ms: answered.parse().ok()?,
            instance: instance.parse().ok()?,
            step: step.to_string(),
            status: status.parse().ok()?,
            code: code.to_string(),
            booking: booking.parse().ok(),
            pass_ms: pass.parse().ok()?,
        })
    }
}

impl ResponseLog {
    fn create(path: &std::path::Path) -> anyhow::Result<Self> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(out, "{RESPONSES_HEADER}")?;
        Ok(Self {
            out: std::sync::Mutex::new(out),
        })
    }

    fn write(&self, r: &Response) -> anyhow::Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| anyhow::anyhow!("response log poisoned"))?;
        writeln!(out, "{}", r.line())?;
        Ok(())
    }

    fn flush(&self) -> anyhow::Result<()> {
        self.out
            .lock()
            .map_err(|_| anyhow::anyhow!("response log poisoned"))?
            .flush()?;
        Ok(())
    }
}

/// What a request got back.
struct Answer {
    /// 0 when there was no answer.
    status: u16,
    /// The error code of the body, or why there was no answer; "-" for
    /// neither.
    code: String,
    body: Value,
}

impl Answer {
    fn is(&self, status: StatusCode) -> bool {
        self.status == status.as_u16()
    }

    /// No answer or a 5xx: worth another try of an idempotent request.
    fn unwell(&self) -> bool {
        self.status == 0 || self.status >= 500
    }

    /// How long the seeker waits before its next pass after this answer
    /// ended the pass.
    fn pause(&self) -> Option<Duration> {
        match self.status {
            _ if self.unwell() => Some(UNWELL_PAUSE),
            409 => None,
            429 => Some(RATE_LIMITED_PAUSE),
            _ => Some(REFUSED_PAUSE),
        }
    }
}

/// A slate that came back with no expert, as `responses.tsv` names it: a
/// 200, but no seeker can book from it (an index that has not been rebuilt
/// yet looks like this).
pub(crate) const NO_EXPERTS: &str = "no_experts";

/// What `responses.tsv` says about an answer besides its status: the body's
/// error code, `NO_EXPERTS`, or "-".
fn answer_code<'a>(step: &str, body: &'a Value) -> &'a str {
    match body["error"].as_str() {
        Some(code) => code,
        None if step == "slate" && body["experts"].as_array().is_some_and(|e| e.is_empty()) => {
            NO_EXPERTS
        }
        None => "-",
    }
}

/// Why a request got no answer, as `responses.tsv` names it.
fn no_answer_code(e: &anyhow::Error) -> &'static str {
    match e.downcast_ref::<reqwest::Error>() {
        Some(e) if e.is_timeout() => "timeout",
        Some(e) if e.is_connect() => "connect",
        _ => "transport",
    }
}

struct Seeker {
    ctx: Arc<Ctx>,
    log: Arc<ResponseLog>,
    token: String,
    /// Which instance the next request goes to.
    turn: usize,
    rng: SmallRng,
    pass_ms: i64,
    /// Asks for help now rather than booking.
    help_now: bool,
}

/// One request of a seeker's path.
struct Call<'a> {
    step: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    idempotency_key: Option<&'a str>,
    /// The booking it is about, for the log.
    booking: Option<Uuid>,
}

impl<'a> Call<'a> {
    fn new(step: &'static str, method: Method, path: impl Into<String>) -> Self {
        Self {
            step,
            method,
            path: path.into(),
            body: None,
            idempotency_key: None,
            booking: None,
        }
    }

    fn json(self, body: Value) -> Self {
        Self {
            body: Some(body),
            ..self
        }
    }

    fn idempotency_key(self, key: &'a str) -> Self {
        Self {
            idempotency_key: Some(key),
            ..self
        }
    }

    fn booking(self, booking: Uuid) -> Self {
        Self {
            booking: Some(booking),
            ..self
        }
    }
}

impl Seeker {
    /// Sends a request to the next instance in turn. One that no instance
    /// took the connection for goes to the next, as a load balancer would
    /// send it: it reached no server, so any request may go again.
    async fn send(&mut self, call: &Call<'_>) -> anyhow::Result<Answer> {
        let instances = self.ctx.args.base.len().max(1);
        let mut tries = 0;
        loop {
            let instance = self.turn % instances;
            self.turn += 1;
            tries += 1;
            let answer = self.send_to(instance, call).await?;
            if answer.code != "connect" || tries >= instances {
                return Ok(answer);
            }
        }
    }

    async fn send_to(&mut self, instance: usize, call: &Call<'_>) -> anyhow::Result<Answer> {
        let mut req = self
            .ctx
            .client
            .request(call.method.clone(), self.ctx.url_on(instance, &call.path))
            .bearer_auth(&self.token)
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        if let Some(key) = call.idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        let sent_ms = now_ms();
        let answer = match self.ctx.call(call.step, req).await {
            Ok((status, body)) => Answer {
                status: status.as_u16(),
                code: answer_code(call.step, &body).to_string(),
                body,
            },
            Err(e) => Answer {
                status: 0,
                code: no_answer_code(&e).to_string(),
                body: Value::Null,
            },
        };
        let booking = call
            .booking
            .or_else(|| answer.body["booking_id"].as_str()?.parse().ok());
        self.log.write(&Response {
            sent_ms,
            answered_ms: now_ms(),
            instance,
            step: call.step.to_string(),
            status: answer.status,
            code: answer.code.clone(),
            booking,
            pass_ms: self.pass_ms,
        })?;
        Ok(answer)
    }

    /// Sends an idempotent request until it gets an answer that is not a
    /// 5xx, or `TRIES` times.
    async fn send_until_well(&mut self, call: &Call<'_>) -> anyhow::Result<Answer> {
        let mut tries = 0;
        loop {
            let answer = self.send(call).await?;
            tries += 1;
            if !answer.unwell() || tries >= TRIES {
                return Ok(answer);
            }
            tokio::time::sleep(UNWELL_PAUSE).await;
        }
    }

    /// A slot from the slate: mostly an expert's earliest (the one everybody
    /// wants), sometimes one of their later ones.
    fn pick(&mut self, slate: &Value) -> Option<String> {
        let experts = slate["experts"].as_array()?;
        if experts.is_empty() {
            return None;
        }
        let slots = experts[self.rng.gen_range(0..experts.len())]["next_slots"].as_array()?;
        if slots.is_empty() {
            return None;
        }
        let k = if self.rng.gen_bool(0.7) {
            0
        } else {
            self.rng.gen_range(0..slots.len())
        };
        Some(slots[k]["slot_id"].as_str()?.to_string())
    }

    /// One pass over the seeker's path; returns the pause before the next.
    async fn pass(&mut self) -> anyhow::Result<Option<Duration>> {
        self.pass_ms = now_ms();
        if self.help_now {
            return self.help_now_pass().await;
        }
        let slate = self
            .send(&Call::new("slate", Method::GET, "/v1/slate"))
            .await?;
        if !slate.is(StatusCode::OK) {
            return Ok(slate.pause());
        }
        let Some(slot) = self.pick(&slate.body) else {
            return Ok(Some(UNWELL_PAUSE));
        };
        let hold = Call::new("hold", Method::POST, "/v1/holds").json(json!({ "slot_id": slot }));
        let hold = self.send(&hold).await?;
        if !hold.is(StatusCode::CREATED) {
            return Ok(hold.pause());
        }
        let hold_id = hold.body["hold_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if self.ctx.args.chaos.pay {
            if let Some(refused) = self.pay(&hold_id).await? {
                self.release(&hold_id).await?;
                return Ok(refused.pause());
            }
        }
        let key = Uuid::new_v4().to_string();
        let confirm = Call::new("confirm", Method::POST, "/v1/bookings")
            .json(json!({ "hold_id": hold_id, "phone": "+8613800000000" }))
            .idempotency_key(&key);
        let confirm = self.send_until_well(&confirm).await?;
        if !confirm.is(StatusCode::CREATED) {
            self.release(&hold_id).await?;
            return Ok(confirm.pause());
        }
        let Some(booking) = confirm.body["booking_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Ok(Some(UNWELL_PAUSE));
        };
        let running = confirm.body["starts_at"]
            .as_str()
            .and_then(|s| s.parse::<chrono::DateTime<chrono::Utc>>().ok())
            .is_some_and(|start| start <= chrono::Utc::now());
        let args = &self.ctx.args.chaos;
        let keep = if running {
            args.keep_running
        } else {
            args.keep
        };
        if self.rng.gen_bool(keep.clamp(0.0, 1.0)) {
            return Ok(None);
        }
        let cancel = Call::new(
            "cancel",
            Method::POST,
            format!("/v1/bookings/{booking}/cancel"),
        )
        .booking(booking);
        let cancel = self.send_until_well(&cancel).await?;
        Ok(if cancel.is(StatusCode::OK) {
            None
        } else {
            cancel.pause()
        })
    }

    /// Help now: ask, follow the request until it ends, or leave early.
    async fn help_now_pass(&mut self) -> anyhow::Result<Option<Duration>> {
        let key = Uuid::new_v4().to_string();
        let ask = Call::new("help_now", Method::POST, "/v1/help-now")
            .json(json!({ "phone": "+8613800000001" }))
            .idempotency_key(&key);
        let asked = self.send_until_well(&ask).await?;
        let Some(id) = asked.body["request_id"].as_str().map(str::to_owned) else {
            return Ok(asked.pause().or(Some(UNWELL_PAUSE)));
        };
        let leaves_early = self.rng.gen_bool(0.2);
        let asked_at = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let get = Call::new("help_now_get", Method::GET, format!("/v1/help-now/{id}"));
            let got = self.send(&get).await?;
            if matches!(
                got.body["status"].as_str(),
                Some("completed" | "cancelled" | "timed_out")
            ) {
                return Ok(None);
            }
            let waited = asked_at.elapsed();
            if (leaves_early && waited > Duration::from_secs(2)) || waited > HELP_NOW_PATIENCE {
                let leave = Call::new(
                    "help_now_leave",
                    Method::DELETE,
                    format!("/v1/help-now/{id}"),
                );
                let left = self.send_until_well(&leave).await?;
                return Ok(left.pause());
            }
        }
    }

    /// The token fee (api.md, "Payments"): a payment for the hold, paid on
    /// the simulated provider's page. Returns the answer that refused it, if
    /// one did.
    async fn pay(&mut self, hold_id: &str) -> anyhow::Result<Option<Answer>> {
        let payment = Call::new("pay", Method::POST, format!("/v1/holds/{hold_id}/payment"));
        let payment = self.send_until_well(&payment).await?;
        let Some(id) = payment.body["payment_id"].as_str().map(str::to_owned) else {
            return Ok(Some(payment));
        };
        let paid = Call::new("pay", Method::POST, format!("/pay/simulated/{id}"));
        let paid = self.send_until_well(&paid).await?;
        Ok((!paid.is(StatusCode::OK)).then_some(paid))
    }

    /// Lets go of a hold that will not be confirmed, so its slot is open to
    /// the others again (best effort: an expired hold frees it anyway).
    async fn release(&mut self, hold_id: &str) -> anyhow::Result<()> {
        let release = Call::new("release", Method::DELETE, format!("/v1/holds/{hold_id}"));
        self.send(&release).await?;
        Ok(())
    }
}

/// Waits until every instance serves a slate with experts: an instance
/// started before the experts existed shows none until its slate inputs are
/// read again.
async fn wait_for_slates(ctx: &Ctx) -> anyhow::Result<()> {
    let seeker = token(
        &ctx.args.jwt_secret,
        Role::Seeker,
        &format!("chaos-warm-up-{}", Uuid::new_v4()),
    )?;
    for instance in 0..ctx.args.base.len() {
        let mut served = false;
        for _ in 0..60 {
            let slate: Value = ctx
                .client
                .get(ctx.url_on(instance, "/v1/slate"))
                .bearer_auth(&seeker)
                .send()
                .await?
                .json()
                .await?;
            if slate["experts"].as_array().is_some_and(|e| !e.is_empty()) {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if !served {
            anyhow::bail!("instance {instance} served no experts in its slates for 30 s");
        }
    }
    Ok(())
}

/// Volunteers on duty for the help-now seekers: the first few experts,
/// each switching on duty themselves through the API.
async fn on_duty(ctx: &Ctx) -> anyhow::Result<()> {
    let db = sqlx::PgPool::connect(&ctx.args.database_url).await?;
    let experts: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM experts WHERE status = 'approved' ORDER BY created_at LIMIT 5",
    )
    .fetch_all(&db)
    .await?;
    db.close().await;
    for expert in experts {
        let me = token(&ctx.args.jwt_secret, Role::Expert, &expert.to_string())?;
        ctx.client
            .put(ctx.url_on(0, "/v1/experts/me/duty"))
            .bearer_auth(&me)
            .json(&json!({ "on_duty": true }))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// Runs the seekers until told to stop (see the module's doc), then prints
/// the usual per-step table.
pub async fn drive(ctx: Arc<Ctx>) -> anyhow::Result<()> {
    let tokens = seeker_tokens(&ctx)?;
    create_seekers(&ctx, &tokens).await?;
    wait_for_slates(&ctx).await?;
    if ctx.args.chaos.help_now_every > 0 {
        on_duty(&ctx).await?;
    }
    std::fs::create_dir_all(&ctx.args.out)?;
    let log = Arc::new(ResponseLog::create(&ctx.args.out.join("responses.tsv"))?);
    let stop = Arc::new(AtomicBool::new(false));
    let passes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    // Also writes the log out as it goes: chaos.sh reads it during the run.
    let watcher = {
        let (stop, passes, ctx, log) = (stop.clone(), passes.clone(), ctx.clone(), log.clone());
        tokio::spawn(async move {
            let limit = Duration::from_secs(ctx.args.chaos.seconds);
            let flushed = loop {
                if started.elapsed() >= limit
                    || passes.load(Ordering::Relaxed) >= MAX_PASSES
                    || ctx
                        .args
                        .chaos
                        .stop_file
                        .as_ref()
                        .is_some_and(|f| f.exists())
                {
                    break Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Err(e) = log.flush() {
                    break Err(e);
                }
            };
            stop.store(true, Ordering::Relaxed);
            flushed
        })
    };
    // Written once traffic starts: chaos.sh waits for it.
    std::fs::write(ctx.args.out.join("driving"), format!("{}\n", now_ms()))?;
    println!(
        "chaos: {} seekers over {} instance(s), until {} exists or {} s",
        tokens.len(),
        ctx.args.base.len(),
        ctx.args
            .chaos
            .stop_file
            .as_ref()
            .map_or("a stop file".into(), |f| f.display().to_string()),
        ctx.args.chaos.seconds
    );
    let seekers = tokens.into_iter().enumerate().map(|(n, token)| {
        let mut seeker = Seeker {
            ctx: ctx.clone(),
            log: log.clone(),
            token,
            turn: n,
            rng: SmallRng::seed_from_u64(n as u64),
            pass_ms: 0,
            help_now: ctx.args.chaos.help_now_every > 0 && n % ctx.args.chaos.help_now_every == 0,
        };
        let (stop, passes) = (stop.clone(), passes.clone());
        let think = Duration::from_millis(ctx.args.chaos.think_ms);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                passes.fetch_add(1, Ordering::Relaxed);
                let pause = seeker.pass().await?.unwrap_or_default();
                tokio::time::sleep(pause.max(think)).await;
            }
            Ok::<(), anyhow::Error>(())
        })
    });
    let ended = join_all(seekers).await;
    watcher.await??;
    log.flush()?;
    for seeker in ended {
        seeker??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    print_stats(&mut *ctx.stats.lock().await, elapsed);
    println!(
        "\nelapsed {elapsed:.1}s, {} passes",
        passes.load(Ordering::Relaxed)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_reads_back_as_written() {
        let r = Response {
            sent_ms: 1_700_000_000_000,
            answered_ms: 1_700_000_000_012,
            instance: 1,
            step: "confirm".into(),
            status: 201,
            code: "-".into(),
            booking: Some(Uuid::new_v4()),
            pass_ms: 1_699_999_999_990,
        };
        assert_eq!(Response::parse(&r.line()), Some(r.clone()));
        let none = Response { booking: None, ..r };
        assert_eq!(Response::parse(&none.line()), Some(none));
        assert_eq!(Response::parse(RESPONSES_HEADER), None);
    }

    #[test]
    fn an_empty_slate_is_named_as_such() {
        let error = json!({"error": "unavailable", "message": "Redis is down"});
        assert_eq!(answer_code("slate", &error), "unavailable");
        assert_eq!(answer_code("slate", &json!({"experts": []})), NO_EXPERTS);
        assert_eq!(answer_code("slate", &json!({"experts": [{}]})), "-");
        assert_eq!(answer_code("hold", &json!({"hold_id": "h"})), "-");
    }
}
