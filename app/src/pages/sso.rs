//! `/sso`: a tenant admin's single sign-on settings — the provider, who may come in and with
//! which role, and whether passwords still work. The checks and the saving are the server's
//! (`ServerContext::sso`), the same code `PUT /api/v1/sso` runs.

use std::collections::BTreeMap;

use leptos::{either::Either, prelude::*};
use types::sso::{ResponseMode, Settings};

use crate::{
    components::forms::{error_text, field_error, Changes},
    AppError,
};

#[cfg(feature = "ssr")]
async fn workspace<F: leptos::server_fn::ServerFn>(
) -> Result<(crate::session::ssr::Session, String), AppError> {
    let s = crate::session::ssr::require_fn::<F>().await?;
    let slug = s.viewer.tenant.clone().ok_or_else(|| {
        AppError::new(
            http::StatusCode::NOT_FOUND,
            "single sign-on belongs to a workspace",
        )
    })?;
    Ok((s, slug))
}

#[server(endpoint = "sso/settings")]
pub async fn sso_settings() -> Result<Option<Settings>, AppError> {
    let (_, slug) = workspace::<SsoSettings>().await?;
    crate::ssr::server_context()?.sso.read(&slug).await
}

/// `group = role` lines, as typed.
#[cfg(feature = "ssr")]
fn parse_groups(text: &str) -> Result<BTreeMap<String, String>, AppError> {
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (group, role) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| {
                AppError::invalid(
                    "group_roles",
                    format!("group roles: line {} should read “group = role”", i + 1),
                )
            })?;
        map.insert(group.trim().to_string(), role.trim().to_string());
    }
    Ok(map)
}

