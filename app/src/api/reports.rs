//! Scheduled reports: the reports page. REST twins under `/api/v1/reports`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use types::reports::Report;
#[cfg(feature = "ssr")]
use types::reports::{Cadence, NewReport};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::AppError;

/// The reports page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportsPage {
    pub reports: Vec<Report>,
    /// The teams a report may be about (those the reader sees).
    pub teams: Vec<(types::TeamId, String)>,
    /// The dashboards a report's PDF may follow.
    pub boards: Vec<(types::BoardId, String)>,
    pub my_email: String,
    /// A tenant admin sends reports to anyone who sees their numbers; others to themselves.
    pub manages_all: bool,
    /// May create reports (`types::reports::EXPORTS`).
    pub can_create: bool,
}

#[server(endpoint = "reports/list")]
pub async fn reports_view() -> Result<ReportsPage, AppError> {
    use types::dashboard::Audience;
    let (s, mut tx) = ws::allowed::<ReportsView>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let manages_all = s.viewer.can(types::Permission::UserManage);
    let reports = store::reports::list(&mut tx, &reader, manages_all).await?;
    let visible = match reader.audience {
        Audience::Everyone => Some(store::teams::Visible::All),
        Audience::Teams => Some(store::teams::Visible::ManagedBy(s.user_id)),
        Audience::Own | Audience::Aggregate => None,
    };
    let teams = match visible {
        Some(v) => store::teams::list(&mut tx, v)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect(),
        None => Vec::new(),
    };
    let caller = store::boards::Caller {
        me: s.user_id,
        role: s.viewer.role,
    };
    let boards = store::boards::list(&mut tx, &caller)
        .await?
        .boards
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    tx.commit().await?;
    Ok(ReportsPage {
        reports,
        teams,
        boards,
        my_email: s.viewer.email.clone(),
        manages_all,
        can_create: types::reports::EXPORTS.iter().any(|p| s.viewer.can(*p)),
    })
}

/// The e-mail addresses a form names, split on commas, semicolons, spaces and new lines.
pub fn addresses(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\n', '\r', '\t'])
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

#[cfg(feature = "ssr")]
fn report_id(id: &str) -> Result<types::ReportId, AppError> {
    id.parse()
        .map(types::ReportId)
        .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such report"))
}

pub use save::*;

/// One argument per form field, as ActionForm posts them.
#[allow(clippy::too_many_arguments)]
mod save {
    use super::*;

    /// A report from the page's form: recipients as e-mail addresses (tenant admins name
    /// anyone; others themselves), team and dashboard by id (empty: all, the default).
    #[server(endpoint = "reports/save")]
    pub async fn save_report(
        id: Option<String>,
        name: String,
        cadence: String,
        team: Option<String>,
        board: Option<String>,
        recipients: String,
        enabled: Option<String>,
    ) -> Result<Report, AppError> {
        let (s, mut tx) = ws::allowed::<SaveReport>().await?;
        let reader = ws::reader(&s, &mut tx).await?;
        let manages_all = s.viewer.can(types::Permission::UserManage);
        let cadence = Cadence::parse(cadence.trim())
            .ok_or_else(|| AppError::invalid("cadence", "cadence: must be weekly or monthly"))?;
        let pick =
            |v: &Option<String>, field: &'static str| -> Result<Option<uuid::Uuid>, AppError> {
                match v.as_deref().map(str::trim) {
                    None | Some("") => Ok(None),
                    Some(v) => v.parse().map(Some).map_err(|_| {
                        AppError::invalid(field, format!("{field}: pick one from the list"))
                    }),
                }
            };
        let team = pick(&team, "team")?.map(types::TeamId);
        let board = pick(&board, "board")?.map(types::BoardId);
        let mut ids = Vec::new();
        for a in addresses(&recipients) {
            if !manages_all && a != s.viewer.email {
                return Err(AppError::invalid(
                    "recipients",
                    "recipients: only tenant admins send reports to others; name yourself",
                ));
            }
            let user = match store::Email::parse(&a) {
                Ok(e) => store::accounts::find_by_email(&mut tx, &e).await.ok(),
                Err(_) => None,
            }
            .ok_or_else(|| {
                AppError::invalid(
                    "recipients",
                    format!("recipients: no one in this workspace has the address {a}"),
                )
            })?;
            ids.push(user.id);
        }
        let id = match id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(i) => Some(report_id(i)?),
        };
        let new = NewReport {
            name,
            cadence,
            team,
            board,
            recipients: ids,
            // Only a form that has the box says whether the report is on.
            enabled: enabled.is_none_or(|e| matches!(e.as_str(), "on" | "true" | "yes")),
        };
        let r = store::reports::save(
            &mut tx,
            &s.actor,
            &reader,
            manages_all,
            id,
            new,
            chrono::Utc::now(),
        )
        .await?;
        tx.commit().await?;
        Ok(r)
    }
}

/// Pauses or resumes a report: the report as it is, with `enabled` changed.
#[server(endpoint = "reports/pause")]
pub async fn pause_report(id: String, enabled: bool) -> Result<Report, AppError> {
    let (s, mut tx) = ws::allowed::<PauseReport>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let manages_all = s.viewer.can(types::Permission::UserManage);
    let id = report_id(&id)?;
    let r = store::reports::get(&mut tx, &reader, manages_all, id).await?;
    let new = NewReport {
        name: r.name,
        cadence: r.cadence,
        team: r.team,
        board: r.board,
        recipients: r.recipients.iter().map(|x| x.id).collect(),
        enabled,
    };
    let r = store::reports::save(
        &mut tx,
        &s.actor,
        &reader,
        manages_all,
        Some(id),
        new,
        chrono::Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

#[server(endpoint = "reports/delete")]
pub async fn delete_report(id: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<DeleteReport>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let manages_all = s.viewer.can(types::Permission::UserManage);
    store::reports::delete(&mut tx, &s.actor, &reader, manages_all, report_id(&id)?).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a report now, about its latest whole period.
#[server(endpoint = "reports/send")]
pub async fn send_report(id: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<SendReport>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let manages_all = s.viewer.can(types::Permission::UserManage);
    store::reports::send_now(
        &mut tx,
        &s.actor,
        &reader,
        manages_all,
        report_id(&id)?,
        chrono::Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_split_on_any_separator() {
        assert_eq!(
            super::addresses(" Ana@demo.test, bo@demo.test;\nchen@demo.test  "),
            ["ana@demo.test", "bo@demo.test", "chen@demo.test"]
        );
        assert!(super::addresses(" , ").is_empty());
    }
}
