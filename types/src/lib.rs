#![doc = include_str!("../README.md")]

pub mod alerts;
pub mod anomalies;
pub mod api_keys;
pub mod audit;
pub mod baselines;
pub mod boards;
pub mod budgets;
pub mod dashboard;
pub mod gdpr;
pub mod ids;
pub mod jobs;
pub mod layout;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod numbers;
pub mod people;
pub mod problem;
pub mod range;
pub mod reports;
pub mod retention;
pub mod roles;
pub mod settings;
pub mod sso;
pub mod system;
pub mod usage;
pub mod viewer;
pub mod webhooks;

pub use ids::{AlertRuleId, BoardId, BudgetId, ImportId, ReportId, TeamId, TenantId, UserId};
pub use live::{AlertNotice, BoardChange, DbSample, LiveMessage, MetricsUpdate, SystemAlert};
pub use problem::{FieldError, Invalid, Problem};
pub use range::{Grain, TimeRange};
pub use roles::{Access, Permission, Role};
pub use viewer::{Membership, Support, Theme, Viewer};
