//! Single sign-on through a workspace's SAML 2.0 identity provider, SP-initiated only: the
//! AuthnRequest leaves by the HTTP-Redirect binding, the Response comes back by HTTP-POST to
//! one assertion consumer service for every workspace.
//!
//! What makes a Response acceptable (`samael` with libxmlsec1 does the XML signature):
//! - it, or its assertion, is signed by a certificate in the IdP's metadata: metadata without a
//!   signing certificate is refused when saved, because samael skips the check without one;
//! - the signature uses RSA or ECDSA with SHA-2 (no SHA-1, no algorithm substitution);
//! - destination, recipient and `InResponseTo` name our ACS and the request this browser
//!   began; the issuer is the IdP's entity ID;
//! - the assertion is restricted to our entity ID as its audience (samael lets an assertion
//!   without an audience restriction through; we do not);
//! - `NotBefore`/`NotOnOrAfter` hold within [`CLOCK_SKEW`];
//! - its ID has not been used before (the caller keeps the replay cache).

use chrono::{DateTime, Duration, Utc};
use samael::{
    crypto::AllowedSignatureAlgorithm,
    metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING},
    schema::Assertion,
    service_provider::ServiceProvider,
    traits::ToXml,
};
use types::sso::SamlAttributes;

use super::sso::{Identity, SsoError};

const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

/// How far the IdP's clock may be from ours.
const CLOCK_SKEW: Duration = Duration::seconds(60);
/// How old a Response or assertion may be when it arrives.
const MAX_ISSUE_DELAY: Duration = Duration::seconds(120);
/// The longest metadata document accepted (an IdP's is a few kilobytes).
pub const MAX_METADATA: usize = 200_000;

/// What devpulse is to a workspace's IdP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp {
    /// Also the address of its metadata.
    pub entity_id: String,
    pub acs_url: String,
}

/// The assertion consumer service: one for every workspace; the request the Response
/// answers says which workspace it is.
pub const ACS_PATH: &str = "/auth/saml/acs";

impl Sp {
    /// devpulse as the service provider of workspace `slug` (slugs never change).
    pub fn of(public_url: &str, slug: &str) -> Sp {
        let base = public_url.trim_end_matches('/');
        Sp {
            entity_id: format!("{base}/auth/saml/{slug}/metadata"),
            acs_url: format!("{base}{ACS_PATH}"),
        }
    }

    /// The SP metadata an IdP is configured from. Requests are not signed (the redirect
    /// carries nothing an attacker could use); assertions must be.
    pub fn metadata(&self) -> String {
        let entity = crate::mail::templates::escape(&self.entity_id);
        let acs = crate::mail::templates::escape(&self.acs_url);
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\n\
             \x20 <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
             protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
             \x20   <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n\
             \x20   <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n\
             \x20   <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
             Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n\
             \x20 </md:SPSSODescriptor>\n\
             </md:EntityDescriptor>\n"
        )
    }
}

/// An IdP as its metadata describes it.
#[derive(Clone, Debug)]
pub struct Idp {
    pub entity_id: String,
    /// Where sign-in requests go (HTTP-Redirect binding).
    pub sso_url: String,
    pub signing_certificates: usize,
    descriptor: EntityDescriptor,
}

impl Idp {
    /// Reads an IdP's metadata; refuses one devpulse could not use safely.
    pub fn read(xml: &str) -> Result<Idp, String> {
        if xml.len() > MAX_METADATA {
            return Err("is longer than an identity provider's metadata can be".into());
        }
        let descriptor: EntityDescriptor = xml
            .trim()
            .parse()
            .map_err(|_| "is not SAML metadata (an EntityDescriptor)".to_string())?;
        let entity_id = descriptor
            .entity_id
            .clone()
            .filter(|e| !e.trim().is_empty())
            .ok_or("names no entityID")?;
        if !(8..=500).contains(&entity_id.len()) {
            return Err("has an entityID shorter than 8 or longer than 500 characters".into());
        }
        let idps = descriptor
            .idp_sso_descriptors
            .as_deref()
            .filter(|d| !d.is_empty())
            .ok_or("describes no identity provider (no IDPSSODescriptor)")?;
        let sso_url = idps
            .iter()
            .flat_map(|d| &d.single_sign_on_services)
            .find(|s| s.binding == HTTP_REDIRECT_BINDING)
            .map(|s| s.location.clone())
            .ok_or("offers no SingleSignOnService with the HTTP-Redirect binding")?;
        let signing_certificates = ServiceProvider {
            idp_metadata: descriptor.clone(),
            ..ServiceProvider::default()
        }
        .idp_signing_certs()
        .map_err(|_| "has a signing certificate that cannot be read".to_string())?
        .map_or(0, |c| c.len());
        if signing_certificates == 0 {
            return Err("names no signing certificate, so no answer could be checked".into());
        }
        Ok(Idp {
            entity_id,
            sso_url,
            signing_certificates,
            descriptor,
        })
    }

