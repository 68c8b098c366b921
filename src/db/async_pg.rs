//! PostgreSQL without the blocking pool, for the hottest write: the refresh
//! rotation's one statement (`SessionRow::rotate_if_live_async`).
//!
//! Diesel's PostgreSQL driver blocks, so each of its queries is handed from
//! an async worker to a blocking thread and back; for a one-statement
//! rotation that hand-off cost more than PostgreSQL's own work
//! (`bench/profiles/refresh-postgres-6-one-round-trip.txt`: 43 % of the
//! samples in the scheduler). Here the statement is sent by tokio-postgres
//! from the async worker that serves the request, on a connection whose I/O
//! task runs on that same worker: each worker keeps its own small pool
//! (deadpool), so no request crosses a thread.
//!
//! Everything else keeps Diesel: transactions, migrations, every other query.
//!
//! Only for connections that are plaintext anyway ([`AsyncPg::for_url`]):
//! TLS to PostgreSQL stays with libpq, whose `sslmode` and certificate
//! settings Wristband does not redo; such URLs rotate through Diesel.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::DbError;
use super::pool::CheckoutObserver;

/// Where the async statements of one database go. Cheap to clone; each
/// async worker thread opens its own connections on first use.
#[derive(Clone)]
pub struct AsyncPg {
    config: tokio_postgres::Config,
    /// Connections per worker thread.
    per_worker: usize,
    /// The request's database timeout: checkout, statement and all.
    timeout: Duration,
    /// Alive while some clone of this is: a worker's pools of a dropped
    /// database are closed at its next lookup.
    alive: Arc<()>,
    observer: Option<CheckoutObserver>,
}

impl std::fmt::Debug for AsyncPg {
    // The config holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPg")
            .field("per_worker", &self.per_worker)
            .finish_non_exhaustive()
    }
}

/// Connections of the async driver, shared out among the async workers (each
/// keeps its own): as many as the benchmark's pgbench clients. An async
/// connection waiting on PostgreSQL holds no thread, and PostgreSQL's group
/// commit flushes the WAL once for all the rotations that commit together,
/// so concurrent commits make each cheaper (`bench/`: 3 per worker on 2 cores
/// rotated 10 % less than 8).
pub const ASYNC_CONNECTIONS: usize = 16;

thread_local! {
    /// This thread's pools, one per live [`AsyncPg`] (tests run several).
    static POOLS: RefCell<Vec<(Weak<()>, Pool)>> = const { RefCell::new(Vec::new()) };
}

impl AsyncPg {
    /// The async driver for `url` (as `DatabaseUrl` completed it), or `None`
    /// when the connection may use TLS — `sslmode` `require` or stricter,
    /// or the default `prefer` to a host that is not this machine — or when
    /// the URL holds a libpq setting tokio-postgres does not know.
    /// `statement_timeout` is set on each connection as Diesel's are.
    pub fn for_url(url: &str, timeout: Duration) -> Option<Self> {
        // libpq's `keepalives_count` is tokio-postgres's `keepalives_retries`.
        let url = url.replace("keepalives_count=", "keepalives_retries=");
        let mut config: tokio_postgres::Config = match url.parse() {
            Ok(config) => config,
            Err(error) => {
                log::info!(
                    "refresh rotations use the blocking driver: the database URL has a setting \
                     the async one does not know ({error})"
                );
                return None;
            }
        };
        if !plaintext_anyway(&config) {
            log::info!(
                "refresh rotations use the blocking driver: the database connection may use TLS"
            );
            return None;
        }
        config.ssl_mode(SslMode::Disable);
        let millis = timeout.as_millis();
        let options = format!(
            "{} -c statement_timeout={millis} -c lock_timeout={millis}",
            config.get_options().unwrap_or("")
        );
        config.options(options.trim_start());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Some(
            Self {
                config,
                per_worker: 0,
                timeout,
                alive: Arc::new(()),
                observer: None,
            }
            .spread_over(cores),
        )
    }

    /// This, its [`ASYNC_CONNECTIONS`] shared out among `workers` async
    /// workers: at least 2 each, so a worker's rotations can commit side by side.
    pub fn spread_over(mut self, workers: usize) -> Self {
        self.per_worker = ASYNC_CONNECTIONS.div_ceil(workers.max(1)).max(2);
        self
    }

