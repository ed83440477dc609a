//! The installation's console through the API: every workspace with its people, events,
//! storage and last activity; the health of what an instance depends on; renaming and
//! creating workspaces with an e-mailed invitation. Tenant roles see none of it.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{call, client, login, seed_two_tenants, server_fn, TestServer};

fn tenant<'a>(list: &'a Value, slug: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} not listed: {list}"))
}

async fn scalar(server: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(server.db.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_workspace_is_listed_with_its_people_events_storage_and_last_activity() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    // Their home is this page: the dashboard (no workspace's numbers are theirs, nor its
    // live feed) sends them here.
    let home = client()
        .get(server.url("/"))
        .bearer_auth(&root)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 302);
    assert_eq!(home.headers()["location"], "/system");
    let dev = login(&server, "other", "dev@other.test", "developer-pass-12345").await;
    let (_, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "laptop", "scopes": ["ingest"] })),
    )
    .await;
    let key = key["key"].as_str().unwrap();
    // Three events today, and one from last week that the last day must not count.
    for (session, at) in [
        ("s1", Utc::now()),
        ("s1", Utc::now()),
        ("s2", Utc::now()),
        ("s3", Utc::now() - chrono::TimeDelta::days(7)),
    ] {
        let r = client()
            .post(server.url("/api/v1/hooks/claude-code"))
            .header("x-api-key", key)
            .json(
                &json!({ "session_id": session, "hook_event_name": "UserPromptSubmit",
                           "prompt": "hi", "_at": at.to_rfc3339() }),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    let (status, list) = call(
        &server,
        Method::GET,
        "/api/v1/admin/tenants",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let other = tenant(&list, "other");
    assert_eq!(other["people"], 4);
    assert_eq!(other["events_24h"], 3);
    assert_eq!(other["status"], "active");
    assert_eq!(other["plan"], "free");
    let on_disk = scalar(
        &server,
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'tenant_other' AND c.relkind IN ('r', 'm')",
    )
    .await;
    assert_eq!(other["storage_bytes"], on_disk);
    assert!(on_disk > 0);
    let last: chrono::DateTime<Utc> =
        serde_json::from_value(other["last_activity"].clone()).unwrap();
    assert!((Utc::now() - last).num_minutes() < 5, "{last}");
    let expected = scalar(
        &server,
        "SELECT migrated_version FROM tenants WHERE slug = 'other'",
    )
    .await;
    assert_eq!(other["migrated_version"], expected);
    // `demo` has its four people and nothing sent.
    let demo = tenant(&list, "demo");
    assert_eq!(
        (demo["people"].as_i64(), demo["events_24h"].as_i64()),
        (Some(4), Some(0))
    );
    assert_eq!(demo["last_activity"], Value::Null);

    // The page reads the same list.
    let (status, page) = server_fn(&server, &root, "tenants/list", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(page, list);

    // Tenant roles are refused, the admin too.
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    for path in ["/api/v1/admin/tenants", "/api/v1/admin/health"] {
        assert_eq!(
            call(&server, Method::GET, path, Some(&admin), None).await.0,
            403
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn health_reports_the_database_the_write_path_live_feeds_and_schemas() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let health = |server: &TestServer| {
        let root = root.clone();
        let url = server.url("/api/v1/admin/health");
        async move {
            let r = client().get(url).bearer_auth(root).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let before = health(&server).await;
    let db = &before["database"];
    assert!(db["connections"].as_i64().unwrap() >= 1);
    assert_eq!(
        db["max_connections"].as_i64(),
        Some(scalar(&server, "SELECT current_setting('max_connections')::bigint").await)
    );
    assert!(db["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(db["in_recovery"], false);
    assert_eq!(db["replicas"], json!([]));
    assert_eq!(before["redis"]["configured"], false);
    let schemas = &before["schemas"];
    assert_eq!(schemas["tenants"], 2);
    assert_eq!(schemas["behind"], json!([]));
    assert_eq!(schemas["registry_version"], schemas["registry_expected"]);
    assert_eq!(before["sockets"], 0);

    // Ten events through the write path show in its totals.
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "laptop", "scopes": ["ingest"] })),
    )
    .await;
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({ "type": "tool_use", "tool_name": "Read", "tool_use_id": format!("h{i}"),
                    "timestamp": Utc::now().to_rfc3339() })
        })
        .collect();
    let (status, answer) = call(
        &server,
        Method::POST,
        "/api/v1/ingest/batch",
        key["key"].as_str(),
        Some(Value::Array(events)),
    )
    .await;
    assert_eq!(
        (status.as_u16(), answer["accepted"].as_i64()),
        (200, Some(10)),
        "{answer}"
    );

    // Two live feeds open: both counted, then none once they close.
    let url = format!("ws://{}/ws", server.addr);
    let (mut a, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut b, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // The first point proves each socket is being served.
    for ws in [&mut a, &mut b] {
        tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap();
    }
    let during = health(&server).await;
    assert_eq!(during["sockets"], 2);
    let w = &during["writer"];
    assert_eq!(
        w["written_total"].as_u64().unwrap() - before["writer"]["written_total"].as_u64().unwrap(),
        10
    );
    assert!(w["flushes"].as_u64().unwrap() >= 1);
    assert!(w["flush_ms_p50"].as_f64().unwrap() > 0.0);
    assert!(w["flush_ms_max"].as_f64() >= w["flush_ms_p50"].as_f64());
    assert_eq!(w["queued_events"], 0);
    drop((a, b));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if health(&server).await["sockets"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed sockets still counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A workspace whose schema lags is named.
    sqlx::query("UPDATE tenants SET migrated_version = 1 WHERE slug = 'other'")
        .execute(server.db.store.pool())
        .await
        .unwrap();
    let lagging = health(&server).await;
    assert_eq!(lagging["schemas"]["behind"], json!([["other", 1]]));

    // The page reads the same thing.
    let (status, page) = server_fn(&server, &root, "system/health", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(page["schemas"], lagging["schemas"]);
    server.shutdown().await;
}

#[tokio::test]
async fn workspaces_are_renamed_and_created_with_an_emailed_invitation_all_audited() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;

    let (status, renamed) = call(
        &server,
        Method::PUT,
        "/api/v1/admin/tenants/other",
        Some(&root),
        Some(json!({ "name": "Other Ltd" })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &renamed["name"]),
        (200, &json!("Other Ltd"))
    );
    let (status, body) = call(
        &server,
        Method::PUT,
        "/api/v1/admin/tenants/other",
        Some(&root),
        Some(json!({ "name": "  " })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errors"][0]["pointer"].as_str()),
        (422, Some("/name"))
    );
    assert_eq!(
        call(
            &server,
            Method::PUT,
            "/api/v1/admin/tenants/nobody",
            Some(&root),
            Some(json!({ "name": "x" }))
        )
        .await
        .0,
        404
    );

    // From the page: the first admin is invited, and the e-mail is queued in the new schema.
    let (status, link) = server_fn(
        &server,
        &root,
        "tenants/create",
        &[
            ("slug", "acme"),
            ("name", "Acme"),
            ("admin_email", "boss@acme.test"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["email"], "boss@acme.test");
    assert!(link["url"]
        .as_str()
        .unwrap()
        .contains("/welcome?token=acme."));
    assert_eq!(
        scalar(
            &server,
            "SELECT count(*) FROM tenant_acme.emails
             WHERE to_address = 'boss@acme.test' AND template = 'invitation'",
        )
        .await,
        1
    );
    // Through the API, the same choice.
    let (status, made) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants",
        Some(&root),
        Some(
            json!({ "slug": "beta", "name": "Beta", "admin_email": "b@beta.test",
                     "first_admin": "invitation" }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert!(made["admin_one_time_password"].is_null());
    assert_eq!(made["invitation"]["email"], "b@beta.test");
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants",
        Some(&root),
        Some(
            json!({ "slug": "gamma", "name": "G", "admin_email": "g@g.test",
                     "first_admin": "carrier pigeon" }),
        ),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errors"][0]["pointer"].as_str()),
        (422, Some("/first_admin"))
    );

    // The page refuses a delete whose confirmation is not the slug, by field.
    let (status, body) = server_fn(
        &server,
        &root,
        "tenants/delete",
        &[("slug", "beta"), ("confirm", "bet")],
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("confirm")),
        "{body}"
    );
    let (status, _) = server_fn(
        &server,
        &root,
        "tenants/delete",
        &[("slug", "beta"), ("confirm", "beta")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = server_fn(
        &server,
        &root,
        "tenants/set_status",
        &[("slug", "acme"), ("status", "suspended")],
    )
    .await;
    assert_eq!(status, 200);

    let actions: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, target FROM public.audit_log
         WHERE action LIKE 'tenant.%' ORDER BY id",
    )
    .fetch_all(server.db.store.pool())
    .await
    .unwrap();
    let actions: Vec<(&str, Option<&str>)> = actions
        .iter()
        .map(|(a, t)| (a.as_str(), t.as_deref()))
        .collect();
    for wanted in [
        ("tenant.renamed", Some("other")),
        ("tenant.created", Some("acme")),
        ("tenant.created", Some("beta")),
        ("tenant.deleted", Some("beta")),
        ("tenant.suspended", Some("acme")),
    ] {
        assert!(actions.contains(&wanted), "{wanted:?} not in {actions:?}");
    }
    crate::common::assert_actions_listed(&server).await;
    server.shutdown().await;
}

/// `whoami` as a browser with these cookies asks it.
async fn whoami(server: &TestServer, cookies: &str) -> Value {
    let r = client()
        .post(server.url("/api/whoami"))
        .header("cookie", cookies)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn support_access_reads_one_workspace_only_for_a_while_and_its_admins_see_it() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let begin = |body: Value| {
        let url = server.url("/api/v1/admin/tenants/demo/support");
        let root = root.clone();
        async move {
            let r = client()
                .post(url)
                .bearer_auth(root)
                .json(&body)
                .send()
                .await
                .unwrap();
            let cookie = r
                .headers()
                .get("set-cookie")
                .map(|v| v.to_str().unwrap().to_string());
            (
                r.status().as_u16(),
                cookie,
                r.json::<Value>().await.unwrap(),
            )
        }
    };
    // A reason the workspace's admins can read, and at most an hour.
    let (status, _, body) = begin(json!({ "reason": "look" })).await;
    assert_eq!(
        (status, body["errors"][0]["pointer"].as_str()),
        (422, Some("/reason"))
    );
    let (status, _, body) = begin(json!({ "reason": "ticket 42: costs", "minutes": 240 })).await;
    assert_eq!(
        (status, body["errors"][0]["pointer"].as_str()),
        (422, Some("/minutes"))
    );
    // Only super admins open one.
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants/demo/support",
        Some(&admin),
        Some(json!({ "reason": "I am not a super admin" })),
    )
    .await;
    assert_eq!(status, 403);

    let reason = "Ticket 42: the cost tile reads zero";
    let (status, cookie, opened) = begin(json!({ "reason": reason, "minutes": 15 })).await;
    assert_eq!(status, 201, "{opened}");
    let token = opened["access_token"].as_str().unwrap().to_string();
    let expires = opened["expires_in"].as_i64().unwrap();
    assert!((14 * 60..=15 * 60).contains(&expires), "{expires}");
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("devpulse_support=") && cookie.contains("HttpOnly"));
    assert!(cookie.contains("Max-Age=8"), "{cookie}");

    // It reads the workspace's numbers as its admins do...
    for path in [
        "/api/v1/dashboard/overview?range=7d",
        "/api/v1/dashboard/summary",
        "/api/v1/dashboard/config",
    ] {
        let (status, body) = call(&server, Method::GET, path, Some(&token), None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _) = server_fn(&server, &token, "dashboard/overview", &[("q", "range=7d")]).await;
    assert_eq!(status, 200);
    // ...and nothing else: not people, keys, settings, the installation, nor any write
    // asked for as a read.
    for (method, path) in [
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/audit"),
        (Method::GET, "/api/v1/api-keys"),
        (Method::POST, "/api/v1/api-keys"),
        (Method::GET, "/api/v1/profile"),
        (Method::PUT, "/api/v1/dashboard/home"),
        (Method::POST, "/api/v1/ws/ticket"),
        (Method::GET, "/api/v1/admin/tenants"),
        (Method::GET, "/api/v1/teams"),
    ] {
        let (status, body) =
            call(&server, method.clone(), path, Some(&token), Some(json!({}))).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    for (endpoint, form) in [
        ("boards/home", vec![]),
        ("users/list", vec![]),
        ("settings/retention", vec![]),
        ("api_keys/list", vec![]),
    ] {
        let (status, body) = server_fn(&server, &token, endpoint, &form).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }

    // Beside the super admin's own session, the browser reads as the access while it lasts.
    let own = format!("devpulse_access={root}");
    let both = format!("{own}; devpulse_support={token}");
    let me = whoami(&server, &both).await;
    assert_eq!(
        (me["tenant"].as_str(), me["support"]["reason"].as_str()),
        (Some("demo"), Some(reason))
    );
    assert_eq!(whoami(&server, &own).await["tenant"], Value::Null);

    // The workspace's admins see it, reason and all.
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=support.",
        Some(&admin),
        None,
    )
    .await;
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["action"], "support.started");
    assert_eq!(entries[0]["actor"], "root@devpulse.test");
    assert_eq!(entries[0]["details"]["reason"], reason);

    // Ended: refused at once, and the browser is the super admin again.
    let r = client()
        .post(server.url("/api/v1/auth/support/end"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/summary",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let me = whoami(&server, &both).await;
    assert_eq!(
        (me["tenant"].clone(), me["support"].clone()),
        (Value::Null, Value::Null)
    );
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=support.",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(log[0]["action"], "support.ended");

    // Expired: refused too.
    let (_, _, second) = begin(json!({ "reason": reason, "minutes": 5 })).await;
    let second_token = second["access_token"].as_str().unwrap();
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/summary",
        Some(second_token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    // One access at a time: opening another ends it.
    let (_, _, third) = begin(json!({ "reason": reason, "minutes": 5 })).await;
    let third_token = third["access_token"].as_str().unwrap().to_string();
    let summary = |token: String| {
        let url = server.url("/api/v1/dashboard/summary");
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(summary(second_token.to_string()).await, 401);
    assert_eq!(summary(third_token.clone()).await, 200);
    sqlx::query(
        "UPDATE support_grants SET created_at = now() - interval '10 minutes',
                                   expires_at = now() - interval '1 second'",
    )
    .execute(server.db.store.pool())
    .await
    .unwrap();
    assert_eq!(summary(third_token).await, 401);

    // A suspended workspace cannot be opened.
    call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants/other/suspend",
        Some(&root),
        None,
    )
    .await;
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants/other/support",
        Some(&root),
        Some(json!({ "reason": reason })),
    )
    .await;
    assert_eq!(status, 409);

    let (status, grants) = call(
        &server,
        Method::GET,
        "/api/v1/admin/support",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(grants.as_array().unwrap().len(), 3);
    assert!(grants
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["tenant"] == "demo" && g["by"] == "root@devpulse.test"));
    crate::common::assert_actions_listed(&server).await;
    server.shutdown().await;
}

/// Recurring jobs follow their cron patterns, and the console shows each with its next run,
/// through both doors.
#[tokio::test]
async fn recurring_jobs_are_listed_with_their_pattern_and_next_run() {
    let mut server = TestServer::start_with(|c| {
        c.schedules = server::jobs::schedules(|var| {
            (var == "DEVPULSE_SCHEDULE_RETENTION").then(|| "0 3 * * SAT".to_string())
        })
        .unwrap()
    })
    .await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let (status, jobs) = call(
        &server,
        Method::GET,
        "/api/v1/admin/jobs",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200, "{jobs}");
    let schedules = jobs["schedules"].as_array().unwrap();
    let names: Vec<&str> = schedules
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["upkeep", "retention", "prune-jobs", "alerts", "reports"]
    );
    let retention = &schedules[1];
    assert_eq!(retention["pattern"], "0 3 * * SAT");
    assert!(
        retention["description"]
            .as_str()
            .unwrap()
            .contains("Saturday"),
        "{retention}"
    );
    let next: chrono::DateTime<Utc> = retention["next_at"].as_str().unwrap().parse().unwrap();
    assert!(next > Utc::now() && next - Utc::now() <= chrono::TimeDelta::days(7));
    assert_eq!(next.format("%a %H:%M").to_string(), "Sat 03:00");
    let (status, by_fn) = server_fn(&server, &root, "jobs/list", &[]).await;
    assert_eq!(status, 200, "{by_fn}");
    assert_eq!(by_fn["schedules"], jobs["schedules"]);
    server.shutdown().await;
}
