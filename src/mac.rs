//! Keys and the values they seal. The server's signed opaque values — refresh
//! tokens (`tokens/refresh.rs`) and device cookies (`devices/cookie.rs`) —
//! are `PREFIX` + base64url(body ‖ HMAC-SHA-256 tag); each kind has its own
//! key, derived from a secret under its own label, and its own domain string
//! in every tag, so a value of one kind never verifies as another. And the
//! one way to make a random secret ([`random_key`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// 256 random bits from the operating system's generator, and their
/// base64url text (43 characters): generated secrets, signing keys, and the
/// passwords test mode makes up.
pub fn random_key() -> ([u8; 32], String) {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    (bytes, URL_SAFE_NO_PAD.encode(bytes))
}

/// HMAC-SHA-256 keyed with `key`.
pub fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail, and the
    // fallback is never taken.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

/// The length of a tag.
pub const TAG_LEN: usize = 32;

/// A key that seals and opens one kind of value. Deliberately not `Debug`.
#[derive(Clone)]
pub struct SealKey {
    key: HmacSha256,
    prefix: &'static str,
    domain: &'static [u8],
}

impl SealKey {
    /// The key of values written `prefix…`, derived from `secret` under
    /// `label`, each tag over `domain` and the body.
    pub fn derive(
        secret: &[u8],
        label: &[u8],
        prefix: &'static str,
        domain: &'static [u8],
    ) -> Self {
        let mut derivation = keyed(secret);
        derivation.update(label);
        Self {
            key: keyed(&derivation.finalize().into_bytes()),
            prefix,
            domain,
        }
    }

    fn mac(&self, body: &[u8]) -> HmacSha256 {
        let mut mac = self.key.clone();
        mac.update(self.domain);
        mac.update(body);
        mac
    }

    /// `body`, sealed: the prefix and base64url(body ‖ tag).
    pub fn seal(&self, body: &[u8]) -> String {
        let mut raw = Vec::with_capacity(body.len() + TAG_LEN);
        raw.extend_from_slice(body);
        raw.extend_from_slice(&self.mac(body).finalize().into_bytes());
        format!("{}{}", self.prefix, URL_SAFE_NO_PAD.encode(raw))
    }

    /// The body of `value` if this key sealed it and `fits` its length. The
    /// tag is compared in constant time.
    pub fn open(&self, value: &str, fits: impl Fn(usize) -> bool) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD
            .decode(value.strip_prefix(self.prefix)?)
            .ok()?;
        let body_len = raw.len().checked_sub(TAG_LEN).filter(|len| fits(*len))?;
        let (body, tag) = raw.split_at(body_len);
        self.mac(body).verify_slice(tag).ok()?;
        Some(body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_open_only_under_their_own_key_kind_and_length() {
        let secret = b"a secret of thirty-two bytes at least!";
        let key = SealKey::derive(secret, b"label a", "a1.", b"domain a");
        let sealed = key.seal(b"body");
        let four = |len| len == 4;
        assert_eq!(key.open(&sealed, four).as_deref(), Some(&b"body"[..]));
        assert_eq!(key.open(&sealed, |len| len == 5), None);
        let other_label = SealKey::derive(secret, b"label b", "a1.", b"domain a");
        let other_domain = SealKey::derive(secret, b"label a", "a1.", b"domain b");
        assert_eq!(other_label.open(&sealed, four), None);
        assert_eq!(other_domain.open(&sealed, four), None);
        assert_eq!(key.open(&sealed.replacen("a1.", "b1.", 1), four), None);
    }
}
