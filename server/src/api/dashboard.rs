//! What dashboards read, always from the rollups.

use axum::{extract::State, Extension, Json};

use super::ApiQuery;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use store::{rollups, teams, UserId};
use types::TimeRange;

use super::{
    auth::{scoped, Scoped},
    Me,
};
use crate::{
    auth::{Caller, Permission},
    error::{ApiError, FieldError},
    AppState,
};

#[derive(Deserialize)]
pub struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

pub fn time(field: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, FieldError> {
    v.map(|s| types::range::parse_time(field, s)).transpose()
}

/// The `[from, to)` of a read (see [`TimeRange::parse`]); every problem with it, with `errors`
/// (other fields' problems) in front.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    mut errors: Vec<FieldError>,
) -> Result<TimeRange, ApiError> {
    match TimeRange::parse(from, to, Utc::now()) {
        Ok(range) if errors.is_empty() => Ok(range),
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(more) => {
            errors.extend(more);
            Err(ApiError::Validation(errors))
        }
    }
}

/// Whose numbers the caller sees: everyone's, their teams', or their own.
pub async fn visible_people(tx: &mut Scoped, me: &Caller) -> Result<Option<Vec<UserId>>, ApiError> {
    if me.can(Permission::MetricsViewAll) {
        Ok(None)
    } else if me.can(Permission::MetricsViewTeam) {
        Ok(Some(teams::managed_people(tx.conn(), me.user_id).await?))
    } else {
        Ok(Some(vec![me.user_id]))
    }
}

/// `GET /api/v1/dashboard/summary?from=&to=&group_by=user`: totals per user and overall in
/// `[from, to)`; by default the 30 days up to the end of today (UTC).
pub async fn summary(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<rollups::Summary>, ApiError> {
    me.tenant()?;
    let mut errors = Vec::new();
    if q.group_by.as_deref().is_some_and(|g| g != "user") {
        errors.push(FieldError {
            pointer: "/group_by".into(),
            detail: "must be `user`".into(),
        });
    }
    let range = range(q.from.as_deref(), q.to.as_deref(), errors)?;
    let mut tx = scoped(&state, &me).await?;
    let only = visible_people(&mut tx, &me).await?;
    let summary = rollups::summary(tx.conn(), range, only.as_deref()).await?;
    tx.commit().await?;
    Ok(Json(summary))
}
