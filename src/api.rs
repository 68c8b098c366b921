//! The JSON shapes of the HTTP API: `User`, `TokenResponse`, `Session`, and the
//! request bodies. Rows from `db/` are turned into these here and nowhere else,
//! so no hash or token column can leak into a response by accident.

use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

use crate::db::audit::AuditRow;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::db::{Role, SessionId, UserId};
use crate::devices::device_name;

/// A password in a request body: redacted in `Debug`, wiped from memory when
/// dropped. It serialises as the plain string, for clients building requests.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Password)]
pub struct Password(SecretString);

impl Password {
    /// The password itself; only for hashing or verifying it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The password as a secret, to move into a bcrypt job.
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl From<&str> for Password {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

impl From<String> for Password {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl Serialize for Password {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A user, as every endpoint shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The user's id (a UUID).
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// Whether the user proved they read mail at `email`.
    pub email_verified: bool,
    /// Whether the user has a second factor (TOTP): their logins take two
    /// steps.
    pub mfa_enabled: bool,
    /// `user` or `admin`.
    pub role: Role,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// Creation time (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            email_verified: row.email_verified,
            mfa_enabled: row.mfa_enabled,
            role: row.role,
            disabled: row.disabled,
            created_at: utc(row.created_at),
        }
    }
}

/// `{"user": User}`, the answer to registration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// The new user.
    pub user: User,
}

/// What login, refresh and password change answer (the refresh token travels
/// in the cookie, never here).
/// (No `Debug`: it holds a bearer token.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The user the token is for.
    pub user: User,
}

/// A session, as its user (or an admin) sees it: never a token or hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Session id (the `sid` of its access tokens).
    pub id: SessionId,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_refreshed_at: DateTime<Utc>,
    /// When the session ends if not refreshed (or at the latest).
    pub expires_at: DateTime<Utc>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// A short name of the device, from the user agent: "Chrome 131 on
    /// macOS", "curl 8.5", or "Unknown device".
    pub device: String,
    /// Client IP at login.
    pub ip: Option<String>,
    /// Whether this is the caller's own session.
    pub current: bool,
}

impl Session {
    /// The view of `row`; `ends_at` is its effective end, `current` whether it
    /// is the caller's.
    pub fn from_row(row: SessionRow, ends_at: NaiveDateTime, current: bool) -> Self {
        Self {
            current,
            id: row.id,
            created_at: utc(row.created_at),
            last_refreshed_at: utc(row.last_refreshed_at),
            expires_at: utc(ends_at),
            device: device_name(row.user_agent.as_deref()),
            user_agent: row.user_agent,
            ip: row.ip,
        }
    }
}

/// `{email, password}` for register and login.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    /// Email as typed (trimmed, NFKC-normalised and lower-cased by the server).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Password: 8 to 72 bytes of UTF-8, no NUL (registration also refuses
    /// the most common passwords and, with a range API set, breached ones).
    #[schema(min_length = 8, max_length = 72)]
    pub password: Password,
}

impl Credentials {
    /// A body for register or login (clients and tests build requests with it).
    pub fn new(email: impl Into<String>, password: impl Into<Password>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
        }
    }
}

/// `{current_password, new_password}` for a password change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: Password,
    /// The password wanted: 8 to 72 bytes of UTF-8, no NUL, not one of the
    /// most common passwords nor (with a range API set) a breached one.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: Password,
    /// For a user with a second factor: a TOTP code or a recovery code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<OneTimeCode>,
}

impl PasswordChange {
    /// A body for `POST /auth/password`.
    pub fn new(current_password: impl Into<Password>, new_password: impl Into<Password>) -> Self {
        Self {
            current_password: current_password.into(),
            new_password: new_password.into(),
            code: None,
        }
    }
}

/// `{users, total}`: a page of users and how many match in all.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// This page.
    pub users: Vec<User>,
    /// All matches, ignoring `limit` and `offset`.
    pub total: i64,
}

