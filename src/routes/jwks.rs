//! `GET /.well-known/jwks.json`: the public keys that may have signed an
//! access token valid now, for services that verify tokens themselves.
//! Only EdDSA keys are public; with HS256 the set is empty.

use actix_web::web;

use crate::state::AppState;
use crate::tokens::keys::Jwks;

/// The JSON Web Key Set (RFC 7517).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    summary = "The public keys of access tokens (JWKS)",
    responses(
        (status = 200, description = "the Ed25519 keys that verify tokens valid now (current and recently retired), each with its `kid`; empty with HS256", body = Jwks),
    )
)]
pub async fn jwks(state: web::Data<AppState>) -> web::Json<Jwks> {
    web::Json(state.access.jwks())
}
