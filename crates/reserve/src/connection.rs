//! The connections: one per thread and handle for requests, a bulk one for
//! work over every expert, and how each behaves when Redis goes away.
use crate::keys::{Keys, SeekerKeys};
use crate::{Arg, ReserveConfig, Result, Shown};
use anxin_domain::ids::ExpertId;
use redis::aio::ConnectionManager;
use redis::Script;
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

pub(crate) struct Scripts {
    pub(crate) hold: Script,
    pub(crate) verify: Script,
    pub(crate) book: Script,
    pub(crate) release: Script,
    pub(crate) unbook: Script,
    pub(crate) open: Script,
    pub(crate) upsert: Script,
    pub(crate) withdraw: Script,
    pub(crate) rebuild: Script,
    pub(crate) held: Script,
    pub(crate) seeker_acquire: Script,
    pub(crate) seeker_release: Script,
    pub(crate) seeker_hold: Script,
    pub(crate) index_built: Script,
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

/// A command or a pipeline, sent the same way (see `Reserve::query`).
pub(crate) trait Query {
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
    pub(crate) keys: Keys,
    pub(crate) config: Arc<ReserveConfig>,
    pub(crate) scripts: Arc<Scripts>,
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
    pub(crate) async fn query<T: redis::FromRedisValue>(
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
    pub(crate) async fn on_expert(
        &self,
        script: &Script,
        expert: ExpertId,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let keys = self.keys.expert(expert);
        self.eval(script, &keys.all(), args).await
    }

    /// Runs one of the seeker scripts.
    pub(crate) async fn on_seeker(
        &self,
        script: &Script,
        SeekerKeys(keys): SeekerKeys,
        args: &[Arg<'_>],
    ) -> Result<Vec<String>> {
        let [holds, idempotency] = &keys;
        self.eval(script, &[holds, idempotency], args).await
    }

    /// `EVALSHA`, loading the script first if this Redis doesn't know it yet
    /// (a restart, a wipe). Keys and arguments go straight into the command's
    /// buffer: `ScriptInvocation` copies each into an allocation of its own
    /// and then again into the command, on every hold.
    pub(crate) async fn eval(
        &self,
        script: &Script,
        keys: &[&str],
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
}
