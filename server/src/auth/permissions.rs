//! Roles and what they may do: the matrix from the TRD, in one place.

use store::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Tenants, plans, the whole installation (super admins only).
    TenantsManage,
    UserManage,
    DashboardManage,
    MetricsViewAll,
    MetricsViewTeam,
    MetricsViewOwn,
    DashboardView,
    DashboardPersonal,
    ReportsExport,
    ReportsView,
    ProfileEdit,
}

/// Every permission, in the order the matrix lists them.
pub const ALL: [Permission; 11] = [
    Permission::TenantsManage,
    Permission::UserManage,
    Permission::DashboardManage,
    Permission::MetricsViewAll,
    Permission::MetricsViewTeam,
    Permission::MetricsViewOwn,
    Permission::DashboardView,
    Permission::DashboardPersonal,
    Permission::ReportsExport,
    Permission::ReportsView,
    Permission::ProfileEdit,
];

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::TenantsManage => "tenants.manage",
            Permission::UserManage => "user.manage",
            Permission::DashboardManage => "dashboard.manage",
            Permission::MetricsViewAll => "metrics.view_all",
            Permission::MetricsViewTeam => "metrics.view_team",
            Permission::MetricsViewOwn => "metrics.view_own",
            Permission::DashboardView => "dashboard.view",
            Permission::DashboardPersonal => "dashboard.personal",
            Permission::ReportsExport => "reports.export",
            Permission::ReportsView => "reports.view",
            Permission::ProfileEdit => "profile.edit",
        }
    }
}

/// What a route demands of its caller. Every API route declares one (see `api::ApiRouter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (login, refresh).
    Public,
    /// Any signed-in person of a tenant or a super admin, whatever the role (own profile,
    /// own API keys, logout).
    Authenticated,
    /// Signed in and granted this permission.
    Permission(Permission),
    /// Reading metrics: a session or an API key with the `read` scope, whose role holds any
    /// of these permissions (the handler then limits what they see by which one).
    Read(&'static [Permission]),
    /// Sending data: an API key with the `ingest` scope (collectors, hooks, OTLP exporters).
    Ingest,
}

impl Access {
    pub fn describe(self) -> String {
        match self {
            Access::Public => "public".into(),
            Access::Authenticated => "authenticated".into(),
            Access::Permission(p) => p.as_str().into(),
            Access::Read(ps) => ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("|"),
            Access::Ingest => "ingest key".into(),
        }
    }
}

pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::SuperAdmin => true,
        Role::TenantAdmin => matches!(permission, UserManage | DashboardManage | MetricsViewAll),
        Role::Manager => matches!(permission, MetricsViewTeam | DashboardView | ReportsExport),
        Role::Developer => matches!(permission, MetricsViewOwn | DashboardPersonal | ProfileEdit),
        Role::Viewer => matches!(permission, DashboardView | ReportsView),
    }
}

/// Whether `role` holds the permission named `name`, or one of `a|b|c` (as in the route
/// table).
pub fn role_has(role: Role, name: &str) -> bool {
    name.split('|')
        .any(|n| ALL.into_iter().any(|p| p.as_str() == n && allows(role, p)))
}

/// The permissions that let someone read metrics, most to least.
pub const READ_METRICS: &[Permission] = &[
    Permission::MetricsViewAll,
    Permission::MetricsViewTeam,
    Permission::MetricsViewOwn,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_exactly_the_trd() {
        let all = ALL;
        let granted = |role| {
            all.iter()
                .filter(|p| allows(role, **p))
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(granted(Role::SuperAdmin).len(), all.len());
        assert_eq!(
            granted(Role::TenantAdmin),
            ["user.manage", "dashboard.manage", "metrics.view_all"]
        );
        assert_eq!(
            granted(Role::Manager),
            ["metrics.view_team", "dashboard.view", "reports.export"]
        );
        assert_eq!(
            granted(Role::Developer),
            ["metrics.view_own", "dashboard.personal", "profile.edit"]
        );
        assert_eq!(granted(Role::Viewer), ["dashboard.view", "reports.view"]);
    }
}
