//! The connections: one per thread and handle for requests, a bulk one for
//! work over every expert, and how each behaves when Redis goes away.
use crate::cluster::SlotMap;
use crate::keys::{Keys, SeekerKeys};
use crate::{millis, Arg, ReserveConfig, Result, Shown};
use anxin_domain::ids::ExpertId;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Script, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How Anxin's Redis connections behave when Redis goes away. The client's
/// defaults retry a lost connection six times with exponential backoff
/// (about 12 s) while every request waits on it, and never time a reply
/// out: requests hung, then failed, and the connection came back seconds
/// after Redis did. Here a request waits at most `response` for a reply and
/// `CONNECT_TIMEOUT` for a connection, and each request that finds the connection
/// down tries once to reconnect: Redis answering again is noticed by the
/// next request.
fn connection_config(response: Duration) -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_exponent_base(2)
        .set_factor(50)
        .set_max_delay(100)
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response)
}

/// How a cluster connection retries a command that met a redirection, a
/// node that went away, or a cluster still electing a new master: about
/// 3 s in all, enough for a replica to take over (`cluster-node-timeout`
/// plus an election), and short enough that a request fails as 503 rather
/// than hanging.
const CLUSTER_RETRIES: u32 = 8;
const CLUSTER_RETRY_WAIT_MS: (u64, u64) = (50, 600);

/// Where Anxin's Redis is: one server (`ANXIN_REDIS_URL`), or a Redis
/// Cluster reached through its seed nodes (`ANXIN_REDIS_CLUSTER_NODES`).
#[derive(Clone, Debug)]
pub enum RedisServer {
    Node(redis::Client),
    /// The seed nodes, and which node serves each slot (shared by every
    /// connection: see `cluster.rs`).
    Cluster(Vec<String>, Arc<SlotMap>),
}

impl RedisServer {
    /// The cluster when `cluster_nodes` (comma-separated `redis://host:port`)
    /// names any node, else the one server at `url`.
    pub fn new(url: &str, cluster_nodes: Option<&str>) -> Result<Self> {
        let nodes: Vec<String> = cluster_nodes
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        if nodes.is_empty() {
            return Ok(Self::Node(redis::Client::open(url)?));
        }
        for node in &nodes {
            redis::Client::open(node.as_str())?;
        }
        Ok(Self::Cluster(nodes, Arc::default()))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(..))
    }

    /// A connection whose commands wait at most `response` for a reply (see
    /// `connection_config`).
    pub async fn connect(&self, response: Duration) -> RedisResult<RedisConnection> {
        match self {
            Self::Node(client) => Ok(RedisConnection::Node(
                ConnectionManager::new_with_config(client.clone(), connection_config(response))
                    .await?,
            )),
            Self::Cluster(nodes, slots) => {
                let (min_wait, max_wait) = CLUSTER_RETRY_WAIT_MS;
                let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(response)
                    .retries(CLUSTER_RETRIES)
                    .min_retry_wait(min_wait)
                    .max_retry_wait(max_wait)
                    .build()?;
                Ok(RedisConnection::Cluster(
                    client.get_async_connection().await?,
                    slots.clone(),
                ))
            }
        }
    }
}

/// One connection to Anxin's Redis, whichever kind it is; everything that
/// talks to Redis (requests, the call worker, tests) goes through it.
/// Commands go where the cluster client routes them (by key, following
/// MOVED and ASK); a pipeline across hash slots is split by node (see
/// `cluster.rs`).
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // Cloned for each request: boxing would allocate each time.
pub enum RedisConnection {
    Node(ConnectionManager),
    Cluster(ClusterConnection, Arc<SlotMap>),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(c) => c.req_packed_command(cmd),
            Self::Cluster(c, _) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(c) => c.req_packed_commands(pipeline, offset, count),
            // A transaction (`offset` past its MULTI) must keep to one slot.
            Self::Cluster(c, slots) => {
                if offset > 0 {
                    c.req_packed_commands(pipeline, offset, count)
                } else {
                    Box::pin(crate::cluster::send(c.clone(), slots, pipeline))
                }
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(c) => c.get_db(),
            Self::Cluster(c, _) => c.get_db(),
        }
    }
}

/// A cluster's MOVED or ASK that reached us: the client follows them for a
/// command, but not for a command inside a pipeline, and a command whose
/// retries ran out during a failover ends with the last one it got. The
/// client has refreshed its slot map by then, so once more is enough.
fn is_redirection(e: &redis::RedisError) -> bool {
    matches!(e.kind(), redis::ErrorKind::Moved | redis::ErrorKind::Ask)
}

/// How long a connection attempt may take (loopback or one data centre).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a request's command may wait for its reply.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(1500);
/// The bulk connection's pipelines (every expert's counts) take longer.
const BULK_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A Lua script: its source, and the SHA1 `EVALSHA` names it by.
pub(crate) struct Lua {
    code: String,
    hash: String,
}

impl Lua {
    fn new(code: String) -> Self {
        let hash = Script::new(&code).get_hash().to_string();
        Self { code, hash }
    }
}

