//! Alert rules and the bell over HTTP. Anyone who reads the dashboard sees the rules whose
//! numbers they see and chooses how they hear of each; a signed-in reader keeps rules of
//! their own (tenant admins anyone's); each person reads and clears their own bell.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Extension, Json,
};
use serde::Deserialize;
use store::alerts::{Event, Inbox, NewRule, Rule, Subscription};
use types::{AlertRuleId, Permission};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{auth::scope::scoped, error::ApiError, metrics_scope, state::AppState};

/// `GET /api/v1/alerts`: the rules whose numbers the caller sees, each with its state, last
/// value and how the caller hears of it (`mine`).
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<Rule>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let rules = store::alerts::list(tx.conn(), &reader).await?;
    tx.commit().await?;
    Ok(Json(rules))
}

/// `POST /api/v1/alerts`: a new rule, owned by the caller, who hears of it in the app.
pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NewRule>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    save(state, me, None, body)
        .await
        .map(|r| (StatusCode::CREATED, r))
}

/// `PUT /api/v1/alerts/{id}`: the caller's rule (a tenant admin's: anyone's), changed.
pub async fn update(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewRule>,
) -> Result<Json<Rule>, ApiError> {
    save(state, me, Some(AlertRuleId(id)), body).await
}

async fn save(
    state: AppState,
    me: crate::auth::Caller,
    id: Option<AlertRuleId>,
    body: NewRule,
) -> Result<Json<Rule>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let manages_all = me.can(Permission::UserManage);
    let rule = store::alerts::save(tx.conn(), &me.actor(), &reader, manages_all, id, body).await?;
    tx.commit().await?;
    Ok(Json(rule))
}

/// `DELETE /api/v1/alerts/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let manages_all = me.can(Permission::UserManage);
    store::alerts::delete(
        tx.conn(),
        &me.actor(),
        &reader,
        manages_all,
        AlertRuleId(id),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/alerts/{id}/subscription {"in_app": true, "email": false}`: how the caller
/// hears of a rule they see; `null` (or both false) stops it.
pub async fn subscribe(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<Option<Subscription>>,
) -> Result<Json<Rule>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let rule = store::alerts::subscribe(tx.conn(), &reader, AlertRuleId(id), body).await?;
    tx.commit().await?;
    Ok(Json(rule))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HistoryQuery {
    pub rule: Option<Uuid>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/alerts/history?rule=&limit=`: firings and resolutions of the rules the
/// caller sees, newest first.
pub async fn history(
    State(state): State<AppState>,
    Extension(me): Me,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let events = store::alerts::history(
        tx.conn(),
        &reader,
        q.rule.map(AlertRuleId),
        q.limit.unwrap_or(100),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(events))
}

/// `GET /api/v1/notifications`: the caller's bell.
pub async fn inbox(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Inbox>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let inbox = store::alerts::inbox(tx.conn(), me.user_id, 30).await?;
    tx.commit().await?;
    Ok(Json(inbox))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ReadBody {
    /// The notifications to mark read; absent: all of them.
    #[serde(default)]
    pub ids: Option<Vec<Uuid>>,
}

/// `POST /api/v1/notifications/read {"ids": [...]}` (no ids: all): marks the caller's
/// notifications read; answers with the bell as it is now.
pub async fn read(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<ReadBody>,
) -> Result<Json<Inbox>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    store::alerts::mark_read(tx.conn(), me.user_id, body.ids.as_deref()).await?;
    let inbox = store::alerts::inbox(tx.conn(), me.user_id, 30).await?;
    tx.commit().await?;
    Ok(Json(inbox))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AnomalyQuery {
    /// Whole days looked back over (1–31; default 14).
    pub days: Option<i64>,
    /// Spreads from the usual (2–10; default 3.5).
    pub sensitivity: Option<f64>,
}

/// `GET /api/v1/anomalies?days=&sensitivity=`: the unusual days in what the caller sees, each
/// with the numbers that made it one.
pub async fn anomalies(
    State(state): State<AppState>,
    Extension(me): Me,
    Query(q): Query<AnomalyQuery>,
) -> Result<Json<Vec<types::anomalies::Anomaly>>, ApiError> {
    me.tenant()?;
    let sensitivity = types::anomalies::sensitivity(q.sensitivity)
        .map_err(|e| ApiError::field(&format!("/{}", e.field), e.reason))?;
    let days = q.days.unwrap_or(14);
    if !(1..=store::dashboard::ANOMALY_DAYS).contains(&days) {
        return Err(ApiError::field("/days", "must be 1 to 31"));
    }
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let found =
        store::dashboard::anomalies(tx.conn(), &reader, chrono::Utc::now(), days, sensitivity)
            .await?;
    tx.commit().await?;
    Ok(Json(found))
}
