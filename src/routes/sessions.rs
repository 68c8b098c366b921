//! `/auth/sessions`: the caller's own sessions.

use actix_web::{HttpResponse, web};

use crate::api::Session;
use crate::auth::ClientInfo;
use crate::db::SessionId;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::state::AppState;

/// `GET /auth/sessions`: the caller's live sessions.
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<web::Json<Vec<Session>>, ApiError> {
    let sessions = state
        .sessions
        .list_live(caller.user_id, Some(caller.session_id));
    Ok(web::Json(sessions.await?))
}

/// `DELETE /auth/sessions/{id}`: 204, or 404 when it is not the caller's.
pub async fn revoke(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<SessionId>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let owner = Some(caller.user_id);
    state
        .sessions
        .revoke_session(id.into_inner(), owner, None, client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
