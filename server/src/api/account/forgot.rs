//! "Forgot your password?": a person asks for a password link for their address in a
//! workspace. The answer is the same, and comes as fast, whether or not the address has an
//! account there: the lookup and the e-mail happen after the answer, in a task of their own.
//! Requests are limited per client address (shared across instances with Redis) and to one
//! e-mailed link per account every five minutes (`store::invitations::requested`).

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::Response,
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use store::{accounts::Email, audit::Actor, tenants, Slug, TenantStatus};

use super::redirect;
use crate::{api::extract::JsonBody, auth::ClientIp, error::ApiError, state::AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    tenant: String,
    email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    detail: &'static str,
}

pub const ANSWER: &str = "If that address has an account in that workspace, a link to set a new \
                          password is on its way to it. The link works once, for 72 hours.";

pub async fn forgot(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ForgotRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    ask(&state, ip, &headers, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { detail: ANSWER })))
}

/// The `/forgot` page's plain form: back to the page, saying it was sent or what was wrong.
pub async fn forgot_form(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    axum::Form(body): axum::Form<ForgotRequest>,
) -> Response {
    let outcome = ask(&state, ip, &headers, &body).await;
    let code = match &outcome {
        Ok(()) => "sent",
        Err(ApiError::Validation(errors)) => match errors.first().map(|f| f.pointer.as_str()) {
            Some("/tenant") => "tenant",
            _ => "email",
        },
        Err(ApiError::TooManyRequests(_)) => "throttled",
        Err(_) => "unavailable",
    };
    let query = serde_urlencoded::to_string([
        ("status", code),
        ("tenant", body.tenant.as_str()),
        ("email", body.email.as_str()),
    ])
    .unwrap_or_default();
    redirect(&format!("/forgot?{query}"))
}

async fn ask(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    body: &ForgotRequest,
) -> Result<(), ApiError> {
    let slug = Slug::parse(body.tenant.trim())
        .map_err(|_| ApiError::field("/tenant", "is not a workspace name"))?;
    let email = Email::parse(&body.email)
        .map_err(|_| ApiError::field("/email", "is not an e-mail address"))?;
    let from = Actor {
        id: None,
        name: email.to_string(),
        ip: ip.text(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    };
    state
        .password_requests
        .take(from.ip.as_deref().unwrap_or("unknown"), 1.0)
        .await
        .map_err(|wait| {
            metrics::counter!("devpulse_login_throttled_total", "what" => "password_reset")
                .increment(1);
            ApiError::TooManyRequests(wait)
        })?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&state, &from, &slug, &email).await {
            tracing::warn!(error = %e, "a requested password link could not be issued");
        }
    });
    Ok(())
}

async fn send(state: &AppState, from: &Actor, slug: &Slug, email: &Email) -> store::Result<()> {
    let tenant = match tenants::find_by_slug(state.store.pool(), slug).await {
        Ok(t) if t.status == TenantStatus::Active => t,
        Ok(_) | Err(store::Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut tx = state.store.tenant_tx(tenant.scope()).await?;
    store::invitations::requested(&mut tx, from, slug, email, &state.post()).await?;
    tx.commit().await
}
