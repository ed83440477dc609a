//! Reports: a dashboard printed to PDF (on demand, `GET /api/v1/reports/pdf`), and
//! scheduled digests (`store::reports`) sent by e-mail with that PDF and the period's daily
//! numbers as CSV attached. The scheduler's sweep queues each due sending; the sending job
//! reads the numbers as the report's owner, prints, stores the files with the sending and
//! queues one e-mail per recipient, all attaching the same files.

pub mod pdf;
pub mod print;

use std::sync::Arc;

use app::{
    charts,
    components::{
        format::{change, compact, duration_ms, pct, signed_pct, usd},
        kpi::KPIS,
    },
    widgets::{self, Kind},
};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use store::{
    dashboard::{Asker, Reader},
    mail::Headline,
    Store,
};
use types::{
    boards::{ChartKind, Document, Placed},
    dashboard::{Audience, Dimension, Filters, Overview, SessionSort, Split, Window},
    ReportId,
};

use crate::{
    api::dashboard::{answer, Answer, How},
    jobs::Failure,
};
use print::{Chart, Page, Printed, Table, Tile, MAX_ROWS};

/// The job kind of the sweep that queues due reports.
pub const SWEEP: &str = "reports.sweep";

/// What making and sending reports needs.
#[derive(Clone)]
pub struct Reporter {
    pub store: Store,
    pub sealer: Arc<store::sealing::Sealer>,
    pub printer: pdf::Printer,
    /// The reports page, for e-mails.
    pub link: String,
}

impl Reporter {
    pub fn new(
        store: Store,
        sealer: Arc<store::sealing::Sealer>,
        printer: pdf::Printer,
        public_url: &str,
    ) -> Reporter {
        Reporter {
            store,
            sealer,
            printer,
            link: format!("{}/reports", public_url.trim_end_matches('/')),
        }
    }

