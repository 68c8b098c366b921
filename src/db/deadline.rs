//! Database work bounded by the database timeout, and writes that never
//! commit behind their caller's back.
//!
//! A request waits for its database work at most `WRISTBAND_DATABASE_TIMEOUT`
//! (then 503 `unavailable`), however the database stalls: a lock held by
//! another process, a server stopped mid-query, a pool whose connections all
//! hang. The blocked thread cannot be interrupted, so a write that outlives
//! its caller must not take effect later: a client told 503 keeps its old
//! refresh cookie, and a rotation committed after that answer would spend it
//! (and, past the grace window, make its next refresh look like reuse).
//!
//! So every write runs in one transaction (`BEGIN IMMEDIATE` on SQLite, so
//! the write lock is taken up front and a read cannot be overtaken by another
//! process's write) that commits only after a [`Claim`] says its caller still
//! waits: the caller gives up by moving the claim to *abandoned*, the work
//! commits by moving it to *committing*, and only one of the two can win.
//! Work still queued when its caller gave up does not start at all.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{Database, DbConnection, DbError};

const PENDING: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

/// Who decides a write's fate: its caller (who may give up) or the work
/// (which may commit). Cheap to clone; the clones share one state.
#[derive(Debug, Clone, Default)]
pub struct Claim(Arc<AtomicU8>);

impl Claim {
    /// The work is done and about to commit: true unless the caller gave up.
    fn commit(&self) -> bool {
        self.swap(PENDING, COMMITTING)
    }

    /// The caller gives up: true unless the work is already committing.
    fn abandon(&self) -> bool {
        self.swap(PENDING, ABANDONED)
    }

    fn abandoned(&self) -> bool {
        self.0.load(Ordering::Acquire) == ABANDONED
    }

    fn swap(&self, from: u8, to: u8) -> bool {
        self.0
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Why a guarded transaction did not commit.
enum Failure<E> {
    /// The work failed with its own error.
    Work(E),
    /// The database failed around it.
    Db(diesel::result::Error),
    /// The caller gave up before the commit.
    Abandoned,
}

impl<E> From<diesel::result::Error> for Failure<E> {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

/// Runs `work` with a connection of `db` in one transaction that commits
/// only if `claim` still lets it; does nothing — not even a checkout — when
/// the caller already gave up. `timeout` is only named in the error.
pub fn guarded<T, E, F>(db: &Database, claim: &Claim, timeout: Duration, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DbError>,
{
    if claim.abandoned() {
        return Err(DbError::Timeout(timeout).into());
    }
    let mut conn = db.get()?;
    // A dead connection fails at `BEGIN`, before `work` has run: begin once
    // more on a fresh one (see `Database::replace_if_dead`).
    if let Err(error) = begin(&mut conn) {
        if !db.replace_if_dead(&mut conn) {
            return Err(DbError::Query(error).into());
        }
        begin(&mut conn).map_err(DbError::Query)?;
    }
    let outcome = finish(&mut conn, |conn| {
        let value = work(conn).map_err(Failure::Work)?;
        if !claim.commit() {
            return Err(Failure::Abandoned);
        }
        Ok(value)
    });
    match outcome {
        Ok(value) => Ok(value),
        Err(Failure::Work(error)) => Err(error),
        Err(Failure::Db(error)) => Err(DbError::Query(error).into()),
        Err(Failure::Abandoned) => Err(DbError::Timeout(timeout).into()),
    }
}

/// Runs `work` as a single statement in autocommit on `db`, as
/// [`guarded`] runs a transaction: nothing when the caller already gave up.
/// The statement is its own commit, so the commit is claimed before it is
/// sent: from then on the caller waits for its answer, bounded by the
/// connection's statement and lock timeouts, as it waits for a `COMMIT`.
/// On a dead connection `work` runs once more, on a fresh one.
pub fn autocommit<T, E, F>(
    db: &Database,
    claim: &Claim,
    timeout: Duration,
    mut work: F,
) -> Result<T, E>
where
    F: FnMut(&mut DbConnection) -> Result<T, E>,
    E: From<DbError>,
{
    let mut conn = db.get()?;
    if !claim.commit() {
        return Err(DbError::Timeout(timeout).into());
    }
    db.once_more_if_dead(&mut conn, &mut work)
}

/// `BEGIN IMMEDIATE` (SQLite) or `BEGIN` (PostgreSQL).
fn begin(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Pg(inner) => AnsiTransactionManager::begin_transaction(inner),
    }
}

/// `work` inside the transaction [`begin`] opened, committed when it returns
/// `Ok`, rolled back otherwise. Transactions `work` opens inside are
/// savepoints of this one.
fn finish<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Failure<E>>,
) -> Result<T, Failure<E>> {
    type Manager = <DbConnection as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(error) => {
                // A failed COMMIT may leave the transaction open (SQLite
                // while busy): end it, so the connection is clean.
                let _ = Manager::rollback_transaction(conn);
                Err(Failure::Db(error))
            }
        },
        Err(failure) => {
            Manager::rollback_transaction(conn)?;
            Err(failure)
        }
    }
}

