//! The passkey routes: registering (two halves, Bearer), listing, renaming
//! and removing the caller's passkeys, and signing in with one (two
//! halves). Served only when a relying party can be named
//! (`routes::serves`). Thin: parse, call `Sessions`, shape the answer (a
//! sign-in's cookies are set in `responses.rs`).

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use super::JsonObject;
use super::responses::{BearerRefusals, BodyLimits, Unavailable, token_response};
use crate::api::{
    CeremonyStarted, ErrorResponse, PasskeyInfo, PasskeyLogin, PasskeyLoginStart,
    PasskeyRegistration, PasskeyRegistrationStart, PasskeyRename, TokenResponse,
};
use crate::auth::ClientInfo;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::sessions::CeremonyStart;
use crate::state::AppState;

fn started(start: CeremonyStart) -> web::Json<CeremonyStarted> {
    web::Json(CeremonyStarted {
        ceremony_id: start.ceremony_id.expose_secret().to_owned(),
        options: start.options,
    })
}

/// `POST /auth/passkeys/register/start`.
#[utoipa::path(
    post,
    path = "/auth/passkeys/register/start",
    tag = "passkeys",
    summary = "Start registering a passkey",
    description = "After the current password: the options for `navigator.credentials.create({publicKey: options})` (binary fields as base64url), a discoverable credential with user verification, excluding the caller's passkeys. Finish within 5 minutes.",
    request_body = PasskeyRegistrationStart,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the ceremony", body = CeremonyStarted),
        (status = 403, description = "`invalid_credentials`: the current password is wrong", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BearerRefusals,
        BodyLimits,
        Unavailable,
    )
)]
pub async fn register_start(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: JsonObject<PasskeyRegistrationStart>,
) -> Result<web::Json<CeremonyStarted>, ApiError> {
    let password = body.into_inner().current_password.into_secret();
    let start = state
        .sessions
        .start_passkey_registration(caller, password)
        .await?;
    Ok(started(start))
}

/// `POST /auth/passkeys/register/finish`.
#[utoipa::path(
    post,
    path = "/auth/passkeys/register/finish",
    tag = "passkeys",
    summary = "Finish registering a passkey",
    request_body = PasskeyRegistration,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the new passkey", body = PasskeyInfo),
        (status = 400, description = "`invalid_credential`: the answer did not verify, the ceremony is unknown, expired, used or another user's, or the passkey is registered already; or malformed", body = ErrorResponse),
        (status = 401, description = "no valid access token (`missing_token` / `invalid_token`)", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn register_finish(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: JsonObject<PasskeyRegistration>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let PasskeyRegistration {
        ceremony_id,
        name,
        credential,
    } = body.into_inner();
    let row = state
        .sessions
        .finish_passkey_registration(caller, ceremony_id.into(), name, credential, client)
        .await?;
    Ok(HttpResponse::Created().json(PasskeyInfo::from(row)))
}

/// `GET /auth/passkeys`.
#[utoipa::path(
    get,
    path = "/auth/passkeys",
    tag = "passkeys",
    summary = "The caller's passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "oldest first", body = Vec<PasskeyInfo>),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<web::Json<Vec<PasskeyInfo>>, ApiError> {
    let rows = state.sessions.list_passkeys(caller.user.id.clone()).await?;
    Ok(web::Json(rows.into_iter().map(PasskeyInfo::from).collect()))
}

/// `PATCH /auth/passkeys/{id}`.
#[utoipa::path(
    patch,
    path = "/auth/passkeys/{id}",
    tag = "passkeys",
    summary = "Rename one of the caller's passkeys",
    params(("id" = String, Path, description = "the passkey")),
    request_body = PasskeyRename,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "renamed", body = PasskeyInfo),
        (status = 404, description = "not one of the caller's passkeys", body = ErrorResponse),
        BearerRefusals,
        BodyLimits,
        Unavailable,
    )
)]
pub async fn rename(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    body: JsonObject<PasskeyRename>,
    client: ClientInfo,
) -> Result<web::Json<PasskeyInfo>, ApiError> {
    let name = body.into_inner().name;
    let row = state
        .sessions
        .rename_passkey(caller, id.into_inner(), name, client)
        .await?;
    Ok(web::Json(row.into()))
}

/// `DELETE /auth/passkeys/{id}`.
#[utoipa::path(
    delete,
    path = "/auth/passkeys/{id}",
    tag = "passkeys",
    summary = "Remove one of the caller's passkeys",
    params(("id" = String, Path, description = "the passkey")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "removed: it signs in no more"),
        (status = 404, description = "not one of the caller's passkeys", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .remove_passkey(caller, id.into_inner(), client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /auth/passkeys/login/start`.
#[utoipa::path(
    post,
    path = "/auth/passkeys/login/start",
    tag = "passkeys",
    summary = "Start signing in with a passkey",
    description = "The options for `navigator.credentials.get({publicKey: options})`. Without an email the browser offers every passkey it holds for this site; with one, that account's (an unknown email gets options that look the same).",
    request_body = PasskeyLoginStart,
    responses(
        (status = 200, description = "the ceremony", body = CeremonyStarted),
        (status = 400, description = "`invalid_email`, or malformed", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn login_start(
    state: web::Data<AppState>,
    body: JsonObject<PasskeyLoginStart>,
) -> Result<web::Json<CeremonyStarted>, ApiError> {
    let email = body.into_inner().email;
    Ok(started(state.sessions.start_passkey_login(email).await?))
}

/// `POST /auth/passkeys/login/finish`.
#[utoipa::path(
    post,
    path = "/auth/passkeys/login/finish",
    tag = "passkeys",
    summary = "Finish signing in with a passkey",
    description = "Signs in as `POST /auth/login` does (the refresh and device cookies), with `amr: [\"hwk\"]`: no second factor is asked.",
    request_body = PasskeyLogin,
    params(("__Host-wristband_device" = Option<String>, Cookie, description = "the device cookie an earlier login set")),
    responses(
        (status = 200, description = "tokens; the refresh and device cookies", body = TokenResponse, headers(("set-cookie" = String, description = "the refresh cookie and the device cookie"))),
        (status = 400, description = "malformed request", body = ErrorResponse),
        (status = 401, description = "`invalid_credentials`: the ceremony is unknown, expired or used, the answer did not verify, the passkey is unknown or removed, or the user is disabled", body = ErrorResponse),
        (status = 403, description = "`email_not_verified` (with `WRISTBAND_REQUIRE_VERIFIED_EMAIL`)", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn login_finish(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonObject<PasskeyLogin>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let PasskeyLogin {
        ceremony_id,
        credential,
    } = body.into_inner();
    let device = state.device_cookie.read(&req);
    let issued = state
        .sessions
        .login_with_passkey(ceremony_id.into(), credential, device, client)
        .await?;
    Ok(token_response(&state, issued))
}