    /// Queues every workspace's due reports; the first failure is returned after the others
    /// were tried.
    pub async fn sweep(&self, now: DateTime<Utc>) -> store::Result<usize> {
        let mut first = None;
        let mut queued = 0;
        for tenant in store::tenants::list(self.store.pool()).await? {
            if tenant.status != store::TenantStatus::Active {
                continue;
            }
            let done = async {
                let mut tx = self.store.tenant_tx(tenant.scope()).await?;
                let n = store::reports::sweep(&mut tx, now).await?;
                tx.commit().await?;
                Ok::<_, store::Error>(n)
            }
            .await;
            match done {
                Ok(n) => queued += n,
                Err(e) => {
                    tracing::warn!(tenant = tenant.slug.as_str(), error = %e, "queueing due reports failed");
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(queued), Err)
    }

    /// Makes and sends one sending (the `report.send` job). The PDF is retried with the
    /// job; on the job's last attempt the e-mails go without it, saying why.
    pub async fn send(&self, job: &store::jobs::Claimed) -> Result<(), Failure> {
        let bad = |m: &str| Failure {
            message: m.into(),
            permanent: true,
            retry_in: None,
        };
        let id = job
            .payload
            .get("report")
            .and_then(|v| v.as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map(ReportId)
            .ok_or_else(|| bad("the payload names no report"))?;
        let due: DateTime<Utc> = job
            .payload
            .get("at")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or_else(|| bad("the payload names no time"))?;
        let tenant_id = job
            .tenant
            .ok_or_else(|| bad("a report without a workspace"))?;
        let tenant = store::tenants::find_by_id(self.store.pool(), tenant_id).await?;
        if tenant.status != store::TenantStatus::Active {
            return Ok(());
        }
        let scope = tenant.scope();
        let now = Utc::now();
        // Read, then print outside the transaction (a print takes a second or more).
        let mut tx = self.store.tenant_tx(scope).await?;
        let Some(sending) = store::reports::sending(&mut tx, id, due).await? else {
            return Ok(());
        };
        let filters = sending.period.filters(&sending.filters);
        let board = sending
            .board
            .clone()
            .unwrap_or_else(widgets::default_document);
        let scope_words = match &sending.team_name {
            Some(t) => format!("Team {t}"),
            None => format!("Everything {} sees", owner_words(sending.owner.audience)),
        };
        let made = gather(
            &mut tx,
            Asked {
                store: &self.store,
                scope,
                reader: &sending.owner,
                filters: &filters,
                board: &board,
                names_people: sending.names_people,
                scheduled: true,
                now,
            },
        )
        .await?;
        tx.commit().await?;
        let page = Page {
            workspace: tenant.name.clone(),
            title: sending.name.clone(),
            period: sending.period.words(),
            zone: made.window.tz.clone(),
            scope: scope_words.clone(),
            generated: now,
            tiles: tiles(&made.overview),
            widgets: made.printed,
        };
        // Without a browser, trying again cannot help: the CSV goes now.
        let (pdf, pdf_error) = match self.printer.pdf(&print::html(&page)).await {
            Ok(pdf) => (Some(pdf), None),
            Err(e) if !job.is_last_attempt() && self.printer.browser().is_some() => {
                return Err(Failure {
                    message: format!("the PDF: {e}"),
                    permanent: false,
                    retry_in: None,
                })
            }
            Err(e) => (None, Some(e.to_string())),
        };
        // Recipients read why in plain words; the details stay with the sending and the log.
        let told_why = pdf_error.as_ref().map(|e| {
            tracing::warn!(report = %sending.id, error = %e, "a report went out without its PDF");
            if self.printer.browser().is_none() {
                "the server has no browser to print it with".to_string()
            } else {
                "printing it failed; the reports page says why".to_string()
            }
        });
        let csv = crate::api::dashboard::overview_csv(&made.overview);
        let mut tx = self.store.tenant_tx(scope).await?;
        let Some(run) = store::reports::record_run(
            &mut tx,
            &sending,
            job.id.0,
            pdf.as_deref(),
            pdf_error.as_deref(),
            &csv,
        )
        .await?
        else {
            // An earlier attempt of this job made and queued it all.
            return Ok(());
        };
        let message = store::mail::Message::Report {
            name: sending.name.clone(),
            period: sending.period.words(),
            scope: scope_words,
            headline: headline(&made.overview, &previous_words(&sending.period)),
            link: self.link.clone(),
            run,
            pdf_error: told_why,
        };
        for r in &sending.recipients {
            let to = store::Email::parse(&r.email)?;
            store::mail::queue(&mut tx, &self.sealer, &to, &message).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn owner_words(a: Audience) -> &'static str {
    match a {
        Audience::Everyone => "the workspace's admin",
        Audience::Teams => "its owner's teams",
        Audience::Own => "its owner",
        Audience::Aggregate => "a viewer",
    }
}

fn previous_words(p: &store::reports::Period) -> String {
    let days = (p.last_day - p.first_day).num_days() + 1;
    if days <= 7 {
        "the week before".into()
    } else {
        "the month before".into()
    }
}

/// What a printed dashboard reads: whose numbers, over what, laid out how.
pub struct Asked<'a> {
    pub store: &'a Store,
    pub scope: &'a store::TenantScope,
    pub reader: &'a Reader,
    pub filters: &'a Filters,
    pub board: &'a Document,
    /// Whether widgets may name people (false when a recipient sees only totals).
    pub names_people: bool,
    /// A scheduled sending, whose recipients were checked against the report's own scope:
    /// nothing outside it is read (no widget's own person or team, no budget of another).
    pub scheduled: bool,
    pub now: DateTime<Utc>,
}

/// The numbers of a printed dashboard.
pub struct Made {
    pub window: Window,
    pub overview: Overview,
    pub printed: Vec<Printed>,
}

/// One widget of a board as its reader is shown it: where it sits, what it is, and the
/// filters it reads (the page's, under its own).
pub struct Shown<'a> {
    pub placed: &'a Placed,
    pub spec: &'static widgets::WidgetSpec,
    pub filters: Filters,
}

/// The widgets of `board` that `audience` is shown under `page`'s filters, in reading order,
/// without the live feed (the moment, not the range). For a `scheduled` sending nothing
/// outside the report's own scope is read: no widget's own person or team, and budgets
/// (read as the owner sees them) only in a report about everything for readers of names.
pub fn shown<'a>(
    board: &'a Document,
    page: &Filters,
    audience: Audience,
    scheduled: bool,
) -> Vec<Shown<'a>> {
    let mut placed: Vec<&Placed> = board.widgets.iter().collect();
    placed.sort_by_key(|p| (p.y, p.x));
    placed
        .into_iter()
        .filter_map(|p| {
            let spec = widgets::find(&p.widget)?;
            let filters = p.filters.over(page);
            let outside = scheduled
                && (p.filters.person.is_some()
                    || p.filters.team.is_some()
                    || (spec.kind == Kind::Budgets
                        && (page.team.is_some() || !audience.names_people())));
            (spec.shown(audience, filters.person.is_some()) && spec.kind != Kind::Feed && !outside)
                .then_some(Shown {
                    placed: p,
                    spec,
                    filters,
                })
        })
        .collect()
}

/// Reads the headline numbers and each printable widget of `a.board`, in its order.
pub async fn gather(conn: &mut PgConnection, a: Asked<'_>) -> store::Result<Made> {
    let window = store::dashboard::window(conn, a.filters, a.now).await?;
    let overview = Asker {
        answers: a.store.answers(),
        scope: a.scope,
        reader: a.reader,
        window: &window,
        as_of: None,
    }
    .overview(conn, a.filters)
    .await?;
    let audience = if a.names_people {
        a.reader.audience
    } else {
        Audience::Aggregate
    };
    let mut printed = Vec::new();
    for w in shown(a.board, a.filters, audience, a.scheduled) {
        // A widget with a range of its own reads its own window.
        let own = if w.placed.filters.is_empty() {
            None
        } else {
            Some(store::dashboard::window(conn, &w.filters, a.now).await?)
        };
        let ask = Asker {
            answers: a.store.answers(),
            scope: a.scope,
            reader: a.reader,
            window: own.as_ref().unwrap_or(&window),
            as_of: None,
        };
        let how = How {
            // A split by person the readers may not see is drawn by model instead.
            split: w.placed.split.map(|s| {
                if s.names_people() && !audience.names_people() {
                    Split::Model
                } else {
                    s
                }
            }),
            measure: w.placed.measure,
            sort: SessionSort::Cost,
            page: 1,
            ..How::default()
        };
        let answer = answer(&ask, conn, w.spec, &w.filters, &how).await?;
        if let Some(p) = on_paper(&w, answer) {
            printed.push(p);
        }
    }
    Ok(Made {
        window,
        overview,
        printed,
    })
}

/// A widget's answer as it is printed: its chart, its table, or why there is neither.
fn on_paper(w: &Shown, answer: Answer) -> Option<Printed> {
    let (p, spec) = (w.placed, w.spec);
    let title = p.title.clone().unwrap_or_else(|| spec.title.to_string());
    let mut out = Printed {
        title: title.clone(),
        about: spec.about.to_string(),
        wide: p.w > 12,
        chart: None,
        table: None,
        empty: None,
    };
    match answer {
        Answer::Series(s) => {
            if s.lines.iter().all(|l| l.values.iter().all(|v| *v == 0.0)) {
                out.empty = Some("Nothing in this period.".into());
            } else {
                let style = match p.chart {
                    Some(ChartKind::Line) => charts::Style::Line,
                    Some(ChartKind::Bar) => charts::Style::Bar,
                    _ => charts::Style::Area,
                };
                out.about = format!(
                    "{} per {}, {}",
                    s.measure.label(),
                    s.window.grain.as_str(),
                    s.split.label().to_lowercase()
                );
                out.chart = Some(Chart {
                    option: charts::to_json(&charts::over_time(&s, style)),
                    alt: format!(
                        "{}: {}",
                        title,
                        s.lines
                            .iter()
                            .take(5)
                            .map(|l| format!("{} {}", l.label, compact(l.values.iter().sum())))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        Answer::Breakdown(b) => {
            let by = b.by;
            if b.rows.is_empty() {
                out.empty = Some("Nothing in this period.".into());
            } else {
                if spec.kind == Kind::Bars {
                    let (name, values): (&str, Vec<f64>) = match by {
                        Dimension::Tool => (
                            "Executions",
                            b.rows
                                .iter()
                                .map(|r| r.counts.tool_executions as f64)
                                .collect(),
                        ),
                        _ => (
                            "Cost (USD)",
                            b.rows.iter().map(|r| r.counts.cost_usd).collect(),
                        ),
                    };
                    let labels: Vec<String> = b.rows.iter().map(|r| r.label.clone()).collect();
                    out.chart = Some(Chart {
                        option: charts::to_json(&charts::bars(name, &labels, &values)),
                        alt: format!("{name} by {}", by.as_str()),
                    });
                }
                out.table = Some(breakdown_table(&b.rows, by));
            }
        }
        Answer::Heatmap(h) => {
            if h.cells.iter().flatten().all(|v| *v == 0) {
                out.empty = Some("Nothing in this period.".into());
            } else {
                out.chart = Some(Chart {
                    option: charts::to_json(&charts::heatmap(&h)),
                    alt: "Activity by weekday and hour".into(),
                });
            }
        }
        Answer::Sessions(page) => {
            if page.sessions.is_empty() {
                out.empty = Some("No sessions in this period.".into());
            } else {
                out.table = Some(sessions_table(&page));
            }
        }
        Answer::Insights(i) => {
            if i.items.is_empty() {
                out.empty = Some("Nothing stood out.".into());
            } else {
                out.table = Some(Table {
                    head: vec!["Insight".into(), "The numbers".into()],
                    numeric: vec![false, false],
                    rows: i
                        .items
                        .iter()
                        .take(MAX_ROWS)
                        .map(|x| vec![x.title.clone(), x.detail.clone()])
                        .collect(),
                    note: None,
                });
            }
        }
        Answer::Budgets(b) => {
            if b.is_empty() {
                out.empty = Some("No budgets.".into());
            } else {
                out.table = Some(budgets_table(&b));
            }
        }
        // The tiles carry the overview; the live feed is not printed.
        Answer::Overview(_) | Answer::Activity(_) => return None,
    }
    Some(out)
}

/// The headline tiles: every number the dashboard's tiles show, with its change.
pub fn tiles(o: &Overview) -> Vec<Tile> {
    KPIS.iter()
        .filter_map(|k| {
            let v = (k.value)(&o.current)?;
            let before = (k.value)(&o.previous);
            Some(Tile {
                label: k.label.to_string(),
                value: k.unit.format(v),
                change: before.and_then(|p| change(v, p)).map(signed_pct),
            })
        })
        .collect()
}

/// The numbers an e-mail leads with.
pub fn headline(o: &Overview, before: &str) -> Vec<Headline> {
    const SHOWN: [&str; 8] = [
        "cost",
        "active_people",
        "sessions",
        "tokens",
        "tool_executions",
        "success_rate",
        "lines_added",
        "api_errors",
    ];
    SHOWN
        .iter()
        .filter_map(|id| KPIS.iter().find(|k| k.id == *id))
        .filter_map(|k| {
            let v = (k.value)(&o.current)?;
            let change = (k.value)(&o.previous)
                .and_then(|p| change(v, p))
                .map_or_else(
                    || format!("nothing {before} to compare"),
                    |c| format!("{} vs {before}", signed_pct(c)),
                );
            Some(Headline {
                label: k.label.to_string(),
                value: k.unit.format(v),
                change,
            })
        })
        .collect()
}

fn breakdown_table(rows: &[types::dashboard::Row], by: Dimension) -> Table {
    let shown = rows.iter().take(MAX_ROWS);
    let (head, numeric, body): (Vec<&str>, Vec<bool>, Vec<Vec<String>>) = if by == Dimension::Model
    {
        // Requests carry the model; sessions do not.
        (
            vec!["Model", "Requests", "Tokens", "Cost"],
            vec![false, true, true, true],
            shown
                .map(|r| {
                    vec![
                        r.label.clone(),
                        compact(r.counts.api_requests as f64),
                        compact(r.kpis().tokens() as f64),
                        usd(r.counts.cost_usd),
                    ]
                })
                .collect(),
        )
    } else if by == Dimension::Tool {
        (
            vec!["Tool", "Executions", "Failure rate", "p50", "p95"],
            vec![false, true, true, true, true],
            shown
                .map(|r| {
                    let c = &r.counts;
                    vec![
                        r.label.clone(),
                        compact(c.tool_executions as f64),
                        if c.tool_executions > 0 {
                            pct(c.tool_failures as f64 / c.tool_executions as f64)
                        } else {
                            "–".into()
                        },
                        r.p50_ms.map_or("–".into(), |v| duration_ms(v as f64)),
                        r.p95_ms.map_or("–".into(), |v| duration_ms(v as f64)),
                    ]
                })
                .collect(),
        )
    } else {
        let name = match by {
            Dimension::Model => "Model",
            Dimension::Person => "Person",
            Dimension::Team => "Team",
            Dimension::Project => "Project",
            Dimension::Tool => "Tool",
        };
        (
            vec![
                name,
                "Sessions",
                "Cost",
                "Cost / session",
                "Tokens",
                "Tool success",
            ],
            vec![false, true, true, true, true, true],
            shown
                .map(|r| {
                    let k = r.kpis();
                    vec![
                        r.label.clone(),
                        compact(r.sessions as f64),
                        usd(r.counts.cost_usd),
                        if r.sessions > 0 {
                            usd(r.counts.cost_usd / r.sessions as f64)
                        } else {
                            "–".into()
                        },
                        compact(k.tokens() as f64),
                        k.success_rate().map_or("–".into(), pct),
                    ]
                })
                .collect(),
        )
    };
    Table {
        head: head.into_iter().map(String::from).collect(),
        numeric,
        rows: body,
        note: (rows.len() > MAX_ROWS).then(|| format!("The first {MAX_ROWS} of {}.", rows.len())),
    }
}

fn sessions_table(p: &types::dashboard::SessionPage) -> Table {
    Table {
        head: ["Person", "Project", "Started", "Tools", "Cost", "Score"]
            .map(String::from)
            .to_vec(),
        numeric: vec![false, false, false, true, true, true],
        rows: p
            .sessions
            .iter()
            .take(MAX_ROWS)
            .map(|s| {
                vec![
                    s.email.clone().unwrap_or_else(|| "–".into()),
                    s.project.clone().unwrap_or_else(|| "–".into()),
                    s.started_at.format("%b %-d %H:%M").to_string(),
                    compact(s.counts.tool_executions as f64),
                    usd(s.counts.cost_usd),
                    format!("{:.1}", s.productivity_score),
                ]
            })
            .collect(),
        note: Some(format!(
            "The {} costliest of {} sessions.",
            p.sessions.len().min(MAX_ROWS),
            p.total
        )),
    }
}

fn budgets_table(b: &[types::budgets::Status]) -> Table {
    Table {
        head: ["Budget", "Period", "Spent", "Limit", "Projected"]
            .map(String::from)
            .to_vec(),
        numeric: vec![false, false, true, true, true],
        rows: b
            .iter()
            .map(|s| {
                let (spent, limit, projected) = match (&s.usd, &s.tokens) {
                    (Some(p), _) => (usd(p.spent), usd(p.limit), usd(p.projected)),
                    (None, Some(p)) => (compact(p.spent), compact(p.limit), compact(p.projected)),
                    (None, None) => ("–".into(), "–".into(), "–".into()),
                };
                vec![
                    s.budget.name.clone(),
                    format!(
                        "{} – {}",
                        s.local_date(s.from),
                        s.local_date(s.to - chrono::TimeDelta::seconds(1))
                    ),
                    spent,
                    limit,
                    projected,
                ]
            })
            .collect(),
        note: Some("Each budget's current period, whatever the report's.".into()),
    }
}
