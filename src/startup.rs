//! Start-up: connect and migrate, load or generate the signing secret, build
//! the shared state, bind, and run the HTTP server with its middleware.
//! `Application::build` binds before returning, so the port is known (port 0
//! works) and tests can start a real server.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, Logger};
use actix_web::{App, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::auth::{LivenessCache, password};
use crate::config::Config;
use crate::db::{self, Database, settings};
use crate::routes;
use crate::state::AppState;
use crate::tokens::{AccessTokens, RefreshCookie, RefreshKey};
use crate::users::{self, AdminSetup};

/// How long a liveness answer is trusted: the bound on how late another
/// instance sees a revocation.
const LIVENESS_TTL: Duration = Duration::from_secs(1);
/// How often revoked and ended sessions are purged.
const PURGE_EVERY: Duration = Duration::from_secs(15 * 60);
/// How long revoked and ended sessions are kept, so a late reuse is still
/// recognised and listed as revoked rather than unknown.
const PURGE_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Database connections per instance.
const POOL_SIZE: u32 = 16;

/// A start-up failure, as the one line `main` prints.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Connects, migrates, and returns the database with the signing secret
/// (configured, or generated once and kept in the database).
pub fn prepare_database(config: &Config) -> Result<(Database, Vec<u8>), StartupError> {
    let db = Database::connect(&config.database_url, POOL_SIZE).map_err(StartupError)?;
    db.migrate().map_err(StartupError)?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => {
            let mut conn = db
                .get()
                .map_err(|_| StartupError("database unavailable".into()))?;
            settings::get_or_create(&mut conn, settings::JWT_SECRET, random_secret)
                .map_err(|e| StartupError(format!("cannot load the signing key: {e}")))?
                .into_bytes()
        }
    };
    Ok((db, secret))
}

/// Makes sure the admin of `WRISTBAND_ADMIN_EMAIL` exists (idempotent: an
/// existing account is promoted if needed, never reset). Blocking.
fn ensure_configured_admin(config: &Config, db: &Database) -> Result<(), StartupError> {
    let Some((email, password)) = &config.admin else {
        return Ok(());
    };
    let mut conn = db
        .get()
        .map_err(|_| StartupError("database unavailable".into()))?;
    let outcome = users::setup_admin(
        &mut conn,
        email,
        password.expose(),
        config.bcrypt_cost,
        false,
    )
    .map_err(|e| StartupError(format!("cannot set up WRISTBAND_ADMIN_EMAIL: {e}")))?;
    match outcome {
        AdminSetup::Created => log::info!("created admin {email}"),
        AdminSetup::Promoted => log::warn!("promoted existing user {email} to admin"),
        AdminSetup::Reset | AdminSetup::Unchanged => {}
        AdminSetup::Refused => {
            return Err(StartupError(format!(
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
        let (db, secret, dummy_hash) = web::block(move || {
            let (db, secret) = prepare_database(&prepared)?;
            ensure_configured_admin(&prepared, &db)?;
            let dummy_hash = password::hash(&random_secret(), prepared.bcrypt_cost)
                .map_err(|_| StartupError("bcrypt failed".into()))?;
            Ok::<_, StartupError>((db, secret, dummy_hash))
        })
        .await
        .map_err(|e| StartupError(format!("start-up task failed: {e}")))??;

        if !config.cookie_secure {
            log::warn!("WRISTBAND_COOKIE_SECURE=false: the refresh cookie is sent over plain HTTP");
        }
        let state = web::Data::new(AppState {
            access: AccessTokens::new(
                &secret,
                &config.issuer,
                &config.audience,
                config.access_ttl,
                config.clock_leeway,
            ),
            refresh_key: RefreshKey::derive(&secret),
            cookie: RefreshCookie::new(config.cookie_secure),
            liveness: LivenessCache::new(LIVENESS_TTL),
            dummy_hash,
            db,
            config,
        });

        let listener = TcpListener::bind(&state.config.bind)
            .map_err(|e| StartupError(format!("cannot bind {}: {e}", state.config.bind)))?;
        let local = listener
            .local_addr()
            .map_err(|e| StartupError(e.to_string()))?;
        let workers = state.config.workers;
        spawn_purge(state.clone());

        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(
                    DefaultHeaders::new()
                        .add(("Cache-Control", "no-store"))
                        .add(("X-Content-Type-Options", "nosniff")),
                )
                // The path only (%U): no query string, so nothing a client puts
                // there can land in the log.
                .wrap(
                    Logger::new(r#"%a "%{method}xi %U" %s %b %Dms"#)
                        .custom_request_replace("method", |req| req.method().to_string()),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        });
        let server = match workers {
            Some(n) => server.workers(n),
            None => server,
        };
        let server = server
            .listen(listener)
            .map_err(|e| StartupError(format!("cannot listen: {e}")))?
            .run();
        Ok(Self {
            port: local.port(),
            host: local.ip().to_string(),
            server,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn spawn_purge(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(PURGE_EVERY);
        loop {
            interval.tick().await;
            let idle = state.idle_ttl();
            let purged = state
                .db
                .run(move |conn| {
                    Ok(db::sessions::SessionRow::purge(
                        conn,
                        db::now() - PURGE_AFTER,
                        idle,
                    )?)
                })
                .await;
            match purged {
                Ok(0) => {}
                Ok(n) => log::info!("purged {n} ended sessions"),
                Err(e) => log::warn!("session purge failed: {e}"),
            }
        }
    });
}
