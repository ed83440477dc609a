//! The workspace's settings.

use leptos::prelude::*;

use crate::AppError;

/// Sets the zone the workspace's days, weeks and hours-of-day follow; answers the zone's
/// canonical name.
#[server(endpoint = "settings/time_zone")]
pub async fn set_time_zone(time_zone: String) -> Result<String, AppError> {
    let s = crate::session::ssr::require_fn::<SetTimeZone>().await?;
    let scope = s
        .scope
        .as_ref()
        .ok_or_else(|| AppError::not_found("workspace"))?;
    let cx = crate::ssr::server_context()?;
    let mut tx = cx.store.tenant_tx(scope).await?;
    let tz = store::settings::set_time_zone(&mut tx, &s.actor, &time_zone).await?;
    tx.commit().await?;
    Ok(tz)
}

/// The retention policy and what its last run removed.
#[server(endpoint = "settings/retention")]
pub async fn retention() -> Result<types::retention::Retention, AppError> {
    let s = crate::session::ssr::require_fn::<Retention>().await?;
    let scope = s
        .scope
        .as_ref()
        .ok_or_else(|| AppError::not_found("workspace"))?;
    let cx = crate::ssr::server_context()?;
    let mut tx = cx.store.tenant_tx(scope).await?;
    let r = store::retention::get(&mut tx).await?;
    tx.commit().await?;
    Ok(r)
}

/// What `policy` would remove today.
#[server(endpoint = "settings/retention/preview")]
pub async fn preview_retention(
    policy: types::retention::Policy,
) -> Result<types::retention::Preview, AppError> {
    let s = crate::session::ssr::require_fn::<PreviewRetention>().await?;
    let scope = s
        .scope
        .as_ref()
        .ok_or_else(|| AppError::not_found("workspace"))?;
    let cx = crate::ssr::server_context()?;
    let mut tx = cx.store.tenant_tx(scope).await?;
    let p = store::retention::preview(&mut tx, &policy, chrono::Utc::now()).await?;
    tx.commit().await?;
    Ok(p)
}

/// Sets the policy; one that keeps anything less long needs `confirm`.
#[server(endpoint = "settings/retention/set")]
pub async fn set_retention(
    policy: types::retention::Policy,
    confirm: bool,
) -> Result<types::retention::Retention, AppError> {
    let s = crate::session::ssr::require_fn::<SetRetention>().await?;
    let scope = s
        .scope
        .as_ref()
        .ok_or_else(|| AppError::not_found("workspace"))?;
    let cx = crate::ssr::server_context()?;
    let mut tx = cx.store.tenant_tx(scope).await?;
    store::retention::set(&mut tx, &s.actor, policy, confirm).await?;
    let r = store::retention::get(&mut tx).await?;
    tx.commit().await?;
    Ok(r)
}
