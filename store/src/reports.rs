//! Scheduled reports and their sendings.
//!
//! A report reads what its owner sees (their dashboard [`Reader`], narrowed to a team when
//! it names one), like an alert rule. Someone receives it only while they see the same
//! numbers (the alert rules' [`alerts::hears`]), checked when it is saved and again at each
//! sending. The scheduler's sweep claims each due report under its row lock (`FOR UPDATE
//! SKIP LOCKED`), moves it to its next time and queues one `report.send` job, so two
//! instances never send a period twice; the job makes the files once and stores them with
//! the sending, and every recipient's e-mail attaches those.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    accounts, alerts, audit, audit::Actor, boards, dashboard::Reader, jobs, Error, Result,
};
pub use types::reports::{Cadence, NewReport, Recipient, Report, Run, RECENT_RUNS};
use types::{dashboard::Filters, BoardId, ReportId, TeamId, UserId};

/// The job kind that makes and sends one report's sending; its payload is
/// `{"report": <id>, "at": <the time it was due>}`.
pub const SEND: &str = "report.send";

/// The most reports a workspace keeps.
pub const MAX_REPORTS: i64 = 100;

struct Row {
    id: Uuid,
    owner_id: Uuid,
    owner_email: String,
    name: String,
    cadence: String,
    team_id: Option<Uuid>,
    team_name: Option<String>,
    board_id: Option<Uuid>,
    recipients: Vec<Uuid>,
    enabled: bool,
    next_at: DateTime<Utc>,
}

async fn rows(conn: &mut PgConnection, only: Option<Uuid>) -> Result<Vec<Row>> {
    Ok(sqlx::query_as!(
        Row,
        r#"SELECT r.id, r.owner_id, u.email AS owner_email, r.name, r.cadence, r.team_id,
                  t.name AS "team_name?", r.board_id, r.recipients, r.enabled, r.next_at
           FROM reports r JOIN users u ON u.id = r.owner_id
           LEFT JOIN teams t ON t.id = r.team_id
           WHERE $1::uuid IS NULL OR r.id = $1
           ORDER BY r.name, r.id"#,
        only
    )
    .fetch_all(&mut *conn)
    .await?)
}

impl Row {
    fn filters(&self) -> Filters {
        Filters {
            team: self.team_id.map(TeamId),
            ..Filters::default()
        }
    }

    fn cadence(&self) -> Cadence {
        Cadence::parse(&self.cadence).unwrap_or(Cadence::Weekly)
    }

    fn sees(&self, reader: &Reader) -> bool {
        reader.audience == types::dashboard::Audience::Everyone
            || self.owner_id == reader.me.0
            || self.recipients.contains(&reader.me.0)
    }

    fn may_change(&self, reader: &Reader, manages_all: bool) -> bool {
        self.owner_id == reader.me.0 || manages_all
    }
}

/// The people `ids`, in order, as recipients (those erased since are left out).
async fn recipients(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Recipient>> {
    let found = sqlx::query!(
        "SELECT id, email, name FROM users WHERE id = ANY($1) AND erased_at IS NULL",
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|u| u.id == *id))
        .map(|u| Recipient {
            id: UserId(u.id),
            email: u.email.clone(),
            name: (!u.name.is_empty()).then(|| u.name.clone()),
        })
        .collect())
}

async fn runs(conn: &mut PgConnection, report: Uuid) -> Result<Vec<Run>> {
    Ok(sqlx::query!(
        r#"SELECT id, first_day, last_day, at, recipients, pdf IS NOT NULL AS "pdf!", pdf_error
           FROM report_runs WHERE report_id = $1 ORDER BY at DESC LIMIT $2"#,
        report,
        RECENT_RUNS
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Run {
        id: r.id,
        first_day: r.first_day,
        last_day: r.last_day,
        at: r.at,
        recipients: r.recipients,
        pdf: r.pdf,
        pdf_error: r.pdf_error,
    })
    .collect())
}

async fn shown(
    conn: &mut PgConnection,
    row: Row,
    reader: &Reader,
    manages_all: bool,
) -> Result<Report> {
    Ok(Report {
        id: ReportId(row.id),
        cadence: row.cadence(),
        team: row.team_id.map(TeamId),
        board: row.board_id.map(BoardId),
        owner: UserId(row.owner_id),
        recipients: recipients(conn, &row.recipients).await?,
        runs: runs(conn, row.id).await?,
        editable: row.may_change(reader, manages_all),
        name: row.name,
        team_name: row.team_name,
        owner_email: row.owner_email,
        enabled: row.enabled,
        next_at: row.next_at,
    })
}

