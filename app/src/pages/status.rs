//! The status page: the tracer bullet through every layer. Server-rendered with data read
//! from PostgreSQL through a server function, hydrated, refreshed on click, and a live chart
//! fed over the WebSocket.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

use crate::live::LiveChart;

/// What anyone may see: that the service and its database answer, and for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    pub uptime_secs: u64,
    /// Only for super admins: facts about the installation that help an attacker more than
    /// a visitor (exact versions, how many customers it has).
    pub details: Option<StatusDetails>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusDetails {
    pub version: String,
    pub postgres_version: String,
    pub database: String,
    pub database_mode: String,
    pub tenants: i64,
    pub registry_version: i64,
}

#[server(endpoint = "status")]
pub async fn get_status() -> Result<StatusInfo, AppError> {
    let cx = crate::ssr::server_context()?;
    let status = cx.store.status().await.map_err(|e| {
        leptos::logging::error!("status query failed: {e}");
        AppError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "the database is not reachable right now",
        )
    })?;
    let operator = crate::session::ssr::current()
        .await
        .is_some_and(|s| s.viewer.role == types::Role::SuperAdmin);
    Ok(StatusInfo {
        uptime_secs: cx.started_at.elapsed().as_secs(),
        details: operator.then(|| StatusDetails {
            version: env!("CARGO_PKG_VERSION").to_string(),
            postgres_version: status.postgres_version,
            database: status.database,
            database_mode: cx.database_mode.to_string(),
            tenants: status.tenants,
            registry_version: status.registry_version,
        }),
    })
}

#[component]
pub fn StatusPage() -> impl IntoView {
    // Bumped by the Refresh button; the resource re-runs the server function from the
    // browser, which only works once the page is hydrated.
    let refreshes = RwSignal::new(0u32);
    let status = Resource::new(move || refreshes.get(), |_| get_status());

    view! {
        <section class="page-head">
            <h1>"System status"</h1>
            <button
                id="refresh"
                class="button"
                on:click=move |_| refreshes.update(|n| *n += 1)
            >
                "Refresh"
            </button>
            <span class="muted" id="refresh-count" data-count=move || refreshes.get()>
                {move || match refreshes.get() {
                    0 => String::new(),
                    1 => "refreshed once".to_string(),
                    n => format!("refreshed {n} times"),
                }}
            </span>
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading status…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! {
                    <p class="error" role="alert">
                        {move || {
                            errors
                                .get()
                                .into_iter()
                                .map(|(_, e)| e.to_string())
                                .collect::<Vec<_>>()
                                .join("; ")
                        }}
                    </p>
                }
            }>
                {move || Suspend::new(async move {
                    status.await.map(|info| view! { <StatusCard info /> })
                })}
            </ErrorBoundary>
        </Suspense>
        <LiveChart />
    }
}

/// The facts about this installation; pure, so it renders the same on server and client.
#[component]
pub fn StatusCard(info: StatusInfo) -> impl IntoView {
    view! {
        <dl class="card status" id="status-card">
            <dt>"Service"</dt>
            <dd id="status-service">"operational"</dd>
            <dt>"Database"</dt>
            <dd id="status-database">"reachable"</dd>
            <dt>"Uptime"</dt>
            <dd id="status-uptime" data-seconds=info.uptime_secs>
                {format_uptime(info.uptime_secs)}
            </dd>
            {info
                .details
                .map(|d| {
                    view! {
                        <dt>"devpulse"</dt>
                        <dd id="status-version">{d.version}</dd>
                        <dt>"PostgreSQL"</dt>
                        <dd id="status-postgres">{d.postgres_version}</dd>
                        <dt>"Database name"</dt>
                        <dd id="status-database-name">
                            {format!("{} ({})", d.database, d.database_mode)}
                        </dd>
                        <dt>"Schema version"</dt>
                        <dd id="status-schema">{d.registry_version}</dd>
                        <dt>"Tenants"</dt>
                        <dd id="status-tenants">{d.tenants}</dd>
                    }
                })}
        </dl>
    }
}

pub fn format_uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_naturally() {
        assert_eq!(format_uptime(5), "5s");
        assert_eq!(format_uptime(65), "1m 5s");
        assert_eq!(format_uptime(3 * 3600 + 120), "3h 2m");
        assert_eq!(format_uptime(2 * 86_400 + 3600), "2d 1h");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn status_card_renders_on_the_server_with_details_only_when_given() {
        let details = StatusDetails {
            version: "9.9.9".into(),
            postgres_version: "15.18".into(),
            database: "devpulse".into(),
            database_mode: "embedded".into(),
            tenants: 3,
            registry_version: 42,
        };
        let public = StatusInfo {
            uptime_secs: 65,
            details: None,
        };
        let html = Owner::new().with(|| view! { <StatusCard info=public /> }.to_html());
        for needle in [r#"data-seconds="65""#, "1m 5s", "reachable"] {
            assert!(html.contains(needle), "{needle} missing from {html}");
        }
        for secret in ["15.18", "status-tenants", "9.9.9", "embedded"] {
            assert!(!html.contains(secret), "{secret} shown publicly: {html}");
        }
        let operator = StatusInfo {
            uptime_secs: 65,
            details: Some(details),
        };
        let html = Owner::new().with(|| view! { <StatusCard info=operator /> }.to_html());
        for needle in [
            r#"id="status-postgres">15.18<"#,
            r#"id="status-tenants">3<"#,
            "devpulse (embedded)",
        ] {
            assert!(html.contains(needle), "{needle} missing from {html}");
        }
    }
}
