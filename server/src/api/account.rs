//! Sign-in, token refresh, sign-out and the caller's own profile.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use store::{
    accounts::{self, Email},
    audit::Actor,
    mfa,
    refresh_tokens::{self, Rotation},
    tenants, Role, Slug, TenantStatus, User,
};
use types::Theme;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{
        cookies, jwt::ACCESS_TTL_SECS, limits::Attempt, scope::scoped, Caller, ClientIp,
        Permission, SessionCookies,
    },
    error::ApiError,
    state::AppState,
};

/// Refresh tokens read `<scope>.<secret>`: the tenant slug, or `_` for super admins.
const REGISTRY_SCOPE: &str = "_";

#[derive(Deserialize)]
pub struct LoginRequest {
    /// The workspace (tenant slug); empty or absent for a super admin.
    #[serde(default)]
    tenant: Option<String>,
    email: String,
    password: String,
    /// The sign-in form's page to return to (the page that sent the person to sign in).
    #[serde(default)]
    next: Option<String>,
}

/// Where a sign-in returns to: a path of ours (`/…`, never `//host` or a URL, which would make
/// the form an open redirect), else home.
pub(super) fn return_path(next: Option<&str>) -> &str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control)
                && !p.starts_with("/login") =>
        {
            p
        }
        _ => "/",
    }
}

#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: User,
    tenant: Option<String>,
    /// Only when this sign-in set up a second factor: its recovery codes, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    Ok(match sign_in(&state, ip, &headers, body).await? {
        SignedIn::Session(response) => response,
        SignedIn::Owes { token, owed } => super::mfa::owed_answer(&token, owed),
    })
}

/// The sign-in form of `/login`, for browsers with or without JavaScript: success sets the
/// cookies and goes home; failure goes back to the form with the error and what was typed
/// (never the password).
pub async fn login_form(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    axum::Form(body): axum::Form<LoginRequest>,
) -> Response {
    let (tenant, email) = (body.tenant.clone().unwrap_or_default(), body.email.clone());
    let next = return_path(body.next.as_deref()).to_string();
    match sign_in(&state, ip, &headers, body).await {
        Ok(SignedIn::Owes { token, .. }) => super::mfa::second_step_page(&state, &token, &next),
        Ok(SignedIn::Session(ok)) => {
            let mut response = redirect(&next);
            for cookie in ok.headers().get_all(header::SET_COOKIE) {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            response
        }
        Err(e) => {
            let (field, code) = match &e {
                ApiError::Validation(errors) => (
                    errors
                        .first()
                        .map(|f| f.pointer.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    "invalid",
                ),
                ApiError::TooManyRequests(_) => (String::new(), "throttled"),
                ApiError::Forbidden(_) => ("tenant".into(), "suspended"),
                ApiError::PasswordsOff => (String::new(), "sso_only"),
                ApiError::InvalidCredentials => ("password".into(), "credentials"),
                _ => (String::new(), "unavailable"),
            };
            let query = serde_urlencoded::to_string([
                ("error", code),
                ("field", field.as_str()),
                ("tenant", tenant.as_str()),
                ("email", email.as_str()),
                ("next", next.as_str()),
            ])
            .unwrap_or_default();
            redirect(&format!("/login?{query}"))
        }
    }
}

/// Where the top bar's sign-out form posted before it moved under the refresh cookie's path,
/// which the browser never sent here. A page loaded before the move still signs out: 307
/// repeats the POST there, cookies and all.
pub async fn logout_moved() -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(
            header::LOCATION,
            HeaderValue::from_static("/api/v1/auth/logout"),
        )],
    )
        .into_response()
}

pub(super) fn redirect(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")),
        )],
    )
        .into_response()
}

/// Where a correct password leads: a session, or a second step still owed.
enum SignedIn {
    Session(Response),
    /// `token` (`<scope>.<secret>`) names the challenge the second step answers.
    Owes {
        token: String,
        owed: mfa::Owed,
    },
}

