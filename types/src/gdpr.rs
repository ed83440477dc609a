//! A person's data on request: an export archive or an erasure, as admins see it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Request {
    pub id: Uuid,
    /// `export` or `erasure`.
    pub kind: String,
    pub user_id: Uuid,
    /// The person's address while they have one (not after their erasure).
    pub email: Option<String>,
    /// Erasure: `delete` or `pseudonymise`.
    pub mode: Option<String>,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// Erasure: the steps done so far.
    pub step: i32,
    /// Rows exported, or removed and rewritten, by table.
    pub counts: BTreeMap<String, i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Export: when its archive stops being downloadable.
    pub expires_at: Option<DateTime<Utc>>,
    /// Export: the archive's size, while it can be downloaded (until `expires_at`).
    pub archive_bytes: Option<i64>,
}

impl Request {
    /// Whether its archive can be downloaded (as of when the list was read: the browser
    /// need not read the clock).
    pub fn downloadable(&self) -> bool {
        self.kind == "export" && self.state == "done" && self.archive_bytes.is_some()
    }
}
