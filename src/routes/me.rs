//! `GET /auth/me`: the example protected resource.

use actix_web::web;

use super::openapi::{BearerRefusals, Unavailable};
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
        BearerRefusals,
        Unavailable,
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
