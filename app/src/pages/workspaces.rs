//! `/workspaces`: the switcher. The workspaces this browser is signed in to as this person
//! (their sessions wait, sealed, in a cookie); switching to one is instant
//! (`POST /api/v1/auth/switch`, a plain form, so it works without the WASM), and another
//! workspace is one sign-in away.

use leptos::{either::Either, prelude::*};
use types::Membership;

use crate::{
    components::{forms::error_text, Skeleton},
    AppError,
};

#[server(endpoint = "account/workspaces")]
pub async fn my_workspaces() -> Result<Vec<Membership>, AppError> {
    let s = crate::session::ssr::require_fn::<MyWorkspaces>().await?;
    let cx = crate::ssr::server_context()?;
    let sealed = crate::ssr::request_cookie(cx.workspaces_cookie).unwrap_or_default();
    let waiting = store::waiting::open(&cx.sealer, &sealed);
    let email = s.viewer.email.clone();
    let current = match s.viewer.tenant.clone() {
        Some(slug) => {
            let role = s.viewer.role;
            let (_, mut tx) = crate::api::workspace::member_tx(s).await?;
            let name = store::tenants::name_here(&mut tx).await?;
            tx.commit().await?;
            Some(Membership {
                slug,
                name,
                role,
                current: true,
            })
        }
        None => None,
    };
    Ok(store::waiting::memberships(&cx.store, &email, &waiting, current).await?)
}

#[component]
pub fn WorkspacesPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| my_workspaces());
    view! {
        <section class="page-head">
            <h1>"Your workspaces"</h1>
            <span class="muted">"The workspaces you are signed in to in this browser"</span>
        </section>
        <Transition fallback=|| view! { <Skeleton height=200 /> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                    Ok(list) => Either::Right(view! { <Switcher list /> }),
                }
            })}
        </Transition>
    }
}

#[component]
fn Switcher(list: Vec<Membership>) -> impl IntoView {
    let alone = list.len() <= 1;
    view! {
        <section class="card">
            <div class="table-wrap" tabindex="0" role="region" aria-label="Your workspaces">
                <table id="workspaces" class="table">
                    <caption class="sr-only">"Your workspaces"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Workspace"</th>
                            <th scope="col">"Address"</th>
                            <th scope="col">"Your role"</th>
                            <th scope="col"><span class="sr-only">"Switch"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {list
                            .into_iter()
                            .map(|m| {
                                let action = if m.current {
                                    Either::Left(view! { <span class="muted" aria-current="true">"This one"</span> })
                                } else {
                                    let label = format!("Switch to {}", m.name);
                                    Either::Right(view! {
                                        <form method="post" action="/api/v1/auth/switch" class="inline">
                                            <input type="hidden" name="tenant" value=m.slug.clone() />
                                            <button type="submit" class="button" aria-label=label>"Switch"</button>
                                        </form>
                                    })
                                };
                                let slug = m.slug.clone();
                                view! {
                                    <tr data-slug=m.slug data-current=m.current.to_string()>
                                        <td>{m.name}</td>
                                        <td><code>{slug}</code></td>
                                        <td>{m.role.as_str()}</td>
                                        <td>{action}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            {alone.then(|| view! {
                <p class="muted" id="workspaces-alone">
                    "You are signed in to this workspace only. Sign in to another and both stay open here."
                </p>
            })}
            // Through the switch: this session waits from now, whichever way the other
            // workspace signs the person in (single sign-on included).
            <form method="post" action="/api/v1/auth/switch" class="row" id="another-workspace">
                <label>
                    "Another workspace"
                    <input name="tenant" id="another-tenant" required placeholder="its address, e.g. acme" />
                </label>
                <button type="submit" class="button" id="sign-in-another">"Sign in there"</button>
            </form>
            <p class="muted">
                "Signing in to another workspace keeps this one open: switch back here without a password. Signing out signs this browser out of all of them."
            </p>
        </section>
    }
}
