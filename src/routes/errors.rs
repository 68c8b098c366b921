//! The one map from the domain's errors to the HTTP error (`ApiError`): what
//! each refusal answers, and — for outages, which all answer 503
//! `unavailable` — the one place their causes reach the log, with the whole
//! chain of sources (escaped: a database's message may quote a value a
//! request supplied).

use std::error::Error;

use crate::accounts::AccountError;
use crate::auth::CredentialError;
use crate::db::DbError;
use crate::error::ApiError;
use crate::logging::Escaped;
use crate::sessions::SessionError;
use crate::tokens::TokenError;
use crate::users::UserError;

/// Logs `error` and every source under it, on one line.
fn log_outage(error: &dyn Error) {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    log::error!("{}", Escaped(&chain));
}

fn outage(error: &dyn Error) -> ApiError {
    log_outage(error);
    ApiError::Unavailable
}

impl From<CredentialError> for ApiError {
    fn from(error: CredentialError) -> Self {
        match error {
            CredentialError::InvalidEmail => Self::InvalidEmail,
            CredentialError::WeakPassword(why) => Self::WeakPassword(why),
            CredentialError::Busy(_)
            | CredentialError::Hashing(_)
            | CredentialError::Blocking(_) => outage(&error),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid => Self::InvalidToken,
            TokenError::Signing(_) => outage(&error),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::InvalidGrant(reason) => Self::InvalidGrant(reason),
            SessionError::InvalidCredentials => Self::InvalidCredentials,
            SessionError::WrongCurrentPassword => Self::WrongCurrentPassword,
            SessionError::InvalidToken => Self::InvalidToken,
            SessionError::TooManyAttempts(seconds) => Self::TooManyRequests(seconds),
            SessionError::NotFound => Self::NotFound,
            SessionError::EmailNotVerified => Self::EmailNotVerified,
            SessionError::InvalidLink => Self::InvalidLink,
            SessionError::InvalidCode => Self::InvalidCode,
            SessionError::InvalidMfaToken => Self::InvalidMfaToken,
            SessionError::MfaAlreadyEnabled => Self::MfaAlreadyEnabled,
            SessionError::MfaNotEnabled => Self::MfaNotEnabled,
            SessionError::InvalidCredential => Self::InvalidCredential,
            SessionError::InvalidPasskeyName => {
                Self::InvalidRequest("a passkey's name is 1 to 64 characters on one line")
            }
            SessionError::Credential(e) => e.into(),
            SessionError::Token(e) => e.into(),
            SessionError::Contended
            | SessionError::FactorUnreadable
            | SessionError::PasskeyUnavailable
            | SessionError::Store(_) => outage(&error),
        }
    }
}

/// A session flow's error as a signed-in caller gets it: a wrong code is a
/// 400, since their token is fine (a 401 would send a client to refresh it).
pub fn caller_error(error: SessionError) -> ApiError {
    match ApiError::from(error) {
        ApiError::InvalidCode => ApiError::WrongCode,
        other => other,
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::InvalidRole => Self::InvalidRequest("role must be \"user\" or \"admin\""),
            UserError::EmailTaken => Self::EmailTaken,
            UserError::NotFound => Self::NotFound,
            UserError::LastAdmin => Self::LastAdmin,
            UserError::Credential(e) => e.into(),
            UserError::Session(e) => e.into(),
            UserError::Contended | UserError::Store(_) => outage(&error),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::InvalidLink => Self::InvalidLink,
            AccountError::AlreadyVerified => Self::AlreadyVerified,
            AccountError::EmailTaken => Self::EmailTaken,
            AccountError::WrongPassword => Self::WrongCurrentPassword,
            AccountError::NotFound => Self::NotFound,
            AccountError::TooSoon(seconds) => Self::TooManyRequests(seconds),
            AccountError::Credential(e) => e.into(),
            AccountError::Store(_) => outage(&error),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        outage(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_meaning_and_outages_become_503() {
        let cases: [(ApiError, &str); 6] = [
            (SessionError::TooManyAttempts(3).into(), "too_many_requests"),
            (
                SessionError::Credential(CredentialError::InvalidEmail).into(),
                "invalid_email",
            ),
            (
                UserError::Session(SessionError::NotFound).into(),
                "not_found",
            ),
            (UserError::LastAdmin.into(), "last_admin"),
            (TokenError::Invalid.into(), "invalid_token"),
            (
                SessionError::Store(DbError::Query(
                    diesel::result::Error::BrokenTransactionManager,
                ))
                .into(),
                "unavailable",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
        }
    }
}
