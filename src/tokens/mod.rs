//! The three token artefacts: the access token (a JWT, `access.rs`), the
//! refresh token (opaque, derived per session generation, `refresh.rs`), and
//! the cookie that carries the refresh token (`cookie.rs`).

pub mod access;
pub mod cookie;
pub mod refresh;

pub use access::{AccessClaims, AccessTokens};
pub use cookie::RefreshCookie;
pub use refresh::{RefreshKey, RefreshToken};