/// The reports `reader` owns or receives; every report for a tenant admin.
pub async fn list(
    conn: &mut PgConnection,
    reader: &Reader,
    manages_all: bool,
) -> Result<Vec<Report>> {
    let mut out = Vec::new();
    for row in rows(conn, None).await? {
        if visible(conn, reader, &row).await? {
            out.push(shown(conn, row, reader, manages_all).await?);
        }
    }
    Ok(out)
}

/// Whether `reader` sees report `r`: its owner and tenant admins always; a recipient while
/// they still see its numbers (a person moved off the team stops seeing it).
async fn visible(conn: &mut PgConnection, reader: &Reader, r: &Row) -> Result<bool> {
    if !r.sees(reader) {
        return Ok(false);
    }
    if r.owner_id == reader.me.0 || reader.audience == types::dashboard::Audience::Everyone {
        return Ok(true);
    }
    let Some(owner) = alerts::owner_reader(conn, UserId(r.owner_id)).await? else {
        return Ok(false);
    };
    let f = r.filters();
    let Some(people) = alerts::covered(conn, &owner, &f).await? else {
        return Ok(false);
    };
    alerts::hears(conn, reader, &f, &people).await
}

async fn row(conn: &mut PgConnection, reader: &Reader, id: ReportId) -> Result<Row> {
    let Some(r) = rows(conn, Some(id.0)).await?.pop() else {
        return Err(Error::NotFound("report"));
    };
    if visible(conn, reader, &r).await? {
        Ok(r)
    } else {
        Err(Error::NotFound("report"))
    }
}

pub async fn get(
    conn: &mut PgConnection,
    reader: &Reader,
    manages_all: bool,
    id: ReportId,
) -> Result<Report> {
    let r = row(conn, reader, id).await?;
    shown(conn, r, reader, manages_all).await
}

