//! The fast path in Redis: holds, the open-slot index, booked markers,
//! exposure counters, cross-instance rate limits, and reconcile from Postgres.
//!
//! Redis is a cache of truth held in Postgres, never the only copy of anything
//! that matters: a hold lives only here (losing one costs a seeker a retry),
//! while bookings are committed to Postgres first and mirrored here after.
//! Every decision that must be atomic is one Lua script over the keys of one
//! hash slot (see `keys`).

pub mod keys;

use anxin_domain::ids::{ExpertId, HoldId, SeekerId, SlotId};
use chrono::{DateTime, TimeZone, Utc};
use keys::{ExpertKeys, Keys, SeekerKeys};
use redis::aio::ConnectionManager;
use redis::{RedisWrite, Script, ToRedisArgs};
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from a script: {0}")]
    Protocol(String),
}

impl ReserveError {
    /// Redis is unreachable, restarting, loading or failing over: the request
    /// may succeed if retried shortly (503), which a bug would not (500).
    pub fn is_outage(&self) -> bool {
        let Self::Redis(e) = self else {
            return false;
        };
        e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(
                e.kind(),
                redis::ErrorKind::BusyLoadingError
                    | redis::ErrorKind::TryAgain
                    | redis::ErrorKind::ClusterDown
                    | redis::ErrorKind::MasterDown
                    | redis::ErrorKind::ReadOnly
            )
    }
}

pub type Result<T> = std::result::Result<T, ReserveError>;

/// How Anxin's Redis connections behave when Redis goes away. The client's
/// defaults retry a lost connection six times with exponential backoff
/// (about 12 s) while every request waits on it, and never time a reply
/// out: requests hung, then failed, and the connection came back seconds
/// after Redis did. Here a request waits at most `response` for a reply and
/// `CONNECT_TIMEOUT` for a connection, and each request that finds the connection
/// down tries once to reconnect: Redis answering again is noticed by the
/// next request.
pub fn connection_config(response: Duration) -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_exponent_base(2)
        .set_factor(50)
        .set_max_delay(100)
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response)
}

/// How long a connection attempt may take (loopback or one data centre).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a request's command may wait for its reply.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(1500);
/// The bulk connection's pipelines (every expert's counts) take longer.
const BULK_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A slot as the index knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedSlot {
    pub slot_id: SlotId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Held back for priority groups until then.
    pub reserved_until: Option<DateTime<Utc>>,
}

impl IndexedSlot {
    fn meta(&self) -> String {
        format!(
            "{}:{}:{}",
            self.starts_at.timestamp_millis(),
            self.ends_at.timestamp_millis(),
            self.reserved_until.map_or(0, |t| t.timestamp_millis())
        )
    }

    fn parse(slot: &str, meta: &str) -> Option<Self> {
        let mut it = meta.split(':').map(|p| p.parse::<i64>().ok());
        let (s, e, r) = (it.next()??, it.next()??, it.next()??);
        Some(Self {
            slot_id: slot.parse().ok()?,
            starts_at: Utc.timestamp_millis_opt(s).single()?,
            ends_at: Utc.timestamp_millis_opt(e).single()?,
            reserved_until: (r > 0)
                .then(|| Utc.timestamp_millis_opt(r).single())
                .flatten(),
        })
    }
}

/// What the expert side of a hold decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotHold {
    Held {
        expires_at: DateTime<Utc>,
    },
    /// Held by someone else, booked, or reserved for priority groups.
    Unavailable,
    /// Too close to its end (or past).
    TooLate,
    /// Not in the index: unknown, withdrawn, or the index was lost.
    Unknown,
}

/// What the seeker side of a hold decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeekerHold {
    Acquired {
        expires_at: DateTime<Utc>,
    },
    /// The same idempotency key was used before with the same request.
    Replay {
        hold_id: HoldId,
        slot_id: SlotId,
        expires_at: DateTime<Utc>,
    },
    IdempotencyMismatch,
    HoldLimit,
    /// The shared (cross-instance) hold rate limit: try again after this.
    RateLimited {
        retry_after: Duration,
    },
}

