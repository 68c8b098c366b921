//! The keys and the tokens they make: the signing key (configured or stored),
//! its algorithm and earlier secrets, the refresh secret, the claims and
//! lifetime of access tokens, and the introspection secret.

use std::time::Duration;

use chrono::TimeDelta;
use secrecy::SecretString;

use super::ConfigError;
use super::settings::{Given, bearer_secret};
use crate::tokens::KeyAlgorithm;

/// How often every instance re-reads the stored keyring.
pub const KEYRING_RELOAD: Duration = Duration::from_secs(1);

/// Keys and access tokens.
#[derive(Debug, Clone)]
pub struct KeyConfig {
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
    /// Leeway for `exp` / `nbf`.
    pub clock_leeway: Duration,
    /// The Bearer token `/auth/introspect` needs; `None`: the endpoint is off.
    pub introspection_secret: Option<SecretString>,
}

/// An HS256 key: at least 32 bytes. Never echoed.
fn key_secret(v: &str) -> Result<SecretString, String> {
    if v.len() < 32 {
        Err(format!("must be at least 32 bytes, got {}", v.len()))
    } else {
        Ok(SecretString::from(v))
    }
}

impl KeyConfig {
    pub(super) fn read(given: &Given<'_>) -> Result<Self, ConfigError> {
        let jwt_secret = given.jwt_secret.parse(None, |v| key_secret(v).map(Some))?;
        let jwt_algorithm = given.jwt_alg.parse(KeyAlgorithm::Hs256, |v| {
            KeyAlgorithm::parse(v).ok_or_else(|| format!("{v:?} is not HS256 or EdDSA"))
        })?;
        let alg = given.jwt_alg.variable;
        if jwt_algorithm == KeyAlgorithm::EdDsa && jwt_secret.is_some() {
            return Err(given.jwt_secret.invalid(format!(
                "is an HS256 key: unset it with {alg}=EdDSA (Ed25519 keys live in the database)"
            )));
        }
        let jwt_previous_secrets = given.jwt_previous_secrets.parse(Vec::new(), |v| {
            v.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| key_secret(p.trim()))
                .collect()
        })?;
        let refresh_secret = given
            .refresh_secret
            .parse(None, |v| key_secret(v).map(Some))?;
        if !jwt_previous_secrets.is_empty() {
            let previous = &given.jwt_previous_secrets;
            if jwt_algorithm == KeyAlgorithm::EdDsa {
                return Err(
                    previous.invalid(format!("are HS256 keys: not accepted with {alg}=EdDSA"))
                );
            }
            // Refresh tokens are otherwise keyed by the signing secret, and
            // replacing it would log everybody out.
            if refresh_secret.is_none() {
                let (refresh, secret) = (given.refresh_secret.variable, given.jwt_secret.variable);
                return Err(previous.invalid(format!(
                    "need {refresh} (set it to the secret refresh tokens were keyed by, \
                     the previous {secret}, so nobody is logged out)"
                )));
            }
        }

        let non_empty = |v: &str| Ok(v.trim().to_owned());
        let issuer = given.issuer.parse("wristband".into(), non_empty)?;
        let audience = given.audience.parse("wristband".into(), non_empty)?;
        let access_ttl = given.access_ttl.positive_duration("10m")?;
        let clock_leeway = given.clock_leeway.duration("0s")?;
        if clock_leeway >= access_ttl {
            return Err(given.clock_leeway.invalid(format!(
                "must be shorter than {}",
                given.access_ttl.variable
            )));
        }
        let introspection_secret = given.introspection_secret.parse(None, bearer_secret)?;

        Ok(Self {
            jwt_secret,
            jwt_algorithm,
            jwt_previous_secrets,
            refresh_secret,
            issuer,
            audience,
            access_ttl,
            clock_leeway,
            introspection_secret,
        })
    }

    /// How long a retired signing key still verifies: the access TTL plus the
    /// leeway, plus two reloads, for tokens another instance signed with it
    /// before it learnt of the rotation.
    pub fn retirement_window(&self) -> TimeDelta {
        TimeDelta::from_std(self.access_ttl + self.clock_leeway + 2 * KEYRING_RELOAD)
            .unwrap_or(TimeDelta::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use super::*;

    #[test]
    fn key_settings_are_checked() {
        let c = config(|s| s.jwt_alg = Some("eddsa".into())).unwrap();
        assert_eq!(c.keys.jwt_algorithm, KeyAlgorithm::EdDsa);
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
        assert_eq!(c.keys.jwt_previous_secrets.len(), 2);
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
}
