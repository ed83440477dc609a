//! `/privacy`: a tenant admin answers a person's data requests: an export of everything the
//! workspace stores about them (a `.tar.gz` to download for a week), or their erasure, with
//! their activity deleted or kept anonymously. Both run as background jobs; the list follows
//! them until they are done.

use leptos::{either::Either, prelude::*};
use types::gdpr::Request;

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::{
    components::{
        format::grouped,
        forms::{error_text, field_error, Changes},
    },
    pages::users::list_users,
    AppError,
};

/// The workspace's exports and erasures, newest first.
#[server(endpoint = "gdpr/list")]
pub async fn list_requests() -> Result<Vec<Request>, AppError> {
    let (_, mut tx) = ws::allowed::<ListRequests>().await?;
    let list = store::gdpr::list(&mut tx).await?;
    tx.commit().await?;
    Ok(list)
}

/// Asks for an export of everything stored about a person.
#[server(endpoint = "gdpr/export")]
pub async fn request_export(user: String) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<RequestExport>().await?;
    let id = store::gdpr::request_export(&mut tx, &s.actor, ws::user_id(&user)?).await?;
    tx.commit().await?;
    Ok(id.to_string())
}

/// Asks for a person's erasure; `confirm` is their e-mail address, typed.
#[server(endpoint = "gdpr/erase")]
pub async fn request_erasure(
    user: String,
    mode: String,
    confirm: String,
) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<RequestErasure>().await?;
    let mode = store::gdpr::Mode::parse(&mode)?;
    let id = store::gdpr::request_erasure(&mut tx, &s.actor, ws::user_id(&user)?, mode, &confirm)
        .await?;
    tx.commit().await?;
    Ok(id.to_string())
}

