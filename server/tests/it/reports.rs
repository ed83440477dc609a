//! Reports end to end: a weekly report queued by the sweep reaches a real SMTP server with a
//! PDF (Chromium's, read back by `pdftotext`) and CSV that add up to the dashboard's numbers;
//! a dashboard prints to PDF for those who may export; who may receive what is checked;
//! periods follow the workspace's zone.

use std::{collections::BTreeMap, process::Command};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    common::{call, client, fixtures::people, login, python, server_dir, user_id, TestServer},
    email::{header, SmtpSink},
};

/// The site's own chart script sits in `public/` once `make setup` has run.
fn public() -> std::path::PathBuf {
    server_dir().join("../public")
}

/// Sends API requests by `key` at `at`: one per cost, in one session.
async fn spend(server: &TestServer, key: &str, tag: &str, at: DateTime<Utc>, costs: &[f64]) {
    let items: Vec<Value> = costs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({ "type": "api_request", "request_id": format!("{tag}-{i}"),
                    "session_id": format!("{tag}-session"), "model": "claude-sonnet-4-5",
                    "input_tokens": 1000, "output_tokens": 500, "cost_usd": c,
                    "timestamp": at.to_rfc3339() })
        })
        .collect();
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", key)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Each attachment of a raw e-mail, by file name (Python's e-mail parser does the MIME).
fn attachments(message: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("message.eml");
    std::fs::write(&raw, message).unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(
            "import email, sys, os\n\
             m = email.message_from_binary_file(open(sys.argv[1], 'rb'))\n\
             for p in m.walk():\n\
             \x20   n = p.get_filename()\n\
             \x20   if n:\n\
             \x20       open(os.path.join(sys.argv[2], n), 'wb').write(p.get_payload(decode=True))\n",
        )
        .arg(&raw)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "message.eml")
        .map(|n| {
            let bytes = std::fs::read(dir.path().join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// The text `pdftotext` reads out of a PDF.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; `make setup` installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn reporter(server: &TestServer) -> server::reports::Reporter {
    let sealer = store::sealing::Sealer::new(Some(&"5e".repeat(32)), None).unwrap();
    server::reports::Reporter::new(
        server.db.store.clone(),
        std::sync::Arc::new(sealer),
        server::reports::pdf::Printer::new(None, &public()),
        "http://localhost",
    )
}

#[tokio::test]
async fn a_weekly_report_arrives_by_smtp_with_a_pdf_and_csv_of_the_dashboards_numbers() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let mut server = TestServer::start_with(|c| {
        c.smtp_url = Some(smtp);
        c.site_root = public();
    })
    .await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let admin_id = user_id(&server, &admin, "admin@demo.test").await;
    let viewer_id = user_id(&server, &admin, "viewer@demo.test").await;

    let (status, report) = call(
        &server,
        Method::POST,
        "/api/v1/reports",
        Some(&admin),
        Some(json!({ "name": "Weekly digest", "cadence": "weekly",
                     "recipients": [admin_id, viewer_id] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let id = report["id"].as_str().unwrap().to_string();
    // Next Monday at 07:00 (the workspace's zone is UTC).
    let due: DateTime<Utc> = report["next_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due.format("%a %H:%M").to_string(), "Mon 07:00", "{report}");
    assert!(due > Utc::now() && due - Utc::now() <= TimeDelta::days(7));

    // The sending due then covers the week before it: this week. Data inside it, and some
    // just before it that the report must leave out.
    let week_start = due - TimeDelta::days(7) - TimeDelta::hours(7);
    // An hour into it: always past (on a Monday before 07:00 the period is last week).
    let at = week_start + TimeDelta::hours(1);
    spend(&server, &keys["ana"], "rep-ana", at, &[1.25, 1.25]).await;
    spend(&server, &keys["bo"], "rep-bo", at, &[2.5]).await;
    spend(
        &server,
        &keys["chen"],
        "rep-old",
        week_start - TimeDelta::hours(2),
        &[40.0],
    )
    .await;

    // The sweep at the due time queues it once, and moves it a week on.
    let reports = reporter(&server);
    assert_eq!(reports.sweep(due).await.unwrap(), 1);
    assert_eq!(reports.sweep(due).await.unwrap(), 0, "a period goes once");
    let (_, list) = call(&server, Method::GET, "/api/v1/reports", Some(&admin), None).await;
    let next: DateTime<Utc> = list[0]["next_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, due + TimeDelta::days(7), "{list}");

    let mail = sink.wait_for(2).await;
    assert_eq!(mail.len(), 2, "one e-mail per recipient, sent once");
    let mut to: Vec<&str> = mail.iter().map(|m| header(m, "To")).collect();
    to.sort();
    assert_eq!(to, ["admin@demo.test", "viewer@demo.test"]);
    let m = &mail[0];
    assert!(header(m, "Subject").contains("Weekly digest"), "{m}");

    // The dashboard's numbers for the same week.
    let first_day = week_start.format("%Y-%m-%d").to_string();
    let q = format!(
        "/api/v1/dashboard/overview?from={}&to={}&grain=day",
        week_start.to_rfc3339().replace('+', "%2B"),
        (week_start + TimeDelta::days(7))
            .to_rfc3339()
            .replace('+', "%2B")
    );
    let (status, overview) = call(&server, Method::GET, &q, Some(&admin), None).await;
    assert_eq!(status, 200, "{overview}");
    let cost = overview["current"]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 5.0).abs() < 1e-9,
        "the week's $5, not the $40 before: {overview}"
    );

    let files = attachments(m);
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(
        names,
        [
            &format!("devpulse-weekly-digest-{first_day}.csv"),
            &format!("devpulse-weekly-digest-{first_day}.pdf")
        ]
    );
    // The CSV: one row a day, adding up to the dashboard's totals.
    let csv = String::from_utf8(files[&format!("devpulse-weekly-digest-{first_day}.csv")].clone())
        .unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 7, "{csv}");
    let sum = |name: &str| -> f64 {
        rows.iter()
            .map(|r| r[col(name)].parse::<f64>().unwrap())
            .sum()
    };
    assert!((sum("cost_usd") - cost).abs() < 1e-9, "{csv}");
    for (column, key) in [
        ("sessions", "sessions"),
        ("tool_executions", "tool_executions"),
    ] {
        assert_eq!(
            sum(column),
            overview["current"][key].as_f64().unwrap(),
            "{column}: {csv}"
        );
    }
    let tokens = [
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
    ]
    .iter()
    .map(|k| overview["current"][k].as_f64().unwrap())
    .sum::<f64>();
    assert_eq!(sum("tokens"), tokens, "{csv}");
    assert_eq!(tokens, 4500.0);

    // The PDF: Chromium's, with the headline numbers where pdftotext finds them.
    let pdf = &files[&format!("devpulse-weekly-digest-{first_day}.pdf")];
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(pdf);
    assert!(text.contains("Weekly digest"), "{text}");
    assert!(text.contains("$5.00"), "the cost tile: {text}");
    assert!(text.contains("4.5k"), "the tokens tile: {text}");
    // A viewer receives it, so it names nobody: no per-person table, no sessions list.
    assert!(!text.contains("ana@demo.test"), "{text}");
    assert!(!text.contains("People"), "{text}");
    // The body leads with the same numbers.
    assert!(m.contains("$5.00"), "{m}");

    // The sending is listed with its files, which its recipients may download.
    let (_, list) = call(&server, Method::GET, "/api/v1/reports", Some(&admin), None).await;
    let run = &list[0]["runs"][0];
    assert_eq!(run["first_day"], first_day.as_str(), "{list}");
    assert_eq!(run["pdf"], true);
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let r = client()
        .get(server.url(&format!(
            "/api/v1/reports/{id}/runs/{}/report.csv",
            run["id"].as_str().unwrap()
        )))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The same rows (line ends aside: e-mail's text parts have their own).
    assert_eq!(
        r.text().await.unwrap().replace("\r\n", "\n"),
        csv.replace("\r\n", "\n")
    );
    // Someone it does not go to does not see it at all.
    let ana = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    let (_, theirs) = call(&server, Method::GET, "/api/v1/reports", Some(&ana), None).await;
    assert_eq!(theirs, json!([]));
    let (status, _) = call(
        &server,
        Method::GET,
        &format!(
            "/api/v1/reports/{id}/runs/{}/report.pdf",
            run["id"].as_str().unwrap()
        ),
        Some(&ana),
        None,
    )
    .await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn dashboards_print_for_those_who_export_and_reports_go_only_to_who_sees_them() {
    let mut server = TestServer::start_with(|c| c.site_root = public()).await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let ana = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    spend(
        &server,
        &keys["ana"],
        "pdf-ana",
        Utc::now() - TimeDelta::minutes(5),
        &[3.0],
    )
    .await;
    spend(
        &server,
        &keys["bo"],
        "pdf-bo",
        Utc::now() - TimeDelta::minutes(5),
        &[4.0],
    )
    .await;

    // The admin's dashboard, everyone's numbers and names.
    let r = client()
        .get(server.url("/api/v1/reports/pdf?range=7d"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let text = pdf_text(&r.bytes().await.unwrap());
    assert!(
        text.contains("$7.00") && text.contains("Last 7 days"),
        "{text}"
    );
    assert!(text.contains("ana@demo.test"), "the people table: {text}");
    // A developer's is their own.
    let r = client()
        .get(server.url("/api/v1/reports/pdf?range=7d"))
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = pdf_text(&r.bytes().await.unwrap());
    assert!(text.contains("$3.00") && !text.contains("$7.00"), "{text}");
    // Every widget's numbers at once, as JSON and as one row per number.
    let (status, all) = call(
        &server,
        Method::GET,
        "/api/v1/reports/export?range=7d",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["dashboard"], "Dashboard");
    let widgets: Vec<&str> = all["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["widget"].as_str().unwrap())
        .collect();
    assert!(
        widgets.contains(&"people") && !widgets.contains(&"live"),
        "{widgets:?}"
    );
    let mix = all["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["widget"] == "model_mix")
        .unwrap();
    assert_eq!(mix["data"]["rows"][0]["cost_usd"], 7.0, "{mix}");
    let r = client()
        .get(server.url("/api/v1/reports/export?range=7d&format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("widget,title,row,column,value\r\n"),
        "{csv}"
    );
    let cost: f64 = csv
        .lines()
        .filter(|l| l.starts_with("model_mix,") && l.contains(",cost_usd,"))
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(cost, 7.0, "{csv}");
    // Viewers read reports sent to them but take nothing away.
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/reports/export",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/reports/pdf",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, problem) = call(
        &server,
        Method::GET,
        "/api/v1/reports/pdf?board=nope",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/board", "{problem}");

    // Who may receive what: a developer's report is about them alone, which a viewer (who
    // sees totals only) does not see; nobody outside the workspace receives anything.
    let viewer_id = user_id(&server, &admin, "viewer@demo.test").await;
    let ana_id = user_id(&server, &admin, "ana@demo.test").await;
    let (status, problem) = call(
        &server,
        Method::POST,
        "/api/v1/reports",
        Some(&ana),
        Some(json!({ "name": "Mine", "cadence": "monthly", "recipients": [ana_id, viewer_id] })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/recipients", "{problem}");
    // Named by id: only those who manage people learn an address from one.
    let detail = problem["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&viewer_id) && !detail.contains("viewer@"),
        "{detail}"
    );
    let (status, problem) = call(
        &server,
        Method::POST,
        "/api/v1/reports",
        Some(&ana),
        Some(json!({ "name": "Mine", "cadence": "monthly",
                     "recipients": [uuid::Uuid::new_v4()] })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let (status, mine) = call(
        &server,
        Method::POST,
        "/api/v1/reports",
        Some(&ana),
        Some(json!({ "name": "Mine", "cadence": "monthly", "recipients": [ana_id] })),
    )
    .await;
    assert_eq!(status, 201, "{mine}");
    let due: DateTime<Utc> = mine["next_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due.format("%d %H:%M").to_string(), "01 07:00", "{mine}");
    // A viewer keeps no reports; the admin changes anyone's, ana only her own.
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/reports",
        Some(&viewer),
        Some(json!({ "name": "No", "cadence": "weekly", "recipients": [viewer_id] })),
    )
    .await;
    assert_eq!(status, 403);
    let path = format!("/api/v1/reports/{}", mine["id"].as_str().unwrap());
    let (status, changed) = call(
        &server,
        Method::PUT,
        &path,
        Some(&admin),
        Some(
            json!({ "name": "Ana's month", "cadence": "monthly", "recipients": [ana_id],
                     "enabled": false }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["owner_email"], "ana@demo.test", "it stays hers");
    assert_eq!(
        changed["next_at"], mine["next_at"],
        "the same cadence keeps its clock"
    );
    let (status, _) = call(&server, Method::DELETE, &path, Some(&ana), None).await;
    assert_eq!(status, 204);

    // A sending made for people who see names stays theirs: a viewer added later receives
    // what comes next, not the files made before.
    let admin_id = user_id(&server, &admin, "admin@demo.test").await;
    let (status, report) = call(
        &server,
        Method::POST,
        "/api/v1/reports",
        Some(&admin),
        Some(json!({ "name": "Admins only", "cadence": "weekly", "recipients": [admin_id] })),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    let path = format!("/api/v1/reports/{}", report["id"].as_str().unwrap());
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("{path}/send"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let (_, list) = call(&server, Method::GET, "/api/v1/reports", Some(&admin), None).await;
        if let Some(run) = list[0]["runs"].as_array().and_then(|r| r.first()) {
            break run["id"].as_str().unwrap().to_string();
        }
        assert!(tokio::time::Instant::now() < deadline, "never sent: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (status, _) = call(
        &server,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({ "name": "Admins only", "cadence": "weekly",
                     "recipients": [admin_id, viewer_id] })),
    )
    .await;
    assert_eq!(status, 200);
    let file = format!("{path}/runs/{run}/report.csv");
    let (status, _) = call(&server, Method::GET, &file, Some(&admin), None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, Method::GET, &file, Some(&viewer), None).await;
    assert_eq!(status, 404, "made for readers of names");
    server.shutdown().await;
}

#[tokio::test]
async fn report_periods_are_whole_local_weeks_and_months() {
    let mut server = TestServer::start().await;
    people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, _) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/time-zone",
        Some(&admin),
        Some(json!({ "time_zone": "Asia/Kolkata" })),
    )
    .await;
    assert_eq!(status, 200);
    let tenant =
        store::tenants::find_by_slug(server.db.store.pool(), &store::Slug::parse("demo").unwrap())
            .await
            .unwrap();
    let mut tx = server.db.store.tenant_tx(tenant.scope()).await.unwrap();
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    use store::reports::{next_at, period, Cadence};
    // Sunday noon UTC is Sunday evening in India: next is Monday 07:00 there (01:30 UTC).
    let sunday = t("2026-12-06T12:00:00Z");
    let monday = next_at(&mut tx, Cadence::Weekly, sunday).await.unwrap();
    assert_eq!(monday, t("2026-12-07T01:30:00Z"));
    // Monday 07:00 exactly has gone: the next is a week on.
    assert_eq!(
        next_at(&mut tx, Cadence::Weekly, monday).await.unwrap(),
        t("2026-12-14T01:30:00Z")
    );
    let week = period(&mut tx, Cadence::Weekly, monday).await.unwrap();
    assert_eq!(week.words(), "Nov 30 – Dec 6, 2026");
    assert_eq!(
        (week.from, week.to),
        (t("2026-11-29T18:30:00Z"), t("2026-12-06T18:30:00Z"))
    );
    let first = next_at(&mut tx, Cadence::Monthly, sunday).await.unwrap();
    assert_eq!(first, t("2027-01-01T01:30:00Z"));
    let month = period(&mut tx, Cadence::Monthly, first).await.unwrap();
    assert_eq!(month.words(), "Dec 1 – Dec 31, 2026");
    assert_eq!(month.to - month.from, TimeDelta::days(31));
    tx.commit().await.unwrap();
    server.shutdown().await;
}
