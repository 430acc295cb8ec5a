//! The test scaffolding every Anxin suite shares (the API, dashboard and call
//! tests): one variable for the test Postgres server and one for the test
//! Redis, a uniquely named database per test that is dropped when the test
//! ends, the external programs a test needs (installed by `./scripts/test`,
//! never by a test), free loopback ports, and one way to wait for a
//! condition instead of sleeping a fixed time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, UdpSocket};
use std::path::Path;

/// The Postgres server the tests create their databases on
/// (`ANXIN_TEST_DATABASE_URL`, without a database name).
pub fn database_server() -> String {
    std::env::var("ANXIN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The Redis the tests use (`ANXIN_TEST_REDIS_URL`); each test keeps to a key
/// prefix of its own.
pub fn redis_url() -> String {
    std::env::var("ANXIN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The Redis Cluster to use instead (`ANXIN_TEST_REDIS_CLUSTER_NODES`,
/// comma-separated seed nodes), set when `./scripts/test` runs the suites
/// that touch Redis a second time, on a local cluster.
pub fn redis_cluster_nodes() -> Option<String> {
    std::env::var("ANXIN_TEST_REDIS_CLUSTER_NODES")
        .ok()
        .filter(|n| !n.trim().is_empty())
}

/// A database of one test's own, named uniquely on the test server, dropped
/// (with any connections still open to it) when this value is dropped. The
/// database itself is created by whoever connects first: the application
/// (`Application::build` creates and migrates it) or [`TestDatabase::migrated`].
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn new() -> Self {
        Self::at(&Self::url_for(&format!(
            "anxin_test_{}",
            uuid::Uuid::new_v4().simple()
        )))
    }

    /// The URL of the database `name` on the test server.
    pub fn url_for(name: &str) -> String {
        format!("{}/{name}", database_server())
    }

    /// The guard of the database `url` names (its last path segment).
    pub fn at(url: &str) -> Self {
        let name = url.rsplit('/').next().unwrap_or_default();
        let name = name.split('?').next().unwrap_or_default().to_string();
        assert!(
            name.starts_with("anxin_test_"),
            "{name:?} is not a test database; only those are dropped"
        );
        Self {
            name,
            url: url.to_string(),
        }
    }

    /// Creates the database with the migrations applied, and a pool on it.
    pub async fn migrated(&self, max_connections: u32) -> sqlx::PgPool {
        anxin_store::ensure_database(&self.url).await.unwrap();
        let pool = anxin_store::connect_lazy(&self.url, max_connections).unwrap();
        anxin_store::migrate(&pool).await.unwrap();
        pool
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    /// Runs on a thread of its own with its own runtime: the test's runtime
    /// may be the one being shut down.
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = format!("{}/postgres", database_server());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await?;
                c.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("test database {} was not dropped", self.name);
        }
    }
}

/// Fails the test with what to do when `program` is not installed.
/// `./scripts/test` installs every program a test needs (the Debian package
/// is named so the message says which).
pub fn require_program(program: &str, debian_package: &str) {
    let found = Path::new(program).is_absolute() && Path::new(program).exists()
        || std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).exists()));
    assert!(
        found,
        "`{program}` is not installed: run the tests with ./scripts/test, which installs \
         the Debian package `{debian_package}`"
    );
}

/// Waits until `check` gives `Some`, polling every `every`, and returns
/// what it gave; fails the test naming `what` after `within`. A test waits
/// for a condition this way rather than sleeping for a guessed time.
pub async fn eventually<T, F, Fut>(
    what: &str,
    within: std::time::Duration,
    every: std::time::Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Waits until `read` gives the same value twice `quiet` apart (a
/// background writer has stopped writing), and returns it.
pub async fn settled<T, F, Fut>(what: &str, quiet: std::time::Duration, mut read: F) -> T
where
    T: PartialEq,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut last = read().await;
    loop {
        tokio::time::sleep(quiet).await;
        let now = read().await;
        if now == last {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still changing after 30 s"
        );
        last = now;
    }
}

/// A UDP port on loopback that was free a moment ago (for a SIP peer).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis Cluster of a test's own (three masters, three replicas), started
/// by `scripts/redis-cluster` on free loopback ports, for tests that break
/// it (a failover). Stopped when dropped.
pub struct RedisCluster {
    base: u16,
    dir: std::path::PathBuf,
    /// The seed nodes, as `ANXIN_REDIS_CLUSTER_NODES` takes them.
    pub nodes: String,
}

impl RedisCluster {
    /// `node_timeout_ms` is how long a master may be silent before its
    /// replica takes over.
    pub fn start(node_timeout_ms: u32) -> Self {
        require_program("redis-server", "redis-server");
        let base = free_port_block();
        let dir = std::env::temp_dir().join(format!("anxin-test-cluster-{base}"));
        let out = Self::script(&[
            "start",
            &base.to_string(),
            dir.to_str().unwrap(),
            &node_timeout_ms.to_string(),
        ]);
        Self {
            base,
            dir,
            nodes: out.trim().to_string(),
        }
    }

    fn script(args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/redis-cluster");
        let out = std::process::Command::new(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/redis-cluster {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn ports(&self) -> impl Iterator<Item = u16> {
        self.base..self.base + 6
    }

    /// What `redis-cli -p <port> <args>` prints (empty when the node is gone).
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        std::process::Command::new("redis-cli")
            .arg("-p")
            .arg(port.to_string())
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The master serving `key` now.
    pub fn master_of(&self, key: &str) -> Option<u16> {
        self.ports().find(|&p| {
            self.cli(p, &["role"]).starts_with("master")
                && self.cli(p, &["exists", key]).trim() == "1"
        })
    }

    /// Kills a node at once (`kill -9`): no shutdown, no last write.
    pub fn kill(&self, port: u16) {
        let pid = std::fs::read_to_string(self.dir.join(format!("{port}.pid"))).unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -9 {pid}");
    }

    /// Waits until every node but `dead` says the cluster is whole again
    /// (the dead master's replica promoted); false after `within`.
    pub fn wait_for_failover(&self, dead: u16, within: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            let masters = self
                .ports()
                .filter(|&p| p != dead && self.cli(p, &["role"]).starts_with("master"))
                .count();
            let whole = self.ports().filter(|&p| p != dead).all(|p| {
                self.cli(p, &["cluster", "info"])
                    .contains("cluster_state:ok")
            });
            if masters == 3 && whole {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        Self::script(&["stop", &self.base.to_string()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The first of six consecutive loopback ports, each free with its cluster
/// bus port (+10000), all below the kernel's range for outgoing ports.
fn free_port_block() -> u16 {
    let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    let seed = (uuid::Uuid::new_v4().as_u128() % 4000) as u16;
    (0..4000u16)
        .map(|i| 12000 + (seed + i * 6) % 4000)
        .find(|&b| (b..b + 6).all(|p| free(p) && free(p + 10000)))
        .expect("no six free ports for a test cluster")
}
