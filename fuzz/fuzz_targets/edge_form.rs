//! cargo-fuzz target; the property lives in fuzz/checks/edge_form.rs, shared with the
//! corpus replay of `cargo test` (tests/fuzz_corpus.rs).
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::edge_form::run(data));
