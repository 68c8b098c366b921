//! Logging in: the credential check (with the dummy hash, so unknown emails,
//! wrong passwords and disabled users fail alike and take as long) and the new
//! session.

use diesel::Connection;
use secrecy::ExposeSecret;

use super::{Issued, Sessions};
use crate::api::Credentials;
use crate::auth::{ClientInfo, email, password};
use crate::db::audit::AuditKind;
use crate::db::sessions::NewSession;
use crate::db::token_versions::TokenVersion;
use crate::db::users::UserRow;
use crate::db::{self, SessionId};
use crate::error::ApiError;

impl Sessions {
    /// Checks credentials and opens a new session.
    pub async fn login(
        &self,
        credentials: Credentials,
        client: ClientInfo,
    ) -> Result<Issued, ApiError> {
        let user = match email::normalize(&credentials.email) {
            Ok(email) => {
                self.db
                    .run(move |conn| Ok::<_, ApiError>(UserRow::find_by_email(conn, &email)?))
                    .await?
            }
            Err(_) => None,
        };
        let hash = user
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |u| u.password_hash.clone());
        let password = credentials.password;
        let matches =
            db::blocking(move || password::verify(password.expose(), hash.expose_secret())).await?;
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            user => {
                let user_id = user.map(|u| u.id);
                self.db
                    .run(move |conn| {
                        let mut event = client.event(AuditKind::LoginFailed);
                        if let Some(id) = &user_id {
                            event = event.user(id);
                        }
                        Ok::<_, ApiError>(event.insert(conn)?)
                    })
                    .await?;
                return Err(ApiError::InvalidCredentials);
            }
        };
        let (session_id, max_age, user_id) =
            (SessionId::new(), self.policy.max_age, user.id.clone());
        let sid = session_id.clone();
        let (version, expires_at) = self
            .db
            .run(move |conn| {
                // Read outside the transaction: a bump racing with this login leaves
                // the new session stale, which is what a logout-all should do.
                let version = TokenVersion::current(conn, &user_id)?;
                let now = db::now();
                let expires_at = now + max_age;
                conn.transaction(|conn| {
                    NewSession {
                        id: &sid,
                        user_id: &user_id,
                        token_version: version,
                        generation: 1,
                        created_at: now,
                        last_refreshed_at: now,
                        expires_at,
                        user_agent: client.user_agent.as_deref(),
                        ip: client.ip.as_deref(),
                    }
                    .insert(conn)?;
                    client
                        .event(AuditKind::LoginSucceeded)
                        .user(&user_id)
                        .session(&sid)
                        .insert(conn)
                })?;
                Ok::<_, ApiError>((version, expires_at))
            })
            .await?;
        let ends_at = expires_at.min(db::now() + self.policy.idle_ttl);
        self.issue(user, &session_id, 1, version, ends_at)
    }
}
