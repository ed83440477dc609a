//! Alert rules and the bell: the alerts page and the bell in the top bar. REST twins under
//! `/api/v1/alerts` and `/api/v1/notifications`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use types::alerts::{Direction, Event, Inbox, Metric, NewRule, Rule, WorkingHours};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::AppError;

/// The alerts page's data: the rules the caller sees and their recent history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertsPage {
    pub rules: Vec<Rule>,
    pub history: Vec<Event>,
    pub me: types::UserId,
    /// A tenant admin changes anyone's rules; others their own.
    pub manages_all: bool,
}

#[server(endpoint = "alerts/list")]
pub async fn alerts_view() -> Result<AlertsPage, AppError> {
    let (s, mut tx) = ws::allowed::<AlertsView>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let rules = store::alerts::list(&mut tx, &reader).await?;
    let history = store::alerts::history(&mut tx, &reader, None, 50).await?;
    tx.commit().await?;
    Ok(AlertsPage {
        rules,
        history,
        me: s.user_id,
        manages_all: s.viewer.can(types::Permission::UserManage),
    })
}

/// A rule from the form's fields (text as typed; empty for "none").
#[allow(clippy::too_many_arguments)]
pub fn new_rule_of(
    name: &str,
    metric: &str,
    direction: &str,
    threshold: &str,
    clear: &str,
    window_minutes: &str,
    over: &str,
    project: &str,
    model: &str,
    tool: &str,
    budget: &str,
    hours: &str,
) -> Result<NewRule, types::Invalid> {
    let number = |field: &'static str, s: &str| -> Result<Option<f64>, types::Invalid> {
        match s
            .trim()
            .trim_start_matches('$')
            .trim_end_matches('%')
            .replace(',', "")
        {
            t if t.is_empty() => Ok(None),
            t => t.parse::<f64>().map(Some).map_err(|_| types::Invalid {
                field,
                reason: "must be a number".into(),
            }),
        }
    };
    let metric = Metric::parse(metric)?;
    let mut filters = types::dashboard::Filters::default();
    match over.trim().split_once(':') {
        None if over.trim().is_empty() || over.trim() == "workspace" => {}
        Some(("team", id)) => {
            filters.team = Some(id.parse().map_err(|_| types::Invalid {
                field: "over",
                reason: "pick a team".into(),
            })?)
        }
        Some(("person", id)) => {
            filters.person = Some(id.parse().map_err(|_| types::Invalid {
                field: "over",
                reason: "pick a person".into(),
            })?)
        }
        _ => {
            return Err(types::Invalid {
                field: "over",
                reason: "pick everyone you see, a team or a person".into(),
            })
        }
    }
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    filters.project = text(project);
    filters.model = text(model);
    filters.tool = text(tool);
    let hours = match hours.trim() {
        "" | "always" => None,
        h => {
            // "9-18" or "9-18 weekdays".
            let (span, weekdays) = match h.split_once(' ') {
                Some((span, "weekdays")) => (span, true),
                None => (h, false),
                _ => (h, false),
            };
            let bad = || types::Invalid {
                field: "hours",
                reason: "write hours as 9-18, optionally followed by weekdays".into(),
            };
            let (a, b) = span.split_once('-').ok_or_else(bad)?;
            Some(WorkingHours {
                from_hour: a.trim().parse().map_err(|_| bad())?,
                to_hour: b.trim().parse().map_err(|_| bad())?,
                weekdays,
            })
        }
    };
    let budget_id = match budget.trim() {
        "" => None,
        b => Some(b.parse().map_err(|_| types::Invalid {
            field: "budget_id",
            reason: "pick a budget".into(),
        })?),
    };
    NewRule {
        name: name.to_string(),
        metric,
        direction: Direction::parse(direction)?,
        threshold: number("threshold", threshold)?.ok_or(types::Invalid {
            field: "threshold",
            reason: "give the number that fires the rule".into(),
        })?,
        clear: number("clear", clear)?,
        window_minutes: match window_minutes.trim() {
            "" => 60,
            w => w.parse().map_err(|_| types::Invalid {
                field: "window_minutes",
                reason: "must be a number of minutes".into(),
            })?,
        },
        filters,
        budget_id,
        hours,
        enabled: true,
    }
    .checked()
}

