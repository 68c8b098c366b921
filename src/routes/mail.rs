//! The routes of mail (password reset, email verification, email change, an
//! admin's reset), and test mode's mailbox. Registered only when mail is on
//! (`routes::configure`): otherwise every request to them is the 404 of an
//! unknown path. Thin: parse, call `Accounts` or `Sessions`, shape the answer.

use actix_web::{HttpRequest, HttpResponse, web};

use super::JsonObject;
use super::responses::sign_in_response;
use super::responses::{BearerRefusals, BodyLimits, Unavailable};
use crate::accounts::Accounts;
use crate::api::{
    Accepted, EmailChange, ErrorResponse, LinkConfirm, Mail, MailboxQuery, ResetConfirm,
    ResetRequest, SignInAnswer, User,
};
use crate::auth::ClientInfo;
use crate::db::{DbError, UserId, outbox};
use crate::error::ApiError;
use crate::http::{AdminUser, AuthUser};
use crate::state::AppState;

/// The mail flows, or the 404 of a server without mail.
fn accounts(state: &AppState) -> Result<&Accounts, ApiError> {
    state.accounts.as_ref().ok_or(ApiError::NotFound)
}

fn accepted() -> HttpResponse {
    HttpResponse::Accepted().json(Accepted {})
}

/// `POST /auth/password-reset`: 202, whatever the address.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "mail",
    summary = "Mail a password-reset link",
    description = "Always 202 `{}`, in similar time, whether or not the address has an account. A mail goes only to an enabled account, at most one a minute; its link opens `APP_URL#reset-password=TOKEN`.",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "accepted (a mail is sent only when an enabled account has the address)", body = Accepted),
        (status = 400, description = "malformed request", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit (`too_many_requests`, with `Retry-After`)", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn password_reset(
    state: web::Data<AppState>,
    body: JsonObject<ResetRequest>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    accounts(&state)?
        .request_reset(&body.into_inner().email, client)
        .await?;
    Ok(accepted())
}

