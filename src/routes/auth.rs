//! `/auth/*` endpoints that create, rotate and end sessions. Thin: parse, call
//! `Sessions`, shape the answer and the cookie.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::JsonObject;
use super::token_response;
use crate::api::{Credentials, PasswordChange, Registered};
use crate::auth::ClientInfo;
use crate::config::Registration;
use crate::db::Role;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::http::extract::verified_claims;
use crate::state::AppState;
use crate::users;

/// `POST /auth/register`: 201 `{"user": User}`.
pub async fn register(
    state: web::Data<AppState>,
    body: JsonObject<Credentials>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    if state.config.registration == Registration::Closed {
        return Err(ApiError::RegistrationClosed);
    }
    let Credentials { email, password } = body.into_inner();
    let user =
        users::create_user(&state.sessions, &email, password, Role::User, client, None).await?;
    Ok(HttpResponse::Created().json(Registered { user }))
}

/// `POST /auth/login`: 200 `TokenResponse` and a refresh cookie for a new session.
pub async fn login(
    state: web::Data<AppState>,
    body: JsonObject<Credentials>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let issued = state.sessions.login(body.into_inner(), client).await?;
    Ok(token_response(&state, issued))
}

/// `POST /auth/refresh`: rotates the cookie's token. Every `invalid_grant`
/// also clears the cookie, so a browser stops sending a dead token.
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
        Err(error @ ApiError::InvalidGrant(_)) => {
            let mut response = error.error_response();
            if let Err(e) = response.add_cookie(&state.cookie.clear()) {
                log::error!("cannot clear the refresh cookie: {e}");
            }
            response
        }
        Err(error) => error.error_response(),
    }
}

/// `POST /auth/logout`: ends the session named by the cookie, or else by the
/// Bearer token; 204 and a cleared cookie even when there was nothing to end.
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
pub async fn change_password(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: JsonObject<PasswordChange>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let issued = state
        .sessions
        .change_password(caller, body.into_inner(), client)
        .await?;
    Ok(token_response(&state, issued))
}
