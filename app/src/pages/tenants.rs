//! `/system/tenants`: the installation's workspaces, for super admins: each one's plan, status,
//! people, last day's events, storage and last activity; create one (its first admin is
//! invited by e-mail), rename, suspend or reactivate, delete with its slug typed out, and open
//! a support access to it; the support accesses so far.

use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
};
use types::{people::PasswordLink, system::TenantSummary};

use crate::{
    components::forms::{error_text, field_error, show_result, Changes},
    AppError,
};

#[server(endpoint = "tenants/list")]
pub async fn list_tenants() -> Result<Vec<TenantSummary>, AppError> {
    crate::session::ssr::require_fn::<ListTenants>().await?;
    let store = crate::ssr::server_context()?.store;
    Ok(store::system::tenants(&store).await?)
}

/// Creates a workspace and invites its first admin by e-mail (the link is shown here too).
#[server(endpoint = "tenants/create")]
pub async fn create_tenant(
    slug: String,
    name: String,
    admin_email: String,
) -> Result<PasswordLink, AppError> {
    let s = crate::session::ssr::require_fn::<CreateTenant>().await?;
    let cx = crate::ssr::server_context()?;
    let slug = store::Slug::parse(slug.trim())?;
    let email = store::Email::parse(&admin_email)?;
    let post = store::invitations::Post {
        sealer: &cx.sealer,
        public_url: &cx.public_url,
    };
    let first = store::tenants::FirstAdmin::Invitation(Some(&post));
    let p =
        store::tenants::provision(cx.store.pool(), &s.actor, &slug, &name, &email, first).await?;
    let link = p.link.ok_or_else(|| AppError::not_found("invitation"))?;
    Ok(link.shown(&cx.public_url, email.as_str()))
}

#[server(endpoint = "tenants/rename")]
pub async fn rename_tenant(slug: String, name: String) -> Result<String, AppError> {
    let s = crate::session::ssr::require_fn::<RenameTenant>().await?;
    let store = crate::ssr::server_context()?.store;
    let slug = store::Slug::parse(&slug).map_err(|_| AppError::not_found("workspace"))?;
    let t = store::tenants::rename(store.pool(), &s.actor, &slug, &name).await?;
    Ok(format!("{} is now called {}.", t.slug, t.name))
}

/// `status` is `active` or `suspended`. A suspended workspace's people cannot sign in and its
/// keys cannot send data; nothing is deleted.
#[server(endpoint = "tenants/set_status")]
pub async fn set_tenant_status(slug: String, status: String) -> Result<String, AppError> {
    let s = crate::session::ssr::require_fn::<SetTenantStatus>().await?;
    let store = crate::ssr::server_context()?.store;
    let slug = store::Slug::parse(&slug).map_err(|_| AppError::not_found("workspace"))?;
    let (status, done) = match status.as_str() {
        "active" => (store::TenantStatus::Active, "reactivated"),
        "suspended" => (store::TenantStatus::Suspended, "suspended"),
        _ => return Err(AppError::invalid("status", "must be active or suspended")),
    };
    store::tenants::set_status(store.pool(), &s.actor, &slug, status).await?;
    Ok(format!("{slug} is {done}."))
}

/// Deletes the workspace and everything in it; `confirm` must repeat its slug.
#[server(endpoint = "tenants/delete")]
pub async fn delete_tenant(slug: String, confirm: String) -> Result<String, AppError> {
    let s = crate::session::ssr::require_fn::<DeleteTenant>().await?;
    let store = crate::ssr::server_context()?.store;
    let slug = store::Slug::parse(&slug).map_err(|_| AppError::not_found("workspace"))?;
    if confirm.trim() != slug.as_str() {
        return Err(AppError::invalid(
            "confirm",
            format!("type {slug} to delete this workspace"),
        ));
    }
    store::tenants::delete(store.pool(), &s.actor, &slug).await?;
    Ok(format!("{slug} and everything in it are deleted."))
}

/// Opens the workspace read-only to the super admin for `minutes` (5 to 60), for `reason`,
/// which its admins read in their audit log. The browser then reads it until the access ends.
#[server(endpoint = "support/begin")]
pub async fn begin_support(
    slug: String,
    reason: String,
    minutes: i64,
) -> Result<types::system::SupportGrant, AppError> {
    let s = crate::session::ssr::require_fn::<BeginSupport>().await?;
    let cx = crate::ssr::server_context()?;
    let (grant, cookie) = cx
        .system
        .open_support(&s.actor, s.user_id, &slug, &reason, minutes)
        .await?;
    if let (Some(response), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        response.append_header(http::header::SET_COOKIE, v);
    }
    Ok(grant)
}

