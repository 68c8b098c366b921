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
    /// No: the account is locked until `until`; `now` when this attempt is
    /// what locked it.
    Locked {
        /// When the lock ends.
        until: NaiveDateTime,
        /// Whether this attempt set the lock.
        now: bool,
    },
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
            "INSERT INTO login_failures (email, failures, last_attempt_at) VALUES ($1, 0, $2) \
             ON CONFLICT (email) DO UPDATE SET last_attempt_at = excluded.last_attempt_at",
        )
        .bind::<diesel::sql_types::Text, _>(email)
        .bind::<diesel::sql_types::Timestamp, _>(now)
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
            .get_result::<(i64, Option<NaiveDateTime>)>(conn)?;
        Ok(match locked_until {
            Some(until) => Attempt::Locked { until, now: false },
            // Over the limit without a lock: more attempts were in flight than
            // the limit, or counted attempts ended without a verdict (a
            // timeout, an outage). Lock now, so the lock — and the count —
            // expire like any other.
            None if failures > max_failures => {
                let until = now + lockout;
                diesel::update(dsl::login_failures.find(email))
                    .set(dsl::locked_until.eq(until))
                    .execute(conn)?;
                Attempt::Locked { until, now: true }
            }
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

/// Deletes the rows of emails nobody tried since `cutoff` and that are not
/// locked past it; returns how many.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    use login_failures::dsl;
    diesel::delete(
        dsl::login_failures
            .filter(dsl::last_attempt_at.lt(cutoff))
            .filter(dsl::locked_until.is_null().or(dsl::locked_until.lt(cutoff))),
    )
    .execute(conn)
}

/// Forgets the count after a successful login.
pub fn succeed(conn: &mut DbConnection, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.find(email)).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Database, DatabaseUrl, now};

    const MINUTE: TimeDelta = TimeDelta::minutes(1);

    #[test]
    fn attempts_that_end_without_a_verdict_lock_for_a_while_not_forever() {
        let db = Database::connect(&DatabaseUrl::parse("sqlite::memory:").unwrap(), 1).unwrap();
        db.migrate().unwrap();
        let mut conn = db.get().unwrap();
        let (conn, email, at) = (&mut *conn, "victim@example.com", now());
        // Three attempts counted, none of them ever failed or succeeded
        // (timed out, dropped, an outage).
        for _ in 0..3 {
            assert_eq!(begin(conn, email, at, 3, MINUTE).unwrap(), Attempt::Allowed);
        }
        let until = at + MINUTE;
        assert_eq!(
            begin(conn, email, at, 3, MINUTE).unwrap(),
            Attempt::Locked { until, now: true }
        );
        assert_eq!(
            begin(conn, email, at, 3, MINUTE).unwrap(),
            Attempt::Locked { until, now: false }
        );
        // Once the lock is over, the count starts again.
        let later = until + TimeDelta::seconds(1);
        assert_eq!(
            begin(conn, email, later, 3, MINUTE).unwrap(),
            Attempt::Allowed
        );
        // Quiet rows go with the purge; the fresh one stays.
        assert_eq!(purge(conn, later).unwrap(), 0);
        assert_eq!(purge(conn, later + TimeDelta::seconds(1)).unwrap(), 1);
    }
}
