//! A workspace's usage, read in its own transaction: activity per day from the day rollups,
//! storage from the catalog, refusals the write path counted, and its keys' last use.

use chrono::NaiveDate;
use sqlx::PgConnection;
use types::usage::{Day, KeyUse, Rejection, Table, Usage};

use crate::Result;

/// Adds `count` refusals for `reason` to today's (UTC) row.
pub async fn add_rejections(conn: &mut PgConnection, reason: &str, count: i64) -> Result<()> {
    sqlx::query!(
        "INSERT INTO ingest_rejections (day, reason, count)
         VALUES ((now() AT TIME ZONE 'UTC')::date, $1, $2)
         ON CONFLICT (day, reason) DO UPDATE SET count = ingest_rejections.count + $2",
        reason,
        count
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The last `days` days of the workspace whose transaction `conn` is.
pub async fn read(conn: &mut PgConnection, days: i64) -> Result<Usage> {
    let daily = sqlx::query!(
        r#"SELECT bucket AS "bucket!",
                  count(DISTINCT user_id) FILTER (
                      WHERE sessions + tool_executions + api_requests > 0) AS "people!",
                  sum(sessions)::bigint AS "sessions!",
                  sum(tool_executions)::bigint AS "tool_runs!",
                  sum(api_requests)::bigint AS "api_requests!",
                  sum(cost_usd)::float8 AS "cost!"
           FROM rollups
           WHERE grain = 'd' AND bucket >= now() - make_interval(days => $1::int)
           GROUP BY bucket ORDER BY bucket DESC"#,
        days as i32
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Day {
        day: r.bucket.date_naive(),
        people: r.people,
        sessions: r.sessions,
        tool_runs: r.tool_runs,
        api_requests: r.api_requests,
        cost_usd: r.cost,
    })
    .collect();
    // Partitions count under their table.
    let storage = sqlx::query!(
        r#"SELECT coalesce(p.relname, c.relname)::text AS "table!",
                  sum(pg_total_relation_size(c.oid))::bigint AS "bytes!"
           FROM pg_class c
           LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
           LEFT JOIN pg_class p ON p.oid = i.inhparent
           WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
           GROUP BY 1 ORDER BY 2 DESC, 1"#
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Table {
        table: r.table,
        bytes: r.bytes,
    })
    .collect();
    // The statistics' live row counts: kept as rows are written, where the planner's
    // estimate waits for the next ANALYZE.
    let events_estimate = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(s.n_live_tup), 0)::bigint AS "n!"
           FROM pg_stat_user_tables s
           JOIN pg_inherits i ON i.inhrelid = s.relid
           JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname = 'events' AND p.relnamespace = current_schema()::regnamespace"#
    )
    .fetch_one(&mut *conn)
    .await?;
    let since: NaiveDate = (chrono::Utc::now() - chrono::TimeDelta::days(days)).date_naive();
    let rejections = sqlx::query_as!(
        Rejection,
        r#"SELECT day, reason, count FROM ingest_rejections
           WHERE day >= $1 ORDER BY day DESC, count DESC, reason"#,
        since
    )
    .fetch_all(&mut *conn)
    .await?;
    let keys = sqlx::query_as!(
        KeyUse,
        r#"SELECT k.name, k.prefix, u.email AS "owner?", k.scopes, k.created_at,
                  k.last_used_at, k.expires_at, k.revoked_at
           FROM api_keys k LEFT JOIN users u ON u.id = k.user_id AND u.erased_at IS NULL
           ORDER BY k.last_used_at DESC NULLS LAST, k.created_at DESC LIMIT 100"#
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Usage {
        days: daily,
        events_estimate,
        storage,
        rejections,
        keys,
    })
}
