//! Single-use links that let a person set their password: invitations for new users and
//! password resets issued by a tenant admin. Both expire after 72 hours; issuing a new link
//! for a user voids the earlier unused ones, so only the latest link in anyone's inbox works.
//!
//! A link carries `<tenant slug>.<secret>`: the slug says which schema to look in (the link is
//! opened signed out), the secret is stored only as its SHA-256.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::{
    accounts::{self, Email, Role, User, UserId},
    audit::{self, Actor},
    mail, secrets, tenants, Error, Result, Slug, Tenant, TenantStatus, TenantTx,
};

pub use types::people::{BulkInvite, InviteRow, LinkInfo, LinkKind, PasswordLink};

pub const LIFETIME: Duration = Duration::hours(72);

/// A freshly issued link: `token` is shown once, then only its hash exists.
#[derive(Clone, Debug)]
pub struct Issued {
    pub token: String,
    pub kind: LinkKind,
    pub expires_at: DateTime<Utc>,
}

impl Issued {
    /// Where the link points, relative to the server's public URL.
    pub fn path(&self) -> String {
        format!("/welcome?token={}", self.token)
    }

    /// The link as the admin who asked for it sees it, under the server's public URL.
    pub fn shown(&self, public_url: &str, email: &str) -> PasswordLink {
        PasswordLink {
            email: email.to_owned(),
            kind: self.kind,
            url: format!("{public_url}{}", self.path()),
            expires_at: self.expires_at,
        }
    }
}

/// The two halves of a presented token.
pub fn parse(token: &str) -> Option<(Slug, &str)> {
    let (slug, secret) = token.trim().split_once('.')?;
    let well_formed = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| Slug::parse(slug).ok().map(|s| (s, secret)))?
}

/// How a link reaches its person besides the answer to whoever asked for it: by e-mail,
/// queued in the same transaction (so it goes out exactly when the link exists).
pub struct Post<'a> {
    pub sealer: &'a crate::sealing::Sealer,
    /// The server's public URL, the base of the link.
    pub public_url: &'a str,
}

impl Post<'_> {
    async fn send(
        &self,
        conn: &mut PgConnection,
        actor: &Actor,
        user: &User,
        issued: &Issued,
    ) -> Result<()> {
        let link = format!("{}{}", self.public_url, issued.path());
        // An admin is named in the message; the person asking for their own link is not.
        let by = (actor.id.is_some() && actor.id != Some(user.id.0)).then(|| actor.name.clone());
        let message = match issued.kind {
            LinkKind::Invite => mail::Message::Invitation {
                link,
                invited_by: by,
                expires_at: issued.expires_at,
            },
            LinkKind::Reset => mail::Message::PasswordReset {
                link,
                by_admin: by,
                expires_at: issued.expires_at,
            },
        };
        let to = Email::parse(&user.email).map_err(|_| Error::Invalid {
            field: "email",
            reason: "is not an e-mail address".into(),
        })?;
        mail::queue(conn, self.sealer, &to, &message).await?;
        Ok(())
    }
}

/// Creates a user without a password and an invitation for them (e-mailed through `post`),
/// and records who did it.
pub async fn invite(
    conn: &mut PgConnection,
    actor: &Actor,
    slug: &Slug,
    email: &Email,
    name: &str,
    role: Role,
    post: Option<&Post<'_>>,
) -> Result<(User, Issued)> {
    let user = accounts::create(conn, email, name, role, None).await?;
    let issued = new_link(conn, slug, user.id).await?;
    audit::record(
        conn,
        actor,
        "user.invited",
        Some(&user.id.to_string()),
        serde_json::json!({
            "email": email, "role": role, "expires_at": issued.expires_at,
            "emailed": post.is_some(),
        }),
    )
    .await?;
    if let Some(post) = post {
        post.send(conn, actor, &user, &issued).await?;
    }
    Ok((user, issued))
}

