//! The heart: register, log in, rotate, revoke. Routes call these; these call
//! `db/` and `tokens/`.
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
//! 6. After any revocation commits, the liveness cache forgets it before the
//!    response leaves, so the very next request is refused.

use actix_web::web;
use chrono::NaiveDateTime;
use diesel::Connection;
use uuid::Uuid;

use crate::api::{Credentials, PasswordChange, Session, TokenResponse};
use crate::auth::{AuthUser, ClientInfo, email, password};
use crate::db::audit::{AuditKind, NewAuditEvent};
use crate::db::sessions::{NewSession, SessionRow};
use crate::db::token_versions::TokenVersion;
use crate::db::users::UserRow;
use crate::db::{self, DbConnection};
use crate::error::{ApiError, GrantFailure};
use crate::state::AppState;
use crate::tokens::{AccessClaims, RefreshToken};

/// Tokens handed out by login, refresh and password change.
#[derive(Debug)]
pub struct Issued {
    /// The JSON body.
    pub body: TokenResponse,
    /// The refresh token for the cookie.
    pub refresh: RefreshToken,
    /// The cookie's `Max-Age`: what is left of the session.
    pub cookie_max_age: i64,
}

/// Runs blocking CPU work (bcrypt) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f).await.map_err(|e| {
        log::error!("blocking task failed: {e}");
        ApiError::Unavailable
    })
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| {
        log::error!("malformed id in the database");
        ApiError::Unavailable
    })
}

/// Builds the token response for generation `generation` of `session_id`.
fn issue(
    state: &AppState,
    user: UserRow,
    session_id: Uuid,
    generation: i64,
    version: i64,
    ends_at: NaiveDateTime,
) -> Result<Issued, ApiError> {
    let access_token = state
        .access
        .issue(parse_id(&user.id)?, session_id, version, &user.role)?;
    Ok(Issued {
        body: TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: state.access.ttl_secs(),
            user: user.into(),
        },
        refresh: state.refresh_key.issue(session_id, generation),
        cookie_max_age: (ends_at - db::now()).num_seconds().max(0),
    })
}

/// Checks credentials and opens a new session. Unknown email, wrong password
/// and disabled user fail alike, after the same bcrypt work.
pub async fn login(
    state: &AppState,
    credentials: Credentials,
    client: ClientInfo,
) -> Result<Issued, ApiError> {
    let user = match email::normalize(&credentials.email) {
        Ok(email) => {
            state
                .db
                .run(move |conn| Ok(UserRow::find_by_email(conn, &email)?))
                .await?
        }
        Err(_) => None,
    };
    let hash = user
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |u| u.password_hash.clone());
    let password = credentials.password;
    let matches = blocking(move || password::verify(&password, &hash)).await?;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        user => {
            let user_id = user.map(|u| u.id);
            state
                .db
                .run(move |conn| {
                    let mut event = NewAuditEvent::new(AuditKind::LoginFailed, &client);
                    if let Some(id) = &user_id {
                        event = event.user(id);
                    }
                    Ok(event.insert(conn)?)
                })
                .await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    let session_id = Uuid::new_v4();
    let (max_age, user_id) = (state.max_age(), user.id.clone());
    let (version, expires_at) = state
        .db
        .run(move |conn| {
            // Read outside the transaction: a bump racing with this login leaves
            // the new session stale, which is what a logout-all should do.
            let version = TokenVersion::current(conn, &user_id)?;
            let (sid, now) = (session_id.to_string(), db::now());
            let expires_at = now + max_age;
            conn.transaction(|conn| {
                NewSession {
                    id: &sid,
                    user_id: &user_id,
                    token_version: version,
                    generation: 1,
                    created_at: now,
                    last_refreshed_at: now,
                    expires_at,
                    user_agent: client.user_agent.as_deref(),
                    ip: client.ip.as_deref(),
                }
                .insert(conn)?;
                NewAuditEvent::new(AuditKind::LoginSucceeded, &client)
                    .user(&user_id)
                    .session(&sid)
                    .insert(conn)
            })?;
            Ok((version, expires_at))
        })
        .await?;
    let ends_at = expires_at.min(db::now() + state.idle_ttl());
    issue(state, user, session_id, 1, version, ends_at)
}

/// What the rotation step decided.
enum Rotation {
    /// Hand out generation `generation` (new, or the same successor in grace).
    Granted {
        found: Box<crate::db::sessions::SessionWithUser>,
        generation: i64,
        ends_at: NaiveDateTime,
    },
    /// A spent token came back: the session has been revoked.
    Reused,
}

