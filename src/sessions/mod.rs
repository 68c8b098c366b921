//! The session rules: log in, rotate, revoke, and decide whether a session is
//! live. Routes call [`Sessions`]; it calls `db/` and `tokens/`.
//!
//! Invariants:
//! 1. One session per login; a session's refresh token is the one of its
//!    current `generation` (see `tokens/refresh.rs`); no token is stored.
//! 2. Refresh rotates with a compare-and-swap on `generation`: of N concurrent
//!    refreshes with one token exactly one moves the session forward; the others
//!    then see the predecessor inside the grace window and get *the same*
//!    successor, so every tab converges on one cookie.
//! 3. Any spent token other than the immediate predecessor within
//!    `WRISTBAND_REFRESH_GRACE` is reuse: the session is revoked and
//!    `refresh_reused` is audited.
//! 4. Revoked is final: nothing clears `revoked_at`, and rotation refuses a
//!    revoked session.
//! 5. A session (and each access token) carries the user's token version;
//!    bumping it kills them all. Bumps also mark the sessions revoked, so lists
//!    and the purge agree.
//! 6. Every revocation goes through `revoke.rs`: its transaction commits, then
//!    the liveness cache forgets it before the response leaves, so the very
//!    next request on this instance is refused (other instances: within the
//!    cache's one second).
//! 7. "Live" has one definition, [`SessionPolicy::refusal`] over the Rust and
//!    SQL twins in `db/sessions.rs`.
//!
//! Files: `login.rs` (credentials), `rotate.rs` (refresh), `revoke.rs` (the one
//! revocation path), `password.rs` (password change), `reset.rs` (a password
//! reset from a mailed link, which signs in), `live.rs` (the liveness
//! cache and access-token authentication), `purge.rs` (the periodic purge).

mod live;
mod lockout;
mod login;
mod mfa;
mod passkeys;
mod password;
pub mod purge;
mod queue;
mod reset;
mod revoke;
mod rotate;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use secrecy::{ExposeSecret, SecretString};

pub use live::{LiveSession, LiveUser, LivenessCache};
pub use mfa::{CHALLENGE_TTL, MfaChallenge, SignIn};
pub use passkeys::{CEREMONY_TTL, CeremonyStart, NAME_MAX};
pub use revoke::Revocations;

pub use crate::config::{Lockout, SessionPolicy};

use crate::api::GrantFailure;
use crate::api::{Session, TokenResponse};
use crate::auth::CredentialError;
use crate::auth::password::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::sessions::{Refusal, SessionRow, SessionWithUser};
use crate::db::users::UserRow;
use crate::db::{Database, DbError, SessionId, UserId};
use crate::devices::{DeviceKey, DeviceToken};
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::mfa::Mfa;
use crate::passkeys::RelyingParty;
use crate::tokens::{AccessTokens, Amr, RefreshKey, RefreshToken, TokenError};

/// Why a session flow did not go through. The HTTP edge
/// (`routes/errors.rs`) turns it into the documented errors, and logs the
/// causes of outages once.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A refresh token was refused, and why.
    #[error("invalid grant: {0:?}")]
    InvalidGrant(GrantFailure),
    /// Unknown email, wrong password or disabled user alike.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The current password given to a password change was wrong.
    #[error("wrong current password")]
    WrongCurrentPassword,
    /// The access token is not, or no longer, valid (or its session moved
    /// on under a concurrent change).
    #[error("invalid token")]
    InvalidToken,
    /// The lockout refused the attempt: its class is locked, or attempts in
    /// flight held the budget longer than an attempt waits. Retry after this
    /// many seconds.
    #[error("too many attempts; retry after {0} s")]
    TooManyAttempts(u64),
    /// No such session or user (or not the caller's).
    #[error("not found")]
    NotFound,
    /// A right password for an address not yet verified, while
    /// `WRISTBAND_REQUIRE_VERIFIED_EMAIL` is on.
    #[error("email not verified")]
    EmailNotVerified,
    /// A password-reset link that is unknown, expired, spent or superseded.
    #[error("invalid or expired link")]
    InvalidLink,
    /// A wrong second factor: a TOTP code of no step near now or of a step
    /// already accepted, or a recovery code the user does not have (any
    /// more); also a code confirming no pending factor.
    #[error("invalid code")]
    InvalidCode,
    /// A login's `mfa_token` is unknown, expired or spent, or its account
    /// changed since (a password change, a sign-out everywhere, disabled).
    #[error("invalid mfa token")]
    InvalidMfaToken,
    /// The user has a confirmed second factor already.
    #[error("second factor already enabled")]
    MfaAlreadyEnabled,
    /// The user has no confirmed second factor.
    #[error("second factor not enabled")]
    MfaNotEnabled,
    /// A passkey registration that did not verify (or whose ceremony is
    /// unknown, expired, spent or another user's, or whose credential is
    /// registered already).
    #[error("invalid passkey credential")]
    InvalidCredential,
    /// A passkey name that is too long or not on one line.
    #[error("invalid passkey name")]
    InvalidPasskeyName,
    /// A passkey ceremony could not start, or stored passkey state does not
    /// read back: the server's fault.
    #[error("passkeys are unavailable")]
    PasskeyUnavailable,
    /// A stored TOTP secret does not open under this server's refresh
    /// secret (it was changed): an outage of that user's factor.
    #[error("a stored TOTP secret does not open under the configured refresh secret")]
    FactorUnreadable,
    /// A refresh lost its compare-and-swap three times in a row.
    #[error("the session kept moving under the refresh")]
    Contended,
    /// A credential was refused or could not be checked.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// An access token was refused or could not be made.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The database failed.
    #[error("the database failed")]
    Store(#[from] DbError),
}

