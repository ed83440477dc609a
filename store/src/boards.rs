//! Saved dashboards (boards): who may open, change and publish them, and the version check
//! that keeps two editors from overwriting each other. Documents arrive here already checked
//! against the widget catalogue (`types::boards::Document::check`); this module owns who
//! sees what.
//!
//! - A person's own boards: theirs alone.
//! - Workspace boards (no owner): every `dashboard.manage` holder sees and changes them;
//!   others see one when it is shared with a team they belong to, or is their role's default.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use types::boards::{Audience, Board, BoardSummary, Boards, Document};
use types::problem::FieldError;
use types::{BoardId, Permission, Role, TeamId, UserId};
use uuid::Uuid;

use crate::{audit::Actor, dashboard::Reader, Error, Result};

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub me: UserId,
    pub role: Role,
}

impl Caller {
    /// Manages the workspace's boards (`dashboard.manage`).
    pub fn manages(&self) -> bool {
        self.role
            .permissions()
            .contains(&Permission::DashboardManage)
    }

    /// Keeps boards of their own: everyone but a viewer, who reads what is shared with them
    /// (the TRD's "read-only access to assigned dashboards").
    pub fn keeps_own(&self) -> bool {
        self.role != Role::Viewer
    }
}

/// The filters in `document` that reach past what `c` may see (a person or team outside
/// their view, or any person or team for a reader of totals), each named by its pointer.
/// A board shows only what its reader may see anyway; this stops a board being saved that
/// asks for more.
pub async fn unseen_filters(
    conn: &mut PgConnection,
    c: &Caller,
    document: &Document,
) -> Result<Vec<FieldError>> {
    let Some(reader) = Reader::of(conn, c.me, c.role).await? else {
        return Ok(vec![FieldError::new(
            "/document",
            format!("your role ({}) has no dashboard", c.role),
        )]);
    };
    let mut errors = Vec::new();
    for (i, w) in document.widgets.iter().enumerate() {
        let at = |field: &str| format!("/document/widgets/{i}/filters/{field}");
        if let (Some(from), Some(to)) = (w.filters.from, w.filters.to) {
            if from >= to {
                errors.push(FieldError::new(at("to"), "must be after from"));
            }
        }
        if w.filters.person.is_none() && w.filters.team.is_none() {
            continue;
        }
        match reader.people_for(conn, &w.filters).await {
            Ok(_) => {}
            Err(Error::NotFound(what)) => errors.push(FieldError::new(
                at(what),
                format!("no such {what} among those you see"),
            )),
            Err(Error::Invalid { field, reason }) => {
                errors.push(FieldError::new(at(field), reason))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(errors)
}

struct Row {
    id: Uuid,
    owner_id: Option<Uuid>,
    dashboard_name: String,
    widget_layout: serde_json::Value,
    version: i32,
    default_for: Vec<String>,
    shared_with: Vec<Uuid>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn audience(&self) -> Audience {
        Audience {
            default_for: self
                .default_for
                .iter()
                .filter_map(|r| Role::parse(r).ok())
                .collect(),
            shared_with: self.shared_with.iter().copied().map(TeamId).collect(),
        }
    }

    fn editable(&self, c: &Caller) -> bool {
        match self.owner_id {
            Some(owner) => owner == c.me.0,
            None => c.manages(),
        }
    }

    fn board(self, c: &Caller) -> Result<Board> {
        let document: Document =
            serde_json::from_value(self.widget_layout.clone()).map_err(|e| Error::Invalid {
                field: "document",
                reason: format!("stored board {} does not read back: {e}", self.id).into(),
            })?;
        Ok(Board {
            id: BoardId(self.id),
            name: self.dashboard_name.clone(),
            owner: self.owner_id.map(UserId),
            version: self.version,
            audience: self.audience(),
            editable: self.editable(c),
            updated_at: self.updated_at,
            document,
        })
    }
}

/// Every board `c` may open, own boards first, then the workspace's, by name.
async fn visible(conn: &mut PgConnection, c: &Caller, only: Option<Uuid>) -> Result<Vec<Row>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT d.id, d.owner_id, d.dashboard_name, d.widget_layout, d.version, d.default_for,
                  COALESCE(array_agg(s.team_id) FILTER (WHERE s.team_id IS NOT NULL), '{}')
                      AS "shared_with!: Vec<Uuid>",
                  d.updated_at
           FROM dashboard_configs d
           LEFT JOIN dashboard_shares s ON s.dashboard_id = d.id
           WHERE ($4::uuid IS NULL OR d.id = $4)
             AND (d.owner_id = $1
                  OR (d.owner_id IS NULL
                      AND ($2 OR $3 = ANY (d.default_for)
                           OR EXISTS (SELECT 1 FROM dashboard_shares x
                                      JOIN team_members m ON m.team_id = x.team_id
                                      WHERE x.dashboard_id = d.id AND m.user_id = $1))))
           GROUP BY d.id
           ORDER BY d.owner_id IS NULL, lower(d.dashboard_name), d.id"#,
        c.me.0,
        c.manages(),
        c.role.as_str(),
        only,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

/// The board `id` if `c` may open it; someone else's is "not found", never a hint.
pub async fn get(conn: &mut PgConnection, c: &Caller, id: BoardId) -> Result<Board> {
    visible(conn, c, Some(id.0))
        .await?
        .pop()
        .ok_or(Error::NotFound("dashboard"))?
        .board(c)
}

/// The board `id` if `c` may change it.
async fn editable(conn: &mut PgConnection, c: &Caller, id: BoardId) -> Result<Row> {
    let row = visible(conn, c, Some(id.0))
        .await?
        .pop()
        .ok_or(Error::NotFound("dashboard"))?;
    if !row.editable(c) {
        return Err(Error::Invalid {
            field: "id",
            reason: "this dashboard is shared with you read-only; save a copy to change it".into(),
        });
    }
    Ok(row)
}

/// The boards `c` may open, and which is their home.
pub async fn list(conn: &mut PgConnection, c: &Caller) -> Result<Boards> {
    let rows = visible(conn, c, None).await?;
    let home = home_of(conn, c, &rows).await?;
    let boards = rows
        .into_iter()
        .map(|r| BoardSummary {
            id: BoardId(r.id),
            name: r.dashboard_name.clone(),
            owner: r.owner_id.map(UserId),
            version: r.version,
            audience: r.audience(),
            editable: r.editable(c),
            home: home == Some(BoardId(r.id)),
            widgets: r
                .widget_layout
                .get("widgets")
                .and_then(|w| w.as_array())
                .map_or(0, Vec::len),
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Boards { boards, home })
}

/// `c`'s home among `rows` (the boards they see): the one they chose, else the most recently
/// changed workspace board that is their role's default.
async fn home_of(conn: &mut PgConnection, c: &Caller, rows: &[Row]) -> Result<Option<BoardId>> {
    let chosen = sqlx::query_scalar!("SELECT home_dashboard FROM users WHERE id = $1", c.me.0)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    if let Some(id) = chosen.filter(|id| rows.iter().any(|r| r.id == *id)) {
        return Ok(Some(BoardId(id)));
    }
    Ok(rows
        .iter()
        .filter(|r| r.owner_id.is_none() && r.default_for.iter().any(|d| d == c.role.as_str()))
        .max_by_key(|r| (r.updated_at, r.id))
        .map(|r| BoardId(r.id)))
}

/// `c`'s home board, if they have one (else the page shows the built-in dashboard).
pub async fn home(conn: &mut PgConnection, c: &Caller) -> Result<Option<Board>> {
    let rows = visible(conn, c, None).await?;
    let Some(id) = home_of(conn, c, &rows).await? else {
        return Ok(None);
    };
    rows.into_iter()
        .find(|r| r.id == id.0)
        .map(|r| r.board(c))
        .transpose()
}

/// A new board: `c`'s own, or (`workspace`, for `dashboard.manage` holders) the workspace's.
pub async fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    c: &Caller,
    name: &str,
    document: &Document,
    workspace: bool,
) -> Result<Board> {
    let name = check_name(name)?;
    if !workspace && !c.keeps_own() {
        return Err(Error::Invalid {
            field: "workspace",
            reason: format!(
                "your role ({}) reads the dashboards shared with it and keeps none of its own",
                c.role
            )
            .into(),
        });
    }
    if workspace && !c.manages() {
        return Err(Error::Invalid {
            field: "workspace",
            reason: "only dashboard managers make workspace dashboards".into(),
        });
    }
    let owner = (!workspace).then_some(c.me.0);
    let id = sqlx::query_scalar!(
        "INSERT INTO dashboard_configs (owner_id, dashboard_name, widget_layout)
         VALUES ($1, $2, $3) RETURNING id",
        owner,
        name,
        json(document)?,
    )
    .fetch_one(&mut *conn)
    .await?;
    let details = serde_json::json!({ "name": name, "workspace": workspace });
    record(conn, actor, "dashboard.created", id, details).await?;
    get(conn, c, BoardId(id)).await
}

/// Saves `document` (and a new `name`) over version `since` of board `id`. When someone
/// saved in between, nothing is written and the answer says which version is current.
pub async fn save(
    conn: &mut PgConnection,
    actor: &Actor,
    c: &Caller,
    id: BoardId,
    since: i32,
    name: Option<&str>,
    document: &Document,
) -> Result<Board> {
    let name = name.map(check_name).transpose()?;
    let row = editable(conn, c, id).await?;
    let saved = sqlx::query_scalar!(
        "UPDATE dashboard_configs
         SET widget_layout = $3, dashboard_name = COALESCE($4, dashboard_name),
             version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2
         RETURNING version",
        id.0,
        since,
        json(document)?,
        name,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(version) = saved else {
        return Err(Error::Stale {
            what: "dashboard",
            since,
            now: row.version,
        });
    };
    let details = serde_json::json!({
        "version": version,
        "name": name.unwrap_or(&row.dashboard_name),
        "widgets": document.widgets.len(),
    });
    record(conn, actor, "dashboard.saved", id.0, details).await?;
    get(conn, c, id).await
}

pub async fn delete(conn: &mut PgConnection, actor: &Actor, c: &Caller, id: BoardId) -> Result<()> {
    let row = editable(conn, c, id).await?;
    sqlx::query!("DELETE FROM dashboard_configs WHERE id = $1", id.0)
        .execute(&mut *conn)
        .await?;
    let details = serde_json::json!({ "name": row.dashboard_name });
    record(conn, actor, "dashboard.deleted", id.0, details).await
}

/// Whose default a workspace board is and which teams it is shared with (replacing both).
pub async fn publish(
    conn: &mut PgConnection,
    actor: &Actor,
    c: &Caller,
    id: BoardId,
    audience: &Audience,
) -> Result<Board> {
    let row = editable(conn, c, id).await?;
    if row.owner_id.is_some() {
        return Err(Error::Invalid {
            field: "id",
            reason: "only workspace dashboards are published; save a workspace copy first".into(),
        });
    }
    if audience.default_for.contains(&Role::SuperAdmin) {
        return Err(Error::Invalid {
            field: "default_for",
            reason: "super admins have no workspace home".into(),
        });
    }
    let teams: Vec<Uuid> = audience.shared_with.iter().map(|t| t.0).collect();
    let known = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM teams WHERE id = ANY ($1)"#,
        &teams
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut distinct = teams.clone();
    distinct.sort();
    distinct.dedup();
    if known != distinct.len() as i64 {
        return Err(Error::NotFound("team"));
    }
    let mut roles: Vec<String> = audience
        .default_for
        .iter()
        .map(|r| r.as_str().to_string())
        .collect();
    roles.sort();
    roles.dedup();
    sqlx::query!(
        "UPDATE dashboard_configs SET default_for = $2, updated_at = now() WHERE id = $1",
        id.0,
        &roles
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM dashboard_shares WHERE dashboard_id = $1", id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO dashboard_shares (dashboard_id, team_id) SELECT $1, unnest($2::uuid[])",
        id.0,
        &distinct
    )
    .execute(&mut *conn)
    .await?;
    let details = serde_json::json!({ "default_for": roles, "shared_with": distinct });
    record(conn, actor, "dashboard.published", id.0, details).await?;
    get(conn, c, id).await
}

/// Makes board `id` `c`'s home (`None`: back to their role's default). A preference, like
/// the theme: not audited.
pub async fn set_home(conn: &mut PgConnection, c: &Caller, id: Option<BoardId>) -> Result<()> {
    if let Some(id) = id {
        get(conn, c, id).await?;
    }
    sqlx::query!(
        "UPDATE users SET home_dashboard = $2 WHERE id = $1",
        c.me.0,
        id.map(|b| b.0)
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn check_name(name: &str) -> Result<&str> {
    types::boards::check_name(name).map_err(|e| Error::Invalid {
        field: "name",
        reason: e.detail.into(),
    })
}

fn json(document: &Document) -> Result<serde_json::Value> {
    serde_json::to_value(document).map_err(|e| Error::Invalid {
        field: "document",
        reason: e.to_string().into(),
    })
}

async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    id: Uuid,
    details: serde_json::Value,
) -> Result<()> {
    crate::audit::record(conn, actor, action, Some(&id.to_string()), details).await
}
