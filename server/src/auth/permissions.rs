//! What each route demands (`Access`, in `types` with the matrix itself, `Role::allows`, so the
//! server functions declare their rules in the same terms); the matrix's test is there.

use store::Role;

pub use types::roles::{Access, READ_METRICS};
pub use types::Permission;

/// Whether `role` holds the permission named `name`, or one of `a|b|c` (as in the route
/// table).
pub fn role_has(role: Role, name: &str) -> bool {
    name.split('|').any(|n| {
        Permission::ALL
            .into_iter()
            .any(|p| p.as_str() == n && role.allows(p))
    })
}
