//! Mail: what Wristband writes to users (`letters.rs`), the outbox it is
//! written to in the transaction of the change it tells about, and the
//! delivery worker every instance runs (`worker.rs`), which sends through a
//! maintained SMTP client (`smtp.rs`, lettre) or, in test mode without an
//! SMTP URL, captures mails for `GET /test/mailbox`.
//!
//! Links open the app, never the API: `APP_URL#reset-password=TOKEN` (and
//! `#verify-email=`, `#confirm-email=`). The token rides in the fragment, so
//! it reaches no server log and no `Referer`, and opening the link (a mail
//! scanner's GET) spends nothing; only the app's POST does.
//!
//! The one-time tokens themselves: 256 random bits, of which only a SHA-256
//! is stored (`db/one_time_tokens.rs`).

mod letters;
pub mod smtp;
pub mod worker;

use std::sync::Arc;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use letters::{Letter, MethodChange};

use crate::at_rest::AtRestKey;
use crate::config::Config;
use crate::db::one_time_tokens::{self, Purpose};
use crate::db::outbox::{MailRow, NewMail};
use crate::db::{DbConnection, UserId};

/// How long after a link another request for one sends nothing.
pub const RESEND_AFTER: TimeDelta = TimeDelta::minutes(1);

/// Where a link leads in the app: the fragment's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `#reset-password=`.
    ResetPassword,
    /// `#verify-email=`.
    VerifyEmail,
    /// `#confirm-email=`.
    ConfirmEmail,
}

impl LinkKind {
    fn fragment(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset-password",
            Self::VerifyEmail => "verify-email",
            Self::ConfirmEmail => "confirm-email",
        }
    }
}

/// A fresh one-time token: 256 random bits, base64url. Its
/// [`token_hash`] is what the database keeps. (No `Debug`.)
pub struct OneTimeToken {
    /// The token, for the link.
    pub token: String,
    /// Its hash, for the database.
    pub hash: String,
}

impl OneTimeToken {
    /// A new random token.
    pub fn new() -> Self {
        let token = crate::mac::random_key().1;
        let hash = token_hash(&token);
        Self { token, hash }
    }
}

impl Default for OneTimeToken {
    fn default() -> Self {
        Self::new()
    }
}

/// The stored form of a one-time token: SHA-256, hex. (The token has 256
/// random bits: no salt or slow hash is needed against guessing.)
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parts of a mail, as sealed in the outbox.
#[derive(Serialize, Deserialize)]
struct Parts {
    text: String,
    html: String,
}

