//! What the server listens on and whom it believes: the bind address and TLS,
//! its own origin and the other origins allowed, forwarded headers, the
//! cookie's `Secure` flag, and the per-IP rate limit.

use std::net::{SocketAddr, ToSocketAddrs};

use super::ConfigError;
use super::settings::{Given, Setting};

/// Listening and the HTTP edge.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Listen address.
    pub bind: String,
    /// PEM files of the certificate chain and key: serve HTTPS.
    pub tls: Option<(String, String)>,
    /// The origin browsers use to reach Wristband, if configured.
    pub public_url: Option<String>,
    /// Further origins allowed for CORS and cookie endpoints.
    pub allowed_origins: Vec<String>,
    /// Whether forwarded headers are trusted.
    pub trust_proxy: bool,
    /// Whether the refresh cookie is `Secure` and `__Host-` prefixed.
    pub cookie_secure: bool,
    /// Per-IP limit per minute on login, register, refresh.
    pub rate_limit_per_minute: u32,
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

/// The path of a PEM file that exists, if one is given.
fn file(setting: &Setting<'_>) -> Result<Option<String>, ConfigError> {
    setting.parse(None, |v| {
        let path = v.trim();
        if std::path::Path::new(path).is_file() {
            Ok(Some(path.to_owned()))
        } else {
            Err(format!("{path:?} is not a readable file"))
        }
    })
}

impl NetworkConfig {
    pub(super) fn read(given: &Given<'_>) -> Result<Self, ConfigError> {
        let bind = given.bind.parse("127.0.0.1:8080".into(), |v| {
            let v = v.trim();
            let resolves = v.parse::<SocketAddr>().is_ok()
                || v.to_socket_addrs().is_ok_and(|mut a| a.next().is_some());
            if resolves {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not HOST:PORT"))
            }
        })?;
        let cookie_secure = given.cookie_secure.flag(true)?;
        let public_url = given
            .public_url
            .parse(None, |v| parse_origin(v).map(Some))?;
        let allowed_origins = given.allowed_origins.parse(Vec::new(), |v| {
            v.split(',')
                .filter(|o| !o.trim().is_empty())
                .map(parse_origin)
                .collect()
        })?;
        let rate_limit_per_minute = given.rate_limit_per_minute.number(30, 1..=1_000_000)?;
        let trust_proxy = given.trust_proxy.flag(false)?;
        let (cert, key) = (&given.tls_cert, &given.tls_key);
        let tls = match (file(cert)?, file(key)?) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(key.invalid(format!("is needed with {}", cert.variable)));
            }
            (None, Some(_)) => {
                return Err(cert.invalid(format!("is needed with {}", key.variable)));
            }
        };
        Ok(Self {
            bind,
            tls,
            public_url,
            allowed_origins,
            trust_proxy,
            cookie_secure,
            rate_limit_per_minute,
        })
    }

    /// Whether every address [`bind`](Self::bind) names is a loopback one
    /// (test mode's rule).
    pub fn binds_loopback_only(&self) -> bool {
        match self.bind.to_socket_addrs() {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
