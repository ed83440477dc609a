//! Alert rules, their evaluation and each person's bell.
//!
//! A rule reads what its owner sees (the dashboard's own numbers, with the owner's
//! [`Reader`]), so a rule never shows anyone a total the dashboard would not. Who hears of a
//! rule is kept per person ([`Subscription`]); someone hears of it only when they see the
//! numbers it is about (see [`hears`]), checked again each time it fires, so a person moved
//! off a team stops hearing of the team's rules.
//!
//! Evaluation takes each rule's row lock (`FOR UPDATE SKIP LOCKED`) and judges from the
//! stored state, so two instances evaluating at once never fire a rule twice.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    accounts, audit, audit::Actor, budgets, dashboard::Reader, mail, sealing::Sealer, Error, Result,
};
pub use types::alerts::{
    judge, Event, Inbox, Metric, NewRule, Notification, Rule, State, Subscription,
};
use types::{dashboard::Filters, AlertRuleId, Grain, UserId};

/// The most rules a workspace keeps: each is evaluated on every write.
pub const MAX_RULES: i64 = 200;

struct Row {
    id: Uuid,
    owner_id: Uuid,
    owner_name: String,
    name: String,
    metric: String,
    direction: String,
    threshold: f64,
    clear_at: f64,
    window_minutes: i32,
    filters: serde_json::Value,
    budget_id: Option<Uuid>,
    hours: Option<serde_json::Value>,
    enabled: bool,
    state: String,
    since: Option<DateTime<Utc>>,
    last_value: Option<f64>,
    evaluated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl Row {
    fn rule(self) -> Result<Rule> {
        Ok(Rule {
            id: AlertRuleId(self.id),
            owner: UserId(self.owner_id),
            owner_name: self.owner_name,
            rule: NewRule {
                name: self.name,
                metric: Metric::parse(&self.metric)?,
                direction: types::alerts::Direction::parse(&self.direction)?,
                threshold: self.threshold,
                clear: Some(self.clear_at),
                window_minutes: self.window_minutes,
                filters: serde_json::from_value(self.filters).unwrap_or_default(),
                budget_id: self.budget_id.map(types::BudgetId),
                hours: self.hours.and_then(|h| serde_json::from_value(h).ok()),
                enabled: self.enabled,
            },
            state: State::parse(&self.state),
            since: self.since,
            last_value: self.last_value,
            evaluated_at: self.evaluated_at,
            created_at: self.created_at,
            mine: None,
        })
    }
}

async fn all(conn: &mut PgConnection) -> Result<Vec<Rule>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT r.id, r.owner_id, coalesce(nullif(u.name, ''), u.email) AS "owner_name!",
                  r.name, r.metric, r.direction, r.threshold, r.clear_at, r.window_minutes,
                  r.filters, r.budget_id, r.hours, r.enabled, r.state, r.since, r.last_value,
                  r.evaluated_at, r.created_at
           FROM alert_rules r JOIN users u ON u.id = r.owner_id
           ORDER BY r.state = 'firing' DESC, r.name, r.id"#
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(Row::rule).collect()
}

/// The filters a rule's number is read with (a budget rule: its budget's scope).
async fn scope_of(conn: &mut PgConnection, rule: &NewRule) -> Result<Option<Filters>> {
    match rule.budget_id {
        Some(id) => Ok(budgets::list(conn)
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .map(|b| budgets::filters(b.scope))),
        None => Ok(Some(rule.filters.clone())),
    }
}

