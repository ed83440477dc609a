//! The dashboard's reads: whose numbers a caller sees ([`Reader`]), what window a filter
//! means in the tenant's zone ([`window`]), and one query per answer shape (overview, series,
//! breakdown, heatmap, sessions, live activity). They read the rollups and the sessions table,
//! never raw events, except for one session's timeline and the latest few events.
//!
//! Every function here takes a [`Reader`], so no read can forget to scope itself. Server
//! functions, REST and MCP all call these, which is what makes their answers agree.

mod activity;
mod anomalies;
mod answers;
mod breakdown;
mod choices;
mod insights;
mod overview;
mod series;
mod sessions;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

pub use activity::activity;
pub use anomalies::{anomalies, last_day as last_day_judged, MAX_DAYS as ANOMALY_DAYS};
pub use answers::{Answers, Asker, Question};
pub use breakdown::{breakdown, heatmap, Scores};
pub use choices::choices;
pub use insights::insights;
pub use overview::overview;
pub use series::series;
pub use sessions::{session_detail, sessions_page};
use types::dashboard::{Audience, Filters, Preset, Window};
use types::{Grain, Role};

use crate::{accounts::UserId, teams, Error, Result};

/// A caller as the dashboard reads for them: their audience, and the people that covers
/// (`None`: everyone in the tenant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    pub me: UserId,
    pub audience: Audience,
    pub people: Option<Vec<UserId>>,
}

impl Reader {
    /// The reader for `me` with `role`; `None` when the role may not read the dashboard.
    pub async fn of(conn: &mut PgConnection, me: UserId, role: Role) -> Result<Option<Reader>> {
        let Some(audience) = Audience::of(role) else {
            return Ok(None);
        };
        let people = match audience {
            Audience::Everyone | Audience::Aggregate => None,
            Audience::Teams => Some(teams::managed_people(conn, me).await?),
            Audience::Own => Some(vec![me]),
        };
        Ok(Some(Reader {
            me,
            audience,
            people,
        }))
    }

    pub fn names_people(&self) -> bool {
        self.audience.names_people()
    }

    fn may_see(&self, person: UserId) -> bool {
        self.people.as_ref().is_none_or(|p| p.contains(&person))
    }

    /// The people a read covers once the filters' person or team narrow it, as database
    /// ids (`None`: everyone). Someone outside the reader's view is "not found", never a
    /// hint that they exist; a reader who sees totals only may not narrow to anyone.
    pub async fn people_for(
        &self,
        conn: &mut PgConnection,
        f: &Filters,
    ) -> Result<Option<Vec<Uuid>>> {
        if (f.person.is_some() || f.team.is_some()) && !self.audience.can_pick_people() {
            if self.audience == Audience::Own && f.person == Some(self.me) {
                return Ok(Some(vec![self.me.0]));
            }
            return Err(Error::Invalid {
                field: if f.person.is_some() { "person" } else { "team" },
                reason: "your role sees no one else's numbers".into(),
            });
        }
        let mut people: Option<Vec<UserId>> = self.people.clone();
        if let Some(person) = f.person {
            if !self.may_see(person) {
                return Err(Error::NotFound("person"));
            }
            people = Some(vec![person]);
        }
        if let Some(team) = f.team {
            let visible = match self.audience {
                Audience::Everyone => teams::Visible::All,
                _ => teams::Visible::ManagedBy(self.me),
            };
            let team = teams::list(conn, visible)
                .await?
                .into_iter()
                .find(|t| t.id == team)
                .ok_or(Error::NotFound("team"))?;
            let members: Vec<UserId> = team.members.iter().map(|m| m.user_id).collect();
            people = Some(match people {
                Some(p) => p.into_iter().filter(|u| members.contains(u)).collect(),
                None => members,
            });
        }
        Ok(people.map(|p| p.into_iter().map(|u| u.0).collect()))
    }
}

/// What `f` means as a window right now, in the tenant's time zone: presets end at the end
/// of the current minute (1 h), hour (24 h) or local day, so buckets are whole.
pub async fn window(conn: &mut PgConnection, f: &Filters, now: DateTime<Utc>) -> Result<Window> {
    let tz = crate::settings::time_zone(conn).await?;
    let (from, to, label) = match (f.from, f.to, f.preset()) {
        (Some(from), Some(to), _) => {
            let label = format!(
                "{} – {}",
                from.format("%Y-%m-%d %H:%M"),
                to.format("%Y-%m-%d %H:%M UTC")
            );
            (from, to, label)
        }
        (_, _, preset) => {
            let preset = preset.unwrap_or(Preset::Last30Days);
            let (from, to) = resolve(conn, preset, &tz, now).await?;
            (from, to, preset.label().to_string())
        }
    };
    let grain = types::dashboard::fit_grain(f.grain, from, to);
    Ok(Window {
        from,
        to,
        previous_from: from - (to - from),
        tz,
        grain,
        label,
    })
}

/// A preset's `[from, to)` in zone `tz`, computed by PostgreSQL on local wall-clock time so
/// that days are local days whatever the offset and daylight saving do.
async fn resolve(
    conn: &mut PgConnection,
    preset: Preset,
    tz: &str,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let trunc = |d: TimeDelta| chrono::DurationRound::duration_trunc(now, d).unwrap_or(now);
    let minute = trunc(TimeDelta::minutes(1)) + TimeDelta::minutes(1);
    match preset {
        Preset::LastHour => return Ok((minute - TimeDelta::hours(1), minute)),
        Preset::LastDay => {
            let hour = trunc(TimeDelta::hours(1)) + TimeDelta::hours(1);
            return Ok((hour - TimeDelta::hours(24), hour));
        }
        _ => {}
    }
    let (unit, count, days_back) = match preset {
        Preset::Last7Days => ("day", 1, 6),
        Preset::Last30Days => ("day", 1, 29),
        Preset::Last90Days => ("day", 1, 89),
        Preset::ThisWeek => ("week", 7, 0),
        _ => ("month", 0, 0),
    };
    let row = sqlx::query!(
        r#"WITH local AS (SELECT date_trunc($3::text, $1::timestamptz AT TIME ZONE $2::text) AS start)
           SELECT ((start - make_interval(days => $4::int)) AT TIME ZONE $2::text) AS "from!",
                  ((CASE WHEN $3::text = 'month' THEN start + interval '1 month'
                         ELSE start + make_interval(days => $5::int) END) AT TIME ZONE $2::text) AS "to!"
           FROM local"#,
        now,
        tz,
        unit,
        days_back,
        count
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.from, row.to))
}

