//! The password change: check the new password against the whole policy
//! (breached-password lists included), verify the current password, hash the
//! new one, then in one transaction store it, revoke every other session of
//! the user, and re-key the caller's session so its earlier refresh tokens are
//! spent.

use diesel::Connection;

use super::SessionError;
use super::{AuthUser, Issued, Sessions};
use crate::api::PasswordChange;
use crate::auth::ClientInfo;
use crate::db::audit::AuditKind;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::mail::Letter;

impl Sessions {
    /// Changes the caller's password: every other session dies, the caller's
    /// session is re-keyed and gets fresh tokens, and its device cookie
    /// (`device`, what the client sent) is renewed at the new token version —
    /// which every other device cookie of the account no longer matches. A
    /// wrong current password changes nothing.
    pub async fn change_password(
        &self,
        caller: AuthUser,
        change: PasswordChange,
        device: Option<String>,
        client: ClientInfo,
    ) -> Result<Issued, SessionError> {
        self.hasher.check_new(change.new_password.expose()).await?;
        let id = caller.user.id.clone();
        let user = self
            .db
            .run(move |conn| Ok::<_, SessionError>(UserRow::find(conn, &id)?))
            .await?
            .ok_or(SessionError::InvalidToken)?;
        let current = change.current_password.into_secret();
        if !self
            .hasher
            .verify(current, user.password_hash.clone())
            .await?
        {
            return Err(SessionError::WrongCurrentPassword);
        }
        let new_hash = self.hasher.hash(change.new_password.into_secret()).await?;
        let (policy, who, mailer) = (self.policy, caller.clone(), self.mailer.clone());
        let (user, version, generation, ends_at) = self
            .revoking(move |conn, revocations| {
                let (id, sid) = (&who.user.id, &who.session_id);
                conn.transaction(|conn| {
                    let now = revocations.now();
                    UserRow::set_password_hash(conn, id, &new_hash, now)?;
                    let event = client
                        .event(AuditKind::PasswordChanged)
                        .user(id)
                        .session(sid);
                    let cause = AuditKind::PasswordChanged.as_str();
                    let version = revocations.all_for_user(conn, id, Some(sid), cause)?;
                    event.insert(conn)?;
                    if version != who.user.version + 1 {
                        // Another change (another password change, a logout-all)
                        // committed since this caller's token was checked.
                        return Err(SessionError::InvalidToken);
                    }
                    let generation = SessionRow::rekey(conn, sid, version, now)?
                        .ok_or(SessionError::InvalidToken)?;
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
                    Ok((user, version, generation, policy.ends_at(&session)))
                })
            })
            .await?;
        if let Some(mailer) = &self.mailer {
            mailer.wake();
        }
        let device = self.device_cookie(&self.devices(device), &user.id, version);
        let mut issued = self.issue(user, &caller.session_id, generation, version, ends_at)?;
        issued.device = Some(device);
        Ok(issued)
    }
}
