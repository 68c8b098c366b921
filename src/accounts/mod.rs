//! The account flows that go through mail: asking for a password-reset link
//! (by the user, or an admin for them), verifying the address, and moving the
//! account to a new address. Each writes its token, its mail and its audit
//! event in one transaction, then wakes the delivery worker. (Spending a reset
//! link signs the user in, so it is a session flow: `sessions/reset.rs`.)
//!
//! Enumeration: `request_reset` answers alike whether or not the address has
//! an account, and takes as long ([`RESET_FLOOR`]): the same reads happen
//! either way, and the answer waits out a fixed floor. Each address gets at
//! most one reset or verification mail a minute ([`Mailer::sent_recently`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::Connection;

use crate::api::{Password, User};
use crate::auth::password::Hasher;
use crate::auth::{ClientInfo, CredentialError, email};
use crate::db::audit::AuditKind;
use crate::db::one_time_tokens::{self, Purpose};
use crate::db::users::UserRow;
use crate::db::{self, Database, DbError, UserId};
use crate::mail::{Letter, Mailer, token_hash};

/// The least time a reset request takes, known address or not: longer than
/// its database work takes on a healthy server, so both answers leave at
/// the floor.
pub const RESET_FLOOR: Duration = Duration::from_millis(150);

/// Why an account flow did not go through. The HTTP edge
/// (`routes/errors.rs`) turns it into the documented errors.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The link's token is unknown, expired, spent or superseded.
    #[error("invalid or expired link")]
    InvalidLink,
    /// The address is verified already.
    #[error("already verified")]
    AlreadyVerified,
    /// The new address has an account.
    #[error("email taken")]
    EmailTaken,
    /// The current password given was wrong.
    #[error("wrong current password")]
    WrongPassword,
    /// No such user.
    #[error("not found")]
    NotFound,
    /// A link of this kind went out less than a minute ago; retry after
    /// this many seconds.
    #[error("too soon; retry after {0} s")]
    TooSoon(u64),
    /// A credential was refused or could not be checked.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The database failed.
    #[error("the database failed")]
    Store(#[from] DbError),
}

impl From<diesel::result::Error> for AccountError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(DbError::Query(error))
    }
}

/// The mail flows of one instance.
#[derive(Clone)]
pub struct Accounts {
    db: Database,
    mailer: Mailer,
    hasher: Arc<Hasher>,
}

impl Accounts {
    /// The flows, on these parts.
    pub fn new(db: Database, mailer: Mailer, hasher: Arc<Hasher>) -> Self {
        Self { db, mailer, hasher }
    }

    /// The mailer.
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// `POST /auth/password-reset`: a reset link to `email` if an enabled
    /// account has it and none went there in the last minute. Answers alike,
    /// after [`RESET_FLOOR`], whatever the address.
    pub async fn request_reset(&self, email: &str, client: ClientInfo) -> Result<(), AccountError> {
        let started = Instant::now();
        let sent = match email::normalize(email) {
            Ok(email) => {
                let mailer = self.mailer.clone();
                self.db
                    .write(move |conn| {
                        conn.transaction(|conn| {
                            let now = client.now;
                            let Some(user) = UserRow::find_by_email(conn, &email)? else {
                                return Ok::<_, AccountError>(false);
                            };
                            if user.disabled
                                || mailer.sent_recently(conn, Purpose::Reset, &user.id, now)?
                            {
                                return Ok(false);
                            }
                            mailer.send_link(conn, Purpose::Reset, &user.id, &user.email, now)?;
                            client
                                .event(AuditKind::PasswordResetRequested)
                                .user(&user.id)
                                .insert(conn)?;
                            Ok(true)
                        })
                    })
                    .await
            }
            Err(_) => Ok(false),
        };
        tokio::time::sleep_until((started + RESET_FLOOR).into()).await;
        if sent? {
            self.mailer.wake();
        }
        Ok(())
    }

