//! Invitation and password-reset links: what a link is for (without using it), and redeeming
//! it with a new password, as JSON or as the `/welcome` page's plain form.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::Response,
    Extension, Json,
};
use serde::Deserialize;
use store::{audit::Actor, invitations::LinkInfo};

use super::{
    account::{profile::password_refused, redirect},
    extract::JsonBody,
};
use crate::{auth::ClientIp, error::ApiError, state::AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    token: String,
    /// Only when redeeming.
    #[serde(default)]
    password: Option<String>,
}

/// What a link is for (so the page can say "set a password for …") without using it.
pub async fn inspect_link(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LinkRequest>,
) -> Result<Json<LinkInfo>, ApiError> {
    let (tenant, pending) = store::invitations::inspect(state.store.pool(), &body.token)
        .await?
        .ok_or(ApiError::NotFound("link"))?;
    Ok(Json(LinkInfo {
        kind: pending.kind,
        tenant: tenant.slug.to_string(),
        email: pending.user.email,
        expires_at: pending.expires_at,
    }))
}

/// Sets the password through a link. The link is used up; the person then signs in.
pub async fn redeem_link(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LinkRequest>,
) -> Result<Json<LinkInfo>, ApiError> {
    let password = body
        .password
        .ok_or_else(|| ApiError::field("/password", "is required"))?;
    let (tenant, secret) = store::invitations::tenant_of(state.store.pool(), &body.token)
        .await
        .ok_or(ApiError::NotFound("link"))?;
    let from = Actor {
        ip: ip.text(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        ..Actor::default()
    };
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    let used = store::invitations::redeem(&mut tx, &from, secret, password)
        .await
        .map_err(|e| match e {
            store::Error::NotFound(_) => ApiError::NotFound("link"),
            e => password_refused(e),
        })?;
    tx.commit().await?;
    Ok(Json(LinkInfo {
        kind: used.kind,
        tenant: tenant.slug.to_string(),
        email: used.user.email,
        expires_at: used.expires_at,
    }))
}

/// The form of `/welcome`, which works without JavaScript: success goes to the sign-in page
/// with the workspace and e-mail filled in; failure comes back with the error by the field.
pub async fn redeem_link_form(
    state: State<AppState>,
    ip: Extension<ClientIp>,
    headers: HeaderMap,
    axum::Form(body): axum::Form<LinkRequest>,
) -> Response {
    let token = body.token.clone();
    match redeem_link(state, ip, headers, JsonBody(body)).await {
        Ok(Json(info)) => {
            let query = serde_urlencoded::to_string([
                ("notice", "password_set"),
                ("tenant", info.tenant.as_str()),
                ("email", info.email.as_str()),
            ])
            .unwrap_or_default();
            redirect(&format!("/login?{query}"))
        }
        Err(e) => {
            let (code, detail) = match &e {
                ApiError::Validation(errors) => (
                    "invalid",
                    errors.first().map(|f| f.detail.clone()).unwrap_or_default(),
                ),
                ApiError::NotFound(_) => ("expired", String::new()),
                _ => ("unavailable", String::new()),
            };
            let query = serde_urlencoded::to_string([
                ("token", token.as_str()),
                ("error", code),
                ("detail", detail.as_str()),
            ])
            .unwrap_or_default();
            redirect(&format!("/welcome?{query}"))
        }
    }
}
