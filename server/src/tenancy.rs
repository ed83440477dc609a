//! Operations that span the registry and a tenant: provisioning a tenant with its first admin,
//! creating users and keys for the CLI, and the demo data of `make run`.

use store::{
    accounts::{self, Email},
    api_keys::{self, Scope},
    audit::Actor,
    invitations, teams,
    tenants::{self, FirstAdmin},
    Role, Slug, Store, Tenant,
};

use crate::error::ApiError;

pub struct Provisioned {
    pub tenant: Tenant,
    pub password: String,
}

/// Creates the tenant and its first tenant admin, with the given password or a generated
/// one-time password, which it returns. A failure leaves nothing behind.
pub async fn provision(
    store: &Store,
    slug: &Slug,
    name: &str,
    admin_email: &Email,
    admin_password: Option<String>,
    actor: &Actor,
) -> Result<Provisioned, ApiError> {
    let password = admin_password.unwrap_or_else(one_time_password);
    let first = FirstAdmin::Password(password.clone());
    let p = tenants::provision(store.pool(), actor, slug, name, admin_email, first).await?;
    Ok(Provisioned {
        tenant: p.tenant,
        password,
    })
}

pub struct ProvisionedInvited {
    pub tenant: Tenant,
    pub link: invitations::Issued,
}

/// Like [`provision`], but the first admin gets an invitation link instead of a password,
/// e-mailed to them through `post` when there is one.
pub async fn provision_invited(
    store: &Store,
    slug: &Slug,
    name: &str,
    admin_email: &Email,
    actor: &Actor,
    post: Option<&invitations::Post<'_>>,
) -> Result<ProvisionedInvited, ApiError> {
    let first = FirstAdmin::Invitation(post);
    let p = tenants::provision(store.pool(), actor, slug, name, admin_email, first).await?;
    Ok(ProvisionedInvited {
        tenant: p.tenant,
        link: p.link.expect("an invited first admin has a link"),
    })
}

fn one_time_password() -> String {
    store::secrets::random_token(12)
}

/// Creates a user with the given password (checked against the policy) or a generated
/// one-time password, which it returns.
pub async fn create_user(
    store: &Store,
    tenant: &Tenant,
    email: &Email,
    name: &str,
    role: Role,
    password: Option<String>,
    actor: &Actor,
) -> Result<String, ApiError> {
    let password = password.unwrap_or_else(one_time_password);
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    accounts::create_with_password(&mut tx, actor, email, name, role, password.clone()).await?;
    tx.commit().await?;
    Ok(password)
}

/// Creates a user without a password and returns the single-use invitation that lets them
/// set one (valid for 72 hours), e-mailed to them through `post`.
pub async fn invite_user(
    store: &Store,
    tenant: &Tenant,
    email: &Email,
    name: &str,
    role: Role,
    actor: &Actor,
    post: Option<&invitations::Post<'_>>,
) -> Result<(store::User, invitations::Issued), ApiError> {
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let invited =
        invitations::invite(&mut tx, actor, &tenant.slug, email, name, role, post).await?;
    tx.commit().await?;
    Ok(invited)
}

/// A fresh password link for an existing user; earlier unused links stop working.
pub async fn password_link(
    store: &Store,
    tenant: &Tenant,
    user: store::UserId,
    actor: &Actor,
    post: Option<&invitations::Post<'_>>,
) -> Result<(store::User, invitations::Issued), ApiError> {
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let link = invitations::issue(&mut tx, actor, &tenant.slug, user, post).await?;
    tx.commit().await?;
    Ok(link)
}

/// Like [`create_user`], in the registry; recorded in the registry's audit log.
pub async fn create_super_admin(
    store: &Store,
    email: &Email,
    password: Option<String>,
    actor: &Actor,
) -> Result<String, ApiError> {
    let password = password.unwrap_or_else(one_time_password);
    let mut tx = store.registry_tx().await?;
    let role = Role::SuperAdmin;
    accounts::create_with_password(&mut tx, actor, email, "", role, password.clone()).await?;
    tx.commit().await.map_err(store::Error::from)?;
    Ok(password)
}

pub async fn create_api_key(
    store: &Store,
    tenant: &Tenant,
    email: &Email,
    name: &str,
    scopes: &[Scope],
    actor: &Actor,
) -> Result<String, ApiError> {
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let user = accounts::find_by_email(&mut tx, email).await?;
    let (_, secret) =
        api_keys::create(&mut tx, actor, &tenant.slug, user.id, name, scopes, None).await?;
    tx.commit().await?;
    Ok(secret)
}

/// The demo workspace `make run` creates on a fresh embedded database, so a newcomer can sign
/// in at once. Returns `None` when tenants already exist.
pub async fn seed_demo(
    store: &Store,
    superadmin_password: Option<String>,
) -> Result<Option<Vec<(String, &'static str, String)>>, ApiError> {
    if tenants::count(store.pool()).await? > 0 {
        return Ok(None);
    }
    let slug = Slug::parse("demo").expect("valid slug");
    let actor = Actor {
        name: "demo-seed".into(),
        ..Actor::default()
    };
    let mut people = Vec::new();
    let admin = Email::parse("admin@demo.test")?;
    let p = provision(
        store,
        &slug,
        "Demo",
        &admin,
        Some("demo-admin-pass".into()),
        &actor,
    )
    .await?;
    people.push(("admin@demo.test".to_string(), "tenant_admin", p.password));
    for (email, role, password) in [
        ("manager@demo.test", Role::Manager, "demo-manager-pass"),
        ("dev@demo.test", Role::Developer, "demo-developer-pass"),
        ("viewer@demo.test", Role::Viewer, "demo-viewer-pass"),
    ] {
        let e = Email::parse(email)?;
        let pw = create_user(
            store,
            &p.tenant,
            &e,
            "",
            role,
            Some(password.into()),
            &actor,
        )
        .await?;
        people.push((email.to_string(), role.as_str(), pw));
    }
    // One team, so "a manager sees the teams they manage" shows on a fresh install.
    let mut tx = store.tenant_tx(p.tenant.scope()).await?;
    let team = teams::create(&mut tx, &actor, "Platform").await?;
    for (email, is_manager) in [("manager@demo.test", true), ("dev@demo.test", false)] {
        let user = accounts::find_by_email(&mut tx, &Email::parse(email)?).await?;
        teams::set_member(&mut tx, &actor, team.id, user.id, is_manager).await?;
    }
    tx.commit().await?;
    let root = Email::parse("root@devpulse.test")?;
    // Whoever holds this account runs every workspace: its password is never one printed in
    // a README. Generated (and shown once, below) unless the operator chose one.
    let pw = create_super_admin(store, &root, superadmin_password, &actor).await?;
    people.push(("root@devpulse.test".to_string(), "super_admin", pw));
    Ok(Some(people))
}
