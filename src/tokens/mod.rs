//! The token artefacts: the access token (a JWT, `access.rs`) and the keys
//! that sign it (`keys.rs`), the refresh token (opaque, derived per session
//! generation, `refresh.rs`); the cookie that carries it is written in
//! `src/cookies.rs`.

pub mod access;
pub mod amr;
pub mod keys;
pub mod refresh;

pub use access::{AccessClaims, AccessTokens};
pub use amr::Amr;
pub use keys::{KeyAlgorithm, Keyring};
pub use refresh::{RefreshKey, RefreshToken};

/// Whether `b` may appear in a Bearer token (RFC 7235 token68 characters):
/// what the Bearer extractor accepts and what an operator secret presented
/// as one must be made of.
pub fn is_token68_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Why an access token was refused, or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Refused: every reason looks the same to the caller (401
    /// `invalid_token`); the debug log has why.
    #[error("invalid token")]
    Invalid,
    /// Signing failed.
    #[error("signing an access token failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
}
