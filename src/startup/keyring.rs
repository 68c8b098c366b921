//! The stored half of the signing keyring: reading the `signing_keys` table
//! into a [`Keyring`] (at start-up and at every reload), making sure a key of
//! the configured algorithm signs at the first start (taking over the HS256
//! key earlier versions generated), and `wristband rotate-key`. The keyring
//! itself — keys, signing, verifying, the JWKS — is `tokens/keys.rs`, which
//! knows no database.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::Connection;
use secrecy::{ExposeSecret, SecretString};

use crate::db::signing_keys::{NewSigningKey, SigningKeyRow};
use crate::db::{DbConnection, settings};
use crate::tokens::keys::{KeyAlgorithm, Keyring, SigningKey};

/// The stored keyring at `now`, with `previous` HS256 secrets added as
/// verify-only keys. The newest key of `algorithm` that is not retired signs;
/// if there is none (another instance moved to another algorithm, in a
/// rolling change), the newest key that is not retired, whatever its
/// algorithm: every instance then signs with a key all of them verify.
/// `None` if every stored key is retired. `window` is how long a retired key
/// verifies.
pub fn load(
    conn: &mut DbConnection,
    algorithm: KeyAlgorithm,
    previous: &[SecretString],
    window: TimeDelta,
    now: NaiveDateTime,
) -> diesel::QueryResult<Option<Keyring>> {
    let rows = SigningKeyRow::usable(conn, now - window)?;
    let mut keys: Vec<SigningKey> = rows
        .iter()
        .filter_map(|row| {
            SigningKey::stored(
                &row.kid,
                &row.algorithm,
                &row.material,
                row.retired_at,
                window,
            )
        })
        .collect();
    let unretired = |k: &SigningKey| k.is_current();
    let Some(current) = keys
        .iter()
        .position(|k| k.algorithm() == algorithm && unretired(k))
        .or_else(|| keys.iter().position(unretired))
    else {
        return Ok(None);
    };
    let current = keys.remove(current);
    let previous = previous
        .iter()
        .map(|s| SigningKey::hs256(s.expose_secret().as_bytes()));
    Ok(Some(Keyring::new(
        current,
        keys.into_iter().chain(previous),
    )))
}

/// At start-up: makes sure a key of `algorithm` signs, then loads the ring.
/// The first start takes over the HS256 key earlier versions generated into
/// `settings`, so tokens already out keep verifying; a change of
/// `WRISTBAND_JWT_ALG` rotates to a key of the new algorithm.
pub fn prepare(
    conn: &mut DbConnection,
    algorithm: KeyAlgorithm,
    previous: &[SecretString],
    window: TimeDelta,
    now: NaiveDateTime,
) -> diesel::QueryResult<Keyring> {
    if let Some(ring) = load(conn, algorithm, previous, window, now)?
        && ring.current().algorithm() == algorithm
    {
        return Ok(ring);
    }
    let legacy = match algorithm {
        // Only into an empty keyring: once taken over, it is a stored key
        // like any other (and may have been retired since).
        KeyAlgorithm::Hs256 if !SigningKeyRow::any(conn)? => {
            settings::get(conn, settings::JWT_SECRET)?
        }
        _ => None,
    };
    match legacy {
        Some(secret) => {
            let key = SigningKey::hs256(secret.as_bytes());
            let stored = NewSigningKey {
                kid: key.kid(),
                algorithm: KeyAlgorithm::Hs256.as_str(),
                material: &secret,
                created_at: now,
            }
            .insert(conn);
            // Another instance taking it over at the same time is fine.
            if let Err(e) = stored
                && !crate::db::is_unique_violation(&e)
            {
                return Err(e);
            }
        }
        None => {
            rotate(conn, algorithm, now)?;
        }
    }
    load(conn, algorithm, previous, window, now)?
        .filter(|ring| ring.current().algorithm() == algorithm)
        .ok_or(diesel::result::Error::NotFound)
}

/// Retires the signing key(s) and makes a new key of `algorithm` current, in
/// one transaction; returns the new key's id. What `wristband rotate-key` does.
pub fn rotate(
    conn: &mut DbConnection,
    algorithm: KeyAlgorithm,
    now: NaiveDateTime,
) -> diesel::QueryResult<String> {
    let (key, material) = SigningKey::generate(algorithm);
    conn.transaction(|conn| {
        SigningKeyRow::retire_all(conn, now)?;
        NewSigningKey {
            kid: key.kid(),
            algorithm: algorithm.as_str(),
            material: material.expose_secret(),
            created_at: now,
        }
        .insert(conn)
    })?;
    Ok(key.kid().to_owned())
}