/// The newest support accesses, open ones first.
#[server(endpoint = "support/list")]
pub async fn list_support() -> Result<Vec<types::system::SupportGrant>, AppError> {
    crate::session::ssr::require_fn::<ListSupport>().await?;
    let store = crate::ssr::server_context()?.store;
    Ok(store::support::list(store.pool(), 20).await?)
}

#[component]
pub fn TenantsPage() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let rename = ServerAction::<RenameTenant>::new();
    let status = ServerAction::<SetTenantStatus>::new();
    let delete = ServerAction::<DeleteTenant>::new();
    let support = ServerAction::<BeginSupport>::new();
    // Opened: the whole app loads again as the support access (its cookie is set).
    Effect::new(move || {
        if support.value().with(|v| matches!(v, Some(Ok(_)))) {
            #[cfg(feature = "hydrate")]
            let _ = window().location().set_href("/");
        }
    });
    let grants = Resource::new(|| (), |_| list_support());
    let changes = Changes::default()
        .watch(create.value())
        .watch(rename.value())
        .watch(status.value())
        .watch(delete.value());
    let tenants = Resource::new(move || changes.get(), |_| list_tenants());
    // The answer of whichever row action ran last, in one place.
    let notice = RwSignal::new(None::<Result<String, AppError>>);
    for value in [rename.value(), status.value(), delete.value()] {
        Effect::new(move || {
            if let Some(v) = value.get() {
                notice.set(Some(v));
            }
        });
    }
    // The workspace whose rename or delete form is open.
    let open = RwSignal::new(None::<Editing>);
    view! {
        <section class="card" aria-labelledby="tenants-title">
            <h1 id="tenants-title">"Workspaces"</h1>
            <p class="muted">
                "Every workspace of this installation. Suspending one signs nobody out by force but refuses every sign-in, refresh and ingestion until it is reactivated; deleting one drops all of its data at once."
            </p>
            {show_result(notice, &["name", "confirm"], |m| view! { <p class="notice" role="status" id="tenant-notice">{m}</p> }.into_any())}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tenants.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{error_text(&e)}</p> }),
                        Ok(rows) => Either::Right(view! { <TenantTable rows open status /> }),
                    }
                })}
            </Transition>
            <EditPanel open rename delete support />
        </section>
        <section class="card" aria-labelledby="support-title">
            <h2 id="support-title">"Support accesses"</h2>
            <p class="muted">"A support access reads one workspace's dashboards and sessions, nothing else and nothing it could change, for at most an hour. It is recorded, with its reason, in that workspace's audit log, where its admins see it."</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match grants.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{error_text(&e)}</p> }),
                        Ok(list) => Either::Right(view! { <GrantTable list /> }),
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-labelledby="create-title">
            <h2 id="create-title">"New workspace"</h2>
            <ActionForm action=create attr:class="stack" attr:id="create-tenant">
                <label>
                    "Slug (in sign-in forms and API keys; cannot change)"
                    <input name="slug" id="new-slug" required pattern="[a-z][a-z0-9_]{1,40}" autocomplete="off" aria-describedby="new-slug-error" />
                </label>
                {field_error(create.value(), "slug", "new-slug-error")}
                <label>
                    "Name"
                    <input name="name" id="new-name" required maxlength="200" aria-describedby="new-name-error" />
                </label>
                {field_error(create.value(), "name", "new-name-error")}
                <label>
                    "First admin's e-mail (they are sent an invitation)"
                    <input name="admin_email" id="new-admin" type="email" required aria-describedby="new-admin-error" />
                </label>
                {field_error(create.value(), "email", "new-admin-error")}
                <p class="row"><button type="submit" class="button" id="create-submit">"Create workspace"</button></p>
            </ActionForm>
            {show_result(create.value(), &["slug", "name", "email"], |link: PasswordLink| view! {
                <div class="notice" role="status" id="created">
                    <p>{format!("Created. {} is invited; the link (also e-mailed) works until {}:", link.email, link.expires_at.format("%Y-%m-%d %H:%M UTC"))}</p>
                    <p><code class="wrap" id="created-link">{link.url}</code></p>
                </div>
            }.into_any())}
        </section>
    }
}

