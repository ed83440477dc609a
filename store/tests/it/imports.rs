//! Import batches without HTTP: a rollback takes out exactly what its batch added.

use store::{
    events::{Event, Kind, Source},
    imports::{self, RolledBack},
};

use crate::helpers::{event, request, tool_end, tool_start, usage, Tenant};

fn prompt(t: &Tenant, session: &str, id: &str, secs: i64) -> Event {
    let kind = Kind::Prompt {
        prompt_id: Some(id.into()),
    };
    event(
        t.user,
        &format!("hook:prompt:{id}"),
        kind,
        Source::Hook,
        secs,
        session,
    )
}

fn start(t: &Tenant, session: &str, secs: i64) -> Event {
    let kind = Kind::SessionStart { source: None };
    let key = format!("hook:SessionStart:{session}");
    event(t.user, &key, kind, Source::Hook, secs, session)
}

/// Live data: a hook session with a tool run, a request and a prompt; and a session that
/// reports only OTLP token and cost counters.
fn live(t: &Tenant) -> Vec<Event> {
    let u = t.user;
    let mut counter = event(u, "otlp:m:1", Kind::UsageCounter, Source::Otlp, 0, "otlp");
    counter.model = Some("claude-sonnet-4-5".into());
    counter.usage = Some(usage(500, 50, 0.5));
    vec![
        start(t, "live", 0),
        tool_start(u, "live", "toolu_live", "Bash", 1),
        tool_end(u, "live", "toolu_live", "Bash", 2, true),
        request(u, "live", "req_live", 3, usage(10, 1, 0.001)),
        prompt(t, "live", "p_live", 4),
        counter,
        event(u, "otlp:log:later", Kind::Other, Source::Otlp, 600, "otlp"),
    ]
}

/// The import: an older session of its own, a request for the OTLP-only session (whose
/// counters then stop counting), and the live tool run and request once more.
fn import(t: &Tenant, batch: uuid::Uuid) -> Vec<Event> {
    let u = t.user;
    let mut agent = tool_start(u, "old", "toolu_c", "Task", -3_500);
    agent.agent = Some("Plan".into());
    let mut lines = event(
        u,
        "import:lines",
        Kind::LinesCounter,
        Source::Hook,
        -3_400,
        "old",
    );
    lines.lines_added = Some(5);
    lines.lines_removed = Some(2);
    let mut again_run = tool_end(u, "live", "toolu_live", "Bash", 2, true);
    again_run.key = "import:toolu_live".into();
    let mut again_request = request(u, "live", "req_live", 3, usage(10, 1, 0.001));
    again_request.key = "import:req_live".into();
    let mut events = vec![
        start(t, "old", -3_600),
        tool_start(u, "old", "toolu_a", "Read", -3_599),
        tool_end(u, "old", "toolu_a", "Read", -3_598, true),
        tool_end(u, "old", "toolu_b", "Edit", -3_590, false),
        agent,
        tool_end(u, "old", "toolu_c", "Task", -3_450, true),
        request(u, "old", "req_a", -3_580, usage(1_000, 100, 0.1)),
        request(u, "old", "req_b", -3_570, usage(2_000, 0, 0.2)),
        prompt(t, "old", "p_a", -3_560),
        lines,
        request(u, "otlp", "req_c", 300, usage(700, 70, 0.7)),
        again_run,
        again_request,
    ];
    for e in &mut events {
        e.source = Source::Import;
        e.import_batch = Some(batch);
    }
    events
}

#[tokio::test]
async fn rolling_back_an_import_takes_out_exactly_what_it_added() {
    let t = Tenant::new().await;
    t.write(&mut live(&t)).await;
    let before = t.totals().await;
    let before_rows = t.snapshot().await;
    assert_eq!(t.session("otlp").await.counts.input_tokens, 500);

    let mut tx = t.tx().await;
    let batch = imports::create(&mut tx, t.user, "claude-code-jsonl", Some("laptop"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut events = import(&t, batch.id.0);
    assert_eq!(t.write(&mut events).await.accepted(), events.len());

    // What the import added: one session, three tool runs (one failed, one an agent), three
    // requests, a prompt and lines; the OTLP-only session's counters gave way to its request.
    let added = t.totals().await;
    assert_eq!(added.sessions - before.sessions, 1);
    assert_eq!(
        added.counts.tool_executions - before.counts.tool_executions,
        3
    );
    assert_eq!(added.counts.tool_failures - before.counts.tool_failures, 1);
    assert_eq!(
        added.counts.agent_invocations - before.counts.agent_invocations,
        1
    );
    assert_eq!(added.counts.api_requests - before.counts.api_requests, 3);
    assert_eq!(
        added.counts.input_tokens - before.counts.input_tokens,
        1_000 + 2_000 + 700 - 500
    );
    assert_eq!(
        added.counts.output_tokens - before.counts.output_tokens,
        100 + 70 - 50
    );
    assert!(
        (added.counts.cost_usd - before.counts.cost_usd - (0.1 + 0.2 + 0.7 - 0.5)).abs() < 1e-9
    );
    assert_eq!(
        added.counts.activity.prompts - before.counts.activity.prompts,
        1
    );
    assert_eq!(added.counts.lines_added - before.counts.lines_added, 5);
    assert_eq!(added.counts.lines_removed - before.counts.lines_removed, 2);
    let otlp = t.session("otlp").await;
    assert_eq!(
        (
            otlp.counts.api_requests,
            otlp.counts.input_tokens,
            otlp.counts.cost_usd
        ),
        (1, 700, 0.7)
    );
    let old = t.session("old").await;
    assert_eq!(
        (old.counts.tool_executions, old.counts.tool_failures),
        (3, 1)
    );
    assert_eq!(old.agents, ["Plan"]);
    let live = t.session("live").await;
    assert_eq!(
        (live.counts.tool_executions, live.counts.api_requests),
        (1, 1)
    );

    let mut tx = t.tx().await;
    let done = imports::rollback(
        &mut tx,
        &store::audit::Actor::cli(),
        imports::Whose::Own(t.user),
        batch.id,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        done,
        RolledBack {
            owner: t.user.0,
            events: events.len() as u64,
            sessions: 1,
            tool_runs: 3,
            api_requests: 3,
            prompts: 1,
        }
    );
    // Every number and row as before the import; the live run and request, which the import
    // reported too, stay; the OTLP-only session counts its counters again.
    assert_eq!(t.totals().await, before);
    assert_eq!(t.snapshot().await, before_rows);
    assert_eq!(t.session("otlp").await.counts.input_tokens, 500);

    // The batch takes no more events.
    let mut tx = t.tx().await;
    let mut late = import(&t, batch.id.0);
    late.truncate(1);
    late[0].key = "import:late".into();
    let err = store::events::write(&mut tx, &mut late).await.unwrap_err();
    assert!(matches!(err, store::Error::Conflict(_)), "{err}");
}
