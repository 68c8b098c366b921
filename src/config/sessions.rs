//! Sessions and accounts: session lifetimes, the login lockout, passwords
//! (bcrypt cost, the breached-password range API), registration, and the
//! purge of ended sessions.
//!
//! [`SessionPolicy`] and [`Lockout`] are the values the session rules work
//! with, built here from the settings; the rules that apply them
//! (`SessionPolicy::refusal`, `Lockout`'s limits) are in `sessions/`, which
//! imports this module (not the other way round).

use std::time::Duration;

use chrono::TimeDelta;

use super::ConfigError;
use super::settings::Given;

/// Whether anyone may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `/auth/register` is open to all.
    Open,
    /// Only admins create users.
    Closed,
}

/// Sessions, logins and passwords.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Idle lifetime of a session.
    pub refresh_idle_ttl: Duration,
    /// Absolute lifetime of a session.
    pub session_max_age: Duration,
    /// Grace window for the immediately previous refresh token.
    pub refresh_grace: Duration,
    /// bcrypt cost.
    pub bcrypt_cost: u32,
    /// Open or closed registration.
    pub registration: Registration,
    /// Consecutive failures before an account locks.
    pub login_max_failures: u32,
    /// Lockout duration.
    pub login_lockout: Duration,
    /// `WRISTBAND_PWNED_PASSWORDS_URL`, without a trailing `/`; `None`: only
    /// the bundled list of common passwords is checked.
    pub pwned_passwords_url: Option<String>,
    /// How often the purge runs.
    pub purge_interval: Duration,
    /// How long revoked and ended sessions are kept.
    pub purge_retention: Duration,
}

/// Session lifetimes, built once from the configuration
/// ([`SessionConfig::policy`]).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session not refreshed for this long has ended.
    pub idle_ttl: TimeDelta,
    /// A session ends this long after login whatever happens.
    pub max_age: TimeDelta,
    /// How long the immediately previous refresh token is still accepted.
    pub grace: TimeDelta,
}

/// The lockout per account and client class: after `max_failures`
/// consecutive verified failures, that class's attempts are refused for
/// `duration` ([`SessionConfig::lockout`]).
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    /// `WRISTBAND_LOGIN_MAX_FAILURES`.
    pub max_failures: i64,
    /// `WRISTBAND_LOGIN_LOCKOUT`.
    pub duration: TimeDelta,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
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

impl SessionConfig {
    pub(super) fn read(given: &Given<'_>) -> Result<Self, ConfigError> {
        let refresh_idle_ttl = given.refresh_idle_ttl.positive_duration("7d")?;
        let session_max_age = given.session_max_age.positive_duration("30d")?;
        // A grace window longer than the idle TTL is fine: the session's own
        // end (idle or absolute) still bounds it, see `SessionPolicy`.
        let refresh_grace = given.refresh_grace.duration("10s")?;
        let bcrypt_cost = given.bcrypt_cost.number(12, 4..=31)?;
        let registration = given.registration.parse(Registration::Open, |v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "open" => Ok(Registration::Open),
                "closed" => Ok(Registration::Closed),
                other => Err(format!("{other:?} is not open or closed")),
            }
        })?;
        let login_max_failures = given.login_max_failures.number(5, 1..=1000)?;
        let login_lockout = given.login_lockout.positive_duration("5m")?;
        let purge_interval = given.purge_interval.positive_duration("15m")?;
        let purge_retention = given.purge_retention.duration("1d")?;
        let pwned_passwords_url = given
            .pwned_passwords_url
            .parse(None, |v| parse_range_url(v).map(Some))?;
        Ok(Self {
            refresh_idle_ttl,
            session_max_age,
            refresh_grace,
            bcrypt_cost,
            registration,
            login_max_failures,
            login_lockout,
            pwned_passwords_url,
            purge_interval,
            purge_retention,
        })
    }

    /// The session lifetimes in force.
    pub fn policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle_ttl: delta(self.refresh_idle_ttl),
            max_age: delta(self.session_max_age),
            grace: delta(self.refresh_grace),
        }
    }

    /// The login lockout in force.
    pub fn lockout(&self) -> Lockout {
        Lockout {
            max_failures: i64::from(self.login_max_failures),
            duration: delta(self.login_lockout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;

    #[test]
    fn the_range_api_is_an_http_url() {
        assert_eq!(config(|_| {}).unwrap().sessions.pwned_passwords_url, None);
        let c = config(|s| {
            s.pwned_passwords_url = Some("https://api.pwnedpasswords.com/range/".into());
        })
        .unwrap();
        assert_eq!(
            c.sessions.pwned_passwords_url.as_deref(),
            Some("https://api.pwnedpasswords.com/range")
        );
        let c = config(|s| s.pwned_passwords_url = Some("http://127.0.0.1:9000".into())).unwrap();
        assert_eq!(
            c.sessions.pwned_passwords_url.as_deref(),
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
}
