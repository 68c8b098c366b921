//! The `settings` table: server-wide values generated once and shared by every
//! instance on the same database (the refresh-token secret when none is
//! configured; before the keyring, also the generated signing key).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::DbConnection;
use super::schema::settings;

/// Name of the signing key earlier versions generated (taken over by the
/// keyring at the first start, and the refresh secret of such databases).
pub const JWT_SECRET: &str = "jwt_secret";
/// Name of the generated refresh-token secret.
pub const REFRESH_SECRET: &str = "refresh_secret";

/// The stored value of `name`, if any.
pub fn get(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(name)
        .select(settings::value)
        .get_result::<String>(conn)
        .optional()
}

/// The stored value of `name`, or `generate()` stored now. When two instances
/// race, the first insert wins and both return its value.
pub fn get_or_create(
    conn: &mut DbConnection,
    name: &str,
    generate: impl FnOnce() -> String,
) -> QueryResult<String> {
    let read = |conn: &mut DbConnection| get(conn, name);
    if let Some(value) = read(conn)? {
        return Ok(value);
    }
    let inserted = diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(generate())))
        .execute(conn);
    match inserted {
        Ok(_) | Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            read(conn)?.ok_or(DieselError::NotFound)
        }
        Err(e) => Err(e),
    }
}
