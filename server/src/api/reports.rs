//! Reports over HTTP: a dashboard as PDF, and the scheduled reports a person owns or
//! receives, with each sending's files.

use axum::{
    extract::{Path, RawQuery, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::Utc;
use store::reports::{NewReport, Report};
use types::{BoardId, Permission, ReportId};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{scope::scoped, Caller},
    error::ApiError,
    metrics_scope,
    reports::{self, print},
    state::AppState,
};

/// `GET /api/v1/reports/pdf?board=<id>&range=7d…`: a dashboard (the board named, else the
/// default one) as the caller sees it, with the page's filters, printed to PDF.
pub async fn pdf(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let a = super::dashboard::asked(q, &["board"])?;
    let tenant = me.tenant()?;
    let now = Utc::now();
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let (title, board) = board_of(&mut tx, &me, a.rest.get("board")).await?;
    let made = reports::gather(
        tx.conn(),
        reports::Asked {
            store: &state.store,
            scope: tenant.scope(),
            reader: &reader,
            filters: &a.filters,
            board: &board,
            names_people: true,
            scheduled: false,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    let page = print::Page {
        workspace: tenant.name.clone(),
        title: title.clone(),
        period: made.window.label.clone(),
        zone: made.window.tz.clone(),
        scope: reader.audience.label().to_string(),
        generated: now,
        tiles: reports::tiles(&made.overview),
        widgets: made.printed,
    };
    let pdf = state
        .reports
        .printer
        .pdf(&print::html(&page))
        .await
        .map_err(|e| ApiError::NotReady(e.0))?;
    let file = format!(
        "devpulse-{}-{}.pdf",
        store::reports::slug(&title),
        made.window.from.format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

/// `GET /api/v1/reports/export?board=<id>&format=json|csv&<filters>`: every widget's numbers
/// of a dashboard (the board named, else the built-in one) as the caller sees it, written
/// widget by widget as each is read. JSON: `{"dashboard", "window", "widgets": [{"key",
/// "widget", "title", "data"}]}`, each `data` what `dashboard/charts` answers for it. CSV: one
/// row per number, `widget,title,row,column,value`, for spreadsheets and BI tools.
pub async fn export(
    State(state): State<AppState>,
    Extension(me): Me,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    use axum::body::{Body, Bytes};
    let a = super::dashboard::asked(q, &["board", "format"])?;
    let csv = match a.rest.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("/format", "must be json or csv")),
    };
    let (mut tx, reader, window) = super::dashboard::begin(&state, &me, &a.filters).await?;
    let (title, board) = board_of(&mut tx, &me, a.rest.get("board")).await?;
    // A person or team the caller may not see (asked for, or named by a widget of a shared
    // board) is refused now, as problem+json; once the stream has begun, an error could only
    // cut it short.
    reader.people_for(tx.conn(), &a.filters).await?;
    for w in reports::shown(&board, &a.filters, reader.audience, false) {
        reader.people_for(tx.conn(), &w.filters).await?;
    }
    let (send, chunks) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let filters = a.filters;
    let file = format!(
        "devpulse-{}-{}.{}",
        store::reports::slug(&title),
        window.from.format("%Y-%m-%d"),
        if csv { "csv" } else { "json" }
    );
    tokio::spawn(async move {
        let written = async {
            let ask = super::dashboard::asker(&state, &me, &reader, &window, &tx)?;
            let head = if csv {
                "widget,title,row,column,value\r\n".to_string()
            } else {
                format!(
                    "{{\"dashboard\":{},\"window\":{},\"widgets\":[",
                    serde_json::to_string(&title).unwrap_or_default(),
                    serde_json::to_string(&window).unwrap_or_default()
                )
            };
            let out = |s: String| send.send(Ok(Bytes::from(s)));
            if out(head).await.is_err() {
                return Ok(());
            }
            let mut first = true;
            for w in reports::shown(&board, &filters, reader.audience, false) {
                let (p, spec, f) = (w.placed, w.spec, &w.filters);
                let own = if p.filters.is_empty() {
                    None
                } else {
                    Some(store::dashboard::window(tx.conn(), f, Utc::now()).await?)
                };
                let ask = store::dashboard::Asker {
                    window: own.as_ref().unwrap_or(ask.window),
                    ..ask
                };
                let how = super::dashboard::How {
                    split: p.split,
                    measure: p.measure,
                    ..Default::default()
                };
                let answer = super::dashboard::answer(&ask, tx.conn(), spec, f, &how).await?;
                let name = p.title.clone().unwrap_or_else(|| spec.title.to_string());
                let chunk = if csv {
                    let rows = answer.rows();
                    let mut s = String::new();
                    if let Some((head, body)) = rows.split_first() {
                        for r in body {
                            for (j, column) in head.iter().enumerate().skip(1) {
                                let cells = [
                                    p.key.as_str(),
                                    name.as_str(),
                                    r.first().map_or("", String::as_str),
                                    column.as_str(),
                                    r.get(j).map_or("", String::as_str),
                                ];
                                s.push_str(&super::csv::row(cells).replace('\n', "\r\n"));
                            }
                        }
                    }
                    s
                } else {
                    format!(
                        "{}{{\"key\":{},\"widget\":{},\"title\":{},\"data\":{}}}",
                        if first { "" } else { "," },
                        serde_json::to_string(&p.key).unwrap_or_default(),
                        serde_json::to_string(&p.widget).unwrap_or_default(),
                        serde_json::to_string(&name).unwrap_or_default(),
                        serde_json::to_string(&answer).unwrap_or_default()
                    )
                };
                first = false;
                if out(chunk).await.is_err() {
                    return Ok(());
                }
            }
            if !csv {
                let _ = out("]}".into()).await;
            }
            tx.commit().await?;
            Ok::<_, ApiError>(())
        }
        .await;
        // A failure midway cuts the body short, so the client sees an error, not a
        // complete-looking file.
        if let Err(e) = written {
            tracing::warn!(error = %e, "a dashboard export failed midway");
            let _ = send.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    // Not `unfold`: the compression layer polls again after the end.
    let mut chunks = chunks;
    let stream = futures::stream::poll_fn(move |cx| chunks.poll_recv(cx));
    let kind = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The board `id` names (one the caller may open), else the built-in dashboard.
async fn board_of(
    tx: &mut crate::auth::scope::Scoped,
    me: &Caller,
    id: Option<&String>,
) -> Result<(String, types::boards::Document), ApiError> {
    Ok(match id {
        Some(id) => {
            let id: BoardId = id
                .parse()
                .map_err(|_| ApiError::field("/board", "must be a dashboard's id"))?;
            let caller = store::boards::Caller {
                me: me.user_id,
                role: me.role,
            };
            let b = store::boards::get(tx.conn(), &caller, id).await?;
            (b.name, b.document)
        }
        None => ("Dashboard".to_string(), app::widgets::default_document()),
    })
}

async fn reader_tx(
    state: &AppState,
    me: &Caller,
) -> Result<(crate::auth::scope::Scoped, store::dashboard::Reader, bool), ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, me).await?;
    let reader = metrics_scope::reader(&mut tx, me).await?;
    Ok((tx, reader, me.can(Permission::UserManage)))
}

/// `GET /api/v1/reports`: the reports the caller owns or receives (a tenant admin: all),
/// each with its latest sendings.
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<Report>>, ApiError> {
    let (mut tx, reader, all) = reader_tx(&state, &me).await?;
    let reports = store::reports::list(tx.conn(), &reader, all).await?;
    tx.commit().await?;
    Ok(Json(reports))
}

/// `POST /api/v1/reports`: a new report, owned by the caller and read as they see.
pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NewReport>,
) -> Result<(StatusCode, Json<Report>), ApiError> {
    save(state, me, None, body)
        .await
        .map(|r| (StatusCode::CREATED, r))
}

/// `PUT /api/v1/reports/{id}`: the caller's report (a tenant admin's: anyone's), changed.
pub async fn update(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<NewReport>,
) -> Result<Json<Report>, ApiError> {
    save(state, me, Some(ReportId(id)), body).await
}

async fn save(
    state: AppState,
    me: Caller,
    id: Option<ReportId>,
    body: NewReport,
) -> Result<Json<Report>, ApiError> {
    let (mut tx, reader, all) = reader_tx(&state, &me).await?;
    let r =
        store::reports::save(tx.conn(), &me.actor(), &reader, all, id, body, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// `DELETE /api/v1/reports/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, reader, all) = reader_tx(&state, &me).await?;
    store::reports::delete(tx.conn(), &me.actor(), &reader, all, ReportId(id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/reports/{id}/send`: a sending now, about the latest whole week (month);
/// 202, as the job makes and sends it.
pub async fn send(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let (mut tx, reader, all) = reader_tx(&state, &me).await?;
    store::reports::send_now(
        tx.conn(),
        &me.actor(),
        &reader,
        all,
        ReportId(id),
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /api/v1/reports/{id}/runs/{run}/{file}` (`report.pdf` or `report.csv`): one
/// sending's file, for its owner, recipients and tenant admins.
pub async fn file(
    State(state): State<AppState>,
    Extension(me): Me,
    Path((id, run, file)): Path<(Uuid, Uuid, String)>,
) -> Result<Response, ApiError> {
    let pdf = match file.as_str() {
        "report.pdf" => true,
        "report.csv" => false,
        _ => return Err(ApiError::NotFound("file")),
    };
    let (mut tx, reader, _) = reader_tx(&state, &me).await?;
    let f = store::reports::file(tx.conn(), &reader, ReportId(id), run, pdf).await?;
    tx.commit().await?;
    let kind = if pdf {
        "application/pdf"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", f.name),
            ),
        ],
        f.bytes,
    )
        .into_response())
}
