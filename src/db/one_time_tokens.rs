//! The `one_time_tokens` table: the links mails carry (password reset, email
//! verification, email change). Only a SHA-256 of each token is stored; a
//! user has at most one live token per purpose (issuing one deletes the
//! older); spending one deletes it, so of parallel confirms exactly one finds
//! the row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::one_time_tokens;
use super::{DbConnection, UserId};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A password reset.
    Reset,
    /// Proving the account's address.
    Verify,
    /// Moving the account to a new address.
    EmailChange,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Verify => "verify",
            Self::EmailChange => "email_change",
        }
    }
}

/// A token as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = one_time_tokens)]
pub struct TokenRow {
    /// The user it acts for.
    pub user_id: UserId,
    /// The address it is about.
    pub email: String,
    /// When it was issued.
    pub created_at: NaiveDateTime,
    /// When it stops working.
    pub expires_at: NaiveDateTime,
}

/// Stores the token whose hash is `hash`, replacing the user's earlier token
/// of `purpose`.
pub fn issue(
    conn: &mut DbConnection,
    hash: &str,
    user_id: &UserId,
    purpose: Purpose,
    email: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    // One statement: two requests at once for one user and purpose both
    // end in a row (the later one's), never in a unique violation. (Diesel's
    // upsert builder does not reach `MultiBackend`; this SQL is the same on
    // both backends.)
    diesel::sql_query(
        "INSERT INTO one_time_tokens (token_hash, user_id, purpose, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = excluded.token_hash, \
         email = excluded.email, created_at = excluded.created_at, expires_at = excluded.expires_at",
    )
    .bind::<diesel::sql_types::Text, _>(hash)
    .bind::<diesel::sql_types::Text, _>(user_id.to_string())
    .bind::<diesel::sql_types::Text, _>(purpose.as_str())
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<diesel::sql_types::Timestamp, _>(now)
    .bind::<diesel::sql_types::Timestamp, _>(expires_at)
    .execute(conn)?;
    Ok(())
}

/// Deletes every live link of `user_id`: a password change or reset, a
/// sign-out everywhere, disabling — whatever bumps the token version — also
/// ends the links mailed before it (a pending email change among them).
pub fn revoke_all(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<usize> {
    use one_time_tokens::dsl;
    diesel::delete(dsl::one_time_tokens.filter(dsl::user_id.eq(user_id))).execute(conn)
}

/// When the user's live token of `purpose` was issued, if there is one.
pub fn issued_at(
    conn: &mut DbConnection,
    user_id: &UserId,
    purpose: Purpose,
) -> QueryResult<Option<NaiveDateTime>> {
    use one_time_tokens::dsl;
    dsl::one_time_tokens
        .filter(dsl::user_id.eq(user_id))
        .filter(dsl::purpose.eq(purpose.as_str()))
        .select(dsl::created_at)
        .get_result(conn)
        .optional()
}

/// The unexpired token of `purpose` whose hash is `hash`, without spending it.
pub fn find(
    conn: &mut DbConnection,
    hash: &str,
    purpose: Purpose,
    now: NaiveDateTime,
) -> QueryResult<Option<TokenRow>> {
    use one_time_tokens::dsl;
    dsl::one_time_tokens
        .find(hash)
        .filter(dsl::purpose.eq(purpose.as_str()))
        .filter(dsl::expires_at.gt(now))
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()
}

/// Spends the token of `purpose` whose hash is `hash`: deletes it and
/// returns it if it was still unexpired. Of concurrent calls with one token,
/// one deletes the row (the others' deletes, waiting on its lock or after
/// SQLite's writer, find it gone and return `None`). Run it in a transaction.
pub fn spend(
    conn: &mut DbConnection,
    hash: &str,
    purpose: Purpose,
    now: NaiveDateTime,
) -> QueryResult<Option<TokenRow>> {
    use one_time_tokens::dsl;
    let row = dsl::one_time_tokens
        .find(hash)
        .filter(dsl::purpose.eq(purpose.as_str()));
    let Some(found) = row
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if diesel::delete(row).execute(conn)? != 1 {
        return Ok(None);
    }
    Ok(Some(found).filter(|token| token.expires_at > now))
}

/// Deletes tokens that expired before `cutoff`, at most `batch`; returns how many.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    use one_time_tokens::dsl;
    let expired = dsl::one_time_tokens
        .filter(dsl::expires_at.lt(cutoff))
        .select(dsl::token_hash)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(dsl::one_time_tokens.filter(dsl::token_hash.eq_any(&expired))).execute(conn)
}
