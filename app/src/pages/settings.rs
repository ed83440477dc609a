//! `/settings`: a tenant admin's workspace settings: its name, its time zone, how it treats
//! its people, and how long its data is kept (with what a shorter policy would remove, shown before it is saved).

use leptos::{either::Either, prelude::*};
use types::retention::{LastRun, Preview, Retention, MAX_DAYS, MIN_DAYS};
use types::settings::{hours_label, Workspace, DEFAULT_ROLES, SESSION_HOURS};

use crate::{
    api::budgets::{budget_status, DeleteBudget, SetBudget},
    api::settings::{
        get_retention, workspace_settings, PreviewRetention, Rename, SetPeoplePolicy, SetRetention,
        SetTimeZone,
    },
    components::budgets::BudgetList,
    components::{
        format::grouped,
        forms::{error_text, field_error, Changes},
    },
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let rename = ServerAction::<Rename>::new();
    let time_zone = ServerAction::<SetTimeZone>::new();
    let changes = Changes::default()
        .watch(rename.value())
        .watch(time_zone.value());
    let workspace = Resource::new(move || changes.get(), |_| workspace_settings());
    view! {
        <section class="card" aria-labelledby="settings-title">
            <h1 id="settings-title">"Settings"</h1>
            <h2>"Workspace"</h2>
            {saved(rename.value(), "name-saved", "Name saved.")}
            {saved(time_zone.value(), "time-zone-saved", "Time zone saved: days, weeks and hours of the day follow it.")}
            {general_error(rename.value())}
            {general_error(time_zone.value())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match workspace.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                        Ok(w) => Either::Right(view! {
                            <ActionForm action=rename attr:class="stack narrow" attr:id="name-form">
                                <label>
                                    "Name (in e-mails and the system console; people sign in at “" {w.slug.clone()} "”, which stays)"
                                    <input name="name" id="workspace-name" required maxlength="200" value=w.name.clone() prop:value=w.name aria-describedby="workspace-name-error" />
                                </label>
                                {field_error(rename.value(), "name", "workspace-name-error")}
                                <p class="row"><button type="submit" class="button" id="save-name">"Save name"</button></p>
                            </ActionForm>
                            <ActionForm action=time_zone attr:class="stack narrow" attr:id="time-zone-form">
                                <label>
                                    "Time zone (IANA name, e.g. Europe/Berlin or Asia/Kolkata)"
                                    <input name="time_zone" id="time-zone" required value=w.time_zone.clone() prop:value=w.time_zone aria-describedby="time-zone-error" />
                                </label>
                                {field_error(time_zone.value(), "time_zone", "time-zone-error")}
                                <p class="row"><button type="submit" class="button" id="save-time-zone">"Save time zone"</button></p>
                            </ActionForm>
                        }),
                    }
                })}
            </Transition>
        </section>
        <PeopleCard workspace />
        <BudgetsCard />
        <RetentionCard />
    }
}

