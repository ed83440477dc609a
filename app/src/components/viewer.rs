//! Who is signed in: loaded once per page and shared through context, and what a page shows
//! a visitor who is not.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    session::{whoami, Viewer},
    AppError,
};

/// The signed-in person, loaded once per page and shared through context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, AppError>>);

pub fn provide_viewer() -> ViewerResource {
    let r = ViewerResource(Resource::new(|| (), |_| whoami()));
    provide_context(r);
    r
}

#[component]
pub fn SignInFirst() -> impl IntoView {
    view! {
        <p class="error" role="alert">
            "Sign in first. " <A href="/login">"Sign in"</A>
        </p>
    }
}
