//! A person's data on request: an export of everything stored about them, and erasure.
//!
//! Both are requests (`gdpr_requests`) carried out by a job. Which rows are "about" a person is
//! read from the schema itself, not listed by hand: every table's columns that name a person
//! ([`PERSON_COLUMNS`]), the e-mails sent to their address, and the audit entries by or about
//! them. A table added later is exported and erased without anyone remembering to.
//!
//! Erasure runs in steps ([`ERASURE_STEPS`]), each safe to repeat, its number saved when it
//! commits: a crash resumes at the step that was running. Who the person was (e-mail, name,
//! key prefixes) is read from their rows until the last step, which empties their `users`
//! row, so nothing of it is ever copied elsewhere.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{accounts::UserId, audit::Actor, ident, tenants::TenantScope, Error, Result, TenantTx};

/// The columns that name a person, wherever they appear.
pub const PERSON_COLUMNS: [&str; 7] = [
    "user_id",
    "owner_id",
    "created_by",
    "actor_id",
    "break_glass",
    "tried_by",
    "requested_by",
];

pub const EXPORT_JOB: &str = "gdpr.export";
pub const ERASURE_JOB: &str = "gdpr.erase";

/// How long an export archive can be downloaded.
pub const ARCHIVE_DAYS: i64 = 7;
/// Bytes per stored archive part.
const PART: usize = 4 << 20;

/// What happens to an erased person's activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Their events, sessions and rollups go: the workspace's totals drop by theirs.
    Delete,
    /// Their activity stays under their now-anonymous id: totals are unchanged.
    Pseudonymise,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "delete" => Ok(Mode::Delete),
            "pseudonymise" | "pseudonymize" => Ok(Mode::Pseudonymise),
            _ => Err(Error::Invalid {
                field: "mode",
                reason: "must be delete or pseudonymise".into(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Delete => "delete",
            Mode::Pseudonymise => "pseudonymise",
        }
    }
}

pub use types::gdpr::Request;

fn request_of(r: RequestRow) -> Request {
    Request {
        id: r.id,
        kind: r.kind,
        user_id: r.user_id,
        email: r.email,
        mode: r.mode,
        state: r.state,
        step: r.step,
        counts: serde_json::from_value(r.counts).unwrap_or_default(),
        error: r.error,
        created_at: r.created_at,
        finished_at: r.finished_at,
        expires_at: r.expires_at,
        archive_bytes: r.archive_bytes,
    }
}

struct RequestRow {
    id: Uuid,
    kind: String,
    user_id: Uuid,
    email: Option<String>,
    mode: Option<String>,
    state: String,
    step: i32,
    counts: serde_json::Value,
    error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    archive_bytes: Option<i64>,
}

