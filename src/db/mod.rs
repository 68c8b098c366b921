//! Storage: the one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations, and the bridge that runs Diesel off the async workers.
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

pub mod audit;
mod deadline;
pub mod ids;
pub mod login_failures;
pub mod role;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod signing_keys;
pub mod token_versions;
pub mod users;
mod writer;

use std::fmt;
use std::time::Duration;

use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use ids::{SessionId, UserId};
pub use role::Role;

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
    web::block(f)
        .await
        .map_err(|e| DbError::Blocking(e.to_string()))
}

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// The embedded default.
    Sqlite(SqliteConnection),
    /// What several instances share.
    Pg(PgConnection),
}

/// A parsed `WRISTBAND_DATABASE_URL`: the backend is chosen from the scheme here,
/// once, so a mistyped URL is a configuration error rather than a file named
/// `postgress://…` or an opaque "invalid connection url".
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: a database file (created if missing).
    SqliteFile(String),
    /// `sqlite::memory:`: one in-memory database shared by the whole process.
    SqliteMemory(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses the URL, refusing any scheme but `sqlite:` and `postgres(ql):`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url == "sqlite::memory:" {
            // The memdb VFS shares one database between the pool's connections
            // (a plain `:memory:` would give each connection its own), with the
            // ordinary locking and busy handling of SQLite.
            let name = format!(
                "file:/wristband-{}?vfs=memdb",
                uuid::Uuid::new_v4().simple()
            );
            return Ok(Self::SqliteMemory(name));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://wristband.db".into());
            }
            return Ok(Self::SqliteFile(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(with_network_timeouts(url)));
        }
        Err("expected sqlite://PATH, sqlite::memory: or postgres://…".into())
    }

    /// The backend's name, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::SqliteFile(_) | Self::SqliteMemory(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// libpq settings that keep a silent PostgreSQL host (packets dropped, no
/// reset) from holding connections and threads for the operating system's
/// minutes: a bounded connect, unacknowledged writes given up after 5 s, and
/// keepalives that notice a dead peer while a query waits. A URL that sets one
/// of them keeps its own.
const POSTGRES_TIMEOUTS: [(&str, &str); 5] = [
    ("connect_timeout", "5"),
    ("tcp_user_timeout", "5000"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "3"),
];

fn with_network_timeouts(url: &str) -> String {
    let mut url = url.to_owned();
    for (name, value) in POSTGRES_TIMEOUTS {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        if query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
        {
            continue;
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{name}={value}"));
    }
    url
}

impl fmt::Debug for DatabaseUrl {
    // A PostgreSQL URL may carry a password: show the backend only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SqliteFile(path) => write!(f, "sqlite://{path}"),
            Self::SqliteMemory(_) => f.write_str("sqlite::memory:"),
            Self::Postgres(_) => f.write_str("postgres://[redacted]"),
        }
    }
}

