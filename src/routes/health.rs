//! Liveness (`/healthz`) and readiness (`/readyz`).

use actix_web::{HttpResponse, web};

use super::responses::Unavailable;
use crate::api::Status;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is alive. Touches nothing shared.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "The process is alive",
    responses(
        (status = 200, description = "alive", body = Status),
    )
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: 200 if the database answers with the whole schema, else
/// 503 `unavailable`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "The database answers, with its schema",
    responses(
        (status = 200, description = "ready", body = Status),
        Unavailable,
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db
        .run(|conn| Ok::<_, ApiError>(crate::db::check_schema(conn)?))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}
