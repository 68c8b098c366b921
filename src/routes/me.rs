//! `GET /auth/me`: the example protected resource.

use actix_web::web;

use super::openapi::{BearerRefusals, Unavailable};
use crate::api::{self, User};
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
    let user = &caller.user;
    Ok(web::Json(User {
        id: user.id.clone(),
        email: user.email.clone(),
        role: user.role,
        // A disabled user has no live session.
        disabled: false,
        created_at: api::utc(user.created_at),
    }))
}
