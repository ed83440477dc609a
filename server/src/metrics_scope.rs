//! What a metrics read covers and the reads themselves, one rule for REST and MCP alike: whose
//! numbers the caller may see, the `[from, to)` they asked for, and the query for each shape.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use store::{
    activity::{self, SessionFilter},
    dashboard::Reader,
    rollups, Store, UserId,
};
use types::metrics::{Session, Summary};
use types::TimeRange;

use crate::{
    auth::{
        scope::{scoped, Scoped},
        Caller,
    },
    error::{ApiError, FieldError},
};

/// The caller as the dashboard reads for them (`store::dashboard::Reader`): the one rule for
/// whose numbers anyone sees, through any door.
pub async fn reader(tx: &mut Scoped, me: &Caller) -> Result<Reader, ApiError> {
    Reader::of(tx.conn(), me.user_id, me.role)
        .await?
        .ok_or_else(|| ApiError::Forbidden(format!("your role ({}) reads no metrics", me.role)))
}

/// Whose per-person numbers the caller sees: everyone's, their teams', or their own. A
/// reader of totals only (a viewer) sees no one's.
pub async fn visible_people(tx: &mut Scoped, me: &Caller) -> Result<Option<Vec<UserId>>, ApiError> {
    let reader = reader(tx, me).await?;
    if !reader.names_people() {
        return Err(ApiError::Forbidden(
            "your role sees workspace totals only, not people's numbers".into(),
        ));
    }
    Ok(reader.people)
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

// The reads behind REST (`/api/v1/metrics/*`, `/api/v1/dashboard/summary`) and MCP: one
// function per query shape, so the two doors check, scope and answer alike by construction.

/// Sessions that started in `range` (before `before` when paging), newest first: at most
/// `limit` (1 to 500), with the `next_before` that continues the page.
pub async fn sessions_page(
    store: &Store,
    me: &Caller,
    range: TimeRange,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Value, ApiError> {
    me.tenant()?;
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("/limit", "must be from 1 to 500"));
    }
    let mut tx = scoped(store, me).await?;
    let only = visible_people(&mut tx, me).await?;
    let filter = SessionFilter {
        only: only.as_deref(),
        before,
        ..SessionFilter::new(range.from, range.to, limit)
    };
    let sessions = activity::sessions(tx.conn(), filter).await?;
    tx.commit().await?;
    let next_before = (sessions.len() as i64 == limit)
        .then(|| sessions.last().map(|s| s.started_at))
        .flatten();
    Ok(json!({ "sessions": sessions, "next_before": next_before }))
}

/// One session, if the caller may see its person's numbers (else not found).
pub async fn session(store: &Store, me: &Caller, id: &str) -> Result<Session, ApiError> {
    me.tenant()?;
    let mut tx = scoped(store, me).await?;
    let only = visible_people(&mut tx, me).await?;
    let session = activity::session(tx.conn(), id, only.as_deref()).await?;
    tx.commit().await?;
    Ok(session)
}

/// Per tool in `range`: executions, failures, success rate and durations.
pub async fn tools(store: &Store, me: &Caller, range: TimeRange) -> Result<Value, ApiError> {
    me.tenant()?;
    let mut tx = scoped(store, me).await?;
    let only = visible_people(&mut tx, me).await?;
    let tools = activity::tool_stats(tx.conn(), range, only.as_deref()).await?;
    tx.commit().await?;
    Ok(json!({ "from": range.from, "to": range.to, "tools": tools }))
}

/// Totals overall and per visible person in `range`.
pub async fn summary(store: &Store, me: &Caller, range: TimeRange) -> Result<Summary, ApiError> {
    me.tenant()?;
    let mut tx = scoped(store, me).await?;
    let only = visible_people(&mut tx, me).await?;
    let summary = rollups::summary(tx.conn(), range, only.as_deref()).await?;
    tx.commit().await?;
    Ok(summary)
}
