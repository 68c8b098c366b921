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
    let user = new.insert(conn)?;
    let mut event = NewAuditEvent::new(AuditKind::UserCreated, client).user(&id);
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    event.insert(conn)?;
    Ok(user)
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
            let (role, disabled) = (
                role.unwrap_or(&user.role).to_owned(),
                disabled.unwrap_or(user.disabled),
            );
            if role == user.role && disabled == user.disabled {
                return Ok(user);
            }
            diesel::Connection::transaction(conn, |conn| {
                UserRow::set_role_and_state(conn, &target, &role, disabled, db::now())?;
                let event = NewAuditEvent::new(AuditKind::UserUpdated, &client)
                    .user(&target)
                    .actor(&actor_id);
                revoke_all_for_user(conn, &target, None, event)?;
                UserRow::find(conn, &target)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    state.liveness.forget_user(&user_id);
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
}

/// Makes sure `email` is an admin. Blocking (bcrypt and Diesel): call it off
/// the async workers.
///
/// With `reset = false` (start-up from `WRISTBAND_ADMIN_EMAIL`) an existing
/// account is only promoted: its password and disabled state are left alone,
/// so restarts never undo a password change or an admin's decision. With
/// `reset = true` (`wristband create-admin`, the way back in) the password is
/// set and the account enabled as well.
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
        let hash = if reset {
            Some(password::hash(password, cost)?)
        } else {
            None
        };
        diesel::Connection::transaction(conn, |conn| {
            let now = db::now();
            let disabled = if reset { false } else { user.disabled };
            UserRow::set_role_and_state(conn, &user.id, ROLE_ADMIN, disabled, now)?;
            if let Some(hash) = &hash {
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
