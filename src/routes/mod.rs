//! The route table and the pieces every route shares: JSON body rules and
//! the JSON 404/405 answers. The shared answers (the token response with its
//! cookies, the refusal groups of the API document) are in `responses.rs`.

pub mod admin;
pub mod auth;
pub mod demo;
pub mod errors;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod mail;
pub mod me;
pub mod metrics;
pub mod mfa;
pub mod openapi;
pub mod passkeys;
pub mod responses;
pub mod sessions;
pub mod test_mode;

use actix_web::ResponseError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, Route, mime, web};

use actix_web::middleware::from_fn;

use crate::error::ApiError;
use crate::http::origin::same_origin;
use crate::http::rate_limit::rate_limited;
use crate::http::{require_admin, require_user};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 16 * 1024;

/// One route of the table: a method on a path, and how its handler is
/// wrapped (the guards a route needs before anything else).
pub struct Entry {
    /// The method.
    pub method: Method,
    /// The path pattern, as in the OpenAPI document.
    pub path: &'static str,
    build: fn(Route) -> Route,
}

fn on(method: Method, path: &'static str, build: fn(Route) -> Route) -> Entry {
    Entry {
        method,
        path,
        build,
    }
}

/// Every route Wristband serves: [`configure`] registers exactly these, and a
/// test checks that the OpenAPI document lists the same paths and methods.
pub fn table() -> Vec<Entry> {
    use Method as M;
    vec![
        on(M::POST, "/auth/register", |r| limited(r.to(auth::register))),
        on(M::POST, "/auth/login", |r| limited(r.to(auth::login))),
        on(M::POST, "/auth/refresh", |r| {
            cookie_endpoint(limited(r.to(auth::refresh)))
        }),
        on(M::POST, "/auth/logout", |r| {
            cookie_endpoint(r.to(auth::logout))
        }),
        on(M::POST, "/auth/logout-all", |r| {
            signed_in(r.to(auth::logout_all))
        }),
        on(M::POST, "/auth/password", |r| {
            signed_in(r.to(auth::change_password))
        }),
        // Its one extractor is the caller: nothing to order before it.
        on(M::POST, "/auth/login/mfa", |r| {
            limited(r.to(mfa::login_mfa))
        }),
        on(M::POST, "/auth/mfa/totp", |r| {
            signed_in(limited(r.to(mfa::start_totp)))
        }),
        on(M::DELETE, "/auth/mfa/totp", |r| {
            signed_in(r.to(mfa::disable_totp))
        }),
        on(M::POST, "/auth/mfa/totp/confirm", |r| {
            signed_in(limited(r.to(mfa::confirm_totp)))
        }),
        on(M::POST, "/auth/mfa/recovery-codes", |r| {
            signed_in(r.to(mfa::regenerate_recovery_codes))
        }),
        on(M::DELETE, "/admin/users/{id}/mfa", |r| {
            admin_only(r.to(mfa::admin_reset_mfa))
        }),
        on(M::POST, "/auth/passkeys/register/start", |r| {
            signed_in(limited(r.to(passkeys::register_start)))
        }),
        on(M::POST, "/auth/passkeys/register/finish", |r| {
            signed_in(limited(r.to(passkeys::register_finish)))
        }),
        on(M::GET, "/auth/passkeys", |r| {
            signed_in(r.to(passkeys::list))
        }),
        on(M::PATCH, "/auth/passkeys/{id}", |r| {
            signed_in(r.to(passkeys::rename))
        }),
        on(M::DELETE, "/auth/passkeys/{id}", |r| {
            signed_in(r.to(passkeys::remove))
        }),
        on(M::POST, "/auth/passkeys/login/start", |r| {
            limited(r.to(passkeys::login_start))
        }),
        on(M::POST, "/auth/passkeys/login/finish", |r| {
            limited(r.to(passkeys::login_finish))
        }),
        on(M::POST, "/auth/password-reset", |r| {
            limited(r.to(mail::password_reset))
        }),
        on(M::POST, "/auth/password-reset/confirm", |r| {
            limited(r.to(mail::password_reset_confirm))
        }),
        on(M::POST, "/auth/verify-email/send", |r| {
            signed_in(limited(r.to(mail::verify_email_send)))
        }),
        on(M::POST, "/auth/verify-email", |r| {
            limited(r.to(mail::verify_email))
        }),
        on(M::POST, "/auth/email", |r| {
            signed_in(limited(r.to(mail::change_email)))
        }),
        on(M::POST, "/auth/email/confirm", |r| {
            limited(r.to(mail::confirm_email))
        }),
        on(M::POST, "/admin/users/{id}/password-reset", |r| {
            admin_only(r.to(mail::admin_password_reset))
        }),
        on(M::GET, "/test/mailbox", |r| r.to(mail::mailbox)),
        on(M::DELETE, "/test/mailbox", |r| r.to(mail::clear_mailbox)),
        // Its one extractor is the caller: nothing to order before it.
        on(M::GET, "/auth/me", |r| r.to(me::me)),
        on(M::POST, "/auth/introspect", |r| {
            r.to(introspect::introspect)
        }),
        on(M::GET, "/auth/sessions", |r| {
            signed_in(r.to(sessions::list))
        }),
        on(M::DELETE, "/auth/sessions/{id}", |r| {
            signed_in(r.to(sessions::revoke))
        }),
        on(M::POST, "/auth/logout-others", |r| {
            signed_in(r.to(sessions::logout_others))
        }),
        on(M::GET, "/admin/users", |r| {
            admin_only(r.to(admin::list_users))
        }),
        on(M::POST, "/admin/users", |r| {
            admin_only(r.to(admin::create_user))
        }),
        on(M::GET, "/admin/users/{id}", |r| {
            admin_only(r.to(admin::get_user))
        }),
        on(M::PATCH, "/admin/users/{id}", |r| {
            admin_only(r.to(admin::update_user))
        }),
        on(M::GET, "/admin/users/{id}/sessions", |r| {
            admin_only(r.to(admin::list_user_sessions))
        }),
        on(M::DELETE, "/admin/users/{id}/sessions", |r| {
            admin_only(r.to(admin::revoke_user_sessions))
        }),
        on(M::DELETE, "/admin/sessions/{id}", |r| {
            admin_only(r.to(admin::revoke_session))
        }),
        on(M::GET, "/admin/audit", |r| admin_only(r.to(admin::audit))),
        on(M::GET, "/healthz", |r| r.to(health::healthz)),
        on(M::GET, "/readyz", |r| r.to(health::readyz)),
        on(M::GET, "/openapi.json", |r| r.to(openapi::openapi)),
        on(M::GET, "/metrics", |r| r.to(metrics::metrics)),
        on(M::GET, "/.well-known/jwks.json", |r| r.to(jwks::jwks)),
        on(M::POST, "/test/users", |r| r.to(test_mode::create_user)),
        on(M::GET, "/test/clock", |r| r.to(test_mode::clock)),
        on(M::POST, "/test/clock", |r| r.to(test_mode::advance_clock)),
        on(M::GET, "/", |r| r.to(demo::index)),
        on(M::GET, "/app.js", |r| r.to(demo::app_js)),
        on(M::GET, "/wristband.js", |r| r.to(demo::client_js)),
        on(M::GET, "/style.css", |r| r.to(demo::style_css)),
    ]
}

