//! What the `/ws` WebSocket carries. Every message is one JSON object whose `type` names it, so
//! a client can ignore kinds it does not know yet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{AlertRuleId, BoardId, TenantId, UserId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// New events were committed for the tenant: what shows metrics should refetch.
    MetricsUpdate(MetricsUpdate),
    /// One sample of the installation's database activity (the status page).
    DbSample(DbSample),
    /// Refetch everything: sent when a feed opens (so a page that reconnects catches up on
    /// what it missed while away). With `board`: that board was saved elsewhere (in another
    /// of the reader's tabs, or a workspace board by a colleague) and pages showing it
    /// reload it; `version` is the new one, none when it was deleted.
    DashboardRefresh {
        at_ms: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        board: Option<BoardId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i32>,
    },
    /// An alert rule the reader hears of in the app fired or resolved: the bell's new item.
    SystemAlert(SystemAlert),
}

/// One new notification in the reader's bell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemAlert {
    pub notification: uuid::Uuid,
    pub rule_id: AlertRuleId,
    pub headline: String,
    pub firing: bool,
    pub at_ms: i64,
}

/// Alert rules changed state: what instances tell each other, and each tells the feeds of
/// the people told ([`AlertNotice::for_reader`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertNotice {
    pub tenant: TenantId,
    pub rule_id: AlertRuleId,
    pub headline: String,
    pub firing: bool,
    pub at_ms: i64,
    /// Each person told in the app, with their notification.
    pub told: Vec<(UserId, uuid::Uuid)>,
}

impl AlertNotice {
    /// What the feed of `reader` in `tenant` sends, if they were told.
    pub fn for_reader(&self, tenant: TenantId, reader: UserId) -> Option<LiveMessage> {
        if self.tenant != tenant {
            return None;
        }
        let (_, notification) = self.told.iter().find(|(u, _)| *u == reader)?;
        Some(LiveMessage::SystemAlert(SystemAlert {
            notification: *notification,
            rule_id: self.rule_id,
            headline: self.headline.clone(),
            firing: self.firing,
            at_ms: self.at_ms,
        }))
    }
}

/// A board was saved, renamed, published or deleted: what instances tell each other, and
/// each tells the feeds of the people concerned (the owner's, or for a workspace board the
/// workspace's) as a [`LiveMessage::DashboardRefresh`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoardChange {
    pub tenant: TenantId,
    pub board: BoardId,
    /// `None`: a workspace board.
    pub owner: Option<UserId>,
    /// `None`: deleted.
    pub version: Option<i32>,
}

impl BoardChange {
    /// Whether the feed of `reader` in `tenant` is told of this change.
    pub fn concerns(&self, tenant: TenantId, reader: UserId) -> bool {
        self.tenant == tenant && self.owner.is_none_or(|o| o == reader)
    }

    /// The message a concerned feed sends.
    pub fn message(&self, at_ms: i64) -> LiveMessage {
        LiveMessage::DashboardRefresh {
            at_ms,
            board: Some(self.board),
            version: self.version,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsUpdate {
    pub tenant: TenantId,
    /// New events committed since the previous message (of the people the subscriber sees).
    pub events: u64,
    /// The same per person whose events they were: what lets each subscriber be told only of
    /// the people whose numbers they may see (see [`MetricsUpdate::seen_by`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_user: BTreeMap<UserId, u64>,
    /// When the message was made, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl MetricsUpdate {
    /// What a subscriber who sees `only` these people (`None`: everyone) may be told of this
    /// update; `None` when it holds nothing of theirs. `named: false` (a reader of totals
    /// only) drops whose events they were.
    pub fn seen_by(&self, only: Option<&[UserId]>, named: bool) -> Option<MetricsUpdate> {
        let Some(only) = only else {
            let mut all = self.clone();
            if !named {
                all.by_user.clear();
            }
            return Some(all);
        };
        let by_user: BTreeMap<UserId, u64> = self
            .by_user
            .iter()
            .filter(|(u, _)| only.contains(u))
            .map(|(u, n)| (*u, *n))
            .collect();
        let events = by_user.values().sum();
        (events > 0).then_some(MetricsUpdate {
            tenant: self.tenant,
            events,
            by_user,
            at_ms: self.at_ms,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
            by_user: BTreeMap::from([(UserId(uuid::Uuid::nil()), 3)]),
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
        let r = LiveMessage::DashboardRefresh {
            at_ms: 5,
            board: None,
            version: None,
        };
        assert_eq!(r.to_json(), r#"{"type":"dashboard_refresh","at_ms":5}"#);
        let saved = BoardChange {
            tenant: TenantId(uuid::Uuid::nil()),
            board: BoardId(uuid::Uuid::from_u128(9)),
            owner: None,
            version: Some(3),
        };
        let v: serde_json::Value = serde_json::from_str(&saved.message(6).to_json()).unwrap();
        assert_eq!(v["type"], "dashboard_refresh");
        assert_eq!(v["board"], "00000000-0000-0000-0000-000000000009");
        assert_eq!(v["version"], 3);
    }

    #[test]
    fn a_board_change_reaches_its_owner_or_for_a_workspace_board_everyone() {
        let (t, other_t) = (
            TenantId(uuid::Uuid::from_u128(1)),
            TenantId(uuid::Uuid::from_u128(2)),
        );
        let (me, you) = (
            UserId(uuid::Uuid::from_u128(3)),
            UserId(uuid::Uuid::from_u128(4)),
        );
        let mine = BoardChange {
            tenant: t,
            board: BoardId(uuid::Uuid::from_u128(5)),
            owner: Some(me),
            version: Some(2),
        };
        assert!(mine.concerns(t, me));
        assert!(!mine.concerns(t, you), "one person's board is theirs alone");
        assert!(!mine.concerns(other_t, me));
        let shared = BoardChange {
            owner: None,
            ..mine
        };
        assert!(shared.concerns(t, you));
        assert!(!shared.concerns(other_t, you));
    }

    #[test]
    fn a_subscriber_is_told_only_of_the_people_they_see() {
        let (a, b) = (
            UserId(uuid::Uuid::from_u128(1)),
            UserId(uuid::Uuid::from_u128(2)),
        );
        let u = MetricsUpdate {
            tenant: TenantId(uuid::Uuid::nil()),
            events: 5,
            by_user: BTreeMap::from([(a, 2), (b, 3)]),
            at_ms: 7,
        };
        assert_eq!(u.seen_by(None, true), Some(u.clone()));
        let totals = u.seen_by(None, false).unwrap();
        assert_eq!((totals.events, totals.by_user.len()), (5, 0));
        let mine = u.seen_by(Some(&[a]), true).unwrap();
        assert_eq!((mine.events, mine.by_user.len()), (2, 1));
        assert_eq!(mine.by_user[&a], 2);
        assert_eq!(u.seen_by(Some(&[]), true), None);
        assert_eq!(
            u.seen_by(Some(&[UserId(uuid::Uuid::from_u128(3))]), true),
            None
        );
    }
}
