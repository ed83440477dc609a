#![doc = include_str!("../README.md")]
#![recursion_limit = "256"]

pub mod access;
pub mod api;
pub mod charts;
pub mod components;
pub mod error;
pub mod grid;
pub mod live;
pub mod pages;
pub mod session;
pub mod widgets;

use components::Protected;
pub use error::AppError;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    ParamSegment, SsrMode, StaticSegment,
};

/// What the server puts into every request's context for server functions to use.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::time::Instant;

    /// The value of the request's cookie `name`, when it carries exactly one: two of a name
    /// mean one was planted (a sibling site can set cookies), and neither is trusted.
    pub fn request_cookie(name: &str) -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        let mut found = parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string());
        match (found.next(), found.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }

    /// Provided by `server` for every page render and server function call.
    #[derive(Clone, Debug)]
    pub struct ServerContext {
        pub store: store::Store,
        pub started_at: Instant,
        /// "embedded" or "external": where the database comes from.
        pub database_mode: &'static str,
        /// The base of links the app shows (invitations, resets).
        pub public_url: String,
        pub auth: crate::session::ssr::SharedAuthenticator,
        /// Where a board change is told, so the live feeds reach the pages showing it.
        pub boards: std::sync::Arc<dyn BoardNotices>,
        /// Seals and opens the secrets kept in the database (TOTP seeds).
        pub sealer: std::sync::Arc<store::sealing::Sealer>,
        /// The cookie a sign-in's second step keeps its challenge in.
        pub mfa_cookie: &'static str,
        /// The cookie the sessions waiting in other workspaces are sealed in.
        pub workspaces_cookie: &'static str,
        /// The workspace's single sign-on settings, kept by the server (which owns the
        /// provider checks and the sealing of secrets).
        pub sso: std::sync::Arc<dyn SsoAdmin>,
        /// The installation's health and support accesses, kept by the server.
        pub system: std::sync::Arc<dyn System>,
        /// Whether the server may send requests to an address an admin typed (webhooks).
        pub outbound: std::sync::Arc<dyn Outbound>,
    }

    /// The server's rule for addresses an admin points it at (`server::outbound`).
    pub trait Outbound: Send + Sync + std::fmt::Debug {
        /// `Err` says why the address may not be used.
        fn check(&self, url: &str) -> Result<(), String>;
    }

    /// What the installation's console asks the server for (the same code as its REST
    /// routes: `GET /api/v1/admin/health`, `GET /api/v1/admin/jobs`,
    /// `POST /api/v1/admin/tenants/{slug}/support`).
    pub trait System: Send + Sync + std::fmt::Debug {
        fn health(
            &self,
        ) -> crate::session::ssr::BoxFuture<'_, Result<types::system::Health, crate::AppError>>;

        /// The jobs: counts, the newest fifty and the recurring work (as
        /// `GET /api/v1/admin/jobs`).
        fn jobs(
            &self,
        ) -> crate::session::ssr::BoxFuture<'_, Result<types::jobs::Jobs, crate::AppError>>;

        /// Opens a support access to `workspace` for the super admin `user`: the grant, and
        /// the `Set-Cookie` value that carries it in the browser.
        fn open_support<'a>(
            &'a self,
            actor: &'a store::audit::Actor,
            user: store::UserId,
            workspace: &'a str,
            reason: &'a str,
            minutes: i64,
        ) -> crate::session::ssr::BoxFuture<
            'a,
            Result<(types::system::SupportGrant, String), crate::AppError>,
        >;
    }

    /// What the sign-in settings page asks the server to do, the same code the REST routes
    /// run (`GET/PUT/DELETE /api/v1/sso`). `workspace` is the caller's tenant slug.
    pub trait SsoAdmin: Send + Sync + std::fmt::Debug {
        fn read<'a>(
            &'a self,
            workspace: &'a str,
        ) -> crate::session::ssr::BoxFuture<'a, Result<Option<types::sso::Settings>, crate::AppError>>;
        fn save<'a>(
            &'a self,
            workspace: &'a str,
            actor: &'a store::audit::Actor,
            form: types::sso::Form,
        ) -> crate::session::ssr::BoxFuture<'a, Result<types::sso::Settings, crate::AppError>>;
        fn remove<'a>(
            &'a self,
            workspace: &'a str,
            actor: &'a store::audit::Actor,
        ) -> crate::session::ssr::BoxFuture<'a, Result<bool, crate::AppError>>;
        /// Looks for the DNS record proving the workspace controls `domain` now.
        fn verify_domain<'a>(
            &'a self,
            workspace: &'a str,
            actor: &'a store::audit::Actor,
            domain: &'a str,
        ) -> crate::session::ssr::BoxFuture<'a, Result<types::sso::DomainProof, crate::AppError>>;
    }

    /// The server's live bus, as the server functions that change boards or metrics see it.
    pub trait BoardNotices: Send + Sync + std::fmt::Debug {
        fn changed(&self, change: types::BoardChange);

        /// Tells live pages and the dashboards' answer cache that `events` of `user`'s
        /// changed in `tenant` (an import rolled back).
        fn committed(&self, tenant: uuid::Uuid, user: store::UserId, events: u64);
    }

    pub fn server_context() -> Result<ServerContext, crate::AppError> {
        leptos::prelude::use_context::<ServerContext>().ok_or_else(|| {
            crate::AppError::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "server context missing",
            )
        })
    }
}

