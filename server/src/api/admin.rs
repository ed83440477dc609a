//! Super admins: the tenants of the installation, and its background jobs.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};

use super::extract::ApiQuery;
use serde::{Deserialize, Serialize};
use store::{tenants, Slug, Tenant, TenantStatus};

use super::extract::{JsonBody, Me};
use crate::{error::ApiError, state::AppState, tenancy};

/// Every workspace with its people, last day's events, storage and last activity.
pub async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<types::system::TenantSummary>>, ApiError> {
    Ok(Json(store::system::tenants(&state.store).await?))
}

/// This instance's view of the installation's health.
pub async fn health(
    State(state): State<AppState>,
) -> Result<Json<types::system::Health>, ApiError> {
    Ok(Json(state.system.health().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    slug: String,
    name: String,
    admin_email: String,
    /// `password` (the default: a one-time password in the answer) or `invitation` (a link
    /// e-mailed to the admin, and in the answer).
    first_admin: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    tenant: Tenant,
    admin_email: String,
    /// Hand this to the tenant's first admin; it is not stored anywhere in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_one_time_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invitation: Option<types::people::PasswordLink>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    let slug = Slug::parse(&body.slug).map_err(|e| {
        ApiError::field("/slug", e.to_string().trim_start_matches("invalid slug: "))
    })?;
    let email = store::Email::parse(&body.admin_email)
        .map_err(|_| ApiError::field("/admin_email", "is not an e-mail address"))?;
    let actor = me.actor();
    let created = match body.first_admin.as_deref().unwrap_or("password") {
        "password" => {
            let p =
                tenancy::provision(&state.store, &slug, &body.name, &email, None, &actor).await?;
            CreatedTenant {
                tenant: p.tenant,
                admin_email: email.to_string(),
                admin_one_time_password: Some(p.password),
                invitation: None,
            }
        }
        "invitation" => {
            let post = store::invitations::Post {
                sealer: &state.sealer,
                public_url: &state.public_url,
            };
            let p = tenancy::provision_invited(
                &state.store,
                &slug,
                &body.name,
                &email,
                &actor,
                Some(&post),
            )
            .await?;
            CreatedTenant {
                tenant: p.tenant,
                invitation: Some(p.link.shown(&state.public_url, email.as_str())),
                admin_email: email.to_string(),
                admin_one_time_password: None,
            }
        }
        _ => {
            return Err(ApiError::field(
                "/first_admin",
                "must be password or invitation",
            ))
        }
    };
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameTenant {
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<RenameTenant>,
) -> Result<Json<Tenant>, ApiError> {
    let slug = Slug::parse(&slug).map_err(|_| ApiError::NotFound("tenant"))?;
    let tenant = tenants::rename(state.store.pool(), &me.actor(), &slug, &body.name).await?;
    Ok(Json(tenant))
}

pub async fn suspend(
    state: State<AppState>,
    me: Me,
    slug: Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    set_status(state, me, slug, TenantStatus::Suspended).await
}

pub async fn reactivate(
    state: State<AppState>,
    me: Me,
    slug: Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    set_status(state, me, slug, TenantStatus::Active).await
}

async fn set_status(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(slug): Path<String>,
    status: TenantStatus,
) -> Result<Json<Tenant>, ApiError> {
    let slug = Slug::parse(&slug).map_err(|_| ApiError::NotFound("tenant"))?;
    let tenant = tenants::set_status(state.store.pool(), &me.actor(), &slug, status).await?;
    Ok(Json(tenant))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeleteQuery {
    /// Must repeat the slug: deleting drops every row of the tenant.
    confirm: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let slug = Slug::parse(&slug).map_err(|_| ApiError::NotFound("tenant"))?;
    if q.confirm.as_deref() != Some(slug.as_str()) {
        return Err(ApiError::field(
            "/confirm",
            "repeat the tenant's slug in ?confirm= to delete it",
        ));
    }
    tenants::delete(state.store.pool(), &me.actor(), &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// `queued`, `running`, `done` or `dead`; all when absent.
    state: Option<String>,
    limit: Option<i64>,
}

/// The newest jobs and how many wait, run or died: a dead job stays here until retried.
pub async fn jobs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> Result<Json<store::jobs::Jobs>, ApiError> {
    if let Some(s) = q.state.as_deref() {
        if !["queued", "running", "done", "dead"].contains(&s) {
            return Err(ApiError::field(
                "/state",
                "must be queued, running, done or dead",
            ));
        }
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("/limit", "must be between 1 and 1000"));
    }
    Ok(Json(state.system.jobs(q.state.as_deref(), limit).await?))
}

/// Runs a dead job again with a fresh set of attempts.
pub async fn retry_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    store::jobs::revive(state.store.pool(), store::jobs::JobId(id)).await?;
    Ok(StatusCode::ACCEPTED)
}
