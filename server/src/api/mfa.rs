//! Second factors over HTTP: the second step of a password sign-in (`/api/v1/auth/mfa`, and
//! the `/login/mfa` page's form at `/api/v1/auth/form/mfa`), a person's own authenticator app
//! (`/api/v1/profile/mfa…`), and what a tenant admin decides: who must have one
//! (`/api/v1/settings/mfa`) and clearing someone's (`/api/v1/users/{id}/mfa`). The rules live in
//! `store::mfa`; this module moves them to and from HTTP.
//!
//! A challenge token is `<scope>.<secret>` like a refresh token (the workspace slug, or `_` for
//! super admins), so the second step finds its schema without a session.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use store::{
    accounts,
    audit::Actor,
    mfa::{self, Checked, Enrolment, Owed, Requirement, Status},
    UserId,
};
use uuid::Uuid;

use super::{
    account::{redirect, return_path, start_session},
    extract::{JsonBody, Me},
};
use crate::{
    auth::{limits::Attempt, scope::scoped, ClientIp},
    error::ApiError,
    state::AppState,
};

/// The password was right and a second step is owed: what an API client is told.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SecondStepOwed {
    /// Always true: tells this answer from tokens.
    mfa_required: bool,
    /// For `POST /api/v1/auth/mfa` (or `/api/v1/auth/mfa/enrol` when `enrol`).
    mfa_token: String,
    /// The workspace asks for a second factor this person has not set up yet.
    enrol: bool,
    expires_in: i64,
}

