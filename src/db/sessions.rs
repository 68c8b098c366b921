//! The `sessions` table: one row per login, and the queries that move it.
//!
//! A row never holds a presentable token. It holds `generation`, the number of
//! the one live refresh token (tokens are derived from `(id, generation)` with a
//! server key, see `tokens/refresh.rs`), and `rotated_at`, when that generation
//! started, from which the predecessor's grace window counts. The rules that use
//! these columns live in `src/sessions.rs`.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{sessions, token_versions, users};
use super::users::UserRow;

/// A session as stored.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    /// UUID, as text: the `sid` of access tokens.
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// The user's token version when the session was made (or last re-keyed).
    pub token_version: i64,
    /// Number of the live refresh token.
    pub generation: i64,
    /// When `generation` last moved (`None` before the first refresh).
    pub rotated_at: Option<NaiveDateTime>,
    /// Login time.
    pub created_at: NaiveDateTime,
    /// Last refresh (or login).
    pub last_refreshed_at: NaiveDateTime,
    /// Absolute end: login + session max age.
    pub expires_at: NaiveDateTime,
    /// Set once, never cleared: revoked is final.
    pub revoked_at: Option<NaiveDateTime>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
}

impl SessionRow {
    /// When the session ends if nobody refreshes it or revokes it first.
    pub fn ends_at(&self, idle_ttl: TimeDelta) -> NaiveDateTime {
        self.expires_at.min(self.last_refreshed_at + idle_ttl)
    }

    /// The session with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        sessions::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// The session, with its user's current token version and state, in one query.
    pub fn find_with_user(
        conn: &mut DbConnection,
        id: &str,
    ) -> QueryResult<Option<SessionWithUser>> {
        sessions::table
            .inner_join(users::table)
            .inner_join(token_versions::table.on(token_versions::user_id.eq(sessions::user_id)))
            .filter(sessions::id.eq(id))
            .select((
                Self::as_select(),
                token_versions::version,
                UserRow::as_select(),
            ))
            .first::<(Self, i64, UserRow)>(conn)
            .optional()
            .map(|row| {
                row.map(|(session, user_version, user)| SessionWithUser {
                    session,
                    user_version,
                    user,
                })
            })
    }

    /// The user's sessions that are neither revoked, stale (older token
    /// version) nor past their ends.
    pub fn list_live(
        conn: &mut DbConnection,
        user_id: &str,
        now: NaiveDateTime,
        idle_ttl: TimeDelta,
    ) -> QueryResult<Vec<Self>> {
        sessions::table
            .inner_join(token_versions::table.on(token_versions::user_id.eq(sessions::user_id)))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::token_version.eq(token_versions::version))
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_refreshed_at.gt(now - idle_ttl))
            .order(sessions::created_at.desc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Compare-and-swap rotation: moves `generation` from `from` to `from + 1`
    /// only if it is still `from` and the session is not revoked. Returns whether
    /// this caller won; concurrent callers with the same token cannot both win.
    pub fn rotate(
        conn: &mut DbConnection,
        id: &str,
        from: i64,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let updated = diesel::update(
            sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::generation.eq(from))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::generation.eq(from + 1),
            sessions::rotated_at.eq(now),
            sessions::last_refreshed_at.eq(now),
        ))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// Moves a live session to a new token version and a new generation (after
    /// a password change, so the caller keeps their session). Returns the new
    /// generation, or `None` if the session was revoked meanwhile.
    pub fn rekey(
        conn: &mut DbConnection,
        id: &str,
        token_version: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Option<i64>> {
        let updated = diesel::update(
            sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::token_version.eq(token_version),
            sessions::generation.eq(sessions::generation + 1),
            sessions::rotated_at.eq(now),
            sessions::last_refreshed_at.eq(now),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Ok(None);
        }
        sessions::table
            .find(id)
            .select(sessions::generation)
            .first(conn)
            .map(Some)
    }

    /// Revokes one session (only if it belongs to `owner`, when given); returns
    /// whether this call revoked it (false: unknown, not the owner's, or already
    /// revoked).
    pub fn revoke(
        conn: &mut DbConnection,
        id: &str,
        owner: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let live = sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null());
        let set = sessions::revoked_at.eq(now);
        let updated = match owner {
            Some(owner) => diesel::update(live.filter(sessions::user_id.eq(owner)))
                .set(set)
                .execute(conn)?,
            None => diesel::update(live).set(set).execute(conn)?,
        };
        Ok(updated == 1)
    }

    /// Revokes every session of the user except `keep`; returns how many.
    pub fn revoke_all_for_user(
        conn: &mut DbConnection,
        user_id: &str,
        keep: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let targets = sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep.unwrap_or("")));
        diesel::update(targets)
            .set(sessions::revoked_at.eq(now))
            .execute(conn)
    }

    /// Deletes sessions that were revoked or ended before `cutoff`; returns how many.
    pub fn purge(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        idle_ttl: TimeDelta,
    ) -> QueryResult<usize> {
        diesel::delete(
            sessions::table.filter(
                sessions::revoked_at
                    .lt(cutoff)
                    .or(sessions::expires_at.lt(cutoff))
                    .or(sessions::last_refreshed_at.lt(cutoff - idle_ttl)),
            ),
        )
        .execute(conn)
    }
}

/// A session with what decides whether it is live: its user's current token
/// version, role and state.
#[derive(Debug, Clone)]
pub struct SessionWithUser {
    /// The session.
    pub session: SessionRow,
    /// The user's current token version.
    pub user_version: i64,
    /// The user as now.
    pub user: UserRow,
}

impl SessionWithUser {
    /// Whether the session may still be used at `now`: not revoked, not ended,
    /// its token version current and its user enabled.
    pub fn is_live(&self, now: NaiveDateTime, idle_ttl: TimeDelta) -> bool {
        self.session.revoked_at.is_none()
            && self.session.token_version == self.user_version
            && !self.user.disabled
            && self.session.ends_at(idle_ttl) > now
    }
}

/// A session to create at login.
#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    /// Fresh UUID.
    pub id: &'a str,
    /// Whose.
    pub user_id: &'a str,
    /// The user's current token version.
    pub token_version: i64,
    /// Generation of the first refresh token.
    pub generation: i64,
    /// Now.
    pub created_at: NaiveDateTime,
    /// Now.
    pub last_refreshed_at: NaiveDateTime,
    /// Now + session max age.
    pub expires_at: NaiveDateTime,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
    /// Client IP.
    pub ip: Option<&'a str>,
}

impl NewSession<'_> {
    /// Inserts the session.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(sessions::table)
            .values(self)
            .execute(conn)
    }
}
