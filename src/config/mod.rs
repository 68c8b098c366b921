//! Every setting, read once and validated in one place.
//!
//! Values come from `--flags`, the environment, or a `.env` file (loaded by
//! `main` before parsing), in that order of precedence. Parsing is two steps:
//! clap collects raw strings ([`Settings`]), then [`Config::from_settings`]
//! checks each one and names the variable in its error, so bad configuration
//! stops start-up with a single clear line instead of a panic.
//!
//! Files:
//! - `settings.rs`: the table of settings, each row a field, its variable
//!   and its help, and the readers every section uses (durations, bounded
//!   numbers, true/false) — a setting's name is written there and nowhere
//!   else.
//! - `keys.rs`: [`KeyConfig`], the signing key, its algorithm and earlier
//!   secrets, the refresh secret, `iss` / `aud`, the access TTL and leeway,
//!   the introspection secret; and the window a retired key still verifies.
//! - `sessions.rs`: [`SessionConfig`], session lifetimes, the login lockout,
//!   bcrypt cost, registration, the breached-password API, the purge; and the
//!   [`SessionPolicy`] and [`Lockout`] built from them.
//! - `network.rs`: [`NetworkConfig`], bind address and TLS, public URL and
//!   allowed origins, proxy trust, cookie `Secure`, rate limit.
//! - `operations.rs`: [`OperationsConfig`], the database and its timeout,
//!   log format, metrics token, shutdown timeout, the start-up admin, test
//!   mode, workers.
//! - `mail.rs`: [`MailConfig`], the SMTP URL, the sender, the app name and
//!   URL links open, link lifetimes, whether an unverified address may log in.
//!
//! Each section reads its own settings into its own type, which also owns
//! the values derived from them; this file holds the rules that span
//! sections (test mode needs a loopback bind; mail to a server bound beyond
//! loopback needs to be told where links open).
//!
//! Why the settings stay strings, checked here rather than by a clap
//! `value_parser` on each field: clap's error for a bad value is several
//! lines naming the `--flag` (with usage and a hint), not one line naming the
//! variable; and tests and embedders build [`Settings`] directly
//! (`Settings { bcrypt_cost: Some("12".into()), ..base }`), bypassing clap, so
//! the checks have to run in [`Config::from_settings`] anyway. What typed
//! fields would have bought, each name in one place, the table gives: its
//! macro makes the clap argument (`env = "WRISTBAND_…"`) and the name an
//! error reports from the same row, and a row no section reads does not
//! build. A unit test in `settings.rs` checks that each flag reads the
//! variable of the same name; `tests/docs.rs` checks the table against
//! docs/configuration.md.

mod keys;
mod mail;
mod network;
mod operations;
mod sessions;
mod settings;

use std::fmt;

pub use keys::{KEYRING_RELOAD, KeyConfig};
pub use mail::{MailConfig, SmtpUrl, Tls as SmtpTls};
pub use network::NetworkConfig;
pub use operations::OperationsConfig;
pub use sessions::{Lockout, Registration, SessionConfig, SessionPolicy};
pub use settings::{Settings, parse_duration};

pub use crate::logging::LogFormat;

/// The validated configuration, by section.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys and access tokens.
    pub keys: KeyConfig,
    /// Sessions, logins and passwords.
    pub sessions: SessionConfig,
    /// Listening and the HTTP edge.
    pub network: NetworkConfig,
    /// The database, logs, metrics, shutdown, the start-up admin, test mode.
    pub operations: OperationsConfig,
    /// Mail: SMTP, the sender, links.
    pub mail: MailConfig,
}

