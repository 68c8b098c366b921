//! The `login_failures` and `login_attempts` tables: the lockout per account
//! and client class, shared by every instance on the database.
//!
//! A class is one known device of the account (its device cookie's nonce), or
//! every untrusted client of the account together ([`ClientClass::Untrusted`]).
//! Rows are keyed by the normalised email whether or not an account has it, so
//! a locked unknown email looks like a locked real one.
//!
//! Only a verified wrong password is a failure. An attempt is *counted* before
//! its password is checked ([`begin`] inserts a `login_attempts` row), so that
//! parallel guesses cannot exceed the limit: failures plus attempts in flight
//! never pass `max_failures`. An attempt that finds the budget held by
//! attempts still in flight is told [`Attempt::Busy`] and waits for their
//! verdicts rather than being refused; the caller decides how long.
//! [`fail`] and [`succeed`] end an attempt with its verdict; an attempt that
//! ends without one (a crash, a dropped request) expires on its own.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{login_attempts, login_failures};

/// Who is trying, as the lockout counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientClass {
    /// Every client without a valid device cookie for the account.
    Untrusted,
    /// The known device whose cookie carries this nonce (hex).
    Device(String),
}

impl ClientClass {
    /// The `client` column's value.
    fn key(&self) -> String {
        match self {
            Self::Untrusted => "*".to_owned(),
            Self::Device(nonce) => format!("d:{nonce}"),
        }
    }
}

/// The lockout's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `WRISTBAND_LOGIN_MAX_FAILURES`.
    pub max_failures: i64,
    /// `WRISTBAND_LOGIN_LOCKOUT`.
    pub lockout: TimeDelta,
    /// How long an attempt in flight holds its place in the budget at most.
    pub attempt_ttl: TimeDelta,
}

/// Whether an attempt may check its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Yes; it holds a place in the budget under this id until its verdict.
    Allowed(String),
    /// Not yet: failures and attempts in flight fill the budget. Try again
    /// once some of them have ended.
    Busy,
    /// No: the class is locked until then.
    Locked(NaiveDateTime),
}

