//! Saved dashboards (`/api/v1/dashboard/config` and the `boards/*` server functions): saves
//! over a version, refusals that name their field and keep what was saved, and workspace
//! boards reaching exactly the roles and teams they are published to.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{call, login, seed_two_tenants, server_fn, user_id, TestServer};

fn widget(key: &str, kind: &str, x: u16, y: u16, w: u16, h: u16) -> Value {
    json!({ "key": key, "widget": kind, "x": x, "y": y, "w": w, "h": h })
}

fn document(widgets: Vec<Value>) -> Value {
    json!({ "widgets": widgets })
}

fn two_widgets() -> Value {
    document(vec![
        widget("cost", "cost_over_time", 0, 0, 16, 10),
        widget("models", "model_mix", 16, 0, 8, 10),
    ])
}

async fn create(server: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/v1/dashboard/config",
        Some(token),
        Some(body),
    )
    .await
}

async fn get(server: &TestServer, token: &str, id: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/dashboard/config/{id}");
    call(server, Method::GET, &path, Some(token), None).await
}

async fn put(server: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    call(server, Method::PUT, path, Some(token), Some(body)).await
}

#[tokio::test]
async fn a_save_names_its_version_and_a_stale_one_writes_nothing() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;

    let (status, board) = create(
        &server,
        &dev,
        json!({ "name": "  Mine  ", "document": two_widgets() }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{board}");
    assert_eq!(board["name"], "Mine");
    assert_eq!(board["version"], 1);
    assert_eq!(board["editable"], true);
    let id = board["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/dashboard/config/{id}");

    // Tab one saves version 1 with the chart wider; tab two, still on version 1, is refused.
    let mut wider = two_widgets();
    wider["widgets"][1] = widget("models", "model_mix", 0, 10, 24, 10);
    let (status, saved) = put(
        &server,
        &dev,
        &path,
        json!({ "version": 1, "document": wider.clone() }),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 2);
    let (status, problem) = put(
        &server,
        &dev,
        &path,
        json!({ "version": 1, "name": "Theirs", "document": two_widgets() }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("stale-version"));
    assert!(problem["detail"].as_str().unwrap().contains("version 2"));
    let (_, now) = get(&server, &dev, &id).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["name"], "Mine");
    assert_eq!(now["document"], wider);

    // The server function refuses the same stale save the same way.
    let stale = two_widgets().to_string();
    let (status, _) = server_fn(
        &server,
        &dev,
        "boards/save",
        &[("id", &id), ("version", "1"), ("document", &stale)],
    )
    .await;
    assert_eq!(status, 409);
    let (status, fresh) = server_fn(
        &server,
        &dev,
        "boards/save",
        &[("id", &id), ("version", "2"), ("document", &stale)],
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["version"], 3);

    // Someone else's board is not there for them; deleting one's own is.
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    assert_eq!(get(&server, &manager, &id).await.0, 404);
    let (status, _) = put(
        &server,
        &manager,
        &path,
        json!({ "version": 3, "document": two_widgets() }),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(&server, Method::DELETE, &path, Some(&dev), None).await;
    assert_eq!(status, 204);
    assert_eq!(get(&server, &dev, &id).await.0, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn every_bad_document_is_refused_by_name_and_the_saved_one_stays() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let (_, board) = create(
        &server,
        &manager,
        json!({ "name": "Team", "document": two_widgets() }),
    )
    .await;
    let id = board["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/dashboard/config/{id}");
    let admin_id = user_id(&server, &admin, "admin@demo.test").await;

    let with = |w: Value| document(vec![widget("cost", "cost_over_time", 0, 0, 16, 10), w]);
    let mut filtered = widget("p", "heatmap", 0, 10, 12, 10);
    filtered["filters"] = json!({ "person": admin_id });
    let many: Vec<Value> = (0..101)
        .map(|i| widget(&format!("k{i}"), "heatmap", 0, i * 8, 8, 8))
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("not a document", json!({ "widgets": "all" }), "/document"),
        (
            "unknown field",
            json!({ "widgets": [], "theme": 1 }),
            "/document",
        ),
        (
            "unknown kind",
            with(widget("x", "crystal_ball", 0, 10, 8, 8)),
            "/document/widgets/1/widget",
        ),
        (
            "overlap",
            with(widget("x", "heatmap", 8, 4, 12, 10)),
            "/document/widgets/1",
        ),
        (
            "past the grid",
            with(widget("x", "heatmap", 20, 10, 8, 10)),
            "/document/widgets/1",
        ),
        (
            "too small",
            with(widget("x", "people", 0, 10, 2, 10)),
            "/document/widgets/1",
        ),
        (
            "split on a table",
            with(
                json!({ "key": "x", "widget": "teams", "x": 0, "y": 10, "w": 24, "h": 10,
                         "split": "model" }),
            ),
            "/document/widgets/1/split",
        ),
        (
            "a chart its kind does not draw",
            with(
                json!({ "key": "x", "widget": "heatmap", "x": 0, "y": 10, "w": 12, "h": 10,
                         "chart": "line" }),
            ),
            "/document/widgets/1/chart",
        ),
        (
            "filters on the live feed",
            with(
                json!({ "key": "x", "widget": "live", "x": 0, "y": 10, "w": 12, "h": 10,
                         "filters": { "range": "7d" } }),
            ),
            "/document/widgets/1/filters",
        ),
        (
            "key twice",
            with(widget("cost", "heatmap", 0, 10, 12, 10)),
            "/document/widgets/1/key",
        ),
        (
            "a hundred and one widgets",
            document(many),
            "/document/widgets",
        ),
        (
            "over 64 KiB",
            with(
                json!({ "key": "x", "widget": "heatmap", "x": 0, "y": 10, "w": 12, "h": 10,
                         "title": "t".repeat(70_000) }),
            ),
            "/document",
        ),
        (
            "a narrower width that is not a breakpoint",
            narrower(json!({ "cols": 6, "places": [] })),
            "/document/narrower/0/cols",
        ),
        (
            "a phone arrangement placing a widget not on the board",
            narrower(json!({ "cols": 1, "places": [spot("ghost", 0, 0, 1, 8)] })),
            "/document/narrower/0/places/0/key",
        ),
        (
            "a tablet arrangement with an overlap",
            narrower(json!({ "cols": 12,
                "places": [spot("cost", 0, 0, 8, 10), spot("models", 4, 5, 8, 10)] })),
            "/document/narrower/0/places/1",
        ),
        // The manager does not see the tenant admin: a board may not ask for them.
        (
            "someone out of view",
            with(filtered),
            "/document/widgets/1/filters/person",
        ),
    ];
    for (what, doc, pointer) in cases {
        for (status, problem) in [
            put(
                &server,
                &manager,
                &path,
                json!({ "version": 1, "document": doc.clone() }),
            )
            .await,
            create(
                &server,
                &manager,
                json!({ "name": what, "document": doc.clone() }),
            )
            .await,
        ] {
            assert_eq!(status, 422, "{what}: {problem}");
            assert_eq!(
                problem["errors"][0]["pointer"], pointer,
                "{what}: {problem}"
            );
        }
        // The server function names the same field.
        let json = doc.to_string();
        let (status, problem) = server_fn(
            &server,
            &manager,
            "boards/save",
            &[("id", &id), ("version", "1"), ("document", &json)],
        )
        .await;
        assert_eq!(status, 422, "{what}: {problem}");
        assert!(
            problem
                .to_string()
                .contains(pointer.trim_start_matches('/')),
            "{what}: {problem}"
        );
    }
    let (_, kept) = get(&server, &manager, &id).await;
    assert_eq!(kept["version"], 1);
    assert_eq!(kept["document"], two_widgets());
    let (_, list) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/config",
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(list["boards"].as_array().unwrap().len(), 1, "{list}");

    // A good one is kept as sent.
    let phones = narrower(json!({ "cols": 1,
        "places": [spot("models", 0, 0, 1, 12), spot("cost", 0, 12, 1, 10)] }));
    let (status, saved) = put(
        &server,
        &manager,
        &path,
        json!({ "version": 1, "document": phones.clone() }),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (_, kept) = get(&server, &manager, &id).await;
    assert_eq!(kept["document"], phones);
    server.shutdown().await;
}

/// The two widgets, arranged by hand for a narrower screen as `arrangement` says.
fn narrower(arrangement: Value) -> Value {
    let mut d = two_widgets();
    d["narrower"] = json!([arrangement]);
    d
}

fn spot(key: &str, x: u16, y: u16, w: u16, h: u16) -> Value {
    json!({ "key": key, "x": x, "y": y, "w": w, "h": h })
}

#[tokio::test]
async fn workspace_boards_reach_exactly_whom_they_are_published_to() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let boards_of = |token: String| {
        let server = &server;
        async move {
            call(
                server,
                Method::GET,
                "/api/v1/dashboard/config",
                Some(&token),
                None,
            )
            .await
            .1
        }
    };

    // Only dashboard managers make workspace boards; a viewer keeps none of their own.
    let (status, problem) = create(
        &server,
        &dev,
        json!({ "name": "Ours", "document": two_widgets(), "workspace": true }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/workspace");
    let (status, _) = create(
        &server,
        &viewer,
        json!({ "name": "Mine", "document": two_widgets() }),
    )
    .await;
    assert_eq!(status, 422);

    let (status, board) = create(
        &server,
        &admin,
        json!({ "name": "Managers' board", "document": two_widgets(), "workspace": true }),
    )
    .await;
    assert_eq!(status, 201, "{board}");
    assert_eq!(board["owner"], Value::Null);
    let id = board["id"].as_str().unwrap().to_string();
    let audience = format!("/api/v1/dashboard/config/{id}/audience");
    // Nobody but its makers sees it yet.
    assert_eq!(boards_of(dev.clone()).await["boards"], json!([]));

    // A developer may not publish (the access rule), and a team must exist.
    let (status, _) = put(
        &server,
        &dev,
        &audience,
        json!({ "default_for": ["manager"] }),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = put(
        &server,
        &admin,
        &audience,
        json!({ "shared_with": ["00000000-0000-0000-0000-000000000001"] }),
    )
    .await;
    assert_eq!(status, 404);
    let (status, published) = put(
        &server,
        &admin,
        &audience,
        json!({ "default_for": ["manager"] }),
    )
    .await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["default_for"], json!(["manager"]));

    // A manager who joins now finds it as their home, read-only.
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "new-manager@demo.test", "role": "manager",
                     "password": "new-manager-pass-1" })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let newcomer = login(
        &server,
        "demo",
        "new-manager@demo.test",
        "new-manager-pass-1",
    )
    .await;
    let theirs = boards_of(newcomer.clone()).await;
    assert_eq!(theirs["home"], id.as_str(), "{theirs}");
    assert_eq!(theirs["boards"][0]["editable"], false);
    assert_eq!(theirs["boards"][0]["home"], true);
    let (status, problem) = put(
        &server,
        &newcomer,
        &format!("/api/v1/dashboard/config/{id}"),
        json!({ "version": 1, "document": two_widgets() }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/id");
    // Their own choice of home wins over the role's default, and null goes back to it.
    let (_, own) = create(
        &server,
        &newcomer,
        json!({ "name": "Mine", "document": two_widgets() }),
    )
    .await;
    let own_id = own["id"].as_str().unwrap();
    let (status, _) = put(
        &server,
        &newcomer,
        "/api/v1/dashboard/home",
        json!({ "board": own_id }),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(boards_of(newcomer.clone()).await["home"], own_id);
    let (status, _) = server_fn(&server, &newcomer, "boards/home", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(boards_of(newcomer.clone()).await["home"], id.as_str());

    // A viewer sees a workspace board once it is shared with a team they belong to.
    assert_eq!(boards_of(viewer.clone()).await["boards"], json!([]));
    let (_, teams) = call(&server, Method::GET, "/api/v1/teams", Some(&admin), None).await;
    let team = teams[0]["id"].as_str().unwrap().to_string();
    let viewer_id = user_id(&server, &admin, "viewer@demo.test").await;
    let (status, _) = put(
        &server,
        &admin,
        &format!("/api/v1/teams/{team}/members/{viewer_id}"),
        json!({}),
    )
    .await;
    assert!(status.is_success());
    assert_eq!(boards_of(viewer.clone()).await["boards"], json!([]));
    put(&server, &admin, &audience, json!({ "shared_with": [team] })).await;
    let seen = boards_of(viewer.clone()).await;
    assert_eq!(seen["boards"][0]["id"], id.as_str(), "{seen}");
    assert_eq!(seen["boards"][0]["editable"], false);
    let (status, _) = get(&server, &viewer, &id).await;
    assert_eq!(status, 200);
    // Published for the team only now: the managers' default is gone.
    assert_eq!(boards_of(newcomer.clone()).await["home"], Value::Null);

    // Another workspace's people never see it.
    let other = login(&server, "other", "admin@other.test", "other-admin-pass").await;
    assert_eq!(get(&server, &other, &id).await.0, 404);
    server.shutdown().await;
}
