//! The model: wire types of a handle's configuration (what rule files hold, what the API
//! stores, what a snapshot carries), the campaign lifecycle, identifier rules, and the
//! diagnostics that point into a document. Serde checks form; meaning is the engine's.
//! Depends on nothing else in the crate.

pub mod config;
pub mod diag;
pub mod ids;
pub mod lifecycle;
pub mod page;

// Rule files on disk, merged into one configuration with every diagnostic located at its
// file, line and column. Native only (the worker never reads files); it is the on-disk
// form of the model, so the CLI, the tests and the benchmarks share it.
#[cfg(not(target_arch = "wasm32"))]
pub mod files;
