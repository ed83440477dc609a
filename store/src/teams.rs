//! Teams and who is in them. A member flagged `is_manager` manages the team: a manager sees
//! the teams they manage and, later, their members' metrics (`metrics.view_team`).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{accounts::UserId, Error, Result};

pub use types::{
    people::{Member, Team},
    TeamId,
};

/// Which teams a list shows.
#[derive(Clone, Copy, Debug)]
pub enum Visible {
    All,
    /// Teams this user manages.
    ManagedBy(UserId),
    /// Teams this user belongs to.
    MemberOf(UserId),
}

impl Visible {
    /// Tenant admins see every team, managers the teams they manage, everyone else the
    /// teams they belong to.
    pub fn for_role(role: crate::Role, user: UserId) -> Visible {
        use crate::Role::*;
        match role {
            TenantAdmin | SuperAdmin => Visible::All,
            Manager => Visible::ManagedBy(user),
            Developer | Viewer => Visible::MemberOf(user),
        }
    }
}

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be 1 to 100 characters".into(),
        });
    }
    Ok(name)
}

// Every change below records itself in the audit log, whichever door (API, UI, CLI) it came
// through; the entry's target is the team.

async fn record(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    action: &str,
    team: TeamId,
    details: serde_json::Value,
) -> Result<()> {
    crate::audit::record(conn, actor, action, Some(&team.to_string()), details).await
}

pub async fn create(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    name: &str,
) -> Result<Team> {
    let name = check_name(name)?;
    let row = sqlx::query!(
        "INSERT INTO teams (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
         RETURNING id, name, created_at",
        name
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::Conflict(format!("team {name}").into()))?;
    let team = Team {
        id: TeamId(row.id),
        name: row.name,
        created_at: row.created_at,
        members: Vec::new(),
    };
    let details = serde_json::json!({ "name": team.name });
    record(conn, actor, "team.created", team.id, details).await?;
    Ok(team)
}

pub async fn rename(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    id: TeamId,
    name: &str,
) -> Result<Team> {
    let name = check_name(name)?;
    let taken = sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM teams WHERE name = $1 AND id <> $2) AS \"taken!\"",
        name,
        id.0
    )
    .fetch_one(&mut *conn)
    .await?;
    if taken {
        return Err(Error::Conflict(format!("team {name}").into()));
    }
    let n = sqlx::query!("UPDATE teams SET name = $2 WHERE id = $1", id.0, name)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("team"));
    }
    let team = get(conn, id).await?;
    let details = serde_json::json!({ "name": team.name });
    record(conn, actor, "team.renamed", id, details).await?;
    Ok(team)
}

pub async fn delete(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    id: TeamId,
) -> Result<()> {
    let n = sqlx::query!("DELETE FROM teams WHERE id = $1", id.0)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("team"));
    }
    record(conn, actor, "team.deleted", id, serde_json::json!({})).await
}

pub async fn get(conn: &mut PgConnection, id: TeamId) -> Result<Team> {
    list(conn, Visible::All)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(Error::NotFound("team"))
}

/// The teams `visible` selects, each with its members, ordered by name.
pub async fn list(conn: &mut PgConnection, visible: Visible) -> Result<Vec<Team>> {
    let (filter_kind, filter_user) = match visible {
        Visible::All => ("all", None),
        Visible::ManagedBy(u) => ("managed", Some(u.0)),
        Visible::MemberOf(u) => ("member", Some(u.0)),
    };
    let teams = sqlx::query!(
        "SELECT t.id, t.name, t.created_at FROM teams t
         WHERE $1 = 'all'
            OR EXISTS (SELECT 1 FROM team_members m
                       WHERE m.team_id = t.id AND m.user_id = $2
                         AND ($1 = 'member' OR m.is_manager))
         ORDER BY t.name",
        filter_kind,
        filter_user
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = teams.iter().map(|t| t.id).collect();
    let members = sqlx::query!(
        "SELECT m.team_id, m.user_id, m.is_manager, u.email, u.name FROM team_members m
         JOIN users u ON u.id = m.user_id
         WHERE m.team_id = ANY($1) ORDER BY m.is_manager DESC, u.email",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(teams
        .into_iter()
        .map(|t| Team {
            id: TeamId(t.id),
            name: t.name,
            created_at: t.created_at,
            members: members
                .iter()
                .filter(|m| m.team_id == t.id)
                .map(|m| Member {
                    user_id: UserId(m.user_id),
                    email: m.email.clone(),
                    name: m.name.clone(),
                    is_manager: m.is_manager,
                })
                .collect(),
        })
        .collect())
}

/// Adds the user to the team, or updates whether they manage it.
pub async fn set_member(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    team: TeamId,
    user: UserId,
    is_manager: bool,
) -> Result<Team> {
    // Both must exist in this tenant; a foreign key error would not say which one is missing.
    let found = sqlx::query!(
        "SELECT EXISTS (SELECT 1 FROM teams WHERE id = $1) AS \"team!\",
                EXISTS (SELECT 1 FROM users WHERE id = $2) AS \"user!\"",
        team.0,
        user.0
    )
    .fetch_one(&mut *conn)
    .await?;
    if !found.team {
        return Err(Error::NotFound("team"));
    }
    if !found.user {
        return Err(Error::NotFound("user"));
    }
    sqlx::query!(
        "INSERT INTO team_members (team_id, user_id, is_manager) VALUES ($1, $2, $3)
         ON CONFLICT (team_id, user_id) DO UPDATE SET is_manager = EXCLUDED.is_manager",
        team.0,
        user.0,
        is_manager
    )
    .execute(&mut *conn)
    .await?;
    let details = serde_json::json!({ "user": user, "is_manager": is_manager });
    record(conn, actor, "team.member_set", team, details).await?;
    get(conn, team).await
}

pub async fn remove_member(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    team: TeamId,
    user: UserId,
) -> Result<Team> {
    let n = sqlx::query!(
        "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2",
        team.0,
        user.0
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("team member"));
    }
    let details = serde_json::json!({ "user": user });
    record(conn, actor, "team.member_removed", team, details).await?;
    get(conn, team).await
}

/// Everyone in the teams `manager` manages, the manager included: whose metrics a manager sees.
pub async fn managed_people(conn: &mut PgConnection, manager: UserId) -> Result<Vec<UserId>> {
    Ok(sqlx::query_scalar!(
        "SELECT m.user_id AS \"user_id!\" FROM team_members m
         WHERE m.team_id IN (SELECT team_id FROM team_members WHERE user_id = $1 AND is_manager)
         UNION SELECT $1::uuid",
        manager.0
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(UserId)
    .collect())
}
