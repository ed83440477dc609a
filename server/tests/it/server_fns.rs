//! Every server function the app registers, tried anonymously and as every role of tenant
//! `demo` against tenant `other`'s resources, by the rule it declares in `app::access`. A
//! server function missing from that table fails the suite (each new one must say who may call
//! it), and so does one whose rule differs from its REST twin's in the API's route table.

use std::collections::BTreeMap;

use crate::common::{call, client, login, seed_two_tenants, TestServer};
use reqwest::Method;

async fn snapshot(server: &TestServer, token: &str) -> Vec<serde_json::Value> {
    let mut s = Vec::new();
    for path in [
        "/api/v1/users",
        "/api/v1/teams",
        "/api/v1/api-keys",
        "/api/v1/dashboard/config",
    ] {
        s.push(call(server, Method::GET, path, Some(token), None).await.1);
    }
    s
}

#[tokio::test]
async fn every_server_function_refuses_what_the_matrix_does_not_allow() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;

    let registered: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    let table: BTreeMap<&str, String> = app::access::SERVER_FNS
        .iter()
        .map(|r| (r.endpoint, r.access.describe()))
        .collect();
    for path in &registered {
        assert!(
            table.contains_key(path.as_str()),
            "server function {path} is not in the access table of this test: say who may call it"
        );
    }
    assert_eq!(registered.len(), table.len(), "{registered:?}");

    // One rule for both doors: each twin declares exactly the function's rule.
    let routes = server::api::route_table();
    for rule in app::access::SERVER_FNS {
        for (method, path) in rule.rest_twins {
            let route = routes
                .iter()
                .find(|r| r.method == *method && r.path == *path)
                .unwrap_or_else(|| panic!("{}: no REST route {method} {path}", rule.endpoint));
            assert_eq!(
                route.access,
                rule.access.describe(),
                "server function {} and its REST twin {method} {path} disagree about who may \
                 call them",
                rule.endpoint
            );
        }
    }

    // Tenant `other`'s resources, which nobody in `demo` may touch.
    let other = crate::common::other_tenant(&server).await;
    let (other_admin, other_user, other_key, other_team, other_board, other_batch) = (
        other.admin,
        other.user_id,
        other.key_id,
        other.team_id,
        other.board_id,
        other.batch_id,
    );
    let board = serde_json::json!({ "widgets": [
        { "key": "a", "widget": "heatmap", "x": 0, "y": 0, "w": 12, "h": 10 }
    ] })
    .to_string();
    let before = snapshot(&server, &other_admin).await;

    let args = |path: &str, role: &str| -> Vec<(&'static str, String)> {
        match path {
            "links/inspect" => vec![("token", format!("other.{}", "ab".repeat(32)))],
            "api_keys/create" => vec![("name", "walk".into()), ("ingest", "on".into())],
            "api_keys/revoke" => vec![("id", other_key.clone())],
            "profile/name" => vec![("name", format!("Walker {role}"))],
            "profile/password" => vec![
                ("current_password", "not-the-password".into()),
                ("new_password", "a-new-password-123".into()),
            ],
            "teams/create" => vec![("name", format!("Walk {role}"))],
            "teams/add_member" => vec![
                ("team", other_team.clone()),
                ("email", "dev@other.test".into()),
                ("manager", "on".into()),
            ],
            "teams/remove_member" => {
                vec![("team", other_team.clone()), ("user", other_user.clone())]
            }
            "users/invite" => vec![
                ("email", format!("walk-{role}@demo.test")),
                ("name", String::new()),
                ("role", "viewer".into()),
            ],
            "users/set_role" => vec![("id", other_user.clone()), ("role", "viewer".into())],
            "users/set_active" => vec![("id", other_user.clone()), ("active", "false".into())],
            "users/password_link" | "users/mfa_reset" => vec![("id", other_user.clone())],
            "jobs/retry" => vec![("id", "999999".into())],
            "imports/rollback" => vec![("id", other_batch.clone())],
            // Installation-wide: every tenant role is refused before anything happens.
            "tenants/create" => vec![
                ("slug", format!("walk_{role}")),
                ("name", "Walk".into()),
                ("admin_email", "walk@walk.test".into()),
            ],
            "tenants/rename" => vec![("slug", "other".into()), ("name", "Walked".into())],
            "tenants/set_status" => vec![("slug", "other".into()), ("status", "suspended".into())],
            "tenants/delete" => vec![("slug", "other".into()), ("confirm", "other".into())],
            "support/begin" => vec![
                ("slug", "other".into()),
                ("reason", "walking the access matrix".into()),
                ("minutes", "15".into()),
            ],
            "gdpr/export" => vec![("user", other_user.clone())],
            "gdpr/erase" => vec![
                ("user", other_user.clone()),
                ("mode", "delete".into()),
                ("confirm", "dev@other.test".into()),
            ],
            "audit/search" => vec![("q", "action=user.".into())],
            // Checked only (send=false): nothing is written.
            "users/invite_many" => vec![
                ("csv", format!("walk-many-{role}@demo.test")),
                ("send", "false".into()),
            ],
            "users/bulk" => vec![
                ("ids", other_user.clone()),
                ("action", "deactivate".into()),
                ("role", String::new()),
            ],
            "sso/trial" => vec![("id", uuid::Uuid::new_v4().to_string())],
            // No provider: an admin is told the domain is not the provider's.
            "sso/verify_domain" => vec![("domain", "walk.example.com".into())],
            "profile/mfa/confirm" | "profile/mfa/recovery_codes" | "profile/mfa/off" => {
                vec![("code", "000000".into())]
            }
            "settings/mfa/set" => vec![("required", "off".into())],
            // No secret and none saved: an admin gets the field refused, nothing is saved.
            "sso/save" => vec![
                ("preset", "generic".into()),
                ("issuer", "https://idp.example.com".into()),
                ("client_id", "walk".into()),
                ("default_role", "developer".into()),
            ],
            "dashboard/overview" | "dashboard/heatmap" | "dashboard/insights"
            | "dashboard/choices" => {
                vec![("q", "range=7d".into())]
            }
            "dashboard/series" => vec![
                ("q", "range=7d".into()),
                ("split", "model".into()),
                ("measure", "cost".into()),
            ],
            "dashboard/breakdown" => vec![("q", "range=7d".into()), ("by", "team".into())],
            "dashboard/sessions" => vec![
                ("q", "range=7d".into()),
                ("sort", "cost".into()),
                ("page", "1".into()),
            ],
            // Another tenant's session id is simply not found.
            "dashboard/session" => vec![("id", "no-such-session".into())],
            "settings/time_zone" => vec![("time_zone", "UTC".into())],
            "settings/retention/preview" | "settings/retention/set" => vec![
                // Shortens the policy without confirming: refused by field, nothing saved.
                ("raw_days", "30".into()),
                ("minute_days", String::new()),
                ("hour_days", String::new()),
                ("day_days", String::new()),
            ],
            // The name it has: allowed callers change nothing.
            "settings/name" => vec![("name", "Demo".into())],
            "budgets/set" => vec![
                ("whose", "workspace".into()),
                ("period", "month".into()),
                ("usd", "500".into()),
                ("tokens", String::new()),
            ],
            "budgets/delete" => vec![("id", other_user.clone())],
            // A rule over another tenant's person: not found (or not theirs to pick).
            "alerts/save" => vec![
                ("name", format!("Walk {role}")),
                ("metric", "cost_usd".into()),
                ("direction", "above".into()),
                ("threshold", "10".into()),
                ("over", format!("person:{other_user}")),
            ],
            "alerts/pause" => vec![("id", other_user.clone()), ("enabled", "false".into())],
            "alerts/delete" | "alerts/subscribe" => vec![("id", other_user.clone())],
            // A loopback address is allowed here (tests): refused only by a bad format.
            "webhooks/create" => vec![
                ("name", format!("Walk {role}")),
                ("url", "http://127.0.0.1:9/hook".into()),
                ("format", "fax".into()),
            ],
            "webhooks/enable" => vec![("id", other_user.clone()), ("enabled", "false".into())],
            "webhooks/delete" | "webhooks/test" => vec![("id", other_user.clone())],
            // A report to another tenant's person: not a person of this workspace.
            "reports/save" => vec![
                ("name", format!("Walk {role}")),
                ("cadence", "weekly".into()),
                ("recipients", "admin@other.test".into()),
            ],
            "reports/pause" => vec![("id", other_user.clone()), ("enabled", "false".into())],
            "reports/delete" | "reports/send" => vec![("id", other_user.clone())],
            "settings/people" => vec![
                ("team_medians", "on".into()),
                ("idle_hours", "168".into()),
                ("max_hours", "720".into()),
                ("default_role", "developer".into()),
            ],
            "boards/open" | "boards/delete" | "boards/home" => vec![("id", other_board.clone())],
            "boards/create" => vec![
                ("name", format!("Walk {role}")),
                ("document", board.clone()),
            ],
            "boards/save" => vec![
                ("id", other_board.clone()),
                ("version", "1".into()),
                ("document", board.clone()),
            ],
            "boards/publish" => vec![
                ("id", other_board.clone()),
                ("audience", r#"{"default_for":["viewer"]}"#.into()),
            ],
            _ => vec![],
        }
    };
    // These name one of `other`'s resources: reaching them must be a 404 (or a refused field).
    let names_a_resource = [
        "api_keys/revoke",
        "teams/add_member",
        "teams/remove_member",
        "users/set_role",
        "users/set_active",
        "users/password_link",
        "users/mfa_reset",
        "users/bulk",
        "gdpr/export",
        "gdpr/erase",
        "boards/open",
        "boards/save",
        "boards/delete",
        "boards/publish",
        "boards/home",
        "imports/rollback",
        "budgets/delete",
        "alerts/save",
        "alerts/pause",
        "alerts/delete",
        "alerts/subscribe",
        "webhooks/enable",
        "webhooks/delete",
        "webhooks/test",
        "reports/save",
        "reports/pause",
        "reports/delete",
        "reports/send",
    ];
    let http = client();
    let roles = [
        ("tenant_admin", "admin@demo.test", "demo-admin-pass"),
        ("manager", "manager@demo.test", "demo-manager-pass"),
        ("developer", "dev@demo.test", "demo-developer-pass"),
        ("viewer", "viewer@demo.test", "demo-viewer-pass"),
    ];
    for (path, access) in &table {
        let (path, access) = (*path, access.as_str());
        let url = server.url(&format!("/api/{path}"));
        if access != "public" {
            let r = http
                .post(&url)
                .form(&args(path, "anon"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                401,
                "anonymous {path}: {}",
                r.text().await.unwrap()
            );
        }
        for (role, email, password) in roles {
            let token = login(&server, "demo", email, password).await;
            let r = http
                .post(&url)
                .bearer_auth(&token)
                .form(&args(path, role))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            let allowed = match access {
                "public" | "authenticated" => true,
                perm => {
                    server::auth::permissions::role_has(store::Role::parse(role).unwrap(), perm)
                }
            };
            if !allowed {
                assert_eq!(status, 403, "{role} {path}: {body}");
            } else if names_a_resource.contains(&path) {
                assert!(
                    status == 404 || status == 422,
                    "{role} {path} reached another tenant's resource: {status} {body}"
                );
            } else {
                assert!(
                    status < 500 && status != 401 && status != 403,
                    "{role} {path}: {status} {body}"
                );
            }
        }
    }
    assert_eq!(
        snapshot(&server, &other_admin).await,
        before,
        "tenant `other` changed"
    );
    server.shutdown().await;
}
