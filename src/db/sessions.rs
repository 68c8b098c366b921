//! The `sessions` table: one row per login, and the queries that move it.
//!
//! A row never holds a presentable token. It holds `generation`, the number of
//! the one live refresh token (tokens are derived from `(id, generation)` with a
//! server key, see `tokens/refresh.rs`), and `rotated_at`, when that generation
//! started, from which the predecessor's grace window counts. The rules that use
//! these columns live in `crate::sessions`; what "live" means is defined once,
//! below, in Rust and in SQL.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use secrecy::SecretString;

use super::schema::{sessions, token_versions, users};
use super::users::UserRow;
use super::{AsyncPg, DbConnection, DbError, Role, SessionId, UserId, on_backend};

/// A session as stored.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    /// The `sid` of access tokens.
    pub id: SessionId,
    /// Whose.
    pub user_id: UserId,
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
    /// How the login was authenticated: the access tokens' `amr`, stored
    /// as in `tokens::Amr::as_stored`.
    pub amr: String,
}

impl SessionRow {
    /// The session with this id.
    pub fn find(conn: &mut DbConnection, id: &SessionId) -> QueryResult<Option<Self>> {
        sessions::table
            .find(id)
            .select(Self::as_select())
            .get_result(conn)
            .optional()
    }

    /// The session, with its user's current token version and state, in one query.
    pub fn find_with_user(
        conn: &mut DbConnection,
        id: &SessionId,
    ) -> QueryResult<Option<SessionWithUser>> {
        on_backend!(conn, |c| sessions::table
            .inner_join(users::table)
            .inner_join(token_versions::table.on(token_versions::user_id.eq(sessions::user_id)))
            .filter(sessions::id.eq(id))
            .select((
                Self::as_select(),
                token_versions::version,
                UserRow::as_select(),
            ))
            .get_result::<(Self, i64, UserRow)>(c))
        .optional()
        .map(|row| {
            row.map(|(session, user_version, user)| SessionWithUser {
                session,
                user_version,
                user,
            })
        })
    }

    /// The user's live sessions ([`live_at`]), newest first.
    pub fn list_live(
        conn: &mut DbConnection,
        user_id: &UserId,
        now: NaiveDateTime,
        idle_ttl: TimeDelta,
    ) -> QueryResult<Vec<Self>> {
        sessions::table
            .inner_join(users::table)
            .inner_join(token_versions::table.on(token_versions::user_id.eq(sessions::user_id)))
            .filter(sessions::user_id.eq(user_id))
            .filter(live_at(now, now - idle_ttl))
            .order(sessions::created_at.desc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Compare-and-swap rotation: moves `generation` from `from` to `from + 1`
    /// only if it is still `from` and the session is not revoked. Returns whether
    /// this caller won; concurrent callers with the same token cannot both win.
    pub fn rotate(
        conn: &mut DbConnection,
        id: &SessionId,
        from: i64,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let update = diesel::update(
            sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::generation.eq(from))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::generation.eq(from + 1),
            sessions::rotated_at.eq(now),
            sessions::last_refreshed_at.eq(now),
        ));
        let updated = on_backend!(conn, |c| update.execute(c))?;
        Ok(updated == 1)
    }

    /// [`SessionRow::rotate`] only if the session is live at `now` ([`live_at`]
    /// with `idle_cutoff = now - idle_ttl`), in one statement that also returns
    /// the session as moved and its user, as [`SessionRow::find_with_user`]
    /// would: a rotation in one round trip. `None` when it did not move (not
    /// live, another generation, unknown); the caller then reads why.
    ///
    /// PostgreSQL only (`UPDATE … FROM … RETURNING`; SQLite's `RETURNING`
    /// cannot name the joined tables, and its writes cost no round trip).
    /// Diesel cannot build `UPDATE … FROM`, so this is SQL text; its liveness
    /// condition is [`live_at`] spelled out, and the test below holds the
    /// two to the same cases.
    pub fn rotate_if_live(
        conn: &mut PgConnection,
        id: &SessionId,
        from: i64,
        now: NaiveDateTime,
        idle_cutoff: NaiveDateTime,
    ) -> QueryResult<Option<SessionWithUser>> {
        RotateIfLive {
            id: id.clone(),
            from,
            now,
            idle_cutoff,
        }
        .get_result::<Rotated>(conn)
        .optional()?
        .map(Rotated::into_found)
        .transpose()
    }

