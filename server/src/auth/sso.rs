//! Single sign-on through a workspace's OpenID Connect provider: the authorization code flow
//! with PKCE, `state` and `nonce` (all three kept on the server, in a single-use row), the ID
//! token checked by `openidconnect`, the e-mail from userinfo when the token lacks it.
//!
//! Discovery documents (with the provider's keys) are cached per issuer for a while; a token
//! signed by a key the cache does not know makes one fresh discovery before it is refused, so
//! a provider that rotates its keys is followed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use openidconnect::{
    core::{CoreAuthenticationFlow, CoreProviderMetadata},
    reqwest, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LoginHint, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use store::sealing::Sealer;
use types::sso::ResponseMode;

/// How long a provider's discovery document (and keys) is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);

/// Why a sign-in through the provider failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the identity provider could not be reached or answered badly: {0}")]
    Provider(String),
    #[error("the identity provider's answer did not check out: {0}")]
    Token(String),
    /// A SAML answer whose signature does not verify with the certificates known.
    #[error("the identity provider's answer did not check out: {0}")]
    Signature(String),
    #[error("the sign-in link expired or was already used; start again")]
    Stale,
    #[error("{0}")]
    Refused(String),
    #[error("single sign-on is not set up: {0}")]
    Setup(String),
}

/// The ID token claims beyond the standard ones that some providers' rules rest on.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
struct ProviderClaims {
    /// Google: the Workspace domain that manages the account; absent for a personal Google
    /// account, even one whose address is at a company's domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hd: Option<String>,
}

impl openidconnect::AdditionalClaims for ProviderClaims {}

type TokenResponse = openidconnect::StandardTokenResponse<
    openidconnect::IdTokenFields<
        ProviderClaims,
        openidconnect::EmptyExtraTokenFields,
        openidconnect::core::CoreGenderClaim,
        openidconnect::core::CoreJweContentEncryptionAlgorithm,
        openidconnect::core::CoreJwsSigningAlgorithm,
    >,
    openidconnect::core::CoreTokenType,
>;

/// A provider's client, ready for a flow.
type Client = openidconnect::Client<
    ProviderClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    TokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What a completed sign-in says about the person: the claims a "try sign-in" shows, too.
pub use types::sso::Claims as Identity;

/// Where a sign-in goes, and what must come back.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The provider configuration a flow needs (the secret opened).
pub struct ProviderConfig<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: String,
    pub scopes: &'a [String],
    /// How the provider answers; the callback the answer goes to follows from it.
    pub response_mode: ResponseMode,
    /// Google Workspace: the domains whose Workspace must manage the account (the ID token's
    /// `hd`); `None` for other providers.
    pub hosted_domains: Option<&'a [String]>,
}

