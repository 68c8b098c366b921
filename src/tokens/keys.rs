//! The signing keyring: which key signs access tokens, which keys still
//! verify them, and the public half that `/.well-known/jwks.json` publishes.
//!
//! Two sources:
//! - **configured** (`WRISTBAND_JWT_SECRET`): one HS256 key from the
//!   environment, plus `WRISTBAND_JWT_PREVIOUS_SECRETS` that still verify. A
//!   secret store rotates it; nothing is kept in the database.
//! - **stored** (the default, and every EdDSA setup): the `signing_keys` table.
//!   The newest key that is not retired signs; `wristband rotate-key` retires
//!   it and adds a new one; a retired key verifies for the access TTL plus the
//!   leeway after its retirement (no token it signed can still be valid after
//!   that), then it is ignored and leaves the JWKS. Every instance re-reads
//!   the table each second, so a rotation reaches all of them within about a
//!   second.
//!
//! A key's `kid` is derived from the key (HS256: a fingerprint of the secret;
//! EdDSA: the RFC 7638 thumbprint of the public key), so the same key has the
//! same name on every instance. Verification looks the key up by `kid` and
//! pins *that key's* algorithm; the header's `alg` is only compared with it.
//! HS256 keys are never published.
//!
//! The refresh-token key is not here: rotating the signing key logs nobody out.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDateTime, TimeDelta};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The signing algorithms Wristband offers (`WRISTBAND_JWT_ALG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// HMAC-SHA-256 with a shared secret: only Wristband can verify (or
    /// resource servers that hold the secret, or use introspection).
    Hs256,
    /// Ed25519: anyone can verify with the published public key.
    EdDsa,
}

impl KeyAlgorithm {
    /// The name in token headers, the table and the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// `HS256` or `EdDSA` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "HS256" => Some(Self::Hs256),
            "EDDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// jsonwebtoken's name for it.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// A public key as RFC 7517 (and RFC 8037 for Ed25519) writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Key type: `OKP`.
    pub kty: &'static str,
    /// Curve: `Ed25519`.
    pub crv: &'static str,
    /// The public key, base64url.
    pub x: String,
    /// The key id tokens carry in their header.
    pub kid: String,
    /// `EdDSA`.
    pub alg: &'static str,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    /// The public keys that may have signed a token valid now.
    pub keys: Vec<Jwk>,
}

/// One key: how to sign and verify with it, its public half, and until when
/// it verifies. Deliberately not `Debug` beyond its name.
pub struct SigningKey {
    kid: String,
    algorithm: KeyAlgorithm,
    encoding: EncodingKey,
    verifier: Verifier,
    public: Option<Jwk>,
    /// Seconds since the epoch; `None` while the key is not retired.
    verifies_until: Option<i64>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// How a key checks a signature, made once with the key. jsonwebtoken's
/// `decode` builds its verifier again for every token: for HS256 the key's
/// HMAC pads, for Ed25519 the public point's decompression (about 15 µs).
#[derive(Clone)]
enum Verifier {
    /// HMAC-SHA-256 keyed with the secret (cloned per check).
    Hs256(Hmac<Sha256>),
    /// The Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// The PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410), what jsonwebtoken signs with.
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    [PREFIX.as_slice(), seed].concat()
}

impl SigningKey {
    /// An HS256 key from a secret's bytes; its `kid` is a fingerprint of it.
    pub fn hs256(secret: &[u8]) -> Self {
        let digest = Sha256::digest([b"wristband kid".as_slice(), secret].concat());
        Self {
            kid: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
            algorithm: KeyAlgorithm::Hs256,
            encoding: EncodingKey::from_secret(secret),
            verifier: Verifier::Hs256(crate::mac::keyed(secret)),
            public: None,
            verifies_until: None,
        }
    }