    /// [`SessionRow::rotate_if_live`] through the async driver: the same
    /// statement, sent from the async worker without a blocking thread.
    pub async fn rotate_if_live_async(
        pg: &AsyncPg,
        id: &SessionId,
        from: i64,
        now: NaiveDateTime,
        idle_cutoff: NaiveDateTime,
    ) -> Result<Option<SessionWithUser>, DbError> {
        let row = pg
            .query_opt(ROTATE_IF_LIVE, &[&now, &id.as_str(), &from, &idle_cutoff])
            .await?;
        let Some(row) = row else { return Ok(None) };
        let rotated = Rotated::from_pg_row(&row)?;
        Ok(Some(rotated.into_found()?))
    }

    /// Moves a live session to a new token version and a new generation (after
    /// a password change, so the caller keeps their session), leaving no
    /// predecessor in grace. Returns the new generation, or `None` if the
    /// session was revoked meanwhile.
    pub fn rekey(
        conn: &mut DbConnection,
        id: &SessionId,
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
            // No grace for the token before a re-key: every earlier token is
            // spent, and presenting one is reuse.
            sessions::rotated_at.eq(None::<NaiveDateTime>),
            sessions::last_refreshed_at.eq(now),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Ok(None);
        }
        sessions::table
            .find(id)
            .select(sessions::generation)
            .get_result(conn)
            .map(Some)
    }

    /// Records that a session whose login was a password alone is now
    /// authenticated as `amr` (a second factor confirmed in it); a session
    /// of a stronger login keeps its own.
    pub fn upgrade_amr(conn: &mut DbConnection, id: &SessionId, amr: &str) -> QueryResult<usize> {
        diesel::update(sessions::table.find(id).filter(sessions::amr.eq("pwd")))
            .set(sessions::amr.eq(amr))
            .execute(conn)
    }

    /// Revokes one session (only if it belongs to `owner`, when given); returns
    /// whether this call revoked it (false: unknown, not the owner's, or already
    /// revoked).
    pub fn revoke(
        conn: &mut DbConnection,
        id: &SessionId,
        owner: Option<&UserId>,
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
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let targets = sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null());
        let set = sessions::revoked_at.eq(now);
        match keep {
            Some(keep) => diesel::update(targets.filter(sessions::id.ne(keep)))
                .set(set)
                .execute(conn),
            None => diesel::update(targets).set(set).execute(conn),
        }
    }

    /// Deletes sessions that were revoked or ended before `cutoff`, a
    /// window at a time; returns how many went, and where the next window
    /// starts (`None`: nothing is left; start with 0).
    ///
    /// On SQLite a window is the next `window` rows by rowid after `after`:
    /// finding the purgeable rows of the whole table at once is a full scan
    /// (140 ms at a million sessions) that holds the one writer for as long,
    /// while a rowid range is read in order, in about a millisecond. On
    /// PostgreSQL, whose writers do not wait for one another, it is at most
    /// `window` purgeable rows found by one scan.
    pub fn purge(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        idle_ttl: TimeDelta,
        after: i64,
        window: i64,
    ) -> QueryResult<(usize, Option<i64>)> {
        use diesel::dsl::sql;
        use diesel::sql_types::BigInt;
        let purgeable = || {
            sessions::revoked_at
                .lt(cutoff)
                .or(ended_by(cutoff, cutoff - idle_ttl))
        };
        match conn {
            DbConnection::Sqlite(c) => {
                let rowid = || sql::<BigInt>("rowid");
                let end: Option<i64> = sessions::table
                    .select(rowid())
                    .filter(rowid().gt(after))
                    .order(rowid().asc())
                    .offset(window - 1)
                    .limit(1)
                    .get_result(c)
                    .optional()?;
                let deleted = diesel::delete(
                    sessions::table
                        .filter(rowid().gt(after))
                        .filter(rowid().le(end.unwrap_or(i64::MAX)))
                        .filter(purgeable()),
                )
                .execute(c)?;
                Ok((deleted, end))
            }
            DbConnection::Pg(c) => {
                let ids: Vec<SessionId> = sessions::table
                    .filter(purgeable())
                    .select(sessions::id)
                    .limit(window)
                    .load(c)?;
                let deleted = if ids.is_empty() {
                    0
                } else {
                    diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(c)?
                };
                let full = i64::try_from(deleted).is_ok_and(|n| n >= window);
                Ok((deleted, full.then_some(0)))
            }
        }
    }
}

