//! The token-version table: one `(user_id, version)` row per user. Every access
//! token and session carries the version current when it was made; bumping it
//! (logout-all, password change, admin actions) makes all of them stale at once.
//! Bumps go through `sessions::revoke`, the one revocation path.

use diesel::prelude::*;

use super::schema::token_versions;
use super::{DbConnection, UserId};

/// A user's token version.
#[derive(Debug, Clone, Copy, Insertable)]
#[diesel(table_name = token_versions)]
pub struct TokenVersion<'a> {
    /// Whose.
    pub user_id: &'a UserId,
    /// Starts at 1, only goes up.
    pub version: i64,
}

impl TokenVersion<'_> {
    /// Creates the row of a new user at version 1.
    pub fn create(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<usize> {
        diesel::insert_into(token_versions::table)
            .values(TokenVersion {
                user_id,
                version: 1,
            })
            .execute(conn)
    }

    /// The user's current version.
    pub fn current(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<i64> {
        token_versions::table
            .find(user_id)
            .select(token_versions::version)
            .get_result(conn)
    }

    /// Bumps the version and returns the new one. An atomic `version + 1`, so
    /// concurrent bumps never lose one.
    pub fn bump(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<i64> {
        diesel::update(token_versions::table.find(user_id))
            .set(token_versions::version.eq(token_versions::version + 1))
            .execute(conn)?;
        Self::current(conn, user_id)
    }
}
