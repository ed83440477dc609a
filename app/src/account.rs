//! Signing in and out, the top bar, and the account pages: profile, API keys and tenants (super
//! admins); the people pages are in `people`. Every server function here checks the session
//! and the permission it needs on the server, whatever the page shows.

use leptos::{either::Either, prelude::*};
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    components::forms::{error_text, field_error, Changes},
    AppError,
};

use types::Permission;

use crate::session::{whoami, Viewer};

/// The signed-in person, loaded once per page and shared through context.
#[derive(Clone, Copy)]
pub struct ViewerResource(pub Resource<Result<Option<Viewer>, AppError>>);

pub fn provide_viewer() -> ViewerResource {
    let r = ViewerResource(Resource::new(|| (), |_| whoami()));
    provide_context(r);
    r
}

#[component]
pub fn TopBar() -> impl IntoView {
    let viewer = expect_context::<ViewerResource>().0;
    // The dashboard's kiosk (TV) mode shows the board alone.
    let query = leptos_router::hooks::use_query_map();
    let location = leptos_router::hooks::use_location();
    let kiosk = move || {
        location.pathname.with(|p| p == "/")
            && query.with(|q| {
                q.get("kiosk")
                    .is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "no"))
            })
    };
    view! {
        <header class="topbar" class:kiosk=kiosk>
            <A href="/" attr:class="brand">
                "devpulse"
            </A>
            <nav aria-label="Main">
                <A href="/status">"Status"</A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match viewer.await.ok().flatten() {
                            Some(v) => {
                                Either::Left(
                                    view! {
                                        {v
                                            .tenant
                                            .clone()
                                            .map(|t| {
                                                view! {
                                                    <span class="tenant" id="tenant-name" title="Workspace">
                                                        {t}
                                                    </span>
                                                    <A href="/" exact=true>"Dashboard"</A>
                                                }
                                            })}
                                        {v
                                            .tenant
                                            .is_some()
                                            .then(|| view! { <A href="/api-keys">"API keys"</A> })}
                                        {(v.tenant.is_some() && v.can(Permission::UserManage))
                                            .then(|| view! { <A href="/users">"Users"</A> })}
                                        {v.tenant.is_some().then(|| view! { <A href="/teams">"Teams"</A> })}
                                        {v
                                            .can(Permission::TenantsManage)
                                            .then(|| view! { <A href="/tenants">"Tenants"</A> })}
                                        <A href="/profile">"Profile"</A>
                                        <span class="who" id="who" data-role=v.role.as_str()>
                                            {format!("{} · {}", v.email, v.role)}
                                        </span>
                                        <form method="post" action="/api/v1/auth/logout" class="inline">
                                            <button type="submit" id="sign-out" class="link">
                                                "Sign out"
                                            </button>
                                        </form>
                                    },
                                )
                            }
                            None => Either::Right(view! { <A href="/login">"Sign in"</A> }),
                        }
                    })}
                </Transition>
            </nav>
            <crate::components::theme::ThemeToggle />
        </header>
    }
}