/// A mail opened from the outbox: test mode's mailbox and the worker read it.
#[derive(Debug, Clone)]
pub struct OpenedMail {
    /// The stored row (body still sealed).
    pub row: MailRow,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Writes mails to the outbox and wakes this instance's delivery worker.
/// Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    from: String,
    app_name: String,
    app_url: String,
    seal: AtRestKey,
    wake: tokio::sync::Notify,
    reset_ttl: TimeDelta,
    verify_ttl: TimeDelta,
    captured: bool,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.inner.from)
            .field("app_url", &self.inner.app_url)
            .finish_non_exhaustive()
    }
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl Mailer {
    /// The mailer of `config` (`None` when mail is off); bodies are sealed
    /// under a key derived from `secret`; links open `bound_url` when neither
    /// an app URL nor a public URL is configured (only allowed on loopback).
    pub fn new(config: &Config, secret: &[u8], bound_url: &str) -> Option<Self> {
        let mail = &config.mail;
        if !mail.enabled {
            return None;
        }
        let public = config.network.public_url.as_deref();
        let app_url = mail
            .app_url
            .clone()
            .or_else(|| public.map(|url| format!("{url}/")))
            .unwrap_or_else(|| format!("{bound_url}/"));
        let host = public
            .and_then(|url| url::Url::parse(url).ok())
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".into());
        let from = mail
            .from
            .clone()
            .unwrap_or_else(|| format!("{} <no-reply@{host}>", mail.app_name));
        Some(Self {
            inner: Arc::new(Inner {
                from,
                app_name: mail.app_name.clone(),
                app_url,
                seal: AtRestKey::derive(secret, b"outbox"),
                wake: tokio::sync::Notify::new(),
                reset_ttl: delta(mail.reset_ttl),
                verify_ttl: delta(mail.verify_ttl),
                captured: mail.smtp.is_none(),
            }),
        })
    }

    /// The link that opens the app at `kind` with `token`.
    pub fn link(&self, kind: LinkKind, token: &OneTimeToken) -> String {
        format!("{}#{}={}", self.inner.app_url, kind.fragment(), token.token)
    }

    /// How long a reset link lives.
    pub fn reset_ttl(&self) -> TimeDelta {
        self.inner.reset_ttl
    }

    /// How long a verification or email-change link lives.
    pub fn verify_ttl(&self) -> TimeDelta {
        self.inner.verify_ttl
    }

    /// The `From:` of every mail.
    pub fn from(&self) -> &str {
        &self.inner.from
    }

    /// Whether mails are captured (test mode without SMTP), not sent.
    pub fn captured(&self) -> bool {
        self.inner.captured
    }

    /// Writes `letter` to `to` into the outbox, in the caller's transaction.
    /// Call [`wake`](Self::wake) once it has committed.
    pub fn post(
        &self,
        conn: &mut DbConnection,
        to: &str,
        letter: &Letter,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        let written = letter.write(&self.inner.app_name);
        let parts = Parts {
            text: written.text,
            html: written.html,
        };
        let body = serde_json::to_vec(&parts).unwrap_or_default();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let host = self
            .inner
            .from
            .rsplit_once('@')
            .map_or("localhost", |(_, host)| host.trim_end_matches('>'));
        let message_id = format!("<{id}@{host}>");
        NewMail {
            id: &id,
            recipient: to,
            subject: &written.subject,
            body: &self.inner.seal.seal(&body),
            message_id: &message_id,
            created_at: now,
            due_at: now,
        }
        .insert(conn)?;
        Ok(())
    }

    /// Issues a one-time token of `purpose` for `user_id` (replacing the
    /// user's earlier one) and posts the mail carrying its link to `to` — the
    /// address the token is about — in the caller's transaction. Call
    /// [`wake`](Self::wake) once it has committed.
    pub fn send_link(
        &self,
        conn: &mut DbConnection,
        purpose: Purpose,
        user_id: &UserId,
        to: &str,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        let token = OneTimeToken::new();
        let (ttl, kind) = match purpose {
            Purpose::Reset => (self.inner.reset_ttl, LinkKind::ResetPassword),
            Purpose::Verify => (self.inner.verify_ttl, LinkKind::VerifyEmail),
            Purpose::EmailChange => (self.inner.verify_ttl, LinkKind::ConfirmEmail),
        };
        one_time_tokens::issue(conn, &token.hash, user_id, purpose, to, now, now + ttl)?;
        let (link, valid_for) = (self.link(kind, &token), letters::human(ttl));
        let letter = match purpose {
            Purpose::Reset => Letter::ResetPassword { link, valid_for },
            Purpose::Verify => Letter::VerifyEmail { link, valid_for },
            Purpose::EmailChange => Letter::ConfirmEmail { link, valid_for },
        };
        self.post(conn, to, &letter, now)
    }

    /// Whether a link of `purpose` went to `user_id` within the last
    /// [`RESEND_AFTER`]: requests that would send another are answered
    /// alike but send nothing (at most one mail per address per minute).
    pub fn sent_recently(
        &self,
        conn: &mut DbConnection,
        purpose: Purpose,
        user_id: &UserId,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let issued = one_time_tokens::issued_at(conn, user_id, purpose)?;
        Ok(issued.is_some_and(|at| now - at < RESEND_AFTER))
    }

    /// Tells this instance's worker that mails were committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Resolves when [`wake`](Self::wake) is called (or was, since the last time).
    pub async fn woken(&self) {
        self.inner.wake.notified().await;
    }

    /// `row` with its parts opened; `None` if they do not open (another
    /// refresh secret sealed them).
    pub fn open(&self, row: MailRow) -> Option<OpenedMail> {
        let plain = self.inner.seal.open(&row.body)?;
        let parts: Parts = serde_json::from_slice(&plain).ok()?;
        Some(OpenedMail {
            row,
            text: parts.text,
            html: parts.html,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (OneTimeToken::new(), OneTimeToken::new());
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43, "256 bits, base64url");
        assert_eq!(a.hash, token_hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.token));
    }
}
