//! Pure-Rust core of `insforge_integrations`.
//!
//! Nothing here imports pgrx or touches Postgres: every module is covered by
//! plain `cargo test -p insforge_core`, and is what the fuzz targets drive.
//! The extension crate (`src/`) is a thin SQL shell over these modules.

pub mod jwt;
pub mod sqltext;
pub mod validate;
pub mod x402;
