//! Raw exports: every event of a range, as rows streamed from PostgreSQL one by one, so a
//! year of a large workspace never sits in memory (the caller writes each row out and reads
//! the next only when the client has taken the last ones).

use chrono::{DateTime, Utc};
use futures::{stream::BoxStream, StreamExt};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Result;

/// One event as exported.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EventRow {
    pub occurred_at: DateTime<Utc>,
    /// The person's e-mail.
    pub user: String,
    pub kind: String,
    pub source: String,
    pub session_id: Option<String>,
    pub tool: Option<String>,
    pub model: Option<String>,
    pub success: Option<bool>,
    pub duration_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_creation_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub lines_added: Option<i64>,
    pub lines_removed: Option<i64>,
}

/// The column names, in the order of [`EventRow`]'s fields.
pub const EVENT_COLUMNS: [&str; 16] = [
    "occurred_at",
    "user",
    "kind",
    "source",
    "session_id",
    "tool",
    "model",
    "success",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_usd",
    "lines_added",
    "lines_removed",
];

/// The events of `people` (`None`: everyone) in `[from, to)`, oldest first, streamed.
pub fn events<'c>(
    conn: &'c mut PgConnection,
    people: Option<Vec<Uuid>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BoxStream<'c, Result<EventRow>> {
    sqlx::query_as!(
        EventRow,
        r#"SELECT e.occurred_at, u.email AS "user!", e.kind, e.source, e.session_id, e.tool,
                  e.model, e.success, e.duration_ms, e.input_tokens, e.output_tokens,
                  e.cache_creation_tokens, e.cache_read_tokens, e.cost_usd::float8 AS cost_usd,
                  e.lines_added, e.lines_removed
           FROM events e JOIN users u ON u.id = e.user_id
           WHERE e.occurred_at >= $1 AND e.occurred_at < $2
             AND ($3::uuid[] IS NULL OR e.user_id = ANY($3))
           ORDER BY e.occurred_at"#,
        from,
        to,
        people.as_deref()
    )
    .fetch(conn)
    .map(|r| r.map_err(crate::Error::from))
    .boxed()
}
