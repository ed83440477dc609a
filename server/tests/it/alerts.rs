//! Alert rules end to end: judged as data arrives, firing once when crossed, resolving only
//! past the clear level, never flapping around the threshold; heard of by those who see the
//! numbers (the bell, e-mail), and refused by field when wrong.

use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{call, client, fixtures::people, login, TestServer};

/// Posts `items` to the batch API as `key`; the batch must be accepted.
async fn batch(server: &TestServer, key: &str, items: &impl serde::Serialize) {
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", key)
        .json(items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Sends `n` tool runs of Bash by `key`, succeeded or failed, a minute ago.
async fn runs(server: &TestServer, key: &str, tag: &str, n: usize, success: bool) {
    let at = (Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339();
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "type": "tool_use", "tool_name": "Bash", "tool_use_id": format!("{tag}-{i}"),
                    "session_id": "alerts-session", "success": success, "timestamp": at })
        })
        .collect();
    batch(server, key, &items).await;
}

/// Sends one API request costing `cost` by `key`, a minute ago.
async fn spend(server: &TestServer, key: &str, id: &str, cost: f64) {
    let at = (Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339();
    batch(
        server,
        key,
        &json!([{ "type": "api_request", "request_id": id, "session_id": "alerts-spend",
                        "model": "claude-sonnet-4-5", "input_tokens": 10, "cost_usd": cost,
                        "timestamp": at }]),
    )
    .await;
}

async fn rules(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, list) = call(server, Method::GET, "/api/v1/alerts", Some(token), None).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// Waits until the rule `id` has been judged at `value` (the evaluation after a write), and
/// returns it.
async fn judged_at(server: &TestServer, token: &str, id: &str, value: f64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rule = rules(server, token)
            .await
            .into_iter()
            .find(|r| r["id"] == id)
            .expect("the rule");
        if rule["last_value"]
            .as_f64()
            .is_some_and(|v| (v - value).abs() < 1e-6)
        {
            return rule;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rule was not judged at {value}: {rule}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn history(server: &TestServer, token: &str, id: &str) -> Vec<String> {
    let (status, events) = call(
        server,
        Method::GET,
        &format!("/api/v1/alerts/history?rule={id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    // Oldest first, as the story is told.
    let mut states: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}@{}", e["state"].as_str().unwrap(), e["value"]))
        .collect();
    states.reverse();
    states
}

async fn inbox(server: &TestServer, token: &str) -> Value {
    let (status, inbox) = call(
        server,
        Method::GET,
        "/api/v1/notifications",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    inbox
}

#[tokio::test]
async fn a_rule_fires_once_resolves_past_its_clear_level_and_never_flaps() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, rule) = call(
        &server,
        Method::POST,
        "/api/v1/alerts",
        Some(&admin),
        Some(
            json!({ "name": "Bash failing", "metric": "failure_rate", "direction": "above",
                     "threshold": 20, "clear": 10, "window_minutes": 60,
                     "filters": { "tool": "Bash" } }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let id = rule["id"].as_str().unwrap().to_string();
    assert_eq!(rule["state"], "ok");
    assert_eq!(
        rule["mine"],
        json!({ "in_app": true, "email": false }),
        "the owner hears of it"
    );

    let ana = &keys["ana"];
    // One failure in one run: 100%, past 20%: it fires.
    runs(&server, ana, "a", 1, false).await;
    let r = judged_at(&server, &admin, &id, 100.0).await;
    assert_eq!(r["state"], "firing");
    // Four successes: 1 in 5 = 20%, not under the clear level: still the one firing.
    runs(&server, ana, "b", 4, true).await;
    assert_eq!(
        judged_at(&server, &admin, &id, 20.0).await["state"],
        "firing"
    );
    // Two more: 1 in 7 = 14.3%, under the threshold, over the clear level: no resolving.
    runs(&server, ana, "c", 2, true).await;
    assert_eq!(
        judged_at(&server, &admin, &id, 100.0 / 7.0).await["state"],
        "firing"
    );
    // Three more: 1 in 10 = 10%, at the clear level: resolved.
    runs(&server, ana, "d", 3, true).await;
    assert_eq!(judged_at(&server, &admin, &id, 10.0).await["state"], "ok");
    // Back over the clear level but not past the threshold: 2 in 11 = 18.2%: stays resolved.
    runs(&server, ana, "e", 1, false).await;
    assert_eq!(
        judged_at(&server, &admin, &id, 200.0 / 11.0).await["state"],
        "ok"
    );
    // 3 in 12 = 25%: fires again.
    runs(&server, ana, "f", 1, false).await;
    assert_eq!(
        judged_at(&server, &admin, &id, 25.0).await["state"],
        "firing"
    );
    // Other tools do not count.
    let at = (Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339();
    batch(
        &server,
        ana,
        &json!([{ "type": "tool_use", "tool_name": "Read", "tool_use_id": "g-0",
                  "session_id": "alerts-session", "success": false, "timestamp": at }]),
    )
    .await;
    assert_eq!(
        judged_at(&server, &admin, &id, 25.0).await["state"],
        "firing"
    );

    assert_eq!(
        history(&server, &admin, &id).await,
        vec!["firing@100.0", "ok@10.0", "firing@25.0"],
        "exactly one event per crossing"
    );
    let bell = inbox(&server, &admin).await;
    assert_eq!(bell["unread"], 3, "{bell}");
    assert_eq!(
        bell["items"][0]["event"]["state"], "firing",
        "newest first: {bell}"
    );
    // Read: the bell is empty of news, the items stay.
    let (status, after) = call(
        &server,
        Method::POST,
        "/api/v1/notifications/read",
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["unread"], 0);
    assert_eq!(after["items"].as_array().unwrap().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn people_hear_of_rules_whose_numbers_they_see_by_the_bell_and_by_email() {
    let sink = crate::email::SmtpSink::start().await;
    let smtp = sink.url();
    let mut server = TestServer::start_with(|c| c.smtp_url = Some(smtp)).await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let dev = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    // A workspace budget, and a rule on how much of it is used.
    let (status, budget) = call(
        &server,
        Method::POST,
        "/api/v1/budgets",
        Some(&admin),
        Some(json!({ "scope": "workspace", "period": "month", "usd": 10 })),
    )
    .await;
    assert_eq!(status, 200, "{budget}");
    let (status, rule) = call(
        &server,
        Method::POST,
        "/api/v1/alerts",
        Some(&admin),
        Some(
            json!({ "name": "Half the budget", "metric": "budget_used", "direction": "above",
                     "threshold": 50, "budget_id": budget["id"] }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let id = rule["id"].as_str().unwrap().to_string();
    let sub = format!("/api/v1/alerts/{id}/subscription");
    // The admin also wants an e-mail.
    let (status, r) = call(
        &server,
        Method::PUT,
        &sub,
        Some(&admin),
        Some(json!({ "in_app": true, "email": true })),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    // A viewer sees the workspace's totals: they may hear of it. A developer sees only their
    // own numbers: the rule is not theirs to see, let alone hear of.
    let (status, r) = call(
        &server,
        Method::PUT,
        &sub,
        Some(&viewer),
        Some(json!({ "in_app": true, "email": false })),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let (status, _) = call(
        &server,
        Method::PUT,
        &sub,
        Some(&dev),
        Some(json!({ "in_app": true, "email": false })),
    )
    .await;
    assert_eq!(status, 404);
    assert!(rules(&server, &dev).await.is_empty());
    // Nor may they change or delete it.
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/alerts/{id}"),
        Some(&dev),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // $6 of $10: 60%.
    spend(&server, &keys["bo"], "alerts-1", 6.0).await;
    let r = judged_at(&server, &admin, &id, 60.0).await;
    assert_eq!(r["state"], "firing");
    for token in [&admin, &viewer] {
        let bell = inbox(&server, token).await;
        assert_eq!(bell["unread"], 1, "{bell}");
        assert_eq!(
            bell["items"][0]["event"]["rule_name"], "Half the budget",
            "{bell}"
        );
    }
    assert_eq!(inbox(&server, &dev).await["unread"], 0);
    // The e-mail is queued for the admin alone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, emails) =
            call(&server, Method::GET, "/api/v1/emails", Some(&admin), None).await;
        assert_eq!(status, 200, "{emails}");
        let alerts: Vec<&Value> = emails
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["template"] == "alert")
            .collect();
        if !alerts.is_empty() {
            assert_eq!(alerts.len(), 1, "{emails}");
            assert_eq!(alerts[0]["to"], "admin@demo.test");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no alert e-mail: {emails}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And it reaches the SMTP server, once.
    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(crate::email::header(&mail[0], "To"), "admin@demo.test");
    assert!(mail[0].contains("Half the budget"), "{}", mail[0]);
    server.shutdown().await;
}

#[tokio::test]
async fn rules_are_refused_by_field_and_kept_by_their_owners() {
    let mut server = TestServer::start().await;
    people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    let ok = json!({ "name": "Mine", "metric": "cost_usd", "direction": "above", "threshold": 5 });
    for (patch, pointer) in [
        (json!({ "name": "" }), "/name"),
        (json!({ "metric": "happiness" }), "/metric"),
        (json!({ "threshold": -1 }), "/threshold"),
        (json!({ "clear": 9 }), "/clear"),
        (json!({ "window_minutes": 1 }), "/window_minutes"),
        (json!({ "metric": "budget_used" }), "/budget_id"),
        (
            json!({ "hours": { "from_hour": 18, "to_hour": 9, "weekdays": true } }),
            "/hours",
        ),
    ] {
        let mut body = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, problem) = call(
            &server,
            Method::POST,
            "/api/v1/alerts",
            Some(&dev),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        let pointers: Vec<&str> = problem["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["pointer"].as_str()).collect())
            .unwrap_or_default();
        assert!(pointers.contains(&pointer), "{body}: {problem}");
    }
    // A developer's rule reads their own numbers: naming someone else is refused.
    let (status, problem) = call(
        &server,
        Method::POST,
        "/api/v1/alerts",
        Some(&dev),
        Some(
            json!({ "name": "Theirs", "metric": "cost_usd", "direction": "above", "threshold": 5,
                     "filters": { "team": uuid::Uuid::new_v4() } }),
        ),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    // Their own rule: theirs to change; a tenant admin sees it and may change it too.
    let (status, rule) = call(
        &server,
        Method::POST,
        "/api/v1/alerts",
        Some(&dev),
        Some(ok.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let id = rule["id"].as_str().unwrap();
    let (status, changed) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/alerts/{id}"),
        Some(&admin),
        Some(
            json!({ "name": "Mine, renamed", "metric": "cost_usd", "direction": "above",
                     "threshold": 7 }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["owner_name"], "ana@demo.test");
    assert_eq!(changed["threshold"], 7.0);
    assert!((changed["clear"].as_f64().unwrap() - 6.3).abs() < 1e-9);
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/alerts/{id}"),
        Some(&dev),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(rules(&server, &admin).await.is_empty());
    crate::common::assert_actions_listed(&server).await;
    server.shutdown().await;
}

/// Silence wakes no write: the scheduler's sweep judges every workspace's rules (here every
/// second instead of every minute).
#[tokio::test]
async fn the_sweep_judges_rules_no_write_wakes() {
    let mut server = TestServer::start_with(|c| {
        c.schedules = server::jobs::schedules(|var| {
            (var == "DEVPULSE_SCHEDULE_ALERTS").then(|| "* * * * * *".to_string())
        })
        .unwrap()
    })
    .await;
    people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, rule) = call(
        &server,
        Method::POST,
        "/api/v1/alerts",
        Some(&admin),
        Some(
            json!({ "name": "Quiet", "metric": "activity", "direction": "below",
                     "threshold": 1, "window_minutes": 5 }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let id = rule["id"].as_str().unwrap();
    let rule = judged_at(&server, &admin, id, 0.0).await;
    assert_eq!(rule["state"], "firing", "nothing happened: below 1");
    assert_eq!(history(&server, &admin, id).await, vec!["firing@0.0"]);
    server.shutdown().await;
}

/// Five weeks of ordinary days for two people, and one of them spending eight times the
/// usual three days ago: that day is flagged for her (and the workspace), with the numbers
/// that made it one; his ordinary weeks are not.
#[tokio::test]
async fn an_unusual_day_is_flagged_with_its_numbers_and_ordinary_weeks_are_not() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let today = Utc::now().date_naive();
    let odd = today - chrono::Days::new(3);
    for (who, noise) in [
        ("ana", [0.0; 7]),
        ("bo", [0.0, 0.5, -0.4, 0.9, -0.7, 0.3, -0.2]),
    ] {
        daily_spend(&server, &keys[who], who, 1..=35, |k| {
            if who == "ana" && k == 3 {
                80.0
            } else {
                10.0 + noise[k as usize % 7]
            }
        })
        .await;
    }
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, found) = call(
        &server,
        Method::GET,
        "/api/v1/anomalies?days=14",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let found = found.as_array().unwrap();
    let of =
        |name: &str| -> Vec<&Value> { found.iter().filter(|a| a["who"]["name"] == name).collect() };
    let ana = of("ana@demo.test");
    assert_eq!(ana.len(), 1, "{found:?}");
    assert_eq!(ana[0]["signal"], "cost_usd");
    assert_eq!(ana[0]["day"], odd.to_string());
    assert_eq!(ana[0]["value"], 80.0);
    assert_eq!(ana[0]["median"], 10.0);
    assert!(ana[0]["history"].as_u64().unwrap() >= 3);
    assert!(of("bo@demo.test").is_empty(), "ordinary weeks: {found:?}");
    assert!(
        found
            .iter()
            .any(|a| a["who"]["kind"] == "workspace" && a["day"] == odd.to_string()),
        "{found:?}"
    );
    // Less touchy: still flagged (70 spreads is wild); refused by field when out of range.
    let (_, wild) = call(
        &server,
        Method::GET,
        "/api/v1/anomalies?sensitivity=10",
        Some(&admin),
        None,
    )
    .await;
    assert!(wild
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["who"]["name"] == "ana@demo.test"));
    let (status, problem) = call(
        &server,
        Method::GET,
        "/api/v1/anomalies?sensitivity=50",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    // Bo sees his own days only: nothing unusual; a viewer sees the workspace's, no names.
    let bo = login(&server, "demo", "bo@demo.test", "bo-password-123").await;
    let (_, mine) = call(&server, Method::GET, "/api/v1/anomalies", Some(&bo), None).await;
    assert_eq!(mine, json!([]));
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let (_, totals) = call(
        &server,
        Method::GET,
        "/api/v1/anomalies",
        Some(&viewer),
        None,
    )
    .await;
    let totals = totals.as_array().unwrap();
    assert!(!totals.is_empty());
    assert!(
        totals.iter().all(|a| a["who"]["kind"] == "workspace"),
        "{totals:?}"
    );
    server.shutdown().await;
}

/// Sends one API request per day `k` days ago (noon UTC, the workspace's zone), costing what
/// `cost(k)` says, as `who` in one session.
async fn daily_spend(
    server: &TestServer,
    key: &str,
    who: &str,
    days: std::ops::RangeInclusive<u64>,
    cost: impl Fn(u64) -> f64,
) {
    let today = Utc::now().date_naive();
    let items: Vec<Value> = days
        .map(|k| {
            let day = today - chrono::Days::new(k);
            json!({ "type": "api_request", "request_id": format!("{who}-day-{k}"),
                    "session_id": format!("{who}-days"), "model": "claude-sonnet-4-5",
                    "input_tokens": 10, "cost_usd": cost(k),
                    "timestamp": format!("{day}T12:00:00Z") })
        })
        .collect();
    batch(server, key, &items).await;
}

/// An unusual-day rule reads yesterday against the same weekday's usual, in spreads: an
/// ordinary yesterday keeps it quiet, an unusual one fires it once (and it stays one firing
/// however often it is judged), and a day with fewer than three same weekdays behind it has no
/// value at all. Each developer's rule reads their own days.
#[tokio::test]
async fn an_unusual_day_rule_fires_once_for_yesterday_and_never_on_a_short_history() {
    let mut server = TestServer::start_with(|c| {
        c.schedules = server::jobs::schedules(|var| {
            (var == "DEVPULSE_SCHEDULE_ALERTS").then(|| "* * * * * *".to_string())
        })
        .unwrap()
    })
    .await;
    let keys = people(&server).await;
    // Five weeks of $10 days, yesterday included, for Ana; the same for Chen but $80
    // yesterday; ten days for Bo, yesterday wild.
    daily_spend(&server, &keys["ana"], "ana", 1..=35, |_| 10.0).await;
    daily_spend(&server, &keys["chen"], "chen", 1..=35, |k| {
        if k == 1 {
            80.0
        } else {
            10.0
        }
    })
    .await;
    daily_spend(&server, &keys["bo"], "bo", 1..=10, |k| {
        if k == 1 {
            500.0
        } else {
            10.0
        }
    })
    .await;
    let rule = |name: &str| {
        json!({ "name": name, "metric": "unusual_cost", "direction": "above", "threshold": 3.5,
                "window_minutes": 60 })
    };
    let mut made = vec![];
    for who in ["ana", "chen", "bo"] {
        let token = login(
            &server,
            "demo",
            &format!("{who}@demo.test"),
            &format!("{who}-password-123"),
        )
        .await;
        let (status, r) = call(
            &server,
            Method::POST,
            "/api/v1/alerts",
            Some(&token),
            Some(rule(&format!("{who}'s odd days"))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["window_minutes"], 1440, "always the last whole day");
        made.push((token, r["id"].as_str().unwrap().to_string()));
    }
    let [(ana, ana_rule), (chen, chen_rule), (bo, bo_rule)] = made.try_into().unwrap();
    // Ana's yesterday was $10 like the same weekday before it: a median of $10, a spread of
    // $1 (the floor), 0 spreads away.
    let quiet = judged_at(&server, &ana, &ana_rule, 0.0).await;
    assert_eq!(quiet["state"], "ok", "{quiet}");
    // Chen's $80 against a usual $10 is 70 spreads: it fires.
    let fired = judged_at(&server, &chen, &chen_rule, 70.0).await;
    assert_eq!(fired["state"], "firing", "{fired}");
    // One firing, heard of in Chen's bell.
    assert_eq!(
        history(&server, &chen, &chen_rule).await,
        vec!["firing@70.0"]
    );
    let bell = inbox(&server, &chen).await;
    assert_eq!(
        bell["items"][0]["event"]["metric"], "unusual_cost",
        "{bell}"
    );
    assert!(history(&server, &ana, &ana_rule).await.is_empty());

    // Bo's $500 yesterday has one earlier same weekday behind it: no verdict, no firing.
    let his = rules(&server, &bo)
        .await
        .into_iter()
        .find(|r| r["id"] == bo_rule.as_str())
        .expect("his rule");
    assert!(!his["evaluated_at"].is_null(), "judged by the sweep: {his}");
    assert!(his["last_value"].is_null(), "{his}");
    assert_eq!(his["state"], "ok");
    assert!(history(&server, &bo, &bo_rule).await.is_empty());

    // Refused by field: below, a threshold that is not a distance, a project, a tool for
    // spend, a model for the failure rate.
    for (body, pointer) in [
        (json!({ "direction": "below" }), "/direction"),
        (json!({ "threshold": 1 }), "/threshold"),
        (json!({ "filters": { "project": "web" } }), "/project"),
        (json!({ "filters": { "tool": "Bash" } }), "/tool"),
        (
            json!({ "metric": "unusual_failure_rate", "filters": { "model": "claude-sonnet-4-5" } }),
            "/model",
        ),
    ] {
        let mut wrong = rule("Wrong");
        wrong
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let (status, problem) = call(
            &server,
            Method::POST,
            "/api/v1/alerts",
            Some(&ana),
            Some(wrong),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        let pointers: Vec<&str> = problem["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["pointer"].as_str()).collect())
            .unwrap_or_default();
        assert!(pointers.contains(&pointer), "{problem}");
    }
    server.shutdown().await;
}
