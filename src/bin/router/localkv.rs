//! Local KV through wrangler (`wrangler kv key get|put --local`), as `make dev` seeds it:
//! what `router push --local` and `router takedown --local` read and write.

use std::path::{Path, PathBuf};
use std::process::Command;

use edge_router::engine::snapshot::{peek, Head};

use crate::common::CliError;

/// Where local KV lives and the wrangler that reaches it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalKv<'a> {
    /// wrangler's local state directory.
    pub(crate) persist_to: &'a Path,
    /// The wrangler to run.
    pub(crate) wrangler: &'a Path,
}

impl LocalKv<'_> {
    /// The state directory, as text for wrangler and for messages.
    pub(crate) fn persist(&self) -> String {
        self.persist_to.to_string_lossy().into_owned()
    }

    /// The head (revision, tombstone or not) of what local KV holds under `key`, if
    /// anything readable.
    pub(crate) fn head(&self, key: &str) -> Option<Head> {
        peek(&self.run(&self.argv("get", key, &[])).ok()?)
    }

    /// Stores `value` under `key` (through a temporary file, as `kv key put --path`).
    pub(crate) fn put(&self, key: &str, value: &[u8]) -> Result<(), CliError> {
        let file: PathBuf = std::env::temp_dir().join(format!(
            "router-kv-{}-{}",
            std::process::id(),
            key.replace(':', "-")
        ));
        std::fs::write(&file, value).map_err(|error| CliError::Io {
            path: file.clone(),
            error,
        })?;
        let path = file.to_string_lossy().into_owned();
        let put = self.run(&self.argv("put", key, &["--path", &path]));
        let _ = std::fs::remove_file(&file);
        put.map(|_| ())
    }

    /// `kv key <op> --local --persist-to … --binding CONFIG <key> <rest>`.
    fn argv(&self, op: &str, key: &str, rest: &[&str]) -> Vec<String> {
        let head = ["kv", "key", op, "--local", "--persist-to"];
        let mut argv: Vec<String> = head.iter().map(|a| (*a).to_owned()).collect();
        argv.push(self.persist());
        argv.extend(["--binding", "CONFIG", key].map(str::to_owned));
        argv.extend(rest.iter().map(|a| (*a).to_owned()));
        argv
    }

    /// Runs wrangler; its standard output, or why it failed.
    fn run(&self, argv: &[String]) -> Result<Vec<u8>, CliError> {
        let output = Command::new(self.wrangler)
            .args(argv)
            .env("WRANGLER_SEND_METRICS", "false")
            .output()
            .map_err(|e| {
                CliError::Tool(format!(
                    "cannot run {} ({e}); run `npm ci` (or `make deps`) first, or pass --wrangler",
                    self.wrangler.display()
                ))
            })?;
        if !output.status.success() {
            return Err(CliError::Tool(format!(
                "`wrangler {}` failed ({}): {}",
                argv.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(output.stdout)
    }
}
