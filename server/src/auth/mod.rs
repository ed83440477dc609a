//! Who is calling, and may they. `authenticate` turns a request into a [`Caller`] (session JWT
//! from the Bearer header or cookie, or an API key); [`authorize`] is the one check every API
//! route, server function and WebSocket subscription goes through.

pub mod csrf;
pub mod domains;
pub mod failed_logins;
pub mod jwt;
pub mod limits;
pub mod permissions;
pub mod proxies;
pub mod saml;
pub mod scope;
pub mod sso;
pub mod workspaces;

use axum::http::{header, HeaderMap, HeaderValue};
use store::{
    api_keys::{self, Scope},
    audit::Actor,
    tenants, Role, Store, Tenant, TenantStatus, TenantTx, UserId,
};
use uuid::Uuid;

pub use permissions::{Access, Permission};
pub use proxies::{ClientIp, TrustedProxies};

use crate::error::ApiError;

/// The session cookies' names and attributes, which depend on whether they are `Secure`.
///
/// Secure (served over https): the access cookie is `__Host-devpulse_access` — Path=/, no
/// Domain, so only this host can set it and no sibling subdomain can plant or shadow one. The
/// refresh cookie is the long-lived credential; it stays on [`REFRESH_PATH`](Self::REFRESH_PATH)
/// so it travels only to refresh and sign-out, not with every page and server function.
/// `__Host-` demands Path=/, so it is `__Secure-devpulse_refresh` instead: a sibling could
/// still plant one with a Domain attribute, which is why refresh refuses an ambiguous cookie
/// and sign-out revokes every one presented. Without `Secure` (plain http, development) the
/// prefixes are not allowed and the names are bare.
#[derive(Clone, Copy, Debug)]
pub struct SessionCookies {
    pub secure: bool,
}

impl SessionCookies {
    pub const REFRESH_PATH: &str = "/api/v1/auth";

    pub fn access(self) -> &'static str {
        if self.secure {
            "__Host-devpulse_access"
        } else {
            "devpulse_access"
        }
    }

    pub fn refresh(self) -> &'static str {
        if self.secure {
            "__Secure-devpulse_refresh"
        } else {
            "devpulse_refresh"
        }
    }

    /// The challenge of a sign-in's second step (see `api::mfa`), between the password form
    /// and the code form.
    pub fn mfa(self) -> &'static str {
        if self.secure {
            "__Host-devpulse_mfa"
        } else {
            "devpulse_mfa"
        }
    }

    /// A super admin's support access to one workspace (see `store::support`), beside their
    /// own session, which it leaves alone: ending the access drops this cookie only.
    pub fn support(self) -> &'static str {
        if self.secure {
            "__Host-devpulse_support"
        } else {
            "devpulse_support"
        }
    }

    /// The sealed refresh tokens of the other workspaces this browser is signed in to (see
    /// [`workspaces`]), on `/` so the switcher page can list them.
    pub fn other_workspaces(self) -> &'static str {
        if self.secure {
            "__Host-devpulse_workspaces"
        } else {
            "devpulse_workspaces"
        }
    }

    /// Whether the request would be authenticated by a session cookie: it carries one and no
    /// header credential (which `authenticate` prefers, and which a cross-site page cannot set).
    pub fn authenticates(self, headers: &HeaderMap) -> bool {
        !headers.contains_key(header::AUTHORIZATION)
            && !headers.contains_key("x-api-key")
            && (cookie(headers, self.access()).is_some()
                || cookie(headers, self.support()).is_some()
                || cookie(headers, self.refresh()).is_some()
                || cookie(headers, self.mfa()).is_some())
    }

    /// httpOnly, SameSite=Lax, and Secure when configured; `max_age` 0 deletes the cookie.
    pub fn set(self, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .expect("cookie is ASCII")
    }
}

