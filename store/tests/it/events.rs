//! The write model without HTTP: what `events::write` folds a batch into, each thing counted
//! once whichever sources report it and however often.

use chrono::TimeDelta;
use store::events::{Counter, Cumulative, Event, Kind, Source};

use crate::helpers::{at, day, event, request, tool_end, tool_start, usage, Tenant};

#[tokio::test]
async fn a_session_folds_from_its_start_and_end_in_any_order() {
    let t = Tenant::new().await;
    let u = t.user;
    let start = Kind::SessionStart {
        source: Some("startup".into()),
    };
    let mut start = event(u, "hook:SessionStart:1", start, Source::Hook, 0, "s1");
    start.cwd = Some("/home/ana/src/devpulse/".into());
    start.git_branch = Some("main".into());
    let end = Kind::SessionEnd {
        reason: Some("logout".into()),
    };
    let end = event(u, "hook:SessionEnd:1", end, Source::Hook, 600, "s1");

    // The end arrives first (a spooled start sent late): the session exists from then on.
    assert_eq!(t.write(&mut [end]).await.new, [true]);
    let s = t.session("s1").await;
    assert_eq!((s.started_at, s.ended_at), (at(600), Some(at(600))));
    assert_eq!(t.write(&mut [start]).await.new, [true]);
    // Then OTLP reports the same session, later.
    let otlp = event(u, "otlp:log:1", Kind::Other, Source::Otlp, 900, "s1");
    assert_eq!(t.write(&mut [otlp]).await.new, [true]);

    let s = t.session("s1").await;
    assert_eq!(s.user_id, u);
    assert_eq!(s.started_at, at(0));
    assert_eq!(s.last_seen_at, at(900));
    assert_eq!(s.ended_at, Some(at(600)));
    assert_eq!(s.start_source.as_deref(), Some("startup"));
    assert_eq!(s.end_reason.as_deref(), Some("logout"));
    assert_eq!(s.cwd.as_deref(), Some("/home/ana/src/devpulse/"));
    assert_eq!(s.project.as_deref(), Some("devpulse"));
    assert_eq!(s.git_branch.as_deref(), Some("main"));
    // What reported it first.
    assert_eq!(s.source.as_deref(), Some("hook"));
    assert_eq!(t.totals().await.sessions, 1);
    assert_eq!(t.count("sessions").await, 1);
    assert_eq!(t.count("events").await, 3);
}

#[tokio::test]
async fn a_tool_run_reported_by_pre_and_post_tool_use_and_otlp_counts_once() {
    let t = Tenant::new().await;
    let u = t.user;
    let mut batch = [
        tool_start(u, "s1", "toolu_1", "Bash", 0),
        tool_end(u, "s1", "toolu_1", "Bash", 2, true),
    ];
    assert_eq!(t.write(&mut batch).await.accepted(), 2);
    // OTLP's tool_result for the same run, with a duration of its own: the run is known.
    let mut otlp = tool_end(u, "s1", "toolu_1", "Bash", 2, true);
    otlp.key = "otlp:tool_result:toolu_1".into();
    otlp.source = Source::Otlp;
    otlp.duration_ms = Some(1_900);
    assert_eq!(t.write(&mut [otlp]).await.new, [true]);

    let totals = t.totals().await;
    assert_eq!(totals.counts.tool_executions, 1);
    assert_eq!(totals.counts.tool_failures, 0);
    assert_eq!(totals.counts.agent_invocations, 0);
    assert_eq!(totals.by_tool.get("Bash"), Some(&1));
    let s = t.session("s1").await;
    assert_eq!((s.counts.tool_executions, s.counts.tool_failures), (1, 0));
    // Paired without a reported duration: the time between the hooks, counted once.
    let mut tx = t.tx().await;
    let stats = store::activity::tool_stats(
        &mut tx,
        types::TimeRange::new(day(), day() + TimeDelta::days(1)).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0].executions, 1);
    assert_eq!(stats[0].avg_duration_ms, Some(2_000.0));
    assert_eq!(stats[0].p50_duration_ms, Some(2_048));
    assert_eq!(t.count("tool_runs").await, 1);
}

