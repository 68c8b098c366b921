//! `AppState`: what every handler shares, built once at start-up.

use crate::config::Config;
use crate::db::Database;
use crate::http::rate_limit::RateLimit;
use crate::sessions::Sessions;
use crate::tokens::RefreshCookie;

/// Shared state of one Wristband instance.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The session rules, with the database, keys and liveness cache.
    pub sessions: Sessions,
    /// How the refresh cookie is written.
    pub cookie: RefreshCookie,
    /// The per-client-IP limit on login, register and refresh.
    pub rate_limit: RateLimit,
}

impl AppState {
    /// The database.
    pub fn db(&self) -> &Database {
        self.sessions.db()
    }
}
