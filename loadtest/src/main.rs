//! Load generator for Anxin (a small tokio + reqwest program rather than
//! goose: goose pulls a second HTTP stack and a scheduler we don't need, and
//! this machine has two cores to build with).
//!
//! Modes:
//! - `slate`: each seeker asks for a slate once (a fresh balanced draw);
//! - `holds`: seekers place and release holds as fast as they can (the Redis
//!   fast path through HTTP);
//! - `confirm`: seekers hold then confirm (the durable Postgres path);
//! - `flow`: the seeker's whole path: slate → hold → confirm;
//! - `race`: many seekers race for a few slots;
//! - `prepare-holds`: creates the experts and `--seekers` seekers for the
//!   hold benchmark that `wrk` runs (`loadtest/wrk/holds.lua`), and writes
//!   their tokens and every open slot to `--out`. wrk is a C client that
//!   costs a fraction of this program per request; on a two-core machine that
//!   shares its cores with the server, Redis and Postgres, the client's own
//!   cost would otherwise be a large part of what is measured;
//! - `chaos`: seekers loop through their path against every `--base` while
//!   `loadtest/chaos.sh` injects faults, logging every response to `--out`;
//!   `chaos-report` turns that log, the faults' times and Postgres into one
//!   row of figures per fault (see `chaos`).
//!
//! Every mode but the chaos ones ends by checking Postgres: slots with two
//! active bookings, and confirmed bookings (201s) that are missing. Both must
//! be zero.
mod chaos;

use anxin_core::token::{issue_token, Role};
use clap::{Parser, ValueEnum};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Mode {
    Slate,
    Holds,
    Confirm,
    Flow,
    Race,
    PrepareHolds,
    Chaos,
    ChaosReport,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "flow")]
    mode: Mode,
    /// Anxin's base URL; `chaos` takes several, comma-separated, and spreads
    /// each seeker's requests over them.
    #[arg(
        long,
        value_delimiter = ',',
        required = false,
        default_value = "http://127.0.0.1:18090"
    )]
    base: Vec<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Seekers (each runs its path once; in `holds` mode, `--rounds` times).
    #[arg(long, default_value_t = 2000)]
    seekers: usize,
    /// Hold/release rounds per seeker in `holds` mode.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Experts the load test creates for itself.
    #[arg(long, default_value_t = 40)]
    experts: usize,
    /// Slots raced for in `race` mode.
    #[arg(long, default_value_t = 50)]
    race_slots: usize,
    /// Length of the experts' slots, in minutes.
    #[arg(long, default_value_t = 30)]
    slot_minutes: u32,
    /// Where `prepare-holds` writes `tokens.txt` and `slots.txt`, and where
    /// `chaos` writes its response log and `chaos-report` reads it.
    #[arg(long, default_value = "out/loadtest")]
    out: std::path::PathBuf,
    /// Writes every timed call to this file: seconds since the run
    /// started, milliseconds it took, step (to see when the slow ones came).
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
    #[command(flatten)]
    chaos: chaos::ChaosArgs,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/anxin_load")]
    database_url: String,
    #[arg(
        long,
        env = "ANXIN_JWT_SECRET",
        default_value = "anxin-development-jwt-secret-not-for-production"
    )]
    jwt_secret: String,
}

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    statuses: BTreeMap<(&'static str, u16), usize>,
    confirmed: Vec<Uuid>,
    /// Every call's start and duration, with `--trace`.
    trace: Option<Vec<(Instant, Duration, &'static str)>>,
}

impl Stats {
    fn record(&mut self, step: &'static str, started: Instant, took: Duration, status: StatusCode) {
        self.latencies.entry(step).or_default().push(took);
        *self.statuses.entry((step, status.as_u16())).or_default() += 1;
        if let Some(trace) = &mut self.trace {
            trace.push((started, took, step));
        }
    }

    /// The trace as lines of "seconds since `from`, milliseconds taken,
    /// step", in the order the calls ended.
    fn write_trace(&self, from: Instant, path: &std::path::Path) -> std::io::Result<()> {
        use std::fmt::Write as _;
        let mut out = String::new();
        for (at, took, step) in self.trace.iter().flatten() {
            let since = at.saturating_duration_since(from).as_secs_f64();
            let _ = writeln!(out, "{since:.4} {:.3} {step}", took.as_secs_f64() * 1e3);
        }
        std::fs::write(path, out)
    }
}

struct Ctx {
    client: reqwest::Client,
    args: Args,
    stats: Mutex<Stats>,
}

impl Ctx {
    async fn call(
        &self,
        step: &'static str,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let started = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        let body = if status == StatusCode::NO_CONTENT {
            Value::Null
        } else {
            r.json().await.unwrap_or(Value::Null)
        };
        self.stats
            .lock()
            .await
            .record(step, started, started.elapsed(), status);
        Ok((status, body))
    }

    fn url(&self, path: &str) -> String {
        self.url_on(0, path)
    }

    /// The URL of `path` on the `instance`th `--base` (wrapping around).
    fn url_on(&self, instance: usize, path: &str) -> String {
        let bases = &self.args.base;
        let base = bases
            .get(instance % bases.len().max(1))
            .map_or("", String::as_str);
        format!("{base}{path}")
    }
}

