//! The `signing_keys` table: the access-token keyring. Rows are only ever
//! inserted and retired (never un-retired or changed otherwise); what a key
//! means is `tokens/keys.rs`'s business.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use secrecy::SecretString;

use super::DbConnection;
use super::schema::signing_keys;

/// A stored key. `Debug` redacts the material.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    /// The key id tokens name in their header.
    pub kid: String,
    /// `HS256` or `EdDSA`.
    pub algorithm: String,
    /// The HS256 secret text, or the base64url Ed25519 seed.
    #[diesel(deserialize_as = String)]
    pub material: SecretString,
    /// When it was made.
    pub created_at: NaiveDateTime,
    /// When a newer key replaced it.
    pub retired_at: Option<NaiveDateTime>,
}

/// A key to store.
#[derive(Insertable)]
#[diesel(table_name = signing_keys)]
pub struct NewSigningKey<'a> {
    /// See [`SigningKeyRow`].
    pub kid: &'a str,
    /// See [`SigningKeyRow`].
    pub algorithm: &'a str,
    /// See [`SigningKeyRow`].
    pub material: &'a str,
    /// See [`SigningKeyRow`].
    pub created_at: NaiveDateTime,
}

impl NewSigningKey<'_> {
    /// Stores the key (not retired).
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(signing_keys::table)
            .values(self)
            .execute(conn)
    }
}

impl SigningKeyRow {
    /// The keys not retired, or retired after `retired_after`; newest first.
    pub fn usable(conn: &mut DbConnection, retired_after: NaiveDateTime) -> QueryResult<Vec<Self>> {
        signing_keys::table
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(retired_after)),
            )
            .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
            .select(Self::as_select())
            .load(conn)
    }

    /// Whether any key was ever stored.
    pub fn any(conn: &mut DbConnection) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            signing_keys::table.select(signing_keys::kid),
        ))
        .get_result(conn)
    }

    /// Retires every key that is not retired yet; returns how many.
    pub fn retire_all(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(signing_keys::table.filter(signing_keys::retired_at.is_null()))
            .set(signing_keys::retired_at.eq(now))
            .execute(conn)
    }
}