pub use save::*;

/// One argument per form field, as ActionForm posts them (hence more than clippy likes).
#[allow(clippy::too_many_arguments)]
mod save {
    use super::*;

    #[server(endpoint = "alerts/save")]
    pub async fn save_alert(
        id: Option<String>,
        name: String,
        metric: String,
        direction: String,
        threshold: String,
        clear: Option<String>,
        window_minutes: Option<String>,
        over: Option<String>,
        project: Option<String>,
        model: Option<String>,
        tool: Option<String>,
        budget: Option<String>,
        hours: Option<String>,
        enabled: Option<String>,
    ) -> Result<Rule, AppError> {
        let (s, mut tx) = ws::allowed::<SaveAlert>().await?;
        let reader = ws::reader(&s, &mut tx).await?;
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut new = new_rule_of(
            &name,
            &metric,
            &direction,
            &threshold,
            &o(&clear),
            &o(&window_minutes),
            &o(&over),
            &o(&project),
            &o(&model),
            &o(&tool),
            &o(&budget),
            &o(&hours),
        )?;
        // Only a form that has the box says whether the rule is on.
        if let Some(e) = enabled {
            new.enabled = matches!(e.as_str(), "on" | "true" | "yes");
        }
        let id =
            match id.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(i) => Some(i.parse().map(types::AlertRuleId).map_err(|_| {
                    AppError::new(http::StatusCode::NOT_FOUND, "no such alert rule")
                })?),
            };
        let manages_all = s.viewer.can(types::Permission::UserManage);
        let rule = store::alerts::save(&mut tx, &s.actor, &reader, manages_all, id, new).await?;
        tx.commit().await?;
        Ok(rule)
    }
}

/// Pauses or resumes a rule: the rule as it is, with `enabled` changed.
#[server(endpoint = "alerts/pause")]
pub async fn pause_alert(id: String, enabled: bool) -> Result<Rule, AppError> {
    let (s, mut tx) = ws::allowed::<PauseAlert>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let id = rule_id(&id)?;
    let rule = store::alerts::get(&mut tx, &reader, id).await?;
    let manages_all = s.viewer.can(types::Permission::UserManage);
    let new = NewRule {
        enabled,
        ..rule.rule
    };
    let rule = store::alerts::save(&mut tx, &s.actor, &reader, manages_all, Some(id), new).await?;
    tx.commit().await?;
    Ok(rule)
}

#[cfg(feature = "ssr")]
fn rule_id(id: &str) -> Result<types::AlertRuleId, AppError> {
    id.parse()
        .map(types::AlertRuleId)
        .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such alert rule"))
}

#[server(endpoint = "alerts/delete")]
pub async fn delete_alert(id: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<DeleteAlert>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let manages_all = s.viewer.can(types::Permission::UserManage);
    store::alerts::delete(&mut tx, &s.actor, &reader, manages_all, rule_id(&id)?).await?;
    tx.commit().await?;
    Ok(())
}

/// How the caller hears of a rule: the bell and/or e-mail (a checkbox each; neither stops it).
#[server(endpoint = "alerts/subscribe")]
pub async fn subscribe_alert(
    id: String,
    in_app: Option<String>,
    email: Option<String>,
) -> Result<Rule, AppError> {
    let (s, mut tx) = ws::allowed::<SubscribeAlert>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let on = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| matches!(v, "on" | "true" | "yes"))
    };
    let how = types::alerts::Subscription {
        in_app: on(&in_app),
        email: on(&email),
    };
    let rule = store::alerts::subscribe(&mut tx, &reader, rule_id(&id)?, Some(how)).await?;
    tx.commit().await?;
    Ok(rule)
}

