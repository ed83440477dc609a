//! A workspace's provider settings, as its admins read and change them: `GET/PUT/DELETE
//! /api/v1/sso` and, through [`Admin`], the `/sso` page. One implementation for both doors.

use std::collections::BTreeMap;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension, Json,
};
use store::{
    audit::Actor,
    sso::{self, Preset, Protocol, Provider},
    tenants, Role, Slug, Tenant,
};
use types::sso::{DomainProof, Form, SamlSettings, Settings};

use crate::{
    api::extract::{JsonBody, Me},
    auth::{domains, saml::Sp},
    error::ApiError,
    state::AppState,
};

/// The provider's configuration as an admin reads it (never the secret).
pub fn settings(
    state: &AppState,
    tenant: &Tenant,
    p: Provider,
    proofs: Vec<sso::DomainProof>,
) -> Settings {
    let base = state.public_url.trim_end_matches('/');
    let sp = Sp::of(&state.public_url, tenant.slug.as_str());
    let saml = p.saml.as_ref().map(|s| {
        let idp = crate::auth::saml::Idp::read(&s.metadata);
        SamlSettings {
            idp_entity_id: p.issuer.clone(),
            idp_sso_url: idp.as_ref().map(|i| i.sso_url.clone()).unwrap_or_default(),
            metadata_url: s.metadata_url.clone(),
            signing_certificates: idp.as_ref().map_or(0, |i| i.signing_certificates),
            attributes: s.attributes.clone(),
            sp_entity_id: sp.entity_id.clone(),
            acs_url: sp.acs_url.clone(),
            sp_metadata_url: sp.entity_id.clone(),
        }
    });
    let redirect_uri = match p.protocol {
        Protocol::Oidc => format!("{base}{}", p.response_mode.callback_path()),
        Protocol::Saml => sp.acs_url.clone(),
    };
    Settings {
        protocol: p.protocol,
        saml,
        preset: p.preset.as_str().to_string(),
        issuer: p.issuer,
        client_id: p.client_id,
        scopes: p.scopes,
        email_domains: p.email_domains,
        default_role: p.default_role,
        group_roles: p.group_roles,
        enabled: p.enabled,
        sso_only: p.sso_only,
        break_glass: p.break_glass,
        response_mode: p.response_mode,
        redirect_uri,
        domains: proofs.into_iter().map(proof).collect(),
    }
}

fn proof(p: sso::DomainProof) -> DomainProof {
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    DomainProof {
        record_name: domains::record_name(&p.domain),
        record_value: domains::record_value(&p.token),
        domain: p.domain,
        verified_at: p.verified_at.map(time),
        checked_at: p.checked_at.map(time),
        last_error: p.last_error,
    }
}

/// The workspace's provider, if one is configured.
pub async fn read(state: &AppState, tenant: &Tenant) -> Result<Option<Settings>, ApiError> {
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let read = match sso::provider(&mut tx).await? {
        Some(p) => {
            let proofs = sso::domain_proofs(&mut tx, &p.email_domains).await?;
            Some(settings(state, tenant, p, proofs))
        }
        None => None,
    };
    tx.commit().await?;
    Ok(read)
}

