//! Accounts: creating users, listing them, changing their role or state
//! (`mod.rs`), and making sure an admin exists (`admin.rs`, for start-up and
//! `wristband create-admin`). What a change does to the user's sessions goes
//! through the one revocation path, `Sessions::revoking`.

mod admin;

pub use admin::{AdminSetup, setup_admin};

use diesel::Connection;

use crate::api::{Password, User};
use crate::auth::{ClientInfo, email};
use crate::db::audit::AuditKind;
use crate::db::users::{NewUser, UserRow};
use crate::db::{self, Database, DbConnection, Role, UserId};
use crate::error::ApiError;
use crate::sessions::{AuthUser, Sessions};

/// `user` or `admin`, else 400.
pub fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse()
        .map_err(|_| ApiError::InvalidRequest("role must be \"user\" or \"admin\""))
}

/// Inserts a user whose password is already hashed, with its audit event;
/// `EmailTaken` if the normalised email exists.
fn insert_user(
    conn: &mut DbConnection,
    email: &str,
    hash: &str,
    role: Role,
    client: &ClientInfo,
    actor: Option<&UserId>,
) -> Result<UserRow, ApiError> {
    let (id, now) = (UserId::new(), client.clock.now());
    let new = NewUser {
        id: &id,
        email,
        password_hash: hash,
        role: role.as_str(),
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let mut event = client.event(AuditKind::UserCreated).user(&id);
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    new.insert(conn, &event).map_err(|e| {
        if db::is_unique_violation(&e) {
            ApiError::EmailTaken
        } else {
            e.into()
        }
    })
}

/// Creates a user (registration, or an admin's request when `actor` is set).
pub async fn create_user(
    sessions: &Sessions,
    email: &str,
    password: Password,
    role: Role,
    client: ClientInfo,
    actor: Option<UserId>,
) -> Result<User, ApiError> {
    let email = email::normalize(email)?;
    sessions.hasher().check_new(password.expose()).await?;
    let hash = sessions.hasher().hash(password.into_secret()).await?;
    sessions
        .db()
        .write(move |conn| {
            Ok(insert_user(conn, &email, &hash, role, &client, actor.as_ref())?.into())
        })
        .await
}

/// The user with this id, or 404.
pub async fn get_user(db: &Database, id: UserId) -> Result<User, ApiError> {
    let user = db
        .run(move |conn| Ok::<_, ApiError>(UserRow::find(conn, &id)?))
        .await?;
    Ok(user.ok_or(ApiError::NotFound)?.into())
}

/// A page of users whose email contains `email`, and how many there are in all.
pub async fn list_users(
    db: &Database,
    email: Option<String>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), ApiError> {
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
) -> Result<User, ApiError> {
    let actor_id = actor.user.id.clone();
    let user = sessions
        .revoking(move |conn, revocations| {
            let user = UserRow::find(conn, &id)?.ok_or(ApiError::NotFound)?;
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
                UserRow::find(conn, &id)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    Ok(user.into())
}