async fn sign_in(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    body: LoginRequest,
) -> Result<SignedIn, ApiError> {
    let email = Email::parse(&body.email)
        .map_err(|_| ApiError::field("/email", "is not an e-mail address"))?;
    if body.password.is_empty() || body.password.len() > 1024 {
        return Err(ApiError::field("/password", "is required"));
    }
    let slug = match body
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(
            Slug::parse(s).map_err(|_| ApiError::field("/tenant", "is not a workspace name"))?,
        ),
        None => None,
    };
    let ip = ip.text();
    let actor = Actor {
        id: None,
        name: email.to_string(),
        ip: ip.clone(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    };
    let attempt = Attempt::new(
        slug.as_ref().map(Slug::as_str).unwrap_or(REGISTRY_SCOPE),
        email.as_str(),
        ip.as_deref(),
    );
    state
        .login_limits
        .reserve(&attempt)
        .map_err(ApiError::TooManyRequests)?;

    let tenant = match &slug {
        Some(slug) => match tenants::find_by_slug(state.store.pool(), slug).await {
            Ok(t) => Some(t),
            Err(store::Error::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    if tenant
        .as_ref()
        .is_some_and(|t| t.status == TenantStatus::Suspended)
    {
        return Err(ApiError::Forbidden("this workspace is suspended".into()));
    }
    let unknown_workspace = slug.is_some() && tenant.is_none();
    // The account is looked up, and the connection returned, before the hash is checked:
    // a connection held across argon2 is one that ingestion and pages cannot have. An unknown
    // workspace makes the same round trips (against the registry, whose answer is then
    // ignored) and checks the same dummy hash, so it cannot be told from an unknown e-mail.
    let found = {
        let mut tx = state
            .store
            .scoped_tx(tenant.as_ref().map(|t| t.scope()))
            .await?;
        let found = accounts::find_for_login(tx.conn(), &email).await?;
        let refused = tenant.is_some() && store::sso::password_refused(tx.conn(), &email).await?;
        tx.commit().await?;
        if refused {
            return Err(ApiError::PasswordsOff);
        }
        found.filter(|_| !unknown_workspace)
    };
    let hash = found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| accounts::dummy_hash().to_string());
    let ok = accounts::verify_password_blocking(hash, body.password.clone()).await?;
    let user = match found {
        Some((user, Some(_))) if ok && user.active => user,
        other => {
            if !unknown_workspace {
                state.failed_logins.record(
                    tenant.as_ref().map(|t| t.scope()),
                    other.map(|(u, _)| u.id.to_string()),
                    &actor,
                );
            }
            return Err(ApiError::InvalidCredentials);
        }
    };
    state.login_limits.succeeded(&attempt);
    let scope = slug
        .as_ref()
        .map(Slug::as_str)
        .unwrap_or(REGISTRY_SCOPE)
        .to_string();
    let mut tx = state
        .store
        .scoped_tx(tenant.as_ref().map(|t| t.scope()))
        .await?;
    if let Some(owed) = mfa::owed(tx.conn(), &user, tenant.is_some()).await? {
        let secret = mfa::challenge(tx.conn(), &actor, user.id, owed).await?;
        tx.commit().await?;
        return Ok(SignedIn::Owes {
            token: format!("{scope}.{secret}"),
            owed,
        });
    }
    start_session(state, tx, tenant.as_ref(), &user, &actor, None)
        .await
        .map(SignedIn::Session)
}

/// Ends a sign-in (every factor checked) with the session cookies and tokens, in `tx`'s scope.
/// `recovery_codes`: made by this sign-in (a second factor set up on the way), shown once.
pub(super) async fn start_session(
    state: &AppState,
    mut tx: store::ScopedTx,
    tenant: Option<&store::Tenant>,
    user: &User,
    actor: &Actor,
    recovery_codes: Option<Vec<String>>,
) -> Result<Response, ApiError> {
    let issued = refresh_tokens::sign_in(tx.conn(), actor, user, &state.session_lifetimes).await?;
    let theme = accounts::theme(tx.conn(), user.id).await?;
    tx.commit().await?;
    let scope = tenant
        .map(|t| t.slug.to_string())
        .unwrap_or_else(|| REGISTRY_SCOPE.to_string());
    let mut response = tokens_with(
        state,
        user,
        tenant.map(|t| (t.id.0, t.slug.to_string())),
        format!("{scope}.{}", issued.secret),
        issued.authenticated_at,
        recovery_codes,
    );
    // The person's theme follows them to this browser (without one, the browser keeps its own).
    if theme.is_some() {
        if let Ok(v) = HeaderValue::from_str(&Theme::cookie(theme)) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

#[derive(Deserialize, Default)]
pub struct RefreshRequest {
    #[serde(default)]
    refresh_token: Option<String>,
}

fn body_refresh(body: &[u8]) -> Option<String> {
    Some(body)
        .filter(|b| !b.is_empty())
        .and_then(|b| serde_json::from_slice::<RefreshRequest>(b).ok())
        .and_then(|r| r.refresh_token)
}

/// The refresh token of the body, else of the cookie. Two cookies of that name mean someone
/// else planted one (see [`SessionCookies`]): which is ours is unknowable, so neither counts.
fn presented_refresh(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    body_refresh(body).or_else(|| {
        let mut found = cookies(headers, state.cookies.refresh());
        let first = found.next();
        found.next().is_none().then_some(first).flatten()
    })
}

pub async fn refresh(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let token = presented_refresh(&state, &headers, &body).ok_or(ApiError::Unauthenticated)?;
    let (scope, secret) = token.split_once('.').ok_or(ApiError::Unauthenticated)?;
    let tenant = if scope == REGISTRY_SCOPE {
        None
    } else {
        let slug = Slug::parse(scope).map_err(|_| ApiError::Unauthenticated)?;
        let t = tenants::find_by_slug(state.store.pool(), &slug)
            .await
            .map_err(|_| ApiError::Unauthenticated)?;
        if t.status != TenantStatus::Active {
            return Err(ApiError::Unauthenticated);
        }
        Some(t)
    };
    let ip = ip.text();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut tx = state
        .store
        .scoped_tx(tenant.as_ref().map(|t| t.scope()))
        .await?;
    match refresh_tokens::rotate(
        tx.conn(),
        secret,
        &state.session_lifetimes,
        ip.as_deref(),
        ua.as_deref(),
    )
    .await?
    {
        Rotation::Rotated { user_id, issued } => {
            let user = accounts::get(tx.conn(), user_id).await?;
            tx.commit().await?;
            Ok(tokens(
                &state,
                &user,
                tenant.map(|t| (t.id.0, t.slug.to_string())),
                format!("{scope}.{}", issued.secret),
                issued.authenticated_at,
            ))
        }
        Rotation::Reused { .. } => {
            // Keeps the family's revocation and its audit entry.
            tx.commit().await?;
            Err(ApiError::Unauthenticated)
        }
        Rotation::Invalid => Err(ApiError::Unauthenticated),
    }
}

/// Ends the session the refresh token (body or cookie) belongs to, and clears the cookies.
/// Succeeds even without a valid token: signing out must always work. Every refresh cookie
/// presented is revoked, so one planted beside ours cannot keep ours alive. The top bar's
/// form posts here too (the refresh cookie's path): a form post goes on to the sign-in page.
pub async fn logout(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let presented: Vec<String> = body_refresh(&body)
        .into_iter()
        .chain(cookies(&headers, state.cookies.refresh()))
        .collect();
    for (scope, secret) in presented.iter().filter_map(|t| t.split_once('.')) {
        let tenant = match scope {
            REGISTRY_SCOPE => None,
            s => match Slug::parse(s) {
                Ok(slug) => tenants::find_by_slug(state.store.pool(), &slug).await.ok(),
                Err(_) => None,
            },
        };
        if scope == REGISTRY_SCOPE || tenant.is_some() {
            let mut tx = state
                .store
                .scoped_tx(tenant.as_ref().map(|t| t.scope()))
                .await?;
            let caller = caller.as_ref().map(|c| c.actor());
            refresh_tokens::sign_out(tx.conn(), caller.as_ref(), secret).await?;
            tx.commit().await?;
        }
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(signed_out(&state));
    }
    let mut response = redirect("/login");
    clear_cookies(&state, response.headers_mut());
    Ok(response)
}

pub async fn logout_all(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Response, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    accounts::log_out_everywhere(tx.conn(), &me.actor(), me.user_id).await?;
    tx.commit().await?;
    Ok(signed_out(&state))
}

#[derive(Serialize)]
pub struct Profile {
    #[serde(flatten)]
    user: User,
    tenant: Option<String>,
    permissions: Vec<Permission>,
}

pub async fn profile(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Profile>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::get(tx.conn(), me.user_id).await?;
    tx.commit().await?;
    Ok(Json(profile_of(user, &me)))
}

fn profile_of(user: User, me: &Caller) -> Profile {
    Profile {
        permissions: me.role.permissions(),
        tenant: me.tenant.as_ref().map(|t| t.slug.to_string()),
        user,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    name: String,
}

pub async fn update_profile(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<ProfileUpdate>,
) -> Result<Json<Profile>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::set_name(tx.conn(), me.user_id, &body.name).await?;
    tx.commit().await?;
    Ok(Json(profile_of(user, &me)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeChoice {
    /// `light`, `dark`, or null to follow the system.
    theme: Option<String>,
}

/// `PUT /api/v1/profile/theme`: remembers the caller's theme and sets this browser's cookie.
pub async fn set_theme(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<ThemeChoice>,
) -> Result<Response, ApiError> {
    let theme =
        Theme::choice(body.theme.as_deref()).map_err(|e| ApiError::field("/theme", e.reason))?;
    let mut tx = scoped(&state.store, &me).await?;
    accounts::set_theme(tx.conn(), me.user_id, theme).await?;
    tx.commit().await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, Theme::cookie(theme))],
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changing the password ends every session, this one included: sign in again.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    accounts::change_password(
        tx.conn(),
        &me.actor(),
        me.user_id,
        body.current_password,
        body.new_password,
    )
    .await
    .map_err(|e| match e {
        accounts::PasswordChangeError::CurrentWrong => {
            ApiError::field("/current_password", "is wrong")
        }
        accounts::PasswordChangeError::Policy(reason) => ApiError::field("/new_password", reason),
        accounts::PasswordChangeError::Store(e) => e.into(),
    })?;
    tx.commit().await?;
    Ok(signed_out(&state))
}

/// A password the policy refused, as the request's `/password` field.
pub fn password_refused(e: store::Error) -> ApiError {
    match e {
        store::Error::Invalid {
            field: "password",
            reason,
        } => ApiError::field("/password", reason),
        e => e.into(),
    }
}

pub(super) fn tokens(
    state: &AppState,
    user: &User,
    tenant: Option<(uuid::Uuid, String)>,
    refresh_token: String,
    authenticated_at: chrono::DateTime<chrono::Utc>,
) -> Response {
    tokens_with(state, user, tenant, refresh_token, authenticated_at, None)
}

fn tokens_with(
    state: &AppState,
    user: &User,
    tenant: Option<(uuid::Uuid, String)>,
    refresh_token: String,
    authenticated_at: chrono::DateTime<chrono::Utc>,
    recovery_codes: Option<Vec<String>>,
) -> Response {
    let (access_token, _) = state.keys.issue(
        user.id.0,
        tenant.as_ref().map(|t| t.0),
        user.role.as_str(),
        authenticated_at,
    );
    let body = TokenResponse {
        access_token: access_token.clone(),
        refresh_token: refresh_token.clone(),
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        user: user.clone(),
        tenant: tenant.map(|t| t.1),
        recovery_codes,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    let cookies = state.cookies;
    headers.append(
        header::SET_COOKIE,
        cookies.set(cookies.access(), &access_token, "/", ACCESS_TTL_SECS),
    );
    headers.append(
        header::SET_COOKIE,
        cookies.set(
            cookies.refresh(),
            &refresh_token,
            SessionCookies::REFRESH_PATH,
            state.session_lifetimes.absolute.num_seconds(),
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 204 with both session cookies cleared: the end of every sign-out path.
fn signed_out(state: &AppState) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_cookies(state, response.headers_mut());
    response
}

fn clear_cookies(state: &AppState, headers: &mut HeaderMap) {
    let cookies = state.cookies;
    headers.append(
        header::SET_COOKIE,
        cookies.set(cookies.access(), "", "/", 0),
    );
    headers.append(
        header::SET_COOKIE,
        cookies.set(cookies.refresh(), "", SessionCookies::REFRESH_PATH, 0),
    );
}

/// Roles a tenant admin may hand out (never super_admin).
pub fn parse_tenant_role(s: &str) -> Result<Role, ApiError> {
    Role::parse_tenant(s).map_err(|e| ApiError::field("/role", e.reason))
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn sign_in_returns_only_to_our_own_pages() {
        assert_eq!(return_path(Some("/?range=7d")), "/?range=7d");
        assert_eq!(return_path(Some("/sessions/abc")), "/sessions/abc");
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "/login?next=/",
            "javascript:alert(1)",
            "/a\nb",
            "",
        ] {
            assert_eq!(return_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(return_path(None), "/");
    }
}
