//! One module per route.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod dashboard;
pub mod forgot;
pub mod imports;
pub mod login;
pub mod mfa;
pub mod privacy;
pub mod profile;
pub mod reports;
pub mod session;
pub mod settings;
pub mod sso;
pub mod sso_try;
pub mod status;
pub mod system;
pub mod teams;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod welcome;
pub mod workspaces;