#[derive(Clone, Debug)]
pub enum Via {
    Session {
        jti: Uuid,
    },
    ApiKey {
        key_id: Uuid,
        scopes: Vec<Scope>,
    },
    /// A single-use WebSocket ticket, asked for with a session (`POST /api/v1/ws/ticket`).
    Ticket,
    /// A super admin reading the caller's tenant through a support grant: read-only.
    Support {
        grant: Uuid,
        reason: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
}

#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: UserId,
    pub email: String,
    /// Display name; empty for API keys.
    pub name: String,
    pub role: Role,
    /// `None` for super admins, who belong to no tenant.
    pub tenant: Option<Tenant>,
    pub via: Via,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Caller {
    /// A signed-in person (not an API key) as a caller.
    fn of(
        user: store::User,
        tenant: Option<Tenant>,
        via: Via,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Caller {
        Caller {
            user_id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            tenant,
            via,
            ip,
            user_agent,
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.user_id.0),
            name: self.email.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    /// The caller's tenant, or 404 for super admins on tenant-scoped routes.
    pub fn tenant(&self) -> Result<&Tenant, ApiError> {
        self.tenant.as_ref().ok_or(ApiError::NotFound("tenant"))
    }

    pub fn can(&self, permission: Permission) -> bool {
        if self.is_support() {
            return permission.read_only();
        }
        self.role.allows(permission)
    }

    pub fn is_support(&self) -> bool {
        matches!(self.via, Via::Support { .. })
    }
}

/// The credential a request carries, if any, without checking it.
fn presented(headers: &HeaderMap, cookies: SessionCookies) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = auth.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_string());
    }
    cookie(headers, cookies.access())
}

/// The first cookie called `name` (the browser sends the one with the longest path first).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers, name).next()
}

/// Every cookie called `name`: a browser sends several when they differ in path or domain.
pub fn cookies<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = String> + 'h {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `Ok(None)`: no credential at all. `Err(Unauthenticated)`: a credential that is not valid
/// now (expired, revoked, tampered, its user deactivated or its tenant suspended).
pub async fn authenticate(
    store: &Store,
    keys: &jwt::Keys,
    cookies: SessionCookies,
    headers: &HeaderMap,
    ip: ClientIp,
) -> Result<Option<Caller>, ApiError> {
    let signed_in = authenticate_for(store, keys, cookies, headers, ip, Then::Done).await?;
    Ok(signed_in.map(|(caller, _)| caller))
}

/// What a request does once its caller is known.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    Done,
    /// Reads the dashboard: a session's check runs in a read transaction
    /// ([`Store::read_tx_of`]) left open for those reads.
    Reads,
}

