//! The audit log, for those who manage people: their workspace's (the registry's for super
//! admins), filtered by actor, action, target and time, a page at a time (`Link: rel="next"`
//! names the next page), or all of it as CSV.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use store::audit::{self, AuditFilter};

use super::extract::{ApiQuery, Me};
use crate::{auth::scope::scoped, error::ApiError, state::AppState};

/// The most rows one CSV export holds.
const EXPORT_MAX: usize = 100_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    before: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        target: q.target,
        from: q.from,
        to: q.to,
        before: q.before,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("/limit", "must be between 1 and 1000"));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("/format", "must be json or csv")),
    };
    let mut tx = scoped(&state.store, &me).await?;
    if csv {
        let mut out = super::csv::row([
            "id",
            "at",
            "actor",
            "actor_id",
            "action",
            "target",
            "target_name",
            "ip",
            "user_agent",
            "details",
        ]);
        let (mut page, mut rows) = (filter, 0);
        loop {
            let found = audit::search(tx.conn(), &page, 500).await?;
            for e in &found.entries {
                let (at, actor_id, details) = (
                    e.at.to_rfc3339(),
                    e.actor_id.map(|u| u.to_string()).unwrap_or_default(),
                    e.details.to_string(),
                );
                out.push_str(&super::csv::row([
                    e.id.to_string().as_str(),
                    &at,
                    e.actor.as_deref().unwrap_or_default(),
                    &actor_id,
                    &e.action,
                    e.target.as_deref().unwrap_or_default(),
                    e.target_name.as_deref().unwrap_or_default(),
                    e.ip.as_deref().unwrap_or_default(),
                    e.user_agent.as_deref().unwrap_or_default(),
                    &details,
                ]));
            }
            rows += found.entries.len();
            match found.next_before {
                Some(before) if rows < EXPORT_MAX => page.before = Some(before),
                _ => break,
            }
        }
        tx.commit().await?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"devpulse-audit.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    let found = audit::search(tx.conn(), &filter, limit).await?;
    tx.commit().await?;
    let mut response = Json(found.entries).into_response();
    if let Some(before) = found.next_before {
        let next = next_link(&filter, limit, before);
        if let Ok(v) = header::HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// The address of the page after one that ended at `before`, with the same filter.
fn next_link(f: &AuditFilter, limit: i64, before: i64) -> String {
    // The filters as the viewer's own links spell them, then the page.
    let filters = f.query();
    let and = if filters.is_empty() { "" } else { "&" };
    format!("/api/v1/audit?{filters}{and}limit={limit}&before={before}")
}
