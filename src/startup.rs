//! Start-up: connect and migrate, load or make the keys (`startup/keys.rs`),
//! build the shared state, bind, and run the HTTP server with its middleware.
//! `Application::build` binds before returning, so the port is known (port 0
//! works) and tests can start a real server.

use std::error::Error;
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use secrecy::{ExposeSecret, SecretString};

use crate::accounts::Accounts;
use crate::auth::password;
use crate::auth::password::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::cookies::{DeviceCookie, RefreshCookie};
use crate::db::Database;
use crate::db::audit::AuditKind;
use crate::http::rate_limit::RateLimit;
use crate::http::{headers, observe, origin, timeout, tls};
use crate::mac::random_key;
use crate::mail::Mailer;
use crate::mail::smtp::Transport;
use crate::mail::worker::{self, Delivery};
use crate::metrics::Metrics;
use crate::passkeys::RelyingParty;
use crate::routes;
use crate::sessions::{Parts, Sessions, purge};
use crate::state::AppState;
use crate::tokens::AccessTokens;
use crate::users::{self, AdminSetup};

pub mod keyring;
mod keys;

pub use keys::{prepare_keys, rotate_key};

/// Database connections per instance: twice the cores and one, as
/// PostgreSQL's wiki advises, and at least 4. More only queue for the same
/// cores: with 16 on 2 cores, PostgreSQL rotations ran at the same rate with
/// a p99 of 9–23 ms, against 6.5 ms with 4 (`bench/`, workload (b)).
fn pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    u32::try_from(2 * cores + 1).unwrap_or(u32::MAX).max(4)
}

type Cause = Box<dyn Error + Send + Sync>;

/// A start-up or CLI failure: what failed, and why, down the cause chain,
/// printed by `main` as one line (`cannot open the database: …: Connection refused`).
#[derive(Debug)]
pub struct StartupError {
    what: String,
    cause: Option<Cause>,
}

impl StartupError {
    /// A failure with no deeper cause.
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            cause: None,
        }
    }

    /// `what` failed because of `cause`.
    pub fn because(what: impl Into<String>, cause: impl Into<Cause>) -> Self {
        Self {
            what: what.into(),
            cause: Some(cause.into()),
        }
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)?;
        let mut cause = self.source();
        while let Some(error) = cause {
            // Single-line: causes from libraries sometimes end in a newline.
            write!(f, ": {}", error.to_string().trim().replace('\n', " "))?;
            cause = error.source();
        }
        Ok(())
    }
}

impl Error for StartupError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    local: SocketAddr,
    scheme: &'static str,
    server: Server,
}

/// Connects and migrates.
pub fn open_database(config: &Config) -> Result<Database, StartupError> {
    let backend = config.operations.database_url.backend();
    let db = Database::connect_with_timeout(
        &config.operations.database_url,
        pool_size(),
        config.operations.database_timeout,
    )
    .map_err(|e| StartupError::because(format!("cannot open the {backend} database"), e))?;
    let db = match config.operations.workers {
        Some(workers) => db.for_workers(workers),
        None => db,
    };
    db.migrate()
        .map_err(|e| StartupError::because(format!("cannot migrate the {backend} database"), e))?;
    Ok(db)
}

/// A pooled connection for the CLI and start-up, with the cause kept.
pub fn connection(
    db: &Database,
) -> Result<diesel::r2d2::PooledConnection<crate::db::ConnectionManager>, StartupError> {
    db.get()
        .map_err(|e| StartupError::because("cannot open the database", e))
}

/// Makes sure the admin of `WRISTBAND_ADMIN_EMAIL` exists (idempotent: an
/// existing account is promoted if needed, never reset). Blocking.
fn ensure_configured_admin(config: &Config, db: &Database) -> Result<(), StartupError> {
    let Some((email, password)) = &config.operations.admin else {
        return Ok(());
    };
    let mut conn = connection(db)?;
    let outcome = users::setup_admin(
        &mut conn,
        email,
        password.expose_secret(),
        config.sessions.bcrypt_cost,
        false,
    )
    .map_err(|e| StartupError::because("cannot set up WRISTBAND_ADMIN_EMAIL", e))?;
    match outcome {
        AdminSetup::Created => log::info!("created admin {email}"),
        AdminSetup::Promoted => log::warn!("promoted existing user {email} to admin"),
        AdminSetup::Reset | AdminSetup::Unchanged => {}
        AdminSetup::Refused => {
            return Err(StartupError::new(format!(
                "WRISTBAND_ADMIN_EMAIL {email} belongs to an existing non-admin account whose password is not \
                 WRISTBAND_ADMIN_PASSWORD; not promoting it (to take it over: wristband create-admin --email {email})"
            )));
        }
    }
    Ok(())
}

