//! Replays every kept fuzz input through the property its fuzz target checks
//! (fuzz/checks/): the minimised corpus (fuzz/corpus/<target>/, which `cargo fuzz cmin`
//! may thin out) and the inputs of fixed crashes (fuzz/regressions/<target>/, kept for
//! good). Fuzzing explores (`make fuzz`, cargo-fuzz with AddressSanitizer); this keeps
//! what it found as a plain regression test of `cargo test` on stable.
// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

/// The files of `fuzz/<kind>/<target>`, sorted; none if the directory does not exist.
fn inputs(kind: &str, target: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|entry| entry.expect("a readable fuzz input").path())
        .collect();
    files.sort();
    files
}

/// Runs `run` on every kept input of `target`; returns how many corpus inputs there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let corpus = inputs("corpus", target);
    for file in corpus.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(file).expect("a readable fuzz input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its property",
            file.display()
        );
    }
    corpus.len()
}

macro_rules! corpus_tests {
    ($($target:ident),* $(,)?) => {$(
        #[test]
        fn $target() {
            let n = replay(stringify!($target), checks::$target::run);
            assert!(n >= 10, "{}: only {n} corpus inputs kept", stringify!($target));
        }
    )*};
}

corpus_tests!(
    api_bodies,
    decide,
    edge_form,
    headers,
    query_overrides,
    rule_files,
    template,
    tokens
);
