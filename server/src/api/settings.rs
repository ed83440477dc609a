//! The workspace's settings: its name, time zone and retention policy.

use axum::{extract::State, Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use types::{
    retention::{Policy, Preview, Retention},
    settings::{PeoplePolicy, Workspace},
};

use super::extract::{JsonBody, Me};
use crate::{auth::scope::scoped, error::ApiError, state::AppState};

/// `GET /api/v1/settings`: the workspace's name, address and time zone.
pub async fn workspace(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Workspace>, ApiError> {
    let tenant = me.tenant()?;
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let w = Workspace {
        name: store::tenants::name_here(&mut tx).await?,
        slug: tenant.slug.to_string(),
        time_zone: store::settings::time_zone(&mut tx).await?,
        people: store::settings::people(&mut tx).await?,
    };
    tx.commit().await?;
    Ok(Json(w))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    name: String,
}

/// `PUT /api/v1/settings/name {"name": "Acme Engineering"}`.
pub async fn rename(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NameBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let name = store::tenants::rename_here(&mut tx, &me.actor(), &body.name).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({ "name": name })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeZoneBody {
    time_zone: String,
}

/// `PUT /api/v1/settings/time-zone {"time_zone": "Europe/Berlin"}`: the zone the workspace's
/// days, weeks and hours follow.
pub async fn set_time_zone(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<TimeZoneBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let tz = store::settings::set_time_zone(tx.conn(), &me.actor(), &body.time_zone).await?;
    tx.commit().await?;
    Ok(Json(serde_json::json!({ "time_zone": tz })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeopleBody {
    #[serde(default)]
    team_medians: Option<bool>,
    #[serde(default)]
    idle_hours: Option<u32>,
    #[serde(default)]
    max_hours: Option<u32>,
    #[serde(default)]
    default_role: Option<String>,
}

/// `PUT /api/v1/settings/people {"team_medians": false, "idle_hours": 8, "max_hours": 24,
/// "default_role": "viewer"}`: any of the fields; the others stay as they are.
pub async fn set_people(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<PeopleBody>,
) -> Result<Json<PeoplePolicy>, ApiError> {
    me.tenant()?;
    let default_role = body
        .default_role
        .as_deref()
        .map(|r| {
            types::Role::parse_tenant(r).map_err(|e| ApiError::field("/default_role", e.reason))
        })
        .transpose()?;
    let mut tx = scoped(&state.store, &me).await?;
    let now = store::settings::people(tx.conn()).await?;
    let wanted = PeoplePolicy {
        team_medians: body.team_medians.unwrap_or(now.team_medians),
        idle_hours: body.idle_hours.unwrap_or(now.idle_hours),
        max_hours: body.max_hours.unwrap_or(now.max_hours),
        default_role: default_role.unwrap_or(now.default_role),
    };
    let saved = store::settings::set_people(tx.conn(), &me.actor(), &wanted).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// `GET /api/v1/settings/retention`: the policy and what its last run removed.
pub async fn retention(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Retention>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let r = store::retention::get(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(r))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    #[serde(default)]
    raw_days: Option<u32>,
    #[serde(default)]
    minute_days: Option<u32>,
    #[serde(default)]
    hour_days: Option<u32>,
    #[serde(default)]
    day_days: Option<u32>,
    /// Required when the policy keeps anything less long than the current one.
    #[serde(default)]
    confirm: bool,
}

impl PolicyBody {
    fn policy(&self) -> Policy {
        Policy {
            raw_days: self.raw_days,
            minute_days: self.minute_days,
            hour_days: self.hour_days,
            day_days: self.day_days,
        }
    }
}

/// `POST /api/v1/settings/retention/preview`: what a policy would remove today.
pub async fn preview_retention(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<Json<Preview>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let p = store::retention::preview(&mut tx, &body.policy(), Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// `PUT /api/v1/settings/retention`: sets the policy; one that keeps anything less long needs
/// `"confirm": true`.
pub async fn set_retention(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<Json<Retention>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    store::retention::set(&mut tx, &me.actor(), body.policy(), body.confirm).await?;
    let r = store::retention::get(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(r))
}