/// `POST /auth/password-reset/confirm`: the new password; signs in.
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    tag = "mail",
    summary = "Reset the password with a mailed link, and sign in",
    description = "Spends the link: every other session of the user ends, every lockout of the address is lifted, and the address counts as verified. A weak password leaves the link unspent.",
    request_body = ResetConfirm,
    responses(
        (status = 200, description = "signed in: tokens, the refresh cookie and the device cookie; for a user with a second factor, `{mfa_required, mfa_token, methods}` and no cookie (finish with `POST /auth/login/mfa`)", body = SignInAnswer, headers(("set-cookie" = String, description = "the refresh cookie and the device cookie"))),
        (status = 400, description = "`invalid_token` (unknown, expired, used or superseded link), `weak_password`, or malformed", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonObject<ResetConfirm>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    accounts(&state)?;
    let ResetConfirm {
        token,
        new_password,
    } = body.into_inner();
    let device = state.device_cookie.read(&req);
    let sign_in = state
        .sessions
        .reset_password(token.into_inner(), new_password, device, client)
        .await?;
    Ok(sign_in_response(&state, sign_in))
}

/// `POST /auth/verify-email/send`: a new verification link.
#[utoipa::path(
    post,
    path = "/auth/verify-email/send",
    tag = "mail",
    summary = "Mail a new verification link",
    description = "At most one mail a minute; the answer is the same either way.",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "accepted", body = Accepted),
        (status = 409, description = "`already_verified`", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn verify_email_send(
    state: web::Data<AppState>,
    caller: AuthUser,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    accounts(&state)?
        .send_verification(caller.user.id.clone(), client)
        .await?;
    Ok(accepted())
}

/// `POST /auth/verify-email`: spends a verification link.
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "mail",
    summary = "Verify the address with a mailed link",
    request_body = LinkConfirm,
    responses(
        (status = 200, description = "the user, verified", body = User),
        (status = 400, description = "`invalid_token` or malformed", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: JsonObject<LinkConfirm>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let user = accounts(&state)?
        .verify(body.into_inner().token.into_inner(), client)
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `POST /auth/email`: asks to move the account to a new address.
#[utoipa::path(
    post,
    path = "/auth/email",
    tag = "mail",
    summary = "Change the email address (a link goes to the new one)",
    description = "A confirmation link goes to the new address and a notice to the current one; nothing changes until the link is used.",
    request_body = EmailChange,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "accepted", body = Accepted),
        (status = 400, description = "`invalid_email` or malformed", body = ErrorResponse),
        (status = 401, description = "no valid access token", body = ErrorResponse),
        (status = 403, description = "`invalid_credentials`: the current password is wrong", body = ErrorResponse),
        (status = 409, description = "`email_taken`", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit, or a change link went out less than a minute ago (`too_many_requests`, with `Retry-After`)", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn change_email(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: JsonObject<EmailChange>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let EmailChange {
        new_email,
        current_password,
    } = body.into_inner();
    accounts(&state)?
        .request_email_change(caller.user.id.clone(), &new_email, current_password, client)
        .await?;
    Ok(accepted())
}

/// `POST /auth/email/confirm`: spends an email-change link.
#[utoipa::path(
    post,
    path = "/auth/email/confirm",
    tag = "mail",
    summary = "Confirm a new email address with a mailed link",
    request_body = LinkConfirm,
    responses(
        (status = 200, description = "the user at the new address, verified; the old address gets a notice", body = User),
        (status = 400, description = "`invalid_token` or malformed", body = ErrorResponse),
        (status = 409, description = "`email_taken`: another account took the address meanwhile", body = ErrorResponse),
        (status = 429, description = "over the per-IP rate limit", body = ErrorResponse),
        BodyLimits,
        Unavailable,
    )
)]
pub async fn confirm_email(
    state: web::Data<AppState>,
    body: JsonObject<LinkConfirm>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let user = accounts(&state)?
        .confirm_email_change(body.into_inner().token.into_inner(), client)
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// `POST /admin/users/{id}/password-reset`: mails the user a reset link.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/password-reset",
    tag = "admin",
    summary = "Mail a user a password-reset link",
    params(("id" = UserId, Path, description = "the user")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "accepted: the link is on its way", body = Accepted),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such user", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn admin_password_reset(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    accounts(&state)?
        .admin_reset(id.into_inner(), admin.0.user.id.clone(), client)
        .await?;
    Ok(accepted())
}

/// Most mails `GET /test/mailbox` lists.
const MAILBOX_LIMIT: i64 = 200;

/// `GET /test/mailbox?to=`: the outbox, newest first.
#[utoipa::path(
    get,
    path = "/test/mailbox",
    tag = "testing",
    summary = "Test mode: the mails written, newest first",
    params(MailboxQuery),
    responses(
        (status = 200, description = "the newest 200 mails (to `to` only, when given)", body = [Mail]),
        (status = 400, description = "malformed query", body = ErrorResponse),
        Unavailable,
    )
)]
pub async fn mailbox(
    state: web::Data<AppState>,
    query: web::Query<MailboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let mailer = accounts(&state)?.mailer().clone();
    let to = query
        .into_inner()
        .to
        .map(|to| crate::auth::email::normalize(&to).unwrap_or(to));
    let rows = state
        .db
        .run(move |conn| Ok::<_, DbError>(outbox::list(conn, to.as_deref(), MAILBOX_LIMIT)?))
        .await?;
    let mails: Vec<Mail> = rows
        .into_iter()
        .filter_map(|row| mailer.open(row))
        .map(Mail::from)
        .collect();
    Ok(HttpResponse::Ok().json(mails))
}

/// `DELETE /test/mailbox`: empties the outbox.
#[utoipa::path(
    delete,
    path = "/test/mailbox",
    tag = "testing",
    summary = "Test mode: delete every mail",
    responses(
        (status = 204, description = "the mailbox is empty"),
        Unavailable,
    )
)]
pub async fn clear_mailbox(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    accounts(&state)?;
    state
        .db
        .write(|conn| Ok::<_, DbError>(outbox::clear(conn)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
