//! The second factor's routes: enrolment, the login's second step, new
//! recovery codes, disabling, and an admin's removal. Thin: parse, call
//! `Sessions`, shape the answer (the token responses set their cookies in
//! `responses.rs`).

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use super::JsonObject;
use super::errors::caller_error;
use super::responses::{BearerRefusals, BodyLimits, Unavailable, token_response, tokens_and};
use crate::api::{
    ErrorResponse, MfaCode, MfaLogin, RecoveryCodes, TokenResponse, TotpConfirmed, TotpEnrolment,
    TotpStart,
};
use crate::auth::ClientInfo;
use crate::db::UserId;
use crate::error::ApiError;
use crate::http::{AdminUser, AuthUser};
use crate::mfa::Proof;
use crate::state::AppState;

fn shown(codes: Vec<secrecy::SecretString>) -> Vec<String> {
    codes
        .iter()
        .map(|code| code.expose_secret().to_owned())
        .collect()
}

/// `POST /auth/mfa/totp`: a pending TOTP factor.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp",
    tag = "mfa",
    summary = "Start a TOTP factor (after the current password)",
    description = "A new secret, shown once as base32, as an `otpauth://` URI and as an SVG QR code of that URI. It replaces a pending one, and does nothing until `POST /auth/mfa/totp/confirm` proves a code from it.",
    request_body = TotpStart,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the pending factor", body = TotpEnrolment),
        (status = 403, description = "`invalid_credentials`: the current password is wrong", body = ErrorResponse),
        (status = 409, description = "`mfa_already_enabled`", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BearerRefusals,
        BodyLimits,
        Unavailable,
    )
)]
pub async fn start_totp(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: JsonObject<TotpStart>,
) -> Result<web::Json<TotpEnrolment>, ApiError> {
    let password = body.into_inner().current_password.into_secret();
    let enrolment = state.sessions.start_totp(caller, password).await?;
    Ok(web::Json(TotpEnrolment {
        secret: enrolment.secret.expose_secret().to_owned(),
        otpauth_uri: enrolment.otpauth_uri.expose_secret().to_owned(),
        qr_svg: enrolment.qr_svg.expose_secret().to_owned(),
    }))
}

/// `POST /auth/mfa/totp/confirm`: a code activates the pending factor.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/confirm",
    tag = "mfa",
    summary = "Confirm the TOTP factor with a code; every other session ends",
    description = "Ten recovery codes, shown once; fresh tokens for this session (its `amr` becomes `[\"pwd\", \"otp\"]`), whose earlier refresh tokens are spent; every other session of the user ends. Wrong codes count in the login lockout; a pending factor lasts 10 minutes.",
    request_body = MfaCode,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "tokens and the recovery codes; the refresh and device cookies", body = TotpConfirmed, headers(("set-cookie" = String, description = "the refresh cookie and the device cookie"))),
        (status = 400, description = "`invalid_code`: wrong, or no pending factor; or malformed", body = ErrorResponse),
        (status = 401, description = "no valid access token (`missing_token` / `invalid_token`)", body = ErrorResponse),
        (status = 409, description = "`mfa_already_enabled`", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit, or wrong codes locked this client's class of the account", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: AuthUser,
    body: JsonObject<MfaCode>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let device = state.device_cookie.read(&req);
    let code = body.into_inner().code.into_secret();
    let (issued, codes) = state
        .sessions
        .confirm_totp(caller, code, device, client)
        .await
        .map_err(caller_error)?;
    let recovery_codes = shown(codes);
    Ok(tokens_and(HttpResponse::Ok(), &state, issued, |tokens| {
        TotpConfirmed {
            tokens,
            recovery_codes,
        }
    }))
}

