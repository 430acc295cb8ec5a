//! The system of record: PostgreSQL through sqlx. Every query Anxin runs lives
//! here as a small instrumented function; callers get domain types back and one
//! error type, `StoreError`, converted from `sqlx::Error` in one place.

pub mod audit;
pub mod bookings;
pub mod call_tasks;
pub mod crypto;
pub mod events;
pub mod experts;
pub mod help_now;
pub mod organisations;
pub mod payments;
pub mod referrals;
pub mod regions;
pub mod resources;
mod row;
pub mod seekers;
pub mod sign_in;
pub mod slots;
pub mod supervision;
pub mod waitlist;
pub mod webhooks;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Executor, PgPool};
use std::str::FromStr;
use std::time::Duration;

pub use sqlx::PgConnection as Connection;
pub use sqlx::PgPool as Pool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A constraint refused the write; the name says which.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database: {0}")]
    Other(#[source] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            // A column that doesn't read as its type: a name off its list.
            sqlx::Error::ColumnDecode { index, source } => {
                Self::Corrupt(format!("column {index}: {source}"))
            }
            sqlx::Error::Database(db) if db.is_unique_violation() || db.is_check_violation() => {
                Self::Conflict(db.constraint().unwrap_or("constraint").to_string())
            }
            // 23P01: exclusion_violation (the no-overlap constraint).
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23P01") => {
                Self::Conflict(db.constraint().unwrap_or("exclusion").to_string())
            }
            _ => Self::Other(e),
        }
    }
}

/// A stored name that isn't one of its type's names is corrupt data.
impl From<anxin_domain::named::UnknownName> for StoreError {
    fn from(e: anxin_domain::named::UnknownName) -> Self {
        Self::Corrupt(e.to_string())
    }
}

impl StoreError {
    /// Postgres is unreachable, restarting or out of connections: the
    /// request may succeed if retried shortly, and the client is told so
    /// (503), not that the service is broken (500).
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Other(e) => is_outage(e),
            _ => false,
        }
    }
}

fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01-03: the server is shutting
        // down, crashed or still starting; 53300: too many connections.
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "53300")
        }),
        // A connection the server dropped mid-reply.
        sqlx::Error::Protocol(m) => m.contains("unexpected end of file") || m.contains("closed"),
        _ => false,
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// How long a request waits for a connection before it is answered 503:
/// with Postgres down, no request should hang much longer than this.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a pool. Connections are made lazily, so a process can start (and
/// report not-ready) while Postgres is still coming up.
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options))
}

/// Creates the database named in `url` if it does not exist yet, by way of the
/// server's `postgres` database.
pub async fn ensure_database(url: &str) -> Result<()> {
    let options = PgConnectOptions::from_str(url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = options.database("postgres").connect().await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        let quoted = name.replace('"', "\"\"");
        admin
            .execute(format!("CREATE DATABASE \"{quoted}\"").as_str())
            .await
            .or_else(|e| match &e {
                // Another process created it first.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P04") => {
                    Ok(Default::default())
                }
                _ => Err(e),
            })?;
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| StoreError::Other(sqlx::Error::Migrate(Box::new(e))))
}

#[tracing::instrument(skip_all)]
pub async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
