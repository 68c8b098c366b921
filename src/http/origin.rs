//! CSRF defence of the cookie endpoints (`/auth/refresh`, `/auth/logout`) and
//! the CORS policy.
//!
//! The refresh cookie is `SameSite=Strict`, which already keeps other sites'
//! pages from sending it; this check is the second lock, for browsers or
//! set-ups where SameSite does not hold (same-site subdomains, old browsers).
//! A request is refused with 403 `invalid_origin`, before anything is rotated
//! or revoked, when:
//! - `Sec-Fetch-Site` is `cross-site`, or
//! - `Origin` is present and is `null` or neither the server's own origin
//!   (`WRISTBAND_PUBLIC_URL`, else the request's scheme and `Host`) nor one of
//!   `WRISTBAND_ALLOWED_ORIGINS`.
//!
//! A request without `Origin` (curl, a server, an old browser's same-origin
//! POST) passes: the cookie is what it must present.

use actix_cors::Cors;
use actix_web::HttpRequest;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;

use super::extract::state_of;
use crate::config::Config;
use crate::error::ApiError;

/// The origin browsers use for this server: `WRISTBAND_PUBLIC_URL`, else the
/// request's scheme (`X-Forwarded-Proto` only behind a trusted proxy) and `Host`.
fn own_origin(req: &HttpRequest, config: &Config) -> Option<String> {
    if let Some(public) = &config.public_url {
        return Some(public.clone());
    }
    let forwarded = config
        .trust_proxy
        .then(|| req.headers().get("x-forwarded-proto")?.to_str().ok())
        .flatten()
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| p == "http" || p == "https");
    let scheme = forwarded.unwrap_or_else(|| {
        if req.app_config().secure() {
            "https"
        } else {
            "http"
        }
        .to_owned()
    });
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))?;
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// Whether `req` may use a cookie endpoint (see the module documentation).
pub fn check(req: &HttpRequest, config: &Config) -> Result<(), ApiError> {
    let header_text = |name| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{0}"))
    };
    if header_text("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return Err(ApiError::InvalidOrigin);
    }
    let Some(origin) = header_text(header::ORIGIN.as_str()) else {
        return Ok(());
    };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let allowed = own_origin(req, config).as_deref() == Some(origin.as_str())
        || config.allowed_origins.contains(&origin);
    if allowed && origin != "null" {
        Ok(())
    } else {
        Err(ApiError::InvalidOrigin)
    }
}

/// Route middleware for the cookie endpoints: 403 `invalid_origin` before the
/// handler when [`check`] refuses.
pub async fn same_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = state_of(req.request())?;
    check(req.request(), &state.config)?;
    next.call(req).await
}

/// CORS with credentials for `WRISTBAND_ALLOWED_ORIGINS` only: their
/// preflights are answered and their responses carry
/// `Access-Control-Allow-Credentials: true`; any other origin gets no
/// `Access-Control-Allow-Origin` (and its preflight a 400).
pub fn cors(config: &Config) -> Cors {
    let cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
        .supports_credentials()
        .max_age(600)
        .block_on_origin_mismatch(false);
    config
        .allowed_origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn config(allowed: &[&str]) -> Config {
        let settings = crate::config::Settings {
            database_url: Some("sqlite::memory:".into()),
            allowed_origins: Some(allowed.join(",")),
            ..Default::default()
        };
        Config::from_settings(&settings).unwrap()
    }

    fn request(headers: &[(&str, &str)]) -> HttpRequest {
        let mut req = TestRequest::post().insert_header(("host", "auth.example.com"));
        for header in headers {
            req = req.insert_header(*header);
        }
        req.to_http_request()
    }

    #[test]
    fn own_and_listed_origins_pass_others_do_not() {
        let c = config(&["https://app.example.com"]);
        assert!(
            check(&request(&[]), &c).is_ok(),
            "no Origin: not a browser's cross-site call"
        );
        assert!(check(&request(&[("origin", "http://auth.example.com")]), &c).is_ok());
        assert!(check(&request(&[("origin", "https://app.example.com")]), &c).is_ok());
        for bad in ["https://evil.example", "null", "https://auth.example.com"] {
            assert!(
                check(&request(&[("origin", bad)]), &c).is_err(),
                "accepted Origin {bad}"
            );
        }
        let cross = request(&[("sec-fetch-site", "cross-site")]);
        assert!(check(&cross, &c).is_err());
        let same = request(&[("sec-fetch-site", "same-origin")]);
        assert!(check(&same, &c).is_ok());
    }
}
