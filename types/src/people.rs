//! The people of a workspace as the API and the pages show them: accounts, teams and who is
//! in them. `store` reads and writes them; REST answers and server functions return them as
//! they are, so the browser and a script see the same fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Role, TeamId, UserId};

/// An account: a person in a tenant, or a super admin in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// Sessions issued before this instant are no longer honoured (role change, password
    /// change, sign-out everywhere).
    pub sessions_valid_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A row of the users page: the account and whether it has a second factor set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    #[serde(flatten)]
    pub user: User,
    /// They have an authenticator app set up.
    pub mfa: bool,
}

/// A team and its members. A member flagged `is_manager` manages the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub is_manager: bool,
}

/// What a single-use password link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A new person's first password.
    Invite,
    /// A new password, issued by a tenant admin.
    Reset,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Invite => "invite",
            LinkKind::Reset => "reset",
        }
    }
}

/// A single-use link that lets `email` set a password, shown once to the admin who asked for
/// it (the person gets it from them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordLink {
    pub email: String,
    pub kind: LinkKind,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// What a link is for, read without using it (the `/welcome` page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub kind: LinkKind,
    /// The workspace (tenant slug).
    pub tenant: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}
