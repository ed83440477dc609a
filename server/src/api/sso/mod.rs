//! Single sign-on, seen from the browser and the admin: leaving for the workspace's provider
//! (`/auth/sso/start`), coming back (`/auth/sso/callback`, or the form post of `form_post`),
//! which ends in the same session cookies as a password sign-in; and the provider's configuration (`/api/v1/sso`,
//! user.manage).
//!
//! The sign-in belongs to the browser that began it: `start` gives it a short-lived cookie
//! whose hash the pending row keeps, and a callback without it finds nothing. Otherwise
//! someone could begin a sign-in as themselves and hand the callback link to a victim, who
//! would be signed into the attacker's account (login CSRF).
//!
//! A failed or tampered sign-in goes back to `/login` with the reason in words, and into the
//! workspace's audit log when the workspace is known. The provider's settings (REST and the
//! `/sso` page) are in `settings`; an admin's "try sign-in", which ends in a report instead
//! of a session, in `trial`.

pub mod form_post;
pub mod saml;
mod settings;
mod trial;

pub use settings::{delete_config, get_config, put_config, verify_domain, Admin};
pub use trial::{get_trial, try_start};

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Extension,
};
use serde::Deserialize;
use store::{
    accounts::Email,
    audit::Actor,
    refresh_tokens,
    sso::{self, Pending, Preset, Protocol, Provider},
    tenants, Slug, Tenant, TenantStatus, User, UserId,
};
use types::sso::ResponseMode;

use super::account::{redirect, return_path, tokens};
use crate::{
    auth::{
        saml::{Idp, Sp},
        sso::{Identity, ProviderConfig, SsoError, Started},
        ClientIp, SessionCookies,
    },
    state::AppState,
};

/// The cookie tying a sign-in to the browser that began it (see the module's comment). On
/// Path=/: `__Host-` demands it, and both callbacks (the redirect's and the form post's) must
/// receive it.
pub(super) fn binding_cookie(state: &AppState) -> &'static str {
    binding_name(state.cookies)
}

fn binding_name(cookies: SessionCookies) -> &'static str {
    if cookies.secure {
        "__Host-devpulse_sso"
    } else {
        "devpulse_sso"
    }
}

/// Sets (or, with `max_age` 0, clears) the binding cookie.
fn bind(cookies: SessionCookies, value: &str, max_age: i64) -> HeaderValue {
    cookies.set(binding_name(cookies), value, "/", max_age)
}

/// The longest text from the callback kept in a message or the audit log.
const MAX_ECHO: usize = 200;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartQuery {
    workspace: Option<String>,
    next: Option<String>,
}

/// Leaves for the workspace's provider, keeping what must come back on the server.
pub async fn start(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Query(q): Query<StartQuery>,
) -> Response {
    let next = return_path(q.next.as_deref()).to_string();
    // The workspace's name, or a work address whose domain names the workspace.
    let slug = q.workspace.unwrap_or_default().trim().to_lowercase();
    match leave(&state, &ip, &slug, &next, None).await {
        Ok(page) => page,
        Err(e) => failed(&slug, &next, &e.to_string()),
    }
}

/// Begins a sign-in and sends the browser on to the provider, holding the cookie that binds
/// the sign-in to it. Limited per client address: each start writes a pending row and may
/// fetch the provider's discovery document.
async fn leave(
    state: &AppState,
    ip: &ClientIp,
    typed: &str,
    next: &str,
    trial_by: Option<UserId>,
) -> Result<Response, SsoError> {
    if state
        .sso_starts
        .take(&ip.text().unwrap_or_default(), 1.0)
        .await
        .is_err()
    {
        return Err(SsoError::Refused(
            "too many single sign-on attempts from this address; wait a minute and try again"
                .into(),
        ));
    }
    let browser = store::secrets::random_token(32);
    let url = begin(state, typed, next, &browser, trial_by).await?;
    let mut page = onward(&url);
    page.headers_mut().append(
        header::SET_COOKIE,
        bind(state.cookies, &browser, sso::PENDING_TTL.num_seconds()),
    );
    Ok(page)
}

/// A page that moves on to the provider at once. Not a redirect: the sign-in page's policy
/// (`form-action 'self'`) also binds where its form's answer may redirect, and the provider
/// is another origin; a navigation by `<meta http-equiv=refresh>` is not a form's.
fn onward(url: &str) -> Response {
    let url = escape(url);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <meta http-equiv=\"refresh\" content=\"0;url={url}\">\
             <title>Continuing to your identity provider</title></head>\
             <body><p><a id=\"continue\" href=\"{url}\">Continue to your identity provider</a></p>\
             </body></html>"
        ),
    )
        .into_response()
}