#[tokio::test]
async fn a_failure_reported_by_any_source_stands_and_counts_once() {
    let t = Tenant::new().await;
    let u = t.user;
    // Failed by the hook, then reported fine by OTLP.
    let mut batch = [
        tool_start(u, "s1", "toolu_1", "Edit", 0),
        tool_end(u, "s1", "toolu_1", "Edit", 1, false),
    ];
    t.write(&mut batch).await;
    let mut otlp = tool_end(u, "s1", "toolu_1", "Edit", 1, true);
    otlp.key = "otlp:tool_result:toolu_1".into();
    otlp.source = Source::Otlp;
    t.write(&mut [otlp]).await;
    // Fine by the hook, then failed by OTLP: the failure arrives late and still counts.
    t.write(&mut [tool_end(u, "s1", "toolu_2", "Edit", 5, true)])
        .await;
    let mut otlp = tool_end(u, "s1", "toolu_2", "Edit", 5, false);
    otlp.key = "otlp:tool_result:toolu_2".into();
    otlp.source = Source::Otlp;
    t.write(&mut [otlp.clone()]).await;
    // The same failure once more changes nothing.
    otlp.key = "otlp:tool_result:toolu_2:again".into();
    t.write(&mut [otlp]).await;

    let totals = t.totals().await;
    assert_eq!(
        (totals.counts.tool_executions, totals.counts.tool_failures),
        (2, 2)
    );
    let s = t.session("s1").await;
    assert_eq!((s.counts.tool_executions, s.counts.tool_failures), (2, 2));
    let mut tx = t.tx().await;
    let failed: Vec<(String, Option<bool>)> =
        sqlx::query_as("SELECT tool_use_id, success FROM tool_runs ORDER BY 1")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        failed,
        [
            ("toolu_1".into(), Some(false)),
            ("toolu_2".into(), Some(false))
        ]
    );
}

#[tokio::test]
async fn an_agent_tool_counts_an_invocation_and_its_subagent_type() {
    let t = Tenant::new().await;
    let u = t.user;
    let mut start = tool_start(u, "s1", "toolu_1", "Task", 0);
    start.agent = Some("Explore".into());
    let mut batch = [start, tool_end(u, "s1", "toolu_1", "Task", 30, true)];
    t.write(&mut batch).await;
    let totals = t.totals().await;
    assert_eq!(
        (
            totals.counts.tool_executions,
            totals.counts.agent_invocations
        ),
        (1, 1)
    );
    let s = t.session("s1").await;
    assert_eq!(s.counts.agent_invocations, 1);
    assert_eq!(s.agents, ["Explore"]);
}

#[tokio::test]
async fn an_api_request_counts_once_with_its_tokens_and_cost() {
    let t = Tenant::new().await;
    let u = t.user;
    // The session's OTLP token and cost counters count until it sends requests...
    let mut counter = event(u, "otlp:m:1", Kind::UsageCounter, Source::Otlp, 0, "s1");
    counter.model = Some("claude-sonnet-4-5".into());
    counter.usage = Some(usage(999, 0, 0.04));
    t.write(&mut [counter]).await;
    assert_eq!(t.totals().await.counts.input_tokens, 999);

    // ...then the requests count instead (both describe the same calls).
    let req = request(u, "s1", "req_1", 30, usage(1_000, 200, 0.05));
    let mut again = req.clone();
    again.key = "api:req_1".into();
    again.source = Source::Api;
    assert_eq!(t.write(&mut [req, again.clone()]).await.new, [true, true]);
    again.key = "api:req_1:retried".into();
    assert_eq!(t.write(&mut [again]).await.new, [true]);

    let totals = t.totals().await;
    assert_eq!(totals.counts.api_requests, 1);
    assert_eq!(
        (totals.counts.input_tokens, totals.counts.output_tokens),
        (1_000, 200)
    );
    assert_eq!(totals.counts.cost_usd, 0.05);
    let by_model = &totals.by_model["claude-sonnet-4-5"];
    assert_eq!((by_model.requests, by_model.cost_usd), (1, 0.05));
    let s = t.session("s1").await;
    assert_eq!(s.counts.api_requests, 1);
    assert_eq!(
        (s.counts.input_tokens, s.counts.output_tokens),
        (1_000, 200)
    );
    assert_eq!(s.counts.cost_usd, 0.05);
    assert_eq!(t.count("api_requests").await, 1);

    // A counter arriving after the requests no longer counts for that session.
    let mut late = event(u, "otlp:m:2", Kind::UsageCounter, Source::Otlp, 60, "s1");
    late.usage = Some(usage(5, 0, 0.01));
    t.write(&mut [late]).await;
    assert_eq!(t.totals().await.counts.input_tokens, 1_000);
    assert_eq!(t.session("s1").await.counts.input_tokens, 1_000);
}

