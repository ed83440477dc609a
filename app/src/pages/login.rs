//! `/login`: a password form and "Continue with SSO", both plain HTML forms the server answers,
//! so signing in works before (and without) the WASM.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A plain HTML form posting to `/auth/login`: it works before (and without) the WASM.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    let message = move || match get("error").as_str() {
        "credentials" => "Wrong workspace, e-mail or password.",
        "suspended" => "This workspace is suspended.",
        "throttled" => "Too many attempts. Wait a little and try again.",
        "invalid" => "Check this field.",
        "unavailable" => "Signing in is not possible right now. Try again shortly.",
        "sso_only" => {
            "This workspace signs in through its identity provider: use Continue with SSO below."
        }
        "mfa_expired" => "That sign-in expired or had too many wrong codes. Sign in again.",
        _ => "",
    };
    let notice = move || match get("notice").as_str() {
        "password_set" => "Your password is set. Sign in with it.",
        "password_changed" => "Your password was changed and every session ended. Sign in again.",
        _ => "",
    };
    let error_for = move |field: &'static str| {
        move || {
            (get("field") == field && !message().is_empty()).then(|| {
                view! {
                    <p class="field-error" id=format!("{field}-error") role="alert">
                        {message()}
                    </p>
                }
            })
        }
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            {move || {
                (!notice().is_empty())
                    .then(|| view! { <p class="notice" role="status" id="notice">{notice()}</p> })
            }}
            {move || {
                (get("field").is_empty() && !message().is_empty())
                    .then(|| view! { <p class="error" role="alert">{message()}</p> })
            }}
            {move || {
                (get("error") == "sso").then(|| view! {
                    <p class="error" role="alert" id="sso-error">
                        "Single sign-on did not complete: " {get("detail")}
                    </p>
                })
            }}
            <form method="post" action="/api/v1/auth/form/login" class="stack" id="login-form">
                <input type="hidden" name="next" value=get("next") />
                <label>
                    "Workspace"
                    <input
                        name="tenant"
                        id="tenant"
                        autocomplete="organization"
                        placeholder="e.g. demo (empty for installation admins)"
                        value=get("tenant")
                    />
                </label>
                {error_for("tenant")}
                <label>
                    "E-mail"
                    <input
                        name="email"
                        id="email"
                        type="email"
                        required
                        autocomplete="username"
                        value=get("email")
                    />
                </label>
                {error_for("email")}
                <label>
                    "Password"
                    <input
                        name="password"
                        id="password"
                        type="password"
                        required
                        autocomplete="current-password"
                    />
                </label>
                {error_for("password")}
                <button type="submit" class="button" id="sign-in">
                    "Sign in"
                </button>
                <a href=move || format!("/forgot?tenant={}", types::dashboard::encode(&get("tenant"))) id="forgot-link">
                    "Forgot your password?"
                </a>
            </form>
            <p class="muted or">"or through your organisation's identity provider"</p>
            // Single sign-on: a plain GET form, so it works before the WASM too; the server
            // sends the person on to their workspace's identity provider, found by the
            // workspace's name or by the domain of their work address.
            <form method="get" action="/auth/sso/start" class="stack sso-form" id="sso-form">
                <input type="hidden" name="next" value=get("next") />
                <label>
                    "Work e-mail or workspace"
                    <input
                        name="workspace"
                        id="sso-workspace"
                        required
                        autocomplete="email"
                        maxlength="320"
                        value=move || { let w = get("workspace"); if w.is_empty() { get("tenant") } else { w } }
                    />
                </label>
                <button type="submit" class="button secondary" id="sso-continue">
                    "Continue with SSO"
                </button>
            </form>
        </section>
    }
}