/// Text made inert in the pages these handlers write themselves.
pub(super) use crate::mail::templates::escape;

async fn begin(
    state: &AppState,
    typed: &str,
    next: &str,
    browser: &str,
    trial_by: Option<UserId>,
) -> Result<String, SsoError> {
    let (tenant, provider, secret, hint) = match Email::parse(typed) {
        Ok(email) => {
            let (tenant, provider, secret) = home_realm(state, &email).await?;
            (tenant, provider, secret, Some(email))
        }
        Err(_) => {
            let tenant = workspace(state, typed).await?;
            let (provider, secret) = provider(state, &tenant).await?;
            (tenant, provider, secret, None)
        }
    };
    let (started, client_id) = match provider.protocol {
        Protocol::Oidc => {
            let config = ProviderConfig {
                issuer: &provider.issuer,
                client_id: &provider.client_id,
                client_secret: secret,
                scopes: &provider.scopes,
                response_mode: provider.response_mode,
                hosted_domains: provider.hosted_domains(),
            };
            let started = state
                .sso
                .start(&config, hint.as_ref().map(Email::as_str))
                .await?;
            (started, provider.client_id.clone())
        }
        Protocol::Saml => {
            let (idp, sp) = saml_parts(state, &tenant, &provider)?;
            // RelayState plays `state`'s part; the request's ID, the nonce's.
            let relay = store::secrets::random_token(32);
            let (url, request_id) = idp.start(&sp, &relay)?;
            let started = Started {
                url,
                state: relay,
                nonce: request_id,
                pkce_verifier: String::new(),
            };
            (started, sp.entity_id)
        }
    };
    let mut tx = state.store.registry_tx().await.map_err(internal)?;
    sso::begin(
        &mut tx,
        &started.state,
        browser,
        &Pending {
            tenant: tenant.id,
            nonce: started.nonce,
            pkce_verifier: started.pkce_verifier,
            return_to: next.to_string(),
            issuer: provider.issuer.clone(),
            client_id,
            trial_by,
        },
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(started.url)
}

/// Home-realm discovery: the one workspace whose provider vouches for `email`'s domain. A
/// domain two workspaces name sends nobody anywhere (naming someone else's domain must not
/// capture its people); they type their workspace instead.
async fn home_realm(
    state: &AppState,
    email: &Email,
) -> Result<(Tenant, Provider, String), SsoError> {
    let domain = email.as_str().rsplit('@').next().unwrap_or_default();
    let mut tx = state.store.registry_tx().await.map_err(internal)?;
    let candidates = sso::workspaces_for_domain(&mut tx, domain)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let mut found = Vec::new();
    for id in candidates {
        let Ok(tenant) = tenants::find_by_id(state.store.pool(), id).await else {
            continue;
        };
        if tenant.status != TenantStatus::Active {
            continue;
        }
        if let Ok((p, secret)) = provider(state, &tenant).await {
            if p.vouches_for(email) && proven(state, &tenant, domain).await? {
                found.push((tenant, p, secret));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(SsoError::Setup(format!(
            "no workspace signs in {domain} addresses through single sign-on; type your \
             workspace's name instead"
        ))),
        _ => Err(SsoError::Setup(format!(
            "more than one workspace names {domain}; type your workspace's name instead"
        ))),
    }
}

/// Whether `tenant` has proven it controls `domain` (the index is only as fresh as the last
/// save or check; this is the workspace's own word now).
async fn proven(state: &AppState, tenant: &Tenant, domain: &str) -> Result<bool, SsoError> {
    let mut tx = state
        .store
        .tenant_tx(tenant.scope())
        .await
        .map_err(internal)?;
    let proven = sso::proven(&mut tx, &[domain.to_string()])
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(!proven.is_empty())
}

/// One answer for a workspace that does not exist, is suspended or has no single sign-on:
/// the page must not tell strangers which workspaces exist (the password form does not).
fn unavailable(slug: &str) -> SsoError {
    SsoError::Setup(format!("workspace “{slug}” has no single sign-on"))
}

async fn workspace(state: &AppState, slug: &str) -> Result<Tenant, SsoError> {
    let parsed = Slug::parse(slug).map_err(|_| unavailable(slug))?;
    let tenant = tenants::find_by_slug(state.store.pool(), &parsed)
        .await
        .map_err(|_| unavailable(slug))?;
    if tenant.status != TenantStatus::Active {
        return Err(unavailable(slug));
    }
    Ok(tenant)
}

/// The workspace's provider, enabled, with its secret opened.
async fn provider(state: &AppState, tenant: &Tenant) -> Result<(Provider, String), SsoError> {
    let mut tx = state
        .store
        .tenant_tx(tenant.scope())
        .await
        .map_err(internal)?;
    let p = sso::provider(&mut tx).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let p = p
        .filter(|p| p.enabled)
        .ok_or_else(|| unavailable(tenant.slug.as_str()))?;
    let secret = match p.protocol {
        Protocol::Oidc => state.sso.open(&p.client_secret, tenant.id.0.as_bytes())?,
        // SAML keeps no secret: the IdP's certificates are in its metadata.
        Protocol::Saml => String::new(),
    };
    Ok((p, secret))
}

/// A SAML provider's IdP, from the metadata saved, and devpulse as the workspace's SP.
fn saml_parts(
    state: &AppState,
    tenant: &Tenant,
    provider: &Provider,
) -> Result<(Idp, Sp), SsoError> {
    let metadata = provider
        .saml
        .as_ref()
        .ok_or_else(|| SsoError::Setup("the IdP's metadata is missing".into()))?;
    let idp = Idp::read(&metadata.metadata)
        .map_err(|why| SsoError::Setup(format!("the IdP's metadata {why}")))?;
    Ok((idp, Sp::of(&state.public_url, tenant.slug.as_str())))
}

fn internal(e: impl std::fmt::Display) -> SsoError {
    tracing::error!(error = %e, "single sign-on");
    SsoError::Provider("the server could not complete the sign-in; try again".into())
}

/// Back to the sign-in page, saying why.
fn failed(slug: &str, next: &str, why: &str) -> Response {
    let query = serde_urlencoded::to_string([
        ("error", "sso"),
        ("detail", why),
        ("workspace", slug),
        ("next", next),
    ])
    .unwrap_or_default();
    redirect(&format!("/login?{query}"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// How the answer came (a redirect's query unless `form_post` says otherwise): the code
    /// is exchanged with the callback address it was sent to.
    #[serde(skip)]
    arrived: ResponseMode,
    /// A SAML IdP's answer (base64), posted to the assertion consumer service.
    #[serde(skip)]
    saml_response: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    Query(c): Query<Callback>,
) -> Response {
    come_back(&state, ip, &headers, c).await
}

pub(super) async fn come_back(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    c: Callback,
) -> Response {
    let mut response = finish(state, ip, headers, c).await;
    // Used or not, the binding is spent.
    response
        .headers_mut()
        .append(header::SET_COOKIE, bind(state.cookies, "", 0));
    // Where earlier versions kept it (plain http only: browsers refused the `__Host-` one).
    response.headers_mut().append(
        header::SET_COOKIE,
        state.cookies.set(binding_cookie(state), "", "/auth/sso", 0),
    );
    response
}

async fn finish(state: &AppState, ip: ClientIp, headers: &HeaderMap, c: Callback) -> Response {
    let actor = Actor {
        id: None,
        name: "single sign-on".into(),
        ip: ip.text(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    };
    // The sign-in begun with this state, taken: a second callback with it finds nothing.
    // Every cookie of that name is tried: one left by an earlier version on another path
    // may come first.
    let mut pending = Ok(None);
    if let Some(s) = c
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 200)
    {
        for b in crate::auth::cookies(headers, binding_cookie(state)).take(4) {
            pending = take(state, s, &b).await;
            if !matches!(pending, Ok(None)) {
                break;
            }
        }
    }
    let pending = match pending {
        Ok(Some(p)) => p,
        Ok(None) => return failed("", "/", &SsoError::Stale.to_string()),
        Err(e) => return failed("", "/", &e.to_string()),
    };
    let tenant = match tenants::find_by_id(state.store.pool(), pending.tenant).await {
        Ok(t) if t.status == TenantStatus::Active => t,
        _ => return failed("", "/", "this workspace is not available"),
    };
    if let Some(by) = pending.trial_by {
        return trial::report(state, &tenant, &pending, by, &actor, c).await;
    }
    match sign_in(state, &tenant, &pending, &actor, c).await {
        Ok(response) => response,
        Err(e) => {
            let why = e.to_string();
            if let Ok(mut tx) = state.store.tenant_tx(tenant.scope()).await {
                let recorded = store::sso::record_failure(&mut tx, &actor, &why).await;
                if recorded.is_ok() {
                    let _ = tx.commit().await;
                }
            }
            failed(tenant.slug.as_str(), &pending.return_to, &why)
        }
    }
}

async fn take(state: &AppState, s: &str, browser: &str) -> Result<Option<Pending>, SsoError> {
    let mut tx = state.store.registry_tx().await.map_err(internal)?;
    let p = sso::take(&mut tx, s, browser).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(p)
}

/// The person the provider vouches for, from a callback that checks out against the sign-in
/// it belongs to; with the workspace's provider as it is now.
async fn identify(
    state: &AppState,
    tenant: &Tenant,
    pending: &Pending,
    c: Callback,
) -> Result<(Provider, Identity), SsoError> {
    if let Some(error) = c.error {
        let short = |s: String| s.chars().take(MAX_ECHO).collect::<String>();
        return Err(SsoError::Refused(format!(
            "the identity provider said {}{}",
            short(error),
            c.error_description
                .map(|d| format!(": {}", short(d)))
                .unwrap_or_default()
        )));
    }
    let (provider, secret) = provider(state, tenant).await?;
    if let Some(response) = c.saml_response {
        return identify_saml(state, tenant, pending, provider, response).await;
    }
    let code = c
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| SsoError::Token("the callback carried no code".into()))?;
    if provider.protocol != Protocol::Oidc
        || provider.issuer != pending.issuer
        || provider.client_id != pending.client_id
    {
        return Err(SsoError::Stale);
    }
    let config = ProviderConfig {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        client_secret: secret,
        scopes: &provider.scopes,
        response_mode: c.arrived,
        hosted_domains: provider.hosted_domains(),
    };
    let who = state
        .sso
        .finish(
            &config,
            &code,
            &pending.nonce,
            &pending.pkce_verifier,
            // Entra ID never says; its tenant-specific issuer and the domains vouch instead.
            provider.preset != Preset::Entra,
        )
        .await?;
    Ok((provider, who))
}

/// The person a SAML Response vouches for, if it answers the request `pending` began, is
/// signed by the workspace's IdP, and has not been used before.
async fn identify_saml(
    state: &AppState,
    tenant: &Tenant,
    pending: &Pending,
    provider: Provider,
    response: String,
) -> Result<(Provider, Identity), SsoError> {
    if response.is_empty() {
        return Err(SsoError::Token("the post carried no SAMLResponse".into()));
    }
    let (idp, sp) = saml_parts(state, tenant, &provider)?;
    if provider.protocol != Protocol::Saml
        || provider.issuer != pending.issuer
        || sp.entity_id != pending.client_id
    {
        return Err(SsoError::Stale);
    }
    let attributes = provider
        .saml
        .as_ref()
        .map(|s| s.attributes.clone())
        .unwrap_or_default();
    let check = |idp: Idp, sp: Sp, response: String| {
        let attributes = attributes.clone();
        let request_id = pending.nonce.clone();
        // libxmlsec1's signature check is CPU work: off the async threads.
        tokio::task::spawn_blocking(move || idp.finish(&sp, &response, &request_id, &attributes))
    };
    let (who, assertion_id, expires) =
        match check(idp, sp, response.clone()).await.map_err(internal)? {
            // Signed with a key the saved metadata does not name: perhaps the IdP rotated its
            // key. Its metadata is fetched again (at most once a minute), and if it changed, the
            // answer is checked once more against it.
            Err(SsoError::Signature(why)) => match refresh_metadata(state, tenant, &provider).await
            {
                Ok(Some(fresh)) => {
                    let (idp, sp) = saml_parts(state, tenant, &fresh)?;
                    check(idp, sp, response).await.map_err(internal)??
                }
                Ok(None) => return Err(SsoError::Signature(why)),
                // The answer's own fault is what the person and the audit log are told.
                Err(e) => {
                    tracing::warn!(error = %e, "fetching a SAML IdP's metadata again");
                    return Err(SsoError::Signature(why));
                }
            },
            other => other?,
        };
    let mut tx = state.store.registry_tx().await.map_err(internal)?;
    let first = sso::first_use_of_assertion(&mut tx, tenant.id, &assertion_id, expires)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    if !first {
        return Err(SsoError::Token(
            "this assertion was already used to sign in (a replay)".into(),
        ));
    }
    Ok((provider, who))
}

/// The provider with its SAML metadata fetched again from where it was saved from, if it
/// changed (saved, and audited); `None` when it was uploaded, is unchanged, or was fetched
/// less than a minute ago.
async fn refresh_metadata(
    state: &AppState,
    tenant: &Tenant,
    provider: &Provider,
) -> Result<Option<Provider>, SsoError> {
    let Some(saml) = &provider.saml else {
        return Ok(None);
    };
    let Some(url) = &saml.metadata_url else {
        return Ok(None);
    };
    if !state.sso.may_refresh(&tenant.id.to_string()) {
        return Ok(None);
    }
    let xml = state
        .sso
        .fetch_metadata(url)
        .await
        .map_err(|why| SsoError::Provider(format!("the IdP's metadata at {url} {why}")))?;
    if xml.trim() == saml.metadata.trim() {
        return Ok(None);
    }
    let idp = Idp::read(&xml)
        .map_err(|why| SsoError::Setup(format!("the IdP's metadata at {url} now {why}")))?;
    if idp.entity_id != provider.issuer {
        return Err(SsoError::Setup(format!(
            "the IdP's metadata at {url} now names another entity ({}); an admin must save the provider again",
            idp.entity_id
        )));
    }
    let mut tx = state
        .store
        .tenant_tx(tenant.scope())
        .await
        .map_err(internal)?;
    sso::refresh_saml_metadata(
        &mut tx,
        &Actor {
            name: "single sign-on".into(),
            ..Actor::default()
        },
        url,
        &xml,
    )
    .await
    .map_err(internal)?;
    let fresh = sso::provider(&mut tx).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(fresh)
}

/// The account `who` signs in as (found, linked or made just in time in `conn`), and whether
/// it was made; or why they may not.
async fn admit(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    provider: &Provider,
    who: &Identity,
) -> Result<(User, bool), SsoError> {
    let email = Email::parse(&who.email)
        .map_err(|_| SsoError::Refused(format!("{} is not an e-mail address", who.email)))?;
    let found = sso::account(
        conn,
        actor,
        &who.issuer,
        &who.subject,
        &email,
        &who.name,
        provider.role_for(&who.groups),
        provider.admits(&email),
        provider.vouches_for(&email),
    )
    .await;
    let (user, created) = match found {
        Ok(u) => u,
        Err(store::Error::Conflict(_)) => {
            return Err(SsoError::Refused(format!(
                "an account for {email} already exists in this workspace and is not linked to \
                 this identity provider; sign in with its password"
            )))
        }
        Err(store::Error::Invalid { reason, .. }) => return Err(SsoError::Refused(reason.into())),
        Err(e) => return Err(internal(e)),
    };
    if !user.active {
        return Err(SsoError::Refused(format!(
            "the account for {email} is deactivated"
        )));
    }
    Ok((user, created))
}

async fn sign_in(
    state: &AppState,
    tenant: &Tenant,
    pending: &Pending,
    actor: &Actor,
    c: Callback,
) -> Result<Response, SsoError> {
    let (provider, who) = identify(state, tenant, pending, c).await?;
    let mut tx = state
        .store
        .tenant_tx(tenant.scope())
        .await
        .map_err(internal)?;
    let (user, _created) = admit(&mut tx, actor, &provider, &who).await?;
    let from = Actor {
        name: user.email.clone(),
        ..actor.clone()
    };
    let lifetimes = crate::api::account::session_lifetimes(state, &mut tx, true)
        .await
        .map_err(internal)?;
    let issued = refresh_tokens::sign_in(&mut tx, &from, &user, &lifetimes)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let made = tokens(
        state,
        &user,
        Some((tenant.id.0, tenant.slug.to_string())),
        format!("{}.{}", tenant.slug, issued.secret),
        &issued,
    );
    Ok(crate::api::account::redirect_with_cookies(
        &pending.return_to,
        &made,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_cookie_is_one_browsers_accept() {
        // `__Host-` is refused by browsers unless Secure and on Path=/; a refused cookie would
        // make every sign-in look stale on an https deployment.
        let set = bind(SessionCookies { secure: true }, "v", 600);
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-devpulse_sso=v;"), "{set}");
        assert!(
            set.contains("; Path=/;") && set.contains("; Secure"),
            "{set}"
        );
        assert!(!set.contains("Domain"), "{set}");
        let plain = bind(SessionCookies { secure: false }, "", 0);
        assert!(plain.to_str().unwrap().starts_with("devpulse_sso=;"));
    }
}
