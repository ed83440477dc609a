//! A workspace's settings as its admins see them on one page.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// Shown in e-mails and to super admins.
    pub name: String,
    /// The address part people sign in with; fixed.
    pub slug: String,
    /// The IANA zone days, weeks and hours-of-day follow.
    pub time_zone: String,
}