/// The people a rule's number covers for `reader` (`None`: everyone), or `None` when the
/// reader may not read it at all.
pub(crate) async fn covered(
    conn: &mut PgConnection,
    reader: &Reader,
    f: &Filters,
) -> Result<Option<Option<Vec<Uuid>>>> {
    match reader.people_for(conn, f).await {
        Ok(p) => Ok(Some(p)),
        Err(Error::NotFound(_) | Error::Invalid { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `reader` sees the number that covers `people` with filters `f`: everyone's
/// reader sees every number; a workspace-wide number is for those who see the workspace's
/// totals; a number about some people is for those who see each of them.
pub(crate) async fn hears(
    conn: &mut PgConnection,
    reader: &Reader,
    f: &Filters,
    people: &Option<Vec<Uuid>>,
) -> Result<bool> {
    use types::dashboard::Audience;
    if reader.audience == Audience::Everyone {
        return Ok(true);
    }
    let Some(theirs) = covered(conn, reader, f).await? else {
        return Ok(false);
    };
    Ok(match (people, theirs) {
        (None, None) => true,
        (Some(p), Some(t)) => reader.names_people() && p.iter().all(|u| t.contains(u)),
        _ => false,
    })
}

/// The reader a rule is evaluated as: its owner's, while they are active and may read the
/// dashboard.
pub(crate) async fn owner_reader(conn: &mut PgConnection, owner: UserId) -> Result<Option<Reader>> {
    let user = match accounts::get(conn, owner).await {
        Ok(u) => u,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !user.active {
        return Ok(None);
    }
    Reader::of(conn, owner, user.role).await
}

/// The rules `reader` may see, with how they hear of each. Tenant admins see every rule.
pub async fn list(conn: &mut PgConnection, reader: &Reader) -> Result<Vec<Rule>> {
    let subs = sqlx::query!(
        "SELECT rule_id, in_app, email FROM alert_subscriptions WHERE user_id = $1",
        reader.me.0
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for mut rule in all(conn).await? {
        if rule.owner != reader.me && !visible(conn, reader, &rule).await? {
            continue;
        }
        rule.mine = subs
            .iter()
            .find(|s| s.rule_id == rule.id.0)
            .map(|s| Subscription {
                in_app: s.in_app,
                email: s.email,
            });
        out.push(rule);
    }
    Ok(out)
}

/// Whether `reader` sees the numbers of `rule` (as read by its owner).
async fn visible(conn: &mut PgConnection, reader: &Reader, rule: &Rule) -> Result<bool> {
    let Some(f) = scope_of(conn, &rule.rule).await? else {
        return Ok(false);
    };
    let Some(owner) = owner_reader(conn, rule.owner).await? else {
        // Paused with its owner: admins still see it, to clean up.
        return Ok(reader.audience == types::dashboard::Audience::Everyone);
    };
    let Some(people) = covered(conn, &owner, &f).await? else {
        return Ok(reader.audience == types::dashboard::Audience::Everyone);
    };
    hears(conn, reader, &f, &people).await
}

/// One rule, if `reader` may see it.
pub async fn get(conn: &mut PgConnection, reader: &Reader, id: AlertRuleId) -> Result<Rule> {
    list(conn, reader)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(Error::NotFound("alert rule"))
}

/// Creates a rule (`id: None`, owned by the reader, who hears of it in the app) or changes
/// one: its owner's, or anyone's for `manages_all` (tenant admins). The owner must see the
/// numbers the rule reads. Audited with the rule before and after.
pub async fn save(
    conn: &mut PgConnection,
    actor: &Actor,
    reader: &Reader,
    manages_all: bool,
    id: Option<AlertRuleId>,
    new: NewRule,
) -> Result<Rule> {
    let new = new.checked()?;
    let before = match id {
        Some(id) => {
            let rule = get(conn, reader, id).await?;
            if rule.owner != reader.me && !manages_all {
                return Err(Error::Forbidden(
                    "only its owner or a tenant admin changes a rule".into(),
                ));
            }
            Some(rule)
        }
        None => {
            let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM alert_rules"#)
                .fetch_one(&mut *conn)
                .await?;
            if n >= MAX_RULES {
                return Err(Error::Conflict(
                    format!("a workspace keeps at most {MAX_RULES} alert rules").into(),
                ));
            }
            None
        }
    };
    // Checked as the owner, who reads it.
    let owner_id = before.as_ref().map_or(reader.me, |r| r.owner);
    let owner = if owner_id == reader.me {
        Some(reader.clone())
    } else {
        owner_reader(conn, owner_id).await?
    };
    let owner = owner.ok_or(Error::Invalid {
        field: "owner",
        reason: "the rule's owner no longer reads the dashboard".into(),
    })?;
    let f = match scope_of(conn, &new).await? {
        Some(f) => f,
        None => return Err(Error::NotFound("budget")),
    };
    if let Some(b) = new.budget_id {
        let seen = budgets::list(conn)
            .await?
            .into_iter()
            .find(|x| x.id == b)
            .is_some_and(|x| x.scope.open_to(owner.audience));
        if !seen {
            return Err(Error::NotFound("budget"));
        }
    }
    if let Some(person) = f.person {
        // An admin's reader would take any id; the rule must name someone who is here.
        sqlx::query_scalar!(
            "SELECT 1 AS \"one!\" FROM users WHERE id = $1 AND erased_at IS NULL",
            person.0
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("person"))?;
    }
    owner.people_for(conn, &f).await?;
    let rule_id = id.map_or_else(Uuid::new_v4, |i| i.0);
    let filters = serde_json::to_value(&new.filters).expect("filters serialize");
    let hours = new
        .hours
        .map(|h| serde_json::to_value(h).expect("hours serialize"));
    sqlx::query!(
        "INSERT INTO alert_rules (id, owner_id, name, metric, direction, threshold, clear_at,
                                  window_minutes, filters, budget_id, hours, enabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, metric = excluded.metric,
             direction = excluded.direction, threshold = excluded.threshold,
             clear_at = excluded.clear_at, window_minutes = excluded.window_minutes,
             filters = excluded.filters, budget_id = excluded.budget_id, hours = excluded.hours,
             enabled = excluded.enabled,
             -- A rule that now judges another number, or judges it otherwise, starts over.
             state = CASE WHEN alert_rules.metric = excluded.metric
                           AND alert_rules.filters = excluded.filters
                           AND alert_rules.budget_id IS NOT DISTINCT FROM excluded.budget_id
                           AND alert_rules.direction = excluded.direction
                           AND alert_rules.window_minutes = excluded.window_minutes
                          THEN alert_rules.state ELSE 'ok' END,
             since = CASE WHEN alert_rules.metric = excluded.metric
                           AND alert_rules.filters = excluded.filters
                           AND alert_rules.budget_id IS NOT DISTINCT FROM excluded.budget_id
                           AND alert_rules.direction = excluded.direction
                           AND alert_rules.window_minutes = excluded.window_minutes
                          THEN alert_rules.since END,
             last_value = CASE WHEN alert_rules.metric = excluded.metric
                           AND alert_rules.filters = excluded.filters
                           AND alert_rules.budget_id IS NOT DISTINCT FROM excluded.budget_id
                           AND alert_rules.window_minutes = excluded.window_minutes
                          THEN alert_rules.last_value END",
        rule_id,
        owner_id.0,
        new.name,
        new.metric.as_str(),
        new.direction.as_str(),
        new.threshold,
        new.clear_level(),
        new.window_minutes,
        filters,
        new.budget_id.map(|b| b.0),
        hours,
        new.enabled
    )
    .execute(&mut *conn)
    .await?;
    // The history told of another number, perhaps one whose people only the owner saw: it
    // does not carry over to whoever may see the new one.
    if let Some(b) = &before {
        if b.rule.metric != new.metric
            || b.rule.filters != new.filters
            || b.rule.budget_id != new.budget_id
        {
            sqlx::query!("DELETE FROM alert_events WHERE rule_id = $1", rule_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    if before.is_none() {
        sqlx::query!(
            "INSERT INTO alert_subscriptions (rule_id, user_id, in_app, email)
             VALUES ($1, $2, true, false) ON CONFLICT DO NOTHING",
            rule_id,
            owner_id.0
        )
        .execute(&mut *conn)
        .await?;
    }
    let details = serde_json::json!({
        "rule": new,
        "before": before.map(|b| b.rule),
    });
    audit::record(
        conn,
        actor,
        "alert.saved",
        Some(&rule_id.to_string()),
        details,
    )
    .await?;
    let mut rule = all(conn)
        .await?
        .into_iter()
        .find(|r| r.id.0 == rule_id)
        .ok_or(Error::NotFound("alert rule"))?;
    rule.mine = mine(conn, reader.me, rule.id).await?;
    Ok(rule)
}

async fn mine(
    conn: &mut PgConnection,
    me: UserId,
    rule: AlertRuleId,
) -> Result<Option<Subscription>> {
    Ok(sqlx::query!(
        "SELECT in_app, email FROM alert_subscriptions WHERE rule_id = $1 AND user_id = $2",
        rule.0,
        me.0
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|s| Subscription {
        in_app: s.in_app,
        email: s.email,
    }))
}

/// Deletes a rule the reader sees: their own, or anyone's for `manages_all`.
pub async fn delete(
    conn: &mut PgConnection,
    actor: &Actor,
    reader: &Reader,
    manages_all: bool,
    id: AlertRuleId,
) -> Result<()> {
    let rule = get(conn, reader, id).await?;
    if rule.owner != reader.me && !manages_all {
        return Err(Error::Forbidden(
            "only its owner or a tenant admin deletes a rule".into(),
        ));
    }
    sqlx::query!("DELETE FROM alert_rules WHERE id = $1", id.0)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        actor,
        "alert.deleted",
        Some(&id.to_string()),
        serde_json::json!({ "rule": rule.rule }),
    )
    .await
}

/// How the reader hears of a rule they see; `None` stops it.
pub async fn subscribe(
    conn: &mut PgConnection,
    reader: &Reader,
    id: AlertRuleId,
    how: Option<Subscription>,
) -> Result<Rule> {
    get(conn, reader, id).await?;
    match how {
        Some(s) if s.in_app || s.email => {
            sqlx::query!(
                "INSERT INTO alert_subscriptions (rule_id, user_id, in_app, email)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (rule_id, user_id)
                 DO UPDATE SET in_app = excluded.in_app, email = excluded.email",
                id.0,
                reader.me.0,
                s.in_app,
                s.email
            )
            .execute(&mut *conn)
            .await?;
        }
        _ => {
            sqlx::query!(
                "DELETE FROM alert_subscriptions WHERE rule_id = $1 AND user_id = $2",
                id.0,
                reader.me.0
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    get(conn, reader, id).await
}

/// The firing and resolving of the rules the reader sees (one rule's with `rule`), newest
/// first.
pub async fn history(
    conn: &mut PgConnection,
    reader: &Reader,
    rule: Option<AlertRuleId>,
    limit: i64,
) -> Result<Vec<Event>> {
    let seen: Vec<Uuid> = list(conn, reader)
        .await?
        .into_iter()
        .map(|r| r.id.0)
        .filter(|id| rule.is_none_or(|r| r.0 == *id))
        .collect();
    let rows = sqlx::query!(
        "SELECT id, rule_id, rule_name, metric, state, value, threshold, at FROM alert_events
         WHERE rule_id = ANY($1) ORDER BY at DESC, id LIMIT $2",
        &seen,
        limit.clamp(1, 500)
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Event {
                id: r.id,
                rule_id: AlertRuleId(r.rule_id),
                rule_name: r.rule_name,
                state: State::parse(&r.state),
                value: r.value,
                threshold: r.threshold,
                metric: Metric::parse(&r.metric)?,
                at: r.at,
            })
        })
        .collect()
}

/// The bell: `me`'s latest notifications and how many are unread.
pub async fn inbox(conn: &mut PgConnection, me: UserId, limit: i64) -> Result<Inbox> {
    let unread = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM notifications WHERE user_id = $1 AND read_at IS NULL"#,
        me.0
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        "SELECT n.id, n.read_at IS NOT NULL AS \"read!\", e.id AS event_id, e.rule_id,
                e.rule_name, e.metric, e.state, e.value, e.threshold, e.at
         FROM notifications n JOIN alert_events e ON e.id = n.event_id
         WHERE n.user_id = $1 ORDER BY n.created_at DESC, n.id LIMIT $2",
        me.0,
        limit.clamp(1, 200)
    )
    .fetch_all(&mut *conn)
    .await?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(Notification {
                id: r.id,
                read: r.read,
                event: Event {
                    id: r.event_id,
                    rule_id: AlertRuleId(r.rule_id),
                    rule_name: r.rule_name,
                    state: State::parse(&r.state),
                    value: r.value,
                    threshold: r.threshold,
                    metric: Metric::parse(&r.metric)?,
                    at: r.at,
                },
            })
        })
        .collect::<Result<_>>()?;
    Ok(Inbox { unread, items })
}

/// Marks `me`'s notifications read: the ones named, or all.
pub async fn mark_read(conn: &mut PgConnection, me: UserId, ids: Option<&[Uuid]>) -> Result<u64> {
    let done = match ids {
        Some(ids) => {
            sqlx::query!(
                "UPDATE notifications SET read_at = now()
             WHERE user_id = $1 AND id = ANY($2) AND read_at IS NULL",
                me.0,
                ids
            )
            .execute(&mut *conn)
            .await?
        }
        None => {
            sqlx::query!(
                "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
                me.0
            )
            .execute(&mut *conn)
            .await?
        }
    };
    Ok(done.rows_affected())
}

/// A rule changed state during an evaluation: the event, and whom it reached in the app
/// (each with their notification), for the live feeds.
#[derive(Clone, Debug)]
pub struct Told {
    pub event: Event,
    pub in_app: Vec<(UserId, Uuid)>,
}

/// The number `rule` reads at `now`, as `owner` sees it; `None` when there is none (a rate
/// of nothing) or the owner no longer sees it.
pub async fn value(
    conn: &mut PgConnection,
    owner: &Reader,
    rule: &NewRule,
    now: DateTime<Utc>,
) -> Result<Option<f64>> {
    if let Some(budget) = rule.budget_id {
        let Some(status) = budgets::status_of(conn, owner, budget, now).await? else {
            return Ok(None);
        };
        let Some(p) = status.usd.or(status.tokens) else {
            return Ok(None);
        };
        return Ok(Some(match rule.metric {
            Metric::BudgetProjected => p.projected / p.limit * 100.0,
            _ => p.spent / p.limit * 100.0,
        }));
    }
    if let Some(signal) = rule.metric.unusual() {
        let judged =
            crate::dashboard::last_day_judged(conn, owner, &rule.filters, signal, now).await;
        return match judged {
            Ok(j) => Ok(j.and_then(|j| rule.metric.of_judged(&j))),
            Err(Error::NotFound(_) | Error::Invalid { .. }) => Ok(None),
            Err(e) => Err(e),
        };
    }
    // Minute buckets up to a day, hours beyond: the window ends with the current bucket.
    let (grain, unit) = if rule.window_minutes <= 24 * 60 {
        (Grain::Minute, TimeDelta::minutes(1))
    } else {
        (Grain::Hour, TimeDelta::hours(1))
    };
    let to = now.duration_trunc(unit).unwrap_or(now) + unit;
    let from = (now - TimeDelta::minutes(i64::from(rule.window_minutes)))
        .duration_trunc(unit)
        .unwrap_or(now)
        + unit;
    let f = Filters {
        from: Some(from),
        to: Some(to),
        grain: Some(grain),
        ..rule.filters.clone()
    };
    let w = crate::dashboard::window(conn, &f, now).await?;
    match crate::dashboard::overview(conn, owner, &w, &f).await {
        Ok(o) => Ok(rule.metric.of(&o.current)),
        Err(Error::NotFound(_) | Error::Invalid { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How often an unusual-day rule is judged at most (late events for yesterday show within it).
pub const UNUSUAL_EVERY: TimeDelta = TimeDelta::seconds(55);

/// Evaluates every enabled rule of the workspace at `now` (those another evaluation holds
/// are left to it), recording each change of state, telling those who hear of it in the
/// app, and queueing their e-mails. What changed is returned for the live feeds.
pub async fn evaluate(
    conn: &mut PgConnection,
    sealer: &Sealer,
    link: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Told>> {
    let ids: Vec<Uuid> = sqlx::query_scalar!(
        "SELECT id FROM alert_rules WHERE enabled ORDER BY id FOR UPDATE SKIP LOCKED"
    )
    .fetch_all(&mut *conn)
    .await?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let tz = crate::settings::time_zone(conn).await?;
    let local_now = sqlx::query_scalar!(
        r#"SELECT ($1::timestamptz AT TIME ZONE $2::text) AS "t!""#,
        now,
        tz
    )
    .fetch_one(&mut *conn)
    .await?
    .and_utc();
    let mut told = Vec::new();
    for rule in all(conn)
        .await?
        .into_iter()
        .filter(|r| ids.contains(&r.id.0))
    {
        // An unusual-day rule reads whole past days (ninety of them), which today's writes do
        // not move: judged at the sweep's pace, not after every burst of writes.
        if rule.rule.metric.unusual().is_some()
            && rule.evaluated_at.is_some_and(|at| now - at < UNUSUAL_EVERY)
        {
            continue;
        }
        if let Some(h) = rule.rule.hours {
            let window = TimeDelta::minutes(i64::from(rule.rule.window_minutes));
            if !h.covers(local_now, window) {
                continue;
            }
        }
        // Each rule in a savepoint of its own: one that fails is logged and left as it was,
        // and the others are judged all the same.
        sqlx::query("SAVEPOINT rule").execute(&mut *conn).await?;
        match judge_one(conn, sealer, link, &rule, now).await {
            Ok(Some(t)) => told.push(t),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(rule = %rule.id, error = %e, "judging an alert rule failed");
                sqlx::query("ROLLBACK TO SAVEPOINT rule")
                    .execute(&mut *conn)
                    .await?;
                continue;
            }
        }
        sqlx::query("RELEASE SAVEPOINT rule")
            .execute(&mut *conn)
            .await?;
    }
    Ok(told)
}

/// Judges one rule at `now`: what changed, if its state did.
async fn judge_one(
    conn: &mut PgConnection,
    sealer: &Sealer,
    link: &str,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<Option<Told>> {
    {
        let Some(owner) = owner_reader(conn, rule.owner).await? else {
            return Ok(None);
        };
        let value = value(conn, &owner, &rule.rule, now).await?;
        let next = judge(rule.state, value, &rule.rule);
        sqlx::query!(
            "UPDATE alert_rules SET last_value = $2, evaluated_at = $3, state = $4,
                    since = CASE WHEN state = $4 AND since IS NOT NULL THEN since ELSE $3 END
             WHERE id = $1",
            rule.id.0,
            value,
            now,
            next.as_str()
        )
        .execute(&mut *conn)
        .await?;
        if next == rule.state {
            return Ok(None);
        }
        let event = Event {
            id: Uuid::new_v4(),
            rule_id: rule.id,
            rule_name: rule.rule.name.clone(),
            state: next,
            value: value.unwrap_or_default(),
            threshold: rule.rule.threshold,
            metric: rule.rule.metric,
            at: now,
        };
        sqlx::query!(
            "INSERT INTO alert_events (id, rule_id, rule_name, metric, state, value, threshold, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            event.id,
            rule.id.0,
            event.rule_name,
            event.metric.as_str(),
            next.as_str(),
            event.value,
            event.threshold,
            now
        )
        .execute(&mut *conn)
        .await?;
        // Webhooks post to a channel of many: only numbers about the whole workspace go
        // there, never a number about some people (whom not everyone there may see).
        let everyone = match scope_of(conn, &rule.rule).await? {
            Some(f) => matches!(covered(conn, &owner, &f).await?, Some(None)),
            None => false,
        };
        if everyone {
            crate::webhooks::queue_event(conn, event.id).await?;
        }
        Ok(Some(tell(conn, sealer, link, rule, &owner, event).await?))
    }
}

/// Tells the rule's subscribers who still see its numbers.
async fn tell(
    conn: &mut PgConnection,
    sealer: &Sealer,
    link: &str,
    rule: &Rule,
    owner: &Reader,
    event: Event,
) -> Result<Told> {
    let mut in_app = Vec::new();
    let Some(f) = scope_of(conn, &rule.rule).await? else {
        return Ok(Told { event, in_app });
    };
    let Some(people) = covered(conn, owner, &f).await? else {
        return Ok(Told { event, in_app });
    };
    let subs = sqlx::query!(
        "SELECT s.user_id, s.in_app, s.email, u.email AS address, u.role
         FROM alert_subscriptions s JOIN users u ON u.id = s.user_id
         WHERE s.rule_id = $1 AND u.status = 'active' AND u.erased_at IS NULL",
        rule.id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    for s in subs {
        let who = UserId(s.user_id);
        let Ok(role) = types::Role::parse(&s.role) else {
            continue;
        };
        let Some(reader) = Reader::of(conn, who, role).await? else {
            continue;
        };
        if who != rule.owner && !hears(conn, &reader, &f, &people).await? {
            continue;
        }
        if s.in_app {
            let id = Uuid::new_v4();
            sqlx::query!(
                "INSERT INTO notifications (id, user_id, event_id, created_at) VALUES ($1, $2, $3, $4)",
                id,
                who.0,
                event.id,
                event.at
            )
            .execute(&mut *conn)
            .await?;
            in_app.push((who, id));
        }
        if s.email {
            let Ok(to) = accounts::Email::parse(&s.address) else {
                continue;
            };
            let message = mail::Message::Alert {
                headline: event.headline(),
                rule: rule.rule.describe(),
                firing: event.state == State::Firing,
                value: event.metric.show(event.value),
                link: link.to_string(),
                at: event.at,
            };
            mail::queue(conn, sealer, &to, &message).await?;
        }
    }
    Ok(Told { event, in_app })
}
