//! Making sure an admin exists: `WRISTBAND_ADMIN_EMAIL` at start-up and
//! `wristband create-admin` ([`setup_admin`]; it runs before the server and
//! its liveness cache exist, so its revocations need no cache to forget
//! them), and that an admin's change of a user never leaves no enabled admin
//! ([`keeping_an_enabled_admin`]). Blocking (bcrypt and Diesel): call them
//! off the async workers.

use diesel::prelude::*;
use secrecy::ExposeSecret;

use super::{UserError, insert_user};
use crate::auth::{ClientInfo, email, password};
use crate::clock::Clock;
use crate::db::audit::AuditKind;
use crate::db::schema::users;
use crate::db::users::UserRow;
use crate::db::{DbConnection, Role};
use crate::sessions::Revocations;

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

/// Makes sure `email` is an admin.
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
) -> Result<AdminSetup, UserError> {
    let email = email::normalize(email)?;
    password::check_policy(password)?;
    let client = ClientInfo::at(Clock::system().now());
    // Two instances may start at once: a lost insert race means the user now
    // exists, and the second pass takes the existing-user path.
    for _ in 0..2 {
        let Some(user) = UserRow::find_by_email(conn, &email)? else {
            let hash = password::hash(password, cost)?;
            match insert_user(conn, &email, &hash, Role::Admin, true, &client, None) {
                Ok(_) => return Ok(AdminSetup::Created),
                Err(UserError::EmailTaken) => continue,
                Err(e) => return Err(e),
            }
        };
        if !reset && user.role == Role::Admin {
            return Ok(AdminSetup::Unchanged);
        }
        if !reset && !password::verify(password, user.password_hash.expose_secret()) {
            return Ok(AdminSetup::Refused);
        }
        let hash = if reset {
            Some(password::hash(password, cost)?)
        } else {
            None
        };
        let mut revocations = Revocations::at(client.now);
        conn.transaction(|conn| {
            let now = client.now;
            UserRow::set_role(conn, &user.id, Role::Admin, now)?;
            if let Some(hash) = &hash {
                UserRow::set_disabled(conn, &user.id, false, now)?;
                UserRow::set_password_hash(conn, &user.id, hash, now)?;
                // The operator vouches for the address (so
                // WRISTBAND_REQUIRE_VERIFIED_EMAIL cannot lock them out).
                UserRow::set_verified(conn, &user.id, now)?;
                // An operator who resets the password expects to sign in
                // with it now, whatever was tried before.
                crate::db::login_failures::clear(conn, &email)?;
            }
            let event = client.event(AuditKind::UserUpdated).user(&user.id);
            revocations.all_for_user_audited(conn, &user.id, None, event)
        })?;
        return Ok(if reset {
            AdminSetup::Reset
        } else {
            AdminSetup::Promoted
        });
    }
    Err(UserError::Contended)
}

/// Runs `change` (a change of a user's role or disabled state, inside the
/// caller's transaction) and answers `LastAdmin` if no enabled admin is left
/// after it, so that the caller's transaction rolls the change back.
///
/// The enabled admins' rows are locked first, by an `UPDATE` that changes
/// nothing (portable, where `SELECT … FOR UPDATE` is not): on PostgreSQL two
/// admins demoting each other at once are then serialised, and the second
/// counts after the first has committed; SQLite has one writer anyway.
pub(super) fn keeping_an_enabled_admin<T>(
    conn: &mut DbConnection,
    change: impl FnOnce(&mut DbConnection) -> Result<T, UserError>,
) -> Result<T, UserError> {
    let enabled_admins = || {
        users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .filter(users::disabled.eq(false))
    };
    diesel::update(enabled_admins())
        .set(users::updated_at.eq(users::updated_at))
        .execute(conn)?;
    let changed = change(conn)?;
    let left: i64 = enabled_admins().count().get_result(conn)?;
    if left == 0 {
        return Err(UserError::LastAdmin);
    }
    Ok(changed)
}
