//! Import batches (`devpulse import`): open one, send its items to the batch endpoint with
//! `Devpulse-Import-Batch`, finish it with the importer's figures, roll it back if need be.
//! People see and roll back their own batches.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::Deserialize;
use store::imports::{self, ImportBatch, ImportId, RolledBack, Whose};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{Caller, Permission},
    error::ApiError,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    /// What made it, e.g. `devpulse import 0.1.0`.
    source: String,
    #[serde(default)]
    host: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NewBatch>,
) -> Result<(StatusCode, Json<ImportBatch>), ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let batch = imports::create(&mut tx, me.user_id, &body.source, body.host.as_deref()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(batch)))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<ImportBatch>>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let batches = imports::list(&mut tx, me.user_id).await?;
    tx.commit().await?;
    Ok(Json(batches))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Json<ImportBatch>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let batch = imports::get(&mut tx, me.user_id, ImportId(id)).await?;
    tx.commit().await?;
    Ok(Json(batch))
}

pub async fn finish(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(stats): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<ImportBatch>, ApiError> {
    if serde_json::to_string(&stats).map_or(0, |s| s.len()) > 16_384 {
        return Err(ApiError::field("", "the figures must fit in 16 KiB"));
    }
    if let Some(pointer) = out_of_range(&serde_json::Value::Object(stats.clone()), "") {
        return Err(ApiError::field(
            &pointer,
            "must be a number between -10^15 and 10^15",
        ));
    }
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let batch = imports::finish(&mut tx, me.user_id, ImportId(id), &stats.into()).await?;
    tx.commit().await?;
    Ok(Json(batch))
}

/// The first number in `v` that PostgreSQL's jsonb would keep but could not give back as a
/// JSON number we read (it writes 1e308 out in full; the fuzzer's numbers near f64's limits
/// came back out of range, a 500 on every later read of the batch). Figures are counts and
/// sizes: ±10^15 is room enough.
fn out_of_range(v: &serde_json::Value, at: &str) -> Option<String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .is_none_or(|x| x.abs() >= 1e15)
            .then(|| at.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| out_of_range(v, &format!("{at}/{i}"))),
        serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
            out_of_range(
                v,
                &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
            )
        }),
        _ => None,
    }
}

/// Takes the batch's events out again, with everything they counted (the importer's key).
pub async fn rollback(
    state: State<AppState>,
    Extension(me): Me,
    id: Path<Uuid>,
) -> Result<Json<RolledBack>, ApiError> {
    let whose = Whose::Own(me.user_id);
    roll_back(state, &me, whose, id).await
}

/// What the imports page reaches: a person's own batches, a tenant admin's everyone's.
fn whose(me: &Caller) -> Whose {
    Whose::of(me.user_id, me.can(Permission::UserManage))
}

/// `GET /api/v1/import-batches`: the imports page's list, signed in.
pub async fn batches(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<ImportBatch>>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let batches = imports::batches(&mut tx, whose(&me)).await?;
    tx.commit().await?;
    Ok(Json(batches))
}

/// `DELETE /api/v1/import-batches/{id}`: a rollback from the imports page.
pub async fn roll_back_batch(
    state: State<AppState>,
    Extension(me): Me,
    id: Path<Uuid>,
) -> Result<Json<RolledBack>, ApiError> {
    let whose = whose(&me);
    roll_back(state, &me, whose, id).await
}

async fn roll_back(
    State(state): State<AppState>,
    me: &Caller,
    whose: Whose,
    Path(id): Path<Uuid>,
) -> Result<Json<RolledBack>, ApiError> {
    let tenant = me.tenant()?;
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let removed = imports::rollback(&mut tx, &me.actor(), whose, ImportId(id)).await?;
    tx.commit().await?;
    // A batch holds its importer's events only.
    state.bus.committed(
        tenant.scope().id().0,
        [(store::UserId(removed.owner), removed.events)].into(),
    );
    Ok(Json(removed))
}
