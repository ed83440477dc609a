//! `/users`: the people of a workspace (invite, change role, deactivate, password links,
//! reset two-step) and who must use two-step verification. Every server function checks the
//! session and permission on the server, whatever the page shows.

use leptos::{either::Either, prelude::*};
use types::{
    people::{LinkKind, PasswordLink, Person},
    Role,
};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::{
    components::forms::{field_error, show_result, Changes},
    AppError,
};

#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<Person>, AppError> {
    let (_, mut tx) = ws::allowed::<ListUsers>().await?;
    let users = store::accounts::list(&mut tx).await?;
    let with_mfa = store::mfa::enrolled_users(&mut tx).await?;
    tx.commit().await?;
    Ok(users
        .into_iter()
        .map(|user| Person {
            mfa: with_mfa.contains(&user.id),
            user,
        })
        .collect())
}

#[server(endpoint = "users/invite")]
pub async fn invite_user(
    email: String,
    name: String,
    role: String,
) -> Result<PasswordLink, AppError> {
    let (s, mut tx) = ws::allowed::<InviteUser>().await?;
    let email = store::Email::parse(&email)?;
    // The form's first choice is the workspace's default, sent as no role.
    let role = match role.trim() {
        "" => store::settings::people(&mut tx).await?.default_role,
        role => Role::parse_tenant(role)?,
    };
    let (sealer, public_url) = ws::post()?;
    let post = store::invitations::Post {
        sealer: &sealer,
        public_url: &public_url,
    };
    let (user, link) = store::invitations::invite(
        &mut tx,
        &s.actor,
        &ws::slug(&s)?,
        &email,
        &name,
        role,
        Some(&post),
    )
    .await?;
    tx.commit().await?;
    Ok(link.shown(&public_url, &user.email))
}

/// Checks an invitation list (CSV), and with `send` invites everyone on it when no line has a
/// problem (nobody otherwise).
#[server(endpoint = "users/invite_many")]
pub async fn invite_many(csv: String, send: bool) -> Result<types::people::BulkInvite, AppError> {
    let (s, mut tx) = ws::allowed::<InviteMany>().await?;
    let policy = store::settings::people(&mut tx).await?;
    let rows = types::people::read_invite_list(&csv, policy.default_role)?;
    let (sealer, public_url) = ws::post()?;
    let post = store::invitations::Post {
        sealer: &sealer,
        public_url: &public_url,
    };
    let answer =
        store::invitations::invite_many(&mut tx, &s.actor, &ws::slug(&s)?, rows, send, Some(&post))
            .await?;
    tx.commit().await?;
    Ok(answer)
}

/// One change for the people selected (`ids`, comma-separated): `role` (with `role`),
/// `deactivate` or `reactivate`.
#[server(endpoint = "users/bulk")]
pub async fn bulk_change(ids: String, action: String, role: String) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<BulkChange>().await?;
    let ids = ids
        .split(',')
        .filter(|i| !i.is_empty())
        .map(ws::user_id)
        .collect::<Result<Vec<_>, _>>()?;
    let change = match action.as_str() {
        "role" => types::people::BulkChange::Role {
            role: Role::parse_tenant(&role)?,
        },
        "deactivate" => types::people::BulkChange::Deactivate,
        "reactivate" => types::people::BulkChange::Reactivate,
        _ => {
            return Err(AppError::invalid(
                "action",
                "action: must be role, deactivate or reactivate",
            ))
        }
    };
    let users = store::accounts::change_many(&mut tx, &s.actor, &ids, &change).await?;
    tx.commit().await?;
    let n = users.len();
    let people = if n == 1 {
        "person".to_string()
    } else {
        format!("{n} people")
    };
    Ok(match change {
        types::people::BulkChange::Role { role } => {
            format!("Done: {people} now {role}; their open sessions have ended.")
        }
        types::people::BulkChange::Deactivate => {
            format!("Done: {people} deactivated and signed out everywhere.")
        }
        types::people::BulkChange::Reactivate => format!("Done: {people} can sign in again."),
    })
}