/// Waits for `answer` at most `timeout`. Then the caller gives up — unless the
/// work is already committing, in which case its answer is awaited, since
/// the commit decides it (the drivers' own timeouts bound a commit). A caller
/// that goes away (its request dropped) gives up too.
pub async fn wait<T>(
    answer: impl Future<Output = Result<T, DbError>>,
    claim: &Claim,
    timeout: Duration,
) -> Result<T, DbError> {
    /// Gives up on drop; a no-op once the work is committing or done.
    struct GiveUp<'a>(&'a Claim);
    impl Drop for GiveUp<'_> {
        fn drop(&mut self) {
            self.0.abandon();
        }
    }
    let _give_up = GiveUp(claim);
    let mut answer = pin!(answer);
    match tokio::time::timeout(timeout, &mut answer).await {
        Ok(answer) => answer,
        Err(_) if claim.abandon() => Err(DbError::Timeout(timeout)),
        Err(_) => answer.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Database, DatabaseUrl, settings};

    fn database(timeout: Duration) -> Database {
        let url = DatabaseUrl::parse("sqlite::memory:").unwrap();
        let db = Database::connect_with_timeout(&url, 2, timeout).unwrap();
        db.migrate().unwrap();
        db
    }

    fn write_setting(conn: &mut DbConnection, name: &str) -> Result<(), DbError> {
        settings::get_or_create(conn, name, || "written".to_owned())?;
        Ok(())
    }

    fn setting(db: &Database, name: &str) -> Option<String> {
        settings::get(&mut db.get().unwrap(), name).unwrap()
    }

    #[actix_web::test]
    async fn a_write_whose_caller_gave_up_never_commits() {
        let db = database(Duration::from_millis(300));
        let started = std::time::Instant::now();
        // A write that takes longer than its caller waits (a stalled lock).
        let slow = db.write(|conn| {
            std::thread::sleep(Duration::from_millis(800));
            write_setting(conn, "late")
        });
        // And one queued behind it, whose caller gives up before it starts.
        let queued = db.write(|conn| write_setting(conn, "queued"));
        let (slow, queued) = futures_util::future::join(slow, queued).await;
        assert!(matches!(slow, Err(DbError::Timeout(_))), "{slow:?}");
        assert!(matches!(queued, Err(DbError::Timeout(_))), "{queued:?}");
        assert!(
            started.elapsed() < Duration::from_millis(700),
            "the callers waited the timeout only"
        );
        // Long after the slow work ended, neither took effect.
        actix_web::rt::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(setting(&db, "late"), None);
        assert_eq!(setting(&db, "queued"), None);
        // A write within the time commits.
        db.write(|conn| write_setting(conn, "prompt"))
            .await
            .unwrap();
        assert_eq!(setting(&db, "prompt").as_deref(), Some("written"));
    }

    #[actix_web::test]
    async fn a_failed_write_rolls_back_all_it_did() {
        let db = database(Duration::from_secs(2));
        let failed: Result<(), DbError> = db
            .write(|conn| {
                write_setting(conn, "half")?;
                Err(DbError::Blocking("the work failed".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(setting(&db, "half"), None);
    }

    #[test]
    fn only_one_of_commit_and_abandon_wins() {
        let claim = Claim::default();
        assert!(claim.commit());
        assert!(!claim.abandon());
        let claim = Claim::default();
        assert!(claim.abandon());
        assert!(!claim.commit() && claim.abandoned());
    }
}