/// The ECharts the page loads: the npm package's version (package.json), so a new one is a new
/// URL and browsers may keep each for a year.
pub const ECHARTS_VERSION: &str = "5.6.0";

/// The content security policy for HTML pages: scripts only from us, plus the one inline
/// hydration script that carries this response's nonce.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The script nonce of one request, made by the server before the page renders (a request
/// extension), so the policy on the response and the scripts in the page always agree.
#[derive(Clone, Debug)]
pub struct PageNonce(pub String);

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The theme someone picked (a cookie); without one the CSS follows the system.
    #[cfg(feature = "ssr")]
    let theme = use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::COOKIE)
                .and_then(|c| c.to_str().ok())
                .and_then(components::theme::Theme::from_cookies)
        })
        .map(|t| t.as_str());
    #[cfg(not(feature = "ssr"))]
    let theme: Option<&str> = None;
    // The server made this request's nonce and sets the policy that names it on the
    // response (`PageNonce`); rendered without the server (tests), the page makes its own.
    #[cfg(feature = "ssr")]
    {
        let given = use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<PageNonce>().map(|n| n.0.clone()));
        match given {
            Some(n) => provide_context(leptos::nonce::Nonce::from_value(n)),
            None => {
                leptos::nonce::provide_nonce();
                if let (Some(nonce), Some(response)) = (
                    leptos::nonce::use_nonce(),
                    use_context::<leptos_axum::ResponseOptions>(),
                ) {
                    response.insert_header(
                        http::header::CONTENT_SECURITY_POLICY,
                        http::HeaderValue::from_str(&page_csp(&nonce)).expect("CSP is ASCII"),
                    );
                }
            }
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                // ECharts is served by us (copied from its npm package), never from a CDN.
                // charming's renderer calls the global it defines.
                <script src=format!("/echarts.min.js?v={ECHARTS_VERSION}")></script>
                <link rel="stylesheet" id="leptos" href=format!("/{}/devpulse.css", options.site_pkg_dir) />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Effects run only in the browser, and only once hydration has wired up the page: the
    // marker tells tests (and people debugging) that the WASM is live.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    components::viewer::provide_viewer();
    components::theme::provide_theme();
    live::MetricsFeed::provide();
    // Pages render whole on the server (SsrMode::Async on every route): signing in and reading
    // work before, and without, the WASM.

    view! {
        <Title text="devpulse" />
        <Router>
            <components::top_bar::TopBar />
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=pages::dashboard::DashboardPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("sessions"), ParamSegment("id")) view=pages::session::SessionPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("status") view=pages::status::StatusPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("login") view=pages::login::LoginPage ssr=SsrMode::Async />
                    <Route path=(StaticSegment("login"), StaticSegment("mfa")) view=pages::mfa::SecondStepPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("profile") view=|| view! { <Protected><pages::profile::ProfilePage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("api-keys") view=|| view! { <Protected><pages::api_keys::ApiKeysPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("users") view=|| view! { <Protected><pages::users::UsersPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("privacy") view=|| view! { <Protected><pages::privacy::PrivacyPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("settings") view=|| view! { <Protected><pages::settings::SettingsPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("audit") view=|| view! { <Protected><pages::audit::AuditPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("sso") view=|| view! { <Protected><pages::sso::SsoPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=(StaticSegment("sso"), StaticSegment("try")) view=|| view! { <Protected><pages::sso_try::SsoTryPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("alerts") view=|| view! { <Protected><pages::alerts::AlertsPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("reports") view=|| view! { <Protected><pages::reports::ReportsPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("teams") view=|| view! { <Protected><pages::teams::TeamsPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("welcome") view=pages::welcome::WelcomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("forgot") view=pages::forgot::ForgotPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("usage") view=|| view! { <Protected><pages::usage::UsagePage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("imports") view=|| view! { <Protected><pages::imports::ImportsPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("system") view=|| view! { <Protected><pages::system::SystemPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=StaticSegment("workspaces") view=|| view! { <Protected><pages::workspaces::WorkspacesPage /></Protected> } ssr=SsrMode::Async />
                    <Route path=(StaticSegment("system"), StaticSegment("tenants")) view=|| view! { <Protected><pages::tenants::TenantsPage /></Protected> } ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_echarts_version_is_the_one_npm_installs() {
        let package = include_str!("../../package.json");
        assert!(
            package.contains(&format!("\"echarts\": \"{}\"", super::ECHARTS_VERSION)),
            "package.json pins another echarts than ECHARTS_VERSION"
        );
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p>
                <A href="/">"Back to the start"</A>
            </p>
        </section>
    }
}
