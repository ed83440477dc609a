//! Background jobs as the installation's console shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A job's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One job: what it is, for which workspace, and how its attempts went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: JobId,
    /// The workspace's slug; `None` for installation-wide work.
    pub tenant: Option<String>,
    pub kind: String,
    /// `queued`, `running`, `done` or `dead` (no attempt left; run again by hand).
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How many jobs wait, run, or died.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = JobCounts))]
pub struct Counts {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
}

/// Recurring work as the console shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scheduled {
    pub name: String,
    /// The cron pattern, in UTC.
    pub pattern: String,
    /// The pattern in words.
    pub description: String,
    pub next_at: Option<DateTime<Utc>>,
}

/// The console's view: the counts, the newest jobs and the recurring work.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jobs {
    pub counts: Counts,
    pub jobs: Vec<Job>,
    #[serde(default)]
    pub schedules: Vec<Scheduled>,
}
