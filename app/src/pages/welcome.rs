//! `/welcome`: where an invitation or reset link sets a password.

use leptos::{either::Either, prelude::*};
use leptos_router::hooks::use_query_map;
use types::people::{LinkInfo, LinkKind};

use crate::AppError;

/// What a link is for, or `None` when it is unknown, used or expired.
#[server(endpoint = "links/inspect")]
pub async fn inspect_link(token: String) -> Result<Option<LinkInfo>, AppError> {
    let store = crate::ssr::server_context()?.store;
    let link = store::invitations::inspect(store.pool(), &token).await?;
    Ok(link.map(|(tenant, p)| LinkInfo {
        kind: p.kind,
        tenant: tenant.slug.to_string(),
        email: p.user.email,
        expires_at: p.expires_at,
    }))
}

/// A plain form posting to `/auth/welcome`, so it works without the WASM.
#[component]
pub fn WelcomePage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.with_untracked(|q| q.get(k).unwrap_or_default());
    let token = get("token");
    let info = Resource::new(move || get("token"), inspect_link);
    let error = match get("error").as_str() {
        "invalid" => get("detail"),
        "unavailable" => {
            "Setting the password is not possible right now. Try again shortly.".into()
        }
        _ => String::new(),
    };
    view! {
        <section class="card narrow">
            <Suspense fallback=|| view! { <p class="muted">"Checking the link…"</p> }>
                {move || {
                    let token = token.clone();
                    let error = error.clone();
                    Suspend::new(async move {
                        match info.await {
                            Ok(Some(link)) => {
                                let title = match link.kind { LinkKind::Invite => "Welcome to devpulse", LinkKind::Reset => "Choose a new password" };
                                Either::Left(
                                    view! {
                                        <h1>{title}</h1>
                                        <p id="link-for">
                                            {format!("Set the password for {} in the workspace {}.", link.email, link.tenant)}
                                        </p>
                                        <form method="post" action="/api/v1/auth/form/welcome" class="stack" id="welcome-form">
                                            <input type="hidden" name="token" value=token />
                                            <input type="email" value=link.email hidden autocomplete="username" />
                                            <label>
                                                "New password"
                                                <input name="password" id="password" type="password" required minlength="12" autocomplete="new-password" />
                                            </label>
                                            {(!error.is_empty())
                                                .then(|| view! { <p class="field-error" id="password-error" role="alert">{error}</p> })}
                                            <p class="muted">"At least 12 characters, not your e-mail, not a common password."</p>
                                            <button type="submit" class="button" id="set-password">
                                                "Set password"
                                            </button>
                                        </form>
                                    },
                                )
                            }
                            _ => {
                                Either::Right(
                                    view! {
                                        <h1>"This link does not work"</h1>
                                        <p class="error" role="alert" id="link-invalid">
                                            "It has expired or was already used. Ask your workspace admin for a new one."
                                        </p>
                                    },
                                )
                            }
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}
