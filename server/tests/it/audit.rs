//! Every audited change writes exactly one audit entry, with the same action, target and
//! payload keys whichever door it came through: the REST API, a server function (the UI), or
//! the operator CLI. The entries are read back through `GET /api/v1/audit`, as an admin would.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{call, client, login, seed_two_tenants, user_id, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// The payload keys of every audited action this test drives.
const PAYLOAD_KEYS: &[(&str, &[&str])] = &[
    ("team.created", &["name"]),
    ("team.renamed", &["name"]),
    ("team.deleted", &[]),
    ("team.member_set", &["is_manager", "user"]),
    ("team.member_removed", &["user"]),
    ("api_key.created", &["owner", "prefix", "scopes"]),
    ("api_key.revoked", &["prefix"]),
    ("user.created", &["email", "role"]),
    ("user.invited", &["email", "emailed", "expires_at", "role"]),
    ("user.role_changed", &["from", "to"]),
    ("user.deactivated", &["api_keys_revoked"]),
    ("user.reactivated", &[]),
    (
        "user.password_link_issued",
        &["emailed", "expires_at", "kind"],
    ),
    ("user.invitation_accepted", &[]),
    ("password.reset", &[]),
    ("password.changed", &[]),
    (
        "price.set",
        &["cache_read", "cache_write", "input", "output"],
    ),
    ("price.reset", &[]),
    (
        "import.rolled_back",
        &[
            "api_requests",
            "events",
            "owner",
            "prompts",
            "sessions",
            "tool_runs",
        ],
    ),
    ("login.succeeded", &[]),
    ("logout", &[]),
    ("logout.everywhere", &[]),
    ("session.family_revoked", &["family_id", "reason"]),
    ("tenant.created", &["name"]),
    ("tenant.suspended", &[]),
    ("tenant.reactivated", &[]),
    ("tenant.deleted", &[]),
];

const REST: &str = "REST";
const SERVER_FN: &str = "server function";
const CLI: &str = "CLI";

/// The entries seen so far, by action, each with the door it came through.
struct Audit<'a> {
    server: &'a TestServer,
    seen: BTreeMap<&'static str, Vec<(&'static str, Value)>>,
}

impl Audit<'_> {
    /// The entries of `action` in the log `reader` sees (their tenant's, or the registry's for
    /// a super admin), newest first.
    async fn entries(&self, reader: &str, action: &str) -> Vec<Value> {
        let path = format!("/api/v1/audit?limit=1000&action={action}");
        let (status, log) = call(self.server, Method::GET, &path, Some(reader), None).await;
        assert_eq!(status, 200, "{log}");
        log.as_array().unwrap().clone()
    }

    async fn count(&self, reader: &str, action: &str) -> usize {
        self.entries(reader, action).await.len()
    }

    /// Asserts that the change just made through `door` added exactly one `action` entry, on
    /// `target`, by `actor`, and keeps it for comparing doors.
    async fn expect(
        &mut self,
        reader: &str,
        door: &'static str,
        action: &'static str,
        before: usize,
        target: &str,
        actor: &str,
    ) {
        let entries = self.entries(reader, action).await;
        assert_eq!(
            entries.len(),
            before + 1,
            "{action} through {door}: one new entry, got {entries:#?}"
        );
        let entry = entries[0].clone();
        assert_eq!(entry["target"], target, "{action} through {door}: {entry}");
        assert_eq!(entry["actor"], actor, "{action} through {door}: {entry}");
        self.seen.entry(action).or_default().push((door, entry));
    }

    /// Every action's entries carry the payload keys of the table, through every door, and
    /// every action the table names was seen.
    fn assert_one_shape_per_action(&self) {
        for (action, keys) in PAYLOAD_KEYS {
            let want: BTreeSet<&str> = keys.iter().copied().collect();
            let seen = self
                .seen
                .get(action)
                .unwrap_or_else(|| panic!("{action} was never exercised"));
            for (door, entry) in seen {
                let got: BTreeSet<&str> = entry["details"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{action} through {door}: {entry}"))
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(got, want, "{action} through {door}: {entry}");
            }
        }
        assert_eq!(
            self.seen.len(),
            PAYLOAD_KEYS.len(),
            "actions seen but not in the table: {:?}",
            self.seen.keys()
        );
    }

    fn doors(&self, action: &str) -> BTreeSet<&'static str> {
        self.seen[action].iter().map(|(door, _)| *door).collect()
    }
}

