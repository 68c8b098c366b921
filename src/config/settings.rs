//! The settings table: each setting's field, flag and variable, declared once.
//!
//! [`settings!`] turns the table into [`Settings`] (the clap arguments, raw
//! strings) and [`Given`] (each raw value beside its variable's name, which
//! the sections read). Both come from the same row, so the name a flag reads
//! from the environment and the name an error reports cannot differ; a row no
//! section reads is an unread field of [`Given`], which the build refuses
//! (`dead_code`, under `-D warnings`).

use std::time::Duration;

use clap::Args;

use super::ConfigError;

/// Declares the settings: `/// help`, then `field: "VARIABLE"`, then, in
/// brackets, any further clap arguments. Every field is a `--field-name` flag
/// (kebab case), reads `VARIABLE` from the environment and is global (given
/// before or after the sub-command).
macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $field:ident: $variable:literal $([$($arg:tt)*])?,
    )*) => {
        /// The raw settings as given on the command line or in the environment,
        /// in `--help` order. Checked by [`Config::from_settings`](super::Config::from_settings).
        #[derive(Args, Clone, Default)]
        pub struct Settings {
            $(
                $(#[$doc])*
                #[arg(long, env = $variable, global = true $(, $($arg)*)?)]
                pub $field: Option<String>,
            )*
        }

        /// Every setting as given, each beside its variable's name.
        pub(super) struct Given<'a> {
            $(pub(super) $field: Setting<'a>,)*
        }

        impl Settings {
            /// Each value beside its variable's name, for the sections to read.
            pub(super) fn given(&self) -> Given<'_> {
                Given {
                    $($field: Setting {
                        variable: $variable,
                        raw: self.$field.as_deref(),
                    },)*
                }
            }
        }
    };
}

settings! {
    /// sqlite://PATH, sqlite::memory: or postgres://… (DATABASE_URL is read too)
    database_url: "WRISTBAND_DATABASE_URL" [hide_env_values = true],
    /// Listen address; port 0 picks a free port
    bind: "WRISTBAND_BIND",
    /// HS256 key (at least 32 bytes); generated and kept in the database if unset
    jwt_secret: "WRISTBAND_JWT_SECRET" [hide_env_values = true],
    /// Signing algorithm: HS256 (default) or EdDSA (Ed25519, public keys at /.well-known/jwks.json)
    jwt_alg: "WRISTBAND_JWT_ALG",
    /// Comma list of earlier HS256 secrets that still verify access tokens
    jwt_previous_secrets: "WRISTBAND_JWT_PREVIOUS_SECRETS" [hide_env_values = true],
    /// Key of refresh tokens (at least 32 bytes); generated and kept in the database if unset
    refresh_secret: "WRISTBAND_REFRESH_SECRET" [hide_env_values = true],
    /// `iss` of access tokens
    issuer: "WRISTBAND_ISSUER",
    /// `aud` of access tokens
    audience: "WRISTBAND_AUDIENCE",
    /// Access token lifetime (30s, 10m, 7d or seconds)
    access_ttl: "WRISTBAND_ACCESS_TTL",
    /// A session not refreshed for this long expires
    refresh_idle_ttl: "WRISTBAND_REFRESH_IDLE_TTL",
    /// Absolute session lifetime from login
    session_max_age: "WRISTBAND_SESSION_MAX_AGE",
    /// How long the immediately previous refresh token is still accepted
    refresh_grace: "WRISTBAND_REFRESH_GRACE",
    /// Leeway for `exp` and `nbf`
    clock_leeway: "WRISTBAND_CLOCK_LEEWAY",
    /// bcrypt cost (4–31)
    bcrypt_cost: "WRISTBAND_BCRYPT_COST",
    /// `false` only for plain-HTTP testing on a non-localhost host
    cookie_secure: "WRISTBAND_COOKIE_SECURE",
    /// The origin browsers use to reach Wristband, e.g. https://auth.example.com
    public_url: "WRISTBAND_PUBLIC_URL",
    /// Comma list of further origins allowed for CORS and cookie endpoints
    allowed_origins: "WRISTBAND_ALLOWED_ORIGINS",
    /// Passkeys' relying-party id: the public URL's host or a registrable suffix of it
    rp_id: "WRISTBAND_RP_ID",
    /// `open` or `closed`
    registration: "WRISTBAND_REGISTRATION",
    /// Consecutive login failures before a client class of an account (a known device, or every untrusted client) is locked
    login_max_failures: "WRISTBAND_LOGIN_MAX_FAILURES",
    /// How long a locked client class stays locked
    login_lockout: "WRISTBAND_LOGIN_LOCKOUT",
    /// Per-client-IP limit on login, register and refresh
    rate_limit_per_minute: "WRISTBAND_RATE_LIMIT_PER_MINUTE",
    /// How long a request waits for its database work (connection, lock, statement) before 503
    database_timeout: "WRISTBAND_DATABASE_TIMEOUT",
    /// Use X-Forwarded-For / X-Forwarded-Proto (only behind a trusted proxy)
    trust_proxy: "WRISTBAND_TRUST_PROXY",
    /// With WRISTBAND_ADMIN_PASSWORD: this admin exists after start-up
    admin_email: "WRISTBAND_ADMIN_EMAIL",
    /// Password of WRISTBAND_ADMIN_EMAIL
    admin_password: "WRISTBAND_ADMIN_PASSWORD" [hide_env_values = true],
    /// Range API of breached passwords in Have I Been Pwned's shape, e.g. https://api.pwnedpasswords.com/range
    pwned_passwords_url: "WRISTBAND_PWNED_PASSWORDS_URL",
    /// When set, `/metrics` needs it as a Bearer token
    metrics_token: "WRISTBAND_METRICS_TOKEN" [hide_env_values = true],
    /// Turns `POST /auth/introspect` on: callers present it as `Authorization: Bearer` (16 bytes or more)
    introspection_secret: "WRISTBAND_INTROSPECTION_SECRET" [hide_env_values = true],
    /// `text` or `json` (one JSON object per line)
    log_format: "WRISTBAND_LOG_FORMAT",
    /// PEM certificate chain: serve HTTPS (with WRISTBAND_TLS_KEY)
    tls_cert: "WRISTBAND_TLS_CERT",
    /// PEM private key of WRISTBAND_TLS_CERT
    tls_key: "WRISTBAND_TLS_KEY",
    /// How often ended sessions and stale login counts are purged
    purge_interval: "WRISTBAND_PURGE_INTERVAL",
    /// How long revoked and ended sessions are kept before the purge
    purge_retention: "WRISTBAND_PURGE_RETENTION",
    /// How long a stopping server lets in-flight requests finish
    shutdown_timeout: "WRISTBAND_SHUTDOWN_TIMEOUT",
    /// Test-only routes (/test/users, /test/clock, /test/mailbox), a movable clock and captured mail; loopback binds only
    test_mode: "WRISTBAND_TEST_MODE",
    /// smtp://[user:pass@]host[:port] (STARTTLS required unless loopback or ?tls=none) or smtps://…; unset: no mail
    smtp_url: "WRISTBAND_SMTP_URL" [hide_env_values = true],
    /// The From: of every mail, e.g. "Example <no-reply@example.com>"
    mail_from: "WRISTBAND_MAIL_FROM",
    /// The name mails show
    app_name: "WRISTBAND_APP_NAME",
    /// Where links in mails open (APP_URL#reset-password=…); default: the public URL
    app_url: "WRISTBAND_APP_URL",
    /// Lifetime of a password-reset link
    reset_ttl: "WRISTBAND_RESET_TTL",
    /// Lifetime of a verification or email-change link
    verify_ttl: "WRISTBAND_VERIFY_TTL",
    /// `true`: a right password for an unverified address gets 403 email_not_verified
    require_verified_email: "WRISTBAND_REQUIRE_VERIFIED_EMAIL",
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

/// One setting as given, with the name its errors report.
#[derive(Clone, Copy)]
pub(super) struct Setting<'a> {
    /// The environment variable (its flag is the same name in kebab case).
    pub(super) variable: &'static str,
    /// The value exactly as given, blank included.
    pub(super) raw: Option<&'a str>,
}

