//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated
//! from the handlers' annotations and the `api` types. A test keeps it and
//! the route table (`routes::table`) listing the same paths and methods.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    Features, admin, auth, demo, health, introspect, jwks, mail, me, metrics, mfa, passkeys,
    sessions, test_mode,
};
use crate::api::ErrorResponse;
use crate::state::AppState;

/// The document, without the refresh cookie's name (which depends on
/// `WRISTBAND_COOKIE_SECURE`; [`openapi`] fills it in).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Wristband",
        description = "Self-hosted authentication: short-lived JWT access tokens (Bearer), \
            rotating refresh tokens in an HttpOnly cookie, immediate revocation. Errors are \
            `{\"error\", \"error_description\"}` (plus `reason` on `invalid_grant`); the only 5xx \
            is 503 `unavailable`.",
        license(name = "MIT")
    ),
    paths(
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::logout_all,
        auth::change_password,
        mfa::login_mfa,
        mfa::start_totp,
        mfa::disable_totp,
        mfa::confirm_totp,
        mfa::regenerate_recovery_codes,
        mfa::admin_reset_mfa,
        passkeys::register_start,
        passkeys::register_finish,
        passkeys::list,
        passkeys::rename,
        passkeys::remove,
        passkeys::login_start,
        passkeys::login_finish,
        mail::password_reset,
        mail::password_reset_confirm,
        mail::verify_email_send,
        mail::verify_email,
        mail::change_email,
        mail::confirm_email,
        mail::admin_password_reset,
        mail::mailbox,
        mail::clear_mailbox,
        me::me,
        introspect::introspect,
        sessions::list,
        sessions::revoke,
        sessions::logout_others,
        admin::list_users,
        admin::create_user,
        admin::get_user,
        admin::update_user,
        admin::list_user_sessions,
        admin::revoke_user_sessions,
        admin::revoke_session,
        admin::audit,
        health::healthz,
        health::readyz,
        openapi,
        metrics::metrics,
        jwks::jwks,
        test_mode::create_user,
        test_mode::clock,
        test_mode::advance_clock,
        demo::index,
        demo::app_js,
        demo::client_js,
        demo::style_css,
    ),
    components(schemas(ErrorResponse)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Register, log in, refresh, log out, change the password"),
        (name = "sessions", description = "The caller's own sessions"),
        (name = "mfa", description = "A second factor: TOTP codes and recovery codes, and the login's second step"),
        (name = "passkeys", description = "Passkeys (WebAuthn): register, list, rename, remove, and sign in with one (served when a relying party can be named: `WRISTBAND_RP_ID`, a public URL with a domain, or a loopback bind; 404 otherwise)"),
        (name = "mail", description = "Password reset, email verification and email change through mailed links (served when mail is on: `WRISTBAND_SMTP_URL` or test mode; 404 otherwise)"),
        (name = "admin", description = "Users, sessions and the audit log (admins only)"),
        (name = "operations", description = "Health, readiness, the API document"),
        (name = "testing", description = "Test mode only (`WRISTBAND_TEST_MODE=true`): users with sessions in one call, a clock that moves forward; 404 otherwise"),
        (name = "demo", description = "The demo app and the browser client module"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("__Host-wristband_refresh"))),
        );
        for operator_secret in ["metrics_token", "introspection_secret"] {
            components.add_security_scheme(
                operator_secret,
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The document of this server: its refresh-cookie name, and test mode's
/// and mail's routes only when it serves them.
pub fn document(cookie_name: &str, features: Features) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.paths
        .paths
        .retain(|path, _| super::serves(features, path));
    if let Some(tags) = doc.tags.as_mut() {
        tags.retain(|tag| match tag.name.as_str() {
            "testing" => features.test_mode,
            "mail" => features.mail,
            "passkeys" => features.passkeys,
            _ => true,
        });
    }
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(cookie_name))),
        );
    }
    doc
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "This document",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
/// `GET /openapi.json`.
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(document(state.cookie.name(), state.features()))
}
