//! `/auth/sessions`: the caller's own sessions.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::api::Session;
use crate::auth::{AuthUser, ClientInfo};
use crate::error::ApiError;
use crate::sessions;
use crate::state::AppState;

/// `GET /auth/sessions`: the caller's live sessions.
pub async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<web::Json<Vec<Session>>, ApiError> {
    Ok(web::Json(
        sessions::list_live(&state, caller.user_id, Some(caller.session_id)).await?,
    ))
}

/// `DELETE /auth/sessions/{id}`: 204, or 404 when it is not the caller's.
pub async fn revoke(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    sessions::revoke_session(&state, id.into_inner(), Some(caller.user_id), None, client).await?;
    Ok(HttpResponse::NoContent().finish())
}
