//! One module per route.

pub mod dashboard;
pub mod mfa;
pub mod session;
pub mod sso;
pub mod sso_try;
