//! The API's contract as clients meet it: the OpenAPI document and its docs page are served
//! (from our own assets), and the mistakes the schemathesis run in `make test` found stay
//! mended: errors nobody wrote are still problem+json, an array is not an object, a refused
//! filter is refused before a stream starts, and reactivating oneself signs no one out.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{call, client, login, seed_two_tenants, user_id, TestServer};

async fn problem(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(content_type, "application/problem+json", "{status}");
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn the_document_and_its_docs_page_are_served_from_our_own_assets() {
    let server = TestServer::start().await;
    let r = client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let overview = &doc["paths"]["/api/v1/dashboard/overview"]["get"];
    assert!(overview["description"]
        .as_str()
        .unwrap()
        .contains("metrics.view_all"));
    assert_eq!(
        overview["responses"]["200"]["content"]["application/json"]["schema"]["type"],
        "object"
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());

    let page = client().get(server.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    // The overview's entry, with its access rule and a link to its answer's schema.
    let entry = &html[html
        .find("id=\"op-get-api-v1-dashboard-overview\"")
        .expect("listed")..];
    let entry = &entry[..entry.find("</article>").unwrap()];
    assert!(entry.contains("metrics.view_all"), "{entry}");
    assert!(
        entry.contains("<a href=\"#schema-Preset\">Preset</a>"),
        "{entry}"
    );
    assert!(html.contains("id=\"schema-Preset\""));
    // Everything the page loads is ours: a CDN is a blank page offline.
    assert!(
        !html.contains("<script") && !html.contains("https://"),
        "{html}"
    );
}

#[tokio::test]
async fn errors_nobody_wrote_are_problem_json_too() {
    let server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;

    // axum's own refusals: a path id that is not a UUID, a method the route lacks.
    let r = client()
        .get(server.url("/api/v1/teams/not-a-uuid"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("UUID"), "{body}");
    let r = client()
        .patch(server.url("/api/v1/teams"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("allow"));
    assert_eq!(problem(r).await.0, 405);

    // serde would read a struct from an array by position; the API wants objects.
    let r = client()
        .put(server.url("/api/v1/settings/retention"))
        .bearer_auth(&admin)
        .json(&json!([null, null]))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(status, 422);
    assert!(body["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("not an array"));
}

/// PostgreSQL stores no NUL character: a body or query holding one is refused naming the
/// field (the fuzzer found both as 500s).
#[tokio::test]
async fn a_nul_character_is_refused_by_name() {
    let server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let r = client()
        .post(server.url("/api/v1/teams"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Plat\u{0}form" }))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/name", "{body}");
    let r = client()
        .get(server.url("/api/v1/dashboard/overview?range=7d&project=a%00b"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/project", "{body}");
}

/// An import's figures are stored as jsonb and read back on every look at the batch: a
/// number PostgreSQL would give back beyond f64's range (the fuzzer's 1.7976931348623157e308)
/// made every later read a 500; it is refused as it comes.
#[tokio::test]
async fn an_import_s_figures_come_back_as_they_went_in() {
    let server = TestServer::start().await;
    let keys = crate::common::fixtures::people(&server).await;
    let key = &keys["ana"];
    let new = |body: Value| {
        client()
            .post(server.url("/api/v1/imports"))
            .header("x-api-key", key)
            .json(&body)
            .send()
    };
    let batch: Value = new(json!({ "source": "contract test" }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = batch["id"].as_str().unwrap();
    let finish = |stats: &str| {
        client()
            .post(server.url(&format!("/api/v1/imports/{id}/finish")))
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(stats.to_string())
            .send()
    };
    let (status, body) = problem(
        finish(r#"{"files": 3, "bytes": 1.7976931348623157e308}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/bytes", "{body}");
    let r = finish(r#"{"files": 3, "bytes": 123456789}"#).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(server.url(&format!("/api/v1/imports/{id}")))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_refused_filter_is_refused_before_the_export_streams() {
    let server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    for format in ["json", "csv"] {
        let r = client()
            .get(server.url(&format!(
                "/api/v1/reports/export?format={format}&team=e3e70682-c209-1cac-a29f-6fbed82c07cd"
            )))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        let (status, body) = problem(r).await;
        assert_eq!(status, 404, "{body}");
    }
}

#[tokio::test]
async fn reactivating_someone_active_signs_no_one_out() {
    let server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let me = user_id(&server, &admin, "admin@demo.test").await;
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("/api/v1/users/{me}/reactivate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(&server, Method::GET, "/api/v1/profile", Some(&admin), None).await;
    assert_eq!(status, 200, "the session survived");

    // Deactivating still ends every session (and reactivating does not bring them back).
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let dev_id = user_id(&server, &admin, "dev@demo.test").await;
    for step in ["deactivate", "reactivate"] {
        let (status, body) = call(
            &server,
            Method::POST,
            &format!("/api/v1/users/{dev_id}/{step}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = call(&server, Method::GET, "/api/v1/profile", Some(&dev), None).await;
    assert_eq!(status, 401);
}
