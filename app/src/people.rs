//! The people of a workspace: the users page (invite, change role, deactivate, password
//! links), teams, and `/welcome`, where an invitation or reset link sets a password. Every
//! server function checks the session and permission on the server, whatever the page shows.

use leptos::{either::Either, prelude::*};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::AppError;
use types::{Permission, Role};

use crate::account::{SignInFirst, ViewerResource};
use crate::components::forms::{error_text, field_error, Changes};

const TENANT_ROLES: [&str; 4] = ["tenant_admin", "manager", "developer", "viewer"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    /// They have an authenticator app set up.
    pub mfa: bool,
}

/// A single-use link, shown once to the admin who asked for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShownLink {
    pub email: String,
    pub kind: String,
    pub url: String,
    pub expires_at: String,
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::AppError;

    use crate::session::ssr::Session;

    /// The session of a caller server function `F`'s rule lets through, and a transaction in
    /// their tenant.
    pub async fn allowed<F: leptos::server_fn::ServerFn>(
    ) -> Result<(Session, store::TenantTx), AppError> {
        let s = crate::session::ssr::require_fn::<F>().await?;
        member_tx(s).await
    }

    /// A transaction in the session's tenant (super admins have none here).
    pub async fn member_tx(s: Session) -> Result<(Session, store::TenantTx), AppError> {
        let scope = s
            .scope
            .clone()
            .ok_or_else(|| AppError::new(StatusCode::NOT_FOUND, "people belong to a workspace"))?;
        let store = crate::ssr::server_context()?.store;
        let tx = store.tenant_tx(&scope).await?;
        Ok((s, tx))
    }

    use http::StatusCode;

    pub fn user_id(id: &str) -> Result<store::UserId, AppError> {
        id.parse()
            .map(store::UserId)
            .map_err(|_| AppError::new(StatusCode::NOT_FOUND, "no such user"))
    }

    pub fn tenant_role(role: &str) -> Result<types::Role, AppError> {
        Ok(types::Role::parse_tenant(role)?)
    }

    pub fn slug(s: &Session) -> Result<store::Slug, AppError> {
        Ok(store::Slug::parse(
            s.viewer.tenant.as_deref().unwrap_or_default(),
        )?)
    }

    pub fn shown(email: String, link: store::invitations::Issued) -> super::ShownLink {
        let base = crate::ssr::server_context()
            .map(|cx| cx.public_url)
            .unwrap_or_default();
        super::ShownLink {
            email,
            kind: link.kind.as_str().into(),
            url: format!("{base}{}", link.path()),
            expires_at: link.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    let (_, mut tx) = ssr::allowed::<ListUsers>().await?;
    let users = store::accounts::list(&mut tx).await?;
    let with_mfa = store::mfa::enrolled_users(&mut tx).await?;
    tx.commit().await?;
    Ok(users
        .into_iter()
        .map(|u| UserRow {
            mfa: with_mfa.contains(&u.id),
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            role: u.role.to_string(),
            active: u.active,
        })
        .collect())
}

#[server(endpoint = "users/invite")]
pub async fn invite_user(email: String, name: String, role: String) -> Result<ShownLink, AppError> {
    let (s, mut tx) = ssr::allowed::<InviteUser>().await?;
    let email = store::Email::parse(&email)?;
    let role = ssr::tenant_role(&role)?;
    let (user, link) =
        store::invitations::invite(&mut tx, &s.actor, &ssr::slug(&s)?, &email, &name, role).await?;
    tx.commit().await?;
    Ok(ssr::shown(user.email, link))
}

#[server(endpoint = "users/set_role")]
pub async fn set_user_role(id: String, role: String) -> Result<String, AppError> {
    let (s, mut tx) = ssr::allowed::<SetUserRole>().await?;
    let role = ssr::tenant_role(&role)?;
    let user = store::accounts::change_role(&mut tx, &s.actor, ssr::user_id(&id)?, role).await?;
    tx.commit().await?;
    Ok(format!(
        "{} is now {}; their open sessions have ended.",
        user.email,
        user.role.as_str()
    ))
}

#[server(endpoint = "users/set_active")]
pub async fn set_user_active(id: String, active: bool) -> Result<String, AppError> {
    let (s, mut tx) = ssr::allowed::<SetUserActive>().await?;
    let user =
        store::accounts::change_active(&mut tx, &s.actor, ssr::user_id(&id)?, active).await?;
    tx.commit().await?;
    Ok(if active {
        format!("{} can sign in again.", user.email)
    } else {
        format!("{} is deactivated and signed out everywhere.", user.email)
    })
}

#[server(endpoint = "users/password_link")]
pub async fn user_password_link(id: String) -> Result<ShownLink, AppError> {
    let (s, mut tx) = ssr::allowed::<UserPasswordLink>().await?;
    let user_id = ssr::user_id(&id)?;
    let user = store::accounts::get(&mut tx, user_id).await?;
    let link = store::invitations::issue(&mut tx, &s.actor, &ssr::slug(&s)?, user_id).await?;
    tx.commit().await?;
    Ok(ssr::shown(user.email, link))
}

/// Clears someone's second step (a lost phone); their sessions end.
#[server(endpoint = "users/mfa_reset")]
pub async fn reset_user_mfa(id: String) -> Result<String, AppError> {
    let (s, mut tx) = ssr::allowed::<ResetUserMfa>().await?;
    let user_id = ssr::user_id(&id)?;
    let user = store::accounts::get(&mut tx, user_id).await?;
    store::mfa::reset(&mut tx, &s.actor, user_id).await?;
    tx.commit().await?;
    Ok(format!(
        "{}'s two-step verification is reset and their sessions ended; they set it up again at their next sign-in if the workspace requires it.",
        user.email
    ))
}

/// Who in the workspace must use two-step verification.
#[server(endpoint = "settings/mfa")]
pub async fn mfa_rule() -> Result<types::mfa::Requirement, AppError> {
    let (_, mut tx) = ssr::allowed::<MfaRule>().await?;
    let rule = store::mfa::requirement(&mut tx).await?;
    tx.commit().await?;
    Ok(rule)
}

#[server(endpoint = "settings/mfa/set")]
pub async fn set_mfa_rule(required: String) -> Result<types::mfa::Requirement, AppError> {
    let (s, mut tx) = ssr::allowed::<SetMfaRule>().await?;
    let to = types::mfa::Requirement::parse(&required).ok_or_else(|| {
        AppError::invalid("required", "required: must be off, admins or everyone")
    })?;
    let can_seal = crate::ssr::server_context()?.sealer.can_seal();
    let rule = store::mfa::set_requirement(&mut tx, &s.actor, to, can_seal).await?;
    tx.commit().await?;
    Ok(rule)
}

#[component]
fn LinkNotice(link: ShownLink, id: &'static str) -> impl IntoView {
    let what = if link.kind == "invite" {
        "Invitation"
    } else {
        "Password reset link"
    };
    view! {
        <div class="new-key" role="status">
            <p>
                {format!("{what} for {} (single use, until {}). Send it to them; it is shown only now:", link.email, link.expires_at)}
            </p>
            <code id=id>{link.url}</code>
        </div>
    }
}

/// What an action answered: `ok` for success; an error whose field the form shows beside that
/// field (`fields`) is left to it, any other error shows here.
fn show_result<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    fields: &'static [&'static str],
    ok: impl Fn(T) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Ok(v)) => Some(ok(v)),
        Some(Err(e)) if e.field.as_deref().is_some_and(|f| fields.contains(&f)) => None,
        Some(Err(e)) => {
            Some(view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any())
        }
        None => None,
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let invite = ServerAction::<InviteUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let link = ServerAction::<UserPasswordLink>::new();
    let reset_mfa = ServerAction::<ResetUserMfa>::new();
    let set_rule = ServerAction::<SetMfaRule>::new();
    let changes = Changes::default()
        .watch(invite.value())
        .watch(set_role.value())
        .watch(set_active.value())
        .watch(reset_mfa.value());
    let users = Resource::new(move || changes.get(), |_| list_users());
    let rule_changes = Changes::default().watch(set_rule.value());
    let rule = Resource::new(move || rule_changes.get(), |_| mfa_rule());
    view! {
        <section class="card">
            <h1>"Users"</h1>
            <p class="muted">
                "Invite people by e-mail: they get a single-use link (valid 72 hours) to set their own password."
            </p>
            <ActionForm action=invite attr:class="row" attr:id="invite-form">
                <input name="email" id="invite-email" type="email" placeholder="E-mail" aria-label="E-mail" required aria-describedby="invite-email-error" />
                <input name="name" id="invite-name" placeholder="Name (optional)" aria-label="Name (optional)" maxlength="200" />
                <select name="role" id="invite-role" aria-label="Role" aria-describedby="invite-role-error">
                    {TENANT_ROLES
                        .map(|r| view! { <option value=r selected=r == "developer">{r}</option> })
                        .collect_view()}
                </select>
                <button type="submit" class="button" id="invite">
                    "Invite"
                </button>
            </ActionForm>
            {field_error(invite.value(), "email", "invite-email-error")}
            {field_error(invite.value(), "role", "invite-role-error")}
            {show_result(invite.value(), &["email", "role"], |l| view! { <LinkNotice link=l id="invite-link" /> }.into_any())}
            {show_result(link.value(), &[], |l| view! { <LinkNotice link=l id="reset-link" /> }.into_any())}
            {show_result(set_role.value(), &[], |m| view! { <p class="notice" role="status" id="role-notice">{m}</p> }.into_any())}
            {show_result(set_active.value(), &[], |m| view! { <p class="notice" role="status" id="active-notice">{m}</p> }.into_any())}
            {show_result(reset_mfa.value(), &[], |m| view! { <p class="notice" role="status" id="mfa-reset-notice">{m}</p> }.into_any())}
        </section>
        <section class="card">
            <h2>"Two-step verification"</h2>
            <p class="muted">"Who must enter a code from an authenticator app after their password. People without one set it up at their next sign-in. Single sign-on relies on the identity provider's own second step ("<a href="/sso" id="sso-link">"single sign-on settings"</a>")."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let current = rule.await.unwrap_or_default();
                    view! {
                        <ActionForm action=set_rule attr:class="row" attr:id="mfa-rule-form">
                            <select name="required" id="mfa-rule" aria-label="Who must use two-step verification">
                                {types::mfa::Requirement::ALL
                                    .map(|r| view! { <option value=r.as_str() selected=r == current>{r.label()}</option> })
                                    .collect_view()}
                            </select>
                            <button type="submit" class="button" id="save-mfa-rule">"Save"</button>
                        </ActionForm>
                    }
                })}
            </Suspense>
            {show_result(set_rule.value(), &[], |r| view! { <p class="notice" role="status" id="mfa-rule-saved">{format!("Saved: {}.", r.label())}</p> }.into_any())}
        </section>
        <section class="card">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{e.to_string()}</p> }),
                        Ok(rows) => Either::Right(view! { <UsersTable rows set_role set_active link reset_mfa /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn UsersTable(
    rows: Vec<UserRow>,
    set_role: ServerAction<SetUserRole>,
    set_active: ServerAction<SetUserActive>,
    link: ServerAction<UserPasswordLink>,
    reset_mfa: ServerAction<ResetUserMfa>,
) -> impl IntoView {
    view! {
        <table class="table" id="users">
            <thead>
                <tr>
                    <th>"E-mail"</th>
                    <th>"Name"</th>
                    <th>"Role"</th>
                    <th>"Status"</th>
                    <th>"Two-step"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|u| {
                        let current = u.role.clone();
                        let active = u.active;
                        let (id_role, id_active, id_link) = (u.id.clone(), u.id.clone(), u.id.clone());
                        let id_mfa = u.id;
                        let mfa = u.mfa;
                        let role_label = format!("Role of {}", u.email);
                        view! {
                            <tr data-email=u.email.clone() class:revoked=!active>
                                <td>{u.email.clone()}</td>
                                <td>{u.name}</td>
                                <td>
                                    <ActionForm action=set_role attr:class="inline">
                                        <input type="hidden" name="id" value=id_role.clone() />
                                        <select name="role" class="role-select" aria-label=role_label>
                                            {TENANT_ROLES
                                                .map(|r| view! { <option value=r selected=r == current>{r}</option> })
                                                .collect_view()}
                                        </select>
                                        <button type="submit" class="link change-role">
                                            "Change"
                                        </button>
                                    </ActionForm>
                                </td>
                                <td class="status-cell">{if active { "active" } else { "deactivated" }}</td>
                                <td class="mfa-cell">{if mfa { "on" } else { "off" }}</td>
                                <td class="actions">
                                    <ActionForm action=set_active attr:class="inline">
                                        <input type="hidden" name="id" value=id_active.clone() />
                                        <input type="hidden" name="active" value=(!active).to_string() />
                                        <button type="submit" class="link toggle-active">
                                            {if active { "Deactivate" } else { "Reactivate" }}
                                        </button>
                                    </ActionForm>
                                    {active
                                        .then(|| {
                                            view! {
                                                <ActionForm action=link attr:class="inline">
                                                    <input type="hidden" name="id" value=id_link.clone() />
                                                    <button type="submit" class="link password-link">
                                                        "Password link"
                                                    </button>
                                                </ActionForm>
                                            }
                                        })}
                                    {mfa
                                        .then(|| {
                                            view! {
                                                <ActionForm action=reset_mfa attr:class="inline">
                                                    <input type="hidden" name="id" value=id_mfa.clone() />
                                                    <button type="submit" class="link reset-mfa">
                                                        "Reset two-step"
                                                    </button>
                                                </ActionForm>
                                            }
                                        })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

// --- teams ---------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub members: Vec<MemberRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub is_manager: bool,
}

/// The teams the viewer may see: all for tenant admins, the ones they manage for managers,
/// the ones they belong to for everyone else.
#[server(endpoint = "teams/list")]
pub async fn list_teams() -> Result<Vec<TeamRow>, AppError> {
    let s = crate::session::ssr::require_fn::<ListTeams>().await?;
    let visible = store::teams::Visible::for_role(s.viewer.role, s.user_id);
    let (_, mut tx) = ssr::member_tx(s).await?;
    let teams = store::teams::list(&mut tx, visible).await?;
    tx.commit().await?;
    Ok(teams
        .into_iter()
        .map(|t| TeamRow {
            id: t.id.to_string(),
            name: t.name,
            members: t
                .members
                .into_iter()
                .map(|m| MemberRow {
                    user_id: m.user_id.to_string(),
                    email: m.email,
                    is_manager: m.is_manager,
                })
                .collect(),
        })
        .collect())
}

#[server(endpoint = "teams/create")]
pub async fn create_team(name: String) -> Result<(), AppError> {
    let (s, mut tx) = ssr::allowed::<CreateTeam>().await?;
    store::teams::create(&mut tx, &s.actor, &name).await?;
    tx.commit().await?;
    Ok(())
}

#[server(endpoint = "teams/add_member")]
pub async fn add_team_member(
    team: String,
    email: String,
    manager: Option<String>,
) -> Result<(), AppError> {
    let (s, mut tx) = ssr::allowed::<AddTeamMember>().await?;
    let team = store::teams::TeamId(
        team.parse()
            .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such team"))?,
    );
    let email = store::Email::parse(&email)?;
    let user = store::accounts::find_by_email(&mut tx, &email)
        .await
        .map_err(|_| {
            AppError::new(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("nobody with the e-mail {email} here"),
            )
        })?;
    store::teams::set_member(&mut tx, &s.actor, team, user.id, manager.is_some()).await?;
    tx.commit().await?;
    Ok(())
}

#[server(endpoint = "teams/remove_member")]
pub async fn remove_team_member(team: String, user: String) -> Result<(), AppError> {
    let (s, mut tx) = ssr::allowed::<RemoveTeamMember>().await?;
    let team = store::teams::TeamId(
        team.parse()
            .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such team"))?,
    );
    let user = ssr::user_id(&user)?;
    store::teams::remove_member(&mut tx, &s.actor, team, user).await?;
    tx.commit().await?;
    Ok(())
}

#[component]
pub fn TeamsPage() -> impl IntoView {
    let viewer = expect_context::<ViewerResource>().0;
    let create = ServerAction::<CreateTeam>::new();
    let add = ServerAction::<AddTeamMember>::new();
    let remove = ServerAction::<RemoveTeamMember>::new();
    let changes = Changes::default()
        .watch(create.value())
        .watch(add.value())
        .watch(remove.value());
    let teams = Resource::new(move || changes.get(), |_| list_teams());
    view! {
        <section class="card">
            <h1>"Teams"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let v = viewer.await.ok().flatten();
                    match v {
                        None => Either::Left(view! { <SignInFirst /> }),
                        Some(v) => {
                            let admin = v.can(Permission::UserManage);
                            let intro = if admin {
                                "Everyone in the workspace, grouped. A member marked manager sees the team's metrics."
                            } else if v.role == Role::Manager {
                                "The teams you manage."
                            } else {
                                "The teams you belong to."
                            };
                            Either::Right(
                                view! {
                                    <p class="muted">{intro}</p>
                                    {admin
                                        .then(|| {
                                            view! {
                                                <ActionForm action=create attr:class="row" attr:id="new-team-form">
                                                    <input name="name" id="team-name" placeholder="Team name" required maxlength="100" />
                                                    <button type="submit" class="button" id="create-team">
                                                        "Create team"
                                                    </button>
                                                </ActionForm>
                                            }
                                        })}
                                },
                            )
                        }
                    }
                })}
            </Suspense>
            {show_result(create.value(), &[], |_| ().into_any())}
            {show_result(add.value(), &[], |_| ().into_any())}
            {show_result(remove.value(), &[], |_| ().into_any())}
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let admin = viewer.await.ok().flatten().is_some_and(|v| v.can(Permission::UserManage));
                match teams.await {
                    Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{e.to_string()}</p> }),
                    Ok(rows) if rows.is_empty() => {
                        Either::Right(Either::Left(view! { <p class="muted card" id="no-teams">"No teams to show."</p> }))
                    }
                    Ok(rows) => {
                        Either::Right(
                            Either::Right(
                                rows
                                    .into_iter()
                                    .map(|t| view! { <TeamCard team=t admin add remove /> })
                                    .collect_view(),
                            ),
                        )
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn TeamCard(
    team: TeamRow,
    admin: bool,
    add: ServerAction<AddTeamMember>,
    remove: ServerAction<RemoveTeamMember>,
) -> impl IntoView {
    let team_id = team.id.clone();
    view! {
        <section class="card team" data-team=team.name.clone()>
            <h2>{team.name.clone()}</h2>
            <ul class="members">
                {team
                    .members
                    .into_iter()
                    .map(|m| {
                        let team_id = team_id.clone();
                        view! {
                            <li data-email=m.email.clone()>
                                {m.email.clone()}
                                {m.is_manager.then(|| view! { <span class="badge">"manager"</span> })}
                                {admin
                                    .then(|| {
                                        view! {
                                            <ActionForm action=remove attr:class="inline">
                                                <input type="hidden" name="team" value=team_id />
                                                <input type="hidden" name="user" value=m.user_id />
                                                <button type="submit" class="link">
                                                    "Remove"
                                                </button>
                                            </ActionForm>
                                        }
                                    })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {admin
                .then(|| {
                    view! {
                        <ActionForm action=add attr:class="row add-member">
                            <input type="hidden" name="team" value=team_id.clone() />
                            <input name="email" type="email" placeholder="Member e-mail" required />
                            <label class="check">
                                <input type="checkbox" name="manager" />
                                " manager"
                            </label>
                            <button type="submit" class="button">
                                "Add"
                            </button>
                        </ActionForm>
                    }
                })}
        </section>
    }
}

// --- /welcome: set a password through a link ----------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub kind: String,
    pub tenant: String,
    pub email: String,
}

/// What a link is for, or `None` when it is unknown, used or expired.
#[server(endpoint = "links/inspect")]
pub async fn inspect_link(token: String) -> Result<Option<LinkInfo>, AppError> {
    let store = crate::ssr::server_context()?.store;
    let link = store::invitations::inspect(store.pool(), &token).await?;
    Ok(link.map(|(tenant, p)| LinkInfo {
        kind: p.kind.as_str().into(),
        tenant: tenant.slug.to_string(),
        email: p.user.email,
    }))
}

/// A plain form posting to `/auth/welcome`, so it works without the WASM.
#[component]
pub fn WelcomePage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.with_untracked(|q| q.get(k).unwrap_or_default());
    let token = get("token");
    let info = Resource::new(move || get("token"), inspect_link);
    let error = match get("error").as_str() {
        "invalid" => get("detail"),
        "unavailable" => {
            "Setting the password is not possible right now. Try again shortly.".into()
        }
        _ => String::new(),
    };
    view! {
        <section class="card narrow">
            <Suspense fallback=|| view! { <p class="muted">"Checking the link…"</p> }>
                {move || {
                    let token = token.clone();
                    let error = error.clone();
                    Suspend::new(async move {
                        match info.await {
                            Ok(Some(link)) => {
                                let title = if link.kind == "invite" { "Welcome to devpulse" } else { "Choose a new password" };
                                Either::Left(
                                    view! {
                                        <h1>{title}</h1>
                                        <p id="link-for">
                                            {format!("Set the password for {} in the workspace {}.", link.email, link.tenant)}
                                        </p>
                                        <form method="post" action="/auth/welcome" class="stack" id="welcome-form">
                                            <input type="hidden" name="token" value=token />
                                            <input type="email" value=link.email hidden autocomplete="username" />
                                            <label>
                                                "New password"
                                                <input name="password" id="password" type="password" required minlength="12" autocomplete="new-password" />
                                            </label>
                                            {(!error.is_empty())
                                                .then(|| view! { <p class="field-error" id="password-error" role="alert">{error}</p> })}
                                            <p class="muted">"At least 12 characters, not your e-mail, not a common password."</p>
                                            <button type="submit" class="button" id="set-password">
                                                "Set password"
                                            </button>
                                        </form>
                                    },
                                )
                            }
                            _ => {
                                Either::Right(
                                    view! {
                                        <h1>"This link does not work"</h1>
                                        <p class="error" role="alert" id="link-invalid">
                                            "It has expired or was already used. Ask your workspace admin for a new one."
                                        </p>
                                    },
                                )
                            }
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}
