//! API keys: everyone manages their own; tenant admins manage everyone's.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};

use super::extract::ApiQuery;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use store::{
    api_keys::{self, ApiKey, CreatedKey, Scope},
    UserId,
};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{scope::scoped, Permission},
    error::ApiError,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ListQuery {
    user_id: Option<Uuid>,
    all: Option<bool>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    me.tenant()?;
    let owner = match (q.user_id, q.all.unwrap_or(false)) {
        (None, false) => Some(me.user_id),
        (Some(u), _) if u == me.user_id.0 => Some(me.user_id),
        (other, _) if me.can(Permission::UserManage) => other.map(UserId),
        _ => {
            return Err(ApiError::Forbidden(
                "only tenant admins see other people's keys".into(),
            ))
        }
    };
    let mut tx = scoped(&state.store, &me).await?;
    let keys = api_keys::list(tx.conn(), owner).await?;
    tx.commit().await?;
    Ok(Json(keys))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    scopes: Vec<Scope>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// For whom; defaults to the caller. Tenant admins only for anyone else.
    #[serde(default)]
    user_id: Option<Uuid>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let tenant = me.tenant()?.clone();
    let owner = match body.user_id {
        None => me.user_id,
        Some(u) if u == me.user_id.0 => me.user_id,
        Some(u) if me.can(Permission::UserManage) => UserId(u),
        Some(_) => {
            return Err(ApiError::Forbidden(
                "only tenant admins create keys for others".into(),
            ))
        }
    };
    let mut tx = scoped(&state.store, &me).await?;
    // Another tenant's user id is simply not found here.
    store::accounts::get(tx.conn(), owner).await?;
    let (api_key, key) = api_keys::create(
        tx.conn(),
        &me.actor(),
        &tenant.slug,
        owner,
        &body.name,
        &body.scopes,
        body.expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, api_key })))
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Json<ApiKey>, ApiError> {
    me.tenant()?;
    let owner = (!me.can(Permission::UserManage)).then_some(me.user_id);
    let mut tx = scoped(&state.store, &me).await?;
    let key = api_keys::revoke(tx.conn(), &me.actor(), id, owner).await?;
    tx.commit().await?;
    Ok(Json(key))
}
