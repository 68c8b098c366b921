//! Refresh tokens: opaque strings that never touch the database.
//!
//! A token is `wbr1.` + base64url(session id ‖ generation ‖ MAC), where the
//! MAC is HMAC-SHA-256 under a key derived from the refresh secret (see
//! `mac.rs`). The database
//! keeps only the session's current generation, so a copy of the database alone
//! cannot produce a presentable token (when the secret is configured outside
//! it), and the token of any generation can be recomputed: that is what lets
//! the grace window hand every tab *the same* successor. The MAC gives the
//! token 256 bits that cannot be guessed.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::db::SessionId;
use crate::mac::SealKey;

const PREFIX: &str = "wbr1.";
const DOMAIN: &[u8] = b"wristband refresh token v1";
const BODY_LEN: usize = 16 + 8;

/// A presentable refresh token. `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// The token text, for the cookie only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The key that makes and checks refresh tokens. Deliberately not `Debug`.
#[derive(Clone)]
pub struct RefreshKey(SealKey);

impl RefreshKey {
    /// Derives the refresh key from the server secret, separated from the JWT
    /// key by its own label.
    pub fn derive(secret: &[u8]) -> Self {
        Self(SealKey::derive(
            secret,
            b"wristband refresh key",
            PREFIX,
            DOMAIN,
        ))
    }

    /// The token of generation `generation` of session `session_id`.
    pub fn issue(&self, session_id: &SessionId, generation: i64) -> RefreshToken {
        let mut body = Vec::with_capacity(BODY_LEN);
        // Ids are made by this server, so the text always parses.
        let uuid = Uuid::parse_str(session_id.as_str()).unwrap_or_default();
        body.extend_from_slice(uuid.as_bytes());
        body.extend_from_slice(&generation.to_be_bytes());
        RefreshToken(self.0.seal(&body).into())
    }

    /// The session and generation a token names, if this server made it.
    /// The MAC is compared in constant time.
    pub fn parse(&self, token: &str) -> Option<(SessionId, i64)> {
        let body = self.0.open(token, |len| len == BODY_LEN)?;
        let session_id = SessionId::from(Uuid::from_slice(&body[..16]).ok()?);
        let generation = i64::from_be_bytes(body[16..].try_into().ok()?);
        Some((session_id, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_deterministic() {
        let key = RefreshKey::derive(b"a secret of thirty-two bytes at least!");
        let sid = SessionId::new();
        let token = key.issue(&sid, 7);
        assert_eq!(key.parse(token.expose()), Some((sid.clone(), 7)));
        assert_eq!(
            key.issue(&sid, 7).expose(),
            token.expose(),
            "the same generation gives the same token"
        );
        assert_ne!(key.issue(&sid, 8).expose(), token.expose());
    }

    #[test]
    fn forged_or_foreign_tokens_are_refused() {
        let key = RefreshKey::derive(b"a secret of thirty-two bytes at least!");
        let other = RefreshKey::derive(b"another secret of thirty-two bytes!!!");
        let token = key.issue(&SessionId::new(), 1);
        assert_eq!(other.parse(token.expose()), None);
        let mut tampered = token.expose().to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(key.parse(&tampered), None);
        assert_eq!(key.parse("wbr1.not-base64!"), None);
        assert_eq!(key.parse(""), None);
    }

    #[test]
    fn debug_is_redacted() {
        let key = RefreshKey::derive(b"k");
        let token = key.issue(&SessionId::new(), 1);
        assert!(!format!("{token:?}").contains(&token.expose()[5..]));
    }

    use crate::proptest_support::BASE64URL as ALPHABET;

    fn key() -> RefreshKey {
        RefreshKey::derive(b"a secret of thirty-two bytes at least!")
    }

    #[test]
    fn every_single_bit_flip_of_a_valid_token_is_refused() {
        // 56 bytes are 75 base64url characters, the last carrying 2 unused
        // bits: a decoder that ignored them would accept a second spelling.
        let key = key();
        let token = key.issue(&SessionId::new(), 42);
        assert_eq!(token.expose().chars().count(), PREFIX.len() + 75);
        // The prefix's '.': a letter or digit in its place.
        let changes = crate::proptest_support::single_changes(token.expose(), |_| vec!['A', '2']);
        for (i, original, replacement, changed) in changes {
            assert_eq!(
                key.parse(&changed),
                None,
                "accepted {original:?} -> {replacement:?} at {i}"
            );
        }
    }

    mod properties {
        use super::*;
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_support::proptest_config()
        }

        /// A replacement character: mostly base64url, sometimes anything.
        fn replacement() -> impl Strategy<Value = char> {
            prop_oneof![
                4 => proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
                1 => proptest::sample::select(vec!['.', '=', '+', '/', ' ', '\0', '%']),
                1 => any::<char>(),
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn parse_refuses_arbitrary_strings(text in any::<String>()) {
                prop_assert_eq!(key().parse(&text), None);
            }

            #[test]
            fn parse_refuses_arbitrary_text_after_the_prefix(text in any::<String>()) {
                prop_assert_eq!(key().parse(&format!("{PREFIX}{text}")), None);
            }

            #[test]
            fn parse_refuses_arbitrary_bytes_of_any_length(
                bytes in prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..120),
                    proptest::collection::vec(any::<u8>(), BODY_LEN + crate::mac::TAG_LEN),
                ],
            ) {
                let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
                prop_assert_eq!(key().parse(&token), None);
            }

            #[test]
            fn issue_round_trips(bytes in any::<[u8; 16]>(), generation in any::<i64>()) {
                let key = key();
                let session_id = SessionId::from(Uuid::from_bytes(bytes));
                let token = key.issue(&session_id, generation);
                prop_assert_eq!(key.parse(token.expose()), Some((session_id, generation)));
            }

            #[test]
            fn any_single_character_change_is_refused(
                bytes in any::<[u8; 16]>(),
                generation in any::<i64>(),
                index in any::<proptest::sample::Index>(),
                replacement in replacement(),
            ) {
                let key = key();
                let token = key.issue(&SessionId::from(Uuid::from_bytes(bytes)), generation);
                let mut chars: Vec<char> = token.expose().chars().collect();
                let i = index.index(chars.len());
                prop_assume!(chars[i] != replacement);
                chars[i] = replacement;
                let changed: String = chars.into_iter().collect();
                prop_assert_eq!(key.parse(&changed), None, "{}", changed);
            }
        }
    }
}