#[cfg(feature = "ssr")]
fn parse_domains(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

pub use save::*;

/// One argument per form field, as ActionForm posts them (hence more than clippy likes).
#[allow(clippy::too_many_arguments)]
mod save {
    use super::*;

    #[server(endpoint = "sso/save")]
    pub async fn save_sso(
        preset: String,
        issuer: String,
        client_id: String,
        #[server(default)] client_secret: String,
        #[server(default)] email_domains: String,
        default_role: String,
        #[server(default)] group_roles: String,
        #[server(default)] enabled: Option<String>,
        #[server(default)] sso_only: Option<String>,
        #[server(default)] break_glass: String,
        #[server(default)] response_mode: String,
    ) -> Result<Settings, AppError> {
        let (s, slug) = workspace::<SaveSso>().await?;
        let form = types::sso::Form {
            preset,
            issuer,
            client_id,
            client_secret,
            scopes: None,
            email_domains: parse_domains(&email_domains),
            default_role: Some(default_role),
            group_roles: parse_groups(&group_roles)?,
            enabled: enabled.is_some(),
            sso_only: sso_only.is_some(),
            break_glass: Some(break_glass).filter(|b| !b.trim().is_empty()),
            response_mode: match response_mode.as_str() {
                "" => None,
                m => Some(ResponseMode::parse(m).ok_or_else(|| {
                    AppError::invalid("response_mode", "must be query or form_post")
                })?),
            },
        };
        crate::ssr::server_context()?
            .sso
            .save(&slug, &s.actor, form)
            .await
    }
}

#[server(endpoint = "sso/remove")]
pub async fn remove_sso() -> Result<bool, AppError> {
    let (s, slug) = workspace::<RemoveSso>().await?;
    crate::ssr::server_context()?
        .sso
        .remove(&slug, &s.actor)
        .await
}

const PRESETS: [(&str, &str); 4] = [
    ("generic", "Any OpenID Connect provider"),
    ("okta", "Okta"),
    ("entra", "Microsoft Entra ID"),
    ("google", "Google Workspace"),
];
const ROLES: [&str; 4] = ["developer", "viewer", "manager", "tenant_admin"];

#[component]
pub fn SsoPage() -> impl IntoView {
    let save = ServerAction::<SaveSso>::new();
    let remove = ServerAction::<RemoveSso>::new();
    let changes = Changes::default().watch(save.value()).watch(remove.value());
    let settings = Resource::new(move || changes.get(), |_| sso_settings());
    view! {
        <section class="card">
            <h1>"Single sign-on"</h1>
            <p class="muted">
                "People of this workspace sign in through your identity provider (OpenID Connect): Continue with SSO on the sign-in page. Two-step verification is on the "
                <a href="/users">"Users"</a>
                " page."
            </p>
            {move || match save.value().get() {
                Some(Ok(_)) => Some(view! { <p class="notice" role="status" id="sso-saved">"Saved. Every change is in the audit log."</p> }.into_any()),
                Some(Err(e)) if e.field.is_none() => Some(view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any()),
                _ => None,
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                        Ok(current) => Either::Right(view! { <SsoForm current save remove /> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SsoForm(
    current: Option<Settings>,
    save: ServerAction<SaveSso>,
    remove: ServerAction<RemoveSso>,
) -> impl IntoView {
    let configured = current.is_some();
    let c = current.clone().unwrap_or(Settings {
        preset: "generic".into(),
        issuer: String::new(),
        client_id: String::new(),
        scopes: vec![],
        email_domains: vec![],
        default_role: types::Role::Developer,
        group_roles: BTreeMap::new(),
        enabled: true,
        sso_only: false,
        break_glass: None,
        response_mode: ResponseMode::default(),
        redirect_uri: String::new(),
    });
    let mode = c.response_mode;
    let groups = c
        .group_roles
        .iter()
        .map(|(g, r)| format!("{g} = {}", r.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    let preset = c.preset.clone();
    let default_role = c.default_role.as_str();
    view! {
        {current.map(|s| view! {
            <div>
            <dl class="facts" id="sso-facts">
                <dt>"Status"</dt>
                <dd id="sso-status">{if s.enabled { "on" } else { "off" }}</dd>
                <dt>"Redirect URI"</dt>
                <dd><code id="sso-redirect">{s.redirect_uri}</code>" (register it at the provider)"</dd>
            </dl>
            // Hidden rather than left out: the page then hydrates the same nodes either way.
            <p hidden=!s.enabled>
                // A full navigation (not the router's): it leaves for the provider.
                <a class="button secondary" href="/auth/sso/try" target="_blank" rel="external" id="sso-try">
                    "Try sign-in"
                </a>
                " Signs you in at the provider in a new tab and shows what it sends; nobody is signed in here and no account changes."
            </p>
            </div>
        })}
        <ActionForm action=save attr:class="stack narrow" attr:id="sso-settings-form">
            <label>
                "Provider"
                <select name="preset" id="sso-preset">
                    {PRESETS.map(|(v, label)| view! { <option value=v selected=v == preset>{label}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Issuer URL"
                <input name="issuer" id="sso-issuer" required value=c.issuer.clone() placeholder="https://login.example.com" aria-describedby="sso-issuer-error" />
            </label>
            {field_error(save.value(), "issuer", "sso-issuer-error")}
            <label>
                "Client ID"
                <input name="client_id" id="sso-client-id" required value=c.client_id.clone() aria-describedby="sso-client-id-error" />
            </label>
            {field_error(save.value(), "client_id", "sso-client-id-error")}
            <label>
                {if configured { "Client secret (leave empty to keep the saved one)" } else { "Client secret" }}
                <input name="client_secret" id="sso-client-secret" type="password" autocomplete="off" required=!configured aria-describedby="sso-client-secret-error" />
            </label>
            {field_error(save.value(), "client_secret", "sso-client-secret-error")}
            <label>
                "E-mail domains admitted (empty: any verified address)"
                <input name="email_domains" id="sso-domains" value=c.email_domains.join(", ") placeholder="example.com, example.org" aria-describedby="sso-domains-error" />
            </label>
            {field_error(save.value(), "email_domains", "sso-domains-error")}
            <label>
                "Role for new people"
                <select name="default_role" id="sso-default-role">
                    {ROLES.map(|r| view! { <option value=r selected=r == default_role>{r}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Groups to roles (one “group = role” per line; the most powerful match wins)"
                <textarea name="group_roles" id="sso-groups" rows="3" aria-describedby="sso-groups-error">{groups}</textarea>
            </label>
            {field_error(save.value(), "group_roles", "sso-groups-error")}
            <label>
                "How the provider sends people back"
                <select name="response_mode" id="sso-response-mode" aria-describedby="sso-response-mode-hint">
                    <option value="query" selected=mode == ResponseMode::Query>"Redirect (query)"</option>
                    <option value="form_post" selected=mode == ResponseMode::FormPost>"Form post (form_post)"</option>
                </select>
            </label>
            <p class="muted" id="sso-response-mode-hint">"A redirect comes back to GET /auth/sso/callback; a form post to POST /api/v1/auth/sso/callback, which keeps the sign-in code out of addresses and history. The redirect URI to register follows the choice."</p>
            <label class="check">
                <input type="checkbox" name="enabled" id="sso-enabled" checked=c.enabled />
                "On: Continue with SSO signs people in"
            </label>
            <label class="check">
                <input type="checkbox" name="sso_only" id="sso-only" checked=c.sso_only />
                "Single sign-on only: refuse passwords, except for the admin below"
            </label>
            <label>
                "Break-glass admin (may still use a password if the provider is down)"
                <input name="break_glass" id="sso-break-glass" type="email" value=c.break_glass.clone().unwrap_or_default() placeholder="admin@example.com" aria-describedby="sso-break-glass-error" />
            </label>
            {field_error(save.value(), "break_glass", "sso-break-glass-error")}
            <p class="row">
                <button type="submit" class="button" id="sso-save">"Save"</button>
            </p>
        </ActionForm>
        {configured.then(|| view! {
            <ActionForm action=remove attr:id="sso-remove-form">
                <button type="submit" class="button danger" id="sso-remove">"Remove single sign-on"</button>
            </ActionForm>
        })}
    }
}
