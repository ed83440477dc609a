//! Support access: a super admin opens one workspace read-only, for a stated reason and at
//! most an hour (`store::support`). The access is a token of its own (and in a browser a
//! cookie beside the super admin's session), refused for anything but reading.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use store::{audit::Actor, Slug, UserId};
use types::system::SupportGrant;

use super::extract::{JsonBody, Me};
use crate::{
    auth::{Caller, Via},
    error::ApiError,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Begin {
    reason: String,
    /// 5 to 60; an hour when absent.
    minutes: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Started {
    grant: SupportGrant,
    /// A bearer token that reads the workspace until the grant ends.
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
}

/// An opened access: the grant, its token, and the cookie that carries it in a browser.
pub struct Opened {
    pub grant: SupportGrant,
    pub token: String,
    pub cookie: HeaderValue,
}

/// Opens `slug` to the super admin `user` (the one door the page and the API share).
pub async fn open(
    state: &AppState,
    actor: &Actor,
    user: UserId,
    slug: &str,
    reason: &str,
    minutes: i64,
) -> Result<Opened, ApiError> {
    let slug = Slug::parse(slug).map_err(|_| ApiError::NotFound("tenant"))?;
    let pool = state.store.pool();
    let grant = store::support::begin(pool, actor, user, &slug, reason, minutes).await?;
    let tenant = store::tenants::find_by_slug(pool, &slug).await?;
    let (token, _) = state
        .keys
        .issue_support(user.0, tenant.id.0, grant.id, grant.expires_at);
    let seconds = (grant.expires_at - chrono::Utc::now()).num_seconds().max(1);
    let cookies = state.cookies;
    let cookie = cookies.set(cookies.support(), &token, "/", seconds);
    Ok(Opened {
        grant,
        token,
        cookie,
    })
}

/// `POST /api/v1/admin/tenants/{slug}/support`: 201 with the grant and its token (and the
/// cookie, for a browser).
pub async fn begin(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<Begin>,
) -> Result<Response, ApiError> {
    let minutes = body.minutes.unwrap_or(store::support::SUPPORT_MAX_MINUTES);
    let opened = open(
        &state,
        &me.actor(),
        me.user_id,
        &slug,
        &body.reason,
        minutes,
    )
    .await?;
    let expires_in = (opened.grant.expires_at - chrono::Utc::now()).num_seconds();
    let body = Started {
        grant: opened.grant,
        access_token: opened.token,
        token_type: "Bearer",
        expires_in,
    };
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, opened.cookie)],
        Json(body),
    )
        .into_response())
}

/// `GET /api/v1/admin/support`: the newest grants, open ones first.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<SupportGrant>>, ApiError> {
    Ok(Json(store::support::list(state.store.pool(), 50).await?))
}

/// `POST /api/v1/auth/support/end`: ends the support access the request presents (its
/// token or cookie) and drops the cookie; without one, only drops the cookie. The banner's
/// form post goes on to the workspaces page.
pub async fn end(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(Extension(caller)) = caller {
        end_for(&state, &caller).await?;
    }
    let is_form = super::extract::is_form(&headers);
    let mut response = if is_form {
        super::account::redirect("/system/tenants")
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, dropped(&state));
    Ok(response)
}

/// Ends the caller's support access, when that is what they are.
pub async fn end_for(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if let Via::Support { grant, .. } = &caller.via {
        store::support::end(state.store.pool(), &caller.actor(), *grant, caller.user_id).await?;
    }
    Ok(())
}

/// The support cookie, cleared.
pub fn dropped(state: &AppState) -> HeaderValue {
    let cookies = state.cookies;
    cookies.set(cookies.support(), "", "/", 0)
}

/// The console's server functions' way in: the same code as the routes above.
pub struct Console(pub AppState);

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("support::Console")
    }
}

impl app::ssr::System for Console {
    fn health(
        &self,
    ) -> app::session::ssr::BoxFuture<'_, Result<types::system::Health, app::AppError>> {
        Box::pin(async move { self.0.system.health().await.map_err(ApiError::for_page) })
    }

    fn jobs(&self) -> app::session::ssr::BoxFuture<'_, Result<types::jobs::Jobs, app::AppError>> {
        Box::pin(async move {
            self.0
                .system
                .jobs(None, 50)
                .await
                .map_err(ApiError::for_page)
        })
    }

    fn open_support<'a>(
        &'a self,
        actor: &'a Actor,
        user: UserId,
        workspace: &'a str,
        reason: &'a str,
        minutes: i64,
    ) -> app::session::ssr::BoxFuture<'a, Result<(SupportGrant, String), app::AppError>> {
        Box::pin(async move {
            let opened = open(&self.0, actor, user, workspace, reason, minutes)
                .await
                .map_err(ApiError::for_page)?;
            let cookie = opened.cookie.to_str().unwrap_or_default().to_string();
            Ok((opened.grant, cookie))
        })
    }
}
