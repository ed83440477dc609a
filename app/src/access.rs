//! Who may call each server function, in one table: the functions enforce their row
//! (`session::ssr::require_fn`), and the access-matrix test (`server/tests/it/server_fns.rs`)
//! walks it, checking that every function is listed, that each one's REST twins declare the
//! same rule in the API's route table, and that each function refuses the roles its rule
//! leaves out. A UI door and an API door to one action cannot disagree about who may use it.

use types::{dashboard::DASHBOARD_READ, Access, Permission::*};

/// One server function's rule.
#[derive(Clone, Copy, Debug)]
pub struct ServerFnRule {
    /// The `endpoint` of its `#[server]` attribute.
    pub endpoint: &'static str,
    pub access: Access,
    /// The REST routes (method, path) that do the same thing.
    pub rest_twins: &'static [(&'static str, &'static str)],
}

const fn rule(
    endpoint: &'static str,
    access: Access,
    rest_twins: &'static [(&'static str, &'static str)],
) -> ServerFnRule {
    ServerFnRule {
        endpoint,
        access,
        rest_twins,
    }
}

use Access::{Authenticated, Permission as Needs, Public};

const DASHBOARD: Access = Access::Read(DASHBOARD_READ);
const EXPORT: Access = Access::Read(types::reports::EXPORTS);

