//! Running the server: the database and how long a request waits for it,
//! logs, metrics, graceful shutdown, the start-up admin, test mode and the
//! number of workers.

use std::time::Duration;

use secrecy::SecretString;

use super::ConfigError;
use super::settings::{Given, bearer_secret};
use crate::db::DatabaseUrl;
use crate::logging::LogFormat;

/// Operating the server.
#[derive(Debug, Clone)]
pub struct OperationsConfig {
    /// Where the data lives.
    pub database_url: DatabaseUrl,
    /// How long a request waits for a pooled database connection.
    pub database_timeout: Duration,
    /// The admin that must exist after start-up.
    pub admin: Option<(String, SecretString)>,
    /// The Bearer token `/metrics` needs; `None`: `/metrics` is public.
    pub metrics_token: Option<SecretString>,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_timeout: Duration,
    /// `WRISTBAND_TEST_MODE`.
    pub test_mode: bool,
    /// HTTP worker threads (`None`: one per core). Not a user setting: tests
    /// and embedders lower it.
    pub workers: Option<usize>,
}

impl OperationsConfig {
    /// This section's settings. Test mode's rule (a loopback bind) spans
    /// sections: `Config::from_settings` checks it.
    pub(super) fn read(given: &Given<'_>) -> Result<Self, ConfigError> {
        // As given: only an unset URL falls back (to DATABASE_URL, then the default).
        let database_url = given
            .database_url
            .raw
            .map(str::to_owned)
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .unwrap_or_else(|| "sqlite://wristband.db".into());
        let database_url =
            DatabaseUrl::parse(&database_url).map_err(|m| given.database_url.invalid(m))?;

        let test_mode = given.test_mode.flag(false)?;
        let database_timeout = given.database_timeout.duration("2s")?;
        // At most 5 s: this alone bounds how long a request waits for its
        // database work before answering 503 (the 10 s deadline of
        // `http/timeout.rs` covers only reading the request body), so it must
        // stay short.
        if database_timeout.is_zero() || database_timeout > Duration::from_secs(5) {
            return Err(given.database_timeout.invalid("must be from 1ms to 5s"));
        }

        let admin_email = given.admin_email.parse(None, |v| {
            crate::auth::email::normalize(v)
                .map(Some)
                .map_err(|_| format!("{v:?} is not an email address"))
        })?;
        let metrics_token = given.metrics_token.parse(None, bearer_secret)?;
        let log_format = given.log_format.parse(LogFormat::Text, |v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                other => Err(format!("{other:?} is not text or json")),
            }
        })?;
        let shutdown_timeout = given.shutdown_timeout.duration("10s")?;
        if shutdown_timeout.subsec_nanos() != 0 || shutdown_timeout > Duration::from_secs(600) {
            return Err(given
                .shutdown_timeout
                .invalid("must be whole seconds, at most 600s"));
        }

        // As given: only an empty password counts as unset.
        let admin_password = given.admin_password.raw.filter(|p| !p.is_empty());
        if let Some(password) = admin_password {
            // The policy's own reason: too short, too long, or too common.
            if let Some(why) = crate::auth::password::weakness(password) {
                return Err(given.admin_password.invalid(why));
            }
        }
        let admin = match (admin_email, admin_password) {
            (Some(email), Some(password)) => Some((email, SecretString::from(password))),
            (Some(_), None) => {
                let password = given.admin_password.variable;
                return Err(given
                    .admin_email
                    .invalid(format!("is set but {password} is not")));
            }
            _ => None,
        };

        Ok(Self {
            database_url,
            database_timeout,
            admin,
            metrics_token,
            log_format,
            shutdown_timeout,
            test_mode,
            workers: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;

    #[test]
    fn test_mode_is_for_loopback_binds_only() {
        for bind in ["127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:9000"] {
            let c = config(|s| {
                s.test_mode = Some("true".into());
                s.bind = Some(bind.into());
            });
            assert!(c.is_ok_and(|c| c.operations.test_mode), "{bind}");
        }
        for bind in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
            let e = config(|s| {
                s.test_mode = Some("true".into());
                s.bind = Some(bind.into());
            })
            .unwrap_err();
            assert_eq!(e.variable, "WRISTBAND_TEST_MODE", "{bind}");
        }
        assert!(config(|s| s.bind = Some("0.0.0.0:0".into())).is_ok());
    }
}
