//! Storage: the one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations, and the bridge that runs Diesel off the async workers;
//! on PostgreSQL also an async driver for the refresh rotation's one
//! statement (`async_pg.rs`).
//!
//! Every query lives in the file of its table (`users.rs`, `sessions.rs`, …);
//! nothing outside `db/` writes SQL.
//!
//! Two rules keep both backends honest under concurrency:
//! - "now" is bound from Rust (the server's clock, `clock.rs`, which keeps
//!   microseconds as both backends do), never the database's clock;
//! - every write runs in one transaction that takes SQLite's write lock up
//!   front (`BEGIN IMMEDIATE`, waiting out `busy_timeout`) instead of failing
//!   to upgrade a read snapshot, and commits only while its caller still
//!   waits (`deadline.rs`).
//!
//! Lookups by key end in `get_result`, never `first`: `first` binds `LIMIT ?`,
//! and SQLite (built with STAT4, as the bundled one is) re-prepares such a
//! statement at every execution, which cost a refresh a fifth of its time.

mod async_pg;
pub mod audit;
mod deadline;
pub mod ids;
pub mod login_failures;
pub mod mfa;
pub mod one_time_tokens;
pub mod outbox;
pub mod passkeys;
mod pool;
pub mod role;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod signing_keys;
pub mod token_versions;
mod url;
pub mod users;
mod writer;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use async_pg::AsyncPg;
pub use ids::{SessionId, UserId};
pub use pool::{CHECKOUT_TIMEOUT, CheckoutObserver, ConnectionManager, Database};
pub use role::Role;
pub use url::DatabaseUrl;

/// Why the database could not serve a request. Handlers turn every one of
/// these into 503 `unavailable`; the text is for the log.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No pooled connection within the checkout timeout (the database is
    /// down, unreachable, or every connection is busy).
    #[error("no database connection: {0}")]
    Checkout(#[from] diesel::r2d2::PoolError),
    /// A connection could not be opened.
    #[error("cannot open the database: {0}")]
    Open(#[from] diesel::r2d2::Error),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The blocking thread pool is gone (the server is shutting down) or the
    /// task panicked.
    #[error("the blocking task failed: {0}")]
    Blocking(String),
    /// No connection of the async driver (`async_pg.rs`) within the timeout.
    #[error("no database connection: {0}")]
    AsyncCheckout(#[from] deadpool_postgres::PoolError),
    /// The async driver's pool could not be made.
    #[error("cannot make the database pool: {0}")]
    AsyncPool(#[from] deadpool_postgres::BuildError),
    /// A statement of the async driver failed.
    #[error("database error: {0}")]
    AsyncQuery(#[from] tokio_postgres::Error),
    /// The work did not finish within the database timeout; if it was a
    /// write, it is rolled back (see [`Database::write`]).
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

/// Whether `error` is a unique-constraint violation (an email taken, a
/// setting inserted by another instance first).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Runs blocking work (Diesel, bcrypt) on the blocking thread pool, never on
/// an async worker.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Blocking(e.to_string()))
}

/// Runs `$body` with `$c` bound to the concrete connection inside
/// `$conn: &mut DbConnection`, for hot queries. Through the enum, Diesel
/// writes the query's SQL out again on every call (the multi-backend wrapper
/// serialises it while collecting the binds), 13 % of a SQLite rotation
/// (`bench/profiles/refresh-sqlite-5-…`); on the backend's own connection a
/// cached statement is found by the query's type and only bound.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// The embedded default.
    Sqlite(SqliteConnection),
    /// What several instances share.
    Pg(PgConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Why migrations could not run; shown with its cause at start-up.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

fn run_migrations(conn: &mut DbConnection) -> Result<usize, MigrationError> {
    match conn {
        DbConnection::Sqlite(conn) => Ok(conn.run_pending_migrations(SQLITE_MIGRATIONS)?.len()),
        DbConnection::Pg(conn) => {
            // Several instances may start at once against one database.
            const LOCK: &str = "SELECT pg_advisory_lock(7310112026)";
            const UNLOCK: &str = "SELECT pg_advisory_unlock(7310112026)";
            conn.batch_execute(LOCK)?;
            let ran = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            conn.batch_execute(UNLOCK)?;
            Ok(ran?)
        }
    }
}

/// Fails unless every table of the schema is there: what readiness checks,
/// since a reachable database whose schema is gone (dropped and recreated, a
/// deleted SQLite file) can serve nothing.
pub fn check_schema(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    for table in [
        "users",
        "token_versions",
        "sessions",
        "audit_events",
        "settings",
        "login_failures",
        "login_attempts",
        "signing_keys",
        "one_time_tokens",
        "outbox",
        "totp_factors",
        "recovery_codes",
        "mfa_challenges",
        "passkeys",
        "webauthn_ceremonies",
    ] {
        conn.batch_execute(&format!("SELECT 1 FROM {table} WHERE 1 = 0"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_carry_the_same_migrations() {
        let names = |dir: &str| {
            let mut v: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let sqlite = names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"));
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite,
            names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        );
    }
}
