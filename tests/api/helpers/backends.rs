//! One way to run a test on each backend: [`backend_test!`].
//!
//! ```ignore
//! backend_test!(refresh_rotates_the_token);
//! async fn refresh_rotates_the_token(app: TestApp) { … }
//!
//! backend_test!(admins_revoke_one_session, admin_settings());
//! async fn admins_revoke_one_session(app: TestApp) { … }
//!
//! backend_test!(instances_share_the_secret);
//! async fn instances_share_the_secret(db: TestDatabase) { … }
//! ```
//!
//! Each invocation adds a module named after the test with two tests,
//! `sqlite` and `postgres`, so a failure names its backend
//! (`refresh::refresh_rotates_the_token::postgres ... FAILED`). The test
//! function gets a fresh [`Fixture`]: a [`TestApp`] started with the given
//! settings ([`base_settings`] if none), or a bare [`TestDatabase`] for tests
//! that start their own instances on it (the settings are then unused).
//!
//! SQLite is a fresh file in a temporary directory. PostgreSQL is a fresh
//! database next to the one `WRISTBAND_TEST_POSTGRES_URL` names; without that
//! variable the `postgres` tests print a note and pass without running.
//!
//! [`base_settings`]: super::base_settings

use std::future::Future;
use std::sync::{Arc, Once};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tempfile::TempDir;
use wristband::config::Settings;

use super::TestApp;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database; several apps may be started on it.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub backend: Backend,
    /// The `WRISTBAND_DATABASE_URL` of the database.
    pub url: String,
    /// The directory of a SQLite file, removed with the last clone.
    _dir: Option<Arc<TempDir>>,
}

/// What a test function of [`backend_test!`] takes.
pub trait Fixture: Sized {
    /// A fresh one on `backend`.
    fn create(backend: Backend, settings: Settings) -> impl Future<Output = Self>;
}

impl Fixture for TestApp {
    async fn create(backend: Backend, settings: Settings) -> Self {
        TestDatabase::fresh(backend).spawn(settings).await
    }
}

impl Fixture for TestDatabase {
    async fn create(backend: Backend, _settings: Settings) -> Self {
        TestDatabase::fresh(backend)
    }
}

fn postgres_base_url() -> Option<String> {
    std::env::var("WRISTBAND_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh PostgreSQL database next to the one `base` names.
fn fresh_postgres_database(base: &str) -> String {
    let name = format!("wristband_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn =
        PgConnection::establish(base).expect("WRISTBAND_TEST_POSTGRES_URL must be reachable");
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create test database");
    let (prefix, _) = base
        .split('?')
        .next()
        .unwrap_or(base)
        .rsplit_once('/')
        .expect("URL with a database path");
    format!("{prefix}/{name}")
}

impl TestDatabase {
    /// A fresh database of `backend`.
    pub fn fresh(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("wristband.db").display());
                Self {
                    backend,
                    url,
                    _dir: Some(Arc::new(dir)),
                }
            }
            Backend::Postgres => {
                let base = postgres_base_url()
                    .expect("postgres backend needs WRISTBAND_TEST_POSTGRES_URL");
                Self {
                    backend,
                    url: fresh_postgres_database(&base),
                    _dir: None,
                }
            }
        }
    }

    /// The process-wide in-memory SQLite database (`sqlite::memory:`).
    pub fn sqlite_memory() -> Self {
        Self {
            backend: Backend::Sqlite,
            url: "sqlite::memory:".into(),
            _dir: None,
        }
    }

    /// Starts a server with `settings` on this database.
    pub async fn spawn(&self, settings: Settings) -> TestApp {
        init_logs();
        TestApp::start(self.clone(), settings).await
    }
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = env_logger::builder().is_test(true).try_init();
    });
}

/// Runs `test` on a fresh fixture of `backend`; what [`backend_test!`] expands to.
pub async fn run<X, F, Fut>(backend: Backend, settings: Settings, test: F)
where
    X: Fixture,
    F: FnOnce(X) -> Fut,
    Fut: Future<Output = ()>,
{
    if backend == Backend::Postgres && postgres_base_url().is_none() {
        eprintln!("note: WRISTBAND_TEST_POSTGRES_URL is not set; PostgreSQL run skipped");
        return;
    }
    test(X::create(backend, settings).await).await;
}

/// `backend_test!(name)` or `backend_test!(name, settings)`, right above
/// `async fn name(app: TestApp)` (or `(db: TestDatabase)`): module `name`
/// with the tests `sqlite` and `postgres`.
macro_rules! backend_test {
    ($name:ident) => {
        $crate::helpers::backend_test!($name, $crate::helpers::base_settings());
    };
    ($name:ident, $settings:expr) => {
        mod $name {
            // The settings expression is written in the test file's scope.
            #[allow(unused_imports)]
            use super::*;

            fn settings() -> wristband::config::Settings {
                $settings
            }

            #[actix_web::test]
            async fn sqlite() {
                let backend = $crate::helpers::Backend::Sqlite;
                $crate::helpers::backends::run(backend, settings(), super::$name).await;
            }

            #[actix_web::test]
            async fn postgres() {
                let backend = $crate::helpers::Backend::Postgres;
                $crate::helpers::backends::run(backend, settings(), super::$name).await;
            }
        }
    };
}
pub(crate) use backend_test;