pub async fn get_config(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Response, ApiError> {
    Ok(match read(&state, me.tenant()?).await? {
        Some(s) => Json(s).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub async fn put_config(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<Form>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(save(&state, me.tenant()?, &me.actor(), body).await?))
}

/// Checks and saves the workspace's provider: the one implementation behind the REST route and
/// the sign-in settings page.
pub async fn save(
    state: &AppState,
    tenant: &Tenant,
    actor: &Actor,
    body: Form,
) -> Result<Settings, ApiError> {
    let saved = {
        let mut tx = state.store.tenant_tx(tenant.scope()).await?;
        let saved = sso::provider(&mut tx).await?;
        tx.commit().await?;
        saved
    };
    // The protocol's own part (which may fetch the IdP's metadata: no transaction is open);
    // the rest (domains, roles, SSO-only) is the same for both.
    let protocol = match body.protocol {
        Protocol::Oidc => oidc(state, tenant, &body, saved.as_ref())?,
        Protocol::Saml => saml(state, tenant, &body, saved.as_ref()).await?,
    };
    let role = |pointer: &str, s: &str| {
        Role::parse_tenant(s).map_err(|_| {
            ApiError::field(
                pointer,
                "must be tenant_admin, manager, developer or viewer",
            )
        })
    };
    let default_role = match body.default_role.as_deref() {
        Some(r) => role("/default_role", r)?,
        None => Role::Developer,
    };
    let mut group_roles = BTreeMap::new();
    for (g, r) in &body.group_roles {
        group_roles.insert(g.clone(), role(&format!("/group_roles/{g}"), r)?);
    }
    for (i, d) in body.email_domains.iter().enumerate() {
        if d.len() < 3
            || d.len() > 253
            || d.contains('@')
            || !d.contains('.')
            || d.chars().any(char::is_whitespace)
        {
            return Err(ApiError::field(
                &format!("/email_domains/{i}"),
                "must be a domain such as example.com",
            ));
        }
    }
    // Anyone in the world has an account at a shared provider: only the workspace's own
    // domains may come in, and its group names mean nothing.
    let preset = protocol.preset;
    if matches!(preset, Preset::Google | Preset::Entra) && body.email_domains.is_empty() {
        return Err(ApiError::field(
            "/email_domains",
            "must name the workspace's e-mail domains for this provider",
        ));
    }
    if preset == Preset::Google && !body.group_roles.is_empty() {
        return Err(ApiError::field(
            "/group_roles",
            "Google sends no groups; give roles on the people page",
        ));
    }
    let response_mode = body
        .response_mode
        .or(saved.map(|p| p.response_mode))
        .unwrap_or_default();
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let provider = Provider {
        protocol: body.protocol,
        preset: protocol.preset,
        issuer: protocol.issuer,
        client_id: protocol.client_id,
        client_secret: protocol.client_secret,
        scopes: protocol.scopes,
        saml: protocol.saml,
        email_domains: body
            .email_domains
            .iter()
            .map(|d| d.to_lowercase())
            .collect(),
        default_role,
        group_roles,
        enabled: body.enabled,
        sso_only: body.sso_only,
        break_glass: body
            .break_glass
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty()),
        response_mode,
        updated_at: chrono::Utc::now(),
    };
    let saved = sso::configure(&mut tx, actor, &provider).await?;
    let proofs = sso::domain_proofs(&mut tx, &saved.email_domains).await?;
    let vouched = vouched(&mut tx, Some(&saved)).await?;
    tx.commit().await?;
    publish(state, tenant, &vouched).await?;
    Ok(settings(state, tenant, saved, proofs))
}

/// A provider's protocol-specific settings, checked.
struct ProtocolPart {
    preset: Preset,
    issuer: String,
    client_id: String,
    client_secret: Vec<u8>,
    scopes: Vec<String>,
    saml: Option<sso::Saml>,
}

fn oidc(
    state: &AppState,
    tenant: &Tenant,
    body: &Form,
    saved: Option<&Provider>,
) -> Result<ProtocolPart, ApiError> {
    if !state.sso.can_seal() {
        return Err(ApiError::field(
            "/client_secret",
            "cannot be kept: set DEVPULSE_SECRET_KEY (64 hex digits) on the server first",
        ));
    }
    let preset = Preset::parse(&body.preset)
        .ok_or_else(|| ApiError::field("/preset", "must be generic, google, entra or okta"))?;
    state
        .sso
        .check_issuer(body.issuer.trim())
        .map_err(|why| ApiError::field("/issuer", why))?;
    // Entra's multi-tenant endpoints answer discovery with a `{tenantid}` template for an
    // issuer, which can never equal the one asked for; any Entra organisation could sign in
    // through them. A workspace uses its own directory's issuer.
    // (9188040d-… is the directory of personal Microsoft accounts, `consumers` by its id.)
    if let Some(shared) = entra_shared(body.issuer.trim()) {
        return Err(ApiError::field(
            "/issuer",
            format!(
                "uses Entra ID's shared `{shared}` endpoint; use your directory's own issuer, \
                 https://login.microsoftonline.com/<directory (tenant) id>/v2.0"
            ),
        ));
    }
    if body.issuer.trim().trim_end_matches('/') == sso::GOOGLE_ISSUER && preset != Preset::Google {
        return Err(ApiError::field(
            "/preset",
            "must be google for Google's issuer (its accounts are checked by their Workspace domain)",
        ));
    }
    if body.client_id.trim().is_empty() || body.client_id.len() > 500 {
        return Err(ApiError::field("/client_id", "is required"));
    }
    if body.client_secret.len() > 2000 {
        return Err(ApiError::field("/client_secret", "is too long"));
    }
    let scopes = body
        .scopes
        .clone()
        .unwrap_or_else(|| ["openid", "email", "profile"].map(String::from).to_vec());
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ApiError::field("/scopes", "must include openid"));
    }
    // An empty secret keeps the one saved, so changing a setting needs no secret retyped.
    let client_secret = if body.client_secret.is_empty() {
        match saved.filter(|p| p.protocol == Protocol::Oidc) {
            Some(p) => p.client_secret.clone(),
            None => return Err(ApiError::field("/client_secret", "is required")),
        }
    } else {
        state.sso.seal(&body.client_secret, tenant.id.0.as_bytes())
    };
    Ok(ProtocolPart {
        preset,
        // As entered: the provider's issuer is compared exactly, trailing slash and all.
        issuer: body.issuer.trim().to_string(),
        client_id: body.client_id.trim().to_string(),
        client_secret,
        scopes,
        saml: None,
    })
}

