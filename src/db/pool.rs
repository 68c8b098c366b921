//! The connection pool: a connection manager that picks the backend from the
//! parsed URL and sets each connection up (SQLite's pragmas, the statement and
//! lock timeouts of both backends), and [`Database`], which runs reads on the
//! blocking pool and writes as guarded transactions (`deadline.rs`) — on
//! SQLite through its one writer thread (`writer.rs`).

use std::fmt;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};

use super::{
    AsyncPg, DatabaseUrl, DbConnection, DbError, MigrationError, blocking, deadline,
    run_migrations, writer,
};

/// Opens connections for the pool, choosing the backend from the parsed URL.
#[derive(Debug, Clone)]
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

    /// Not called at check-out (`test_on_check_out(false)`): a test query
    /// there costs PostgreSQL a round trip per request. A dead connection is
    /// found when it fails instead ([`Database::replace_if_dead`]).
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
    /// Opens the fresh connection that replaces a dead one.
    manager: std::sync::Arc<ConnectionManager>,
    observer: Option<CheckoutObserver>,
    /// SQLite only: the thread that runs this process's writes.
    writer: Option<writer::Writer>,
    /// PostgreSQL only, when its connections are plaintext anyway: the
    /// async driver for the refresh rotation's one statement (`async_pg.rs`).
    async_pg: Option<AsyncPg>,
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
            .test_on_check_out(false)
            .connection_timeout(checkout_timeout)
            // Every failed checkout is logged once, with the last connection
            // error, by `get` (or reported by `migrate`); r2d2's own handler
            // would log each retry on top.
            .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
            .build_unchecked(manager.clone());
        let writer = match url {
            DatabaseUrl::Postgres(_) => None,
            _ => Some(writer::Writer::start()?),
        };
        let async_pg = match url {
            DatabaseUrl::Postgres(url) => AsyncPg::for_url(url, checkout_timeout),
            _ => None,
        };
        Ok(Self {
            pool,
            manager: std::sync::Arc::new(manager),
            observer: None,
            writer,
            async_pg,
            timeout: checkout_timeout,
            _keeper: keeper,
        })
    }

    /// Applies the pending embedded migrations of this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, MigrationError> {
        let mut conn = self.pool.get_timeout(STARTUP_TIMEOUT)?;
        // A migration (or waiting for another instance's, behind the advisory
        // lock) may take longer than a request's statement: no statement or
        // lock timeout while they run, the connection's own again after.
        let ms = |d: Duration| d.as_millis();
        let timeouts = |conn: &mut DbConnection, statement: Duration, busy: Duration| match conn {
            DbConnection::Pg(c) => c.batch_execute(&format!(
                "SET statement_timeout = {}; SET lock_timeout = {}",
                ms(statement),
                ms(statement)
            )),
            DbConnection::Sqlite(c) => {
                c.batch_execute(&format!("PRAGMA busy_timeout = {}", ms(busy)))
            }
        };
        timeouts(&mut conn, Duration::ZERO, STARTUP_TIMEOUT)?;
        let ran = run_migrations(&mut conn);
        timeouts(&mut conn, self.timeout, self.timeout)?;
        ran
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

    /// After `conn` failed: whether it was a dead PostgreSQL connection (the
    /// server restarted, or something between dropped it while it sat idle),
    /// now replaced in place by a fresh one, so that the work may run once
    /// more and the pool keeps no dead connection. Pools do not test
    /// connections at check-out, which would cost a round trip per request;
    /// this costs one only after a failure (a ping; a reconnect when dead).
    pub fn replace_if_dead(&self, conn: &mut DbConnection) -> bool {
        if matches!(conn, DbConnection::Sqlite(_)) || conn.ping().is_ok() {
            return false;
        }
        match self.manager.connect() {
            Ok(fresh) => {
                *conn = fresh;
                log::info!("a dead database connection was replaced by a fresh one");
                true
            }
            Err(error) => {
                log::warn!("a dead database connection could not be replaced: {error}");
                false
            }
        }
    }

    /// `work` on `conn`, and once more if it failed on a dead connection
    /// (now replaced by a fresh one, see [`Database::replace_if_dead`]).
    pub fn once_more_if_dead<T, E>(
        &self,
        conn: &mut DbConnection,
        mut work: impl FnMut(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        match work(conn) {
            Err(_) if self.replace_if_dead(conn) => work(conn),
            outcome => outcome,
        }
    }

    /// This pool, telling `observer` how long each checkout waited.
    pub fn observed(mut self, observer: CheckoutObserver) -> Self {
        self.async_pg = self.async_pg.map(|pg| pg.observed(observer.clone()));
        self.observer = Some(observer);
        self
    }

    /// This pool, for a server of `workers` async workers (the default is
    /// one per core): the async driver's connections are shared out among them.
    pub fn for_workers(mut self, workers: usize) -> Self {
        self.async_pg = self.async_pg.map(|pg| pg.spread_over(workers));
        self
    }

    /// The async driver for PostgreSQL's hottest statement, where the
    /// connection allows it (see `async_pg.rs`).
    pub fn async_pg(&self) -> Option<&AsyncPg> {
        self.async_pg.as_ref()
    }

    /// `(connections, idle)`: what the pool holds now.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool (see
    /// [`blocking`]). The checkout itself blocks, so it happens there too.
    /// `f` may fail with any error a [`DbError`] converts into.
    ///
    /// On PostgreSQL, a read that fails on a dead connection runs once more
    /// on a fresh one ([`Database::replace_if_dead`]).
    pub async fn run<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        let work = blocking(move || {
            let mut conn = db.get()?;
            db.once_more_if_dead(&mut conn, &mut f)
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

    /// Whether this is a PostgreSQL database (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.writer.is_none()
    }

    /// A write that is one statement, on PostgreSQL: sent alone in autocommit,
    /// one round trip where [`Database::write`] takes at least three (`BEGIN`,
    /// the work, `COMMIT`). Its commit is claimed before it is sent (see
    /// `deadline::autocommit`). `f` must be safe to run twice: on a dead
    /// connection it runs again on a fresh one, though the first statement
    /// may have reached the server. On SQLite, it is [`Database::write`].
    pub async fn write_one<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        if !self.is_postgres() {
            return self.write(f).await;
        }
        let (db, claim, timeout) = (self.clone(), deadline::Claim::default(), self.timeout);
        let job = {
            let claim = claim.clone();
            move || deadline::autocommit(&db, &claim, timeout, &mut f)
        };
        deadline::wait(blocking(job), &claim, timeout).await?
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

#[cfg(test)]
mod tests {
    use super::*;

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
            super::super::schema::settings::table
                .count()
                .get_result(&mut *b)
                .unwrap()
        };
        assert_eq!(count, 1);
    }
}
