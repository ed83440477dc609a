//! `/imports`: the history imports (`devpulse import`) as they run and after: source, host,
//! progress, the importer's counts of lines imported, duplicate and rejected, and a rollback
//! that takes a batch's events out again. A person sees their own batches, a tenant admin
//! everyone's.

use leptos::{either::Either, prelude::*};
use types::ImportId;

use crate::{
    components::forms::{error_text, show_result, Changes},
    AppError,
};

/// One batch as the page shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    pub id: ImportId,
    pub owner: Option<String>,
    pub source: String,
    pub host: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub rolled_back_at: Option<chrono::DateTime<chrono::Utc>>,
    pub trimmed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Events stored under the batch now.
    pub events: i64,
    /// The importer's own figures, once it finished (`collector/src/imports.rs`): lines,
    /// items, accepted, duplicates, rejected, skipped_lines, duplicate_lines.
    pub stats: serde_json::Value,
}

#[cfg(feature = "ssr")]
fn whose(s: &crate::session::ssr::Session) -> store::imports::Whose {
    store::imports::Whose::of(s.user_id, s.viewer.can(types::Permission::UserManage))
}

#[server(endpoint = "imports/list")]
pub async fn list_batches() -> Result<Vec<Batch>, AppError> {
    let (s, mut tx) = crate::api::workspace::allowed::<ListBatches>().await?;
    let batches = store::imports::batches(&mut tx, whose(&s)).await?;
    tx.commit().await?;
    Ok(batches
        .into_iter()
        .map(|b| Batch {
            id: b.id,
            owner: b.owner,
            source: b.source,
            host: b.host,
            created_at: b.created_at,
            finished_at: b.finished_at,
            rolled_back_at: b.rolled_back_at,
            trimmed_at: b.trimmed_at,
            events: b.events,
            stats: b.stats,
        })
        .collect())
}

/// Takes the batch's events out again, with everything they counted.
#[server(endpoint = "imports/rollback")]
pub async fn roll_back(id: ImportId) -> Result<String, AppError> {
    let (s, mut tx) = crate::api::workspace::allowed::<RollBack>().await?;
    let done = store::imports::rollback(&mut tx, &s.actor, whose(&s), id).await?;
    tx.commit().await?;
    let cx = crate::ssr::server_context()?;
    if let Some(scope) = &s.scope {
        cx.boards
            .committed(scope.id().0, store::UserId(done.owner), done.events);
    }
    Ok(format!(
        "Rolled back: {} events, {} sessions, {} tool runs, {} API requests and {} prompts removed.",
        done.events, done.sessions, done.tool_runs, done.api_requests, done.prompts
    ))
}

/// Before and after for the people and teams the caller sees (`store::baselines`).
#[server(endpoint = "baselines/compare")]
pub async fn compare_baselines() -> Result<types::baselines::Comparison, AppError> {
    let (s, mut tx) = crate::api::workspace::allowed::<CompareBaselines>().await?;
    let reader = crate::api::workspace::reader(&s, &mut tx).await?;
    let c = store::baselines::compare(&mut tx, &reader).await?;
    tx.commit().await?;
    Ok(c)
}

