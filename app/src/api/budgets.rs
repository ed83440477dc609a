//! Budgets: where each one the caller may see stands (the dashboard's budget widget and the
//! settings page), and setting or removing them (tenant admins). REST twins under
//! `/api/v1/budgets`.

use leptos::prelude::*;
use types::budgets::{Budget, Status};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::AppError;

#[server(endpoint = "budgets/status")]
pub async fn budget_status() -> Result<Vec<Status>, AppError> {
    let (s, mut tx) = ws::allowed::<BudgetStatus>().await?;
    let reader = ws::reader(&s, &mut tx).await?;
    let list = store::budgets::status(&mut tx, &reader, chrono::Utc::now()).await?;
    tx.commit().await?;
    Ok(list)
}

/// A budget from the form: whose (`workspace`, `team:<id>` or `person:<id>`, the one
/// "For" choice), per `month` or `week`, in US dollars and/or tokens (empty for none).
pub fn new_budget_of(
    whose: &str,
    period: &str,
    usd: &str,
    tokens: &str,
) -> Result<types::budgets::NewBudget, types::Invalid> {
    use types::budgets::{NewBudget, Period, Scope};
    let refused = || types::Invalid {
        field: "whose",
        reason: "pick the workspace, a team or a person".into(),
    };
    let scope = match whose.trim().split_once(':') {
        None if whose.trim() == "workspace" => Scope::Workspace,
        Some(("team", id)) => Scope::Team {
            team_id: id.parse().map_err(|_| refused())?,
        },
        Some(("person", id)) => Scope::Person {
            user_id: id.parse().map_err(|_| refused())?,
        },
        _ => return Err(refused()),
    };
    let usd = match usd.trim().trim_start_matches('$').replace(',', "") {
        s if s.is_empty() => None,
        s => Some(s.parse::<f64>().map_err(|_| types::Invalid {
            field: "usd",
            reason: "must be an amount in US dollars, e.g. 250 or 1200.50".into(),
        })?),
    };
    let tokens = match tokens.trim().replace(['_', ','], "") {
        s if s.is_empty() => None,
        s => Some(s.parse::<i64>().map_err(|_| types::Invalid {
            field: "tokens",
            reason: "must be a whole number of tokens".into(),
        })?),
    };
    let b = NewBudget {
        scope,
        period: Period::parse(period)?,
        usd,
        tokens,
    };
    b.check()?;
    Ok(b)
}

#[server(endpoint = "budgets/set")]
pub async fn set_budget(
    whose: String,
    period: String,
    usd: String,
    tokens: String,
) -> Result<Budget, AppError> {
    let (s, mut tx) = ws::allowed::<SetBudget>().await?;
    let new = new_budget_of(&whose, &period, &usd, &tokens)?;
    let b = store::budgets::set(&mut tx, &s.actor, &new).await?;
    tx.commit().await?;
    Ok(b)
}

#[server(endpoint = "budgets/delete")]
pub async fn delete_budget(id: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<DeleteBudget>().await?;
    let id = id
        .parse()
        .map(types::BudgetId)
        .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such budget"))?;
    store::budgets::delete(&mut tx, &s.actor, id).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::budgets::{Period, Scope};

    #[test]
    fn the_form_reads_as_people_type_amounts() {
        let b = new_budget_of("workspace", "month", "$1,200.50", "").unwrap();
        assert_eq!(
            (b.scope, b.period, b.usd, b.tokens),
            (Scope::Workspace, Period::Month, Some(1200.5), None)
        );
        let nil = "00000000-0000-0000-0000-000000000000";
        let t = new_budget_of(&format!("team:{nil}"), "week", "", "5_000_000").unwrap();
        assert_eq!(t.tokens, Some(5_000_000));
        assert!(matches!(t.scope, Scope::Team { .. }));
        let p = new_budget_of(&format!("person:{nil}"), "week", "5", "").unwrap();
        assert!(matches!(p.scope, Scope::Person { .. }));
        assert_eq!(
            new_budget_of("team:", "week", "10", "").unwrap_err().field,
            "whose"
        );
        assert_eq!(
            new_budget_of("galaxy", "month", "1", "").unwrap_err().field,
            "whose"
        );
        assert_eq!(
            new_budget_of("workspace", "month", "ten", "")
                .unwrap_err()
                .field,
            "usd"
        );
        assert_eq!(
            new_budget_of("workspace", "month", "", "")
                .unwrap_err()
                .field,
            "usd"
        );
        assert_eq!(
            new_budget_of("workspace", "year", "1", "")
                .unwrap_err()
                .field,
            "period"
        );
    }
}
