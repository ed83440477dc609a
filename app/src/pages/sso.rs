//! `/sso`: a tenant admin's single sign-on settings — the provider, who may come in and with
//! which role, and whether passwords still work. The checks and the saving are the server's
//! (`ServerContext::sso`), the same code `PUT /api/v1/sso` runs.

use std::collections::BTreeMap;

use leptos::{either::Either, prelude::*};
use types::sso::{Protocol, ResponseMode, Settings};

use crate::{
    components::{
        forms::{error_text, field_error, Changes},
        viewer::ViewerResource,
    },
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
        #[server(default)] protocol: String,
        #[server(default)] preset: String,
        #[server(default)] issuer: String,
        #[server(default)] client_id: String,
        #[server(default)] client_secret: String,
        #[server(default)] saml_metadata_url: String,
        #[server(default)] saml_metadata: String,
        #[server(default)] saml_email_attribute: String,
        #[server(default)] saml_name_attribute: String,
        #[server(default)] saml_groups_attribute: String,
        #[server(default)] email_domains: String,
        default_role: String,
        #[server(default)] group_roles: String,
        #[server(default)] enabled: Option<String>,
        #[server(default)] sso_only: Option<String>,
        #[server(default)] break_glass: String,
        #[server(default)] response_mode: String,
    ) -> Result<Settings, AppError> {
        let (s, slug) = workspace::<SaveSso>().await?;
        let protocol = match protocol.as_str() {
            "" => Protocol::Oidc,
            p => Protocol::parse(p)
                .ok_or_else(|| AppError::invalid("protocol", "must be oidc or saml"))?,
        };
        let given = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        let saml_attributes = (protocol == Protocol::Saml).then(|| {
            let defaults = types::sso::SamlAttributes::default();
            types::sso::SamlAttributes {
                email: given(saml_email_attribute).unwrap_or(defaults.email),
                name: given(saml_name_attribute).unwrap_or(defaults.name),
                groups: given(saml_groups_attribute).unwrap_or(defaults.groups),
            }
        });
        let form = types::sso::Form {
            protocol,
            saml_metadata_url: given(saml_metadata_url),
            saml_metadata: given(saml_metadata),
            saml_attributes,
            preset: given(preset).unwrap_or_else(|| "generic".into()),
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

/// Looks for the DNS record proving the workspace controls `domain`, now.
#[server(endpoint = "sso/verify_domain")]
pub async fn verify_sso_domain(domain: String) -> Result<types::sso::DomainProof, AppError> {
    let (s, slug) = workspace::<VerifySsoDomain>().await?;
    crate::ssr::server_context()?
        .sso
        .verify_domain(&slug, &s.actor, &domain)
        .await
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
    let verify = ServerAction::<VerifySsoDomain>::new();
    let changes = Changes::default()
        .watch(save.value())
        .watch(remove.value())
        .watch(verify.value());
    let settings = Resource::new(move || changes.get(), |_| sso_settings());
    let viewer = expect_context::<ViewerResource>().0;
    view! {
        <section class="card">
            <h1>"Single sign-on"</h1>
            <p class="muted">
                "People of this workspace sign in through your identity provider (OpenID Connect or SAML 2.0): Continue with SSO on the sign-in page. Two-step verification is on the "
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
                    let slug = viewer.await.ok().flatten().and_then(|v| v.tenant).unwrap_or_default();
                    match settings.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                        Ok(current) => Either::Right(view! { <SsoForm current slug save remove verify /> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SsoForm(
    current: Option<Settings>,
    /// The workspace's name: its SAML metadata's address.
    slug: String,
    save: ServerAction<SaveSso>,
    remove: ServerAction<RemoveSso>,
    verify: ServerAction<VerifySsoDomain>,
) -> impl IntoView {
    let configured = current.is_some();
    let c = current.clone().unwrap_or(Settings {
        protocol: Protocol::Oidc,
        saml: None,
        domains: vec![],
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
    // Only the chosen protocol's fields are shown, and sent: a disabled fieldset's are not.
    let protocol = RwSignal::new(c.protocol);
    let saml = c.saml.clone();
    let attributes = saml
        .as_ref()
        .map(|s| s.attributes.clone())
        .unwrap_or_default();
    let sp_metadata = format!("/auth/saml/{slug}/metadata");
    // A SAML provider's issuer and client id are its entity IDs, not OpenID settings.
    let saved_protocol = c.protocol;
    let oidc_only = move |v: &String| {
        if saved_protocol == Protocol::Oidc {
            v.clone()
        } else {
            String::new()
        }
    };
    view! {
        {current.map(|s| view! {
            <div>
            <dl class="facts" id="sso-facts">
                <dt>"Status"</dt>
                <dd id="sso-status">{if s.enabled { "on" } else { "off" }}</dd>
                <dt>"Protocol"</dt>
                <dd id="sso-protocol">{match s.protocol { Protocol::Oidc => "OpenID Connect", Protocol::Saml => "SAML 2.0" }}</dd>
                {match s.saml {
                    None => Either::Left(view! {
                        <dt>"Redirect URI"</dt>
                        <dd><code id="sso-redirect">{s.redirect_uri}</code>" (register it at the provider)"</dd>
                    }),
                    Some(m) => Either::Right(view! {
                        <dt>"Identity provider"</dt>
                        <dd><code id="sso-idp-entity">{m.idp_entity_id}</code></dd>
                        <dt>"Its sign-in address"</dt>
                        <dd><code>{m.idp_sso_url}</code></dd>
                        <dt>"Signing certificates"</dt>
                        <dd>{m.signing_certificates}</dd>
                        <dt>"Our entity ID (audience)"</dt>
                        <dd><code id="sso-sp-entity">{m.sp_entity_id}</code></dd>
                        <dt>"Assertion consumer service"</dt>
                        <dd><code id="sso-acs">{m.acs_url}</code>" (HTTP-POST)"</dd>
                    }),
                }}
            </dl>
            <DomainProofs domains=s.domains verify />
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
                "Protocol"
                <select name="protocol" id="sso-protocol-choice"
                    on:change=move |ev| protocol.set(Protocol::parse(&event_target_value(&ev)).unwrap_or_default())>
                    <option value="oidc" selected=c.protocol == Protocol::Oidc>"OpenID Connect"</option>
                    <option value="saml" selected=c.protocol == Protocol::Saml>"SAML 2.0"</option>
                </select>
            </label>
            <fieldset class="stack plain" id="sso-oidc"
                disabled=move || protocol.get() != Protocol::Oidc
                hidden=move || protocol.get() != Protocol::Oidc>
            <legend class="sr-only">"OpenID Connect"</legend>
            <label>
                "Provider"
                <select name="preset" id="sso-preset">
                    {PRESETS.map(|(v, label)| view! { <option value=v selected=v == preset>{label}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Issuer URL"
                <input name="issuer" id="sso-issuer" required value=oidc_only(&c.issuer) placeholder="https://login.example.com" aria-describedby="sso-issuer-error" />
            </label>
            {field_error(save.value(), "issuer", "sso-issuer-error")}
            <label>
                "Client ID"
                <input name="client_id" id="sso-client-id" required value=oidc_only(&c.client_id) aria-describedby="sso-client-id-error" />
            </label>
            {field_error(save.value(), "client_id", "sso-client-id-error")}
            <label>
                {if configured { "Client secret (leave empty to keep the saved one)" } else { "Client secret" }}
                <input name="client_secret" id="sso-client-secret" type="password" autocomplete="off" required=!configured || c.protocol != Protocol::Oidc aria-describedby="sso-client-secret-error" />
            </label>
            {field_error(save.value(), "client_secret", "sso-client-secret-error")}
            <label>
                "How the provider sends people back"
                <select name="response_mode" id="sso-response-mode" aria-describedby="sso-response-mode-hint">
                    <option value="query" selected=mode == ResponseMode::Query>"Redirect (query)"</option>
                    <option value="form_post" selected=mode == ResponseMode::FormPost>"Form post (form_post)"</option>
                </select>
            </label>
            <p class="muted" id="sso-response-mode-hint">"A redirect comes back to GET /auth/sso/callback; a form post to POST /api/v1/auth/sso/callback, which keeps the sign-in code out of addresses and history. The redirect URI to register follows the choice."</p>
            </fieldset>
            <fieldset class="stack plain" id="sso-saml"
                disabled=move || protocol.get() != Protocol::Saml
                hidden=move || protocol.get() != Protocol::Saml>
            <legend class="sr-only">"SAML 2.0"</legend>
            <p class="muted">
                "Give your identity provider devpulse's "
                <a href=sp_metadata.clone() id="sso-sp-metadata" rel="external">"SAML metadata"</a>
                " (entity ID and assertion consumer service). Responses or assertions must be signed."
            </p>
            <label>
                "IdP metadata URL (fetched when you save)"
                <input name="saml_metadata_url" id="sso-saml-metadata-url" type="url" value=saml.as_ref().and_then(|s| s.metadata_url.clone()).unwrap_or_default() placeholder="https://idp.example.com/metadata" aria-describedby="sso-saml-metadata-url-error" />
            </label>
            {field_error(save.value(), "saml_metadata_url", "sso-saml-metadata-url-error")}
            <label>
                {if saml.is_some() { "Or paste the IdP metadata XML (leave both empty to keep the saved metadata)" } else { "Or paste the IdP metadata XML" }}
                <textarea name="saml_metadata" id="sso-saml-metadata" rows="4" aria-describedby="sso-saml-metadata-error"></textarea>
            </label>
            {field_error(save.value(), "saml_metadata", "sso-saml-metadata-error")}
            <label>
                "E-mail attribute (absent: the NameID, if it is an address)"
                <input name="saml_email_attribute" id="sso-saml-email" value=attributes.email.clone() aria-describedby="sso-saml-email-error" />
            </label>
            {field_error(save.value(), "saml_attributes/email", "sso-saml-email-error")}
            <label>
                "Name attribute"
                <input name="saml_name_attribute" id="sso-saml-name" value=attributes.name.clone() />
            </label>
            <label>
                "Groups attribute"
                <input name="saml_groups_attribute" id="sso-saml-groups" value=attributes.groups.clone() />
            </label>
            </fieldset>
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

/// The provider's e-mail domains and whether the workspace has proven each: only proven ones
/// send people who type an address there to the provider.
#[component]
fn DomainProofs(
    domains: Vec<types::sso::DomainProof>,
    verify: ServerAction<VerifySsoDomain>,
) -> impl IntoView {
    let empty = domains.is_empty();
    view! {
        <section class="stack domain-proofs" aria-labelledby="sso-domains-title">
            <h2 id="sso-domains-title">"E-mail domains"</h2>
            <p class="muted">
                "Continue with SSO sends people who type an address at a domain to this provider once you prove the workspace controls the domain: publish the TXT record below in its DNS, then check."
            </p>
            {move || match verify.value().get() {
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any()),
                _ => None,
            }}
            {empty.then(|| view! { <p class="muted" id="sso-no-domains">"No domains named: people type the workspace's name instead."</p> })}
            <div hidden=empty>
            <table class="table" id="sso-domains">
                <caption class="sr-only">"Proof of each e-mail domain"</caption>
                <thead><tr><th scope="col">"Domain"</th><th scope="col">"TXT record"</th><th scope="col">"Status"</th><th scope="col"><span class="sr-only">"Check"</span></th></tr></thead>
                <tbody>
                {domains.into_iter().map(|d| {
                    let status = match (&d.verified_at, &d.last_error) {
                        (Some(at), _) => format!("Proven ({at})"),
                        (None, Some(why)) => format!("Not proven: {why}"),
                        (None, None) => "Not checked yet".to_string(),
                    };
                    let proven = d.verified_at.is_some();
                    let domain = d.domain.clone();
                    view! {
                        <tr data-domain=d.domain.clone()>
                            <th scope="row">{d.domain.clone()}</th>
                            <td><code class="wrap">{d.record_name}</code><br/><code class="wrap">{d.record_value}</code></td>
                            <td class="domain-status" class:ok=proven>{status}</td>
                            <td>
                                <ActionForm action=verify>
                                    <input type="hidden" name="domain" value=domain.clone() />
                                    <button type="submit" class="button secondary" aria-label=format!("Check {domain} now")>"Check now"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
    }
}
