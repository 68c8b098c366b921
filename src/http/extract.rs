//! Request extractors: [`AuthUser`] (the one place that parses the
//! `Authorization` header; the token itself is authenticated by
//! `Sessions::authenticate`) and [`AdminUser`] (the same, plus the current
//! role must be admin), and the route middleware that runs them first.

use std::future::ready;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

pub use crate::sessions::AuthUser;

use crate::db::Role;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::AccessClaims;
use crate::tokens::access::MAX_TOKEN_BYTES;

/// The shared state, or 503 if the app was built without it.
pub(crate) fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            log::error!("application state missing");
            ApiError::Unavailable
        })
}

/// The Bearer token of the request. Exactly one `Authorization` header is
/// accepted (two are a 400); the scheme matches case-insensitively; tokens in
/// the query string or a cookie are never looked at; a token longer than
/// [`MAX_TOKEN_BYTES`] (8 KiB) is `InvalidToken` before anything reads it
/// (so an operator secret presented as a Bearer token must fit too).
pub fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next().ok_or(ApiError::MissingToken)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidRequest(
            "only one Authorization header is allowed",
        ));
    }
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::InvalidToken);
    }
    if token.is_empty() || !token.bytes().all(crate::tokens::is_token68_byte) {
        return Err(ApiError::InvalidToken);
    }
    Ok(token.to_owned())
}

/// Checks that the request carries `expected` as its Bearer token (the
/// operator-set secrets of `/metrics` and `/auth/introspect`). Both sides are
/// hashed first, so the comparison takes the same time whatever the given
/// value, its length included.
pub fn require_shared_secret(
    req: &HttpRequest,
    expected: &secrecy::SecretString,
) -> Result<(), ApiError> {
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let given = bearer_token(req)?;
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.expose_secret().as_bytes());
    if bool::from(given.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// The claims of a Bearer token that passes the stateless checks, whether or
/// not its session is still live (logout uses it to find the session to end).
pub fn verified_claims(req: &HttpRequest) -> Option<AccessClaims> {
    let state = state_of(req).ok()?;
    let token = bearer_token(req).ok()?;
    state.access.verify(&token).ok()
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already authenticated by `require_user` / `require_admin`.
        if let Some(user) = req.extensions().get::<AuthUser>().cloned() {
            return Box::pin(ready(Ok(user)));
        }
        let prepared = state_of(req).and_then(|state| Ok((state, bearer_token(req)?)));
        Box::pin(async move {
            let (state, token) = prepared?;
            Ok(state.sessions.authenticate(&token).await?)
        })
    }
}

/// An authenticated caller whose *current* role is admin: 401 without a valid
/// token, 403 `forbidden` for anyone else. The role comes from the liveness
/// check, not the token, and role changes bump the token version, so a demoted
/// admin's old token stops working at once.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.user.role == Role::Admin {
                Ok(Self(caller))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}

/// Route middleware: authenticates the caller before the handler's other
/// extractors run. actix-web polls a handler's extractors together and answers
/// with the first error, so without this a bad path or body could answer 400
/// or 404 before a missing token answers 401.
pub async fn require_user(
    user: AuthUser,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    req.extensions_mut().insert(user);
    next.call(req).await
}

