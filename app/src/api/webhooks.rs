//! Webhooks (tenant admins): where the workspace's alerts are posted (each listed with its
//! latest attempts) and a test delivery. REST twins under `/api/v1/webhooks`.

use leptos::prelude::*;
use types::webhooks::{Created, Webhook};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::AppError;

#[cfg(feature = "ssr")]
fn webhook_id(id: &str) -> Result<uuid::Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such webhook"))
}

#[server(endpoint = "webhooks/list")]
pub async fn list_webhooks() -> Result<Vec<Webhook>, AppError> {
    let (_, mut tx) = ws::allowed::<ListWebhooks>().await?;
    let list = store::webhooks::list(&mut tx).await?;
    tx.commit().await?;
    Ok(list)
}

#[server(endpoint = "webhooks/create")]
pub async fn create_webhook(
    name: String,
    url: String,
    format: String,
) -> Result<Created, AppError> {
    let (s, mut tx) = ws::allowed::<CreateWebhook>().await?;
    let cx = crate::ssr::server_context()?;
    let format = types::webhooks::Format::parse(&format)?;
    cx.outbound
        .check(&url)
        .map_err(|why| AppError::invalid("url", format!("url: {why}")))?;
    let new = types::webhooks::NewWebhook { name, url, format };
    let created = store::webhooks::create(&mut tx, &s.actor, &cx.sealer, new).await?;
    tx.commit().await?;
    Ok(created)
}

#[server(endpoint = "webhooks/enable")]
pub async fn enable_webhook(id: String, enabled: bool) -> Result<Webhook, AppError> {
    let (s, mut tx) = ws::allowed::<EnableWebhook>().await?;
    let hook = store::webhooks::set_enabled(&mut tx, &s.actor, webhook_id(&id)?, enabled).await?;
    tx.commit().await?;
    Ok(hook)
}

#[server(endpoint = "webhooks/delete")]
pub async fn delete_webhook(id: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<DeleteWebhook>().await?;
    store::webhooks::delete(&mut tx, &s.actor, webhook_id(&id)?).await?;
    tx.commit().await?;
    Ok(())
}

#[server(endpoint = "webhooks/test")]
pub async fn test_webhook(id: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<TestWebhook>().await?;
    store::webhooks::queue_test(&mut tx, &s.actor, webhook_id(&id)?).await?;
    tx.commit().await?;
    Ok(())
}
