//! The second factor's rules that need no database: TOTP secrets (made,
//! sealed, opened), which time step a code belongs to, the `otpauth://` URI
//! and its QR code, and recovery codes (made and hashed). The flows that
//! store and spend them are in `sessions/mfa.rs`; the tables in `db/mfa.rs`.
//!
//! - TOTP is RFC 6238 through `totp-rs`: SHA-1, 6 digits, 30 s steps, one
//!   step either side. `totp-rs` says which step a code matched; accepting
//!   each step once (a compare-and-swap on the last accepted one) is ours.
//! - Secrets are 160 random bits, sealed with XChaCha20-Poly1305 under a key
//!   derived from the refresh secret and bound to their user (`at_rest.rs`).
//! - Recovery codes are 120 random bits (24 base32 characters, shown in
//!   groups of four), stored as HMAC-SHA-256 under a key derived from the
//!   refresh secret: beyond the 112 bits under which NIST SP 800-63B
//!   §5.1.2.2 asks for a salted, stretched hash, so a copy of the database
//!   neither reads them nor guesses them offline, with the key or without.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use totp_rs::{Algorithm, Builder, Totp};

use crate::at_rest::AtRestKey;
use crate::db::UserId;

/// Digits of a code.
const DIGITS: u8 = 6;
/// Seconds of a time step.
pub const STEP: u64 = 30;
/// Bytes of a TOTP secret (160 bits, RFC 4226 §4).
const SECRET_BYTES: usize = 20;
/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a recovery code (120 bits).
const RECOVERY_BYTES: usize = 15;
/// Characters of a recovery code without its dashes.
const RECOVERY_CHARS: usize = 24;

/// The keys and names the second factor needs. Deliberately not `Debug`.
#[derive(Clone)]
pub struct Mfa {
    secrets: AtRestKey,
    recovery: Hmac<Sha256>,
    issuer: String,
}

/// A new factor, before it is stored.
pub struct Enrolment {
    /// The secret in base32, for the user to type.
    pub secret: SecretString,
    /// The secret sealed for the database.
    pub sealed: String,
    /// The `otpauth://` URI an authenticator app reads.
    pub otpauth_uri: SecretString,
    /// The URI as an SVG QR code.
    pub qr_svg: SecretString,
}

/// A second factor as a client presents it.
#[derive(Clone)]
pub enum Proof {
    /// A TOTP code.
    Code(SecretString),
    /// A recovery code.
    Recovery(SecretString),
}

impl Proof {
    /// A field that takes either: six digits (spaces aside) are a TOTP code,
    /// anything else a recovery code.
    pub fn either(code: SecretString) -> Self {
        let digits = code
            .expose_secret()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>();
        if digits.len() == usize::from(DIGITS) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Self::Code(code)
        } else {
            Self::Recovery(code)
        }
    }

    /// The method's name, for metrics.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Code(_) => "totp",
            Self::Recovery(_) => "recovery_code",
        }
    }
}

impl Mfa {
    /// The second factor of a server whose refresh secret is `secret`; codes
    /// name the account `issuer` (`WRISTBAND_APP_NAME`).
    pub fn new(secret: &[u8], issuer: &str) -> Self {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let keyed = |key: &[u8]| {
            <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
        };
        let mut derivation = keyed(secret);
        derivation.update(b"wristband recovery codes");
        let key = derivation.finalize().into_bytes();
        Self {
            secrets: AtRestKey::derive(secret, b"totp"),
            recovery: keyed(&key),
            // The label's separator is a colon: the issuer may not hold one.
            issuer: issuer.replace(':', " "),
        }
    }

    /// A new secret for `user_id` at `email`: sealed, and shown.
    pub fn enrol(&self, user_id: &UserId, email: &str) -> Enrolment {
        use rand::RngCore;
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let sealed = self
            .secrets
            .seal_bound(&bytes, user_id.to_string().as_bytes());
        let secret = totp_rs::Secret::from(bytes.to_vec()).to_base32();
        let uri = otpauth_uri(&self.issuer, email, &secret);
        let qr_svg = qr_svg(&uri);
        Enrolment {
            secret: secret.into(),
            sealed,
            otpauth_uri: uri.into(),
            qr_svg: qr_svg.into(),
        }
    }

    /// The stored secret of `user_id`, ready to check codes; `None` when it
    /// does not open (another refresh secret, another user's row).
    pub fn open(&self, user_id: &UserId, sealed: &str) -> Option<TotpSecret> {
        let bytes = self
            .secrets
            .open_bound(sealed, user_id.to_string().as_bytes())?;
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(1)
            .with_step_duration(STEP)
            .with_secret(bytes)
            .build()
            .ok()
            .map(TotpSecret)
    }

    /// A new set of recovery codes: the codes to show, and their hashes to
    /// store.
    pub fn recovery_codes(&self) -> (Vec<SecretString>, Vec<String>) {
        use rand::RngCore;
        (0..RECOVERY_CODES)
            .map(|_| {
                let mut bytes = [0u8; RECOVERY_BYTES];
                rand::rng().fill_bytes(&mut bytes);
                let plain = totp_rs::Secret::from(bytes.to_vec())
                    .to_base32()
                    .to_ascii_lowercase();
                let hash = self.recovery_hash_of(&plain);
                let shown = plain
                    .as_bytes()
                    .chunks(4)
                    .map(|group| String::from_utf8_lossy(group).into_owned())
                    .collect::<Vec<_>>()
                    .join("-");
                (SecretString::from(shown), hash)
            })
            .unzip()
    }

    /// The stored hash of a recovery code as a user typed it (any case,
    /// dashes and spaces ignored); `None` when it cannot be one.
    pub fn recovery_hash(&self, typed: &str) -> Option<String> {
        let plain: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let valid = plain.len() == RECOVERY_CHARS
            && plain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        valid.then(|| self.recovery_hash_of(&plain))
    }