/// A setting that could not be accepted: which variable, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (its flag is the same name in kebab case).
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Validates raw settings; the error names the offending variable.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let given = s.given();
        let operations = OperationsConfig::read(&given)?;
        let network = NetworkConfig::read(&given)?;
        if operations.test_mode && !network.binds_loopback_only() {
            let (bind, address) = (given.bind.variable, &network.bind);
            return Err(given.test_mode.invalid(format!(
                "is refused unless {bind} is a loopback address, got {address:?}"
            )));
        }
        let mail = MailConfig::read(&given, operations.test_mode)?;
        if mail.smtp.is_some()
            && mail.app_url.is_none()
            && network.public_url.is_none()
            && !network.binds_loopback_only()
        {
            // Links must not come from a request's Host header (reset-link
            // poisoning): a server others reach must be told its address.
            let (app_url, public_url) = (given.app_url.variable, given.public_url.variable);
            return Err(given.smtp_url.invalid(format!(
                "needs {app_url} or {public_url} (where links in mails open) unless bound to loopback"
            )));
        }
        Ok(Self {
            keys: KeyConfig::read(&given)?,
            sessions: SessionConfig::read(&given)?,
            network,
            operations,
            mail,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tokens::KeyAlgorithm;

    /// The configuration of an in-memory database and the settings `f` makes.
    pub(crate) fn config(f: impl FnOnce(&mut Settings)) -> Result<Config, ConfigError> {
        let mut settings = Settings {
            database_url: Some("sqlite::memory:".into()),
            ..Default::default()
        };
        f(&mut settings);
        Config::from_settings(&settings)
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = config(|_| {}).unwrap();
        let (keys, sessions, network) = (&c.keys, &c.sessions, &c.network);
        assert_eq!(network.bind, "127.0.0.1:8080");
        assert_eq!(keys.access_ttl, Duration::from_secs(600));
        assert_eq!(sessions.refresh_idle_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(sessions.session_max_age, Duration::from_secs(30 * 86400));
        assert_eq!(sessions.refresh_grace, Duration::from_secs(10));
        assert_eq!(keys.clock_leeway, Duration::ZERO);
        assert_eq!(sessions.bcrypt_cost, 12);
        assert!(network.cookie_secure);
        assert_eq!(sessions.registration, Registration::Open);
        assert_eq!(
            (sessions.login_max_failures, network.rate_limit_per_minute),
            (5, 30)
        );
        assert!(!network.trust_proxy);
        assert!(keys.jwt_secret.is_none());
        assert_eq!(keys.jwt_algorithm, KeyAlgorithm::Hs256);
        assert!(keys.jwt_previous_secrets.is_empty() && keys.refresh_secret.is_none());
        assert!(!c.operations.test_mode);
    }

    #[test]
    fn errors_name_the_variable() {
        let e = config(|s| s.access_ttl = Some("ten minutes".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_ACCESS_TTL");
        let e = config(|s| s.jwt_secret = Some("short".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_JWT_SECRET");
        assert!(
            !e.to_string().contains("short"),
            "the secret must not be echoed"
        );
        let e = config(|s| s.bcrypt_cost = Some("3".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_BCRYPT_COST");
        // A secret presented as a Bearer token must be one a header can carry.
        let spaced = "a secret with spaces in it";
        let e = config(|s| s.introspection_secret = Some(spaced.into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_INTROSPECTION_SECRET");
        assert!(!e.to_string().contains(spaced), "not echoed");
        let e = config(|s| s.metrics_token = Some("a-metrics-token#1".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_METRICS_TOKEN");
        assert!(
            config(|s| s.introspection_secret = Some("An+introspection/secret=".into())).is_ok()
        );
        let e = config(|s| s.database_url = Some("mysql://x".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_DATABASE_URL");
        let e = config(|s| s.registration = Some("maybe".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_REGISTRATION");
        let e = config(|s| s.allowed_origins = Some("https://a.example/path".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_ALLOWED_ORIGINS");
        let e = config(|s| s.bind = Some("nowhere".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_BIND");
        let e = config(|s| s.admin_email = Some("root@example.com".into())).unwrap_err();
        assert_eq!(
            e.variable, "WRISTBAND_ADMIN_EMAIL",
            "an admin email needs a password"
        );
        let e = config(|s| {
            s.admin_email = Some("root@example.com".into());
            s.admin_password = Some("short".into());
        })
        .unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_ADMIN_PASSWORD");
        assert!(!e.to_string().contains("short"));
        let e = config(|s| {
            s.admin_email = Some("root@example.com".into());
            s.admin_password = Some("Password123".into());
        })
        .unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_ADMIN_PASSWORD");
        assert!(e.to_string().contains("most common") && !e.to_string().contains("Password123"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = config(|s| {
            s.jwt_secret = Some("0123456789abcdef0123456789abcdef-secret".into());
            s.admin_email = Some("root@example.com".into());
            s.admin_password = Some("hunter2hunter2".into());
        })
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("-secret") && !shown.contains("hunter2"));
    }
}