/// Spending limits for the workspace, a team or a person, per month or week, with where each
/// stands now (the dashboard's budget widget shows the same).
#[component]
fn BudgetsCard() -> impl IntoView {
    let set = ServerAction::<SetBudget>::new();
    let remove = ServerAction::<DeleteBudget>::new();
    let changes = Changes::default().watch(set.value()).watch(remove.value());
    let status = Resource::new(move || changes.get(), |_| budget_status());
    let teams = Resource::new(|| (), |_| crate::pages::teams::list_teams());
    let people = Resource::new(|| (), |_| crate::pages::users::list_users());
    let actions = Callback::new(move |id: String| {
        view! {
            <ActionForm action=remove attr:class="inline">
                <input type="hidden" name="id" value=id />
                <button type="submit" class="link remove-budget">"Remove"</button>
            </ActionForm>
        }
        .into_any()
    });
    view! {
        <section class="card" aria-labelledby="budgets-title">
            <h2 id="budgets-title">"Budgets"</h2>
            <p class="muted">
                "A limit in US dollars, tokens or both, per calendar month or week (from Monday) in the workspace's time zone. Setting one for the same team or person and period again changes it."
            </p>
            {saved(set.value(), "budget-saved", "Budget saved.")}
            {general_error(set.value())}
            {general_error(remove.value())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(list) => Either::Left(view! { <BudgetList list actions /> }),
                        Err(e) => Either::Right(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
                    }
                })}
            </Transition>
            <ActionForm action=set attr:class="stack narrow" attr:id="budget-form">
                <Transition fallback=|| view! { <p class="muted">"Loading teams and people…"</p> }>
                    {move || Suspend::new(async move {
                        let teams = teams.await.unwrap_or_default();
                        let people = people.await.unwrap_or_default();
                        view! {
                            <label>
                                "For"
                                <select name="whose" id="budget-whose" aria-describedby="budget-whose-error">
                                    <option value="workspace">"The whole workspace"</option>
                                    <optgroup label="Teams">
                                        {teams.into_iter().map(|t| view! { <option value=format!("team:{}", t.id)>{t.name}</option> }).collect_view()}
                                    </optgroup>
                                    <optgroup label="People">
                                        {people
                                            .into_iter()
                                            .filter(|p| p.user.active)
                                            .map(|p| view! { <option value=format!("person:{}", p.user.id)>{p.user.email}</option> })
                                            .collect_view()}
                                    </optgroup>
                                </select>
                            </label>
                        }
                    })}
                </Transition>
                {field_error(set.value(), "whose", "budget-whose-error")}
                <label>
                    "Period"
                    <select name="period" id="budget-period">
                        <option value="month">"Month"</option>
                        <option value="week">"Week"</option>
                    </select>
                </label>
                <label>
                    "Limit in US dollars (empty: none)"
                    <input name="usd" id="budget-usd" inputmode="decimal" aria-describedby="budget-usd-error" />
                </label>
                {field_error(set.value(), "usd", "budget-usd-error")}
                <label>
                    "Limit in tokens (empty: none)"
                    <input name="tokens" id="budget-tokens" inputmode="numeric" aria-describedby="budget-tokens-error" />
                </label>
                {field_error(set.value(), "tokens", "budget-tokens-error")}
                <p class="row"><button type="submit" class="button" id="save-budget">"Save budget"</button></p>
            </ActionForm>
        </section>
    }
}

/// What developers may compare themselves with, how long a sign-in lasts, and the role a
/// newcomer gets when the invitation names none.
#[component]
fn PeopleCard(workspace: Resource<Result<Workspace, crate::AppError>>) -> impl IntoView {
    let save = ServerAction::<SetPeoplePolicy>::new();
    let lengths = move |name: &'static str, id: &'static str, now: u32| {
        // A length set through the API that the list does not offer is kept as an option.
        let mut offered: Vec<(u32, String)> = SESSION_HOURS
            .iter()
            .map(|(h, l)| (*h, (*l).to_string()))
            .collect();
        if !offered.iter().any(|(h, _)| *h == now) {
            offered.push((now, hours_label(now)));
            offered.sort();
        }
        view! {
            <select name=name id=id aria-describedby=format!("{id}-error")>
                {offered
                    .into_iter()
                    .map(|(h, label)| view! { <option value=h.to_string() selected=h == now>{label}</option> })
                    .collect_view()}
            </select>
        }
    };
    view! {
        <section class="card" aria-labelledby="people-policy-title">
            <h2 id="people-policy-title">"People"</h2>
            {saved(save.value(), "people-saved", "Saved. Sign-in lengths apply from each session's next refresh, within 15 minutes.")}
            {general_error(save.value())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    workspace.await.ok().map(|w| {
                        let p = w.people;
                        view! {
                            <ActionForm action=save attr:class="stack narrow" attr:id="people-form">
                                <label class="check">
                                    <input type="checkbox" name="team_medians" id="team-medians" checked=p.team_medians />
                                    "Developers see their team's medians beside their own numbers (over at least three colleagues; managers and admins always see them)"
                                </label>
                                <label>
                                    "A sign-in ends after this long unused"
                                    {lengths("idle_hours", "idle-hours", p.idle_hours)}
                                </label>
                                {field_error(save.value(), "idle_hours", "idle-hours-error")}
                                <label>
                                    "A sign-in ends this long after it began, however much it is used"
                                    {lengths("max_hours", "max-hours", p.max_hours)}
                                </label>
                                {field_error(save.value(), "max_hours", "max-hours-error")}
                                <label>
                                    "Role for people invited without one (a CSV row with an empty role, the invite form's first choice)"
                                    <select name="default_role" id="default-role" aria-describedby="default-role-error">
                                        {DEFAULT_ROLES
                                            .map(|r| view! { <option value=r.as_str() selected=r == p.default_role>{r.as_str()}</option> })
                                            .collect_view()}
                                    </select>
                                </label>
                                {field_error(save.value(), "default_role", "default-role-error")}
                                <p class="row"><button type="submit" class="button" id="save-people">"Save"</button></p>
                            </ActionForm>
                        }
                    })
                })}
            </Transition>
        </section>
    }
}

