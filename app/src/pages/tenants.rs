//! `/tenants`: the installation's workspaces, for super admins.

use leptos::{either::Either, prelude::*};
use serde::{Deserialize, Serialize};

use crate::AppError;

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