impl Application {
    /// Does everything up to and including binding the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let prepared = config.clone();
        let clock = if config.operations.test_mode {
            Clock::movable()
        } else {
            Clock::system()
        };
        let start_clock = clock.clone();
        let (db, keys, dummy_hash) = web::block(move || {
            let db = open_database(&prepared)?;
            let keys = prepare_keys(&prepared, &db, &start_clock)?;
            ensure_configured_admin(&prepared, &db)?;
            let dummy_hash = password::hash(&random_key().1, prepared.sessions.bcrypt_cost)
                .map_err(|e| StartupError::because("cannot hash the dummy password", e))?;
            Ok::<_, StartupError>((db, keys, SecretString::from(dummy_hash)))
        })
        .await
        .map_err(|e| StartupError::because("the start-up task failed", e))??;

        if config.operations.test_mode {
            log::warn!(
                "WRISTBAND_TEST_MODE=true: /test/users mints sessions without a password, \
                 /test/clock moves time and /test/mailbox shows every mail; never use this for real accounts"
            );
        }
        if !config.network.cookie_secure {
            log::warn!("WRISTBAND_COOKIE_SECURE=false: the refresh cookie is sent over plain HTTP");
        }
        let bind = &config.network.bind;
        let listener = TcpListener::bind(bind)
            .map_err(|e| StartupError::because(format!("cannot bind {bind}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| StartupError::because("cannot read the bound address", e))?;
        // What was bound, not only what the setting named (a host name may
        // resolve differently now than when the configuration was checked).
        if config.operations.test_mode && !local.ip().is_loopback() {
            return Err(StartupError::new(format!(
                "WRISTBAND_TEST_MODE is refused unless the server is bound to loopback, got {local}"
            )));
        }
        let scheme = if config.network.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mailer = Mailer::new(
            &config,
            keys.refresh_secret.expose_secret().as_bytes(),
            &url(scheme, local),
        );
        let transport = Transport::new(config.mail.smtp.as_ref())
            .map_err(|e| StartupError::because("cannot set up WRISTBAND_SMTP_URL", e))?;
        let relying_party = match config.network.relying_party(local.port()) {
            Some((id, origins)) => Some(Arc::new(
                RelyingParty::new(
                    &id,
                    &origins,
                    &config.mail.app_name,
                    keys.refresh_secret.expose_secret().as_bytes(),
                )
                .map_err(|e| StartupError::because("cannot set up passkeys", e))?,
            )),
            None => {
                log::info!(
                    "passkeys are off: set WRISTBAND_PUBLIC_URL (a domain) or WRISTBAND_RP_ID"
                );
                None
            }
        };
        let metrics = Arc::new(Metrics::new());
        metrics.declare_causes(AuditKind::REVOKING.map(AuditKind::as_str));
        let observed = metrics.clone();
        let db = db.observed(Arc::new(move |took| observed.pool_waited(took)));
        let range_api = match &config.sessions.pwned_passwords_url {
            Some(url) => Some(crate::auth::blocklist::RangeApi::new(url).map_err(|e| {
                StartupError::because("cannot set up WRISTBAND_PWNED_PASSWORDS_URL", e)
            })?),
            None => None,
        };
        let parts = Parts {
            access: Arc::new(AccessTokens::new(
                keys.keyring,
                &config.keys.issuer,
                &config.keys.audience,
                config.keys.access_ttl,
                config.keys.clock_leeway,
                clock.clone(),
            )),
            hasher: Arc::new(Hasher::with_range_api(
                config.sessions.bcrypt_cost,
                range_api,
            )),
            db,
            clock,
            metrics: metrics.clone(),
            mailer: mailer.clone(),
            relying_party,
        };
        let sessions = Sessions::new(&config, &parts, &keys.refresh_secret, dummy_hash);
        let accounts = mailer
            .clone()
            .map(|mailer| Accounts::new(parts.db.clone(), mailer, parts.hasher.clone()));
        let state = web::Data::new(AppState {
            accounts,
            db: parts.db,
            clock: parts.clock,
            access: parts.access,
            hasher: parts.hasher,
            sessions,
            cookie: RefreshCookie::new(config.network.cookie_secure),
            device_cookie: DeviceCookie::new(config.network.cookie_secure),
            config,
        });

        let workers = state.config.operations.workers;
        let retention = chrono::TimeDelta::from_std(state.config.sessions.purge_retention)
            .unwrap_or(chrono::TimeDelta::MAX);
        purge::spawn(
            state.db.clone(),
            state.clock.clone(),
            state.config.sessions.policy().idle_ttl,
            state.config.sessions.purge_interval,
            retention,
        );
        if let Some(mailer) = mailer {
            worker::spawn(Delivery {
                db: state.db.clone(),
                clock: state.clock.clone(),
                mailer,
                transport,
                metrics: metrics.clone(),
            });
        }
        if state.config.keys.jwt_secret.is_none() {
            keys::spawn_keyring_reload(state.clone());
        }
        let rate_limit = web::Data::new(RateLimit::per_minute(
            state.config.network.rate_limit_per_minute,
        ));
        spawn_rate_limit_cleanup(rate_limit.clone());

        let app_state = state.clone();
        let features = state.features();
        let metrics = web::Data::from(metrics);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(rate_limit.clone())
                .app_data(metrics.clone())
                .wrap(from_fn(timeout::deadline))
                .wrap(origin::cors(&app_state.config))
                .wrap(from_fn(headers::default_headers))
                // Outermost: the log line and metrics see every answer,
                // CORS preflights and timeouts included.
                .wrap(from_fn(observe::observe))
                .configure(|cfg| routes::configure(cfg, features))
                .default_service(web::to(routes::not_found))
        });
        let server = server
            .client_request_timeout(timeout::HEAD_TIMEOUT)
            .max_connections(timeout::MAX_CONNECTIONS_PER_WORKER)
            // SIGTERM / SIGINT: stop accepting, let in-flight requests finish
            // for this long, then stop (and the pool closes as it drops).
            .shutdown_timeout(state.config.operations.shutdown_timeout.as_secs())
            // Both SIGTERM and SIGINT stop gracefully (actix's own handling
            // would make SIGINT a forced stop).
            .shutdown_signal(stop_requested());
        let server = match workers {
            Some(n) => server.workers(n),
            None => server,
        };
        let tls = match &state.config.network.tls {
            Some((cert, key)) => Some(tls::server_config(cert, key).map_err(StartupError::new)?),
            None => None,
        };
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .map_err(|e| StartupError::because("cannot listen", e))?
        .run();
        Ok(Self {
            local,
            scheme,
            server,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// `http://HOST:PORT` (`https://` with TLS), an IPv6 host in brackets
    /// (`http://[::1]:8080`) as URLs need it.
    pub fn url(&self) -> String {
        url(self.scheme, self.local)
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// `scheme://` and the address as `SocketAddr` writes it, which brackets an
/// IPv6 host.
fn url(scheme: &str, local: SocketAddr) -> String {
    format!("{scheme}://{local}")
}

/// Every minute, drops the rate-limit state of clients back to a full burst.
fn spawn_rate_limit_cleanup(rate_limit: web::Data<RateLimit>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
        loop {
            interval.tick().await;
            rate_limit.forget_idle();
        }
    });
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn stop_requested() {
    use actix_web::rt::signal;
    #[cfg(unix)]
    {
        let terminate = async {
            match signal::unix::signal(signal::unix::SignalKind::terminate()) {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(e) => {
                    log::warn!("cannot listen for SIGTERM: {e}");
                    std::future::pending::<()>().await;
                }
            }
        };
        futures_util::future::select(Box::pin(terminate), Box::pin(signal::ctrl_c())).await;
    }
    #[cfg(not(unix))]
    {
        let _ = signal::ctrl_c().await;
    }
    log::info!("stopping: finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_bracket_ipv6_hosts() {
        let url_of = |address: &str| url("http", address.parse().unwrap());
        assert_eq!(url_of("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(url_of("[::1]:38819"), "http://[::1]:38819");
        assert_eq!(
            url("https", "[2001:db8::7]:443".parse().unwrap()),
            "https://[2001:db8::7]:443"
        );
    }
}