pub const SERVER_FNS: &[ServerFnRule] = &[
    // The public status page; `whoami` answers "nobody" rather than refusing.
    rule("status", Public, &[]),
    rule("whoami", Public, &[]),
    rule(
        "links/inspect",
        Public,
        &[("POST", "/api/v1/auth/links/inspect")],
    ),
    // The second step of a password sign-in: its challenge cookie is the credential.
    rule(
        "mfa/second_step",
        Public,
        &[("POST", "/api/v1/auth/mfa/enrol")],
    ),
    rule(
        "profile/mfa",
        Authenticated,
        &[("GET", "/api/v1/profile/mfa")],
    ),
    rule(
        "profile/mfa/begin",
        Authenticated,
        &[("POST", "/api/v1/profile/mfa/totp")],
    ),
    rule(
        "profile/mfa/confirm",
        Authenticated,
        &[("POST", "/api/v1/profile/mfa/totp/confirm")],
    ),
    rule(
        "profile/mfa/recovery_codes",
        Authenticated,
        &[("POST", "/api/v1/profile/mfa/recovery-codes")],
    ),
    rule(
        "profile/mfa/off",
        Authenticated,
        &[("DELETE", "/api/v1/profile/mfa")],
    ),
    rule(
        "users/mfa_reset",
        Needs(UserManage),
        &[("DELETE", "/api/v1/users/{id}/mfa")],
    ),
    rule(
        "settings/mfa",
        Needs(UserManage),
        &[("GET", "/api/v1/settings/mfa")],
    ),
    rule(
        "settings/mfa/set",
        Needs(UserManage),
        &[("PUT", "/api/v1/settings/mfa")],
    ),
    rule("sso/settings", Needs(UserManage), &[("GET", "/api/v1/sso")]),
    rule("sso/save", Needs(UserManage), &[("PUT", "/api/v1/sso")]),
    rule(
        "sso/trial",
        Needs(UserManage),
        &[("GET", "/api/v1/sso/trials/{id}")],
    ),
    rule(
        "sso/remove",
        Needs(UserManage),
        &[("DELETE", "/api/v1/sso")],
    ),
    rule(
        "sso/verify_domain",
        Needs(UserManage),
        &[("POST", "/api/v1/sso/domains/{domain}/verify")],
    ),
    rule(
        "api_keys/list",
        Authenticated,
        &[("GET", "/api/v1/api-keys")],
    ),
    rule(
        "api_keys/create",
        Authenticated,
        &[("POST", "/api/v1/api-keys")],
    ),
    rule(
        "api_keys/revoke",
        Authenticated,
        &[("DELETE", "/api/v1/api-keys/{id}")],
    ),
    rule(
        "profile/name",
        Needs(ProfileEdit),
        &[("PUT", "/api/v1/profile")],
    ),
    rule(
        "profile/password",
        Authenticated,
        &[("POST", "/api/v1/profile/password")],
    ),
    rule(
        "profile/theme",
        Authenticated,
        &[("PUT", "/api/v1/profile/theme")],
    ),
    rule("teams/list", Authenticated, &[("GET", "/api/v1/teams")]),
    rule(
        "teams/create",
        Needs(UserManage),
        &[("POST", "/api/v1/teams")],
    ),
    rule(
        "teams/add_member",
        Needs(UserManage),
        &[("PUT", "/api/v1/teams/{id}/members/{user_id}")],
    ),
    rule(
        "teams/remove_member",
        Needs(UserManage),
        &[("DELETE", "/api/v1/teams/{id}/members/{user_id}")],
    ),
    rule("users/list", Needs(UserManage), &[("GET", "/api/v1/users")]),
    rule(
        "emails/list",
        Needs(UserManage),
        &[("GET", "/api/v1/emails")],
    ),
    rule("usage/get", Needs(UserManage), &[("GET", "/api/v1/usage")]),
    rule(
        "audit/search",
        Needs(UserManage),
        &[("GET", "/api/v1/audit")],
    ),
    rule(
        "users/invite_many",
        Needs(UserManage),
        &[("POST", "/api/v1/users/bulk-invite")],
    ),
    rule(
        "users/bulk",
        Needs(UserManage),
        &[("POST", "/api/v1/users/bulk")],
    ),
    rule(
        "users/invite",
        Needs(UserManage),
        &[("POST", "/api/v1/users")],
    ),
    rule(
        "users/set_role",
        Needs(UserManage),
        &[("PUT", "/api/v1/users/{id}/role")],
    ),
    rule(
        "users/set_active",
        Needs(UserManage),
        &[
            ("POST", "/api/v1/users/{id}/deactivate"),
            ("POST", "/api/v1/users/{id}/reactivate"),
        ],
    ),
    rule(
        "users/password_link",
        Needs(UserManage),
        &[("POST", "/api/v1/users/{id}/password-link")],
    ),
    // The dashboard: every role with a dashboard reads it, scoped by `store::dashboard::Reader`.
    rule(
        "dashboard/overview",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/overview")],
    ),
    rule(
        "dashboard/series",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/charts")],
    ),
    rule(
        "dashboard/breakdown",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/charts")],
    ),
    rule(
        "dashboard/heatmap",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/charts")],
    ),
    rule(
        "dashboard/activity",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/charts")],
    ),
    rule(
        "dashboard/insights",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/charts")],
    ),
    rule(
        "dashboard/choices",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/choices")],
    ),
    rule(
        "dashboard/sessions",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/sessions")],
    ),
    rule(
        "dashboard/session",
        DASHBOARD,
        &[("GET", "/api/v1/dashboard/sessions/{id}")],
    ),
    // Alerts: the dashboard's readers see the rules whose numbers they see and choose how
    // they hear of them; keeping rules is for signed-in readers (their own; tenant admins
    // anyone's, which the store checks); each person reads their own bell.
    rule(
        "alerts/list",
        DASHBOARD,
        &[("GET", "/api/v1/alerts"), ("GET", "/api/v1/alerts/history")],
    ),
    rule("anomalies/list", DASHBOARD, &[("GET", "/api/v1/anomalies")]),
    rule(
        "alerts/save",
        Authenticated,
        &[("POST", "/api/v1/alerts"), ("PUT", "/api/v1/alerts/{id}")],
    ),
    rule(
        "alerts/pause",
        Authenticated,
        &[("PUT", "/api/v1/alerts/{id}")],
    ),
    rule(
        "alerts/delete",
        Authenticated,
        &[("DELETE", "/api/v1/alerts/{id}")],
    ),
    rule(
        "alerts/subscribe",
        Authenticated,
        &[("PUT", "/api/v1/alerts/{id}/subscription")],
    ),
    rule(
        "notifications/inbox",
        Authenticated,
        &[("GET", "/api/v1/notifications")],
    ),
    rule(
        "notifications/read",
        Authenticated,
        &[("POST", "/api/v1/notifications/read")],
    ),
    rule(
        "baselines/compare",
        DASHBOARD,
        &[("GET", "/api/v1/baselines")],
    ),
    // Reports: scheduling one is an export; the page lists what the reader owns or
    // receives (the store checks who may change which).
    rule("reports/list", DASHBOARD, &[("GET", "/api/v1/reports")]),
    rule(
        "reports/save",
        EXPORT,
        &[("POST", "/api/v1/reports"), ("PUT", "/api/v1/reports/{id}")],
    ),
    rule("reports/pause", EXPORT, &[("PUT", "/api/v1/reports/{id}")]),
    rule(
        "reports/delete",
        EXPORT,
        &[("DELETE", "/api/v1/reports/{id}")],
    ),
    rule(
        "reports/send",
        EXPORT,
        &[("POST", "/api/v1/reports/{id}/send")],
    ),
    // Webhooks: the workspace's, kept by tenant admins.
    rule(
        "webhooks/list",
        Needs(UserManage),
        &[("GET", "/api/v1/webhooks")],
    ),
    rule(
        "webhooks/create",
        Needs(UserManage),
        &[("POST", "/api/v1/webhooks")],
    ),
    rule(
        "webhooks/enable",
        Needs(UserManage),
        &[("PUT", "/api/v1/webhooks/{id}")],
    ),
    rule(
        "webhooks/delete",
        Needs(UserManage),
        &[("DELETE", "/api/v1/webhooks/{id}")],
    ),
    rule(
        "webhooks/test",
        Needs(UserManage),
        &[("POST", "/api/v1/webhooks/{id}/test")],
    ),
    // Budgets: read by the dashboard's readers (each sees the scopes they see whole), kept
    // by tenant admins.
    rule("budgets/status", DASHBOARD, &[("GET", "/api/v1/budgets")]),
    rule(
        "budgets/set",
        Needs(UserManage),
        &[("POST", "/api/v1/budgets")],
    ),
    rule(
        "budgets/delete",
        Needs(UserManage),
        &[("DELETE", "/api/v1/budgets/{id}")],
    ),
    // Boards: anyone with a dashboard opens the boards they may see and picks a home;
    // keeping boards is for everyone but viewers (`store::boards::Caller::keeps_own`),
    // publishing for dashboard managers.
    rule(
        "boards/open",
        DASHBOARD,
        &[
            ("GET", "/api/v1/dashboard/config"),
            ("GET", "/api/v1/dashboard/config/{id}"),
        ],
    ),
    rule(
        "boards/create",
        Authenticated,
        &[("POST", "/api/v1/dashboard/config")],
    ),
    rule(
        "boards/save",
        Authenticated,
        &[("PUT", "/api/v1/dashboard/config/{id}")],
    ),
    rule(
        "boards/delete",
        Authenticated,
        &[("DELETE", "/api/v1/dashboard/config/{id}")],
    ),
    rule(
        "boards/publish",
        Needs(DashboardManage),
        &[("PUT", "/api/v1/dashboard/config/{id}/audience")],
    ),
    rule(
        "boards/home",
        DASHBOARD,
        &[("PUT", "/api/v1/dashboard/home")],
    ),
    rule(
        "gdpr/list",
        Needs(UserManage),
        &[("GET", "/api/v1/gdpr/requests")],
    ),
    rule(
        "gdpr/export",
        Needs(UserManage),
        &[("POST", "/api/v1/users/{id}/export")],
    ),
    rule(
        "gdpr/erase",
        Needs(UserManage),
        &[("POST", "/api/v1/users/{id}/erase")],
    ),
    rule(
        "account/workspaces",
        Authenticated,
        &[("GET", "/api/v1/auth/workspaces")],
    ),
    rule(
        "settings/workspace",
        Needs(UserManage),
        &[("GET", "/api/v1/settings")],
    ),
    rule(
        "settings/name",
        Needs(UserManage),
        &[("PUT", "/api/v1/settings/name")],
    ),
    rule(
        "settings/time_zone",
        Needs(UserManage),
        &[("PUT", "/api/v1/settings/time-zone")],
    ),
    rule(
        "settings/people",
        Needs(UserManage),
        &[("PUT", "/api/v1/settings/people")],
    ),
    rule(
        "settings/retention",
        Needs(UserManage),
        &[("GET", "/api/v1/settings/retention")],
    ),
    rule(
        "settings/retention/preview",
        Needs(UserManage),
        &[("POST", "/api/v1/settings/retention/preview")],
    ),
    rule(
        "settings/retention/set",
        Needs(UserManage),
        &[("PUT", "/api/v1/settings/retention")],
    ),
    // Imports: one's own batches, a tenant admin's everyone's (`store::imports::Whose`).
    rule(
        "imports/list",
        Authenticated,
        &[("GET", "/api/v1/import-batches")],
    ),
    rule(
        "imports/rollback",
        Authenticated,
        &[("DELETE", "/api/v1/import-batches/{id}")],
    ),
    rule(
        "tenants/list",
        Needs(TenantsManage),
        &[("GET", "/api/v1/admin/tenants")],
    ),
    rule(
        "tenants/create",
        Needs(TenantsManage),
        &[("POST", "/api/v1/admin/tenants")],
    ),
    rule(
        "tenants/rename",
        Needs(TenantsManage),
        &[("PUT", "/api/v1/admin/tenants/{slug}")],
    ),
    rule(
        "tenants/set_status",
        Needs(TenantsManage),
        &[
            ("POST", "/api/v1/admin/tenants/{slug}/suspend"),
            ("POST", "/api/v1/admin/tenants/{slug}/reactivate"),
        ],
    ),
    rule(
        "tenants/delete",
        Needs(TenantsManage),
        &[("DELETE", "/api/v1/admin/tenants/{slug}")],
    ),
    rule(
        "support/begin",
        Needs(TenantsManage),
        &[("POST", "/api/v1/admin/tenants/{slug}/support")],
    ),
    rule(
        "support/list",
        Needs(TenantsManage),
        &[("GET", "/api/v1/admin/support")],
    ),
    rule(
        "system/health",
        Needs(TenantsManage),
        &[("GET", "/api/v1/admin/health")],
    ),
    rule(
        "jobs/list",
        Needs(TenantsManage),
        &[("GET", "/api/v1/admin/jobs")],
    ),
    rule(
        "jobs/retry",
        Needs(TenantsManage),
        &[("POST", "/api/v1/admin/jobs/{id}/retry")],
    ),
];

/// The rule of the server function at `endpoint`, if the table has one.
pub fn rule_for(endpoint: &str) -> Option<Access> {
    SERVER_FNS
        .iter()
        .find(|r| r.endpoint == endpoint)
        .map(|r| r.access)
}

/// Whether the server function at `endpoint` only reads: its rule is a read and each of its
/// REST twins a GET. A support access may call nothing else.
pub fn only_reads(endpoint: &str) -> bool {
    SERVER_FNS.iter().any(|r| {
        r.endpoint == endpoint
            && matches!(r.access, Access::Read(_))
            && !r.rest_twins.is_empty()
            && r.rest_twins.iter().all(|(method, _)| *method == "GET")
    })
}
