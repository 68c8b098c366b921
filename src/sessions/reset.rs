//! A password reset from a mailed link (`POST /auth/password-reset/confirm`):
//! check the new password against the whole policy, make sure the link is
//! live before spending bcrypt on it, hash, then in one transaction spend the
//! link (of parallel confirms exactly one finds it), store the password, bump
//! the token version (every session and access token of the user dies), lift
//! every lockout of the address, mark it verified, open a session for the
//! caller — whose browser becomes a known device of the account — and tell
//! the address that its password changed.

use diesel::Connection;

use super::login::insert_session;
use super::{Issued, SessionError, Sessions};
use crate::api::Password;
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::login_failures;
use crate::db::one_time_tokens::{self, Purpose};
use crate::db::users::UserRow;
use crate::db::{SessionId, UserId};
use crate::mail::{Letter, token_hash};

impl Sessions {
    /// Resets the password with the link's `token` and signs the caller in;
    /// `device` is the device cookie the client sent. A weak password leaves
    /// the link unspent.
    pub async fn reset_password(
        &self,
        token: String,
        new_password: Password,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        self.hasher.check_new(new_password.expose()).await?;
        let hash = token_hash(&token);
        let (peek, now) = (hash.clone(), client.now);
        let live = self
            .db
            .run(move |conn| {
                Ok::<_, SessionError>(one_time_tokens::find(conn, &peek, Purpose::Reset, now)?)
            })
            .await?;
        if live.is_none() {
            return Err(SessionError::InvalidLink);
        }
        let new_hash = self.hasher.hash(new_password.into_secret()).await?;
        let (session_id, max_age) = (SessionId::new(), self.policy.max_age);
        let mailer = self.mailer.clone();
        let sid = session_id.clone();
        let (user, version, expires_at) = self
            .revoking(move |conn, revocations| {
                conn.transaction(|conn| {
                    let now = revocations.now();
                    let spent = one_time_tokens::spend(conn, &hash, Purpose::Reset, now)?
                        .ok_or(SessionError::InvalidLink)?;
                    let user = UserRow::find(conn, &spent.user_id)?
                        .filter(|user| !user.disabled && user.email == spent.email)
                        .ok_or(SessionError::InvalidLink)?;
                    let id: &UserId = &user.id;
                    UserRow::set_password_hash(conn, id, &new_hash, now)?;
                    UserRow::set_verified(conn, id, now)?;
                    login_failures::clear(conn, &user.email)?;
                    let event = client.event(AuditKind::PasswordReset).user(id);
                    let version = revocations.all_for_user_audited(conn, id, None, event)?;
                    let expires_at =
                        insert_session(conn, &sid, id, version, now, max_age, &client)?;
                    let user = UserRow::find(conn, id)?.ok_or(SessionError::InvalidLink)?;
                    if let Some(mailer) = &mailer {
                        mailer.post(
                            conn,
                            &user.email,
                            &Letter::PasswordChanged { at: now },
                            now,
                        )?;
                    }
                    Ok::<_, SessionError>((user, version, expires_at))
                })
            })
            .await?;
        if let Some(mailer) = &self.mailer {
            mailer.wake();
        }
        let ends_at = expires_at.min(now + self.policy.idle_ttl);
        let device = self.device_cookie(&self.devices(device), &user.id, version);
        let mut issued = self.issue(user, &session_id, 1, version, ends_at)?;
        issued.device = Some(device);
        Ok(issued)
    }
}
