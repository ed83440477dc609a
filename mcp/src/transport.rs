//! Serving [`Devpulse`] over stdio (the collector) or Streamable HTTP (the server).

use std::sync::Arc;

use rmcp::{
    transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    },
    ServiceExt,
};

use crate::{Backend, Devpulse};

/// Serves over stdio until the client disconnects. Nothing else may write to stdout meanwhile
/// (log to stderr).
pub async fn serve_stdio<B: Backend>(
    backend: Arc<B>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let running = Devpulse::new(backend)
        .serve(rmcp::transport::stdio())
        .await?;
    running.waiting().await?;
    Ok(())
}

/// A Streamable HTTP tower service, for axum's `Router::nest_service("/mcp", ...)`.
///
/// `make` gives the backend of each handler rmcp creates (one per MCP session, and one per
/// request in stateless mode); it may simply clone one `Arc`. Who is calling is not known
/// here but per request: each [`Backend`] method gets a [`Cx`](crate::Cx) whose `parts` are
/// that HTTP request's parts, extensions included, so an authentication middleware's
/// extension is read with `cx.extension::<Caller>()`.
///
/// `config` matters: by default rmcp accepts only loopback `Host` headers (list the public
/// host names with `with_allowed_hosts`, or `disable_allowed_hosts` behind a trusted proxy),
/// keeps sessions in this process's memory (use `with_legacy_session_mode(false)` for
/// stateless serving across instances), and keeps SSE streams open until its
/// `cancellation_token` is cancelled (pass a child of the shutdown token, or a graceful
/// shutdown waits on them).
pub fn streamable_http_service<B, F>(
    make: F,
    config: StreamableHttpServerConfig,
) -> StreamableHttpService<Devpulse<B>, LocalSessionManager>
where
    B: Backend,
    F: Fn() -> Arc<B> + Send + Sync + 'static,
{
    let factory = Devpulse::factory(make);
    StreamableHttpService::new(move || Ok(factory()), Default::default(), config)
}