/// An invitation list (see [`types::people::read_invite_list`]): every line checked, also
/// against the workspace (an account that exists, a team it does not have). Only when no line
/// has a problem and `send` is set is everyone invited (and put in their team), each as
/// [`invite`] does, all in the caller's transaction; otherwise nothing is written.
pub async fn invite_many(
    conn: &mut PgConnection,
    actor: &Actor,
    slug: &Slug,
    mut rows: Vec<InviteRow>,
    send: bool,
    post: Option<&Post<'_>>,
) -> Result<BulkInvite> {
    let teams = crate::teams::list(conn, crate::teams::Visible::All).await?;
    for row in rows.iter_mut().filter(|r| r.problems.is_empty()) {
        match Email::parse(&row.email) {
            Err(_) => row
                .problems
                .push(format!("{:?} is not an e-mail address", row.email)),
            Ok(email) => {
                if accounts::find_for_login(conn, &email).await?.is_some() {
                    row.problems
                        .push(format!("{} already has an account here", row.email));
                }
            }
        }
        if let Some(team) = &row.team {
            match team_named(&teams, team) {
                Ok(_) => {}
                Err(problem) => row.problems.push(problem),
            }
        }
    }
    let mut answer = BulkInvite { rows, invited: 0 };
    if !send || answer.problems() > 0 {
        return Ok(answer);
    }
    for row in &answer.rows {
        let email = Email::parse(&row.email).map_err(|_| Error::Invalid {
            field: "csv",
            reason: format!("line {}: not an e-mail address", row.line).into(),
        })?;
        let role = Role::parse_tenant(&row.role).map_err(|e| Error::Invalid {
            field: "csv",
            reason: format!("line {}: {e}", row.line).into(),
        })?;
        let (user, _) = invite(conn, actor, slug, &email, &row.name, role, post).await?;
        if let Some(team) = row
            .team
            .as_ref()
            .and_then(|n| teams.iter().find(|t| t.name.eq_ignore_ascii_case(n)))
        {
            crate::teams::set_member(conn, actor, team.id, user.id, false).await?;
        }
    }
    answer.invited = answer.rows.len();
    Ok(answer)
}

/// The team a list names: by its exact name, else by the one name that matches in any case.
fn team_named<'t>(
    teams: &'t [types::people::Team],
    name: &str,
) -> std::result::Result<&'t types::people::Team, String> {
    if let Some(t) = teams.iter().find(|t| t.name == name) {
        return Ok(t);
    }
    let mut alike = teams.iter().filter(|t| t.name.eq_ignore_ascii_case(name));
    match (alike.next(), alike.next()) {
        (Some(t), None) => Ok(t),
        (Some(_), Some(_)) => Err(format!(
            "{name:?} could be more than one team; write it exactly"
        )),
        (None, _) => Err(format!("there is no team {name:?}")),
    }
}

/// A link for an existing, active user (an invitation while they have never set a password,
/// a reset afterwards; e-mailed through `post`), recorded in the audit log.
pub async fn issue(
    conn: &mut PgConnection,
    actor: &Actor,
    slug: &Slug,
    user_id: UserId,
    post: Option<&Post<'_>>,
) -> Result<(User, Issued)> {
    let user = accounts::get(conn, user_id).await?;
    let issued = new_link(conn, slug, user_id).await?;
    audit::record(
        conn,
        actor,
        "user.password_link_issued",
        Some(&user_id.to_string()),
        serde_json::json!({
            "kind": issued.kind, "expires_at": issued.expires_at, "emailed": post.is_some(),
        }),
    )
    .await?;
    if let Some(post) = post {
        post.send(conn, actor, &user, &issued).await?;
    }
    Ok((user, issued))
}

/// Someone asked for a password link for `email` themselves ("forgot password"): it is
/// issued and e-mailed when the address has an active account here that may use a password,
/// and no self-service link went to it in the last few minutes. The caller answers the same
/// whatever happens here, so an address says nothing about who has an account.
pub async fn requested(
    conn: &mut PgConnection,
    from: &Actor,
    slug: &Slug,
    email: &Email,
    post: &Post<'_>,
) -> Result<Option<Issued>> {
    let Some((user, _)) = accounts::find_for_login(conn, email).await? else {
        return Ok(None);
    };
    if !user.active || crate::sso::password_refused(conn, email).await? {
        return Ok(None);
    }
    // One request at a time per account, so concurrent ones cannot all find no recent link.
    sqlx::query!("SELECT id FROM users WHERE id = $1 FOR UPDATE", user.id.0)
        .fetch_one(&mut *conn)
        .await?;
    let recent = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM audit_log
                          WHERE action = 'user.password_link_requested' AND target = $1
                            AND at > now() - interval '5 minutes') AS "recent!""#,
        user.id.to_string()
    )
    .fetch_one(&mut *conn)
    .await?;
    if recent {
        return Ok(None);
    }
    let issued = new_link(conn, slug, user.id).await?;
    let actor = Actor {
        id: Some(user.id.0),
        name: user.email.clone(),
        ..from.clone()
    };
    audit::record(
        conn,
        &actor,
        "user.password_link_requested",
        Some(&user.id.to_string()),
        serde_json::json!({ "kind": issued.kind, "expires_at": issued.expires_at }),
    )
    .await?;
    post.send(conn, &actor, &user, &issued).await?;
    Ok(Some(issued))
}