/// The rollup grain to read so that every bucket of `w` (and of the window before it) is a
/// whole number of rollup buckets: days in a zone that is UTC all along, hours in zones with
/// whole-hour offsets, minutes otherwise (India's +5:30, Nepal's +5:45). Daily samples of
/// the offset catch every change, as zones change at most a few times a year.
async fn source_grain(conn: &mut PgConnection, w: &Window) -> Result<Grain> {
    let row = sqlx::query!(
        r#"SELECT coalesce(bool_and(o = 0), true) AS "utc!",
                  coalesce(bool_and(o % 3600 = 0), true) AS "hourly!"
           FROM (SELECT extract(epoch FROM (b AT TIME ZONE $3::text) - (b AT TIME ZONE 'UTC'))::int AS o
                 FROM generate_series($1::timestamptz, $2::timestamptz, interval '1 day') b) x"#,
        w.previous_from,
        w.to,
        w.tz
    )
    .fetch_one(&mut *conn)
    .await?;
    let zone = if row.utc {
        Grain::Day
    } else if row.hourly {
        Grain::Hour
    } else {
        Grain::Minute
    };
    // The window's own ends must fall on the rollup's buckets too (a hand-typed range).
    let ends = Grain::exact_for(w.from, w.to).min(Grain::exact_for(w.previous_from, w.from));
    let mut grain = zone.min(w.grain).min(ends);
    // Finer rollups past the retention policy (or an earlier, shorter one) are gone: read
    // coarser ones, whose buckets then start on the hour (or the UTC day) where the zone's
    // would not.
    let kept = crate::retention::horizons(conn, Utc::now()).await?;
    if grain == Grain::Minute && kept.minute.is_some_and(|c| c > w.previous_from) {
        grain = Grain::Hour;
    }
    if grain == Grain::Hour && kept.hour.is_some_and(|c| c > w.previous_from) {
        grain = Grain::Day;
    }
    Ok(grain)
}

/// The start of every display bucket from `from` to the window's end, in the window's zone,
/// in order. Days step on local wall-clock time (a day may be 23 or 25 hours long); hours and
/// minutes step on absolute time.
async fn buckets(
    conn: &mut PgConnection,
    w: &Window,
    from: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let mut b = if w.grain == Grain::Day {
        sqlx::query_scalar!(
            r#"SELECT (g AT TIME ZONE $3::text) AS "b!"
               FROM generate_series(date_trunc('day', $1::timestamptz AT TIME ZONE $3::text),
                                    $2::timestamptz AT TIME ZONE $3::text, interval '1 day') AS g"#,
            from,
            w.to,
            w.tz
        )
        .fetch_all(&mut *conn)
        .await?
    } else {
        sqlx::query_scalar!(
            r#"SELECT g AS "b!"
               FROM generate_series(date_trunc($3::text, $1::timestamptz, $4::text), $2::timestamptz,
                                    ('1 ' || $3::text)::interval) AS g"#,
            from,
            w.to,
            w.grain.as_str(),
            w.tz
        )
        .fetch_all(&mut *conn)
        .await?
    };
    b.retain(|t| *t < w.to);
    b.dedup();
    Ok(b)
}

/// Positions of bucket starts, for filling series rows into their slots.
fn index(buckets: &[DateTime<Utc>]) -> BTreeMap<DateTime<Utc>, usize> {
    buckets.iter().enumerate().map(|(i, b)| (*b, i)).collect()
}

/// The `grain` code of a rollup grain (see [`crate::rollups::grain_code`]).
fn code(g: Grain) -> i8 {
    crate::rollups::grain_code(g)
}

/// People's names for rows: their name, else their email.
async fn names(conn: &mut PgConnection, ids: &[Uuid]) -> Result<BTreeMap<Uuid, String>> {
    Ok(
        sqlx::query!("SELECT id, name, email FROM users WHERE id = ANY($1)", ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.id, if r.name.is_empty() { r.email } else { r.name }))
            .collect(),
    )
}

/// Has PostgreSQL plan each of the transaction's remaining statements for the values it is
/// given. The dashboard's statements switch filters off with `($n IS NULL OR column = $n)`,
/// and after five runs of a prepared statement PostgreSQL may keep one generic plan, which
/// cannot know which filters are off: it expects a row or two and joins by nested loops.
/// Measured on a month of day rollups, the team breakdown took 17 ms planned for its values
/// and 55–61 ms on the generic plan. Planning costs a fraction of a millisecond, and only
/// reads that compute an answer pay it (a kept answer runs no statement).
pub(crate) async fn plan_for_these_values(conn: &mut PgConnection) -> Result<()> {
    sqlx::query!("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the per-person rollups answer a read with these filters (`rollup_rows`'
/// `per_person`): they carry no tool or model, so not when either is filtered on. A read
/// that splits by tool or model asks the split rows whatever this says.
fn per_person(f: &Filters) -> bool {
    f.tool.is_none() && f.model.is_none()
}
