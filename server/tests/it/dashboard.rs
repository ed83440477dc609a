//! The dashboard's reads after the fixtures went in through the real endpoints: each role
//! sees its scope's numbers (checked against EXPECTED.json), a viewer never sees a person,
//! and a server function answers exactly what its REST twin does for the same caller.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{
    call, client,
    fixtures::{fixtures, people},
    login, server_fn, user_id, TestServer,
};

const RANGE: &str = "from=2025-08-01T00:00:00Z&to=2025-10-01T00:00:00Z";

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("EXPECTED.json")).unwrap())
        .unwrap()
}

/// The sum of `key` over these fixture users in EXPECTED.json.
fn sum(users: &[&str], key: &str) -> f64 {
    let e = expected();
    users
        .iter()
        .map(|u| e["users"][u][key].as_f64().unwrap())
        .sum()
}

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let (status, body) = call(server, Method::GET, path, Some(token), None).await;
    (status.as_u16(), body)
}

fn close(got: &Value, want: f64, what: &str) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
    assert!((got - want).abs() < 1e-4, "{what}: got {got}, want {want}");
}

/// A server holding every fixture, sent through the real endpoints, and the demo admin's
/// token.
async fn with_fixtures() -> (TestServer, String) {
    let server = TestServer::start().await;
    let keys = people(&server).await;
    crate::ingest::send_everything(&server, &keys).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    (server, admin)
}

