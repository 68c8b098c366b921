//! Access tokens: short-lived JWTs with header `typ: at+jwt` and the `kid` of
//! the key that signed them (HS256 or EdDSA, see `keys.rs`).
//!
//! Issuing and the stateless half of verification live here: the key named by
//! `kid` and *its* algorithm (the header's `alg` is never trusted), `exp`,
//! `nbf` and `iat` against the server's clock with the configured leeway,
//! `iss`, `aud`, and the presence and form of every claim. Whether the
//! session is still live is the second step of the Bearer extractor
//! (`http/extract.rs`), through the liveness cache (`sessions/live.rs`).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::TokenError;
use super::keys::{Jwks, Keyring};
use crate::clock::Clock;
use crate::db::{Role, SessionId, UserId};
use crate::logging::Escaped;

const TYP: &str = "at+jwt";

/// The longest access token accepted, in bytes: the ones this server issues
/// are a few hundred bytes, and a longer one is refused before anything
/// decodes it (the Bearer extractor applies the same cap to the header).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// User id.
    pub sub: UserId,
    /// Session id.
    pub sid: SessionId,
    /// The user's token version at issue.
    pub ver: i64,
    /// The role at issue (authorization re-checks the current role).
    pub role: Role,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Unique token id.
    pub jti: Uuid,
    /// How the session's login was authenticated (RFC 8176 values: `pwd`,
    /// `otp`, `rec`, `hwk`). Tokens issued before the claim existed have
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// Issues and checks access tokens.
pub struct AccessTokens {
    /// Swapped whole when the stored keyring changes (see `keys.rs`).
    keyring: RwLock<Arc<Keyring>>,
    leeway: i64,
    ttl: Duration,
    issuer: String,
    audience: String,
    clock: Clock,
}

fn refused(why: &str) -> TokenError {
    // `why` may quote the token's own header or claims (a library's parse
    // error does): escaped, so it cannot break the log line.
    log::debug!("access token refused: {}", Escaped(why));
    TokenError::Invalid
}

