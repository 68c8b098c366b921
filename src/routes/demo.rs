//! The demo single-page app and the browser client module, built into the
//! binary from `static/`: `GET /` (the page), `/app.js`, `/style.css`, and
//! `/wristband.js` (the client any SPA can import).
//!
//! Every one of them is served with a `Content-Security-Policy` that allows
//! only this origin's scripts, styles and connections, and no inline script.

use actix_web::HttpResponse;
use actix_web::http::header;

/// Scripts, styles and connections from this origin only; nothing inline,
/// nothing framed, no plugins, no other base or form target.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

/// `GET /`: the demo app's page.
#[utoipa::path(
    get,
    path = "/",
    tag = "demo",
    summary = "The demo single-page app",
    responses(
        (status = 200, description = "the page", content_type = "text/html", body = String),
    )
)]
pub async fn index() -> HttpResponse {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../static/index.html"),
    )
}

/// `GET /app.js`: the demo app.
#[utoipa::path(
    get,
    path = "/app.js",
    tag = "demo",
    summary = "The demo app's script",
    responses(
        (status = 200, description = "the script", content_type = "text/javascript", body = String),
    )
)]
pub async fn app_js() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}

/// `GET /wristband.js`: the browser client module.
#[utoipa::path(
    get,
    path = "/wristband.js",
    tag = "demo",
    summary = "The browser client module",
    responses(
        (status = 200, description = "the ES module", content_type = "text/javascript", body = String),
    )
)]
pub async fn client_js() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/wristband.js"),
    )
}

/// `GET /style.css`: the demo app's styles.
#[utoipa::path(
    get,
    path = "/style.css",
    tag = "demo",
    summary = "The demo app's styles",
    responses(
        (status = 200, description = "the styles", content_type = "text/css", body = String),
    )
)]
pub async fn style_css() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    )
}
