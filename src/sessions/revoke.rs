//! The one revocation path. Every revocation — logout, logout-all, a password
//! change, refresh-token reuse, admin actions, role and state changes — runs
//! inside [`Sessions::revoking`]:
//!
//! 1. the work runs in its transaction, recording each revocation in a
//!    [`Revocations`] (the only code that marks sessions revoked or bumps a
//!    token version);
//! 2. then the liveness cache forgets what was recorded, before the response
//!    leaves, so the next request on this instance is refused;
//! 3. then what took effect is counted (`wristband_revocations_total`, by
//!    cause: the name of the audit event that records it).
//!
//! Nothing outside this file calls the cache's `forget_*`.

use diesel::Connection;
use diesel::QueryResult;

use super::SessionError;
use super::{AuthUser, LivenessCache, Sessions};
use crate::auth::ClientInfo;
use crate::db::audit::{AuditKind, NewAuditEvent};
use crate::db::one_time_tokens;
use crate::db::sessions::SessionRow;
use crate::db::token_versions::TokenVersion;
use crate::db::users::UserRow;
use crate::db::{DbConnection, DbError, SessionId, UserId};

use crate::metrics::Metrics;
use crate::tokens::AccessClaims;

/// What one piece of work revoked. Build one only through
/// [`Sessions::revoking`]; start-up and the CLI, which run before any cache
/// exists, may use [`Revocations::at`] directly.
#[derive(Debug)]
#[must_use]
pub struct Revocations {
    /// When the work runs, by the server's clock: what revocations are
    /// stamped with.
    now: chrono::NaiveDateTime,
    sessions: Vec<SessionId>,
    users: Vec<UserId>,
    /// One entry per revocation that took effect: its cause (the name of the
    /// audit event that records it), for the metrics.
    causes: Vec<&'static str>,
}

impl Revocations {
    /// Nothing revoked yet, at `now`.
    pub fn at(now: chrono::NaiveDateTime) -> Self {
        Self {
            now,
            sessions: Vec::new(),
            users: Vec::new(),
            causes: Vec::new(),
        }
    }

