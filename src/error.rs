//! `ApiError`: every failure a client can see, and its one mapping to the documented
//! JSON errors (`{"error", "error_description"}`, plus `reason` on `invalid_grant`).
//!
//! Policy:
//! - Descriptions are fixed texts written here. No SQL, serde, library or panic
//!   text ever reaches a client; such detail goes to the log (never a secret).
//! - Database, pool and thread-pool failures all become `Unavailable` (503 with
//!   `Retry-After`); it is the only 5xx. Anything a client's input can cause is 4xx.
//! - Clearing the refresh cookie on `invalid_grant` is the route's job: this type
//!   does not know the cookie's name.

use crate::api::ErrorResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

pub use crate::api::GrantFailure;

/// Every error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (bad JSON, bad query, two `Authorization` headers).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The email is not a plausible address.
    #[error("invalid email")]
    InvalidEmail,
    /// The password breaks the policy.
    #[error("weak password: {0}")]
    WeakPassword(&'static str),
    /// Registration of an email that already has an account.
    #[error("email taken")]
    EmailTaken,
    /// An admin's change of a user that would leave no enabled admin.
    #[error("last admin")]
    LastAdmin,
    /// `WRISTBAND_REGISTRATION=closed`: only admins create users.
    #[error("registration closed")]
    RegistrationClosed,
    /// Login failed: unknown email, wrong password or disabled user alike.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The current password given to a password change was wrong. 403, not 401:
    /// the caller's token is fine.
    #[error("wrong current password")]
    WrongCurrentPassword,
    /// A refresh token was refused.
    #[error("invalid grant: {0:?}")]
    InvalidGrant(GrantFailure),
    /// No Bearer token was sent.
    #[error("missing token")]
    MissingToken,
    /// A Bearer token was sent and refused.
    #[error("invalid token")]
    InvalidToken,
    /// Authenticated but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// No such resource (or not the caller's).
    #[error("not found")]
    NotFound,
    /// The path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A cookie endpoint was called from an origin that is not allowed.
    #[error("invalid origin")]
    InvalidOrigin,
    /// Too many attempts: the client IP's rate limit or the account's lockout.
    /// Retry after this many seconds (at least 1).
    #[error("too many requests")]
    TooManyRequests(u64),
    /// The request was not read within the time allowed.
    #[error("request timeout")]
    RequestTimeout,
    /// A mailed link's token is unknown, expired, spent or superseded (400,
    /// unlike a refused Bearer token's 401).
    #[error("invalid link")]
    InvalidLink,
    /// The address is verified already.
    #[error("already verified")]
    AlreadyVerified,
    /// A right password for an unverified address, while verified addresses
    /// are required.
    #[error("email not verified")]
    EmailNotVerified,
    /// A wrong second factor at a login's second step (401).
    #[error("invalid code")]
    InvalidCode,
    /// A wrong second factor from a signed-in caller (400: their token is
    /// fine).
    #[error("wrong code")]
    WrongCode,
    /// A login's `mfa_token` is unknown, expired or spent: log in again.
    #[error("invalid mfa token")]
    InvalidMfaToken,
    /// The user has a confirmed second factor already.
    #[error("mfa already enabled")]
    MfaAlreadyEnabled,
    /// The user has no confirmed second factor.
    #[error("mfa not enabled")]
    MfaNotEnabled,
    /// A passkey registration that did not verify.
    #[error("invalid credential")]
    InvalidCredential,
    /// The database (or the blocking pool) cannot serve now.
    #[error("unavailable")]
    Unavailable,
}

/// Seconds a client should wait after a 503.
const RETRY_AFTER_UNAVAILABLE: u32 = 2;

