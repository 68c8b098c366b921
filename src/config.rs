//! Every setting, read once and validated in one place.
//!
//! Values come from `--flags`, the environment, or a `.env` file (loaded by
//! `main` before parsing), in that order of precedence. Parsing is two steps:
//! clap collects raw strings ([`Settings`]), then [`Config::from_settings`] checks
//! each one and names the variable in its error, so bad configuration stops
//! start-up with a single clear line instead of a panic.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use crate::db::DatabaseUrl;
pub use crate::logging::LogFormat;
use crate::tokens::KeyAlgorithm;

/// The raw settings as given on the command line or in the environment.
#[derive(Args, Clone, Default)]
pub struct Settings {
    /// sqlite://PATH, sqlite::memory: or postgres://… (DATABASE_URL is read too)
    #[arg(
        long,
        env = "WRISTBAND_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Listen address; port 0 picks a free port
    #[arg(long, env = "WRISTBAND_BIND", global = true)]
    pub bind: Option<String>,
    /// HS256 key (at least 32 bytes); generated and kept in the database if unset
    #[arg(
        long,
        env = "WRISTBAND_JWT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jwt_secret: Option<String>,
    /// Signing algorithm: HS256 (default) or EdDSA (Ed25519, public keys at /.well-known/jwks.json)
    #[arg(long, env = "WRISTBAND_JWT_ALG", global = true)]
    pub jwt_alg: Option<String>,
    /// Comma list of earlier HS256 secrets that still verify access tokens
    #[arg(
        long,
        env = "WRISTBAND_JWT_PREVIOUS_SECRETS",
        global = true,
        hide_env_values = true
    )]
    pub jwt_previous_secrets: Option<String>,
    /// Key of refresh tokens (at least 32 bytes); generated and kept in the database if unset
    #[arg(
        long,
        env = "WRISTBAND_REFRESH_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub refresh_secret: Option<String>,
    /// `iss` of access tokens
    #[arg(long, env = "WRISTBAND_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// `aud` of access tokens
    #[arg(long, env = "WRISTBAND_AUDIENCE", global = true)]
    pub audience: Option<String>,
    /// Access token lifetime (30s, 10m, 7d or seconds)
    #[arg(long, env = "WRISTBAND_ACCESS_TTL", global = true)]
    pub access_ttl: Option<String>,
    /// A session not refreshed for this long expires
    #[arg(long, env = "WRISTBAND_REFRESH_IDLE_TTL", global = true)]
    pub refresh_idle_ttl: Option<String>,
    /// Absolute session lifetime from login
    #[arg(long, env = "WRISTBAND_SESSION_MAX_AGE", global = true)]
    pub session_max_age: Option<String>,
    /// How long the immediately previous refresh token is still accepted
    #[arg(long, env = "WRISTBAND_REFRESH_GRACE", global = true)]
    pub refresh_grace: Option<String>,
    /// Leeway for `exp` and `nbf`
    #[arg(long, env = "WRISTBAND_CLOCK_LEEWAY", global = true)]
    pub clock_leeway: Option<String>,
    /// bcrypt cost (4–31)
    #[arg(long, env = "WRISTBAND_BCRYPT_COST", global = true)]
    pub bcrypt_cost: Option<String>,
    /// `false` only for plain-HTTP testing on a non-localhost host
    #[arg(long, env = "WRISTBAND_COOKIE_SECURE", global = true)]
    pub cookie_secure: Option<String>,
    /// The origin browsers use to reach Wristband, e.g. https://auth.example.com
    #[arg(long, env = "WRISTBAND_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Comma list of further origins allowed for CORS and cookie endpoints
    #[arg(long, env = "WRISTBAND_ALLOWED_ORIGINS", global = true)]
    pub allowed_origins: Option<String>,
    /// `open` or `closed`
    #[arg(long, env = "WRISTBAND_REGISTRATION", global = true)]
    pub registration: Option<String>,
    /// Consecutive login failures before an account is locked
    #[arg(long, env = "WRISTBAND_LOGIN_MAX_FAILURES", global = true)]
    pub login_max_failures: Option<String>,
    /// How long a locked account stays locked
    #[arg(long, env = "WRISTBAND_LOGIN_LOCKOUT", global = true)]
    pub login_lockout: Option<String>,
    /// Per-client-IP limit on login, register and refresh
    #[arg(long, env = "WRISTBAND_RATE_LIMIT_PER_MINUTE", global = true)]
    pub rate_limit_per_minute: Option<String>,
    /// How long a request waits for a database connection before 503
    #[arg(long, env = "WRISTBAND_DATABASE_TIMEOUT", global = true)]
    pub database_timeout: Option<String>,
    /// Use X-Forwarded-For / X-Forwarded-Proto (only behind a trusted proxy)
    #[arg(long, env = "WRISTBAND_TRUST_PROXY", global = true)]
    pub trust_proxy: Option<String>,
    /// With WRISTBAND_ADMIN_PASSWORD: this admin exists after start-up
    #[arg(long, env = "WRISTBAND_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,
    /// Password of WRISTBAND_ADMIN_EMAIL
    #[arg(
        long,
        env = "WRISTBAND_ADMIN_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// Range API of breached passwords in Have I Been Pwned's shape, e.g. https://api.pwnedpasswords.com/range
    #[arg(long, env = "WRISTBAND_PWNED_PASSWORDS_URL", global = true)]
    pub pwned_passwords_url: Option<String>,
    /// When set, `/metrics` needs it as a Bearer token
    #[arg(
        long,
        env = "WRISTBAND_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Turns `POST /auth/introspect` on: callers present it as `Authorization: Bearer` (16 bytes or more)
    #[arg(
        long,
        env = "WRISTBAND_INTROSPECTION_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub introspection_secret: Option<String>,
    /// `text` or `json` (one JSON object per line)
    #[arg(long, env = "WRISTBAND_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// PEM certificate chain: serve HTTPS (with WRISTBAND_TLS_KEY)
    #[arg(long, env = "WRISTBAND_TLS_CERT", global = true)]
    pub tls_cert: Option<String>,
    /// PEM private key of WRISTBAND_TLS_CERT
    #[arg(long, env = "WRISTBAND_TLS_KEY", global = true)]
    pub tls_key: Option<String>,
    /// How often ended sessions and stale login counts are purged
    #[arg(long, env = "WRISTBAND_PURGE_INTERVAL", global = true)]
    pub purge_interval: Option<String>,
    /// How long revoked and ended sessions are kept before the purge
    #[arg(long, env = "WRISTBAND_PURGE_RETENTION", global = true)]
    pub purge_retention: Option<String>,
    /// How long a stopping server lets in-flight requests finish
    #[arg(long, env = "WRISTBAND_SHUTDOWN_TIMEOUT", global = true)]
    pub shutdown_timeout: Option<String>,
    /// Test-only routes (/test/users, /test/clock) and a movable clock; loopback binds only
    #[arg(long, env = "WRISTBAND_TEST_MODE", global = true)]
    pub test_mode: Option<String>,
}