/// The workspace's requests, newest first (the person's current e-mail while they have one).
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Request>> {
    requests(conn, None).await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Request> {
    requests(conn, Some(id))
        .await?
        .pop()
        .ok_or(Error::NotFound("request"))
}

async fn requests(conn: &mut PgConnection, id: Option<Uuid>) -> Result<Vec<Request>> {
    Ok(sqlx::query_as!(
        RequestRow,
        r#"SELECT r.id, r.kind, r.user_id, u.email AS "email?", r.mode, r.state, r.step, r.counts,
                  r.error, r.created_at, r.finished_at, r.expires_at,
                  (SELECT sum(length(a.data))::int8 FROM gdpr_archives a
                   WHERE a.request_id = r.id AND r.expires_at > now()) AS archive_bytes
           FROM gdpr_requests r LEFT JOIN users u ON u.id = r.user_id AND u.erased_at IS NULL
           WHERE $1::uuid IS NULL OR r.id = $1
           ORDER BY r.created_at DESC LIMIT 200"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(request_of)
    .collect())
}

/// A person of this workspace who has not been erased (another workspace's id is not found).
async fn person(conn: &mut PgConnection, user: UserId) -> Result<(String, String)> {
    let row = sqlx::query!(
        "SELECT email, name FROM users WHERE id = $1 AND erased_at IS NULL",
        user.0
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("user"))?;
    Ok((row.email, row.name))
}

/// Asks for an export of everything stored about `user`; a job builds the archive.
pub async fn request_export(conn: &mut PgConnection, actor: &Actor, user: UserId) -> Result<Uuid> {
    person(conn, user).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO gdpr_requests (kind, user_id, requested_by) VALUES ('export', $1, $2) RETURNING id",
        user.0,
        actor.id
    )
    .fetch_one(&mut *conn)
    .await?;
    crate::jobs::enqueue_here(conn, EXPORT_JOB, &serde_json::json!({ "request": id })).await?;
    let details = serde_json::json!({ "request": id });
    crate::audit::record(
        conn,
        actor,
        "gdpr.export_requested",
        Some(&user.0.to_string()),
        details,
    )
    .await?;
    Ok(id)
}

/// Asks for `user`'s erasure. `confirm` must be their e-mail address, typed: erasure cannot be
/// undone. Nobody erases themselves (an admin would lock themselves out half-way).
pub async fn request_erasure(
    conn: &mut PgConnection,
    actor: &Actor,
    user: UserId,
    mode: Mode,
    confirm: &str,
) -> Result<Uuid> {
    let (email, _) = person(conn, user).await?;
    if actor.id == Some(user.0) {
        return Err(Error::Invalid {
            field: "user",
            reason: "cannot be yourself: ask another admin".into(),
        });
    }
    if !confirm.trim().eq_ignore_ascii_case(&email) {
        return Err(Error::Invalid {
            field: "confirm",
            reason: "must be the person's e-mail address, typed, to confirm an erasure".into(),
        });
    }
    let pending = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM gdpr_requests WHERE user_id = $1 AND kind = 'erasure'
                          AND state IN ('queued', 'running')) AS "pending!""#,
        user.0
    )
    .fetch_one(&mut *conn)
    .await?;
    if pending {
        return Err(Error::Conflict(
            "this person's erasure is already under way".into(),
        ));
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO gdpr_requests (kind, user_id, mode, requested_by)
         VALUES ('erasure', $1, $2, $3) RETURNING id",
        user.0,
        mode.as_str(),
        actor.id
    )
    .fetch_one(&mut *conn)
    .await?;
    crate::jobs::enqueue_here(conn, ERASURE_JOB, &serde_json::json!({ "request": id })).await?;
    let details = serde_json::json!({ "request": id, "mode": mode.as_str() });
    crate::audit::record(
        conn,
        actor,
        "gdpr.erasure_requested",
        Some(&user.0.to_string()),
        details,
    )
    .await?;
    Ok(id)
}

/// One file of an export: its name in the archive and its lines (JSON each).
#[derive(Clone, Debug, PartialEq)]
pub struct ExportFile {
    pub name: String,
    pub lines: Vec<String>,
}

/// Every table and column that names a person, the parent of a partitioned table standing for
/// its partitions; with the columns never exported (hashes, sealed secrets: every `bytea`,
/// and `password_hash`).
async fn person_columns(conn: &mut PgConnection) -> Result<Vec<(String, String, Vec<String>)>> {
    let rows = sqlx::query!(
        r#"SELECT c.relname AS "table!", a.attname AS "column!",
                  ARRAY(SELECT s.attname::text FROM pg_attribute s
                        WHERE s.attrelid = c.oid AND s.attnum > 0 AND NOT s.attisdropped
                          AND (s.atttypid = 'bytea'::regtype OR s.attname = 'password_hash')
                        ORDER BY s.attnum) AS "hidden!"
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid
           WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'uuid'::regtype
             AND a.attname = ANY($1)
           ORDER BY 1, 2"#,
        &PERSON_COLUMNS.map(String::from) as &[String]
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            ident::check(&r.table, "table")?;
            ident::check(&r.column, "column")?;
            Ok((r.table, r.column, r.hidden))
        })
        .collect()
}

