//! Server functions more than one page uses.

pub mod dashboard;
pub mod settings;