/// Whether anyone may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `/auth/register` is open to all.
    Open,
    /// Only admins create users.
    Closed,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the data lives.
    pub database_url: DatabaseUrl,
    /// Listen address.
    pub bind: String,
    /// Configured signing key; `None` means "generated once, kept in the database".
    pub jwt_secret: Option<SecretString>,
    /// `WRISTBAND_JWT_ALG`.
    pub jwt_algorithm: KeyAlgorithm,
    /// `WRISTBAND_JWT_PREVIOUS_SECRETS`.
    pub jwt_previous_secrets: Vec<SecretString>,
    /// `WRISTBAND_REFRESH_SECRET`; `None`: generated and kept in the database.
    pub refresh_secret: Option<SecretString>,
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Idle lifetime of a session.
    pub refresh_idle_ttl: Duration,
    /// Absolute lifetime of a session.
    pub session_max_age: Duration,
    /// Grace window for the immediately previous refresh token.
    pub refresh_grace: Duration,
    /// Leeway for `exp` / `nbf`.
    pub clock_leeway: Duration,
    /// bcrypt cost.
    pub bcrypt_cost: u32,
    /// Whether the refresh cookie is `Secure` and `__Host-` prefixed.
    pub cookie_secure: bool,
    /// The origin browsers use to reach Wristband, if configured.
    pub public_url: Option<String>,
    /// Further origins allowed for CORS and cookie endpoints.
    pub allowed_origins: Vec<String>,
    /// Open or closed registration.
    pub registration: Registration,
    /// Consecutive failures before an account locks.
    pub login_max_failures: u32,
    /// Lockout duration.
    pub login_lockout: Duration,
    /// Per-IP limit per minute on login, register, refresh.
    pub rate_limit_per_minute: u32,
    /// Whether forwarded headers are trusted.
    pub trust_proxy: bool,
    /// How long a request waits for a pooled database connection.
    pub database_timeout: Duration,
    /// The admin that must exist after start-up.
    pub admin: Option<(String, SecretString)>,
    /// `WRISTBAND_PWNED_PASSWORDS_URL`, without a trailing `/`; `None`: only
    /// the bundled list of common passwords is checked.
    pub pwned_passwords_url: Option<String>,
    /// The Bearer token `/metrics` needs; `None`: `/metrics` is public.
    pub metrics_token: Option<SecretString>,
    /// The Bearer token `/auth/introspect` needs; `None`: the endpoint is off.
    pub introspection_secret: Option<SecretString>,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// PEM files of the certificate chain and key: serve HTTPS.
    pub tls: Option<(String, String)>,
    /// How often the purge runs.
    pub purge_interval: Duration,
    /// How long revoked and ended sessions are kept.
    pub purge_retention: Duration,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_timeout: Duration,
    /// `WRISTBAND_TEST_MODE`.
    pub test_mode: bool,
    /// HTTP worker threads (`None`: one per core). Not a user setting: tests
    /// and embedders lower it.
    pub workers: Option<usize>,
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

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// The longest duration any setting takes: keeps date arithmetic far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Parses `30s`, `10m`, `7d`, `1h 30m` or a bare number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| "number too large".to_owned());
    }
    humantime::parse_duration(value)
        .map_err(|_| format!("{value:?} is not a duration (use 30s, 10m, 7d or seconds)"))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

