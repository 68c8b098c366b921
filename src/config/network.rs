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
    /// Passkeys' relying-party id, if configured (see
    /// [`relying_party`](Self::relying_party) for the default).
    pub rp_id: Option<String>,
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

/// Whether every address `bind` names is a loopback one.
fn bind_is_loopback(bind: &str) -> bool {
    match bind.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// The host of an origin made by [`parse_origin`] (no port).
fn origin_host(origin: &str) -> String {
    url::Url::parse(origin)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A relying-party id: a domain name (lower case, letters, digits and `-`
/// in dot-separated labels), not an IP address (WebAuthn refuses those), and
/// registrable — `localhost` or a name with a dot (a bare `com` is a public
/// suffix, not a site).
fn parse_rp_id(value: &str) -> Result<String, String> {
    let id = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels_ok = !id.is_empty()
        && id.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !labels_ok || id.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "{id:?} is not a domain name (WebAuthn refuses IP addresses)"
        ));
    }
    if id != "localhost" && !id.contains('.') {
        return Err(format!(
            "{id:?} is not a registrable domain (use the site's name, e.g. example.com)"
        ));
    }
    Ok(id)
}

impl NetworkConfig {
    /// Passkeys' relying party: its id and the origins it accepts, for a
    /// server listening on `port` — or `None` when there is none to name.
    /// The id is `WRISTBAND_RP_ID`; else the public URL's host when that is
    /// a domain; else, bound to loopback only, `localhost` (browse the demo
    /// at `http://localhost:PORT`: WebAuthn refuses IP addresses). The
    /// origins are the public URL (or, without one, `http://localhost:PORT`
    /// on loopback and `https://RP_ID` elsewhere) and every allowed origin.
    pub fn relying_party(&self, port: u16) -> Option<(String, Vec<String>)> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let loopback = self.binds_loopback_only();
        let (id, own) = match (&self.rp_id, &self.public_url) {
            (Some(id), Some(public)) => (id.clone(), public.clone()),
            (None, Some(public)) if parse_rp_id(&origin_host(public)).is_ok() => {
                (origin_host(public), public.clone())
            }
            (Some(id), None) if loopback && id == "localhost" => {
                (id.clone(), format!("{scheme}://localhost:{port}"))
            }
            // Refused at start-up (`read`): the origin must be said.
            (Some(_), None) => return None,
            // No public URL, or one at an IP address: on loopback, the
            // demo at localhost.
            (None, _) if loopback => (
                "localhost".to_owned(),
                format!("{scheme}://localhost:{port}"),
            ),
            (None, _) => return None,
        };
        // Only origins a browser would sign for: on the RP id (or under it),
        // over https (or http on localhost). Others are CORS origins only.
        let fits = |origin: &str| {
            let host = origin_host(origin);
            let under = host == id || host.ends_with(&format!(".{id}"));
            let secure = origin.starts_with("https://") || host == "localhost";
            under && secure
        };
        let mut origins = vec![own];
        for origin in &self.allowed_origins {
            if fits(origin) {
                origins.push(origin.clone());
            } else {
                log::info!("passkeys are not accepted from {origin}: not https on {id}");
            }
        }
        Some((id, origins))
    }
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
        let rp_id = given.rp_id.parse(None, |v| parse_rp_id(v).map(Some))?;
        let loopback_only = bind_is_loopback(&bind);
        if rp_id
            .as_deref()
            .is_some_and(|id| id != "localhost" || !loopback_only)
            && public_url.is_none()
        {
            // The origin passkeys are used from must be said, not guessed.
            return Err(given.rp_id.invalid(format!(
                "needs {} (the origin passkeys are used from), unless it is localhost on a loopback bind",
                given.public_url.variable
            )));
        }
        if let (Some(rp_id), Some(public)) = (&rp_id, &public_url) {
            let host = origin_host(public);
            if host != *rp_id && !host.ends_with(&format!(".{rp_id}")) {
                return Err(given.rp_id.invalid(format!(
                    "{rp_id:?} is neither the host of {} ({host}) nor a suffix of it",
                    given.public_url.variable
                )));
            }
        }
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
            rp_id,
            trust_proxy,
            cookie_secure,
            rate_limit_per_minute,
        })
    }

    /// Whether every address [`bind`](Self::bind) names is a loopback one
    /// (test mode's rule).
    pub fn binds_loopback_only(&self) -> bool {
        bind_is_loopback(&self.bind)
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

    fn network(f: impl FnOnce(&mut crate::config::Settings)) -> Result<NetworkConfig, String> {
        crate::config::tests::config(f)
            .map(|c| c.network)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_rp_id_is_the_public_hosts_or_a_suffix_of_it() {
        let public = |rp: &str| {
            network(|s| {
                s.public_url = Some("https://auth.example.com".into());
                s.rp_id = Some(rp.into());
            })
        };
        assert!(public("auth.example.com").is_ok());
        assert!(public("Example.COM").is_ok());
        for refused in [
            "other.com",
            "ample.com",
            "com",
            "127.0.0.1",
            "exa mple.com",
            "a.example.com.evil",
        ] {
            let e = public(refused).unwrap_err();
            assert!(e.contains("WRISTBAND_RP_ID"), "{refused}: {e}");
        }
        assert!(network(|s| s.rp_id = Some("::1".into())).is_err());
        assert!(network(|s| s.rp_id = Some("intranet".into())).is_err());
        // Without a public URL: only localhost on loopback.
        assert!(network(|s| s.rp_id = Some("localhost".into())).is_ok());
        assert!(network(|s| s.rp_id = Some("example.com".into())).is_err());
    }

    #[test]
    fn the_relying_party_follows_the_public_url_or_loopback() {
        let rp = |f: fn(&mut crate::config::Settings)| network(f).unwrap().relying_party(8080);
        let origins = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // `cargo run`: loopback, no public URL.
        assert_eq!(
            rp(|_| {}),
            Some(("localhost".into(), origins(&["http://localhost:8080"])))
        );
        assert_eq!(
            rp(|s| {
                s.public_url = Some("https://auth.example.com".into());
                s.allowed_origins =
                    Some("https://app.example.com,http://app.example.com,https://other.org".into());
            }),
            // Not under auth.example.com: a CORS origin only.
            Some((
                "auth.example.com".into(),
                origins(&["https://auth.example.com"])
            ))
        );
        assert_eq!(
            rp(|s| {
                s.public_url = Some("https://auth.example.com".into());
                s.rp_id = Some("example.com".into());
                s.allowed_origins =
                    Some("https://app.example.com,http://app.example.com,https://other.org".into());
            }),
            Some((
                "example.com".into(),
                origins(&["https://auth.example.com", "https://app.example.com"])
            ))
        );
        // An IP address names no relying party: off unless on loopback.
        assert_eq!(
            rp(|s| {
                s.public_url = Some("http://10.0.0.5:8080".into());
                s.bind = Some("0.0.0.0:8080".into());
            }),
            None
        );
        assert_eq!(
            rp(|s| s.public_url = Some("http://127.0.0.1:8080".into())),
            Some(("localhost".into(), origins(&["http://localhost:8080"])))
        );
        assert_eq!(rp(|s| s.bind = Some("0.0.0.0:8080".into())), None);
    }
}
