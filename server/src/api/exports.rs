//! Raw exports, streamed: every event of a range as CSV or NDJSON, written while PostgreSQL
//! sends it. A task reads the rows and hands the response chunks of about 64 KiB through a
//! channel of a few chunks, so a slow client holds the reading back instead of the server
//! gathering the export in memory: its memory stays flat whatever the range.

use axum::{
    body::{Body, Bytes},
    extract::{RawQuery, State},
    http::{header, HeaderValue},
    response::Response,
    Extension,
};
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use store::exports::{EventRow, EVENT_COLUMNS};
use tokio::sync::mpsc;
use types::dashboard::Filters;

use super::{csv, extract::Me};
use crate::{auth::scope::scoped, error::ApiError, metrics_scope, state::AppState};

/// How much is written before it is handed on.
const CHUNK: usize = 64 * 1024;
/// Chunks waiting for the client at most.
const AHEAD: usize = 4;
/// The longest range one export covers.
const MAX_DAYS: i64 = 400;
/// Exports running at once on this instance: each holds a database connection for as long as
/// its client reads.
const AT_ONCE: usize = 2;
/// The longest an export may run (its client reading slowly included), so a stalled client
/// gives its connection back.
const DEADLINE: &str = "15min";

fn running() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static RUNNING: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    RUNNING.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

/// `GET /api/v1/exports/events?from=&to=&format=csv|ndjson&person=&team=`: the events of the
/// people the caller sees by name (narrowed to a person or a team), `[from, to)` (RFC 3339;
/// the last 30 days by default; at most 400 days), oldest first.
pub async fn events(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    me.tenant()?;
    let mut format = Format::Csv;
    let mut f = Filters::default();
    let (mut from, mut to) = (None, None);
    let mut errors = Vec::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "format" => match v.as_ref() {
                "csv" => format = Format::Csv,
                "ndjson" | "json" => format = Format::Ndjson,
                _ => errors.push(("/format", "must be csv or ndjson".to_string())),
            },
            "from" | "to" => match v.parse::<DateTime<Utc>>() {
                Ok(t) if k == "from" => from = Some(t),
                Ok(t) => to = Some(t),
                Err(_) => errors.push((
                    if k == "from" { "/from" } else { "/to" },
                    "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z".into(),
                )),
            },
            "person" => match v.parse() {
                Ok(p) => f.person = Some(p),
                Err(_) => errors.push(("/person", "must be a person's id".into())),
            },
            "team" => match v.parse() {
                Ok(t) => f.team = Some(t),
                Err(_) => errors.push(("/team", "must be a team's id".into())),
            },
            _ => {}
        }
    }
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - TimeDelta::days(30));
    if from >= to {
        errors.push(("/to", "must be after from".into()));
    } else if to - from > TimeDelta::days(MAX_DAYS) {
        errors.push(("/to", format!("at most {MAX_DAYS} days after from")));
    }
    if let Some((pointer, detail)) = errors.into_iter().next() {
        return Err(ApiError::field(pointer, detail));
    }
    let Ok(slot) = running().clone().try_acquire_owned() else {
        return Err(ApiError::Busy(std::time::Duration::from_secs(30)));
    };
    let mut tx = scoped(&state.store, &me).await?;
    sqlx::query(&format!("SET LOCAL statement_timeout = '{DEADLINE}'"))
        .execute(tx.conn())
        .await
        .map_err(store::Error::from)?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    if !reader.names_people() {
        return Err(ApiError::Forbidden(
            "your role sees workspace totals only, not people's events".into(),
        ));
    }
    let people = reader.people_for(tx.conn(), &f).await?;

    let (sender, mut chunks) = mpsc::channel::<Result<Bytes, std::io::Error>>(AHEAD);
    tokio::spawn(async move {
        let _slot = slot;
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        if format == Format::Csv {
            buf.extend_from_slice(csv::row(EVENT_COLUMNS).as_bytes());
        }
        // `Ok(false)`: the client went away.
        let outcome: Result<bool, store::Error> = async {
            let mut rows = store::exports::events(tx.conn(), people, from, to);
            while let Some(row) = rows.try_next().await? {
                write(&mut buf, format, &row);
                if buf.len() >= CHUNK {
                    let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 1024));
                    if sender.send(Ok(Bytes::from(full))).await.is_err() {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
        .await;
        match outcome {
            // Nothing was written: the transaction ends with the task.
            Ok(false) => {}
            Ok(true) => {
                if !buf.is_empty() {
                    let _ = sender.send(Ok(Bytes::from(buf))).await;
                }
                let _ = tx.commit().await;
            }
            Err(e) => {
                // The status is sent already: the body ends short, which the client sees.
                tracing::warn!(error = %e, "an export failed part way");
                let _ = sender
                    .send(Err(std::io::Error::other("the export failed part way")))
                    .await;
            }
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| chunks.poll_recv(cx)));
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!(
            "attachment; filename=\"events-{}-{}.{ext}\"",
            from.format("%Y%m%d"),
            to.format("%Y%m%d")
        ))
        .expect("the file name is ASCII"),
    );
    Ok(response)
}

/// One row in `format`, appended to `buf`.
fn write(buf: &mut Vec<u8>, format: Format, r: &EventRow) {
    match format {
        Format::Ndjson => {
            serde_json::to_writer(&mut *buf, r).expect("rows serialize");
            buf.push(b'\n');
        }
        Format::Csv => {
            let num = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            let fields = [
                r.occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                r.user.clone(),
                r.kind.clone(),
                r.source.clone(),
                r.session_id.clone().unwrap_or_default(),
                r.tool.clone().unwrap_or_default(),
                r.model.clone().unwrap_or_default(),
                r.success.map(|s| s.to_string()).unwrap_or_default(),
                num(r.duration_ms),
                num(r.input_tokens),
                num(r.output_tokens),
                num(r.cache_creation_tokens),
                num(r.cache_read_tokens),
                r.cost_usd.map(|c| c.to_string()).unwrap_or_default(),
                num(r.lines_added),
                num(r.lines_removed),
            ];
            buf.extend_from_slice(csv::row(fields.iter().map(String::as_str)).as_bytes());
        }
    }
}
