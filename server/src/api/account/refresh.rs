//! Keeping a sign-in alive and ending it: refresh-token rotation, sign-out (this browser, or
//! everywhere), and the cookies every sign-out clears.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use serde::Deserialize;
use store::{
    accounts,
    refresh_tokens::{self, Rotation},
    tenants, Slug, TenantStatus,
};

use super::{redirect, tokens, REGISTRY_SCOPE};
use crate::{
    api::extract::Me,
    auth::{cookies, scope::scoped, Caller, ClientIp, SessionCookies},
    error::ApiError,
    state::AppState,
};

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

#[derive(Deserialize, Default, utoipa::ToSchema)]
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
    let lifetimes = super::session_lifetimes(&state, tx.conn(), tenant.is_some()).await?;
    match refresh_tokens::rotate(tx.conn(), secret, &lifetimes, ip.as_deref(), ua.as_deref())
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
                &issued,
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
    let caller_actor = caller.as_ref().map(|c| c.actor());
    for token in &presented {
        end_session(&state, caller_actor.as_ref(), token).await?;
    }
    // Signing out signs this browser out of every workspace it is signed in to; each waiting
    // session records its own end (the caller is someone else's account there).
    for token in crate::auth::workspaces::waiting(&state, &headers) {
        end_session(&state, None, &token).await?;
    }
    // Signing out in a support access ends the access too.
    if let Some(Extension(caller)) = &caller {
        if let Err(e) = crate::api::support::end_for(&state, caller).await {
            // Signing out goes on: the cookie goes below and the grant runs out by itself.
            tracing::warn!(error = %e, "ending a support access at sign-out failed");
        }
    }
    let is_form = crate::api::extract::is_form(&headers);
    if !is_form {
        return Ok(signed_out(&state));
    }
    let mut response = redirect("/login");
    clear_cookies(&state, response.headers_mut());
    Ok(response)
}

/// Ends the session of a refresh token a browser let go of, unless the token was rotated:
/// then its session goes on in its successor (a switch rotates the waiting token it uses), and
/// only a token that would still refresh is worth ending.
pub(crate) async fn end_let_go(state: &AppState, token: &str) -> Result<(), ApiError> {
    let Some((scope, secret)) = token.split_once('.') else {
        return Ok(());
    };
    let tenant = match scope {
        REGISTRY_SCOPE => None,
        s => match Slug::parse(s) {
            Ok(slug) => match tenants::find_by_slug(state.store.pool(), &slug).await {
                Ok(t) => Some(t),
                Err(_) => return Ok(()),
            },
            Err(_) => return Ok(()),
        },
    };
    let mut tx = state
        .store
        .scoped_tx(tenant.as_ref().map(|t| t.scope()))
        .await?;
    if store::waiting::holder(tx.conn(), secret).await?.is_some() {
        refresh_tokens::sign_out(tx.conn(), None, secret).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ends the session a refresh token (`scope.secret`) belongs to, if its workspace exists.
pub(crate) async fn end_session(
    state: &AppState,
    caller: Option<&store::audit::Actor>,
    token: &str,
) -> Result<(), ApiError> {
    let Some((scope, secret)) = token.split_once('.') else {
        return Ok(());
    };
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
        refresh_tokens::sign_out(tx.conn(), caller, secret).await?;
        tx.commit().await?;
    }
    Ok(())
}

pub async fn logout_all(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    accounts::log_out_everywhere(tx.conn(), &me.actor(), me.user_id).await?;
    tx.commit().await?;
    // The browser forgets its waiting sessions with the rest, so they end too (one that
    // cannot be ended now runs out by itself; signing out goes on).
    for token in crate::auth::workspaces::waiting(&state, &headers) {
        if let Err(e) = end_session(&state, None, &token).await {
            tracing::warn!(error = %e, "ending a waiting session at sign-out failed");
        }
    }
    Ok(signed_out(&state))
}
/// 204 with both session cookies cleared: the end of every sign-out path.
pub(super) fn signed_out(state: &AppState) -> Response {
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
    headers.append(header::SET_COOKIE, crate::api::support::dropped(state));
    headers.append(
        header::SET_COOKIE,
        crate::auth::workspaces::cookie(state, &[]),
    );
}