    fn service_provider(&self, sp: &Sp) -> ServiceProvider {
        ServiceProvider {
            // A subject that stays the same from one sign-in to the next: accounts are linked by it.
            authn_name_id_format: Some(PERSISTENT.into()),
            entity_id: Some(sp.entity_id.clone()),
            metadata_url: Some(sp.entity_id.clone()),
            acs_url: Some(sp.acs_url.clone()),
            slo_url: None,
            idp_metadata: self.descriptor.clone(),
            allow_idp_initiated: false,
            max_issue_delay: MAX_ISSUE_DELAY,
            max_clock_skew: CLOCK_SKEW,
            allowed_signature_algorithms: Some(vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ]),
            ..ServiceProvider::default()
        }
    }

    /// A sign-in request: the address to send the browser to, and the request's ID, which the
    /// answer must name. `relay_state` comes back with the answer.
    pub fn start(&self, sp: &Sp, relay_state: &str) -> Result<(String, String), SsoError> {
        let mut request = self
            .service_provider(sp)
            .make_authentication_request(&self.sso_url)
            .map_err(|e| SsoError::Setup(e.to_string()))?;
        // An ID must not start with a digit (xs:ID); samael's is a 32-bit number.
        request.id = format!("_{}", store::secrets::random_token(24));
        let xml = request
            .to_string()
            .map_err(|e| SsoError::Setup(format!("{e:?}")))?;
        let url = redirect_url(&self.sso_url, &xml, relay_state)?;
        Ok((url, request.id))
    }

    /// The person a posted `SAMLResponse` (base64) vouches for, if it checks out as the
    /// answer to request `request_id`; with the assertion's ID and when it stops being valid,
    /// for the replay cache.
    pub fn finish(
        &self,
        sp: &Sp,
        response: &str,
        request_id: &str,
        attributes: &SamlAttributes,
    ) -> Result<(Identity, String, DateTime<Utc>), SsoError> {
        // Some IdPs wrap the base64 in lines.
        let response: String = response.chars().filter(|c| !c.is_whitespace()).collect();
        refused_by_idp(&response)?;
        let assertion = self
            .service_provider(sp)
            .parse_base64_response(&response, Some(&[request_id]))
            .map_err(|e| {
                let signature = matches!(
                    e.downcast_ref::<samael::service_provider::Error>(),
                    Some(samael::service_provider::Error::FailedToValidateSignature)
                );
                if signature {
                    SsoError::Signature(explain(&*e))
                } else {
                    SsoError::Token(explain(&*e))
                }
            })?;
        let audience_named = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .is_some_and(|r| r.iter().any(|r| r.audience.contains(&sp.entity_id)));
        if !audience_named {
            return Err(SsoError::Token(format!(
                "the assertion is not restricted to this workspace ({}) as its audience",
                sp.entity_id
            )));
        }
        let expires = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.not_on_or_after)
            .unwrap_or_else(|| assertion.issue_instant + MAX_ISSUE_DELAY)
            + CLOCK_SKEW;
        let who = identity(&self.entity_id, &assertion, attributes)?;
        Ok((who, assertion.id.clone(), expires))
    }
}