/// A slate just served, as `Reserve::record_served` writes it.
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    pub seeker: SeekerId,
    /// The filters' key: a seeker has one stable slate per filter.
    pub filter: &'a str,
    /// The slate as the stability window remembers it (`None`: don't).
    pub remembered: Option<&'a str>,
    pub stability: Duration,
    /// The experts shown, each counted as one impression.
    pub experts: &'a [ExpertId],
    pub bucket: i64,
    /// How long the impression bucket is kept.
    pub window: Duration,
}

/// A seeker's hold as recorded on their side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldRecord {
    pub hold_id: HoldId,
    pub slot_id: SlotId,
    pub expert_id: ExpertId,
    pub expires_at: DateTime<Utc>,
}

impl HoldRecord {
    /// The hold's member in its seeker's set: "hold_id|slot|expert".
    fn member(&self) -> String {
        hold_member(self.hold_id, self.slot_id, self.expert_id)
    }
}

fn hold_member(hold: HoldId, slot: SlotId, expert: ExpertId) -> String {
    format!("{hold}|{slot}|{expert}")
}

/// Whether Redis still holds the index that was built from Postgres. A
/// restarted or flushed Redis comes back empty, and so without the marker
/// that a completed rebuild leaves (see `lua/index_built.lua`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// Built, by the rebuild this token names (each rebuild after a loss
    /// writes a new one, so every instance can tell that one happened).
    Ready(String),
    /// Gone: Redis restarted or was wiped since the last rebuild.
    Missing,
    /// An instance is rebuilding it now.
    Rebuilding,
}

/// The index marker's value while a rebuild runs, and once it is done.
const REBUILDING: &str = "rebuilding:";
const READY: &str = "ready:";

/// Settings of the fast path.
#[derive(Debug, Clone)]
pub struct ReserveConfig {
    pub key_prefix: String,
    pub hold_ttl: Duration,
    /// How long before a slot's end it stops being reservable.
    pub cutoff: Duration,
    pub max_holds_per_seeker: u32,
    /// Hold attempts per seeker per minute, across every instance.
    pub holds_per_minute_per_seeker: u32,
    pub idempotency_ttl: Duration,
}

struct Scripts {
    hold: Script,
    verify: Script,
    book: Script,
    release: Script,
    unbook: Script,
    open: Script,
    upsert: Script,
    withdraw: Script,
    rebuild: Script,
    held: Script,
    seeker_acquire: Script,
    seeker_release: Script,
    seeker_hold: Script,
    index_built: Script,
}

impl Scripts {
    fn load() -> Self {
        let prelude = include_str!("lua/expert_prelude.lua");
        let expert = |body: &str| Script::new(&format!("{prelude}\n{body}"));
        Self {
            hold: expert(include_str!("lua/hold.lua")),
            verify: expert(include_str!("lua/verify.lua")),
            book: expert(include_str!("lua/book.lua")),
            release: expert(include_str!("lua/release.lua")),
            unbook: expert(include_str!("lua/unbook.lua")),
            open: expert(include_str!("lua/open.lua")),
            upsert: expert(include_str!("lua/upsert.lua")),
            withdraw: expert(include_str!("lua/withdraw.lua")),
            rebuild: expert(include_str!("lua/rebuild.lua")),
            held: expert(include_str!("lua/held.lua")),
            seeker_acquire: Script::new(include_str!("lua/seeker_acquire.lua")),
            seeker_release: Script::new(include_str!("lua/seeker_release.lua")),
            seeker_hold: Script::new(include_str!("lua/seeker_hold.lua")),
            index_built: Script::new(include_str!("lua/index_built.lua")),
        }
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

fn instant(ms: &str) -> Result<DateTime<Utc>> {
    ms.parse::<i64>()
        .ok()
        .and_then(|m| Utc.timestamp_millis_opt(m).single())
        .ok_or_else(|| ReserveError::Protocol(format!("bad instant {ms:?}")))
}

fn first(reply: &[String]) -> &str {
    reply.first().map(String::as_str).unwrap_or("")
}

/// A script argument: anything with a `Display` form.
type Arg<'a> = &'a (dyn Display + Sync);

/// A script argument written in its `Display` form, with no `String` of its
/// own.
struct Shown<'a>(Arg<'a>);

impl ToRedisArgs for Shown<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        out.write_arg_fmt(self.0)
    }
}

