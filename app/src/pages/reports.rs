//! `/reports`: the scheduled reports the reader owns or receives (what each covers, when it
//! goes next, its latest sendings with their PDF and CSV), and a form for a new one. Every
//! fact is in the HTML; the page works before the WASM arrives.

use leptos::{either::Either, prelude::*};
use types::reports::{period_words, Cadence, Report};

use crate::{
    api::reports::{
        reports_view, DeleteReport, PauseReport, ReportsPage as Page, SaveReport, SendReport,
    },
    components::forms::{error_text, field_error, show_result, Changes},
};

const FORM_FIELDS: &[&str] = &["name", "cadence", "team", "board", "recipients"];

#[component]
pub fn ReportsPage() -> impl IntoView {
    let save = ServerAction::<SaveReport>::new();
    let pause = ServerAction::<PauseReport>::new();
    let remove = ServerAction::<DeleteReport>::new();
    let send = ServerAction::<SendReport>::new();
    let changes = Changes::default()
        .watch(save.value())
        .watch(pause.value())
        .watch(remove.value())
        .watch(send.value());
    let page = Resource::new(move || changes.get(), |_| reports_view());
    view! {
        <section class="card" aria-labelledby="reports-title">
            <h1 id="reports-title">"Reports"</h1>
            <p class="muted">
                "A report e-mails the headline numbers of last week (Mondays at 07:00) or last month (the 1st at 07:00), in the workspace's time zone, with the dashboard attached as a PDF and its numbers day by day as CSV. It reads what its owner sees, for everyone or one team, and goes only to people who see those numbers themselves. To download the dashboard you are looking at, use PDF in the dashboard's menu."
            </p>
            {show_result(pause.value(), &[], |_| ().into_any())}
            {show_result(remove.value(), &[], |_| ().into_any())}
            {show_result(send.value(), &[], |_| view! { <p class="notice" role="status" id="report-queued">"On its way: it arrives within a minute or two."</p> }.into_any())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(p) => Either::Left(view! { <Reports page=p save pause remove send /> }),
                        Err(e) => Either::Right(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Reports(
    page: Page,
    save: ServerAction<SaveReport>,
    pause: ServerAction<PauseReport>,
    remove: ServerAction<DeleteReport>,
    send: ServerAction<SendReport>,
) -> impl IntoView {
    let summary = match page.reports.len() {
        0 => "No reports yet.".to_string(),
        1 => "1 report.".to_string(),
        n => format!("{n} reports."),
    };
    let rows = page
        .reports
        .iter()
        .cloned()
        .map(|r| view! { <ReportRow report=r pause remove send /> })
        .collect_view();
    let form = page
        .can_create
        .then(|| view! { <NewReport page=page.clone() save /> });
    view! {
        <p id="reports-summary">{summary}</p>
        <div class="table-wrap tall" tabindex="0" role="region" aria-label="Reports">
            <table class="table" id="reports">
                <thead>
                    <tr>
                        <th scope="col">"Report"</th>
                        <th scope="col">"Goes to"</th>
                        <th scope="col">"Next"</th>
                        <th scope="col">"Latest sendings"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {form}
    }
}

#[component]
fn ReportRow(
    report: Report,
    pause: ServerAction<PauseReport>,
    remove: ServerAction<DeleteReport>,
    send: ServerAction<SendReport>,
) -> impl IntoView {
    let id = report.id.to_string();
    let covers = match &report.team_name {
        Some(t) => format!("Team {t}"),
        None => "Everything its owner sees".to_string(),
    };
    let what = format!(
        "{}; {}; owner {}",
        report.cadence.describe(),
        covers,
        report.owner_email
    );
    let to = report
        .recipients
        .iter()
        .map(|r| r.email.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let next = if report.enabled {
        report.next_at.format("%b %-d %H:%M UTC").to_string()
    } else {
        "Paused".to_string()
    };
    let runs = if report.runs.is_empty() {
        Either::Left(view! { <span class="muted">"None yet"</span> })
    } else {
        let base = format!("/api/v1/reports/{id}/runs");
        Either::Right(view! {
            <ul class="plain runs">
                {report
                    .runs
                    .iter()
                    .map(|run| {
                        let period = period_words(run.first_day, run.last_day);
                        let pdf = run.pdf.then(|| {
                            view! {
                                " · "
                                <a href=format!("{base}/{}/report.pdf", run.id) download="">"PDF"<span class="sr-only">{format!(" of {period}")}</span></a>
                            }
                        });
                        let no_pdf = run.pdf_error.clone().map(|e| view! { <span class="muted" title=e>" · no PDF"</span> });
                        view! {
                            <li data-run=run.id.to_string()>
                                {period.clone()}
                                {pdf}
                                {no_pdf}
                                " · "
                                <a href=format!("{base}/{}/report.csv", run.id) download="">"CSV"<span class="sr-only">{format!(" of {period}")}</span></a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        })
    };
    let enabled = report.enabled;
    let name = report.name.clone();
    let (id_send, id_pause, id_delete) = (id.clone(), id.clone(), id.clone());
    let label = format!(" {name}");
    let (l_send, l_pause, l_delete) = (label.clone(), label.clone(), label);
    let keep = report.editable.then(move || {
        view! {
            <ActionForm action=send attr:class="inline">
                <input type="hidden" name="id" value=id_send />
                <button type="submit" class="link">"Send now"<span class="sr-only">{l_send}</span></button>
            </ActionForm>
            <ActionForm action=pause attr:class="inline">
                <input type="hidden" name="id" value=id_pause />
                <input type="hidden" name="enabled" value=(!enabled).to_string() />
                <button type="submit" class="link">{if enabled { "Pause" } else { "Resume" }}<span class="sr-only">{l_pause}</span></button>
            </ActionForm>
            <ActionForm action=remove attr:class="inline">
                <input type="hidden" name="id" value=id_delete />
                <button type="submit" class="link danger">"Delete"<span class="sr-only">{l_delete}</span></button>
            </ActionForm>
        }
    });
    view! {
        <tr data-report=id>
            <th scope="row">
                <span class="report-name">{name}</span>
                <br />
                <span class="muted">{what}</span>
            </th>
            <td class="recipients">{to}</td>
            <td>{next}</td>
            <td>{runs}</td>
            <td class="actions">{keep}</td>
        </tr>
    }
}

#[component]
fn NewReport(page: Page, save: ServerAction<SaveReport>) -> impl IntoView {
    let hint = if page.manages_all {
        "E-mail addresses of people in this workspace, separated by commas. Each must see these numbers on their own dashboard."
    } else {
        "Yourself: tenant admins send reports to others."
    };
    view! {
        <h2 id="new-report-title">"New report"</h2>
        {show_result(save.value(), FORM_FIELDS, |r: Report| view! {
            <p class="notice" role="status" id="report-saved">{format!("Saved \u{201c}{}\u{201d}: next on {}.", r.name, r.next_at.format("%b %-d %H:%M UTC"))}</p>
        }.into_any())}
        <ActionForm action=save attr:class="stack narrow" attr:id="report-form" attr:aria-labelledby="new-report-title">
            <label>
                "Name"
                <input name="name" id="report-name" required maxlength="120" aria-describedby="report-name-error" placeholder="Weekly digest" />
            </label>
            {field_error(save.value(), "name", "report-name-error")}
            <label>
                "How often"
                <select name="cadence" id="report-cadence">
                    {Cadence::ALL.map(|c| view! { <option value=c.as_str()>{c.describe()}</option> }).collect_view()}
                </select>
            </label>
            {field_error(save.value(), "cadence", "report-cadence-error")}
            <label>
                "About"
                <select name="team" id="report-team" aria-describedby="report-team-error">
                    <option value="">"Everything you see"</option>
                    {page.teams.iter().map(|(id, name)| view! { <option value=id.to_string()>{format!("Team {name}")}</option> }).collect_view()}
                </select>
            </label>
            {field_error(save.value(), "team", "report-team-error")}
            <label>
                "PDF follows"
                <select name="board" id="report-board" aria-describedby="report-board-error">
                    <option value="">"The built-in dashboard"</option>
                    {page.boards.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
                </select>
            </label>
            {field_error(save.value(), "board", "report-board-error")}
            <label>
                "Recipients"
                <textarea name="recipients" id="report-recipients" rows="2" required aria-describedby="report-recipients-hint report-recipients-error">{page.my_email.clone()}</textarea>
            </label>
            <p class="muted" id="report-recipients-hint">{hint}</p>
            {field_error(save.value(), "recipients", "report-recipients-error")}
            <p class="row"><button type="submit" class="button" id="report-save">"Save report"</button></p>
        </ActionForm>
    }
}
