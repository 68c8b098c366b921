//! The passkey tables: `passkeys` (a user's registered credentials, as
//! webauthn-rs keeps them) and `webauthn_ceremonies` (the server-side state of
//! each registration or login in progress, single use, short-lived).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{passkeys, webauthn_ceremonies};
use super::{DbConnection, UserId};

/// A passkey as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    /// Its id (a UUID), for the API.
    pub id: String,
    /// Whose.
    pub user_id: UserId,
    /// The credential id, base64url.
    pub credential_id: String,
    /// What the user calls it.
    pub name: String,
    /// The credential as webauthn-rs keeps it (JSON: public key, counter).
    pub credential: String,
    /// When it was registered.
    pub created_at: NaiveDateTime,
    /// When it last signed in.
    pub last_used_at: Option<NaiveDateTime>,
}

/// A passkey to store.
#[derive(Insertable)]
#[diesel(table_name = passkeys)]
pub struct NewPasskey<'a> {
    /// A fresh UUID.
    pub id: &'a str,
    /// Whose.
    pub user_id: &'a UserId,
    /// The credential id, base64url.
    pub credential_id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// The credential (JSON).
    pub credential: &'a str,
    /// Now.
    pub created_at: NaiveDateTime,
}

impl NewPasskey<'_> {
    /// Stores it; `false` when the credential id is registered already (to
    /// anyone, a concurrent registration included).
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<bool> {
        use diesel::result::{DatabaseErrorKind, Error};
        let taken: bool = diesel::select(diesel::dsl::exists(
            passkeys::table.filter(passkeys::credential_id.eq(self.credential_id)),
        ))
        .get_result(conn)?;
        if taken {
            return Ok(false);
        }
        match diesel::insert_into(passkeys::table)
            .values(self)
            .execute(conn)
        {
            Ok(_) => Ok(true),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl PasskeyRow {
    /// The user's passkeys, oldest first.
    pub fn list(conn: &mut DbConnection, user_id: &UserId) -> QueryResult<Vec<Self>> {
        passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .select(Self::as_select())
            .load(conn)
    }

    /// The passkey `id` of `user_id`.
    pub fn find(conn: &mut DbConnection, user_id: &UserId, id: &str) -> QueryResult<Option<Self>> {
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::user_id.eq(user_id))
            .select(Self::as_select())
            .get_result(conn)
            .optional()
    }

    /// The passkey with this credential id (base64url), whoever's.
    pub fn by_credential(
        conn: &mut DbConnection,
        credential_id: &str,
    ) -> QueryResult<Option<Self>> {
        passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(Self::as_select())
            .get_result(conn)
            .optional()
    }

    /// Renames the passkey `id` of `user_id`; whether it was there.
    pub fn rename(
        conn: &mut DbConnection,
        user_id: &UserId,
        id: &str,
        name: &str,
    ) -> QueryResult<bool> {
        let updated = diesel::update(
            passkeys::table
                .filter(passkeys::id.eq(id))
                .filter(passkeys::user_id.eq(user_id)),
        )
        .set(passkeys::name.eq(name))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// Removes the passkey `id` of `user_id`; whether it was there.
    pub fn remove(conn: &mut DbConnection, user_id: &UserId, id: &str) -> QueryResult<bool> {
        let deleted = diesel::delete(
            passkeys::table
                .filter(passkeys::id.eq(id))
                .filter(passkeys::user_id.eq(user_id)),
        )
        .execute(conn)?;
        Ok(deleted == 1)
    }

    /// Records a sign-in with the passkey `id`: its credential as updated
    /// (the counter) and when — only if it is still stored as `before`
    /// (a compare-and-swap: of two sign-ins at once, the one that read an
    /// older counter cannot write it back); whether it was.
    pub fn used(
        conn: &mut DbConnection,
        id: &str,
        before: &str,
        credential: &str,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let row = passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::credential.eq(before));
        let updated = diesel::update(row)
            .set((
                passkeys::credential.eq(credential),
                passkeys::last_used_at.eq(now),
            ))
            .execute(conn)?;
        Ok(updated == 1)
    }
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Registering a passkey.
    Register,
    /// Signing in with one.
    Login,
    /// A sign-in started with an email that has no passkey (or no
    /// account): it looks like a `Login`, but nothing finishes it.
    Decoy,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::Decoy => "decoy",
        }
    }
}

/// A ceremony's stored state.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct CeremonyRow {
    /// The user it is bound to, if any.
    pub user_id: Option<UserId>,
    /// webauthn-rs's state (JSON).
    pub state: String,
    /// When it stops working.
    pub expires_at: NaiveDateTime,
}

/// Stores a ceremony whose id hashes to `hash`.
pub fn begin(
    conn: &mut DbConnection,
    hash: &str,
    kind: Ceremony,
    user_id: Option<&UserId>,
    state: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(webauthn_ceremonies::table)
        .values((
            webauthn_ceremonies::id_hash.eq(hash),
            webauthn_ceremonies::kind.eq(kind.as_str()),
            webauthn_ceremonies::user_id.eq(user_id),
            webauthn_ceremonies::state.eq(state),
            webauthn_ceremonies::created_at.eq(now),
            webauthn_ceremonies::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes the ceremony of `kind` whose id hashes to `hash`: deletes it and
/// returns it if it was unexpired at `now`. Of parallel finishes, one gets
/// it; a finished (or failed) ceremony is gone.
pub fn take(
    conn: &mut DbConnection,
    hash: &str,
    kind: Ceremony,
    now: NaiveDateTime,
) -> QueryResult<Option<CeremonyRow>> {
    let row = webauthn_ceremonies::table
        .filter(webauthn_ceremonies::id_hash.eq(hash))
        .filter(webauthn_ceremonies::kind.eq(kind.as_str()));
    let Some(found) = row
        .select(CeremonyRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if diesel::delete(row).execute(conn)? != 1 {
        return Ok(None);
    }
    Ok(Some(found).filter(|ceremony| ceremony.expires_at > now))
}

/// Deletes ceremonies that expired before `cutoff`, at most `batch`; returns how many.
pub fn purge_ceremonies(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    let expired = webauthn_ceremonies::table
        .filter(webauthn_ceremonies::expires_at.lt(cutoff))
        .select(webauthn_ceremonies::id_hash)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::id_hash.eq_any(&expired)))
        .execute(conn)
}
