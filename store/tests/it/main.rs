//! The store's integration tests, in one binary: each test binary links the crate and all of
//! its dependencies again, so one per crate keeps `cargo test` quick. One module per subject;
//! each test gets a fresh database (see `store::testing`).

mod answers;
mod events;
mod gdpr;
mod helpers;
mod imports;
mod jobs;
mod person_rollups;
mod pools;
mod retention;
mod sessions;
mod tenant_isolation;