fn token(secret: &str, role: Role, sub: &str) -> anyhow::Result<String> {
    Ok(issue_token(
        secret.as_bytes(),
        role,
        sub,
        Duration::from_secs(6 * 3600),
    )?)
}

/// Creates the experts this run uses, open around the clock in
/// `--slot-minutes` slots.
async fn setup(ctx: &Ctx) -> anyhow::Result<Vec<Uuid>> {
    let op = token(&ctx.args.jwt_secret, Role::Operator, "loadtest")?;
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let week: Vec<Value> = days
        .iter()
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    let mut slots = Vec::new();
    for i in 0..ctx.args.experts {
        let r: Value = ctx
            .client
            .post(ctx.url("/v1/experts"))
            .bearer_auth(&op)
            .json(&json!({"display_name": format!("Load {i}"), "phone": "+8613900000000", "timezone": "UTC",
                          "languages": ["zh"], "specialties": ["anxiety"], "region": "hubei"}))
            .send()
            .await?
            .json()
            .await?;
        let id = r["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("expert not created: {r}"))?
            .to_string();
        ctx.client
            .put(ctx.url(&format!("/v1/experts/{id}/availability")))
            .bearer_auth(&op)
            .json(
                &json!({"timezone": "UTC", "slot_minutes": ctx.args.slot_minutes, "weekly": week}),
            )
            .send()
            .await?
            .error_for_status()?;
        let list: Vec<Value> = ctx
            .client
            .get(ctx.url(&format!("/v1/experts/{id}/slots")))
            .bearer_auth(&op)
            .send()
            .await?
            .json()
            .await?;
        let now = chrono::Utc::now();
        slots.extend(list.iter().filter_map(|s| {
            let start: chrono::DateTime<chrono::Utc> = s["starts_at"].as_str()?.parse().ok()?;
            (start > now)
                .then(|| s["slot_id"].as_str()?.parse::<Uuid>().ok())
                .flatten()
        }));
    }
    Ok(slots)
}

async fn seeker_path(
    ctx: Arc<Ctx>,
    n: usize,
    seeker: &str,
    slots: Arc<Vec<Uuid>>,
) -> anyhow::Result<()> {
    let pick = |k: usize| slots[(n * 7919 + k * 104_729) % slots.len()];
    match ctx.args.mode {
        Mode::Slate => {
            ctx.call(
                "slate",
                ctx.client.get(ctx.url("/v1/slate")).bearer_auth(seeker),
            )
            .await?;
        }
        // Return before any seeker runs (see `prepare_holds`, `chaos`).
        Mode::PrepareHolds | Mode::Chaos | Mode::ChaosReport => {}
        Mode::Holds => {
            for k in 0..ctx.args.rounds {
                let (status, body) = ctx
                    .call(
                        "hold",
                        ctx.client
                            .post(ctx.url("/v1/holds"))
                            .bearer_auth(seeker)
                            .json(&json!({"slot_id": pick(k)})),
                    )
                    .await?;
                if status == StatusCode::CREATED {
                    let hold = body["hold_id"].as_str().unwrap_or_default();
                    ctx.call(
                        "release",
                        ctx.client
                            .delete(ctx.url(&format!("/v1/holds/{hold}")))
                            .bearer_auth(seeker),
                    )
                    .await?;
                }
            }
        }
        Mode::Confirm | Mode::Flow | Mode::Race => {
            let slot = if ctx.args.mode == Mode::Flow {
                let (_, slate) = ctx
                    .call(
                        "slate",
                        ctx.client.get(ctx.url("/v1/slate")).bearer_auth(seeker),
                    )
                    .await?;
                let experts = slate["experts"].as_array().cloned().unwrap_or_default();
                let Some(e) = experts.get(n % experts.len().max(1)) else {
                    return Ok(());
                };
                match e["next_slots"][0]["slot_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                {
                    Some(s) => s,
                    None => return Ok(()),
                }
            } else {
                pick(0)
            };
            let (status, body) = ctx
                .call(
                    "hold",
                    ctx.client
                        .post(ctx.url("/v1/holds"))
                        .bearer_auth(seeker)
                        .json(&json!({"slot_id": slot})),
                )
                .await?;
            if status != StatusCode::CREATED {
                return Ok(());
            }
            let hold = body["hold_id"].as_str().unwrap_or_default().to_string();
            let (status, body) = ctx
                .call(
                    "confirm",
                    ctx.client
                        .post(ctx.url("/v1/bookings"))
                        .bearer_auth(seeker)
                        .json(&json!({"hold_id": hold, "phone": "+8613800000000"})),
                )
                .await?;
            if status == StatusCode::CREATED {
                if let Some(id) = body["booking_id"].as_str().and_then(|s| s.parse().ok()) {
                    ctx.stats.lock().await.confirmed.push(id);
                }
            }
        }
    }
    Ok(())
}

/// Writes the seekers' tokens and the slots for the wrk hold benchmark, after
/// making sure every seeker exists (`create_seekers`).
async fn prepare_holds(ctx: &Ctx, slots: &[Uuid]) -> anyhow::Result<()> {
    let tokens = seeker_tokens(ctx)?;
    create_seekers(ctx, &tokens).await?;
    // Spread consecutive requests over the experts, as real traffic would be
    // (a fixed seed, so runs are alike).
    use rand::{seq::SliceRandom, SeedableRng};
    let mut order = slots.to_vec();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(2020));
    std::fs::create_dir_all(&ctx.args.out)?;
    let lines = |items: Vec<String>| items.join("\n") + "\n";
    std::fs::write(ctx.args.out.join("tokens.txt"), lines(tokens))?;
    std::fs::write(
        ctx.args.out.join("slots.txt"),
        lines(order.iter().map(Uuid::to_string).collect()),
    )?;
    println!(
        "prepared {} seekers and {} open slots in {}",
        ctx.args.seekers,
        slots.len(),
        ctx.args.out.display()
    );
    Ok(())
}

