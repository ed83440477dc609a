//! Proof of e-mail domains, with a real DNS server run by the test (`end2end/dns/dns.mjs`,
//! npm `dns2`, answering TXT questions from a file the test rewrites): a domain sends people
//! to a workspace's provider only while its TXT record carries the workspace's token.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::*;

/// The DNS server, stopped when dropped.
pub(crate) struct Dns {
    _process: NodeHelper,
    pub(crate) addr: std::net::SocketAddr,
    file: PathBuf,
    records: std::sync::Mutex<serde_json::Map<String, Value>>,
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

impl Dns {
    pub(crate) fn start() -> Dns {
        let port = free_port();
        let file = std::env::temp_dir().join(format!("devpulse-dns-{port}.json"));
        std::fs::write(&file, "{}").unwrap();
        let env = [
            ("PORT", port.to_string()),
            ("RECORDS", file.display().to_string()),
        ];
        let process = NodeHelper::start("dns/dns.mjs", "dns2", &env);
        Dns {
            _process: process,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            file,
            records: Default::default(),
        }
    }

    /// Publishes (or, with no values, removes) the TXT records at `name`.
    pub(crate) fn set(&self, name: &str, values: &[&str]) {
        let mut records = self.records.lock().unwrap();
        if values.is_empty() {
            records.remove(name);
        } else {
            records.insert(name.into(), json!(values));
        }
        std::fs::write(&self.file, Value::Object(records.clone()).to_string()).unwrap();
    }

    /// Publishes the records an admin is asked for in `settings` (the provider's), for every
    /// domain named.
    pub(crate) fn publish_all(&self, settings: &Value, also: &[&str]) {
        for d in settings["domains"].as_array().unwrap() {
            let mut values = vec![d["record_value"].as_str().unwrap()];
            values.extend_from_slice(also);
            self.set(d["record_name"].as_str().unwrap(), &values);
        }
    }
}

pub(crate) async fn verify(server: &TestServer, admin: &str, domain: &str) -> (u16, Value) {
    let (status, body) = call(
        server,
        reqwest::Method::POST,
        &format!("/api/v1/sso/domains/{domain}/verify"),
        Some(admin),
        None,
    )
    .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_domain_is_proven_by_its_txt_record_and_unproven_when_it_goes() {
    let dns = Dns::start();
    let addr = dns.addr;
    let mut server = TestServer::start_with(|c| c.dns_server = Some(addr)).await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, settings) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({
            "issuer": "http://127.0.0.1:9", "client_id": "devpulse", "client_secret": "s3cret",
            "email_domains": ["demo.test"],
        })),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    let proof = &settings["domains"][0];
    assert_eq!(proof["domain"], "demo.test");
    assert_eq!(proof["record_name"], "_devpulse-challenge.demo.test");
    let value = proof["record_value"].as_str().unwrap().to_string();
    assert!(
        value.starts_with("devpulse-domain-verification="),
        "{value}"
    );
    assert!(proof["verified_at"].is_null());

    // No record yet; then someone else's token: not proven, and said why.
    let (status, found) = verify(&server, &admin, "demo.test").await;
    assert_eq!(status, 200, "{found}");
    assert!(found["verified_at"].is_null());
    assert!(
        found["last_error"]
            .as_str()
            .unwrap()
            .contains("no TXT record"),
        "{found}"
    );
    dns.set(
        "_devpulse-challenge.demo.test",
        &["devpulse-domain-verification=not-yours", "v=spf1 -all"],
    );
    let (_, found) = verify(&server, &admin, "demo.test").await;
    assert!(
        found["last_error"]
            .as_str()
            .unwrap()
            .contains("do not include"),
        "{found}"
    );

    // The right record among others: proven.
    dns.set("_devpulse-challenge.demo.test", &["v=spf1 -all", &value]);
    let (_, found) = verify(&server, &admin, "demo.test").await;
    assert!(found["verified_at"].is_string(), "{found}");
    assert!(found["last_error"].is_null(), "{found}");
    let (_, settings) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/sso",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(settings["domains"][0]["verified_at"], found["verified_at"]);

    // Gone from DNS: no longer proven at the next look.
    dns.set("_devpulse-challenge.demo.test", &[]);
    let (_, found) = verify(&server, &admin, "demo.test").await;
    assert!(found["verified_at"].is_null(), "{found}");

    // DNS that does not answer says nothing about the record: a proof held stays.
    dns.set("_devpulse-challenge.demo.test", &[&value]);
    let (_, found) = verify(&server, &admin, "demo.test").await;
    let since = found["verified_at"].clone();
    assert!(since.is_string(), "{found}");
    drop(dns);
    let (_, found) = verify(&server, &admin, "demo.test").await;
    assert_eq!(found["verified_at"], since, "{found}");
    assert!(
        found["last_error"].as_str().unwrap().contains("failed"),
        "{found}"
    );

    // Only the provider's own domains are looked up, by admins only.
    let (status, _) = verify(&server, &admin, "example.com").await;
    assert_eq!(status, 404);
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/sso/domains/demo.test/verify",
        Some(&dev),
        None,
    )
    .await;
    assert_eq!(status, 403);
    // Every look is in the audit log.
    let (_, log) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=sso.domain_checked",
        Some(&admin),
        None,
    )
    .await;
    assert!(
        log.to_string().matches("sso.domain_checked").count() >= 4,
        "{log}"
    );
    server.shutdown().await;
}