fn rotate(
    state: &AppState,
    conn: &mut DbConnection,
    sid: &str,
    generation: i64,
    client: &ClientInfo,
) -> Result<Rotation, ApiError> {
    let (idle, grace) = (state.idle_ttl(), state.grace());
    // Three reads suffice: a lost compare-and-swap means someone else moved the
    // session, and the next read sees why (predecessor, revoked, or reuse).
    for _ in 0..3 {
        let found = SessionRow::find_with_user(conn, sid)?
            .ok_or(ApiError::InvalidGrant(GrantFailure::Unknown))?;
        let (session, now) = (&found.session, db::now());
        if session.revoked_at.is_some()
            || session.token_version != found.user_version
            || found.user.disabled
        {
            return Err(ApiError::InvalidGrant(GrantFailure::Revoked));
        }
        if session.ends_at(idle) <= now {
            return Err(ApiError::InvalidGrant(GrantFailure::Expired));
        }
        if generation == session.generation {
            if SessionRow::rotate(conn, sid, generation, now)? {
                let ends_at = session.expires_at.min(now + idle);
                return Ok(Rotation::Granted {
                    found: Box::new(found),
                    generation: generation + 1,
                    ends_at,
                });
            }
            continue;
        }
        let in_grace = session.rotated_at.is_some_and(|at| now - at <= grace);
        if generation == session.generation - 1 && in_grace {
            let (generation, ends_at) = (session.generation, session.ends_at(idle));
            return Ok(Rotation::Granted {
                found: Box::new(found),
                generation,
                ends_at,
            });
        }
        if generation < session.generation {
            conn.transaction(|conn| {
                SessionRow::revoke(conn, sid, None, now)?;
                NewAuditEvent::new(AuditKind::RefreshReused, client)
                    .user(&found.session.user_id)
                    .session(sid)
                    .insert(conn)
            })?;
            return Ok(Rotation::Reused);
        }
        return Err(ApiError::InvalidGrant(GrantFailure::Unknown));
    }
    log::warn!("refresh of one session lost its compare-and-swap three times");
    Err(ApiError::Unavailable)
}

/// Rotates the refresh token `token` (the cookie's value).
pub async fn refresh(
    state: web::Data<AppState>,
    token: Option<String>,
    client: ClientInfo,
) -> Result<Issued, ApiError> {
    let token = token.ok_or(ApiError::InvalidGrant(GrantFailure::Missing))?;
    let (session_id, generation) = state
        .refresh_key
        .parse(&token)
        .ok_or(ApiError::InvalidGrant(GrantFailure::Unknown))?;
    let worker = state.clone();
    let rotation = state
        .db
        .run(move |conn| rotate(&worker, conn, &session_id.to_string(), generation, &client))
        .await?;
    match rotation {
        Rotation::Granted {
            found,
            generation,
            ends_at,
        } => issue(
            &state,
            found.user,
            session_id,
            generation,
            found.user_version,
            ends_at,
        ),
        Rotation::Reused => {
            state.liveness.forget_session(session_id);
            Err(ApiError::InvalidGrant(GrantFailure::Reused))
        }
    }
}

/// Ends the session named by the refresh cookie, or else by the Bearer token.
/// Idempotent: nothing to end is not an error.
pub async fn logout(
    state: &AppState,
    cookie: Option<String>,
    bearer: Option<AccessClaims>,
    client: ClientInfo,
) -> Result<(), ApiError> {
    let from_cookie = cookie
        .and_then(|token| state.refresh_key.parse(&token))
        .map(|(sid, _)| sid);
    let Some(session_id) = from_cookie.or(bearer.map(|claims| claims.sid)) else {
        return Ok(());
    };
    state
        .db
        .run(move |conn| {
            let (sid, now) = (session_id.to_string(), db::now());
            conn.transaction(|conn| {
                if SessionRow::revoke(conn, &sid, None, now)?
                    && let Some(session) = SessionRow::find(conn, &sid)?
                {
                    NewAuditEvent::new(AuditKind::Logout, &client)
                        .user(&session.user_id)
                        .session(&sid)
                        .insert(conn)?;
                }
                Ok(())
            })
        })
        .await?;
    state.liveness.forget_session(session_id);
    Ok(())
}

/// Bumps the user's token version and revokes all their sessions (except
/// `keep`), in one transaction, then forgets them in the cache.
pub fn revoke_all_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    keep: Option<&str>,
    event: NewAuditEvent<'_>,
) -> Result<i64, ApiError> {
    conn.transaction(|conn| {
        let version = TokenVersion::bump(conn, user_id)?;
        SessionRow::revoke_all_for_user(conn, user_id, keep, db::now())?;
        event.insert(conn)?;
        Ok(version)
    })
}

/// Admin revoke-all: every session and access token of `user_id` dies.
/// 404 for an unknown user.
pub async fn revoke_user_sessions(
    state: &AppState,
    user_id: Uuid,
    actor: Uuid,
    client: ClientInfo,
) -> Result<(), ApiError> {
    let id = user_id.to_string();
    state
        .db
        .run(move |conn| {
            UserRow::find(conn, &id)?.ok_or(ApiError::NotFound)?;
            let actor = actor.to_string();
            let event = NewAuditEvent::new(AuditKind::UserSessionsRevoked, &client)
                .user(&id)
                .actor(&actor);
            revoke_all_for_user(conn, &id, None, event)
        })
        .await?;
    state.liveness.forget_user(user_id);
    Ok(())
}

