//! The liveness cache, and authenticating an access token with it.
//!
//! Every authenticated request needs "is this session live, and is the token's
//! version the user's current one?". Asking the database each time would put a
//! query on the hot path; this cache answers from memory for up to `ttl`
//! (1 s), which bounds how late *another* instance sees a revocation. On the
//! instance that revokes, `revoke.rs` forgets the revoked sessions after its
//! transaction commits, so the very next request goes to the database.
//!
//! Two bounded concurrent caches (quick_cache, sharded, no global lock):
//! sessions (id → its user, or "not live") and users (id → version, role,
//! email). A hit needs a fresh entry in both; forgetting a session drops its
//! entry, forgetting a user drops the user's, so every session of that user
//! misses at once without a scan. A hit never leaves the async worker; a miss
//! reads the session and its user in one query on the blocking pool.
//!
//! A lookup that started before a revocation must not store its stale answer
//! after the `forget`, not even for a moment: a `forget` bumps an epoch and
//! removes under the write side of a lock, and a store checks the epoch and
//! inserts under its read side, so a store either finishes before the forget
//! (which then removes its entries) or sees the new epoch and stores
//! nothing. Hits take no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use quick_cache::sync::Cache;

use super::SessionError;
use super::{AuthUser, SessionPolicy, Sessions};
use crate::db::sessions::{SessionRow, SessionWithUser};
use crate::db::{Database, Role, SessionId, UserId};

use crate::tokens::AccessClaims;

/// The user of a live session, as stored when the session was last checked.
/// (Disabled users have no live sessions.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveUser {
    /// The user's id.
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// Whether the user has a second factor.
    pub mfa_enabled: bool,
    /// The user's current role.
    pub role: Role,
    /// The user's current token version.
    pub version: i64,
    /// When the user registered.
    pub created_at: NaiveDateTime,
}

impl From<&LiveUser> for crate::api::User {
    fn from(user: &LiveUser) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            role: user.role,
            // A disabled user has no live session.
            disabled: false,
            created_at: crate::api::utc(user.created_at),
        }
    }
}

/// What a live session grants: its user and when it ends at the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// The session's user.
    pub user: Arc<LiveUser>,
    /// When the session ends at the latest.
    pub ends_at: NaiveDateTime,
}

/// How many sessions (and as many users) the cache holds at most. An entry
/// is about 100 bytes, so a full cache is about 20 MB.
pub const CAPACITY: usize = 100_000;

/// A cached session: its user's key and end, or `None` when it is not live.
#[derive(Clone, Copy)]
struct SessionEntry {
    live: Option<(u128, NaiveDateTime)>,
    fetched: Instant,
}

#[derive(Clone)]
struct UserEntry {
    user: Arc<LiveUser>,
    fetched: Instant,
}

/// See the module documentation.
pub struct LivenessCache {
    sessions: Cache<u128, SessionEntry>,
    users: Cache<u128, UserEntry>,
    epoch: AtomicU64,
    /// Stores hold it shared, forgets exclusively (see the module docs).
    gate: RwLock<()>,
    ttl: Duration,
}

/// The cache key of an id: its UUID. Ids are canonical UUIDs from the
/// moment they are made or parsed; anything else is never cached.
fn key(id: &str) -> Option<u128> {
    uuid::Uuid::try_parse(id).ok().map(|u| u.as_u128())
}

