//! The raw rows: every event once, in `events`, whichever source sent it how often.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::Event;
use crate::Result;

pub(super) async fn insert_raw(conn: &mut PgConnection, events: &[Event]) -> Result<Vec<bool>> {
    // One statement for the whole batch; rows that already exist come back absent.
    let mut keys = Vec::with_capacity(events.len());
    let mut at = Vec::with_capacity(events.len());
    let mut kind = Vec::with_capacity(events.len());
    let mut source = Vec::with_capacity(events.len());
    let mut session = Vec::with_capacity(events.len());
    let mut user = Vec::with_capacity(events.len());
    let mut tool = Vec::with_capacity(events.len());
    let mut model = Vec::with_capacity(events.len());
    let mut success = Vec::with_capacity(events.len());
    let mut duration = Vec::with_capacity(events.len());
    let mut input = Vec::with_capacity(events.len());
    let mut output = Vec::with_capacity(events.len());
    let mut cache_creation = Vec::with_capacity(events.len());
    let mut cache_read = Vec::with_capacity(events.len());
    let mut cost = Vec::with_capacity(events.len());
    let mut added = Vec::with_capacity(events.len());
    let mut removed = Vec::with_capacity(events.len());
    let mut batch = Vec::with_capacity(events.len());
    let mut attrs = Vec::with_capacity(events.len());
    // Key order: concurrent writers then take row locks in the same order (no deadlock).
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by(|a, b| (&a.key, a.occurred_at).cmp(&(&b.key, b.occurred_at)));
    for e in ordered {
        keys.push(e.key.as_str());
        at.push(e.occurred_at);
        kind.push(e.kind.name());
        source.push(e.source.as_str());
        session.push(e.session_id.as_deref());
        user.push(e.user_id.0);
        tool.push(e.tool.as_deref());
        model.push(e.model.as_deref());
        success.push(e.success);
        duration.push(e.duration_ms);
        input.push(e.usage.map(|u| u.input_tokens));
        output.push(e.usage.map(|u| u.output_tokens));
        cache_creation.push(e.usage.map(|u| u.cache_creation_tokens));
        cache_read.push(e.usage.map(|u| u.cache_read_tokens));
        cost.push(e.usage.map(|u| u.cost_usd));
        added.push(e.lines_added);
        removed.push(e.lines_removed);
        batch.push(e.import_batch);
        // Borrowed, not copied: only a cumulative point's attributes gain its series key.
        attrs.push(match (&e.cumulative, &e.attrs) {
            (Some(c), serde_json::Value::Object(map)) => {
                let mut map = map.clone();
                map.insert("_series".into(), c.series_key.clone().into());
                std::borrow::Cow::Owned(serde_json::Value::Object(map))
            }
            (_, a) => std::borrow::Cow::Borrowed(a),
        });
    }
    let attrs: Vec<sqlx::types::Json<&serde_json::Value>> = attrs
        .iter()
        .map(|a| sqlx::types::Json(a.as_ref()))
        .collect();
    let inserted = sqlx::query(
        "INSERT INTO events (key, occurred_at, kind, source, session_id, user_id, tool, model,
             success, duration_ms, input_tokens, output_tokens, cache_creation_tokens,
             cache_read_tokens, cost_usd, lines_added, lines_removed, import_batch, attrs)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
             $6::uuid[], $7::text[], $8::text[], $9::bool[], $10::int8[], $11::int8[],
             $12::int8[], $13::int8[], $14::int8[], $15::float8[], $16::int8[], $17::int8[],
             $18::uuid[], $19::jsonb[])
         ON CONFLICT DO NOTHING
         RETURNING key, occurred_at",
    )
    .bind(&keys)
    .bind(&at)
    .bind(&kind)
    .bind(&source)
    .bind(&session)
    .bind(&user)
    .bind(&tool)
    .bind(&model)
    .bind(&success)
    .bind(&duration)
    .bind(&input)
    .bind(&output)
    .bind(&cache_creation)
    .bind(&cache_read)
    .bind(&cost)
    .bind(&added)
    .bind(&removed)
    .bind(&batch)
    .bind(&attrs)
    .fetch_all(&mut *conn)
    .await?;
    let mut stored: HashSet<(String, DateTime<Utc>)> = inserted
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<DateTime<Utc>, _>(1)))
        .collect();
    // A key repeated inside one batch is new once.
    Ok(events
        .iter()
        .map(|e| stored.remove(&(e.key.clone(), e.occurred_at)))
        .collect())
}

/// Takes out the raw rows of events this write stored and then refused (see `owners`): a
/// refused event leaves nothing behind, and sending it again is refused again.
pub(super) async fn delete_raw(conn: &mut PgConnection, events: &[&Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM events e USING UNNEST($1::text[], $2::timestamptz[]) AS r(key, at)
         WHERE e.key = r.key AND e.occurred_at = r.at",
    )
    .bind(events.iter().map(|e| e.key.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