/// A script's yes/no argument.
fn flag(yes: bool) -> &'static str {
    if yes {
        "1"
    } else {
        "0"
    }
}

/// `args` as script arguments.
fn shown(args: &[String]) -> Vec<Arg<'_>> {
    args.iter().map(|a| a as Arg).collect()
}

/// A command or a pipeline, sent the same way (see `Reserve::query`).
trait Query {
    fn send<T: redis::FromRedisValue>(
        &self,
        c: &mut ConnectionManager,
    ) -> impl std::future::Future<Output = redis::RedisResult<T>> + Send;
}

impl Query for redis::Cmd {
    fn send<T: redis::FromRedisValue>(
        &self,
        c: &mut ConnectionManager,
    ) -> impl std::future::Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(c)
    }
}

impl Query for redis::Pipeline {
    fn send<T: redis::FromRedisValue>(
        &self,
        c: &mut ConnectionManager,
    ) -> impl std::future::Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(c)
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// Per thread, the connection of each `Reserve` handle used on it.
    static LOCAL: std::cell::RefCell<std::collections::HashMap<u64, ConnectionManager>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The handle every API instance and worker shares. Cheap to clone.
#[derive(Clone)]
pub struct Reserve {
    client: redis::Client,
    /// Names this handle's connections in each thread's `LOCAL` map.
    id: u64,
    /// Use a connection of the calling thread's own (see `LOCAL`); the bulk
    /// handle doesn't.
    per_thread: bool,
    /// The shared connection: the bulk handle's, and the fallback when a
    /// thread can't open its own.
    conn: ConnectionManager,
    /// A second connection for bulk work (weight snapshots over every expert,
    /// rebuilds): a pipeline of tens of thousands of commands on `conn` would
    /// queue every request's reply behind it.
    bulk: ConnectionManager,
    keys: Keys,
    config: Arc<ReserveConfig>,
    scripts: Arc<Scripts>,
}

impl Reserve {
    pub async fn connect(url: &str, config: ReserveConfig) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let conn =
            ConnectionManager::new_with_config(client.clone(), connection_config(RESPONSE_TIMEOUT))
                .await?;
        let bulk = ConnectionManager::new_with_config(
            client.clone(),
            connection_config(BULK_RESPONSE_TIMEOUT),
        )
        .await?;
        Ok(Self {
            keys: Keys::new(&config.key_prefix),
            client,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            per_thread: true,
            conn,
            bulk,
            config: Arc::new(config),
            scripts: Arc::new(Scripts::load()),
        })
    }

