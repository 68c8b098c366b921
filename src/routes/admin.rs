//! `/admin/*`: user and session management for admins. Every handler takes
//! [`AdminUser`], so 401/403 come before any lookup (a non-admin learns nothing
//! about which ids exist).

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::api::{
    AuditEvent, AuditQuery, NewUserRequest, Session, User, UserList, UserPatch, UserQuery,
};
use crate::auth::{AdminUser, ClientInfo};
use crate::db::audit::AuditRow;
use crate::error::ApiError;
use crate::sessions;
use crate::state::AppState;
use crate::users::{self, ROLE_USER, parse_role};

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
    let (users, total) = users::list_users(&state, email, limit, offset).await?;
    Ok(web::Json(UserList { users, total }))
}

/// `POST /admin/users`: 201 `User`, whatever `WRISTBAND_REGISTRATION` says.
pub async fn create_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: web::Json<NewUserRequest>,
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
        .unwrap_or(ROLE_USER);
    let user = users::create_user(
        &state,
        &email,
        password,
        role,
        client,
        Some(admin.0.user_id),
    )
    .await?;
    Ok(HttpResponse::Created().json(user))
}

/// `GET /admin/users/{id}`.
pub async fn get_user(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<User>, ApiError> {
    Ok(web::Json(users::get_user(&state, id.into_inner()).await?))
}

/// `PATCH /admin/users/{id}` `{role?, disabled?}`: a change revokes all the
/// user's sessions.
pub async fn update_user(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    body: web::Json<UserPatch>,
    client: ClientInfo,
) -> Result<web::Json<User>, ApiError> {
    let UserPatch { role, disabled } = body.into_inner();
    let role = role.as_deref().map(parse_role).transpose()?;
    let user =
        users::update_user(&state, id.into_inner(), role, disabled, &admin.0, client).await?;
    Ok(web::Json(user))
}

/// `GET /admin/users/{id}/sessions`: the user's live sessions.
pub async fn list_user_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<Vec<Session>>, ApiError> {
    let id = id.into_inner();
    users::get_user(&state, id).await?;
    Ok(web::Json(
        sessions::list_live(&state, id, Some(admin.0.session_id)).await?,
    ))
}

/// `DELETE /admin/users/{id}/sessions`: every session and token of the user dies.
pub async fn revoke_user_sessions(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    sessions::revoke_user_sessions(&state, id.into_inner(), admin.0.user_id, client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /admin/sessions/{id}`: one session dies.
pub async fn revoke_session(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<Uuid>,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    sessions::revoke_session(&state, id.into_inner(), None, Some(admin.0.user_id), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /admin/audit?user_id=&limit=`: newest first.
pub async fn audit(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<Vec<AuditEvent>>, ApiError> {
    let AuditQuery { user_id, limit } = query.into_inner();
    let limit = bounded(limit, 100, 1000, "limit must be from 0 to 1000")?;
    let user_id = user_id.map(|u| u.to_string());
    let events = state
        .db
        .run(move |conn| Ok(AuditRow::list(conn, user_id.as_deref(), limit)?))
        .await?;
    Ok(web::Json(
        events.into_iter().map(AuditEvent::from).collect(),
    ))
}
