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
