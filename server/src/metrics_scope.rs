//! What a metrics read covers, one rule for REST and MCP alike: whose numbers the caller may
//! see, and the `[from, to)` they asked for.

use chrono::{DateTime, Utc};
use store::{teams, UserId};
use types::TimeRange;

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

/// The limits on a range however it was given (a query string's text, MCP's typed range):
/// it is not empty and spans at most ten years.
pub fn bounded(range: TimeRange) -> Result<TimeRange, ApiError> {
    TimeRange::new(range.from, range.to).map_err(|e| ApiError::Validation(vec![e]))
}
