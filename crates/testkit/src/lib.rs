//! The test scaffolding every Anxin suite shares (the API, dashboard and call
//! tests): one variable for the test Postgres server and one for the test
//! Redis, a uniquely named database per test that is dropped when the test
//! ends, the external programs a test needs (installed by `./scripts/test`,
//! never by a test), and free loopback ports.
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
