//! `/api/v1/dashboard/config`: saved dashboards for API clients, the REST twins of the
//! `boards/*` server functions (the same checks, the same store calls). A document is sent
//! as JSON inside the body; every refusal names its field, and a save over a stale version
//! is a 409 that writes nothing.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::Deserialize;
use store::boards::{self, Caller as BoardCaller};
use types::boards::{Audience, Board, Boards, Document};
use types::{BoardId, UserId};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{scope::scoped, Caller},
    error::ApiError,
    state::AppState,
};

fn caller(me: &Caller) -> Result<BoardCaller, ApiError> {
    me.tenant()?;
    Ok(BoardCaller {
        me: me.user_id,
        role: me.role,
    })
}

/// `document`, checked as the server functions check it.
async fn checked(
    conn: &mut sqlx::PgConnection,
    c: &BoardCaller,
    document: &serde_json::Value,
) -> Result<Document, ApiError> {
    app::api::boards::ssr::document(conn, c, &document.to_string())
        .await?
        .map_err(ApiError::Validation)
}

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Boards>, ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    let boards = boards::list(tx.conn(), &c).await?;
    tx.commit().await?;
    Ok(Json(boards))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Json<Board>, ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    let board = boards::get(tx.conn(), &c, BoardId(id)).await?;
    tx.commit().await?;
    Ok(Json(board))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBoard {
    name: String,
    document: serde_json::Value,
    #[serde(default)]
    workspace: bool,
}

/// Creates a board; importing an exported one is the same call (always a new board).
pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NewBoard>,
) -> Result<(StatusCode, Json<Board>), ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    let document = checked(tx.conn(), &c, &body.document).await?;
    let board = boards::create(
        tx.conn(),
        &me.actor(),
        &c,
        &body.name,
        &document,
        body.workspace,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(board)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Save {
    /// The version the change started from.
    version: i32,
    #[serde(default)]
    name: Option<String>,
    document: serde_json::Value,
}

pub async fn save(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<Save>,
) -> Result<Json<Board>, ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    let document = checked(tx.conn(), &c, &body.document).await?;
    let board = boards::save(
        tx.conn(),
        &me.actor(),
        &c,
        BoardId(id),
        body.version,
        body.name.as_deref(),
        &document,
    )
    .await?;
    tx.commit().await?;
    tell(&state, &me, board.id, board.owner, Some(board.version));
    Ok(Json(board))
}

/// Tells the live feeds concerned that a board changed (after the commit).
fn tell(
    state: &AppState,
    me: &Caller,
    board: BoardId,
    owner: Option<UserId>,
    version: Option<i32>,
) {
    if let Some(tenant) = me.tenant.as_ref().map(|t| t.id) {
        state.bus.board_changed(types::BoardChange {
            tenant,
            board,
            owner,
            version,
        });
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    let owner = boards::get(tx.conn(), &c, BoardId(id)).await?.owner;
    boards::delete(tx.conn(), &me.actor(), &c, BoardId(id)).await?;
    tx.commit().await?;
    tell(&state, &me, BoardId(id), owner, None);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn publish(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(audience): JsonBody<Audience>,
) -> Result<Json<Board>, ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    let board = boards::publish(tx.conn(), &me.actor(), &c, BoardId(id), &audience).await?;
    tx.commit().await?;
    Ok(Json(board))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Home {
    /// `null`: back to the role's default.
    board: Option<BoardId>,
}

pub async fn set_home(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<Home>,
) -> Result<StatusCode, ApiError> {
    let c = caller(&me)?;
    let mut tx = scoped(&state.store, &me).await?;
    boards::set_home(tx.conn(), &c, body.board).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
