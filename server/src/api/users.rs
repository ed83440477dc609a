//! Tenant admins: the people of their tenant, and the audit log.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{
    accounts::{self, Email},
    audit::{self, AuditEntry},
    User, UserId,
};
use uuid::Uuid;

use super::{
    auth::{parse_tenant_role, Scoped},
    JsonBody, Me,
};
use crate::{error::ApiError, AppState};

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<User>>, ApiError> {
    me.tenant()?;
    let mut tx = Scoped::for_caller(&state, &me).await?;
    let users = accounts::list(tx.conn()).await?;
    tx.commit().await?;
    Ok(Json(users))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    #[serde(default)]
    name: String,
    role: String,
    /// Optional: without one, the response carries a one-time password to hand over.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedUser {
    user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    one_time_password: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    me.tenant()?;
    let email = Email::parse(&body.email)
        .map_err(|_| ApiError::field("/email", "is not an e-mail address"))?;
    let role = parse_tenant_role(&body.role)?;
    let (password, generated) = match body.password {
        Some(p) => (p, None),
        None => {
            let p = store::secrets::random_token(12);
            (p.clone(), Some(p))
        }
    };
    accounts::check_password_policy(&password, email.as_str()).map_err(|e| {
        ApiError::field(
            "/password",
            e.to_string().trim_start_matches("invalid password: "),
        )
    })?;
    let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&password))
        .await
        .expect("hashing task");
    let mut tx = Scoped::for_caller(&state, &me).await?;
    let user = accounts::create(tx.conn(), &email, &body.name, role, Some(&hash)).await?;
    audit::record(
        tx.conn(),
        &me.actor(),
        "user.created",
        Some(&user.id.to_string()),
        json!({ "email": user.email, "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user,
            one_time_password: generated,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<RoleChange>,
) -> Result<Json<User>, ApiError> {
    me.tenant()?;
    let role = parse_tenant_role(&body.role)?;
    let mut tx = Scoped::for_caller(&state, &me).await?;
    let before = accounts::get(tx.conn(), UserId(id)).await?;
    let user = accounts::set_role(tx.conn(), UserId(id), role).await?;
    audit::record(
        tx.conn(),
        &me.actor(),
        "user.role_changed",
        Some(&id.to_string()),
        json!({ "from": before.role, "to": role }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(user))
}

pub async fn deactivate(
    state: State<AppState>,
    me: Me,
    id: Path<Uuid>,
) -> Result<Json<User>, ApiError> {
    set_active(state, me, id, false).await
}

pub async fn reactivate(
    state: State<AppState>,
    me: Me,
    id: Path<Uuid>,
) -> Result<Json<User>, ApiError> {
    set_active(state, me, id, true).await
}

async fn set_active(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    active: bool,
) -> Result<Json<User>, ApiError> {
    me.tenant()?;
    if !active && id == me.user_id.0 {
        return Err(ApiError::field("", "you cannot deactivate yourself"));
    }
    let mut tx = Scoped::for_caller(&state, &me).await?;
    let user = accounts::set_active(tx.conn(), UserId(id), active).await?;
    let action = if active {
        "user.reactivated"
    } else {
        "user.deactivated"
    };
    audit::record(
        tx.conn(),
        &me.actor(),
        action,
        Some(&id.to_string()),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(user))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
    action: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    Extension(me): Me,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let mut tx = Scoped::for_caller(&state, &me).await?;
    let entries = audit::list(tx.conn(), q.limit.unwrap_or(100), q.action.as_deref()).await?;
    tx.commit().await?;
    Ok(Json(entries))
}