/// Everything stored about `user`, one file per table and column that names them (e.g.
/// `events.user_id.ndjson`), plus their profile, the e-mails sent to them and the audit
/// entries by or about them. Read in the caller's tenant transaction.
pub async fn export(conn: &mut PgConnection, user: UserId) -> Result<Vec<ExportFile>> {
    let (email, _) = person(conn, user).await?;
    let mut files = Vec::new();
    let hidden_users: Vec<String> = vec!["password_hash".into()];
    let profile: Vec<String> = rows_where(conn, "users", "id", &hidden_users, user.0).await?;
    files.push(ExportFile {
        name: "profile.json".into(),
        lines: profile,
    });
    for (table, column, hidden) in person_columns(conn).await? {
        if table == "audit_log" {
            continue;
        }
        let lines = rows_where(conn, &table, &column, &hidden, user.0).await?;
        if !lines.is_empty() {
            files.push(ExportFile {
                name: format!("{table}.{column}.ndjson"),
                lines,
            });
        }
    }
    let emails: Vec<String> = sqlx::query_scalar!(
        r#"SELECT (to_jsonb(e) - 'sealed')::text AS "j!" FROM emails e WHERE to_address = $1 ORDER BY created_at"#,
        email
    )
    .fetch_all(&mut *conn)
    .await?;
    files.push(ExportFile {
        name: "emails.ndjson".into(),
        lines: emails,
    });
    let audit: Vec<String> = sqlx::query_scalar!(
        r#"SELECT to_jsonb(a)::text AS "j!" FROM audit_log a
           WHERE actor_id = $1 OR target = $2 ORDER BY id"#,
        user.0,
        user.0.to_string()
    )
    .fetch_all(&mut *conn)
    .await?;
    files.push(ExportFile {
        name: "audit_log.ndjson".into(),
        lines: audit,
    });
    Ok(files)
}

async fn rows_where(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
    hidden: &[String],
    id: Uuid,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT (to_jsonb(t) - $2::text[])::text FROM {} t WHERE {} = $1",
        ident::quote(table),
        ident::quote(column)
    ))
    .bind(id)
    .bind(hidden)
    .fetch_all(&mut *conn)
    .await?)
}

