//! UI pieces more than one page uses.

pub mod bell;
pub mod budgets;
pub mod format;
pub mod forms;
pub mod kpi;
pub mod theme;
pub mod top_bar;
pub mod viewer;

use leptos::prelude::*;

use crate::AppError;

/// Sends a signed-out visitor to sign in, returning to `here` afterwards: a redirect in the
/// server's response, a navigation in the browser.
pub fn sign_in_first(here: &str) {
    go_instead(&format!("/login?next={}", types::dashboard::encode(here)));
}

/// Sends the reader to `to` instead of this page: a redirect from the server's render, a
/// navigation in the browser.
pub fn go_instead(to: &str) {
    #[cfg(feature = "ssr")]
    leptos_axum::redirect(to);
    #[cfg(not(feature = "ssr"))]
    {
        let navigate = leptos_router::hooks::use_navigate();
        navigate(to, Default::default());
    }
}

/// What a failed widget shows in its own box, so the rest of the page keeps working.
#[component]
pub fn Failed(error: AppError) -> impl IntoView {
    view! {
        <p class="error widget-error" role="alert">
            {error.message}
        </p>
    }
}

/// Awaited in a `Suspend` before building views that start reads of their own. On the
/// server a Suspense walks its children again each time its pending reads finish (to find
/// reads they start), and every walk that found the `Suspend` ready built what follows, so
/// each of its reads went into the page once more: a dashboard whose answers were computed
/// came out at 213 or 287 KB instead of 139, the profile carried its two-step status three
/// times. Not ready on a walk's single poll, what follows is built by the render alone. In
/// the browser it is ready at once: hydration builds everything exactly once.
///
/// No walk sees past it, so every read made after it must be awaited in the same `Suspend`
/// or sit under a Suspense or Transition of its own (a bare read would render as not loaded).
pub async fn built_by_the_render_alone() {
    #[cfg(feature = "ssr")]
    tokio::task::yield_now().await;
}

/// `read`'s value, handed over [`built_by_the_render_alone`]: for a `Suspend` that builds its
/// view from one read. Without it, a kept page built every widget's view three times.
pub async fn for_the_render<F: std::future::IntoFuture>(read: F) -> F::Output {
    let value = read.await;
    built_by_the_render_alone().await;
    value
}

/// A placeholder the size of what is loading, so nothing moves when it arrives.
#[component]
pub fn Skeleton(height: u32) -> impl IntoView {
    view! { <div class="skeleton" style=format!("height:{height}px") aria-hidden="true"></div> }
}

/// A page for signed-in people only: a signed-out visitor is sent to sign in and brought back.
/// The check sits beside the page rather than around it, so the page hydrates exactly as it
/// would on its own (its own server functions refuse a signed-out caller anyway).
#[component]
pub fn Protected(children: Children) -> impl IntoView {
    let viewer = expect_context::<viewer::ViewerResource>().0;
    let location = leptos_router::hooks::use_location();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                if let Ok(None) = viewer.await {
                    let here = format!(
                        "{}{}",
                        location.pathname.get_untracked(),
                        location.search.get_untracked(),
                    );
                    sign_in_first(&here);
                }
            })}
        </Suspense>
        {children()}
    }
}
