//! `/sessions/{id}`: one session's drill-down: its totals and the timeline of prompts, tool
//! runs, API requests and errors.

use crate::components::for_the_render;
use leptos::prelude::*;
use leptos_router::{
    components::A,
    hooks::{use_location, use_params_map},
};

use crate::{
    api::dashboard::get_session,
    components::{
        format::{compact, duration_ms, usd},
        sign_in_first, Failed, Skeleton,
    },
};

#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let detail = Resource::new(move || id.get(), get_session);
    let location = use_location();
    view! {
        <section class="page-head">
            <h1>"Session"</h1>
            <A href="/" attr:class="link">"Back to the dashboard"</A>
        </section>
        <Suspense fallback=|| view! { <Skeleton height=400 /> }>
            {move || Suspend::new(async move {
                match for_the_render(detail).await {
                    Ok(d) => {
                        let s = d.session;
                        let end = s.ended_at.unwrap_or(s.last_seen_at);
                        let ms = (end - s.started_at).num_milliseconds().max(0) as f64;
                        let c = s.counts.clone();
                        let rows = d
                            .timeline
                            .into_iter()
                            .map(|e| {
                                let what = e.tool.clone().or(e.model.clone()).unwrap_or_default();
                                let outcome = match e.success {
                                    Some(true) => "ok".to_string(),
                                    Some(false) => format!("failed{}", e.detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()),
                                    None => e.detail.clone().unwrap_or_default(),
                                };
                                view! {
                                    <tr class=format!("ev {}", e.kind)>
                                        <td><time datetime=e.at.to_rfc3339()>{e.at.format("%H:%M:%S").to_string()}</time></td>
                                        <td>{types::dashboard::kind_label(&e.kind)}</td>
                                        <td>{what}</td>
                                        <td>{outcome}</td>
                                        <td class="num">{e.duration_ms.map(|v| duration_ms(v as f64)).unwrap_or_default()}</td>
                                        <td class="num">{e.tokens.filter(|t| *t > 0).map(|t| compact(t as f64)).unwrap_or_default()}</td>
                                        <td class="num">{e.cache_read_tokens.filter(|t| *t > 0).map(|t| compact(t as f64)).unwrap_or_default()}</td>
                                        <td class="num">{e.cost_usd.map(usd).unwrap_or_default()}</td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        let tools = d
                            .by_tool
                            .into_iter()
                            .map(|(t, n)| format!("{t} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        view! {
                            <dl class="card facts" id="session-facts" data-session=s.id.clone()>
                                <dt>"Person"</dt><dd>{s.email.clone().unwrap_or_default()}</dd>
                                <dt>"Project"</dt><dd>{s.project.clone().unwrap_or_default()}</dd>
                                <dt>"Branch"</dt><dd>{s.git_branch.clone().unwrap_or_default()}</dd>
                                <dt>"Model"</dt><dd>{s.model.clone().unwrap_or_default()}</dd>
                                <dt>"Started (UTC)"</dt><dd>{s.started_at.format("%Y-%m-%d %H:%M:%S").to_string()}</dd>
                                <dt>"Duration"</dt><dd>{duration_ms(ms)}</dd>
                                <dt>"Ended"</dt><dd>{s.end_reason.clone().unwrap_or_else(|| "still open".into())}</dd>
                                <dt>"Tool executions"</dt><dd id="session-tools">{format!("{} ({} failed)", c.tool_executions, c.tool_failures)}</dd>
                                <dt>"API requests"</dt><dd>{c.api_requests}</dd>
                                <dt>"Tokens"</dt><dd>{format!("{} in · {} out · {} cache write · {} cache read", compact(c.input_tokens as f64), compact(c.output_tokens as f64), compact(c.cache_creation_tokens as f64), compact(c.cache_read_tokens as f64))}</dd>
                                <dt>"Cost"</dt><dd id="session-cost">{usd(c.cost_usd)}</dd>
                                <dt>"Lines"</dt><dd>{format!("+{} −{}", c.lines_added, c.lines_removed)}</dd>
                                <dt>"Subagents"</dt><dd>{if s.agents.is_empty() { "none".to_string() } else { s.agents.join(", ") }}</dd>
                                <dt>"Score"</dt><dd>{format!("{:.1} / 10", s.productivity_score)}</dd>
                                <dt>"Tools used"</dt><dd>{tools}</dd>
                            </dl>
                            {d.truncated.then(|| view! { <p class="muted">"The timeline shows the first 2,000 entries."</p> })}
                            <section class="card">
                                <h2>"Timeline"</h2>
                                <div class="table-wrap" tabindex="0" role="region" aria-label="Timeline">
                                    <table class="table" id="timeline">
                                        <thead>
                                            <tr>
                                                <th scope="col">"Time (UTC)"</th>
                                                <th scope="col">"Event"</th>
                                                <th scope="col">"Tool / model"</th>
                                                <th scope="col">"Outcome"</th>
                                                <th scope="col">"Duration"</th>
                                                <th scope="col">"Tokens"</th>
                                                <th scope="col">"Cache read"</th>
                                                <th scope="col">"Cost"</th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                            </section>
                        }
                            .into_any()
                    }
                    Err(e) if e.status == 401 => {
                        sign_in_first(&location.pathname.get_untracked());
                        view! { <p>"Sign in to see this session."</p> }.into_any()
                    }
                    Err(e) => view! { <Failed error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
