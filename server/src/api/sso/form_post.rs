//! The TRD's `POST /api/v1/auth/sso/callback`: the provider's answer as a form the browser
//! posts (`response_mode=form_post`), which keeps the code out of addresses, history and the
//! logs of anything in between.
//!
//! That post comes from the provider's page, another site, so the browser sends no
//! SameSite=Lax cookie with it, the one binding the sign-in to this browser included. The
//! first post is therefore answered with a page of ours that posts the same fields again; that
//! post comes from this site and carries the cookie. Only the answer's own fields are repeated,
//! and a relayed post without the cookie is a stale sign-in like any other. The cross-site
//! check lets the first post through (see `http::refuse_cross_site`): without the binding
//! cookie it can do nothing but show the relay page.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Extension, Form,
};
use serde::Deserialize;
use types::sso::ResponseMode;

use super::{binding_cookie, come_back, escape, Callback};
use crate::{auth::ClientIp, state::AppState};

/// Where the provider posts, and where the relay page posts again.
pub const PATH: &str = "/api/v1/auth/sso/callback";

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Posted {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// Set by the relay page: the second post, from this site.
    relayed: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Response {
    let answer = Callback {
        code: p.code,
        state: p.state,
        error: p.error,
        error_description: p.error_description,
        arrived: ResponseMode::FormPost,
        saml_response: None,
    };
    if must_relay(&state, &headers, &p.relayed) {
        return relay(
            PATH,
            &[
                ("code", &answer.code),
                ("state", &answer.state),
                ("error", &answer.error),
                ("error_description", &answer.error_description),
            ],
        );
    }
    come_back(&state, ip, &headers, answer).await
}

/// Whether a provider's post must be posted again from this site: it came without the
/// binding cookie (from the provider's site), and is not already the relayed post.
pub(super) fn must_relay(state: &AppState, headers: &HeaderMap, relayed: &Option<String>) -> bool {
    let bound = crate::auth::cookies(headers, binding_cookie(state))
        .next()
        .is_some();
    !bound && relayed.is_none()
}

/// A page that posts the answer's `fields` again from this site, to `action`: at once with
/// JavaScript (a script of ours, as the policy allows no inline one), by its button without.
pub(super) fn relay(action: &str, fields: &[(&str, &Option<String>)]) -> Response {
    let fields = fields
        .iter()
        .filter_map(|(name, v)| v.as_deref().map(|v| (*name, v)))
        .map(|(name, v)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(v)
            )
        })
        .collect::<String>();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Signing you in</title><script src=\"/sso-relay.js\" defer></script></head>\
             <body><main><form method=\"post\" action=\"{action}\" id=\"relay\">{fields}\
             <input type=\"hidden\" name=\"relayed\" value=\"1\">\
             <p>Signing you in…</p><button type=\"submit\" id=\"continue\">Continue</button>\
             </form></main></body></html>"
        ),
    )
        .into_response()
}
