//! One place that watches every request: the access log line (method, route
//! pattern, status, latency, client IP — never a query string, token or
//! cookie) and the request metrics (`wristband_http_requests_total`, the
//! latency histogram), both labelled by route *pattern*, so ids never become
//! label values.

use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use super::client_ip::client_ip;
use super::extract::state_of;
use crate::logging::Escaped;
use crate::metrics::Metrics;

/// The label of requests no route matches.
const UNMATCHED: &str = "unmatched";

/// The method as a metrics label: the methods the API uses by name, any
/// other (clients may send any token) as `other`, so labels stay few.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::PUT => "PUT",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

thread_local! {
    /// The request paths this worker has seen name a route without
    /// parameters (the pattern is the path itself). Routing has not run yet
    /// when this middleware asks for the pattern, so actix matches the path
    /// against the route table again, by regex where routes have parameters:
    /// 4 % of a `GET /auth/me` (`bench/profiles/me-4-…`). Bounded: only our
    /// own patterns get in.
    static FIXED_ROUTES: RefCell<HashSet<Box<str>>> = RefCell::default();
}

/// The route pattern of `req`, its label in the log and the metrics.
fn route_label(req: &ServiceRequest) -> String {
    let path = req.path();
    if FIXED_ROUTES.with_borrow(|known| known.contains(path)) {
        return path.to_owned();
    }
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    if route == path {
        FIXED_ROUTES.with_borrow_mut(|known| known.insert(path.into()));
    }
    route
}

/// App middleware: logs and counts every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = route_label(&req);
    let trust_proxy = state_of(req.request()).is_ok_and(|s| s.config.network.trust_proxy);
    let ip = client_ip(req.request(), trust_proxy).map(|ip| ip.to_string());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let response = next.call(req).await;
    let status = match &response {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    let took = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.request(&route, method_label(&method), status.as_u16(), took);
    }
    let latency_ms = took.as_secs_f64() * 1000.0;
    let ip = ip.as_deref().unwrap_or("-");
    // The method is the client's text (any token); the route is a pattern
    // of ours, never the requested path, and the IP was parsed.
    log::info!(
        target: "wristband::access",
        method = method.as_str(), route = route.as_str(), status = status.as_u16(),
        latency_ms = (latency_ms * 1000.0).round() / 1000.0, ip = ip;
        "{} {route} {} {latency_ms:.3}ms {ip}",
        Escaped(method.as_str()),
        status.as_u16()
    );
    response
}
