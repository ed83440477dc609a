//! The audit log: who did what, from where. Append-only for the tenant role.

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
    /// The installation itself (scheduled jobs such as retention).
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            ..Actor::default()
        }
    }

    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            ..Actor::default()
        }
    }
}

pub use types::audit::{AuditEntry, AuditFilter, AuditPage};

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
            | "user.erased"
            | "password.changed"
            | "password.reset"
            | "api_key.revoked"
            | "team.member_set"
            | "team.member_removed"
            | "team.deleted"
            | "tenant.suspended"
            | "support.ended"
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
    ) && !matches!(
        action,
        "user.invited" | "user.password_link_issued" | "user.password_link_requested"
    )
}

/// Tells every instance, when the transaction commits, that this workspace's dashboard
/// answers may have changed (for a change that is not audited, such as a display name).
/// Inside [`crate::Store::seeing_own_changes`], this instance forgets them itself too.
pub async fn answers_changed(conn: &mut PgConnection) -> Result<()> {
    let schema = sqlx::query_scalar!(
        r#"SELECT current_schema() AS "schema?" FROM pg_notify($1, current_schema())"#,
        ANSWERS_CHANNEL
    )
    .fetch_one(&mut *conn)
    .await?;
    // No schema (none on the path is usable): "" is unknown, so every workspace's go.
    let _ = CHANGED_ANSWERS.try_with(|c| c.borrow_mut().push(schema.unwrap_or_default()));
    Ok(())
}

tokio::task_local! {
    /// The schemas whose answers notice this task's transactions sent.
    static CHANGED_ANSWERS: std::cell::RefCell<Vec<String>>;
}

/// Runs `fut`, answering the schemas [`answers_changed`] was told about inside it (whether
/// or not their transactions committed).
pub(crate) async fn noting_changed_answers<F: std::future::Future>(
    fut: F,
) -> (F::Output, Vec<String>) {
    CHANGED_ANSWERS
        .scope(Default::default(), async {
            let out = fut.await;
            (out, CHANGED_ANSWERS.with(|c| c.take()))
        })
        .await
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

/// The entries `f` asks for, newest first, `limit` at a time (at most 1000), in the log of the
/// transaction's scope (a workspace's, or the registry's for super admins).
pub async fn search(conn: &mut PgConnection, f: &AuditFilter, limit: i64) -> Result<AuditPage> {
    if let Some((field, reason)) = f.problem() {
        return Err(crate::Error::Invalid {
            field,
            reason: reason.into(),
        });
    }
    let limit = limit.clamp(1, 1000);
    fn blank(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    // `LIKE` patterns from typed text: its own `%`, `_` and `\` match only themselves.
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    };
    let actor = blank(&f.actor).map(|a| format!("%{}%", escape(a)));
    let (action_exact, action_prefix) = match blank(&f.action) {
        Some(a) if a.ends_with('.') => (None, Some(format!("{}%", escape(a)))),
        Some(a) => (Some(a.to_string()), None),
        None => (None, None),
    };
    // Each filter is optional (`$n IS NULL OR …`): a cached generic plan would ignore the
    // index a given filter could use, so plan for the values at hand.
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(&mut *conn)
        .await?;
    let mut entries = sqlx::query_as!(
        AuditEntry,
        r#"SELECT a.id, a.at, a.actor_id, a.actor, a.action, a.target,
                  u.email AS "target_name?", a.ip, a.user_agent, a.details
           FROM audit_log a LEFT JOIN users u ON u.id::text = a.target
           WHERE ($1::text IS NULL OR a.actor ILIKE $1)
             AND ($2::text IS NULL OR a.action = $2)
             AND ($3::text IS NULL OR a.action LIKE $3)
             AND ($4::text IS NULL OR a.target = $4)
             AND ($5::timestamptz IS NULL OR a.at >= $5)
             AND ($6::timestamptz IS NULL OR a.at < $6)
             AND ($7::int8 IS NULL OR a.id < $7)
           ORDER BY a.id DESC LIMIT $8"#,
        actor,
        action_exact,
        action_prefix,
        blank(&f.target),
        f.from,
        f.to,
        f.before,
        limit + 1
    )
    .fetch_all(&mut *conn)
    .await?;
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    Ok(AuditPage {
        next_before: more.then(|| entries.last().map(|e| e.id)).flatten(),
        entries,
    })
}
