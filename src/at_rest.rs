//! Values the server must read back but nobody with the database alone may:
//! sealed with XChaCha20-Poly1305 under a key derived from the refresh
//! secret, each kind under its own label: the bodies of mails waiting in the
//! outbox (their links are live), and TOTP secrets (bound to their user too). A configured refresh secret never
//! reaches the database, so then a copy of the database (a backup, a
//! replica) holds ciphertext; a generated one is stored there (see
//! `startup/keys.rs`), and gives no such protection.
//!
//! A sealed value is `v1.` + base64url(nonce ‖ ciphertext ‖ tag), with a
//! random 192-bit nonce per value; the label (and, for bound values, what
//! they are bound to) is the associated data, so a value sealed for one
//! purpose, or one user, does not open as another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "v1.";
const NONCE_LEN: usize = 24;

/// A key that seals and opens one kind of value. Deliberately not `Debug`.
#[derive(Clone)]
pub struct AtRestKey {
    cipher: XChaCha20Poly1305,
    label: &'static [u8],
}

impl AtRestKey {
    /// The key of `label`'s values, derived from `secret`.
    pub fn derive(secret: &[u8], label: &'static [u8]) -> Self {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mut derivation = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        derivation.update(b"wristband at-rest key: ");
        derivation.update(label);
        let key = derivation.finalize().into_bytes();
        Self {
            cipher: <XChaCha20Poly1305 as KeyInit>::new(&key),
            label,
        }
    }

    /// `plain`, sealed.
    pub fn seal(&self, plain: &[u8]) -> String {
        self.seal_bound(plain, b"")
    }

    /// What [`seal`](Self::seal) sealed; `None` for anything else (another
    /// key or label, a changed byte).
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        self.open_bound(sealed, b"")
    }

    /// `plain`, sealed so that it opens only with the same `bound` (a user's
    /// id): a sealed value copied to another row does not open there.
    pub fn seal_bound(&self, plain: &[u8], bound: &[u8]) -> String {
        use rand::RngCore;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = self.aad(bound);
        let payload = Payload {
            msg: plain,
            aad: &aad,
        };
        // Encryption fails only for messages beyond 256 GiB.
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// What [`seal_bound`](Self::seal_bound) sealed with `bound`; `None`
    /// for anything else.
    pub fn open_bound(&self, sealed: &str, bound: &[u8]) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let aad = self.aad(bound);
        let payload = Payload {
            msg: sealed,
            aad: &aad,
        };
        self.cipher.decrypt(&XNonce::from(nonce), payload).ok()
    }

    /// The associated data: the label, then (for bound values) a zero byte
    /// and what the value is bound to. Unbound values keep the label alone,
    /// as sealed before binding existed.
    fn aad(&self, bound: &[u8]) -> Vec<u8> {
        let mut aad = self.label.to_vec();
        if !bound.is_empty() {
            aad.push(0);
            aad.extend_from_slice(bound);
        }
        aad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_what_it_sealed() {
        let key = AtRestKey::derive(b"a secret of at least thirty-two bytes", b"outbox");
        let sealed = key.seal(b"the link");
        assert!(!sealed.contains("the link"));
        assert_eq!(key.open(&sealed).as_deref(), Some(&b"the link"[..]));
        assert_ne!(key.seal(b"the link"), sealed, "a fresh nonce each time");
        let other = AtRestKey::derive(b"another secret of thirty-two bytes!!", b"outbox");
        assert_eq!(other.open(&sealed), None);
        let relabelled = AtRestKey::derive(b"a secret of at least thirty-two bytes", b"totp");
        assert_eq!(relabelled.open(&sealed), None);
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 1;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open(std::str::from_utf8(&changed).unwrap()), None);
        assert_eq!(key.open("v1."), None);
        assert_eq!(key.open("nonsense"), None);
    }

    #[test]
    fn bound_values_open_only_for_what_they_are_bound_to() {
        let key = AtRestKey::derive(b"a secret of at least thirty-two bytes", b"totp");
        let sealed = key.seal_bound(b"secret", b"user-1");
        assert_eq!(
            key.open_bound(&sealed, b"user-1").as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(key.open_bound(&sealed, b"user-2"), None);
        assert_eq!(key.open(&sealed), None);
    }
}
