//! The workspace switcher: the workspaces where the signed-in person's e-mail has an account,
//! and moving this browser's session to one of them. A workspace this browser is still signed
//! in to opens at once (its session waited in `auth::workspaces`' cookie); another goes
//! through that workspace's own sign-in, since every workspace checks its own password, second
//! factor or single sign-on, and the session left waits from the moment the person leaves.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Deserialize;
use store::{
    accounts,
    refresh_tokens::{self, Rotation},
    Email, Slug, TenantStatus,
};
use types::Membership;

use super::{redirect, session_lifetimes, tokens};
use crate::{
    api::extract::Me,
    auth::{self, workspaces, SessionCookies},
    error::ApiError,
    state::AppState,
};

/// `GET /api/v1/auth/workspaces`.
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<Membership>>, ApiError> {
    let email = Email::parse(&me.email).map_err(|_| ApiError::NotFound("user"))?;
    let current = me.tenant.as_ref().map(|t| t.slug.as_str());
    Ok(Json(
        store::tenants::memberships(&state.store, &email, current).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchTo {
    tenant: String,
}

/// `POST /api/v1/auth/switch` (`{"tenant": "acme"}`, or the switcher's form): this browser's
/// session moves to that workspace when it is still signed in there as the same person; the
/// session it leaves waits to be switched back to. Otherwise the answer is that workspace's
/// sign-in (a form goes there, with the address filled in; JSON gets 401 naming it).
pub async fn switch(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let to: SwitchTo = if is_form {
        serde_urlencoded::from_bytes(&body)
            .map_err(|_| ApiError::field("/tenant", "name the workspace to switch to"))?
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| ApiError::field("/tenant", "name the workspace to switch to"))?
    };
    let slug = Slug::parse(to.tenant.trim())
        .map_err(|_| ApiError::field("/tenant", "is not a workspace address"))?;
    let tenant = store::tenants::find_by_slug(state.store.pool(), &slug)
        .await
        .ok()
        .filter(|t| t.status == TenantStatus::Active)
        .ok_or_else(|| ApiError::field("/tenant", "no such workspace"))?;
    if me.tenant.as_ref().is_some_and(|t| t.id == tenant.id) {
        return Ok(if is_form {
            redirect("/").into_response()
        } else {
            Json(serde_json::json!({ "tenant": slug.as_str() })).into_response()
        });
    }
    let all_waiting = workspaces::waiting(state.cookies, &headers);
    let waiting = all_waiting
        .iter()
        .find(|t| workspaces::scope_of(t) == slug.as_str())
        .cloned();
    if let Some(token) = waiting {
        let secret = token.split_once('.').map_or("", |(_, s)| s);
        let mut tx = state.store.tenant_tx(tenant.scope()).await?;
        let lifetimes = session_lifetimes(&state, &mut tx, true).await?;
        let ua = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let rotated =
            refresh_tokens::rotate(&mut tx, secret, &lifetimes, me.ip.as_deref(), ua).await?;
        match rotated {
            Rotation::Rotated { user_id, issued } => {
                let user = accounts::get(&mut tx, user_id).await?;
                // The same person only: a session planted in the list by someone else (a
                // sibling site can set cookies) must not become this one.
                if user.active && user.email.eq_ignore_ascii_case(&me.email) {
                    tx.commit().await?;
                    let made = tokens(
                        &state,
                        &user,
                        Some((tenant.id.0, slug.to_string())),
                        format!("{slug}.{}", issued.secret),
                        &issued,
                    );
                    if !is_form {
                        return Ok(made);
                    }
                    let mut response = redirect("/");
                    for cookie in made.headers().get_all(header::SET_COOKIE) {
                        response
                            .headers_mut()
                            .append(header::SET_COOKIE, cookie.clone());
                    }
                    return Ok(response);
                }
            }
            // A reuse revoked that session; keep the record of it.
            Rotation::Reused { .. } => tx.commit().await?,
            Rotation::Invalid => {}
        }
    }
    if !is_form {
        return Err(ApiError::Unauthenticated);
    }
    let query = serde_urlencoded::to_string([
        ("tenant", slug.as_str()),
        ("email", me.email.as_str()),
        ("next", "/"),
    ])
    .unwrap_or_default();
    let mut response = redirect(&format!("/login?{query}"));
    // The session left waits from now: whichever way the other workspace signs the person in
    // (a password, a second factor, single sign-on), this one is kept. It leaves the refresh
    // cookie as it joins the list (one place at a time); the page's access lasts its minutes.
    let mut current = auth::cookies(&headers, state.cookies.refresh());
    if let (Some(current), None) = (current.next(), current.next()) {
        let list = workspaces::after_switch(all_waiting, Some(current), &format!("{slug}."));
        let cookies = state.cookies;
        let set = response.headers_mut();
        set.append(header::SET_COOKIE, workspaces::cookie(cookies, &list));
        set.append(
            header::SET_COOKIE,
            cookies.set(cookies.refresh(), "", SessionCookies::REFRESH_PATH, 0),
        );
    }
    Ok(response)
}
