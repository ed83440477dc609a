//! What every request handler is handed.

use std::{convert::Infallible, sync::Arc, time::Instant};

use axum::{extract::FromRef, extract::Request, response::Response};
use leptos::config::LeptosOptions;
use store::Store;
use tokio::sync::watch;
use tower::util::BoxCloneSyncService;
use types::DbSample;

use crate::{
    auth::{failed_logins::FailedLogins, jwt::Keys, limits::LoginLimiter, SessionCookies},
    bus::Bus,
    ingest::{limits::IngestLimits, wire::Budget, Writer},
};

/// The MCP service, its type erased: naming it would name `mcp::ServerBackend`, and the
/// backend reads `AppState`, so the state would import `mcp` and `mcp` the state.
pub type McpService = BoxCloneSyncService<Request, Response, Infallible>;

/// Everything a request handler may need. A handle: axum clones the state for every layer
/// and handler a request passes through, and a clone of the parts themselves (a dozen
/// handles, strings and boxed services) was a tenth of a small request's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl AppState {
    pub fn new(parts: Parts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Parts {
    pub leptos_options: LeptosOptions,
    /// Where the server may send requests an admin aimed (webhooks).
    pub outbound: crate::outbound::Policy,
    /// Prints dashboards to PDF and sends scheduled reports.
    pub reports: crate::reports::Reporter,
    /// What `/metrics` asks of its scraper; `None`: metrics are not served.
    pub metrics_token: Option<std::sync::Arc<str>>,
    pub store: Store,
    pub started_at: Instant,
    pub database_mode: &'static str,
    pub live: Arc<watch::Sender<Option<DbSample>>>,
    /// Flips to `true` when the server begins shutting down; long-lived connections watch it.
    pub shutdown: watch::Receiver<bool>,
    /// Shared: every request's state is a clone, and an open feed keeps its own.
    pub keys: Arc<Keys>,
    pub login_limits: Arc<LoginLimiter>,
    /// Failed sign-ins waiting to be written to the audit log.
    pub failed_logins: Arc<FailedLogins>,
    pub session_lifetimes: store::refresh_tokens::Lifetimes,
    pub cookies: SessionCookies,
    /// Where people reach this server: the base of invitation and reset links.
    pub public_url: String,
    /// The write path: requests hand events to it and wait for the commit.
    pub writer: Writer,
    /// After-commit `metrics_update`s, for live pages.
    pub bus: Bus,
    /// Access-change notices from the database, for open feeds (`live::listen_access`).
    pub access: tokio::sync::broadcast::Sender<String>,
    pub batch_max_items: usize,
    /// The largest request body, and the most a gzip body may inflate to.
    pub body_limit: usize,
    /// What ingestion requests being decoded may cost together (see `ingest::wire`).
    pub decoding: Budget,
    pub ingest_limits: Arc<IngestLimits>,
    /// Single sign-on starts per client address: each one writes a pending row and may make
    /// the server fetch the provider's discovery document.
    pub sso_starts: Arc<crate::limits::SharedBuckets>,
    /// "Forgot password" requests per client address: each may send an e-mail.
    pub password_requests: Arc<crate::limits::SharedBuckets>,
    /// MCP over Streamable HTTP (`/mcp`).
    pub mcp: McpService,
    /// Single sign-on: the OpenID Connect relying party.
    pub sso: Arc<crate::auth::sso::Sso>,
    /// Looks up the DNS records that prove a workspace controls an e-mail domain.
    pub domain_proofs: Arc<crate::auth::domains::Proofs>,
    /// Seals the secrets the server must read back (client secrets, TOTP seeds).
    pub sealer: Arc<store::sealing::Sealer>,
    /// The installation's health, for its console.
    pub system: Arc<crate::system::System>,
    /// What the write path refused, counted for each workspace's usage page.
    pub rejections: Arc<crate::ingest::rejections::Rejections>,
}

impl Parts {
    /// How password links reach their people: by e-mail, under this server's address.
    pub fn post(&self) -> store::invitations::Post<'_> {
        store::invitations::Post {
            sealer: &self.sealer,
            public_url: &self.public_url,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
