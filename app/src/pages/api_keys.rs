//! `/api-keys`: the caller's own keys (create, shown once; revoke). Tenant admins manage
//! everyone's through the REST API.

use leptos::{either::Either, prelude::*};
use types::api_keys::{ApiKey, CreatedKey};

use crate::{components::forms::Changes, AppError};

#[server(endpoint = "api_keys/list")]
pub async fn list_api_keys() -> Result<Vec<ApiKey>, AppError> {
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
    Ok(keys)
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
        api_key: key,
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
                                                    let revoked = k.revoked_at.is_some();
                                                    let scopes = k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                                                    view! {
                                                        <tr data-prefix=row_prefix class:revoked=revoked>
                                                            <td>{k.name}</td>
                                                            <td>
                                                                <code>{k.prefix}</code>
                                                            </td>
                                                            <td>{scopes}</td>
                                                            <td>{when(k.created_at)}</td>
                                                            <td>{k.last_used_at.map(when).unwrap_or_else(|| "never".into())}</td>
                                                            <td>
                                                                {if revoked {
                                                                    Either::Left(view! { <span class="muted">"revoked"</span> })
                                                                } else {
                                                                    Either::Right(
                                                                        view! {
                                                                            <ActionForm action=revoke>
                                                                                <input type="hidden" name="id" value=k.id.to_string() />
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

/// A key's moment as the table shows it (UTC, to the minute).
fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}
