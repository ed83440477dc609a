//! The workspace switcher: the workspaces this browser is signed in to, and moving its
//! session to one of them. A workspace it is still signed in to (its session waited in
//! `auth::workspaces`' cookie) opens at once; another goes through that workspace's own
//! sign-in, since every workspace checks its own password, second factor or single sign-on,
//! and the session left waits from the moment the person leaves. Nothing is listed by
//! e-mail address: an address is not proof of a person (an admin can make an account for
//! any), so a workspace shows only once this browser has signed in there.

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
    Slug, TenantStatus,
};
use types::Membership;

use super::{redirect, session_lifetimes, tokens};
use crate::{
    api::extract::Me,
    auth::{self, workspaces, Caller, SessionCookies},
    error::ApiError,
    state::AppState,
};

/// The caller's workspace and those this browser has a waiting session in as the same
/// person, by slug.
pub async fn signed_in(
    state: &AppState,
    me: &Caller,
    headers: &HeaderMap,
) -> Result<Vec<Membership>, ApiError> {
    let current = me.tenant.as_ref().map(|t| Membership {
        slug: t.slug.to_string(),
        name: t.name.clone(),
        role: me.role,
        current: true,
    });
    let waiting = workspaces::waiting(state, headers);
    Ok(store::waiting::memberships(&state.store, &me.email, &waiting, current).await?)
}

/// `GET /api/v1/auth/workspaces`.
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
) -> Result<Json<Vec<Membership>>, ApiError> {
    Ok(Json(signed_in(&state, &me, &headers).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTo {
    tenant: String,
}

/// `POST /api/v1/auth/switch` (`{"tenant": "acme"}`, or the switcher's form): this browser's
/// session moves to that workspace when it is still signed in there as the same person; the
/// session it leaves waits to be switched back to. Otherwise the answer is that workspace's
/// sign-in (a form goes there, with the address filled in; JSON gets 401).
pub async fn switch(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let is_form = crate::api::extract::is_form(&headers);
    let to: SwitchTo = if is_form {
        serde_urlencoded::from_bytes(&body)
            .map_err(|_| ApiError::field("/tenant", "name the workspace to switch to"))?
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| ApiError::field("/tenant", "name the workspace to switch to"))?
    };
    let typed = to.tenant.trim().to_lowercase();
    let tenant = match Slug::parse(&typed) {
        Ok(slug) => store::tenants::find_by_slug(state.store.pool(), &slug)
            .await
            .ok()
            .filter(|t| t.status == TenantStatus::Active),
        Err(_) => None,
    };
    // A form (the switcher's "sign in there") goes on to the sign-in page either way, which
    // answers an unknown workspace as it answers a wrong password: whether one exists is not
    // told here.
    if tenant.is_none() && !is_form {
        return Err(ApiError::field("/tenant", "no such workspace"));
    }
    if let Some(tenant) = &tenant {
        if let Some(answer) = switch_to(&state, &me, &headers, tenant, is_form).await? {
            return Ok(answer);
        }
    }
    if !is_form {
        return Err(ApiError::Unauthenticated);
    }
    let query = serde_urlencoded::to_string([
        ("tenant", typed.as_str()),
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
        if store::waiting::scope_of(&current) != super::REGISTRY_SCOPE {
            let all_waiting = workspaces::waiting(&state, &headers);
            let (list, dropped) =
                workspaces::after_switch(all_waiting, Some(current), &format!("{typed}."));
            for token in dropped {
                if let Err(e) = super::refresh::end_let_go(&state, &token).await {
                    tracing::warn!(error = %e, "ending a session the browser let go of failed");
                }
            }
            let cookies = state.cookies;
            let set = response.headers_mut();
            set.append(header::SET_COOKIE, workspaces::cookie(&state, &list));
            set.append(
                header::SET_COOKIE,
                cookies.set(cookies.refresh(), "", SessionCookies::REFRESH_PATH, 0),
            );
        }
    }
    Ok(response)
}

/// The switch itself, when this browser holds a live session of the same person in `tenant`:
/// its answer (`None`: there is none, and the person must sign in there).
async fn switch_to(
    state: &AppState,
    me: &Caller,
    headers: &HeaderMap,
    tenant: &store::Tenant,
    is_form: bool,
) -> Result<Option<Response>, ApiError> {
    let slug = &tenant.slug;
    if me.tenant.as_ref().is_some_and(|t| t.id == tenant.id) {
        return Ok(Some(if is_form {
            redirect("/").into_response()
        } else {
            Json(serde_json::json!({ "tenant": slug.as_str() })).into_response()
        }));
    }
    let all_waiting = workspaces::waiting(state, headers);
    let waiting = all_waiting
        .iter()
        .find(|t| store::waiting::scope_of(t) == slug.as_str())
        .cloned();
    if let Some(token) = waiting {
        let secret = token.split_once('.').map_or("", |(_, s)| s);
        let mut tx = state.store.tenant_tx(tenant.scope()).await?;
        // Only a token that would still sign the same person in is used. A stale copy (a
        // refresh raced the switch that parked it) is left alone: refreshing it would look
        // like a stolen token and end the session.
        let same = store::waiting::holder(&mut tx, secret)
            .await?
            .is_some_and(|u| u.active && u.email.eq_ignore_ascii_case(&me.email));
        if same {
            let lifetimes = session_lifetimes(state, &mut tx, true).await?;
            let ua = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            let rotated =
                refresh_tokens::rotate(&mut tx, secret, &lifetimes, me.ip.as_deref(), ua).await?;
            if let Rotation::Rotated { user_id, issued } = rotated {
                let user = accounts::get(&mut tx, user_id).await?;
                tx.commit().await?;
                let made = tokens(
                    state,
                    &user,
                    Some((tenant.id.0, slug.to_string())),
                    format!("{slug}.{}", issued.secret),
                    &issued,
                );
                if !is_form {
                    return Ok(Some(made));
                }
                return Ok(Some(super::redirect_with_cookies("/", &made)));
            }
        }
    }
    Ok(None)
}