/// A short confirmation once an action succeeded.
fn saved<T: Send + Sync + 'static>(
    value: impl With<Value = Option<Result<T, crate::AppError>>> + Send + Sync + 'static,
    id: &'static str,
    text: &'static str,
) -> impl IntoView {
    move || {
        value.with(|v| matches!(v, Some(Ok(_)))).then(|| {
            view! { <p class="notice" role="status" id=id>{text}</p> }
        })
    }
}

/// An error no single field is at fault for (signed out, not allowed, the server failing).
fn general_error<T: Send + Sync + 'static>(
    value: impl With<Value = Option<Result<T, crate::AppError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        value
            .with(|v| match v {
                Some(Err(e)) if e.field.is_none() => Some(error_text(e)),
                _ => None,
            })
            .map(|message| view! { <p class="error" role="alert">{message}</p> })
    }
}

/// One retention field: its form name, element ids, label, and what the data is.
struct Field {
    name: &'static str,
    id: &'static str,
    hint: &'static str,
    error: &'static str,
    label: &'static str,
    what: &'static str,
}

const FIELDS: [Field; 4] = [
    Field {
        name: "raw_days",
        id: "retention-raw",
        hint: "retention-raw-hint",
        error: "retention-raw-error",
        label: "Raw events (days)",
        what: "Every event as it arrived, and the tool runs, requests and prompts made from them; session drill-down reads these.",
    },
    Field {
        name: "minute_days",
        id: "retention-minute",
        hint: "retention-minute-hint",
        error: "retention-minute-error",
        label: "Minute rollups (days)",
        what: "Per-minute sums: the last hour and day, and whole days in zones with half-hour offsets.",
    },
    Field {
        name: "hour_days",
        id: "retention-hour",
        hint: "retention-hour-hint",
        error: "retention-hour-error",
        label: "Hour rollups (days)",
        what: "Per-hour sums: the last day and week.",
    },
    Field {
        name: "day_days",
        id: "retention-day",
        hint: "retention-day-hint",
        error: "retention-day-error",
        label: "Day rollups (days)",
        what: "Per-day sums: every longer range.",
    },
];