/// Begins an attempt of `class` at `email`: lifts an expired lock, then
/// counts the attempt unless the class is locked or its budget is full.
pub fn begin(
    conn: &mut DbConnection,
    email: &str,
    class: &ClientClass,
    now: NaiveDateTime,
    limits: Limits,
) -> QueryResult<Attempt> {
    use login_failures::dsl;
    let client = class.key();
    conn.transaction(|conn| {
        // The write comes first, so SQLite takes its write lock up front and
        // PostgreSQL locks the row for the rest of the transaction: attempts
        // of one class are counted one after another. (Diesel's upsert builder
        // does not reach `MultiBackend`; this SQL is the same on both
        // backends, and `$n` binds positionally in SQLite.)
        diesel::sql_query(
            "INSERT INTO login_failures (email, client, failures, last_attempt_at) \
             VALUES ($1, $2, 0, $3) \
             ON CONFLICT (email, client) DO UPDATE SET last_attempt_at = excluded.last_attempt_at",
        )
        .bind::<diesel::sql_types::Text, _>(email)
        .bind::<diesel::sql_types::Text, _>(&client)
        .bind::<diesel::sql_types::Timestamp, _>(now)
        .execute(conn)?;
        let row = dsl::login_failures.find((email, &client));
        diesel::update(row.filter(dsl::locked_until.le(now)))
            .set((
                dsl::failures.eq(0),
                dsl::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        let (failures, locked_until) = row
            .select((dsl::failures, dsl::locked_until))
            .get_result::<(i64, Option<NaiveDateTime>)>(conn)?;
        if let Some(until) = locked_until {
            return Ok(Attempt::Locked(until));
        }
        if failures >= limits.max_failures {
            // Failures at the limit without a lock (counts carried over from
            // before an upgrade, or a lowered limit): lock now, so the lock —
            // and the count — end like any other.
            let until = now + limits.lockout;
            diesel::update(row)
                .set(dsl::locked_until.eq(until))
                .execute(conn)?;
            return Ok(Attempt::Locked(until));
        }
        let in_class = login_attempts::table
            .filter(login_attempts::email.eq(email))
            .filter(login_attempts::client.eq(&client));
        diesel::delete(in_class.filter(login_attempts::expires_at.le(now))).execute(conn)?;
        let in_flight = in_class.count().get_result::<i64>(conn)?;
        if failures + in_flight >= limits.max_failures {
            return Ok(Attempt::Busy);
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::id.eq(&id),
                login_attempts::email.eq(email),
                login_attempts::client.eq(&client),
                login_attempts::expires_at.eq(now + limits.attempt_ttl),
            ))
            .execute(conn)?;
        Ok(Attempt::Allowed(id))
    })
}

/// Ends attempt `id` with a verified failure: the class's count grows, and
/// reaching the limit locks the class until `now + lockout`. Returns whether
/// this failure locked it. An attempt that outlived its place (it expired,
/// and another attempt took the place) is not counted: the budget bounds the
/// verdicts.
pub fn fail(
    conn: &mut DbConnection,
    email: &str,
    class: &ClientClass,
    id: &str,
    now: NaiveDateTime,
    limits: Limits,
) -> QueryResult<bool> {
    use login_failures::dsl;
    let client = class.key();
    let row = dsl::login_failures.find((email, &client));
    // The class's row first, as `begin` takes it: one lock order, no deadlock.
    diesel::update(row)
        .set(dsl::last_attempt_at.eq(dsl::last_attempt_at))
        .execute(conn)?;
    if end(conn, id)? == 0 {
        return Ok(false);
    }
    diesel::update(row)
        .set(dsl::failures.eq(dsl::failures + 1))
        .execute(conn)?;
    let locked = diesel::update(
        row.filter(dsl::locked_until.is_null())
            .filter(dsl::failures.ge(limits.max_failures)),
    )
    .set(dsl::locked_until.eq(now + limits.lockout))
    .execute(conn)?;
    Ok(locked == 1)
}

/// Ends attempt `id` with a success: the class's count starts again.
pub fn succeed(
    conn: &mut DbConnection,
    email: &str,
    class: &ClientClass,
    id: &str,
) -> QueryResult<()> {
    use login_failures::dsl;
    // The class's row first, as `begin` takes it: one lock order.
    diesel::update(dsl::login_failures.find((email, class.key())))
        .set(dsl::failures.eq(0))
        .execute(conn)?;
    end(conn, id)?;
    Ok(())
}

/// Ends attempt `id` without a verdict (an outage): it no longer holds a place.
pub fn end(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.find(id)).execute(conn)
}

/// Lifts every lock and count of `email` (all classes): what a password reset does.
pub fn clear(conn: &mut DbConnection, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)
}