#[tokio::test]
async fn prompts_and_counters_land_in_the_rollups_and_the_session() {
    let t = Tenant::new().await;
    let u = t.user;
    let prompt = |key: &str, id: Option<&str>, source| {
        let kind = Kind::Prompt {
            prompt_id: id.map(String::from),
        };
        event(u, key, kind, source, 0, "s1")
    };
    let mut lines = event(u, "otlp:m:lines", Kind::LinesCounter, Source::Otlp, 0, "s1");
    lines.lines_added = Some(12);
    lines.lines_removed = Some(3);
    let mut commit = event(
        u,
        "otlp:m:commit",
        Kind::Counter(Counter::Commits),
        Source::Otlp,
        0,
        "s1",
    );
    commit.count = Some(2);
    let error = event(u, "otlp:log:err", Kind::ApiError, Source::Otlp, 0, "s1");
    let mut batch = [
        // One prompt reported by the hook and by OTLP, and one without an id.
        prompt("hook:prompt:p1", Some("p1"), Source::Hook),
        prompt("otlp:prompt:p1", Some("p1"), Source::Otlp),
        prompt("hook:UserPromptSubmit:x", None, Source::Hook),
        lines,
        commit,
        error,
    ];
    assert_eq!(t.write(&mut batch).await.accepted(), 6);

    let totals = t.totals().await;
    assert_eq!(totals.counts.activity.prompts, 2);
    assert_eq!(
        (totals.counts.lines_added, totals.counts.lines_removed),
        (12, 3)
    );
    assert_eq!(totals.counts.activity.commits, 2);
    assert_eq!(totals.counts.activity.api_errors, 1);
    let s = t.session("s1").await;
    assert_eq!(s.counts.activity.prompts, 2);
    assert_eq!((s.counts.lines_added, s.counts.lines_removed), (12, 3));
    assert_eq!(s.counts.activity.commits, 2);
    assert_eq!(s.counts.activity.api_errors, 1);
}

/// A bit of everything a session produces.
fn a_session(t: &Tenant) -> Vec<Event> {
    let u = t.user;
    let start = Kind::SessionStart { source: None };
    let mut lines = event(
        u,
        "otlp:m:lines",
        Kind::LinesCounter,
        Source::Otlp,
        40,
        "s1",
    );
    lines.lines_added = Some(7);
    lines.cumulative = Some(Cumulative {
        series_key: "lines:s1".into(),
        start_at: at(0),
        reported: None,
    });
    vec![
        event(u, "hook:SessionStart:1", start, Source::Hook, 0, "s1"),
        tool_start(u, "s1", "toolu_1", "Read", 1),
        tool_end(u, "s1", "toolu_1", "Read", 2, true),
        tool_end(u, "s1", "toolu_2", "Bash", 3, false),
        request(u, "s1", "req_1", 4, usage(100, 10, 0.01)),
        event(
            u,
            "hook:prompt:p1",
            Kind::Prompt {
                prompt_id: Some("p1".into()),
            },
            Source::Hook,
            5,
            "s1",
        ),
        lines,
    ]
}

#[tokio::test]
async fn sending_the_same_events_again_changes_nothing() {
    let t = Tenant::new().await;
    let original = a_session(&t);
    let mut events = original.clone();
    assert!(t.write(&mut events).await.new.iter().all(|n| *n));
    let before = t.snapshot().await;
    assert!(before.iter().any(|r| r.starts_with("rollups ")));

    // A client re-sending what it sent, and a retry with the events `write` already changed.
    for mut again in [original.clone(), events.clone()] {
        let written = t.write(&mut again).await;
        assert_eq!(written.new, vec![false; original.len()]);
        assert_eq!(written.accepted(), 0);
        assert_eq!(t.snapshot().await, before);
    }

    // The same event twice in one batch is new once.
    let mut twice = [original[0].clone(), original[0].clone()];
    twice[0].key = "hook:SessionStart:2".into();
    twice[1].key = "hook:SessionStart:2".into();
    assert_eq!(t.write(&mut twice).await.new, [true, false]);
}

