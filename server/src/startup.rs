//! Why the server could not start.

use std::net::SocketAddr;

use crate::{auth::jwt::KeyError, config::ConfigError};

/// Startup failures, each with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Setup(String),
}