impl From<diesel::result::Error> for SessionError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(DbError::Query(error))
    }
}

impl SessionError {
    /// Whether the flow failed for want of a resource (database, bcrypt,
    /// signing), not for anything the client did: not an outcome to count.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Self::Store(_)
                | Self::Contended
                | Self::FactorUnreadable
                | Self::PasskeyUnavailable
                | Self::Token(TokenError::Signing(_))
                | Self::Credential(
                    CredentialError::Busy(_)
                        | CredentialError::Hashing(_)
                        | CredentialError::Blocking(_)
                )
        )
    }
}

/// Mails `letter` to `user_id`'s address in the caller's transaction — when
/// mail is on and the address is verified: a notice must not go to an
/// address nobody proved. The caller wakes the delivery worker after the
/// commit ([`Sessions::wake_mail`]).
pub(crate) fn notify(
    mailer: Option<&Mailer>,
    conn: &mut crate::db::DbConnection,
    user_id: &UserId,
    letter: &crate::mail::Letter,
    now: NaiveDateTime,
) -> Result<(), SessionError> {
    let Some(mailer) = mailer else {
        return Ok(());
    };
    match UserRow::find(conn, user_id)? {
        Some(user) if user.email_verified => Ok(mailer.post(conn, &user.email, letter, now)?),
        _ => Ok(()),
    }
}

/// How long a liveness answer is trusted: the bound on how late another
/// instance sees a revocation.
pub const LIVENESS_TTL: Duration = Duration::from_secs(1);

/// The session lifetimes (built by `config.sessions.policy()`) applied.
impl SessionPolicy {
    /// When `session` ends unless refreshed (or revoked) first.
    pub fn ends_at(&self, session: &SessionRow) -> NaiveDateTime {
        session.ends_at(self.idle_ttl)
    }

    /// Why `found` may not be used at `now`, as a refresh answers it; `None`
    /// if it is live.
    pub fn refusal(&self, found: &SessionWithUser, now: NaiveDateTime) -> Option<GrantFailure> {
        found
            .refusal(now, self.idle_ttl)
            .map(|refusal| match refusal {
                Refusal::Revoked => GrantFailure::Revoked,
                Refusal::Expired => GrantFailure::Expired,
            })
    }

    /// Whether `found` is live at `now`.
    pub fn is_live(&self, found: &SessionWithUser, now: NaiveDateTime) -> bool {
        self.refusal(found, now).is_none()
    }

    /// Whether a token rotated away at `rotated_at` is still in its grace window.
    fn in_grace(&self, rotated_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
        rotated_at.is_some_and(|at| now - at <= self.grace)
    }
}

impl Lockout {
    /// The numbers the lockout table works with; an attempt holds its place
    /// in the budget for `attempt_ttl` at most.
    fn limits(&self, attempt_ttl: TimeDelta) -> crate::db::login_failures::Limits {
        crate::db::login_failures::Limits {
            max_failures: self.max_failures,
            lockout: self.duration,
            attempt_ttl,
        }
    }
}

/// The caller, authenticated by a Bearer access token whose session is live
/// and whose version is the user's current one.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The session the token belongs to.
    pub session_id: SessionId,
    /// The user as the liveness check found them: current version and role
    /// (not the ones in the token).
    pub user: Arc<LiveUser>,
}

/// Tokens handed out by login, refresh and password change. (No `Debug`:
/// it holds the tokens.)
pub struct Issued {
    /// The JSON body.
    pub body: TokenResponse,
    /// The refresh token for the cookie.
    pub refresh: RefreshToken,
    /// The cookie's `Max-Age`: what is left of the session.
    pub cookie_max_age: i64,
    /// A device cookie to set (a login makes the client a known device).
    pub device: Option<DeviceToken>,
}

