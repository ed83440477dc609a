//! SAML 2.0 sign-in against a real identity provider (npm `samlify`, run by the test as a
//! subprocess; `end2end/idp/saml.mjs`), driven without a browser. The IdP reads devpulse's
//! SP metadata from the request's issuer and signs its answers; its `/issue` endpoint lets the
//! test ask for an answer for a given request with the audience or age wrong.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    common::*,
    sso::{browser, location, profile, refused},
};

struct SamlIdp {
    _process: NodeHelper,
    url: String,
}

fn saml_idp() -> SamlIdp {
    saml_idp_on(free_port(), false)
}

/// The IdP on `port`; `rotated`: signing with its second key pair.
fn saml_idp_on(port: u16, rotated: bool) -> SamlIdp {
    let env = [
        ("PORT", port.to_string()),
        ("ROTATED", if rotated { "1" } else { "0" }.to_string()),
    ];
    SamlIdp {
        _process: NodeHelper::start("idp/saml.mjs", "samlify", &env),
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn configure(server: &TestServer, admin: &str, idp: &SamlIdp) -> Value {
    let (status, body) = call(
        server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(admin),
        Some(json!({
            "protocol": "saml",
            "saml_metadata_url": format!("{}/metadata", idp.url),
            "group_roles": { "admins": "tenant_admin" },
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// "Continue with SSO" for `workspace`: the address of the IdP's sign-in page, with the
/// request and its RelayState.
async fn to_idp(b: &reqwest::Client, server: &TestServer, workspace: &str) -> String {
    let r = b
        .get(server.url(&format!(
            "/auth/sso/start?workspace={workspace}&next=%2Fsessions"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    page.split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a link onwards in {page}"))
        .replace("&amp;", "&")
}

/// What the IdP answers to the request in `request` (an address from `to_idp`).
struct Answer {
    acs: String,
    response: String,
    relay_state: String,
}

async fn issue(idp: &SamlIdp, request: &str, person: Value) -> Answer {
    let mut body = person;
    body["request"] = json!(request);
    let r = reqwest::Client::new()
        .post(format!("{}/issue", idp.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    Answer {
        acs: v["acs"].as_str().unwrap().into(),
        response: v["SAMLResponse"].as_str().unwrap().into(),
        relay_state: v["RelayState"].as_str().unwrap().into(),
    }
}

/// Posts an answer to the ACS as browser `b` would: where it is sent in the end. Without the
/// sign-in's cookie (spent, or another browser's), the answer is the relay page, which posts
/// the same fields again.
async fn post(b: &reqwest::Client, server: &TestServer, a: &Answer) -> String {
    let fields = [
        ("SAMLResponse", a.response.as_str()),
        ("RelayState", a.relay_state.as_str()),
    ];
    let mut r = b.post(&a.acs).form(&fields).send().await.unwrap();
    if r.status() == StatusCode::OK {
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"relay\""), "{page}");
        r = b
            .post(&a.acs)
            .form(&[fields[0], fields[1], ("relayed", "1")])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r, &server.url(""))
}

fn xml(a: &Answer) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&a.response)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

fn with_xml(a: &Answer, xml: &str) -> Answer {
    use base64::Engine;
    Answer {
        acs: a.acs.clone(),
        response: base64::engine::general_purpose::STANDARD.encode(xml),
        relay_state: a.relay_state.clone(),
    }
}

fn ada() -> Value {
    json!({ "email": "ada@demo.test", "name": "Ada L", "groups": ["admins"], "subject": "ada-0001" })
}

#[tokio::test]
async fn a_workspace_signs_people_in_through_its_saml_idp_and_refuses_what_does_not_check_out() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = saml_idp();
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;

    // Metadata that gives no way to check an answer is refused by field.
    let (status, problem) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({
            "protocol": "saml",
            "saml_metadata": "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://idp.example.com\"><IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example.com/sso\"/></IDPSSODescriptor></EntityDescriptor>",
        })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"][0]["pointer"], "/saml_metadata",
        "{problem}"
    );
    assert!(
        problem.to_string().contains("signing certificate"),
        "{problem}"
    );

    let settings = configure(&server, &admin, &idp).await;
    assert_eq!(settings["protocol"], "saml");
    assert_eq!(settings["issuer"], format!("{}/metadata", idp.url));
    let sp_entity = server.url("/auth/saml/demo/metadata");
    assert_eq!(settings["saml"]["sp_entity_id"], sp_entity);
    assert_eq!(settings["saml"]["acs_url"], server.url("/auth/saml/acs"));
    assert_eq!(settings["saml"]["signing_certificates"], 1);
    // The SP metadata the IdP was configured from.
    let r = reqwest::get(&sp_entity).await.unwrap();
    assert_eq!(r.status(), 200);
    let sp_xml = r.text().await.unwrap();
    assert!(sp_xml.contains(&server.url("/auth/saml/acs")), "{sp_xml}");
    assert!(sp_xml.contains("WantAssertionsSigned=\"true\""));

    // A first sign-in makes the account just in time, with the role its group maps to.
    let b = browser();
    let request = to_idp(&b, &server, "demo").await;
    assert!(
        request.starts_with(&format!("{}/sso?SAMLRequest=", idp.url)),
        "{request}"
    );
    let answer = issue(&idp, &request, ada()).await;
    assert_eq!(post(&b, &server, &answer).await, server.url("/sessions"));
    let me = profile(&b, &server).await;
    assert_eq!(me["email"], "ada@demo.test");
    assert_eq!(me["name"], "Ada L");
    assert_eq!(me["role"], "tenant_admin");
    let id = me["id"].clone();

    // The same answer again: the sign-in it answered is spent.
    refused(
        &post(&b, &server, &answer).await,
        "expired or was already used",
    );
    // Even made to look like the answer to a new sign-in, an assertion is used once only.
    let b1 = browser();
    let fresh = to_idp(&b1, &server, "demo").await;
    let old_request_id = xml(&answer)
        .split("InResponseTo=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let pool = sqlx::PgPool::connect(server.db.url()).await.unwrap();
    sqlx::query("UPDATE sso_pending SET nonce = $1")
        .bind(&old_request_id)
        .execute(&pool)
        .await
        .unwrap();
    let replay = Answer {
        relay_state: reqwest::Url::parse(&fresh)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "RelayState")
            .unwrap()
            .1
            .into_owned(),
        ..answer
    };
    refused(
        &post(&b1, &server, &replay).await,
        "already used to sign in",
    );

    // A second sign-in is the same account (linked by the IdP and the NameID).
    let b2 = browser();
    let request = to_idp(&b2, &server, "demo").await;
    let answer = issue(&idp, &request, ada()).await;
    post(&b2, &server, &answer).await;
    assert_eq!(profile(&b2, &server).await["id"], id);

    // An unsigned answer: the signature taken out.
    let b3 = browser();
    let request = to_idp(&b3, &server, "demo").await;
    let answer = issue(&idp, &request, ada()).await;
    let signed = xml(&answer);
    let start = signed
        .find("<ds:Signature")
        .expect("the assertion is signed");
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..start], &signed[end..]);
    refused(
        &post(&b3, &server, &with_xml(&answer, &unsigned)).await,
        "not signed",
    );

    // A tampered assertion: someone else's address put in after signing.
    let b4 = browser();
    let request = to_idp(&b4, &server, "demo").await;
    let answer = issue(&idp, &request, ada()).await;
    let tampered = xml(&answer).replace("ada@demo.test", "admin@demo.test");
    refused(
        &post(&b4, &server, &with_xml(&answer, &tampered)).await,
        "changed after signing",
    );

    // An assertion meant for another service.
    let b5 = browser();
    let request = to_idp(&b5, &server, "demo").await;
    let mut person = ada();
    person["audience"] = json!(server.url("/auth/saml/other/metadata"));
    let answer = issue(&idp, &request, person).await;
    refused(&post(&b5, &server, &answer).await, "another service");

    // An expired assertion (issued an hour ago).
    let b6 = browser();
    let request = to_idp(&b6, &server, "demo").await;
    let mut person = ada();
    person["ageSeconds"] = json!(3600);
    let answer = issue(&idp, &request, person).await;
    refused(&post(&b6, &server, &answer).await, "expired");

    // Issued longer ago than an answer may take to arrive, though its conditions still hold.
    let b7 = browser();
    let request = to_idp(&b7, &server, "demo").await;
    let mut person = ada();
    person["ageSeconds"] = json!(150);
    let answer = issue(&idp, &request, person).await;
    refused(&post(&b7, &server, &answer).await, "expired");

    // An answer to another request than the one this browser's sign-in sent (all else right).
    let b8 = browser();
    let request = to_idp(&b8, &server, "demo").await;
    let answer = issue(&idp, &request, ada()).await;
    sqlx::query("UPDATE sso_pending SET nonce = '_another-request'")
        .execute(&pool)
        .await
        .unwrap();
    refused(
        &post(&b8, &server, &answer).await,
        "not for the sign-in this browser began",
    );

    // A one-time NameID could not name the same person next time.
    let b9 = browser();
    let request = to_idp(&b9, &server, "demo").await;
    let mut person = ada();
    person["nameIdFormat"] = json!("urn:oasis:names:tc:SAML:2.0:nameid-format:transient");
    let answer = issue(&idp, &request, person).await;
    refused(&post(&b9, &server, &answer).await, "transient");

    // An IdP that did not sign the person in says so, often unsigned: its words, not a
    // signature failure.
    let b10 = browser();
    let request = to_idp(&b10, &server, "demo").await;
    let mut person = ada();
    person["status"] = json!("urn:oasis:names:tc:SAML:2.0:status:Responder");
    let answer = issue(&idp, &request, person).await;
    let signed = xml(&answer);
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..start], &signed[end..]);
    refused(
        &post(&b10, &server, &with_xml(&answer, &unsigned)).await,
        "did not sign you in (Responder)",
    );

    // The failures are in the workspace's audit log, with their reasons.
    let (status, log) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=sso.failed",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let reasons = log.to_string();
    for why in ["not signed", "another service", "expired", "already used"] {
        assert!(reasons.contains(why), "{why} in {reasons}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_answer_for_one_workspace_never_signs_anyone_into_another() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = saml_idp();
    let demo = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let other = login(&server, "other", "admin@other.test", "other-admin-pass").await;
    configure(&server, &demo, &idp).await;
    configure(&server, &other, &idp).await;

    // One browser begins sign-ins to both; the answer to `other`'s request is posted with
    // `demo`'s RelayState: the audience and InResponseTo are `other`'s, so `demo` refuses it.
    let b = browser();
    let to_demo = to_idp(&b, &server, "demo").await;
    let b_other = browser();
    let to_other = to_idp(&b_other, &server, "other").await;
    let for_other = issue(&idp, &to_other, ada()).await;
    let for_demo = issue(&idp, &to_demo, ada()).await;
    let swapped = Answer {
        relay_state: for_demo.relay_state.clone(),
        ..for_other
    };
    let to = post(&b, &server, &swapped).await;
    assert!(to.contains("/login"), "{to}");
    assert_eq!(
        b.get(server.url("/api/v1/profile"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // A RelayState this browser did not begin finds nothing either.
    let stolen = Answer {
        relay_state: for_demo.relay_state.clone(),
        ..issue(&idp, &to_idp(&browser(), &server, "demo").await, ada()).await
    };
    refused(
        &post(&browser(), &server, &stolen).await,
        "expired or was already used",
    );
    // `other`'s own browser still signs in to `other`.
    let for_other = issue(&idp, &to_other, ada()).await;
    assert_eq!(
        post(&b_other, &server, &for_other).await,
        server.url("/sessions")
    );
    let me = profile(&b_other, &server).await;
    assert_eq!(me["tenant"], "other", "{me}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_rotated_idp_key_is_followed_through_the_metadata_address_and_only_there() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let port = free_port();
    let idp = saml_idp_on(port, false);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    configure(&server, &admin, &idp).await;
    let old_metadata = reqwest::get(format!("{}/metadata", idp.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let b = browser();
    let answer = issue(&idp, &to_idp(&b, &server, "demo").await, ada()).await;
    assert_eq!(post(&b, &server, &answer).await, server.url("/sessions"));

    // Metadata an admin uploaded has no address to follow: after the IdP rotates its key, the
    // old certificate stays the only one trusted, and the new key's answers are refused until
    // an admin saves new metadata.
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({ "protocol": "saml", "saml_metadata": old_metadata })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["saml"]["metadata_url"].is_null(), "{body}");
    drop(idp);
    let idp = saml_idp_on(port, true);
    let b = browser();
    let answer = issue(&idp, &to_idp(&b, &server, "demo").await, ada()).await;
    refused(&post(&b, &server, &answer).await, "not signed");

    // Saved from its address (before the rotation), the metadata is fetched again when the
    // first answer signed with the new key fails, and the answer is accepted.
    drop(idp);
    let idp = saml_idp_on(port, false);
    configure(&server, &admin, &idp).await;
    drop(idp);
    let idp = saml_idp_on(port, true);
    let b = browser();
    let answer = issue(&idp, &to_idp(&b, &server, "demo").await, ada()).await;
    assert_eq!(post(&b, &server, &answer).await, server.url("/sessions"));
    assert_eq!(profile(&b, &server).await["email"], "ada@demo.test");
    let (_, log) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=sso.metadata_refreshed",
        Some(&admin),
        None,
    )
    .await;
    assert!(log.to_string().contains("sso.metadata_refreshed"), "{log}");
    server.shutdown().await;
}
