//! Operations that span the registry and a tenant: provisioning a tenant with its first admin,
//! creating users and keys for the CLI, and the demo data of `make run`.

use store::{
    accounts::{self, Email},
    api_keys::{self, Scope},
    audit::{self, Actor},
    invitations, teams, tenants, Role, Slug, Store, Tenant,
};

use crate::error::ApiError;

pub struct Provisioned {
    pub tenant: Tenant,
    pub password: String,
}

/// Creates the tenant, then its first tenant admin. If the admin cannot be created the
/// tenant is dropped again, so a failure leaves nothing behind.
pub async fn provision(
    store: &Store,
    slug: &Slug,
    name: &str,
    admin_email: &Email,
    admin_password: Option<String>,
    actor: &Actor,
) -> Result<Provisioned, ApiError> {
    let tenant = tenants::create(store.pool(), slug, name).await?;
    match create_user(
        store,
        &tenant,
        admin_email,
        "",
        Role::TenantAdmin,
        admin_password,
        actor,
    )
    .await
    {
        Ok(password) => Ok(Provisioned { tenant, password }),
        Err(e) => {
            let _ = tenants::delete(store.pool(), slug).await;
            Err(e)
        }
    }
}

pub struct ProvisionedInvited {
    pub tenant: Tenant,
    pub link: invitations::Issued,
}

/// Like [`provision`], but the first admin gets an invitation link instead of a password.
pub async fn provision_invited(
    store: &Store,
    slug: &Slug,
    name: &str,
    admin_email: &Email,
    actor: &Actor,
) -> Result<ProvisionedInvited, ApiError> {
    let tenant = tenants::create(store.pool(), slug, name).await?;
    match invite_user(store, &tenant, admin_email, "", Role::TenantAdmin, actor).await {
        Ok((_, link)) => Ok(ProvisionedInvited { tenant, link }),
        Err(e) => {
            let _ = tenants::delete(store.pool(), slug).await;
            Err(e)
        }
    }
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
    let password = password.unwrap_or_else(|| store::secrets::random_token(12));
    accounts::check_password_policy(&password, email.as_str())?;
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || accounts::hash_password(&p))
            .await
            .expect("hashing task")
    };
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let user = accounts::create(&mut tx, email, name, role, Some(&hash)).await?;
    audit::record(
        &mut tx,
        actor,
        "user.created",
        Some(&user.id.to_string()),
        serde_json::json!({ "email": email, "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok(password)
}

/// Creates a user without a password and returns the single-use invitation that lets them
/// set one (valid for 72 hours).
pub async fn invite_user(
    store: &Store,
    tenant: &Tenant,
    email: &Email,
    name: &str,
    role: Role,
    actor: &Actor,
) -> Result<(store::User, invitations::Issued), ApiError> {
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let invited = invitations::invite(&mut tx, actor, &tenant.slug, email, name, role).await?;
    tx.commit().await?;
    Ok(invited)
}

/// A fresh password link for an existing user; earlier unused links stop working.
pub async fn password_link(
    store: &Store,
    tenant: &Tenant,
    user: store::UserId,
    actor: &Actor,
) -> Result<invitations::Issued, ApiError> {
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let link = invitations::issue(&mut tx, actor, &tenant.slug, user).await?;
    tx.commit().await?;
    Ok(link)
}

pub async fn create_super_admin(
    store: &Store,
    email: &Email,
    password: Option<String>,
) -> Result<String, ApiError> {
    let password = password.unwrap_or_else(|| store::secrets::random_token(12));
    accounts::check_password_policy(&password, email.as_str())?;
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&p))
        .await
        .expect("hashing task");
    let mut tx = store.registry_tx().await?;
    accounts::create(&mut tx, email, "", Role::SuperAdmin, Some(&hash)).await?;
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
    let (key, secret) =
        api_keys::create(&mut tx, &tenant.slug, user.id, name, scopes, None, user.id).await?;
    audit::record(
        &mut tx,
        actor,
        "api_key.created",
        Some(&key.id.to_string()),
        serde_json::json!({ "prefix": key.prefix }),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// The demo workspace `make run` creates on a fresh embedded database, so a newcomer can sign
/// in at once. Returns `None` when tenants already exist.
pub async fn seed_demo(
    store: &Store,
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
    let team = teams::create(&mut tx, "Platform").await?;
    for (email, is_manager) in [("manager@demo.test", true), ("dev@demo.test", false)] {
        let user = accounts::find_by_email(&mut tx, &Email::parse(email)?).await?;
        teams::set_member(&mut tx, team.id, user.id, is_manager).await?;
    }
    tx.commit().await?;
    let root = Email::parse("root@devpulse.test")?;
    let pw = create_super_admin(store, &root, Some("demo-superadmin-pass".into())).await?;
    people.push(("root@devpulse.test".to_string(), "super_admin", pw));
    Ok(Some(people))
}