impl LivenessCache {
    /// A cache whose answers last `ttl`, holding up to `capacity` sessions.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            sessions: Cache::new(capacity),
            users: Cache::new(capacity),
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
            ttl,
        }
    }

    /// The fresh cached answer for session `sid`, if there is one: `Some(None)`
    /// for a session known not to be live. A token carrying a newer version
    /// than the remembered one (made by another instance after a password
    /// change) is not answered from memory.
    fn cached(&self, sid: u128, token_version: i64) -> Option<Option<LiveSession>> {
        let session = self.sessions.get(&sid)?;
        if session.fetched.elapsed() >= self.ttl {
            return None;
        }
        let Some((user_key, ends_at)) = session.live else {
            return Some(None);
        };
        let user = self.users.get(&user_key)?;
        if user.fetched.elapsed() >= self.ttl || user.user.version < token_version {
            return None;
        }
        Some(Some(LiveSession {
            user: user.user,
            ends_at,
        }))
    }

    /// The live session `sid`, or `None` if it is revoked, ended, stale or
    /// unknown. From memory when a fresh answer is there, else from the database.
    pub async fn check(
        &self,
        db: &Database,
        policy: SessionPolicy,
        sid: &SessionId,
        token_version: i64,
        now: NaiveDateTime,
    ) -> Result<Option<LiveSession>, SessionError> {
        let sid_key = key(sid.as_str());
        if let Some(answer) = sid_key.and_then(|k| self.cached(k, token_version)) {
            return Ok(answer.filter(|live| live.ends_at > now));
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        // Stamped before the read: a slow read must not stretch how long the
        // answer is trusted past `ttl` from when it could have been true.
        let asked = Instant::now();
        let id = sid.clone();
        let row = db
            .run(move |conn| Ok::<_, SessionError>(SessionRow::find_with_user(conn, &id)?))
            .await?;
        let live = row
            .filter(|r| policy.is_live(r, now))
            .map(|r| live_session(policy, r));
        if let Some(sid_key) = sid_key {
            self.store(sid_key, live.as_ref(), epoch, asked);
        }
        Ok(live)
    }

    fn store(&self, sid: u128, live: Option<&LiveSession>, epoch: u64, asked: Instant) {
        // The lock guards no data: a panic elsewhere leaves nothing to repair.
        let _shared = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            // A forget ran since the read began: what was read may be stale.
            return;
        }
        let entry = match live {
            Some(live) => {
                let Some(user_key) = key(live.user.id.as_str()) else {
                    return;
                };
                self.users.insert(
                    user_key,
                    UserEntry {
                        user: live.user.clone(),
                        fetched: asked,
                    },
                );
                Some((user_key, live.ends_at))
            }
            None => None,
        };
        self.sessions.insert(
            sid,
            SessionEntry {
                live: entry,
                fetched: asked,
            },
        );
    }

    /// Forgets one session. Only `revoke.rs` calls this, after its transaction.
    pub(super) fn forget_session(&self, sid: &SessionId) {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(k) = key(sid.as_str()) {
            self.sessions.remove(&k);
        }
    }

    /// Forgets a user, and with it every one of their sessions' answers.
    /// Only `revoke.rs` calls this.
    pub(super) fn forget_user(&self, user_id: &UserId) {
        let _exclusive = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(k) = key(user_id.as_str()) {
            self.users.remove(&k);
        }
    }
}

fn live_session(policy: SessionPolicy, found: SessionWithUser) -> LiveSession {
    LiveSession {
        ends_at: policy.ends_at(&found.session),
        user: Arc::new(LiveUser {
            id: found.user.id,
            email: found.user.email,
            email_verified: found.user.email_verified,
            mfa_enabled: found.user.mfa_enabled,
            role: found.user.role,
            version: found.user_version,
            created_at: found.user.created_at,
        }),
    }
}