/// The workspace's newest e-mails and how each delivery went.
#[server(endpoint = "emails/list")]
pub async fn list_emails() -> Result<Vec<types::mail::Sent>, AppError> {
    let (_, mut tx) = ws::allowed::<ListEmails>().await?;
    let sent = store::mail::list(&mut tx, 50).await?;
    tx.commit().await?;
    Ok(sent)
}

#[server(endpoint = "users/set_role")]
pub async fn set_user_role(id: String, role: String) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<SetUserRole>().await?;
    let role = Role::parse_tenant(&role)?;
    let user = store::accounts::change_role(&mut tx, &s.actor, ws::user_id(&id)?, role).await?;
    tx.commit().await?;
    Ok(format!(
        "{} is now {}; their open sessions have ended.",
        user.email,
        user.role.as_str()
    ))
}

#[server(endpoint = "users/set_active")]
pub async fn set_user_active(id: String, active: bool) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<SetUserActive>().await?;
    let user = store::accounts::change_active(&mut tx, &s.actor, ws::user_id(&id)?, active).await?;
    tx.commit().await?;
    Ok(if active {
        format!("{} can sign in again.", user.email)
    } else {
        format!("{} is deactivated and signed out everywhere.", user.email)
    })
}

#[server(endpoint = "users/password_link")]
pub async fn user_password_link(id: String) -> Result<PasswordLink, AppError> {
    let (s, mut tx) = ws::allowed::<UserPasswordLink>().await?;
    let (sealer, public_url) = ws::post()?;
    let post = store::invitations::Post {
        sealer: &sealer,
        public_url: &public_url,
    };
    let user_id = ws::user_id(&id)?;
    let (user, link) =
        store::invitations::issue(&mut tx, &s.actor, &ws::slug(&s)?, user_id, Some(&post)).await?;
    tx.commit().await?;
    Ok(link.shown(&public_url, &user.email))
}

/// Clears someone's second step (a lost phone); their sessions end.
#[server(endpoint = "users/mfa_reset")]
pub async fn reset_user_mfa(id: String) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<ResetUserMfa>().await?;
    let user_id = ws::user_id(&id)?;
    let user = store::accounts::get(&mut tx, user_id).await?;
    let (sealer, _) = ws::post()?;
    store::mfa::reset(&mut tx, &sealer, &s.actor, user_id).await?;
    tx.commit().await?;
    Ok(format!(
        "{}'s two-step verification is reset and their sessions ended; they set it up again at their next sign-in if the workspace requires it.",
        user.email
    ))
}

/// Who in the workspace must use two-step verification.
#[server(endpoint = "settings/mfa")]
pub async fn mfa_rule() -> Result<types::mfa::Requirement, AppError> {
    let (_, mut tx) = ws::allowed::<MfaRule>().await?;
    let rule = store::mfa::requirement(&mut tx).await?;
    tx.commit().await?;
    Ok(rule)
}

#[server(endpoint = "settings/mfa/set")]
pub async fn set_mfa_rule(required: String) -> Result<types::mfa::Requirement, AppError> {
    let (s, mut tx) = ws::allowed::<SetMfaRule>().await?;
    let to = types::mfa::Requirement::parse(&required).ok_or_else(|| {
        AppError::invalid("required", "required: must be off, admins or everyone")
    })?;
    let can_seal = crate::ssr::server_context()?.sealer.can_seal();
    let rule = store::mfa::set_requirement(&mut tx, &s.actor, to, can_seal).await?;
    tx.commit().await?;
    Ok(rule)
}

