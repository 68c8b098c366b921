//! Mail: the SMTP server, the sender, the app the links open, and how long
//! links live. Mail is on with an SMTP URL, or in test mode (captured, not
//! sent, unless an SMTP URL is also given).

use std::time::Duration;

use secrecy::SecretString;

use super::ConfigError;
use super::settings::Given;

/// How mails leave.
#[derive(Clone, PartialEq, Eq)]
pub enum Tls {
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtp://` to a loopback host, or `?tls=none`: plain text.
    None,
}

/// A parsed `WRISTBAND_SMTP_URL`. Its `Debug` shows no password.
#[derive(Clone)]
pub struct SmtpUrl {
    /// Host name or address.
    pub host: String,
    /// Port (25 for `smtp://`, 465 for `smtps://` unless given).
    pub port: u16,
    /// How the connection is protected.
    pub tls: Tls,
    /// User name and password, if given.
    pub credentials: Option<(String, SecretString)>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tls = match self.tls {
            Tls::Implicit => "implicit",
            Tls::StartTls => "starttls",
            Tls::None => "none",
        };
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &tls)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

impl SmtpUrl {
    /// Parses `smtp://[user:pass@]host[:port][?tls=none]` or `smtps://…`.
    /// Errors never quote the URL (it may hold the password).
    pub fn parse(value: &str) -> Result<Self, String> {
        let url = url::Url::parse(value.trim())
            .map_err(|e| format!("is not a URL ({e}); expected smtp://[user:pass@]host[:port]"))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(format!("scheme {other:?} is not smtp or smtps")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err("must have no path or fragment".into());
        }
        let mut tls_none = false;
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none") if !implicit => tls_none = true,
                ("tls", "required") if !implicit => {}
                _ => return Err(format!("unknown option {key:?} (only tls=none)")),
            }
        }
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let tls = if implicit {
            Tls::Implicit
        } else if tls_none || loopback {
            Tls::None
        } else {
            Tls::StartTls
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|t| t.into_owned())
                .map_err(|_| "the user or password is not UTF-8 once decoded".to_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => return Err("has a password but no user".into()),
            (user, password) => Some((
                decode(user)?,
                SecretString::from(decode(password.unwrap_or(""))?),
            )),
        };
        let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
        Ok(Self {
            host,
            port,
            tls,
            credentials,
        })
    }
}

/// The mail settings.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// Where mails are sent; `None`: captured (test mode) or no mail.
    pub smtp: Option<SmtpUrl>,
    /// Whether mail is on: an SMTP URL, or test mode.
    pub enabled: bool,
    /// The `From:` of every mail; `None`: `APP_NAME <no-reply@HOST>`, HOST
    /// from the public URL (or `localhost`).
    pub from: Option<String>,
    /// The name mails show.
    pub app_name: String,
    /// Where links open; `None`: the public URL, or else the bound address.
    pub app_url: Option<String>,
    /// Lifetime of a reset link.
    pub reset_ttl: Duration,
    /// Lifetime of a verification or email-change link.
    pub verify_ttl: Duration,
    /// A right password for an unverified address is refused.
    pub require_verified_email: bool,
}

impl MailConfig {
    /// This section's settings; `test_mode` turns mail on without SMTP.
    pub(super) fn read(given: &Given<'_>, test_mode: bool) -> Result<Self, ConfigError> {
        let smtp = given
            .smtp_url
            .parse(None, |v| SmtpUrl::parse(v).map(Some))?;
        let enabled = smtp.is_some() || test_mode;
        let from = given.mail_from.parse(None, |v| {
            v.trim()
                .parse::<lettre::message::Mailbox>()
                .map(|_| Some(v.trim().to_owned()))
                .map_err(|_| format!("{v:?} is not an address (Name <user@host> or user@host)"))
        })?;
        let app_name = given.app_name.parse("Wristband".to_owned(), |v| {
            let v = v.trim();
            if v.chars().count() > 64 || v.chars().any(char::is_control) {
                Err("must be at most 64 characters, on one line".into())
            } else {
                Ok(v.to_owned())
            }
        })?;
        let app_url = given.app_url.parse(None, |v| {
            let url = url::Url::parse(v.trim()).map_err(|e| format!("is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err("must be an http(s) URL".into());
            }
            if url.fragment().is_some() {
                return Err("must have no #fragment (links add their own)".into());
            }
            Ok(Some(url.to_string()))
        })?;
        let reset_ttl = given.reset_ttl.positive_duration("1h")?;
        let verify_ttl = given.verify_ttl.positive_duration("24h")?;
        let require_verified_email = given.require_verified_email.flag(false)?;
        if require_verified_email && !enabled {
            let smtp = given.smtp_url.variable;
            return Err(given
                .require_verified_email
                .invalid(format!("needs mail: set {smtp}")));
        }
        Ok(Self {
            smtp,
            enabled,
            from,
            app_name,
            app_url,
            reset_ttl,
            verify_ttl,
            require_verified_email,
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn smtp_urls() {
        let url = SmtpUrl::parse("smtp://mailer:p%40ss@mail.example.com:587").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("mail.example.com", 587));
        assert!(url.tls == Tls::StartTls, "STARTTLS is required by default");
        let (user, password) = url.credentials.clone().unwrap();
        assert_eq!(
            (user.as_str(), password.expose_secret()),
            ("mailer", "p@ss")
        );
        assert!(!format!("{url:?}").contains("p@ss"), "no password in Debug");

        let url = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert!(url.tls == Tls::None && url.credentials.is_none());
        assert!(SmtpUrl::parse("smtp://localhost").unwrap().tls == Tls::None);
        assert!(SmtpUrl::parse("smtp://[::1]:25").unwrap().tls == Tls::None);
        let url = SmtpUrl::parse("smtp://relay.internal?tls=none").unwrap();
        assert!(url.tls == Tls::None && url.port == 25);
        let url = SmtpUrl::parse("smtps://u:p@mail.example.com").unwrap();
        assert!(url.tls == Tls::Implicit && url.port == 465);

        for bad in [
            "http://mail.example.com",
            "smtp://",
            "smtp://mail.example.com/path",
            "smtp://mail.example.com?tls=maybe",
            "smtps://mail.example.com?tls=none",
            "mail.example.com:25",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
        let error = SmtpUrl::parse("smtp://u:hunter2@mail.example.com?x=1").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
