//! The server's integration tests: one binary (linking the server once), a module per subject.
//! Each test runs the real server on port 0 against a fresh database cloned from a template.

mod common;

mod alerts;
mod audit;
mod bad_input;
mod boards;
mod budgets;
mod collector;
mod contract;
mod dashboard;
mod demo;
mod domains;
mod durability;
mod email;
mod embedded;
mod exports;
mod gdpr;
mod http;
mod identity;
mod ingest;
mod live_metrics;
mod mcp;
mod mfa;
mod monitoring;
mod otel_sdk;
mod people;
mod pooler;
mod redis;
mod replica;
mod reports;
mod request_log;
mod retention;
mod saml;
mod scaling;
mod server_fns;
mod sso;
mod system;
mod traces;
mod usage;
mod webhooks;
