//! The `audit_events` table: an append-only record of security-relevant actions.
//! Events are written in the same transaction as the action they record.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_events;
use super::{DbConnection, SessionId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A user registered (or was created by an admin).
    UserCreated,
    /// Correct credentials, a session was created.
    LoginSucceeded,
    /// Wrong credentials (unknown email, wrong password, disabled user).
    LoginFailed,
    /// Failures reached `WRISTBAND_LOGIN_MAX_FAILURES`: the account is locked.
    LoginLocked,
    /// A spent refresh token was presented; its session was revoked.
    RefreshReused,
    /// One session ended by its holder.
    Logout,
    /// Every session of the user ended by the user.
    LogoutAll,
    /// The user changed their password; other sessions ended.
    PasswordChanged,
    /// One session revoked by its user (sessions list) or an admin.
    SessionRevoked,
    /// An admin revoked every session of a user.
    UserSessionsRevoked,
    /// Role or disabled state changed (or the password reset by `create-admin`).
    UserUpdated,
    /// A login from a client that is not a known device of the user.
    LoginNewDevice,
    /// The user ended every session but the current one.
    OtherSessionsRevoked,
    /// A password-reset link was asked for (by the user, or an admin: the actor).
    PasswordResetRequested,
    /// The password was reset from a link: every other session ended.
    PasswordReset,
    /// A verification link was sent.
    EmailVerificationSent,
    /// The address was verified from a link.
    EmailVerified,
    /// A change of address was asked for; the link went to the new address.
    EmailChangeRequested,
    /// The address was changed from a link.
    EmailChanged,
    /// A TOTP factor was confirmed: every other session ended.
    MfaEnabled,
    /// The user removed their TOTP factor.
    MfaDisabled,
    /// The user replaced their recovery codes.
    MfaRecoveryCodesRegenerated,
    /// A recovery code was spent.
    MfaRecoveryCodeUsed,
    /// A wrong (or already used) code or recovery code.
    MfaFailed,
    /// An admin removed the user's second factor: every session ended.
    MfaReset,
    /// The user registered a passkey.
    PasskeyAdded,
    /// The user renamed a passkey.
    PasskeyRenamed,
    /// The user removed a passkey.
    PasskeyRemoved,
}

impl AuditKind {
    /// The events that revoke sessions, whose names are the causes of
    /// `wristband_revocations_total`.
    pub const REVOKING: [AuditKind; 11] = [
        Self::MfaEnabled,
        Self::MfaReset,
        Self::PasswordReset,
        Self::Logout,
        Self::LogoutAll,
        Self::OtherSessionsRevoked,
        Self::PasswordChanged,
        Self::RefreshReused,
        Self::SessionRevoked,
        Self::UserSessionsRevoked,
        Self::UserUpdated,
    ];

    /// The documented event name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user_created",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::RefreshReused => "refresh_reused",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::SessionRevoked => "session_revoked",
            Self::UserSessionsRevoked => "user_sessions_revoked",
            Self::UserUpdated => "user_updated",
            Self::LoginNewDevice => "login_new_device",
            Self::OtherSessionsRevoked => "other_sessions_revoked",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::EmailVerificationSent => "email_verification_sent",
            Self::EmailVerified => "email_verified",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaRecoveryCodesRegenerated => "mfa_recovery_codes_regenerated",
            Self::MfaRecoveryCodeUsed => "mfa_recovery_code_used",
            Self::MfaFailed => "mfa_failed",
            Self::MfaReset => "mfa_reset",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRenamed => "passkey_renamed",
            Self::PasskeyRemoved => "passkey_removed",
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    /// Increasing id: the order events were written in.
    pub id: i64,
    /// When.
    pub at: NaiveDateTime,
    /// The event name.
    pub event: String,
    /// The user the event is about.
    pub user_id: Option<UserId>,
    /// Who did it, when not the user themselves.
    pub actor_id: Option<UserId>,
    /// The session concerned.
    pub session_id: Option<SessionId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// What the event needs beside its name (a login's `amr`).
    pub detail: Option<String>,
}

/// An event to record.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    /// When.
    pub at: NaiveDateTime,
    /// The event name.
    pub event: &'static str,
    /// The user the event is about.
    pub user_id: Option<&'a UserId>,
    /// Who did it, when not the user themselves.
    pub actor_id: Option<&'a UserId>,
    /// The session concerned.
    pub session_id: Option<&'a SessionId>,
    /// Client IP.
    pub ip: Option<&'a str>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
    /// What the event needs beside its name (a login's `amr`).
    pub detail: Option<&'a str>,
}

impl<'a> NewAuditEvent<'a> {
    /// An event of `kind` happening `at`, from a client at `ip` with `user_agent`.
    pub fn new(
        kind: AuditKind,
        at: NaiveDateTime,
        ip: Option<&'a str>,
        user_agent: Option<&'a str>,
    ) -> Self {
        Self {
            at,
            event: kind.as_str(),
            user_id: None,
            actor_id: None,
            session_id: None,
            ip,
            user_agent,
            detail: None,
        }
    }

    /// With `detail` (a login's `amr`).
    pub fn detail(self, detail: &'a str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }

    /// About this user.
    pub fn user(self, user_id: &'a UserId) -> Self {
        Self {
            user_id: Some(user_id),
            ..self
        }
    }

    /// Done by this (other) user.
    pub fn actor(self, actor_id: &'a UserId) -> Self {
        Self {
            actor_id: Some(actor_id),
            ..self
        }
    }

    /// Concerning this session.
    pub fn session(self, session_id: &'a SessionId) -> Self {
        Self {
            session_id: Some(session_id),
            ..self
        }
    }

    /// Appends the event.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::insert_into(audit_events::table)
            .values(self)
            .execute(conn)
    }
}

impl AuditRow {
    /// Whether any `kind` event about `user_id` was ever written.
    pub fn any(conn: &mut DbConnection, user_id: &UserId, kind: AuditKind) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            audit_events::table
                .filter(audit_events::user_id.eq(user_id))
                .filter(audit_events::event.eq(kind.as_str())),
        ))
        .get_result(conn)
    }

    /// The newest events first, optionally of one user.
    pub fn list(
        conn: &mut DbConnection,
        user_id: Option<&UserId>,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let mut query = audit_events::table.select(Self::as_select()).into_boxed();
        if let Some(user_id) = user_id {
            query = query.filter(audit_events::user_id.eq(user_id.clone()));
        }
        query.order(audit_events::id.desc()).limit(limit).load(conn)
    }
}