pub(crate) struct Scripts {
    pub(crate) hold: Lua,
    pub(crate) hold_both: Lua,
    pub(crate) verify: Lua,
    pub(crate) book: Lua,
    pub(crate) book_both: Lua,
    pub(crate) release: Lua,
    pub(crate) unbook: Lua,
    pub(crate) open: Lua,
    pub(crate) upsert: Lua,
    pub(crate) withdraw: Lua,
    pub(crate) rebuild: Lua,
    pub(crate) held: Lua,
    pub(crate) seeker_acquire: Lua,
    pub(crate) seeker_release: Lua,
    pub(crate) seeker_hold: Lua,
    pub(crate) seeker_extend: Lua,
    pub(crate) index_built: Lua,
}

impl Scripts {
    /// The scripts, with the hold's settings written into those that use
    /// them: an argument costs Redis more to take in (about 1,600
    /// instructions) than a constant in the script's text costs.
    fn load(config: &ReserveConfig) -> Self {
        let head = include_str!("lua/expert_head.lua");
        let prelude = format!("{head}\n{}", include_str!("lua/expert_prelude.lua"));
        let settings = format!(
            "local HOLD_TTL_MS, CUTOFF_MS, HOLD_LIMIT, IDEMPOTENCY_TTL_MS, RATE_INTERVAL_MS, RATE_BURST = {}, {}, {}, {}, {}, {}",
            millis(config.hold_ttl),
            millis(config.cutoff),
            config.max_holds_per_seeker,
            millis(config.idempotency_ttl),
            millis(config.rate_interval()).max(1),
            config.holds_per_minute_per_seeker.max(1),
        );
        let expert = |body: &str| Lua::new(format!("{prelude}\n{body}"));
        let alone = |body: &str| Lua::new(body.to_string());
        let slot_side = format!("{settings}\n{}", include_str!("lua/hold.lua"));
        let seeker_side = include_str!("lua/seeker_side.lua");
        let book = include_str!("lua/book.lua");
        let release = include_str!("lua/seeker_release.lua");
        // The seeker's side, with where its keys start and which arguments
        // are its own.
        let seeker = |keys: usize, args: &str| {
            format!(
                "local S_KEYS = {keys}\n\
                 local S_HOLD, S_SLOT, S_EXPERT, S_REQUEST_HASH, S_HAS_IDEMPOTENCY = {args}\n\
                 {seeker_side}"
            )
        };
        Self {
            hold: expert(&format!("{slot_side}\nreturn take_slot()")),
            hold_both: expert(&format!(
                "{slot_side}\n{}\n{}",
                seeker(6, "ARGV[2], ARGV[1], ARGV[5], ARGV[6], ARGV[7]"),
                include_str!("lua/hold_both.lua")
            )),
            verify: Lua::new(format!("{head}\n{}", include_str!("lua/verify.lua"))),
            book: expert(&format!("{book}\nmark_booked(ARGV[1])\nreturn {{'ok'}}")),
            book_both: expert(&format!(
                "{book}\nlocal S_KEYS = 6\n{release}\n{}",
                include_str!("lua/book_both.lua")
            )),
            release: expert(include_str!("lua/release.lua")),
            unbook: expert(include_str!("lua/unbook.lua")),
            open: expert(include_str!("lua/open.lua")),
            upsert: expert(include_str!("lua/upsert.lua")),
            withdraw: expert(include_str!("lua/withdraw.lua")),
            rebuild: expert(include_str!("lua/rebuild.lua")),
            held: expert(include_str!("lua/held.lua")),
            seeker_acquire: alone(&format!(
                "{settings}\n{}\n{}",
                seeker(0, "ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]"),
                include_str!("lua/seeker_acquire.lua")
            )),
            seeker_release: alone(&format!(
                "local S_KEYS = 0\n{release}\nforget_hold(ARGV[1], ARGV[2])\nreturn {{'ok'}}"
            )),
            seeker_hold: alone(include_str!("lua/seeker_hold.lua")),
            seeker_extend: alone(include_str!("lua/seeker_extend.lua")),
            index_built: alone(include_str!("lua/index_built.lua")),
        }
    }
}

/// A command or a pipeline, sent the same way (see `Reserve::query`).
pub(crate) trait Query {
    fn send<T: redis::FromRedisValue>(
        &self,
        c: &mut RedisConnection,
    ) -> impl std::future::Future<Output = redis::RedisResult<T>> + Send;
}

impl Query for redis::Cmd {
    fn send<T: redis::FromRedisValue>(
        &self,
        c: &mut RedisConnection,
    ) -> impl std::future::Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(c)
    }
}

impl Query for redis::Pipeline {
    fn send<T: redis::FromRedisValue>(
        &self,
        c: &mut RedisConnection,
    ) -> impl std::future::Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(c)
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// Per thread, the connection of each `Reserve` handle used on it.
    static LOCAL: std::cell::RefCell<HashMap<u64, RedisConnection>> =
        std::cell::RefCell::new(HashMap::new());
}

