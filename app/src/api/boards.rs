//! Saved dashboards (boards): list, open, create (also how a JSON export is imported: always
//! as a new board, never over one), save over a version, delete, publish and choose a home.
//! The REST twins under `/api/v1/dashboard/config` call the same checks (`ssr::document`)
//! and the same `store::boards` functions.

use leptos::prelude::*;
use types::boards::{Board, Boards};
use types::BoardId;

use crate::AppError;

#[cfg(feature = "ssr")]
pub mod ssr {
    use types::boards::Document;
    use types::problem::FieldError;

    use crate::AppError;

    /// A board document from JSON, checked against the widget catalogue and against what
    /// `caller` may see; `Ok(Err(..))` names every bad field.
    pub async fn document(
        conn: &mut <store::TenantTx as std::ops::Deref>::Target,
        caller: &store::boards::Caller,
        json: &str,
    ) -> Result<Result<Document, Vec<FieldError>>, store::Error> {
        let document = match Document::parse(json) {
            Ok(d) => d,
            Err(e) => return Ok(Err(vec![e])),
        };
        if let Err(errors) = document.check(crate::widgets::rules) {
            return Ok(Err(errors));
        }
        let unseen = store::boards::unseen_filters(conn, caller, &document).await?;
        Ok(if unseen.is_empty() {
            Ok(document)
        } else {
            Err(unseen)
        })
    }

    /// The first bad field, as the page shows it.
    pub fn refused(errors: Vec<FieldError>) -> AppError {
        let e = errors.into_iter().next().expect("a refusal names a field");
        AppError::invalid(
            e.pointer.trim_start_matches('/'),
            format!("{}: {}", e.pointer, e.detail),
        )
    }

    /// The caller of server function `F`, and a transaction in their workspace.
    pub async fn begin<F: leptos::server_fn::ServerFn>(
    ) -> Result<(store::boards::Caller, store::TenantTx, store::audit::Actor), AppError> {
        let s = crate::session::ssr::require_fn::<F>().await?;
        let scope = s.scope.as_ref().ok_or_else(|| {
            AppError::new(
                http::StatusCode::FORBIDDEN,
                "super admins open a workspace's dashboards through support access",
            )
        })?;
        let cx = crate::ssr::server_context()?;
        let tx = cx.store.tenant_tx(scope).await?;
        let caller = store::boards::Caller {
            me: s.user_id,
            role: s.viewer.role,
        };
        Ok((caller, tx, s.actor))
    }
}

#[server(endpoint = "boards/list")]
pub async fn list_boards() -> Result<Boards, AppError> {
    let (c, mut tx, _) = ssr::begin::<ListBoards>().await?;
    let boards = store::boards::list(&mut tx, &c).await?;
    tx.commit().await?;
    Ok(boards)
}

#[server(endpoint = "boards/get")]
pub async fn get_board(id: BoardId) -> Result<Board, AppError> {
    let (c, mut tx, _) = ssr::begin::<GetBoard>().await?;
    let board = store::boards::get(&mut tx, &c, id).await?;
    tx.commit().await?;
    Ok(board)
}

/// A new board from `document` (JSON): the caller's own, or with `workspace` the
/// workspace's.
#[server(endpoint = "boards/create")]
pub async fn create_board(
    name: String,
    document: String,
    #[server(default)] workspace: bool,
) -> Result<Board, AppError> {
    let (c, mut tx, actor) = ssr::begin::<CreateBoard>().await?;
    let document = ssr::document(&mut tx, &c, &document)
        .await?
        .map_err(ssr::refused)?;
    let board = store::boards::create(&mut tx, &actor, &c, &name, &document, workspace).await?;
    tx.commit().await?;
    Ok(board)
}

/// Saves `document` over `version` of board `id`; a stale version is a 409 and nothing is
/// written.
#[server(endpoint = "boards/save")]
pub async fn save_board(
    id: BoardId,
    version: i32,
    #[server(default)] name: Option<String>,
    document: String,
) -> Result<Board, AppError> {
    let (c, mut tx, actor) = ssr::begin::<SaveBoard>().await?;
    let document = ssr::document(&mut tx, &c, &document)
        .await?
        .map_err(ssr::refused)?;
    let board =
        store::boards::save(&mut tx, &actor, &c, id, version, name.as_deref(), &document).await?;
    tx.commit().await?;
    Ok(board)
}

#[server(endpoint = "boards/delete")]
pub async fn delete_board(id: BoardId) -> Result<(), AppError> {
    let (c, mut tx, actor) = ssr::begin::<DeleteBoard>().await?;
    store::boards::delete(&mut tx, &actor, &c, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Whose default workspace board `id` is and which teams it is shared with.
#[server(endpoint = "boards/publish")]
pub async fn publish_board(id: BoardId, audience: String) -> Result<Board, AppError> {
    let (c, mut tx, actor) = ssr::begin::<PublishBoard>().await?;
    let audience: types::boards::Audience = serde_json::from_str(&audience)
        .map_err(|e| AppError::invalid("audience", format!("audience: {e}")))?;
    let board = store::boards::publish(&mut tx, &actor, &c, id, &audience).await?;
    tx.commit().await?;
    Ok(board)
}

/// Makes board `id` the caller's home (none: back to their role's default).
#[server(endpoint = "boards/home")]
pub async fn set_home_board(#[server(default)] id: Option<BoardId>) -> Result<(), AppError> {
    let (c, mut tx, _) = ssr::begin::<SetHomeBoard>().await?;
    store::boards::set_home(&mut tx, &c, id).await?;
    tx.commit().await?;
    Ok(())
}
