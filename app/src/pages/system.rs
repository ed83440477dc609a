//! `/system`: the installation's health for super admins, read again every few seconds while
//! the page is open (database, Redis, the write path, live feeds, schema versions, recent
//! warnings and errors), and its background jobs.

use leptos::{either::Either, prelude::*};
use leptos_router::components::A;
use types::system::{bytes, Health};

use crate::{
    components::{
        forms::{error_text, show_result, Changes},
        Skeleton,
    },
    AppError,
};

/// How often the open page reads the health again.
const EVERY_SECS: u64 = 3;

#[server(endpoint = "system/health")]
pub async fn get_health() -> Result<Health, AppError> {
    crate::session::ssr::require_fn::<GetHealth>().await?;
    crate::ssr::server_context()?.system.health().await
}

/// The job counts and the newest jobs.
#[server(endpoint = "jobs/list")]
pub async fn list_jobs() -> Result<types::jobs::Jobs, AppError> {
    crate::session::ssr::require_fn::<ListJobs>().await?;
    crate::ssr::server_context()?.system.jobs().await
}

/// Runs a dead job again with a fresh set of attempts.
#[server(endpoint = "jobs/retry")]
pub async fn retry_job(id: i64) -> Result<String, AppError> {
    crate::session::ssr::require_fn::<RetryJob>().await?;
    let store = crate::ssr::server_context()?.store;
    store::jobs::revive(store.pool(), types::jobs::JobId(id)).await?;
    Ok(format!("Job {id} is queued again."))
}