pub use crate::state::Features;

/// The paths of the mail routes (§ mail of the API), served only with mail on.
const MAIL_PATHS: [&str; 7] = [
    "/auth/password-reset",
    "/auth/password-reset/confirm",
    "/auth/verify-email/send",
    "/auth/verify-email",
    "/auth/email",
    "/auth/email/confirm",
    "/admin/users/{id}/password-reset",
];

/// Whether a server with `features` serves `path`: test mode's routes only
/// in test mode, the mail routes only with mail on, the passkey routes only
/// with a relying party. A path not served is
/// not registered at all: every request to it is the plain 404 of an
/// unknown path, and the API document leaves it out.
pub fn serves(features: Features, path: &str) -> bool {
    if path.starts_with("/test/") {
        features.test_mode
    } else if MAIL_PATHS.contains(&path) {
        features.mail
    } else if path.starts_with("/auth/passkeys") {
        features.passkeys
    } else {
        true
    }
}

/// Registers every route of [`table`] that a server with `features` serves,
/// with the JSON, path and query rules.
pub fn configure(cfg: &mut web::ServiceConfig, features: Features) {
    cfg.app_data(json_config())
        .app_data(
            web::PathConfig::default().error_handler(|_: PathError, _| ApiError::NotFound.into()),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|_: QueryPayloadError, _| {
                ApiError::InvalidRequest("bad query parameters").into()
            }),
        );
    let table: Vec<Entry> = table()
        .into_iter()
        .filter(|entry| serves(features, entry.path))
        .collect();
    let mut paths: Vec<&'static str> = Vec::new();
    for entry in &table {
        if !paths.contains(&entry.path) {
            paths.push(entry.path);
        }
    }
    for path in paths {
        let routes: Vec<&Entry> = table.iter().filter(|entry| entry.path == path).collect();
        let methods: Vec<&str> = routes.iter().map(|entry| entry.method.as_str()).collect();
        let resource = routes
            .iter()
            .fold(resource(path, &methods), |resource, entry| {
                resource.route((entry.build)(web::route().method(entry.method.clone())))
            });
        cfg.service(resource);
    }
}