    /// An Ed25519 key from its 32-byte seed; its `kid` is the RFC 7638
    /// thumbprint of the public key.
    pub fn ed25519(seed: &[u8; 32]) -> Self {
        let verifying = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
        let public = verifying.to_bytes();
        let x = URL_SAFE_NO_PAD.encode(public);
        // RFC 7638: the required members, in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Self {
            encoding: EncodingKey::from_ed_der(&ed25519_pkcs8(seed)),
            verifier: Verifier::Ed25519(verifying),
            public: Some(Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x,
                kid: kid.clone(),
                alg: "EdDSA",
                use_: "sig",
            }),
            kid,
            algorithm: KeyAlgorithm::EdDsa,
            verifies_until: None,
        }
    }

    /// A new random key of `algorithm`, and the material to store for it.
    pub fn generate(algorithm: KeyAlgorithm) -> (Self, SecretString) {
        let (bytes, material) = crate::mac::random_key();
        let key = match algorithm {
            // As with WRISTBAND_JWT_SECRET, the key is the text's bytes.
            KeyAlgorithm::Hs256 => Self::hs256(material.as_bytes()),
            KeyAlgorithm::EdDsa => Self::ed25519(&bytes),
        };
        (key, material.into())
    }

    /// The key stored as `material` (an HS256 secret's text, or an Ed25519
    /// seed in base64url) under `kid` for `algorithm`, retired at
    /// `retired_at` and verifying `window` longer; `None` for a key this
    /// version cannot read (logged: it is skipped, never guessed at).
    pub fn stored(
        kid: &str,
        algorithm: &str,
        material: &SecretString,
        retired_at: Option<NaiveDateTime>,
        window: TimeDelta,
    ) -> Option<Self> {
        let material = material.expose_secret();
        let key = match KeyAlgorithm::parse(algorithm) {
            Some(KeyAlgorithm::Hs256) => Some(Self::hs256(material.as_bytes())),
            Some(KeyAlgorithm::EdDsa) => URL_SAFE_NO_PAD
                .decode(material)
                .ok()
                .and_then(|seed| <[u8; 32]>::try_from(seed).ok())
                .map(|seed| Self::ed25519(&seed)),
            None => None,
        };
        let Some(mut key) = key.filter(|k| k.kid == kid) else {
            log::error!("signing key {kid} cannot be read: skipped");
            return None;
        };
        key.verifies_until = retired_at.map(|at| (at + window).and_utc().timestamp());
        Some(key)
    }

    /// Whether it is still the one that may sign (not retired).
    pub fn is_current(&self) -> bool {
        self.verifies_until.is_none()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// What jsonwebtoken signs with.
    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// Whether `signature` (decoded from base64url) is this key's over
    /// `message` (the token's `header.payload`): HMAC compared in constant
    /// time, Ed25519 verified strictly (no malleable or small-order forms).
    pub(crate) fn signed(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.verifier {
            Verifier::Hs256(mac) => {
                let mut mac = mac.clone();
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
            Verifier::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
        }
    }

    /// Whether a token it signed may still be accepted at `now` (seconds).
    fn verifies_at(&self, now: i64) -> bool {
        self.verifies_until.is_none_or(|until| now < until)
    }
}

/// The keys in force: one signs, all verify (each until its time).
#[derive(Debug)]
pub struct Keyring {
    /// Newest first; the first one signs.
    keys: Vec<SigningKey>,
}

impl Keyring {
    /// `current` signs; `previous` only verify.
    pub fn new(current: SigningKey, previous: impl IntoIterator<Item = SigningKey>) -> Self {
        let mut keys = vec![current];
        for key in previous {
            if keys.iter().all(|k| k.kid != key.kid) {
                keys.push(key);
            }
        }
        Self { keys }
    }

    /// The configured HS256 secret and the earlier ones that still verify.
    pub fn configured(secret: &[u8], previous: &[SecretString]) -> Self {
        Self::new(
            SigningKey::hs256(secret),
            previous
                .iter()
                .map(|s| SigningKey::hs256(s.expose_secret().as_bytes())),
        )
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The only key, when there is just one.
    pub fn single(&self) -> Option<&SigningKey> {
        match self.keys.as_slice() {
            [key] => Some(key),
            _ => None,
        }
    }

    /// The key named `kid`, if it may verify a token at `now` (seconds).
    pub fn find(&self, kid: &str, now: i64) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .filter(|k| k.verifies_at(now))
    }

    /// The public keys that verify at `now`.
    pub fn jwks(&self, now: i64) -> Jwks {
        Jwks {
            keys: self
                .keys
                .iter()
                .filter(|k| k.verifies_at(now))
                .filter_map(|k| k.public.clone())
                .collect(),
        }
    }

    /// What tells two keyrings apart: the keys and their end times.
    pub fn same_as(&self, other: &Keyring) -> bool {
        let names = |r: &Keyring| -> Vec<(String, Option<i64>)> {
            r.keys
                .iter()
                .map(|k| (k.kid.clone(), k.verifies_until))
                .collect()
        };
        names(self) == names(other)
    }
}

/// The keys start-up reads or makes: the signing keyring and the refresh
/// secret (independent of each other). Not `Debug`: it holds them.
pub struct Keys {
    /// Signs and verifies access tokens.
    pub keyring: Keyring,
    /// Where the refresh-token key is derived from.
    pub refresh_secret: SecretString,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_derived_from_the_keys() {
        let seed = [7u8; 32];
        assert_eq!(
            SigningKey::ed25519(&seed).kid(),
            SigningKey::ed25519(&seed).kid()
        );
        assert_ne!(
            SigningKey::ed25519(&seed).kid(),
            SigningKey::ed25519(&[8u8; 32]).kid()
        );
        assert_eq!(
            SigningKey::hs256(b"0123456789abcdef0123456789abcdef").kid(),
            SigningKey::hs256(b"0123456789abcdef0123456789abcdef").kid()
        );
    }

    #[test]
    fn the_ed25519_thumbprint_is_rfc_7638s() {
        // RFC 8037 appendix A.3: the thumbprint of its example key.
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap()
            .try_into()
            .unwrap();
        let key = SigningKey::ed25519(&seed);
        let jwk = key.public.as_ref().unwrap();
        assert_eq!(jwk.x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn hs256_keys_are_never_published() {
        let ring = Keyring::new(
            SigningKey::hs256(b"0123456789abcdef0123456789abcdef"),
            [SigningKey::ed25519(&[1u8; 32])],
        );
        let jwks = ring.jwks(0);
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(jwks.keys[0].kty, "OKP");
    }

    #[test]
    fn a_retired_key_verifies_until_its_time_then_is_gone() {
        let mut old = SigningKey::ed25519(&[1u8; 32]);
        old.verifies_until = Some(1_000);
        let old_kid = old.kid().to_owned();
        let ring = Keyring::new(SigningKey::ed25519(&[2u8; 32]), [old]);
        assert!(ring.find(&old_kid, 999).is_some());
        assert_eq!(ring.jwks(999).keys.len(), 2);
        assert!(
            ring.find(&old_kid, 1_000).is_none(),
            "refused from its end on"
        );
        assert_eq!(ring.jwks(1_000).keys.len(), 1, "and no longer published");
        assert!(ring.find("no-such-kid", 0).is_none());
        assert!(ring.find(ring.current().kid(), i64::MAX).is_some());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (key, material) = SigningKey::generate(KeyAlgorithm::Hs256);
        let shown = format!("{key:?} {material:?}");
        assert!(!shown.contains(material.expose_secret()), "{shown}");
    }
}
