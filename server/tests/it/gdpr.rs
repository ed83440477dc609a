//! GDPR through the server: an export holds every row about the person (counted against the
//! database, column by column, whatever names them); an erasure leaves no e-mail, name or key
//! of theirs in any text of the workspace's schema, keeps the totals under pseudonymisation
//! and takes exactly the person's share out under deletion; another workspace's people are
//! not found.

use std::{collections::BTreeMap, io::Read, time::Duration};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{
    call, client,
    fixtures::{summary, totals_of},
    login, other_tenant, seed_two_tenants, user_id, TestServer,
};

struct Person {
    id: String,
    key: String,
}

/// A developer with a distinctive name, an API key, and activity that names them in free text.
async fn person(server: &TestServer, admin: &str, email: &str, name: &str) -> Person {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/v1/users",
        Some(admin),
        Some(json!({ "email": email, "name": name, "role": "developer", "password": "person-password-123" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = user_id(server, admin, email).await;
    let token = login(server, "demo", email, "person-password-123").await;
    let (status, key) = call(
        server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&token),
        Some(json!({ "name": format!("{name}'s laptop"), "scopes": ["ingest", "read"] })),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_string();
    // A second key: erasure must cope with several (their prefixes are unique).
    let (status, _) = call(
        server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&token),
        Some(json!({ "name": "spare", "scopes": ["ingest"] })),
    )
    .await;
    assert_eq!(status, 201);
    let session = format!("s-{id}");
    for (i, body) in [
        json!({ "hook_event_name": "SessionStart", "source": "startup", "cwd": format!("/Users/{name}/app") }),
        json!({ "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": format!("t-{id}"),
                "tool_input": { "command": format!("cd /src\timport && git config user.email {email}") } }),
        json!({ "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": format!("t-{id}"),
                "tool_input": { "command": "true" } }),
        json!({ "hook_event_name": "UserPromptSubmit", "prompt": "hello" }),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = body;
        body["session_id"] = json!(session);
        body["_at"] = json!(format!("2026-11-20T10:00:0{i}Z"));
        let r = client()
            .post(server.url("/api/v1/hooks/claude-code"))
            .header("x-api-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    Person { id, key }
}

pub(crate) async fn wait_done(server: &TestServer, admin: &str, request: &str) -> Value {
    for _ in 0..300 {
        let (_, list) = call(
            server,
            Method::GET,
            "/api/v1/gdpr/requests",
            Some(admin),
            None,
        )
        .await;
        let r = list
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == request)
            .cloned()
            .unwrap();
        if r["state"] == "done" || r["state"] == "failed" {
            assert_eq!(r["state"], "done", "{r}");
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jobs: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT kind, state, last_error FROM jobs ORDER BY id")
            .fetch_all(server.db.store.pool())
            .await
            .unwrap();
    panic!("request {request} did not finish: {jobs:?}");
}

/// The (table, column) pairs of the demo workspace's tables whose column has one of `types`,
/// read from the catalog here, independently of the server's own lists.
async fn columns(server: &TestServer, types: &str) -> Vec<(String, String)> {
    sqlx::query_as(&format!(
        "SELECT c.relname::text, a.attname::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname = 'tenant_demo' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid IN ({types})"
    ))
    .fetch_all(server.db.store.pool())
    .await
    .unwrap()
}

/// How many rows of each (table, column) match `condition` (with `$1` bound to `value`),
/// leaving out those with none.
async fn counts_where(
    server: &TestServer,
    columns: Vec<(String, String)>,
    condition: &str,
    value: &str,
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (table, column) in columns {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM tenant_demo.\"{table}\" WHERE \"{column}\"{condition}"
        ))
        .bind(value)
        .fetch_one(server.db.store.pool())
        .await
        .unwrap();
        if n > 0 {
            out.insert(format!("{table}.{column}"), n);
        }
    }
    out
}

/// Every (table, column) of the schema holding `id` in a uuid column, with its row count.
async fn rows_naming(server: &TestServer, id: &str) -> BTreeMap<String, i64> {
    let uuids = columns(server, "'uuid'::regtype").await;
    counts_where(server, uuids, " = $1::uuid", id).await
}

/// Where any text of the workspace's schema contains `needle` (case-insensitive): every
/// text, varchar, jsonb and text[] column of every table.
async fn found_anywhere(server: &TestServer, needle: &str) -> Vec<String> {
    let texts = columns(
        server,
        "'text'::regtype, 'varchar'::regtype, 'jsonb'::regtype, 'json'::regtype, \
         'text[]'::regtype, 'bpchar'::regtype",
    )
    .await;
    assert!(
        texts.len() > 50,
        "the walk sees the schema: {}",
        texts.len()
    );
    counts_where(server, texts, "::text ILIKE '%' || $1 || '%'", needle)
        .await
        .into_iter()
        .map(|(column, n)| format!("{column} ({n})"))
        .collect()
}

#[tokio::test]
async fn an_export_holds_every_row_about_the_person_and_nothing_secret() {
    let server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let zelda = person(&server, &admin, "zelda@demo.test", "Zelda Quist").await;
    // Things others did about her: a team place, a role change.
    let (_, team) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Quist's team" })),
    )
    .await;
    let team = team["id"].as_str().unwrap();
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/teams/{team}/members/{}", zelda.id),
        Some(&admin),
        Some(json!({ "is_manager": false })),
    )
    .await;
    assert!(status.is_success());

    let (status, r) = call(
        &server,
        Method::POST,
        &format!("/api/v1/users/{}/export", zelda.id),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let request = r["request"].as_str().unwrap().to_string();
    let done = wait_done(&server, &admin, &request).await;
    assert!(done["archive_bytes"].as_i64().unwrap() > 0, "{done}");

    let r = client()
        .get(server.url(&format!("/api/v1/gdpr/requests/{request}/archive")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/gzip");
    let gz = r.bytes().await.unwrap();
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        files.insert(
            name.trim_start_matches("devpulse-export/").to_string(),
            body,
        );
    }
    let lines = |name: &str| files.get(name).map_or(0, |b| b.lines().count() as i64);

    // Every column anywhere that names her, row for row (her own `users` row is the profile;
    // the audit log is its own file, by actor or target).
    let expected = rows_naming(&server, &zelda.id).await;
    assert!(expected.contains_key("events.user_id"), "{expected:?}");
    assert!(
        expected.contains_key("team_members.user_id"),
        "{expected:?}"
    );
    for (column, n) in &expected {
        match column.as_str() {
            "users.id" => assert_eq!(lines("profile.json"), 1),
            "audit_log.actor_id" => {}
            other => assert_eq!(
                lines(&format!("{other}.ndjson")),
                *n,
                "{other} in {:?}",
                files.keys()
            ),
        }
    }
    let audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tenant_demo.audit_log
         WHERE (actor_id = $1::uuid OR target = $1) AND action <> 'gdpr.export_downloaded'",
    )
    .bind(&zelda.id)
    .fetch_one(server.db.store.pool())
    .await
    .unwrap();
    assert!(audit >= 3, "{audit}");
    assert_eq!(lines("audit_log.ndjson"), audit);
    assert!(files["README.md"].contains("zelda@demo.test"));
    let everything = files.values().cloned().collect::<String>();
    assert!(everything.contains("git config user.email zelda@demo.test"));
    for secret in ["password_hash", "key_hash", "token_hash", "\"secret\""] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked into the export"
        );
    }
    assert!(
        !everything.contains(&zelda.key),
        "the key itself is never stored, let alone exported"
    );

    // Another workspace's admin finds neither the person nor the archive.
    let other = other_tenant(&server).await;
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/v1/users/{}/export", zelda.id),
        Some(&other.admin),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("/api/v1/gdpr/requests/{request}/archive"),
        Some(&other.admin),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // Downloads are in the log.
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=gdpr.",
        Some(&admin),
        None,
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["gdpr.export_downloaded", "gdpr.export_requested"]);
    crate::common::assert_actions_listed(&server).await;
}

