//! The route table and the pieces every route shares: JSON body rules, the
//! JSON 404/405 answers, and the one function that writes a token response
//! with its cookie.

pub mod admin;
pub mod auth;
pub mod demo;
pub mod health;
pub mod me;
pub mod sessions;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, mime, web};

use actix_web::middleware::from_fn;

use crate::error::ApiError;
use crate::http::origin::same_origin;
use crate::http::rate_limit::rate_limited;
use crate::http::{require_admin, require_user};
use crate::sessions::Issued;
use crate::state::AppState;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(
            web::PathConfig::default().error_handler(|_: PathError, _| ApiError::NotFound.into()),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|_: QueryPayloadError, _| {
                ApiError::InvalidRequest("bad query parameters").into()
            }),
        )
        .service(resource("/auth/register").route(limited(web::post().to(auth::register))))
        .service(resource("/auth/login").route(limited(web::post().to(auth::login))))
        .service(
            resource("/auth/refresh")
                .route(cookie_endpoint(limited(web::post().to(auth::refresh)))),
        )
        .service(resource("/auth/logout").route(cookie_endpoint(web::post().to(auth::logout))))
        .service(resource("/auth/logout-all").route(signed_in(web::post().to(auth::logout_all))))
        .service(resource("/auth/password").route(signed_in(web::post().to(auth::change_password))))
        .service(resource("/auth/me").route(signed_in(web::get().to(me::me))))
        .service(resource("/auth/sessions").route(signed_in(web::get().to(sessions::list))))
        .service(
            resource("/auth/sessions/{id}").route(signed_in(web::delete().to(sessions::revoke))),
        )
        .service(
            resource("/admin/users")
                .route(admin_only(web::get().to(admin::list_users)))
                .route(admin_only(web::post().to(admin::create_user))),
        )
        .service(
            resource("/admin/users/{id}")
                .route(admin_only(web::get().to(admin::get_user)))
                .route(admin_only(web::patch().to(admin::update_user))),
        )
        .service(
            resource("/admin/users/{id}/sessions")
                .route(admin_only(web::get().to(admin::list_user_sessions)))
                .route(admin_only(web::delete().to(admin::revoke_user_sessions))),
        )
        .service(
            resource("/admin/sessions/{id}")
                .route(admin_only(web::delete().to(admin::revoke_session))),
        )
        .service(resource("/admin/audit").route(admin_only(web::get().to(admin::audit))))
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/").route(web::get().to(demo::index)))
        .service(resource("/app.js").route(web::get().to(demo::app_js)))
        .service(resource("/wristband.js").route(web::get().to(demo::client_js)))
        .service(resource("/style.css").route(web::get().to(demo::style_css)));
}

/// A route under the per-client-IP rate limit.
fn limited(route: actix_web::Route) -> actix_web::Route {
    route.wrap(from_fn(rate_limited))
}

/// A route that reads the refresh cookie: refused from foreign origins (CSRF)
/// before anything else, the rate limit included.
fn cookie_endpoint(route: actix_web::Route) -> actix_web::Route {
    route.wrap(from_fn(same_origin))
}

/// A route that authenticates the Bearer token before anything else.
fn signed_in(route: actix_web::Route) -> actix_web::Route {
    route.wrap(from_fn(require_user))
}

/// A route only admins reach: 401, then 403, before anything else.
fn admin_only(route: actix_web::Route) -> actix_web::Route {
    route.wrap(from_fn(require_admin))
}

/// A resource whose unmatched methods get a JSON 405.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
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

/// 200 with the token body and the refresh cookie.
pub fn token_response(state: &AppState, issued: Issued) -> HttpResponse {
    HttpResponse::Ok()
        .cookie(state.cookie.set(&issued.refresh, issued.cookie_max_age))
        .json(issued.body)
}
