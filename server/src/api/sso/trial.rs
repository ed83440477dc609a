//! "Try sign-in": a tenant admin signs in at the workspace's provider from the `/sso` page
//! (`/auth/sso/try`, in a new tab) and reads what it sent and what a real sign-in would do
//! (`/sso/try`, `GET /api/v1/sso/trials/{id}`). The real sign-in's own steps run, in a
//! transaction that is rolled back: the same answer, with no account made or linked and no
//! session started.

use axum::{
    extract::{Path, State},
    response::Response,
    Extension, Json,
};
use store::{
    audit::Actor,
    sso::{self, Pending},
    Tenant, UserId,
};
use types::sso::Trial;

use super::{admit, identify, internal, leave, Callback};
use crate::{
    api::{account::redirect, extract::Me},
    auth::{sso::SsoError, ClientIp},
    error::ApiError,
    state::AppState,
};

/// Leaves for the caller's workspace provider, to come back to a report.
pub async fn try_start(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Extension(me): Me,
) -> Response {
    let gone_wrong = |why: &str| {
        let query = serde_urlencoded::to_string([("error", why)]).unwrap_or_default();
        redirect(&format!("/sso/try?{query}"))
    };
    let Ok(tenant) = me.tenant() else {
        return gone_wrong("only a workspace's admins can try its single sign-on");
    };
    match leave(&state, &ip, tenant.slug.as_str(), "/sso", Some(me.user_id)).await {
        Ok(page) => page,
        Err(e) => gone_wrong(&e.to_string()),
    }
}

/// The callback of a try: what came back, kept for `by` to read, and the way to the report.
pub(super) async fn report(
    state: &AppState,
    tenant: &Tenant,
    pending: &Pending,
    by: UserId,
    actor: &Actor,
    c: Callback,
) -> Response {
    let trial = look(state, tenant, pending, actor, c).await;
    match keep(state, tenant, by, actor, &trial).await {
        Ok(id) => redirect(&format!("/sso/try?id={id}")),
        Err(e) => {
            let query = serde_urlencoded::to_string([("error", e.to_string())]).unwrap_or_default();
            redirect(&format!("/sso/try?{query}"))
        }
    }
}

async fn look(
    state: &AppState,
    tenant: &Tenant,
    pending: &Pending,
    actor: &Actor,
    c: Callback,
) -> Trial {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (provider, who) = match identify(state, tenant, pending, c).await {
        Ok(found) => found,
        Err(e) => {
            return Trial {
                at,
                claims: None,
                outcome: format!("The provider's answer was refused: {e}."),
                admitted: false,
            }
        }
    };
    let decided = match state.store.tenant_tx(tenant.scope()).await {
        Ok(mut tx) => {
            let decided = admit(&mut tx, actor, &provider, &who).await;
            // Nothing a try does may stay: not the account, the link, nor their audit entries.
            let _ = tx.rollback().await;
            decided
        }
        Err(e) => Err(internal(e)),
    };
    let (outcome, admitted) = match decided {
        Ok((user, true)) => (
            format!(
                "A real sign-in would create an account for {} with the role {}.",
                user.email, user.role
            ),
            true,
        ),
        Ok((user, false)) => (
            format!(
                "A real sign-in would sign in as the existing account {} ({}).",
                user.email, user.role
            ),
            true,
        ),
        Err(e) => (format!("A real sign-in would be refused: {e}."), false),
    };
    Trial {
        at,
        claims: Some(who),
        outcome,
        admitted,
    }
}

async fn keep(
    state: &AppState,
    tenant: &Tenant,
    by: UserId,
    actor: &Actor,
    trial: &Trial,
) -> Result<uuid::Uuid, SsoError> {
    let mut tx = state
        .store
        .tenant_tx(tenant.scope())
        .await
        .map_err(internal)?;
    let admin = store::accounts::get(&mut tx, by).await.map_err(internal)?;
    let from = Actor {
        id: Some(by.0),
        name: admin.email,
        ..actor.clone()
    };
    let id = sso::record_trial(&mut tx, &from, by, trial)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(id)
}

/// A try's report, for the admin who made it.
pub async fn get_trial(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<Trial>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let trial = sso::trial(&mut tx, id, me.user_id).await?;
    tx.commit().await?;
    Ok(Json(trial))
}