/// Logout everywhere: every session and access token of the caller dies.
pub async fn logout_all(
    state: &AppState,
    caller: AuthUser,
    client: ClientInfo,
) -> Result<(), ApiError> {
    let user_id = caller.user_id.to_string();
    let id = user_id.clone();
    state
        .db
        .run(move |conn| {
            let event = NewAuditEvent::new(AuditKind::LogoutAll, &client).user(&id);
            revoke_all_for_user(conn, &id, None, event)
        })
        .await?;
    state.liveness.forget_user(caller.user_id);
    Ok(())
}

/// Changes the caller's password: every other session dies, the caller's
/// session is re-keyed and gets fresh tokens. A wrong current password changes
/// nothing.
pub async fn change_password(
    state: &AppState,
    caller: AuthUser,
    change: PasswordChange,
    client: ClientInfo,
) -> Result<Issued, ApiError> {
    password::check_policy(&change.new_password)?;
    let user_id = caller.user_id.to_string();
    let id = user_id.clone();
    let user = state
        .db
        .run(move |conn| Ok(UserRow::find(conn, &id)?))
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let (current, hash) = (change.current_password, user.password_hash.clone());
    if !blocking(move || password::verify(&current, &hash)).await? {
        return Err(ApiError::WrongCurrentPassword);
    }
    let (new_password, cost) = (change.new_password, state.config.bcrypt_cost);
    let new_hash = blocking(move || password::hash(&new_password, cost)).await??;
    let (id, sid, idle) = (
        user_id.clone(),
        caller.session_id.to_string(),
        state.idle_ttl(),
    );
    let caller_version = caller.version;
    let (user, version, generation, ends_at) = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let now = db::now();
                UserRow::set_password_hash(conn, &id, &new_hash, now)?;
                let event = NewAuditEvent::new(AuditKind::PasswordChanged, &client)
                    .user(&id)
                    .session(&sid);
                let version = revoke_all_for_user(conn, &id, Some(&sid), event)?;
                if version != caller_version + 1 {
                    // Another change (another password change, a logout-all)
                    // committed since this caller's token was checked.
                    return Err(ApiError::InvalidToken);
                }
                let generation =
                    SessionRow::rekey(conn, &sid, version, now)?.ok_or(ApiError::InvalidToken)?;
                let session = SessionRow::find(conn, &sid)?.ok_or(ApiError::InvalidToken)?;
                let user = UserRow::find(conn, &id)?.ok_or(ApiError::InvalidToken)?;
                Ok((user, version, generation, session.ends_at(idle)))
            })
        })
        .await?;
    state.liveness.forget_user(caller.user_id);
    issue(state, user, caller.session_id, generation, version, ends_at)
}

/// The caller's live sessions, `current` marking the caller's own.
pub async fn list_live(
    state: &AppState,
    user_id: Uuid,
    current: Option<Uuid>,
) -> Result<Vec<Session>, ApiError> {
    let idle = state.idle_ttl();
    let rows = state
        .db
        .run(move |conn| {
            Ok(SessionRow::list_live(
                conn,
                &user_id.to_string(),
                db::now(),
                idle,
            )?)
        })
        .await?;
    let current = current.map(|c| c.to_string());
    Ok(rows
        .into_iter()
        .map(|row| {
            let (ends_at, is_current) = (row.ends_at(idle), Some(&row.id) == current.as_ref());
            Session::from_row(row, ends_at, is_current)
        })
        .collect())
}

/// Revokes session `session_id` if it belongs to `owner` (404 otherwise);
/// `actor` is who asked, when not the owner.
pub async fn revoke_session(
    state: &AppState,
    session_id: Uuid,
    owner: Option<Uuid>,
    actor: Option<Uuid>,
    client: ClientInfo,
) -> Result<(), ApiError> {
    state
        .db
        .run(move |conn| {
            let (sid, now) = (session_id.to_string(), db::now());
            let owner = owner.map(|o| o.to_string());
            let actor = actor.map(|a| a.to_string());
            conn.transaction(|conn| {
                let revoked = SessionRow::revoke(conn, &sid, owner.as_deref(), now)?;
                let session = SessionRow::find(conn, &sid)?
                    .filter(|s| owner.as_ref().is_none_or(|o| *o == s.user_id));
                let session = session.ok_or(ApiError::NotFound)?;
                if revoked {
                    let mut event = NewAuditEvent::new(AuditKind::SessionRevoked, &client)
                        .user(&session.user_id)
                        .session(&sid);
                    if let Some(actor) = &actor {
                        event = event.actor(actor);
                    }
                    event.insert(conn)?;
                }
                Ok(())
            })
        })
        .await?;
    state.liveness.forget_session(session_id);
    Ok(())
}