// Liveness: the one definition, as a Rust predicate and as SQL, side by side.
// `sessions::SessionPolicy` applies it with the configured idle TTL; a test
// below proves the two agree on every way a session can end.

/// Why a session may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Revoked, at an older token version than its user's, or its user is
    /// disabled.
    Revoked,
    /// Past its absolute end, or idle for longer than the idle TTL.
    Expired,
}

impl SessionRow {
    /// When the session ends if nobody refreshes it or revokes it first:
    /// `min(expires_at, last_refreshed_at + idle_ttl)`.
    pub fn ends_at(&self, idle_ttl: TimeDelta) -> NaiveDateTime {
        self.expires_at.min(self.last_refreshed_at + idle_ttl)
    }
}

impl SessionWithUser {
    /// `None` if the session is live at `now`, else why not. The Rust twin of
    /// [`live_at`].
    pub fn refusal(&self, now: NaiveDateTime, idle_ttl: TimeDelta) -> Option<Refusal> {
        if self.session.revoked_at.is_some()
            || self.session.token_version != self.user_version
            || self.user.disabled
        {
            Some(Refusal::Revoked)
        } else if self.session.ends_at(idle_ttl) <= now {
            Some(Refusal::Expired)
        } else {
            None
        }
    }
}

/// The SQL twin of [`SessionWithUser::refusal`] being `None`, over
/// `sessions ⋈ users ⋈ token_versions`; `idle_cutoff` is `now - idle_ttl`.
#[diesel::dsl::auto_type(no_type_alias)]
fn live_at(now: NaiveDateTime, idle_cutoff: NaiveDateTime) -> _ {
    let ended: ended_by = ended_by(now, idle_cutoff);
    sessions::revoked_at
        .is_null()
        .and(sessions::token_version.eq(token_versions::version))
        .and(diesel::dsl::not(users::disabled))
        .and(diesel::dsl::not(ended))
}

/// SQL: the session has ended by `at` (`ends_at <= at`); `idle_cutoff` is
/// `at - idle_ttl`.
#[diesel::dsl::auto_type]
fn ended_by(at: NaiveDateTime, idle_cutoff: NaiveDateTime) -> _ {
    sessions::expires_at
        .le(at)
        .or(sessions::last_refreshed_at.le(idle_cutoff))
}

/// [`SessionRow::rotate_if_live`]'s statement with its parameters. Not
/// `sql_query`: Diesel never caches those, so PostgreSQL would parse and plan
/// the statement at every rotation, which costs it more than the rotation
/// (`bench/pgbench`: 4,900 rotations/s re-planned, 13,700 prepared). This
/// type has a static query id, so each connection prepares it once.
#[derive(diesel::query_builder::QueryId)]
struct RotateIfLive {
    id: SessionId,
    from: i64,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
}