/// The longest duration any setting takes: keeps date arithmetic far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

impl<'a> Setting<'a> {
    /// The value, if one is given that is not blank.
    pub(super) fn value(&self) -> Option<&'a str> {
        self.raw.filter(|v| !v.trim().is_empty())
    }

    /// This setting refused, because of `message`.
    pub(super) fn invalid(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            variable: self.variable,
            message: message.into(),
        }
    }

    /// The value through `parse`, or `default` when unset or blank.
    pub(super) fn parse<T>(
        &self,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.value() {
            None => Ok(default),
            Some(v) => parse(v).map_err(|m| self.invalid(m)),
        }
    }

    /// A duration of at most 3650 days ([`parse_duration`]'s forms).
    pub(super) fn duration(&self, default: &str) -> Result<Duration, ConfigError> {
        let value = self.value().unwrap_or(default);
        let duration = parse_duration(value).map_err(|m| self.invalid(m))?;
        if duration > MAX_DURATION {
            return Err(self.invalid("must be at most 3650d"));
        }
        Ok(duration)
    }

    /// A [`duration`](Self::duration) longer than zero.
    pub(super) fn positive_duration(&self, default: &str) -> Result<Duration, ConfigError> {
        let duration = self.duration(default)?;
        if duration.is_zero() {
            return Err(self.invalid("must be longer than 0s"));
        }
        Ok(duration)
    }

    /// A whole number within `range`.
    pub(super) fn number(
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

    /// `true` / `false` (or `1` / `0`, `yes` / `no`, `on` / `off`).
    pub(super) fn flag(&self, default: bool) -> Result<bool, ConfigError> {
        self.parse(default, |v| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            other => Err(format!("{other:?} is not true or false")),
        })
    }
}

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

/// A secret callers present as a Bearer token: 16 bytes or more, of the
/// characters a header can carry. Never echoed.
pub(super) fn bearer_secret(v: &str) -> Result<Option<secrecy::SecretString>, String> {
    if v.len() < 16 {
        Err(format!("must be at least 16 bytes, got {}", v.len()))
    } else if !v.bytes().all(crate::tokens::is_token68_byte) {
        Err("may hold only letters, digits and - . _ ~ + / =".to_owned())
    } else {
        Ok(Some(v.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn each_flag_reads_its_own_name_from_the_environment() {
        // `--access-ttl` ↔ `WRISTBAND_ACCESS_TTL`, as docs/configuration.md says.
        let command = Settings::augment_args(clap::Command::new("wristband"));
        let mut seen = std::collections::BTreeSet::new();
        for arg in command.get_arguments() {
            let flag = arg.get_long().expect("every setting is a --flag");
            let env = arg.get_env().expect("every setting has a variable");
            let expected = format!("WRISTBAND_{}", flag.to_ascii_uppercase().replace('-', "_"));
            assert_eq!(env.to_str(), Some(expected.as_str()), "--{flag}");
            assert!(seen.insert(expected), "--{flag} is declared twice");
            assert!(arg.is_global_set(), "--{flag} is global");
        }
        let settings = Settings::default();
        let given = settings.given();
        assert_eq!(given.access_ttl.variable, "WRISTBAND_ACCESS_TTL");
        assert!(seen.len() > 20 && seen.contains(given.test_mode.variable));
    }
}