#[server(endpoint = "notifications/inbox")]
pub async fn my_inbox() -> Result<Inbox, AppError> {
    let (s, mut tx) = ws::allowed::<MyInbox>().await?;
    let inbox = store::alerts::inbox(&mut tx, s.user_id, 30).await?;
    tx.commit().await?;
    Ok(inbox)
}

/// Marks the caller's notifications read: `ids` (comma-separated), or all when empty.
#[server(endpoint = "notifications/read")]
pub async fn mark_read(ids: Option<String>) -> Result<Inbox, AppError> {
    let (s, mut tx) = ws::allowed::<MarkRead>().await?;
    let ids: Option<Vec<uuid::Uuid>> = match ids.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(list) => Some(
            list.split(',')
                .map(|i| i.trim().parse())
                .collect::<Result<_, _>>()
                .map_err(|_| AppError::invalid("ids", "ids: must be notification ids"))?,
        ),
    };
    store::alerts::mark_read(&mut tx, s.user_id, ids.as_deref()).await?;
    let inbox = store::alerts::inbox(&mut tx, s.user_id, 30).await?;
    tx.commit().await?;
    Ok(inbox)
}

/// The unusual days in what the caller sees over the last `days` whole days, at
/// `sensitivity` spreads from the usual (empty: the defaults).
#[server(endpoint = "anomalies/list")]
pub async fn list_anomalies(
    days: Option<String>,
    sensitivity: Option<String>,
) -> Result<Vec<types::anomalies::Anomaly>, AppError> {
    let (s, mut tx) = ws::allowed::<ListAnomalies>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let number = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let sensitivity = number(sensitivity)
        .map(|v| v.trim().parse::<f64>())
        .transpose()
        .map_err(|_| AppError::invalid("sensitivity", "sensitivity: must be a number"))?;
    let sensitivity = types::anomalies::sensitivity(sensitivity)?;
    let days = number(days)
        .map(|v| v.trim().parse::<i64>())
        .transpose()
        .map_err(|_| AppError::invalid("days", "days: must be a whole number"))?
        .unwrap_or(14)
        .clamp(1, 31);
    let found =
        store::dashboard::anomalies(&mut tx, &reader, chrono::Utc::now(), days, sensitivity)
            .await?;
    tx.commit().await?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(over: &str, threshold: &str, hours: &str) -> Result<NewRule, types::Invalid> {
        new_rule_of(
            "Platform spend",
            "cost_usd",
            "above",
            threshold,
            "",
            "1440",
            over,
            "",
            "",
            "",
            "",
            hours,
        )
    }

    #[test]
    fn the_form_reads_as_people_type_it() {
        let nil = "00000000-0000-0000-0000-000000000000";
        let r = rule(&format!("team:{nil}"), "$1,200", "9-18 weekdays").unwrap();
        assert_eq!(r.threshold, 1200.0);
        assert_eq!(r.clear, Some(1080.0), "the default band");
        assert!(r.filters.team.is_some());
        assert_eq!(
            r.hours,
            Some(WorkingHours {
                from_hour: 9,
                to_hour: 18,
                weekdays: true
            })
        );
        assert_eq!(r.window_minutes, 1440);
        assert_eq!(rule("", "20%", "").unwrap().threshold, 20.0);
        assert_eq!(rule("galaxy", "1", "").unwrap_err().field, "over");
        assert_eq!(rule("team:x", "1", "").unwrap_err().field, "over");
        assert_eq!(rule("", "", "").unwrap_err().field, "threshold");
        assert_eq!(rule("", "ten", "").unwrap_err().field, "threshold");
        assert_eq!(rule("", "1", "morning").unwrap_err().field, "hours");
        assert_eq!(rule("", "1", "18-9").unwrap_err().field, "hours");
    }
}
