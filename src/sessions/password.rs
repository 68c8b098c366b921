//! The password change: check the new password against the whole policy
//! (breached-password lists included), verify the current password, hash the
//! new one, then in one transaction store it, revoke every other session of
//! the user, and re-key the caller's session so its earlier refresh tokens are
//! spent.

use diesel::Connection;
use secrecy::SecretString;

use super::SessionError;
use super::mfa::{Stage, rekey_caller};
use super::{AuthUser, Issued, Sessions};
use crate::api::PasswordChange;
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::mail::Letter;
use crate::mfa::Proof;
use crate::tokens::Amr;

impl Sessions {
    /// Changes the caller's password: every other session dies, the caller's
    /// session is re-keyed and gets fresh tokens, and its device cookie
    /// (`device`, what the client sent) is renewed at the new token version —
    /// which every other device cookie of the account no longer matches. A
    /// wrong current password changes nothing. A user with a second factor
    /// also gives a code (or a recovery code), judged under the lockout: a
    /// stolen access token and the password alone do not get a new session.
    pub async fn change_password(
        &self,
        caller: AuthUser,
        change: PasswordChange,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        self.hasher.check_new(change.new_password.expose()).await?;
        let current = change.current_password.into_secret();
        let user = self.check_current_password(&caller, current).await?;
        let devices = self.devices(device);
        let proven = match (user.mfa_enabled, change.code) {
            (false, _) => None,
            (true, None) => return Err(SessionError::InvalidCode),
            (true, Some(code)) => {
                let proof = Proof::either(code.into_secret());
                let proven = self
                    .prove(&caller, &proof, Stage::Confirmed, &devices, &client)
                    .await?;
                Some(proven)
            }
        };
        let new_hash = self.hasher.hash(change.new_password.into_secret()).await?;
        let (policy, who, mailer) = (self.policy, caller.clone(), self.mailer.clone());
        let (user, version, generation, ends_at, amr, proven) = self
            .revoking(move |conn, revocations| {
                let (id, sid) = (&who.user.id, &who.session_id);
                conn.transaction(|conn| {
                    let now = revocations.now();
                    if let Some(proven) = &proven {
                        proven.settle(conn, &client)?;
                    }
                    UserRow::set_password_hash(conn, id, &new_hash, now)?;
                    let event = client
                        .event(AuditKind::PasswordChanged)
                        .user(id)
                        .session(sid);
                    let (version, generation) =
                        rekey_caller(conn, revocations, &who, AuditKind::PasswordChanged)?;
                    event.insert(conn)?;
                    let session = SessionRow::find(conn, sid)?.ok_or(SessionError::InvalidToken)?;
                    let user = UserRow::find(conn, id)?.ok_or(SessionError::InvalidToken)?;
                    if let Some(mailer) = &mailer {
                        mailer.post(
                            conn,
                            &user.email,
                            &Letter::PasswordChanged { at: now },
                            now,
                        )?;
                    }
                    let ends_at = policy.ends_at(&session);
                    let amr = session.amr;
                    Ok::<_, SessionError>((user, version, generation, ends_at, amr, proven))
                })
            })
            .await?;
        if let Some(proven) = proven {
            proven.settled();
        }
        self.wake_mail();
        let device = self.device_cookie(&devices, &user.id, version);
        let amr = Amr::from_stored(&amr);
        let mut issued = self.issue(user, &caller.session_id, generation, version, ends_at, amr)?;
        issued.device = Some(device);
        Ok(issued)
    }
}

impl Sessions {
    /// The caller's account, once `password` is proved to be its current
    /// password (`WrongCurrentPassword` otherwise).
    pub(super) async fn check_current_password(
        &self,
        caller: &AuthUser,
        password: SecretString,
    ) -> Result<UserRow, SessionError> {
        let id = caller.user.id.clone();
        let user = self
            .db
            .run(move |conn| Ok::<_, SessionError>(UserRow::find(conn, &id)?))
            .await?
            .ok_or(SessionError::InvalidToken)?;
        if self
            .hasher
            .verify(password, user.password_hash.clone())
            .await?
        {
            Ok(user)
        } else {
            Err(SessionError::WrongCurrentPassword)
        }
    }
}