impl AccessTokens {
    /// Tokens signed by `keyring`'s current key, timed by `clock`.
    pub fn new(
        keyring: Keyring,
        issuer: &str,
        audience: &str,
        ttl: Duration,
        leeway: Duration,
        clock: Clock,
    ) -> Self {
        Self {
            keyring: RwLock::new(Arc::new(keyring)),
            leeway: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX / 2),
            ttl,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            clock,
        }
    }

    /// Lifetime of the tokens this issues, in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// The keys in force.
    pub fn keyring(&self) -> Arc<Keyring> {
        // The lock guards a pointer swap: a panic elsewhere leaves it whole.
        self.keyring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `keyring` in force if it differs from the one in force; returns
    /// whether it did.
    pub fn replace_keyring(&self, keyring: Keyring) -> bool {
        let mut slot = self.keyring.write().unwrap_or_else(PoisonError::into_inner);
        if slot.same_as(&keyring) {
            return false;
        }
        *slot = Arc::new(keyring);
        true
    }

    /// The public keys that verify now.
    pub fn jwks(&self) -> Jwks {
        self.keyring().jwks(self.clock.timestamp())
    }

    /// A token for `user` in session `sid` at token version `ver`, whose
    /// login was authenticated by `amr`.
    pub fn issue(
        &self,
        sub: &UserId,
        sid: &SessionId,
        ver: i64,
        role: Role,
        amr: super::Amr,
    ) -> Result<String, TokenError> {
        let now = self.clock.timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.clone(),
            sid: sid.clone(),
            ver,
            role,
            iat: now,
            nbf: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: Uuid::new_v4(),
            amr: amr.methods().iter().map(|m| (*m).to_owned()).collect(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the current key and this server's header
    /// (tests use it to build tokens with chosen times).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let keyring = self.keyring();
        let key = keyring.current();
        let mut header = Header::new(key.algorithm().jwt());
        header.typ = Some(TYP.to_owned());
        header.kid = Some(key.kid().to_owned());
        jsonwebtoken::encode(&header, claims, key.encoding()).map_err(TokenError::Signing)
    }

    /// The stateless checks. Every failure is `TokenError::Invalid`; why goes to the
    /// debug log only.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refused("longer than the cap"));
        }
        let now = self.clock.timestamp();
        let keyring = self.keyring();
        // Each part decoded and parsed once (jsonwebtoken's `decode` parses
        // the header twice and the claims twice, and rebuilds the key's
        // verifier every time).
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused("not three parts"));
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(header_part)
            .map_err(|_| refused("header not base64url"))
            .and_then(|json| serde_json::from_slice(&json).map_err(|e| refused(&e.to_string())))?;
        // With one key (the usual case) there is nothing to choose. With
        // several, the header's `kid` picks the key; either way the key's
        // own algorithm is the only one accepted, and the `kid` must name
        // that very key (below).
        let key = match keyring.single() {
            Some(key) => key,
            None => header
                .kid
                .as_deref()
                .and_then(|kid| keyring.find(kid, now))
                .ok_or_else(|| refused("unknown or retired kid"))?,
        };
        if header.alg != key.algorithm().jwt() {
            return Err(refused("not the key's algorithm"));
        }
        let message = &token[..header_part.len() + 1 + payload.len()];
        let signed = URL_SAFE_NO_PAD
            .decode(signature)
            .is_ok_and(|signature| key.signed(message.as_bytes(), &signature));
        if !signed {
            return Err(refused("bad signature"));
        }
        let claims: AccessClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| refused("claims not base64url"))
            .and_then(|json| serde_json::from_slice(&json).map_err(|e| refused(&e.to_string())))?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(refused("another issuer or audience"));
        }
        let named = header.kid.as_deref().and_then(|kid| keyring.find(kid, now));
        let header_ok = named.is_some_and(|named| std::ptr::eq(named, key))
            && header.typ.as_deref() == Some(TYP)
            && header.jku.is_none()
            && header.jwk.is_none()
            && header.x5u.is_none()
            && header.x5c.is_none()
            && header.crit.is_none();
        if !header_ok {
            return Err(refused("unexpected header, or a kid that is not the key's"));
        }
        // NumericDates before 1970 are nothing this server issues.
        if claims.exp < 0 || claims.nbf < 0 || claims.iat < 0 {
            return Err(refused("a time before 1970"));
        }
        // RFC 7519: expired once now >= exp (jsonwebtoken accepts now == exp).
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(refused("expired"));
        }
        if claims.nbf > now.saturating_add(self.leeway) {
            return Err(refused("not yet valid"));
        }
        // This server never dates a token later than its own clock, so a
        // future `iat` is forged or mis-clocked; whoever reads `iat` (the
        // introspection answer shows it) must not be told a time to come.
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(refused("issued in the future"));
        }
        Ok(claims)
    }

    /// The `kid` new tokens carry.
    #[cfg(test)]
    fn current_kid(&self) -> String {
        self.keyring().current().kid().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::Sha256;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tokens() -> AccessTokens {
        with_leeway(Duration::ZERO)
    }

    fn with_leeway(leeway: Duration) -> AccessTokens {
        AccessTokens::new(
            Keyring::configured(SECRET, &[]),
            "wristband",
            "wristband",
            Duration::from_secs(600),
            leeway,
            Clock::system(),
        )
    }

    fn claims() -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            iss: "wristband".into(),
            aud: "wristband".into(),
            sub: UserId::new(),
            sid: SessionId::new(),
            ver: 1,
            role: Role::User,
            iat: now,
            nbf: now,
            exp: now + 600,
            jti: Uuid::new_v4(),
            amr: vec!["pwd".into()],
        }
    }

    fn with_header(header: serde_json::Value, claims: &AccessClaims) -> String {
        use hmac::{Hmac, Mac};
        let head = URL_SAFE_NO_PAD.encode(header.to_string());
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_string(claims).unwrap());
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(format!("{head}.{body}").as_bytes());
        format!(
            "{head}.{body}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let t = tokens();
        let c = claims();
        let token = t
            .issue(&c.sub, &c.sid, 3, Role::Admin, crate::tokens::Amr::Password)
            .unwrap();
        let got = t.verify(&token).unwrap();
        assert_eq!(
            (got.sub, got.sid, got.ver, got.role),
            (c.sub, c.sid, 3, Role::Admin)
        );
    }

    #[test]
    fn header_rules_are_enforced() {
        let t = tokens();
        let c = claims();
        let good = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": t.current_kid()});
        assert!(
            t.verify(&with_header(good, &c)).is_ok(),
            "the hand-made token itself is valid"
        );
        for header in [
            serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": t.current_kid()}),
            serde_json::json!({"alg": "HS256", "typ": "at+jwt"}),
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": "deadbeefdeadbeef"}),
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": t.current_kid(), "jku": "https://evil.example/jwks"}),
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": t.current_kid(), "x5u": "https://evil.example/x5u"}),
            serde_json::json!({"alg": "HS384", "typ": "at+jwt", "kid": t.current_kid()}),
            serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": t.current_kid()}),
        ] {
            assert!(
                t.verify(&with_header(header.clone(), &c)).is_err(),
                "accepted {header}"
            );
        }
    }

    #[test]
    fn time_and_audience_claims_are_enforced() {
        let t = tokens();
        let now = chrono::Utc::now().timestamp();
        let cases: [fn(&mut AccessClaims, i64); 5] = [
            |c, now| c.exp = now - 1,
            |c, now| c.exp = now,
            |c, now| c.nbf = now + 30,
            |c, _| c.iss = "someone-else".into(),
            |c, _| c.aud = "another-api".into(),
        ];
        for case in cases {
            let mut c = claims();
            case(&mut c, now);
            assert!(t.verify(&t.sign(&c).unwrap()).is_err(), "accepted {c:?}");
        }
    }

    #[test]
    fn tokens_over_the_cap_are_refused_however_well_signed() {
        use hmac::{Hmac, Mac};
        let t = tokens();
        let header = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": t.current_kid()})
                .to_string(),
        );
        let mut claims = serde_json::to_value(claims()).unwrap();
        // A valid token made longer by a padding claim of `pad` bytes (the
        // base64url of n bytes is about 4n/3 characters).
        let mut token_of = |pad: usize| {
            claims["pad"] = "x".repeat(pad).into();
            let body = URL_SAFE_NO_PAD.encode(claims.to_string());
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
            mac.update(format!("{header}.{body}").as_bytes());
            let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            format!("{header}.{body}.{signature}")
        };
        let estimate = (MAX_TOKEN_BYTES - token_of(0).len()) * 3 / 4;
        let fits = (estimate.saturating_sub(8)..estimate + 8)
            .map(&mut token_of)
            .take_while(|token| token.len() <= MAX_TOKEN_BYTES)
            .last()
            .unwrap();
        assert!(fits.len() > MAX_TOKEN_BYTES - 4, "{}", fits.len());
        assert!(t.verify(&fits).is_ok(), "{} bytes", fits.len());
        let over = (estimate..estimate + 16)
            .map(&mut token_of)
            .find(|token| token.len() > MAX_TOKEN_BYTES)
            .unwrap();
        assert!(over.len() < MAX_TOKEN_BYTES + 8, "{}", over.len());
        assert!(matches!(t.verify(&over), Err(TokenError::Invalid)));
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused() {
        let now = chrono::Utc::now().timestamp();
        let mut c = claims();
        c.iat = now + 60;
        let token = tokens().sign(&c).unwrap();
        assert!(
            matches!(tokens().verify(&token), Err(TokenError::Invalid)),
            "iat a minute ahead, nbf and exp fine"
        );
        // Within the configured leeway it passes, as `nbf` does.
        assert!(with_leeway(Duration::from_secs(120)).verify(&token).is_ok());
        c.iat = now - 1;
        assert!(tokens().verify(&tokens().sign(&c).unwrap()).is_ok());
    }

    #[test]
    fn leeway_is_the_configured_one() {
        let lenient = with_leeway(Duration::from_secs(60));
        let mut c = claims();
        c.exp = chrono::Utc::now().timestamp() - 30;
        let token = lenient.sign(&c).unwrap();
        assert!(lenient.verify(&token).is_ok());
        assert!(
            tokens().verify(&token).is_err(),
            "zero leeway refuses a token 30 s past exp"
        );
    }

    #[test]
    fn every_single_bit_flip_of_a_valid_token_is_refused() {
        let t = tokens();
        let c = claims();
        let token = t
            .issue(&c.sub, &c.sid, 1, Role::User, crate::tokens::Amr::Password)
            .unwrap();
        assert!(t.verify(&token).is_ok());
        // The dots: a base64url character in their place.
        let changes = crate::proptest_support::single_changes(&token, |_| vec!['A']);
        for (i, original, replacement, changed) in changes {
            assert!(
                t.verify(&changed).is_err(),
                "accepted {original:?} -> {replacement:?} at {i}"
            );
        }
    }

    fn eddsa(ring: Keyring, clock: Clock) -> AccessTokens {
        AccessTokens::new(
            ring,
            "wristband",
            "wristband",
            Duration::from_secs(600),
            Duration::ZERO,
            clock,
        )
    }

    #[test]
    fn eddsa_tokens_verify_and_name_their_key() {
        let t = eddsa(
            Keyring::new(crate::tokens::keys::SigningKey::ed25519(&[3u8; 32]), []),
            Clock::system(),
        );
        let c = claims();
        let token = t
            .issue(&c.sub, &c.sid, 1, Role::User, crate::tokens::Amr::Password)
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(t.current_kid().as_str()));
        assert!(t.verify(&token).is_ok());
    }

    #[test]
    fn a_token_claiming_hs256_under_an_eddsa_kid_is_refused() {
        // The classic confusion: HMAC keyed with the public key.
        use hmac::{Hmac, Mac};
        let t = eddsa(
            Keyring::new(crate::tokens::keys::SigningKey::ed25519(&[3u8; 32]), []),
            Clock::system(),
        );
        let public = URL_SAFE_NO_PAD.decode(&t.jwks().keys[0].x).unwrap();
        let head = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": t.current_kid()})
                .to_string(),
        );
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims()).unwrap());
        for key in [public.as_slice(), t.jwks().keys[0].x.as_bytes()] {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(format!("{head}.{body}").as_bytes());
            let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            assert!(t.verify(&format!("{head}.{body}.{sig}")).is_err());
        }
    }

    #[test]
    fn times_are_read_from_the_servers_clock() {
        let clock = Clock::movable();
        let t = eddsa(Keyring::configured(SECRET, &[]), clock.clone());
        let c = claims();
        let token = t
            .issue(&c.sub, &c.sid, 1, Role::User, crate::tokens::Amr::Password)
            .unwrap();
        assert!(t.verify(&token).is_ok(), "nbf is the moved clock's now");
        clock.advance(Duration::from_secs(599)).unwrap();
        assert!(t.verify(&token).is_ok());
        clock.advance(Duration::from_secs(1)).unwrap();
        assert!(
            t.verify(&token).is_err(),
            "expired at exp on the moved clock"
        );
        // Issued on the moved clock: not before that time, even though the
        // system clock is behind it.
        let fresh = t
            .issue(&c.sub, &c.sid, 1, Role::User, crate::tokens::Amr::Password)
            .unwrap();
        assert!(t.verify(&fresh).is_ok());
        assert!(
            tokens().verify(&fresh).is_err(),
            "nbf is in the system clock's future"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_support::proptest_config()
        }

        fn base64url_part() -> impl Strategy<Value = String> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300)
                    .prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
                "[A-Za-z0-9_-]{0,300}",
                // JSON objects, so the parts get past base64 and into serde.
                proptest::collection::btree_map("[a-z]{1,4}", any::<i64>(), 0..6)
                    .prop_map(|map| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).unwrap())),
            ]
        }

        /// A replacement character: mostly base64url, sometimes anything.
        fn replacement() -> impl Strategy<Value = char> {
            prop_oneof![
                4 => proptest::sample::select(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        .chars()
                        .collect::<Vec<_>>()
                ),
                1 => proptest::sample::select(vec!['.', '=', '+', '/', ' ', '\0']),
                1 => any::<char>(),
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn arbitrary_strings_are_refused(text in any::<String>()) {
                prop_assert!(tokens().verify(&text).is_err());
            }

            #[test]
            fn arbitrary_three_part_base64url_is_refused(
                header in base64url_part(),
                payload in base64url_part(),
                signature in base64url_part(),
            ) {
                let token = format!("{header}.{payload}.{signature}");
                prop_assert!(tokens().verify(&token).is_err(), "{token}");
            }

            #[test]
            fn any_claims_signed_by_another_key_are_refused(
                payload in base64url_part(),
                other_key in proptest::collection::vec(any::<u8>(), 1..64),
            ) {
                use hmac::{Hmac, Mac};
                prop_assume!(other_key != SECRET);
                let header = URL_SAFE_NO_PAD.encode(
                    serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": tokens().current_kid()})
                        .to_string(),
                );
                let mut mac = Hmac::<Sha256>::new_from_slice(&other_key).unwrap();
                mac.update(format!("{header}.{payload}").as_bytes());
                let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
                let token = format!("{header}.{payload}.{signature}");
                prop_assert!(tokens().verify(&token).is_err(), "{token}");
            }

            #[test]
            fn any_single_character_change_is_refused(
                index in any::<proptest::sample::Index>(),
                replacement in replacement(),
            ) {
                let t = tokens();
                let c = claims();
                let token = t.issue(&c.sub, &c.sid, c.ver, c.role, crate::tokens::Amr::Password).unwrap();
                let mut chars: Vec<char> = token.chars().collect();
                let i = index.index(chars.len());
                prop_assume!(chars[i] != replacement);
                chars[i] = replacement;
                let changed: String = chars.into_iter().collect();
                prop_assert!(t.verify(&changed).is_err(), "{changed}");
            }

            #[test]
            fn valid_tokens_verify_with_their_claims(
                sub in any::<[u8; 16]>(),
                sid in any::<[u8; 16]>(),
                ver in any::<i64>(),
                admin in any::<bool>(),
            ) {
                let t = tokens();
                let (sub, sid) = (
                    UserId::from(Uuid::from_bytes(sub)),
                    SessionId::from(Uuid::from_bytes(sid)),
                );
                let role = if admin { Role::Admin } else { Role::User };
                let token = t.issue(&sub, &sid, ver, role, crate::tokens::Amr::PasswordOtp).unwrap();
                let got = t.verify(&token).unwrap();
                prop_assert_eq!((got.sub, got.sid, got.ver, got.role), (sub, sid, ver, role));
                prop_assert_eq!(got.amr, vec!["pwd".to_owned(), "otp".to_owned()]);
            }
        }
    }
}
