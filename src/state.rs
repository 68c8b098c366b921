//! `AppState`: what every handler shares, built once at start-up — the parts
//! side by side (configuration, database, clock, access tokens, bcrypt, the
//! cookies) and the session rules built on them. A handler takes the part it
//! needs; nothing reaches through the session rules for it.

use std::sync::Arc;

use crate::auth::password::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::cookies::{DeviceCookie, RefreshCookie};
use crate::db::Database;
use crate::sessions::Sessions;
use crate::tokens::AccessTokens;

/// Shared state of one Wristband instance.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The database.
    pub db: Database,
    /// What every rule reads the time from (test mode's moves forward).
    pub clock: Clock,
    /// The access-token issuer and verifier, with the signing keyring.
    pub access: Arc<AccessTokens>,
    /// bcrypt, bounded by the cores, and the new-password policy.
    pub hasher: Arc<Hasher>,
    /// The session rules: log in, rotate, revoke, and what is live.
    pub sessions: Sessions,
    /// How the refresh cookie is written.
    pub cookie: RefreshCookie,
    /// How the device cookie is written and read.
    pub device_cookie: DeviceCookie,
}
