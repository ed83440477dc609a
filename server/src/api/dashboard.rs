//! What dashboards read, always from the rollups.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, RawQuery, State},
    http::header,
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::Utc;
use serde::Deserialize;
use store::{dashboard::Reader, rollups};
use types::dashboard::{
    Activity, Breakdown, Choices, Dimension, Filters, Heatmap, Insights, Measure, Overview, Query,
    Series, SessionDetail, SessionPage, SessionSort, Split, Window,
};

use super::extract::{ApiQuery, Me};
use crate::{
    auth::{scope::Scoped, Caller},
    error::{ApiError, FieldError},
    metrics_scope::{self, range},
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
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
    Ok(Json(
        metrics_scope::summary(&state.store, &me, range).await?,
    ))
}

// The dashboard's reads: the twins of the app's `dashboard/*` server functions, answering the
// same queries through the same `store::dashboard` functions, scoped by the same Reader.

/// The filters and everything else a dashboard read's query string says.
pub(super) struct Asked {
    pub(super) filters: Filters,
    pub(super) rest: BTreeMap<String, String>,
}

/// Reads the filters (`range`, `from`, `to`, `grain`, `person`, `team`, `project`, `model`,
/// `tool`) and keeps the other pairs; every bad filter is reported, by name.
pub(super) fn asked(query: Option<String>, extra: &[&str]) -> Result<Asked, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (filters, errors) =
        Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let rest = pairs
        .into_iter()
        .filter(|(k, _)| extra.contains(&k.as_str()))
        .collect();
    Ok(Asked { filters, rest })
}

/// The caller's reader and the filters' window, in a transaction in their tenant.
pub(super) async fn begin(
    state: &AppState,
    me: &Caller,
    f: &Filters,
) -> Result<(Scoped, Reader, Window), ApiError> {
    me.tenant()?;
    // Dashboards may read a little behind: on the replica when there is one keeping up.
    let mut tx = state
        .store
        .scoped_read_tx(me.tenant.as_ref().map(|t| t.scope()))
        .await?;
    let reader = metrics_scope::reader(&mut tx, me).await?;
    let window = match &mut tx {
        store::ScopedTx::Tenant(t) => state.store.answers().window(t, f, Utc::now()).await?,
        store::ScopedTx::Registry(_) => store::dashboard::window(tx.conn(), f, Utc::now()).await?,
    };
    Ok((tx, reader, window))
}

/// Reads through the answers every instance keeps (the same ones the app's server
/// functions use).
pub(super) fn asker<'a>(
    state: &'a AppState,
    me: &'a Caller,
    reader: &'a Reader,
    window: &'a Window,
    tx: &Scoped,
) -> Result<store::dashboard::Asker<'a>, ApiError> {
    Ok(store::dashboard::Asker {
        answers: state.store.answers(),
        scope: me.tenant()?.scope(),
        reader,
        window,
        as_of: tx.as_of(),
    })
}

fn pick<T>(
    rest: &BTreeMap<String, String>,
    key: &str,
    parse: fn(&str) -> Option<T>,
    choices: &str,
) -> Result<Option<T>, ApiError> {
    rest.get(key)
        .map(|v| parse(v).ok_or_else(|| ApiError::field(&format!("/{key}"), choices)))
        .transpose()
}

