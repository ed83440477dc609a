//! `/audit`: who did what, from where. Filters live in the URL (a plain GET form, so links
//! are shareable and the page works before the WASM); entries link to everything about the
//! same actor or object; "Older" pages on by entry id; the export is the REST twin's CSV.

use leptos::{either::Either, prelude::*};
use leptos_router::hooks::use_query_map;
use types::audit::{AuditEntry, AuditFilter, AuditPage, ACTIONS};

use crate::AppError;

/// One page of the caller's audit log (their workspace's; the registry's for super admins).
/// `q` is the page's query string, as `GET /api/v1/audit` takes it.
#[server(endpoint = "audit/search")]
pub async fn search_audit(q: String) -> Result<AuditPage, AppError> {
    let s = crate::session::ssr::require_fn::<SearchAudit>().await?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    let filter = AuditFilter::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| AppError::invalid(e.pointer.trim_start_matches('/'), e.detail))?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(s.scope.as_ref()).await?;
    let page = store::audit::search(tx.conn(), &filter, 50).await?;
    tx.commit().await?;
    Ok(page)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let pairs = move || {
        query.with(|q| {
            ["actor", "action", "target", "from", "to", "before"]
                .into_iter()
                .filter_map(|k| q.get(k).map(|v| (k.to_string(), v)))
                .collect::<Vec<_>>()
        })
    };
    let found = Resource::new(
        move || {
            pairs()
                .iter()
                .map(|(k, v)| format!("{k}={}", types::dashboard::encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        },
        search_audit,
    );
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    let filter = move || {
        let p = pairs();
        AuditFilter::from_query(p.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_or_default()
    };
    view! {
        <section class="card">
            <h1>"Audit log"</h1>
            <p class="muted">"Every change to people, keys, teams, settings and sign-ins, newest first. Times are UTC."</p>
            <form method="get" action="/audit" class="filters" id="audit-filters">
                <label>"Actor"<input name="actor" id="audit-actor" placeholder="e-mail, cli, system" value=move || get("actor") /></label>
                <label>
                    "Action"
                    <input name="action" id="audit-action" list="audit-actions" placeholder="e.g. user.invited or user." value=move || get("action") />
                </label>
                <datalist id="audit-actions">
                    {ACTIONS.iter().map(|a| view! { <option value=*a></option> }).collect_view()}
                </datalist>
                <label>"About"<input name="target" id="audit-target" placeholder="an id or name" value=move || get("target") /></label>
                <label>"From (UTC)"<input name="from" id="audit-from" type="datetime-local" value=move || local(&get("from")) /></label>
                <label>"To (UTC)"<input name="to" id="audit-to" type="datetime-local" value=move || local(&get("to")) /></label>
                <div class="row">
                    <button type="submit" class="button" id="audit-search">"Search"</button>
                    <a href="/audit" class="button secondary" id="audit-clear">"Clear"</a>
                    <a href=move || { let q = filter().query(); format!("/api/v1/audit?format=csv{}{q}", if q.is_empty() { "" } else { "&" }) } id="audit-csv" download>
                        "Export CSV"
                    </a>
                </div>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="audit-error">{e.to_string()}</p> }),
                        Ok(page) => Either::Right(view! { <AuditTable page filter=filter() /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// A stored time as a `datetime-local` value (the form reads it back as UTC).
fn local(v: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| v.to_string())
}

#[component]
fn AuditTable(page: AuditPage, filter: AuditFilter) -> impl IntoView {
    if page.entries.is_empty() {
        return Either::Left(view! { <p class="muted" id="audit-empty">"No entries match."</p> });
    }
    let older = page.next_before.map(|before| {
        let q = filter.query();
        format!(
            "/audit?{q}{}before={before}",
            if q.is_empty() { "" } else { "&" }
        )
    });
    Either::Right(view! {
        <div class="table-wrap tall" tabindex="0" role="region" aria-label="Audit entries">
            <table class="table" id="audit">
                <thead>
                    <tr>
                        <th>"When"</th>
                        <th>"Actor"</th>
                        <th>"Action"</th>
                        <th>"About"</th>
                        <th>"From"</th>
                        <th>"Details"</th>
                    </tr>
                </thead>
                <tbody>{page.entries.into_iter().map(|e| view! { <AuditRow e /> }).collect_view()}</tbody>
            </table>
        </div>
        {older.map(|href| view! { <p><a href=href id="audit-older">"Older entries"</a></p> })}
    })
}

#[component]
fn AuditRow(e: AuditEntry) -> impl IntoView {
    let link = |key: &str, value: &str| format!("/audit?{key}={}", types::dashboard::encode(value));
    let actor = e.actor.clone().unwrap_or_default();
    let details = match &e.details {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        d => d.to_string(),
    };
    view! {
        <tr data-id=e.id.to_string() data-action=e.action.clone()>
            <td class="nowrap">{e.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td>{(!actor.is_empty()).then(|| view! { <a href=link("actor", &actor) class="audit-actor">{actor.clone()}</a> })}</td>
            <td><a href=link("action", &e.action) class="audit-action-link">{e.action.clone()}</a></td>
            <td>
                {e.target.clone().map(|t| {
                    let shown = e.target_name.clone().unwrap_or_else(|| t.clone());
                    view! { <a href=link("target", &t) class="audit-target" title=t.clone()>{shown}</a> }
                })}
            </td>
            <td class="muted">{e.ip.clone().unwrap_or_default()}</td>
            <td class="muted audit-details">{details}</td>
        </tr>
    }
}
