//! The periodic purge of sessions that were revoked or ended long enough ago
//! (kept a day after their end, so a late reuse of a spent token is still
//! recognised rather than unknown), and of login-failure counts of emails
//! nobody tried for a day (so guessing random emails cannot grow the table).

use std::time::Duration;

use chrono::TimeDelta;

use crate::db::login_failures;
use crate::db::sessions::SessionRow;
use crate::db::{self, Database};
use crate::error::ApiError;

/// How often revoked and ended sessions are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(15 * 60);
/// How long revoked and ended sessions are kept.
pub const PURGE_AFTER: TimeDelta = TimeDelta::hours(24);

/// Deletes the sessions that were revoked or ended more than [`PURGE_AFTER`]
/// ago, and the login-failure counts of emails nobody tried for as long;
/// returns how many rows went.
pub async fn purge_once(db: &Database, idle_ttl: TimeDelta) -> Result<usize, ApiError> {
    db.run(move |conn| {
        let cutoff = db::now() - PURGE_AFTER;
        let sessions = SessionRow::purge(conn, cutoff, idle_ttl)?;
        let counts = login_failures::purge(conn, cutoff)?;
        Ok::<_, ApiError>(sessions + counts)
    })
    .await
}

/// Runs [`purge_once`] every [`PURGE_EVERY`] on the current actix runtime.
pub fn spawn(db: Database, idle_ttl: TimeDelta) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(PURGE_EVERY);
        loop {
            interval.tick().await;
            match purge_once(&db, idle_ttl).await {
                Ok(0) => {}
                Ok(n) => log::info!("purged {n} ended sessions and stale login counts"),
                Err(e) => log::warn!("session purge failed: {e}"),
            }
        }
    });
}