/// Route middleware: like [`require_user`], and the caller must be an admin
/// (401, then 403, before anything else about the request is looked at).
pub async fn require_admin(
    admin: AdminUser,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    req.extensions_mut().insert(admin.0);
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for header in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi",
        ] {
            let req = TestRequest::default()
                .insert_header(("authorization", header))
                .to_http_request();
            assert_eq!(bearer_token(&req).unwrap(), "abc.def.ghi", "{header}");
        }
    }

    #[test]
    fn two_authorization_headers_are_a_bad_request() {
        let req = TestRequest::default()
            .append_header(("authorization", "Bearer a.b.c"))
            .append_header(("authorization", "Bearer d.e.f"))
            .to_http_request();
        assert!(matches!(
            bearer_token(&req),
            Err(ApiError::InvalidRequest(_))
        ));
    }

    #[test]
    fn other_schemes_and_places_are_not_bearer_tokens() {
        let req = TestRequest::default()
            .insert_header(("authorization", "Basic dXNlcjpwYXNz"))
            .to_http_request();
        assert!(matches!(bearer_token(&req), Err(ApiError::MissingToken)));
        let req = TestRequest::with_uri("/auth/me?access_token=a.b.c")
            .insert_header(("cookie", "access_token=a.b.c"))
            .to_http_request();
        assert!(matches!(bearer_token(&req), Err(ApiError::MissingToken)));
        let req = TestRequest::default()
            .insert_header(("authorization", "Bearer a b"))
            .to_http_request();
        assert!(matches!(bearer_token(&req), Err(ApiError::InvalidToken)));
    }

    #[test]
    fn tokens_over_8_kib_are_refused_unread() {
        let with_token = |token: &str| {
            TestRequest::default()
                .insert_header(("authorization", format!("Bearer {token}")))
                .to_http_request()
        };
        let longest = "a".repeat(MAX_TOKEN_BYTES);
        assert_eq!(MAX_TOKEN_BYTES, 8192);
        assert_eq!(bearer_token(&with_token(&longest)).unwrap(), longest);
        let over = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            bearer_token(&with_token(&over)),
            Err(ApiError::InvalidToken)
        ));
    }

    mod properties {
        use super::*;
        use actix_web::http::header::HeaderValue;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            crate::proptest_support::proptest_config()
        }

        fn with_authorization(value: HeaderValue) -> HttpRequest {
            TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request()
        }

        fn is_token68(token: &str) -> bool {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(c))
        }

        /// Bytes a header value may hold (visible ASCII, tab, obs-text), so
        /// most cases reach the parser.
        fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
            let byte = prop_oneof![
                4 => 0x20u8..0x7f,
                1 => Just(b'\t'),
                1 => 0x80u8..=0xff,
            ];
            let prefix = prop_oneof![
                Just(b"".to_vec()),
                Just(b"Bearer ".to_vec()),
                Just(b"bearer".to_vec()),
                Just(b"BEARER \t ".to_vec()),
                Just(b"Basic ".to_vec()),
            ];
            (prefix, proptest::collection::vec(byte, 0..300)).prop_map(|(mut prefix, rest)| {
                prefix.extend(rest);
                prefix
            })
        }

        /// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
        fn token68() -> impl Strategy<Value = String> {
            "[A-Za-z0-9._~+/-]{1,400}={0,3}"
        }

        /// "bearer" in any mix of cases.
        fn any_case_bearer() -> impl Strategy<Value = String> {
            proptest::collection::vec(any::<bool>(), 6).prop_map(|upper| {
                "bearer"
                    .chars()
                    .zip(upper)
                    .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                    .collect()
            })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn never_panics_on_arbitrary_bytes(
                bytes in proptest::collection::vec(any::<u8>(), 0..200),
            ) {
                if let Ok(value) = HeaderValue::from_bytes(&bytes)
                    && let Ok(token) = bearer_token(&with_authorization(value))
                {
                    prop_assert!(is_token68(&token), "{token:?}");
                }
            }

            #[test]
            fn never_panics_on_header_bytes(bytes in header_bytes()) {
                let value = HeaderValue::from_bytes(&bytes).expect("valid header bytes");
                match bearer_token(&with_authorization(value)) {
                    Ok(token) => {
                        prop_assert!(is_token68(&token), "{token:?}");
                        let text = std::str::from_utf8(&bytes).expect("accepted text is UTF-8");
                        prop_assert!(text.contains(&token));
                    }
                    Err(error) => prop_assert!(
                        matches!(error, ApiError::MissingToken | ApiError::InvalidToken),
                        "{error:?}"
                    ),
                }
            }

            #[test]
            fn never_panics_on_arbitrary_strings(text in "\\PC{0,300}") {
                let value = HeaderValue::from_str(&text).expect("printable text");
                if let Ok(token) = bearer_token(&with_authorization(value)) {
                    prop_assert!(is_token68(&token), "{token:?}");
                    prop_assert!(text.contains(&token));
                }
            }

            #[test]
            fn a_bearer_token68_parses_back_exactly(
                scheme in any_case_bearer(),
                spaces in 1usize..4,
                token in token68(),
            ) {
                let header = format!("{scheme}{}{token}", " ".repeat(spaces));
                let value = HeaderValue::from_str(&header).expect("ASCII");
                prop_assert_eq!(bearer_token(&with_authorization(value)).ok(), Some(token));
            }
        }
    }
}