/// An IdP that could not or would not sign someone in answers with an error status, often
/// unsigned: said in its words, instead of as a signature failure. Reading an unsigned status
/// can only ever refuse.
fn refused_by_idp(response: &str) -> Result<(), SsoError> {
    use base64::Engine;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(response) else {
        return Ok(());
    };
    let Ok(parsed) = std::str::from_utf8(&bytes)
        .unwrap_or_default()
        .parse::<samael::schema::Response>()
    else {
        return Ok(());
    };
    let Some(status) = parsed.status else {
        return Ok(());
    };
    match status.status_code.value.as_deref() {
        None | Some("urn:oasis:names:tc:SAML:2.0:status:Success") => Ok(()),
        Some(code) => {
            let code = code.rsplit(':').next().unwrap_or(code);
            let message = status
                .status_message
                .and_then(|m| m.value)
                .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            Err(SsoError::Refused(format!(
                "the identity provider did not sign you in ({code}{message})"
            )))
        }
    }
}

/// The person an accepted assertion names.
fn identity(
    issuer: &str,
    assertion: &Assertion,
    names: &SamlAttributes,
) -> Result<Identity, SsoError> {
    let subject = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .ok_or_else(|| SsoError::Token("the assertion names no subject (NameID)".into()))?;
    if subject.format.as_deref() == Some(TRANSIENT) {
        return Err(SsoError::Refused(
            "the identity provider sent a one-time (transient) NameID, which cannot name the same \
             person next time; configure it to send a persistent NameID or the e-mail address"
                .into(),
        ));
    }
    let name_id = Some(subject.value.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SsoError::Token("the assertion names no subject (NameID)".into()))?;
    let values = |wanted: &str| -> Vec<String> {
        assertion
            .attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| &s.attributes)
            .filter(|a| {
                a.name.as_deref() == Some(wanted) || a.friendly_name.as_deref() == Some(wanted)
            })
            .flat_map(|a| &a.values)
            .filter_map(|v| v.value.as_deref().map(str::trim))
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect()
    };
    let email = values(&names.email)
        .into_iter()
        .next()
        .or_else(|| name_id.contains('@').then(|| name_id.clone()))
        .ok_or_else(|| {
            SsoError::Refused(format!(
                "the identity provider sent no e-mail address (attribute “{}”)",
                names.email
            ))
        })?;
    Ok(Identity {
        issuer: issuer.to_string(),
        subject: name_id,
        name: values(&names.name).into_iter().next().unwrap_or_default(),
        email,
        // SAML has no such claim: the workspace trusts its IdP, and only links existing
        // accounts in the domains it named.
        email_verified: None,
        groups: values(&names.groups),
    })
}

/// The HTTP-Redirect binding: the request deflated, base64'd and put in the query.
fn redirect_url(sso_url: &str, xml: &str, relay_state: &str) -> Result<String, SsoError> {
    use std::io::Write;
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| SsoError::Setup(e.to_string()))?;
    let deflated = deflater
        .finish()
        .map_err(|e| SsoError::Setup(e.to_string()))?;
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut url = openidconnect::url::Url::parse(sso_url).map_err(|_| {
        SsoError::Setup(format!("the IdP's sign-in address {sso_url} is not a URL"))
    })?;
    url.query_pairs_mut()
        .append_pair("SAMLRequest", &encoded)
        .append_pair("RelayState", relay_state);
    Ok(url.to_string())
}

