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

/// One static file: its handler, with its OpenAPI description.
macro_rules! asset {
    ($name:ident, $path:literal, $file:literal, $mime:literal, $summary:literal) => {
        #[doc = concat!("`GET ", $path, "`: ", $summary, ".")]
        #[utoipa::path(
            get,
            path = $path,
            tag = "demo",
            summary = $summary,
            responses((status = 200, description = $summary, content_type = $mime, body = String))
        )]
        pub async fn $name() -> HttpResponse {
            asset(
                concat!($mime, "; charset=utf-8"),
                include_str!(concat!("../../static/", $file)),
            )
        }
    };
}

asset!(
    index,
    "/",
    "index.html",
    "text/html",
    "The demo single-page app"
);
asset!(
    app_js,
    "/app.js",
    "app.js",
    "text/javascript",
    "The demo app's script"
);
asset!(
    client_js,
    "/wristband.js",
    "wristband.js",
    "text/javascript",
    "The browser client module"
);
asset!(
    style_css,
    "/style.css",
    "style.css",
    "text/css",
    "The demo app's styles"
);
