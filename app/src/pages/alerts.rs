//! `/alerts`: the alert rules the reader sees (their state, the last number read, how the
//! reader hears of each), a form for a new rule, and what fired and resolved lately. Every
//! number is in the HTML; the page works before the WASM arrives.

use leptos::{either::Either, prelude::*};
use types::{
    alerts::{Event, Metric, Rule, State},
    dashboard::Choices,
    webhooks::{Created, Format},
};

use crate::{
    api::{
        alerts::{
            alerts_view, list_anomalies, AlertsPage as Page, DeleteAlert, PauseAlert, SaveAlert,
            SubscribeAlert,
        },
        budgets::budget_status,
        dashboard::get_choices,
        webhooks::{list_webhooks, CreateWebhook, DeleteWebhook, EnableWebhook, TestWebhook},
    },
    components::forms::{error_text, field_error, show_result, Changes},
    live::MetricsFeed,
};

#[component]
pub fn AlertsPage() -> impl IntoView {
    let save = ServerAction::<SaveAlert>::new();
    let pause = ServerAction::<PauseAlert>::new();
    let remove = ServerAction::<DeleteAlert>::new();
    let subscribe = ServerAction::<SubscribeAlert>::new();
    let feed = MetricsFeed::open();
    let changes = Changes::default()
        .watch(save.value())
        .watch(pause.value())
        .watch(remove.value())
        .watch(subscribe.value());
    // A rule that fires or resolves while the page is open shows at once.
    let page = Resource::new(
        move || (changes.get(), feed.alerts.get()),
        |_| alerts_view(),
    );
    // Made here, not inside the suspense that shows the card: a resource made while a
    // suspense resolves is not the one the browser finds when it hydrates.
    let hook_actions = HookActions {
        create: ServerAction::<CreateWebhook>::new(),
        enable: ServerAction::<EnableWebhook>::new(),
        remove: ServerAction::<DeleteWebhook>::new(),
        test: ServerAction::<TestWebhook>::new(),
    };
    let webhook_changes = Changes::default()
        .watch(hook_actions.create.value())
        .watch(hook_actions.enable.value())
        .watch(hook_actions.remove.value())
        .watch(hook_actions.test.value());
    let hooks = Resource::new(
        move || webhook_changes.get(),
        move |_| async move {
            match page.await {
                Ok(p) if p.manages_all => list_webhooks().await,
                _ => Ok(vec![]),
            }
        },
    );
    let choices = Resource::new(|| (), |_| get_choices("range=30d".into()));
    let budgets = Resource::new(|| (), |_| budget_status());
    view! {
        <section class="card" aria-labelledby="alerts-title">
            <h1 id="alerts-title">"Alerts"</h1>
            <p class="muted">
                "A rule watches one of the dashboard's numbers over a trailing window, for what its owner sees, and fires once when it crosses the threshold. It resolves only when the number is back past its clear level (10% back from the threshold unless you set one), so a number hovering around the threshold does not fire again and again. Rules are judged as data arrives and every minute. An unusual-day rule instead judges the last whole day against the same weekday's usual (see Unusual days below), once a minute."
            </p>
            {show_result(pause.value(), &[], |_| ().into_any())}
            {show_result(remove.value(), &[], |_| ().into_any())}
            {show_result(subscribe.value(), &[], |_| view! { <p class="notice" role="status" id="subscription-saved">"Saved how you hear of it."</p> }.into_any())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => Either::Left(view! { <Rules page=p pause remove subscribe /> }),
                        Err(e) => Either::Right(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-labelledby="new-rule-title">
            <h2 id="new-rule-title">"New rule"</h2>
            {show_result(save.value(), FORM_FIELDS, |r: Rule| view! {
                <p class="notice" role="status" id="rule-saved">{format!("Saved \u{201c}{}\u{201d}: {}.", r.rule.name, r.rule.describe())}</p>
            }.into_any())}
            <ActionForm action=save attr:class="stack narrow" attr:id="rule-form">
                <label>
                    "Name"
                    <input name="name" id="rule-name" required maxlength="120" aria-describedby="rule-name-error" placeholder="Platform spend" />
                </label>
                {field_error(save.value(), "name", "rule-name-error")}
                <label>
                    "Number"
                    <select name="metric" id="rule-metric" aria-describedby="rule-metric-hint rule-metric-error">
                        {Metric::ALL.into_iter().filter(|m| m.unusual().is_none()).map(|m| view! { <option value=m.as_str()>{m.label()}</option> }).collect_view()}
                        <optgroup label="Unusual day (threshold in spreads, 2 to 10)">
                            {Metric::ALL.into_iter().filter(|m| m.unusual().is_some()).map(|m| view! { <option value=m.as_str()>{m.label()}</option> }).collect_view()}
                        </optgroup>
                    </select>
                </label>
                <p class="muted hint" id="rule-metric-hint">"An unusual-day rule judges the last whole day against the same weekday's usual (as the unusual days below): the threshold is in spreads, the window is always that day, and nothing fires before three such weekdays are behind it."</p>
                {field_error(save.value(), "metric", "rule-metric-error")}
                <div class="row">
                    <label>
                        "Fires when it is"
                        <select name="direction" id="rule-direction" aria-describedby="rule-direction-error">
                            <option value="above">"above"</option>
                            <option value="below">"below"</option>
                        </select>
                    </label>
                    <label>
                        "Threshold"
                        <input name="threshold" id="rule-threshold" required inputmode="decimal" aria-describedby="rule-threshold-error" placeholder="200" />
                    </label>
                    <label>
                        "Clears at (optional)"
                        <input name="clear" id="rule-clear" inputmode="decimal" aria-describedby="rule-clear-error" />
                    </label>
                </div>
                {field_error(save.value(), "direction", "rule-direction-error")}
                {field_error(save.value(), "threshold", "rule-threshold-error")}
                {field_error(save.value(), "clear", "rule-clear-error")}
                <label>
                    "Over the last"
                    <select name="window_minutes" id="rule-window">
                        {WINDOWS.map(|(m, label)| view! { <option value=m.to_string() selected=m == 60>{label}</option> }).collect_view()}
                    </select>
                </label>
                {field_error(save.value(), "window_minutes", "rule-window-error")}
                <Transition fallback=|| view! { <p class="muted">"Loading choices…"</p> }>
                    {move || Suspend::new(async move {
                        let c = choices.await.unwrap_or_default();
                        let b = budgets.await.unwrap_or_default();
                        view! { <ScopeFields choices=c budgets=b /> }
                    })}
                </Transition>
                {field_error(save.value(), "over", "rule-over-error")}
                {field_error(save.value(), "person", "rule-person-error")}
                {field_error(save.value(), "team", "rule-team-error")}
                {field_error(save.value(), "project", "rule-project-error")}
                {field_error(save.value(), "model", "rule-model-error")}
                {field_error(save.value(), "tool", "rule-tool-error")}
                {field_error(save.value(), "budget_id", "rule-budget-error")}
                <label>
                    "Only during working hours (optional, in the workspace's time zone)"
                    <input name="hours" id="rule-hours" placeholder="9-18 weekdays" aria-describedby="rule-hours-error" />
                </label>
                {field_error(save.value(), "hours", "rule-hours-error")}
                <p class="row"><button type="submit" class="button" id="save-rule">"Save rule"</button></p>
            </ActionForm>
        </section>
        <UnusualDays />
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                crate::components::for_the_render(page)
                    .await
                    .ok()
                    .filter(|p| p.manages_all)
                    .map(|_| view! { <WebhooksCard hooks actions=hook_actions /> })
            })}
        </Transition>
    }
}