    /// The time the work runs at, by the server's clock.
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.now
    }

    /// Revokes one session (only if it belongs to `owner`, when given) for
    /// `cause`; returns whether this call revoked it.
    pub fn session(
        &mut self,
        conn: &mut DbConnection,
        id: &SessionId,
        owner: Option<&UserId>,
        cause: AuditKind,
    ) -> QueryResult<bool> {
        self.sessions.push(id.clone());
        let revoked = SessionRow::revoke(conn, id, owner, self.now)?;
        if revoked {
            self.causes.push(cause.as_str());
        }
        Ok(revoked)
    }

    /// Bumps the user's token version and revokes all their sessions except
    /// `keep`, and every link mailed to them, for `cause`; returns the new
    /// version. Call it inside a
    /// transaction together with its audit event (see
    /// [`Revocations::all_for_user_audited`]).
    pub fn all_for_user(
        &mut self,
        conn: &mut DbConnection,
        user_id: &UserId,
        keep: Option<&SessionId>,
        cause: &'static str,
    ) -> QueryResult<i64> {
        self.users.push(user_id.clone());
        let version = TokenVersion::bump(conn, user_id)?;
        SessionRow::revoke_all_for_user(conn, user_id, keep, self.now)?;
        one_time_tokens::revoke_all(conn, user_id)?;
        self.causes.push(cause);
        Ok(version)
    }

    /// Notes that `user_id` changed without a revocation (a second factor
    /// removed): this instance's cache forgets them, so the next request
    /// reads the change.
    pub fn changed_user(&mut self, user_id: &UserId) {
        self.users.push(user_id.clone());
    }

    /// Revokes every session of `user_id` that is live at `now` (by
    /// `idle_ttl`) but `keep`, without bumping the token version (so `keep`
    /// and its access tokens stay valid), for `cause`; returns how many.
    pub fn others_of_user(
        &mut self,
        conn: &mut DbConnection,
        user_id: &UserId,
        keep: &SessionId,
        idle_ttl: chrono::TimeDelta,
        cause: AuditKind,
    ) -> QueryResult<u64> {
        let mut revoked = 0;
        let live = SessionRow::list_live(conn, user_id, self.now, idle_ttl)?;
        for id in live.into_iter().map(|s| s.id) {
            if id != *keep && self.session(conn, &id, Some(user_id), cause)? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// [`Revocations::all_for_user`] and `event`, in one transaction.
    pub fn all_for_user_audited(
        &mut self,
        conn: &mut DbConnection,
        user_id: &UserId,
        keep: Option<&SessionId>,
        event: NewAuditEvent<'_>,
    ) -> QueryResult<i64> {
        conn.transaction(|conn| {
            let version = self.all_for_user(conn, user_id, keep, event.event)?;
            event.insert(conn)?;
            Ok(version)
        })
    }
}

impl Revocations {
    fn forget(&self, liveness: &LivenessCache) {
        for sid in &self.sessions {
            liveness.forget_session(sid);
        }
        for user in &self.users {
            liveness.forget_user(user);
        }
    }

    fn count(&self, metrics: &Metrics) {
        for cause in &self.causes {
            debug_assert!(
                AuditKind::REVOKING.iter().any(|k| k.as_str() == *cause),
                "{cause} is missing from AuditKind::REVOKING, so its series starts late"
            );
            metrics.revoked(cause, 1);
        }
    }
}

impl Sessions {
    /// Runs `work` with a connection and a [`Revocations`] off the async
    /// workers, in one transaction; then, once it has committed (or rolled
    /// back), on the same thread, so a request dropped meanwhile cannot skip
    /// it, forgets whatever it revoked, even when `work` failed (forgetting
    /// more than needed is always safe).
    pub async fn revoking<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection, &mut Revocations) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (liveness, metrics) = (self.liveness.clone(), self.metrics.clone());
        let recorded =
            std::sync::Arc::new(std::sync::Mutex::new(Revocations::at(self.clock.now())));
        let during = recorded.clone();
        let work = move |conn: &mut DbConnection| {
            let mut revocations = during.lock().unwrap_or_else(|e| e.into_inner());
            work(conn, &mut revocations)
        };
        // After the commit (or the rollback): a lookup that read the session
        // before it could otherwise cache it as live again.
        let after = move |outcome: &Result<T, E>| {
            let revocations = recorded.lock().unwrap_or_else(|e| e.into_inner());
            revocations.forget(&liveness);
            // Counted only when the work (and so its transaction) committed.
            if outcome.is_ok() {
                revocations.count(&metrics);
            }
        };
        self.db.write_then(work, after).await
    }

    /// Ends the session named by the refresh cookie, or else by the Bearer
    /// token's claims. Idempotent: nothing to end is not an error.
    pub async fn logout(
        &self,
        cookie: Option<String>,
        bearer: Option<AccessClaims>,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        let from_cookie = cookie
            .and_then(|token| self.refresh_key.parse(&token))
            .map(|(sid, _)| sid);
        let Some(sid) = from_cookie.or(bearer.map(|claims| claims.sid)) else {
            return Ok(());
        };
        self.revoking(move |conn, revocations| {
            conn.transaction(|conn| {
                if revocations.session(conn, &sid, None, AuditKind::Logout)?
                    && let Some(session) = SessionRow::find(conn, &sid)?
                {
                    client
                        .event(AuditKind::Logout)
                        .user(&session.user_id)
                        .session(&sid)
                        .insert(conn)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Logout everywhere: every session and access token of the caller dies.
    pub async fn logout_all(
        &self,
        caller: AuthUser,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        self.revoking(move |conn, revocations| {
            let event = client.event(AuditKind::LogoutAll).user(&caller.user.id);
            revocations.all_for_user_audited(conn, &caller.user.id, None, event)?;
            Ok(())
        })
        .await
    }

    /// Ends every other session of the caller; the caller's own lives on.
    /// Returns how many ended.
    pub async fn logout_others(
        &self,
        caller: AuthUser,
        client: ClientInfo,
    ) -> Result<u64, SessionError> {
        let idle_ttl = self.policy.idle_ttl;
        self.revoking(move |conn, revocations| {
            conn.transaction(|conn| {
                let (user, keep) = (&caller.user.id, &caller.session_id);
                let cause = AuditKind::OtherSessionsRevoked;
                let revoked = revocations.others_of_user(conn, user, keep, idle_ttl, cause)?;
                client.event(cause).user(user).session(keep).insert(conn)?;
                Ok(revoked)
            })
        })
        .await
    }

    /// Admin revoke-all: every session and access token of `user_id` dies.
    /// 404 for an unknown user.
    pub async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        actor: UserId,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        self.revoking(move |conn, revocations| {
            UserRow::find(conn, &user_id)?.ok_or(SessionError::NotFound)?;
            let event = client
                .event(AuditKind::UserSessionsRevoked)
                .user(&user_id)
                .actor(&actor);
            revocations.all_for_user_audited(conn, &user_id, None, event)?;
            Ok(())
        })
        .await
    }

    /// Revokes session `session_id` if it belongs to `owner` (404 otherwise);
    /// `actor` is who asked, when not the owner.
    pub async fn revoke_session(
        &self,
        session_id: SessionId,
        owner: Option<UserId>,
        actor: Option<UserId>,
        client: ClientInfo,
    ) -> Result<(), SessionError> {
        self.revoking(move |conn, revocations| {
            conn.transaction(|conn| {
                let sid = &session_id;
                let revoked =
                    revocations.session(conn, sid, owner.as_ref(), AuditKind::SessionRevoked)?;
                let session = SessionRow::find(conn, sid)?
                    .filter(|s| owner.as_ref().is_none_or(|o| *o == s.user_id))
                    .ok_or(SessionError::NotFound)?;
                if revoked {
                    let mut event = client
                        .event(AuditKind::SessionRevoked)
                        .user(&session.user_id)
                        .session(sid);
                    if let Some(actor) = &actor {
                        event = event.actor(actor);
                    }
                    event.insert(conn)?;
                }
                Ok(())
            })
        })
        .await
    }
}
