//! The `users` table and the queries on it. A new user gets their token-version
//! row in the same transaction (see `token_versions.rs`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use secrecy::SecretString;

use super::audit::NewAuditEvent;
use super::schema::{token_versions, users};
use super::token_versions::TokenVersion;
use super::{DbConnection, Role, UserId};

/// A user as stored. `Debug` shows no hash.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// The user's id.
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// bcrypt hash.
    #[diesel(deserialize_as = String)]
    pub password_hash: SecretString,
    /// What the user may do.
    #[diesel(deserialize_as = String)]
    pub role: Role,
    /// Disabled users cannot log in and hold no live session.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: NaiveDateTime,
    /// Last change of password, role or state.
    pub updated_at: NaiveDateTime,
    /// Whether the user proved they read mail at `email` (a verification
    /// link, a password reset, an email change).
    pub email_verified: bool,
    /// Whether the user has a confirmed second factor (TOTP).
    pub mfa_enabled: bool,
}

impl UserRow {
    /// The user with this (normalised) email.
    pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Self>> {
        users::table
            .filter(users::email.eq(email))
            .select(Self::as_select())
            .get_result(conn)
            .optional()
    }

    /// The user with this (normalised) email and their token version, read
    /// in one statement: one snapshot, so a password change (which sets the
    /// hash and bumps the version together) is seen whole or not at all.
    pub fn find_by_email_with_version(
        conn: &mut DbConnection,
        email: &str,
    ) -> QueryResult<Option<(Self, i64)>> {
        users::table
            .inner_join(token_versions::table)
            .filter(users::email.eq(email))
            .select((Self::as_select(), token_versions::version))
            .get_result(conn)
            .optional()
    }

    /// The user with this id.
    pub fn find(conn: &mut DbConnection, id: &UserId) -> QueryResult<Option<Self>> {
        users::table
            .find(id)
            .select(Self::as_select())
            .get_result(conn)
            .optional()
    }

    /// Users whose email contains `email` (all when `None`), oldest first.
    pub fn list(
        conn: &mut DbConnection,
        email: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Self>> {
        let mut query = users::table.select(Self::as_select()).into_boxed();
        if let Some(email) = email {
            query = query.filter(users::email.like(contains_pattern(email)).escape('\\'));
        }
        query
            .order((users::created_at.asc(), users::id.asc()))
            .limit(limit)
            .offset(offset)
            .load(conn)
    }

    /// How many users [`UserRow::list`] would find without paging.
    pub fn count(conn: &mut DbConnection, email: Option<&str>) -> QueryResult<i64> {
        let mut query = users::table.count().into_boxed();
        if let Some(email) = email {
            query = query.filter(users::email.like(contains_pattern(email)).escape('\\'));
        }
        query.get_result(conn)
    }

    /// Sets the role.
    pub fn set_role(
        conn: &mut DbConnection,
        id: &UserId,
        role: Role,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((users::role.eq(role.as_str()), users::updated_at.eq(now)))
            .execute(conn)
    }

    /// Sets the disabled flag.
    pub fn set_disabled(
        conn: &mut DbConnection,
        id: &UserId,
        disabled: bool,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
            .execute(conn)
    }

    /// Replaces `old` with `new`, a hash of the same password at another
    /// cost (after a login verified it); nothing if the hash changed
    /// meanwhile. Leaves the token version alone: the password is the same.
    pub fn rehash(
        conn: &mut DbConnection,
        id: &UserId,
        old: &str,
        new: &str,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id).filter(users::password_hash.eq(old)))
            .set(users::password_hash.eq(new))
            .execute(conn)
    }

    /// Marks the email verified.
    pub fn set_verified(
        conn: &mut DbConnection,
        id: &UserId,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((users::email_verified.eq(true), users::updated_at.eq(now)))
            .execute(conn)
    }

    /// Changes the email to `email`, verified (the change was confirmed from
    /// that address). A taken address is a unique violation.
    pub fn set_email(
        conn: &mut DbConnection,
        id: &UserId,
        email: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::email.eq(email),
                users::email_verified.eq(true),
                users::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Replaces the password hash. Callers bump the user's token version in
    /// the same transaction: that is how a login that verified the old
    /// password knows it lost (`sessions/login.rs`).
    pub fn set_password_hash(
        conn: &mut DbConnection,
        id: &UserId,
        hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(conn)
    }
}

/// `%text%` for LIKE, with LIKE's own wildcards in `text` escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A user to create.
#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Fresh id.
    pub id: &'a UserId,
    /// Normalised email.
    pub email: &'a str,
    /// bcrypt hash.
    pub password_hash: &'a str,
    /// `Role::as_str` of the role.
    pub role: &'static str,
    /// Normally false.
    pub disabled: bool,
    /// False unless whoever creates the user vouches for the address.
    pub email_verified: bool,
    /// Now.
    pub created_at: NaiveDateTime,
    /// Now.
    pub updated_at: NaiveDateTime,
}

impl NewUser<'_> {
    /// Inserts the user, their token version and the `user_created` event in
    /// one transaction. A taken email is a unique violation
    /// ([`super::is_unique_violation`]).
    pub fn insert(
        &self,
        conn: &mut DbConnection,
        event: &NewAuditEvent<'_>,
    ) -> QueryResult<UserRow> {
        conn.transaction(|conn| {
            diesel::insert_into(users::table)
                .values(self)
                .execute(conn)?;
            TokenVersion::create(conn, self.id)?;
            event.insert(conn)?;
            users::table
                .find(self.id)
                .select(UserRow::as_select())
                .get_result(conn)
        })
    }
}
