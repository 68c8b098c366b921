//! The keys at start-up and after: the signing keyring (configured, or
//! stored and made at the first start), the refresh secret, `wristband
//! rotate-key`, and the task that re-reads the stored keyring every second.

use actix_web::web;
use secrecy::ExposeSecret;

use super::keyring as keys;
use super::{StartupError, connection, open_database};
use crate::clock::Clock;
use crate::config::{Config, KEYRING_RELOAD};
use crate::db::{Database, settings};
use crate::mac::random_key;
use crate::state::AppState;
use crate::tokens::Keyring;
use crate::tokens::keys::Keys;

/// The keys of `config`: the configured HS256 secret or the stored keyring
/// (made at the first start, rotated here to a key of `WRISTBAND_JWT_ALG`
/// when that changed), and the refresh secret.
pub fn prepare_keys(config: &Config, db: &Database, clock: &Clock) -> Result<Keys, StartupError> {
    let mut conn = connection(db)?;
    let keyring = match &config.keys.jwt_secret {
        Some(secret) => Keyring::configured(
            secret.expose_secret().as_bytes(),
            &config.keys.jwt_previous_secrets,
        ),
        None => keys::prepare(
            &mut conn,
            config.keys.jwt_algorithm,
            &config.keys.jwt_previous_secrets,
            config.keys.retirement_window(),
            clock.now(),
        )
        .map_err(|e| StartupError::because("cannot load the signing keys", e))?,
    };
    let refresh_secret = match (&config.keys.refresh_secret, &config.keys.jwt_secret) {
        (Some(secret), _) => secret.clone(),
        // As before the keyring: keyed by the configured secret, so that a
        // copy of the database alone cannot mint refresh tokens (to rotate
        // that secret, WRISTBAND_REFRESH_SECRET must be set; see config).
        (None, Some(secret)) => secret.clone(),
        (None, None) => {
            // A database from before the keyring derived refresh tokens from
            // its generated signing key: keeping that secret keeps them valid.
            let legacy = settings::get(&mut conn, settings::JWT_SECRET)
                .map_err(|e| StartupError::because("cannot load the refresh secret", e))?;
            settings::get_or_create(&mut conn, settings::REFRESH_SECRET, || {
                legacy.unwrap_or_else(|| random_key().1)
            })
            .map_err(|e| StartupError::because("cannot load the refresh secret", e))?
            .into()
        }
    };
    Ok(Keys {
        keyring,
        refresh_secret,
    })
}

/// `wristband rotate-key`: retires the signing key and makes a new one
/// current; returns its `kid`. Running instances pick it up within a second.
/// It keeps the algorithm the servers sign with: a change of
/// `WRISTBAND_JWT_ALG` happens when servers start with the new value.
pub fn rotate_key(config: &Config) -> Result<String, StartupError> {
    if config.keys.jwt_secret.is_some() {
        return Err(StartupError::new(
            "the signing key is WRISTBAND_JWT_SECRET: rotate it in your secret store, and list the \
             old one in WRISTBAND_JWT_PREVIOUS_SECRETS until the access TTL has passed",
        ));
    }
    let clock = Clock::system();
    let db = open_database(config)?;
    let mut conn = connection(&db)?;
    let (algorithm, now) = (config.keys.jwt_algorithm, clock.now());
    let failed = |e| StartupError::because("cannot rotate the signing key", e);
    let stored = keys::load(
        &mut conn,
        algorithm,
        &[],
        config.keys.retirement_window(),
        now,
    )
    .map_err(failed)?;
    if let Some(current) = stored.as_ref().map(|ring| ring.current().algorithm())
        && current != algorithm
    {
        return Err(StartupError::new(format!(
            "the servers sign with {}, but WRISTBAND_JWT_ALG is {}: set it as the servers have it \
             (a change of algorithm takes effect when they start with the new one)",
            current.as_str(),
            algorithm.as_str()
        )));
    }
    keys::rotate(&mut conn, algorithm, now).map_err(failed)
}

/// Every second, re-reads the stored keyring, so a `rotate-key` (or a key
/// another instance made) is in force here within about a second.
pub(super) fn spawn_keyring_reload(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(KEYRING_RELOAD);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let (config, clock) = (&state.config, &state.clock);
            let (algorithm, previous) = (
                config.keys.jwt_algorithm,
                config.keys.jwt_previous_secrets.clone(),
            );
            let (window, now) = (config.keys.retirement_window(), clock.now());
            let loaded = state
                .db
                .run(move |conn| {
                    Ok::<_, crate::db::DbError>(keys::load(
                        conn, algorithm, &previous, window, now,
                    )?)
                })
                .await;
            match loaded {
                Ok(Some(ring)) => {
                    let current = ring.current();
                    let (kid, signs) = (current.kid().to_owned(), current.algorithm());
                    if state.access.replace_keyring(ring) {
                        log::info!("signing keys reloaded; current kid {kid}");
                        if signs != algorithm {
                            log::warn!(
                                "no current {} key is stored: signing with {} key {kid}, which \
                                 the other instances made",
                                algorithm.as_str(),
                                signs.as_str()
                            );
                        }
                    }
                }
                // Keep the keys in force: every stored key is retired (by
                // hand; rotate-key always leaves a current one).
                Ok(None) => log::error!("every stored signing key is retired"),
                Err(e) => log::debug!("cannot reload the signing keys: {e}"),
            }
        }
    });
}