    /// `POST /admin/users/{id}/password-reset`: a reset link to the user,
    /// audited with the admin as actor. Not throttled: the admin asked.
    pub async fn admin_reset(
        &self,
        user_id: UserId,
        actor: UserId,
        client: ClientInfo,
    ) -> Result<(), AccountError> {
        let mailer = self.mailer.clone();
        self.db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let user = UserRow::find(conn, &user_id)?.ok_or(AccountError::NotFound)?;
                    mailer.send_link(conn, Purpose::Reset, &user.id, &user.email, client.now)?;
                    client
                        .event(AuditKind::PasswordResetRequested)
                        .user(&user.id)
                        .actor(&actor)
                        .insert(conn)?;
                    Ok::<_, AccountError>(())
                })
            })
            .await?;
        self.mailer.wake();
        Ok(())
    }

    /// `POST /auth/verify-email/send`: a new verification link (at most one a
    /// minute; the answer is the same either way); `AlreadyVerified` if there
    /// is nothing to verify.
    pub async fn send_verification(
        &self,
        user_id: UserId,
        client: ClientInfo,
    ) -> Result<(), AccountError> {
        let mailer = self.mailer.clone();
        let sent = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let now = client.now;
                    let user = UserRow::find(conn, &user_id)?.ok_or(AccountError::NotFound)?;
                    if user.email_verified {
                        return Err(AccountError::AlreadyVerified);
                    }
                    if mailer.sent_recently(conn, Purpose::Verify, &user.id, now)? {
                        return Ok(false);
                    }
                    mailer.send_link(conn, Purpose::Verify, &user.id, &user.email, now)?;
                    client
                        .event(AuditKind::EmailVerificationSent)
                        .user(&user.id)
                        .insert(conn)?;
                    Ok(true)
                })
            })
            .await?;
        if sent {
            self.mailer.wake();
        }
        Ok(())
    }

    /// `POST /auth/verify-email`: spends a verification link; the address it
    /// was sent to must still be the account's.
    pub async fn verify(&self, token: String, client: ClientInfo) -> Result<User, AccountError> {
        let hash = token_hash(&token);
        let user = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let now = client.now;
                    let spent = one_time_tokens::spend(conn, &hash, Purpose::Verify, now)?
                        .ok_or(AccountError::InvalidLink)?;
                    let user = UserRow::find(conn, &spent.user_id)?
                        .filter(|user| !user.disabled && user.email == spent.email)
                        .ok_or(AccountError::InvalidLink)?;
                    UserRow::set_verified(conn, &user.id, now)?;
                    client
                        .event(AuditKind::EmailVerified)
                        .user(&user.id)
                        .insert(conn)?;
                    UserRow::find(conn, &user.id)?.ok_or(AccountError::InvalidLink)
                })
            })
            .await?;
        Ok(user.into())
    }

    /// `POST /auth/email`: after the current password, a confirmation link
    /// to `new_email` and a notice to the current address; `TooSoon` within
    /// a minute of the last such link.
    pub async fn request_email_change(
        &self,
        user_id: UserId,
        new_email: &str,
        current_password: Password,
        client: ClientInfo,
    ) -> Result<(), AccountError> {
        let new_email = email::normalize(new_email)?;
        let id = user_id.clone();
        let user = self
            .db
            .run(move |conn| Ok::<_, AccountError>(UserRow::find(conn, &id)?))
            .await?
            .ok_or(AccountError::NotFound)?;
        let hash = user.password_hash.clone();
        if !self
            .hasher
            .verify(current_password.into_secret(), hash)
            .await?
        {
            return Err(AccountError::WrongPassword);
        }
        let mailer = self.mailer.clone();
        self.db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let now = client.now;
                    if UserRow::find_by_email(conn, &new_email)?.is_some() {
                        return Err(AccountError::EmailTaken);
                    }
                    let user = UserRow::find(conn, &user_id)?.ok_or(AccountError::NotFound)?;
                    // Links go to an address the caller names: at most one a
                    // minute, so an account cannot be used to flood inboxes.
                    if mailer.sent_recently(conn, Purpose::EmailChange, &user.id, now)? {
                        let wait = crate::mail::RESEND_AFTER.num_seconds().unsigned_abs();
                        return Err(AccountError::TooSoon(wait));
                    }
                    mailer.send_link(conn, Purpose::EmailChange, &user.id, &new_email, now)?;
                    let notice = Letter::EmailChangeRequested {
                        new_email: new_email.clone(),
                    };
                    mailer.post(conn, &user.email, &notice, now)?;
                    client
                        .event(AuditKind::EmailChangeRequested)
                        .user(&user.id)
                        .insert(conn)?;
                    Ok(())
                })
            })
            .await?;
        self.mailer.wake();
        Ok(())
    }

    /// `POST /auth/email/confirm`: spends an email-change link; the account
    /// moves to the new address (verified), and the old one gets a notice.
    /// `EmailTaken` if another account took the address meanwhile (and the
    /// link stays unspent).
    pub async fn confirm_email_change(
        &self,
        token: String,
        client: ClientInfo,
    ) -> Result<User, AccountError> {
        let (hash, mailer) = (token_hash(&token), self.mailer.clone());
        let user = self
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    let now = client.now;
                    let spent = one_time_tokens::spend(conn, &hash, Purpose::EmailChange, now)?
                        .ok_or(AccountError::InvalidLink)?;
                    let user = UserRow::find(conn, &spent.user_id)?
                        .filter(|user| !user.disabled)
                        .ok_or(AccountError::InvalidLink)?;
                    if UserRow::find_by_email(conn, &spent.email)?.is_some() {
                        return Err(AccountError::EmailTaken);
                    }
                    // Taken between the check and the update: `EmailTaken` too.
                    UserRow::set_email(conn, &user.id, &spent.email, now).map_err(|e| {
                        if db::is_unique_violation(&e) {
                            AccountError::EmailTaken
                        } else {
                            e.into()
                        }
                    })?;
                    let notice = Letter::EmailChanged {
                        new_email: spent.email.clone(),
                    };
                    mailer.post(conn, &user.email, &notice, now)?;
                    client
                        .event(AuditKind::EmailChanged)
                        .user(&user.id)
                        .insert(conn)?;
                    UserRow::find(conn, &user.id)?.ok_or(AccountError::InvalidLink)
                })
            })
            .await?;
        self.mailer.wake();
        Ok(user.into())
    }
}
