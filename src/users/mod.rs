//! Accounts: creating users, listing them, changing their role or state
//! (`mod.rs`), and making sure an admin exists (`admin.rs`, for start-up and
//! `wristband create-admin`). What a change does to the user's sessions goes
//! through the one revocation path, `Sessions::revoking`.

mod admin;

pub use admin::{AdminSetup, setup_admin};

use diesel::Connection;

use crate::api::{Password, User};
use crate::auth::password::Hasher;
use crate::auth::{ClientInfo, CredentialError, email};
use crate::db::audit::AuditKind;
use crate::db::one_time_tokens::Purpose;
use crate::db::users::{NewUser, UserRow};
use crate::db::{self, Database, DbConnection, Role, UserId};
use crate::mail::Mailer;
use crate::sessions::{AuthUser, SessionError, Sessions};

/// Why an account flow did not go through. The HTTP edge
/// (`routes/errors.rs`) turns it into the documented errors.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A role other than `user` or `admin`.
    #[error("no such role")]
    InvalidRole,
    /// The normalised email has an account already.
    #[error("email taken")]
    EmailTaken,
    /// No such user.
    #[error("not found")]
    NotFound,
    /// The change would leave no enabled admin.
    #[error("the change would leave no enabled admin")]
    LastAdmin,
    /// Creating the admin kept racing another instance doing the same.
    #[error("the admin account kept changing under the set-up")]
    Contended,
    /// A credential was refused or could not be checked.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The session rules refused (or could not run).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The database failed.
    #[error("the database failed")]
    Store(#[from] db::DbError),
}

impl From<diesel::result::Error> for UserError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(db::DbError::Query(error))
    }
}

/// `user` or `admin`.
pub fn parse_role(role: &str) -> Result<Role, UserError> {
    role.parse().map_err(|_| UserError::InvalidRole)
}

/// What a new account's address starts as.
#[derive(Debug, Clone)]
pub enum Address {
    /// Verified: whoever creates the account vouches for it (the start-up
    /// admin, `create-admin`, test mode's users).
    Vouched,
    /// Unverified, and nothing is sent (mail is off).
    Unverified,
    /// Unverified, and a verification link goes to it in the transaction
    /// that creates the account.
    SendLink(Mailer),
}

/// Inserts a user whose password is already hashed, with its audit event;
/// `EmailTaken` if the normalised email exists.
fn insert_user(
    conn: &mut DbConnection,
    email: &str,
    hash: &str,
    role: Role,
    verified: bool,
    client: &ClientInfo,
    actor: Option<&UserId>,
) -> Result<UserRow, UserError> {
    let (id, now) = (UserId::new(), client.now);
    let new = NewUser {
        id: &id,
        email,
        password_hash: hash,
        role: role.as_str(),
        disabled: false,
        email_verified: verified,
        created_at: now,
        updated_at: now,
    };
    let mut event = client.event(AuditKind::UserCreated).user(&id);
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    new.insert(conn, &event).map_err(|e| {
        if db::is_unique_violation(&e) {
            UserError::EmailTaken
        } else {
            e.into()
        }
    })
}

/// An account to create.
#[derive(Debug)]
pub struct NewAccount {
    /// The email as typed.
    pub email: String,
    /// The password, checked against the policy.
    pub password: Password,
    /// `user` or `admin`.
    pub role: Role,
    /// What the address starts as.
    pub address: Address,
}

/// Creates `account` (registration, or an admin's request when `actor` is
/// set).
pub async fn create_user(
    db: &Database,
    hasher: &Hasher,
    account: NewAccount,
    client: ClientInfo,
    actor: Option<UserId>,
) -> Result<User, UserError> {
    let NewAccount {
        email,
        password,
        role,
        address,
    } = account;
    let email = email::normalize(&email)?;
    hasher.check_new(password.expose()).await?;
    let hash = hasher.hash(password.into_secret()).await?;
    let mailer = match &address {
        Address::SendLink(mailer) => Some(mailer.clone()),
        _ => None,
    };
    let verified = matches!(address, Address::Vouched);
    let user = db
        .write(move |conn| {
            conn.transaction(|conn| {
                let user =
                    insert_user(conn, &email, &hash, role, verified, &client, actor.as_ref())?;
                if let Some(mailer) = &mailer {
                    mailer.send_link(conn, Purpose::Verify, &user.id, &user.email, client.now)?;
                    client
                        .event(AuditKind::EmailVerificationSent)
                        .user(&user.id)
                        .insert(conn)?;
                }
                Ok::<_, UserError>(user)
            })
        })
        .await?;
    if let Address::SendLink(mailer) = address {
        mailer.wake();
    }
    Ok(user.into())
}

/// The user with this id, or 404.
pub async fn get_user(db: &Database, id: UserId) -> Result<User, UserError> {
    let user = db
        .run(move |conn| Ok::<_, UserError>(UserRow::find(conn, &id)?))
        .await?;
    Ok(user.ok_or(UserError::NotFound)?.into())
}

/// A page of users whose email contains `email`, and how many there are in all.
pub async fn list_users(
    db: &Database,
    email: Option<String>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), UserError> {
    db.run(move |conn| {
        let filter = email.as_deref().map(str::to_lowercase);
        let users = UserRow::list(conn, filter.as_deref(), limit, offset)?;
        let total = UserRow::count(conn, filter.as_deref())?;
        Ok((users.into_iter().map(User::from).collect(), total))
    })
    .await
}

/// Sets `role` and/or `disabled`. Any actual change bumps the user's token
/// version and revokes all their sessions, in the same transaction as the
/// change and its `user_updated` event; a change that would leave no enabled
/// admin is `LastAdmin`, and nothing changes.
pub async fn update_user(
    sessions: &Sessions,
    id: UserId,
    role: Option<Role>,
    disabled: Option<bool>,
    actor: &AuthUser,
    client: ClientInfo,
) -> Result<User, UserError> {
    let actor_id = actor.user.id.clone();
    let user = sessions
        .revoking(move |conn, revocations| {
            let user = UserRow::find(conn, &id)?.ok_or(UserError::NotFound)?;
            // Write only what the request changes, so two admins changing
            // different fields at once do not undo each other.
            let role = role.filter(|r| *r != user.role);
            let disabled = disabled.filter(|d| *d != user.disabled);
            if role.is_none() && disabled.is_none() {
                return Ok(user);
            }
            conn.transaction(|conn| {
                let now = revocations.now();
                admin::keeping_an_enabled_admin(conn, |conn| {
                    if let Some(role) = role {
                        UserRow::set_role(conn, &id, role, now)?;
                    }
                    if let Some(disabled) = disabled {
                        UserRow::set_disabled(conn, &id, disabled, now)?;
                    }
                    Ok(())
                })?;
                let event = client
                    .event(AuditKind::UserUpdated)
                    .user(&id)
                    .actor(&actor_id);
                revocations.all_for_user_audited(conn, &id, None, event)?;
                UserRow::find(conn, &id)?.ok_or(UserError::NotFound)
            })
        })
        .await?;
    Ok(user.into())
}
