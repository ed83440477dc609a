//! A server function's way into the caller's workspace, and the parsing its arguments share
//! (the server side only).

use http::StatusCode;

use crate::{session::ssr::Session, AppError};

/// The session of a caller server function `F`'s rule lets through, and a transaction in
/// their tenant.
pub async fn allowed<F: leptos::server_fn::ServerFn>(
) -> Result<(Session, store::TenantTx), AppError> {
    let s = crate::session::ssr::require_fn::<F>().await?;
    member_tx(s).await
}

/// A transaction in the session's tenant (super admins have none here).
pub async fn member_tx(s: Session) -> Result<(Session, store::TenantTx), AppError> {
    let scope = s
        .scope
        .clone()
        .ok_or_else(|| AppError::new(StatusCode::NOT_FOUND, "people belong to a workspace"))?;
    let store = crate::ssr::server_context()?.store;
    let tx = store.tenant_tx(&scope).await?;
    Ok((s, tx))
}

/// What the caller reads of the dashboard's numbers (403 for a role that reads none).
pub async fn reader(
    s: &Session,
    tx: &mut store::TenantTx,
) -> Result<store::dashboard::Reader, AppError> {
    store::dashboard::Reader::of(tx, s.user_id, s.viewer.role)
        .await?
        .ok_or_else(|| {
            AppError::new(
                StatusCode::FORBIDDEN,
                format!("your role ({}) reads no metrics", s.viewer.role),
            )
        })
}

pub fn user_id(id: &str) -> Result<store::UserId, AppError> {
    id.parse()
        .map(store::UserId)
        .map_err(|_| AppError::new(StatusCode::NOT_FOUND, "no such user"))
}

pub fn team_id(id: &str) -> Result<store::teams::TeamId, AppError> {
    id.parse()
        .map(store::teams::TeamId)
        .map_err(|_| AppError::new(StatusCode::NOT_FOUND, "no such team"))
}

pub fn slug(s: &Session) -> Result<store::Slug, AppError> {
    Ok(store::Slug::parse(
        s.viewer.tenant.as_deref().unwrap_or_default(),
    )?)
}

/// How a password link reaches its person by e-mail: the sealer that keeps the link
/// unreadable until it is sent, and the server's public URL it points under (which the
/// admin is shown too).
pub fn post() -> Result<(std::sync::Arc<store::sealing::Sealer>, String), AppError> {
    let cx = crate::ssr::server_context()?;
    Ok((cx.sealer, cx.public_url))
}