/// A route under the per-client-IP rate limit.
fn limited(route: Route) -> Route {
    route.wrap(from_fn(rate_limited))
}

/// A route that reads the refresh cookie: refused from foreign origins (CSRF)
/// before anything else, the rate limit included.
fn cookie_endpoint(route: Route) -> Route {
    route.wrap(from_fn(same_origin))
}

/// A route that authenticates the Bearer token before anything else.
fn signed_in(route: Route) -> Route {
    route.wrap(from_fn(require_user))
}

/// A route only admins reach: 401, then 403, before anything else.
fn admin_only(route: Route) -> Route {
    route.wrap(from_fn(require_admin))
}

/// A resource whose other methods get a JSON 405 with `Allow: methods`.
fn resource(path: &str, methods: &[&str]) -> actix_web::Resource {
    let allow = methods.join(", ");
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            let mut response = ApiError::MethodNotAllowed.error_response();
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::ALLOW, value);
            }
            response
        }
    }))
}

/// The JSON 404 for unknown paths.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .content_type_required(true)
        .content_type(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        .error_handler(|error: JsonPayloadError, _: &HttpRequest| {
            let api = match error {
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
                JsonPayloadError::Payload(e) => crate::http::timeout::body_error(
                    &e,
                    ApiError::InvalidRequest("the body could not be read"),
                ),
                _ => ApiError::InvalidRequest(
                    "the body must be a JSON object with the documented fields",
                ),
            };
            api.into()
        })
}

/// A JSON request body that must be an object with unique member names: a
/// body is parsed whole (every string decoded, nesting bounded) before it is
/// read as `T`, so an array read as positional fields, a repeated member, or
/// invalid text in a member `T` would skip, is a 400 like any other
/// malformed body.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let object = web::Json::<UniqueObject>::from_request(req, payload);
        Box::pin(async move {
            let object = serde_json::Value::Object(object.await?.into_inner().0);
            T::deserialize(object).map(Self).map_err(|_| {
                ApiError::InvalidRequest(
                    "the body must be a JSON object with the documented fields",
                )
                .into()
            })
        })
    }
}

/// A JSON object whose member names are unique.
struct UniqueObject(serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = UniqueObject;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut members = serde_json::Map::new();
                while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
                    if members.insert(name, value).is_some() {
                        return Err(serde::de::Error::custom("a member is repeated"));
                    }
                }
                Ok(UniqueObject(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}
