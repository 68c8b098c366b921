//! The periodic purge of sessions that were revoked or ended long enough ago
//! (`WRISTBAND_PURGE_RETENTION`, a day by default, so a late reuse of a spent
//! token is still recognised rather than unknown), and of login-failure
//! counts of emails nobody tried for as long (so guessing random emails
//! cannot grow the table); of mails sent (or failed for good) as long ago,
//! and of expired one-time tokens, login challenges (the second factor's)
//! and passkey ceremonies.
//! It runs every `WRISTBAND_PURGE_INTERVAL`.
//!
//! Every instance runs it, and that is safe: each run is one `DELETE … WHERE`
//! per table of rows no instance will use again, so two instances purging at
//! once delete each row once between them.

use std::time::Duration;

use chrono::TimeDelta;

use super::SessionError;
use crate::clock::Clock;
use crate::db::Database;
use crate::db::sessions::SessionRow;
use crate::db::{login_failures, mfa, one_time_tokens, outbox, passkeys};

/// Deletes the sessions that were revoked or ended more than `retention`
/// ago, and the login-failure counts of emails nobody tried for as long;
/// returns how many rows went.
pub async fn purge_once(
    db: &Database,
    clock: &Clock,
    idle_ttl: TimeDelta,
    retention: TimeDelta,
) -> Result<usize, SessionError> {
    let now = clock.now();
    let cutoff = now - retention;
    let mut purged = 0;
    // In batches, each its own short write: a large purge neither holds
    // SQLite's writer for long nor runs past the database timeout. Sessions
    // go a window per write (see `SessionRow::purge`); the other tables'
    // expired rows are few enough to find at once.
    let mut sessions_after = Some(0);
    loop {
        let after = sessions_after;
        let batch = db
            .write(move |conn| {
                let (sessions, next) = match after {
                    Some(after) => SessionRow::purge(conn, cutoff, idle_ttl, after, WINDOW)?,
                    None => (0, None),
                };
                let counts = login_failures::purge(conn, cutoff, BATCH)?;
                let mails = outbox::purge(conn, cutoff, BATCH)?;
                let links = one_time_tokens::purge(conn, now, BATCH)?;
                let challenges = mfa::purge_challenges(conn, now, BATCH)?
                    + passkeys::purge_ceremonies(conn, now, BATCH)?;
                let most = counts.max(mails).max(links).max(challenges);
                let others = counts + mails + links + challenges;
                Ok::<_, SessionError>((sessions, next, most, others))
            })
            .await;
        match batch {
            Ok((sessions, next, most, others)) => {
                purged += sessions + others;
                sessions_after = next;
                // The last window of sessions, and a short batch in every
                // other table: nothing is left.
                if sessions_after.is_none() && most < FULL {
                    return Ok(purged);
                }
            }
            Err(e) => return if purged > 0 { Ok(purged) } else { Err(e) },
        }
    }
}

/// Sessions one purge write looks at, by id.
const WINDOW: i64 = 1_000;
/// Rows one purge write deletes at most, per table.
const BATCH: i64 = 500;
const FULL: usize = BATCH as usize;

/// Runs [`purge_once`] every `every` on the current actix runtime.
pub fn spawn(
    db: Database,
    clock: Clock,
    idle_ttl: TimeDelta,
    every: Duration,
    retention: TimeDelta,
) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            match purge_once(&db, &clock, idle_ttl, retention).await {
                Ok(0) => {}
                Ok(n) => {
                    log::info!("purged {n} ended sessions, stale login counts, old mails and links")
                }
                Err(e) => log::warn!("session purge failed: {e}"),
            }
        }
    });
}