/// When a report of `cadence` next goes out after `after`: the next Monday (the next 1st)
/// at 07:00 in the workspace's zone, computed on local wall-clock time.
pub async fn next_at(
    conn: &mut PgConnection,
    cadence: Cadence,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let tz = crate::settings::time_zone(conn).await?;
    Ok(sqlx::query_scalar!(
        r#"WITH l AS (SELECT date_trunc($2::text, $1::timestamptz AT TIME ZONE $3::text)
                             + interval '7 hours' AS start,
                             $1::timestamptz AT TIME ZONE $3::text AS now)
           SELECT ((CASE WHEN start > now THEN start
                         WHEN $2::text = 'week' THEN start + interval '7 days'
                         ELSE start + interval '1 month' END) AT TIME ZONE $3::text) AS "at!"
           FROM l"#,
        after,
        cadence.unit(),
        tz
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// The period a sending due at `due` covers: the whole week (month) before the one `due`
/// falls in, as local days and as the instants that bound them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// The dashboard's filters for the period, read by day.
    pub fn filters(&self, base: &Filters) -> Filters {
        Filters {
            range: None,
            from: Some(self.from),
            to: Some(self.to),
            grain: Some(types::Grain::Day),
            ..base.clone()
        }
    }

    pub fn words(&self) -> String {
        types::reports::period_words(self.first_day, self.last_day)
    }
}

pub async fn period(
    conn: &mut PgConnection,
    cadence: Cadence,
    due: DateTime<Utc>,
) -> Result<Period> {
    let tz = crate::settings::time_zone(conn).await?;
    let r = sqlx::query!(
        r#"WITH l AS (SELECT date_trunc($2::text, $1::timestamptz AT TIME ZONE $3::text) AS cur),
                p AS (SELECT cur - CASE WHEN $2::text = 'week' THEN interval '7 days'
                                        ELSE interval '1 month' END AS prev, cur FROM l)
           SELECT prev::date AS "first_day!", (cur - interval '1 day')::date AS "last_day!",
                  (prev AT TIME ZONE $3::text) AS "from!", (cur AT TIME ZONE $3::text) AS "to!"
           FROM p"#,
        due,
        cadence.unit(),
        tz
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Period {
        first_day: r.first_day,
        last_day: r.last_day,
        from: r.from,
        to: r.to,
    })
}

/// Who may receive a report of `owner` about `f`: each named person must be here, active,
/// and see the same numbers.
async fn check(
    conn: &mut PgConnection,
    owner: &Reader,
    new: &NewReport,
    manages_all: bool,
) -> Result<()> {
    let f = Filters {
        team: new.team,
        ..Filters::default()
    };
    let people = alerts::covered(conn, owner, &f)
        .await?
        .ok_or(Error::NotFound("team"))?;
    if let Some(board) = new.board {
        let role = accounts::get(conn, owner.me).await?.role;
        boards::get(conn, &boards::Caller { me: owner.me, role }, board).await?;
    }
    for id in &new.recipients {
        let user = match accounts::get(conn, *id).await {
            Ok(u) if u.active => u,
            Ok(_) | Err(Error::NotFound(_)) => {
                return Err(Error::Invalid {
                    field: "recipients",
                    reason: format!("{id} is not an active person of this workspace").into(),
                })
            }
            Err(e) => return Err(e),
        };
        let hears = match Reader::of(conn, user.id, user.role).await? {
            Some(r) => alerts::hears(conn, &r, &f, &people).await?,
            None => false,
        };
        if !hears {
            return Err(Error::Invalid {
                field: "recipients",
                // Only those who manage people learn an address from an id.
                reason: format!(
                    "{} does not see these numbers on their own dashboard, so cannot receive them",
                    if manages_all {
                        user.email
                    } else {
                        id.to_string()
                    }
                )
                .into(),
            });
        }
    }
    Ok(())
}

/// Creates (`id: None`) or changes a report. Only its owner or a tenant admin changes one;
/// it stays its owner's.
pub async fn save(
    conn: &mut PgConnection,
    actor: &Actor,
    reader: &Reader,
    manages_all: bool,
    id: Option<ReportId>,
    new: NewReport,
    now: DateTime<Utc>,
) -> Result<Report> {
    let new = new.checked()?;
    let before = match id {
        Some(id) => {
            let r = row(conn, reader, id).await?;
            if !r.may_change(reader, manages_all) {
                return Err(Error::Forbidden(
                    "only its owner or a tenant admin changes a report".into(),
                ));
            }
            Some(r)
        }
        None => {
            let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM reports"#)
                .fetch_one(&mut *conn)
                .await?;
            if n >= MAX_REPORTS {
                return Err(Error::Conflict(
                    format!("a workspace keeps at most {MAX_REPORTS} reports").into(),
                ));
            }
            None
        }
    };
    let owner_id = before.as_ref().map_or(reader.me, |r| UserId(r.owner_id));
    let owner = if owner_id == reader.me {
        Some(reader.clone())
    } else {
        alerts::owner_reader(conn, owner_id).await?
    };
    let owner = owner.ok_or(Error::Invalid {
        field: "owner",
        reason: "the report's owner no longer reads the dashboard".into(),
    })?;
    // Pausing needs no check: a report whose recipient lost access can still be stopped.
    let pausing = before.as_ref().is_some_and(|b| b.enabled) && !new.enabled;
    if !pausing {
        check(conn, &owner, &new, manages_all).await?;
    }
    let next = next_at(conn, new.cadence, now).await?;
    let report_id = id.map_or_else(Uuid::new_v4, |i| i.0);
    let recipients: Vec<Uuid> = new.recipients.iter().map(|u| u.0).collect();
    sqlx::query!(
        "INSERT INTO reports (id, owner_id, name, cadence, team_id, board_id, recipients, enabled, next_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, cadence = excluded.cadence,
             team_id = excluded.team_id, board_id = excluded.board_id,
             recipients = excluded.recipients, enabled = excluded.enabled,
             -- The same cadence keeps its clock, read here so that a sweep committing
             -- meanwhile is not undone; one left in the past (paused) starts again from now.
             next_at = CASE WHEN reports.cadence = excluded.cadence AND reports.next_at > now()
                            THEN reports.next_at ELSE excluded.next_at END",
        report_id,
        owner_id.0,
        new.name,
        new.cadence.as_str(),
        new.team.map(|t| t.0),
        new.board.map(|b| b.0),
        &recipients,
        new.enabled,
        next
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        actor,
        "report.saved",
        Some(&report_id.to_string()),
        serde_json::json!({ "report": new, "created": before.is_none() }),
    )
    .await?;
    get(conn, reader, manages_all, ReportId(report_id)).await
}

pub async fn delete(
    conn: &mut PgConnection,
    actor: &Actor,
    reader: &Reader,
    manages_all: bool,
    id: ReportId,
) -> Result<()> {
    let r = row(conn, reader, id).await?;
    if !r.may_change(reader, manages_all) {
        return Err(Error::Forbidden(
            "only its owner or a tenant admin deletes a report".into(),
        ));
    }
    sqlx::query!("DELETE FROM reports WHERE id = $1", id.0)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        actor,
        "report.deleted",
        Some(&id.to_string()),
        serde_json::json!({ "name": r.name }),
    )
    .await
}

