//! The device cookie's value (the cookie itself, `__Host-wristband_device`,
//! is written with the refresh cookie in `src/cookies.rs`).
//!
//! The value is `wbd1.` + base64url(entries ‖ MAC), the MAC an HMAC-SHA-256
//! under a key derived from the refresh secret with a label of its own (see
//! `mac.rs`): opaque, nothing a client could present anywhere else (a refresh
//! token has another prefix and key). Each entry names one account this
//! browser signed in to — its user id, a random nonce, and the user's token
//! version then — so a browser shared by a few accounts stays a known device
//! of each (the newest [`MAX_ENTRIES`] are kept). No email is in it.
//!
//! An entry makes its browser a known device only of the account it names,
//! and only while the token version is the one it carries: a password change,
//! logout-all or an admin's revoke-all (which bump the version) turn every
//! earlier device cookie of the account untrusted, so cookies collected by
//! someone who once knew the password stop helping them. A tampered value, or
//! another user's, is untrusted.

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::db::UserId;
use crate::mac::SealKey;

const PREFIX: &str = "wbd1.";
const DOMAIN: &[u8] = b"wristband device cookie v1";
const NONCE_LEN: usize = 16;
const ENTRY_LEN: usize = 16 + NONCE_LEN + 8;
/// How many accounts one device cookie remembers.
pub const MAX_ENTRIES: usize = 4;

/// One account a device signed in to, as its cookie names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The account.
    pub user_id: UserId,
    /// The device's nonce for that account, hex: what tells this device from
    /// the account's others.
    pub nonce: String,
    /// The account's token version when the entry was written.
    pub version: i64,
}

impl Device {
    /// A new device of `user_id` (a fresh random nonce) at `version`.
    pub fn new(user_id: UserId, version: i64) -> Self {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        Self {
            user_id,
            nonce: hex(&nonce),
            version,
        }
    }
}

/// A presentable device cookie value. `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct DeviceToken(SecretString);

impl DeviceToken {
    /// The cookie value.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The key that makes and checks device cookies. Deliberately not `Debug`.
#[derive(Clone)]
pub struct DeviceKey(SealKey);

impl DeviceKey {
    /// Derives the device key from the refresh secret, separated from the
    /// refresh-token key by its own label.
    pub fn derive(secret: &[u8]) -> Self {
        Self(SealKey::derive(
            secret,
            b"wristband device key",
            PREFIX,
            DOMAIN,
        ))
    }

    /// The cookie naming `devices` (the first [`MAX_ENTRIES`] of them).
    pub fn issue(&self, devices: &[Device]) -> DeviceToken {
        let mut body = Vec::with_capacity(ENTRY_LEN * MAX_ENTRIES);
        for device in devices.iter().take(MAX_ENTRIES) {
            // Ids and nonces are made by this server, so they always parse.
            let uuid = Uuid::parse_str(device.user_id.as_str()).unwrap_or_default();
            body.extend_from_slice(uuid.as_bytes());
            body.extend_from_slice(&unhex(&device.nonce).unwrap_or_default());
            body.extend_from_slice(&device.version.to_be_bytes());
        }
        DeviceToken(self.0.seal(&body).into())
    }

    /// The devices a cookie value names, if this server made it (none
    /// otherwise). The MAC is compared in constant time.
    pub fn parse(&self, value: &str) -> Vec<Device> {
        let fits = |len: usize| {
            len.is_multiple_of(ENTRY_LEN) && (1..=MAX_ENTRIES).contains(&(len / ENTRY_LEN))
        };
        let Some(body) = self.0.open(value, fits) else {
            return Vec::new();
        };
        body.chunks_exact(ENTRY_LEN)
            .filter_map(|entry| {
                let user_id = UserId::from(Uuid::from_slice(&entry[..16]).ok()?);
                let nonce = hex(&entry[16..16 + NONCE_LEN]);
                let version = i64::from_be_bytes(entry[16 + NONCE_LEN..].try_into().ok()?);
                Some(Device {
                    user_id,
                    nonce,
                    version,
                })
            })
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; NONCE_LEN]> {
    if text.len() != NONCE_LEN * 2 {
        return None;
    }
    let mut out = [0u8; NONCE_LEN];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DeviceKey {
        DeviceKey::derive(b"a secret of thirty-two bytes at least!")
    }

    #[test]
    fn a_cookie_names_its_accounts_in_order() {
        let key = key();
        let alice = Device::new(UserId::new(), 3);
        let bob = Device::new(UserId::new(), 1);
        let token = key.issue(&[alice.clone(), bob.clone()]);
        assert_eq!(key.parse(token.expose()), vec![alice.clone(), bob]);
        assert_eq!(alice.nonce.len(), 32);
        assert_ne!(Device::new(alice.user_id.clone(), 3).nonce, alice.nonce);
        // At most MAX_ENTRIES are kept, the first ones.
        let many: Vec<_> = (0..MAX_ENTRIES + 2)
            .map(|i| Device::new(UserId::new(), i as i64))
            .collect();
        assert_eq!(key.parse(key.issue(&many).expose()), many[..MAX_ENTRIES]);
    }

    #[test]
    fn tampered_foreign_or_refresh_values_are_refused() {
        let key = key();
        let token = key.issue(&[Device::new(UserId::new(), 1)]);
        let other = DeviceKey::derive(b"another secret of thirty-two bytes!!!");
        assert!(other.parse(token.expose()).is_empty());
        for (i, _, _, changed) in
            crate::proptest_support::single_changes(token.expose(), |_| vec!['A', '2'])
        {
            assert!(key.parse(&changed).is_empty(), "accepted a change at {i}");
        }
        // A refresh token under the same secret is no device cookie.
        let refresh = crate::tokens::RefreshKey::derive(b"a secret of thirty-two bytes at least!")
            .issue(&crate::db::SessionId::new(), 1);
        assert!(key.parse(refresh.expose()).is_empty());
        assert!(key.parse("").is_empty());
        assert!(
            key.parse(key.issue(&[]).expose()).is_empty(),
            "no entry, no device"
        );
    }
}
