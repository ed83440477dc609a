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
    let (title, board) = match a.rest.get("board") {
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
    };
    let made = reports::gather(
        tx.conn(),
        reports::Asked {
            store: &state.store,
            scope: tenant.scope(),
            reader: &reader,
            filters: &a.filters,
            board: &board,
            names_people: true,
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