#[component]
pub fn PrivacyPage() -> impl IntoView {
    let export = ServerAction::<RequestExport>::new();
    let erase = ServerAction::<RequestErasure>::new();
    let changes = Changes::default()
        .watch(export.value())
        .watch(erase.value());
    // Moves on every few seconds while a request is under way, so the list follows it.
    let tick = RwSignal::new(0u32);
    let requests = Resource::new(move || (changes.get(), tick.get()), |_| list_requests());
    // The people to pick from change when an erasure finishes (not when it is asked for).
    let erased = Memo::new(move |_| {
        requests.get().and_then(Result::ok).map_or(0, |list| {
            list.iter()
                .filter(|r| r.kind == "erasure" && r.state == "done")
                .count()
        })
    });
    let people = Resource::new(move || (changes.get(), erased.get()), |_| list_users());
    view! {
        <section class="card" aria-labelledby="privacy-title">
            <h1 id="privacy-title">"Personal data"</h1>
            <p class="muted">
                "When someone asks what the workspace holds about them, or to be forgotten. An export is a .tar.gz of JSON files with a README, downloadable here for a week. "
                "An erasure cannot be undone: it signs them out, revokes their keys, rewrites every mention of their e-mail, name or keys to [erased], and empties their profile. "
                "Their activity is either deleted (the workspace's totals drop by their share) or kept under an anonymous id (totals unchanged)."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match people.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                        Ok(people) => {
                            let options = move || {
                                people
                                    .iter()
                                    .map(|p| {
                                        let label = if p.user.name.is_empty() {
                                            p.user.email.clone()
                                        } else {
                                            format!("{} ({})", p.user.name, p.user.email)
                                        };
                                        view! { <option value=p.user.id.0.to_string()>{label}</option> }
                                    })
                                    .collect_view()
                            };
                            let options_too = options.clone();
                            Either::Right(view! {
                                <div class="split">
                                    <ActionForm action=export attr:class="stack" attr:id="export-form">
                                        <h2>"Export"</h2>
                                        <label>
                                            "Person"
                                            <select name="user" id="export-user">{options()}</select>
                                        </label>
                                        <p class="row"><button type="submit" class="button" id="export-request">"Export their data"</button></p>
                                    </ActionForm>
                                    <ActionForm action=erase attr:class="stack" attr:id="erase-form">
                                        <h2>"Erase"</h2>
                                        <label>
                                            "Person"
                                            <select name="user" id="erase-user" aria-describedby="erase-user-error">{options_too()}</select>
                                        </label>
                                        {field_error(erase.value(), "user", "erase-user-error")}
                                        <fieldset>
                                            <legend>"Their activity"</legend>
                                            <label class="check">
                                                <input type="radio" name="mode" value="pseudonymise" id="erase-pseudonymise" checked=true />
                                                "Keep it anonymously (totals unchanged)"
                                            </label>
                                            <label class="check">
                                                <input type="radio" name="mode" value="delete" id="erase-delete" />
                                                "Delete it (totals drop by their share)"
                                            </label>
                                        </fieldset>
                                        {field_error(erase.value(), "mode", "erase-mode-error")}
                                        <label>
                                            "Type their e-mail address to confirm"
                                            <input name="confirm" id="erase-confirm" type="email" required autocomplete="off" aria-describedby="erase-confirm-error" />
                                        </label>
                                        {field_error(erase.value(), "confirm", "erase-confirm-error")}
                                        <p class="row"><button type="submit" class="button danger" id="erase-request">"Erase for good"</button></p>
                                    </ActionForm>
                                </div>
                            })
                        }
                    }
                })}
            </Transition>
            {move || match export.value().get() {
                Some(Ok(_)) => Some(view! { <p class="notice" role="status" id="export-queued">"Export requested: it is listed below and ready to download in a moment."</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any()),
                None => None,
            }}
            {move || match erase.value().get() {
                Some(Ok(_)) => Some(view! { <p class="notice" role="status" id="erase-queued">"Erasure under way: it is listed below."</p> }.into_any()),
                Some(Err(e)) if e.field.is_none() => Some(view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any()),
                _ => None,
            }}
        </section>
        <section class="card" aria-labelledby="requests-title">
            <h2 id="requests-title">"Requests"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match requests.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
                        Ok(list) => {
                            if list.iter().any(|r| r.state == "queued" || r.state == "running") {
                                follow(tick);
                            }
                            Either::Right(view! { <RequestTable list /> })
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// Reads the list again in two seconds (in the browser; the server renders once).
fn follow(tick: RwSignal<u32>) {
    #[cfg(feature = "hydrate")]
    set_timeout(
        move || tick.update(|n| *n += 1),
        std::time::Duration::from_secs(2),
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = tick;
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
fn RequestTable(list: Vec<Request>) -> impl IntoView {
    if list.is_empty() {
        return Either::Left(view! { <p class="muted" id="requests-none">"No requests yet."</p> });
    }
    let rows = list
        .into_iter()
        .map(|r| {
            let what = match (r.kind.as_str(), r.mode.as_deref()) {
                ("export", _) => "Export".to_string(),
                (_, Some("delete")) => "Erasure (activity deleted)".to_string(),
                _ => "Erasure (activity kept anonymously)".to_string(),
            };
            let who = r.email.clone().unwrap_or_else(|| "an erased person".into());
            let state = match (r.kind.as_str(), r.state.as_str()) {
                ("erasure", "running") => format!("running: step {} of 4", r.step + 1),
                (_, s) => s.to_string(),
            };
            let rows_total: i64 = r.counts.values().sum();
            let outcome = match (r.kind.as_str(), r.state.as_str()) {
                (_, "failed") => r.error.clone().unwrap_or_default(),
                ("export", "done") => {
                    format!("{} rows in {} files", grouped(rows_total), r.counts.len())
                }
                ("erasure", "done") => format!("{} rows removed or rewritten", grouped(rows_total)),
                _ => String::new(),
            };
            let download = r.downloadable().then(|| {
                let href = format!("/api/v1/gdpr/requests/{}/archive", r.id);
                let size = r.archive_bytes.unwrap_or(0);
                let until = r.expires_at.map(when).unwrap_or_default();
                view! {
                    <a href=href rel="external" download="" class="download">
                        {format!("Download ({} KB, until {until})", grouped((size + 1023) / 1024))}
                    </a>
                }
            });
            view! {
                <tr data-id=r.id.to_string() data-kind=r.kind.clone() data-state=r.state.clone()>
                    <td>{what}</td>
                    <td>{who}</td>
                    <td class="request-state">{state}</td>
                    <td>{when(r.created_at)}</td>
                    <td>{outcome}" "{download}</td>
                </tr>
            }
        })
        .collect_view();
    Either::Right(view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Data requests">
            <table class="table" id="requests">
                <thead>
                    <tr>
                        <th scope="col">"Request"</th>
                        <th scope="col">"Person"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Asked"</th>
                        <th scope="col">"Outcome"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    })
}
