//! A workspace's settings as its admins see them on one page.

use serde::{Deserialize, Serialize};

use crate::{Invalid, Role};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workspace {
    /// Shown in e-mails and to super admins.
    pub name: String,
    /// The address part people sign in with; fixed.
    pub slug: String,
    /// The IANA zone days, weeks and hours-of-day follow.
    pub time_zone: String,
    pub people: PeoplePolicy,
}

/// How the workspace treats its people: what developers may compare themselves with, how long
/// a sign-in lasts, and the role a newcomer gets when nobody names one.
/// Stored as JSON: a field a later version adds or drops falls back to its default rather
/// than the whole policy (a stricter sign-in length must not quietly become the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct PeoplePolicy {
    /// Developers see their teams' medians beside their own numbers (medians over at least
    /// three colleagues). Managers and admins see them regardless.
    pub team_medians: bool,
    /// A sign-in unused for this many hours ends.
    pub idle_hours: u32,
    /// A sign-in ends this many hours after it began, however much it is used.
    pub max_hours: u32,
    /// The role of people invited without one (a CSV row with an empty role, an API call
    /// without `role`) and the one the invitation forms start with.
    pub default_role: Role,
}

impl Default for PeoplePolicy {
    fn default() -> Self {
        PeoplePolicy {
            team_medians: true,
            idle_hours: 7 * 24,
            max_hours: 30 * 24,
            default_role: Role::Developer,
        }
    }
}

/// The sign-in lengths offered, in hours, with their names: a working day to a quarter.
pub const SESSION_HOURS: [(u32, &str); 9] = [
    (1, "1 hour"),
    (8, "8 hours"),
    (12, "12 hours"),
    (24, "1 day"),
    (3 * 24, "3 days"),
    (7 * 24, "7 days"),
    (14 * 24, "14 days"),
    (30 * 24, "30 days"),
    (90 * 24, "90 days"),
];

/// The longest a sign-in may last: a quarter.
pub const MAX_SESSION_HOURS: u32 = 90 * 24;

/// The roles a newcomer may get by default; an admin is always a deliberate choice.
pub const DEFAULT_ROLES: [Role; 3] = [Role::Viewer, Role::Developer, Role::Manager];

impl PeoplePolicy {
    pub fn check(&self) -> Result<(), Invalid> {
        for (field, hours) in [
            ("idle_hours", self.idle_hours),
            ("max_hours", self.max_hours),
        ] {
            if !(1..=MAX_SESSION_HOURS).contains(&hours) {
                return Err(Invalid {
                    field,
                    reason: format!("must be between 1 and {MAX_SESSION_HOURS} hours"),
                });
            }
        }
        if self.idle_hours > self.max_hours {
            return Err(Invalid {
                field: "idle_hours",
                reason: format!(
                    "must not be longer than the whole sign-in ({})",
                    hours_label(self.max_hours)
                ),
            });
        }
        if !DEFAULT_ROLES.contains(&self.default_role) {
            return Err(Invalid {
                field: "default_role",
                reason: "must be viewer, developer or manager (admins are named one by one)".into(),
            });
        }
        Ok(())
    }
}

/// "8 hours", "30 days", "36 hours": a length in the words people use for it.
pub fn hours_label(hours: u32) -> String {
    match SESSION_HOURS.iter().find(|(h, _)| *h == hours) {
        Some((_, label)) => (*label).to_string(),
        None if hours.is_multiple_of(24) => format!("{} days", hours / 24),
        None if hours == 1 => "1 hour".into(),
        None => format!("{hours} hours"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_valid_and_matches_the_old_fixed_lifetimes() {
        let p = PeoplePolicy::default();
        assert_eq!(p.check(), Ok(()));
        assert_eq!((p.idle_hours, p.max_hours), (168, 720));
        assert_eq!(p.default_role, Role::Developer);
    }

    #[test]
    fn lengths_are_bounded_and_the_idle_limit_fits_inside_the_whole() {
        let ok = PeoplePolicy {
            idle_hours: 8,
            max_hours: 8,
            ..PeoplePolicy::default()
        };
        assert_eq!(ok.check(), Ok(()));
        let e = PeoplePolicy {
            idle_hours: 0,
            ..ok
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "idle_hours");
        let e = PeoplePolicy {
            max_hours: MAX_SESSION_HOURS + 1,
            ..PeoplePolicy::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "max_hours");
        let e = PeoplePolicy {
            idle_hours: 48,
            max_hours: 24,
            ..ok
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "idle_hours");
        assert!(e.reason.contains("1 day"), "{}", e.reason);
    }

    #[test]
    fn an_admin_is_never_anyones_default() {
        for role in [Role::TenantAdmin, Role::SuperAdmin] {
            let e = PeoplePolicy {
                default_role: role,
                ..PeoplePolicy::default()
            }
            .check()
            .unwrap_err();
            assert_eq!(e.field, "default_role");
        }
    }

    #[test]
    fn a_stored_policy_keeps_what_it_says_when_fields_come_or_go() {
        let p: PeoplePolicy =
            serde_json::from_str(r#"{"idle_hours": 8, "max_hours": 24, "retired": 1}"#).unwrap();
        assert_eq!((p.idle_hours, p.max_hours), (8, 24));
        assert!(p.team_medians, "a missing field is its default");
    }

    #[test]
    fn lengths_read_as_people_say_them() {
        assert_eq!(hours_label(8), "8 hours");
        assert_eq!(hours_label(720), "30 days");
        assert_eq!(hours_label(48), "2 days");
        assert_eq!(hours_label(36), "36 hours");
        assert_eq!(hours_label(1), "1 hour");
    }
}
