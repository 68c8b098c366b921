//! The `login_failures` table: the per-account lockout, shared by every
//! instance on the database. Keyed by the normalised email, whether or not
//! an account has it, so a locked unknown email looks like a locked real one.
//!
//! An attempt is counted *before* its password is checked ([`begin`]), so
//! concurrent guesses cannot all slip through while the count catches up; a
//! failure that brings the count to the limit locks the account ([`fail`]); a
//! success forgets the count ([`succeed`]).

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::login_failures;

/// Whether an attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Yes; it has been counted.
    Allowed,
    /// No: the account is locked until then.
    Locked(NaiveDateTime),
}

/// Counts an attempt at `email` unless it is locked. An expired lock is lifted
/// (with its count) first.
pub fn begin(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
    max_failures: i64,
    lockout: TimeDelta,
) -> QueryResult<Attempt> {
    use login_failures::dsl;
    conn.transaction(|conn| {
        // The write comes first, so SQLite takes its write lock up front and
        // PostgreSQL locks the row for the rest of the transaction.
        // (Diesel's upsert builder does not reach `MultiBackend`; this SQL is
        // the same on both backends, and `$1` binds positionally in SQLite.)
        diesel::sql_query(
            "INSERT INTO login_failures (email, failures) VALUES ($1, 0) \
             ON CONFLICT (email) DO UPDATE SET failures = login_failures.failures",
        )
        .bind::<diesel::sql_types::Text, _>(email)
        .execute(conn)?;
        diesel::update(
            dsl::login_failures
                .find(email)
                .filter(dsl::locked_until.le(now)),
        )
        .set((
            dsl::failures.eq(0),
            dsl::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        diesel::update(
            dsl::login_failures
                .find(email)
                .filter(dsl::locked_until.is_null()),
        )
        .set(dsl::failures.eq(dsl::failures + 1))
        .execute(conn)?;
        let (failures, locked_until) = dsl::login_failures
            .find(email)
            .select((dsl::failures, dsl::locked_until))
            .first::<(i64, Option<NaiveDateTime>)>(conn)?;
        Ok(match locked_until {
            Some(until) => Attempt::Locked(until),
            // More attempts in flight than the limit: refuse this one; the
            // failures among them will set the lock.
            None if failures > max_failures => Attempt::Locked(now + lockout),
            None => Attempt::Allowed,
        })
    })
}

/// Records that a counted attempt failed: if the count has reached
/// `max_failures`, the account locks until `now + lockout`. Returns whether
/// this failure locked it.
pub fn fail(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
    max_failures: i64,
    lockout: TimeDelta,
) -> QueryResult<bool> {
    use login_failures::dsl;
    let locked = diesel::update(
        dsl::login_failures
            .find(email)
            .filter(dsl::locked_until.is_null())
            .filter(dsl::failures.ge(max_failures)),
    )
    .set(dsl::locked_until.eq(now + lockout))
    .execute(conn)?;
    Ok(locked == 1)
}

/// Forgets the count after a successful login.
pub fn succeed(conn: &mut DbConnection, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.find(email)).execute(conn)
}