/// A count, or a dash when the workspace could not be read.
fn count(n: Option<i64>) -> String {
    n.map(crate::components::format::grouped)
        .unwrap_or_else(|| "—".into())
}

/// The rename, delete or support form open for one workspace.
#[derive(Clone, Debug, PartialEq)]
enum Editing {
    Rename { slug: String, name: String },
    Delete { slug: String },
    Support { slug: String },
}

impl Editing {
    fn slug(&self) -> &str {
        match self {
            Editing::Rename { slug, .. } | Editing::Delete { slug } | Editing::Support { slug } => {
                slug
            }
        }
    }
}

#[component]
fn TenantTable(
    rows: Vec<TenantSummary>,
    open: RwSignal<Option<Editing>>,
    status: ServerAction<SetTenantStatus>,
) -> impl IntoView {
    if rows.is_empty() {
        return Either::Left(view! { <p class="muted" id="tenants">"No workspaces yet."</p> });
    }
    let body = rows
        .into_iter()
        .map(|t| view! { <TenantRow t open status /> })
        .collect_view();
    Either::Right(view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Workspaces">
            <table class="table" id="tenants">
                <thead>
                    <tr>
                        <th scope="col">"Workspace"</th>
                        <th scope="col">"Plan"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">"People"</th>
                        <th scope="col" class="num">"Events, 24 h"</th>
                        <th scope="col" class="num">"Storage"</th>
                        <th scope="col">"Last activity"</th>
                        <th scope="col" class="num">"Schema"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    })
}

#[component]
fn TenantRow(
    t: TenantSummary,
    open: RwSignal<Option<Editing>>,
    status: ServerAction<SetTenantStatus>,
) -> impl IntoView {
    let suspended = t.status == "suspended";
    let (next, next_label) = if suspended {
        ("active", "Reactivate")
    } else {
        ("suspended", "Suspend")
    };
    let last = t
        .last_activity
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into());
    let rename_to = Editing::Rename {
        slug: t.slug.clone(),
        name: t.name.clone(),
    };
    let delete_it = Editing::Delete {
        slug: t.slug.clone(),
    };
    let open_it = Editing::Support {
        slug: t.slug.clone(),
    };
    let slug = t.slug.clone();
    view! {
        <tr data-tenant=t.slug.clone() data-status=t.status.clone()>
            <th scope="row">
                <span class="strong">{t.name.clone()}</span>
                <br />
                <code class="muted">{t.slug.clone()}</code>
            </th>
            <td>{t.plan.clone()}</td>
            <td><span class="badge" class:warn=suspended>{t.status.clone()}</span></td>
            <td class="num">{count(t.people)}</td>
            <td class="num">{count(t.events_24h)}</td>
            <td class="num">{types::system::bytes(t.storage_bytes)}</td>
            <td class="nowrap">{last}</td>
            <td class="num">{t.migrated_version.to_string()}</td>
            <td class="nowrap">
                <button type="button" class="link tenant-rename" aria-controls="tenant-edit" on:click=move |_| open.set(Some(rename_to.clone()))>"Rename"</button>
                " · "
                <ActionForm action=status attr:class="inline">
                    <input type="hidden" name="slug" value=slug />
                    <input type="hidden" name="status" value=next />
                    <button type="submit" class="link tenant-status">{next_label}</button>
                </ActionForm>
                " · "
                <button type="button" class="link danger tenant-delete" aria-controls="tenant-edit" on:click=move |_| open.set(Some(delete_it.clone()))>"Delete"</button>
                " · "
                <button type="button" class="link tenant-support" aria-controls="tenant-edit" disabled=suspended on:click=move |_| open.set(Some(open_it.clone()))>"Support access"</button>
            </td>
        </tr>
    }
}

