//! The audit log as its readers see it: entries, and the filter that finds them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// The e-mail of the person `target` is, when it is one.
    pub target_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

/// What to look for; every part is optional and they all hold together.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditFilter {
    /// Part of the actor's name (an e-mail, `cli`, `system`), any case.
    pub actor: Option<String>,
    /// One action (`user.invited`), or every action of a noun (`user.`).
    pub action: Option<String>,
    /// The id or name an entry is about, exactly.
    pub target: Option<String>,
    /// `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this id: the next page of a previous answer.
    pub before: Option<i64>,
}

impl AuditFilter {
    /// The longest text a filter field may hold.
    pub const MAX_TEXT: usize = 320;

    /// The filter a page's query string (or its filter form) asks for: `actor`, `action`,
    /// `target`, `from`, `to` (RFC 3339, or a form's `datetime-local` read as UTC) and
    /// `before`. Empty values are no filter; anything else unknown is ignored.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<AuditFilter, crate::problem::FieldError> {
        let mut f = AuditFilter::default();
        for (key, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key {
                "actor" => f.actor = Some(value.to_string()),
                "action" => f.action = Some(value.to_string()),
                "target" => f.target = Some(value.to_string()),
                "from" => f.from = Some(crate::range::parse_form_time(key, value)?),
                "to" => f.to = Some(crate::range::parse_form_time(key, value)?),
                "before" => {
                    f.before = Some(value.parse().map_err(|_| {
                        crate::problem::FieldError::new("/before", "must be an entry id")
                    })?)
                }
                _ => {}
            }
        }
        if let Some((field, reason)) = f.problem() {
            return Err(crate::problem::FieldError::new(format!("/{field}"), reason));
        }
        Ok(f)
    }

    /// The query string of this filter (times as RFC 3339), without `before`.
    pub fn query(&self) -> String {
        let mut parts = vec![];
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", crate::dashboard::encode(v)));
            }
        }
        for (k, v) in [("from", self.from), ("to", self.to)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", crate::dashboard::encode(&v.to_rfc3339())));
            }
        }
        parts.join("&")
    }

    /// The first field that cannot be a filter, and why.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        for (field, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > Self::MAX_TEXT)
            {
                return Some((field, "must be at most 320 characters"));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Some(("to", "must be after from"));
            }
        }
        None
    }
}

/// One page of entries, newest first, and where the next (older) page starts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

/// The actions the log records, for the viewer's picker (any text may still be asked for).
pub const ACTIONS: &[&str] = &[
    "alert.deleted",
    "alert.saved",
    "api_key.created",
    "api_key.revoked",
    "budget.deleted",
    "budget.set",
    "dashboard.created",
    "dashboard.deleted",
    "dashboard.published",
    "dashboard.saved",
    "gdpr.erasure_requested",
    "gdpr.export_downloaded",
    "gdpr.export_requested",
    "import.rolled_back",
    "login.failed",
    "login.succeeded",
    "logout",
    "logout.everywhere",
    "mfa.challenged",
    "mfa.disabled",
    "mfa.enrolled",
    "mfa.failed",
    "mfa.recovery_codes_renewed",
    "mfa.reset",
    "mfa.verified",
    "password.changed",
    "password.reset",
    "price.reset",
    "price.set",
    "report.deleted",
    "report.saved",
    "report.sent",
    "retention.enforced",
    "session.family_revoked",
    "settings.mfa_required",
    "settings.people",
    "settings.retention",
    "settings.time_zone",
    "sso.configured",
    "sso.domain_checked",
    "sso.failed",
    "sso.linked",
    "sso.metadata_refreshed",
    "sso.removed",
    "sso.tried",
    "support.ended",
    "support.started",
    "team.created",
    "team.deleted",
    "team.member_removed",
    "team.member_set",
    "team.renamed",
    "tenant.created",
    "tenant.deleted",
    "tenant.reactivated",
    "tenant.renamed",
    "tenant.suspended",
    "user.created",
    "user.deactivated",
    "user.erased",
    "user.invitation_accepted",
    "user.invited",
    "user.password_link_issued",
    "user.password_link_requested",
    "user.reactivated",
    "user.role_changed",
    "webhook.changed",
    "webhook.created",
    "webhook.deleted",
    "webhook.tested",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_reads_its_query_and_writes_it_back() {
        let f = AuditFilter::from_query([
            ("actor", "ada@acme.test"),
            ("action", "user."),
            ("target", ""),
            ("from", "2026-12-01T09:30"),
            ("to", "2026-12-02T00:00:00Z"),
            ("before", "120"),
            ("other", "ignored"),
        ])
        .unwrap();
        assert_eq!(f.actor.as_deref(), Some("ada@acme.test"));
        assert_eq!(f.target, None);
        assert_eq!(f.before, Some(120));
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-12-01T09:30:00+00:00");
        assert_eq!(
            f.query(),
            "actor=ada%40acme.test&action=user.&from=2026-12-01T09%3A30%3A00%2B00%3A00&to=2026-12-02T00%3A00%3A00%2B00%3A00"
        );
    }

    #[test]
    fn bad_filters_name_their_field() {
        let e = AuditFilter::from_query([("from", "yesterday")]).unwrap_err();
        assert_eq!(e.pointer, "/from");
        let e = AuditFilter::from_query([("before", "x")]).unwrap_err();
        assert_eq!(e.pointer, "/before");
        let e = AuditFilter::from_query([("from", "2026-12-02T00:00"), ("to", "2026-12-01T00:00")])
            .unwrap_err();
        assert_eq!(e.pointer, "/to");
        let long = "x".repeat(321);
        let e = AuditFilter::from_query([("actor", long.as_str())]).unwrap_err();
        assert_eq!(e.pointer, "/actor");
    }
}
