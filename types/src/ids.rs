//! Ids are newtypes so that a user id cannot be passed where a team id is meant; in JSON they
//! are plain UUID strings.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

id!(
    /// A person in a tenant, or a super admin in the registry.
    UserId
);
id!(
    /// A tenant (workspace) in the registry.
    TenantId
);
id!(
    /// A team inside a tenant.
    TeamId
);
id!(
    /// A saved dashboard (a board): one person's, or the workspace's.
    BoardId
);
id!(
    /// An import batch: what one `devpulse import` run sent, so it can be rolled back.
    ImportId
);
id!(
    /// A budget: a spending limit for the workspace, a team or a person.
    BudgetId
);
id!(
    /// An alert rule: a number, a threshold and who hears when it is crossed.
    AlertRuleId
);

id!(
    /// A scheduled report: a digest of a workspace's or a team's numbers, sent by e-mail.
    ReportId
);