/// Checks an http(s) URL with a host and no query or fragment (a range API's
/// `/{prefix}` is appended to it) and returns it without a trailing `/`. The
/// value is not echoed: a URL may carry credentials.
fn parse_range_url(value: &str) -> Result<String, String> {
    let refused = || {
        "must be an http:// or https:// URL with a host and no query or fragment, \
         e.g. https://api.pwnedpasswords.com/range"
            .to_owned()
    };
    let url = reqwest::Url::parse(value.trim()).map_err(|_| refused())?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if !usable {
        return Err(refused());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Checks `scheme://host[:port]` with nothing after it, and returns it in the
/// form browsers send in `Origin`: lower case, no trailing slash, no default
/// port (`:443` for https, `:80` for http).
fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest, default_port) = if let Some(rest) = value.strip_prefix("https://") {
        ("https", rest, "443")
    } else if let Some(rest) = value.strip_prefix("http://") {
        ("http", rest, "80")
    } else {
        return Err(format!("{value:?} is not an http(s) origin"));
    };
    let bad_host = rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']);
    // The port follows the last ':' — after the ']' of an IPv6 literal.
    let after_host = rest.rsplit_once(']').map_or(rest, |(_, tail)| tail);
    let port_ok = after_host
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_ok());
    if bad_host || !port_ok {
        return Err(format!(
            "{value:?} must be scheme://host[:port] with no path"
        ));
    }
    let host = rest
        .strip_suffix(&format!(":{default_port}"))
        .unwrap_or(rest);
    Ok(format!("{scheme}://{host}"))
}

struct Reader<'a> {
    variable: &'static str,
    value: Option<&'a str>,
}

impl<'a> Reader<'a> {
    fn new(variable: &'static str, value: &'a Option<String>) -> Self {
        let value = value.as_deref().filter(|v| !v.trim().is_empty());
        Self { variable, value }
    }

    fn parse<T>(
        &self,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.value {
            None => Ok(default),
            Some(v) => parse(v).map_err(|m| invalid(self.variable, m)),
        }
    }

    fn duration(&self, default: &str) -> Result<Duration, ConfigError> {
        let value = self.value.unwrap_or(default);
        let duration = parse_duration(value).map_err(|m| invalid(self.variable, m))?;
        if duration > MAX_DURATION {
            return Err(invalid(self.variable, "must be at most 3650d"));
        }
        Ok(duration)
    }

    fn number(
        &self,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        self.parse(default, |v| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    format!(
                        "{v:?} is not a whole number from {} to {}",
                        range.start(),
                        range.end()
                    )
                })
        })
    }
}