/// `GET /api/v1/dashboard/overview?range=7d…`: the headline numbers, the previous period's,
/// and every bucket's.
pub async fn overview(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Json<Overview>, ApiError> {
    let a = asked(q, &[])?;
    let (mut tx, reader, w) = begin(&state, &me, &a.filters).await?;
    let ask = asker(&state, &me, &reader, &w, &tx)?;
    let o = ask.overview(tx.conn(), &a.filters).await?;
    tx.commit().await?;
    Ok(Json(o))
}

/// `GET /api/v1/dashboard/charts?widget=cost_over_time&range=30d…`: one widget's data, by the
/// query its registry entry names (`split`, `measure` and `by` override it where they
/// apply). `format=csv` answers the same rows as CSV, for spreadsheets.
pub async fn charts(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let a = asked(
        q,
        &["widget", "split", "measure", "by", "format", "sort", "page"],
    )?;
    let id = a
        .rest
        .get("widget")
        .ok_or_else(|| ApiError::field("/widget", "is required: the widget's id"))?;
    let spec = app::widgets::find(id).ok_or_else(|| {
        let ids: Vec<_> = app::widgets::REGISTRY.iter().map(|w| w.id).collect();
        ApiError::field("/widget", format!("must be one of {}", ids.join(", ")))
    })?;
    let csv = match a.rest.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("/format", "must be json or csv")),
    };
    let f = &a.filters;
    let how = How {
        split: pick(&a.rest, "split", Split::parse, SPLITS)?,
        measure: pick(&a.rest, "measure", Measure::parse, MEASURES)?,
        by: pick(&a.rest, "by", Dimension::parse, DIMENSIONS)?,
        sort: pick(&a.rest, "sort", SessionSort::parse, SORTS)?.unwrap_or_default(),
        page: page(&a.rest)?,
    };
    let (mut tx, reader, w) = begin(&state, &me, f).await?;
    let ask = asker(&state, &me, &reader, &w, &tx)?;
    let answer = answer(&ask, tx.conn(), spec, f, &how).await?;
    tx.commit().await?;
    Ok(if csv {
        let file = format!("devpulse-{}.csv", spec.id);
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            answer.csv(),
        )
            .into_response()
    } else {
        Json(answer).into_response()
    })
}

/// What a widget's answer is asked with, beyond the filters: its registry entry's query
/// with these in place where they apply.
#[derive(Default)]
pub(crate) struct How {
    pub(crate) split: Option<Split>,
    pub(crate) measure: Option<Measure>,
    pub(crate) by: Option<Dimension>,
    pub(crate) sort: SessionSort,
    pub(crate) page: i64,
}

/// One widget's answer, as `ask`'s reader sees it.
pub(crate) async fn answer(
    ask: &store::dashboard::Asker<'_>,
    conn: &mut sqlx::PgConnection,
    spec: &app::widgets::WidgetSpec,
    f: &Filters,
    how: &How,
) -> store::Result<Answer> {
    Ok(match spec.query {
        Query::Overview => Answer::Overview(Box::new(ask.overview(conn, f).await?)),
        Query::Series { split, measure } => Answer::Series(
            ask.series(
                conn,
                f,
                how.split.unwrap_or(split),
                how.measure.unwrap_or(measure),
            )
            .await?,
        ),
        Query::Breakdown { by } => {
            Answer::Breakdown(ask.breakdown(conn, f, how.by.unwrap_or(by)).await?)
        }
        Query::Heatmap => Answer::Heatmap(ask.heatmap(conn, f).await?),
        Query::Sessions => {
            Answer::Sessions(ask.sessions(conn, f, how.sort, how.page.max(1)).await?)
        }
        Query::Activity => {
            Answer::Activity(store::dashboard::activity(conn, ask.reader, Utc::now()).await?)
        }
        Query::Insights => Answer::Insights(ask.insights(conn, f).await?),
        // The current period of each budget, whatever range the filters name.
        Query::Budgets => {
            Answer::Budgets(store::budgets::status(conn, ask.reader, Utc::now()).await?)
        }
    })
}

const SPLITS: &str = "must be model, person, team, project or token_kind";
const MEASURES: &str = "must be cost, tokens, sessions, lines or tool_runs";
const DIMENSIONS: &str = "must be model, tool, person, team or project";
const SORTS: &str = "must be started, cost, duration, tools or score";

fn page(rest: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    rest.get("page")
        .map(|p| {
            p.parse::<i64>()
                .ok()
                .filter(|p| (1..=10_000).contains(p))
                .ok_or_else(|| ApiError::field("/page", "must be from 1 to 10000"))
        })
        .transpose()
        .map(|p| p.unwrap_or(1))
}

