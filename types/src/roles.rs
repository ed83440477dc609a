//! Roles and what they may do: the TRD's matrix, in one place for the server, the pages and the
//! tests. Pages ask `viewer.can(Permission::UserManage)`, never a string.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::problem::Invalid;

/// Ordered from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Developer,
    Manager,
    TenantAdmin,
    SuperAdmin,
}

pub const TENANT_ROLE_LIST: &str = "tenant_admin, manager, developer, viewer";

impl Role {
    /// The roles a tenant admin may hand out (never super_admin).
    pub const TENANT_ROLES: [Role; 4] = [
        Role::TenantAdmin,
        Role::Manager,
        Role::Developer,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::Manager => "manager",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    /// The role as people read it ("Tenant admin").
    pub fn label(self) -> &'static str {
        match self {
            Role::SuperAdmin => "Installation admin",
            Role::TenantAdmin => "Tenant admin",
            Role::Manager => "Manager",
            Role::Developer => "Developer",
            Role::Viewer => "Viewer",
        }
    }

    /// Any role, super_admin included (as stored).
    pub fn parse(s: &str) -> Result<Role, Invalid> {
        Ok(match s {
            "super_admin" => Role::SuperAdmin,
            "tenant_admin" => Role::TenantAdmin,
            "manager" => Role::Manager,
            "developer" => Role::Developer,
            "viewer" => Role::Viewer,
            _ => return Err(Role::tenant_role_error()),
        })
    }

    /// A role someone may be given inside a tenant: what forms, the API and the CLI accept.
    pub fn parse_tenant(s: &str) -> Result<Role, Invalid> {
        match Role::parse(s) {
            Ok(r) if r != Role::SuperAdmin => Ok(r),
            _ => Err(Role::tenant_role_error()),
        }
    }

    fn tenant_role_error() -> Invalid {
        Invalid {
            field: "role",
            reason: format!("must be one of {TENANT_ROLE_LIST}"),
        }
    }

    /// Whether this role holds `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::SuperAdmin => true,
            Role::TenantAdmin => {
                matches!(permission, UserManage | DashboardManage | MetricsViewAll)
            }
            Role::Manager => matches!(permission, MetricsViewTeam | DashboardView | ReportsExport),
            Role::Developer => {
                matches!(permission, MetricsViewOwn | DashboardPersonal | ProfileEdit)
            }
            Role::Viewer => matches!(permission, DashboardView | ReportsView),
        }
    }

    /// Every permission this role holds, in the matrix's order.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.allows(*p))
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Permission {
    /// Tenants, plans, the whole installation (super admins only).
    #[serde(rename = "tenants.manage")]
    TenantsManage,
    #[serde(rename = "user.manage")]
    UserManage,
    #[serde(rename = "dashboard.manage")]
    DashboardManage,
    #[serde(rename = "metrics.view_all")]
    MetricsViewAll,
    #[serde(rename = "metrics.view_team")]
    MetricsViewTeam,
    #[serde(rename = "metrics.view_own")]
    MetricsViewOwn,
    #[serde(rename = "dashboard.view")]
    DashboardView,
    #[serde(rename = "dashboard.personal")]
    DashboardPersonal,
    #[serde(rename = "reports.export")]
    ReportsExport,
    #[serde(rename = "reports.view")]
    ReportsView,
    #[serde(rename = "profile.edit")]
    ProfileEdit,
}

impl Permission {
    /// Whether the permission only reads: all a support access holds (see `Viewer::support`).
    pub fn read_only(self) -> bool {
        matches!(
            self,
            Permission::MetricsViewAll | Permission::DashboardView | Permission::ReportsView
        )
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

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permissions that let someone read metrics, most to least.
pub const READ_METRICS: &[Permission] = &[
    Permission::MetricsViewAll,
    Permission::MetricsViewTeam,
    Permission::MetricsViewOwn,
];

/// What a route demands of its caller. Every API route declares one (the server's
/// `api::ApiRouter`), and so does every server function (`app::access`).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(role: Role) -> Vec<&'static str> {
        role.permissions()
            .into_iter()
            .map(Permission::as_str)
            .collect()
    }

    #[test]
    fn the_matrix_is_exactly_the_trd() {
        assert_eq!(granted(Role::SuperAdmin).len(), Permission::ALL.len());
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

    #[test]
    fn names_round_trip_through_json_and_as_str() {
        for p in Permission::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Permission>(&json).unwrap(), p);
        }
        for r in [
            Role::SuperAdmin,
            Role::TenantAdmin,
            Role::Manager,
            Role::Developer,
            Role::Viewer,
        ] {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
    }

    #[test]
    fn tenants_cannot_hand_out_super_admin() {
        assert_eq!(Role::parse_tenant("manager"), Ok(Role::Manager));
        let e = Role::parse_tenant("super_admin").unwrap_err();
        assert_eq!(e.field, "role");
        assert!(e
            .reason
            .contains("tenant_admin, manager, developer, viewer"));
        assert!(Role::parse_tenant("root").is_err());
    }
}