pub struct Sso {
    http: reqwest::Client,
    sealer: Arc<Sealer>,
    allow_private: bool,
    discovered: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
    /// When each workspace's SAML metadata was last fetched again after a signature failed.
    saml_refreshed: Mutex<HashMap<String, Instant>>,
    /// The server's public URL, under which the provider sends people back.
    base: String,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("allow_private", &self.allow_private)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Sso {
    /// `sealer` keeps client secrets; `public_url`: where the provider sends people back.
    pub fn new(sealer: Arc<Sealer>, allow_private: bool, public_url: &str) -> Result<Sso, String> {
        // A provider may not bounce our requests elsewhere (SSRF), as the crate advises; names
        // are checked where they resolve, for every request (the issuer and every endpoint
        // its discovery document names).
        let http = crate::outbound::Policy { allow_private }.client()?;
        Ok(Sso {
            http,
            sealer,
            allow_private,
            discovered: Mutex::new(HashMap::new()),
            saml_refreshed: Mutex::new(HashMap::new()),
            base: public_url.trim_end_matches('/').to_string(),
        })
    }

    pub fn can_seal(&self) -> bool {
        self.sealer.can_seal()
    }

    /// A client secret sealed for storage, bound to `owner` (the workspace's id).
    pub fn seal(&self, secret: &str, owner: &[u8]) -> Vec<u8> {
        self.sealer.seal(secret.as_bytes(), owner)
    }

    pub fn open(&self, sealed: &[u8], owner: &[u8]) -> Result<String, SsoError> {
        self.sealer.open_text(sealed, owner).map_err(|_| {
            SsoError::Setup("the client secret cannot be read with this server's DEVPULSE_SECRET_KEY; enter it again".into())
        })
    }

    /// Whether an admin may point the workspace at `issuer`: https (or http to a loopback
    /// address where allowed), and not a private or loopback address unless allowed.
    pub fn check_issuer(&self, issuer: &str) -> Result<IssuerUrl, String> {
        let url = IssuerUrl::new(issuer.to_string()).map_err(|e| e.to_string())?;
        self.check_url(url.url())?;
        Ok(url)
    }

    /// Whether `key`'s SAML metadata may be fetched again now: once a minute at most, so
    /// answers with bad signatures cannot make us fetch it on every post.
    pub fn may_refresh(&self, key: &str) -> bool {
        let mut last = self.saml_refreshed.lock().expect("not poisoned");
        let now = Instant::now();
        match last.get(key) {
            Some(at) if now.duration_since(*at) < Duration::from_secs(60) => false,
            _ => {
                last.insert(key.to_string(), now);
                true
            }
        }
    }

    /// A SAML IdP's metadata document from `url`, under the same rule as issuers.
    pub async fn fetch_metadata(&self, url: &str) -> Result<String, String> {
        let parsed = openidconnect::url::Url::parse(url).map_err(|_| "is not a URL".to_string())?;
        self.check_url(&parsed)?;
        let mut response = self
            .http
            .get(parsed)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("could not be fetched: {}", error_chain(&e)))?;
        let too_long = || "is longer than an identity provider's metadata can be".to_string();
        if response
            .content_length()
            .is_some_and(|n| n > crate::auth::saml::MAX_METADATA as u64)
        {
            return Err(too_long());
        }
        // Read piece by piece: a body without a length stops at the limit too.
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("could not be fetched: {}", error_chain(&e)))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > crate::auth::saml::MAX_METADATA {
                return Err(too_long());
            }
        }
        String::from_utf8(body).map_err(|_| "is not UTF-8 text".into())
    }

    /// The same rule for every address a provider's discovery document names.
    fn check_url(&self, parsed: &openidconnect::url::Url) -> Result<(), String> {
        crate::outbound::Policy {
            allow_private: self.allow_private,
        }
        .check(parsed)
    }

    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata, SsoError> {
        if !fresh {
            let cached = self
                .discovered
                .lock()
                .expect("not poisoned")
                .get(issuer)
                .cloned();
            if let Some((at, m)) = cached.filter(|(at, _)| at.elapsed() < DISCOVERY_TTL) {
                let _ = at;
                return Ok(m);
            }
        }
        let url = self.check_issuer(issuer).map_err(SsoError::Setup)?;
        let m = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| SsoError::Provider(error_chain(&e)))?;
        let named = [
            Some(m.authorization_endpoint().url()),
            m.token_endpoint().map(|u| u.url()),
            m.userinfo_endpoint().map(|u| u.url()),
            Some(m.jwks_uri().url()),
        ];
        for u in named.into_iter().flatten() {
            self.check_url(u)
                .map_err(|why| SsoError::Setup(format!("the provider names {u}, which {why}")))?;
        }
        self.discovered
            .lock()
            .expect("not poisoned")
            .insert(issuer.to_string(), (Instant::now(), m.clone()));
        Ok(m)
    }

    fn client(&self, m: CoreProviderMetadata, p: &ProviderConfig<'_>) -> Result<Client, SsoError> {
        Ok(Client::from_provider_metadata(
            m,
            ClientId::new(p.client_id.to_string()),
            Some(ClientSecret::new(p.client_secret.clone())),
        )
        .set_redirect_uri(
            RedirectUrl::new(format!("{}{}", self.base, p.response_mode.callback_path()))
                .map_err(|e| SsoError::Setup(e.to_string()))?,
        ))
    }

    /// Where to send the person, and what to keep until they come back. `login_hint`: the
    /// address they typed, so the provider need not ask for it again.
    pub async fn start(
        &self,
        p: &ProviderConfig<'_>,
        login_hint: Option<&str>,
    ) -> Result<Started, SsoError> {
        let client = self.client(self.metadata(p.issuer, false).await?, p)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in p.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(s.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.set_login_hint(LoginHint::new(hint.to_string()));
        }
        if let Some(domains) = p.hosted_domains {
            // Only a hint to Google's account chooser; the token's `hd` is what is checked.
            let hint = match domains {
                [one] => one.as_str(),
                _ => "*",
            };
            request = request.add_extra_param("hd", hint.to_string());
        }
        if p.response_mode == ResponseMode::FormPost {
            request = request.add_extra_param("response_mode", "form_post");
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// The person the provider vouches for, from the callback's `code`, checked against the
    /// `nonce` and PKCE verifier kept when the sign-in began.
    /// `require_verified`: the provider says whether it verified the e-mail (Entra ID never
    /// does; there the workspace's domains vouch for it).
    pub async fn finish(
        &self,
        p: &ProviderConfig<'_>,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
        require_verified: bool,
    ) -> Result<Identity, SsoError> {
        let metadata = self.metadata(p.issuer, false).await?;
        let userinfo_url = metadata.userinfo_endpoint().map(|u| u.url().clone());
        let client = self.client(metadata, p)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SsoError::Setup(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| SsoError::Token(error_chain(&e)))?;
        use openidconnect::{OAuth2TokenResponse, TokenResponse};
        let id_token = token
            .id_token()
            .ok_or_else(|| SsoError::Token("no ID token came with the tokens".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps a key we have not seen yet: look again, once.
                let fresh = self.client(self.metadata(p.issuer, true).await?, p)?;
                let verifier = fresh.id_token_verifier();
                let claims = id_token
                    .claims(&verifier, &nonce)
                    .map_err(|e| SsoError::Token(error_chain(&e)))?
                    .clone();
                claims
            }
            Err(e) => return Err(SsoError::Token(error_chain(&e))),
        };
        if let Some(domains) = p.hosted_domains {
            let hd = claims.additional_claims().hd.as_deref().unwrap_or_default();
            if !domains.iter().any(|d| d.eq_ignore_ascii_case(hd)) {
                return Err(SsoError::Refused(if hd.is_empty() {
                    "this Google account is not managed by the workspace's Google Workspace (a \
                     personal account, even at the workspace's domain, is not admitted)"
                        .into()
                } else {
                    format!(
                        "this Google account is managed by {hd}, not by the workspace's domains"
                    )
                }));
            }
        }
        let mut email = claims.email().map(|e| e.as_str().to_string());
        let mut verified = claims.email_verified();
        let mut name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string());
        let mut groups = Vec::new();
        // The e-mail (and groups) from userinfo when the ID token lacks them.
        if let Some(url) = userinfo_url {
            let info: serde_json::Value = self
                .http
                .get(url)
                .bearer_auth(token.access_token().secret())
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| SsoError::Provider(error_chain(&e)))?
                .bytes()
                .await
                .map_err(|e| SsoError::Provider(error_chain(&e)))
                .and_then(|b| {
                    serde_json::from_slice(&b).map_err(|e| SsoError::Provider(e.to_string()))
                })?;
            if info["sub"].as_str() != Some(claims.subject().as_str()) {
                return Err(SsoError::Token(
                    "userinfo names someone else than the ID token".into(),
                ));
            }
            if email.is_none() {
                email = info["email"].as_str().map(String::from);
            }
            if verified.is_none() {
                verified = match &info["email_verified"] {
                    serde_json::Value::Bool(b) => Some(*b),
                    // Some providers (Cognito) send it as a string.
                    serde_json::Value::String(s) => Some(s == "true"),
                    _ => None,
                };
            }
            if name.is_none() {
                name = info["name"].as_str().map(String::from);
            }
            groups = info["groups"]
                .as_array()
                .map(|g| {
                    g.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
        }
        let email = email.ok_or_else(|| {
            SsoError::Refused("the identity provider gave no e-mail address".into())
        })?;
        if require_verified && verified != Some(true) {
            return Err(SsoError::Refused(format!(
                "the identity provider has not verified {email}"
            )));
        }
        Ok(Identity {
            issuer: p.issuer.to_string(),
            subject: claims.subject().as_str().to_string(),
            name: name.unwrap_or_default(),
            email,
            email_verified: verified,
            groups,
        })
    }
}

/// An error and its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sso(allow_private: bool) -> Sso {
        let sealer = Sealer::new(Some(&"ab".repeat(32)), None).unwrap();
        Sso::new(Arc::new(sealer), allow_private, "http://127.0.0.1:3000").unwrap()
    }

    #[test]
    fn issuers_must_be_public_https_unless_private_ones_are_allowed() {
        let strict = sso(false);
        assert!(strict
            .check_issuer("https://login.example.com/tenant")
            .is_ok());
        for bad in [
            "http://login.example.com",
            "https://127.0.0.1:8443",
            "https://10.1.2.3",
            "https://localhost",
            "https://[::1]",
            "https://169.254.169.254",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:a9fe:a9fe]",
            "https://0.0.0.0",
        ] {
            assert!(strict.check_issuer(bad).is_err(), "{bad}");
        }
        let tests = sso(true);
        assert!(tests.check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(tests.check_issuer("http://login.example.com").is_err());
    }
}
