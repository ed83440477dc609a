//! The signed-in person as the pages see them: enough to choose what to show. Every decision
//! that matters is made again on the server, from the same matrix.

use serde::{Deserialize, Serialize};

use crate::{
    ids::UserId,
    roles::{Permission, Role},
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The workspace slug; `None` for super admins.
    pub tenant: Option<String>,
}

impl Viewer {
    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// What the role holds, for the profile page.
    pub fn permissions(&self) -> Vec<Permission> {
        self.role.permissions()
    }
}