/// `GET /admin/users` query.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the email to look for (case-insensitive; no control characters).
    #[param(pattern = r"^[^\x00-\x1f\x7f]*$")]
    pub email: Option<String>,
    /// Page size, 0–200 (default 50).
    #[param(minimum = 0, maximum = 200)]
    pub limit: Option<i64>,
    /// Users to skip (default 0).
    #[param(minimum = 0, maximum = 2147483647)]
    pub offset: Option<i64>,
}

/// `POST /admin/users` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Email as typed.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Initial password: 8 to 72 bytes of UTF-8, no NUL, not one of the most
    /// common passwords nor (with a range API set) a breached one.
    #[schema(min_length = 8, max_length = 72)]
    pub password: Password,
    /// `user` (default) or `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
}

impl NewUserRequest {
    /// A body for `POST /admin/users`; `role` is `user` or `admin`.
    pub fn new(
        email: impl Into<String>,
        password: impl Into<Password>,
        role: Option<&str>,
    ) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            role: role.map(str::to_owned),
        }
    }
}

/// `PATCH /admin/users/{id}` body: what to change.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// New disabled state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// `GET /admin/audit` query.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events about this user.
    pub user_id: Option<UserId>,
    /// How many, newest first, 0–1000 (default 100).
    #[param(minimum = 0, maximum = 1000)]
    pub limit: Option<i64>,
}

/// An audit event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    /// Increasing id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// What: `login_succeeded`, `refresh_reused`, `user_updated`, …
    pub event: String,
    /// The user the event is about.
    pub user_id: Option<UserId>,
    /// The admin who acted, when not the user.
    pub actor_id: Option<UserId>,
    /// The session concerned.
    pub session_id: Option<SessionId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// A short name of the device, from the user agent (as on sessions).
    pub device: String,
    /// What the event needs beside its name: for `login_succeeded`, how the
    /// login was made (its `amr`, space-separated: `pwd`, `pwd otp`,
    /// `pwd rec`, `hwk`).
    pub detail: Option<String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: utc(row.at),
            event: row.event,
            user_id: row.user_id,
            actor_id: row.actor_id,
            session_id: row.session_id,
            ip: row.ip,
            device: device_name(row.user_agent.as_deref()),
            user_agent: row.user_agent,
            detail: row.detail,
        }
    }
}

/// `{"revoked": N}`: how many other sessions `POST /auth/logout-others` ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OthersRevoked {
    /// Sessions ended.
    pub revoked: u64,
}

/// Every error: `{"error", "error_description"}`, plus `reason` on
/// `invalid_grant`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    /// A machine-readable code: `invalid_credentials`, `invalid_grant`,
    /// `too_many_requests`, `unavailable`, …
    pub error: String,
    /// What went wrong, for people.
    pub error_description: String,
    /// Why a refresh token was refused (`invalid_grant` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<GrantFailure>,
}

/// `{"status": "ok" | "ready"}` from the health endpoints.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` (alive) or `ready` (the database answers).
    pub status: String,
}

/// Why a refresh token was refused: the documented `reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrantFailure {
    /// No refresh cookie was sent.
    Missing,
    /// Not a token this server issued, or its session is gone.
    Unknown,
    /// The session outlived its idle or absolute lifetime.
    Expired,
    /// The session was revoked (logout, logout-all, password change, admin).
    Revoked,
    /// A spent token was presented again: the session is now revoked.
    Reused,
}

/// The form body of `POST /auth/introspect` (RFC 7662). (No `Debug`: it
/// holds a token.)
#[derive(Deserialize, ToSchema)]
pub struct IntrospectionRequest {
    /// The access token to check.
    pub token: String,
    /// Accepted and ignored: only access tokens are introspected.
    #[serde(default)]
    pub token_type_hint: Option<String>,
}

/// The answer of `POST /auth/introspect` (RFC 7662): `{"active": false}`
/// alone for any token that is not live, else its claims with the user's
/// *current* role.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Introspection {
    /// Whether the token is valid and its session live right now.
    pub active: bool,
    /// The user's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<UserId>,
    /// The session's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    /// The user's current role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Expiry (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Always `Bearer` when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// How the session's login was authenticated (RFC 8176): `["pwd"]`,
    /// `["pwd", "otp"]`, `["pwd", "rec"]` or `["hwk"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
}

