//! The second step of a password sign-in: what is owed, the challenge the browser holds, and
//! finding it again.

use sqlx::PgConnection;

use super::{begin, enrolled, requirement, Enrolment, CHALLENGE_TTL, MAX_ATTEMPTS};
use crate::{
    audit::{self, Actor},
    secrets, Error, Result, User, UserId,
};

/// What a sign-in still owes after the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owed {
    /// A code from the app or a recovery code.
    Verify,
    /// The workspace requires an app the person has not set up: set one up now.
    Enrol,
}

impl Owed {
    fn as_str(self) -> &'static str {
        match self {
            Owed::Verify => "verify",
            Owed::Enrol => "enrol",
        }
    }
}

/// What, if anything, `user` owes after a correct password.
pub async fn owed(conn: &mut PgConnection, user: &User, tenant: bool) -> Result<Option<Owed>> {
    if enrolled(conn, user.id).await? {
        return Ok(Some(Owed::Verify));
    }
    let required = tenant && requirement(conn).await?.applies_to(user.role);
    Ok(required.then_some(Owed::Enrol))
}

/// A challenge for the second step; the answer is the token the browser keeps.
pub async fn challenge(
    conn: &mut PgConnection,
    actor: &Actor,
    user: UserId,
    owed: Owed,
) -> Result<String> {
    let token = secrets::random_token(32);
    sqlx::query!("DELETE FROM mfa_challenges WHERE expires_at < now() OR used_at IS NOT NULL",)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO mfa_challenges (token_hash, user_id, kind, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        secrets::sha256(&token),
        user.0,
        owed.as_str(),
        CHALLENGE_TTL.num_seconds() as f64
    )
    .execute(&mut *conn)
    .await?;
    // A correct password whose second step never comes is worth knowing about.
    audit::record(
        conn,
        actor,
        "mfa.challenged",
        Some(&user.to_string()),
        serde_json::json!({ "owed": owed.as_str() }),
    )
    .await?;
    Ok(token)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub user: UserId,
    pub owed: Owed,
}

/// The challenge `token` stands for while it is live (unspent, unexpired, attempts left).
/// `attempt`: one more code is being tried against it, which counts.
async fn challenge_for(
    conn: &mut PgConnection,
    token: &str,
    attempt: bool,
) -> Result<Option<Challenge>> {
    // A password, role or status change since the challenge began ends it, as it ends sessions.
    let row = sqlx::query!(
        "UPDATE mfa_challenges c SET attempts = attempts + $2::int
         FROM users u
         WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now()
           AND c.attempts < $3 AND u.id = c.user_id AND c.created_at > u.sessions_valid_after
         RETURNING c.user_id, c.kind",
        secrets::sha256(token),
        i32::from(attempt),
        MAX_ATTEMPTS
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Challenge {
        user: UserId(r.user_id),
        owed: if r.kind == "enrol" {
            Owed::Enrol
        } else {
            Owed::Verify
        },
    }))
}

/// A live challenge found from its token (`<scope>.<secret>`, the scope being the workspace's
/// slug or `_` for super admins), with what the second step needs.
#[derive(Clone, Debug)]
pub struct Live {
    /// `None` for super admins.
    pub tenant: Option<crate::Tenant>,
    pub user: User,
    pub owed: Owed,
    /// The token's scope part, for throttling by account.
    pub scope: String,
    secret: String,
}

/// The challenge `token` names while it is live and its person active; `attempt` counts one
/// more code against it (committed here, whatever the code turns out to be).
pub async fn live(store: &crate::Store, token: &str, attempt: bool) -> Result<Option<Live>> {
    let Some((scope, secret)) = token.split_once('.') else {
        return Ok(None);
    };
    let tenant = if scope == "_" {
        None
    } else {
        let Ok(slug) = crate::Slug::parse(scope) else {
            return Ok(None);
        };
        match crate::tenants::find_by_slug(store.pool(), &slug).await {
            Ok(t) if t.status == crate::TenantStatus::Active => Some(t),
            Ok(_) | Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut tx = store.scoped_tx(tenant.as_ref().map(|t| t.scope())).await?;
    let challenge = challenge_for(tx.conn(), secret, attempt).await?;
    let user = match challenge {
        Some(c) => Some(crate::accounts::get(tx.conn(), c.user).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(match (challenge, user) {
        (Some(c), Some(user)) if user.active => Some(Live {
            tenant,
            user,
            owed: c.owed,
            scope: scope.to_string(),
            secret: secret.to_string(),
        }),
        _ => None,
    })
}

impl Live {
    /// The label an authenticator app shows for this account.
    pub fn account_label(&self) -> String {
        account_label(
            &self.user.email,
            self.tenant.as_ref().map(|t| t.slug.as_str()),
        )
    }

    /// The app this sign-in sets up (the workspace requires one the person lacks).
    pub async fn enrolment(
        &self,
        store: &crate::Store,
        sealer: &crate::sealing::Sealer,
    ) -> Result<Enrolment> {
        if self.owed != Owed::Enrol {
            return Err(Error::Invalid {
                field: "mfa_token",
                reason: "is for a sign-in that needs a code, not a new app".into(),
            });
        }
        let mut tx = store
            .scoped_tx(self.tenant.as_ref().map(|t| t.scope()))
            .await?;
        let e = begin(tx.conn(), sealer, self.user.id, &self.account_label()).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// The challenge is met: it cannot be used again. `false`: a concurrent answer spent it
    /// first (the caller rolls back).
    pub async fn spend(&self, conn: &mut PgConnection) -> Result<bool> {
        spend(conn, &self.secret).await
    }
}

/// The label an authenticator app shows: the e-mail, and the workspace when there is one.
pub fn account_label(email: &str, workspace: Option<&str>) -> String {
    match workspace {
        Some(slug) => format!("{email} ({slug})"),
        None => email.to_string(),
    }
}

async fn spend(conn: &mut PgConnection, token: &str) -> Result<bool> {
    let done = sqlx::query!(
        "UPDATE mfa_challenges SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL",
        secrets::sha256(token)
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
