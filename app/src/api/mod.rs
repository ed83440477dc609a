//! Server functions more than one page uses.

pub mod alerts;
pub mod boards;
pub mod budgets;
pub mod dashboard;
pub mod reports;
pub mod settings;
pub mod webhooks;
#[cfg(feature = "ssr")]
pub mod workspace;