/// `POST /test/users` body (test mode only): a user and a live session in
/// one call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestUserRequest {
    /// Email as typed.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// A password to log in with later (8 to 72 bytes); random if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Password, min_length = 8, max_length = 72)]
    pub password: Option<Password>,
    /// `user` (default) or `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Whether the address starts verified (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// `POST /test/clock` body (test mode only).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    /// How far to move the clock forward: `30s`, `15m`, `8d` or seconds.
    /// Never back: a negative advance is refused.
    #[schema(example = "15m")]
    pub advance: String,
}

/// The server's clock (test mode only).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClockState {
    /// The time every rule of the server reads now.
    pub now: DateTime<Utc>,
    /// How far it is ahead of the system clock, in seconds.
    pub offset_seconds: u64,
}

/// `POST /auth/password-reset` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The account's address, as typed. Any text is answered alike: an
    /// address with no account, or no address at all, gets the same 202.
    pub email: String,
}

/// `POST /auth/password-reset/confirm` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ResetConfirm {
    /// The token from the link's `#reset-password=` fragment.
    #[schema(value_type = String, max_length = 128)]
    pub token: LinkToken,
    /// The new password (8 to 72 bytes, not a common one).
    #[schema(value_type = String, format = Password, min_length = 8, max_length = 72)]
    pub new_password: Password,
}

/// `POST /auth/verify-email` and `POST /auth/email/confirm` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct LinkConfirm {
    /// The token from the link's fragment.
    #[schema(value_type = String, max_length = 128)]
    pub token: LinkToken,
}

/// `POST /auth/email` body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct EmailChange {
    /// The address to move to.
    #[schema(format = Email, max_length = 254)]
    pub new_email: String,
    /// The current password.
    #[schema(value_type = String, format = Password)]
    pub current_password: Password,
}

/// The token of a mailed link: redacted in `Debug`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct LinkToken(String);

impl LinkToken {
    /// The token.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<&str> for LinkToken {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(..)")
    }
}

/// `{}`: the answer of requests that send mail (202).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Accepted {}

/// A mail in test mode's mailbox.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Mail {
    /// The mail's id.
    pub id: String,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// When it was written to the outbox.
    pub created_at: DateTime<Utc>,
    /// When it was sent (or captured); `null` while it waits.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<crate::mail::OpenedMail> for Mail {
    fn from(mail: crate::mail::OpenedMail) -> Self {
        Self {
            id: mail.row.id,
            to: mail.row.recipient,
            subject: mail.row.subject,
            text: mail.text,
            html: mail.html,
            created_at: utc(mail.row.created_at),
            sent_at: mail.row.sent_at.map(utc),
        }
    }
}

/// `GET /test/mailbox` query.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MailboxQuery {
    /// Only mails to this address.
    pub to: Option<String>,
}

/// A one-time code in a request body (a TOTP code or a recovery code):
/// redacted in `Debug`, wiped from memory when dropped.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Password)]
pub struct OneTimeCode(SecretString);

impl OneTimeCode {
    /// The code as a secret.
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl From<&str> for OneTimeCode {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

impl Serialize for OneTimeCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

/// `{current_password}`: starting a TOTP factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpStart {
    /// The password now.
    pub current_password: Password,
}

/// A pending TOTP factor, shown once: the secret, and the same as an
/// `otpauth://` URI and its QR code. (No `Debug`: it holds the secret.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32 (160 bits), for typing into an authenticator.
    pub secret: String,
    /// `otpauth://totp/ISSUER:EMAIL?secret=…&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// `{code}`: a TOTP code (six digits) or, where the route says so, a
/// recovery code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaCode {
    /// The code.
    pub code: OneTimeCode,
}