/// [`authenticate`], and with [`Then::Reads`] the transaction a workspace session was
/// checked in, still open (API keys and support access check theirs apart).
async fn authenticate_for(
    store: &Store,
    keys: &jwt::Keys,
    cookies: SessionCookies,
    headers: &HeaderMap,
    ip: ClientIp,
    then: Then,
) -> Result<Option<(Caller, Option<TenantTx>)>, ApiError> {
    let ip = ip.text();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    // A browser in a support access reads as it; once the access is over (ended, expired),
    // the super admin's own session is back.
    let headers_name_one =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    if let Some(token) = cookie(headers, cookies.support()).filter(|_| !headers_name_one) {
        if let Some(claims) = keys.verify(&token).filter(|c| c.sup.is_some()) {
            // Only an access that is certainly over falls back to the super admin's own
            // session; one that could not be checked is not silently widened.
            match support_caller(store, &claims, ip.clone(), user_agent.clone()).await {
                Ok(caller) => return Ok(caller.map(|c| (c, None))),
                Err(ApiError::Unauthenticated) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let Some(credential) = presented(headers, cookies) else {
        return Ok(None);
    };

    if let Some(parsed) = api_keys::parse(&credential) {
        let (tenant, mut tx) = active_tenant(store.tenant_tx_of(&parsed.slug).await)?;
        let identity = api_keys::authenticate(&mut tx, &parsed)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        tx.commit().await?;
        return Ok(Some((
            Caller {
                user_id: identity.user_id,
                email: identity.email,
                name: String::new(),
                role: identity.role,
                tenant: Some(tenant),
                via: Via::ApiKey {
                    key_id: identity.key_id,
                    scopes: identity.scopes,
                },
                ip,
                user_agent,
            },
            None,
        )));
    }

    let claims = keys.verify(&credential).ok_or(ApiError::Unauthenticated)?;
    if claims.sup.is_some() {
        let caller = support_caller(store, &claims, ip, user_agent).await?;
        return Ok(caller.map(|c| (c, None)));
    }
    let (tenant, user, open) = match claims.tid {
        Some(tid) => {
            let tid = store::TenantId(tid);
            let (tenant, mut tx) = active_tenant(match then {
                Then::Done => store.tenant_tx_of(tid).await,
                Then::Reads => store.read_tx_of(tid).await,
            })?;
            let user = store::accounts::get(&mut tx, UserId(claims.sub)).await;
            let open = match then {
                Then::Done => {
                    tx.commit().await?;
                    None
                }
                // Nothing was written: if the checks below refuse, dropping it rolls back.
                Then::Reads => Some(tx),
            };
            (Some(tenant), user, open)
        }
        None => {
            let mut tx = store.registry_tx().await?;
            let user = store::accounts::get(&mut tx, UserId(claims.sub)).await;
            tx.commit().await?;
            (None, user, None)
        }
    };
    let user = user.map_err(|_| ApiError::Unauthenticated)?;
    // Role or password changes and deactivation end sessions at once: tokens from before the
    // change are refused even though their signature and expiry are fine. `auth_ms` is cut to
    // the millisecond, so a token from the change's own millisecond is refused too.
    if !user.active
        || claims.auth_ms.saturating_mul(1000) < user.sessions_valid_after.timestamp_micros()
        || claims.role != user.role.as_str()
    {
        return Err(ApiError::Unauthenticated);
    }
    let via = Via::Session { jti: claims.jti };
    Ok(Some((Caller::of(user, tenant, via, ip, user_agent), open)))
}

/// A support token's caller: its grant must still be open, for this super admin and tenant,
/// and the super admin still active with sessions from before the token not ended.
async fn support_caller(
    store: &Store,
    claims: &jwt::Claims,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<Option<Caller>, ApiError> {
    let (Some(grant), Some(tid)) = (claims.sup, claims.tid) else {
        return Err(ApiError::Unauthenticated);
    };
    let tenant = active_tenant(tenants::find_by_id(store.pool(), store::TenantId(tid)).await)?;
    let grant = store::support::open(store.pool(), grant, UserId(claims.sub), tenant.id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let mut tx = store.registry_tx().await?;
    let user = store::accounts::get(&mut tx, UserId(claims.sub)).await;
    tx.commit().await?;
    let user = user.map_err(|_| ApiError::Unauthenticated)?;
    if !user.active
        || user.role != Role::SuperAdmin
        || claims.auth_ms.saturating_mul(1000) < user.sessions_valid_after.timestamp_micros()
    {
        return Err(ApiError::Unauthenticated);
    }
    let via = Via::Support {
        grant: grant.id,
        reason: grant.reason,
        expires_at: grant.expires_at,
    };
    Ok(Some(Caller::of(user, Some(tenant), via, ip, user_agent)))
}

/// The caller a WebSocket ticket (`<workspace>.<secret>`) stands for; the ticket is spent.
pub async fn redeem_ticket(
    store: &Store,
    ticket: &str,
    ip: ClientIp,
    user_agent: Option<String>,
) -> Result<Caller, ApiError> {
    let (slug, secret) = ticket.split_once('.').ok_or(ApiError::Unauthenticated)?;
    let slug = store::Slug::parse(slug).map_err(|_| ApiError::Unauthenticated)?;
    let (tenant, mut tx) = active_tenant(store.tenant_tx_of(&slug).await)?;
    let user = store::ws_tickets::redeem(&mut tx, secret)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    tx.commit().await?;
    ticket_holder(store, tenant.id, user, ip.text(), user_agent).await
}

/// A ticket's person as a caller, while they and their workspace are still active: on
/// redeeming the ticket, and again whenever the socket it opened checks its caller.
pub async fn ticket_holder(
    store: &Store,
    tenant: store::TenantId,
    user: UserId,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<Caller, ApiError> {
    let (tenant, mut tx) = active_tenant(store.tenant_tx_of(tenant).await)?;
    let user = store::accounts::get(&mut tx, user)
        .await
        .map_err(|_| ApiError::Unauthenticated)?;
    tx.commit().await?;
    if !user.active {
        return Err(ApiError::Unauthenticated);
    }
    Ok(Caller::of(user, Some(tenant), Via::Ticket, ip, user_agent))
}

/// What was found for a credential's workspace (the workspace alone, or with a transaction in
/// it), while that workspace may sign in. A workspace that is missing or suspended makes a
/// credential that does not work; a database that cannot answer is an outage (503, try
/// again), not a reason to drop the caller's data or close their feed for good.
fn active_tenant<T: Found>(found: store::Result<T>) -> Result<T, ApiError> {
    match found {
        Ok(t) if t.tenant().status == TenantStatus::Active => Ok(t),
        Ok(_) | Err(store::Error::NotFound(_)) => Err(ApiError::Unauthenticated),
        Err(e) => Err(e.into()),
    }
}

trait Found {
    fn tenant(&self) -> &Tenant;
}

impl Found for Tenant {
    fn tenant(&self) -> &Tenant {
        self
    }
}

impl Found for (Tenant, store::TenantTx) {
    fn tenant(&self) -> &Tenant {
        &self.0
    }
}

/// The one authorisation check. API keys reach only routes that ask for their scope.
pub fn authorize(caller: Option<&Caller>, access: Access) -> Result<(), ApiError> {
    if access == Access::Public {
        return Ok(());
    }
    let caller = caller.ok_or(ApiError::Unauthenticated)?;
    let key_scopes = match &caller.via {
        Via::ApiKey { scopes, .. } => Some(scopes),
        Via::Session { .. } | Via::Ticket | Via::Support { .. } => None,
    };
    if caller.is_support() && !matches!(access, Access::Read(_)) {
        return Err(ApiError::Forbidden(
            "support access only reads the workspace's metrics and dashboards".into(),
        ));
    }
    let lacks = |p: &str| {
        Err(ApiError::Forbidden(format!(
            "your role ({}) lacks the {p} permission",
            caller.role
        )))
    };
    match access {
        Access::Public => Ok(()),
        Access::Ingest => match key_scopes {
            Some(scopes) if scopes.contains(&Scope::Ingest) => Ok(()),
            Some(_) => Err(ApiError::Forbidden(
                "this API key lacks the ingest scope".into(),
            )),
            None => Err(ApiError::Forbidden(
                "send data with an API key that has the ingest scope".into(),
            )),
        },
        Access::Read(permissions) => {
            if key_scopes.is_some_and(|s| !s.contains(&Scope::Read)) {
                return Err(ApiError::Forbidden(
                    "this API key lacks the read scope".into(),
                ));
            }
            if permissions.iter().any(|p| caller.can(*p)) {
                Ok(())
            } else {
                lacks(&access.describe())
            }
        }
        Access::Authenticated | Access::Permission(_) if key_scopes.is_some() => {
            Err(ApiError::Forbidden(
                "API keys are for ingestion and reading metrics; sign in for this".into(),
            ))
        }
        Access::Permission(p) if !caller.can(p) => lacks(p.as_str()),
        Access::Authenticated | Access::Permission(_) => Ok(()),
    }
}

/// What the Leptos app uses to learn who is looking at a page (sessions only, never API keys).
#[derive(Debug)]
pub struct PageAuthenticator {
    pub store: Store,
    pub keys: std::sync::Arc<jwt::Keys>,
    pub cookies: SessionCookies,
}

impl PageAuthenticator {
    async fn signed_in(
        &self,
        request: &http::request::Parts,
        then: Then,
    ) -> Option<(app::session::ssr::Session, Option<TenantTx>)> {
        let ip = request
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(None));
        let (caller, open) = authenticate_for(
            &self.store,
            &self.keys,
            self.cookies,
            &request.headers,
            ip,
            then,
        )
        .await
        .ok()
        .flatten()?;
        if matches!(caller.via, Via::ApiKey { .. }) {
            return None;
        }
        let session = app::session::ssr::Session {
            viewer: types::Viewer {
                user_id: caller.user_id,
                email: caller.email.clone(),
                name: caller.name.clone(),
                role: caller.role,
                tenant: caller.tenant.as_ref().map(|t| t.slug.to_string()),
                support: match &caller.via {
                    Via::Support {
                        grant,
                        reason,
                        expires_at,
                    } => Some(types::Support {
                        grant: *grant,
                        reason: reason.clone(),
                        expires_at: *expires_at,
                    }),
                    _ => None,
                },
            },
            user_id: caller.user_id,
            scope: caller.tenant.as_ref().map(|t| t.scope().clone()),
            actor: caller.actor(),
        };
        Some((session, open))
    }
}

impl app::session::ssr::Authenticator for PageAuthenticator {
    fn session<'a>(
        &'a self,
        request: &'a http::request::Parts,
    ) -> app::session::ssr::BoxFuture<'a, Option<app::session::ssr::Session>> {
        Box::pin(async move {
            let (session, _) = self.signed_in(request, Then::Done).await?;
            Some(session)
        })
    }

    fn session_for_reads<'a>(
        &'a self,
        request: &'a http::request::Parts,
    ) -> app::session::ssr::BoxFuture<'a, Option<(app::session::ssr::Session, Option<TenantTx>)>>
    {
        Box::pin(self.signed_in(request, Then::Reads))
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn a_missing_workspace_is_a_bad_credential_and_a_database_outage_is_an_outage() {
        let status = |found: store::Result<Tenant>| match active_tenant(found) {
            Ok(_) => 200,
            Err(e) => e.into_response().status().as_u16(),
        };
        assert_eq!(status(Err(store::Error::NotFound("tenant"))), 401);
        assert_eq!(status(Err(store::Error::Unavailable("down".into()))), 503);
        assert_eq!(status(Err(sqlx::Error::PoolTimedOut.into())), 503);
    }
}