/// The unusual days in what the reader sees; the look-back and sensitivity live in the URL.
#[component]
fn UnusualDays() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let days = move || query.with(|q| q.get("days").unwrap_or_default());
    let sensitivity = move || query.with(|q| q.get("sensitivity").unwrap_or_default());
    let found = Resource::new(
        move || (days(), sensitivity()),
        |(d, s)| list_anomalies(Some(d), Some(s)),
    );
    view! {
        <section class="card" aria-labelledby="unusual-title">
            <h2 id="unusual-title">"Unusual days"</h2>
            <p class="muted">
                "A day is unusual when its cost, tokens, tool failure rate or activity lies far from the median of the same weekday over the previous eight weeks, measured in spreads (the median absolute deviation, at least a floor: $1, 10,000 tokens, 5 points, 10 runs). Nothing is judged before three such weekdays are behind it, and today, still under way, is not judged."
            </p>
            <form method="get" action="/alerts" class="row" id="unusual-form">
                <label>
                    "Look back"
                    <select name="days" id="unusual-days">
                        {[(7, "7 days"), (14, "14 days"), (31, "31 days")]
                            .map(|(d, label)| {
                                let chosen = move || days().parse::<i64>().unwrap_or(14) == d;
                                view! { <option value=d.to_string() selected=chosen>{label}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Sensitivity"
                    <select name="sensitivity" id="unusual-sensitivity">
                        {[("2.5", "Touchy (2.5 spreads)"), ("3.5", "Usual (3.5)"), ("5", "Only the wild (5)")]
                            .map(|(v, label)| {
                                let chosen = move || {
                                    let now = sensitivity();
                                    now == v || (now.is_empty() && v == "3.5")
                                };
                                view! { <option value=v selected=chosen>{label}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit" class="button" id="unusual-apply">"Show"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted" id="unusual-none">"No unusual days."</p> }.into_any(),
                        Ok(mut list) => {
                            // The most unusual first; a long list says how many more there are.
                            list.sort_by(|a, b| b.judged.score.abs().total_cmp(&a.judged.score.abs()));
                            let more = list.len().saturating_sub(SHOWN);
                            list.truncate(SHOWN);
                            view! {
                            <ul class="plain" id="unusual">
                                {list.into_iter().map(|a| {
                                    let tone = if a.judged.score >= 0.0 { "above" } else { "below" };
                                    view! {
                                        <li data-signal=a.signal.as_str() data-tone=tone data-day=a.day.to_string()>
                                            <strong>{a.who.name().to_string()}</strong>
                                            " · "
                                            {a.explain()}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {(more > 0).then(|| view! {
                                <p class="muted" id="unusual-more">
                                    {format!("And {more} less unusual ones; \u{201c}Only the wild\u{201d} shows fewer.")}
                                </p>
                            })}
                        }.into_any()
                        }
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// How many unusual days the page lists (the API answers them all).
const SHOWN: usize = 20;

/// The fields the form shows its errors beside; any other error shows above it.
const FORM_FIELDS: &[&str] = &[
    "name",
    "metric",
    "threshold",
    "clear",
    "window_minutes",
    "over",
    "person",
    "team",
    "budget_id",
    "hours",
    "direction",
    "project",
    "model",
    "tool",
];

const WINDOWS: [(i32, &str); 8] = [
    (5, "5 minutes"),
    (15, "15 minutes"),
    (60, "hour"),
    (120, "2 hours"),
    (360, "6 hours"),
    (1440, "day"),
    (10080, "7 days"),
    (43200, "30 days"),
];

/// Whose numbers, and which project, model, tool or budget.
#[component]
fn ScopeFields(choices: Choices, budgets: Vec<types::budgets::Status>) -> impl IntoView {
    let Choices {
        people,
        teams,
        projects,
        models,
        tools,
    } = choices;
    let options = |list: Vec<String>| {
        list.into_iter()
            .map(|v| {
                let shown = v.clone();
                view! { <option value=v>{shown}</option> }
            })
            .collect_view()
    };
    view! {
        <label>
            "Over"
            <select name="over" id="rule-over" aria-describedby="rule-over-error">
                <option value="workspace">"Everyone I see"</option>
                <optgroup label="Teams">
                    {teams.into_iter().map(|t| view! { <option value=format!("team:{}", t.value)>{t.label}</option> }).collect_view()}
                </optgroup>
                <optgroup label="People">
                    {people.into_iter().map(|p| view! { <option value=format!("person:{}", p.value)>{p.label}</option> }).collect_view()}
                </optgroup>
            </select>
        </label>
        <div class="row">
            <label>
                "Project"
                <select name="project" id="rule-project" aria-describedby="rule-project-error">
                    <option value="">"Any"</option>
                    {options(projects)}
                </select>
            </label>
            <label>
                "Model"
                <select name="model" id="rule-model" aria-describedby="rule-model-error">
                    <option value="">"Any"</option>
                    {options(models)}
                </select>
            </label>
            <label>
                "Tool"
                <select name="tool" id="rule-tool" aria-describedby="rule-tool-error">
                    <option value="">"Any"</option>
                    {options(tools)}
                </select>
            </label>
        </div>
        <label>
            "Budget (for the budget numbers)"
            <select name="budget" id="rule-budget" aria-describedby="rule-budget-error">
                <option value="">"None"</option>
                {budgets
                    .into_iter()
                    .map(|s| {
                        let label = format!("{} ({})", s.budget.name, s.budget.period.as_str());
                        view! { <option value=s.budget.id.to_string()>{label}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

#[component]
fn Rules(
    page: Page,
    pause: ServerAction<PauseAlert>,
    remove: ServerAction<DeleteAlert>,
    subscribe: ServerAction<SubscribeAlert>,
) -> impl IntoView {
    let Page {
        rules,
        history,
        me,
        manages_all,
    } = page;
    let firing = rules.iter().filter(|r| r.state == State::Firing).count();
    // No header over no rows: the sentence says it.
    let none = rules.is_empty();
    let summary = match (rules.len(), firing) {
        (0, _) => "No rules yet: add one below.".to_string(),
        (n, 0) => format!("{n} rule{}, none firing.", if n == 1 { "" } else { "s" }),
        (n, f) => format!("{n} rule{}, {f} firing.", if n == 1 { "" } else { "s" }),
    };
    let rows = rules
        .into_iter()
        .map(|r| {
            let keeps = r.owner == me || manages_all;
            view! { <RuleRow rule=r keeps pause remove subscribe /> }
        })
        .collect_view();
    view! {
        <p id="rules-summary" data-firing=firing>{summary}</p>
        <div class="table-wrap tall" tabindex="0" role="region" aria-label="Alert rules" hidden=none>
            <table class="table" id="rules">
                <thead>
                    <tr>
                        <th scope="col">"Rule"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Last read"</th>
                        <th scope="col">"Owner"</th>
                        <th scope="col">"You hear of it"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <h2 id="history-title">"Lately"</h2>
        <History events=history />
    }
}

#[component]
fn RuleRow(
    rule: Rule,
    keeps: bool,
    pause: ServerAction<PauseAlert>,
    remove: ServerAction<DeleteAlert>,
    subscribe: ServerAction<SubscribeAlert>,
) -> impl IntoView {
    let id = rule.id.to_string();
    let state = if !rule.rule.enabled {
        ("paused", "Paused".to_string())
    } else {
        match rule.state {
            State::Firing => ("firing", "Firing".to_string()),
            State::Ok if rule.evaluated_at.is_none() => ("pending", "Not judged yet".to_string()),
            State::Ok => ("ok", "OK".to_string()),
        }
    };
    let since = rule
        .since
        .map(|s| format!(" since {}", s.format("%b %-d %H:%M UTC")))
        .unwrap_or_default();
    let last = rule
        .last_value
        .map(|v| rule.rule.metric.show(v))
        .unwrap_or_else(|| "—".into());
    let clear = rule.rule.metric.show(rule.rule.clear_level());
    let scope = scope_words(&rule);
    let mine = rule.mine.unwrap_or(types::alerts::Subscription {
        in_app: false,
        email: false,
    });
    let enabled = rule.rule.enabled;
    let name = rule.rule.name.clone();
    let described = rule.rule.describe();
    let (id_sub, id_pause, id_delete) = (id.clone(), id.clone(), id.clone());
    let (hear_label, delete_label) = (format!(" how you hear of {name}"), format!(" {name}"));
    let keep = keeps.then(move || {
        view! {
            <ActionForm action=pause attr:class="inline">
                <input type="hidden" name="id" value=id_pause />
                <input type="hidden" name="enabled" value=(!enabled).to_string() />
                <button type="submit" class="link">{if enabled { "Pause" } else { "Resume" }}</button>
            </ActionForm>
            <ActionForm action=remove attr:class="inline">
                <input type="hidden" name="id" value=id_delete />
                <button type="submit" class="link danger">"Delete"<span class="sr-only">{delete_label}</span></button>
            </ActionForm>
        }
    });
    view! {
        <tr data-rule=id data-state=state.0>
            <th scope="row">
                <span class="rule-name">{name}</span>
                <br />
                <span class="muted">{format!("{described}; clears at {clear}{scope}")}</span>
            </th>
            <td><span class=format!("badge state-{}", state.0)>{state.1}</span>{since}</td>
            <td class="num rule-last">{last}</td>
            <td>{rule.owner_name.clone()}</td>
            <td>
                <ActionForm action=subscribe attr:class="inline subscription">
                    <input type="hidden" name="id" value=id_sub />
                    <label class="check">
                        <input type="checkbox" name="in_app" checked=mine.in_app />
                        "Bell"
                    </label>
                    <label class="check">
                        <input type="checkbox" name="email" checked=mine.email />
                        "E-mail"
                    </label>
                    <button type="submit" class="link">"Save"<span class="sr-only">{hear_label}</span></button>
                </ActionForm>
            </td>
            <td class="actions">{keep}</td>
        </tr>
    }
}

/// "; for one team", "; Bash only" — what narrows the rule, in words.
fn scope_words(rule: &Rule) -> String {
    let f = &rule.rule.filters;
    let mut parts = vec![];
    if f.team.is_some() {
        parts.push("one team".to_string());
    }
    if f.person.is_some() {
        parts.push("one person".to_string());
    }
    for (what, v) in [
        ("project", &f.project),
        ("model", &f.model),
        ("tool", &f.tool),
    ] {
        if let Some(v) = v {
            parts.push(format!("{what} {v}"));
        }
    }
    if let Some(h) = rule.rule.hours {
        parts.push(format!(
            "{}:00–{}:00{}",
            h.from_hour,
            h.to_hour,
            if h.weekdays { " on weekdays" } else { "" }
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join(", "))
    }
}

#[component]
fn History(events: Vec<Event>) -> impl IntoView {
    if events.is_empty() {
        return Either::Left(
            view! { <p class="muted" id="history-empty">"Nothing has fired yet."</p> },
        );
    }
    Either::Right(view! {
        <ul class="plain" id="history">
            {events
                .into_iter()
                .map(|e| {
                    let tone = if e.state == State::Firing { "firing" } else { "ok" };
                    view! {
                        <li data-state=tone>
                            <time datetime=e.at.to_rfc3339()>{e.at.format("%b %-d %H:%M UTC").to_string()}</time>
                            " · "
                            {e.headline()}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    })
}

/// What the webhooks card does.
#[derive(Clone, Copy)]
struct HookActions {
    create: ServerAction<CreateWebhook>,
    enable: ServerAction<EnableWebhook>,
    remove: ServerAction<DeleteWebhook>,
    test: ServerAction<TestWebhook>,
}

/// A tenant admin's webhooks: every alert of the workspace is posted to each, signed.
#[component]
fn WebhooksCard(
    hooks: Resource<Result<Vec<types::webhooks::Webhook>, crate::AppError>>,
    actions: HookActions,
) -> impl IntoView {
    let HookActions {
        create,
        enable,
        remove,
        test,
    } = actions;
    view! {
        <section class="card" aria-labelledby="webhooks-title">
            <h2 id="webhooks-title">"Webhooks"</h2>
            <p class="muted">
                "Every alert of the workspace, firing or resolved, is posted to each webhook that is on: as devpulse's JSON, or as a Slack or Microsoft Teams message. Each request carries "
                <code>"X-Devpulse-Timestamp"</code>" and "<code>"X-Devpulse-Signature: sha256=…"</code>
                ", the HMAC-SHA256 of the timestamp, a dot and the body, keyed with the webhook's secret. A receiver that fails is tried again after 5 s, 10 s, 20 s and so on, eight times in all."
            </p>
            {show_result(create.value(), &["name", "url", "format"], |c: Created| view! {
                <p class="notice" role="status" id="webhook-created">
                    "Created. Its signing secret, shown this once: "
                    <code id="webhook-secret">{c.secret}</code>
                </p>
            }.into_any())}
            {show_result(test.value(), &[], |_| view! {
                <p class="notice" role="status" id="webhook-test-queued">"Test sent to the queue: its attempt shows in the log in a moment."</p>
            }.into_any())}
            {show_result(enable.value(), &[], |_| ().into_any())}
            {show_result(remove.value(), &[], |_| ().into_any())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match hooks.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted" id="webhooks-empty">"No webhooks yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="plain" id="webhooks">
                                {list.into_iter().map(|w| view! { <WebhookRow hook=w enable remove test /> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=create attr:class="stack narrow" attr:id="webhook-form">
                <label>
                    "Name"
                    <input name="name" id="webhook-name" required maxlength="120" aria-describedby="webhook-name-error" placeholder="Ops channel" />
                </label>
                {field_error(create.value(), "name", "webhook-name-error")}
                <label>
                    "Address"
                    <input name="url" id="webhook-url" type="url" required aria-describedby="webhook-url-error" placeholder="https://hooks.slack.com/services/…" />
                </label>
                {field_error(create.value(), "url", "webhook-url-error")}
                <label>
                    "Format"
                    <select name="format" id="webhook-format">
                        {Format::ALL.map(|f| view! { <option value=f.as_str()>{f.label()}</option> }).collect_view()}
                    </select>
                </label>
                {field_error(create.value(), "format", "webhook-format-error")}
                <p class="row"><button type="submit" class="button" id="save-webhook">"Add webhook"</button></p>
            </ActionForm>
        </section>
    }
}

#[component]
fn WebhookRow(
    hook: types::webhooks::Webhook,
    enable: ServerAction<EnableWebhook>,
    remove: ServerAction<DeleteWebhook>,
    test: ServerAction<TestWebhook>,
) -> impl IntoView {
    let id = hook.id.to_string();
    let (id_test, id_enable, id_delete) = (id.clone(), id.clone(), id.clone());
    let name = hook.name.clone();
    let recent = hook.recent.clone();
    let last = match hook.recent.first() {
        None => "never delivered".to_string(),
        Some(d) => format!(
            "last attempt {}: {}",
            d.at.format("%b %-d %H:%M:%S UTC"),
            attempt_words(d)
        ),
    };
    view! {
        <li class="webhook" data-webhook=id data-enabled=hook.enabled.to_string()>
            <div class="row">
                <strong>{hook.name.clone()}</strong>
                <span class="badge">{hook.format.label()}</span>
                {(!hook.enabled).then(|| view! { <span class="badge state-paused">"Off"</span> })}
            </div>
            <p class="muted wrap">{hook.url.clone()}" · "{last}</p>
            <div class="row">
                <ActionForm action=test attr:class="inline">
                    <input type="hidden" name="id" value=id_test />
                    <button type="submit" class="link">"Send test"<span class="sr-only">{format!(" to {name}")}</span></button>
                </ActionForm>
                <ActionForm action=enable attr:class="inline">
                    <input type="hidden" name="id" value=id_enable />
                    <input type="hidden" name="enabled" value=(!hook.enabled).to_string() />
                    <button type="submit" class="link">{if hook.enabled { "Turn off" } else { "Turn on" }}</button>
                </ActionForm>
                <ActionForm action=remove attr:class="inline">
                    <input type="hidden" name="id" value=id_delete />
                    <button type="submit" class="link danger">"Delete"<span class="sr-only">{format!(" {}", hook.name)}</span></button>
                </ActionForm>
            </div>
            <details>
                <summary>"Delivery log"</summary>
                {if recent.is_empty() {
                    view! { <p class="muted">"No attempts yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="plain deliveries">
                            {recent.into_iter().map(|d| {
                                let ok = d.ok();
                                view! {
                                    <li data-ok=ok.to_string()>
                                        {format!(
                                            "{} · attempt {}{} · {} · {} ms",
                                            d.at.format("%b %-d %H:%M:%S UTC"),
                                            d.attempt,
                                            if d.test { " (test)" } else { "" },
                                            attempt_words(&d),
                                            d.duration_ms
                                        )}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </details>
        </li>
    }
}

/// "delivered (200)", "the receiver answered 500".
fn attempt_words(d: &types::webhooks::Delivery) -> String {
    match (&d.error, d.status) {
        (None, Some(s)) => format!("delivered ({s})"),
        (Some(e), _) => e.clone(),
        (None, None) => "no answer".into(),
    }
}