/// A SAML IdP: its metadata from the address given (fetched now), the document given, or as
/// saved; devpulse's own entity ID takes the client id's place.
async fn saml(
    state: &AppState,
    tenant: &Tenant,
    body: &Form,
    saved: Option<&Provider>,
) -> Result<ProtocolPart, ApiError> {
    let saved = saved.and_then(|p| p.saml.as_ref());
    let url = body
        .saml_metadata_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let document = body
        .saml_metadata
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let (metadata, metadata_url, pointer) = match (document, url) {
        (Some(xml), _) => (xml.to_string(), None, "/saml_metadata"),
        (None, Some(url)) => {
            let xml = state
                .sso
                .fetch_metadata(url)
                .await
                .map_err(|why| ApiError::field("/saml_metadata_url", why))?;
            (xml, Some(url.to_string()), "/saml_metadata_url")
        }
        (None, None) => match saved {
            Some(s) => (s.metadata.clone(), s.metadata_url.clone(), "/saml_metadata"),
            None => {
                return Err(ApiError::field(
                    "/saml_metadata_url",
                    "give the IdP's metadata address, or its metadata document",
                ))
            }
        },
    };
    let idp =
        crate::auth::saml::Idp::read(&metadata).map_err(|why| ApiError::field(pointer, why))?;
    let attributes = body
        .saml_attributes
        .clone()
        .or_else(|| saved.map(|s| s.attributes.clone()))
        .unwrap_or_default();
    for (name, value) in [
        ("email", &attributes.email),
        ("name", &attributes.name),
        ("groups", &attributes.groups),
    ] {
        if value.trim().is_empty() || value.len() > 200 {
            return Err(ApiError::field(
                &format!("/saml_attributes/{name}"),
                "must name an attribute (up to 200 characters)",
            ));
        }
    }
    Ok(ProtocolPart {
        // Presets describe OpenID providers' quirks; a SAML IdP is known by its metadata.
        preset: Preset::Generic,
        issuer: idp.entity_id,
        client_id: Sp::of(&state.public_url, tenant.slug.as_str()).entity_id,
        client_secret: Vec::new(),
        scopes: Vec::new(),
        saml: Some(sso::Saml {
            metadata,
            metadata_url,
            attributes,
        }),
    })
}

/// The domains discovery may send to the workspace's `provider`: its own, when it is on,
/// that the workspace has proven.
async fn vouched(
    conn: &mut sqlx::PgConnection,
    provider: Option<&Provider>,
) -> Result<Vec<String>, ApiError> {
    Ok(match provider {
        Some(p) if p.enabled => sso::proven(conn, &p.email_domains).await?,
        _ => Vec::new(),
    })
}

/// Looks for `domain`'s proof in DNS now and records what was found; the domain must be one
/// of the provider's.
pub async fn verify(
    state: &AppState,
    tenant: &Tenant,
    actor: &Actor,
    domain: &str,
) -> Result<DomainProof, ApiError> {
    let domain = domain.trim().to_lowercase();
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let named = sso::provider(&mut tx)
        .await?
        .is_some_and(|p| p.email_domains.contains(&domain));
    if !named {
        return Err(ApiError::NotFound(
            "e-mail domain of the workspace's provider",
        ));
    }
    let token = sso::domain_proofs(&mut tx, std::slice::from_ref(&domain))
        .await?
        .pop()
        .map(|p| p.token)
        .ok_or(ApiError::NotFound(
            "e-mail domain of the workspace's provider",
        ))?;
    tx.commit().await?;
    // No transaction is open while DNS answers.
    let found = state.domain_proofs.check(&domain, &token).await;
    let withdraw = matches!(found, Err(domains::Unproven::Absent(_)));
    let found = found.map_err(|e| e.reason().to_string());
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let recorded = sso::record_domain_check(&mut tx, actor, &domain, found, withdraw)
        .await?
        .ok_or(ApiError::NotFound(
            "e-mail domain of the workspace's provider",
        ))?;
    // The provider as it is now: it may have changed while DNS answered.
    let provider = sso::provider(&mut tx).await?;
    let vouched = vouched(&mut tx, provider.as_ref()).await?;
    tx.commit().await?;
    publish(state, tenant, &vouched).await?;
    Ok(proof(recorded))
}

