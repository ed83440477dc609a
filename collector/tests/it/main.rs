//! The collector's integration tests, one binary: the CLI as a laptop runs it, and its reports
//! against ccusage.

mod ccusage;
mod cli;
mod privacy;
