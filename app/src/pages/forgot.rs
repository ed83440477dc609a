//! `/forgot`: asks for a link to set a new password, by e-mail. A plain form posting to
//! `/auth/forgot`, so it works before (and without) the WASM; the answer is the same whether
//! or not the address has an account.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ForgotPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    let status = move || get("status");
    let problem = move || match status().as_str() {
        "tenant" => Some(("tenant", "That is not a workspace name.")),
        "email" => Some(("email", "That is not an e-mail address.")),
        "throttled" => Some((
            "",
            "Too many requests from here. Wait a minute and try again.",
        )),
        "unavailable" => Some(("", "This is not possible right now. Try again shortly.")),
        _ => None,
    };
    let error_for = move |field: &'static str| {
        move || {
            problem().filter(|(f, _)| *f == field).map(|(_, text)| {
                view! { <p class="field-error" id=format!("{field}-error") role="alert">{text}</p> }
            })
        }
    };
    view! {
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            {move || {
                (status() == "sent")
                    .then(|| view! {
                        <p class="notice" role="status" id="notice">
                            "If that address has an account in that workspace, a link to set a new password is on its way to it. The link works once, for 72 hours."
                        </p>
                    })
            }}
            {move || {
                problem()
                    .filter(|(f, _)| f.is_empty())
                    .map(|(_, text)| view! { <p class="error" role="alert">{text}</p> })
            }}
            <p class="muted">
                "Give your workspace and e-mail; we send a link that lets you choose a new password. Workspaces that sign in through an identity provider reset passwords there."
            </p>
            <form method="post" action="/auth/forgot" class="stack" id="forgot-form">
                <label>
                    "Workspace"
                    <input name="tenant" id="tenant" required autocomplete="organization" value=move || get("tenant") />
                </label>
                {error_for("tenant")}
                <label>
                    "E-mail"
                    <input name="email" id="email" type="email" required autocomplete="username" value=move || get("email") />
                </label>
                {error_for("email")}
                <button type="submit" class="button" id="send-link">"Send me a link"</button>
            </form>
            <p><a href="/login">"Back to sign in"</a></p>
        </section>
    }
}
