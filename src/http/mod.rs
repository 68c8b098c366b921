//! What the HTTP layer decides about a request before a handler runs: who the
//! client is (`client_ip.rs`, the one client-IP function), who the caller is
//! (`extract.rs`, the one place that parses the `Authorization` header),
//! whether its origin may use the cookie endpoints and CORS (`origin.rs`),
//! whether it is over its rate (`rate_limit.rs`), how long it may take to
//! arrive (`timeout.rs`), and the access log and request metrics
//! (`observe.rs`).

pub mod client_ip;
pub mod extract;
pub mod observe;
pub mod origin;
pub mod rate_limit;
pub mod timeout;
pub mod tls;

pub use extract::{AdminUser, AuthUser, require_admin, require_user};

/// Route middleware, around a route's guards: turns an error a guard
/// returned (401, 403, 429, …) into its response there, so the headers every
/// response carries (`DefaultHeaders`, around the app) are on refusals too.
/// (Only after routing may a clone of the request be held.)
pub async fn errors_as_responses(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let request = req.request().clone();
    Ok(match next.call(req).await {
        Ok(response) => response.map_into_left_body(),
        Err(error) => {
            actix_web::dev::ServiceResponse::from_err(error, request).map_into_right_body()
        }
    })
}