/// samael's errors in words; its own messages are for developers.
fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    use samael::service_provider::Error as E;
    let Some(e) = e.downcast_ref::<E>() else {
        return "the answer is not a SAML Response".into();
    };
    match e {
        E::FailedToValidateSignature => {
            "the answer is not signed by the identity provider's certificate (unsigned, or changed after signing)".into()
        }
        E::AssertionConditionAudienceRestrictionFailed { .. } => {
            "the assertion is meant for another service (its audience is not this workspace)".into()
        }
        E::AssertionExpired { .. }
        | E::ResponseExpired { .. }
        | E::AssertionConditionExpired { .. }
        | E::AssertionSubjectConfirmationExpired { .. } => "the assertion has expired".into(),
        E::AssertionConditionExpiredBefore { .. }
        | E::AssertionSubjectConfirmationExpiredBefore { .. } => {
            "the assertion is not valid yet (is a clock wrong?)".into()
        }
        E::ResponseInResponseToInvalid { .. } | E::AssertionInResponseToInvalid { .. } => {
            "the answer is not for the sign-in this browser began".into()
        }
        E::DestinationValidationError { .. } | E::AssertionRecipientMismatch { .. } => {
            "the answer was addressed to another service".into()
        }
        E::ResponseIssuerMismatch { .. } | E::AssertionIssuerMismatch { .. } => {
            "the answer comes from another identity provider".into()
        }
        E::ResponseBadStatusCode { code } => format!("the identity provider refused: {code}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDP: &str = r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/metadata">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>CERT</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </IDPSSODescriptor>
</EntityDescriptor>"#;

    // A self-signed certificate (openssl req -x509, P-256).
    const CERT: &str = "MIIBljCCAT2gAwIBAgIUBsoFvDoqm5tevQAEjmwdMqkdpAgwCgYIKoZIzj0EAwIwITEfMB0GA1UEAwwWZGV2cHVsc2UgdGVzdCBTQU1MIGlkcDAeFw0yNjEyMDYwOTEzNTJaFw0zNjEyMDMwOTEzNTJaMCExHzAdBgNVBAMMFmRldnB1bHNlIHRlc3QgU0FNTCBpZHAwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASGicqzkv7UNLs5SZAOuivH3aWOklOQMwo2h6FN41Jc3Wb1VOlX9KmfFxlpGQoCa97jp1wqRb2UA1qkx7CMEcE4o1MwUTAdBgNVHQ4EFgQUAzOGASx6YVUgVdIABKeSjC1QIVswHwYDVR0jBBgwFoAUAzOGASx6YVUgVdIABKeSjC1QIVswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAKS3WB5lUElrCLI+mjQNql6wJvsD1QQxIv4SXsqzZ9WAIgU3tdRr1VeVhA6O6YKR4SuAUJq1wsXeXfkb097xxg8ms=";

    #[test]
    fn metadata_without_a_signing_certificate_or_redirect_sign_in_is_refused() {
        let idp = Idp::read(&IDP.replace("CERT", CERT)).unwrap();
        assert_eq!(idp.entity_id, "https://idp.example.com/metadata");
        assert_eq!(idp.sso_url, "https://idp.example.com/sso");
        assert_eq!(idp.signing_certificates, 1);
        let unsigned = IDP.replace(
            r#"<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>CERT</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"#,
            "",
        );
        assert!(Idp::read(&unsigned)
            .unwrap_err()
            .contains("signing certificate"));
        let post_only = IDP
            .replace("CERT", CERT)
            .replace("HTTP-Redirect", "HTTP-POST");
        assert!(Idp::read(&post_only).unwrap_err().contains("HTTP-Redirect"));
        assert!(Idp::read("<html/>").is_err());
    }

    #[test]
    fn sp_metadata_names_the_workspace_and_one_acs() {
        let sp = Sp::of("https://pulse.example.com/", "acme");
        assert_eq!(
            sp.entity_id,
            "https://pulse.example.com/auth/saml/acme/metadata"
        );
        assert_eq!(sp.acs_url, "https://pulse.example.com/auth/saml/acs");
        let xml = sp.metadata();
        let parsed: EntityDescriptor = xml.parse().expect("our metadata parses");
        assert_eq!(parsed.entity_id.as_deref(), Some(sp.entity_id.as_str()));
        assert!(xml.contains("WantAssertionsSigned=\"true\""));
    }

    #[test]
    fn a_request_goes_by_redirect_with_its_relay_state() {
        let idp = Idp {
            entity_id: "https://idp.example.com/metadata".into(),
            sso_url: "https://idp.example.com/sso?tenant=1".into(),
            signing_certificates: 1,
            descriptor: IDP.parse().unwrap(),
        };
        let sp = Sp::of("http://127.0.0.1:3000", "acme");
        let (url, id) = idp.start(&sp, "relay-me").unwrap();
        let url = openidconnect::url::Url::parse(&url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "1");
        assert_eq!(q["RelayState"], "relay-me");
        use base64::Engine;
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(&q["SAMLRequest"])
            .unwrap();
        let mut xml = String::new();
        use std::io::Read;
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains(&format!("ID=\"{id}\"")), "{xml}");
        assert!(xml.contains(&sp.acs_url), "{xml}");
        assert!(id.starts_with('_'));
    }
}