/// `POST /auth/login/mfa`: the login's second step.
#[utoipa::path(
    post,
    path = "/auth/login/mfa",
    tag = "mfa",
    summary = "Finish a login with a TOTP code or a recovery code",
    description = "`mfa_token` is what `POST /auth/login` answered (5 minutes, once). Give `code` or `recovery_code`. A TOTP code is accepted once; wrong codes count as failures in the login lockout, like wrong passwords.",
    request_body = MfaLogin,
    params(("__Host-wristband_device" = Option<String>, Cookie, description = "the device cookie: this client's class in the lockout")),
    responses(
        (status = 200, description = "tokens; the refresh and device cookies", body = TokenResponse, headers(("set-cookie" = String, description = "the refresh cookie and the device cookie"))),
        (status = 400, description = "malformed request (neither or both of `code` and `recovery_code`)", body = ErrorResponse),
        (status = 401, description = "`invalid_code` (wrong, already used), or `invalid_mfa_token` (unknown, expired or spent: log in again)", body = ErrorResponse),
        (status = 429, description = "over the rate limit, or this client's class of the account is locked", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn login_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonObject<MfaLogin>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let MfaLogin {
        mfa_token,
        code,
        recovery_code,
    } = body.into_inner();
    let proof = match (code, recovery_code) {
        (Some(code), None) => Proof::Code(code.into_secret()),
        (None, Some(code)) => Proof::Recovery(code.into_secret()),
        _ => {
            return Err(ApiError::InvalidRequest(
                "give either code or recovery_code",
            ));
        }
    };
    let device = state.device_cookie.read(&req);
    let issued = state
        .sessions
        .login_mfa(mfa_token.into(), proof, device, client)
        .await?;
    Ok(token_response(&state, issued))
}

/// `POST /auth/mfa/recovery-codes`: a new set.
#[utoipa::path(
    post,
    path = "/auth/mfa/recovery-codes",
    tag = "mfa",
    summary = "New recovery codes (with a code); the old set dies",
    request_body = MfaCode,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "ten new recovery codes, shown once", body = RecoveryCodes),
        (status = 400, description = "`invalid_code` (a TOTP code or a recovery code), or malformed", body = ErrorResponse),
        (status = 401, description = "no valid access token (`missing_token` / `invalid_token`)", body = ErrorResponse),
        (status = 409, description = "`mfa_not_enabled`", body = ErrorResponse),
        (status = 429, description = "this client's class of the account is locked (wrong codes count)", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn regenerate_recovery_codes(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: AuthUser,
    body: JsonObject<MfaCode>,
    client: ClientInfo,
) -> Result<web::Json<RecoveryCodes>, ApiError> {
    let proof = Proof::either(body.into_inner().code.into_secret());
    let device = state.device_cookie.read(&req);
    let codes = state
        .sessions
        .regenerate_recovery_codes(caller, proof, device, client)
        .await
        .map_err(caller_error)?;
    Ok(web::Json(RecoveryCodes {
        recovery_codes: shown(codes),
    }))
}

/// `DELETE /auth/mfa/totp`: the factor and its recovery codes go.
#[utoipa::path(
    delete,
    path = "/auth/mfa/totp",
    tag = "mfa",
    summary = "Turn the second factor off (with a code or a recovery code)",
    request_body = MfaCode,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "off: logins take the password alone"),
        (status = 400, description = "`invalid_code`, or malformed", body = ErrorResponse),
        (status = 401, description = "no valid access token (`missing_token` / `invalid_token`)", body = ErrorResponse),
        (status = 409, description = "`mfa_not_enabled`", body = ErrorResponse),
        (status = 429, description = "this client's class of the account is locked (wrong codes count)", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn disable_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: AuthUser,
    body: JsonObject<MfaCode>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let proof = Proof::either(body.into_inner().code.into_secret());
    let device = state.device_cookie.read(&req);
    state
        .sessions
        .disable_totp(caller, proof, device, client)
        .await
        .map_err(caller_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /admin/users/{id}/mfa`: an admin removes a user's second factor.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}/mfa",
    tag = "admin",
    summary = "Remove a user's second factor; every session of the user ends",
    params(("id" = UserId, Path, description = "the user")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "removed (or there was none); every session and access token of the user is dead"),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such user", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn admin_reset_mfa(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .reset_mfa(admin.0.user.id.clone(), id.into_inner(), client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
