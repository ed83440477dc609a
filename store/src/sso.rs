//! Single sign-on: a workspace's OpenID Connect provider, who each of its subjects is here,
//! and the sign-ins in progress. The protocol itself (discovery, the code exchange, checking
//! the ID token) is the server's; this module keeps what it needs between requests.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
pub use types::sso::{Protocol, ResponseMode, SamlAttributes};

use crate::{
    accounts::{self, Email},
    audit::{self, Actor},
    secrets, Error, Result, Role, TenantId, User, UserId,
};

/// How long a sign-in may take between leaving for the provider and coming back.
pub const PENDING_TTL: Duration = Duration::minutes(10);

/// A workspace's provider, as configured (the client secret sealed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub protocol: Protocol,
    pub preset: Preset,
    pub issuer: String,
    pub client_id: String,
    #[serde(skip)]
    pub client_secret: Vec<u8>,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    pub default_role: Role,
    pub group_roles: BTreeMap<String, Role>,
    pub enabled: bool,
    /// Passwords are refused in this workspace, except for `break_glass`.
    #[serde(default)]
    pub sso_only: bool,
    /// The e-mail of the tenant admin who may still sign in with a password (required when
    /// `sso_only`), so an outage at the provider locks nobody out for good.
    #[serde(default)]
    pub break_glass: Option<String>,
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// A SAML provider's metadata and attribute names.
    #[serde(default)]
    pub saml: Option<Saml>,
    pub updated_at: DateTime<Utc>,
}

/// What a SAML provider is known by: the IdP's metadata (its entity ID, where it takes
/// requests, the certificates its signatures must verify with) and the attribute names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saml {
    pub metadata: String,
    pub metadata_url: Option<String>,
    pub attributes: SamlAttributes,
}

/// What kind of provider it is: the presets differ in how their issuer is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    Generic,
    Google,
    Entra,
    Okta,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Generic => "generic",
            Preset::Google => "google",
            Preset::Entra => "entra",
            Preset::Okta => "okta",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        [Preset::Generic, Preset::Google, Preset::Entra, Preset::Okta]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Google's issuer: whatever preset names it, Google's rules (`hd`) apply.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

impl Provider {
    /// The domains whose Google Workspace must manage an account (the ID token's `hd`), for
    /// a Google provider; `None` for others.
    pub fn hosted_domains(&self) -> Option<&[String]> {
        (self.preset == Preset::Google || self.issuer.trim_end_matches('/') == GOOGLE_ISSUER)
            .then_some(&self.email_domains[..])
    }

