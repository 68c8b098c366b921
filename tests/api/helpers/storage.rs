//! The only place tests touch `wristband::db` directly, for what HTTP cannot
//! show: the audit rows of a user, the session purge of the periodic task,
//! and the signing keyring (rotation as the CLI does it, a stored key).
//! When storage signatures change, this file is the one to adapt.

use std::fmt::Display;

use wristband::clock::Clock;
use wristband::db::audit::AuditRow;
use wristband::db::sessions::SessionRow;
use wristband::db::signing_keys::SigningKeyRow;
use wristband::db::{Database, DatabaseUrl, DbConnection, SessionId, UserId};
use wristband::tokens::KeyAlgorithm;
use wristband::tokens::keys::SigningKey;

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

/// What the database holds of mailed links: every one-time token's stored
/// form and every outbox body, as stored.
pub fn stored_link_secrets(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use wristband::db::schema::{one_time_tokens, outbox};
    with_connection(&database(app), |conn| {
        let mut stored: Vec<String> = one_time_tokens::table
            .select(one_time_tokens::token_hash)
            .load(conn)
            .unwrap();
        stored.extend(
            outbox::table
                .select(outbox::body)
                .load::<String>(conn)
                .unwrap(),
        );
        stored
    })
}

/// Runs the purge as the periodic task does a day later (sessions revoked
/// before the cutoff go); returns how many it removed and, for each of
/// `session_ids`, whether it is still there.
pub async fn purge_sessions(app: &TestApp, session_ids: Vec<String>) -> (usize, Vec<bool>) {
    let db = database(app);
    actix_web::web::block(move || {
        with_connection(&db, |conn| {
            let cutoff = Clock::system().now() + chrono::TimeDelta::seconds(1);
            let (mut purged, mut after) = (0, Some(0));
            while let Some(from) = after {
                let (deleted, next) =
                    SessionRow::purge(conn, cutoff, chrono::TimeDelta::days(7), from, 2).unwrap();
                (purged, after) = (purged + deleted, next);
            }
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

/// What `wristband rotate-key` does, on the app's database: the new kid.
pub async fn rotate_signing_key(app: &TestApp, algorithm: KeyAlgorithm) -> String {
    let db = database(app);
    actix_web::web::block(move || {
        with_connection(&db, |conn| {
            wristband::startup::keyring::rotate(conn, algorithm, Clock::system().now()).unwrap()
        })
    })
    .await
    .unwrap()
}

/// The stored key `kid`, to sign tokens with it as the server would.
pub async fn stored_signing_key(app: &TestApp, kid: &str) -> SigningKey {
    use secrecy::ExposeSecret;
    let (db, kid) = (database(app), kid.to_owned());
    let row = actix_web::web::block(move || {
        with_connection(&db, |conn| {
            SigningKeyRow::usable(conn, Clock::system().now() - chrono::TimeDelta::days(3650))
                .unwrap()
                .into_iter()
                .find(|row| row.kid == kid)
                .expect("the key is stored")
        })
    })
    .await
    .unwrap();
    let material = row.material.expose_secret();
    match row.algorithm.as_str() {
        "EdDSA" => {
            use base64::Engine;
            let seed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(material)
                .unwrap();
            SigningKey::ed25519(&seed.try_into().unwrap())
        }
        _ => SigningKey::hs256(material.as_bytes()),
    }
}

/// A database as an earlier version left it: migrated, with its generated
/// signing secret in `settings` (and no keyring yet).
pub fn with_legacy_secret(database: &super::TestDatabase, secret: &str) {
    use diesel::prelude::*;
    use wristband::db::schema::settings;
    let db = Database::connect(&DatabaseUrl::parse(&database.url).unwrap(), 1).unwrap();
    db.migrate().unwrap();
    with_connection(&db, |conn| {
        diesel::insert_into(settings::table)
            .values((
                settings::name.eq(wristband::db::settings::JWT_SECRET),
                settings::value.eq(secret),
            ))
            .execute(conn)
            .unwrap();
    });
}

/// The bcrypt cost of the password hash stored for `email`.
pub fn stored_hash_cost(app: &TestApp, email: &str) -> Option<u32> {
    with_connection(&database(app), |conn| {
        let user = wristband::db::users::UserRow::find_by_email(conn, email)
            .unwrap()
            .expect("the user");
        wristband::auth::password::cost_of(secrecy::ExposeSecret::expose_secret(
            &user.password_hash,
        ))
    })
}

/// What the database holds of second factors: every TOTP secret and
/// recovery-code hash, as stored.
pub fn stored_mfa_secrets(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use wristband::db::schema::{recovery_codes, totp_factors};
    with_connection(&database(app), |conn| {
        let mut stored: Vec<String> = totp_factors::table
            .select(totp_factors::secret)
            .load(conn)
            .unwrap();
        stored.extend(
            recovery_codes::table
                .select(recovery_codes::code_hash)
                .load::<String>(conn)
                .unwrap(),
        );
        stored
    })
}