/// One token per seeker of the run, each a new host-app subject.
fn seeker_tokens(ctx: &Ctx) -> anyhow::Result<Vec<String>> {
    (0..ctx.args.seekers)
        .map(|n| {
            token(
                &ctx.args.jwt_secret,
                Role::Seeker,
                &format!("load-seeker-{n}-{}", Uuid::new_v4()),
            )
        })
        .collect()
}

/// Makes every seeker known to Anxin before the clock starts: a seeker's
/// first request creates their pseudonymous record, which a step that a real
/// seeker reaches after the slate should not be charged with.
async fn create_seekers(ctx: &Ctx, tokens: &[String]) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let warmed: Vec<_> = futures_util::stream::iter(tokens.iter())
        .map(|t| async move {
            ctx.client
                .put(ctx.url("/v1/seekers/me"))
                .bearer_auth(t)
                .json(&json!({}))
                .send()
                .await?
                .error_for_status()
        })
        .buffer_unordered(64)
        .collect()
        .await;
    if let Some(Err(e)) = warmed.into_iter().find(Result::is_err) {
        anyhow::bail!("creating the seekers failed: {e}");
    }
    Ok(())
}

/// Prints each step's count, rate and latency percentiles over `elapsed`
/// seconds, then the count of every status; returns how many answers were
/// neither a success nor an expected refusal (409, 429).
fn print_stats(stats: &mut Stats, elapsed: f64) -> usize {
    println!(
        "\n{:<8} {:>8} {:>10} {:>8} {:>8} {:>8}",
        "step", "count", "per_sec", "p50_ms", "p95_ms", "p99_ms"
    );
    for (step, lat) in stats.latencies.iter_mut() {
        lat.sort();
        println!(
            "{:<8} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>8.2}",
            step,
            lat.len(),
            lat.len() as f64 / elapsed,
            pct(lat, 0.5),
            pct(lat, 0.95),
            pct(lat, 0.99)
        );
    }
    println!("\nstatus counts:");
    let mut unexpected = 0;
    for ((step, status), n) in &stats.statuses {
        println!("  {step:<8} {status}: {n}");
        if !matches!(status, 200 | 201 | 204 | 409 | 429) {
            unexpected += n;
        }
    }
    unexpected
}