#[tokio::test]
async fn erasure_leaves_no_trace_of_who_they_were_and_keeps_or_removes_their_share() {
    let server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let zelda = person(&server, &admin, "zelda@demo.test", "Zelda Quist").await;
    let yuri = person(&server, &admin, "yuri@demo.test", "Yuri Vantongeren").await;
    let keep = person(&server, &admin, "xena@demo.test", "Xena Keeps").await;
    // `dpk_<workspace>_<prefix>_<secret>`: the prefix is what is stored and shown.
    let prefix = |key: &str| key.split('_').nth(2).unwrap().to_string();
    assert!(!found_anywhere(&server, &prefix(&zelda.key))
        .await
        .is_empty());
    // Others' words that merely resemble her name stay; an e-mail waits for her.
    let (_, team) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Zeldas and Quistians" })),
    )
    .await;
    let team = team["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/v1/users/{}/password-link", zelda.id),
        Some(&admin),
        None,
    )
    .await;
    assert!(status.is_success(), "{status}");
    // An admin's own record of her: invited-style details that carry her address.
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/users/{}/role", zelda.id),
        Some(&admin),
        Some(json!({ "role": "manager" })),
    )
    .await;
    assert!(status.is_success());
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/users/{}/role", zelda.id),
        Some(&admin),
        Some(json!({ "role": "developer" })),
    )
    .await;
    assert!(status.is_success());
    assert!(!found_anywhere(&server, "zelda@demo.test").await.is_empty());
    let before = summary(&server, &admin).await;

    // Refusals, by field: the address typed wrong, a mode that does not exist, oneself, and
    // another workspace's person (not found).
    let erase = |id: &str| format!("/api/v1/users/{id}/erase");
    for (body, pointer) in [
        (
            json!({ "mode": "pseudonymise", "confirm": "someone@demo.test" }),
            "/confirm",
        ),
        (
            json!({ "mode": "shred", "confirm": "zelda@demo.test" }),
            "/mode",
        ),
    ] {
        let (status, p) = call(
            &server,
            Method::POST,
            &erase(&zelda.id),
            Some(&admin),
            Some(body),
        )
        .await;
        assert_eq!(status, 422, "{p}");
        assert_eq!(p["errors"][0]["pointer"], pointer, "{p}");
    }
    let (_, me) = call(&server, Method::GET, "/api/v1/profile", Some(&admin), None).await;
    let (status, _) = call(
        &server,
        Method::POST,
        &erase(me["id"].as_str().unwrap()),
        Some(&admin),
        Some(json!({ "mode": "delete", "confirm": "admin@demo.test" })),
    )
    .await;
    assert_eq!(status, 422);
    let other = other_tenant(&server).await;
    let (status, _) = call(
        &server,
        Method::POST,
        &erase(&zelda.id),
        Some(&other.admin),
        Some(json!({ "mode": "delete", "confirm": "zelda@demo.test" })),
    )
    .await;
    assert_eq!(status, 404);

    // Pseudonymised: nothing says who she was, and the workspace's totals stand.
    let (status, r) = call(
        &server,
        Method::POST,
        &erase(&zelda.id),
        Some(&admin),
        Some(json!({ "mode": "pseudonymise", "confirm": "Zelda@demo.test" })),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    wait_done(&server, &admin, r["request"].as_str().unwrap()).await;
    for needle in ["zelda@demo.test", "Zelda Quist", &prefix(&zelda.key)] {
        assert_eq!(
            found_anywhere(&server, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    let r = client()
        .post(server.url("/api/v1/hooks/claude-code"))
        .header("x-api-key", &zelda.key)
        .json(&json!({ "session_id": "after", "hook_event_name": "Stop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "her key no longer works");
    let (_, kept) = call(
        &server,
        Method::GET,
        &format!("/api/v1/teams/{team}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(kept["name"], "Zeldas and Quistians", "{kept}");
    let emails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tenant_demo.emails WHERE to_address LIKE '%zelda%' OR to_address = '[erased]'",
    )
    .fetch_one(server.db.store.pool())
    .await
    .unwrap();
    assert_eq!(emails, 0, "the e-mail to her went with her address");
    let after = summary(&server, &admin).await;
    assert_eq!(after["total"], before["total"], "totals unchanged");
    let (_, people) = call(&server, Method::GET, "/api/v1/users", Some(&admin), None).await;
    assert!(!people.to_string().contains(&zelda.id), "{people}");
    let (_, log) = call(
        &server,
        Method::GET,
        &format!("/api/v1/audit?target={}", zelda.id),
        Some(&admin),
        None,
    )
    .await;
    let erased = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user.erased")
        .expect("the entry that stays");
    assert_eq!(erased["details"]["mode"], "pseudonymise");

    // Deleted: his share of every total goes, exactly; everyone else's stays.
    let his = totals_of(&before, "yuri@demo.test").clone();
    let (status, r) = call(
        &server,
        Method::POST,
        &erase(&yuri.id),
        Some(&admin),
        Some(json!({ "mode": "delete", "confirm": "yuri@demo.test" })),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let done = wait_done(&server, &admin, r["request"].as_str().unwrap()).await;
    assert!(
        done["counts"]["deleted:events"].as_i64().unwrap() >= 4,
        "{done}"
    );
    for needle in ["yuri@demo.test", "Yuri Vantongeren", &prefix(&yuri.key)] {
        assert_eq!(
            found_anywhere(&server, needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    for table in ["events", "rollups", "person_rollups"] {
        let rows: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM tenant_demo.{table} WHERE user_id = $1::uuid"
        ))
        .bind(&yuri.id)
        .fetch_one(server.db.store.pool())
        .await
        .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    let last = summary(&server, &admin).await;
    for field in ["sessions", "tool_executions", "prompts"] {
        let (b, h, a) = (&before["total"][field], &his[field], &last["total"][field]);
        assert_eq!(
            a.as_i64().unwrap(),
            b.as_i64().unwrap() - h.as_i64().unwrap(),
            "{field}"
        );
    }
    assert_eq!(
        totals_of(&last, "xena@demo.test"),
        totals_of(&before, "xena@demo.test")
    );
    assert!(
        !found_anywhere(&server, "xena@demo.test").await.is_empty(),
        "others untouched"
    );
    let _ = keep.key;
}