/// The one-round-trip rotation's SQL, for both PostgreSQL drivers (Diesel's
/// [`RotateIfLive`], and `AsyncPg`'s prepared statement in `rotate_if_live_async`).
/// Parameters: `$1` now, `$2` the session id, `$3` the generation presented,
/// `$4` the idle cutoff (`now - idle_ttl`). The user's `id` and `created_at`
/// are renamed: the session has columns of those names.
const ROTATE_IF_LIVE: &str = "UPDATE sessions \
    SET generation = sessions.generation + 1, rotated_at = $1, last_refreshed_at = $1 \
    FROM users, token_versions \
    WHERE sessions.id = $2 AND sessions.generation = $3 \
      AND users.id = sessions.user_id AND token_versions.user_id = sessions.user_id \
      AND sessions.revoked_at IS NULL AND sessions.token_version = token_versions.version \
      AND NOT users.disabled \
      AND NOT (sessions.expires_at <= $1 OR sessions.last_refreshed_at <= $4) \
    RETURNING sessions.id, sessions.user_id, sessions.token_version, \
      sessions.generation, sessions.rotated_at, sessions.created_at, \
      sessions.last_refreshed_at, sessions.expires_at, sessions.revoked_at, \
      sessions.user_agent, sessions.ip, sessions.amr, \
      token_versions.version AS user_version, \
      users.id AS users_id, users.email, users.password_hash, users.role, \
      users.disabled, users.created_at AS users_created_at, users.updated_at, \
      users.email_verified, users.mfa_enabled";

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RotateIfLive {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text, Timestamp};
        // Diesel numbers the placeholders itself: each `$n` of the text
        // becomes a bind of its own, of the parameter `n` names.
        let mut rest = ROTATE_IF_LIVE;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            match &rest[at + 1..at + 1 + digits] {
                "1" => out.push_bind_param::<Timestamp, _>(&self.now)?,
                "2" => out.push_bind_param::<Text, _>(&self.id)?,
                "3" => out.push_bind_param::<BigInt, _>(&self.from)?,
                "4" => out.push_bind_param::<Timestamp, _>(&self.idle_cutoff)?,
                other => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        format!("ROTATE_IF_LIVE names no parameter ${other}").into(),
                    ));
                }
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl diesel::query_builder::Query for RotateIfLive {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<PgConnection> for RotateIfLive {}

/// A row of [`RotateIfLive`].
#[derive(QueryableByName)]
struct Rotated {
    #[diesel(embed)]
    session: SessionRow,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    user_version: i64,
    #[diesel(embed)]
    user: RotatedUser,
}

/// The user's columns of a [`Rotated`] row, under their names there.
#[derive(QueryableByName)]
struct RotatedUser {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = users_id)]
    id: UserId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Text, deserialize_as = String)]
    password_hash: SecretString,
    #[diesel(sql_type = diesel::sql_types::Text)]
    role: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    disabled: bool,
    #[diesel(sql_type = diesel::sql_types::Timestamp, column_name = users_created_at)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    updated_at: NaiveDateTime,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    email_verified: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    mfa_enabled: bool,
}

