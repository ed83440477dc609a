//! A list of budgets with where each stands: spent against the limit as a meter, the
//! projection for the period's end with its range, and the day the pace crosses the limit.
//! Numbers are in the HTML; the meter is CSS, so it is there before the WASM.

use leptos::prelude::*;
use types::budgets::{Projection, Status};

use super::format::{compact, grouped, pct, usd};

/// How a projection reads, as tone and words; pure, so tested natively.
pub fn reading(p: &Projection, money: bool) -> (&'static str, String) {
    let amount = |v: f64| if money { usd(v) } else { compact(v) };
    if p.over() {
        return (
            "over",
            format!("Over the limit by {}", amount(p.spent - p.limit)),
        );
    }
    let range = if p.high > p.low + f64::EPSILON {
        format!(" (likely {} to {})", amount(p.low), amount(p.high))
    } else {
        String::new()
    };
    let early = if p.early {
        "; early in the period, the pace says little yet"
    } else {
        ""
    };
    match p.exceeds_on {
        Some(at) => (
            "heading-over",
            format!(
                "At this pace {} by the period's end{range}, over the limit from {}{early}",
                amount(p.projected),
                at.format("%b %-d")
            ),
        ),
        None => (
            "within",
            format!(
                "At this pace {} by the period's end{range}{early}",
                amount(p.projected)
            ),
        ),
    }
}

#[component]
fn Meter(id: String, label: &'static str, p: Projection, money: bool) -> impl IntoView {
    let amount = move |v: f64| {
        if money {
            usd(v)
        } else {
            grouped(v.round() as i64)
        }
    };
    let (tone, words) = reading(&p, money);
    let used = p.used();
    let width = format!("width:{:.1}%", (used * 100.0).clamp(0.0, 100.0));
    let projected = format!(
        "left:{:.1}%",
        (p.projected / p.limit * 100.0).clamp(0.0, 100.0)
    );
    let summary = format!("{} of {} ({})", amount(p.spent), amount(p.limit), pct(used));
    view! {
        <div class=format!("budget-meter {tone}") id=id data-tone=tone data-spent=p.spent.to_string() data-projected=p.projected.to_string()>
            <div class="budget-line">
                <span class="budget-kind">{label}</span>
                <span class="budget-numbers">{summary.clone()}</span>
            </div>
            <div class="budget-bar" role="meter" aria-label=label aria-valuetext=summary.clone() aria-valuemin="0" aria-valuemax=format!("{:.0}", p.limit) aria-valuenow=format!("{:.0}", p.spent.min(p.limit))>
                <span class="budget-fill" style=width></span>
                <span class="budget-mark" style=projected title="Projected at the period's end"></span>
            </div>
            <p class="budget-words">{words}</p>
        </div>
    }
}

/// Each budget as a card row; `actions` adds controls per budget (the settings page's
/// remove button), given the budget's id.
#[component]
pub fn BudgetList(
    list: Vec<Status>,
    #[prop(optional, into)] actions: Option<Callback<String, AnyView>>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" id="budgets-none">"No budgets yet."</p> }.into_any();
    }
    let rows = list
        .into_iter()
        .map(|s| {
            let id = s.budget.id.to_string();
            let period = match s.budget.period {
                types::budgets::Period::Month => "this month",
                types::budgets::Period::Week => "this week",
            };
            let whose = match s.budget.scope {
                types::budgets::Scope::Workspace => "Workspace",
                types::budgets::Scope::Team { .. } => "Team",
                types::budgets::Scope::Person { .. } => "Person",
            };
            let ends = (s.to - chrono::TimeDelta::seconds(1)).format("%b %-d").to_string();
            view! {
                <li class="budget" data-budget=id.clone()>
                    <div class="budget-head">
                        <strong>{s.budget.name.clone()}</strong>
                        <span class="muted">{format!("{whose} · {period}, until {ends}")}</span>
                        {actions.map(|a| a.run(id.clone()))}
                    </div>
                    {s.usd.map(|p| view! { <Meter id=format!("budget-{id}-usd") label="Spend" p money=true /> })}
                    {s.tokens.map(|p| view! { <Meter id=format!("budget-{id}-tokens") label="Tokens" p money=false /> })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="budgets" id="budgets">{rows}</ul> }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(spent: f64, projected: f64, exceeds: Option<&str>) -> Projection {
        Projection {
            limit: 250.0,
            spent,
            projected,
            low: projected,
            high: projected,
            early: false,
            exceeds_on: exceeds.map(|s| s.parse().unwrap()),
        }
    }

    #[test]
    fn a_budget_reads_as_its_state() {
        let (tone, words) = reading(&p(100.0, 300.0, Some("2026-11-26T00:00:00Z")), true);
        assert_eq!(tone, "heading-over");
        assert_eq!(
            words,
            "At this pace $300.00 by the period's end, over the limit from Nov 26"
        );
        let (tone, words) = reading(&p(260.0, 400.0, None), true);
        assert_eq!((tone, words.as_str()), ("over", "Over the limit by $10.00"));
        let mut early = p(10.0, 120.0, None);
        early.early = true;
        early.low = 60.0;
        early.high = 180.0;
        let (tone, words) = reading(&early, false);
        assert_eq!(tone, "within");
        assert_eq!(
            words,
            "At this pace 120 by the period's end (likely 60 to 180); early in the period, the pace says little yet"
        );
    }
}