/// The handle every API instance and worker shares. Cheap to clone.
#[derive(Clone)]
pub struct Reserve {
    server: RedisServer,
    /// Names this handle's connections in each thread's `LOCAL` map.
    id: u64,
    /// Use a connection of the calling thread's own (see `LOCAL`); the bulk
    /// handle doesn't.
    per_thread: bool,
    /// The shared connection: the bulk handle's, and the fallback when a
    /// thread can't open its own.
    conn: RedisConnection,
    /// A second connection for bulk work (weight snapshots over every expert,
    /// rebuilds): a pipeline of tens of thousands of commands on `conn` would
    /// queue every request's reply behind it.
    bulk: RedisConnection,
    pub(crate) keys: Keys,
    pub(crate) config: Arc<ReserveConfig>,
    pub(crate) scripts: Arc<Scripts>,
    /// Each expert's open slots as last read, by version (see
    /// `Reserve::open_slots_many`); shared by the handle's clones.
    pub(crate) open_copies: Arc<crate::index::OpenCopies>,
}

impl Reserve {
    pub async fn connect(server: &RedisServer, config: ReserveConfig) -> Result<Self> {
        let conn = server.connect(RESPONSE_TIMEOUT).await?;
        let bulk = server.connect(BULK_RESPONSE_TIMEOUT).await?;
        Ok(Self {
            keys: Keys::new(&config.key_prefix),
            server: server.clone(),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            per_thread: true,
            conn,
            bulk,
            scripts: Arc::new(Scripts::load(&config)),
            config: Arc::new(config),
            open_copies: Arc::default(),
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

    /// Anxin's Redis is a cluster, whose hash slots part a seeker's keys
    /// from an expert's.
    pub(crate) fn is_cluster(&self) -> bool {
        self.server.is_cluster()
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
    async fn conn(&self) -> RedisConnection {
        if !self.per_thread {
            return self.conn.clone();
        }
        if let Some(c) = LOCAL.with(|l| l.borrow().get(&self.id).cloned()) {
            return c;
        }
        match self.server.connect(RESPONSE_TIMEOUT).await {
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
    /// expires, never a second booking (Postgres refuses one). A command a
    /// cluster redirected (see `is_redirection`) never ran, and is sent again.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        q: &(impl Query + ?Sized),
    ) -> redis::RedisResult<T> {
        let mut c = self.conn().await;
        match q.send(&mut c).await {
            Err(e) if e.is_connection_dropped() || is_redirection(&e) => {
                q.send(&mut self.conn().await).await
            }
            reply => reply,
        }
    }

    pub async fn ping(&self) -> Result<()> {
        self.query::<String>(&redis::cmd("PING")).await?;
        Ok(())
    }

    /// Runs one of the expert scripts on `expert`'s keys.
    pub(crate) async fn on_expert(
        &self,
        script: &Lua,
        expert: ExpertId,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let keys = self.keys.expert(expert);
        self.eval(script, &keys.all(), args).await
    }

    /// Runs one of the seeker scripts.
    pub(crate) async fn on_seeker(
        &self,
        script: &Lua,
        SeekerKeys(keys): SeekerKeys,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let [holds, idempotency] = &keys;
        self.eval(script, &[holds, idempotency], args).await
    }

    /// Runs one of the scripts over both an expert's keys and a seeker's
    /// (the expert's six first), on a Redis that has both: not a cluster.
    pub(crate) async fn on_both(
        &self,
        script: &Lua,
        expert: ExpertId,
        SeekerKeys([holds, idempotency]): SeekerKeys,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let keys = self.keys.expert(expert);
        let [k1, k2, k3, k4, k5, k6] = keys.all();
        self.eval(
            script,
            &[k1, k2, k3, k4, k5, k6, &holds, &idempotency],
            args,
        )
        .await
    }

    /// `EVALSHA`, or `EVAL` with the script's source if this Redis doesn't
    /// know it yet (a restart, a wipe, a replica just promoted), which also
    /// caches it there. `EVAL` goes to the node of the script's keys, as
    /// `EVALSHA` does: a `SCRIPT LOAD` would have to reach every node of a
    /// cluster, and fails while one of them is down. Keys and arguments go
    /// straight into the command's buffer: `ScriptInvocation` copies each
    /// into an allocation of its own and then again into the command, on
    /// every hold.
    pub(crate) async fn eval(
        &self,
        script: &Lua,
        keys: &[&str],
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let command = |verb: &str, body: &str| {
            // Sized for the slot side of a hold (about 520 bytes), so writing
            // the arguments doesn't grow it.
            let mut cmd = redis::Cmd::with_capacity(3 + keys.len() + args.len(), 640);
            cmd.arg(verb).arg(body).arg(keys.len()).arg(keys);
            for a in args {
                cmd.arg(Shown(*a));
            }
            cmd
        };
        match self.query(&command("EVALSHA", &script.hash)).await {
            Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                Ok(self.query(&command("EVAL", &script.code)).await?)
            }
            reply => Ok(reply?),
        }
    }
}
