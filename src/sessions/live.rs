//! The liveness cache, and authenticating an access token with it.
//!
//! Every authenticated request needs "is this session live, and is the token's
//! version the user's current one?". Asking the database each time would put a
//! query on the hot path; this cache answers from memory for up to `ttl`
//! (1 s), which bounds how late *another* instance sees a revocation. On the
//! instance that revokes, `revoke.rs` forgets the revoked sessions after its
//! transaction commits, so the very next request goes to the database.
//!
//! A lookup that started before a revocation must not store its stale answer
//! after the `forget`: every `forget` bumps an epoch, and an answer is stored
//! only if the epoch is the one read before the query.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::{AuthUser, SessionPolicy, Sessions};
use crate::db::sessions::SessionRow;
use crate::db::{self, Database, Role, SessionId, UserId};
use crate::error::ApiError;

/// What a live session grants: its user, their current version and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// The session's user.
    pub user_id: UserId,
    /// The user's current token version.
    pub version: i64,
    /// The user's current role.
    pub role: Role,
    /// When the session ends at the latest.
    pub ends_at: NaiveDateTime,
}

struct Entry {
    live: Option<LiveSession>,
    fetched: Instant,
}

struct Inner {
    entries: HashMap<SessionId, Entry>,
    epoch: u64,
}

/// See the module documentation.
pub struct LivenessCache {
    inner: Mutex<Inner>,
    ttl: Duration,
}

/// Past this many entries, expired ones are dropped on insert.
const PRUNE_ABOVE: usize = 50_000;

impl LivenessCache {
    /// A cache whose answers last `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                epoch: 0,
            }),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only cache entries behind;
        // clearing them is always safe.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            inner.entries.clear();
            inner
        })
    }

    /// The live session `sid`, or `None` if it is revoked, ended, stale or
    /// unknown. From memory when a fresh answer is there, else from the database.
    /// A token carrying a newer version than the remembered one (made by
    /// another instance after a password change) is checked in the database.
    pub async fn check(
        &self,
        db: &Database,
        policy: SessionPolicy,
        sid: &SessionId,
        token_version: i64,
        now: NaiveDateTime,
    ) -> Result<Option<LiveSession>, ApiError> {
        let epoch = {
            let inner = self.lock();
            let fresh = inner
                .entries
                .get(sid)
                .filter(|e| e.fetched.elapsed() < self.ttl);
            let outdated = |e: &&Entry| e.live.as_ref().is_some_and(|l| l.version < token_version);
            if let Some(entry) = fresh.filter(|e| !outdated(e)) {
                return Ok(entry.live.clone().filter(|live| live.ends_at > now));
            }
            inner.epoch
        };
        // Stamped before the read: a slow read must not stretch how long the
        // answer is trusted past `ttl` from when it could have been true.
        let asked = Instant::now();
        let key = sid.clone();
        let row = db
            .run(move |conn| Ok::<_, ApiError>(SessionRow::find_with_user(conn, &key)?))
            .await?;
        let live = row.filter(|r| policy.is_live(r, now)).map(|r| LiveSession {
            ends_at: policy.ends_at(&r.session),
            user_id: r.session.user_id,
            version: r.user_version,
            role: r.user.role,
        });
        self.store(sid.clone(), live.clone(), epoch, asked);
        Ok(live)
    }

    fn store(&self, sid: SessionId, live: Option<LiveSession>, epoch: u64, asked: Instant) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if inner.entries.len() > PRUNE_ABOVE {
            let ttl = self.ttl;
            inner.entries.retain(|_, e| e.fetched.elapsed() < ttl);
        }
        inner.entries.insert(
            sid,
            Entry {
                live,
                fetched: asked,
            },
        );
    }

    /// Forgets one session. Only `revoke.rs` calls this, after its transaction.
    pub(super) fn forget_session(&self, sid: &SessionId) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.remove(sid);
    }

    /// Forgets every session of a user. Only `revoke.rs` calls this.
    pub(super) fn forget_user(&self, user_id: &UserId) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner
            .entries
            .retain(|_, e| e.live.as_ref().is_none_or(|l| l.user_id != *user_id));
    }
}

impl Sessions {
    /// Authenticates an access token: the stateless checks, then the session
    /// must be live and the token's version and user the current ones.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, ApiError> {
        let claims = self.access.verify(token)?;
        let live = self
            .liveness
            .check(&self.db, self.policy, &claims.sid, claims.ver, db::now())
            .await?;
        match live {
            Some(live) if live.version == claims.ver && live.user_id == claims.sub => {
                Ok(AuthUser {
                    user_id: claims.sub,
                    session_id: claims.sid,
                    version: live.version,
                    role: live.role,
                })
            }
            _ => Err(ApiError::InvalidToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn live(user: &UserId) -> Option<LiveSession> {
        Some(LiveSession {
            user_id: user.clone(),
            version: 1,
            role: Role::User,
            ends_at: crate::db::now() + TimeDelta::hours(1),
        })
    }

    #[test]
    fn a_stale_answer_is_not_stored_after_a_forget() {
        let cache = LivenessCache::new(Duration::from_secs(1));
        let sid = SessionId::new();
        let epoch = cache.lock().epoch;
        cache.forget_session(&sid);
        cache.store(sid, live(&UserId::new()), epoch, Instant::now());
        assert!(cache.lock().entries.is_empty());
    }

    #[test]
    fn an_answer_is_trusted_from_when_it_was_asked() {
        let cache = LivenessCache::new(Duration::from_millis(200));
        let sid = SessionId::new();
        // A read that took longer than the TTL: its answer is stale on arrival.
        let asked = Instant::now() - Duration::from_millis(300);
        cache.store(sid.clone(), live(&UserId::new()), 0, asked);
        let inner = cache.lock();
        let entry = inner.entries.get(&sid).unwrap();
        assert!(entry.fetched.elapsed() >= cache.ttl, "stamped at the ask");
    }

    #[test]
    fn forget_user_drops_only_that_user() {
        let cache = LivenessCache::new(Duration::from_secs(1));
        let (a, b) = (SessionId::new(), SessionId::new());
        let (alice, bob) = (UserId::new(), UserId::new());
        cache.store(a.clone(), live(&alice), 0, Instant::now());
        cache.store(b.clone(), live(&bob), 0, Instant::now());
        cache.forget_user(&alice);
        let inner = cache.lock();
        assert!(!inner.entries.contains_key(&a));
        assert!(inner.entries.contains_key(&b));
    }
}
