//! The monthly partitions of `events`.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sqlx::PgConnection;

use crate::Result;

/// A month as a number (`year * 12 + month - 1`), the unit of `events` partitions.
pub fn month_index(t: DateTime<Utc>) -> i32 {
    t.year() * 12 + t.month0() as i32
}

/// The first instant of a [`month_index`].
pub(crate) fn month_start(month: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(
        month.div_euclid(12),
        month.rem_euclid(12) as u32 + 1,
        1,
        0,
        0,
        0,
    )
    .single()
    .expect("first of month")
}

/// Creates the monthly partitions of `events` from last month to `ahead` months ahead, and
/// one for every month whose events sit in the default partition (history imported before
/// its month had a partition). Run by the migration role (the tenant role may not create
/// tables) at start-up and hourly.
pub async fn ensure_partitions(conn: &mut PgConnection, schema: &str, ahead: u32) -> Result<()> {
    crate::ident::check(schema, "schema")?;
    let now = month_index(Utc::now());
    let stranded: Vec<i32> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT (extract(year FROM occurred_at AT TIME ZONE 'UTC') * 12
                          + extract(month FROM occurred_at AT TIME ZONE 'UTC') - 1)::int4
         FROM {}.events_default",
        crate::ident::quote(schema)
    ))
    .fetch_all(&mut *conn)
    .await?;
    for month in (now - 1..=now + ahead as i32).chain(stranded) {
        create_month(conn, schema, month).await?;
    }
    Ok(())
}

/// Makes sure `month` has its partition, in a transaction of its own (the writer calls it
/// before writing events of a month it has not seen).
pub async fn ensure_month(pool: &sqlx::PgPool, schema: &str, month: i32) -> Result<()> {
    crate::ident::check(schema, "schema")?;
    let mut tx = pool.begin().await?;
    create_month(&mut tx, schema, month).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the partition of `month` unless it exists, moving in the rows that the default
/// partition holds for it (PostgreSQL refuses to create a partition whose rows sit in the
/// default one). Takes the caller's transaction; `schema` is checked by the caller.
async fn create_month(conn: &mut PgConnection, schema: &str, month: i32) -> Result<()> {
    let (from, to) = (month_start(month), month_start(month + 1));
    let name = format!("events_{}", from.format("%Y%m"));
    // One creator at a time per tenant; the others then find the partition made.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), 2)")
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2)",
    )
    .bind(schema)
    .bind(&name)
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        return Ok(());
    }
    let q = crate::ident::quote(schema);
    let range = format!(
        "occurred_at >= '{}' AND occurred_at < '{}'",
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    // Creating a partition takes the parent, then the default partition: lock them in that
    // order (as every statement on `events` does) up front, so no row of the month slips in
    // between and no one waits on us in the opposite order. Rare and short: the move finds
    // nothing unless an older version stranded rows.
    for statement in [
        format!("LOCK TABLE {q}.events IN ACCESS EXCLUSIVE MODE"),
        format!("CREATE TEMP TABLE devpulse_moving (LIKE {q}.events) ON COMMIT DROP"),
        format!(
            "WITH moved AS (DELETE FROM {q}.events_default WHERE {range} RETURNING *)
             INSERT INTO devpulse_moving SELECT * FROM moved"
        ),
        format!(
            "CREATE TABLE {q}.{name} PARTITION OF {q}.events FOR VALUES FROM ('{}') TO ('{}')",
            from.to_rfc3339(),
            to.to_rfc3339()
        ),
        format!("INSERT INTO {q}.events SELECT * FROM devpulse_moving"),
        "DROP TABLE devpulse_moving".to_string(),
    ] {
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
    Ok(())
}
