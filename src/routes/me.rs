//! `GET /auth/me`: the example protected resource.

use actix_web::web;

use super::responses::{BearerRefusals, Unavailable};
use crate::api::User;
use crate::error::ApiError;
use crate::http::AuthUser;

/// The caller, as the liveness check found them (at most one liveness TTL
/// old; no query of its own).
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
pub async fn me(caller: AuthUser) -> Result<web::Json<User>, ApiError> {
    Ok(web::Json(User::from(caller.user.as_ref())))
}
