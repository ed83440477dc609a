//! Saved dashboards (boards): open (with the list of them), create (also how a JSON export is imported: always
//! as a new board, never over one), save over a version, delete, publish and choose a home.
//! The REST twins under `/api/v1/dashboard/config` call the same checks (`ssr::document`)
//! and the same `store::boards` functions.

use leptos::prelude::*;
use types::boards::{Board, Opened};
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

    /// Tells the live feeds that board `board` changed (after the change committed).
    pub fn tell(
        s: &Started,
        board: types::BoardId,
        owner: Option<types::UserId>,
        version: Option<i32>,
    ) {
        if let Ok(cx) = crate::ssr::server_context() {
            cx.boards.changed(types::BoardChange {
                tenant: s.tenant,
                board,
                owner,
                version,
            });
        }
    }

    /// A board server function under way: who calls, in which workspace.
    pub struct Started {
        pub caller: store::boards::Caller,
        pub actor: store::audit::Actor,
        pub tenant: types::TenantId,
    }

    /// The caller of server function `F`, and a transaction in their workspace.
    pub async fn begin<F: leptos::server_fn::ServerFn>(
    ) -> Result<(Started, store::TenantTx), AppError> {
        let s = crate::session::ssr::require_fn::<F>().await?;
        let scope = s.scope.as_ref().ok_or_else(|| {
            AppError::new(
                http::StatusCode::FORBIDDEN,
                "super admins open a workspace's dashboards through support access",
            )
        })?;
        let cx = crate::ssr::server_context()?;
        let tx = cx.store.tenant_tx(scope).await?;
        let started = Started {
            caller: store::boards::Caller {
                me: s.user_id,
                role: s.viewer.role,
            },
            actor: s.actor,
            tenant: scope.id(),
        };
        Ok((started, tx))
    }
}

/// What the dashboard page opens, in one transaction: the boards the reader may open, and
/// board `id` (else their home; `None` in `board`: the built-in dashboard).
#[server(endpoint = "boards/open")]
pub async fn open_board(#[server(default)] id: Option<BoardId>) -> Result<Opened, AppError> {
    let (s, mut tx) = ssr::begin::<OpenBoard>().await?;
    let boards = store::boards::list(&mut tx, &s.caller).await?;
    let board = match id.or(boards.home) {
        Some(id) => Some(store::boards::get(&mut tx, &s.caller, id).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(Opened { boards, board })
}

/// A new board from `document` (JSON): the caller's own, or with `workspace` the
/// workspace's.
#[server(endpoint = "boards/create")]
pub async fn create_board(
    name: String,
    document: String,
    #[server(default)] workspace: bool,
) -> Result<Board, AppError> {
    let (s, mut tx) = ssr::begin::<CreateBoard>().await?;
    let document = ssr::document(&mut tx, &s.caller, &document)
        .await?
        .map_err(ssr::refused)?;
    let board =
        store::boards::create(&mut tx, &s.actor, &s.caller, &name, &document, workspace).await?;
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
    let (s, mut tx) = ssr::begin::<SaveBoard>().await?;
    let document = ssr::document(&mut tx, &s.caller, &document)
        .await?
        .map_err(ssr::refused)?;
    let board = store::boards::save(
        &mut tx,
        &s.actor,
        &s.caller,
        id,
        version,
        name.as_deref(),
        &document,
    )
    .await?;
    tx.commit().await?;
    ssr::tell(&s, board.id, board.owner, Some(board.version));
    Ok(board)
}

#[server(endpoint = "boards/delete")]
pub async fn delete_board(id: BoardId) -> Result<(), AppError> {
    let (s, mut tx) = ssr::begin::<DeleteBoard>().await?;
    let owner = store::boards::get(&mut tx, &s.caller, id).await?.owner;
    store::boards::delete(&mut tx, &s.actor, &s.caller, id).await?;
    tx.commit().await?;
    ssr::tell(&s, id, owner, None);
    Ok(())
}

/// Whose default workspace board `id` is and which teams it is shared with.
#[server(endpoint = "boards/publish")]
pub async fn publish_board(id: BoardId, audience: String) -> Result<Board, AppError> {
    let (s, mut tx) = ssr::begin::<PublishBoard>().await?;
    let audience: types::boards::Audience = serde_json::from_str(&audience)
        .map_err(|e| AppError::invalid("audience", format!("audience: {e}")))?;
    let board = store::boards::publish(&mut tx, &s.actor, &s.caller, id, &audience).await?;
    tx.commit().await?;
    Ok(board)
}

/// Makes board `id` the caller's home (none: back to their role's default).
#[server(endpoint = "boards/home")]
pub async fn set_home_board(#[server(default)] id: Option<BoardId>) -> Result<(), AppError> {
    let (s, mut tx) = ssr::begin::<SetHomeBoard>().await?;
    store::boards::set_home(&mut tx, &s.caller, id).await?;
    tx.commit().await?;
    Ok(())
}
