//! A password reset from a mailed link (`POST /auth/password-reset/confirm`):
//! check the new password against the whole policy, make sure the link is
//! live before spending bcrypt on it, hash, then in one transaction spend the
//! link (of parallel confirms exactly one finds it), store the password, bump
//! the token version (every session and access token of the user dies), lift
//! every lockout of the address, mark it verified, open a session for the
//! caller — whose browser becomes a known device of the account — and tell
//! the address that its password changed. A user with a second factor is not
//! signed in by a mailed link: the answer is the login's second step.

use diesel::Connection;

use super::login::{NewLogin, insert_session};
use super::{SessionError, Sessions, SignIn};
use crate::api::Password;
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::login_failures;
use crate::db::one_time_tokens::{self, Purpose};
use crate::db::users::UserRow;
use crate::db::{SessionId, UserId};
use crate::mail::{Letter, token_hash};
use crate::tokens::Amr;

impl Sessions {
    /// Resets the password with the link's `token` and signs the caller in
    /// (or, for a user with a second factor, leaves the login's second step);
    /// `device` is the device cookie the client sent. A weak password leaves
    /// the link unspent.
    pub async fn reset_password(
        &self,
        token: String,
        new_password: Password,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<SignIn, SessionError> {
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
        let (user, version, opened) = self
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
                    if !user.mfa_enabled {
                        // With a second factor, the lockout also guards the
                        // codes: a mailbox alone must not buy fresh guesses.
                        login_failures::clear(conn, &user.email)?;
                    }
                    let event = client.event(AuditKind::PasswordReset).user(id);
                    let version = revocations.all_for_user_audited(conn, id, None, event)?;
                    let opened = if user.mfa_enabled {
                        Err(Self::challenge(conn, id, version, now)?)
                    } else {
                        let new = NewLogin {
                            version,
                            now,
                            max_age,
                            amr: Amr::Password,
                        };
                        Ok(insert_session(conn, &sid, id, new, &client)?)
                    };
                    let user = UserRow::find(conn, id)?.ok_or(SessionError::InvalidLink)?;
                    if let Some(mailer) = &mailer {
                        mailer.post(
                            conn,
                            &user.email,
                            &Letter::PasswordChanged { at: now },
                            now,
                        )?;
                    }
                    Ok::<_, SessionError>((user, version, opened))
                })
            })
            .await?;
        self.wake_mail();
        let expires_at = match opened {
            Ok(expires_at) => expires_at,
            Err(challenge) => return Ok(SignIn::MfaRequired(challenge)),
        };
        let ends_at = expires_at.min(now + self.policy.idle_ttl);
        let device = self.device_cookie(&self.devices(device), &user.id, version);
        let mut issued = self.issue(user, &session_id, 1, version, ends_at, Amr::Password)?;
        issued.device = Some(device);
        Ok(SignIn::Issued(Box::new(issued)))
    }
}
