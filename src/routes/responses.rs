//! The shapes of answers the handlers share: the token response (the one
//! place the refresh and device cookies are set), and the groups of refusals
//! their OpenAPI entries list (a Bearer route's 400/401, a JSON body's
//! 413/415, the database's 503). Handlers and the API document both import
//! from here, so neither imports the other.

use actix_web::HttpResponse;
use utoipa::IntoResponses;

use secrecy::ExposeSecret;

use crate::api::{ErrorResponse, MfaRequired, TokenResponse};
use crate::sessions::{Issued, SignIn};
use crate::state::AppState;

/// The answer of a right password: 200 with tokens and cookies, or with
/// the second step's token and no cookie.
pub fn sign_in_response(state: &AppState, sign_in: SignIn) -> HttpResponse {
    match sign_in {
        SignIn::Issued(issued) => token_response(state, *issued),
        SignIn::MfaRequired(challenge) => HttpResponse::Ok().json(MfaRequired {
            mfa_required: true,
            mfa_token: challenge.token.expose_secret().to_owned(),
            methods: vec!["totp".to_owned(), "recovery_code".to_owned()],
        }),
    }
}

/// 200 with the token body and the refresh cookie.
pub fn token_response(state: &AppState, issued: Issued) -> HttpResponse {
    token_response_with(HttpResponse::Ok(), state, issued)
}

/// `builder`'s status with the token body and the refresh cookie (and the
/// device cookie of a login): the one place these cookies are set.
pub fn token_response_with(
    builder: actix_web::HttpResponseBuilder,
    state: &AppState,
    issued: Issued,
) -> HttpResponse {
    tokens_and(builder, state, issued, |tokens| tokens)
}

/// `builder`'s status with the cookies of `issued`, and `body` made from
/// its token body (which may add to it).
pub fn tokens_and<B: serde::Serialize>(
    mut builder: actix_web::HttpResponseBuilder,
    state: &AppState,
    issued: Issued,
    body: impl FnOnce(TokenResponse) -> B,
) -> HttpResponse {
    builder.cookie(state.cookie.set(&issued.refresh, issued.cookie_max_age));
    if let Some(device) = &issued.device {
        builder.cookie(state.device_cookie.set(device));
    }
    builder.json(body(issued.body))
}

/// The refusals of a route that needs a Bearer token.
#[derive(IntoResponses)]
pub enum BearerRefusals {
    /// Two `Authorization` headers, or a malformed path, query or body.
    #[response(
        status = 400,
        description = "malformed request (bad JSON, fields, query or headers)"
    )]
    BadRequest(ErrorResponse),
    /// No valid access token.
    #[response(
        status = 401,
        description = "no valid access token (`missing_token` / `invalid_token`)"
    )]
    Unauthorized(ErrorResponse),
}

/// The refusals of a route that reads a JSON body.
#[derive(IntoResponses)]
pub enum BodyLimits {
    /// Over 16 KiB.
    #[response(status = 413, description = "body over 16 KiB")]
    TooLarge(ErrorResponse),
    /// Not `application/json`.
    #[response(status = 415, description = "body not `application/json`")]
    UnsupportedMediaType(ErrorResponse),
}

/// The answer of a route that needs the database while it is unreachable.
#[derive(IntoResponses)]
pub enum Unavailable {
    /// 503 `unavailable`, with `Retry-After`.
    #[response(
        status = 503,
        description = "the database cannot be reached (`unavailable`, with `Retry-After`)"
    )]
    Unavailable(ErrorResponse),
}
