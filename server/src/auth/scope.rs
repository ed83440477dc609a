//! The transaction a caller's requests run in, shared by REST and MCP (and by everything that
//! reads in the caller's name) so that none can reach past the caller's tenant.

use store::Store;

use super::Caller;
use crate::error::ApiError;

pub use store::ScopedTx as Scoped;

/// A transaction in the caller's scope: their tenant's, or the registry for super admins.
pub async fn scoped(store: &Store, caller: &Caller) -> Result<Scoped, ApiError> {
    Ok(store
        .scoped_tx(caller.tenant.as_ref().map(|t| t.scope()))
        .await?)
}