impl ApiError {
    /// The documented error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidEmail => "invalid_email",
            Self::WeakPassword(_) => "weak_password",
            Self::EmailTaken => "email_taken",
            Self::LastAdmin => "last_admin",
            Self::RegistrationClosed => "registration_closed",
            Self::InvalidCredentials | Self::WrongCurrentPassword => "invalid_credentials",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::InvalidOrigin => "invalid_origin",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::RequestTimeout => "request_timeout",
            Self::InvalidLink => "invalid_token",
            Self::AlreadyVerified => "already_verified",
            Self::EmailNotVerified => "email_not_verified",
            Self::InvalidCode | Self::WrongCode => "invalid_code",
            Self::InvalidMfaToken => "invalid_mfa_token",
            Self::MfaAlreadyEnabled => "mfa_already_enabled",
            Self::MfaNotEnabled => "mfa_not_enabled",
            Self::InvalidCredential => "invalid_credential",
            Self::Unavailable => "unavailable",
        }
    }

    fn description(&self) -> String {
        match self {
            Self::InvalidRequest(what) => format!("The request is malformed: {what}."),
            Self::InvalidEmail => "The email address is not valid.".into(),
            Self::WeakPassword(why) => format!("The password is not acceptable: {why}."),
            Self::EmailTaken => "An account with this email already exists.".into(),
            Self::LastAdmin => "The change would leave no enabled admin.".into(),
            Self::RegistrationClosed => {
                "Registration is closed; an admin can create your account.".into()
            }
            Self::InvalidCredentials => "The email or password is wrong.".into(),
            Self::WrongCurrentPassword => "The current password is wrong.".into(),
            Self::InvalidGrant(_) => "The refresh token is not valid.".into(),
            Self::MissingToken => "A Bearer access token is required.".into(),
            Self::InvalidToken => "The access token is not valid.".into(),
            Self::Forbidden => "You are not allowed to do this.".into(),
            Self::NotFound => "Not found.".into(),
            Self::MethodNotAllowed => "This method is not allowed here.".into(),
            Self::PayloadTooLarge => "The request body is too large.".into(),
            Self::UnsupportedMediaType => {
                "The request body is not of the media type this endpoint takes.".into()
            }
            Self::InvalidOrigin => "This request is not allowed from that origin.".into(),
            Self::TooManyRequests(_) => "Too many attempts; try again later.".into(),
            Self::RequestTimeout => "The request was not received in time.".into(),
            Self::InvalidLink => {
                "The link is not valid: it is unknown, expired, already used, or a newer one was sent.".into()
            }
            Self::AlreadyVerified => "The email address is already verified.".into(),
            Self::EmailNotVerified => {
                "The email address is not verified yet: open the link in the verification mail.".into()
            }
            Self::InvalidCode | Self::WrongCode => {
                "The code is not valid: it is wrong, expired or already used.".into()
            }
            Self::InvalidMfaToken => {
                "The sign-in expired or was already finished; sign in again.".into()
            }
            Self::MfaAlreadyEnabled => "Two-factor authentication is already on.".into(),
            Self::MfaNotEnabled => "Two-factor authentication is not on.".into(),
            Self::InvalidCredential => {
                "The passkey could not be registered: the browser's answer did not verify, the ceremony expired or was used, or the passkey is registered already.".into()
            }
            Self::Unavailable => "The service is temporarily unavailable.".into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_)
            | Self::InvalidEmail
            | Self::WeakPassword(_)
            | Self::InvalidLink
            | Self::WrongCode
            | Self::InvalidCredential => StatusCode::BAD_REQUEST,
            Self::EmailTaken
            | Self::LastAdmin
            | Self::AlreadyVerified
            | Self::MfaAlreadyEnabled
            | Self::MfaNotEnabled => StatusCode::CONFLICT,
            Self::InvalidCredentials
            | Self::InvalidCode
            | Self::InvalidMfaToken
            | Self::InvalidGrant(_)
            | Self::MissingToken
            | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::WrongCurrentPassword
            | Self::Forbidden
            | Self::RegistrationClosed
            | Self::EmailNotVerified
            | Self::InvalidOrigin => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        match self {
            Self::MissingToken => {
                response.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="wristband""#));
            }
            Self::InvalidToken => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="wristband", error="invalid_token""#,
                ));
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE));
            }
            Self::TooManyRequests(seconds) => {
                response.insert_header((header::RETRY_AFTER, (*seconds).max(1)));
            }
            Self::RequestTimeout => {
                response.insert_header((header::CONNECTION, "close"));
            }
            _ => {}
        }
        let reason = match self {
            Self::InvalidGrant(reason) => Some(*reason),
            _ => None,
        };
        response.json(ErrorResponse {
            error: self.code().to_owned(),
            error_description: self.description(),
            reason,
        })
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        crate::db::DbError::Query(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(error: ApiError) -> serde_json::Value {
        let bytes = to_bytes(error.error_response().into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[actix_web::test]
    async fn invalid_grant_carries_its_reason() {
        let body = body_of(ApiError::InvalidGrant(GrantFailure::Reused)).await;
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["reason"], "reused");
    }

    #[actix_web::test]
    async fn database_errors_become_503_without_detail() {
        let error = ApiError::from(diesel::result::Error::BrokenTransactionManager);
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let body = body_of(ApiError::from(
            diesel::result::Error::BrokenTransactionManager,
        ))
        .await;
        assert_eq!(body["error"], "unavailable");
        assert!(!body.to_string().to_lowercase().contains("transaction"));
    }

    #[test]
    fn invalid_token_challenges_with_the_error() {
        let response = ApiError::InvalidToken.error_response();
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).unwrap();
        assert_eq!(
            challenge,
            r#"Bearer realm="wristband", error="invalid_token""#
        );
        let response = ApiError::MissingToken.error_response();
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).unwrap();
        assert_eq!(challenge, r#"Bearer realm="wristband""#);
    }
}
