//! `router`: the command-line tool for rule files (native only).
//!
//! ```text
//! router validate rules/gharart            every problem, with file, id and JSON path
//! router snapshot rules/gharart            the compiled snapshot JSON that KV holds
//! router token preview --handle gharart    a preview token signed with TOKEN_SECRET
//! ```

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