/// Whether every address `bind` names is a loopback one (test mode's rule).
fn binds_loopback_only(bind: &str) -> bool {
    match bind.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

impl Settings {
    /// These settings for a throw-away server (`wristband serve --ephemeral`):
    /// an in-memory SQLite database, a free port on 127.0.0.1, a signing key
    /// generated at start (any configured one is ignored) and bcrypt cost 4;
    /// everything else as given. Nothing outlives the process.
    pub fn ephemeral(self) -> Self {
        Self {
            database_url: Some("sqlite::memory:".into()),
            bind: Some("127.0.0.1:0".into()),
            jwt_secret: None,
            refresh_secret: None,
            bcrypt_cost: Some("4".into()),
            ..self
        }
    }
}

impl Config {
    /// Validates raw settings; the error names the offending variable.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let database_url = s
            .database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .unwrap_or_else(|| "sqlite://wristband.db".into());
        let database_url =
            DatabaseUrl::parse(&database_url).map_err(|m| invalid("WRISTBAND_DATABASE_URL", m))?;

        let bind = Reader::new("WRISTBAND_BIND", &s.bind).parse("127.0.0.1:8080".into(), |v| {
            let v = v.trim();
            let resolves = v.parse::<SocketAddr>().is_ok()
                || v.to_socket_addrs().is_ok_and(|mut a| a.next().is_some());
            if resolves {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not HOST:PORT"))
            }
        })?;

        let jwt_secret = Reader::new("WRISTBAND_JWT_SECRET", &s.jwt_secret).parse(None, |v| {
            if v.len() < 32 {
                Err(format!("must be at least 32 bytes, got {}", v.len()))
            } else {
                Ok(Some(SecretString::from(v)))
            }
        })?;

        let key_secret = |v: &str| {
            if v.len() < 32 {
                Err(format!("must be at least 32 bytes, got {}", v.len()))
            } else {
                Ok(SecretString::from(v))
            }
        };
        let jwt_algorithm = Reader::new("WRISTBAND_JWT_ALG", &s.jwt_alg)
            .parse(KeyAlgorithm::Hs256, |v| {
                KeyAlgorithm::parse(v).ok_or_else(|| format!("{v:?} is not HS256 or EdDSA"))
            })?;
        if jwt_algorithm == KeyAlgorithm::EdDsa && jwt_secret.is_some() {
            return Err(invalid(
                "WRISTBAND_JWT_SECRET",
                "is an HS256 key: unset it with WRISTBAND_JWT_ALG=EdDSA (Ed25519 keys live in the database)",
            ));
        }
        let jwt_previous_secrets = Reader::new(
            "WRISTBAND_JWT_PREVIOUS_SECRETS",
            &s.jwt_previous_secrets,
        )
        .parse(Vec::new(), |v| {
            v.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| key_secret(p.trim()))
                .collect()
        })?;
        let refresh_secret = Reader::new("WRISTBAND_REFRESH_SECRET", &s.refresh_secret)
            .parse(None, |v| key_secret(v).map(Some))?;
        if !jwt_previous_secrets.is_empty() {
            if jwt_algorithm == KeyAlgorithm::EdDsa {
                return Err(invalid(
                    "WRISTBAND_JWT_PREVIOUS_SECRETS",
                    "are HS256 keys: not accepted with WRISTBAND_JWT_ALG=EdDSA",
                ));
            }
            // Refresh tokens are otherwise keyed by the signing secret, and
            // replacing it would log everybody out.
            if refresh_secret.is_none() {
                return Err(invalid(
                    "WRISTBAND_JWT_PREVIOUS_SECRETS",
                    "need WRISTBAND_REFRESH_SECRET (set it to the secret refresh tokens were keyed by, \
                     the previous WRISTBAND_JWT_SECRET, so nobody is logged out)",
                ));
            }
        }
        let test_mode =
            Reader::new("WRISTBAND_TEST_MODE", &s.test_mode).parse(false, parse_bool)?;
        if test_mode && !binds_loopback_only(&bind) {
            return Err(invalid(
                "WRISTBAND_TEST_MODE",
                format!("is refused unless WRISTBAND_BIND is a loopback address, got {bind:?}"),
            ));
        }

        let non_empty = |v: &str| Ok(v.trim().to_owned());
        let issuer =
            Reader::new("WRISTBAND_ISSUER", &s.issuer).parse("wristband".into(), non_empty)?;
        let audience =
            Reader::new("WRISTBAND_AUDIENCE", &s.audience).parse("wristband".into(), non_empty)?;

        let positive = |variable: &'static str, d: Duration| {
            if d.is_zero() {
                Err(invalid(variable, "must be longer than 0s"))
            } else {
                Ok(d)
            }
        };
        let access_ttl = positive(
            "WRISTBAND_ACCESS_TTL",
            Reader::new("WRISTBAND_ACCESS_TTL", &s.access_ttl).duration("10m")?,
        )?;
        let refresh_idle_ttl = positive(
            "WRISTBAND_REFRESH_IDLE_TTL",
            Reader::new("WRISTBAND_REFRESH_IDLE_TTL", &s.refresh_idle_ttl).duration("7d")?,
        )?;
        let session_max_age = positive(
            "WRISTBAND_SESSION_MAX_AGE",
            Reader::new("WRISTBAND_SESSION_MAX_AGE", &s.session_max_age).duration("30d")?,
        )?;
        let refresh_grace =
            Reader::new("WRISTBAND_REFRESH_GRACE", &s.refresh_grace).duration("10s")?;
        // A grace window longer than the idle TTL is fine: the session's own
        // end (idle or absolute) still bounds it, see `SessionPolicy`.
        let clock_leeway = Reader::new("WRISTBAND_CLOCK_LEEWAY", &s.clock_leeway).duration("0s")?;
        if clock_leeway >= access_ttl {
            return Err(invalid(
                "WRISTBAND_CLOCK_LEEWAY",
                "must be shorter than WRISTBAND_ACCESS_TTL",
            ));
        }
        let bcrypt_cost =
            Reader::new("WRISTBAND_BCRYPT_COST", &s.bcrypt_cost).number(12, 4..=31)?;
        let cookie_secure =
            Reader::new("WRISTBAND_COOKIE_SECURE", &s.cookie_secure).parse(true, parse_bool)?;
        let public_url = Reader::new("WRISTBAND_PUBLIC_URL", &s.public_url)
            .parse(None, |v| parse_origin(v).map(Some))?;
        let allowed_origins = Reader::new("WRISTBAND_ALLOWED_ORIGINS", &s.allowed_origins).parse(
            Vec::new(),
            |v| {
                v.split(',')
                    .filter(|o| !o.trim().is_empty())
                    .map(parse_origin)
                    .collect()
            },
        )?;
        let registration = Reader::new("WRISTBAND_REGISTRATION", &s.registration).parse(
            Registration::Open,
            |v| match v.trim().to_ascii_lowercase().as_str() {
                "open" => Ok(Registration::Open),
                "closed" => Ok(Registration::Closed),
                other => Err(format!("{other:?} is not open or closed")),
            },
        )?;
        let login_max_failures = Reader::new("WRISTBAND_LOGIN_MAX_FAILURES", &s.login_max_failures)
            .number(5, 1..=1000)?;
        let login_lockout = positive(
            "WRISTBAND_LOGIN_LOCKOUT",
            Reader::new("WRISTBAND_LOGIN_LOCKOUT", &s.login_lockout).duration("5m")?,
        )?;
        let rate_limit_per_minute =
            Reader::new("WRISTBAND_RATE_LIMIT_PER_MINUTE", &s.rate_limit_per_minute)
                .number(30, 1..=1_000_000)?;
        let trust_proxy =
            Reader::new("WRISTBAND_TRUST_PROXY", &s.trust_proxy).parse(false, parse_bool)?;
        let database_timeout =
            Reader::new("WRISTBAND_DATABASE_TIMEOUT", &s.database_timeout).duration("2s")?;
        // At most 5 s: a request must be able to wait for a connection and
        // still answer 503 well within its 10 s deadline.
        if database_timeout.is_zero() || database_timeout > Duration::from_secs(5) {
            return Err(invalid(
                "WRISTBAND_DATABASE_TIMEOUT",
                "must be from 1ms to 5s",
            ));
        }

        let admin_email =
            Reader::new("WRISTBAND_ADMIN_EMAIL", &s.admin_email).parse(None, |v| {
                crate::auth::email::normalize(v)
                    .map(Some)
                    .map_err(|_| format!("{v:?} is not an email address"))
            })?;
        // Presented as a Bearer token, so made of the characters one may hold.
        let shared_secret = |v: &str| {
            if v.len() < 16 {
                Err(format!("must be at least 16 bytes, got {}", v.len()))
            } else if !v.bytes().all(crate::tokens::is_token68_byte) {
                Err("may hold only letters, digits and - . _ ~ + / =".to_owned())
            } else {
                Ok(Some(SecretString::from(v)))
            }
        };
        let metrics_token =
            Reader::new("WRISTBAND_METRICS_TOKEN", &s.metrics_token).parse(None, shared_secret)?;
        let introspection_secret =
            Reader::new("WRISTBAND_INTROSPECTION_SECRET", &s.introspection_secret)
                .parse(None, shared_secret)?;
        let log_format = Reader::new("WRISTBAND_LOG_FORMAT", &s.log_format).parse(
            LogFormat::Text,
            |v| match v.trim().to_ascii_lowercase().as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                other => Err(format!("{other:?} is not text or json")),
            },
        )?;
        let file = |variable: &'static str, value: &Option<String>| {
            Reader::new(variable, value).parse(None, |v| {
                let path = v.trim();
                if std::path::Path::new(path).is_file() {
                    Ok(Some(path.to_owned()))
                } else {
                    Err(format!("{path:?} is not a readable file"))
                }
            })
        };
        let tls = match (
            file("WRISTBAND_TLS_CERT", &s.tls_cert)?,
            file("WRISTBAND_TLS_KEY", &s.tls_key)?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "WRISTBAND_TLS_KEY",
                    "is needed with WRISTBAND_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "WRISTBAND_TLS_CERT",
                    "is needed with WRISTBAND_TLS_KEY",
                ));
            }
        };
        let purge_interval = positive(
            "WRISTBAND_PURGE_INTERVAL",
            Reader::new("WRISTBAND_PURGE_INTERVAL", &s.purge_interval).duration("15m")?,
        )?;
        let purge_retention =
            Reader::new("WRISTBAND_PURGE_RETENTION", &s.purge_retention).duration("1d")?;
        let shutdown_timeout =
            Reader::new("WRISTBAND_SHUTDOWN_TIMEOUT", &s.shutdown_timeout).duration("10s")?;
        if shutdown_timeout.subsec_nanos() != 0 || shutdown_timeout > Duration::from_secs(600) {
            return Err(invalid(
                "WRISTBAND_SHUTDOWN_TIMEOUT",
                "must be whole seconds, at most 600s",
            ));
        }

        let admin_password = s.admin_password.clone().filter(|p| !p.is_empty());
        if let Some(password) = &admin_password {
            // The policy's own reason: too short, too long, or too common.
            if let Some(why) = crate::auth::password::weakness(password) {
                return Err(invalid("WRISTBAND_ADMIN_PASSWORD", why));
            }
        }
        let admin = match (admin_email, admin_password) {
            (Some(email), Some(password)) => Some((email, SecretString::from(password))),
            (Some(_), None) => {
                return Err(invalid(
                    "WRISTBAND_ADMIN_EMAIL",
                    "is set but WRISTBAND_ADMIN_PASSWORD is not",
                ));
            }
            _ => None,
        };
        let pwned_passwords_url =
            Reader::new("WRISTBAND_PWNED_PASSWORDS_URL", &s.pwned_passwords_url)
                .parse(None, |v| parse_range_url(v).map(Some))?;

        Ok(Self {
            database_url,
            bind,
            jwt_secret,
            jwt_algorithm,
            jwt_previous_secrets,
            refresh_secret,
            issuer,
            audience,
            access_ttl,
            refresh_idle_ttl,
            session_max_age,
            refresh_grace,
            clock_leeway,
            bcrypt_cost,
            cookie_secure,
            public_url,
            allowed_origins,
            registration,
            login_max_failures,
            login_lockout,
            rate_limit_per_minute,
            trust_proxy,
            database_timeout,
            admin,
            pwned_passwords_url,
            metrics_token,
            introspection_secret,
            log_format,
            tls,
            purge_interval,
            purge_retention,
            shutdown_timeout,
            test_mode,
            workers: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(f: impl FnOnce(&mut Settings)) -> Result<Config, ConfigError> {
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
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.access_ttl, Duration::from_secs(600));
        assert_eq!(c.refresh_idle_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(c.session_max_age, Duration::from_secs(30 * 86400));
        assert_eq!(c.refresh_grace, Duration::from_secs(10));
        assert_eq!(c.clock_leeway, Duration::ZERO);
        assert_eq!(c.bcrypt_cost, 12);
        assert!(c.cookie_secure);
        assert_eq!(c.registration, Registration::Open);
        assert_eq!((c.login_max_failures, c.rate_limit_per_minute), (5, 30));
        assert!(!c.trust_proxy);
        assert!(c.jwt_secret.is_none());
        assert_eq!(c.jwt_algorithm, KeyAlgorithm::Hs256);
        assert!(c.jwt_previous_secrets.is_empty() && c.refresh_secret.is_none());
        assert!(!c.test_mode);
    }

    #[test]
    fn test_mode_is_for_loopback_binds_only() {
        for bind in ["127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:9000"] {
            let c = config(|s| {
                s.test_mode = Some("true".into());
                s.bind = Some(bind.into());
            });
            assert!(c.is_ok_and(|c| c.test_mode), "{bind}");
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

    #[test]
    fn key_settings_are_checked() {
        let c = config(|s| s.jwt_alg = Some("eddsa".into())).unwrap();
        assert_eq!(c.jwt_algorithm, KeyAlgorithm::EdDsa);
        let e = config(|s| s.jwt_alg = Some("RS256".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_JWT_ALG");
        let e = config(|s| {
            s.jwt_alg = Some("EdDSA".into());
            s.jwt_secret = Some("0123456789abcdef0123456789abcdef".into());
        })
        .unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_JWT_SECRET");
        let previous = "0123456789abcdef0123456789abcdef, fedcba9876543210fedcba9876543210,";
        let refresh = "a-refresh-secret-of-32-bytes-or-more";
        let c = config(|s| {
            s.jwt_previous_secrets = Some(previous.into());
            s.refresh_secret = Some(refresh.into());
        })
        .unwrap();
        assert_eq!(c.jwt_previous_secrets.len(), 2);
        let e = config(|s| s.jwt_previous_secrets = Some(previous.into())).unwrap_err();
        assert_eq!(
            e.variable, "WRISTBAND_JWT_PREVIOUS_SECRETS",
            "needs a refresh secret"
        );
        let e = config(|s| {
            s.jwt_previous_secrets = Some(previous.into());
            s.refresh_secret = Some(refresh.into());
            s.jwt_alg = Some("EdDSA".into());
        })
        .unwrap_err();
        assert_eq!(
            e.variable, "WRISTBAND_JWT_PREVIOUS_SECRETS",
            "not with EdDSA"
        );
        let e = config(|s| s.jwt_previous_secrets = Some("short".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_JWT_PREVIOUS_SECRETS");
        let e = config(|s| s.refresh_secret = Some("short".into())).unwrap_err();
        assert_eq!(e.variable, "WRISTBAND_REFRESH_SECRET");
    }

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5").is_err());
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
    fn the_range_api_is_an_http_url() {
        assert_eq!(config(|_| {}).unwrap().pwned_passwords_url, None);
        let c = config(|s| {
            s.pwned_passwords_url = Some("https://api.pwnedpasswords.com/range/".into());
        })
        .unwrap();
        assert_eq!(
            c.pwned_passwords_url.as_deref(),
            Some("https://api.pwnedpasswords.com/range")
        );
        let c = config(|s| s.pwned_passwords_url = Some("http://127.0.0.1:9000".into())).unwrap();
        assert_eq!(
            c.pwned_passwords_url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        for bad in [
            "api.pwnedpasswords.com/range",
            "ftp://example.com/range",
            "https://example.com/range?key=1",
            "https://example.com/range#x",
            "https://user:hunter2@/range",
            "not a url",
        ] {
            let e = config(|s| s.pwned_passwords_url = Some(bad.into())).unwrap_err();
            assert_eq!(e.variable, "WRISTBAND_PWNED_PASSWORDS_URL", "{bad}");
            assert!(!e.to_string().contains("hunter2"), "not echoed");
        }
    }

    #[test]
    fn origins_take_the_form_browsers_send() {
        assert_eq!(
            parse_origin("HTTPS://Auth.Example.com:443/"),
            Ok("https://auth.example.com".into())
        );
        assert_eq!(
            parse_origin("http://localhost:80"),
            Ok("http://localhost".into())
        );
        assert_eq!(
            parse_origin("https://a.example:8443"),
            Ok("https://a.example:8443".into())
        );
        assert!(parse_origin("https://a.example:99999").is_err());
        assert!(parse_origin("https://a.example/path").is_err());
        assert!(parse_origin("ftp://a.example").is_err());
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
