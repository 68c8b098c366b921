//! Logging in: the per-account lockout (checked and counted before bcrypt, so
//! a locked account costs no hash), the credential check (with the dummy
//! hash, so unknown emails, wrong passwords and disabled users fail alike and
//! take as long), and the new session — which is only created if the password
//! and token version it was checked against are still the current ones.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::Connection;
use secrecy::{ExposeSecret, SecretString};

use super::{Issued, Sessions};
use crate::api::Credentials;
use crate::auth::{ClientInfo, email};
use crate::db::audit::AuditKind;
use crate::db::login_failures::{self, Attempt};
use crate::db::sessions::NewSession;
use crate::db::token_versions::TokenVersion;
use crate::db::users::UserRow;
use crate::db::{self, DbConnection, SessionId};
use crate::error::ApiError;
use crate::metrics;

/// The account as it was when its password was checked.
struct Candidate {
    user: UserRow,
    version: i64,
}

impl Sessions {
    /// Checks credentials and opens a new session.
    pub async fn login(
        &self,
        credentials: Credentials,
        client: ClientInfo,
    ) -> Result<Issued, ApiError> {
        let email = email::normalize(&credentials.email).ok();
        let (attempt, candidate) = self.begin_attempt(email.clone(), &client).await?;
        if let Attempt::Locked { until, .. } = attempt {
            self.metrics.login(metrics::Login::Locked);
            let seconds = (until - self.clock.now()).num_milliseconds().max(0) as u64;
            return Err(ApiError::TooManyRequests(seconds.div_ceil(1000)));
        }
        let hash = candidate
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |c| c.user.password_hash.clone());
        let matches = self
            .hasher
            .verify(credentials.password.into_secret(), hash)
            .await?;
        let outcome = match (candidate, email) {
            (Some(candidate), Some(email)) if matches && !candidate.user.disabled => {
                self.open_session(candidate, email, client).await
            }
            (candidate, email) => {
                self.record_failure(candidate.map(|c| c.user), email, client)
                    .await?;
                Err(ApiError::InvalidCredentials)
            }
        };
        match &outcome {
            Ok(_) => self.metrics.login(metrics::Login::Succeeded),
            Err(ApiError::Unavailable) => {} // an outage, not an outcome
            Err(_) => self.metrics.login(metrics::Login::Failed),
        }
        outcome
    }

    /// Counts the attempt (unless the account is locked) and reads the
    /// account, before any bcrypt work. A lock this attempt set is audited.
    async fn begin_attempt(
        &self,
        email: Option<String>,
        client: &ClientInfo,
    ) -> Result<(Attempt, Option<Candidate>), ApiError> {
        let (lockout, client) = (self.lockout, client.clone());
        let now = self.clock.now();
        self.db
            .write(move |conn| {
                let Some(email) = email else {
                    return Ok((Attempt::Allowed, None));
                };
                let attempt = login_failures::begin(
                    conn,
                    &email,
                    now,
                    lockout.max_failures,
                    lockout.duration,
                )?;
                let candidate = match UserRow::find_by_email(conn, &email)? {
                    Some(user) => Some(Candidate {
                        version: TokenVersion::current(conn, &user.id)?,
                        user,
                    }),
                    None => None,
                };
                if let Attempt::Locked { now: true, .. } = attempt {
                    let user = candidate.as_ref().map(|c| &c.user);
                    audit_failure(conn, &client, user.map(|u| &u.id), AuditKind::LoginLocked)?;
                }
                Ok::<_, ApiError>((attempt, candidate))
            })
            .await
    }

    /// A failed attempt: audited, and the lockout engaged once the count
    /// reaches the limit.
    async fn record_failure(
        &self,
        user: Option<UserRow>,
        email: Option<String>,
        client: ClientInfo,
    ) -> Result<(), ApiError> {
        let (lockout, clock) = (self.lockout, self.clock.clone());
        self.db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let locked = match &email {
                        Some(email) => login_failures::fail(
                            conn,
                            email,
                            clock.now(),
                            lockout.max_failures,
                            lockout.duration,
                        )?,
                        None => false,
                    };
                    let user_id = user.as_ref().map(|u| &u.id);
                    audit_failure(conn, &client, user_id, AuditKind::LoginFailed)?;
                    if locked {
                        audit_failure(conn, &client, user_id, AuditKind::LoginLocked)?;
                    }
                    Ok::<_, ApiError>(())
                })
            })
            .await
    }

    /// Opens the session of a verified login, in one transaction that also
    /// resets the failure count and checks that the password and token version
    /// are still the ones verified: a password change (or logout-all) that
    /// committed meanwhile wins, and this login fails.
    async fn open_session(
        &self,
        candidate: Candidate,
        email: String,
        client: ClientInfo,
    ) -> Result<Issued, ApiError> {
        let (session_id, max_age) = (SessionId::new(), self.policy.max_age);
        let sid = session_id.clone();
        let Candidate { user, version } = candidate;
        let verified_hash = user.password_hash.clone();
        let user_id = user.id.clone();
        let clock = self.clock.clone();
        let expires_at = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    // The write first (see `db`): insert, then check.
                    let expires_at = insert_session(
                        conn,
                        &sid,
                        &user_id,
                        version,
                        clock.now(),
                        max_age,
                        &client,
                    )?;
                    if !still_current(conn, &user_id, &verified_hash, version)? {
                        return Err(ApiError::InvalidCredentials);
                    }
                    login_failures::succeed(conn, &email)?;
                    Ok(expires_at)
                })
            })
            .await?;
        let ends_at = expires_at.min(self.clock.now() + self.policy.idle_ttl);
        self.issue(user, &session_id, 1, version, ends_at)
    }
}