#[component]
pub fn SystemPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    let paused = RwSignal::new(false);
    let health = Resource::new(move || tick.get(), |_| get_health());
    poll(tick, paused);
    let retry = ServerAction::<RetryJob>::new();
    let changes = Changes::default().watch(retry.value());
    let jobs = Resource::new(move || (changes.get(), tick.get() / 5), |_| list_jobs());
    view! {
        <section class="page-head">
            <h1>"System"</h1>
            <A href="/system/tenants">"Workspaces"</A>
            <button
                type="button"
                class="button secondary"
                id="health-pause"
                aria-pressed=move || paused.get().to_string()
                on:click=move |_| paused.update(|p| *p = !*p)
            >
                {move || if paused.get() { "Resume updates" } else { "Pause updates" }}
            </button>
        </section>
        <Transition fallback=|| view! { <Skeleton height=520 /> }>
            {move || Suspend::new(async move {
                match health.await {
                    Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                    Ok(h) => Either::Right(view! { <HealthView h /> }),
                }
            })}
        </Transition>
        <section class="card" aria-labelledby="jobs-title">
            <h2 id="jobs-title">"Background jobs"</h2>
            <p class="muted">"E-mail deliveries, retention, personal-data requests and upkeep, run by every instance; a failed attempt waits longer each time, and a job out of attempts stays here as dead until run again."</p>
            {show_result(retry.value(), &[], |m| view! { <p class="notice" role="status" id="retry-notice">{m}</p> }.into_any())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
                        Ok(j) => Either::Right(view! { <JobsTable jobs=j retry /> }),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Moves `tick` on every [`EVERY_SECS`] while the page is open and not paused (in the
/// browser; the server renders once).
fn poll(tick: RwSignal<u64>, paused: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                if paused.try_get_untracked() == Some(false) {
                    tick.try_update(|n| *n += 1);
                }
            },
            std::time::Duration::from_secs(EVERY_SECS),
        );
        if let Ok(h) = handle {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (tick, paused, EVERY_SECS);
}

#[component]
fn HealthView(h: Health) -> impl IntoView {
    let db = &h.database;
    let used = db.connections as f64 / db.max_connections.max(1) as f64;
    let redis = match (&h.redis.latency_ms, &h.redis.error) {
        _ if !h.redis.configured => (
            "off",
            "Not configured: limits and the live bus are in this process".to_string(),
        ),
        (Some(ms), _) => ("ok", format!("PING {ms:.1} ms")),
        (None, Some(e)) => ("bad", format!("Unreachable: {e}")),
        (None, None) => ("bad", "Unreachable".to_string()),
    };
    let w = &h.writer;
    let queue_share = w.queued_events as f64 / w.queue_capacity.max(1) as f64;
    let flush = match (w.flush_ms_p50, w.flush_ms_max) {
        (Some(p50), Some(max)) => format!(
            "{} commits, median {p50:.1} ms, slowest {max:.1} ms",
            w.flushes
        ),
        _ => "no commits in the last minute".to_string(),
    };
    let s = &h.schemas;
    let schemas_ok = s.registry_version == s.registry_expected && s.behind.is_empty();
    let replicas = if db.in_recovery {
        "This database is a standby".to_string()
    } else if db.replicas.is_empty() {
        "No replicas".to_string()
    } else {
        db.replicas
            .iter()
            .map(|r| match r.lag_bytes {
                Some(lag) => format!("{} {} ({} behind)", r.name, r.state, bytes(lag)),
                None => format!("{} {}", r.name, r.state),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Dashboards read from the replica only while it is within its bound.
    let read_replica = db.read_replica.as_ref().map(|r| {
        let bound = format!("{:.1} s", r.max_lag_ms as f64 / 1000.0);
        let reads = format!(
            "{} reads served there, {} by the primary instead",
            crate::components::format::grouped(r.replica_reads as i64),
            crate::components::format::grouped(r.primary_reads as i64)
        );
        match (r.up, r.staleness_ms, &r.error) {
            (true, Some(ms), _) if ms <= r.max_lag_ms => format!(
                "Read replica: dashboards read there, data up to {:.1} s old (bound {bound}); {reads}",
                ms as f64 / 1000.0
            ),
            (true, Some(ms), _) => format!(
                "Read replica: {:.1} s behind, beyond its bound of {bound}: dashboards read the primary; {reads}",
                ms as f64 / 1000.0
            ),
            (_, _, Some(e)) => format!("Read replica unavailable ({e}): dashboards read the primary; {reads}"),
            _ => format!("Read replica: not compared yet; {reads}"),
        }
    });
    let behind = s
        .behind
        .iter()
        .map(|(slug, v)| format!("{slug} at {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let errors = h.errors.clone();
    let state = |ok: bool| if ok { "ok" } else { "warn" };
    let (db_state, writer_state, schemas_state) = (
        // A configured read replica that dashboards cannot use is worth a look too.
        state(
            used <= 0.8
                && db
                    .read_replica
                    .as_ref()
                    .is_none_or(|r| r.up && r.staleness_ms.is_some_and(|ms| ms <= r.max_lag_ms)),
        ),
        state(queue_share <= 0.5),
        state(schemas_ok),
    );
    view! {
        <section class="card" aria-labelledby="health-title">
            <h2 id="health-title">"Health"</h2>
            <p class="muted" id="health-at" data-at=h.at.to_rfc3339()>
                {format!("devpulse {} on this instance, up {}; read at {}", h.version, uptime(h.uptime_secs), h.at.format("%H:%M:%S UTC"))}
            </p>
            <dl class="health">
                <div class="health-item" id="health-database" data-state=db_state>
                    <dt>"Database"</dt>
                    <dd>
                        <span class="strong">{format!("{} of {} connections", db.connections, db.max_connections)}</span>
                        <span class="muted">{format!("PostgreSQL {} ({}), {}, query {:.1} ms; this instance's pool {} open, {} idle", db.version, db.mode, bytes(db.size_bytes), db.latency_ms, db.pool_size, db.pool_idle)}</span>
                        <span class="muted" id="health-replicas">{replicas}</span>
                        {read_replica.map(|r| view! { <span class="muted" id="health-read-replica">{r}</span> })}
                    </dd>
                </div>
                <div class="health-item" id="health-redis" data-state=redis.0>
                    <dt>"Redis"</dt>
                    <dd><span class="strong">{redis.1}</span></dd>
                </div>
                <div class="health-item" id="health-writer" data-state=writer_state>
                    <dt>"Write path"</dt>
                    <dd>
                        <span class="strong" id="ingest-rate">{format!("{:.1} events/s", w.events_per_sec)}</span>
                        <span class="muted" id="writer-queue">{format!("{} of {} events queued; {}", crate::components::format::grouped(w.queued_events as i64), crate::components::format::grouped(w.queue_capacity as i64), flush)}</span>
                        <span class="muted">{format!("{} events written since start", crate::components::format::grouped(w.written_total as i64))}</span>
                    </dd>
                </div>
                <div class="health-item" id="health-sockets" data-state="ok">
                    <dt>"Live feeds"</dt>
                    <dd><span class="strong" id="socket-count">{format!("{} open", h.sockets)}</span><span class="muted">"WebSockets on this instance"</span></dd>
                </div>
                <div class="health-item" id="health-schemas" data-state=schemas_state>
                    <dt>"Schemas"</dt>
                    <dd>
                        <span class="strong">{if schemas_ok { format!("{} at {}", workspaces(s.tenants), s.tenant_expected) } else { format!("{} of {} workspaces behind {}", s.behind.len(), s.tenants, s.tenant_expected) }}</span>
                        <span class="muted">{format!("Registry at {} (expects {}). {}", s.registry_version, s.registry_expected, behind)}</span>
                    </dd>
                </div>
            </dl>
        </section>
        <section class="card" aria-labelledby="errors-title">
            <h2 id="errors-title">"Recent warnings and errors"</h2>
            {if errors.is_empty() {
                Either::Left(view! { <p class="muted" id="recent-errors">"None since this instance started."</p> })
            } else {
                Either::Right(view! {
                    <div class="table-wrap" tabindex="0" role="region" aria-label="Recent warnings and errors">
                        <table class="table" id="recent-errors">
                            <thead><tr><th scope="col">"When"</th><th scope="col">"Level"</th><th scope="col">"Where"</th><th scope="col">"What"</th></tr></thead>
                            <tbody>
                                {errors.into_iter().map(|e| view! {
                                    <tr>
                                        <td class="nowrap">{e.at.format("%m-%d %H:%M:%S").to_string()}</td>
                                        <td>{e.level}</td>
                                        <td class="muted">{e.target}</td>
                                        <td class="wrap">{e.message}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                })
            }}
        </section>
    }
}

fn workspaces(n: i64) -> String {
    match n {
        0 => "No workspaces yet".to_string(),
        1 => "The one workspace".to_string(),
        n => format!("All {n} workspaces"),
    }
}

fn uptime(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} days", s / 86_400),
    }
}

#[component]
fn JobsTable(jobs: types::jobs::Jobs, retry: ServerAction<RetryJob>) -> impl IntoView {
    let c = &jobs.counts;
    let schedules = jobs.schedules.clone();
    view! {
        <p id="job-counts">{format!("{} queued, {} running, {} dead.", c.queued, c.running, c.dead)}</p>
        <h3>"Recurring"</h3>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Recurring jobs">
            <table class="table" id="schedules">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Cron (UTC)"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Next run"</th>
                    </tr>
                </thead>
                <tbody>
                    {schedules
                        .into_iter()
                        .map(|s| {
                            let next = s.next_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "—".into());
                            let name = s.name.clone();
                            view! {
                                <tr data-schedule=s.name>
                                    <td>{name}</td>
                                    <td><code>{s.pattern}</code></td>
                                    <td>{s.description}</td>
                                    <td>{next}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <h3>"Latest"</h3>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Background jobs">
            <table class="table" id="jobs">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Workspace"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Last error"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {jobs
                        .jobs
                        .into_iter()
                        .map(|j| {
                            let dead = j.state == "dead";
                            let id = j.id.to_string();
                            let (row_id, form_id, state) = (id.clone(), id.clone(), j.state.clone());
                            view! {
                                <tr data-job=row_id data-state=state>
                                    <td>{id}</td>
                                    <td>{j.kind}</td>
                                    <td>{j.tenant.unwrap_or_else(|| "—".into())}</td>
                                    <td>{j.state}</td>
                                    <td>{format!("{} of {}", j.attempts, j.max_attempts)}</td>
                                    <td class="muted">{j.last_error.unwrap_or_default()}</td>
                                    <td>
                                        {dead.then(|| view! {
                                            <ActionForm action=retry attr:class="inline">
                                                <input type="hidden" name="id" value=form_id.clone() />
                                                <button type="submit" class="link retry-job">"Run again"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_in_the_largest_sensible_unit() {
        assert_eq!(uptime(59), "59 s");
        assert_eq!(uptime(600), "10 min");
        assert_eq!(uptime(10_800), "3 h");
        assert_eq!(uptime(259_200), "3 days");
    }
}