    fn recovery_hash_of(&self, plain: &str) -> String {
        let mut mac = self.recovery.clone();
        mac.update(plain.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// An opened TOTP secret. Deliberately not `Debug`.
pub struct TotpSecret(Totp);

impl TotpSecret {
    /// The time step `code` belongs to at `now` (seconds since the epoch),
    /// one step either side; `None` when it matches none.
    pub fn step_of(&self, code: &str, now: i64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now).ok()?;
        self.0
            .check(&code, now)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// The code of `step` (the tests' authenticator).
    pub fn code_at(&self, step: i64) -> String {
        let time = u64::try_from(step).unwrap_or(0) * STEP;
        self.0.generate(time).to_string()
    }
}

/// `otpauth://totp/ISSUER:EMAIL?secret=…&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`,
/// the label and the issuer percent-encoded.
fn otpauth_uri(issuer: &str, email: &str, secret: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    /// What stays as is: letters, digits and `@ . - _ ~`.
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'@')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    let issuer = utf8_percent_encode(issuer, KEEP).to_string();
    let account = utf8_percent_encode(email, KEEP).to_string();
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP}"
    )
}

/// `text` as an SVG QR code (the app shows it as is).
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        // A URI of a few hundred bytes always fits a QR code.
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mfa() -> Mfa {
        Mfa::new(b"a refresh secret of at least 32 bytes", "Acme: Staging")
    }

    #[test]
    fn an_enrolment_opens_for_its_user_only_and_names_the_account() {
        let (mfa, user) = (mfa(), UserId::new());
        let enrolment = mfa.enrol(&user, "ann+1@example.com");
        let secret = enrolment.secret.expose_secret().to_owned();
        assert_eq!(secret.len(), 32, "160 bits in base32");
        assert!(!enrolment.sealed.contains(&secret));
        let uri = enrolment.otpauth_uri.expose_secret();
        assert_eq!(
            uri,
            &format!(
                "otpauth://totp/Acme%20%20Staging:ann%2B1@example.com?secret={secret}\
                 &issuer=Acme%20%20Staging&algorithm=SHA1&digits=6&period=30"
            )
        );
        assert!(enrolment.qr_svg.expose_secret().contains("<svg"));
        assert!(mfa.open(&user, &enrolment.sealed).is_some());
        assert!(mfa.open(&UserId::new(), &enrolment.sealed).is_none());
        let other = Mfa::new(b"another refresh secret of 32 bytes!", "Acme");
        assert!(other.open(&user, &enrolment.sealed).is_none());
    }

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        let (mfa, user) = (mfa(), UserId::new());
        let totp = mfa
            .open(&user, &mfa.enrol(&user, "a@example.com").sealed)
            .unwrap();
        let now = 1_800_000_015;
        let step = now / 30;
        for offset in [-1, 0, 1] {
            let code = totp.code_at(step + offset);
            assert_eq!(totp.step_of(&code, now), Some(step + offset));
        }
        for offset in [-3, -2, 2, 3] {
            let code = totp.code_at(step + offset);
            // (A code of a far step may collide with a near one's: 1 in 10^6.)
            if ![-1, 0, 1].iter().any(|n| totp.code_at(step + n) == code) {
                assert_eq!(totp.step_of(&code, now), None);
            }
        }
        let code = totp.code_at(step);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(totp.step_of(&spaced, now), Some(step));
        assert_eq!(totp.step_of("12345", now), None);
        assert_eq!(totp.step_of("abcdef", now), None);
        assert_eq!(totp.step_of(&code, -5), None);
    }

    #[test]
    fn the_rfc_6238_vector() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", T = 59 s:
        // 94287082 at 8 digits, so 287082 at 6.
        let key = AtRestKey::derive(b"a refresh secret of at least 32 bytes", b"totp");
        let user = UserId::new();
        let sealed = key.seal_bound(b"12345678901234567890", user.to_string().as_bytes());
        let totp = mfa().open(&user, &sealed).unwrap();
        assert_eq!(totp.code_at(1), "287082");
        assert_eq!(totp.step_of("287082", 59), Some(1));
    }

    #[test]
    fn recovery_codes_are_distinct_and_match_as_typed() {
        let mfa = mfa();
        let (codes, hashes) = mfa.recovery_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), 10);
        for (code, hash) in codes.iter().zip(&hashes) {
            let code = code.expose_secret();
            assert_eq!(code.len(), 29, "{code}");
            assert!(!hash.contains(&code.replace('-', "")));
            assert_eq!(mfa.recovery_hash(code).as_ref(), Some(hash));
            let typed = code.to_uppercase().replace('-', " ");
            assert_eq!(mfa.recovery_hash(&typed).as_ref(), Some(hash));
        }
        assert_eq!(mfa.recovery_hash("not-a-code"), None);
        assert_eq!(mfa.recovery_hash("0000-0000-0000-0000"), None);
        let other = Mfa::new(b"another refresh secret of 32 bytes!", "Acme");
        assert_ne!(
            other.recovery_hash(codes[0].expose_secret()).as_ref(),
            Some(&hashes[0])
        );
    }

    #[test]
    fn a_field_that_takes_either_tells_them_apart() {
        assert!(matches!(
            Proof::either("123 456".to_owned().into()),
            Proof::Code(_)
        ));
        assert!(matches!(
            Proof::either("abcd-efgh-ijkl-mnop-qrst-uvwx".to_owned().into()),
            Proof::Recovery(_)
        ));
        assert!(matches!(
            Proof::either("12345".to_owned().into()),
            Proof::Recovery(_)
        ));
    }
}
