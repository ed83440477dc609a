//! The signed-in person as the pages see them: enough to choose what to show. Every decision
//! that matters is made again on the server, from the same matrix.

use serde::{Deserialize, Serialize};

use crate::{
    ids::UserId,
    roles::{Permission, Role},
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Viewer {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The workspace slug; `None` for super admins.
    pub tenant: Option<String>,
    /// Set while a super admin reads `tenant` through a support access: read-only.
    #[serde(default)]
    pub support: Option<Support>,
}

/// A super admin's support access to one workspace, as the pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Support {
    pub grant: uuid::Uuid,
    pub reason: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Viewer {
    pub fn can(&self, permission: Permission) -> bool {
        if self.support.is_some() {
            return permission.read_only();
        }
        self.role.allows(permission)
    }

    /// What the role holds, for the profile page.
    pub fn permissions(&self) -> Vec<Permission> {
        self.role.permissions()
    }
}

/// The theme a person picked; none follows their system's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(s: &str) -> Option<Theme> {
        match s {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// A person's pick as both doors take it: `light`, `dark`, or none (follow the system).
    pub fn choice(s: Option<&str>) -> Result<Option<Theme>, crate::Invalid> {
        s.map(|t| {
            Theme::parse(t).ok_or(crate::Invalid {
                field: "theme",
                reason: "must be light, dark or none".into(),
            })
        })
        .transpose()
    }

    /// From a `Cookie` header's `theme=…`, where the browser keeps it between pages.
    pub fn from_cookies(header: &str) -> Option<Theme> {
        header
            .split(';')
            .find_map(|c| c.trim().strip_prefix("theme=").and_then(Theme::parse))
    }

    /// The cookie that keeps `theme` (`None`: forget it) on this browser for a year.
    pub fn cookie(theme: Option<Theme>) -> String {
        match theme {
            Some(t) => format!(
                "theme={}; Path=/; Max-Age=31536000; SameSite=Lax",
                t.as_str()
            ),
            None => "theme=; Path=/; Max-Age=0; SameSite=Lax".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_theme_choice_is_light_dark_or_none() {
        assert_eq!(Theme::choice(Some("dark")).unwrap(), Some(Theme::Dark));
        assert_eq!(Theme::choice(None).unwrap(), None);
        assert_eq!(Theme::choice(Some("blue")).unwrap_err().field, "theme");
    }

    #[test]
    fn a_theme_reads_back_from_its_cookie() {
        for t in [Theme::Light, Theme::Dark] {
            let set = Theme::cookie(Some(t));
            let pair = set.split(';').next().unwrap();
            assert_eq!(Theme::from_cookies(&format!("a=b; {pair}")), Some(t));
        }
        assert_eq!(Theme::from_cookies("theme=blue; x=y"), None);
        assert_eq!(Theme::from_cookies("x=y"), None);
        assert!(Theme::cookie(None).contains("Max-Age=0"));
    }
}

/// A workspace where the signed-in person (by e-mail) has an account: the switcher's rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub slug: String,
    pub name: String,
    /// Their role there.
    pub role: Role,
    /// The workspace this session is in.
    pub current: bool,
}
