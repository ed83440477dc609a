//! The bar on every page: the workspace, the pages the viewer's role opens, who is signed in,
//! sign-out and the theme.

use leptos::{either::Either, prelude::*};
use leptos_router::components::A;
use types::Permission;

use super::viewer::ViewerResource;

#[component]
pub fn TopBar() -> impl IntoView {
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
                        match viewer.await.ok().flatten() {
                            Some(v) => {
                                Either::Left(
                                    view! {
                                        {v
                                            .tenant
                                            .clone()
                                            .map(|t| {
                                                view! {
                                                    <span class="tenant" id="tenant-name" title="Workspace">
                                                        {t}
                                                    </span>
                                                    <A href="/" exact=true>"Dashboard"</A>
                                                }
                                            })}
                                        {v
                                            .tenant
                                            .is_some()
                                            .then(|| view! { <A href="/api-keys">"API keys"</A> })}
                                        {(v.tenant.is_some() && v.can(Permission::UserManage))
                                            .then(|| view! { <A href="/users">"Users"</A> })}
                                        {v.tenant.is_some().then(|| view! { <A href="/teams">"Teams"</A> })}
                                        {v
                                            .can(Permission::UserManage)
                                            .then(|| view! { <A href="/audit">"Audit"</A> })}
                                        {v
                                            .can(Permission::TenantsManage)
                                            .then(|| view! { <A href="/tenants">"Tenants"</A> })}
                                        <A href="/profile">"Profile"</A>
                                        <span class="who" id="who" data-role=v.role.as_str()>
                                            {format!("{} · {}", v.email, v.role)}
                                        </span>
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