impl Rotated {
    /// A row of [`ROTATE_IF_LIVE`] as the async driver returns it.
    fn from_pg_row(row: &tokio_postgres::Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            session: SessionRow {
                id: SessionId::from_stored(row.try_get("id")?),
                user_id: UserId::from_stored(row.try_get("user_id")?),
                token_version: row.try_get("token_version")?,
                generation: row.try_get("generation")?,
                rotated_at: row.try_get("rotated_at")?,
                created_at: row.try_get("created_at")?,
                last_refreshed_at: row.try_get("last_refreshed_at")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
                user_agent: row.try_get("user_agent")?,
                ip: row.try_get("ip")?,
                amr: row.try_get("amr")?,
            },
            user_version: row.try_get("user_version")?,
            user: RotatedUser {
                id: UserId::from_stored(row.try_get("users_id")?),
                email: row.try_get("email")?,
                password_hash: SecretString::from(row.try_get::<_, String>("password_hash")?),
                role: row.try_get("role")?,
                disabled: row.try_get("disabled")?,
                created_at: row.try_get("users_created_at")?,
                updated_at: row.try_get("updated_at")?,
                email_verified: row.try_get("email_verified")?,
                mfa_enabled: row.try_get("mfa_enabled")?,
            },
        })
    }

    fn into_found(self) -> QueryResult<SessionWithUser> {
        let Rotated {
            session,
            user_version,
            user,
        } = self;
        let role = Role::try_from(user.role)
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
        Ok(SessionWithUser {
            session,
            user_version,
            user: UserRow {
                id: user.id,
                email: user.email,
                password_hash: user.password_hash,
                role,
                disabled: user.disabled,
                created_at: user.created_at,
                updated_at: user.updated_at,
                email_verified: user.email_verified,
                mfa_enabled: user.mfa_enabled,
            },
        })
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

/// A session to create at login.
#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    /// Fresh id.
    pub id: &'a SessionId,
    /// Whose.
    pub user_id: &'a UserId,
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
    /// How the login was authenticated (`tokens::Amr::as_stored`).
    pub amr: &'a str,
}

