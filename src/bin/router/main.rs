//! `router`: the command-line tool for rule files (native only).
//!
//! ```text
//! router validate rules/gharart                        every problem, with file, line, id and JSON path
//! router preview rules/gharart --entry festive --country IN --device mobile [--explain]
//! router matrix rules/gharart --entry festive          countries x devices, as the API's route preview
//! router audit rules/gharart                           collisions, shadowed rules, unroutable destinations
//! router push rules/gharart --api URL --token-file F   PUT the configuration to a running worker
//! router push rules/gharart --local                    the snapshot into local KV (wrangler)
//! router history --api URL --token-file F              the change history of the configuration
//! router restore 7 --api URL --token-file F            an earlier version, as a new one
//! router takedown --handle gharart --local             a tombstone: the handle answers 404
//! router schema                                        the JSON Schema of a rule file
//! router snapshot rules/gharart                        the compiled snapshot JSON that KV holds
//! router token preview --handle gharart                a preview token signed with TOKEN_SECRET
//! router pat --handle gharart                          a management API token and its SQL
//! ```
//!
//! `--json` on every command; exit codes 0 ok, 1 problems found, 2 could not run.

#[cfg(not(target_arch = "wasm32"))]
mod audit;
#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod common;
#[cfg(not(target_arch = "wasm32"))]
mod history;
#[cfg(not(target_arch = "wasm32"))]
mod localkv;
#[cfg(not(target_arch = "wasm32"))]
mod locate;
#[cfg(not(target_arch = "wasm32"))]
mod matrix;
#[cfg(not(target_arch = "wasm32"))]
mod preview;
#[cfg(not(target_arch = "wasm32"))]
mod push;
#[cfg(not(target_arch = "wasm32"))]
mod remote;
#[cfg(not(target_arch = "wasm32"))]
mod synth;
#[cfg(not(target_arch = "wasm32"))]
mod takedown;
#[cfg(not(target_arch = "wasm32"))]
mod token;
#[cfg(not(target_arch = "wasm32"))]
mod validate;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
