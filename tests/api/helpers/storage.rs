//! The only place tests touch `wristband::db` directly, for what HTTP cannot
//! show: the audit rows of a user, and the session purge of the periodic task.
//! When storage signatures change, this file is the one to adapt.

use std::fmt::Display;

use wristband::db::audit::AuditRow;
use wristband::db::sessions::SessionRow;
use wristband::db::{Database, DatabaseUrl, DbConnection, SessionId, UserId, now};

use super::TestApp;

fn database(app: &TestApp) -> Database {
    Database::connect(&DatabaseUrl::parse(&app.database.url).unwrap(), 1).unwrap()
}

fn with_connection<T>(db: &Database, f: impl FnOnce(&mut DbConnection) -> T) -> T {
    let mut conn = db.get().unwrap();
    f(&mut conn)
}

/// The names of the audit events about `user_id`, newest first.
pub fn audit_events(app: &TestApp, user_id: &impl Display) -> Vec<String> {
    let user_id: UserId = user_id.to_string().parse().expect("a user id");
    with_connection(&database(app), |conn| {
        AuditRow::list(conn, Some(&user_id), 100)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    })
}

/// Runs the purge as the periodic task does a day later (sessions revoked
/// before the cutoff go); returns how many it removed and, for each of
/// `session_ids`, whether it is still there.
pub async fn purge_sessions(app: &TestApp, session_ids: Vec<String>) -> (usize, Vec<bool>) {
    let db = database(app);
    actix_web::web::block(move || {
        with_connection(&db, |conn| {
            let cutoff = now() + chrono::TimeDelta::seconds(1);
            let purged = SessionRow::purge(conn, cutoff, chrono::TimeDelta::days(7)).unwrap();
            let kept = session_ids
                .iter()
                .map(|id| id.parse::<SessionId>().expect("a session id"))
                .map(|id| SessionRow::find(conn, &id).unwrap().is_some())
                .collect();
            (purged, kept)
        })
    })
    .await
    .unwrap()
}