/// The workspace's time zone set by its admin: the answer's status and body.
async fn set_zone(server: &TestServer, admin: &str, zone: &str) -> (u16, Value) {
    let (status, body) = call(
        server,
        Method::PUT,
        "/api/v1/settings/time-zone",
        Some(admin),
        Some(json!({ "time_zone": zone })),
    )
    .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn each_role_sees_its_scope_and_both_doors_agree() {
    let (mut server, admin) = with_fixtures().await;

    // The manager manages Platform; ana and bo join it, chen does not.
    let (_, teams) = get(&server, &admin, "/api/v1/teams").await;
    let platform = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Platform")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for who in ["ana", "bo"] {
        let id = user_id(&server, &admin, &format!("{who}@demo.test")).await;
        let (status, body) = call(
            &server,
            Method::PUT,
            &format!("/api/v1/teams/{platform}/members/{id}"),
            Some(&admin),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let ana = login(&server, "demo", "ana@demo.test", "ana-password-123").await;

    let all = ["ana", "bo", "chen"];
    for (who, token, scope) in [
        ("tenant_admin", &admin, &all[..]),
        ("manager", &manager, &all[..2]),
        ("developer", &ana, &all[..1]),
        ("viewer", &viewer, &all[..]),
    ] {
        let (status, o) = get(
            &server,
            token,
            &format!("/api/v1/dashboard/overview?{RANGE}"),
        )
        .await;
        assert_eq!(status, 200, "{who}: {o}");
        let k = &o["current"];
        close(
            &k["cost_usd"],
            sum(scope, "cost_usd"),
            &format!("{who} cost"),
        );
        close(
            &k["sessions"],
            sum(scope, "sessions"),
            &format!("{who} sessions"),
        );
        close(
            &k["tool_executions"],
            sum(scope, "tool_executions"),
            &format!("{who} tools"),
        );
        close(
            &k["input_tokens"],
            sum(scope, "input_tokens"),
            &format!("{who} input"),
        );
        assert_eq!(k["active_people"], scope.len(), "{who}");
        assert_eq!(o["window"]["grain"], "day");
        assert_eq!(o["buckets"].as_array().unwrap().len(), 61);

        // The server function answers the very same.
        let (status, via_fn) =
            server_fn(&server, token, "dashboard/overview", &[("q", RANGE)]).await;
        assert_eq!(status, 200, "{who}: {via_fn}");
        assert_eq!(via_fn, o, "{who}: the server function and REST disagree");

        // Cost by model over time adds up to the same total.
        let (status, s) = get(
            &server,
            token,
            &format!("/api/v1/dashboard/charts?widget=cost_over_time&{RANGE}"),
        )
        .await;
        assert_eq!(status, 200, "{who}: {s}");
        let total: f64 = s["lines"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| {
                l["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
            })
            .sum();
        assert!(
            (total - sum(scope, "cost_usd")).abs() < 1e-3,
            "{who}: {total}"
        );
        let (_, via_fn) = server_fn(
            &server,
            token,
            "dashboard/series",
            &[("q", RANGE), ("split", "model"), ("measure", "cost")],
        )
        .await;
        assert_eq!(via_fn, s, "{who}: series twins disagree");
    }

    // Per person: the manager's table holds exactly their team's people with data.
    let (status, b) = get(
        &server,
        &manager,
        &format!("/api/v1/dashboard/charts?widget=people&{RANGE}"),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let mut names: Vec<&str> = b["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ana@demo.test", "bo@demo.test"]);

    // A viewer gets totals, never a person: no per-person breakdown, series or sessions, and
    // no narrowing to anyone.
    for path in [
        format!("/api/v1/dashboard/charts?widget=people&{RANGE}"),
        format!("/api/v1/dashboard/charts?widget=cost_over_time&split=person&{RANGE}"),
        format!("/api/v1/dashboard/sessions?{RANGE}"),
        format!(
            "/api/v1/dashboard/overview?person={}&{RANGE}",
            user_id(&server, &admin, "ana@demo.test").await
        ),
    ] {
        let (status, body) = get(&server, &viewer, &path).await;
        assert_eq!(status, 422, "viewer {path}: {body}");
    }
    let (status, a) = get(&server, &viewer, "/api/v1/dashboard/charts?widget=live").await;
    assert_eq!(status, 200, "{a}");
    assert!(a["people"].as_array().unwrap().is_empty(), "{a}");

    // A developer cannot see a colleague, even by id.
    let chen = user_id(&server, &admin, "chen@demo.test").await;
    let (status, _) = get(
        &server,
        &ana,
        &format!("/api/v1/dashboard/overview?person={chen}&{RANGE}"),
    )
    .await;
    assert_eq!(status, 422);
    // A manager asking for someone outside their teams finds no one.
    let (status, _) = get(
        &server,
        &manager,
        &format!("/api/v1/dashboard/overview?person={chen}&{RANGE}"),
    )
    .await;
    assert_eq!(status, 404);

    // Sessions: the drill-down opens for its owner's viewers and is not found for others.
    let (status, page) = get(
        &server,
        &ana,
        &format!("/api/v1/dashboard/sessions?sort=cost&{RANGE}"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    close(&page["total"], sum(&["ana"], "sessions"), "ana's sessions");
    let first = page["sessions"][0]["id"].as_str().unwrap().to_string();
    let (status, detail) = get(
        &server,
        &ana,
        &format!("/api/v1/dashboard/sessions/{first}"),
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert!(!detail["timeline"].as_array().unwrap().is_empty());
    let bo = login(&server, "demo", "bo@demo.test", "bo-password-123").await;
    let (status, _) = get(&server, &bo, &format!("/api/v1/dashboard/sessions/{first}")).await;
    assert_eq!(status, 404);

    // Insights are about one person: a developer's own, or the person a filter names.
    let (status, i) = get(
        &server,
        &ana,
        &format!("/api/v1/dashboard/charts?widget=insights&{RANGE}"),
    )
    .await;
    assert_eq!(status, 200, "{i}");
    let rules: Vec<&str> = i["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    for rule in ["top_tools", "expensive_session", "cache_savings"] {
        assert!(rules.contains(&rule), "{rule} missing: {i}");
    }
    let top = i["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "top_tools")
        .unwrap();
    assert!(top["title"].as_str().unwrap().contains("Read 112"), "{top}");
    // Ana's only teammate with data is bo: too few for a median that keeps him private.
    assert!(!rules.contains(&"team_cost_per_session"), "{i}");
    let (status, _) = get(
        &server,
        &admin,
        &format!("/api/v1/dashboard/charts?widget=insights&{RANGE}"),
    )
    .await;
    assert_eq!(status, 422);
    let ana_id = user_id(&server, &admin, "ana@demo.test").await;
    let (status, by_admin) = get(
        &server,
        &admin,
        &format!("/api/v1/dashboard/charts?widget=insights&person={ana_id}&{RANGE}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_admin["items"], i["items"]);

    // Exports: CSV of the tool table, with a header row.
    let r = client()
        .get(server.url(&format!(
            "/api/v1/dashboard/charts?widget=tools&format=csv&{RANGE}"
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("key,label,people,sessions,cost_usd"),
        "{csv}"
    );
    assert!(csv.contains("\r\nRead,Read,"), "{csv}");

    // Bad filters are named.
    let (status, body) = get(&server, &admin, "/api/v1/dashboard/overview?range=forever").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("/range"), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn days_follow_the_workspace_time_zone() {
    let (mut server, admin) = with_fixtures().await;
    let url =
        "/api/v1/dashboard/overview?from=2025-07-31T18:30:00Z&to=2025-09-30T18:30:00Z&grain=day";
    // Read once in UTC first: the window (and answer) kept from it must not outlive the
    // change of zone.
    let (status, o) = get(&server, &admin, url).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["window"]["tz"], "UTC");
    let (status, body) = set_zone(&server, &admin, "Mars/Olympus").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = set_zone(&server, &admin, "asia/kolkata").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["time_zone"], "Asia/Kolkata");
    // A range of local days: buckets start at local midnight (18:30 UTC), and the totals are
    // still exact (read from minute rollups, as +5:30 splits hours).
    let (status, o) = get(&server, &admin, url).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["window"]["tz"], "Asia/Kolkata");
    assert_eq!(o["buckets"][0], "2025-07-31T18:30:00Z");
    close(
        &o["current"]["cost_usd"],
        sum(&["ana", "bo", "chen"], "cost_usd"),
        "cost",
    );
    server.shutdown().await;
}

/// POSTs one tool run of `tool` at `at` with `key`.
async fn one_tool_run(server: &TestServer, key: &str, tool: &str, id: &str, at: &str) {
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", key)
        .json(
            &json!([{ "type": "tool_use", "tool_name": tool, "tool_use_id": id,
                         "session_id": format!("kept-{id}"), "timestamp": at }]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accepted"], 1, "{body}");
}

/// The data of each read the page made, as the page carries it for hydration.
fn resolved_payloads(html: &str) -> Vec<&str> {
    html.split("__RESOLVED_RESOURCES[")
        .skip(1)
        .filter_map(|part| {
            let body = &part[part.find("] = \"")? + 5..];
            let end = body
                .match_indices("\";")
                .find(|(i, _)| *i == 0 || !body[..*i].ends_with('\\'))?
                .0;
            Some(&body[..end])
        })
        .collect()
}

/// Fails if a read's data is in the page twice (short ones aside: two reads may well
/// answer the same `{"Ok":[]}`). Two resources reading the same thing would fail it too,
/// which is as well: the page would ask twice.
fn assert_each_read_once(path: &str, html: &str) {
    let mut seen = std::collections::HashSet::new();
    for p in resolved_payloads(html).into_iter().filter(|p| p.len() > 60) {
        assert!(
            seen.insert(p),
            "{path}: a read's data is in the page twice ({} of {} bytes of the page): {}…",
            p.len(),
            html.len(),
            p.chars().take(60).collect::<String>()
        );
    }
}

/// A page carries each read's data once. On the server a Suspense walks its children again
/// whenever its pending reads finish, and a walk that found the board's outer read done built
/// the board, whose reads then each went into the page again: pages whose answers had to be
/// computed came out at 213 or 287 KB instead of 139, the same data two or three times. The
/// profile, whose reads are all quick, carried its two-step status three times every time.
#[tokio::test]
async fn a_page_carries_each_reads_data_once() {
    let (server, admin) = with_fixtures().await;
    let http = client();
    // A window of its own for each page, so that every page computes its answers.
    for (from, to) in [
        ("2025-08-01", "2025-10-01"),
        ("2025-08-15", "2025-09-15"),
        ("2025-09-01", "2025-09-08"),
        ("2025-07-01", "2025-10-01"),
        ("2025-08-20", "2025-09-20"),
        ("2025-09-10", "2025-09-12"),
    ] {
        let path = format!("/?from={from}T00:00:00Z&to={to}T00:00:00Z");
        let html = page(&server, &http, &admin, &path).await;
        let n = resolved_payloads(&html).len();
        assert!(
            n >= 10,
            "{path}: the board's reads are in the page ({n} found)"
        );
        assert_each_read_once(&path, &html);
    }
    let html = page(&server, &http, &admin, "/profile").await;
    assert!(
        html.contains("recovery_codes_left"),
        "the two-step status is read"
    );
    assert_each_read_once("/profile", &html);
}

async fn page(server: &TestServer, http: &reqwest::Client, token: &str, path: &str) -> String {
    let r = http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// Answers are kept between reads, and forgotten the moment something they show changes:
/// events of the people they cover (before the POST is acknowledged), a renamed person, a
/// team change. Every read below comes right after the change, without waiting.
#[tokio::test]
async fn kept_answers_never_outlive_what_they_show() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let ana = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    let tools = |v: &Value| v["current"]["tool_executions"].as_i64().unwrap();
    let overview = format!("/api/v1/dashboard/overview?{RANGE}");

    let (_, a0) = get(&server, &admin, &overview).await;
    let (_, d0) = get(&server, &ana, &overview).await;
    assert_eq!((tools(&a0), tools(&d0)), (0, 0));
    // Kept: asking again gives the same, whichever door.
    let (_, via_fn) = server_fn(&server, &admin, "dashboard/overview", &[("q", RANGE)]).await;
    assert_eq!(via_fn, a0);

    // bo's event: the admin's answer changes at once; ana's own numbers stand.
    one_tool_run(&server, &keys["bo"], "Bash", "k1", "2025-09-01T10:00:00Z").await;
    let (_, a1) = get(&server, &admin, &overview).await;
    let (_, d1) = get(&server, &ana, &overview).await;
    assert_eq!((tools(&a1), tools(&d1)), (1, 0));
    let (_, a1_fn) = server_fn(&server, &admin, "dashboard/overview", &[("q", RANGE)]).await;
    assert_eq!(
        tools(&a1_fn),
        1,
        "the server function's door saw the change too"
    );

    // ana's event: hers changes.
    one_tool_run(&server, &keys["ana"], "Read", "k2", "2025-09-02T10:00:00Z").await;
    let (_, d2) = get(&server, &ana, &overview).await;
    assert_eq!(tools(&d2), 1);

    // A renamed person: the per-person table names them anew, read straight after the
    // rename is acknowledged (the database's notice may not have arrived yet).
    let by_person = format!("/api/v1/dashboard/charts?widget=people&{RANGE}&by=person");
    let (status, before) = get(&server, &admin, &by_person).await;
    assert_eq!(status, 200, "{before}");
    let (status, _) = call(
        &server,
        Method::PUT,
        "/api/v1/profile",
        Some(&ana),
        Some(json!({ "name": "Ana Renamed" })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, after) = get(&server, &admin, &by_person).await;
    assert!(
        after.to_string().contains("Ana Renamed"),
        "the kept breakdown outlived the rename: {after}"
    );
    server.shutdown().await;
}

/// The filter bar's choices follow the reader's scope: people and teams only for those who
/// may narrow to them, and the models and tools seen among the people they see.
#[tokio::test]
async fn filter_choices_follow_the_readers_scope() {
    let (mut server, admin) = with_fixtures().await;
    let ana = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let path = format!("/api/v1/dashboard/choices?{RANGE}");

    let (status, all) = get(&server, &admin, &path).await;
    assert_eq!(status, 200, "{all}");
    let labels: Vec<&str> = all["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    for who in ["ana@demo.test", "bo@demo.test", "chen@demo.test"] {
        assert!(labels.contains(&who), "{who} in {labels:?}");
    }
    assert!(all["teams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["label"] == "Platform"));
    assert!(!all["models"].as_array().unwrap().is_empty(), "{all}");
    assert!(
        all["tools"].as_array().unwrap().iter().any(|t| t == "Bash"),
        "{all}"
    );
    let (_, via_fn) = server_fn(&server, &admin, "dashboard/choices", &[("q", RANGE)]).await;
    assert_eq!(via_fn, all);

    for (who, token) in [("developer", &ana), ("viewer", &viewer)] {
        let (status, c) = get(&server, token, &path).await;
        assert_eq!(status, 200, "{who}: {c}");
        assert_eq!(c["people"], json!([]), "{who} picks no one");
        assert_eq!(c["teams"], json!([]), "{who} picks no team");
    }
    server.shutdown().await;
}

/// A person's theme follows them: kept by `PUT /api/v1/profile/theme` (and its server
/// function), set as the browser's cookie there and at every later sign-in.
#[tokio::test]
async fn the_theme_is_remembered_per_person() {
    let mut server = TestServer::start().await;
    crate::common::seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let put = |theme: Value| {
        client()
            .put(server.url("/api/v1/profile/theme"))
            .bearer_auth(&dev)
            .json(&json!({ "theme": theme }))
            .send()
    };
    let r = put(json!("blue")).await.unwrap();
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/theme", "{problem}");

    let r = put(json!("dark")).await.unwrap();
    assert_eq!(r.status(), 204);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("theme=dark;"), "{cookie}");

    let signed_in = |body: Value| {
        client()
            .post(server.url("/api/v1/auth/login"))
            .json(&body)
            .send()
    };
    let creds =
        json!({ "tenant": "demo", "email": "dev@demo.test", "password": "demo-developer-pass" });
    let r = signed_in(creds.clone()).await.unwrap();
    let themes: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .filter(|c| c.starts_with("theme="))
        .map(String::from)
        .collect();
    assert_eq!(themes.len(), 1, "{themes:?}");
    assert!(themes[0].starts_with("theme=dark;"));

    // The server function does the same; back to the system's theme, sign-in sets nothing.
    let (status, _) = server_fn(&server, &dev, "profile/theme", &[]).await;
    assert_eq!(status, 200);
    let r = signed_in(creds).await.unwrap();
    assert!(!r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap_or("").starts_with("theme=")));
    server.shutdown().await;
}

/// The rules of ana's insights as `token` reads them (`person`: read about ana by id).
async fn insight_rules(server: &TestServer, token: &str, person: Option<&str>) -> Vec<String> {
    let who = person.map(|p| format!("person={p}&")).unwrap_or_default();
    let (status, i) = get(
        server,
        token,
        &format!("/api/v1/dashboard/charts?widget=insights&{who}{RANGE}"),
    )
    .await;
    assert_eq!(status, 200, "{i}");
    i["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap().to_string())
        .collect()
}

/// A workspace may keep its developers from comparing themselves with their team; whoever
/// reads about them for the workspace still sees the medians.
#[tokio::test]
async fn team_medians_are_the_workspaces_choice() {
    let (mut server, admin) = with_fixtures().await;
    // Ana's team: bo, chen and the demo developer, who ran one tool in the period: three
    // colleagues with data, the fewest a median is shown over.
    let (status, team) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Medians" })),
    )
    .await;
    assert_eq!(status, 201, "{team}");
    let team = team["id"].as_str().unwrap().to_string();
    for who in ["ana", "bo", "chen", "dev"] {
        let id = user_id(&server, &admin, &format!("{who}@demo.test")).await;
        let (status, body) = call(
            &server,
            Method::PUT,
            &format!("/api/v1/teams/{team}/members/{id}"),
            Some(&admin),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "laptop", "scopes": ["ingest"] })),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    one_tool_run(
        &server,
        key["key"].as_str().unwrap(),
        "Bash",
        "m1",
        "2025-09-03T10:00:00Z",
    )
    .await;
    let ana = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    let ana_id = user_id(&server, &admin, "ana@demo.test").await;

    let medians = |rules: &[String]| rules.iter().any(|r| r == "team_success_rate");
    assert!(medians(&insight_rules(&server, &ana, None).await));

    let set = |team_medians: bool| {
        let admin = admin.clone();
        let server = &server;
        async move {
            let (status, body) = call(
                server,
                Method::PUT,
                "/api/v1/settings/people",
                Some(&admin),
                Some(json!({ "team_medians": team_medians })),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["team_medians"], team_medians);
        }
    };
    set(false).await;
    let rules = insight_rules(&server, &ana, None).await;
    assert!(!medians(&rules), "{rules:?}");
    assert!(
        rules.iter().any(|r| r == "top_tools"),
        "the rest stays: {rules:?}"
    );
    assert!(medians(
        &insight_rules(&server, &admin, Some(&ana_id)).await
    ));
    set(true).await;
    assert!(medians(&insight_rules(&server, &ana, None).await));
    server.shutdown().await;
}

/// Row key → mean session score, as a breakdown by `by` shows them.
fn scores_of(b: &Value) -> std::collections::BTreeMap<String, Option<f64>> {
    b["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["avg_score"].as_f64(),
            )
        })
        .collect()
}

/// The heatmap, the tools' duration percentiles and every breakdown's mean scores are each
/// computed in a shape chosen for speed (buckets summed before the zone's conversion,
/// histograms added up in the server, one scan of the sessions for four breakdowns' scores).
/// Here each is checked against the plain query over the same rows, in a half-hour zone so
/// that minute rollups are what is read.
#[tokio::test]
async fn fast_shapes_answer_what_the_plain_queries_do() {
    let (mut server, admin) = with_fixtures().await;
    let (status, body) = set_zone(&server, &admin, "Asia/Kolkata").await;
    assert_eq!(status, 200, "{body}");
    let (from, to) = ("2025-07-31T18:30:00Z", "2025-09-30T18:30:00Z");
    let range = format!("from={from}&to={to}");
    let (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        (from.parse().unwrap(), to.parse().unwrap());
    let pool = server.db.store.pool();

    let (status, heat) = get(
        &server,
        &admin,
        &format!("/api/v1/dashboard/charts?widget=heatmap&{range}"),
    )
    .await;
    assert_eq!(status, 200, "{heat}");
    let plain: Vec<(i32, i32, i64)> = sqlx::query_as(
        "SELECT (extract(isodow FROM bucket AT TIME ZONE 'Asia/Kolkata') - 1)::int4,
                extract(hour FROM bucket AT TIME ZONE 'Asia/Kolkata')::int4,
                sum(tool_executions + prompts)::int8
         FROM tenant_demo.rollups WHERE grain = 'm' AND bucket >= $1 AND bucket < $2
         GROUP BY 1, 2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut want = vec![vec![0i64; 24]; 7];
    for (day, hour, n) in &plain {
        want[*day as usize][*hour as usize] += n;
    }
    assert!(
        want.iter().flatten().sum::<i64>() > 0,
        "the fixtures have activity"
    );
    let got: Vec<Vec<i64>> = serde_json::from_value(heat["cells"].clone()).unwrap();
    assert_eq!(got, want, "heatmap");

    let (status, tools) = get(
        &server,
        &admin,
        &format!("/api/v1/dashboard/charts?widget=tools&{range}"),
    )
    .await;
    assert_eq!(status, 200, "{tools}");
    let slots: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.tool, h.i, sum(h.x)::int8
         FROM tenant_demo.rollups r, unnest(r.duration_hist) WITH ORDINALITY AS h(x, i)
         WHERE r.grain = 'm' AND r.bucket >= $1 AND r.bucket < $2 AND r.tool <> ''
         GROUP BY 1, 2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut hists: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for (tool, slot, n) in slots {
        hists
            .entry(tool)
            .or_insert_with(|| vec![0; store::events::HIST_SLOTS])[slot as usize - 1] += n;
    }
    let rows = tools["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let h = &hists[r["key"].as_str().unwrap()];
        for (field, q) in [("p50_ms", 0.50), ("p95_ms", 0.95)] {
            assert_eq!(
                r[field].as_i64(),
                store::activity::hist_quantile(h, q),
                "{} {field}",
                r["key"]
            );
        }
    }

    // The overview's mean scores, this period's and the one before (as long again).
    let (status, o) = get(
        &server,
        &admin,
        &format!("/api/v1/dashboard/overview?{range}"),
    )
    .await;
    assert_eq!(status, 200, "{o}");
    for (period, from, to) in [
        ("current", from, to),
        ("previous", from - (to - from), from),
    ] {
        let plain: Option<f64> = sqlx::query_scalar(
            "SELECT round(avg(productivity_score)::numeric, 1)::float8
             FROM tenant_demo.sessions WHERE started_at >= $1 AND started_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(o[period]["avg_score"].as_f64(), plain, "{period} score");
    }
    assert!(
        o["current"]["avg_score"].as_f64().is_some(),
        "the fixtures have scores"
    );

    for (by, key) in [
        ("person", "s.user_id::text"),
        ("model", "coalesce(s.model, '')"),
        ("project", "coalesce(s.project, '')"),
        ("team", "coalesce(tm.team_id::text, '')"),
    ] {
        let (status, b) = get(
            &server,
            &admin,
            &format!("/api/v1/dashboard/charts?widget=people&by={by}&{range}"),
        )
        .await;
        assert_eq!(status, 200, "{by}: {b}");
        // Teams are joined only to group by team: a person in two teams counts in each.
        let join = match by {
            "team" => "LEFT JOIN tenant_demo.team_members tm ON tm.user_id = s.user_id",
            _ => "",
        };
        let plain: Vec<(String, Option<f64>)> = sqlx::query_as(&format!(
            "SELECT {key}, round(avg(s.productivity_score)::numeric, 1)::float8
             FROM tenant_demo.sessions s {join}
             WHERE s.started_at >= $1 AND s.started_at < $2
             GROUP BY 1"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
        .unwrap();
        let got = scores_of(&b);
        assert!(!got.is_empty(), "{by}");
        assert!(
            got.values().any(Option::is_some),
            "{by}: some rows have scores"
        );
        for (k, score) in &got {
            let want = plain.iter().find(|(p, _)| p == k).and_then(|(_, s)| *s);
            assert_eq!(*score, want, "{by} {k}");
        }
    }

    // The rollup breakdowns' people, sessions and counts: summed per key and person before
    // per key, where the plain query counts distinct people.
    for (by, widget, key) in [
        ("person", "people", "r.user_id::text"),
        ("team", "people", "coalesce(tm.team_id::text, '')"),
        ("model", "people", "r.model"),
        ("tool", "tools", "r.tool"),
    ] {
        let (status, b) = get(
            &server,
            &admin,
            &format!("/api/v1/dashboard/charts?widget={widget}&by={by}&{range}"),
        )
        .await;
        assert_eq!(status, 200, "{by}: {b}");
        let join = match by {
            "team" => "LEFT JOIN tenant_demo.team_members tm ON tm.user_id = r.user_id",
            _ => "",
        };
        let plain: Vec<(String, i64, i64, i64)> = sqlx::query_as(&format!(
            "SELECT {key}, count(DISTINCT r.user_id)::int8, sum(r.sessions)::int8,
                    sum(r.tool_executions)::int8
             FROM tenant_demo.rollups r {join}
             WHERE r.grain = 'm' AND r.bucket >= $1 AND r.bucket < $2
             GROUP BY 1"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
        .unwrap();
        let rows = b["rows"].as_array().unwrap();
        assert!(!rows.is_empty(), "{by}");
        assert!(
            by == "person" || rows.iter().any(|r| r["people"].as_i64() > Some(1)),
            "{by}: some row counts several people: {b}"
        );
        for r in rows {
            let k = r["key"].as_str().unwrap();
            let (_, people, sessions, tools) = plain
                .iter()
                .find(|(p, ..)| p == k)
                .unwrap_or_else(|| panic!("{by} {k}: no such key in {plain:?}"));
            assert_eq!(r["people"].as_i64(), Some(*people), "{by} {k} people");
            assert_eq!(r["sessions"].as_i64(), Some(*sessions), "{by} {k} sessions");
            assert_eq!(
                r["tool_executions"].as_i64(),
                Some(*tools),
                "{by} {k} tool executions"
            );
        }
    }
    server.shutdown().await;
}

/// The sum of every value of every line of a series answer.
fn series_total(s: &Value) -> f64 {
    s["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("{s}"))
        .iter()
        .flat_map(|l| l["values"].as_array().unwrap())
        .map(|v| v.as_f64().unwrap())
        .sum()
}

/// Rollups carry no project, so a chart narrowed to one reads the sessions: each split of
/// the time series and the heatmap give that project's share, and a project nobody works on
/// empties them (the series by model and by team, and the heatmap, once showed everything).
#[tokio::test]
async fn a_project_filter_narrows_every_chart() {
    let (mut server, admin) = with_fixtures().await;
    let pool = server.db.store.pool();
    let (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = (
        "2025-08-01T00:00:00Z".parse().unwrap(),
        "2025-10-01T00:00:00Z".parse().unwrap(),
    );
    let in_range = "s.started_at >= $1 AND s.started_at < $2";
    let (project, work): (String, i64) = sqlx::query_as(&format!(
        "SELECT s.project, sum(s.tool_executions + s.prompts)::int8 FROM tenant_demo.sessions s
         WHERE {in_range} AND s.project IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ))
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
    .unwrap();
    // What each split's lines add up to for that project: sessions without a model are on no
    // model's line; a person in two teams counts in each.
    let cost = |join: &'static str, extra: &'static str| {
        let project = project.clone();
        async move {
            sqlx::query_scalar::<_, f64>(&format!(
                "SELECT coalesce(sum(s.cost_usd), 0)::float8 FROM tenant_demo.sessions s {join}
                 WHERE {in_range} AND s.project = $3 {extra}"
            ))
            .bind(from)
            .bind(to)
            .bind(project)
            .fetch_one(pool)
            .await
            .unwrap()
        }
    };
    let everything: f64 = sqlx::query_scalar(&format!(
        "SELECT sum(s.cost_usd)::float8 FROM tenant_demo.sessions s WHERE {in_range}"
    ))
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
    .unwrap();
    let team_join = "LEFT JOIN tenant_demo.team_members tm ON tm.user_id = s.user_id";
    for (split, want) in [
        ("model", cost("", "AND coalesce(s.model, '') <> ''").await),
        ("team", cost(team_join, "").await),
        ("project", cost("", "").await),
        ("person", cost("", "").await),
    ] {
        assert!(
            want > 0.0 && want < everything - 1e-3,
            "{split}: {want} of {everything}"
        );
        let path = format!(
            "/api/v1/dashboard/charts?widget=cost_over_time&split={split}&measure=cost&{RANGE}"
        );
        let (status, s) = get(&server, &admin, &format!("{path}&project={project}")).await;
        assert_eq!(status, 200, "{split}: {s}");
        let got = series_total(&s);
        assert!((got - want).abs() < 1e-3, "{split}: got {got}, want {want}");
        let (status, s) = get(&server, &admin, &format!("{path}&project=no-such-project")).await;
        assert_eq!(status, 200, "{split}: {s}");
        assert_eq!(s["lines"], json!([]), "{split}");
    }

    let heat_total = |h: &Value| -> i64 {
        h["cells"]
            .as_array()
            .unwrap_or_else(|| panic!("{h}"))
            .iter()
            .flat_map(|d| d.as_array().unwrap())
            .map(|n| n.as_i64().unwrap())
            .sum()
    };
    let path = format!("/api/v1/dashboard/charts?widget=heatmap&{RANGE}");
    let (status, all) = get(&server, &admin, &path).await;
    assert_eq!(status, 200, "{all}");
    let (status, one) = get(&server, &admin, &format!("{path}&project={project}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(heat_total(&one), work);
    assert!(heat_total(&all) > work, "{all}");
    let (status, none) = get(&server, &admin, &format!("{path}&project=no-such-project")).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(heat_total(&none), 0);

    // No row has both a project and a tool: the pair is refused by name.
    let (status, body) = get(
        &server,
        &admin,
        &format!("{path}&project={project}&tool=Read"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("/tool"), "{body}");

    // The page narrowed to nothing says so, offers no onboarding, and its form holds the
    // filter as served (a submit before the WASM keeps it).
    let html = page(
        &server,
        &client(),
        &admin,
        &format!("/?{RANGE}&project=no-such-project"),
    )
    .await;
    assert!(html.contains(r#"id="nothing-matches""#));
    assert!(!html.contains(r#"id="onboarding""#));
    assert!(
        html.contains(r#"id="f-project" list="dl-project" value="no-such-project""#),
        "the project field's value is in the HTML"
    );
    server.shutdown().await;
}