/// The form the row's Rename, Delete or Support access opened, under the table; it closes
/// once it succeeds.
#[component]
fn EditPanel(
    open: RwSignal<Option<Editing>>,
    rename: ServerAction<RenameTenant>,
    delete: ServerAction<DeleteTenant>,
    support: ServerAction<BeginSupport>,
) -> impl IntoView {
    let (renamed, deleted) = (rename.value(), delete.value());
    Effect::new(move || {
        let ok = |v: &Option<Result<String, AppError>>| matches!(v, Some(Ok(_)));
        if renamed.with(ok) || deleted.with(ok) {
            open.set(None);
        }
    });
    let close = move |_| open.set(None);
    view! {
        <div id="tenant-edit" aria-live="polite">
            {move || open.get().map(|editing| {
                let slug = editing.slug().to_string();
                match editing {
                    Editing::Rename { name, .. } => EitherOf3::A(view! {
                        <ActionForm action=rename attr:class="stack panel" attr:id="rename-form">
                            <h3>{format!("Rename {slug}")}</h3>
                            <input type="hidden" name="slug" value=slug.clone() />
                            <label>
                                "New name"
                                <input name="name" id="rename-name" value=name required maxlength="200" aria-describedby="rename-error" />
                            </label>
                            {field_error(rename.value(), "name", "rename-error")}
                            <p class="row">
                                <button type="submit" class="button" id="rename-submit">"Rename"</button>
                                <button type="button" class="button secondary" on:click=close>"Cancel"</button>
                            </p>
                        </ActionForm>
                    }),
                    Editing::Support { .. } => EitherOf3::C(view! {
                        <ActionForm action=support attr:class="stack panel" attr:id="support-form">
                            <h3>{format!("Support access to {slug}")}</h3>
                            <p>"You will see its dashboards and sessions as its admins do, and change nothing. Its admins see this access and its reason in their audit log."</p>
                            <input type="hidden" name="slug" value=slug.clone() />
                            <label>
                                "Why (the workspace's admins read this)"
                                <textarea name="reason" id="support-reason" required minlength="10" maxlength="500" rows="3" aria-describedby="support-reason-error"></textarea>
                            </label>
                            {field_error(support.value(), "reason", "support-reason-error")}
                            <label>
                                "For"
                                <select name="minutes" id="support-minutes">
                                    <option value="15">"15 minutes"</option>
                                    <option value="30">"30 minutes"</option>
                                    <option value="60" selected>"1 hour"</option>
                                </select>
                            </label>
                            {show_result(support.value(), &["reason"], |_| view! { <p class="notice" role="status">"Opening…"</p> }.into_any())}
                            <p class="row">
                                <button type="submit" class="button" id="support-submit">"Open read-only"</button>
                                <button type="button" class="button secondary" on:click=close>"Cancel"</button>
                            </p>
                        </ActionForm>
                    }),
                    Editing::Delete { .. } => EitherOf3::B(view! {
                        <ActionForm action=delete attr:class="stack panel" attr:id="delete-form">
                            <h3>{format!("Delete {slug}")}</h3>
                            <p>"Every person, key, event, dashboard and audit entry of this workspace goes at once, and cannot be brought back."</p>
                            <input type="hidden" name="slug" value=slug.clone() />
                            <label>
                                {format!("Type {slug} to confirm")}
                                <input name="confirm" id="delete-confirm" required autocomplete="off" aria-describedby="delete-error" />
                            </label>
                            {field_error(delete.value(), "confirm", "delete-error")}
                            <p class="row">
                                <button type="submit" class="button danger" id="delete-submit">"Delete for good"</button>
                                <button type="button" class="button secondary" on:click=close>"Cancel"</button>
                            </p>
                        </ActionForm>
                    }),
                }
            })}
        </div>
    }
}

#[component]
fn GrantTable(list: Vec<types::system::SupportGrant>) -> impl IntoView {
    if list.is_empty() {
        return Either::Left(view! { <p class="muted" id="grants">"None yet."</p> });
    }
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Either::Right(view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Support accesses">
            <table class="table" id="grants">
                <thead>
                    <tr>
                        <th scope="col">"Workspace"</th>
                        <th scope="col">"By"</th>
                        <th scope="col">"Why"</th>
                        <th scope="col">"From"</th>
                        <th scope="col">"Until"</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|g| {
                        let until = match g.ended_at {
                            Some(at) => format!("{} (ended)", when(at)),
                            None => when(g.expires_at),
                        };
                        view! {
                            <tr data-grant=g.id.to_string()>
                                <td>{g.tenant}</td>
                                <td>{g.by}</td>
                                <td class="wrap">{g.reason}</td>
                                <td class="nowrap">{when(g.created_at)}</td>
                                <td class="nowrap">{until}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    })
}