/// Inserts a new session (generation 1) of `user_id` at `version`, with its
/// `login_succeeded` event; returns when it ends at the latest.
fn insert_session(
    conn: &mut DbConnection,
    sid: &SessionId,
    user_id: &db::UserId,
    version: i64,
    now: NaiveDateTime,
    max_age: TimeDelta,
    client: &ClientInfo,
) -> Result<NaiveDateTime, ApiError> {
    let expires_at = now + max_age;
    NewSession {
        id: sid,
        user_id,
        token_version: version,
        generation: 1,
        created_at: now,
        last_refreshed_at: now,
        expires_at,
        user_agent: client.user_agent.as_deref(),
        ip: client.ip.as_deref(),
    }
    .insert(conn)?;
    client
        .event(AuditKind::LoginSucceeded)
        .user(user_id)
        .session(sid)
        .insert(conn)?;
    Ok(expires_at)
}

impl Sessions {
    /// Opens a session of `user_id` without checking a password: only test
    /// mode's `POST /test/users` calls this, for the user it just created.
    pub async fn open_session_unchecked(
        &self,
        user_id: db::UserId,
        client: ClientInfo,
    ) -> Result<Issued, ApiError> {
        let (session_id, max_age, now) = (SessionId::new(), self.policy.max_age, self.clock.now());
        let sid = session_id.clone();
        let (user, version, expires_at) = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let user = UserRow::find(conn, &user_id)?.ok_or(ApiError::NotFound)?;
                    let version = TokenVersion::current(conn, &user_id)?;
                    let expires_at =
                        insert_session(conn, &sid, &user_id, version, now, max_age, &client)?;
                    Ok::<_, ApiError>((user, version, expires_at))
                })
            })
            .await?;
        let ends_at = expires_at.min(now + self.policy.idle_ttl);
        self.issue(user, &session_id, 1, version, ends_at)
    }
}

/// Writes a `login_failed` or `login_locked` event, about the account if there is one.
fn audit_failure(
    conn: &mut DbConnection,
    client: &ClientInfo,
    user_id: Option<&db::UserId>,
    kind: AuditKind,
) -> Result<(), ApiError> {
    let mut event = client.event(kind);
    if let Some(id) = user_id {
        event = event.user(id);
    }
    event.insert(conn)?;
    Ok(())
}

/// Whether the user still has the verified hash and token version, and is enabled.
fn still_current(
    conn: &mut DbConnection,
    user_id: &db::UserId,
    verified_hash: &SecretString,
    version: i64,
) -> Result<bool, ApiError> {
    let Some(now) = UserRow::find(conn, user_id)? else {
        return Ok(false);
    };
    Ok(!now.disabled
        && now.password_hash.expose_secret() == verified_hash.expose_secret()
        && TokenVersion::current(conn, user_id)? == version)
}
