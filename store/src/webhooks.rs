//! A workspace's webhooks: kept by tenant admins, each with a signing secret the server
//! seals (bound to the webhook's id) and shows once. Every alert event queues one delivery
//! job per enabled webhook in the transaction that records the event; the server's job
//! runner posts it and records each attempt here.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{audit, audit::Actor, jobs, sealing::Sealer, Error, Result};
pub use types::webhooks::{Created, Delivery, Format, NewWebhook, Webhook};

/// The job kind that posts one event (or a test) to one webhook; its payload is
/// `{"webhook": <id>, "event": <id> | null}`.
pub const DELIVER: &str = "webhook.deliver";

/// The most webhooks a workspace keeps.
pub const MAX_WEBHOOKS: i64 = 20;

struct Row {
    id: Uuid,
    name: String,
    url: String,
    format: String,
    enabled: bool,
    created_at: DateTime<Utc>,
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<Webhook>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, name, url, format, enabled, created_at FROM webhooks ORDER BY name, id"
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let recent = deliveries(conn, r.id, types::webhooks::RECENT).await?;
        out.push(Webhook {
            id: r.id,
            name: r.name,
            url: r.url,
            format: Format::parse(&r.format)?,
            enabled: r.enabled,
            created_at: r.created_at,
            recent,
        });
    }
    Ok(out)
}

async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Webhook> {
    list(conn)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or(Error::NotFound("webhook"))
}

/// Creates a webhook with a new signing secret (returned this once). `new.url` must already
/// have passed the server's address check.
pub async fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    sealer: &Sealer,
    new: NewWebhook,
) -> Result<Created> {
    let new = new.checked()?;
    if !sealer.can_seal() {
        return Err(Error::Invalid {
            field: "secret",
            reason: "this server has no DEVPULSE_SECRET_KEY to keep webhook secrets with".into(),
        });
    }
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM webhooks"#)
        .fetch_one(&mut *conn)
        .await?;
    if n >= MAX_WEBHOOKS {
        return Err(Error::Conflict(
            format!("a workspace keeps at most {MAX_WEBHOOKS} webhooks").into(),
        ));
    }
    let id = Uuid::new_v4();
    let secret = format!("whsec_{}", crate::secrets::random_token(32));
    let sealed = sealer.seal(secret.as_bytes(), id.as_bytes());
    sqlx::query!(
        "INSERT INTO webhooks (id, name, url, format, secret_sealed) VALUES ($1, $2, $3, $4, $5)",
        id,
        new.name,
        new.url,
        new.format.as_str(),
        sealed
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        actor,
        "webhook.created",
        Some(&id.to_string()),
        serde_json::json!({ "name": new.name, "url": new.url, "format": new.format }),
    )
    .await?;
    Ok(Created {
        webhook: get(conn, id).await?,
        secret,
    })
}

/// Turns a webhook on or off.
pub async fn set_enabled(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    enabled: bool,
) -> Result<Webhook> {
    let done = sqlx::query!(
        "UPDATE webhooks SET enabled = $2 WHERE id = $1",
        id,
        enabled
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("webhook"));
    }
    audit::record(
        conn,
        actor,
        "webhook.changed",
        Some(&id.to_string()),
        serde_json::json!({ "enabled": enabled }),
    )
    .await?;
    get(conn, id).await
}

pub async fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<()> {
    let gone = sqlx::query!("DELETE FROM webhooks WHERE id = $1 RETURNING name, url", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("webhook"))?;
    audit::record(
        conn,
        actor,
        "webhook.deleted",
        Some(&id.to_string()),
        serde_json::json!({ "name": gone.name, "url": gone.url }),
    )
    .await
}

