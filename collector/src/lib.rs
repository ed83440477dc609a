//! The `devpulse` collector: everything the CLI does, as a library so tests can drive it.
//! See README.md for what it owns and what it may call.

pub mod client;
pub mod config;
pub mod doctor;
pub mod hook;
pub mod import;
pub mod imports;
pub mod mcp;
pub mod report;
pub mod setup;
pub mod spool;
pub mod status;
pub mod sync;

/// A short stable digest of some bytes (hex of the first 16 bytes of SHA-256).
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(bytes)[..16])
}
