//! API requests: one per request id, with its tokens and cost; and the OTLP token and cost
//! counters, which stop counting for a session once it sends requests.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::{Deltas, Event, Kind, SessionDeltas, Usage};
use crate::Result;

pub(super) async fn fold_api_requests(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let requests: Vec<(&String, &Event)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::ApiRequest { request_id } => Some((request_id, *e)),
            _ => None,
        })
        .collect();
    if requests.is_empty() {
        return Ok(());
    }
    // The first report of each request in this batch is the candidate; the insert says which
    // candidates are new (one index probe each, no separate lookup).
    let mut seen: HashSet<&str> = HashSet::with_capacity(requests.len());
    let candidates: Vec<(&String, &Event, &str)> = requests
        .into_iter()
        .filter(|(id, _)| seen.insert(id.as_str()))
        .map(|(id, e)| (id, e, e.model.as_deref().unwrap_or("unknown")))
        .collect();
    let usage = |f: fn(&Usage) -> i64| -> Vec<i64> {
        candidates
            .iter()
            .map(|r| r.1.usage.as_ref().map_or(0, f))
            .collect()
    };
    let inserted: HashSet<String> = sqlx::query_as::<_, (String, bool)>(
        "INSERT INTO api_requests (request_id, session_id, user_id, model, at, import_batch,
             input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[],
             $6::uuid[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::float8[])
         -- A request an import stored and something else reports too is no longer the
         -- import's alone (its rollback must leave it); `xmax = 0` tells new rows from those.
         ON CONFLICT (request_id) DO UPDATE SET import_batch = NULL
             WHERE api_requests.import_batch IS DISTINCT FROM EXCLUDED.import_batch
               AND api_requests.import_batch IS NOT NULL
         RETURNING request_id, xmax = 0",
    )
    .bind(candidates.iter().map(|r| r.0.as_str()).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|r| r.1.session_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(candidates.iter().map(|r| r.1.user_id.0).collect::<Vec<_>>())
    .bind(candidates.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|r| r.1.occurred_at)
            .collect::<Vec<_>>(),
    )
    .bind(
        candidates
            .iter()
            .map(|r| r.1.import_batch)
            .collect::<Vec<_>>(),
    )
    .bind(usage(|u| u.input_tokens))
    .bind(usage(|u| u.output_tokens))
    .bind(usage(|u| u.cache_creation_tokens))
    .bind(usage(|u| u.cache_read_tokens))
    .bind(
        candidates
            .iter()
            .map(|r| r.1.usage.unwrap_or_default().cost_usd)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(id, new)| new.then_some(id))
    .collect();
    let mut sessions_with_requests: HashSet<String> = HashSet::new();
    for (_, e, model) in candidates.iter().filter(|r| inserted.contains(r.0)) {
        let usage = e.usage.unwrap_or_default();
        let d = deltas.at(e.occurred_at, e.user_id.0, "", model);
        d.api_requests += 1;
        d.usage.add(&usage, 1);
        if let Some(s) = &e.session_id {
            sessions_with_requests.insert(s.clone());
            let d = sessions.of(s);
            d.api_requests += 1;
            d.usage.add(&usage, 1);
        }
    }
    // Sessions that now send request events: their counters, counted so far, come out again.
    let flipping: Vec<String> = sessions_with_requests.into_iter().collect();
    let flipped = sqlx::query_scalar!(
        "UPDATE sessions SET usage_from_events = true
         WHERE id = ANY($1) AND NOT usage_from_events RETURNING id",
        &flipping
    )
    .fetch_all(&mut *conn)
    .await?;
    counter_usage(conn, &flipped, -1, deltas, sessions).await?;
    Ok(())
}

/// Adds (`sign` 1) or takes out (-1) the token and cost counters `sessions` reported, in the
/// rollups and the sessions: when a session turns out to send api_request events, its
/// counters stop counting; when a rollback takes out all its requests, they count again.
pub(crate) async fn counter_usage(
    conn: &mut PgConnection,
    sessions: &[String],
    sign: i64,
    deltas: &mut Deltas,
    session_deltas: &mut SessionDeltas,
) -> Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let counted = sqlx::query!(
        r#"SELECT session_id, bucket, model, user_id, input_tokens, output_tokens,
                  cache_creation_tokens, cache_read_tokens, cost_usd::float8 AS "cost!"
           FROM counter_usage WHERE session_id = ANY($1)"#,
        sessions
    )
    .fetch_all(&mut *conn)
    .await?;
    for c in counted {
        let usage = Usage {
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            cache_creation_tokens: c.cache_creation_tokens,
            cache_read_tokens: c.cache_read_tokens,
            cost_usd: c.cost,
        };
        deltas
            .at(c.bucket, c.user_id, "", &c.model)
            .usage
            .add(&usage, sign);
        session_deltas.of(&c.session_id).usage.add(&usage, sign);
    }
    Ok(())
}
