//! Prompts the user submitted.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::{Deltas, Event, Kind, SessionDeltas};
use crate::Result;

/// Prompts, each once: by prompt id where the source gives one (a hook and OTLP report the
/// same prompt), else by the event.
pub(super) async fn fold_prompts(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let mut seen: HashSet<&str> = HashSet::new();
    let candidates: Vec<(&str, &Event)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Prompt { prompt_id } => Some((prompt_id.as_deref().unwrap_or(&e.key), *e)),
            _ => None,
        })
        .filter(|(id, _)| seen.insert(id))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let inserted: HashSet<String> = sqlx::query_as::<_, (String, bool)>(
        "INSERT INTO prompts (prompt_id, session_id, user_id, at, import_batch)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::uuid[])
         -- As for API requests: reported from elsewhere too, it is no longer an import's alone.
         ON CONFLICT (prompt_id) DO UPDATE SET import_batch = NULL
             WHERE prompts.import_batch IS DISTINCT FROM EXCLUDED.import_batch
               AND prompts.import_batch IS NOT NULL
         RETURNING prompt_id, xmax = 0",
    )
    .bind(candidates.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|c| c.1.session_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(candidates.iter().map(|c| c.1.user_id.0).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|c| c.1.occurred_at)
            .collect::<Vec<_>>(),
    )
    .bind(
        candidates
            .iter()
            .map(|c| c.1.import_batch)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(id, new)| new.then_some(id))
    .collect();
    for (_, e) in candidates.iter().filter(|c| inserted.contains(c.0)) {
        deltas
            .at(e.occurred_at, e.user_id.0, "", "")
            .activity
            .prompts += 1;
        if let Some(s) = &e.session_id {
            sessions.of(s).activity.prompts += 1;
        }
    }
    Ok(())
}