/// `GET /api/v1/dashboard/sessions?sort=cost&page=2&range=30d…`: the sessions table.
pub async fn sessions(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Json<SessionPage>, ApiError> {
    let a = asked(q, &["sort", "page"])?;
    let sort = pick(&a.rest, "sort", SessionSort::parse, SORTS)?.unwrap_or_default();
    let page = page(&a.rest)?;
    let (mut tx, reader, w) = begin(&state, &me, &a.filters).await?;
    let ask = asker(&state, &me, &reader, &w, &tx)?;
    let p = ask.sessions(tx.conn(), &a.filters, sort, page).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// `GET /api/v1/dashboard/choices?range=30d`: the people and teams the caller may narrow to,
/// and the projects, models and tools seen in the window.
pub async fn choices(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Json<Choices>, ApiError> {
    let a = asked(q, &[])?;
    let (mut tx, reader, w) = begin(&state, &me, &a.filters).await?;
    let ask = asker(&state, &me, &reader, &w, &tx)?;
    let c = ask.choices(tx.conn()).await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// `GET /api/v1/dashboard/sessions/{id}`: one session with its timeline.
pub async fn session(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let (mut tx, reader, _) = begin(&state, &me, &Filters::default()).await?;
    let d = store::dashboard::session_detail(tx.conn(), &reader, &id).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// One widget's answer; in JSON, just the answer itself.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum Answer {
    Overview(Box<Overview>),
    Series(Series),
    Breakdown(Breakdown),
    Heatmap(Heatmap),
    Sessions(SessionPage),
    Activity(Activity),
    Insights(Insights),
    Budgets(Vec<store::budgets::Status>),
}

impl Answer {
    /// The answer's rows as CSV: one row per bucket (series), per key (breakdowns), per cell
    /// (heatmap), per session or per recent event.
    fn csv(&self) -> String {
        let mut out = String::new();
        for row in self.rows() {
            let cells: Vec<String> = row.iter().map(|c| super::csv::cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The answer as rows of text, a header row first.
    pub(crate) fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = Vec::new();
        match self {
            Answer::Overview(o) => {
                rows.push(vec![
                    "bucket".into(),
                    "active_people".into(),
                    "sessions".into(),
                    "cost_usd".into(),
                    "tokens".into(),
                    "tool_executions".into(),
                ]);
                for (b, k) in o.buckets.iter().zip(&o.trend) {
                    rows.push(vec![
                        b.to_rfc3339(),
                        k.active_people.to_string(),
                        k.sessions.to_string(),
                        k.counts.cost_usd.to_string(),
                        k.tokens().to_string(),
                        k.counts.tool_executions.to_string(),
                    ]);
                }
            }
            Answer::Series(s) => {
                let mut head = vec!["bucket".to_string()];
                head.extend(s.lines.iter().map(|l| l.label.clone()));
                rows.push(head);
                for (i, b) in s.buckets.iter().enumerate() {
                    let mut row = vec![b.to_rfc3339()];
                    row.extend(s.lines.iter().map(|l| l.values[i].to_string()));
                    rows.push(row);
                }
            }
            Answer::Breakdown(b) => {
                rows.push(
                    [
                        "key",
                        "label",
                        "people",
                        "sessions",
                        "cost_usd",
                        "api_requests",
                        "input_tokens",
                        "output_tokens",
                        "cache_creation_tokens",
                        "cache_read_tokens",
                        "tool_executions",
                        "tool_failures",
                        "lines_added",
                        "lines_removed",
                        "p50_ms",
                        "p95_ms",
                        "avg_score",
                    ]
                    .map(String::from)
                    .to_vec(),
                );
                for r in &b.rows {
                    let c = &r.counts;
                    let opt = |v: Option<String>| v.unwrap_or_default();
                    rows.push(vec![
                        r.key.clone(),
                        r.label.clone(),
                        r.people.to_string(),
                        r.sessions.to_string(),
                        c.cost_usd.to_string(),
                        c.api_requests.to_string(),
                        c.input_tokens.to_string(),
                        c.output_tokens.to_string(),
                        c.cache_creation_tokens.to_string(),
                        c.cache_read_tokens.to_string(),
                        c.tool_executions.to_string(),
                        c.tool_failures.to_string(),
                        c.lines_added.to_string(),
                        c.lines_removed.to_string(),
                        opt(r.p50_ms.map(|v| v.to_string())),
                        opt(r.p95_ms.map(|v| v.to_string())),
                        opt(r.avg_score.map(|v| v.to_string())),
                    ]);
                }
            }
            Answer::Heatmap(h) => {
                rows.push(vec!["weekday".into(), "hour".into(), "activity".into()]);
                for (d, hours) in h.cells.iter().enumerate() {
                    for (hour, v) in hours.iter().enumerate() {
                        rows.push(vec![
                            app::charts::WEEKDAYS[d].into(),
                            hour.to_string(),
                            v.to_string(),
                        ]);
                    }
                }
            }
            Answer::Sessions(p) => {
                rows.push(
                    [
                        "id",
                        "person",
                        "project",
                        "branch",
                        "model",
                        "started_at",
                        "ended_at",
                        "tool_executions",
                        "cost_usd",
                        "score",
                        "end_reason",
                    ]
                    .map(String::from)
                    .to_vec(),
                );
                for s in &p.sessions {
                    rows.push(vec![
                        s.id.clone(),
                        s.email.clone().unwrap_or_default(),
                        s.project.clone().unwrap_or_default(),
                        s.git_branch.clone().unwrap_or_default(),
                        s.model.clone().unwrap_or_default(),
                        s.started_at.to_rfc3339(),
                        s.ended_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        s.counts.tool_executions.to_string(),
                        s.counts.cost_usd.to_string(),
                        s.productivity_score.to_string(),
                        s.end_reason.clone().unwrap_or_default(),
                    ]);
                }
            }
            Answer::Budgets(list) => {
                rows.push(
                    [
                        "budget",
                        "period",
                        "from",
                        "to",
                        "limit_kind",
                        "limit",
                        "spent",
                        "projected",
                        "low",
                        "high",
                        "exceeds_on",
                    ]
                    .map(String::from)
                    .to_vec(),
                );
                for s in list {
                    for (kind, p) in [("usd", &s.usd), ("tokens", &s.tokens)] {
                        let Some(p) = p else { continue };
                        rows.push(vec![
                            s.budget.name.clone(),
                            s.budget.period.as_str().into(),
                            s.from.to_rfc3339(),
                            s.to.to_rfc3339(),
                            kind.into(),
                            p.limit.to_string(),
                            p.spent.to_string(),
                            p.projected.to_string(),
                            p.low.to_string(),
                            p.high.to_string(),
                            p.exceeds_on.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        ]);
                    }
                }
            }
            Answer::Insights(i) => {
                rows.push(
                    ["rule", "tone", "title", "detail"]
                        .map(String::from)
                        .to_vec(),
                );
                for x in &i.items {
                    let tone = serde_json::to_value(x.tone)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    rows.push(vec![
                        x.rule.clone(),
                        tone,
                        x.title.clone(),
                        x.detail.clone(),
                    ]);
                }
            }
            Answer::Activity(a) => {
                rows.push(
                    ["at", "kind", "tool", "model", "success", "person"]
                        .map(String::from)
                        .to_vec(),
                );
                for e in &a.recent {
                    rows.push(vec![
                        e.at.to_rfc3339(),
                        e.kind.clone(),
                        e.tool.clone().unwrap_or_default(),
                        e.model.clone().unwrap_or_default(),
                        e.success.map(|s| s.to_string()).unwrap_or_default(),
                        e.person.clone().unwrap_or_default(),
                    ]);
                }
            }
        }
        rows
    }
}

/// The overview's buckets as CSV: what `charts?widget=…&format=csv` answers for the
/// headline numbers, and what a report attaches.
pub fn overview_csv(o: &Overview) -> String {
    Answer::Overview(Box::new(o.clone())).csv()
}

/// `GET /api/v1/baselines`: the legacy baselines imports brought against the same people's
/// live sessions, per person (for readers who see names) and per team.
pub async fn baselines(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<store::baselines::Comparison>, ApiError> {
    let (mut tx, reader, _) = begin(&state, &me, &Filters::default()).await?;
    let c = store::baselines::compare(tx.conn(), &reader).await?;
    tx.commit().await?;
    Ok(Json(c))
}
