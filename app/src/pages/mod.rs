//! One module per route.

pub mod dashboard;
pub mod session;