impl NewSession<'_> {
    /// Inserts the session.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(sessions::table)
            .values(self)
            .execute(conn)
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::db::audit::{AuditKind, NewAuditEvent};
    use crate::db::users::NewUser;
    use crate::db::{Database, DatabaseUrl};
    fn now() -> chrono::NaiveDateTime {
        crate::clock::Clock::system().now()
    }

    const IDLE: TimeDelta = TimeDelta::hours(1);

    /// A fresh database on each backend this run covers: SQLite in memory,
    /// and PostgreSQL when `WRISTBAND_TEST_POSTGRES_URL` is set.
    fn databases() -> Vec<(&'static str, Database)> {
        let mut all = vec![("sqlite", "sqlite::memory:".to_owned())];
        if let Some(base) = std::env::var("WRISTBAND_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            let name = format!("wristband_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&base).expect("PostgreSQL reachable");
            conn.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create a test database");
            let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
            all.push(("postgres", format!("{prefix}/{name}")));
        }
        all.into_iter()
            .map(|(backend, url)| {
                let db = Database::connect(&DatabaseUrl::parse(&url).unwrap(), 2).unwrap();
                db.migrate().unwrap();
                (backend, db)
            })
            .collect()
    }

    fn user(conn: &mut DbConnection, disabled: bool) -> UserId {
        let (id, at) = (UserId::new(), now());
        let email = format!("{id}@example.com");
        let new = NewUser {
            id: &id,
            email: &email,
            password_hash: "x",
            role: "user",
            disabled,
            email_verified: false,
            created_at: at,
            updated_at: at,
        };
        new.insert(
            conn,
            &NewAuditEvent::new(AuditKind::UserCreated, at, None, None),
        )
        .unwrap();
        id
    }

    /// One session of `user_id`, shaped by `shape` from a live one.
    fn session(
        conn: &mut DbConnection,
        user_id: &UserId,
        shape: impl FnOnce(&mut SessionRow),
    ) -> SessionId {
        let at = now();
        let mut row = SessionRow {
            id: SessionId::new(),
            user_id: user_id.clone(),
            token_version: 1,
            generation: 1,
            rotated_at: None,
            created_at: at - TimeDelta::minutes(5),
            last_refreshed_at: at - TimeDelta::minutes(5),
            expires_at: at + TimeDelta::days(1),
            revoked_at: None,
            user_agent: None,
            ip: None,
            amr: "pwd".into(),
        };
        shape(&mut row);
        NewSession {
            id: &row.id,
            user_id: &row.user_id,
            token_version: row.token_version,
            generation: row.generation,
            created_at: row.created_at,
            last_refreshed_at: row.last_refreshed_at,
            expires_at: row.expires_at,
            user_agent: None,
            ip: None,
            amr: &row.amr,
        }
        .insert(conn)
        .unwrap();
        if let Some(revoked_at) = row.revoked_at {
            SessionRow::revoke(conn, &row.id, None, revoked_at).unwrap();
        }
        row.id
    }

    #[test]
    fn the_rust_and_sql_definitions_of_live_agree() {
        for (backend, db) in databases() {
            let mut conn = db.get().unwrap();
            let conn = &mut *conn;
            let (alice, dave) = (user(conn, false), user(conn, true));
            let at = now();
            let cases = [
                ("live", session(conn, &alice, |_| {}), true),
                (
                    "revoked",
                    session(conn, &alice, |s| s.revoked_at = Some(at)),
                    false,
                ),
                (
                    "stale version",
                    session(conn, &alice, |s| s.token_version = 0),
                    false,
                ),
                (
                    "idle-expired",
                    session(conn, &alice, |s| s.last_refreshed_at = at - IDLE),
                    false,
                ),
                (
                    "max-age-expired",
                    session(conn, &alice, |s| s.expires_at = at),
                    false,
                ),
                ("disabled user", session(conn, &dave, |_| {}), false),
            ];
            let mut listed = SessionRow::list_live(conn, &alice, at, IDLE).unwrap();
            listed.extend(SessionRow::list_live(conn, &dave, at, IDLE).unwrap());
            for (what, id, expected) in cases {
                let mut other = db.get().unwrap();
                let found = SessionRow::find_with_user(&mut other, &id)
                    .unwrap()
                    .unwrap();
                let in_rust = found.refusal(at, IDLE).is_none();
                let in_sql = listed.iter().any(|s| s.id == id);
                assert_eq!(
                    in_rust, expected,
                    "{backend}: Rust says {what} live={in_rust}"
                );
                assert_eq!(in_sql, expected, "{backend}: SQL says {what} live={in_sql}");
                if let DbConnection::Pg(pg) = &mut *conn {
                    // The one-statement rotation's spelling of the same rule,
                    // through both drivers: the async one moves 1 to 2, Diesel
                    // 2 to 3.
                    let cutoff = at - IDLE;
                    let run = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let async_pg = db.async_pg().expect("a loopback test database");
                    let rotate_async = |from| {
                        run.block_on(SessionRow::rotate_if_live_async(
                            async_pg, &id, from, at, cutoff,
                        ))
                        .unwrap()
                    };
                    let moved = rotate_async(1);
                    assert_eq!(
                        moved.is_some(),
                        expected,
                        "{backend}: rotate_if_live_async, {what}"
                    );
                    let moved_again = SessionRow::rotate_if_live(pg, &id, 2, at, cutoff).unwrap();
                    assert_eq!(
                        moved_again.is_some(),
                        expected,
                        "{backend}: rotate_if_live, {what}"
                    );
                    if let (Some(moved), Some(moved_again)) = (moved, moved_again) {
                        // Both drivers return the row as stored, moved.
                        let mut stored = found.session.clone();
                        (stored.rotated_at, stored.last_refreshed_at) = (Some(at), at);
                        for (generation, session) in
                            [(2, &moved.session), (3, &moved_again.session)]
                        {
                            stored.generation = generation;
                            assert_eq!(format!("{session:?}"), format!("{stored:?}"));
                        }
                        assert_eq!(format!("{:?}", moved.user), format!("{:?}", found.user));
                        assert_eq!((moved.user.id, moved.user_version), (alice.clone(), 1));
                        // A compare-and-swap: the generation presented has moved on.
                        assert!(
                            rotate_async(1).is_none()
                                && SessionRow::rotate_if_live(pg, &id, 2, at, cutoff)
                                    .unwrap()
                                    .is_none(),
                            "{backend}: the same generation moved twice"
                        );
                    }
                }
            }
        }
    }
}