    /// Whether someone with `email` may get an account just in time.
    pub fn admits(&self, email: &Email) -> bool {
        let domain = email.as_str().rsplit('@').next().unwrap_or_default();
        self.email_domains.is_empty()
            || self
                .email_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The workspace named its e-mail domains and `email` is in one: the workspace vouches
    /// that the provider speaks for that address, so an existing account with it may be linked.
    pub fn vouches_for(&self, email: &Email) -> bool {
        !self.email_domains.is_empty() && self.admits(email)
    }

    /// The role a new account gets: the most powerful its groups map to, else the default.
    pub fn role_for(&self, groups: &[String]) -> Role {
        groups
            .iter()
            .filter_map(|g| self.group_roles.get(g).copied())
            .max()
            .unwrap_or(self.default_role)
    }
}

struct ProviderRow {
    protocol: String,
    preset: String,
    issuer: String,
    client_id: String,
    client_secret: Vec<u8>,
    scopes: Vec<String>,
    email_domains: Vec<String>,
    default_role: String,
    group_roles: serde_json::Value,
    enabled: bool,
    sso_only: bool,
    break_glass: Option<String>,
    response_mode: String,
    saml_metadata: Option<String>,
    saml_metadata_url: Option<String>,
    saml_email_attribute: String,
    saml_name_attribute: String,
    saml_groups_attribute: String,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProviderRow> for Provider {
    type Error = Error;
    fn try_from(r: ProviderRow) -> Result<Provider> {
        let protocol = Protocol::parse(&r.protocol).ok_or(Error::Invalid {
            field: "protocol",
            reason: "unknown".into(),
        })?;
        let saml = r
            .saml_metadata
            .filter(|_| protocol == Protocol::Saml)
            .map(|metadata| Saml {
                metadata,
                metadata_url: r.saml_metadata_url,
                attributes: SamlAttributes {
                    email: r.saml_email_attribute,
                    name: r.saml_name_attribute,
                    groups: r.saml_groups_attribute,
                },
            });
        Ok(Provider {
            protocol,
            saml,
            preset: Preset::parse(&r.preset).ok_or(Error::Invalid {
                field: "preset",
                reason: "unknown".into(),
            })?,
            issuer: r.issuer,
            client_id: r.client_id,
            client_secret: r.client_secret,
            scopes: r.scopes,
            email_domains: r.email_domains,
            default_role: Role::parse_tenant(&r.default_role)?,
            group_roles: serde_json::from_value(r.group_roles).map_err(|e| Error::Invalid {
                field: "group_roles",
                reason: e.to_string().into(),
            })?,
            enabled: r.enabled,
            sso_only: r.sso_only,
            break_glass: r.break_glass,
            response_mode: ResponseMode::parse(&r.response_mode).ok_or(Error::Invalid {
                field: "response_mode",
                reason: "unknown".into(),
            })?,
            updated_at: r.updated_at,
        })
    }
}

/// The workspace's provider, if one is configured.
pub async fn provider(conn: &mut PgConnection) -> Result<Option<Provider>> {
    sqlx::query_as!(
        ProviderRow,
        "SELECT p.protocol, p.preset, p.issuer, p.client_id, p.client_secret, p.scopes, p.email_domains,
                p.default_role, p.group_roles, p.enabled, p.sso_only,
                u.email AS \"break_glass?\", p.response_mode, p.saml_metadata,
                p.saml_metadata_url, p.saml_email_attribute, p.saml_name_attribute,
                p.saml_groups_attribute, p.updated_at
         FROM sso_providers p LEFT JOIN users u ON u.id = p.break_glass"
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(Provider::try_from)
    .transpose()
}

/// Configures the workspace's provider (replacing any), recorded as `by`'s change. The
/// secret is recorded nowhere but the row, sealed.
pub async fn configure(conn: &mut PgConnection, by: &Actor, p: &Provider) -> Result<Provider> {
    if p.default_role == Role::SuperAdmin || p.group_roles.values().any(|r| *r == Role::SuperAdmin)
    {
        return Err(Error::Invalid {
            field: "default_role",
            reason: "must be a workspace role".into(),
        });
    }
    let break_glass = match &p.break_glass {
        Some(email) => Some(break_glass_admin(conn, email).await?),
        None if p.sso_only => {
            return Err(Error::Invalid {
                field: "break_glass",
                reason: "name the tenant admin who may still sign in with a password when the provider is down".into(),
            })
        }
        None => None,
    };
    let groups = serde_json::to_value(&p.group_roles).expect("a map of roles serialises");
    let attributes = p
        .saml
        .as_ref()
        .map(|s| s.attributes.clone())
        .unwrap_or_default();
    sqlx::query!(
        "INSERT INTO sso_providers (preset, issuer, client_id, client_secret, scopes,
                                    email_domains, default_role, group_roles, enabled, sso_only,
                                    break_glass, response_mode, protocol, saml_metadata,
                                    saml_metadata_url, saml_email_attribute, saml_name_attribute,
                                    saml_groups_attribute)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT ((true)) DO UPDATE SET
             protocol = EXCLUDED.protocol, saml_metadata = EXCLUDED.saml_metadata,
             saml_metadata_url = EXCLUDED.saml_metadata_url,
             saml_email_attribute = EXCLUDED.saml_email_attribute,
             saml_name_attribute = EXCLUDED.saml_name_attribute,
             saml_groups_attribute = EXCLUDED.saml_groups_attribute,
             preset = EXCLUDED.preset, issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id,
             client_secret = EXCLUDED.client_secret, scopes = EXCLUDED.scopes,
             email_domains = EXCLUDED.email_domains, default_role = EXCLUDED.default_role,
             group_roles = EXCLUDED.group_roles, enabled = EXCLUDED.enabled,
             sso_only = EXCLUDED.sso_only, break_glass = EXCLUDED.break_glass,
             response_mode = EXCLUDED.response_mode, updated_at = now()",
        p.preset.as_str(),
        p.issuer,
        p.client_id,
        p.client_secret,
        &p.scopes,
        &p.email_domains,
        p.default_role.as_str(),
        groups,
        p.enabled,
        p.sso_only,
        break_glass.map(|u| u.0),
        p.response_mode.as_str(),
        p.protocol.as_str(),
        p.saml.as_ref().map(|s| s.metadata.as_str()),
        p.saml.as_ref().and_then(|s| s.metadata_url.as_deref()),
        attributes.email,
        attributes.name,
        attributes.groups
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        by,
        "sso.configured",
        Some(&p.issuer),
        serde_json::json!({
            "protocol": p.protocol.as_str(),
            "saml_metadata_url": p.saml.as_ref().and_then(|s| s.metadata_url.as_deref()),
            "saml_attributes": p.saml.as_ref().map(|s| &s.attributes),
            "preset": p.preset.as_str(),
            "client_id": p.client_id,
            "response_mode": p.response_mode.as_str(),
            "email_domains": p.email_domains,
            "default_role": p.default_role.as_str(),
            "group_roles": p.group_roles,
            "enabled": p.enabled,
            "sso_only": p.sso_only,
            "break_glass": p.break_glass,
        }),
    )
    .await?;
    provider(conn).await?.ok_or(Error::NotFound("provider"))
}

/// Saves a SAML provider's metadata as fetched again from `url` (its IdP rotated a key, say),
/// recorded as `by`'s change.
pub async fn refresh_saml_metadata(
    conn: &mut PgConnection,
    by: &Actor,
    url: &str,
    metadata: &str,
) -> Result<()> {
    let issuer = sqlx::query_scalar!(
        "UPDATE sso_providers SET saml_metadata = $1, updated_at = now()
         WHERE protocol = 'saml' AND saml_metadata_url = $2 RETURNING issuer",
        metadata,
        url
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(issuer) = issuer {
        audit::record(
            conn,
            by,
            "sso.metadata_refreshed",
            Some(&issuer),
            serde_json::json!({ "metadata_url": url }),
        )
        .await?;
    }
    Ok(())
}

/// The break-glass account: an active tenant admin with a password.
async fn break_glass_admin(conn: &mut PgConnection, email: &str) -> Result<UserId> {
    let bad = |reason: &'static str| Error::Invalid {
        field: "break_glass",
        reason: reason.into(),
    };
    let email = Email::parse(email).map_err(|_| bad("is not an e-mail address"))?;
    let row = sqlx::query!(
        "SELECT id, role, status = 'active' AS \"active!\", password_hash IS NOT NULL AS \"has_password!\"
         FROM users WHERE email = $1",
        email.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| bad("is nobody in this workspace"))?;
    if row.role != Role::TenantAdmin.as_str() || !row.active || !row.has_password {
        return Err(bad("must be an active tenant admin who has a password"));
    }
    Ok(UserId(row.id))
}

/// Whether the workspace refuses a password sign-in as `email` (single sign-on only, and not
/// its break-glass admin). Asked before the password is checked, and the same for an e-mail
/// nobody has: the answer says something about the workspace, nothing about the account.
pub async fn password_refused(conn: &mut PgConnection, email: &Email) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        // A break-glass admin since demoted is refused like anyone else.
        "SELECT p.enabled AND p.sso_only
                AND NOT coalesce(u.email = $1 AND u.role = 'tenant_admin', false) AS \"refused!\"
         FROM sso_providers p LEFT JOIN users u ON u.id = p.break_glass",
        email.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(false))
}