/// Everything the session rules need, shared by every request.
pub struct Sessions {
    db: Database,
    policy: SessionPolicy,
    access: Arc<AccessTokens>,
    refresh_key: RefreshKey,
    device_key: DeviceKey,
    liveness: Arc<LivenessCache>,
    metrics: Arc<Metrics>,
    lockout: Lockout,
    /// This instance's queues of login attempts, one per account and class.
    queues: Arc<queue::Queues>,
    /// The users whose password hash a login is replacing now.
    rehashing: login::Rehashing,
    hasher: Arc<Hasher>,
    /// A bcrypt hash of a random password at the configured cost: unknown
    /// emails are verified against it so they take as long as wrong passwords.
    dummy_hash: SecretString,
    /// What every rule here reads the time from.
    clock: Clock,
    /// Mail, when on: the new-sign-in notice.
    mailer: Option<Mailer>,
    /// A right password for an unverified address is refused.
    require_verified_email: bool,
    /// The second factor's keys and issuer.
    mfa: Mfa,
    /// Passkeys' relying party, when passkeys are on.
    relying_party: Option<Arc<RelyingParty>>,
}

/// The parts the session rules share with the rest of the server (which
/// holds them side by side in its state): the database, the clock, the access
/// tokens and bcrypt, and the metrics.
pub struct Parts {
    /// The database.
    pub db: Database,
    /// What every rule reads the time from.
    pub clock: Clock,
    /// The access-token issuer and verifier.
    pub access: Arc<AccessTokens>,
    /// bcrypt, bounded by the cores.
    pub hasher: Arc<Hasher>,
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Mail, when on.
    pub mailer: Option<Mailer>,
    /// Passkeys' relying party, when passkeys are on.
    pub relying_party: Option<Arc<RelyingParty>>,
}

impl Sessions {
    /// The session rules of `config`, on `parts`; refresh tokens and device
    /// cookies are keyed from `refresh_secret`, and unknown emails are
    /// checked against `dummy_hash`.
    pub fn new(
        config: &Config,
        parts: &Parts,
        refresh_secret: &SecretString,
        dummy_hash: SecretString,
    ) -> Self {
        let secret = refresh_secret.expose_secret().as_bytes();
        Self {
            db: parts.db.clone(),
            policy: config.sessions.policy(),
            access: parts.access.clone(),
            refresh_key: RefreshKey::derive(secret),
            device_key: DeviceKey::derive(secret),
            clock: parts.clock.clone(),
            liveness: Arc::new(LivenessCache::new(LIVENESS_TTL, live::CAPACITY)),
            metrics: parts.metrics.clone(),
            lockout: config.sessions.lockout(),
            queues: Default::default(),
            rehashing: Default::default(),
            hasher: parts.hasher.clone(),
            dummy_hash,
            mailer: parts.mailer.clone(),
            require_verified_email: config.mail.require_verified_email,
            mfa: Mfa::new(secret, &config.mail.app_name),
            relying_party: parts.relying_party.clone(),
        }
    }

    /// Builds the token response for generation `generation` of
    /// `session_id`, whose login was authenticated by `amr`.
    fn issue(
        &self,
        user: UserRow,
        session_id: &SessionId,
        generation: i64,
        version: i64,
        ends_at: NaiveDateTime,
        amr: Amr,
    ) -> Result<Issued, SessionError> {
        let access_token = self
            .access
            .issue(&user.id, session_id, version, user.role, amr)?;
        Ok(Issued {
            body: TokenResponse {
                access_token,
                token_type: "Bearer".into(),
                expires_in: self.access.ttl_secs(),
                user: user.into(),
            },
            refresh: self.refresh_key.issue(session_id, generation),
            cookie_max_age: (ends_at - self.clock.now()).num_seconds().max(0),
            device: None,
        })
    }

    /// Wakes the mail delivery worker (after a commit that posted a mail).
    fn wake_mail(&self) {
        if let Some(mailer) = &self.mailer {
            mailer.wake();
        }
    }

    /// The live sessions of `user_id`, `current` marking the caller's own.
    pub async fn list_live(
        &self,
        user_id: UserId,
        current: Option<SessionId>,
    ) -> Result<Vec<Session>, SessionError> {
        let (idle, now) = (self.policy.idle_ttl, self.clock.now());
        let rows = self
            .db
            .run(move |conn| {
                Ok::<_, SessionError>(SessionRow::list_live(conn, &user_id, now, idle)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let ends_at = self.policy.ends_at(&row);
                let is_current = Some(&row.id) == current.as_ref();
                Session::from_row(row, ends_at, is_current)
            })
            .collect())
    }
}