    /// This, telling `observer` how long each checkout waited.
    pub fn observed(mut self, observer: CheckoutObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// This thread's pool, made on first use; pools of dropped databases
    /// are closed on the way.
    fn pool(&self) -> Result<Pool, DbError> {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            pools.retain(|(alive, _)| alive.strong_count() > 0);
            let mine = Arc::downgrade(&self.alive);
            if let Some((_, pool)) = pools.iter().find(|(alive, _)| alive.ptr_eq(&mine)) {
                return Ok(pool.clone());
            }
            let manager = Manager::from_config(
                self.config.clone(),
                NoTls,
                ManagerConfig {
                    // A closed connection is dropped at checkout; no test
                    // query (a round trip per request).
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            let pool = Pool::builder(manager)
                .max_size(self.per_worker)
                .runtime(Runtime::Tokio1)
                .build()?;
            pools.push((mine, pool.clone()));
            Ok(pool)
        })
    }

    /// `sql` (prepared once per connection) with `params`: its one row, or
    /// `None`, as `deadline::autocommit` runs a statement on the blocking
    /// pool. Waiting for a connection and preparing (which change nothing)
    /// are bounded by the database timeout. The statement is its own commit:
    /// once it is sent, the caller waits for its answer, bounded by the
    /// connection's statement and lock timeouts, so a rotation never commits
    /// behind the back of a caller told 503. A connection found dead (the
    /// server restarted, or dropped it) is discarded and the statement sent
    /// once more on a fresh one, so `sql` must be safe to run twice.
    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        let pool = self.pool()?;
        let mut retried = false;
        loop {
            let ready = async {
                let asked = std::time::Instant::now();
                let client = pool.get().await?;
                if let Some(observe) = &self.observer {
                    observe(asked.elapsed());
                }
                let statement = client.prepare_cached(sql).await;
                Ok::<_, DbError>((client, statement))
            };
            let (client, statement) = tokio::time::timeout(self.timeout, ready)
                .await
                .map_err(|_| DbError::Timeout(self.timeout))??;
            let outcome = match statement {
                Ok(statement) => client.query_opt(&statement, params).await,
                Err(error) => Err(error),
            };
            match outcome {
                Err(error) if !retried && is_dead(&error) => {
                    log::info!("a dead database connection was replaced by a fresh one");
                    drop(deadpool_postgres::Object::take(client));
                    retried = true;
                }
                outcome => return Ok(outcome?),
            }
        }
    }
}

/// Whether the connection `error` came from is gone: closed, or the server
/// ended the session (shut down, restarted, or `pg_terminate_backend`).
fn is_dead(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || matches!(
            error.code(),
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        )
}

/// Whether libpq would not use TLS here either, or only on this machine:
/// `sslmode=disable`, or the default `prefer` (and `allow`) to Unix sockets
/// and loopback addresses only.
fn plaintext_anyway(config: &tokio_postgres::Config) -> bool {
    let local = |host: &Host| match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    };
    match config.get_ssl_mode() {
        SslMode::Disable => true,
        SslMode::Prefer => {
            !config.get_hosts().is_empty()
                && config.get_hosts().iter().all(local)
                && config.get_hostaddrs().iter().all(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eligible(url: &str) -> bool {
        AsyncPg::for_url(url, Duration::from_secs(1)).is_some()
    }

    #[test]
    fn only_connections_that_are_plaintext_anyway_go_async() {
        assert!(eligible("postgres://u@127.0.0.1:5432/db"));
        assert!(eligible("postgres://u@localhost/db?keepalives_count=3"));
        assert!(eligible("postgres://u@[::1]/db"));
        assert!(eligible("postgres://u@db.example/db?sslmode=disable"));
        assert!(eligible("postgresql:///db?host=/var/run/postgresql"));
        // libpq would try TLS first, to a host elsewhere.
        assert!(!eligible("postgres://u@db.example/db"));
        assert!(!eligible("postgres://u@10.0.0.5/db"));
        assert!(!eligible("postgres://u@localhost/db?sslmode=require"));
        assert!(!eligible("postgres://u@localhost,db.example/db"));
        // A libpq setting the async driver does not know.
        assert!(!eligible("postgres://u@localhost/db?sslrootcert=/ca.pem"));
    }

    #[test]
    fn statement_timeouts_are_set_and_urls_own_options_kept() {
        let pg = AsyncPg::for_url(
            "postgres://u@localhost/db?options=-c%20search_path%3Dauth",
            Duration::from_millis(1500),
        )
        .unwrap();
        assert_eq!(
            pg.config.get_options(),
            Some("-c search_path=auth -c statement_timeout=1500 -c lock_timeout=1500")
        );
    }

    /// A pooled connection the server has ended, before its I/O task could
    /// notice: the statement fails on it, and runs again on a fresh one.
    /// Deterministic on a current-thread runtime, where that task cannot run
    /// between the termination and the statement. Needs PostgreSQL.
    #[test]
    fn a_statement_on_a_dead_connection_runs_again_on_a_fresh_one() {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let Some(url) = std::env::var("WRISTBAND_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return;
        };
        let pg = AsyncPg::for_url(&url, Duration::from_secs(5)).expect("a loopback test database");
        let run = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pid = |row: Option<Row>| row.expect("a row").get::<_, i32>(0);
        const PID: &str = "SELECT pg_backend_pid()";
        let first = pid(run.block_on(pg.query_opt(PID, &[])).unwrap());
        let mut admin = diesel::PgConnection::establish(&url).unwrap();
        admin
            .batch_execute(&format!("SELECT pg_terminate_backend({first})"))
            .unwrap();
        let second = pid(run.block_on(pg.query_opt(PID, &[])).unwrap());
        assert_ne!(first, second, "the statement ran on a fresh connection");
    }

    #[test]
    fn debug_shows_no_password() {
        let pg = AsyncPg::for_url("postgres://u:hunter2@localhost/db", Duration::ZERO).unwrap();
        assert!(!format!("{pg:?}").contains("hunter2"));
    }
}