impl Sessions {
    /// Authenticates an access token: the stateless checks, then the session
    /// must be live and the token's version and user the current ones.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, SessionError> {
        let claims = self.access.verify(token)?;
        let user = self
            .live_user(&claims)
            .await?
            .ok_or(SessionError::InvalidToken)?;
        Ok(AuthUser {
            session_id: claims.sid,
            user,
        })
    }

    /// RFC 7662 introspection: the token's claims and its caller if it would
    /// authenticate right now (the same rule as [`Sessions::authenticate`]),
    /// else `None`. Fails only when the database cannot answer.
    pub async fn introspect(
        &self,
        token: &str,
    ) -> Result<Option<(AccessClaims, AuthUser)>, SessionError> {
        let Ok(claims) = self.access.verify(token) else {
            return Ok(None);
        };
        Ok(self.live_user(&claims).await?.map(|user| {
            let caller = AuthUser {
                session_id: claims.sid.clone(),
                user,
            };
            (claims, caller)
        }))
    }

    /// The user of verified `claims` if their session is live and the
    /// token's version and user the current ones.
    async fn live_user(
        &self,
        claims: &AccessClaims,
    ) -> Result<Option<Arc<LiveUser>>, SessionError> {
        let live = self
            .liveness
            .check(
                &self.db,
                self.policy,
                &claims.sid,
                claims.ver,
                self.clock.now(),
            )
            .await?;
        Ok(live
            .map(|live| live.user)
            .filter(|user| user.version == claims.ver && user.id == claims.sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn live(user: &UserId, version: i64) -> LiveSession {
        LiveSession {
            user: Arc::new(LiveUser {
                id: user.clone(),
                email: "a@example.com".to_owned(),
                email_verified: false,
                mfa_enabled: false,
                role: Role::User,
                version,
                created_at: crate::clock::Clock::system().now(),
            }),
            ends_at: crate::clock::Clock::system().now() + TimeDelta::hours(1),
        }
    }

    fn cache() -> LivenessCache {
        LivenessCache::new(Duration::from_secs(60), 1_000)
    }

    fn k(sid: &SessionId) -> u128 {
        key(sid.as_str()).unwrap()
    }

    #[test]
    fn a_stored_answer_is_served_from_memory() {
        let cache = cache();
        let sid = SessionId::new();
        let answer = live(&UserId::new(), 3);
        cache.store(k(&sid), Some(&answer), 0, Instant::now());
        assert_eq!(cache.cached(k(&sid), 3), Some(Some(answer)));
        // A token newer than the remembered version goes to the database.
        assert_eq!(cache.cached(k(&sid), 4), None);
        // A session known not to be live is remembered as such.
        let dead = SessionId::new();
        cache.store(k(&dead), None, 0, Instant::now());
        assert_eq!(cache.cached(k(&dead), 1), Some(None));
    }

    #[test]
    fn a_stale_answer_is_not_stored_after_a_forget() {
        let cache = cache();
        let (sid, user) = (SessionId::new(), UserId::new());
        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.forget_session(&sid);
        cache.store(k(&sid), Some(&live(&user, 1)), epoch, Instant::now());
        assert_eq!(cache.cached(k(&sid), 1), None);
        assert!(cache.sessions.is_empty() && cache.users.is_empty());

        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.forget_user(&user);
        cache.store(k(&sid), Some(&live(&user, 1)), epoch, Instant::now());
        assert_eq!(cache.cached(k(&sid), 1), None);
    }

    #[test]
    fn a_store_racing_forgets_never_leaves_a_stale_answer() {
        // Many threads store answers read "before" a forget while another
        // forgets: after both finish, no answer from before the last forget
        // may be served.
        for _ in 0..200 {
            let cache = Arc::new(cache());
            let (sid, user) = (SessionId::new(), UserId::new());
            let epoch = cache.epoch.load(Ordering::SeqCst);
            let storer = {
                let (cache, sid, user) = (cache.clone(), sid.clone(), user.clone());
                std::thread::spawn(move || {
                    cache.store(k(&sid), Some(&live(&user, 1)), epoch, Instant::now())
                })
            };
            cache.forget_session(&sid);
            storer.join().unwrap();
            assert_eq!(cache.cached(k(&sid), 1), None);
        }
    }

    #[test]
    fn once_a_forget_returns_no_stale_answer_is_ever_visible() {
        // A store that read before the forget keeps trying while the cache is
        // read: not for a moment may its answer be served.
        let cache = Arc::new(cache());
        let (sid, user) = (SessionId::new(), UserId::new());
        let epoch = cache.epoch.load(Ordering::SeqCst);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let storer = {
            let (cache, sid, stop) = (cache.clone(), sid.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    cache.store(k(&sid), Some(&live(&user, 1)), epoch, Instant::now());
                }
            })
        };
        cache.forget_session(&sid);
        let seen = (0..200_000)
            .filter(|_| cache.cached(k(&sid), 1).is_some())
            .count();
        stop.store(true, Ordering::SeqCst);
        storer.join().unwrap();
        assert_eq!(seen, 0, "a stale answer was served {seen} times");
    }

    #[test]
    fn an_answer_is_trusted_from_when_it_was_asked() {
        let cache = LivenessCache::new(Duration::from_millis(200), 1_000);
        let sid = SessionId::new();
        // A read that took longer than the TTL: its answer is stale on arrival.
        let asked = Instant::now() - Duration::from_millis(300);
        cache.store(k(&sid), Some(&live(&UserId::new(), 1)), 0, asked);
        assert_eq!(cache.cached(k(&sid), 1), None);
    }

    #[test]
    fn forget_user_drops_only_that_user() {
        let cache = cache();
        let (a, b) = (SessionId::new(), SessionId::new());
        let (alice, bob) = (UserId::new(), UserId::new());
        cache.store(k(&a), Some(&live(&alice, 1)), 0, Instant::now());
        cache.store(k(&b), Some(&live(&bob, 1)), 0, Instant::now());
        cache.forget_user(&alice);
        assert_eq!(cache.cached(k(&a), 1), None);
        assert!(cache.cached(k(&b), 1).is_some());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = LivenessCache::new(Duration::from_secs(60), 100);
        let user = UserId::new();
        for _ in 0..10_000 {
            cache.store(
                k(&SessionId::new()),
                Some(&live(&user, 1)),
                0,
                Instant::now(),
            );
        }
        assert!(
            cache.sessions.len() <= 200,
            "{} sessions",
            cache.sessions.len()
        );
    }
}
