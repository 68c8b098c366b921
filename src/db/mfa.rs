//! The second factor's tables: `totp_factors` (one per user, pending until
//! confirmed, with the last accepted time step), `recovery_codes` (only keyed
//! hashes; spending one deletes it) and `mfa_challenges` (the second step of
//! a login; only a SHA-256 of its token). `users.mfa_enabled` follows the
//! confirmed factor: only the functions here change either.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{mfa_challenges, recovery_codes, totp_factors, users};
use super::{DbConnection, UserId};

/// A TOTP factor as stored. (Its `Debug` leaves the sealed secret out.)
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
pub struct TotpRow {
    /// Whose.
    pub user_id: UserId,
    /// The secret, sealed (`at_rest.rs`).
    pub secret: String,
    /// When the factor was last started.
    pub created_at: NaiveDateTime,
    /// When a code confirmed it; `None` while pending.
    pub confirmed_at: Option<NaiveDateTime>,
    /// The last time step accepted (-1: none yet).
    pub last_step: i64,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("user_id", &self.user_id)
            .field("secret", &"[sealed]")
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// The user's factor, pending or confirmed.
pub fn find_totp(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<Option<TotpRow>> {
    totp_factors::table
        .find(user_id)
        .select(TotpRow::as_select())
        .get_result(conn)
        .optional()
}

/// Stores a pending factor with `secret` (sealed), replacing a pending one;
/// `false` (and nothing changed) when the user has a confirmed factor.
pub fn start_totp(
    conn: &mut DbConnection,
    user_id: &UserId,
    secret: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    // One statement, so two starts at once end in one row, and a confirmed
    // factor is never overwritten.
    let changed = diesel::sql_query(
        "INSERT INTO totp_factors (user_id, secret, created_at, confirmed_at, last_step) \
         VALUES ($1, $2, $3, NULL, -1) \
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
         created_at = excluded.created_at, last_step = -1 \
         WHERE totp_factors.confirmed_at IS NULL",
    )
    .bind::<diesel::sql_types::Text, _>(user_id.to_string())
    .bind::<diesel::sql_types::Text, _>(secret)
    .bind::<diesel::sql_types::Timestamp, _>(now)
    .execute(conn)?;
    Ok(changed == 1)
}

/// Confirms the user's pending factor at `step` (its first accepted step),
/// and marks the user as having a second factor; `false` when there was no
/// pending factor (confirmed meanwhile, or replaced: a new secret). Run it in
/// a transaction.
pub fn confirm_totp(
    conn: &mut DbConnection,
    user_id: &UserId,
    secret: &str,
    step: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    use totp_factors::dsl;
    let confirmed = diesel::update(
        dsl::totp_factors
            .filter(dsl::user_id.eq(user_id))
            .filter(dsl::secret.eq(secret))
            .filter(dsl::confirmed_at.is_null()),
    )
    .set((dsl::confirmed_at.eq(now), dsl::last_step.eq(step)))
    .execute(conn)?;
    if confirmed != 1 {
        return Ok(false);
    }
    set_enabled(conn, user_id, true)?;
    Ok(true)
}

/// Accepts `step` for the user's confirmed factor if it is later than the
/// last accepted one: the compare-and-swap that makes a code (or an earlier
/// one) good once, under any concurrency.
pub fn accept_step(conn: &mut DbConnection, user_id: &UserId, step: i64) -> QueryResult<bool> {
    use totp_factors::dsl;
    let moved = diesel::update(
        dsl::totp_factors
            .filter(dsl::user_id.eq(user_id))
            .filter(dsl::confirmed_at.is_not_null())
            .filter(dsl::last_step.lt(step)),
    )
    .set(dsl::last_step.eq(step))
    .execute(conn)?;
    Ok(moved == 1)
}

/// Removes the user's factor (pending or confirmed), their recovery codes
/// and their login challenges; returns whether a confirmed factor was
/// removed. Run it in a transaction.
pub fn remove(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<bool> {
    let confirmed = find_totp(conn, user_id)?.is_some_and(|f| f.confirmed_at.is_some());
    diesel::delete(totp_factors::table.filter(totp_factors::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(mfa_challenges::table.filter(mfa_challenges::user_id.eq(user_id)))
        .execute(conn)?;
    set_enabled(conn, user_id, false)?;
    Ok(confirmed)
}

fn set_enabled(conn: &mut DbConnection, user_id: &UserId, enabled: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set(users::mfa_enabled.eq(enabled))
        .execute(conn)
}

/// Replaces the user's recovery codes with `hashes`. Run it in a transaction.
pub fn replace_recovery_codes(
    conn: &mut DbConnection,
    user_id: &UserId,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    // One row at a time: batch inserts do not reach `MultiBackend`.
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Spends the user's recovery code whose hash is `hash`: deletes it; `true`
/// when it was there (of parallel spends of one code, one deletes it).
pub fn spend_recovery_code(
    conn: &mut DbConnection,
    user_id: &UserId,
    hash: &str,
) -> QueryResult<bool> {
    let deleted = diesel::delete(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(hash)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// Whether the user has the recovery code whose hash is `hash`.
pub fn has_recovery_code(
    conn: &mut DbConnection,
    user_id: &UserId,
    hash: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(hash)),
    ))
    .get_result(conn)
}

/// A login waiting for its second step.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mfa_challenges)]
pub struct ChallengeRow {
    /// Whose password was right.
    pub user_id: UserId,
    /// Their token version then: a change since (a password change, a
    /// sign-out everywhere) ends the challenge.
    pub token_version: i64,
    /// When it stops working.
    pub expires_at: NaiveDateTime,
}

/// Stores a challenge whose token hashes to `hash`.
pub fn issue_challenge(
    conn: &mut DbConnection,
    hash: &str,
    user_id: &UserId,
    version: i64,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(mfa_challenges::table)
        .values((
            mfa_challenges::token_hash.eq(hash),
            mfa_challenges::user_id.eq(user_id),
            mfa_challenges::token_version.eq(version),
            mfa_challenges::created_at.eq(now),
            mfa_challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The unexpired challenge whose token hashes to `hash`, without spending it.
pub fn find_challenge(
    conn: &mut DbConnection,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<ChallengeRow>> {
    mfa_challenges::table
        .find(hash)
        .filter(mfa_challenges::expires_at.gt(now))
        .select(ChallengeRow::as_select())
        .get_result(conn)
        .optional()
}

/// Spends the challenge whose token hashes to `hash`, if it is unexpired at
/// `now`: `true` when this call deleted it (of parallel finishes, one does).
pub fn spend_challenge(
    conn: &mut DbConnection,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let live = mfa_challenges::table
        .filter(mfa_challenges::token_hash.eq(hash))
        .filter(mfa_challenges::expires_at.gt(now));
    Ok(diesel::delete(live).execute(conn)? == 1)
}

/// Deletes challenges that expired before `cutoff`, at most `batch`; returns how many.
pub fn purge_challenges(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    let expired = mfa_challenges::table
        .filter(mfa_challenges::expires_at.lt(cutoff))
        .select(mfa_challenges::token_hash)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(mfa_challenges::table.filter(mfa_challenges::token_hash.eq_any(&expired)))
        .execute(conn)
}
