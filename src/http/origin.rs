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
//!
//! Whether an origin is allowed is decided in one place, [`is_allowed`], for
//! this check and for CORS alike, in the form browsers send origins (lower
//! case, no trailing slash, no default port), so the two cannot disagree.

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
    if let Some(public) = &config.network.public_url {
        return Some(public.clone());
    }
    let forwarded = config
        .network
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

/// `origin` in the form origins are compared: trimmed, ASCII lower case
/// (scheme and host are case-insensitive), without a trailing slash or the
/// scheme's default port.
fn canonical(origin: &str) -> String {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let default_port = if origin.starts_with("https://") {
        ":443"
    } else if origin.starts_with("http://") {
        ":80"
    } else {
        return origin;
    };
    match origin.strip_suffix(default_port) {
        Some(bare) => bare.to_owned(),
        None => origin,
    }
}

/// Whether a browser whose page is at `origin` may use this server with
/// credentials: it is `own` (this server's origin, when the caller knows it)
/// or one of `allowed` (`WRISTBAND_ALLOWED_ORIGINS`); `null` never is. The one
/// comparison of origins: the cookie endpoints' check and CORS both ask it.
pub fn is_allowed(origin: &str, own: Option<&str>, allowed: &[String]) -> bool {
    let origin = canonical(origin);
    origin != "null"
        && (own.is_some_and(|own| canonical(own) == origin)
            || allowed.iter().any(|a| canonical(a) == origin))
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
    let own = own_origin(req, config);
    if is_allowed(origin, own.as_deref(), &config.network.allowed_origins) {
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

/// CORS with credentials for `WRISTBAND_ALLOWED_ORIGINS` only (as
/// [`is_allowed`] compares them): their preflights are answered and their
/// responses carry `Access-Control-Allow-Origin` (the request's own `Origin`)
/// and `Access-Control-Allow-Credentials: true`; any other origin gets no
/// `Access-Control-Allow-Origin` (and its preflight a 400). The server's own
/// origin needs no CORS: a browser does not ask it for same-origin calls.
pub fn cors(config: &Config) -> Cors {
    let cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
        .supports_credentials()
        .max_age(600)
        .block_on_origin_mismatch(false);
    let allowed = config.network.allowed_origins.clone();
    cors.allowed_origin_fn(move |origin, _| {
        origin
            .to_str()
            .is_ok_and(|origin| is_allowed(origin, None, &allowed))
    })
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

    #[test]
    fn origins_compare_in_the_form_browsers_send() {
        let allowed = ["https://app.example.com".to_owned()];
        for same in [
            "https://app.example.com",
            "https://App.Example.COM",
            "HTTPS://app.example.com/",
            "https://app.example.com:443",
        ] {
            assert!(is_allowed(same, None, &allowed), "{same}");
        }
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com.evil.example",
            "null",
            "",
        ] {
            assert!(!is_allowed(other, None, &allowed), "{other}");
        }
        let own = Some("http://Auth.Example.com:80");
        assert!(is_allowed("http://auth.example.com", own, &[]));
        assert!(!is_allowed("null", Some("null"), &[]));
    }

    /// CORS and the CSRF check give the same verdict, whatever the case of
    /// the configured or the sent origin.
    #[actix_web::test]
    async fn cors_agrees_with_the_cookie_check() {
        use actix_web::{App, HttpResponse, test, web};
        for (configured, sent) in [
            ("https://App.Example.com", "https://app.example.com"),
            ("https://app.example.com", "https://App.Example.com"),
            ("https://app.example.com", "https://evil.example"),
        ] {
            let c = config(&[configured]);
            let csrf_ok = check(&request(&[("origin", sent)]), &c).is_ok();
            let app = test::init_service(
                App::new()
                    .wrap(cors(&c))
                    .route("/", web::post().to(HttpResponse::Ok)),
            )
            .await;
            let preflight = test::TestRequest::default()
                .method(Method::OPTIONS)
                .insert_header(("origin", sent))
                .insert_header(("access-control-request-method", "POST"))
                .to_request();
            let response = test::call_service(&app, preflight).await;
            let allow_origin = response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                allow_origin.is_some(),
                csrf_ok,
                "{configured} / {sent}: CORS {allow_origin:?}, CSRF {csrf_ok}"
            );
            if let Some(allow_origin) = allow_origin {
                assert_eq!(allow_origin, sent, "the browser's own spelling");
            }
        }
    }
}
