//! The people of a workspace as the API and the pages show them: accounts, teams and who is
//! in them. `store` reads and writes them; REST answers and server functions return them as
//! they are, so the browser and a script see the same fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Role, TeamId, UserId};

/// An account: a person in a tenant, or a super admin in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    #[serde(flatten)]
    pub user: User,
    /// They have an authenticator app set up.
    pub mfa: bool,
}

/// A team and its members. A member flagged `is_manager` manages the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub is_manager: bool,
}

/// What a single-use password link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordLink {
    pub email: String,
    pub kind: LinkKind,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// What a link is for, read without using it (the `/welcome` page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkInfo {
    pub kind: LinkKind,
    /// The workspace (tenant slug).
    pub tenant: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// The most people one invitation list may hold.
pub const MAX_BULK_INVITES: usize = 500;

/// One line of an invitation list (pasted or uploaded CSV: e-mail, name, role, team), and
/// everything wrong with it. A list is sent only when no line has a problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteRow {
    /// Its line in the text, from 1.
    pub line: usize,
    pub email: String,
    pub name: String,
    /// Developer when the line names none.
    pub role: String,
    pub team: Option<String>,
    pub problems: Vec<String>,
}

/// What an invitation list came to: every line checked, and how many were invited (none
/// unless every line was fine and sending was asked for).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkInvite {
    pub rows: Vec<InviteRow>,
    pub invited: usize,
}

impl BulkInvite {
    pub fn problems(&self) -> usize {
        self.rows.iter().filter(|r| !r.problems.is_empty()).count()
    }
}

/// Reads an invitation list: comma-separated, fields quoted with `"` when they hold a comma,
/// an optional header line naming the columns (`email`, `name`, `role`, `team`, any order),
/// blank lines skipped. Checks what the text alone can tell: an address's shape, the role,
/// the same address twice, the list's length. The store adds what only it knows (an account
/// that exists, a team that does not).
/// A row without a role gets `default_role` (the workspace's).
pub fn read_invite_list(text: &str, default_role: Role) -> Result<Vec<InviteRow>, crate::Invalid> {
    let mut columns = ["email", "name", "role", "team"].map(String::from).to_vec();
    let mut rows: Vec<InviteRow> = Vec::new();
    let mut first_line = std::collections::HashMap::<String, usize>::new();
    // Spreadsheets save CSV with a byte-order mark in front of the header.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields = csv_fields(line);
        let header = fields
            .iter()
            .any(|f| f.trim().eq_ignore_ascii_case("email"));
        if rows.is_empty() && header {
            columns = fields
                .iter()
                .map(|f| f.trim().to_ascii_lowercase())
                .collect();
            continue;
        }
        let get = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|i| fields.get(i))
                .map(|f| f.trim().to_string())
                .unwrap_or_default()
        };
        let mut row = InviteRow {
            line: i + 1,
            email: get("email").to_ascii_lowercase(),
            name: get("name"),
            role: match get("role") {
                r if r.is_empty() => default_role.as_str().to_string(),
                r => r.to_ascii_lowercase(),
            },
            team: Some(get("team")).filter(|t| !t.is_empty()),
            problems: vec![],
        };
        if !plausible_email(&row.email) {
            row.problems
                .push(format!("{:?} is not an e-mail address", row.email));
        }
        if Role::parse_tenant(&row.role).is_err() {
            row.problems.push(format!(
                "role {:?} is not one of {}",
                row.role,
                crate::roles::TENANT_ROLE_LIST
            ));
        }
        if row.name.chars().count() > 200 {
            row.problems
                .push("the name is longer than 200 characters".into());
        }
        if !row.email.is_empty() {
            match first_line.get(&row.email) {
                Some(earlier) => row
                    .problems
                    .push(format!("the same address as line {earlier}")),
                None => {
                    first_line.insert(row.email.clone(), row.line);
                }
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(crate::Invalid {
            field: "csv",
            reason: "lists nobody: one person a line, e-mail first".into(),
        });
    }
    if rows.len() > MAX_BULK_INVITES {
        return Err(crate::Invalid {
            field: "csv",
            reason: format!(
                "lists {} people; at most {MAX_BULK_INVITES} at once",
                rows.len()
            ),
        });
    }
    Ok(rows)
}

/// An address that can be one: something, `@`, a domain with a dot, no spaces.
fn plausible_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(|c| c.is_whitespace() || c == ',')
                && !domain.contains('@')
                && s.len() <= 320
        }
        None => false,
    }
}

/// The fields of one CSV line (RFC 4180 quoting, within the line).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (vec![], String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A change made to several people at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BulkChange {
    Role { role: Role },
    Deactivate,
    Reactivate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_reads_with_or_without_a_header_and_names_each_bad_line() {
        let rows = read_invite_list(
            "email,name,role,team\n\
             ada@acme.test,\"Lovelace, Ada\",manager,Platform\n\
             \n\
             bob@acme.test,Bob,,\n\
             not-an-address,X,developer,\n\
             ADA@acme.test,Again,viewer,\n\
             eve@acme.test,Eve,owner,\n",
            Role::Developer,
        )
        .unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].name, "Lovelace, Ada");
        assert_eq!(
            (rows[0].role.as_str(), rows[0].team.as_deref()),
            ("manager", Some("Platform"))
        );
        assert_eq!(
            (rows[1].line, rows[1].role.as_str(), rows[1].team.as_deref()),
            (4, "developer", None)
        );
        assert!(rows[1].problems.is_empty());
        assert_eq!(
            rows[2].problems,
            ["\"not-an-address\" is not an e-mail address"]
        );
        assert_eq!(rows[3].problems, ["the same address as line 2"]);
        assert!(rows[4].problems[0].starts_with("role \"owner\" is not one of"));

        let excel = read_invite_list(
            "\u{feff}Email,Name\r\nfay@acme.test,Fay\r\n",
            Role::Developer,
        )
        .unwrap();
        assert_eq!((excel.len(), excel[0].name.as_str()), (1, "Fay"));

        // Rows without a role take the workspace's default.
        let bare = read_invite_list("carol@acme.test\ndan@acme.test, Dan", Role::Viewer).unwrap();
        assert_eq!(bare[1].name, "Dan");
        assert!(bare
            .iter()
            .all(|r| r.problems.is_empty() && r.role == "viewer"));

        let reordered =
            read_invite_list("Role,Email\nviewer,zed@acme.test", Role::Developer).unwrap();
        assert_eq!(
            (reordered[0].email.as_str(), reordered[0].role.as_str()),
            ("zed@acme.test", "viewer")
        );
    }

    #[test]
    fn an_empty_or_huge_list_is_refused_whole() {
        assert_eq!(
            read_invite_list(" \n\n", Role::Developer)
                .unwrap_err()
                .field,
            "csv"
        );
        assert_eq!(
            read_invite_list("email,name\n", Role::Developer)
                .unwrap_err()
                .field,
            "csv"
        );
        let many: String = (0..=MAX_BULK_INVITES)
            .map(|i| format!("p{i}@acme.test\n"))
            .collect();
        assert!(read_invite_list(&many, Role::Developer)
            .unwrap_err()
            .reason
            .contains("at most 500"));
    }
}
