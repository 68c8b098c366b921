//! `AppState`: what every handler shares, built once at start-up — the parts
//! side by side (configuration, database, clock, access tokens, bcrypt, the
//! cookies) and the session rules built on them. A handler takes the part it
//! needs; nothing reaches through the session rules for it.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::auth::password::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::cookies::{DeviceCookie, RefreshCookie};
use crate::db::Database;
use crate::sessions::Sessions;
use crate::tokens::AccessTokens;
use crate::users::Address;

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
    /// The mail flows, when mail is on.
    pub accounts: Option<Accounts>,
}

/// What a server serves beyond its always-on routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Test mode's `/test/*` routes.
    pub test_mode: bool,
    /// The mail routes (SMTP configured, or test mode).
    pub mail: bool,
    /// The passkey routes (a relying party could be named).
    pub passkeys: bool,
}

impl AppState {
    /// What the address of an account someone signs up for (or an admin
    /// creates) starts as: unverified, with a verification link on its way
    /// when mail is on.
    pub fn unverified_address(&self) -> Address {
        match &self.accounts {
            Some(accounts) => Address::SendLink(accounts.mailer().clone()),
            None => Address::Unverified,
        }
    }

    /// What this server serves beyond its always-on routes.
    pub fn features(&self) -> Features {
        Features {
            test_mode: self.config.operations.test_mode,
            mail: self.accounts.is_some(),
            passkeys: self.sessions.passkeys_on(),
        }
    }
}