/// The latest attempts to deliver to `webhook`, newest first.
pub async fn deliveries(
    conn: &mut PgConnection,
    webhook: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>> {
    Ok(sqlx::query_as!(
        Delivery,
        "SELECT id, webhook_id, event_id, test, attempt, status, error, duration_ms, at
         FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY at DESC, attempt DESC LIMIT $2",
        webhook,
        limit.clamp(1, 200)
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Queues the delivery of alert event `event` to every enabled webhook, in `conn`'s
/// transaction.
pub async fn queue_event(conn: &mut PgConnection, event: Uuid) -> Result<usize> {
    let hooks: Vec<Uuid> = sqlx::query_scalar!("SELECT id FROM webhooks WHERE enabled")
        .fetch_all(&mut *conn)
        .await?;
    for hook in &hooks {
        jobs::enqueue_here(
            conn,
            DELIVER,
            &serde_json::json!({ "webhook": hook, "event": event }),
        )
        .await?;
    }
    Ok(hooks.len())
}

/// Queues a test delivery to `webhook` ("send test").
pub async fn queue_test(conn: &mut PgConnection, actor: &Actor, webhook: Uuid) -> Result<()> {
    get(conn, webhook).await?;
    jobs::enqueue_here(
        conn,
        DELIVER,
        &serde_json::json!({ "webhook": webhook, "event": null }),
    )
    .await?;
    audit::record(
        conn,
        actor,
        "webhook.tested",
        Some(&webhook.to_string()),
        serde_json::json!({}),
    )
    .await
}

/// Where and how a delivery goes, the secret opened.
pub struct Target {
    pub url: String,
    pub format: Format,
    pub secret: String,
    pub enabled: bool,
}

/// The webhook `id` for its delivery job; `None` once deleted.
pub async fn target(conn: &mut PgConnection, sealer: &Sealer, id: Uuid) -> Result<Option<Target>> {
    let Some(r) = sqlx::query!(
        "SELECT url, format, secret_sealed, enabled FROM webhooks WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let secret = sealer
        .open_text(&r.secret_sealed, id.as_bytes())
        .map_err(|_| Error::Invalid {
            field: "secret",
            reason: "the webhook's secret cannot be read with this server's DEVPULSE_SECRET_KEY"
                .into(),
        })?;
    Ok(Some(Target {
        url: r.url,
        format: Format::parse(&r.format)?,
        secret,
        enabled: r.enabled,
    }))
}

/// Records one attempt.
pub async fn record(conn: &mut PgConnection, d: &Delivery) -> Result<()> {
    sqlx::query!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, test, attempt, status, error,
                                         duration_ms, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        d.id,
        d.webhook_id,
        d.event_id,
        d.test,
        d.attempt,
        d.status,
        d.error,
        d.duration_ms,
        d.at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An alert event with what a message about it says: the rule in words.
pub struct Told {
    pub event: types::alerts::Event,
    pub rule: String,
}

/// The alert event `id`, for its delivery; `None` once gone.
pub async fn event(conn: &mut PgConnection, id: Uuid) -> Result<Option<Told>> {
    let Some(r) = sqlx::query!(
        "SELECT e.id, e.rule_id, e.rule_name, e.metric, e.state, e.value, e.threshold, e.at
         FROM alert_events e WHERE e.id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let event = types::alerts::Event {
        id: r.id,
        rule_id: types::AlertRuleId(r.rule_id),
        rule_name: r.rule_name,
        state: types::alerts::State::parse(&r.state),
        value: r.value,
        threshold: r.threshold,
        metric: types::alerts::Metric::parse(&r.metric)?,
        at: r.at,
    };
    let rule = sqlx::query!(
        "SELECT name, metric, direction, threshold, clear_at, window_minutes, budget_id
         FROM alert_rules WHERE id = $1",
        r.rule_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|x| {
        types::alerts::NewRule {
            name: x.name,
            metric: event.metric,
            direction: types::alerts::Direction::parse(&x.direction)
                .unwrap_or(types::alerts::Direction::Above),
            threshold: x.threshold,
            clear: Some(x.clear_at),
            window_minutes: x.window_minutes,
            filters: Default::default(),
            budget_id: x.budget_id.map(types::BudgetId),
            hours: None,
            enabled: true,
        }
        .describe()
    })
    .unwrap_or_default();
    Ok(Some(Told { event, rule }))
}