/// A plain HTML form posting to `/auth/login`: it works before (and without) the WASM.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.with(|q| q.get(k).unwrap_or_default());
    let message = move || match get("error").as_str() {
        "credentials" => "Wrong workspace, e-mail or password.",
        "suspended" => "This workspace is suspended.",
        "throttled" => "Too many attempts. Wait a little and try again.",
        "invalid" => "Check this field.",
        "unavailable" => "Signing in is not possible right now. Try again shortly.",
        "sso_only" => {
            "This workspace signs in through its identity provider: use Continue with SSO below."
        }
        "mfa_expired" => "That sign-in expired or had too many wrong codes. Sign in again.",
        _ => "",
    };
    let notice = move || match get("notice").as_str() {
        "password_set" => "Your password is set. Sign in with it.",
        "password_changed" => "Your password was changed and every session ended. Sign in again.",
        _ => "",
    };
    let error_for = move |field: &'static str| {
        move || {
            (get("field") == field && !message().is_empty()).then(|| {
                view! {
                    <p class="field-error" id=format!("{field}-error") role="alert">
                        {message()}
                    </p>
                }
            })
        }
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            {move || {
                (!notice().is_empty())
                    .then(|| view! { <p class="notice" role="status" id="notice">{notice()}</p> })
            }}
            {move || {
                (get("field").is_empty() && !message().is_empty())
                    .then(|| view! { <p class="error" role="alert">{message()}</p> })
            }}
            {move || {
                (get("error") == "sso").then(|| view! {
                    <p class="error" role="alert" id="sso-error">
                        "Single sign-on did not complete: " {get("detail")}
                    </p>
                })
            }}
            <form method="post" action="/auth/login" class="stack" id="login-form">
                <input type="hidden" name="next" value=get("next") />
                <label>
                    "Workspace"
                    <input
                        name="tenant"
                        id="tenant"
                        autocomplete="organization"
                        placeholder="e.g. demo (empty for installation admins)"
                        value=get("tenant")
                    />
                </label>
                {error_for("tenant")}
                <label>
                    "E-mail"
                    <input
                        name="email"
                        id="email"
                        type="email"
                        required
                        autocomplete="username"
                        value=get("email")
                    />
                </label>
                {error_for("email")}
                <label>
                    "Password"
                    <input
                        name="password"
                        id="password"
                        type="password"
                        required
                        autocomplete="current-password"
                    />
                </label>
                {error_for("password")}
                <button type="submit" class="button" id="sign-in">
                    "Sign in"
                </button>
            </form>
            <p class="muted or">"or through your organisation's identity provider"</p>
            // Single sign-on: a plain GET form, so it works before the WASM too; the server
            // sends the person on to their workspace's identity provider, found by the
            // workspace's name or by the domain of their work address.
            <form method="get" action="/auth/sso/start" class="stack sso-form" id="sso-form">
                <input type="hidden" name="next" value=get("next") />
                <label>
                    "Work e-mail or workspace"
                    <input
                        name="workspace"
                        id="sso-workspace"
                        required
                        autocomplete="email"
                        maxlength="320"
                        value=move || { let w = get("workspace"); if w.is_empty() { get("tenant") } else { w } }
                    />
                </label>
                <button type="submit" class="button secondary" id="sso-continue">
                    "Continue with SSO"
                </button>
            </form>
        </section>
    }
}

#[server(endpoint = "profile/name")]
pub async fn update_name(name: String) -> Result<String, AppError> {
    let s = crate::session::ssr::require_fn::<UpdateName>().await?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(s.scope.as_ref()).await?;
    let user = store::accounts::set_name(tx.conn(), s.user_id, &name).await?;
    tx.commit().await?;
    Ok(user.name)
}

