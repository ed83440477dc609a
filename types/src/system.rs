//! The installation as its super admins see it: every workspace with its size and activity,
//! and the health of the parts a devpulse instance depends on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One workspace in the installation's list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantSummary {
    pub slug: String,
    pub name: String,
    pub plan: String,
    /// `active` or `suspended`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// The last tenant migration its schema has.
    pub migrated_version: i64,
    /// People whose accounts are active (not deactivated, not erased); `None` (as the
    /// other counts) when the workspace could not be read just now.
    pub people: Option<i64>,
    /// Events that happened in the last 24 hours.
    pub events_24h: Option<i64>,
    /// Everything its schema holds on disk (tables, indexes, TOAST).
    pub storage_bytes: i64,
    /// When any of its sessions was last seen.
    pub last_activity: Option<DateTime<Utc>>,
}

/// A super admin's read-only access to one workspace, for a stated reason and a limited time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupportGrant {
    pub id: uuid::Uuid,
    /// The workspace's slug.
    pub tenant: String,
    /// The super admin's e-mail.
    pub by: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Support accesses last at least this long and at most [`SUPPORT_MAX_MINUTES`].
pub const SUPPORT_MIN_MINUTES: i64 = 5;
pub const SUPPORT_MAX_MINUTES: i64 = 60;

/// What one instance reports about itself and what it depends on, at `at`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub at: DateTime<Utc>,
    pub version: String,
    pub uptime_secs: u64,
    pub database: Database,
    pub redis: Redis,
    pub writer: Writer,
    /// Live feeds (WebSockets) open on this instance.
    pub sockets: u64,
    pub schemas: Schemas,
    /// The newest warnings and errors this instance logged, newest first.
    pub errors: Vec<LogEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Database {
    pub version: String,
    /// `embedded` (started by this process) or `external`.
    pub mode: String,
    pub size_bytes: i64,
    /// Server connections to this database, from every client.
    pub connections: i64,
    pub max_connections: i64,
    /// This instance's pool: open connections and how many of them are idle.
    pub pool_size: u32,
    pub pool_idle: u32,
    /// A read-only standby (replicas of this one are listed in `replicas`).
    pub in_recovery: bool,
    pub replicas: Vec<Replica>,
    /// The replica dashboards read from (`DATABASE_REPLICA_URL`), when there is one.
    pub read_replica: Option<ReadReplica>,
    /// Round trip of a trivial query, in milliseconds.
    pub latency_ms: f64,
}

/// The read replica as this instance sees it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadReplica {
    /// Answering as a standby.
    pub up: bool,
    /// How far behind the primary its data may be, in milliseconds; none before the first
    /// comparison.
    pub staleness_ms: Option<u64>,
    /// Reads go to the replica only while `staleness_ms` is within this.
    pub max_lag_ms: u64,
    pub error: Option<String>,
    /// Dashboard reads this instance sent to the replica, and to the primary instead.
    pub replica_reads: u64,
    pub primary_reads: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replica {
    pub name: String,
    pub state: String,
    /// WAL not yet replayed by the replica, in bytes.
    pub lag_bytes: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Redis {
    /// Whether `REDIS_URL` is set; without it limits and the live bus are in-process.
    pub configured: bool,
    /// A PING's round trip in milliseconds, when it answered.
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

/// The write path's queue and its recent commits (the last minute).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Writer {
    pub queued_events: u64,
    pub queue_capacity: u64,
    pub events_per_sec: f64,
    pub flushes: u64,
    pub flush_ms_p50: Option<f64>,
    pub flush_ms_max: Option<f64>,
    /// Events written since the instance started.
    pub written_total: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schemas {
    pub registry_version: i64,
    pub registry_expected: i64,
    pub tenant_expected: i64,
    /// Workspaces whose schema is not at `tenant_expected`: (slug, version).
    pub behind: Vec<(String, i64)>,
    pub tenants: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    /// `ERROR` or `WARN`.
    pub level: String,
    pub target: String,
    pub message: String,
}

/// Bytes as people read them: "512 B", "3.4 MB", "1.2 GB".
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else if value.abs() >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The middle of `values` (sorted here), or `None` for none.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_file_manager() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_000), "1.0 kB");
        assert_eq!(bytes(3_400_000), "3.4 MB");
        assert_eq!(bytes(123_456_789), "123 MB");
        assert_eq!(bytes(2_000_000_000_000_000), "2000 TB");
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
