//! The rules that keep every workspace schema movable to a Citus worker as a distributed
//! schema (docs/scaling.md), checked in the catalog of a database with two workspaces: a
//! schema that breaks one cannot be distributed, or its queries cannot be routed.

use sqlx::PgPool;

use crate::common::{seed_two_tenants, TestServer};

/// The workspace schemas, as the registry names them.
async fn tenant_schemas(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT schema_name FROM tenants ORDER BY schema_name")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Objects in a workspace schema (`$1`) that depend on an object of another of our schemas.
/// A default, a view's rule, a trigger or a policy has no schema of its own: it is its
/// table's.
const OUTSIDE: &str = r#"
    WITH deps AS (
        SELECT d.*,
               CASE d.classid
                   WHEN 'pg_attrdef'::regclass THEN
                       (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
                        WHERE a.oid = d.objid)
                   WHEN 'pg_rewrite'::regclass THEN
                       (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                        WHERE r.oid = d.objid)
                   WHEN 'pg_trigger'::regclass THEN
                       (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                        WHERE t.oid = d.objid)
                   WHEN 'pg_policy'::regclass THEN
                       (SELECT c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                        WHERE p.oid = d.objid)
                   ELSE (SELECT n.oid FROM pg_identify_object(d.classid, d.objid, d.objsubid) o
                         JOIN pg_namespace n ON n.nspname = o.schema)
               END AS dep_ns,
               (SELECT n.oid FROM pg_identify_object(d.refclassid, d.refobjid, d.refobjsubid) o
                JOIN pg_namespace n ON n.nspname = o.schema) AS ref_ns
        FROM pg_depend d
    )
    SELECT DISTINCT format('%s in %s depends on %s in %s',
               pg_describe_object(classid, objid, objsubid), dep_ns::regnamespace,
               pg_describe_object(refclassid, refobjid, refobjsubid), ref_ns::regnamespace)
    FROM deps
    WHERE dep_ns::regnamespace::text = ANY($1) AND ref_ns <> dep_ns
      AND ref_ns::regnamespace::text NOT IN ('pg_catalog', 'information_schema')"#;

/// Rows `sql` finds; each is a rule broken, described.
async fn offences(pool: &PgPool, sql: &str, schemas: &[String]) -> Vec<String> {
    sqlx::query_scalar(sql)
        .bind(schemas)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn workspace_schemas_keep_to_what_a_distributed_schema_allows() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let pool = server.db.store.pool().clone();
    let schemas = tenant_schemas(&pool).await;
    assert_eq!(schemas.len(), 2, "two workspaces to compare");

    // A distributed schema's tables live on one worker; a foreign key may point only within
    // the schema (or at a reference table, of which we have none).
    let crossing = offences(
        &pool,
        r#"SELECT format('%s references %s (%s)', c.conrelid::regclass, c.confrelid::regclass,
                         c.conname)
           FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid
           JOIN pg_class r ON r.oid = c.confrelid
           WHERE c.contype = 'f' AND t.relnamespace <> r.relnamespace
             AND (t.relnamespace::regnamespace::text = ANY($1)
                  OR r.relnamespace::regnamespace::text = ANY($1))"#,
        &schemas,
    )
    .await;
    assert!(
        crossing.is_empty(),
        "foreign keys across schemas: {crossing:?}"
    );

    // Nothing in a workspace schema may depend on another schema of ours (a default calling
    // a registry function, a view over registry tables, a registry type): the worker holding
    // the schema has none of them. PostgreSQL's own catalog is on every node. First the check
    // is shown to catch each kind, on objects made to offend and rolled back.
    let mut tx = pool.begin().await.unwrap();
    let schema = &schemas[0];
    for offence in [
        "CREATE FUNCTION public.scaling_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'".to_string(),
        format!("CREATE TABLE {schema}.probe_default (n int DEFAULT public.scaling_probe())"),
        format!("CREATE VIEW {schema}.probe_view AS SELECT slug FROM public.tenants"),
        "CREATE TYPE public.probe_mood AS ENUM ('calm')".to_string(),
        format!("CREATE TABLE {schema}.probe_type (m public.probe_mood)"),
    ] {
        sqlx::query(&offence).execute(&mut *tx).await.unwrap();
    }
    let caught: Vec<String> = sqlx::query_scalar(OUTSIDE)
        .bind(&schemas)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    for probe in ["probe_default", "probe_view", "probe_type"] {
        assert!(
            caught.iter().any(|c| c.contains(probe)),
            "{probe} not caught: {caught:?}"
        );
    }
    tx.rollback().await.unwrap();
    let depends = offences(&pool, OUTSIDE, &schemas).await;
    assert!(
        depends.is_empty(),
        "workspace objects outside their schema: {depends:?}"
    );

    // Citus distributes one level of declarative partitioning, and no other inheritance.
    let inheritance = offences(
        &pool,
        r#"SELECT format('%s inherits %s', i.inhrelid::regclass, i.inhparent::regclass)
           FROM pg_inherits i
           JOIN pg_class child ON child.oid = i.inhrelid
           JOIN pg_class parent ON parent.oid = i.inhparent
           WHERE child.relnamespace::regnamespace::text = ANY($1)
             AND child.relkind IN ('r', 'p')
             AND (parent.relkind <> 'p' OR child.relkind = 'p' OR NOT child.relispartition)"#,
        &schemas,
    )
    .await;
    assert!(
        inheritance.is_empty(),
        "beyond one level of partitioning: {inheritance:?}"
    );

    // Sequences on workers hand out node-prefixed values, which only fit a bigint.
    let narrow = offences(
        &pool,
        r#"SELECT format('%s.%s is %s', a.attrelid::regclass, a.attname,
                         format_type(a.atttypid, a.atttypmod))
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE c.relnamespace::regnamespace::text = ANY($1) AND c.relkind IN ('r', 'p')
             AND a.attnum > 0 AND NOT a.attisdropped
             AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')
             AND a.atttypid <> 'bigint'::regtype"#,
        &schemas,
    )
    .await;
    assert!(
        narrow.is_empty(),
        "generated keys narrower than bigint: {narrow:?}"
    );

    // Every workspace schema has the same tables: migrations never differ per tenant, so one
    // set of steps distributes them all.
    let shapes: Vec<(String, i64)> = sqlx::query_as(
        r#"SELECT n.nspname::text, count(c.oid)
           FROM pg_namespace n LEFT JOIN pg_class c
             ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           WHERE n.nspname = ANY($1) GROUP BY n.nspname"#,
    )
    .bind(&schemas)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        shapes.windows(2).all(|w| w[0].1 == w[1].1) && shapes[0].1 > 0,
        "workspace schemas differ: {shapes:?}"
    );

    // A workspace's role reaches its own schema and nothing of another workspace's, so no
    // query in its transactions can join two workspaces (which Citus could not route).
    let reach = offences(
        &pool,
        r#"SELECT format('%s may use schema %s', t.role_name, n.nspname)
           FROM tenants t CROSS JOIN pg_namespace n
           WHERE n.nspname = ANY($1) AND n.nspname <> t.schema_name
             AND has_schema_privilege(t.role_name, n.oid, 'USAGE')"#,
        &schemas,
    )
    .await;
    assert!(reach.is_empty(), "{reach:?}");
    server.shutdown().await;
}
