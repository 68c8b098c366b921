//! `POST /auth/introspect` (RFC 7662), for resource servers that want to know
//! whether an access token is live *now*: the same rule as every
//! authenticated request, so a revoked token is inactive on the next call.
//! Off (404) unless `WRISTBAND_INTROSPECTION_SECRET` is set; callers present
//! that secret as `Authorization: Bearer`.

use actix_web::{HttpRequest, http::header, web};
use futures_util::StreamExt;

use super::BODY_LIMIT;
use super::responses::Unavailable;
use crate::api::{ErrorResponse, Introspection, IntrospectionRequest};
use crate::error::ApiError;
use crate::http::extract::require_shared_secret;
use crate::state::AppState;

/// Whether `token` is an access token that would be accepted right now.
#[utoipa::path(
    post,
    path = "/auth/introspect",
    tag = "auth",
    summary = "Introspect an access token (RFC 7662)",
    security(("introspection_secret" = [])),
    request_body(content = IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"active\": false}`, or `active: true` with the token's claims and the user's current role", body = Introspection),
        (status = 400, description = "the body is not a form with a `token`, or two `Authorization` headers", body = ErrorResponse),
        (status = 401, description = "the introspection secret was not presented", body = ErrorResponse),
        (status = 404, description = "introspection is off (`WRISTBAND_INTROSPECTION_SECRET` is not set)", body = ErrorResponse),
        (status = 413, description = "body over 16 KiB", body = ErrorResponse),
        (status = 415, description = "body not `application/x-www-form-urlencoded`", body = ErrorResponse),
        Unavailable,
    )
)]
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<web::Json<Introspection>, ApiError> {
    let secret = state
        .config
        .keys
        .introspection_secret
        .as_ref()
        .ok_or(ApiError::NotFound)?;
    require_shared_secret(&req, secret)?;
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = read_body(payload).await?;
    let request: IntrospectionRequest = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::InvalidRequest("the body must be a form with a token"))?;
    let answer = match state.sessions.introspect(&request.token).await? {
        Some((claims, caller)) => Introspection {
            active: true,
            sub: Some(claims.sub),
            sid: Some(claims.sid),
            role: Some(caller.user.role),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            token_type: Some("Bearer".to_owned()),
            amr: Some(claims.amr),
        },
        None => Introspection::default(),
    };
    Ok(web::Json(answer))
}

/// The request body, refused past [`BODY_LIMIT`].
async fn read_body(mut payload: web::Payload) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            crate::http::timeout::body_error(
                &e,
                ApiError::InvalidRequest("the body could not be read"),
            )
        })?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