#[component]
pub fn ImportsPage() -> impl IntoView {
    let rollback = ServerAction::<RollBack>::new();
    let changes = Changes::default().watch(rollback.value());
    // Moves on every few seconds while a batch is still being sent, so its count follows.
    let tick = RwSignal::new(0u32);
    let batches = Resource::new(move || (changes.get(), tick.get()), |_| list_batches());
    let compared = Resource::new(move || changes.get(), |_| compare_baselines());
    // The batch whose rollback waits for its confirmation.
    let confirming = RwSignal::new(None::<ImportId>);
    Effect::new(move || {
        if rollback.value().with(|v| matches!(v, Some(Ok(_)))) {
            confirming.set(None);
        }
    });
    view! {
        <section class="card" aria-labelledby="imports-title">
            <h1 id="imports-title">"Imports"</h1>
            <p class="muted">
                "History sent by " <code>"devpulse import"</code> " from local files and transcripts. The counts of lines are the importer's own, sent when it finished; events are what is stored now. A rollback removes exactly what a batch added, and the dashboards drop it at once."
            </p>
            {show_result(rollback.value(), &[], |m| view! { <p class="notice" role="status" id="rollback-notice">{m}</p> }.into_any())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match batches.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                        Ok(list) => {
                            if list.iter().any(|b| b.finished_at.is_none() && b.rolled_back_at.is_none()) {
                                follow(tick);
                            }
                            Either::Right(view! { <BatchTable list rollback confirming /> })
                        }
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-labelledby="before-after-title">
            <h2 id="before-after-title">"Before and after"</h2>
            <p class="muted">
                "The baseline the legacy hooks computed on each laptop (historical-baseline.json, else current-baseline.json), brought by an import, against the same people's sessions since devpulse saw them live: tool executions and lines changed per session hour, and the share of tool executions that succeeded. A team pools its people who brought a baseline."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match compared.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
                        Ok(c) => Either::Right(view! { <BeforeAfter c /> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BeforeAfter(c: types::baselines::Comparison) -> impl IntoView {
    if c.people.is_empty() && c.teams.is_empty() {
        return Either::Left(view! {
            <p class="muted" id="before-after-empty">"No import has brought a baseline yet."</p>
        });
    }
    let table = |id: &'static str, what: &'static str, rows: Vec<types::baselines::Compared>| {
        (!rows.is_empty()).then(|| view! {
            <div class="table-wrap tall" tabindex="0" role="region" aria-label=format!("Before and after, per {what}")>
                <table class="table" id=id>
                    <thead>
                        <tr>
                            <th scope="col">{if what == "team" { "Team" } else { "Person" }}</th>
                            <th scope="col" class="num">"Commands / h"</th>
                            <th scope="col" class="num">"Lines / h"</th>
                            <th scope="col" class="num">"Success"</th>
                            <th scope="col">"Since"</th>
                        </tr>
                    </thead>
                    <tbody>{rows.into_iter().map(|r| view! { <CompareRow r /> }).collect_view()}</tbody>
                </table>
            </div>
        })
    };
    Either::Right(view! {
        {table("before-after-teams", "team", c.teams)}
        {table("before-after-people", "person", c.people)}
    })
}

/// "12.4 → 15.0 (+21%)", or what is missing.
fn before_after(before: Option<f64>, after: Option<f64>, unit: &str) -> String {
    let show = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.1}{unit}"));
    match types::baselines::change(before, after) {
        Some(c) => format!(
            "{} → {} ({})",
            show(before),
            show(after),
            crate::components::format::signed_pct(c)
        ),
        None => format!("{} → {}", show(before), show(after)),
    }
}

#[component]
fn CompareRow(r: types::baselines::Compared) -> impl IntoView {
    let get =
        |rates: &Option<types::baselines::Rates>,
         f: fn(&types::baselines::Rates) -> Option<f64>| { rates.as_ref().and_then(f) };
    let cells = [
        before_after(
            get(&r.before, |x| x.commands_per_hour),
            get(&r.after, |x| x.commands_per_hour),
            "",
        ),
        before_after(
            get(&r.before, |x| x.lines_per_hour),
            get(&r.after, |x| x.lines_per_hour),
            "",
        ),
        before_after(
            get(&r.before, |x| x.success_rate),
            get(&r.after, |x| x.success_rate),
            "%",
        ),
    ];
    let since = match (&r.moved_at, &r.after) {
        (Some(m), Some(a)) => format!(
            "{} ({} session{})",
            m.format("%b %-d, %Y"),
            a.sessions,
            if a.sessions == 1 { "" } else { "s" }
        ),
        _ => "Not live yet".to_string(),
    };
    view! {
        <tr data-key=r.key.clone()>
            <th scope="row">{r.label.clone()}</th>
            {cells.into_iter().map(|c| view! { <td class="num">{c}</td> }).collect_view()}
            <td>{since}</td>
        </tr>
    }
}

/// Reads the list again in three seconds (in the browser; the server renders once).
fn follow(tick: RwSignal<u32>) {
    #[cfg(feature = "hydrate")]
    set_timeout(
        move || {
            tick.try_update(|n| *n += 1);
        },
        std::time::Duration::from_secs(3),
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = tick;
}

/// The importer's figure `key`, or a dash before it finished.
fn figure(stats: &serde_json::Value, key: &str) -> String {
    stats
        .get(key)
        .and_then(serde_json::Value::as_i64)
        .map(crate::components::format::grouped)
        .unwrap_or_else(|| "—".into())
}

fn state_of(b: &Batch) -> (&'static str, &'static str) {
    match (b.rolled_back_at, b.finished_at, b.trimmed_at) {
        (Some(_), _, _) => ("rolled_back", "Rolled back"),
        (None, _, Some(_)) => ("trimmed", "Partly removed by retention"),
        (None, Some(_), None) => ("finished", "Finished"),
        (None, None, None) => ("running", "Sending…"),
    }
}

#[component]
fn BatchTable(
    list: Vec<Batch>,
    rollback: ServerAction<RollBack>,
    confirming: RwSignal<Option<ImportId>>,
) -> impl IntoView {
    if list.is_empty() {
        return Either::Left(view! {
            <p class="muted" id="batches">"No imports yet. Run " <code>"devpulse import"</code> " on a laptop to send its history."</p>
        });
    }
    let rows = list
        .into_iter()
        .map(|b| {
            let (state, label) = state_of(&b);
            let id = b.id;
            let can_roll_back = matches!(state, "finished" | "running");
            let events = b.events;
            view! {
                <tr data-batch=id.0.to_string() data-state=state>
                    <td class="nowrap">{b.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
                    <td>{b.owner.clone().unwrap_or_else(|| "—".into())}</td>
                    <td>{b.source.clone()}</td>
                    <td>{b.host.clone().unwrap_or_else(|| "—".into())}</td>
                    <td class="batch-state">{label}</td>
                    <td class="num batch-events">{crate::components::format::grouped(b.events)}</td>
                    <td class="num">{figure(&b.stats, "lines")}</td>
                    <td class="num">{figure(&b.stats, "accepted")}</td>
                    <td class="num">{figure(&b.stats, "duplicates")}</td>
                    <td class="num">{figure(&b.stats, "rejected")}</td>
                    <td class="num">{figure(&b.stats, "skipped_lines")}</td>
                    <td class="nowrap">
                        {can_roll_back.then(|| view! {
                            <Show
                                when=move || confirming.get() == Some(id)
                                fallback=move || view! {
                                    <button type="button" class="link danger roll-back" on:click=move |_| confirming.set(Some(id))>"Roll back…"</button>
                                }
                            >
                                <ActionForm action=rollback attr:class="inline">
                                    <input type="hidden" name="id" value=id.0.to_string() />
                                    <button type="submit" class="button danger confirm-roll-back">{format!("Remove {} events", crate::components::format::grouped(events))}</button>
                                    " "
                                    <button type="button" class="link" on:click=move |_| confirming.set(None)>"Cancel"</button>
                                </ActionForm>
                            </Show>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    Either::Right(view! {
        <div class="table-wrap tall" tabindex="0" role="region" aria-label="Import batches">
            <table class="table" id="batches">
                <thead>
                    <tr>
                        <th scope="col">"Started"</th>
                        <th scope="col">"By"</th>
                        <th scope="col">"Source"</th>
                        <th scope="col">"Host"</th>
                        <th scope="col">"State"</th>
                        <th scope="col" class="num">"Events stored"</th>
                        <th scope="col" class="num">"Lines"</th>
                        <th scope="col" class="num">"Imported"</th>
                        <th scope="col" class="num">"Duplicates"</th>
                        <th scope="col" class="num">"Rejected"</th>
                        <th scope="col" class="num">"Lines skipped"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_the_importers_numbers_or_a_dash() {
        let stats = serde_json::json!({ "lines": 12034, "rejected": 0 });
        assert_eq!(figure(&stats, "lines"), "12,034");
        assert_eq!(figure(&stats, "rejected"), "0");
        assert_eq!(figure(&stats, "accepted"), "—");
    }
}
