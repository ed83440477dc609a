//! What the `/ws` WebSocket carries. Every message is one JSON object whose `type` names it, so
//! a client can ignore kinds it does not know yet.

use serde::{Deserialize, Serialize};

use crate::ids::TenantId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// New events were committed for the tenant: what shows metrics should refetch.
    MetricsUpdate(MetricsUpdate),
    /// One sample of the installation's database activity (the status page).
    DbSample(DbSample),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsUpdate {
    pub tenant: TenantId,
    /// New events committed since the previous message.
    pub events: u64,
    /// When the message was made, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbSample {
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Committed + rolled-back transactions per second in devpulse's database.
    pub tps: f64,
    /// Open connections to the database.
    pub backends: i32,
}

impl LiveMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("live messages serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_type_beside_their_fields() {
        let m = LiveMessage::MetricsUpdate(MetricsUpdate {
            tenant: TenantId(uuid::Uuid::nil()),
            events: 3,
            at_ms: 7,
        });
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["type"], "metrics_update");
        assert_eq!(v["events"], 3);
        assert_eq!(v["tenant"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(serde_json::from_value::<LiveMessage>(v).unwrap(), m);
        let s = LiveMessage::DbSample(DbSample {
            ts_ms: 1,
            tps: 2.5,
            backends: 4,
        });
        assert!(s.to_json().starts_with(r#"{"type":"db_sample""#));
    }
}
