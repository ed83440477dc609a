//! `/sso/try`: what the workspace's provider sent when a tenant admin tried signing in there
//! (`/auth/sso/try`), and what a real sign-in would have done with it. The try itself is the
//! server's (`server::api::sso::trial`); this page reads its report back.

use leptos::{either::Either, prelude::*};
use leptos_router::hooks::use_query_map;
use types::sso::{Claims, Trial};

use crate::{components::forms::error_text, AppError};

/// A try's report, for the admin who made it (`GET /api/v1/sso/trials/{id}`).
#[server(endpoint = "sso/trial")]
pub async fn sso_trial(id: String) -> Result<Trial, AppError> {
    let s = crate::session::ssr::require_fn::<SsoTrial>().await?;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| AppError::invalid("id", "id: is not the id of a sign-in try"))?;
    let Some(scope) = s.scope.as_ref() else {
        return Err(AppError::new(
            http::StatusCode::NOT_FOUND,
            "single sign-on belongs to a workspace",
        ));
    };
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(Some(scope)).await?;
    let trial = store::sso::trial(tx.conn(), id, s.user_id).await?;
    tx.commit().await?;
    Ok(trial)
}

#[component]
pub fn SsoTryPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.with(|q| q.get("error"));
    let report = Resource::new(
        move || query.with(|q| q.get("id")),
        |id| async move {
            match id {
                Some(id) => sso_trial(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="card">
            <h1>"Try sign-in"</h1>
            <p class="muted">
                "What your identity provider sent when you signed in there, and what devpulse would do with it. A try saves nothing: no account is made, linked or changed, and no session starts."
            </p>
            {move || error().map(|e| view! { <p class="error" role="alert" id="try-error">{e}</p> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Err(e) => Some(Either::Left(view! { <p class="error" role="alert" id="try-error">{error_text(&e)}</p> })),
                        Ok(None) => None,
                        Ok(Some(t)) => Some(Either::Right(view! { <Report trial=t /> })),
                    }
                })}
            </Suspense>
            <p class="row">
                <a href="/sso">"Single sign-on settings"</a>
                <a href="/auth/sso/try" rel="external" id="try-again">"Try again"</a>
            </p>
        </section>
    }
}

#[component]
fn Report(trial: Trial) -> impl IntoView {
    let class = if trial.admitted { "notice" } else { "error" };
    view! {
        <p class=class role="status" id="try-outcome">{trial.outcome}</p>
        {trial.claims.map(|c| view! { <ClaimList claims=c /> })}
        <p class="muted">{format!("Tried at {}.", trial.at.replace('T', " ").replace('Z', " UTC"))}</p>
    }
}

#[component]
fn ClaimList(claims: Claims) -> impl IntoView {
    let verified = match claims.email_verified {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not said",
    };
    let or_dash = |s: String| if s.is_empty() { "—".to_string() } else { s };
    let groups = or_dash(claims.groups.join(", "));
    view! {
        <h2>"What the provider sent"</h2>
        <dl class="facts" id="try-claims">
            <dt>"Issuer"</dt>
            <dd><code>{claims.issuer}</code></dd>
            <dt>"Subject"</dt>
            <dd><code id="try-subject">{claims.subject}</code></dd>
            <dt>"E-mail"</dt>
            <dd id="try-email">{claims.email}</dd>
            <dt>"E-mail verified"</dt>
            <dd id="try-verified">{verified}</dd>
            <dt>"Name"</dt>
            <dd>{or_dash(claims.name)}</dd>
            <dt>"Groups"</dt>
            <dd id="try-groups">{groups}</dd>
        </dl>
    }
}