/// Deletes at most `batch` counts of emails nobody tried since `cutoff` and
/// that are not locked past it, and at most `batch` attempts that expired
/// before it; returns how many.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    use login_failures::dsl;
    let quiet: Vec<(String, String)> = dsl::login_failures
        .filter(dsl::last_attempt_at.lt(cutoff))
        .filter(dsl::locked_until.is_null().or(dsl::locked_until.lt(cutoff)))
        .select((dsl::email, dsl::client))
        .limit(batch)
        .load(conn)?;
    let mut purged = 0;
    for (email, client) in &quiet {
        purged += diesel::delete(dsl::login_failures.find((email, client))).execute(conn)?;
    }
    let expired: Vec<String> = login_attempts::table
        .filter(login_attempts::expires_at.lt(cutoff))
        .select(login_attempts::id)
        .limit(batch)
        .load(conn)?;
    if !expired.is_empty() {
        purged += diesel::delete(login_attempts::table.filter(login_attempts::id.eq_any(&expired)))
            .execute(conn)?;
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Database, DatabaseUrl};
    fn now() -> chrono::NaiveDateTime {
        crate::clock::Clock::system().now()
    }

    const LIMITS: Limits = Limits {
        max_failures: 3,
        lockout: TimeDelta::minutes(1),
        attempt_ttl: TimeDelta::seconds(10),
    };

    fn database() -> Database {
        let db = Database::connect(&DatabaseUrl::parse("sqlite::memory:").unwrap(), 1).unwrap();
        db.migrate().unwrap();
        db
    }

    fn allowed(attempt: Attempt) -> String {
        match attempt {
            Attempt::Allowed(id) => id,
            other => panic!("expected Allowed, got {other:?}"),
        }
    }

    #[test]
    fn attempts_in_flight_hold_the_budget_until_their_verdict() {
        let db = database();
        let mut conn = db.get().unwrap();
        let (conn, email, at) = (&mut *conn, "victim@example.com", now());
        let untrusted = ClientClass::Untrusted;
        let ids: Vec<_> = (0..3)
            .map(|_| allowed(begin(conn, email, &untrusted, at, LIMITS).unwrap()))
            .collect();
        // The budget is held, not spent: the fourth waits, it is not locked.
        assert_eq!(
            begin(conn, email, &untrusted, at, LIMITS).unwrap(),
            Attempt::Busy
        );
        succeed(conn, email, &untrusted, &ids[0]).unwrap();
        let fourth = allowed(begin(conn, email, &untrusted, at, LIMITS).unwrap());
        // Three verified failures lock; the lock is audited by whoever locked it.
        assert!(!fail(conn, email, &untrusted, &ids[1], at, LIMITS).unwrap());
        assert!(!fail(conn, email, &untrusted, &ids[2], at, LIMITS).unwrap());
        assert!(fail(conn, email, &untrusted, &fourth, at, LIMITS).unwrap());
        let until = at + LIMITS.lockout;
        assert_eq!(
            begin(conn, email, &untrusted, at, LIMITS).unwrap(),
            Attempt::Locked(until)
        );
        // A known device of the account is another class: not locked.
        let device = ClientClass::Device("ab12".into());
        allowed(begin(conn, email, &device, at, LIMITS).unwrap());
        // Once the lock is over, the count starts again.
        let later = until + TimeDelta::seconds(1);
        allowed(begin(conn, email, &untrusted, later, LIMITS).unwrap());
    }

    #[test]
    fn attempts_that_end_without_a_verdict_expire() {
        let db = database();
        let mut conn = db.get().unwrap();
        let (conn, email, at) = (&mut *conn, "victim@example.com", now());
        let class = ClientClass::Untrusted;
        for _ in 0..3 {
            allowed(begin(conn, email, &class, at, LIMITS).unwrap());
        }
        assert_eq!(
            begin(conn, email, &class, at, LIMITS).unwrap(),
            Attempt::Busy
        );
        let later = at + LIMITS.attempt_ttl;
        allowed(begin(conn, email, &class, later, LIMITS).unwrap());
        // Quiet rows go with the purge.
        assert_eq!(purge(conn, later, 100).unwrap(), 0);
        let purged = purge(
            conn,
            later + LIMITS.attempt_ttl + TimeDelta::seconds(1),
            100,
        )
        .unwrap();
        assert_eq!(purged, 2, "the count and the last attempt");
    }

    #[test]
    fn an_attempt_that_outlived_its_place_is_not_counted() {
        let db = database();
        let mut conn = db.get().unwrap();
        let (conn, email, at) = (&mut *conn, "victim@example.com", now());
        let class = ClientClass::Untrusted;
        let slow: Vec<_> = (0..3)
            .map(|_| allowed(begin(conn, email, &class, at, LIMITS).unwrap()))
            .collect();
        // Their places expire and three new attempts take them.
        let later = at + LIMITS.attempt_ttl;
        let fresh: Vec<_> = (0..3)
            .map(|_| allowed(begin(conn, email, &class, later, LIMITS).unwrap()))
            .collect();
        // Six verdicts arrive; only the three that held places count.
        for id in &slow {
            assert!(!fail(conn, email, &class, id, later, LIMITS).unwrap());
        }
        let locked: Vec<_> = fresh
            .iter()
            .map(|id| fail(conn, email, &class, id, later, LIMITS).unwrap())
            .collect();
        assert_eq!(locked, [false, false, true]);
    }

    #[test]
    fn clear_lifts_every_class() {
        let db = database();
        let mut conn = db.get().unwrap();
        let (conn, email, at) = (&mut *conn, "victim@example.com", now());
        let limits = Limits {
            max_failures: 1,
            ..LIMITS
        };
        for class in [ClientClass::Untrusted, ClientClass::Device("01".into())] {
            let id = allowed(begin(conn, email, &class, at, limits).unwrap());
            assert!(fail(conn, email, &class, &id, at, limits).unwrap());
            assert!(matches!(
                begin(conn, email, &class, at, limits).unwrap(),
                Attempt::Locked(_)
            ));
        }
        assert_eq!(clear(conn, email).unwrap(), 2);
        allowed(begin(conn, email, &ClientClass::Untrusted, at, limits).unwrap());
    }
}
