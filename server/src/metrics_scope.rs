//! What a metrics read covers, one rule for REST and MCP alike: whose numbers the caller may
//! see, and the `[from, to)` they asked for.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use store::{teams, UserId};

use crate::{
    auth::{scope::Scoped, Caller, Permission},
    error::{ApiError, FieldError},
};

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
    bounded(from, to)
}

/// The limits on a range however it was given (a query string's text, MCP's typed range):
/// it is not empty and spans at most ten years.
pub fn bounded(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
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
