//! `/auth/*` endpoints that create, rotate and end sessions. Thin: parse, call
//! `Sessions`, shape the answer and the cookie.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::JsonObject;
use super::responses::{BearerRefusals, BodyLimits, Unavailable};
use super::responses::{sign_in_response, token_response};
use crate::api::{Credentials, PasswordChange, Registered, SignInAnswer};
use crate::api::{ErrorResponse, TokenResponse};
use crate::auth::ClientInfo;
use crate::config::Registration;
use crate::db::Role;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::http::extract::verified_claims;
use crate::state::AppState;
use crate::users::{self, NewAccount};

/// `POST /auth/register`: 201 `{"user": User}`.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    summary = "Create an account",
    request_body = Credentials,
    responses(
        (status = 201, description = "the new user", body = Registered),
        (status = 400, description = "malformed request, `invalid_email` or `weak_password`", body = ErrorResponse),
        (status = 403, description = "`registration_closed`", body = ErrorResponse),
        (status = 409, description = "the email is taken", body = ErrorResponse),
        (status = 429, description = "too many attempts (`too_many_requests`, with `Retry-After`)", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    body: JsonObject<Credentials>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    if state.config.sessions.registration == Registration::Closed {
        return Err(ApiError::RegistrationClosed);
    }
    let Credentials { email, password } = body.into_inner();
    let account = NewAccount {
        email,
        password,
        role: Role::User,
        address: state.unverified_address(),
    };
    let user = users::create_user(&state.db, &state.hasher, account, client, None).await?;
    Ok(HttpResponse::Created().json(Registered { user }))
}

/// `POST /auth/login`: 200 `TokenResponse` and a refresh cookie for a new session.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    summary = "Log in: an access token and a refresh cookie",
    request_body = Credentials,
    params(("__Host-wristband_device" = Option<String>, Cookie, description = "the device cookie an earlier login set: with it, this client is a known device of that account, with a lockout of its own")),
    responses(
        (status = 200, description = "tokens; the refresh token is in the cookie, and the device cookie makes this client a known device of the account. For a user with a second factor: `{\"mfa_required\": true, \"mfa_token\", \"methods\"}` and no cookie; `POST /auth/login/mfa` finishes the login", body = SignInAnswer, headers(("set-cookie" = String, description = "the refresh cookie `__Host-wristband_refresh=…; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=N` and the device cookie `__Host-wristband_device=…; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=31536000`"))),
        (status = 400, description = "malformed request (bad JSON, fields, query or headers)", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: unknown email, wrong password or disabled user alike", body = ErrorResponse),
        (status = 429, description = "over the rate limit, or this client's class (this known device, or every untrusted client) of the account is locked", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonObject<Credentials>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let device = state.device_cookie.read(&req);
    let sign_in = state
        .sessions
        .login(body.into_inner(), device, client)
        .await?;
    Ok(sign_in_response(&state, sign_in))
}

/// `POST /auth/refresh`: rotates the cookie's token. Every `invalid_grant`
/// also clears the cookie, so a browser stops sending a dead token.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    summary = "Rotate the refresh cookie for a new access token",
    security((), ("refresh_cookie" = [])),
    responses(
        (status = 200, description = "new tokens and a new cookie", body = TokenResponse, headers(("set-cookie" = String, description = "the refresh cookie: `__Host-wristband_refresh=…; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=N`"))),
        (status = 401, description = "`invalid_grant` with `reason` (missing, unknown, expired, revoked, reused); the cookie is cleared", body = ErrorResponse),
        (status = 403, description = "`invalid_origin`: a foreign Origin or `Sec-Fetch-Site: cross-site`", body = ErrorResponse),
        (status = 429, description = "too many attempts (`too_many_requests`, with `Retry-After`)", body = ErrorResponse),
        Unavailable,
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
) -> HttpResponse {
    match state
        .sessions
        .refresh(state.cookie.read(&req), client)
        .await
    {
        Ok(issued) => token_response(&state, issued),
        Err(error) => refused(ApiError::from(error), &state),
    }
}

/// The answer to a refused refresh: every `invalid_grant` also clears the
/// cookie.
fn refused(error: ApiError, state: &AppState) -> HttpResponse {
    match error {
        ApiError::InvalidGrant(_) => {
            let mut response = error.error_response();
            if let Err(e) = response.add_cookie(&state.cookie.clear()) {
                log::error!("cannot clear the refresh cookie: {e}");
            }
            response
        }
        error => error.error_response(),
    }
}

/// `POST /auth/logout`: ends the session named by the cookie, or else by the
/// Bearer token; 204 and a cleared cookie even when there was nothing to end.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    summary = "End the session of the cookie (or else of the Bearer token)",
    security((), ("refresh_cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "ended (or nothing to end); the cookie is cleared", headers(("set-cookie" = String, description = "the refresh cookie, cleared"))),
        (status = 403, description = "`invalid_origin`", body = ErrorResponse),
        Unavailable,
    )
)]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .logout(state.cookie.read(&req), verified_claims(&req), client)
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(state.cookie.clear())
        .finish())
}

/// `POST /auth/logout-all`: every session and access token of the caller dies.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "auth",
    summary = "End every session of the user",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "every session and access token of the user is dead", headers(("set-cookie" = String, description = "the refresh cookie, cleared"))),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn logout_all(
    state: web::Data<AppState>,
    caller: AuthUser,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    state.sessions.logout_all(caller, client).await?;
    Ok(HttpResponse::NoContent()
        .cookie(state.cookie.clear())
        .finish())
}

/// `POST /auth/password`: new password; the caller's session lives on with new
/// tokens, every other session dies.
#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    summary = "Change the password; every other session ends",
    request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "new tokens for this session; the device cookie is renewed (every other device cookie of the account no longer makes its browser a known device)", body = TokenResponse, headers(("set-cookie" = String, description = "the refresh cookie `__Host-wristband_refresh=…; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=N` and the device cookie `__Host-wristband_device=…; …; Max-Age=31536000`"))),
        (status = 400, description = "malformed request, `weak_password`, or `invalid_code` (a user with a second factor gives `code`: a TOTP code or a recovery code)", body = ErrorResponse),
        (status = 401, description = "no valid access token (`missing_token` / `invalid_token`)", body = ErrorResponse),
        (status = 403, description = "`invalid_credentials`: the current password is wrong; nothing changed", body = ErrorResponse),
        (status = 429, description = "wrong codes locked this client's class of the account", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: AuthUser,
    body: JsonObject<PasswordChange>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let device = state.device_cookie.read(&req);
    let issued = state
        .sessions
        .change_password(caller, body.into_inner(), device, client)
        .await
        .map_err(super::errors::caller_error)?;
    Ok(token_response(&state, issued))
}
