//! Counters: lines, API errors, Claude Code's other counters, and the OTLP token and cost
//! counters (kept per session so they can come out again).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Deltas, Event, Kind, SessionDeltas, Usage};
use crate::Result;

pub(super) async fn fold_counters(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let counters: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| {
            matches!(
                e.kind,
                Kind::UsageCounter | Kind::LinesCounter | Kind::ApiError | Kind::Counter(_)
            )
        })
        .collect();
    if counters.is_empty() {
        return Ok(());
    }
    let with_usage: Vec<String> = counters
        .iter()
        .filter(|e| e.kind == Kind::UsageCounter)
        .filter_map(|e| e.session_id.clone())
        .collect();
    let from_events: HashSet<String> = if with_usage.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar!(
            "SELECT id FROM sessions WHERE id = ANY($1) AND usage_from_events",
            &with_usage
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect()
    };
    // Usage is also kept per session, minute and model, so it can come out of the rollups
    // again if the session turns out to send api_request events too.
    let mut usage: HashMap<(&str, DateTime<Utc>, String), (Uuid, Usage)> = HashMap::new();
    for e in counters {
        let session = e.session_id.as_deref();
        match e.kind {
            Kind::LinesCounter => {
                let (added, removed) = (e.lines_added.unwrap_or(0), e.lines_removed.unwrap_or(0));
                let d = deltas.at(e.occurred_at, e.user_id.0, "", "");
                d.lines_added += added;
                d.lines_removed += removed;
                if let Some(s) = session {
                    let d = sessions.of(s);
                    d.lines_added += added;
                    d.lines_removed += removed;
                }
            }
            Kind::ApiError => {
                let model = e.model.as_deref().unwrap_or("");
                deltas
                    .at(e.occurred_at, e.user_id.0, "", model)
                    .activity
                    .api_errors += 1;
                if let Some(s) = session {
                    sessions.of(s).activity.api_errors += 1;
                }
            }
            Kind::Counter(c) => {
                let n = e.count.unwrap_or(0);
                let tool = e.tool.as_deref().unwrap_or("");
                *c.of(&mut deltas.at(e.occurred_at, e.user_id.0, tool, "").activity) += n;
                if let Some(s) = session {
                    *c.of(&mut sessions.of(s).activity) += n;
                }
            }
            Kind::UsageCounter => {
                let u = e.usage.unwrap_or_default();
                let model = e.model.clone().unwrap_or_else(|| "unknown".into());
                let counted = match session {
                    None => true,
                    Some(session) => {
                        let minute = e
                            .occurred_at
                            .duration_trunc(TimeDelta::minutes(1))
                            .unwrap_or(e.occurred_at);
                        usage
                            .entry((session, minute, model.clone()))
                            .or_insert_with(|| (e.user_id.0, Usage::default()))
                            .1
                            .add(&u, 1);
                        !from_events.contains(session)
                    }
                };
                if counted {
                    deltas
                        .at(e.occurred_at, e.user_id.0, "", &model)
                        .usage
                        .add(&u, 1);
                    if let Some(s) = session {
                        sessions.of(s).usage.add(&u, 1);
                    }
                }
            }
            _ => {}
        }
    }
    if !usage.is_empty() {
        let rows: Vec<_> = usage.into_iter().collect();
        let col = |f: fn(&Usage) -> i64| rows.iter().map(|r| f(&r.1 .1)).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO counter_usage (session_id, bucket, model, user_id, input_tokens,
                 output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd)
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::uuid[],
                 $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::float8[])
             ON CONFLICT (session_id, bucket, model) DO UPDATE SET
                 input_tokens = counter_usage.input_tokens + EXCLUDED.input_tokens,
                 output_tokens = counter_usage.output_tokens + EXCLUDED.output_tokens,
                 cache_creation_tokens = counter_usage.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
                 cache_read_tokens = counter_usage.cache_read_tokens + EXCLUDED.cache_read_tokens,
                 cost_usd = counter_usage.cost_usd + EXCLUDED.cost_usd",
        )
        .bind(rows.iter().map(|r| r.0 .0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0 .1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0 .2.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1 .0).collect::<Vec<_>>())
        .bind(col(|u| u.input_tokens))
        .bind(col(|u| u.output_tokens))
        .bind(col(|u| u.cache_creation_tokens))
        .bind(col(|u| u.cache_read_tokens))
        .bind(rows.iter().map(|r| r.1 .1.cost_usd).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
