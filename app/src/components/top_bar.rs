//! The bar on every page: the workspace, the pages the viewer's role opens, who is signed in,
//! sign-out and the theme.

use crate::components::for_the_render;
use leptos::{either::Either, prelude::*};
use leptos_router::components::A;
use types::Permission;

use super::viewer::ViewerResource;

#[component]
pub fn TopBar() -> impl IntoView {
    let bell = super::bell::BellData::new(expect_context::<ViewerResource>());
    let viewer = expect_context::<ViewerResource>().0;
    // The dashboard's kiosk (TV) mode shows the board alone.
    let query = leptos_router::hooks::use_query_map();
    let location = leptos_router::hooks::use_location();
    let kiosk = move || {
        location.pathname.with(|p| p == "/")
            && query.with(|q| {
                q.get("kiosk")
                    .is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "no"))
            })
    };
    view! {
        <header class="topbar" class:kiosk=kiosk>
            <A href="/" attr:class="brand">
                "devpulse"
            </A>
            <nav aria-label="Main">
                <A href="/status">"Status"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match for_the_render(viewer).await.ok().flatten() {
                            Some(v) => {
                                let member = v.tenant.is_some();
                                let admin = v.can(Permission::UserManage);
                                // A super admin reading a workspace through a support access
                                // gets its dashboard and nothing else.
                                let own = v.support.is_none();
                                // Read with the viewer, so the count is in the page.
                                let inbox = if member && own {
                                    bell.inbox.await.ok()
                                } else {
                                    None
                                };
                                // One list, not a run of optional siblings: the server's
                                // markup and the browser's hydration then walk the same nodes.
                                let links = [
                                    (member, "/", "Dashboard"),
                                    (member && own, "/alerts", "Alerts"),
                                    (member && own, "/reports", "Reports"),
                                    (member && own, "/api-keys", "API keys"),
                                    (member && admin, "/users", "Users"),
                                    (member && own, "/teams", "Teams"),
                                    (member && own, "/imports", "Imports"),
                                    (admin, "/audit", "Audit"),
                                    (member && admin, "/usage", "Usage"),
                                    (member && admin, "/settings", "Settings"),
                                    (v.can(Permission::TenantsManage), "/system", "System"),
                                    (own, "/profile", "Profile"),
                                ]
                                    .into_iter()
                                    .filter(|(shown, _, _)| *shown)
                                    .map(|(_, href, label)| {
                                        view! { <A href=href exact=href == "/">{label}</A> }
                                    })
                                    .collect_view();
                                Either::Left(
                                    view! {
                                        // The workspace's name opens the switcher (not in a support access,
                                        // which is one workspace's only).
                                        {if own {
                                            Either::Left(view! {
                                                <a href="/workspaces" class="tenant" id="tenant-name" title="Switch workspace" hidden=!member>
                                                    {v.tenant.clone().unwrap_or_default()}
                                                </a>
                                            })
                                        } else {
                                            Either::Right(view! {
                                                <span class="tenant" id="tenant-name" title="Workspace">
                                                    {v.tenant.clone().unwrap_or_default()}
                                                </span>
                                            })
                                        }}
                                        {links}
                                        {inbox.map(|initial| view! { <super::bell::Bell data=bell initial /> })}
                                        <span class="who" id="who" data-role=v.role.as_str()>
                                            {format!("{} · {}", v.email, v.role.label())}
                                        </span>
                                        {v.support.map(|sup| view! {
                                            <span class="support-flag" id="support-flag" title=sup.reason>
                                                {format!("Support access, read-only, until {}", sup.expires_at.format("%H:%M UTC"))}
                                            </span>
                                            <form method="post" action="/api/v1/auth/support/end" class="inline">
                                                <button type="submit" id="support-end" class="link">"End support access"</button>
                                            </form>
                                        })}
                                        <form method="post" action="/api/v1/auth/logout" class="inline">
                                            <button type="submit" id="sign-out" class="link">
                                                "Sign out"
                                            </button>
                                        </form>
                                    },
                                )
                            }
                            None => Either::Right(view! { <A href="/login">"Sign in"</A> }),
                        }
                    })}
                </Transition>
            </nav>
            <crate::components::theme::ThemeToggle />
        </header>
    }
}