#[tokio::test]
async fn a_retried_transaction_writes_the_same_as_the_first_try() {
    let t = Tenant::new().await;
    let mut events = a_session(&t);
    // The first try fails after `write` changed the events in place...
    let mut tx = t.tx().await;
    store::events::write(&mut tx, &mut events).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(t.count("events").await, 0);
    // ...and the retry with them as they are stores what a single try would have.
    t.write(&mut events).await;
    let retried = t.snapshot().await;

    let once = Tenant::new().await;
    once.write(&mut a_session(&once)).await;
    let strip = |rows: Vec<String>| -> Vec<String> {
        let users = [t.user.0.to_string(), once.user.0.to_string()];
        rows.into_iter()
            .map(|r| r.replace(&users[0], "USER").replace(&users[1], "USER"))
            .collect()
    };
    assert_eq!(strip(retried), strip(once.snapshot().await));
}

fn lines_point(t: &Tenant, key: &str, secs: i64, start: i64, value: i64) -> Event {
    let mut e = event(t.user, key, Kind::LinesCounter, Source::Otlp, secs, "s1");
    e.lines_added = Some(value);
    e.cumulative = Some(Cumulative {
        series_key: "lines_added:s1".into(),
        start_at: at(start),
        reported: None,
    });
    e
}

#[tokio::test]
async fn cumulative_counters_become_deltas() {
    let t = Tenant::new().await;
    // 10, then 25: 10 + 15.
    let mut batch = [
        lines_point(&t, "p1", 10, 0, 10),
        lines_point(&t, "p2", 30, 0, 25),
    ];
    t.write(&mut batch).await;
    assert_eq!(t.totals().await.counts.lines_added, 25);
    // What was reported is kept beside the delta, so a retry starts from it.
    assert_eq!(batch[1].lines_added, Some(15));
    assert_eq!(batch[1].cumulative.as_ref().unwrap().reported, Some(25.0));

    // An older point arriving late adds nothing.
    t.write(&mut [lines_point(&t, "p3", 20, 0, 12)]).await;
    assert_eq!(t.totals().await.counts.lines_added, 25);
    // The series restarts (a new start time): its first value is all new.
    t.write(&mut [lines_point(&t, "p4", 60, 50, 5)]).await;
    assert_eq!(t.totals().await.counts.lines_added, 30);
    t.write(&mut [lines_point(&t, "p5", 90, 50, 9)]).await;
    assert_eq!(t.totals().await.counts.lines_added, 34);
    assert_eq!(t.session("s1").await.counts.lines_added, 34);

    // Cumulative commits too: 2, then 3 in all.
    let commits = |key: &str, secs, value| {
        let mut e = event(
            t.user,
            key,
            Kind::Counter(Counter::Commits),
            Source::Otlp,
            secs,
            "s1",
        );
        e.count = Some(value);
        e.cumulative = Some(Cumulative {
            series_key: "commits:s1".into(),
            start_at: at(0),
            reported: None,
        });
        e
    };
    t.write(&mut [commits("c1", 10, 2), commits("c2", 70, 3)])
        .await;
    assert_eq!(t.totals().await.counts.activity.commits, 3);
}

/// Two people naming one new session id in the same write (the server gathers requests into
/// one transaction): the first to report it owns it, the other's events are refused, naming
/// the field, and leave nothing behind, not even a raw row.
#[tokio::test]
async fn a_new_session_belongs_to_whoever_reported_it_first_even_within_one_write() {
    let t = Tenant::new().await;
    let ana = t.user;
    let bo = {
        let mut tx = t.tx().await;
        let email = store::Email::parse("bo@example.com").unwrap();
        let bo = store::accounts::create(&mut tx, &email, "Bo", store::Role::Developer, None)
            .await
            .unwrap()
            .id;
        tx.commit().await.unwrap();
        bo
    };
    let start = Kind::SessionStart { source: None };
    let mut batch = [
        request(bo, "shared", "r-bo", 60, usage(100, 100, 9.0)),
        event(ana, "hook:SessionStart:s", start, Source::Hook, 0, "shared"),
        request(ana, "shared", "r-ana", 30, usage(1, 1, 1.0)),
        tool_end(bo, "own", "r-ana-tool", "Bash", 90, true),
    ];
    let written = t.write(&mut batch).await;
    assert_eq!(written.new, [false, true, true, true]);
    assert_eq!(
        written.refused.keys().copied().collect::<Vec<_>>(),
        [0],
        "{written:?}"
    );
    assert_eq!(written.refused[&0].field, "session_id");
    let s = t.session("shared").await;
    assert_eq!((s.user_id, s.counts.api_requests), (ana, 1));
    assert_eq!(t.totals().await.counts.cost_usd, 1.0);
    let mut tx = t.tx().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE key = 'otlp:req:r-bo'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(stored, 0, "a refused event leaves no raw row");
}
