//! What each route demands (`Access`). The matrix itself (`Role::allows`) lives in `types`,
//! shared with the pages; its test is there.

use store::Role;

pub use types::roles::READ_METRICS;
pub use types::Permission;

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

/// Whether `role` holds the permission named `name`, or one of `a|b|c` (as in the route
/// table).
pub fn role_has(role: Role, name: &str) -> bool {
    name.split('|').any(|n| {
        Permission::ALL
            .into_iter()
            .any(|p| p.as_str() == n && role.allows(p))
    })
}