pub async fn verify_domain(
    State(state): State<AppState>,
    Extension(me): Me,
    axum::extract::Path(domain): axum::extract::Path<String>,
) -> Result<Json<DomainProof>, ApiError> {
    Ok(Json(
        verify(&state, me.tenant()?, &me.actor(), &domain).await?,
    ))
}

/// Keeps the registry's index of domains (home-realm discovery) in step with the provider
/// just saved. A transaction of its own, as the registry is not the workspace's schema: a
/// crash in between leaves the index behind until the next save, and a sign-in found through
/// it checks the workspace's provider again anyway.
async fn publish(state: &AppState, tenant: &Tenant, domains: &[String]) -> Result<(), ApiError> {
    let mut tx = state.store.registry_tx().await?;
    sso::publish_domains(&mut tx, tenant.id, domains).await?;
    tx.commit().await?;
    Ok(())
}

/// The sign-in settings page's door to the functions above.
#[derive(Clone)]
pub struct Admin(pub AppState);

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sso::Admin")
    }
}

impl Admin {
    async fn tenant(&self, workspace: &str) -> Result<Tenant, ApiError> {
        let slug = Slug::parse(workspace).map_err(|_| ApiError::NotFound("workspace"))?;
        Ok(tenants::find_by_slug(self.0.store.pool(), &slug).await?)
    }
}

impl app::ssr::SsoAdmin for Admin {
    fn read<'a>(
        &'a self,
        workspace: &'a str,
    ) -> app::session::ssr::BoxFuture<'a, Result<Option<Settings>, app::AppError>> {
        Box::pin(async move {
            let t = self.tenant(workspace).await.map_err(ApiError::for_page)?;
            read(&self.0, &t).await.map_err(ApiError::for_page)
        })
    }

    fn save<'a>(
        &'a self,
        workspace: &'a str,
        actor: &'a Actor,
        form: Form,
    ) -> app::session::ssr::BoxFuture<'a, Result<Settings, app::AppError>> {
        Box::pin(async move {
            let t = self.tenant(workspace).await.map_err(ApiError::for_page)?;
            save(&self.0, &t, actor, form)
                .await
                .map_err(ApiError::for_page)
        })
    }

    fn verify_domain<'a>(
        &'a self,
        workspace: &'a str,
        actor: &'a Actor,
        domain: &'a str,
    ) -> app::session::ssr::BoxFuture<'a, Result<DomainProof, app::AppError>> {
        Box::pin(async move {
            let t = self.tenant(workspace).await.map_err(ApiError::for_page)?;
            verify(&self.0, &t, actor, domain)
                .await
                .map_err(ApiError::for_page)
        })
    }

    fn remove<'a>(
        &'a self,
        workspace: &'a str,
        actor: &'a Actor,
    ) -> app::session::ssr::BoxFuture<'a, Result<bool, app::AppError>> {
        Box::pin(async move {
            let t = self.tenant(workspace).await.map_err(ApiError::for_page)?;
            remove(&self.0, &t, actor).await.map_err(ApiError::for_page)
        })
    }
}

/// Removes the workspace's provider; `false` when there was none.
pub async fn remove(state: &AppState, tenant: &Tenant, actor: &Actor) -> Result<bool, ApiError> {
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let gone = sso::remove(&mut tx, actor).await?;
    tx.commit().await?;
    publish(state, tenant, &[]).await?;
    Ok(gone)
}

pub async fn delete_config(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<StatusCode, ApiError> {
    Ok(if remove(&state, me.tenant()?, &me.actor()).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    })
}

/// The directory of `issuer` when it is one of Entra ID's shared ones (`common`,
/// `organizations`, `consumers`, or personal accounts by their id).
fn entra_shared(issuer: &str) -> Option<&str> {
    const SHARED: [&str; 4] = [
        "common",
        "organizations",
        "consumers",
        "9188040d-6c67-4c5b-b112-36a304b66dad",
    ];
    let directory = issuer
        .strip_prefix("https://login.microsoftonline.com/")?
        .split('/')
        .next()?;
    SHARED
        .iter()
        .any(|s| s.eq_ignore_ascii_case(directory))
        .then_some(directory)
}
