//! Replays every kept fuzz corpus input (fuzz/corpus/<target>/) through the property its
//! fuzz target checks (fuzz/checks/). Fuzzing explores (`make fuzz`, cargo-fuzz with
//! AddressSanitizer); this keeps what it found, including the inputs of fixed crashes,
//! as a plain regression test of `cargo test` on stable.

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::Path;

/// Runs `run` on every file of `fuzz/corpus/<target>`; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its property",
            file.display()
        );
    }
    files.len()
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
    headers,
    query_overrides,
    rule_files,
    template,
    tokens
);
