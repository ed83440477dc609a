//! Raw exports: the events of a range as CSV and NDJSON, streamed, parsing back to the
//! dashboard's own numbers, each reader's people only.

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{call, client, fixtures::people, login, TestServer};

/// Splits one CSV line into its fields (quoted fields may hold commas and doubled quotes).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

async fn export(server: &TestServer, token: &str, q: &str) -> (u16, String) {
    let r = client()
        .get(server.url(&format!("/api/v1/exports/events?{q}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn events_export_as_csv_and_ndjson_and_add_up_to_the_dashboard() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let now = Utc::now();
    // 1,200 events: ana's requests (some with awkward session ids) and bo's tool runs.
    for (who, chunk) in [("ana", 0), ("ana", 1), ("bo", 0)] {
        let items: Vec<Value> = (0..400)
            .map(|i| {
                let at = (now - TimeDelta::minutes(30) + TimeDelta::milliseconds(i * 10)).to_rfc3339();
                if who == "ana" {
                    json!({ "type": "api_request", "request_id": format!("x-{chunk}-{i}"),
                            "session_id": format!("s,\"{chunk}\""), "model": "claude-sonnet-4-5",
                            "input_tokens": 100 + i, "cost_usd": 0.001 * (i as f64 + 1.0),
                            "timestamp": at })
                } else {
                    json!({ "type": "tool_use", "tool_name": "Bash", "tool_use_id": format!("t-{i}"),
                            "session_id": "bo-s", "success": i % 7 != 0, "timestamp": at })
                }
            })
            .collect();
        let r = client()
            .post(server.url("/api/v1/ingest/batch"))
            .header("x-api-key", keys[who].as_str())
            .json(&items)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let from = (now - TimeDelta::hours(1)).to_rfc3339();
    let to = (now + TimeDelta::minutes(1)).to_rfc3339();
    let range = format!("from={}&to={}", urlencode(&from), urlencode(&to));
    let (status, csv) = export(&server, &admin, &range).await;
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    let header = fields(lines.next().unwrap());
    assert_eq!(header[0], "occurred_at");
    assert_eq!(header.len(), 16);
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    let ours: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[1] == "ana@demo.test" || r[1] == "bo@demo.test")
        .collect();
    assert_eq!(ours.len(), 1200);
    assert!(
        rows.iter().all(|r| r.len() == 16),
        "every row has every column"
    );
    assert!(
        ours.iter().any(|r| r[4] == "s,\"0\""),
        "quoted fields come back whole"
    );
    // Oldest first.
    assert!(rows.windows(2).all(|w| w[0][0] <= w[1][0]));
    // The cost adds up to the dashboard's for the same range.
    let cost: f64 = rows.iter().filter_map(|r| r[13].parse::<f64>().ok()).sum();
    let (status, overview) = call(
        &server,
        Method::GET,
        &format!("/api/v1/dashboard/overview?{range}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{overview}");
    let dashboard = overview["current"]["cost_usd"].as_f64().unwrap();
    assert!((cost - dashboard).abs() < 1e-6, "{cost} vs {dashboard}");
    let failures = rows.iter().filter(|r| r[7] == "false").count() as i64;
    assert_eq!(
        failures,
        overview["current"]["tool_failures"].as_i64().unwrap()
    );

    // NDJSON: the same rows as objects.
    let (status, nd) = export(&server, &admin, &format!("{range}&format=ndjson")).await;
    assert_eq!(status, 200);
    let objects: Vec<Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), rows.len());
    assert_eq!(objects[0]["user"], rows[0][1].as_str());
    assert_eq!(objects[0]["kind"], rows[0][2].as_str());

    // A developer gets their own events only; a viewer none at all.
    let bo = login(&server, "demo", "bo@demo.test", "bo-password-123").await;
    let (status, mine) = export(&server, &bo, &range).await;
    assert_eq!(status, 200);
    let mine: Vec<Vec<String>> = mine.lines().skip(1).map(fields).collect();
    assert_eq!(mine.len(), 400);
    assert!(mine.iter().all(|r| r[1] == "bo@demo.test"));
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let (status, _) = export(&server, &viewer, &range).await;
    assert_eq!(status, 403);
    // Refused by field.
    for (q, pointer) in [
        ("format=xlsx", "/format"),
        ("from=yesterday", "/from"),
        ("from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "/to"),
        ("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "/to"),
    ] {
        let (status, body) = export(&server, &admin, q).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert!(body.contains(pointer), "{q}: {body}");
    }
    server.shutdown().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
