//! `/admin/*`: user and session management for admins. Every handler takes
//! [`AdminUser`], so 401/403 come before any lookup (a non-admin learns nothing
//! about which ids exist).

use actix_web::{HttpResponse, web};

use super::JsonObject;
use super::responses::{BearerRefusals, BodyLimits, Unavailable};
use crate::api::ErrorResponse;
use crate::api::{
    AuditEvent, AuditQuery, NewUserRequest, Session, User, UserList, UserPatch, UserQuery,
};
use crate::auth::ClientInfo;
use crate::db::audit::AuditRow;
use crate::db::{Role, SessionId, UserId};
use crate::error::ApiError;
use crate::http::AdminUser;
use crate::state::AppState;
use crate::users::{self, parse_role};

fn bounded(
    value: Option<i64>,
    default: i64,
    max: i64,
    name: &'static str,
) -> Result<i64, ApiError> {
    match value.unwrap_or(default) {
        n if (0..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::InvalidRequest(name)),
    }
}

/// `GET /admin/users?email=&limit=&offset=`.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    summary = "Users, by email, a page at a time",
    params(UserQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "a page of users and the total", body = UserList),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn list_users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<UserQuery>,
) -> Result<web::Json<UserList>, ApiError> {
    let UserQuery {
        email,
        limit,
        offset,
    } = query.into_inner();
    let limit = bounded(limit, 50, 200, "limit must be from 0 to 200")?;
    let offset = bounded(
        offset,
        0,
        i64::from(i32::MAX),
        "offset must not be negative",
    )?;
    let email = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if email
        .as_deref()
        .is_some_and(|e| e.chars().any(char::is_control))
    {
        return Err(ApiError::InvalidRequest(
            "email must not contain control characters",
        ));
    }
    let (users, total) = users::list_users(&state.db, email, limit, offset).await?;
    Ok(web::Json(UserList { users, total }))
}

/// `POST /admin/users`: 201 `User`, whatever `WRISTBAND_REGISTRATION` says.
#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    summary = "Create a user (whatever the registration setting)",
    request_body = NewUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the new user", body = User),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 409, description = "the email is taken", body = ErrorResponse),
        BearerRefusals,
        BodyLimits,
        Unavailable,
    )
)]
pub async fn create_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: JsonObject<NewUserRequest>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let NewUserRequest {
        email,
        password,
        role,
    } = body.into_inner();
    let role = role
        .as_deref()
        .map(parse_role)
        .transpose()?
        .unwrap_or(Role::User);
    let actor = Some(admin.0.user.id.clone());
    let account = users::NewAccount {
        email,
        password,
        role,
        address: state.unverified_address(),
    };
    let user = users::create_user(&state.db, &state.hasher, account, client, actor).await?;
    Ok(HttpResponse::Created().json(user))
}

/// `GET /admin/users/{id}`.
#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    summary = "One user",
    params(("id" = UserId, Path, description = "the user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the user", body = User),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such resource", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn get_user(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<UserId>,
) -> Result<web::Json<User>, ApiError> {
    Ok(web::Json(
        users::get_user(&state.db, id.into_inner()).await?,
    ))
}

/// `PATCH /admin/users/{id}` `{role?, disabled?}`: a change revokes all the
/// user's sessions; one that would leave no enabled admin (an admin demoting
/// or disabling themself as the last one, or two admins demoting each other
/// at once) is 409 `last_admin` and changes nothing.
#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    summary = "Change a user's role or disabled state (revokes their sessions)",
    request_body = UserPatch,
    params(("id" = UserId, Path, description = "the user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the user as now", body = User),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such resource", body = ErrorResponse),
        (status = 409, description = "`last_admin`: the change would leave no enabled admin", body = ErrorResponse),
        BearerRefusals,
        BodyLimits,
        Unavailable,
    )
)]
pub async fn update_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    body: JsonObject<UserPatch>,
    client: ClientInfo,
) -> Result<web::Json<User>, ApiError> {
    let UserPatch { role, disabled } = body.into_inner();
    let role = role.as_deref().map(parse_role).transpose()?;
    let user = users::update_user(
        &state.sessions,
        id.into_inner(),
        role,
        disabled,
        &admin.0,
        client,
    )
    .await?;
    Ok(web::Json(user))
}

/// `GET /admin/users/{id}/sessions`: the user's live sessions.
#[utoipa::path(
    get,
    path = "/admin/users/{id}/sessions",
    tag = "admin",
    summary = "A user's live sessions",
    params(("id" = UserId, Path, description = "the user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the live sessions", body = [Session]),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such resource", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn list_user_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
) -> Result<web::Json<Vec<Session>>, ApiError> {
    let id = id.into_inner();
    users::get_user(&state.db, id.clone()).await?;
    let sessions = state.sessions.list_live(id, Some(admin.0.session_id));
    Ok(web::Json(sessions.await?))
}

/// `DELETE /admin/users/{id}/sessions`: every session and token of the user dies.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}/sessions",
    tag = "admin",
    summary = "Revoke every session of a user (bumps the token version)",
    params(("id" = UserId, Path, description = "the user")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "every session and access token of the user is dead"),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such resource", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn revoke_user_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<UserId>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .revoke_user_sessions(id.into_inner(), admin.0.user.id.clone(), client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /admin/sessions/{id}`: one session dies.
#[utoipa::path(
    delete,
    path = "/admin/sessions/{id}",
    tag = "admin",
    summary = "Revoke one session",
    params(("id" = SessionId, Path, description = "the session")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        (status = 404, description = "no such resource", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn revoke_session(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<SessionId>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let actor = Some(admin.0.user.id.clone());
    state
        .sessions
        .revoke_session(id.into_inner(), None, actor, client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /admin/audit?user_id=&limit=`: newest first.
#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "admin",
    summary = "Audit events, newest first",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the events", body = [AuditEvent]),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorResponse),
        BearerRefusals,
        Unavailable,
    )
)]
pub async fn audit(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<Vec<AuditEvent>>, ApiError> {
    let AuditQuery { user_id, limit } = query.into_inner();
    let limit = bounded(limit, 100, 1000, "limit must be from 0 to 1000")?;
    let events = state
        .db
        .run(move |conn| Ok::<_, ApiError>(AuditRow::list(conn, user_id.as_ref(), limit)?))
        .await?;
    Ok(web::Json(
        events.into_iter().map(AuditEvent::from).collect(),
    ))
}
