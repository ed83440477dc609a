//! SAML's two addresses: a workspace's SP metadata (`/auth/saml/{workspace}/metadata`, which
//! is also its entity ID), and the assertion consumer service the IdP posts its Response to
//! (`/auth/saml/acs`), which ends like every other sign-in (`super::come_back`).
//!
//! The IdP's post comes from another site, so it carries no SameSite=Lax cookie, the one
//! binding the sign-in to this browser included: as with OpenID's form post, the first post
//! is answered with a page that posts the same fields again from this site.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Extension, Form,
};
use serde::Deserialize;

use super::{
    come_back,
    form_post::{must_relay, relay},
    Callback,
};
use crate::{
    auth::{
        saml::{Sp, ACS_PATH},
        ClientIp,
    },
    error::ApiError,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Posted {
    /// The IdP's Response, base64.
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    /// The sign-in this answers, as the request sent it.
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
    /// Set by the relay page: the second post, from this site.
    relayed: Option<String>,
}

pub async fn acs(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Response {
    if must_relay(&state, &headers, &p.relayed) {
        return relay(
            ACS_PATH,
            &[
                ("SAMLResponse", &p.saml_response),
                ("RelayState", &p.relay_state),
            ],
        );
    }
    let answer = Callback {
        code: None,
        state: p.relay_state,
        error: None,
        error_description: None,
        arrived: Default::default(),
        // Present even when empty, so the answer is taken for a SAML one.
        saml_response: Some(p.saml_response.unwrap_or_default()),
    };
    come_back(&state, ip, &headers, answer).await
}

/// The workspace's SP metadata, for its IdP's administrator. The same for any well-formed
/// name: it is made from the name and the public URL, and says nothing about whether the
/// workspace exists.
pub async fn metadata(
    State(state): State<AppState>,
    Path(workspace): Path<String>,
) -> Result<Response, ApiError> {
    let slug = store::Slug::parse(&workspace).map_err(|_| ApiError::NotFound("workspace"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/samlmetadata+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        Sp::of(&state.public_url, slug.as_str()).metadata(),
    )
        .into_response())
}
