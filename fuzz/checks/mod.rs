//! The properties each fuzz target checks, one module per target. Shared by the cargo-fuzz
//! targets (fuzz/fuzz_targets/) and by `cargo test`, which replays every kept corpus
//! input through them (tests/fuzz_corpus.rs), so a fixed crash stays fixed without
//! cargo-fuzz or a nightly compiler.
#![allow(dead_code)] // each fuzz target uses one module

pub(crate) mod api_bodies;
pub(crate) mod decide;
pub(crate) mod edge_form;
pub(crate) mod headers;
pub(crate) mod query_overrides;
pub(crate) mod rule_files;
pub(crate) mod template;
pub(crate) mod tokens;

/// The festive rules (rules/gharart), from the crate root or from fuzz/.
pub(crate) fn festive_dir() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if here.join("rules").is_dir() {
        here
    } else {
        here.parent().expect("fuzz/ has a parent")
    };
    root.join("rules/gharart")
}