/// A server function, called as the UI does: a form post with the session.
async fn server_fn(
    server: &TestServer,
    token: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Value {
    let (status, body) = crate::common::server_fn(server, token, endpoint, form).await;
    assert_eq!(status, 200, "{endpoint}: {body}");
    body
}

/// The operator CLI against the test server's database.
fn cli(server: &TestServer, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .arg("--json")
        .env("DATABASE_URL", server.db.url())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn rest(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, body) = call(server, method.clone(), path, Some(token), body).await;
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

async fn team_id(server: &TestServer, token: &str, name: &str) -> String {
    let teams = rest(server, token, Method::GET, "/api/v1/teams", None).await;
    teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no team {name} in {teams}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The caller's own key named `name`.
async fn key_id(server: &TestServer, token: &str, name: &str) -> String {
    let keys = rest(server, token, Method::GET, "/api/v1/api-keys", None).await;
    keys.as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("no key {name} in {keys}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Signs in through the API: the access and the refresh token.
async fn sign_in(server: &TestServer, email: &str, password: &str) -> (String, String) {
    let body = json!({ "tenant": "demo", "email": email, "password": password });
    let (status, body) = call(server, Method::POST, "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!(status, 200, "{body}");
    let token = |k: &str| body[k].as_str().unwrap().to_string();
    (token("access_token"), token("refresh_token"))
}

fn token_in(url: &Value) -> String {
    url.as_str().unwrap().split_once("token=").unwrap().1.into()
}

#[tokio::test]
async fn every_change_is_audited_once_and_alike_whichever_door_it_came_through() {
    // Without a grace period, presenting a rotated refresh token revokes its family at once.
    let mut server = TestServer::start_with(|c| c.refresh_reuse_grace_secs = 0).await;
    seed_two_tenants(&server).await;
    let s = &server;
    let admin = login(s, "demo", "admin@demo.test", "demo-admin-pass").await;
    let root = login(s, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let (me, cli_actor) = ("admin@demo.test", "cli");
    let mut audit = Audit {
        server: s,
        seen: BTreeMap::new(),
    };
    let dev = user_id(s, &admin, "dev@demo.test").await;

    // --- teams -----------------------------------------------------------------------------
    let n = audit.count(&admin, "team.created").await;
    let body = json!({ "name": "Audit REST" });
    let t_rest = rest(s, &admin, Method::POST, "/api/v1/teams", Some(body)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    audit
        .expect(&admin, REST, "team.created", n, &t_rest, me)
        .await;
    server_fn(s, &admin, "teams/create", &[("name", "Audit UI")]).await;
    let t_ui = team_id(s, &admin, "Audit UI").await;
    audit
        .expect(&admin, SERVER_FN, "team.created", n + 1, &t_ui, me)
        .await;

    let n = audit.count(&admin, "team.member_set").await;
    let path = format!("/api/v1/teams/{t_rest}/members/{dev}");
    let body = json!({ "is_manager": true });
    rest(s, &admin, Method::PUT, &path, Some(body)).await;
    audit
        .expect(&admin, REST, "team.member_set", n, &t_rest, me)
        .await;
    let form = [
        ("team", t_ui.as_str()),
        ("email", "dev@demo.test"),
        ("manager", "on"),
    ];
    server_fn(s, &admin, "teams/add_member", &form).await;
    audit
        .expect(&admin, SERVER_FN, "team.member_set", n + 1, &t_ui, me)
        .await;

    let n = audit.count(&admin, "team.member_removed").await;
    rest(s, &admin, Method::DELETE, &path, None).await;
    audit
        .expect(&admin, REST, "team.member_removed", n, &t_rest, me)
        .await;
    let form = [("team", t_ui.as_str()), ("user", dev.as_str())];
    server_fn(s, &admin, "teams/remove_member", &form).await;
    audit
        .expect(&admin, SERVER_FN, "team.member_removed", n + 1, &t_ui, me)
        .await;

    let n = audit.count(&admin, "team.renamed").await;
    let path = format!("/api/v1/teams/{t_rest}");
    let body = json!({ "name": "Audit REST renamed" });
    rest(s, &admin, Method::PUT, &path, Some(body)).await;
    audit
        .expect(&admin, REST, "team.renamed", n, &t_rest, me)
        .await;
    let n = audit.count(&admin, "team.deleted").await;
    rest(s, &admin, Method::DELETE, &path, None).await;
    audit
        .expect(&admin, REST, "team.deleted", n, &t_rest, me)
        .await;

    // --- API keys --------------------------------------------------------------------------
    let n = audit.count(&admin, "api_key.created").await;
    let body = json!({ "name": "rest", "scopes": ["read"] });
    let created = rest(s, &admin, Method::POST, "/api/v1/api-keys", Some(body)).await;
    let k_rest = created["api_key"]["id"].as_str().unwrap().to_string();
    audit
        .expect(&admin, REST, "api_key.created", n, &k_rest, me)
        .await;
    server_fn(
        s,
        &admin,
        "api_keys/create",
        &[("name", "ui"), ("ingest", "on")],
    )
    .await;
    let k_ui = key_id(s, &admin, "ui").await;
    audit
        .expect(&admin, SERVER_FN, "api_key.created", n + 1, &k_ui, me)
        .await;
    let args = [
        "apikey", "create", "--tenant", "demo", "--email", me, "--scopes", "read", "--name", "cli",
    ];
    cli(s, &args);
    let k_cli = key_id(s, &admin, "cli").await;
    audit
        .expect(&admin, CLI, "api_key.created", n + 2, &k_cli, cli_actor)
        .await;
    // The owner is in the payload whoever created the key.
    let owner = json!(user_id(s, &admin, me).await);
    for (door, entry) in &audit.seen["api_key.created"] {
        assert_eq!(entry["details"]["owner"], owner, "{door}");
    }

    let n = audit.count(&admin, "api_key.revoked").await;
    let path = format!("/api/v1/api-keys/{k_rest}");
    rest(s, &admin, Method::DELETE, &path, None).await;
    audit
        .expect(&admin, REST, "api_key.revoked", n, &k_rest, me)
        .await;
    server_fn(s, &admin, "api_keys/revoke", &[("id", k_ui.as_str())]).await;
    audit
        .expect(&admin, SERVER_FN, "api_key.revoked", n + 1, &k_ui, me)
        .await;

    // --- people ----------------------------------------------------------------------------
    let n = audit.count(&admin, "user.created").await;
    let body = json!({ "email": "made-rest@demo.test", "role": "viewer", "password": "a-long-password-1" });
    let made = rest(s, &admin, Method::POST, "/api/v1/users", Some(body)).await;
    let u_rest = made["user"]["id"].as_str().unwrap().to_string();
    audit
        .expect(&admin, REST, "user.created", n, &u_rest, me)
        .await;
    let args = [
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "made-cli@demo.test",
        "--role",
        "viewer",
    ];
    cli(s, &args);
    let u_cli = user_id(s, &admin, "made-cli@demo.test").await;
    audit
        .expect(&admin, CLI, "user.created", n + 1, &u_cli, cli_actor)
        .await;

    let n = audit.count(&admin, "user.invited").await;
    let body = json!({ "email": "invited-rest@demo.test", "role": "developer" });
    let invited = rest(s, &admin, Method::POST, "/api/v1/users", Some(body)).await;
    let i_rest = invited["user"]["id"].as_str().unwrap().to_string();
    let invitation = token_in(&invited["url"]);
    audit
        .expect(&admin, REST, "user.invited", n, &i_rest, me)
        .await;
    let form = [
        ("email", "invited-ui@demo.test"),
        ("name", ""),
        ("role", "developer"),
    ];
    server_fn(s, &admin, "users/invite", &form).await;
    let i_ui = user_id(s, &admin, "invited-ui@demo.test").await;
    audit
        .expect(&admin, SERVER_FN, "user.invited", n + 1, &i_ui, me)
        .await;
    let args = [
        "user",
        "invite",
        "--tenant",
        "demo",
        "--email",
        "invited-cli@demo.test",
        "--role",
        "developer",
    ];
    cli(s, &args);
    let i_cli = user_id(s, &admin, "invited-cli@demo.test").await;
    audit
        .expect(&admin, CLI, "user.invited", n + 2, &i_cli, cli_actor)
        .await;

    let n = audit.count(&admin, "user.role_changed").await;
    let path = format!("/api/v1/users/{u_rest}/role");
    rest(
        s,
        &admin,
        Method::PUT,
        &path,
        Some(json!({ "role": "manager" })),
    )
    .await;
    audit
        .expect(&admin, REST, "user.role_changed", n, &u_rest, me)
        .await;
    let form = [("id", u_cli.as_str()), ("role", "manager")];
    server_fn(s, &admin, "users/set_role", &form).await;
    audit
        .expect(&admin, SERVER_FN, "user.role_changed", n + 1, &u_cli, me)
        .await;
    let args = [
        "user",
        "set-role",
        "--tenant",
        "demo",
        "--email",
        "made-rest@demo.test",
        "--role",
        "developer",
    ];
    cli(s, &args);
    audit
        .expect(&admin, CLI, "user.role_changed", n + 2, &u_rest, cli_actor)
        .await;

    let n = audit.count(&admin, "user.deactivated").await;
    let m = audit.count(&admin, "user.reactivated").await;
    let path = format!("/api/v1/users/{u_rest}/deactivate");
    rest(s, &admin, Method::POST, &path, None).await;
    audit
        .expect(&admin, REST, "user.deactivated", n, &u_rest, me)
        .await;
    let path = format!("/api/v1/users/{u_rest}/reactivate");
    rest(s, &admin, Method::POST, &path, None).await;
    audit
        .expect(&admin, REST, "user.reactivated", m, &u_rest, me)
        .await;
    let form = [("id", u_cli.as_str()), ("active", "false")];
    server_fn(s, &admin, "users/set_active", &form).await;
    audit
        .expect(&admin, SERVER_FN, "user.deactivated", n + 1, &u_cli, me)
        .await;
    let form = [("id", u_cli.as_str()), ("active", "true")];
    server_fn(s, &admin, "users/set_active", &form).await;
    audit
        .expect(&admin, SERVER_FN, "user.reactivated", m + 1, &u_cli, me)
        .await;
    let args = [
        "user",
        "deactivate",
        "--tenant",
        "demo",
        "--email",
        "made-cli@demo.test",
    ];
    cli(s, &args);
    audit
        .expect(&admin, CLI, "user.deactivated", n + 2, &u_cli, cli_actor)
        .await;

    let n = audit.count(&admin, "user.password_link_issued").await;
    let path = format!("/api/v1/users/{u_rest}/password-link");
    let reset = rest(s, &admin, Method::POST, &path, None).await;
    let reset = token_in(&reset["url"]);
    audit
        .expect(&admin, REST, "user.password_link_issued", n, &u_rest, me)
        .await;
    server_fn(s, &admin, "users/password_link", &[("id", i_ui.as_str())]).await;
    audit
        .expect(
            &admin,
            SERVER_FN,
            "user.password_link_issued",
            n + 1,
            &i_ui,
            me,
        )
        .await;
    let args = [
        "user",
        "reset-link",
        "--tenant",
        "demo",
        "--email",
        "invited-cli@demo.test",
    ];
    cli(s, &args);
    audit
        .expect(
            &admin,
            CLI,
            "user.password_link_issued",
            n + 2,
            &i_cli,
            cli_actor,
        )
        .await;

    // Links are used signed out: the entry is the link's user's own.
    for (token, action, user, email) in [
        (
            &invitation,
            "user.invitation_accepted",
            &i_rest,
            "invited-rest@demo.test",
        ),
        (&reset, "password.reset", &u_rest, "made-rest@demo.test"),
    ] {
        let n = audit.count(&admin, action).await;
        let body = json!({ "token": token, "password": "a-password-of-my-own" });
        let (status, body) = call(
            s,
            Method::POST,
            "/api/v1/auth/links/redeem",
            None,
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        audit.expect(&admin, REST, action, n, user, email).await;
    }

    // --- one's own sessions and password ---------------------------------------------------
    let (email, password) = ("made-rest@demo.test", "a-password-of-my-own");
    let n = audit.count(&admin, "login.succeeded").await;
    let (_, first_refresh) = sign_in(s, email, password).await;
    audit
        .expect(&admin, REST, "login.succeeded", n, &u_rest, email)
        .await;

    let n = audit.count(&admin, "session.family_revoked").await;
    let refresh = |token: &str| {
        client()
            .post(s.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let rotated: Value = refresh(&first_refresh).await.unwrap().json().await.unwrap();
    assert!(rotated["refresh_token"].is_string(), "{rotated}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(refresh(&first_refresh).await.unwrap().status(), 401);
    audit
        .expect(&admin, REST, "session.family_revoked", n, &u_rest, "system")
        .await;

    // Signed in twice: signing out one session leaves the other's access token working.
    let n = audit.count(&admin, "logout").await;
    let (own, _) = sign_in(s, email, password).await;
    let (_, other_session) = sign_in(s, email, password).await;
    let body = json!({ "refresh_token": other_session });
    rest(s, &own, Method::POST, "/api/v1/auth/logout", Some(body)).await;
    audit
        .expect(&admin, REST, "logout", n, &u_rest, email)
        .await;

    let n = audit.count(&admin, "password.changed").await;
    let body = json!({ "current_password": password, "new_password": "a-second-password-2" });
    rest(
        s,
        &own,
        Method::POST,
        "/api/v1/profile/password",
        Some(body),
    )
    .await;
    audit
        .expect(&admin, REST, "password.changed", n, &u_rest, email)
        .await;
    // A changed password ends every session: sign in again.
    let own = login(s, "demo", email, "a-second-password-2").await;
    let form = [
        ("current_password", "a-second-password-2"),
        ("new_password", "a-third-password-3"),
    ];
    server_fn(s, &own, "profile/password", &form).await;
    audit
        .expect(&admin, SERVER_FN, "password.changed", n + 1, &u_rest, email)
        .await;

    let n = audit.count(&admin, "logout.everywhere").await;
    let own = login(s, "demo", email, "a-third-password-3").await;
    rest(s, &own, Method::POST, "/api/v1/auth/logout-all", None).await;
    audit
        .expect(&admin, REST, "logout.everywhere", n, &u_rest, email)
        .await;

    // --- prices and imports ----------------------------------------------------------------
    let n = audit.count(&admin, "price.set").await;
    let path = "/api/v1/prices/audit-model";
    let body = json!({ "input": 1.0, "output": 2.0, "cache_write": 0.5, "cache_read": 0.1 });
    rest(s, &admin, Method::PUT, path, Some(body)).await;
    audit
        .expect(&admin, REST, "price.set", n, "audit-model", me)
        .await;
    let n = audit.count(&admin, "price.reset").await;
    rest(s, &admin, Method::DELETE, path, None).await;
    audit
        .expect(&admin, REST, "price.reset", n, "audit-model", me)
        .await;

    let body = json!({ "name": "importer", "scopes": ["ingest"] });
    let key = rest(s, &admin, Method::POST, "/api/v1/api-keys", Some(body)).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({ "source": "audit test" });
    let batch = rest(s, &key, Method::POST, "/api/v1/imports", Some(body)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = audit.count(&admin, "import.rolled_back").await;
    rest(
        s,
        &key,
        Method::DELETE,
        &format!("/api/v1/imports/{batch}"),
        None,
    )
    .await;
    audit
        .expect(&admin, REST, "import.rolled_back", n, &batch, me)
        .await;

    // --- tenants, in the registry's log ----------------------------------------------------
    let root_me = "root@devpulse.test";
    let n = audit.count(&root, "tenant.created").await;
    let body = json!({ "slug": "by_rest", "name": "By REST", "admin_email": "a@rest.test" });
    let made = rest(s, &root, Method::POST, "/api/v1/admin/tenants", Some(body)).await;
    audit
        .expect(&root, REST, "tenant.created", n, "by_rest", root_me)
        .await;
    let args = [
        "tenant",
        "create",
        "--slug",
        "by_cli",
        "--name",
        "By CLI",
        "--admin-email",
        "a@cli.test",
    ];
    let made_cli = cli(s, &args);
    audit
        .expect(&root, CLI, "tenant.created", n + 1, "by_cli", cli_actor)
        .await;
    let args = [
        "tenant",
        "create",
        "--slug",
        "by_invite",
        "--name",
        "By invite",
        "--admin-email",
        "a@invite.test",
        "--invite",
    ];
    cli(s, &args);
    audit
        .expect(&root, CLI, "tenant.created", n + 2, "by_invite", cli_actor)
        .await;
    // The first admin is in the new tenant's own log, by whoever created the tenant.
    for (door, slug, email, password, actor) in [
        (
            REST,
            "by_rest",
            "a@rest.test",
            &made["admin_one_time_password"],
            root_me,
        ),
        (
            CLI,
            "by_cli",
            "a@cli.test",
            &made_cli["one_time_password"],
            cli_actor,
        ),
    ] {
        let first = login(s, slug, email, password.as_str().unwrap()).await;
        let first_id = user_id(s, &first, email).await;
        audit
            .expect(&first, door, "user.created", 0, &first_id, actor)
            .await;
    }

    for (action, verb) in [
        ("tenant.suspended", "suspend"),
        ("tenant.reactivated", "reactivate"),
    ] {
        let n = audit.count(&root, action).await;
        let path = format!("/api/v1/admin/tenants/by_rest/{verb}");
        rest(s, &root, Method::POST, &path, None).await;
        audit
            .expect(&root, REST, action, n, "by_rest", root_me)
            .await;
        cli(s, &["tenant", verb, "--slug", "by_cli"]);
        audit
            .expect(&root, CLI, action, n + 1, "by_cli", cli_actor)
            .await;
    }

    let n = audit.count(&root, "tenant.deleted").await;
    let path = "/api/v1/admin/tenants/by_rest?confirm=by_rest";
    rest(s, &root, Method::DELETE, path, None).await;
    audit
        .expect(&root, REST, "tenant.deleted", n, "by_rest", root_me)
        .await;
    cli(
        s,
        &[
            "tenant",
            "delete",
            "--slug",
            "by_cli",
            "--confirm",
            "by_cli",
        ],
    );
    audit
        .expect(&root, CLI, "tenant.deleted", n + 1, "by_cli", cli_actor)
        .await;

    audit.assert_one_shape_per_action();
    crate::common::assert_actions_listed(&server).await;
    // The changes with more than one door went through each of them.
    for (action, doors) in [
        ("team.created", &[REST, SERVER_FN][..]),
        ("team.member_set", &[REST, SERVER_FN]),
        ("team.member_removed", &[REST, SERVER_FN]),
        ("api_key.created", &[REST, SERVER_FN, CLI]),
        ("api_key.revoked", &[REST, SERVER_FN]),
        ("user.created", &[REST, CLI]),
        ("user.invited", &[REST, SERVER_FN, CLI]),
        ("user.role_changed", &[REST, SERVER_FN, CLI]),
        ("user.deactivated", &[REST, SERVER_FN, CLI]),
        ("user.reactivated", &[REST, SERVER_FN]),
        ("user.password_link_issued", &[REST, SERVER_FN, CLI]),
        ("password.changed", &[REST, SERVER_FN]),
        ("tenant.created", &[REST, CLI]),
        ("tenant.suspended", &[REST, CLI]),
        ("tenant.reactivated", &[REST, CLI]),
        ("tenant.deleted", &[REST, CLI]),
    ] {
        assert_eq!(
            audit.doors(action),
            doors.iter().copied().collect(),
            "{action}"
        );
    }
    server.shutdown().await;
}

/// The audit viewer among 100,000 entries: one change found by actor and date, a filter's
/// pages walked to the end through `Link: rel="next"`, the CSV export, and the server
/// function agreeing with REST. Prints how long the searches took (not asserted: timing
/// belongs to benchmarks, and this machine runs other tests at once).
#[tokio::test]
async fn the_audit_viewer_finds_one_change_among_100k_entries_and_pages_through_the_rest() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let tenant =
        store::tenants::find_by_slug(server.db.store.pool(), &store::Slug::parse("demo").unwrap())
            .await
            .unwrap();
    let mut tx = server.db.store.tenant_tx(tenant.scope()).await.unwrap();
    // Fifty actors, six actions, spread over half a year, and one needle.
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, ip, details)
         SELECT now() - (n * interval '157 seconds'), 'person' || (n % 50) || '@demo.test',
                (ARRAY['team.created','user.invited','api_key.created','login.succeeded',
                       'price.set','user.role_changed'])[1 + n % 6],
                'target-' || (n % 1000), '10.0.0.' || (n % 200), '{}'::jsonb
         FROM generate_series(1, 100000) AS n",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, details)
         VALUES (now() - interval '40 days', 'needle@demo.test', 'user.role_changed', 'the-target',
                 '{\"from\": \"developer\", \"to\": \"viewer\"}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query(&format!(
        "ANALYZE \"{}\".audit_log",
        tenant.scope().schema()
    ))
    .execute(server.db.store.pool())
    .await
    .unwrap();

    let day = |d: i64| (chrono::Utc::now() - chrono::TimeDelta::days(d)).to_rfc3339();
    let find = format!(
        "/api/v1/audit?actor=needle&action=user.role_changed&from={}&to={}",
        urlencode(&day(41)),
        urlencode(&day(39))
    );
    let started = std::time::Instant::now();
    let (status, found) = call(&server, Method::GET, &find, Some(&admin), None).await;
    let by_actor_and_date = started.elapsed();
    assert_eq!(status, 200, "{found}");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["target"], "the-target");
    assert_eq!(found[0]["details"]["to"], "viewer");

    // The server function behind /audit gives the same entry.
    let (status, page) = crate::common::server_fn(
        &server,
        &admin,
        "audit/search",
        &[("q", &find["/api/v1/audit?".len()..])],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["entries"][0]["id"], found[0]["id"]);
    assert!(page["next_before"].is_null());

    // One actor's entries, 500 a page, to the end.
    let started = std::time::Instant::now();
    let mut next = Some("/api/v1/audit?actor=person7%40demo.test&limit=500".to_string());
    let (mut seen, mut pages) = (std::collections::BTreeSet::new(), 0);
    while let Some(path) = next.take() {
        let r = client()
            .get(server.url(&path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        next = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string())
            .map(|l| {
                l.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            });
        let entries: Vec<Value> = r.json().await.unwrap();
        for e in &entries {
            assert_eq!(e["actor"], "person7@demo.test");
            assert!(
                seen.insert(e["id"].as_i64().unwrap()),
                "an entry on two pages"
            );
        }
        pages += 1;
    }
    let paging = started.elapsed();
    assert_eq!(seen.len(), 2000, "every one of person7's entries, once");
    assert_eq!(pages, 4);

    // A noun's actions, as CSV.
    let started = std::time::Instant::now();
    let csv = client()
        .get(server.url("/api/v1/audit?format=csv&action=price.&target=target-10"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let export = started.elapsed();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("id,at,actor"));
    // Every row has the header's columns (these rows hold no commas of their own).
    let columns = lines[0].split(',').count();
    assert!(
        lines[1..].iter().all(|l| l.split(',').count() == columns),
        "{}",
        lines[1]
    );
    // price.set is n % 6 = 4 and target-10 is n % 1000 = 10: n = 10, 3010, ... 99010.
    assert_eq!(lines.len() - 1, 34, "{}", lines.len());
    assert!(lines[1..]
        .iter()
        .all(|l| l.contains(",price.set,target-10,")));

    println!(
        "audit viewer over 100,001 entries: by actor and date {:.1} ms; one actor's 2,000 in 4 pages {:.1} ms; CSV of a noun's actions on one target {:.1} ms",
        by_actor_and_date.as_secs_f64() * 1000.0,
        paging.as_secs_f64() * 1000.0,
        export.as_secs_f64() * 1000.0
    );
    server.shutdown().await;
}

fn urlencode(s: &str) -> String {
    types::dashboard::encode(s)
}
