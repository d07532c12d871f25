//! The compiled snapshot of one handle: what the API publishes to KV under
//! [`snapshot_key`] and what the hot path reads, one KV read per handle per cache period.
//!
//! A snapshot is the validated configuration plus its version and publication time, as
//! JSON. Loading it compiles it again (a fraction of a millisecond for a realistic
//! handle); a snapshot that does not parse or compile is *corrupt*, and the edge then
//! keeps the last good one it had.

use serde::{Deserialize, Serialize};

use crate::engine::compile::compile;
use crate::engine::ruleset::RuleSet;
use crate::model::config::HandleConfig;
use crate::model::diag::CompileError;

/// The snapshot format this build reads and writes.
pub const FORMAT: u32 = 1;

/// The KV key of a handle's snapshot.
pub fn snapshot_key(handle: &str) -> String {
    format!("snapshot:{handle}")
}

/// A published snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Format version ([`FORMAT`]).
    pub format: u32,
    /// Monotonic version, bumped by every publication.
    pub version: u64,
    /// When it was published (RFC 3339).
    pub published_at: String,
    /// The configuration.
    pub config: HandleConfig,
}

/// Why a snapshot could not be loaded.
#[derive(Debug)]
pub enum SnapshotError {
    /// Not JSON of the snapshot's shape.
    Parse(serde_json::Error),
    /// A format this build does not read.
    Format(u32),
    /// Parsed, but the configuration does not compile.
    Compile(CompileError),
    /// Stored under one handle, naming another.
    WrongHandle(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Parse(e) => write!(f, "snapshot is not valid JSON of the snapshot shape: {e}"),
            Self::Format(v) => write!(f, "snapshot format {v} is not {FORMAT}"),
            Self::Compile(e) => write!(f, "snapshot does not compile: {e}"),
            Self::WrongHandle(h) => write!(f, "snapshot belongs to handle {h:?}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// A loaded snapshot: its version and compiled rule set.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Version.
    pub version: u64,
    /// Publication time.
    pub published_at: String,
    /// The compiled rule set.
    pub ruleset: RuleSet,
}

impl Snapshot {
    /// Wraps a configuration as version `version`.
    pub fn new(config: HandleConfig, version: u64, published_at: String) -> Self {
        Snapshot {
            format: FORMAT,
            version,
            published_at,
            config,
        }
    }

    /// Serialises for KV.
    ///
    /// # Errors
    /// Only if serde cannot serialise the configuration (a bug, never a client's fault).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// The version of a serialised snapshot without building it (the hot path checks this
/// before compiling: an unchanged snapshot re-read after its TTL is not compiled again).
pub fn peek_version(bytes: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Head {
        version: u64,
    }
    serde_json::from_slice::<Head>(bytes)
        .ok()
        .map(|h| h.version)
}

/// Parses and compiles a snapshot read for `handle`.
///
/// # Errors
/// [`SnapshotError`] when it is corrupt in any way.
pub fn load(handle: &str, bytes: &[u8]) -> Result<Loaded, SnapshotError> {
    let snapshot: Snapshot = serde_json::from_slice(bytes).map_err(SnapshotError::Parse)?;
    if snapshot.format != FORMAT {
        return Err(SnapshotError::Format(snapshot.format));
    }
    if snapshot.config.handle != handle {
        return Err(SnapshotError::WrongHandle(snapshot.config.handle));
    }
    let compiled = compile(&snapshot.config).map_err(SnapshotError::Compile)?;
    Ok(Loaded {
        version: snapshot.version,
        published_at: snapshot.published_at,
        ruleset: compiled.ruleset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_the_version_without_the_rest() {
        let config = HandleConfig {
            handle: "h".into(),
            ..HandleConfig::default()
        };
        let json = Snapshot::new(config, 42, "2026-11-22T00:00:00Z".into())
            .to_json()
            .unwrap();
        assert_eq!(peek_version(json.as_bytes()), Some(42));
        assert_eq!(peek_version(b"{corrupt"), None);
        assert!(load("h", json.as_bytes()).is_ok());
        assert!(matches!(
            load("other", json.as_bytes()),
            Err(SnapshotError::WrongHandle(_))
        ));
    }
}