/// A slot with more than one active booking: what invariant 1 forbids.
struct DoubledSlot {
    /// When the last of them was made (Unix milliseconds).
    last_booked_ms: i64,
}

/// The slots with more than one active booking, each also named on stderr.
async fn doubled_slots(db: &sqlx::PgPool) -> anyhow::Result<Vec<DoubledSlot>> {
    let rows: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "SELECT slot_id, count(*), (extract(epoch FROM max(created_at)) * 1000)::int8
           FROM bookings WHERE status <> 'cancelled' GROUP BY slot_id HAVING count(*) > 1",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(slot_id, bookings, last_booked_ms)| {
            eprintln!("slot {slot_id} has {bookings} active bookings");
            DoubledSlot { last_booked_ms }
        })
        .collect())
}

/// The status Postgres has for each of `ids`; an id it doesn't know is
/// missing from the map.
async fn booking_statuses(
    db: &sqlx::PgPool,
    ids: &[Uuid],
) -> anyhow::Result<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM bookings WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().collect())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let ctx = Arc::new(Ctx {
        client,
        stats: Mutex::new(Stats {
            trace: args.trace.is_some().then(Vec::new),
            ..Stats::default()
        }),
        args,
    });
    if ctx.args.mode == Mode::ChaosReport {
        let met = chaos::report::run(&ctx.args).await?;
        // A missed target is the run's verdict, not an error of this program.
        std::process::exit(i32::from(!met));
    }
    let mut slots = setup(&ctx).await?;
    if ctx.args.mode == Mode::Chaos {
        return chaos::drive(ctx.clone()).await;
    }
    if ctx.args.mode == Mode::PrepareHolds {
        return prepare_holds(&ctx, &slots).await;
    }
    if ctx.args.mode == Mode::Race {
        slots.truncate(ctx.args.race_slots);
    }
    if slots.is_empty() && !matches!(ctx.args.mode, Mode::Flow | Mode::Slate) {
        anyhow::bail!(
            "no slots to use: --experts must be at least 1 for {:?} mode",
            ctx.args.mode
        );
    }
    let slots = Arc::new(slots);
    let tokens = Arc::new(seeker_tokens(&ctx)?);
    if matches!(
        ctx.args.mode,
        Mode::Slate | Mode::Holds | Mode::Confirm | Mode::Race
    ) {
        create_seekers(&ctx, &tokens).await?;
    }
    println!(
        "mode {:?}: {} seekers, {} concurrent, {} slots",
        ctx.args.mode,
        ctx.args.seekers,
        ctx.args.concurrency,
        slots.len()
    );

    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers = (0..ctx.args.concurrency).map(|_| {
        let (ctx, next, slots, tokens) = (ctx.clone(), next.clone(), slots.clone(), tokens.clone());
        tokio::spawn(async move {
            let mut errors = 0usize;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= ctx.args.seekers {
                    return errors;
                }
                if seeker_path(ctx.clone(), n, &tokens[n], slots.clone())
                    .await
                    .is_err()
                {
                    errors += 1;
                }
            }
        })
    });
    let transport_errors: usize = join_all(workers)
        .await
        .into_iter()
        .map(|r| r.unwrap_or(1))
        .sum();
    let elapsed = started.elapsed().as_secs_f64();

    let mut stats = ctx.stats.lock().await;
    let unexpected = transport_errors + print_stats(&mut stats, elapsed);
    if let Some(path) = &ctx.args.trace {
        stats.write_trace(started, path)?;
    }

    let db = sqlx::PgPool::connect(&ctx.args.database_url).await?;
    let doubled = doubled_slots(&db).await?.len();
    let confirmed: Vec<Uuid> = stats.confirmed.clone();
    let statuses = booking_statuses(&db, &confirmed).await?;
    let lost = confirmed
        .iter()
        .filter(|id| statuses.get(id).map(String::as_str) != Some("confirmed"))
        .count();
    println!(
        "\nelapsed {elapsed:.1}s; confirmed bookings: {}",
        confirmed.len()
    );
    if ctx.args.mode == Mode::Race {
        println!(
            "race: {} bookings for {} slots",
            confirmed.len(),
            slots.len()
        );
    }
    println!("errors other than 409/429: {unexpected}");
    println!("double bookings: {doubled}");
    println!("lost bookings: {lost}");
    if doubled != 0
        || lost != 0
        || unexpected != 0
        || (ctx.args.mode == Mode::Race && confirmed.len() != slots.len())
    {
        anyhow::bail!("load test found a problem");
    }
    Ok(())
}
