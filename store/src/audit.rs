//! The audit log: who did what, from where. Append-only for the tenant role.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Result;

/// Who acted and from where; carried from the request into every audited change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Actor {
    pub id: Option<Uuid>,
    /// E-mail, `cli`, or `system`.
    pub name: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            ..Actor::default()
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

/// The channel `NOTIFY` tells of changes to who may read what; its payload is the schema the
/// change was made in (`public` for the registry: a tenant suspended or deleted).
pub const ACCESS_CHANNEL: &str = "devpulse_access";

/// Whether an audited action can end or narrow someone's access: open live feeds check their
/// callers again when one commits (see [`ACCESS_CHANNEL`]).
pub fn changes_access(action: &str) -> bool {
    matches!(
        action,
        "user.role_changed"
            | "user.deactivated"
            | "password.changed"
            | "password.reset"
            | "api_key.revoked"
            | "team.member_set"
            | "team.member_removed"
            | "team.deleted"
            | "tenant.suspended"
            | "tenant.deleted"
            | "session.family_revoked"
            | "logout"
    )
}

/// The channel `NOTIFY` tells of audited changes that can alter what a dashboard shows
/// (teams, roles, people, prices, settings, imports rolled back); its payload is the schema,
/// as on [`ACCESS_CHANNEL`]. Each instance forgets that workspace's kept answers.
pub const ANSWERS_CHANNEL: &str = "devpulse_answers";

/// Whether an audited action can change a dashboard's answers. Listed by what cannot, so an
/// action added later errs on the side of fresh numbers.
pub fn changes_answers(action: &str) -> bool {
    let (noun, _) = action.split_once('.').unwrap_or((action, ""));
    !matches!(
        noun,
        "api_key" | "password" | "session" | "login" | "logout" | "mfa" | "dashboard"
    ) && !matches!(action, "user.invited" | "user.password_link_issued")
}

/// Tells every instance, when the transaction commits, that this workspace's dashboard
/// answers may have changed (for a change that is not audited, such as a display name).
pub async fn answers_changed(conn: &mut PgConnection) -> Result<()> {
    sqlx::query!("SELECT pg_notify($1, current_schema())", ANSWERS_CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<()> {
    if changes_access(action) {
        // Delivered when (and only if) the change commits, to every instance.
        sqlx::query!("SELECT pg_notify($1, current_schema())", ACCESS_CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    if changes_answers(action) {
        answers_changed(conn).await?;
    }
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, actor, action, target, ip, user_agent, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        actor.id,
        actor.name,
        action,
        target,
        actor.ip,
        actor
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(400).collect::<String>()),
        details
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Newest first.
pub async fn list(
    conn: &mut PgConnection,
    limit: i64,
    action: Option<&str>,
) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as!(
        AuditEntry,
        "SELECT id, at, actor_id, actor, action, target, ip, user_agent, details FROM audit_log
         WHERE ($2::text IS NULL OR action = $2) ORDER BY id DESC LIMIT $1",
        limit.clamp(1, 1000),
        action
    )
    .fetch_all(&mut *conn)
    .await?)
}
