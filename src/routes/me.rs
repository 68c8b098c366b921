//! `GET /auth/me`: the example protected resource.

use actix_web::web;

use crate::api::ErrorResponse;
use crate::api::User;
use crate::db::users::UserRow;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::state::AppState;

/// The caller, as stored now.
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    summary = "The caller",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the signed-in user", body = User),
        (status = 400, description = "malformed request (bad JSON, fields, query or headers)", body = ErrorResponse),
        (status = 401, description = "no valid access token (`missing_token` / `invalid_token`)", body = ErrorResponse),
        (status = 503, description = "the database cannot be reached (`unavailable`, with `Retry-After`)", body = ErrorResponse),
    )
)]
pub async fn me(state: web::Data<AppState>, caller: AuthUser) -> Result<web::Json<User>, ApiError> {
    let id = caller.user_id;
    let user = state
        .db()
        .run(move |conn| Ok::<_, ApiError>(UserRow::find(conn, &id)?))
        .await?;
    Ok(web::Json(user.ok_or(ApiError::InvalidToken)?.into()))
}
