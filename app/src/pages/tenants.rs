//! `/tenants`: the installation's workspaces and its background jobs, for super admins.

use leptos::{either::Either, prelude::*};
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub status: String,
}

#[server(endpoint = "tenants/list")]
pub async fn list_tenants() -> Result<Vec<TenantRow>, AppError> {
    crate::session::ssr::require_fn::<ListTenants>().await?;
    let store = crate::ssr::server_context()?.store;
    let tenants = store::tenants::list(store.pool()).await?;
    Ok(tenants
        .into_iter()
        .map(|t| TenantRow {
            slug: t.slug.to_string(),
            name: t.name,
            status: match t.status {
                store::TenantStatus::Active => "active".into(),
                store::TenantStatus::Suspended => "suspended".into(),
            },
        })
        .collect())
}

/// The job counts and the newest jobs.
#[server(endpoint = "jobs/list")]
pub async fn list_jobs() -> Result<types::jobs::Jobs, AppError> {
    crate::session::ssr::require_fn::<ListJobs>().await?;
    let store = crate::ssr::server_context()?.store;
    Ok(types::jobs::Jobs {
        counts: store::jobs::counts(store.pool()).await?,
        jobs: store::jobs::list(store.pool(), None, 50).await?,
    })
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
pub fn TenantsPage() -> impl IntoView {
    let tenants = Resource::new(|| (), |_| list_tenants());
    let retry = ServerAction::<RetryJob>::new();
    let changes = crate::components::forms::Changes::default().watch(retry.value());
    let jobs = Resource::new(move || changes.get(), |_| list_jobs());
    view! {
        <section class="card">
            <h1>"Tenants"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tenants.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{e.to_string()}</p> }),
                        Ok(rows) => {
                            Either::Right(
                                view! {
                                    <table class="table" id="tenants">
                                        <thead>
                                            <tr>
                                                <th>"Slug"</th>
                                                <th>"Name"</th>
                                                <th>"Status"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows
                                                .into_iter()
                                                .map(|t| {
                                                    view! {
                                                        <tr>
                                                            <td>{t.slug}</td>
                                                            <td>{t.name}</td>
                                                            <td>{t.status}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                },
                            )
                        }
                    }
                })}
            </Suspense>
        </section>
        <section class="card">
            <h2>"Background jobs"</h2>
            <p class="muted">"E-mail deliveries and upkeep, run by every instance; a failed attempt waits longer each time, and a job out of attempts stays here as dead until run again."</p>
            {crate::components::forms::show_result(retry.value(), &[], |m| view! { <p class="notice" role="status" id="retry-notice">{m}</p> }.into_any())}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{e.to_string()}</p> }),
                        Ok(j) => Either::Right(view! { <JobsTable jobs=j retry /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn JobsTable(jobs: types::jobs::Jobs, retry: ServerAction<RetryJob>) -> impl IntoView {
    let c = &jobs.counts;
    view! {
        <p id="job-counts">{format!("{} queued, {} running, {} dead.", c.queued, c.running, c.dead)}</p>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Background jobs">
            <table class="table" id="jobs">
                <thead>
                    <tr>
                        <th>"Job"</th>
                        <th>"Kind"</th>
                        <th>"Workspace"</th>
                        <th>"State"</th>
                        <th>"Attempts"</th>
                        <th>"Last error"</th>
                        <th></th>
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
