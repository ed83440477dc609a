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

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Tenant>>, ApiError> {
    Ok(Json(tenants::list(state.store.pool()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    slug: String,
    name: String,
    admin_email: String,
}

#[derive(Serialize)]
pub struct CreatedTenant {
    tenant: Tenant,
    admin_email: String,
    /// Hand this to the tenant's first admin; it is not stored anywhere in clear.
    admin_one_time_password: String,
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
    let created = tenancy::provision(&state.store, &slug, &body.name, &email, None, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            tenant: created.tenant,
            admin_email: email.to_string(),
            admin_one_time_password: created.password,
        }),
    ))
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

#[derive(Deserialize)]
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

#[derive(Deserialize)]
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
    let pool = state.store.pool();
    Ok(Json(store::jobs::Jobs {
        counts: store::jobs::counts(pool).await?,
        jobs: store::jobs::list(pool, q.state.as_deref(), limit).await?,
    }))
}

/// Runs a dead job again with a fresh set of attempts.
pub async fn retry_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    store::jobs::revive(state.store.pool(), store::jobs::JobId(id)).await?;
    Ok(StatusCode::ACCEPTED)
}
