//! `AppState`: what every handler shares, built once at start-up.

use std::fmt;

use chrono::TimeDelta;

use crate::auth::LivenessCache;
use crate::config::Config;
use crate::db::Database;
use crate::tokens::{AccessTokens, RefreshCookie, RefreshKey};

/// Shared state of one Wristband instance.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The connection pool.
    pub db: Database,
    /// Access-token issuer and verifier.
    pub access: AccessTokens,
    /// Refresh-token key.
    pub refresh_key: RefreshKey,
    /// How the refresh cookie is written.
    pub cookie: RefreshCookie,
    /// Session liveness, cached for a second.
    pub liveness: LivenessCache,
    /// A bcrypt hash of a random password at the configured cost: unknown
    /// emails are verified against it so they take as long as wrong passwords.
    pub dummy_hash: String,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl AppState {
    /// Idle lifetime of a session.
    pub fn idle_ttl(&self) -> TimeDelta {
        delta(self.config.refresh_idle_ttl)
    }

    /// Absolute lifetime of a session.
    pub fn max_age(&self) -> TimeDelta {
        delta(self.config.session_max_age)
    }

    /// The refresh grace window.
    pub fn grace(&self) -> TimeDelta {
        delta(self.config.refresh_grace)
    }
}
