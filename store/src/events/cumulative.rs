//! Cumulative OTLP counters: each point becomes its increase over the series' last one.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::Event;
use crate::Result;

/// Replaces each cumulative data point's value by its increase since the series' last point
/// (the whole value after a reset or for a series never seen).
pub(super) async fn cumulative_to_delta(
    conn: &mut PgConnection,
    events: &mut [&mut Event],
) -> Result<()> {
    let keys: Vec<String> = events
        .iter()
        .filter_map(|e| e.cumulative.as_ref().map(|c| c.series_key.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut last: HashMap<String, (DateTime<Utc>, DateTime<Utc>, f64)> = sqlx::query!(
        "SELECT series_key, start_at, last_at, last_value FROM metric_series
         WHERE series_key = ANY($1) FOR UPDATE",
        &keys
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.series_key, (r.start_at, r.last_at, r.last_value)))
    .collect();
    for e in events.iter_mut() {
        let Some(reported) = e.cumulative.as_ref().map(|c| c.reported) else {
            continue;
        };
        let value = reported.unwrap_or_else(|| cumulative_value(e));
        let Some(c) = e.cumulative.as_mut() else {
            continue;
        };
        c.reported = Some(value);
        let c = c.clone();
        let previous = last.get(&c.series_key).copied();
        let delta = match previous {
            // An older point arriving late changes nothing.
            Some((start, at, _)) if start == c.start_at && e.occurred_at <= at => 0.0,
            Some((start, _, v)) if start == c.start_at && value >= v => value - v,
            _ => value,
        };
        if previous.is_none_or(|(start, at, _)| start != c.start_at || e.occurred_at > at) {
            last.insert(c.series_key.clone(), (c.start_at, e.occurred_at, value));
        }
        set_cumulative_value(e, delta);
    }
    let mut k = Vec::with_capacity(last.len());
    let mut s = Vec::with_capacity(last.len());
    let mut a = Vec::with_capacity(last.len());
    let mut v = Vec::with_capacity(last.len());
    for (key, (start, at, value)) in last {
        k.push(key);
        s.push(start);
        a.push(at);
        v.push(value);
    }
    sqlx::query!(
        "INSERT INTO metric_series (series_key, start_at, last_at, last_value)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::float8[])
         ON CONFLICT (series_key) DO UPDATE
         SET start_at = EXCLUDED.start_at, last_at = EXCLUDED.last_at, last_value = EXCLUDED.last_value",
        &k,
        &s,
        &a,
        &v
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The one number a counter data point carries, wherever it sits.
fn cumulative_value(e: &Event) -> f64 {
    if let Some(u) = e.usage {
        return (u.input_tokens + u.output_tokens + u.cache_creation_tokens + u.cache_read_tokens)
            as f64
            + u.cost_usd;
    }
    e.lines_added.or(e.lines_removed).or(e.count).unwrap_or(0) as f64
}

fn set_cumulative_value(e: &mut Event, v: f64) {
    if let Some(u) = &mut e.usage {
        if u.cost_usd != 0.0 {
            u.cost_usd = v;
        } else if u.input_tokens != 0 {
            u.input_tokens = v as i64;
        } else if u.output_tokens != 0 {
            u.output_tokens = v as i64;
        } else if u.cache_creation_tokens != 0 {
            u.cache_creation_tokens = v as i64;
        } else if u.cache_read_tokens != 0 {
            u.cache_read_tokens = v as i64;
        }
    } else if e.lines_added.is_some() {
        e.lines_added = Some(v as i64);
    } else if e.lines_removed.is_some() {
        e.lines_removed = Some(v as i64);
    } else if e.count.is_some() {
        e.count = Some(v as i64);
    }
}