/// Queues a sending of report `id` now, about its latest whole period ("send now").
pub async fn send_now(
    conn: &mut PgConnection,
    actor: &Actor,
    reader: &Reader,
    manages_all: bool,
    id: ReportId,
    now: DateTime<Utc>,
) -> Result<()> {
    let r = row(conn, reader, id).await?;
    if !r.may_change(reader, manages_all) {
        return Err(Error::Forbidden(
            "only its owner or a tenant admin sends a report".into(),
        ));
    }
    jobs::enqueue_here(
        conn,
        SEND,
        &serde_json::json!({ "report": id.0, "at": now }),
    )
    .await?;
    audit::record(
        conn,
        actor,
        "report.sent",
        Some(&id.to_string()),
        serde_json::json!({ "name": r.name }),
    )
    .await
}

/// Claims every enabled report due at `now`, moves each to its next time and queues its
/// sending; returns how many were queued. Runs in the caller's transaction: the row locks
/// hold until it commits, so a second sweep skips what this one took.
pub async fn sweep(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize> {
    let due = sqlx::query!(
        "SELECT id, cadence FROM reports WHERE enabled AND next_at <= $1
         ORDER BY next_at FOR UPDATE SKIP LOCKED",
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    for d in &due {
        let cadence = Cadence::parse(&d.cadence).unwrap_or(Cadence::Weekly);
        // After a long outage, one sending about the latest period, not one per missed week.
        let next = next_at(conn, cadence, now).await?;
        sqlx::query!("UPDATE reports SET next_at = $2 WHERE id = $1", d.id, next)
            .execute(&mut *conn)
            .await?;
        // About the latest whole period before now, however late the sweep.
        jobs::enqueue_here(
            conn,
            SEND,
            &serde_json::json!({ "report": d.id, "at": now }),
        )
        .await?;
    }
    Ok(due.len())
}

/// What a sending needs: the report, its owner's reader, the period and who still receives
/// it (with whether every one of them sees people by name).
pub struct Sending {
    pub id: ReportId,
    pub name: String,
    pub owner: Reader,
    pub board: Option<types::boards::Document>,
    pub filters: Filters,
    pub team_name: Option<String>,
    pub period: Period,
    pub recipients: Vec<Recipient>,
    /// Whether the report may name people: its owner and every recipient see names.
    pub names_people: bool,
}

/// The sending of report `id` due at `due`; `None` when there is nothing to send (the
/// report is gone, its owner no longer reads the dashboard, or nobody may receive it).
pub async fn sending(
    conn: &mut PgConnection,
    id: ReportId,
    due: DateTime<Utc>,
) -> Result<Option<Sending>> {
    let Some(r) = rows(conn, Some(id.0)).await?.pop() else {
        return Ok(None);
    };
    let Some(owner) = alerts::owner_reader(conn, UserId(r.owner_id)).await? else {
        return Ok(None);
    };
    let f = r.filters();
    let Some(people) = alerts::covered(conn, &owner, &f).await? else {
        return Ok(None);
    };
    let mut names_people = owner.names_people();
    let mut told = Vec::new();
    for who in recipients(conn, &r.recipients).await? {
        let user = accounts::get(conn, who.id).await?;
        if !user.active {
            continue;
        }
        let Some(reader) = Reader::of(conn, user.id, user.role).await? else {
            continue;
        };
        if alerts::hears(conn, &reader, &f, &people).await? {
            names_people &= reader.names_people();
            told.push(who);
        }
    }
    if told.is_empty() {
        return Ok(None);
    }
    let board = match r.board_id {
        Some(b) => {
            let role = accounts::get(conn, owner.me).await?.role;
            match boards::get(conn, &boards::Caller { me: owner.me, role }, BoardId(b)).await {
                Ok(b) => Some(b.document),
                // A board deleted since: the default dashboard stands in.
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    let period = period(conn, r.cadence(), due).await?;
    Ok(Some(Sending {
        id: ReportId(r.id),
        name: r.name,
        owner,
        board,
        filters: f,
        team_name: r.team_name,
        period,
        recipients: told,
        names_people,
    }))
}

/// How many sendings a report keeps with their files (a year of weekly ones); older ones go
/// when a new one is stored, so a report's files do not pile up for ever.
pub const KEPT_RUNS: i64 = 52;

/// Stores one sending's files, made by job `job`; returns its id, or `None` when that job
/// stored it already (an earlier attempt that got this far). Sendings past the latest
/// [`KEPT_RUNS`] of the report are dropped.
pub async fn record_run(
    conn: &mut PgConnection,
    s: &Sending,
    job: i64,
    pdf: Option<&[u8]>,
    pdf_error: Option<&str>,
    csv: &str,
) -> Result<Option<Uuid>> {
    let id = Uuid::new_v4();
    let stored = sqlx::query_scalar!(
        "INSERT INTO report_runs (id, report_id, first_day, last_day, recipients, pdf, pdf_error,
                                  csv, job_id, names_people)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (job_id) DO NOTHING RETURNING id",
        id,
        s.id.0,
        s.period.first_day,
        s.period.last_day,
        s.recipients.len() as i32,
        pdf,
        pdf_error,
        csv,
        job,
        s.names_people
    )
    .fetch_optional(&mut *conn)
    .await?;
    if stored.is_some() {
        // Newest by time, then by job (a job id grows): one of those whose e-mails are long
        // sent, never the one just stored.
        sqlx::query!(
            "DELETE FROM report_runs WHERE report_id = $1 AND id NOT IN (
                 SELECT id FROM report_runs WHERE report_id = $1
                 ORDER BY at DESC, job_id DESC NULLS LAST LIMIT $2)",
            s.id.0,
            KEPT_RUNS
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(stored)
}

/// A file a sending attached.
#[derive(Clone, Debug)]
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The files of sending `run`: its PDF (when it was made) and its CSV.
pub async fn files(conn: &mut PgConnection, run: Uuid) -> Result<Vec<File>> {
    let r = sqlx::query!(
        r#"SELECT r.name, x.first_day, x.pdf, x.csv FROM report_runs x
           JOIN reports r ON r.id = x.report_id WHERE x.id = $1"#,
        run
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("report sending"))?;
    let stem = format!("devpulse-{}-{}", slug(&r.name), r.first_day);
    let mut out = Vec::new();
    if let Some(pdf) = r.pdf {
        out.push(File {
            name: format!("{stem}.pdf"),
            content_type: "application/pdf",
            bytes: pdf,
        });
    }
    out.push(File {
        name: format!("{stem}.csv"),
        content_type: "text/csv",
        bytes: r.csv.into_bytes(),
    });
    Ok(out)
}

/// One file of a sending of a report `reader` sees.
pub async fn file(
    conn: &mut PgConnection,
    reader: &Reader,
    id: ReportId,
    run: Uuid,
    pdf: bool,
) -> Result<File> {
    row(conn, reader, id).await?;
    let names = sqlx::query_scalar!(
        "SELECT names_people FROM report_runs WHERE id = $1 AND report_id = $2",
        run,
        id.0
    )
    .fetch_optional(&mut *conn)
    .await?;
    // A sending made for people who see names is not for someone who sees only totals.
    match names {
        Some(names) if !names || reader.names_people() => {}
        _ => return Err(Error::NotFound("report sending")),
    }
    let want = if pdf { "application/pdf" } else { "text/csv" };
    files(conn, run)
        .await?
        .into_iter()
        .find(|f| f.content_type == want)
        .ok_or(Error::NotFound("PDF of this sending"))
}

/// A file name's part from a report's name: "Platform weekly" → "platform-weekly".
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "report".into()
    } else {
        parts.join("-").chars().take(60).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_are_plain() {
        assert_eq!(super::slug("Platform — weekly!"), "platform-weekly");
        assert_eq!(super::slug("Ü"), "report");
    }
}