pub(super) fn owed_answer(token: &str, owed: Owed) -> Response {
    let mut response = Json(SecondStepOwed {
        mfa_required: true,
        mfa_token: token.to_string(),
        enrol: owed == Owed::Enrol,
        expires_in: mfa::CHALLENGE_TTL.num_seconds(),
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The same for the sign-in form: the challenge goes into a cookie only this site's pages
/// send, and the browser to the page that asks for the code.
pub(super) fn second_step_page(state: &AppState, token: &str, next: &str) -> Response {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    let mut response = redirect(&format!("/login/mfa?{query}"));
    let cookies = state.cookies;
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies.set(cookies.mfa(), token, "/", mfa::CHALLENGE_TTL.num_seconds()),
    );
    response
}

/// The live challenge `token` names, or the field error that sends the person back to
/// their password.
async fn live(state: &AppState, token: &str, attempt: bool) -> Result<mfa::Live, ApiError> {
    mfa::live(&state.store, token, attempt)
        .await?
        .ok_or_else(gone)
}

fn gone() -> ApiError {
    ApiError::field(
        "/mfa_token",
        "has expired or was used up; sign in with your password again",
    )
}

fn actor_for(user: &store::User, ip: ClientIp, headers: &HeaderMap) -> Actor {
    Actor {
        id: Some(user.id.0),
        name: user.email.clone(),
        ip: ip.text(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    }
}

/// The second step: a code from the app (or a recovery code) for `Verify`, or the first code
/// from a newly set-up app for `Enrol`. Throttled like passwords, and at most
/// [`mfa::MAX_ATTEMPTS`] codes per challenge.
async fn answer(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    token: &str,
    code: &str,
) -> Result<Response, ApiError> {
    // Throttled before the challenge counts the code: a throttled retry costs no attempt. The
    // key is not the password's, which a correct password resets.
    let found = live(state, token, false).await?;
    let actor = actor_for(&found.user, ip, headers);
    let attempt = Attempt::new(
        &format!("mfa:{}", found.scope),
        &found.user.email,
        actor.ip.as_deref(),
    );
    state
        .login_limits
        .reserve(&attempt)
        .map_err(ApiError::TooManyRequests)?;
    let live = live(state, token, true).await?;
    let mut tx = state
        .store
        .scoped_tx(live.tenant.as_ref().map(|t| t.scope()))
        .await?;
    let checked = match live.owed {
        Owed::Verify => mfa::verify(tx.conn(), &state.sealer, &actor, live.user.id, code)
            .await?
            .map(|_| None),
        Owed::Enrol => {
            match mfa::confirm(tx.conn(), &state.sealer, &actor, live.user.id, code).await {
                Ok(c) => c.map(Some),
                Err(e) => {
                    // The attempt and any audit entry stay.
                    tx.commit().await?;
                    return Err(e.into());
                }
            }
        }
    };
    let codes = match checked {
        Checked::Done(codes) => codes,
        refused => {
            // The failure's audit entry stays.
            tx.commit().await?;
            return Err(refusal(refused));
        }
    };
    if !live.spend(tx.conn()).await? {
        // Another answer to the same challenge won: one sign-in per challenge.
        return Err(gone());
    }
    state.login_limits.succeeded(&attempt);
    start_session(state, tx, live.tenant.as_ref(), &live.user, &actor, codes).await
}

/// Why a code was not taken.
fn refusal<T>(checked: Checked<T>) -> ApiError {
    match checked {
        Checked::Locked => ApiError::TooManyRequests(
            mfa::LOCKOUT
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(900)),
        ),
        _ => wrong_code(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStep {
    mfa_token: String,
    code: String,
}

/// `POST /api/v1/auth/mfa`: the session, as a password sign-in without a second factor gives.
pub async fn second_step(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SecondStep>,
) -> Result<Response, ApiError> {
    answer(&state, ip, &headers, &body.mfa_token, &body.code).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChallengeToken {
    mfa_token: String,
}

/// `POST /api/v1/auth/mfa/enrol`: the app to set up, when the workspace requires one the
/// person lacks.
pub async fn enrol(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ChallengeToken>,
) -> Result<Json<Enrolment>, ApiError> {
    Ok(Json(challenge_enrolment(&state, &body.mfa_token).await?))
}

/// The app a sign-in's enrolment challenge sets up (the same seed until it is confirmed).
pub async fn challenge_enrolment(state: &AppState, token: &str) -> Result<Enrolment, ApiError> {
    let live = live(state, token, false).await?;
    Ok(live.enrolment(&state.store, &state.sealer).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SecondStepForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /api/v1/auth/form/mfa` (and the older `/auth/mfa`), the `/login/mfa` page's form (with or without JavaScript): the challenge
/// comes from its cookie; success goes on as a password sign-in does (to the profile, after
/// an app was set up on the way, to make recovery codes); a wrong code goes back to the form.
pub async fn second_step_form(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    axum::Form(body): axum::Form<SecondStepForm>,
) -> Response {
    let next = return_path(body.next.as_deref()).to_string();
    let Some(token) = crate::auth::cookie(&headers, state.cookies.mfa()) else {
        return redirect("/login?error=mfa_expired");
    };
    let enrolling = matches!(live(&state, &token, false).await, Ok(l) if l.owed == Owed::Enrol);
    match answer(&state, ip, &headers, &token, &body.code).await {
        Ok(ok) => {
            let to = if enrolling {
                "/profile?mfa=enrolled#security"
            } else {
                next.as_str()
            };
            let mut response = super::account::redirect_with_cookies(to, &ok);
            let cookies = state.cookies;
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies.set(cookies.mfa(), "", "/", 0));
            response
        }
        Err(e) => {
            let code = match &e {
                ApiError::Validation(errors) if errors.iter().any(|f| f.pointer == "/code") => {
                    "code"
                }
                ApiError::TooManyRequests(_) => "throttled",
                _ => "expired",
            };
            if code == "expired" {
                let mut response = redirect("/login?error=mfa_expired");
                let cookies = state.cookies;
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookies.set(cookies.mfa(), "", "/", 0));
                return response;
            }
            let query = serde_urlencoded::to_string([("error", code), ("next", next.as_str())])
                .unwrap_or_default();
            redirect(&format!("/login/mfa?{query}"))
        }
    }
}

// --- a person's own second factor -----------------------------------------------------------

pub async fn status(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Status>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::get(tx.conn(), me.user_id).await?;
    let s = mfa::status(tx.conn(), &user, me.tenant.is_some()).await?;
    tx.commit().await?;
    Ok(Json(s))
}

pub async fn begin(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Enrolment>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let label = mfa::account_label(&me.email, me.tenant.as_ref().map(|t| t.slug.as_str()));
    let e = mfa::begin(tx.conn(), &state.sealer, me.user_id, &label).await?;
    tx.commit().await?;
    Ok(Json(e))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

pub async fn confirm(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let checked = mfa::confirm(
        tx.conn(),
        &state.sealer,
        &me.actor(),
        me.user_id,
        &body.code,
    )
    .await?;
    tx.commit().await?;
    shown_once(checked)
}

pub async fn renew_recovery_codes(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let checked = mfa::renew_recovery_codes(
        tx.conn(),
        &state.sealer,
        &me.actor(),
        me.user_id,
        &body.code,
    )
    .await?;
    tx.commit().await?;
    shown_once(checked)
}

/// New recovery codes, or why none were made.
fn shown_once(checked: Checked<Vec<String>>) -> Result<Json<RecoveryCodes>, ApiError> {
    match checked {
        Checked::Done(codes) => Ok(Json(RecoveryCodes {
            recovery_codes: codes,
        })),
        refused => Err(refusal(refused)),
    }
}

fn wrong_code() -> ApiError {
    ApiError::field(
        "/code",
        "is not the code your authenticator app shows now, nor an unused recovery code",
    )
}

pub async fn turn_off(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<Code>,
) -> Result<Response, ApiError> {
    let mut tx = scoped(&state.store, &me).await?;
    let user = accounts::get(tx.conn(), me.user_id).await?;
    let checked = mfa::turn_off(
        tx.conn(),
        &state.sealer,
        &me.actor(),
        &user,
        me.tenant.is_some(),
        &body.code,
    )
    .await?;
    tx.commit().await?;
    match checked {
        Checked::Done(()) => Ok(axum::http::StatusCode::NO_CONTENT.into_response()),
        refused => Err(refusal(refused)),
    }
}

// --- what a tenant admin decides ------------------------------------------------------------

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    required: Requirement,
}

pub async fn get_rule(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Rule>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let required = mfa::requirement(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(Rule { required }))
}

pub async fn set_rule(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<Rule>,
) -> Result<Json<Rule>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let required =
        mfa::set_requirement(&mut tx, &me.actor(), body.required, state.sealer.can_seal()).await?;
    tx.commit().await?;
    Ok(Json(Rule { required }))
}

/// Clears a person's second factor (a lost phone) and ends their sessions.
pub async fn reset(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    mfa::reset(&mut tx, &state.sealer, &me.actor(), UserId(id)).await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
