//! A workspace's single sign-on settings, as its admins read and write them (the REST API's
//! `GET/PUT /api/v1/sso` and the sign-in settings page).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an admin sends to configure the provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// OpenID Connect (the default) or SAML 2.0.
    #[serde(default)]
    pub protocol: Protocol,
    /// generic, google, entra or okta (OpenID Connect only).
    #[serde(default = "generic")]
    pub preset: String,
    /// OpenID Connect: the provider's issuer URL. SAML takes the IdP's entity ID from its
    /// metadata.
    #[serde(default)]
    pub issuer: String,
    /// OpenID Connect only.
    #[serde(default)]
    pub client_id: String,
    /// Empty keeps the secret already saved (there must be one).
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub email_domains: Vec<String>,
    #[serde(default)]
    pub default_role: Option<String>,
    /// Group name → role for people made just in time.
    #[serde(default)]
    pub group_roles: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Refuse passwords in the workspace, except for `break_glass`.
    #[serde(default)]
    pub sso_only: bool,
    /// The tenant admin (by e-mail) who may still sign in with a password.
    #[serde(default)]
    pub break_glass: Option<String>,
    /// How the provider sends people back; absent keeps the saved choice (else `query`), so
    /// a client that does not know the field does not change the redirect URI.
    #[serde(default)]
    pub response_mode: Option<ResponseMode>,
    /// SAML: where the IdP publishes its metadata (fetched when saved), ...
    #[serde(default)]
    pub saml_metadata_url: Option<String>,
    /// ... or the metadata document itself. Neither keeps the metadata saved.
    #[serde(default)]
    pub saml_metadata: Option<String>,
    /// SAML: which attributes carry the e-mail, name and groups; absent keeps the saved ones.
    #[serde(default)]
    pub saml_attributes: Option<SamlAttributes>,
}

/// The protocol the workspace's provider speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    #[default]
    Oidc,
    Saml,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Oidc => "oidc",
            Protocol::Saml => "saml",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        [Protocol::Oidc, Protocol::Saml]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// The SAML assertion attributes (by `Name`) that say who someone is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SamlAttributes {
    /// Absent: the NameID, when it is an e-mail address.
    pub email: String,
    pub name: String,
    pub groups: String,
}

impl Default for SamlAttributes {
    fn default() -> Self {
        SamlAttributes {
            email: "email".into(),
            name: "name".into(),
            groups: "groups".into(),
        }
    }
}

/// A SAML provider as saved, and what the IdP must be told about devpulse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SamlSettings {
    /// The IdP's entity ID and where it takes sign-in requests, from its metadata.
    pub idp_entity_id: String,
    pub idp_sso_url: String,
    /// Where the metadata was fetched from; `None` when it was uploaded.
    pub metadata_url: Option<String>,
    /// How many signing certificates the metadata names (responses must be signed by one).
    pub signing_certificates: usize,
    pub attributes: SamlAttributes,
    /// Give these to the IdP: devpulse's entity ID (the audience of its assertions), the
    /// assertion consumer service, and the metadata that holds both.
    pub sp_entity_id: String,
    pub acs_url: String,
    pub sp_metadata_url: String,
}

/// How the provider sends the answer back: in the address of a redirect (`query`, OpenID's
/// default), or as a form the browser posts (`form_post`), which keeps the code out of the
/// address bar, history and logs along the way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 2] = [ResponseMode::Query, ResponseMode::FormPost];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseMode> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Where the provider sends people back in this mode (under the server's public URL):
    /// a redirect the browser follows, or the TRD's form-post callback.
    pub fn callback_path(self) -> &'static str {
        match self {
            ResponseMode::Query => "/auth/sso/callback",
            ResponseMode::FormPost => "/api/v1/auth/sso/callback",
        }
    }
}

fn generic() -> String {
    "generic".into()
}

fn yes() -> bool {
    true
}

/// The provider as saved (never the secret), and where it must send people back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    pub protocol: Protocol,
    pub preset: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    pub default_role: crate::Role,
    pub group_roles: BTreeMap<String, crate::Role>,
    pub enabled: bool,
    pub sso_only: bool,
    pub break_glass: Option<String>,
    pub response_mode: ResponseMode,
    /// Register this at the provider (for SAML, the assertion consumer service).
    pub redirect_uri: String,
    /// The SAML side, for a SAML provider.
    pub saml: Option<SamlSettings>,
    /// Whether the workspace has proven it controls each of its e-mail domains: only proven
    /// ones send people who type an address there to this provider.
    #[serde(default)]
    pub domains: Vec<DomainProof>,
}

/// A domain's proof: the TXT record to publish, and whether it was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainProof {
    pub domain: String,
    /// Publish a TXT record with `record_value` at this name.
    pub record_name: String,
    pub record_value: String,
    /// When the record was first found (RFC 3339); `None` until it is, or since a look
    /// found it gone.
    pub verified_at: Option<String>,
    /// The last look (RFC 3339), and what was wrong then.
    pub checked_at: Option<String>,
    pub last_error: Option<String>,
}

/// What a "try sign-in" found: an admin signs in at the provider and sees what it sent and
/// what devpulse would do with it, with no account made or changed and no session started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trial {
    /// RFC 3339.
    pub at: String,
    /// What the provider vouched for; `None` when its answer did not check out.
    pub claims: Option<Claims>,
    /// What a real sign-in would do, in words.
    pub outcome: String,
    /// Whether a real sign-in would get in.
    pub admitted: bool,
}

/// The person as the provider described them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub email_verified: Option<bool>,
    pub name: String,
    pub groups: Vec<String>,
}
