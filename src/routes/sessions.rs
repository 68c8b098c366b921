//! `/auth/sessions` and `/auth/logout-others`: the caller's own sessions.

use actix_web::{HttpResponse, web};

use super::responses::{BearerRefusals, Unavailable};
use crate::api::ErrorResponse;
use crate::api::{OthersRevoked, Session};
use crate::auth::ClientInfo;
use crate::db::SessionId;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::state::AppState;

/// `GET /auth/sessions`: the caller's live sessions.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "sessions",
    summary = "The caller's live sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "live sessions; `current` marks the caller's", body = [Session]),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<web::Json<Vec<Session>>, ApiError> {
    let sessions = state
        .sessions
        .list_live(caller.user.id.clone(), Some(caller.session_id));
    Ok(web::Json(sessions.await?))
}

/// `DELETE /auth/sessions/{id}`: 204, or 404 when it is not the caller's.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "sessions",
    summary = "Revoke one of the caller's sessions",
    params(("id" = SessionId, Path, description = "the session")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 404, description = "not one of the caller's sessions", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<SessionId>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let owner = Some(caller.user.id.clone());
    state
        .sessions
        .revoke_session(id.into_inner(), owner, None, client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /auth/logout-others`: every other session of the caller ends; the
/// caller's own session and access token stay valid (no version bump).
#[utoipa::path(
    post,
    path = "/auth/logout-others",
    tag = "sessions",
    summary = "End every session of the caller but this one",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "how many sessions ended", body = OthersRevoked),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn logout_others(
    state: web::Data<AppState>,
    caller: AuthUser,
    client: ClientInfo,
) -> Result<web::Json<OthersRevoked>, ApiError> {
    let revoked = state.sessions.logout_others(caller, client).await?;
    Ok(web::Json(OthersRevoked { revoked }))
}
