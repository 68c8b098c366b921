//! Accounts: creating users, changing their role or state, and making sure an
//! admin exists (start-up and `wristband create-admin`). What this does to the
//! user's sessions goes through `crate::sessions::revoke_all_for_user`.

use uuid::Uuid;

use crate::api::User;
use crate::auth::{AuthUser, ClientInfo, email, password};
use crate::db::audit::{AuditKind, NewAuditEvent};
use crate::db::users::{NewUser, UserRow};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::sessions::{blocking, revoke_all_for_user};
use crate::state::AppState;

/// The ordinary role.
pub const ROLE_USER: &str = "user";
/// The role that may use `/admin/*`.
pub const ROLE_ADMIN: &str = "admin";

/// `user` or `admin`, else 400.
pub fn parse_role(role: &str) -> Result<&'static str, ApiError> {
    match role {
        ROLE_USER => Ok(ROLE_USER),
        ROLE_ADMIN => Ok(ROLE_ADMIN),
        _ => Err(ApiError::InvalidRequest(
            "role must be \"user\" or \"admin\"",
        )),
    }
}

/// Inserts a user whose password is already hashed, with its audit event.
fn insert_user(
    conn: &mut DbConnection,
    email: &str,
    hash: &str,
    role: &'static str,
    client: &ClientInfo,
    actor: Option<&str>,
) -> Result<UserRow, ApiError> {
    let (id, now) = (Uuid::new_v4().to_string(), db::now());
    let new = NewUser {
        id: &id,
        email,
        password_hash: hash,
        role,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let mut event = NewAuditEvent::new(AuditKind::UserCreated, client).user(&id);
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    new.insert(conn, &event)
}

/// Creates a user (registration, or an admin when `actor` is set);
/// `EmailTaken` if the normalised email exists.
pub async fn create_user(
    state: &AppState,
    email: &str,
    password: String,
    role: &'static str,
    client: ClientInfo,
    actor: Option<Uuid>,
) -> Result<User, ApiError> {
    let email = email::normalize(email)?;
    password::check_policy(&password)?;
    let cost = state.config.bcrypt_cost;
    let hash = blocking(move || password::hash(&password, cost)).await??;
    let actor = actor.map(|a| a.to_string());
    state
        .db
        .run(move |conn| {
            Ok(insert_user(conn, &email, &hash, role, &client, actor.as_deref())?.into())
        })
        .await
}

/// The user with this id, or 404.
pub async fn get_user(state: &AppState, id: Uuid) -> Result<User, ApiError> {
    let id = id.to_string();
    let user = state
        .db
        .run(move |conn| Ok(UserRow::find(conn, &id)?))
        .await?;
    Ok(user.ok_or(ApiError::NotFound)?.into())
}

/// A page of users whose email contains `email`, and how many there are in all.
pub async fn list_users(
    state: &AppState,
    email: Option<String>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), ApiError> {
    state
        .db
        .run(move |conn| {
            let filter = email.as_deref().map(str::to_lowercase);
            let users = UserRow::list(conn, filter.as_deref(), limit, offset)?;
            let total = UserRow::count(conn, filter.as_deref())?;
            Ok((users.into_iter().map(User::from).collect(), total))
        })
        .await
}

/// Sets `role` and/or `disabled`. Any actual change bumps the user's token
/// version and revokes all their sessions, in the same transaction as the
/// change and its `user_updated` event.
pub async fn update_user(
    state: &AppState,
    id: Uuid,
    role: Option<&'static str>,
    disabled: Option<bool>,
    actor: &AuthUser,
    client: ClientInfo,
) -> Result<User, ApiError> {
    let (user_id, actor_id) = (id.to_string(), actor.user_id.to_string());
    let target = user_id.clone();
    let user = state
        .db
        .run(move |conn| {
            let user = UserRow::find(conn, &target)?.ok_or(ApiError::NotFound)?;
            // Write only what the request changes, so two admins changing
            // different fields at once do not undo each other.
            let role = role.filter(|r| *r != user.role);
            let disabled = disabled.filter(|d| *d != user.disabled);
            if role.is_none() && disabled.is_none() {
                return Ok(user);
            }
            diesel::Connection::transaction(conn, |conn| {
                let now = db::now();
                if let Some(role) = role {
                    UserRow::set_role(conn, &target, role, now)?;
                }
                if let Some(disabled) = disabled {
                    UserRow::set_disabled(conn, &target, disabled, now)?;
                }
                let event = NewAuditEvent::new(AuditKind::UserUpdated, &client)
                    .user(&target)
                    .actor(&actor_id);
                revoke_all_for_user(conn, &target, None, event)?;
                UserRow::find(conn, &target)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    state.liveness.forget_user(id);
    Ok(user.into())
}

/// What [`setup_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSetup {
    /// A new admin account.
    Created,
    /// An existing user became admin (their sessions were revoked).
    Promoted,
    /// An existing account got the password, admin role and enabled state
    /// (`create-admin`; its sessions were revoked).
    Reset,
    /// Already an admin: nothing changed.
    Unchanged,
    /// Not done: the account exists, is not an admin, and its password is not
    /// the configured one (it may have been registered by someone else).
    Refused,
}

/// Makes sure `email` is an admin. Blocking (bcrypt and Diesel): call it off
/// the async workers.
///
/// With `reset = false` (start-up from `WRISTBAND_ADMIN_EMAIL`) an existing
/// admin is left alone (a changed password or a disabled state sticks across
/// restarts), and an existing non-admin is promoted only if its password is
/// the configured one: with open registration anyone could have registered
/// that email first. With `reset = true` (`wristband create-admin`, the
/// operator's way back in) the password is set and the account enabled and
/// promoted whatever it was.
pub fn setup_admin(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    cost: u32,
    reset: bool,
) -> Result<AdminSetup, ApiError> {
    let email = email::normalize(email)?;
    password::check_policy(password)?;
    let client = ClientInfo::default();
    // Two instances may start at once: a lost insert race means the user now
    // exists, and the second pass takes the existing-user path.
    for _ in 0..2 {
        let Some(user) = UserRow::find_by_email(conn, &email)? else {
            let hash = password::hash(password, cost)?;
            match insert_user(conn, &email, &hash, ROLE_ADMIN, &client, None) {
                Ok(_) => return Ok(AdminSetup::Created),
                Err(ApiError::EmailTaken) => continue,
                Err(e) => return Err(e),
            }
        };
        if !reset && user.role == ROLE_ADMIN {
            return Ok(AdminSetup::Unchanged);
        }
        if !reset && !password::verify(password, &user.password_hash) {
            return Ok(AdminSetup::Refused);
        }
        let hash = if reset {
            Some(password::hash(password, cost)?)
        } else {
            None
        };
        diesel::Connection::transaction(conn, |conn| {
            let now = db::now();
            UserRow::set_role(conn, &user.id, ROLE_ADMIN, now)?;
            if let Some(hash) = &hash {
                UserRow::set_disabled(conn, &user.id, false, now)?;
                UserRow::set_password_hash(conn, &user.id, hash, now)?;
            }
            let event = NewAuditEvent::new(AuditKind::UserUpdated, &client).user(&user.id);
            revoke_all_for_user(conn, &user.id, None, event).map(|_| ())
        })?;
        return Ok(if reset {
            AdminSetup::Reset
        } else {
            AdminSetup::Promoted
        });
    }
    Err(ApiError::Unavailable)
}