/// `{mfa_token, code}` or `{mfa_token, recovery_code}`: a login's second
/// step. (No `Debug`: it holds the token.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MfaLogin {
    /// The token the login's first step answered with.
    #[schema(max_length = 64)]
    pub mfa_token: String,
    /// A TOTP code (six digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<OneTimeCode>,
    /// A recovery code (`xxxx-xxxx-xxxx-xxxx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<OneTimeCode>,
}

/// The answer of a right password for a user with a second factor: no
/// tokens and no cookie yet. (No `Debug`: it holds the token.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// For `POST /auth/login/mfa`, within 5 minutes, once.
    pub mfa_token: String,
    /// What the second step takes: `totp`, `recovery_code`.
    pub methods: Vec<String>,
}

/// A confirmed TOTP factor: fresh tokens for the caller's session, and the
/// recovery codes, shown once. (No `Debug`: it holds tokens.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TotpConfirmed {
    /// The access token and user, as every token response.
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// Ten single-use recovery codes.
    pub recovery_codes: Vec<String>,
}

/// `{recovery_codes}`: a new set, shown once. (No `Debug`: they are secrets.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use recovery codes.
    pub recovery_codes: Vec<String>,
}

/// What a right password answers: tokens, or — for a user with a second
/// factor — the second step's token.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SignInAnswer {
    /// Signed in.
    Tokens(TokenResponse),
    /// The second factor is needed: `POST /auth/login/mfa`.
    MfaRequired(MfaRequired),
}

/// A passkey, as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyInfo {
    /// Its id (a UUID).
    pub id: String,
    /// What its owner calls it.
    pub name: String,
    /// When it was registered (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last signed in.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<crate::db::passkeys::PasskeyRow> for PasskeyInfo {
    fn from(row: crate::db::passkeys::PasskeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: utc(row.created_at),
            last_used_at: row.last_used_at.map(utc),
        }
    }
}

/// The first half of a passkey ceremony. (No `Debug`: the id finishes it.)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CeremonyStarted {
    /// What the second half names (within 5 minutes, once).
    pub ceremony_id: String,
    /// For `navigator.credentials.create` / `.get`: the
    /// `PublicKeyCredentialCreationOptions` or `…RequestOptions`, binary
    /// fields as base64url strings.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// `{current_password}`: a registration's first half.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRegistrationStart {
    /// The password now.
    pub current_password: Password,
}

/// `{ceremony_id, name?, credential}`: a registration's second half.
#[derive(Deserialize, ToSchema)]
pub struct PasskeyRegistration {
    /// From the first half.
    #[schema(max_length = 64)]
    pub ceremony_id: String,
    /// What to call it (1 to 64 characters; the device's name by default).
    #[serde(default)]
    pub name: Option<String>,
    /// The browser's `PublicKeyCredential` (from `navigator.credentials.create`)
    /// as JSON: `id`, `rawId`, `type`, `response: {attestationObject,
    /// clientDataJSON, transports?}`, binary fields base64url.
    #[schema(value_type = Object)]
    pub credential: webauthn_rs::prelude::RegisterPublicKeyCredential,
}

/// `{name}`: renaming a passkey.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRename {
    /// The new name (1 to 64 characters).
    #[schema(max_length = 64)]
    pub name: String,
}

/// `{email?}`: a passkey sign-in's first half.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PasskeyLoginStart {
    /// Limits the sign-in to this account's passkeys; without it, the
    /// browser offers every passkey it holds for this site.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub email: Option<String>,
}

/// `{ceremony_id, credential}`: a passkey sign-in's second half.
#[derive(Deserialize, ToSchema)]
pub struct PasskeyLogin {
    /// From the first half.
    #[schema(max_length = 64)]
    pub ceremony_id: String,
    /// The browser's `PublicKeyCredential` (from `navigator.credentials.get`)
    /// as JSON: `id`, `rawId`, `type`, `response: {authenticatorData,
    /// clientDataJSON, signature, userHandle}`, binary fields base64url.
    #[schema(value_type = Object)]
    pub credential: webauthn_rs::prelude::PublicKeyCredential,
}
