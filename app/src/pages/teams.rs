//! `/teams`: teams and who is in them, for everyone to see the ones they belong to or manage,
//! and for tenant admins to change.

use leptos::{either::Either, prelude::*};
use types::{people::Team, Permission, Role};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::{
    components::{
        forms::{show_result, Changes},
        viewer::{SignInFirst, ViewerResource},
    },
    AppError,
};

/// The teams the viewer may see: all for tenant admins, the ones they manage for managers,
/// the ones they belong to for everyone else.
#[server(endpoint = "teams/list")]
pub async fn list_teams() -> Result<Vec<Team>, AppError> {
    let s = crate::session::ssr::require_fn::<ListTeams>().await?;
    let visible = store::teams::Visible::for_role(s.viewer.role, s.user_id);
    let (_, mut tx) = ws::member_tx(s).await?;
    let teams = store::teams::list(&mut tx, visible).await?;
    tx.commit().await?;
    Ok(teams)
}

#[server(endpoint = "teams/create")]
pub async fn create_team(name: String) -> Result<(), AppError> {
    let (s, mut tx) = ws::allowed::<CreateTeam>().await?;
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
    let (s, mut tx) = ws::allowed::<AddTeamMember>().await?;
    let team = ws::team_id(&team)?;
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
    let (s, mut tx) = ws::allowed::<RemoveTeamMember>().await?;
    let team = ws::team_id(&team)?;
    let user = ws::user_id(&user)?;
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
    team: Team,
    admin: bool,
    add: ServerAction<AddTeamMember>,
    remove: ServerAction<RemoveTeamMember>,
) -> impl IntoView {
    let team_id = team.id.to_string();
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
                                                <input type="hidden" name="user" value=m.user_id.to_string() />
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