    /// The same handle on the bulk connection, for work over many experts
    /// that must not delay requests.
    pub fn bulk(&self) -> Self {
        Self {
            conn: self.bulk.clone(),
            per_thread: false,
            ..self.clone()
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn config(&self) -> &ReserveConfig {
        &self.config
    }

    /// The calling thread's own connection. A connection's driver task runs
    /// on the runtime that opened it; each actix worker is a runtime on its
    /// own thread, so with one shared connection every command crossed
    /// threads twice (out to the driver, back with the reply), and those
    /// wake-ups were the largest cost of a hold. Opened on first use, one per
    /// thread and handle.
    async fn conn(&self) -> ConnectionManager {
        if !self.per_thread {
            return self.conn.clone();
        }
        if let Some(c) = LOCAL.with(|l| l.borrow().get(&self.id).cloned()) {
            return c;
        }
        match ConnectionManager::new_with_config(
            self.client.clone(),
            connection_config(RESPONSE_TIMEOUT),
        )
        .await
        {
            Ok(c) => {
                LOCAL.with(|l| l.borrow_mut().insert(self.id, c.clone()));
                c
            }
            // Redis is down: the shared connection's reconnects (and the
            // command's error) say so; the next call tries again.
            Err(_) => self.conn.clone(),
        }
    }

    /// Sends a command or pipeline on the calling thread's connection, and
    /// once more if that connection turned out to be dead (Redis restarted,
    /// or closed it): the first attempt has made the connection reconnect,
    /// so every request after a restart is served instead of the first on
    /// each connection failing. A Redis that died with the first attempt
    /// lost whatever it ran. A live Redis that reset the connection after
    /// running it sees it twice: at worst a seeker's 409 until the hold
    /// expires, never a second booking (Postgres refuses one).
    async fn query<T: redis::FromRedisValue>(
        &self,
        q: &(impl Query + ?Sized),
    ) -> redis::RedisResult<T> {
        let mut c = self.conn().await;
        match q.send(&mut c).await {
            Err(e) if e.is_connection_dropped() => q.send(&mut self.conn().await).await,
            reply => reply,
        }
    }

    pub async fn ping(&self) -> Result<()> {
        self.query::<String>(&redis::cmd("PING")).await?;
        Ok(())
    }

    /// Runs one of the expert scripts on `expert`'s keys.
    async fn on_expert(
        &self,
        script: &Script,
        expert: ExpertId,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let ExpertKeys(keys) = self.keys.expert(expert);
        self.eval(script, &keys, args).await
    }

    /// Runs one of the seeker scripts.
    async fn on_seeker(
        &self,
        script: &Script,
        SeekerKeys(keys): SeekerKeys,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        self.eval(script, &keys, args).await
    }

    /// `EVALSHA`, loading the script first if this Redis doesn't know it yet
    /// (a restart, a wipe). Keys and arguments go straight into the command's
    /// buffer: `ScriptInvocation` copies each into an allocation of its own
    /// and then again into the command, on every hold.
    async fn eval(
        &self,
        script: &Script,
        keys: &[String],
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        // Sized for the slot side of a hold (about 520 bytes), so writing the
        // arguments doesn't grow it.
        let mut cmd = redis::Cmd::with_capacity(3 + keys.len() + args.len(), 640);
        cmd.arg("EVALSHA")
            .arg(script.get_hash())
            .arg(keys.len())
            .arg(keys);
        for a in args {
            cmd.arg(Shown(*a));
        }
        match self.query(&cmd).await {
            Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                let mut c = self.conn().await;
                script.prepare_invoke().load_async(&mut c).await?;
                Ok(self.query(&cmd).await?)
            }
            reply => Ok(reply?),
        }
    }

    /// The seeker's side: idempotency and the hold limit. Must be followed by
    /// `hold_slot`, and undone with `forget_hold` if that fails.
    #[tracing::instrument(skip(self, request_hash))]
    pub async fn acquire_for_seeker(
        &self,
        seeker: SeekerId,
        hold: HoldId,
        slot: SlotId,
        expert: ExpertId,
        idempotency_key: Option<&str>,
        request_hash: &str,
    ) -> Result<SeekerHold> {
        let keys = self.keys.seeker(seeker, idempotency_key);
        let reply = self
            .on_seeker(
                &self.scripts.seeker_acquire,
                keys,
                &[
                    &hold,
                    &slot,
                    &expert,
                    &self.config.max_holds_per_seeker,
                    &millis(self.config.hold_ttl),
                    &request_hash,
                    &millis(self.config.idempotency_ttl),
                    &flag(idempotency_key.is_some()),
                    &millis(self.rate_interval()).max(1),
                    &self.config.holds_per_minute_per_seeker.max(1),
                ],
            )
            .await?;
        match first(&reply) {
            "rate_limited" => Ok(SeekerHold::RateLimited {
                retry_after: Duration::from_millis(
                    reply
                        .get(1)
                        .and_then(|w| w.parse::<u64>().ok())
                        .unwrap_or(1000)
                        .max(1),
                ),
            }),
            "ok" => Ok(SeekerHold::Acquired {
                expires_at: instant(reply.get(1).map_or("", String::as_str))?,
            }),
            "hold_limit" => Ok(SeekerHold::HoldLimit),
            "idem_mismatch" => Ok(SeekerHold::IdempotencyMismatch),
            "replay" => {
                let rest = reply.get(1).map_or("", String::as_str);
                let mut parts = rest.split('|');
                let parsed = (|| {
                    Some(SeekerHold::Replay {
                        hold_id: parts.next()?.parse().ok()?,
                        slot_id: parts.next()?.parse().ok()?,
                        expires_at: instant(parts.next()?).ok()?,
                    })
                })();
                parsed.ok_or_else(|| {
                    ReserveError::Protocol(format!("bad idempotency record {rest:?}"))
                })
            }
            other => Err(ReserveError::Protocol(format!("seeker_acquire: {other:?}"))),
        }
    }

    /// Undoes the seeker's side of a hold (release, failed hold, confirmed).
    pub async fn forget_hold(
        &self,
        seeker: SeekerId,
        hold: &HoldRecord,
        idempotency_key: Option<&str>,
    ) -> Result<()> {
        let keys = self.keys.seeker(seeker, idempotency_key);
        self.on_seeker(
            &self.scripts.seeker_release,
            keys,
            &[&hold.member(), &flag(idempotency_key.is_some())],
        )
        .await?;
        Ok(())
    }

    /// The seeker's record of a live hold.
    pub async fn hold_record(&self, seeker: SeekerId, hold: HoldId) -> Result<Option<HoldRecord>> {
        let reply = self
            .on_seeker(
                &self.scripts.seeker_hold,
                self.keys.seeker(seeker, None),
                &[&hold],
            )
            .await?;
        let [member, expires] = reply.as_slice() else {
            return Ok(None);
        };
        // "hold_id|slot|expert", as `seeker_acquire.lua` writes it.
        let mut parts = member.split('|').skip(1);
        let parsed = (|| {
            Some(HoldRecord {
                hold_id: hold,
                slot_id: parts.next()?.parse().ok()?,
                expert_id: parts.next()?.parse().ok()?,
                expires_at: instant(expires).ok()?,
            })
        })();
        parsed
            .map(Some)
            .ok_or_else(|| ReserveError::Protocol(format!("bad hold record {member:?}")))
    }

    /// The slot's side of a hold: the one atomic decision that makes a slot
    /// go to exactly one seeker.
    #[tracing::instrument(skip(self))]
    pub async fn hold_slot(
        &self,
        expert: ExpertId,
        slot: SlotId,
        hold: HoldId,
        seeker: SeekerId,
        may_take_reserved: bool,
    ) -> Result<SlotHold> {
        let reply = self
            .on_expert(
                &self.scripts.hold,
                expert,
                &[
                    &slot,
                    &hold,
                    &seeker,
                    &millis(self.config.hold_ttl),
                    &millis(self.config.cutoff),
                    &flag(may_take_reserved),
                ],
            )
            .await?;
        match first(&reply) {
            "ok" => Ok(SlotHold::Held {
                expires_at: instant(reply.get(1).map_or("", String::as_str))?,
            }),
            "unavailable" => Ok(SlotHold::Unavailable),
            "too_late" => Ok(SlotHold::TooLate),
            "unknown" => Ok(SlotHold::Unknown),
            other => Err(ReserveError::Protocol(format!("hold: {other:?}"))),
        }
    }

    /// True when the hold is live; it is then kept alive for at least
    /// `extend` so it can't lapse while its confirmation commits.
    pub async fn verify_hold(
        &self,
        record: &HoldRecord,
        seeker: SeekerId,
        extend: Duration,
    ) -> Result<bool> {
        let reply = self
            .on_expert(
                &self.scripts.verify,
                record.expert_id,
                &[&record.slot_id, &record.hold_id, &seeker, &millis(extend)],
            )
            .await?;
        Ok(first(&reply) == "ok")
    }

    /// Lets go of a hold; the slot is open again at once.
    pub async fn release_slot(&self, record: &HoldRecord, seeker: SeekerId) -> Result<bool> {
        let reply = self
            .on_expert(
                &self.scripts.release,
                record.expert_id,
                &[&record.slot_id, &record.hold_id, &seeker],
            )
            .await?;
        Ok(first(&reply) == "ok")
    }

    /// Mirrors a committed booking.
    pub async fn mark_booked(&self, expert: ExpertId, slot: SlotId) -> Result<()> {
        self.on_expert(&self.scripts.book, expert, &[&slot]).await?;
        Ok(())
    }

    /// Mirrors a cancelled booking; `reopen` when the slot has not started.
    pub async fn unmark_booked(&self, expert: ExpertId, slot: SlotId, reopen: bool) -> Result<()> {
        self.on_expert(&self.scripts.unbook, expert, &[&slot, &flag(reopen)])
            .await?;
        Ok(())
    }

    /// Open slots of one expert between two instants, earliest first.
    pub async fn open_slots(
        &self,
        expert: ExpertId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        may_take_reserved: bool,
        limit: usize,
    ) -> Result<Vec<IndexedSlot>> {
        let reply = self
            .on_expert(
                &self.scripts.open,
                expert,
                &[
                    &from.timestamp_millis(),
                    &to.timestamp_millis(),
                    &flag(may_take_reserved),
                    &limit,
                ],
            )
            .await?;
        Ok(reply
            .chunks_exact(2)
            .filter_map(|p| IndexedSlot::parse(&p[0], &p[1]))
            .collect())
    }

    /// Open slots of many experts, earliest first, up to `limit` each: what
    /// the slate shows. Plain reads in two pipelined round trips (the open
    /// ids and whether any hold has expired unreaped, then the ids'
    /// metadata), instead of one script per expert: a slate reads ~30
    /// experts, and a script costs Redis several times what its reads do.
    /// Only open slots are in the open set, so nothing held or booked can
    /// show. An expert with an expired hold not yet given back is read
    /// through `open_slots`, whose script gives it back first, so a freed
    /// slot shows at once.
    pub async fn open_slots_many(
        &self,
        experts: &[ExpertId],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        may_take_reserved: bool,
        limit: usize,
    ) -> Result<Vec<Vec<IndexedSlot>>> {
        if experts.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // Room for the reserved slots a general seeker skips.
        let page = 2 * limit + 4;
        let keys: Vec<ExpertKeys> = experts.iter().map(|e| self.keys.expert(*e)).collect();
        let mut first = redis::pipe();
        for ExpertKeys(k) in &keys {
            first
                .cmd("ZRANGEBYSCORE")
                .arg(&k[0])
                .arg(from.timestamp_millis())
                .arg(to.timestamp_millis())
                .arg("LIMIT")
                .arg(0)
                .arg(page);
            first
                .cmd("ZCOUNT")
                .arg(&k[2])
                .arg("-inf")
                .arg(now.timestamp_millis());
        }
        let replies: Vec<redis::Value> = self.query(&first).await?;
        let mut ids: Vec<Vec<String>> = Vec::with_capacity(experts.len());
        let mut unreaped: Vec<bool> = Vec::with_capacity(experts.len());
        for pair in replies.chunks_exact(2) {
            ids.push(redis::from_redis_value(&pair[0])?);
            unreaped.push(redis::from_redis_value::<u64>(&pair[1])? > 0);
        }
        let mut second = redis::pipe();
        let mut wanted = 0;
        for (i, ExpertKeys(k)) in keys.iter().enumerate() {
            if !unreaped[i] && !ids[i].is_empty() {
                second.cmd("HMGET").arg(&k[1]).arg(&ids[i]);
                wanted += 1;
            }
        }
        let metas: Vec<Vec<Option<String>>> = if wanted > 0 {
            self.query(&second).await?
        } else {
            Vec::new()
        };
        let mut metas = metas.into_iter();
        let mut out = Vec::with_capacity(experts.len());
        for (i, expert) in experts.iter().enumerate() {
            if unreaped[i] {
                out.push(
                    self.open_slots(*expert, from, to, may_take_reserved, limit)
                        .await?,
                );
                continue;
            }
            if ids[i].is_empty() {
                out.push(Vec::new());
                continue;
            }
            let meta = metas.next().unwrap_or_default();
            out.push(
                ids[i]
                    .iter()
                    .zip(meta)
                    .filter_map(|(id, m)| IndexedSlot::parse(id, m.as_deref()?))
                    .filter(|s| {
                        s.ends_at > now
                            && (may_take_reserved || s.reserved_until.is_none_or(|r| r <= now))
                    })
                    .take(limit)
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Adds (or reopens) slots in the index.
    pub async fn upsert_slots(&self, expert: ExpertId, slots: &[IndexedSlot]) -> Result<()> {
        for chunk in slots.chunks(500) {
            let args: Vec<String> = chunk
                .iter()
                .flat_map(|s| [s.slot_id.to_string(), s.meta()])
                .collect();
            self.on_expert(&self.scripts.upsert, expert, &shown(&args))
                .await?;
        }
        self.mark_indexed(expert).await
    }

    /// Takes slots out of the index unless held or booked; returns those kept.
    pub async fn withdraw_slots(&self, expert: ExpertId, slots: &[SlotId]) -> Result<Vec<SlotId>> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<String> = slots.iter().map(ToString::to_string).collect();
        let reply = self
            .on_expert(&self.scripts.withdraw, expert, &shown(&args))
            .await?;
        Ok(reply.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Slots of this expert under a live hold.
    pub async fn held_slots(&self, expert: ExpertId) -> Result<Vec<SlotId>> {
        let reply = self.on_expert(&self.scripts.held, expert, &[]).await?;
        Ok(reply.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Per expert, the number of open slots starting in `[from, to]` for
    /// each `to` in `tos`, all in one round trip. Expired holds not yet
    /// reaped count as held here: a slight undercount that only affects
    /// weighting, never what is shown.
    pub async fn open_counts(
        &self,
        experts: &[ExpertId],
        from: DateTime<Utc>,
        tos: &[DateTime<Utc>],
    ) -> Result<Vec<Vec<u32>>> {
        if experts.is_empty() || tos.is_empty() {
            return Ok(vec![Vec::new(); experts.len()]);
        }
        let mut pipe = redis::pipe();
        for e in experts {
            let ExpertKeys(keys) = self.keys.expert(*e);
            for to in tos {
                pipe.cmd("ZCOUNT")
                    .arg(&keys[0])
                    .arg(from.timestamp_millis())
                    .arg(to.timestamp_millis());
            }
        }
        let flat: Vec<u32> = self.query(&pipe).await?;
        Ok(flat.chunks(tos.len()).map(<[u32]>::to_vec).collect())
    }

    /// Records a slate as served, in one round trip: an impression for each
    /// shown expert in the current bucket of the exposure window (which
    /// keeps the bucket for `window`), and the slate itself for the seeker's
    /// stability window.
    pub async fn record_served(&self, served: &Served<'_>) -> Result<()> {
        let mut pipe = redis::pipe();
        if !served.experts.is_empty() {
            let key = self.keys.impressions(served.bucket);
            for e in served.experts {
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg(e.to_string())
                    .arg(1)
                    .ignore();
            }
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(served.window))
                .ignore();
        }
        if let Some(remembered) = served.remembered {
            pipe.cmd("SET")
                .arg(self.keys.slate(served.seeker, served.filter))
                .arg(remembered)
                .arg("PX")
                .arg(millis(served.stability).max(1))
                .ignore();
        }
        self.query::<()>(&pipe).await?;
        Ok(())
    }

    /// Impressions per expert summed over the given buckets.
    pub async fn impressions(
        &self,
        buckets: &[i64],
    ) -> Result<std::collections::HashMap<ExpertId, u64>> {
        let mut pipe = redis::pipe();
        for b in buckets {
            pipe.cmd("HGETALL").arg(self.keys.impressions(*b));
        }
        let maps: Vec<std::collections::HashMap<String, u64>> = self.query(&pipe).await?;
        let mut out = std::collections::HashMap::new();
        for m in maps {
            for (k, v) in m {
                if let Ok(id) = k.parse() {
                    *out.entry(id).or_insert(0) += v;
                }
            }
        }
        Ok(out)
    }

    /// Experts whose index exists.
    pub async fn indexed_experts(&self) -> Result<Vec<ExpertId>> {
        let ids: Vec<String> = self
            .query(&*redis::cmd("SMEMBERS").arg(self.keys.indexed_experts()))
            .await?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// A value kept for a while under a seeker-scoped key (the stable slate).
    pub async fn get_slate(&self, seeker: SeekerId, filter: &str) -> Result<Option<String>> {
        Ok(self
            .query(&*redis::cmd("GET").arg(self.keys.slate(seeker, filter)))
            .await?)
    }

    /// Replaces one expert's index with Postgres' truth.
    pub async fn rebuild_expert(
        &self,
        expert: ExpertId,
        open: &[IndexedSlot],
        booked: &[SlotId],
    ) -> Result<()> {
        let mut args = vec![open.len().to_string()];
        args.extend(open.iter().flat_map(|s| [s.slot_id.to_string(), s.meta()]));
        args.extend(booked.iter().map(ToString::to_string));
        self.on_expert(&self.scripts.rebuild, expert, &shown(&args))
            .await?;
        self.mark_indexed(expert).await
    }

    async fn mark_indexed(&self, expert: ExpertId) -> Result<()> {
        self.query::<()>(
            &*redis::cmd("SADD")
                .arg(self.keys.indexed_experts())
                .arg(expert.to_string()),
        )
        .await?;
        Ok(())
    }

    /// Drops an expert from the index entirely (suspended).
    pub async fn drop_expert(&self, expert: ExpertId) -> Result<()> {
        let ExpertKeys(keys) = self.keys.expert(expert);
        self.query::<()>(
            &*redis::pipe()
                .cmd("SREM")
                .arg(self.keys.indexed_experts())
                .arg(expert.to_string())
                .cmd("DEL")
                .arg(&keys[..]),
        )
        .await?;
        Ok(())
    }

    /// Whether the index for this expert exists (it vanishes with a wipe).
    pub async fn is_indexed(&self, expert: ExpertId) -> Result<bool> {
        Ok(self
            .query(
                &*redis::cmd("SISMEMBER")
                    .arg(self.keys.indexed_experts())
                    .arg(expert.to_string()),
            )
            .await?)
    }

    /// Whether the index built from Postgres is still there (one `GET`).
    pub async fn index_state(&self) -> Result<IndexState> {
        let marker: Option<String> = self
            .query(&*redis::cmd("GET").arg(self.keys.index_marker()))
            .await?;
        Ok(match marker {
            None => IndexState::Missing,
            Some(m) => match m.strip_prefix(READY) {
                Some(token) => IndexState::Ready(token.to_string()),
                None => IndexState::Rebuilding,
            },
        })
    }

    /// Claims the rebuild of a missing index for `lease` (so N instances
    /// don't all rebuild at once, and one that dies leaves it to another).
    /// True when this caller is to rebuild.
    pub async fn claim_rebuild(&self, token: &str, lease: Duration) -> Result<bool> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.keys.index_marker())
                    .arg(format!("{REBUILDING}{token}"))
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(lease).max(1)),
            )
            .await?;
        Ok(set.is_some())
    }

    /// Marks the index built by the rebuild `token` claimed. False when the
    /// claim is gone: Redis lost everything again while the rebuild ran, so
    /// what it wrote is incomplete and must be rebuilt.
    pub async fn finish_rebuild(&self, token: &str) -> Result<bool> {
        self.settle_claim(token, &format!("{READY}{token}")).await
    }

    /// Gives back a claim whose rebuild failed.
    pub async fn abandon_rebuild(&self, token: &str) -> Result<()> {
        self.settle_claim(token, "").await?;
        Ok(())
    }

    /// Replaces `token`'s claim with `ready` ('' deletes it), if the claim is
    /// still there; false when it is gone.
    async fn settle_claim(&self, token: &str, ready: &str) -> Result<bool> {
        let marker = self.keys.index_marker();
        let claimed = format!("{REBUILDING}{token}");
        let reply = self
            .eval(
                &self.scripts.index_built,
                std::slice::from_ref(&marker),
                &[&claimed, &ready],
            )
            .await?;
        Ok(first(&reply) == "ok")
    }

    fn rate_interval(&self) -> Duration {
        Duration::from_millis(60_000 / u64::from(self.config.holds_per_minute_per_seeker.max(1)))
    }
}
