//! `AppState`: what every handler shares, built once at start-up.

use crate::config::Config;
use crate::cookies::{DeviceCookie, RefreshCookie};
use crate::db::Database;
use crate::sessions::Sessions;

/// Shared state of one Wristband instance.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The session rules, with the database, keys and liveness cache.
    pub sessions: Sessions,
    /// How the refresh cookie is written.
    pub cookie: RefreshCookie,
    /// How the device cookie is written and read.
    pub device_cookie: DeviceCookie,
}

impl AppState {
    /// The database.
    pub fn db(&self) -> &Database {
        self.sessions.db()
    }
}