#[component]
fn RetentionCard() -> impl IntoView {
    let save = ServerAction::<SetRetention>::new();
    let preview = ServerAction::<PreviewRetention>::new();
    let changes = Changes::default().watch(save.value());
    let retention = Resource::new(move || changes.get(), |_| get_retention());
    view! {
        <section class="card" aria-labelledby="retention-title">
            <h2 id="retention-title">"Data retention"</h2>
            <p class="muted">
                "How long this workspace keeps what it stores. Empty keeps forever, the default: imported history is old by nature. "
                "Sessions (one summary each) always stay. Finer data never outlives coarser, so dashboards keep their totals. "
                "The policy is applied every day at 00:00 UTC; an import that loses events to it can no longer be rolled back. "
                "One person's data is exported or erased on "
                <a href="/privacy" id="privacy-link">"Personal data"</a>
                "."
            </p>
            {saved(save.value(), "retention-saved", "Policy saved. It is applied at the next daily run.")}
            {general_error(save.value())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match retention.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="retention-error">{error_text(&e)}</p> }),
                        Ok(r) => Either::Right(view! { <RetentionForm current=r save preview /> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RetentionForm(
    current: Retention,
    save: ServerAction<SetRetention>,
    preview: ServerAction<PreviewRetention>,
) -> impl IntoView {
    let p = current.policy;
    let values = [p.raw_days, p.minute_days, p.hour_days, p.day_days];
    let refs: [NodeRef<leptos::html::Input>; 4] = std::array::from_fn(|_| NodeRef::new());
    let show_preview = move |_| {
        let read = |i: usize| refs[i].get().map(|input| input.value()).unwrap_or_default();
        preview.dispatch(PreviewRetention {
            raw_days: read(0),
            minute_days: read(1),
            hour_days: read(2),
            day_days: read(3),
        });
    };
    view! {
        <LastRunFacts last=current.last_run />
        <ActionForm action=save attr:class="stack narrow" attr:id="retention-form">
            {FIELDS
                .iter()
                .zip(values)
                .zip(refs)
                .map(|((f, days), node)| {
                    view! {
                        <label>
                            {f.label}
                            <input
                                type="number"
                                name=f.name
                                id=f.id
                                node_ref=node
                                min=MIN_DAYS
                                max=MAX_DAYS
                                inputmode="numeric"
                                placeholder="forever"
                                // The attribute for the server's markup, the property for
                                // a re-read after a save (an edited field keeps its own).
                                value=days.map(|d| d.to_string()).unwrap_or_default()
                                prop:value=days.map(|d| d.to_string()).unwrap_or_default()
                                aria-describedby=format!("{} {}", f.hint, f.error)
                            />
                        </label>
                        <p class="muted hint" id=f.hint>{f.what}</p>
                        {field_error(save.value(), f.name, f.error)}
                    }
                })
                .collect_view()}
            <label class="check">
                <input type="checkbox" name="confirm" id="retention-confirm" aria-describedby="retention-confirm-error" />
                "Remove what the new policy no longer keeps"
            </label>
            {field_error(save.value(), "confirm", "retention-confirm-error")}
            <p class="row">
                <button type="submit" class="button" id="save-retention">"Save policy"</button>
                <button type="button" class="button secondary" id="preview-retention" on:click=show_preview>
                    "Preview what would go"
                </button>
            </p>
        </ActionForm>
        <div aria-live="polite" id="retention-preview">
            {move || preview.value().get().map(|r| match r {
                Ok(p) => Either::Left(view! { <PreviewFacts preview=p /> }),
                Err(e) => Either::Right(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
            })}
        </div>
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
fn LastRunFacts(last: Option<LastRun>) -> impl IntoView {
    match last {
        None => Either::Left(view! {
            <p class="muted" id="retention-last-run">"Not applied yet."</p>
        }),
        Some(l) => {
            let o = l.outcome;
            let rollups = o.minute_rollups + o.hour_rollups + o.day_rollups;
            Either::Right(view! {
                <p class="muted" id="retention-last-run">
                    {format!(
                        "Last applied {}: removed {} raw events, {} rows made from them and {} rollup rows{}.",
                        when(l.at),
                        grouped(o.raw_events),
                        grouped(o.derived_rows),
                        grouped(rollups),
                        if o.partitions_dropped.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} whole months at once)", o.partitions_dropped.len())
                        },
                    )}
                </p>
            })
        }
    }
}

#[component]
fn PreviewFacts(preview: Preview) -> impl IntoView {
    if !preview.removes_anything() {
        return Either::Left(view! {
            <p class="notice" role="status" id="retention-preview-none">"This policy removes nothing today."</p>
        });
    }
    let c = preview.cutoffs;
    let before =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(when).unwrap_or_else(|| "—".into());
    let rows = [
        ("Raw events", preview.raw_events, c.and_then(|c| c.raw)),
        (
            "Rows made from them",
            preview.derived_rows,
            c.and_then(|c| c.raw),
        ),
        (
            "Minute rollups",
            preview.minute_rollups,
            c.and_then(|c| c.minute),
        ),
        ("Hour rollups", preview.hour_rollups, c.and_then(|c| c.hour)),
        ("Day rollups", preview.day_rollups, c.and_then(|c| c.day)),
    ];
    Either::Right(view! {
        <table class="table" id="retention-preview-table">
            <caption>"What the policy would remove if applied now"</caption>
            <thead>
                <tr><th scope="col">"Data"</th><th scope="col">"Older than"</th><th scope="col" class="num">"Rows"</th></tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|(what, n, cut)| view! {
                        <tr><th scope="row">{what}</th><td>{before(cut)}</td><td class="num">{grouped(n)}</td></tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
        {(preview.import_batches > 0).then(|| view! {
            <p class="muted" id="retention-preview-imports">
                {format!("{} import batches would lose events and could no longer be rolled back.", grouped(preview.import_batches))}
            </p>
        })}
    })
}