/// Changing the password ends every session, this one included: back to the sign-in page.
#[server(endpoint = "profile/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use store::accounts::PasswordChangeError as E;
    let s = crate::session::ssr::require_fn::<ChangePassword>().await?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.scoped_tx(s.scope.as_ref()).await?;
    let result = store::accounts::change_password(
        tx.conn(),
        &s.actor,
        s.user_id,
        current_password,
        new_password,
    )
    .await;
    if result.is_ok() {
        tx.commit().await?;
    }
    match result {
        Ok(()) => {
            leptos_axum::redirect("/login?notice=password_changed");
            Ok(())
        }
        Err(E::CurrentWrong) => Err(AppError::invalid(
            "current_password",
            "current password: is wrong",
        )),
        Err(E::Policy(reason)) => Err(AppError::invalid(
            "new_password",
            format!("new password: {reason}"),
        )),
        Err(E::Store(e)) => Err(AppError::from(e)),
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let viewer = expect_context::<ViewerResource>().0;
    let rename = ServerAction::<UpdateName>::new();
    let password = ServerAction::<ChangePassword>::new();
    let error = |e: AppError| {
        view! {
            <p class="field-error" role="alert">
                {error_text(&e)}
            </p>
        }
    };
    view! {
        <section class="card">
            <h1>"Profile"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match viewer.await.ok().flatten() {
                        Some(v) => {
                            Either::Left(
                                view! {
                                    <dl class="status" id="profile">
                                        <dt>"E-mail"</dt>
                                        <dd>{v.email.clone()}</dd>
                                        <dt>"Role"</dt>
                                        <dd id="profile-role">{v.role.as_str()}</dd>
                                        <dt>"Workspace"</dt>
                                        <dd>{v.tenant.clone().unwrap_or_else(|| "— (installation)".into())}</dd>
                                        <dt>"Permissions"</dt>
                                        <dd id="profile-permissions">{v
                                                .permissions()
                                                .iter()
                                                .map(|p| p.as_str())
                                                .collect::<Vec<_>>()
                                                .join(", ")}</dd>
                                    </dl>
                                    <h2>"Name"</h2>
                                    // Only roles with profile.edit may rename themselves (the
                                    // server refuses the others whatever the page shows).
                                    {if v.can(Permission::ProfileEdit) {
                                        Either::Left(view! {
                                            <ActionForm action=rename attr:class="row" attr:id="name-form">
                                                <input name="name" id="profile-name" value=v.name.clone() maxlength="200" placeholder="Your name" />
                                                <button type="submit" class="button" id="save-name">
                                                    "Save"
                                                </button>
                                            </ActionForm>
                                            {move || match rename.value().get() {
                                                Some(Ok(_)) => Some(view! { <p class="notice" role="status" id="name-saved">"Saved."</p> }.into_any()),
                                                Some(Err(e)) => Some(error(e).into_any()),
                                                None => None,
                                            }}
                                        })
                                    } else {
                                        Either::Right(view! {
                                            <p id="profile-name-text">
                                                {if v.name.is_empty() { "—".to_string() } else { v.name.clone() }}
                                            </p>
                                            <p class="muted">
                                                {format!("Your role ({}) does not include profile.edit, so the name is set by whoever manages the workspace.", v.role)}
                                            </p>
                                        })
                                    }}
                                    <h2>"Password"</h2>
                                    <p class="muted">"Changing it signs you out everywhere, here included."</p>
                                    <ActionForm action=password attr:class="stack narrow" attr:id="password-form">
                                        <input type="email" value=v.email.clone() hidden autocomplete="username" />
                                        <label>
                                            "Current password"
                                            <input name="current_password" id="current-password" type="password" required autocomplete="current-password" aria-describedby="current-password-error" />
                                        </label>
                                        {field_error(password.value(), "current_password", "current-password-error")}
                                        <label>
                                            "New password"
                                            <input name="new_password" id="new-password" type="password" required minlength="12" autocomplete="new-password" aria-describedby="new-password-error" />
                                        </label>
                                        {field_error(password.value(), "new_password", "new-password-error")}
                                        {move || password.value().get().and_then(|r| r.err()).filter(|e| e.general().is_some()).map(error)}
                                        <button type="submit" class="button" id="change-password">
                                            "Change password"
                                        </button>
                                    </ActionForm>
                                    <crate::pages::mfa::SecurityPanel />
                                },
                            )
                        }
                        None => Either::Right(view! { <SignInFirst /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn SignInFirst() -> impl IntoView {
    view! {
        <p class="error" role="alert">
            "Sign in first. " <A href="/login">"Sign in"</A>
        </p>
    }
}

// --- API keys ------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub key: String,
    pub prefix: String,
}

#[server(endpoint = "api_keys/list")]
pub async fn list_api_keys() -> Result<Vec<KeyRow>, AppError> {
    let s = crate::session::ssr::require_fn::<ListApiKeys>().await?;
    let scope = s.scope.ok_or_else(|| {
        AppError::new(
            http::StatusCode::NOT_FOUND,
            "API keys belong to a workspace",
        )
    })?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.tenant_tx(&scope).await?;
    let keys = store::api_keys::list(&mut tx, Some(s.user_id)).await?;
    tx.commit().await?;
    Ok(keys
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            created_at: k.created_at.format("%Y-%m-%d %H:%M").to_string(),
            last_used_at: k
                .last_used_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            revoked: k.revoked_at.is_some(),
        })
        .collect())
}

#[server(endpoint = "api_keys/create")]
pub async fn create_api_key(
    name: String,
    ingest: Option<String>,
    read: Option<String>,
) -> Result<CreatedKey, AppError> {
    use store::api_keys::Scope;
    let s = crate::session::ssr::require_fn::<CreateApiKey>().await?;
    let scope = s.scope.ok_or_else(|| {
        AppError::new(
            http::StatusCode::NOT_FOUND,
            "API keys belong to a workspace",
        )
    })?;
    let tenant = s.viewer.tenant.clone().unwrap_or_default();
    let slug = store::Slug::parse(&tenant)?;
    let scopes: Vec<Scope> = [
        (ingest.is_some(), Scope::Ingest),
        (read.is_some(), Scope::Read),
    ]
    .into_iter()
    .filter_map(|(on, scope)| on.then_some(scope))
    .collect();
    if scopes.is_empty() {
        return Err(AppError::new(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "choose at least one scope",
        ));
    }
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.tenant_tx(&scope).await?;
    let (key, secret) =
        store::api_keys::create(&mut tx, &s.actor, &slug, s.user_id, &name, &scopes, None).await?;
    tx.commit().await?;
    Ok(CreatedKey {
        key: secret,
        prefix: key.prefix,
    })
}

#[server(endpoint = "api_keys/revoke")]
pub async fn revoke_api_key(id: String) -> Result<(), AppError> {
    let s = crate::session::ssr::require_fn::<RevokeApiKey>().await?;
    let scope = s.scope.ok_or_else(|| {
        AppError::new(
            http::StatusCode::NOT_FOUND,
            "API keys belong to a workspace",
        )
    })?;
    let id: uuid::Uuid = id
        .parse()
        .map_err(|_| AppError::new(http::StatusCode::NOT_FOUND, "no such key"))?;
    let store = crate::ssr::server_context()?.store;
    let mut tx = store.tenant_tx(&scope).await?;
    // Only the caller's own keys: anyone else's id is not found.
    store::api_keys::revoke(&mut tx, &s.actor, id, Some(s.user_id)).await?;
    tx.commit().await?;
    Ok(())
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let changes = Changes::default()
        .watch(create.value())
        .watch(revoke.value());
    let keys = Resource::new(move || changes.get(), |_| list_api_keys());
    view! {
        <section class="card">
            <h1>"API keys"</h1>
            <p class="muted">
                "Keys let the collector, Claude Code's OpenTelemetry exporter and scripts send data as you. "
                "A key is shown once, when it is created."
            </p>
            <ActionForm action=create attr:class="row" attr:id="new-key-form">
                <input name="name" id="key-name" placeholder="Name, e.g. laptop" required maxlength="100" />
                <label class="check">
                    <input type="checkbox" name="ingest" id="scope-ingest" checked />
                    " ingest"
                </label>
                <label class="check">
                    <input type="checkbox" name="read" id="scope-read" />
                    " read"
                </label>
                <button type="submit" class="button" id="create-key">
                    "Create key"
                </button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(created)) => {
                    Either::Left(
                        view! {
                            <div class="new-key" role="status">
                                <p>"Copy this key now; it will not be shown again:"</p>
                                <code id="new-key">{created.key}</code>
                            </div>
                        },
                    )
                }
                Some(Err(e)) => Either::Right(Some(view! { <p class="error" role="alert">{e.to_string()}</p> })),
                None => Either::Right(None),
            }}
        </section>
        <section class="card">
            <Suspense fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert">{e.to_string()}</p> }),
                        Ok(rows) => {
                            Either::Right(
                                view! {
                                    <table class="table" id="keys">
                                        <thead>
                                            <tr>
                                                <th>"Name"</th>
                                                <th>"Prefix"</th>
                                                <th>"Scopes"</th>
                                                <th>"Created"</th>
                                                <th>"Last used"</th>
                                                <th></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows
                                                .into_iter()
                                                .map(|k| {
                                                    let row_prefix = k.prefix.clone();
                                                    view! {
                                                        <tr data-prefix=row_prefix class:revoked=k.revoked>
                                                            <td>{k.name}</td>
                                                            <td>
                                                                <code>{k.prefix}</code>
                                                            </td>
                                                            <td>{k.scopes.join(", ")}</td>
                                                            <td>{k.created_at}</td>
                                                            <td>{k.last_used_at.unwrap_or_else(|| "never".into())}</td>
                                                            <td>
                                                                {if k.revoked {
                                                                    Either::Left(view! { <span class="muted">"revoked"</span> })
                                                                } else {
                                                                    Either::Right(
                                                                        view! {
                                                                            <ActionForm action=revoke>
                                                                                <input type="hidden" name="id" value=k.id />
                                                                                <button type="submit" class="link">
                                                                                    "Revoke"
                                                                                </button>
                                                                            </ActionForm>
                                                                        },
                                                                    )
                                                                }}
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                },
                            )
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

// --- tenants ---------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub status: String,
}

#[server(endpoint = "tenants/list")]
pub async fn list_tenants() -> Result<Vec<TenantRow>, AppError> {
    crate::session::ssr::require_fn::<ListTenants>().await?;
    let store = crate::ssr::server_context()?.store;
    let tenants = store::tenants::list(store.pool()).await?;
    Ok(tenants
        .into_iter()
        .map(|t| TenantRow {
            slug: t.slug.to_string(),
            name: t.name,
            status: match t.status {
                store::TenantStatus::Active => "active".into(),
                store::TenantStatus::Suspended => "suspended".into(),
            },
        })
        .collect())
}

#[component]
pub fn TenantsPage() -> impl IntoView {
    let tenants = Resource::new(|| (), |_| list_tenants());
    view! {
        <section class="card">
            <h1>"Tenants"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tenants.await {
                        Err(e) => Either::Left(view! { <p class="error" role="alert" id="page-error">{e.to_string()}</p> }),
                        Ok(rows) => {
                            Either::Right(
                                view! {
                                    <table class="table" id="tenants">
                                        <thead>
                                            <tr>
                                                <th>"Slug"</th>
                                                <th>"Name"</th>
                                                <th>"Status"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {rows
                                                .into_iter()
                                                .map(|t| {
                                                    view! {
                                                        <tr>
                                                            <td>{t.slug}</td>
                                                            <td>{t.name}</td>
                                                            <td>{t.status}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                },
                            )
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