/// Marks a request running (a retried job finds it so already).
pub async fn start(conn: &mut PgConnection, id: Uuid) -> Result<Request> {
    sqlx::query!(
        "UPDATE gdpr_requests SET state = 'running' WHERE id = $1 AND state IN ('queued', 'running')",
        id
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}

/// Stores an export's archive (replacing a half-stored one from a crashed attempt) and
/// finishes the request.
pub async fn save_archive(
    conn: &mut PgConnection,
    id: Uuid,
    archive: &[u8],
    counts: &BTreeMap<String, i64>,
) -> Result<()> {
    sqlx::query!("DELETE FROM gdpr_archives WHERE request_id = $1", id)
        .execute(&mut *conn)
        .await?;
    for (part, chunk) in archive.chunks(PART).enumerate() {
        sqlx::query!(
            "INSERT INTO gdpr_archives (request_id, part, data) VALUES ($1, $2, $3)",
            id,
            part as i32,
            chunk
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "UPDATE gdpr_requests SET state = 'done', finished_at = now(), counts = $2,
                expires_at = now() + make_interval(days => $3::int)
         WHERE id = $1",
        id,
        serde_json::to_value(counts).expect("counts serialise"),
        ARCHIVE_DAYS as i32
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An export's archive, while it has not expired; recorded in the audit log as downloaded.
pub async fn archive(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<(Request, Vec<u8>)> {
    let r = get(conn, id).await?;
    if r.kind != "export" || r.state != "done" || r.expires_at.is_none_or(|e| e < Utc::now()) {
        return Err(Error::NotFound("archive"));
    }
    let parts: Vec<Vec<u8>> = sqlx::query_scalar!(
        "SELECT data FROM gdpr_archives WHERE request_id = $1 ORDER BY part",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    if parts.is_empty() {
        return Err(Error::NotFound("archive"));
    }
    let details = serde_json::json!({ "request": id });
    crate::audit::record(
        conn,
        actor,
        "gdpr.export_downloaded",
        Some(&r.user_id.to_string()),
        details,
    )
    .await?;
    Ok((r, parts.concat()))
}

/// Marks a request failed for good (the job gave up).
pub async fn failed(conn: &mut PgConnection, id: Uuid, error: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE gdpr_requests SET state = 'failed', error = $2, finished_at = now()
         WHERE id = $1 AND state NOT IN ('done', 'failed')",
        id,
        error
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the workspace's expired export archives (hourly upkeep, as the schema's owner).
pub async fn prune(conn: &mut PgConnection, schema: &str) -> Result<u64> {
    ident::check(schema, "schema")?;
    let s = ident::quote(schema);
    Ok(sqlx::query(&format!(
        "DELETE FROM {s}.gdpr_archives a USING {s}.gdpr_requests r
         WHERE a.request_id = r.id AND r.expires_at < now()"
    ))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The steps of an erasure, in order.
pub const ERASURE_STEPS: [&str; 4] = ["lock_out", "scrub", "activity", "identity"];

/// Runs the erasure `id` from the step it has reached to the end, each step in its own
/// transaction(s). Safe to call again after a crash or a failure.
pub async fn erase(pool: &PgPool, scope: &TenantScope, id: Uuid) -> Result<Request> {
    loop {
        let mut tx = TenantTx::begin(pool, scope).await?;
        let r = start(&mut tx, id).await?;
        tx.commit().await?;
        if r.kind != "erasure" {
            return Err(Error::Invalid {
                field: "request",
                reason: "is not an erasure".into(),
            });
        }
        if r.state == "done" || r.state == "failed" {
            return Ok(r);
        }
        let mode = Mode::parse(r.mode.as_deref().unwrap_or("pseudonymise"))?;
        let user = UserId(r.user_id);
        let step = r.step as usize;
        let mut counts = r.counts.clone();
        match ERASURE_STEPS.get(step).copied() {
            Some("lock_out") => lock_out(pool, scope, user).await?,
            Some("scrub") => scrub(pool, scope, user, &mut counts).await?,
            Some("activity") => match mode {
                Mode::Delete => delete_activity(pool, scope, user, &mut counts).await?,
                Mode::Pseudonymise => anonymise_activity(pool, scope, user, &mut counts).await?,
            },
            Some("identity") => {
                // The last step: the person's own rows, their emptied profile, the audit
                // entry that stays, and the request's end, all at once.
                let mut tx = TenantTx::begin(pool, scope).await?;
                identity(&mut tx, user, &mut counts).await?;
                // By the installation, on the admin's request (recorded when they asked).
                let details =
                    serde_json::json!({ "request": id, "mode": mode.as_str(), "removed": counts });
                crate::audit::record(
                    &mut tx,
                    &Actor::system(),
                    "user.erased",
                    Some(&user.0.to_string()),
                    details,
                )
                .await?;
                sqlx::query!(
                    "UPDATE gdpr_requests SET step = $2, counts = $3, state = 'done', finished_at = now()
                     WHERE id = $1",
                    id,
                    ERASURE_STEPS.len() as i32,
                    serde_json::to_value(&counts).expect("counts serialise")
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                continue;
            }
            _ => {
                return Err(Error::Invalid {
                    field: "step",
                    reason: format!("{step} is past the last step").into(),
                })
            }
        }
        let mut tx = TenantTx::begin(pool, scope).await?;
        sqlx::query!(
            "UPDATE gdpr_requests SET step = $2, counts = $3 WHERE id = $1 AND step = $4",
            id,
            step as i32 + 1,
            serde_json::to_value(&counts).expect("counts serialise"),
            step as i32
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
}

/// Runs only the next step of an erasure (tests stop an erasure half-way with it, as a crash
/// would).
pub async fn erase_one_step(pool: &PgPool, scope: &TenantScope, id: Uuid) -> Result<()> {
    let step = {
        let mut tx = TenantTx::begin(pool, scope).await?;
        let r = start(&mut tx, id).await?;
        tx.commit().await?;
        r.step as usize
    };
    let user = {
        let mut tx = TenantTx::begin(pool, scope).await?;
        let r = get(&mut tx, id).await?;
        tx.commit().await?;
        UserId(r.user_id)
    };
    let mut counts = BTreeMap::new();
    match ERASURE_STEPS.get(step).copied() {
        Some("lock_out") => lock_out(pool, scope, user).await?,
        Some("scrub") => scrub(pool, scope, user, &mut counts).await?,
        _ => {
            return Err(Error::Invalid {
                field: "step",
                reason: "only the first two steps run alone".into(),
            })
        }
    }
    let mut tx = TenantTx::begin(pool, scope).await?;
    sqlx::query!(
        "UPDATE gdpr_requests SET step = $2 WHERE id = $1 AND step = $3",
        id,
        step as i32 + 1,
        step as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Step 1: nothing new arrives from them and nobody acts as them: deactivated, every session
/// ended (live sockets told at once), every key revoked.
async fn lock_out(pool: &PgPool, scope: &TenantScope, user: UserId) -> Result<()> {
    let mut tx = TenantTx::begin(pool, scope).await?;
    // As every change that ends sessions does: a refresh in flight then finishes first.
    crate::accounts::lock(&mut tx, user).await?;
    sqlx::query!(
        "UPDATE users SET status = 'deactivated', sessions_valid_after = clock_timestamp(),
                updated_at = now()
         WHERE id = $1",
        user.0
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1",
        user.0
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM refresh_tokens WHERE user_id = $1", user.0)
        .execute(&mut *tx)
        .await?;
    // E-mails to them (queued ones included) go before the scrub would rewrite their address.
    sqlx::query!(
        "DELETE FROM emails WHERE to_address = (SELECT email FROM users WHERE id = $1 AND erased_at IS NULL)",
        user.0
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "SELECT pg_notify($1, current_schema())",
        crate::audit::ACCESS_CHANNEL
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A case-insensitive pattern for what identifies the person in text, as whole words: their
/// e-mail, their keys' prefixes, and their name when it has at least two words (one word,
/// "Ana" or "Claude", names too many other things to rewrite in other people's text; their
/// own profile is emptied whatever it is).
async fn identifying_pattern(conn: &mut PgConnection, user: UserId) -> Result<Option<String>> {
    let Some(row) = sqlx::query!(
        "SELECT email, name FROM users WHERE id = $1 AND erased_at IS NULL",
        user.0
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let mut terms = vec![row.email];
    let name = row.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name
        .split(' ')
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count()
        >= 2
    {
        terms.push(name);
    }
    let prefixes: Vec<String> =
        sqlx::query_scalar!("SELECT prefix FROM api_keys WHERE user_id = $1", user.0)
            .fetch_all(&mut *conn)
            .await?;
    terms.extend(prefixes);
    let words = terms
        .iter()
        .map(|t| regex_escape(t).replace(' ', "\\s+"))
        .collect::<Vec<_>>()
        .join("|");
    Ok(Some(format!("\\m({words})\\M")))
}

/// Escapes PostgreSQL (ARE) regular expression metacharacters.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Columns that hold codes and identifiers, not words: never rewritten (a name matching part
/// of a model or tool name must not change what the dashboards count).
const CODE_COLUMNS: [&str; 26] = [
    "id",
    "key",
    "kind",
    "source",
    "tool",
    "model",
    "agent",
    "session_id",
    "tool_use_id",
    "request_id",
    "prompt_id",
    "series_key",
    "role",
    "status",
    "state",
    "template",
    "action",
    "mode",
    "scopes",
    "preset",
    "response_mode",
    "start_source",
    "end_reason",
    "slug",
    "metric",
    "direction",
];

/// Tables whose rows of the person go at the last step: their own rows there are left alone
/// until then (rewriting them could break a unique column, e.g. two key prefixes both becoming
/// `[erased]`), other people's rows are scrubbed like everywhere else.
const OWNED_AT_THE_END: [(&str, &str); 9] = [
    ("api_keys", "user_id"),
    ("user_identities", "user_id"),
    ("user_tokens", "user_id"),
    ("refresh_tokens", "user_id"),
    ("team_members", "user_id"),
    ("ws_tickets", "user_id"),
    ("idempotency_keys", "user_id"),
    ("sso_trials", "tried_by"),
    ("dashboard_configs", "owner_id"),
];

/// Step 2: every text and JSON string in the workspace that names them (their e-mail, full
/// name or a key prefix, as whole words), in anyone's rows, becomes `[erased]` (in a unique
/// column, `[erased 1a2b3c]`): audit details, event attributes, paths, team names. Codes and
/// identifiers ([`CODE_COLUMNS`]) and primary keys are left alone. Runs as the schema's owner: the audit log is append-only to the
/// workspace's role.
async fn scrub(
    pool: &PgPool,
    scope: &TenantScope,
    user: UserId,
    counts: &mut BTreeMap<String, i64>,
) -> Result<()> {
    // A write that passed its key check before the lock-out commits before this step reads:
    // writers hold this lock for their transaction.
    let mut tx = TenantTx::begin(pool, scope).await?;
    crate::events::lock(&mut tx).await?;
    let pattern = identifying_pattern(&mut tx, user).await?;
    tx.commit().await?;
    let Some(pattern) = pattern else {
        return Ok(());
    };
    let mut tx = owner_tx(pool, scope).await?;
    // Where and from what they acted is theirs too.
    sqlx::query!(
        "UPDATE audit_log SET ip = NULL, user_agent = NULL
         WHERE actor_id = $1 AND (ip IS NOT NULL OR user_agent IS NOT NULL)",
        user.0
    )
    .execute(&mut *tx)
    .await?;
    let columns = sqlx::query!(
        r#"SELECT c.relname AS "table!", a.attname AS "column!", a.atttypid = 'jsonb'::regtype AS "json!",
                  EXISTS (SELECT 1 FROM pg_index i
                          WHERE i.indrelid = c.oid AND i.indisunique AND a.attnum = ANY(i.indkey)) AS "unique!"
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid
           WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
             AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'jsonb'::regtype)
             AND c.relname NOT IN ('users', 'gdpr_requests') AND c.relname NOT LIKE '\_%'
             AND a.attname <> ALL($1)
             -- Not part of a primary key (others refer to it).
             AND NOT EXISTS (SELECT 1 FROM pg_index i
                             WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY(i.indkey))
           ORDER BY 1, 2"#,
        &CODE_COLUMNS.map(String::from) as &[String]
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for c in columns {
        ident::check(&c.table, "table")?;
        ident::check(&c.column, "column")?;
        let (t, col) = (ident::quote(&c.table), ident::quote(&c.column));
        let rewrite = match (c.json, c.unique) {
            (true, _) => format!("scrub_jsonb({col}, $1)"),
            (false, false) => format!("regexp_replace({col}, $1, '[erased]', 'gi')"),
            // Two rows rewritten alike must not collide: each gets a mark of its own.
            (false, true) => format!(
                "regexp_replace({col}, $1, '[erased ' || left(md5({col} || ctid::text), 6) || ']', 'gi')"
            ),
        };
        let not_theirs = OWNED_AT_THE_END
            .iter()
            .find(|(table, _)| *table == c.table)
            .map(|(_, owner)| format!("AND {} IS DISTINCT FROM $2", ident::quote(owner)))
            .unwrap_or_default();
        // One statement per column, each its own transaction: rows are locked only while
        // their column is rewritten.
        let mut tx = owner_tx(pool, scope).await?;
        let changed = sqlx::query(&format!(
            "UPDATE {t} SET {col} = {rewrite} WHERE {col}::text ~* $1 {not_theirs}"
        ))
        .bind(&pattern)
        .bind(user.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if changed > 0 {
            *counts
                .entry(format!("scrubbed:{}.{}", c.table, c.column))
                .or_default() += changed as i64;
        }
    }
    Ok(())
}

/// A transaction in the tenant's schema as its owner (not its role).
async fn owner_tx(
    pool: &PgPool,
    scope: &TenantScope,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"SELECT set_config('search_path', $1, true) AS "path!""#,
        scope.schema()
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(tx)
}

/// Step 3 (delete mode): their activity goes, rollups included, so every total left is the
/// sum of what remains.
async fn delete_activity(
    pool: &PgPool,
    scope: &TenantScope,
    user: UserId,
    counts: &mut BTreeMap<String, i64>,
) -> Result<()> {
    let statements = [
        // (Their per-person sums follow, by the rollups' triggers.)
        "rollups",
        "counter_usage",
        "prompts",
        "api_requests",
        "tool_runs",
        "sessions",
        "events",
    ]
    .map(|table| {
        (
            format!("deleted:{table}"),
            format!("DELETE FROM {table} WHERE user_id = $1"),
        )
    });
    for_person(pool, scope, user, &statements, counts).await
}

/// Step 3 (pseudonymise mode): their activity stays for the totals, without what it says
/// about their machine: the attributes their tools sent (paths, hostnames, commands), their
/// sessions' working directories and branches, their imports' host names.
async fn anonymise_activity(
    pool: &PgPool,
    scope: &TenantScope,
    user: UserId,
    counts: &mut BTreeMap<String, i64>,
) -> Result<()> {
    let statements = [
        (
            "cleared:events.attrs",
            "UPDATE events SET attrs = '{}' WHERE user_id = $1 AND attrs <> '{}'",
        ),
        (
            "cleared:sessions.cwd",
            "UPDATE sessions SET cwd = NULL, git_branch = NULL
             WHERE user_id = $1 AND (cwd IS NOT NULL OR git_branch IS NOT NULL)",
        ),
        (
            "cleared:import_batches.host",
            "UPDATE import_batches SET host = NULL WHERE user_id = $1 AND host IS NOT NULL",
        ),
    ]
    .map(|(label, sql)| (label.to_string(), sql.to_string()));
    for_person(pool, scope, user, &statements, counts).await
}

/// Runs each statement (whose `$1` is the person) in a transaction of its own, counting the
/// rows it changed under its label.
async fn for_person(
    pool: &PgPool,
    scope: &TenantScope,
    user: UserId,
    statements: &[(String, String)],
    counts: &mut BTreeMap<String, i64>,
) -> Result<()> {
    for (label, sql) in statements {
        let mut tx = TenantTx::begin(pool, scope).await?;
        let n = sqlx::query(sql)
            .bind(user.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        *counts.entry(label.clone()).or_default() += n as i64;
    }
    Ok(())
}

/// Step 4: every row that is theirs alone goes (keys, sign-in identities, second factors,
/// team places, personal dashboards, e-mails to them, export archives), rows that only name
/// them stop naming them, and their profile is emptied: what stays is an id.
async fn identity(
    conn: &mut PgConnection,
    user: UserId,
    counts: &mut BTreeMap<String, i64>,
) -> Result<()> {
    let Some(email) = sqlx::query_scalar!(
        "SELECT email FROM users WHERE id = $1 AND erased_at IS NULL",
        user.0
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    // (A message queued for them after the lock-out.)
    sqlx::query!("DELETE FROM emails WHERE to_address = $1", email)
        .execute(&mut *conn)
        .await?;
    let n = sqlx::query!(
        "DELETE FROM gdpr_archives a USING gdpr_requests r WHERE a.request_id = r.id AND r.user_id = $1",
        user.0
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    *counts.entry("deleted:gdpr_archives".into()).or_default() += n as i64;
    for (table, column, _) in person_columns(conn).await? {
        let owned = match (table.as_str(), column.as_str()) {
            // Kept, now naming nobody: activity (pseudonymised, or already deleted), batches,
            // the audit trail, requests.
            (
                "events" | "sessions" | "tool_runs" | "api_requests" | "prompts" | "counter_usage"
                | "rollups" | "person_rollups" | "import_batches" | "audit_log" | "gdpr_requests",
                _,
            ) => continue,
            (_, "user_id" | "owner_id" | "tried_by") => true,
            _ => false,
        };
        let sql = if owned {
            format!(
                "DELETE FROM {} WHERE {} = $1",
                ident::quote(&table),
                ident::quote(&column)
            )
        } else {
            format!(
                "UPDATE {t} SET {c} = NULL WHERE {c} = $1",
                t = ident::quote(&table),
                c = ident::quote(&column)
            )
        };
        let n = sqlx::query(&sql)
            .bind(user.0)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if n > 0 {
            let verb = if owned { "deleted" } else { "unlinked" };
            *counts
                .entry(format!("{verb}:{table}.{column}"))
                .or_default() += n as i64;
        }
    }
    sqlx::query!(
        "UPDATE users SET email = 'erased-' || id || '@erased.invalid', name = 'Erased person',
                password_hash = NULL, status = 'deactivated', theme = NULL, home_dashboard = NULL,
                sessions_valid_after = clock_timestamp(), erased_at = now(), updated_at = now()
         WHERE id = $1",
        user.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
