//! Tenant admins: the people of their tenant, and the e-mail sent to them.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};

use super::extract::ApiQuery;
use serde::{Deserialize, Serialize};
use store::{
    accounts::{self, Email},
    invitations::PasswordLink,
    User, UserId,
};
use uuid::Uuid;

use super::{
    account::profile::password_refused,
    extract::{JsonBody, Me},
};
use crate::{auth::scope::scoped, error::ApiError, state::AppState, tenancy};

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<User>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let users = accounts::list(tx.conn()).await?;
    tx.commit().await?;
    Ok(Json(users))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    #[serde(default)]
    name: String,
    /// Optional: without one, the workspace's default role.
    #[serde(default)]
    role: Option<String>,
    /// Optional: without one the user is invited, and the response carries the link that
    /// lets them set their own password.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    user: User,
    /// Without a password: the link that lets them set their own, shown this once.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    link: Option<PasswordLink>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let tenant = me.tenant()?;
    let email = Email::parse(&body.email)
        .map_err(|_| ApiError::field("/email", "is not an e-mail address"))?;
    let role = match body.role.as_deref() {
        Some(role) => parse_tenant_role(role)?,
        None => {
            let mut tx = state.store.tenant_tx(tenant.scope()).await?;
            let policy = store::settings::people(&mut tx).await?;
            tx.commit().await?;
            policy.default_role
        }
    };
    let Some(password) = body.password else {
        let (user, issued) = tenancy::invite_user(
            &state.store,
            tenant,
            &email,
            &body.name,
            role,
            &me.actor(),
            Some(&state.post()),
        )
        .await?;
        let link = Some(issued.shown(&state.public_url, &user.email));
        return Ok((StatusCode::CREATED, Json(CreatedUser { user, link })));
    };
    let mut tx = scoped(&state.store, &me).await?;
    let user =
        accounts::create_with_password(tx.conn(), &me.actor(), &email, &body.name, role, password)
            .await
            .map_err(password_refused)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { user, link: None })))
}

/// A new invitation (for someone who never set a password) or password-reset link.
pub async fn password_link(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<PasswordLink>), ApiError> {
    let (user, issued) = tenancy::password_link(
        &state.store,
        me.tenant()?,
        UserId(id),
        &me.actor(),
        Some(&state.post()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(issued.shown(&state.public_url, &user.email)),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<RoleChange>,
) -> Result<Json<User>, ApiError> {
    me.tenant()?;
    let role = parse_tenant_role(&body.role)?;
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::change_role(tx.conn(), &me.actor(), UserId(id), role).await?;
    tx.commit().await?;
    Ok(Json(user))
}

pub async fn deactivate(
    state: State<AppState>,
    me: Me,
    id: Path<Uuid>,
) -> Result<Json<User>, ApiError> {
    set_active(state, me, id, false).await
}

pub async fn reactivate(
    state: State<AppState>,
    me: Me,
    id: Path<Uuid>,
) -> Result<Json<User>, ApiError> {
    set_active(state, me, id, true).await
}

async fn set_active(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    active: bool,
) -> Result<Json<User>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::change_active(tx.conn(), &me.actor(), UserId(id), active).await?;
    tx.commit().await?;
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteList {
    /// CSV: e-mail, name, role, team (an optional header line names the columns).
    csv: String,
    /// `false` (the default) only checks the list; `true` invites everyone when no line has a
    /// problem, and no one otherwise.
    #[serde(default)]
    send: bool,
}

/// `POST /api/v1/users/bulk-invite`: the lines of the list with their problems, and how many
/// were invited (and e-mailed).
pub async fn invite_many(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<InviteList>,
) -> Result<Json<store::invitations::BulkInvite>, ApiError> {
    let tenant = me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let policy = store::settings::people(tx.conn()).await?;
    let rows = types::people::read_invite_list(&body.csv, policy.default_role)?;
    let post = state.post();
    let answer = store::invitations::invite_many(
        tx.conn(),
        &me.actor(),
        &tenant.slug,
        rows,
        body.send,
        Some(&post),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(answer))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BulkRequest {
    ids: Vec<Uuid>,
    #[serde(flatten)]
    change: types::people::BulkChange,
}

/// `POST /api/v1/users/bulk` `{"ids": [...], "action": "role", "role": "viewer"}` (or
/// `deactivate`, `reactivate`): all of them or none; their open sessions end at once.
pub async fn bulk(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<BulkRequest>,
) -> Result<Json<Vec<User>>, ApiError> {
    me.tenant()?;
    if let types::people::BulkChange::Role { role } = &body.change {
        parse_tenant_role(role.as_str())?;
    }
    let ids: Vec<UserId> = body.ids.into_iter().map(UserId).collect();
    let mut tx = scoped(&state.store, &me).await?;
    let users = accounts::change_many(tx.conn(), &me.actor(), &ids, &body.change).await?;
    tx.commit().await?;
    Ok(Json(users))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

/// `PUT /api/v1/admin/users/{id}` (the TRD's path): a role and/or active state at once, each
/// the same audited change as its own route, both or neither.
pub async fn update(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<UserChange>,
) -> Result<Json<User>, ApiError> {
    me.tenant()?;
    if body.role.is_none() && body.active.is_none() {
        return Err(ApiError::field(
            "/role",
            "give a role, an active state, or both",
        ));
    }
    let role = body.role.as_deref().map(parse_tenant_role).transpose()?;
    let mut tx = scoped(&state.store, &me).await?;
    let mut user = accounts::get(tx.conn(), UserId(id)).await?;
    if let Some(role) = role.filter(|r| *r != user.role) {
        user = accounts::change_role(tx.conn(), &me.actor(), UserId(id), role).await?;
    }
    if let Some(active) = body.active.filter(|a| *a != user.active) {
        user = accounts::change_active(tx.conn(), &me.actor(), UserId(id), active).await?;
    }
    tx.commit().await?;
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailsQuery {
    limit: Option<i64>,
}

/// The workspace's e-mails, newest first: to whom, which, and how each delivery went.
pub async fn emails(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<EmailsQuery>,
) -> Result<Json<Vec<store::mail::Sent>>, ApiError> {
    me.tenant()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("/limit", "must be between 1 and 1000"));
    }
    let mut tx = scoped(&state.store, &me).await?;
    let sent = store::mail::list(tx.conn(), limit).await?;
    tx.commit().await?;
    Ok(Json(sent))
}

/// Roles a tenant admin may hand out (never super_admin).
fn parse_tenant_role(s: &str) -> Result<store::Role, ApiError> {
    store::Role::parse_tenant(s).map_err(|e| ApiError::field("/role", e.reason))
}