/// Opens connections for the pool, choosing the backend from the parsed URL.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// How long one statement may wait for a lock (SQLite's busy timeout,
    /// PostgreSQL's `lock_timeout`) or run (`statement_timeout`).
    statement_timeout: Duration,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        use diesel::r2d2::Error;
        match &self.url {
            DatabaseUrl::SqliteFile(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(Error::ConnectionError)?;
                conn.batch_execute(
                    // busy_timeout first: the pragmas after it may need a lock
                    // another connection holds, and must wait for it, not fail.
                    // A page cache of 1 MiB per connection (SQLite's default is
                    // 2 MiB): the pool holds 16, and the OS caches the file too.
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -1024;",
                )
                .map_err(Error::QueryError)?;
                // SQLite opens a file it cannot write read-only, and such a
                // connection would fail every write for as long as the pool
                // keeps it. Refuse it instead, so the pool retries later and
                // the server heals once the file is writable again. The probe
                // is a real write (`BEGIN IMMEDIATE` passes on a read-only
                // connection); `user_version` is otherwise unused.
                conn.batch_execute("PRAGMA user_version = 1;")
                    .map_err(Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::SqliteMemory(name) => {
                let mut conn = SqliteConnection::establish(name).map_err(Error::ConnectionError)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON;",
                    self.statement_timeout.as_millis()
                ))
                .map_err(Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(Error::ConnectionError)?;
                let millis = self.statement_timeout.as_millis();
                conn.batch_execute(&format!(
                    "SET statement_timeout = {millis}; SET lock_timeout = {millis};"
                ))
                .map_err(Error::QueryError)?;
                Ok(DbConnection::Pg(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        match conn {
            // A file SQLite connection has no peer to lose; what can go wrong
            // (the file becoming unwritable) shows on the next write.
            DbConnection::Sqlite(_) => Ok(()),
            DbConnection::Pg(_) => conn.ping().map_err(diesel::r2d2::Error::QueryError),
        }
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// What is told how long each checkout waited (the metrics' pool histogram).
pub type CheckoutObserver = std::sync::Arc<dyn Fn(Duration) + Send + Sync>;

/// The connection pool. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager>,
    observer: Option<CheckoutObserver>,
    /// SQLite only: the thread that runs this process's writes.
    writer: Option<writer::Writer>,
    /// How long a request waits for its database work (checkout included).
    timeout: Duration,
    /// Keeps an in-memory SQLite database alive while the process runs, however
    /// the pool recycles its connections.
    _keeper: Option<std::sync::Arc<std::sync::Mutex<DbConnection>>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("state", &self.pool.state())
            .finish()
    }
}

/// How long a request waits for a pooled connection before answering 503,
/// unless configured (`WRISTBAND_DATABASE_TIMEOUT`).
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long start-up (and the CLI) waits for its first connection: longer
/// than a request may wait, so a busy machine does not fail a start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

impl Database {
    /// Builds the pool. Connections are opened lazily; [`Database::migrate`],
    /// the first thing start-up does, fails when the database cannot be reached.
    pub fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, DbError> {
        Self::connect_with_timeout(url, max_connections, CHECKOUT_TIMEOUT)
    }

    /// [`Database::connect`], waiting at most `checkout_timeout` for a connection.
    pub fn connect_with_timeout(
        url: &DatabaseUrl,
        max_connections: u32,
        checkout_timeout: Duration,
    ) -> Result<Self, DbError> {
        let manager = ConnectionManager {
            url: url.clone(),
            statement_timeout: checkout_timeout,
        };
        let keeper = match url {
            DatabaseUrl::SqliteMemory(_) => {
                let conn = manager.connect()?;
                Some(std::sync::Arc::new(std::sync::Mutex::new(conn)))
            }
            _ => None,
        };
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(checkout_timeout)
            // Every failed checkout is logged once, with the last connection
            // error, by `get` (or reported by `migrate`); r2d2's own handler
            // would log each retry on top.
            .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
            .build_unchecked(manager);
        let writer = match url {
            DatabaseUrl::Postgres(_) => None,
            _ => Some(writer::Writer::start()?),
        };
        Ok(Self {
            pool,
            observer: None,
            writer,
            timeout: checkout_timeout,
            _keeper: keeper,
        })
    }

    /// Applies the pending embedded migrations of this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, MigrationError> {
        let mut conn = self.pool.get_timeout(STARTUP_TIMEOUT)?;
        run_migrations(&mut conn)
    }

    /// A connection for blocking code that is already off the async workers
    /// (start-up, the CLI, the purge task).
    pub fn get(&self) -> Result<PooledConnection<ConnectionManager>, DbError> {
        let asked = std::time::Instant::now();
        let conn = self.pool.get();
        if let Some(observe) = &self.observer {
            observe(asked.elapsed());
        }
        Ok(conn?)
    }

    /// This pool, telling `observer` how long each checkout waited.
    pub fn observed(mut self, observer: CheckoutObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// `(connections, idle)`: what the pool holds now.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool (see
    /// [`blocking`]). The checkout itself blocks, so it happens there too.
    /// `f` may fail with any error a [`DbError`] converts into.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        let work = blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        });
        // A read needs no claim: reading late changes nothing.
        deadline::wait(work, &deadline::Claim::default(), self.timeout).await?
    }

    /// [`Database::run`] for work that writes: in one transaction that
    /// commits only while its caller still waits (see `deadline.rs`). On
    /// SQLite it runs on the database's writer thread (see `writer.rs`),
    /// after the writes queued before it; PostgreSQL writers run side by side
    /// on the blocking pool.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.write_then(f, |_| {}).await
    }

    /// [`Database::write`], then `after` with its outcome, on the same thread
    /// once the transaction has committed or rolled back — even when the
    /// caller has gone meanwhile. What must follow a commit (forgetting
    /// revoked sessions from a cache) goes there, not in `f`: before the
    /// commit, a concurrent reader could still see the old rows.
    pub async fn write_then<T, E, F, A>(&self, f: F, after: A) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        A: FnOnce(&Result<T, E>) + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (db, claim, timeout) = (self.clone(), deadline::Claim::default(), self.timeout);
        let job = {
            let claim = claim.clone();
            move || {
                let outcome = deadline::guarded(&db, &claim, timeout, f);
                after(&outcome);
                outcome
            }
        };
        match &self.writer {
            Some(writer) => deadline::wait(writer.run(job), &claim, timeout).await?,
            None => deadline::wait(blocking(job), &claim, timeout).await?,
        }
    }
}

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
    ] {
        conn.batch_execute(&format!("SELECT 1 FROM {table} WHERE 1 = 0"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_or_are_refused() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://wristband.db"),
            Ok(DatabaseUrl::SqliteFile("wristband.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("sqlite::memory:"),
            Ok(DatabaseUrl::SqliteMemory(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@localhost/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://localhost/db").is_err());
        assert!(DatabaseUrl::parse("wristband.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn postgres_urls_get_network_timeouts_unless_they_set_them() {
        let DatabaseUrl::Postgres(url) = DatabaseUrl::parse("postgres://h/db").unwrap() else {
            panic!("a PostgreSQL URL")
        };
        assert!(url.starts_with("postgres://h/db?connect_timeout=5&tcp_user_timeout=5000"));
        let own = "postgres://h/db?sslmode=require&connect_timeout=1";
        let DatabaseUrl::Postgres(url) = DatabaseUrl::parse(own).unwrap() else {
            panic!("a PostgreSQL URL")
        };
        assert!(url.contains("connect_timeout=1") && !url.contains("connect_timeout=5"));
        assert!(url.contains("sslmode=require&") && url.contains("keepalives_count=3"));
    }

    #[test]
    fn debug_hides_postgres_credentials() {
        let url = DatabaseUrl::parse("postgres://u:secret@localhost/db").unwrap();
        assert!(!format!("{url:?}").contains("secret"));
    }

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

    #[test]
    fn connections_that_cannot_write_are_not_pooled() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("w.db").display().to_string();
        let db = Database::connect(&DatabaseUrl::SqliteFile(path.clone()), 1).unwrap();
        db.migrate().unwrap();
        let writable = ConnectionManager {
            url: DatabaseUrl::SqliteFile(path.clone()),
            statement_timeout: CHECKOUT_TIMEOUT,
        };
        assert!(writable.connect().is_ok());
        // What SQLite falls back to when the file is not writable when opened.
        let read_only = ConnectionManager {
            url: DatabaseUrl::SqliteFile(format!("file:{path}?mode=ro")),
            statement_timeout: CHECKOUT_TIMEOUT,
        };
        assert!(
            read_only.connect().is_err(),
            "a read-only connection was pooled"
        );
    }

    #[test]
    fn memory_database_is_shared_by_the_pool() {
        let url = DatabaseUrl::parse("sqlite::memory:").unwrap();
        let db = Database::connect(&url, 4).unwrap();
        assert!(db.migrate().unwrap() > 0);
        let mut a = db.get().unwrap();
        let mut b = db.get().unwrap();
        a.batch_execute("INSERT INTO settings (name, value) VALUES ('k', 'v')")
            .unwrap();
        let count: i64 = {
            use diesel::prelude::*;
            schema::settings::table.count().get_result(&mut *b).unwrap()
        };
        assert_eq!(count, 1);
    }
}
