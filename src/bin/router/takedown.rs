//! `router takedown`: an operator's deliberate takedown of a handle, as a tombstone under
//! its snapshot key (see `edge_router::visit::cache`): running isolates answer the 404
//! page within their snapshot TTL, and only a newer publication (`router push`) lifts it.
//! Deleting the key is a takedown too, but only once a re-read confirms it (a TTL later).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use edge_router::engine::snapshot::{snapshot_key, Revision, Tombstone};
use edge_router::model::ids::is_valid_slug;
use serde_json::json;

use crate::common::{print_json, say, CliError, CmdResult};
use crate::localkv::LocalKv;
use crate::push::{next_revision, published_at};

/// What `router takedown` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TakedownArgs {
    /// The handle to take down.
    #[arg(long)]
    pub(crate) handle: String,
    /// Write the tombstone to local KV with wrangler (read what it holds first, to write
    /// above it).
    #[arg(long, conflicts_with = "out")]
    pub(crate) local: bool,
    /// Write the tombstone JSON to this file instead, for `wrangler kv key put
    /// snapshot:<handle> --path FILE --remote` (pass --version above the published one).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Why, recorded in the tombstone.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Tombstone version (default: now in Unix seconds, above the current).
    #[arg(long)]
    pub(crate) version: Option<u64>,
    /// Tombstone generation (default: the current one).
    #[arg(long)]
    pub(crate) generation: Option<u64>,
    /// wrangler's local state directory (with --local).
    #[arg(long, default_value = ".wrangler/state")]
    pub(crate) persist_to: PathBuf,
    /// The wrangler to run (with --local).
    #[arg(long, default_value = "node_modules/.bin/wrangler")]
    pub(crate) wrangler: PathBuf,
}

/// Writes the tombstone where asked.
pub(crate) fn takedown(args: &TakedownArgs, json: bool) -> CmdResult {
    let handle = args.handle.as_str();
    if !is_valid_slug(handle) {
        return Err(CliError::Usage(format!("{handle:?} is not a handle")));
    }
    let key = snapshot_key(handle);
    let (target, revision) = match (&args.out, args.local) {
        (Some(out), false) => {
            let revision = next_revision(None, args.generation, args.version)?;
            write_file(out, &tombstone(args, revision)?)?;
            (out.display().to_string(), revision)
        }
        (None, true) => {
            let kv = LocalKv {
                persist_to: &args.persist_to,
                wrangler: &args.wrangler,
            };
            let current = kv.head(&key).map(|head| head.revision);
            let revision = next_revision(current, args.generation, args.version)?;
            kv.put(&key, tombstone(args, revision)?.as_bytes())?;
            (format!("local KV ({key} in {})", kv.persist()), revision)
        }
        _ => {
            return Err(CliError::Usage(
                "say where to write the tombstone: --local, or --out FILE".into(),
            ))
        }
    };
    if json {
        print_json(&json!({
            "ok": true, "handle": handle, "key": key, "target": target,
            "version": revision.version, "generation": revision.generation,
        }))?;
    } else {
        say!(
            "took {handle} down: a tombstone ({revision}) in {target}; running isolates answer \
             404 within their snapshot TTL. `router push` lifts it."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn tombstone(args: &TakedownArgs, revision: Revision) -> Result<String, CliError> {
    let mut tombstone = Tombstone::new(&args.handle, revision, published_at());
    tombstone.reason.clone_from(&args.reason);
    tombstone
        .to_json()
        .map_err(|e| CliError::Usage(format!("cannot serialise the tombstone: {e}")))
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|error| CliError::Io {
        path: path.to_owned(),
        error,
    })
}
