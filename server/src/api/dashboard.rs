//! What dashboards read, always from the rollups.

use axum::{extract::State, Extension, Json};

use super::extract::ApiQuery;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Deserialize;
use store::{rollups, teams, UserId};

use super::{
    auth::{scoped, Scoped},
    extract::Me,
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
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| FieldError {
                pointer: format!("/{field}"),
                detail: "must be an RFC 3339 timestamp, e.g. 2025-09-01T00:00:00Z".into(),
            })
    })
    .transpose()
}

/// The `[from, to)` of a read, by default the 30 days up to the end of today (UTC); every
/// problem with it, with `errors` (other fields' problems) in front.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    mut errors: Vec<FieldError>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let mut parse = |field, v| {
        time(field, v).unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    };
    let (from, to) = (parse("from", from), parse("to", to));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let end_of_today =
        Utc::now().duration_trunc(TimeDelta::days(1)).expect("day") + TimeDelta::days(1);
    let to = to.unwrap_or(end_of_today);
    let from = from.unwrap_or(to - TimeDelta::days(30));
    if from >= to {
        return Err(ApiError::field("/from", "must be before `to`"));
    }
    if to - from > TimeDelta::days(3660) {
        return Err(ApiError::field(
            "/from",
            "the range may span at most ten years",
        ));
    }
    Ok((from, to))
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
    let (from, to) = range(q.from.as_deref(), q.to.as_deref(), errors)?;
    let mut tx = scoped(&state, &me).await?;
    let only = visible_people(&mut tx, &me).await?;
    let summary = rollups::summary(tx.conn(), from, to, only.as_deref()).await?;
    tx.commit().await?;
    Ok(Json(summary))
}
