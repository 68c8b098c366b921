//! Test mode's routes (`WRISTBAND_TEST_MODE=true`, loopback binds only):
//! `POST /test/users` mints a user with a live session in one call, and
//! `/test/clock` shows and moves the server's clock forward. Without test
//! mode they are not registered (`routes::configure`): any request to them
//! is the 404 of an unknown path.

use actix_web::{HttpResponse, web};

use super::JsonObject;
use super::responses::token_response_with;
use super::responses::{BodyLimits, Unavailable};
use crate::api::{
    ClockAdvance, ClockState, ErrorResponse, Password, TestUserRequest, TokenResponse,
};
use crate::auth::ClientInfo;
use crate::clock::ClockError;
use crate::config::parse_duration;
use crate::error::ApiError;
use crate::state::AppState;
use crate::users::{self, Address, NewAccount};

/// A random password for a test user created without one.
fn random_password() -> Password {
    Password::from(crate::mac::random_key().1)
}

/// `POST /test/users`: 201 with the token body and the refresh cookie.
#[utoipa::path(
    post,
    path = "/test/users",
    tag = "testing",
    summary = "Test mode: create a user with a live session",
    request_body = TestUserRequest,
    responses(
        (status = 201, description = "the user, an access token, and the refresh cookie of a new session", body = TokenResponse, headers(("set-cookie" = String, description = "the refresh cookie"))),
        (status = 400, description = "malformed request, `invalid_email` or `weak_password`", body = ErrorResponse),
        (status = 409, description = "the email is taken", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn create_user(
    state: web::Data<AppState>,
    body: JsonObject<TestUserRequest>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let TestUserRequest {
        email,
        password,
        role,
        email_verified,
    } = body.into_inner();
    let address = if email_verified.unwrap_or(true) {
        Address::Vouched
    } else {
        Address::Unverified
    };
    let role = users::parse_role(role.as_deref().unwrap_or("user"))?;
    let password = password.unwrap_or_else(random_password);
    let account = NewAccount {
        email,
        password,
        role,
        address,
    };
    let user = users::create_user(&state.db, &state.hasher, account, client.clone(), None).await?;
    let issued = state
        .sessions
        .open_session_unchecked(user.id, client)
        .await?;
    Ok(token_response_with(HttpResponse::Created(), &state, issued))
}

fn clock_state(state: &AppState) -> ClockState {
    let clock = &state.clock;
    ClockState {
        now: clock.now_utc(),
        offset_seconds: clock.offset().as_secs(),
    }
}

/// `GET /test/clock`.
#[utoipa::path(
    get,
    path = "/test/clock",
    tag = "testing",
    summary = "Test mode: the server's clock",
    responses(
        (status = 200, description = "the time the server's rules read, and how far it is ahead", body = ClockState),
    )
)]
pub async fn clock(state: web::Data<AppState>) -> Result<web::Json<ClockState>, ApiError> {
    Ok(web::Json(clock_state(&state)))
}

/// `POST /test/clock`: moves the clock forward.
#[utoipa::path(
    post,
    path = "/test/clock",
    tag = "testing",
    summary = "Test mode: move the server's clock forward",
    request_body = ClockAdvance,
    responses(
        (status = 200, description = "the clock after the move", body = ClockState),
        (status = 400, description = "not a duration, negative, or too far", body = ErrorResponse),
        BodyLimits,
    )
)]
pub async fn advance_clock(
    state: web::Data<AppState>,
    body: JsonObject<ClockAdvance>,
) -> Result<web::Json<ClockState>, ApiError> {
    let by = parse_duration(&body.into_inner().advance).map_err(|_| {
        ApiError::InvalidRequest("advance must be a duration forward: 30s, 15m, 8d or seconds")
    })?;
    state.clock.advance(by).map_err(|e| match e {
        ClockError::TooFar => ApiError::InvalidRequest("advance is too far"),
        ClockError::NotMovable => ApiError::NotFound,
    })?;
    Ok(web::Json(clock_state(&state)))
}
