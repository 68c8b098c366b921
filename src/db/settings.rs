//! The `settings` table: server-wide values generated once and shared by every
//! instance on the same database (the signing key when none is configured).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::DbConnection;
use super::schema::settings;

/// Name of the generated signing key.
pub const JWT_SECRET: &str = "jwt_secret";

/// The stored value of `name`, or `generate()` stored now. When two instances
/// race, the first insert wins and both return its value.
pub fn get_or_create(
    conn: &mut DbConnection,
    name: &str,
    generate: impl FnOnce() -> String,
) -> QueryResult<String> {
    let read = |conn: &mut DbConnection| {
        settings::table
            .find(name)
            .select(settings::value)
            .get_result::<String>(conn)
            .optional()
    };
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
