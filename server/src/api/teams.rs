//! Teams: tenant admins shape them; managers see the teams they manage; everyone else sees the
//! teams they belong to. A team outside what the caller may see is a 404, like any other
//! resource they cannot reach.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::Deserialize;
use store::{
    teams::{self, Team, TeamId, Visible},
    UserId,
};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{scope::scoped, Caller},
    error::ApiError,
    state::AppState,
};

fn visible_to(me: &Caller) -> Visible {
    Visible::for_role(me.role, me.user_id)
}

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<Team>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let list = teams::list(tx.conn(), visible_to(&me)).await?;
    tx.commit().await?;
    Ok(Json(list))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Json<Team>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let team = teams::list(tx.conn(), visible_to(&me))
        .await?
        .into_iter()
        .find(|t| t.id.0 == id)
        .ok_or(ApiError::NotFound("team"))?;
    tx.commit().await?;
    Ok(Json(team))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let team = teams::create(tx.conn(), &me.actor(), &body.name).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(team)))
}

pub async fn rename(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<Json<Team>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let team = teams::rename(tx.conn(), &me.actor(), TeamId(id), &body.name).await?;
    tx.commit().await?;
    Ok(Json(team))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    teams::delete(tx.conn(), &me.actor(), TeamId(id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    #[serde(default)]
    is_manager: bool,
}

/// Adds a member, or changes whether they manage the team.
pub async fn put_member(
    State(state): State<AppState>,
    Extension(me): Me,
    Path((id, user)): Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<Membership>,
) -> Result<Json<Team>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let team = teams::set_member(
        tx.conn(),
        &me.actor(),
        TeamId(id),
        UserId(user),
        body.is_manager,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(team))
}

pub async fn remove_member(
    State(state): State<AppState>,
    Extension(me): Me,
    Path((id, user)): Path<(Uuid, Uuid)>,
) -> Result<Json<Team>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let team = teams::remove_member(tx.conn(), &me.actor(), TeamId(id), UserId(user)).await?;
    tx.commit().await?;
    Ok(Json(team))
}
