//! The caller's own profile: name, theme and password.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use store::{accounts, User};
use types::Theme;

use super::refresh::signed_out;
use crate::{
    api::extract::{JsonBody, Me},
    auth::{scope::scoped, Caller, Permission},
    error::ApiError,
    state::AppState,
};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Profile {
    #[serde(flatten)]
    user: User,
    tenant: Option<String>,
    permissions: Vec<Permission>,
}

pub async fn profile(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Profile>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::get(tx.conn(), me.user_id).await?;
    tx.commit().await?;
    Ok(Json(profile_of(user, &me)))
}

fn profile_of(user: User, me: &Caller) -> Profile {
    Profile {
        permissions: me.role.permissions(),
        tenant: me.tenant.as_ref().map(|t| t.slug.to_string()),
        user,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    name: String,
}

pub async fn update_profile(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<ProfileUpdate>,
) -> Result<Json<Profile>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::set_name(tx.conn(), me.user_id, &body.name).await?;
    tx.commit().await?;
    Ok(Json(profile_of(user, &me)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeChoice {
    /// `light`, `dark`, or null to follow the system.
    theme: Option<String>,
}

/// `PUT /api/v1/profile/theme`: remembers the caller's theme and sets this browser's cookie.
pub async fn set_theme(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<ThemeChoice>,
) -> Result<Response, ApiError> {
    let theme =
        Theme::choice(body.theme.as_deref()).map_err(|e| ApiError::field("/theme", e.reason))?;
    let mut tx = scoped(&state.store, &me).await?;
    accounts::set_theme(tx.conn(), me.user_id, theme).await?;
    tx.commit().await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, Theme::cookie(theme))],
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changing the password ends every session, this one included: sign in again.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    accounts::change_password(
        tx.conn(),
        &me.actor(),
        me.user_id,
        body.current_password,
        body.new_password,
    )
    .await
    .map_err(|e| match e {
        accounts::PasswordChangeError::CurrentWrong => {
            ApiError::field("/current_password", "is wrong")
        }
        accounts::PasswordChangeError::Policy(reason) => ApiError::field("/new_password", reason),
        accounts::PasswordChangeError::Store(e) => e.into(),
    })?;
    tx.commit().await?;
    Ok(signed_out(&state))
}

/// A password the policy refused, as the request's `/password` field.
pub fn password_refused(e: store::Error) -> ApiError {
    match e {
        store::Error::Invalid {
            field: "password",
            reason,
        } => ApiError::field("/password", reason),
        e => e.into(),
    }
}
