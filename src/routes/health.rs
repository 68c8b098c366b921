//! Liveness, readiness, and the page at `/`.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is alive. Touches nothing shared.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: 200 if the database answers with the whole schema, else
/// 503 `unavailable`.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db()
        .run(|conn| Ok::<_, ApiError>(crate::db::check_schema(conn)?))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

/// `GET /`: the page from `static/`, built into the binary.
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../../static/index.html"))
}