/// Removes the workspace's provider; accounts it made keep working with a password link.
pub async fn remove(conn: &mut PgConnection, by: &Actor) -> Result<bool> {
    let gone = sqlx::query_scalar!("DELETE FROM sso_providers RETURNING issuer")
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(issuer) = &gone {
        audit::record(conn, by, "sso.removed", Some(issuer), serde_json::json!({})).await?;
    }
    Ok(gone.is_some())
}

/// Who signs in: the account linked to (`issuer`, `subject`), or a new one made just in time
/// with `role` when `may_create` (its e-mail domain is admitted). An e-mail already taken by
/// an account not linked to this subject is refused (`Conflict`): linking by e-mail alone
/// would let whoever controls an address at the provider take over an existing account. Only
/// `link_existing` (the workspace vouches for the domain, see `Provider::vouches_for`) links it.
#[allow(clippy::too_many_arguments)]
pub async fn account(
    conn: &mut PgConnection,
    from: &Actor,
    issuer: &str,
    subject: &str,
    email: &Email,
    name: &str,
    role: Role,
    may_create: bool,
    link_existing: bool,
) -> Result<(User, bool)> {
    let linked = sqlx::query_scalar!(
        "UPDATE user_identities SET last_login_at = now()
         WHERE issuer = $1 AND subject = $2 RETURNING user_id",
        issuer,
        subject
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = linked {
        return Ok((accounts::get(conn, UserId(id)).await?, false));
    }
    // The provider's name for them, as long as an account's may be.
    let name: String = name.chars().take(200).collect();
    let name = name.as_str();
    if !may_create {
        return Err(Error::Invalid {
            field: "email",
            reason: format!("{email} is not in a domain this workspace admits").into(),
        });
    }
    // The workspace named its own e-mail domains and the provider verified this address in
    // one of them: an account that already has it (made with a password, say, before the
    // workspace moved to single sign-on) is linked to this identity from now on.
    if link_existing {
        if let Ok(existing) = accounts::find_by_email(conn, email).await {
            sqlx::query!(
                "INSERT INTO user_identities (issuer, subject, user_id, last_login_at)
                 VALUES ($1, $2, $3, now())",
                issuer,
                subject,
                existing.id.0
            )
            .execute(&mut *conn)
            .await?;
            audit::record(
                conn,
                from,
                "sso.linked",
                Some(&existing.id.to_string()),
                serde_json::json!({ "email": existing.email, "issuer": issuer, "subject": subject }),
            )
            .await?;
            return Ok((existing, false));
        }
    }
    let user = accounts::create(conn, email, name, role, None).await?;
    sqlx::query!(
        "INSERT INTO user_identities (issuer, subject, user_id, last_login_at)
         VALUES ($1, $2, $3, now())",
        issuer,
        subject,
        user.id.0
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        from,
        "user.created",
        Some(&user.id.to_string()),
        serde_json::json!({ "email": user.email, "role": role.as_str(), "via": "sso", "issuer": issuer }),
    )
    .await?;
    Ok((user, true))
}

/// A sign-in in progress, as the callback finds it.
#[derive(Clone, Debug)]
pub struct Pending {
    pub tenant: TenantId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    /// The provider it began with: a callback after the configuration changed is stale.
    pub issuer: String,
    pub client_id: String,
    /// An admin's "try sign-in": report what came back, sign nobody in.
    pub trial_by: Option<UserId>,
}

/// Keeps a sign-in that is leaving for the provider with `state`, from the browser holding
/// `browser` (registry).
pub async fn begin(conn: &mut PgConnection, state: &str, browser: &str, p: &Pending) -> Result<()> {
    // Old ones go as new ones come: the table stays as small as the sign-ins in flight.
    sqlx::query!("DELETE FROM sso_pending WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO sso_pending (state_hash, tenant_id, nonce, pkce_verifier, return_to,
                                  expires_at, browser_hash, issuer, client_id, trial_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        secrets::sha256(state),
        p.tenant.0,
        p.nonce,
        p.pkce_verifier,
        p.return_to,
        Utc::now() + PENDING_TTL,
        secrets::sha256(browser),
        p.issuer,
        p.client_id,
        p.trial_by.map(|u| u.0)
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the sign-in begun with `state` by the browser holding `browser`: once, and only
/// before it expires. Another browser's callback leaves it in place for its own.
pub async fn take(conn: &mut PgConnection, state: &str, browser: &str) -> Result<Option<Pending>> {
    let row = sqlx::query!(
        "DELETE FROM sso_pending WHERE state_hash = $1 AND browser_hash = $2
         RETURNING tenant_id, nonce, pkce_verifier, return_to, expires_at, issuer, client_id,
                   trial_by",
        secrets::sha256(state),
        secrets::sha256(browser)
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.filter(|r| r.expires_at > Utc::now()).map(|r| Pending {
        tenant: TenantId(r.tenant_id),
        nonce: r.nonce,
        pkce_verifier: r.pkce_verifier,
        return_to: r.return_to,
        issuer: r.issuer,
        client_id: r.client_id,
        trial_by: r.trial_by.map(UserId),
    }))
}

/// Records that the SAML assertion `id` has been used, until `expires_at` (after which it
/// would be refused as expired anyway); `false` when it already was: a replay (registry).
pub async fn first_use_of_assertion(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    sqlx::query!("DELETE FROM saml_replays WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query!(
        "INSERT INTO saml_replays (assertion_id, tenant_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        id,
        tenant.0,
        expires_at
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

// --- Proof of e-mail domains (tenant) -------------------------------------------------------

/// Whether the workspace has shown it controls a domain (a DNS record with its token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainProof {
    pub domain: String,
    pub token: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The proofs of `domains`, with a token made for any that has none yet.
pub async fn domain_proofs(
    conn: &mut PgConnection,
    domains: &[String],
) -> Result<Vec<DomainProof>> {
    sqlx::query!(
        "INSERT INTO sso_domain_proofs (domain, token)
         SELECT lower(d), replace(gen_random_uuid()::text, '-', '') FROM unnest($1::text[]) d
         WHERE length(d) BETWEEN 3 AND 253
         ON CONFLICT DO NOTHING",
        domains
    )
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_as!(
        DomainProof,
        "SELECT domain, token, verified_at, checked_at, last_error FROM sso_domain_proofs
         WHERE domain = ANY(SELECT lower(d) FROM unnest($1::text[]) d) ORDER BY domain",
        domains
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Records a look at `domain`'s record: proven (since the first time, if it still is) or
/// not, and why; audited. `withdraw`: the look showed the record is not there (not merely that
/// DNS could not be asked), so a proof held until now is withdrawn. `None` when the workspace
/// has no proof for the domain.
pub async fn record_domain_check(
    conn: &mut PgConnection,
    by: &Actor,
    domain: &str,
    outcome: std::result::Result<(), String>,
    withdraw: bool,
) -> Result<Option<DomainProof>> {
    let proven = outcome.is_ok();
    let why = outcome.err();
    let proof = sqlx::query_as!(
        DomainProof,
        "UPDATE sso_domain_proofs SET checked_at = now(), last_error = $3,
             verified_at = CASE WHEN $2 THEN coalesce(verified_at, now())
                                WHEN $4 THEN NULL
                                ELSE verified_at END
         WHERE domain = lower($1)
         RETURNING domain, token, verified_at, checked_at, last_error",
        domain,
        proven,
        why,
        withdraw
    )
    .fetch_optional(&mut *conn)
    .await?;
    if proof.is_some() {
        audit::record(
            conn,
            by,
            "sso.domain_checked",
            Some(domain),
            serde_json::json!({ "proven": proven, "reason": why }),
        )
        .await?;
    }
    Ok(proof)
}

/// Of `domains`, those the workspace has proven.
pub async fn proven(conn: &mut PgConnection, domains: &[String]) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "SELECT domain FROM sso_domain_proofs
         WHERE verified_at IS NOT NULL AND domain = ANY(SELECT lower(d) FROM unnest($1::text[]) d)
         ORDER BY domain",
        domains
    )
    .fetch_all(&mut *conn)
    .await?)
}

// --- Home-realm discovery (registry) ------------------------------------------------------

/// Publishes the e-mail domains `tenant`'s provider vouches for (none when it is off or gone)
/// in the registry's index that "Continue with SSO" looks typed addresses up in.
pub async fn publish_domains(
    conn: &mut PgConnection,
    tenant: TenantId,
    domains: &[String],
) -> Result<()> {
    sqlx::query!("DELETE FROM sso_domains WHERE tenant_id = $1", tenant.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO sso_domains (domain, tenant_id)
         SELECT DISTINCT lower(d), $2::uuid FROM unnest($1::text[]) d WHERE d LIKE '%.%'
         ON CONFLICT DO NOTHING",
        domains,
        tenant.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The workspaces whose provider has named `domain` (the caller checks each one's provider
/// again: the index may lag a change by a moment).
pub async fn workspaces_for_domain(conn: &mut PgConnection, domain: &str) -> Result<Vec<TenantId>> {
    Ok(sqlx::query_scalar!(
        "SELECT tenant_id FROM sso_domains WHERE domain = lower($1) ORDER BY tenant_id LIMIT 10",
        domain
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(TenantId)
    .collect())
}

// --- Try sign-in (tenant) -------------------------------------------------------------------

/// How long a try's report can be read back.
pub const TRIAL_TTL: Duration = Duration::hours(24);

/// A sign-in through the provider that did not complete, and why (the person is shown the
/// same reason).
pub async fn record_failure(conn: &mut PgConnection, from: &Actor, why: &str) -> Result<()> {
    audit::record(
        conn,
        from,
        "sso.failed",
        None,
        serde_json::json!({ "reason": why }),
    )
    .await
}

/// Keeps what a try found, for `by` to read on the page the callback leads to; audited.
pub async fn record_trial(
    conn: &mut PgConnection,
    from: &Actor,
    by: UserId,
    trial: &types::sso::Trial,
) -> Result<uuid::Uuid> {
    sqlx::query!(
        "DELETE FROM sso_trials WHERE created_at < $1",
        Utc::now() - TRIAL_TTL
    )
    .execute(&mut *conn)
    .await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO sso_trials (tried_by, result) VALUES ($1, $2) RETURNING id",
        by.0,
        serde_json::to_value(trial).expect("a trial serialises")
    )
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        from,
        "sso.tried",
        trial.claims.as_ref().map(|c| c.email.as_str()),
        serde_json::json!({ "admitted": trial.admitted, "outcome": trial.outcome }),
    )
    .await?;
    Ok(id)
}

/// A try's report, for the admin who made it only.
pub async fn trial(
    conn: &mut PgConnection,
    id: uuid::Uuid,
    by: UserId,
) -> Result<types::sso::Trial> {
    let row = sqlx::query_scalar!(
        "SELECT result FROM sso_trials WHERE id = $1 AND tried_by = $2 AND created_at > $3",
        id,
        by.0,
        Utc::now() - TRIAL_TTL
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("sign-in try"))?;
    serde_json::from_value(row).map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))
}
