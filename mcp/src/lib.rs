//! devpulse's MCP surface: the tools, resources and prompt that let an assistant record and
//! read Claude Code usage, over any [`Backend`].
//!
//! - Tools: `record_session_start`, `record_session_end`, `record_tool_usage`,
//!   `get_session_metrics`, `get_tool_metrics`, `query_dashboard`.
//! - Resources: [`SUMMARY_URI`] (the last 24 hours) and [`TRENDS_URI`] (the last 7 days).
//! - Prompt: `analyze-productivity`.
//!
//! The server implements [`Backend`] with store calls and serves
//! [`streamable_http_service`]; the collector implements it over the REST API and runs
//! [`serve_stdio`].
//!
//! Errors: bad tool arguments (a missing field, an unknown timeframe or metric, a too long id)
//! come back as a tool result with `isError: true` whose text names the field, so the
//! assistant can correct itself. A [`BackendError`] becomes a protocol error (see its
//! variants), except [`BackendError::NotFound`] in a tool, which is an error result too.

mod args;
mod backend;
mod render;
mod server;
mod transport;

pub use backend::{Backend, BackendError, Cx, Range, SessionQuery};
pub use rmcp::transport::streamable_http_server::{
    session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
pub use server::{Devpulse, SUMMARY_URI, TRENDS_URI};
pub use transport::{serve_stdio, streamable_http_service};
