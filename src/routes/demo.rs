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
pub async fn index() -> HttpResponse {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../static/index.html"),
    )
}

/// `GET /app.js`: the demo app.
pub async fn app_js() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}

/// `GET /wristband.js`: the browser client module.
pub async fn client_js() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/wristband.js"),
    )
}

/// `GET /style.css`: the demo app's styles.
pub async fn style_css() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    )
}
