//! Signing in with a password: the JSON route and the `/login` form, both ending, when every
//! factor is checked, in the same session cookies and tokens (single sign-on and the second
//! step end there too). Keeping a session alive and ending it is [`refresh`]; the caller's own
//! profile is [`profile`].

pub mod forgot;
pub mod profile;
pub mod refresh;
pub mod workspaces;

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
    mfa, refresh_tokens, tenants, Slug, TenantStatus, User,
};
use types::Theme;

use super::extract::JsonBody;
use crate::{
    auth::{jwt::ACCESS_TTL_SECS, limits::Attempt, ClientIp, SessionCookies},
    error::ApiError,
    state::AppState,
};

/// Refresh tokens read `<scope>.<secret>`: the tenant slug, or `_` for super admins.
pub(crate) const REGISTRY_SCOPE: &str = "_";

#[derive(Deserialize, utoipa::ToSchema)]
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

#[derive(Serialize, utoipa::ToSchema)]
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

/// What a sign-in (or refresh, or second step) answers: tokens, or the second step owed.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only described: the handlers write each half themselves
pub enum SignIn {
    Tokens(TokenResponse),
    SecondStep(super::mfa::SecondStepOwed),
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
        Ok(SignedIn::Session(ok)) => redirect_with_cookies(&next, &ok),
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

/// A redirect to `to` carrying the cookies `answer` sets: a form's sign-in ends on a page,
/// with the session the JSON answer would have given.
pub(crate) fn redirect_with_cookies(to: &str, answer: &Response) -> Response {
    let mut response = redirect(to);
    for cookie in answer.headers().get_all(header::SET_COOKIE) {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    response
}

pub(crate) fn redirect(to: &str) -> Response {
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
    state.login_limits.reserve(&attempt).map_err(|wait| {
        metrics::counter!("devpulse_login_throttled_total", "what" => "sign_in").increment(1);
        ApiError::TooManyRequests(wait)
    })?;

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
    let lifetimes = session_lifetimes(state, tx.conn(), tenant.is_some()).await?;
    let issued = refresh_tokens::sign_in(tx.conn(), actor, user, &lifetimes).await?;
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
        &issued,
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
/// How long sessions signed in here last: a workspace's own policy, the defaults for the
/// installation's super admins.
pub(crate) async fn session_lifetimes(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    in_workspace: bool,
) -> Result<refresh_tokens::Lifetimes, ApiError> {
    Ok(if in_workspace {
        state
            .session_lifetimes
            .under(&store::settings::people(conn).await?)
    } else {
        state.session_lifetimes.clone()
    })
}

/// The answer to a sign-in or refresh: tokens in the body and in cookies. `refresh_token` is
/// `issued`'s secret with its scope in front.
pub(super) fn tokens(
    state: &AppState,
    user: &User,
    tenant: Option<(uuid::Uuid, String)>,
    refresh_token: String,
    issued: &refresh_tokens::Issued,
) -> Response {
    tokens_with(state, user, tenant, refresh_token, issued, None)
}

fn tokens_with(
    state: &AppState,
    user: &User,
    tenant: Option<(uuid::Uuid, String)>,
    refresh_token: String,
    issued: &refresh_tokens::Issued,
    recovery_codes: Option<Vec<String>>,
) -> Response {
    let (access_token, _) = state.keys.issue(
        user.id.0,
        tenant.as_ref().map(|t| t.0),
        user.role.as_str(),
        issued.authenticated_at,
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
            // As long as the token itself: the workspace's policy decides, and every refresh
            // sets it again.
            (issued.expires_at - chrono::Utc::now())
                .num_seconds()
                .max(0),
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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