#[component]
fn LinkNotice(link: PasswordLink, id: &'static str) -> impl IntoView {
    let what = match link.kind {
        LinkKind::Invite => "Invitation",
        LinkKind::Reset => "Password reset link",
    };
    let until = link.expires_at.format("%Y-%m-%d %H:%M UTC");
    view! {
        <div class="new-key" role="status">
            <p>
                {format!("{what} for {} (single use, until {until}) is on its way to them by e-mail. The link, shown only now, in case you would rather pass it on yourself:", link.email)}
            </p>
            <code id=id>{link.url}</code>
        </div>
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
    let check_list = ServerAction::<InviteMany>::new();
    let send_list = ServerAction::<InviteMany>::new();
    let bulk = ServerAction::<BulkChange>::new();
    let selected = RwSignal::new(Vec::<String>::new());
    // One answer about the list at a time: sending replaces the check it followed, and a new
    // check replaces what the last send said.
    Effect::new(move |_| {
        if send_list.pending().get() {
            check_list.value().set(None);
        }
    });
    Effect::new(move |_| {
        if check_list.pending().get() {
            send_list.value().set(None);
        }
    });
    let changes = Changes::default()
        .watch(invite.value())
        .watch(set_role.value())
        .watch(set_active.value())
        .watch(reset_mfa.value())
        .watch(send_list.value())
        .watch(bulk.value());
    let users = Resource::new(move || changes.get(), |_| list_users());
    let mail_changes = Changes::default()
        .watch(invite.value())
        .watch(link.value())
        .watch(send_list.value());
    let emails = Resource::new(move || mail_changes.get(), |_| list_emails());
    let rule_changes = Changes::default().watch(set_rule.value());
    let rule = Resource::new(move || rule_changes.get(), |_| mfa_rule());
    view! {
        <section class="card">
            <h1>"Users"</h1>
            <p class="muted">
                "Invite people by e-mail: they receive a single-use link (valid 72 hours) to set their own password. A person's data is exported or erased on "
                <a href="/privacy" id="users-privacy-link">"Personal data"</a>
                "."
            </p>
            <ActionForm action=invite attr:class="row" attr:id="invite-form">
                <input name="email" id="invite-email" type="email" placeholder="E-mail" aria-label="E-mail" required aria-describedby="invite-email-error" />
                <input name="name" id="invite-name" placeholder="Name (optional)" aria-label="Name (optional)" maxlength="200" />
                <select name="role" id="invite-role" aria-label="Role" aria-describedby="invite-role-error">
                    <option value="" selected>"workspace default"</option>
                    {Role::TENANT_ROLES
                        .map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> })
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
            {show_result(bulk.value(), &[], |m| view! { <p class="notice" role="status" id="bulk-notice">{m}</p> }.into_any())}
        </section>
        <section class="card">
            <h2>"Invite many"</h2>
            <p class="muted">"One person a line: their e-mail, then (optionally) name, role and team, separated by commas; a header line may name the columns. The list is checked first, and nobody is invited until every line is right."</p>
            <ActionForm action=check_list attr:class="stack" attr:id="invite-many-form">
                <input type="hidden" name="send" value="false" />
                <label>
                    "People"
                    <textarea name="csv" id="invite-many-csv" rows="5" required aria-describedby="invite-many-error" placeholder="ada@example.com, Ada Lovelace, manager, Platform"></textarea>
                </label>
                <div class="row">
                    <button type="submit" class="button secondary" id="invite-many-check">"Check the list"</button>
                </div>
            </ActionForm>
            {field_error(check_list.value(), "csv", "invite-many-error")}
            {show_result(check_list.value(), &["csv"], move |list| view! { <InvitePreview list send=send_list /> }.into_any())}
            {move || {
                send_list.value().get().map(|r| match r {
                    Ok(done) if done.invited > 0 => view! {
                        <p class="notice" role="status" id="invite-many-done">
                            {format!("Invited {} people; their invitations are on their way by e-mail.", done.invited)}
                        </p>
                    }.into_any(),
                    Ok(list) => view! { <InvitePreview list send=send_list /> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })
            }}
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
            // Outside the table's Suspense: it lives as long as the page, not one reading.
            <BulkBar selected bulk />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{e.to_string()}</p> }),
                        Ok(rows) => Either::Right(view! {
                            <UsersTable rows set_role set_active link reset_mfa selected />
                        }),
                    }
                })}
            </Suspense>
        </section>
        <section class="card">
            <h2>"E-mail sent"</h2>
            <p class="muted">"The workspace's latest invitations and password links, and how each delivery went. A failed delivery is tried again, waiting longer each time."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match emails.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{e.to_string()}</p> }),
                        Ok(rows) if rows.is_empty() => Either::Right(Either::Left(view! { <p class="muted" id="no-emails">"Nothing sent yet."</p> })),
                        Ok(rows) => Either::Right(Either::Right(view! { <EmailsTable rows /> })),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn EmailsTable(rows: Vec<types::mail::Sent>) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="E-mail sent">
            <table class="table" id="emails">
                <thead>
                    <tr>
                        <th>"To"</th>
                        <th>"Message"</th>
                        <th>"Status"</th>
                        <th>"When"</th>
                        <th>"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|m| {
                            let when = m.sent_at.unwrap_or(m.created_at).format("%Y-%m-%d %H:%M UTC").to_string();
                            let detail = match (&m.last_error, &m.delivered_via) {
                                (Some(e), _) if m.status != "sent" => format!("{e} (attempt {})", m.attempts),
                                (_, Some(via)) => via.clone(),
                                _ => String::new(),
                            };
                            view! {
                                <tr data-to=m.to.clone()>
                                    <td>{m.to.clone()}</td>
                                    <td>{m.what().to_string()}</td>
                                    <td class="email-status">{m.status.clone()}</td>
                                    <td>{when}</td>
                                    <td class="muted">{detail}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn UsersTable(
    rows: Vec<Person>,
    set_role: ServerAction<SetUserRole>,
    set_active: ServerAction<SetUserActive>,
    link: ServerAction<UserPasswordLink>,
    reset_mfa: ServerAction<ResetUserMfa>,
    selected: RwSignal<Vec<String>>,
) -> impl IntoView {
    view! {
        <table class="table" id="users">
            <thead>
                <tr>
                    <th><span class="sr-only">"Select"</span></th>
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
                    .map(|Person { user: u, mfa }| {
                        let current = u.role;
                        let active = u.active;
                        let id = u.id.to_string();
                        let (id_role, id_active, id_link, id_mfa) = (id.clone(), id.clone(), id.clone(), id.clone());
                        let role_label = format!("Role of {}", u.email);
                        let (id_pick, id_checked) = (id.clone(), id);
                        view! {
                            <tr data-email=u.email.clone() class:revoked=!active>
                                <td>
                                    <input
                                        type="checkbox"
                                        class="pick"
                                        aria-label=format!("Select {}", u.email)
                                        prop:checked=move || selected.with(|s| s.contains(&id_checked))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            let id = id_pick.clone();
                                            selected.update(|s| {
                                                s.retain(|x| *x != id);
                                                if on {
                                                    s.push(id);
                                                }
                                            });
                                        }
                                    />
                                </td>
                                <td>{u.email.clone()}</td>
                                <td>{u.name}</td>
                                <td>
                                    <ActionForm action=set_role attr:class="inline">
                                        <input type="hidden" name="id" value=id_role.clone() />
                                        <select name="role" class="role-select" aria-label=role_label prop:value=current.as_str()>
                                            {Role::TENANT_ROLES
                                                .map(|r| view! { <option value=r.as_str() selected=r == current>{r.as_str()}</option> })
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

/// The change the selected people get: a role, deactivation or reactivation, its button
/// saying what will happen to how many.
#[component]
fn BulkBar(selected: RwSignal<Vec<String>>, bulk: ServerAction<BulkChange>) -> impl IntoView {
    let choice = RwSignal::new(String::new());
    // A done change clears the selection (the table is read again).
    Effect::new(move |_| {
        if matches!(bulk.value().get(), Some(Ok(_))) {
            selected.set(vec![]);
        }
    });
    let n = move || selected.with(Vec::len);
    let label = move || {
        let people = if n() == 1 {
            "1 person".to_string()
        } else {
            format!("{} people", n())
        };
        match choice.get().split_once(':') {
            Some(("role", role)) => format!("Make {people} {role}"),
            _ if choice.get() == "deactivate" => format!("Deactivate {people}"),
            _ if choice.get() == "reactivate" => format!("Reactivate {people}"),
            _ => "Apply".to_string(),
        }
    };
    view! {
        <div class="row" id="bulk-bar">
            <span id="bulk-count">{move || format!("{} selected", n())}</span>
            <select
                id="bulk-action"
                aria-label="Change for the selected people"
                on:change=move |ev| choice.set(event_target_value(&ev))
                prop:value=move || choice.get()
            >
                <option value="">"Choose a change…"</option>
                {Role::TENANT_ROLES
                    .map(|r| view! { <option value=format!("role:{}", r.as_str())>{format!("Make {}", r.as_str())}</option> })
                    .collect_view()}
                <option value="deactivate">"Deactivate"</option>
                <option value="reactivate">"Reactivate"</option>
            </select>
            <button
                type="button"
                class="button"
                id="bulk-apply"
                disabled=move || n() == 0 || choice.get().is_empty() || bulk.pending().get()
                on:click=move |_| {
                    let c = choice.get();
                    let (action, role) = match c.split_once(':') {
                        Some((a, r)) => (a.to_string(), r.to_string()),
                        None => (c.clone(), String::new()),
                    };
                    bulk.dispatch(BulkChange { ids: selected.get().join(","), action, role });
                }
            >
                {label}
            </button>
        </div>
    }
}

/// A checked invitation list: each line and its problems, and, when every line is right,
/// the button that invites them all.
#[component]
fn InvitePreview(list: types::people::BulkInvite, send: ServerAction<InviteMany>) -> impl IntoView {
    let (bad, total) = (list.problems(), list.rows.len());
    let csv = std::iter::once("email,name,role,team".to_string())
        .chain(list.rows.iter().map(|r| {
            [
                r.email.as_str(),
                r.name.as_str(),
                r.role.as_str(),
                r.team.as_deref().unwrap_or(""),
            ]
            .map(|f| {
                if f.contains([',', '"']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.to_string()
                }
            })
            .join(",")
        }))
        .collect::<Vec<_>>()
        .join("\n");
    view! {
        {if bad > 0 {
            Either::Left(view! {
                <p class="error" role="alert" id="invite-many-problems">
                    {format!("{bad} of {total} lines need fixing; nobody was invited.")}
                </p>
            })
        } else {
            Either::Right(view! {
                <ActionForm action=send attr:class="row" attr:id="invite-many-send-form">
                    <input type="hidden" name="csv" value=csv />
                    <input type="hidden" name="send" value="true" />
                    <span>{format!("All {total} lines are right.")}</span>
                    <button type="submit" class="button" id="invite-many-send">
                        {format!("Invite all {total}")}
                    </button>
                </ActionForm>
            })
        }}
        <div class="table-wrap" tabindex="0" role="region" aria-label="The invitation list, checked">
            <table class="table" id="invite-many-preview">
                <thead>
                    <tr>
                        <th>"Line"</th>
                        <th>"E-mail"</th>
                        <th>"Name"</th>
                        <th>"Role"</th>
                        <th>"Team"</th>
                        <th>"Check"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .rows
                        .into_iter()
                        .map(|r| {
                            let ok = r.problems.is_empty();
                            view! {
                                <tr data-line=r.line.to_string() class:bad-line=!ok>
                                    <td>{r.line}</td>
                                    <td>{r.email}</td>
                                    <td>{r.name}</td>
                                    <td>{r.role}</td>
                                    <td>{r.team.unwrap_or_default()}</td>
                                    <td class="line-check">{if ok { "ok".to_string() } else { r.problems.join("; ") }}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
