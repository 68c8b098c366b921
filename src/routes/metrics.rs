//! `GET /metrics`: the Prometheus text exposition (see `crate::metrics` for
//! every series). Public unless `WRISTBAND_METRICS_TOKEN` is set; then it
//! needs that token as `Authorization: Bearer`.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::api::ErrorResponse;
use crate::error::ApiError;
use crate::http::extract::require_shared_secret;
use crate::metrics::Metrics;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "the Prometheus text format", content_type = "text/plain", body = String),
        (status = 400, description = "two `Authorization` headers", body = ErrorResponse),
        (status = 401, description = "`WRISTBAND_METRICS_TOKEN` is set and was not presented", body = ErrorResponse),
    )
)]
/// `GET /metrics`.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = &state.config.operations.metrics_token {
        require_shared_secret(&req, expected)?;
    }
    let (connections, idle) = state.db.pool_state();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(connections, idle)))
}
