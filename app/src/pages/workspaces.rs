//! `/workspaces`: the switcher. Every workspace where the signed-in person's e-mail has an
//! account; switching to one this browser is still signed in to is instant, another asks for
//! that workspace's own sign-in (`POST /api/v1/auth/switch` decides, so it works without the
//! WASM).

use leptos::{either::Either, prelude::*};
use types::Membership;

use crate::{
    components::{forms::error_text, Skeleton},
    AppError,
};

#[server(endpoint = "account/workspaces")]
pub async fn my_workspaces() -> Result<Vec<Membership>, AppError> {
    let s = crate::session::ssr::require_fn::<MyWorkspaces>().await?;
    let store = crate::ssr::server_context()?.store;
    let email = store::Email::parse(&s.viewer.email)?;
    Ok(store::tenants::memberships(&store, &email, s.viewer.tenant.as_deref()).await?)
}

#[component]
pub fn WorkspacesPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| my_workspaces());
    view! {
        <section class="page-head">
            <h1>"Your workspaces"</h1>
            <span class="muted">"Every workspace where your e-mail address has an account"</span>
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
            <div class="table-wrap">
                <table id="workspaces">
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
                    "Your address has an account in this workspace only. When another workspace invites it, that workspace appears here."
                </p>
            })}
            <p class="muted">
                "A workspace you are still signed in to in this browser opens at once; another asks for its own sign-in. Signing out signs this browser out of all of them."
            </p>
        </section>
    }
}
