//! `/usage`: the workspace's usage for its admins over the last 30 days: people active and
//! activity per day, what it stores, what the write path refused and why, and how its API
//! keys are used.

use leptos::{either::Either, prelude::*};
use types::usage::Usage;

use crate::{
    components::{
        format::{grouped, usd},
        forms::error_text,
        Skeleton,
    },
    AppError,
};

#[server(endpoint = "usage/get")]
pub async fn get_usage() -> Result<Usage, AppError> {
    let (_, mut tx) = crate::api::workspace::allowed::<GetUsage>().await?;
    let usage = store::usage::read(&mut tx, types::usage::DAYS).await?;
    tx.commit().await?;
    Ok(usage)
}

#[component]
pub fn UsagePage() -> impl IntoView {
    let usage = Resource::new(|| (), |_| get_usage());
    view! {
        <section class="page-head">
            <h1>"Usage"</h1>
            <span class="muted">{format!("The last {} days", types::usage::DAYS)}</span>
        </section>
        <Transition fallback=|| view! { <Skeleton height=600 /> }>
            {move || Suspend::new(async move {
                match usage.await {
                    Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                    Ok(u) => Either::Right(view! { <UsageView u /> }),
                }
            })}
        </Transition>
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>, none: &str) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| none.to_string())
}

#[component]
fn UsageView(u: Usage) -> impl IntoView {
    let tiles = [
        ("Most people active in a day", grouped(u.peak_people())),
        ("Events stored (estimate)", grouped(u.events_estimate)),
        ("Storage", types::system::bytes(u.storage_bytes())),
        ("Refused by the write path", grouped(u.rejected())),
    ];
    let days = u.days.clone();
    let storage = u.storage.clone();
    let rejections = u.rejections.clone();
    let keys = u.keys.clone();
    view! {
        <ul class="kpis" id="usage-tiles" aria-label="Usage in numbers">
            {tiles.into_iter().map(|(label, value)| view! {
                <li class="kpi"><span class="kpi-label">{label}</span><span class="kpi-value">{value}</span></li>
            }).collect_view()}
        </ul>
        <section class="card" aria-labelledby="days-title">
            <h2 id="days-title">"Activity per day"</h2>
            {if days.is_empty() {
                Either::Left(view! { <p class="muted" id="usage-days">"No activity in this period."</p> })
            } else {
                Either::Right(view! {
                    <div class="table-wrap" tabindex="0" role="region" aria-label="Activity per day">
                        <table class="table" id="usage-days">
                            <thead><tr>
                                <th scope="col">"Day"</th>
                                <th scope="col" class="num">"People active"</th>
                                <th scope="col" class="num">"Sessions"</th>
                                <th scope="col" class="num">"Tool runs"</th>
                                <th scope="col" class="num">"API requests"</th>
                                <th scope="col" class="num">"Cost"</th>
                            </tr></thead>
                            <tbody>
                                {days.into_iter().map(|d| view! {
                                    <tr data-day=d.day.to_string()>
                                        <td class="nowrap">{d.day.format("%a %Y-%m-%d").to_string()}</td>
                                        <td class="num">{grouped(d.people)}</td>
                                        <td class="num">{grouped(d.sessions)}</td>
                                        <td class="num">{grouped(d.tool_runs)}</td>
                                        <td class="num">{grouped(d.api_requests)}</td>
                                        <td class="num">{usd(d.cost_usd)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                })
            }}
        </section>
        <div class="split">
            <section class="card" aria-labelledby="storage-title">
                <h2 id="storage-title">"Storage"</h2>
                <div class="table-wrap" tabindex="0" role="region" aria-label="Storage by table">
                    <table class="table" id="usage-storage">
                        <thead><tr><th scope="col">"Table"</th><th scope="col" class="num">"On disk"</th></tr></thead>
                        <tbody>
                            {storage.into_iter().map(|t| view! {
                                <tr data-table=t.table.clone()><td>{t.table.clone()}</td><td class="num">{types::system::bytes(t.bytes)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </section>
            <section class="card" aria-labelledby="refused-title">
                <h2 id="refused-title">"Refused by the write path"</h2>
                {if rejections.is_empty() {
                    Either::Left(view! { <p class="muted" id="usage-rejections">"Nothing was refused."</p> })
                } else {
                    Either::Right(view! {
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Refusals by day and reason">
                            <table class="table" id="usage-rejections">
                                <thead><tr><th scope="col">"Day"</th><th scope="col">"Why"</th><th scope="col" class="num">"How many"</th></tr></thead>
                                <tbody>
                                    {rejections.into_iter().map(|r| view! {
                                        <tr><td class="nowrap">{r.day.to_string()}</td><td>{r.reason}</td><td class="num">{grouped(r.count)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    })
                }}
            </section>
        </div>
        <section class="card" aria-labelledby="keys-title">
            <h2 id="keys-title">"API keys by last use"</h2>
            {if keys.is_empty() {
                Either::Left(view! { <p class="muted" id="usage-keys">"No keys yet."</p> })
            } else {
                Either::Right(view! {
                    <div class="table-wrap" tabindex="0" role="region" aria-label="API keys by last use">
                        <table class="table" id="usage-keys">
                            <thead><tr>
                                <th scope="col">"Key"</th>
                                <th scope="col">"Owner"</th>
                                <th scope="col">"Scopes"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col">"State"</th>
                            </tr></thead>
                            <tbody>
                                {keys.into_iter().map(|k| {
                                    let state = match (k.revoked_at, k.expires_at) {
                                        (Some(_), _) => "revoked".to_string(),
                                        (None, Some(at)) => format!("expires {}", at.format("%Y-%m-%d")),
                                        (None, None) => "active".to_string(),
                                    };
                                    let prefix = k.prefix.clone();
                                    view! {
                                        <tr data-key=prefix>
                                            <td>{k.name}<br /><code class="muted">{k.prefix}</code></td>
                                            <td>{k.owner.unwrap_or_else(|| "—".into())}</td>
                                            <td>{k.scopes.join(", ")}</td>
                                            <td class="nowrap key-last-used">{when(k.last_used_at, "never")}</td>
                                            <td class="nowrap">{when(Some(k.created_at), "")}</td>
                                            <td>{state}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                })
            }}
        </section>
    }
}