async fn new_link(conn: &mut PgConnection, slug: &Slug, user_id: UserId) -> Result<Issued> {
    let row = sqlx::query!(
        "SELECT status, password_hash IS NOT NULL AS \"has_password!\" FROM users WHERE id = $1",
        user_id.0
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("user"))?;
    if row.status != "active" {
        return Err(Error::Invalid {
            field: "user",
            reason: "is deactivated; reactivate them first".into(),
        });
    }
    let kind = if row.has_password {
        LinkKind::Reset
    } else {
        LinkKind::Invite
    };
    sqlx::query!(
        "UPDATE user_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        user_id.0
    )
    .execute(&mut *conn)
    .await?;
    let secret = secrets::random_token(32);
    let expires_at = Utc::now() + LIFETIME;
    sqlx::query!(
        "INSERT INTO user_tokens (user_id, kind, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
        user_id.0,
        kind.as_str(),
        secrets::sha256(&secret),
        expires_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(Issued {
        token: format!("{slug}.{secret}"),
        kind,
        expires_at,
    })
}

/// What an unused, unexpired link is for, without using it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pending {
    pub kind: LinkKind,
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

/// The pending link for `secret`, or `None` when it is unknown, used, expired, or its user
/// was deactivated since. `lock` holds the row until the transaction ends (for redeeming).
async fn pending(conn: &mut PgConnection, secret: &str, lock: bool) -> Result<Option<Pending>> {
    let hash = secrets::sha256(secret);
    let row = if lock {
        sqlx::query!(
            "SELECT user_id, kind, expires_at FROM user_tokens
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() FOR UPDATE",
            hash
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| (r.user_id, r.kind, r.expires_at))
    } else {
        sqlx::query!(
            "SELECT user_id, kind, expires_at FROM user_tokens
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
            hash
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| (r.user_id, r.kind, r.expires_at))
    };
    let Some((user_id, kind, expires_at)) = row else {
        return Ok(None);
    };
    let user = accounts::get(conn, UserId(user_id)).await?;
    if !user.active {
        return Ok(None);
    }
    let kind = if kind == "invite" {
        LinkKind::Invite
    } else {
        LinkKind::Reset
    };
    Ok(Some(Pending {
        kind,
        user,
        expires_at,
    }))
}

pub async fn peek(conn: &mut PgConnection, secret: &str) -> Result<Option<Pending>> {
    pending(conn, secret, false).await
}

/// The tenant a presented link belongs to and the link's secret, if the link is well formed
/// and its tenant may sign in. Anything else, a failed lookup included, is `None`, like an
/// unknown secret: a link says nothing about what exists.
pub async fn tenant_of<'t>(pool: &PgPool, token: &'t str) -> Option<(Tenant, &'t str)> {
    let (slug, secret) = parse(token)?;
    match tenants::find_by_slug(pool, &slug).await {
        Ok(t) if t.status == TenantStatus::Active => Some((t, secret)),
        _ => None,
    }
}

/// What a presented link is for, without using it: the page that opens it says "set a
/// password for …". `None` when it is not a pending link of an active tenant.
pub async fn inspect(pool: &PgPool, token: &str) -> Result<Option<(Tenant, Pending)>> {
    let Some((tenant, secret)) = tenant_of(pool, token).await else {
        return Ok(None);
    };
    let mut tx = TenantTx::begin(pool, tenant.scope()).await?;
    let pending = peek(&mut tx, secret).await?;
    tx.commit().await?;
    Ok(pending.map(|p| (tenant, p)))
}

/// Uses the link: checks `password` against the policy, sets it, marks the link used, ends
/// any sessions the user had, and records it as done by the link's user from `from`'s
/// address. `NotFound` when the link is not valid; of two concurrent uses, one wins.
pub async fn redeem(
    conn: &mut PgConnection,
    from: &Actor,
    secret: &str,
    password: String,
) -> Result<Pending> {
    let link = peek(conn, secret).await?.ok_or(Error::NotFound("link"))?;
    accounts::check_password_policy(&password, &link.user.email)?;
    let hash = accounts::hash_password_blocking(password).await?;
    let used = use_link(conn, secret, &hash).await?;
    let actor = Actor {
        id: Some(used.user.id.0),
        name: used.user.email.clone(),
        ..from.clone()
    };
    let action = match used.kind {
        LinkKind::Invite => "user.invitation_accepted",
        LinkKind::Reset => "password.reset",
    };
    audit::record(
        conn,
        &actor,
        action,
        Some(&used.user.id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    Ok(used)
}

/// Locks the link row and re-checks it before using it.
async fn use_link(conn: &mut PgConnection, secret: &str, password_hash: &str) -> Result<Pending> {
    let link = pending(conn, secret, true)
        .await?
        .ok_or(Error::NotFound("link"))?;
    sqlx::query!(
        "UPDATE user_tokens SET used_at = now() WHERE token_hash = $1",
        secrets::sha256(secret)
    )
    .execute(&mut *conn)
    .await?;
    accounts::set_password_hash(conn, link.user.id, password_hash).await?;
    Ok(link)
}
