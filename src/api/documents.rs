//! A handle's configuration document: loading it, and changing it with compare-and-swap
//! and publish-or-rollback.
//!
//! The store of record is the stored document, updated with compare-and-swap on its
//! version, because KV has neither transactions nor read-your-writes: two concurrent
//! writers through KV alone could lose an update. Each successful write then publishes
//! the snapshot the router reads; if that fails the document is rolled back and the
//! client gets 503 `publish_failed`, so no write is acknowledged that is not stored and
//! published. A handle seeded straight into KV (`make dev`, `router push --local`) is
//! adopted on the first API access: whichever of the document and the published snapshot
//! has the higher version wins.
//!
//! What KV holds also decides two things the API cannot talk around (issue 10): a
//! tombstone there (`router takedown`, an operator's act) makes the handle unknown to the
//! API too (404 `handle_not_found` for reads and writes), so no tenant write lifts a
//! takedown; and each publication stays in the generation KV holds, so an operator's
//! deliberate rollback (a higher generation, see [`crate::engine::snapshot::Revision`])
//! is not undone by running isolates refusing the API's next snapshot as older.
//!
//! [`mutate`] runs a change on a fresh copy, compiles the result once, and commits it;
//! a lost race is retried from a fresh load, up to three times. Every commit records its
//! entry of the change history with the document ([`super::history`]).

use super::context::Ctx;
use super::error::{ApiError, ErrorCode, Missing};
use super::history;
use super::store::{ChangeWrite, DocumentWrite, Resolver, Store, StoreError};
use crate::engine::compile::{compile, Compiled};
use crate::engine::snapshot::{self, Snapshot, Stored};
use crate::model::config::HandleConfig;
use crate::model::diag::{Diagnostic, Severity};

/// Lost compare-and-swaps retried before answering 409 `write_conflict`.
const RETRIES: usize = 3;

/// A handle's current configuration and where it stands.
#[derive(Debug, Clone)]
pub struct Current {
    /// The configuration.
    pub config: HandleConfig,
    /// Its version.
    pub version: u64,
    /// The stored document's version, when there is one.
    pub stored: Option<u64>,
    /// The stored document's configuration as stored (what a failed publish restores;
    /// it differs from `config` when a newer published snapshot was adopted).
    pub stored_config: Option<String>,
    /// The generation of what KV holds (0 when nothing readable): the next publication
    /// is made in it.
    pub generation: u64,
    /// Whether the change history holds `version` (else the next write records it as
    /// a baseline).
    pub recorded: bool,
}

/// Loads the newer of the stored document and the published snapshot.
///
/// # Errors
/// 404 `handle_not_found` when neither exists; storage failures; 500 for a stored
/// document that does not read back.
pub async fn load<S: Store>(store: &S, handle: &str) -> Result<Current, ApiError> {
    let document = store.document(handle).await?;
    let stored = match &document {
        Some(doc) => {
            let config: HandleConfig = serde_json::from_str(&doc.config).map_err(|e| {
                StoreError::Corrupt(format!("the document of {handle} does not parse: {e}"))
            })?;
            Some((doc.version, config))
        }
        None => None,
    };
    // A published value that does not parse is ignored here (the router keeps its
    // last-known-good one); the next write replaces it. A tombstone is a takedown.
    let raw = store.published(handle).await?;
    let generation = raw
        .as_deref()
        .and_then(snapshot::peek)
        .map_or(0, |head| head.revision.generation);
    let published = match raw.map(|value| snapshot::parse(handle, &value)) {
        Some(Ok(Stored::Tombstone(_))) => return Err(ApiError::not_found(Missing::Handle, handle)),
        Some(Ok(Stored::Snapshot(s))) => Some(*s),
        Some(Err(_)) | None => None,
    };
    let stored_version = stored.as_ref().map(|(v, _)| *v);
    let document_recorded = document.as_ref().is_some_and(|d| d.recorded);
    let stored_config = document.map(|d| d.config);
    // The history holds the current version only if it is the stored document's (an
    // adopted snapshot is recorded as a baseline by the next write).
    let (config, version, recorded) = match (stored, published) {
        (Some((v, _)), Some(s)) if s.version > v => (s.config, s.version, false),
        (Some((version, config)), _) => (config, version, document_recorded),
        (None, Some(s)) => (s.config, s.version, false),
        (None, None) => return Err(ApiError::not_found(Missing::Handle, handle)),
    };
    Ok(Current {
        config,
        version,
        stored: stored_version,
        stored_config,
        generation,
        recorded,
    })
}

/// Loads the handle's configuration and compiles it.
///
/// # Errors
/// As [`load`]; 400 `validation_failed` if the stored configuration no longer compiles.
pub async fn current<S: Store>(store: &S, handle: &str) -> Result<(Current, Compiled), ApiError> {
    let current = load(store, handle).await?;
    let compiled = compile(&current.config).map_err(|e| ApiError::Validation(e.diagnostics))?;
    Ok((current, compiled))
}

/// How the diagnostics of a change are reported.
#[derive(Debug, Clone)]
pub enum Focus {
    /// As they are (paths into the whole configuration).
    Whole,
    /// The body was the whole configuration: paths start with `$.`.
    Body,
    /// The body was one document at this path (`rules[3]`): its diagnostics come first
    /// with body-relative paths (`$.conditions...`), then errors elsewhere; warnings
    /// about other documents are left out.
    Document(String),
}

impl Focus {
    fn report(&self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        match self {
            Focus::Whole => diagnostics,
            Focus::Body => diagnostics
                .into_iter()
                .map(|mut d| {
                    d.path = format!("$.{}", d.path);
                    d
                })
                .collect(),
            Focus::Document(prefix) => {
                let (mut mine, mut others) = (Vec::new(), Vec::new());
                for mut d in diagnostics {
                    let rest = d
                        .path
                        .strip_prefix(prefix.as_str())
                        .filter(|r| r.is_empty() || r.starts_with(['.', '[']))
                        .map(str::to_owned);
                    match rest {
                        Some(rest) => {
                            d.path = format!("${rest}");
                            mine.push(d);
                        }
                        None if d.severity == Severity::Error => others.push(d),
                        None => {}
                    }
                }
                mine.sort_by_key(|d| d.severity);
                mine.append(&mut others);
                mine
            }
        }
    }
}

/// What a change did: its own result, how to report its diagnostics, and problems it
/// found itself (body-relative, reported with the compiler's).
#[derive(Debug)]
pub struct Edit<T> {
    /// The change's own result.
    pub value: T,
    /// How its diagnostics are reported.
    pub focus: Focus,
    /// Problems the change found that compiling cannot (e.g. a name too long).
    pub problems: Vec<Diagnostic>,
}

impl<T> Edit<T> {
    /// A change reported with whole-configuration paths.
    pub fn whole(value: T) -> Self {
        Edit {
            value,
            focus: Focus::Whole,
            problems: Vec::new(),
        }
    }

    /// A whole configuration replaced by the request's body, reported at its paths.
    pub fn body(value: T) -> Self {
        Edit {
            value,
            focus: Focus::Body,
            problems: Vec::new(),
        }
    }

    /// A change of the one document at `path` (`rules[3]`).
    pub fn of_document(value: T, path: String) -> Self {
        Edit {
            value,
            focus: Focus::Document(path),
            problems: Vec::new(),
        }
    }
}

/// Compiles a changed configuration: the one compile of a write.
///
/// # Errors
/// 400 `validation_failed` with the change's own problems and the compiler's, reported
/// as `focus` says, errors first.
pub fn checked(
    config: &HandleConfig,
    focus: &Focus,
    problems: Vec<Diagnostic>,
) -> Result<Compiled, ApiError> {
    let compiled = compile(config);
    if problems.is_empty() {
        return compiled.map_err(|e| ApiError::Validation(focus.report(e.diagnostics)));
    }
    let mut all = problems;
    if let Err(e) = compiled {
        all.extend(focus.report(e.diagnostics));
    }
    all.sort_by_key(|d| d.severity);
    Err(ApiError::Validation(all))
}

/// A committed change.
#[derive(Debug)]
pub struct Mutated<T> {
    /// The change's own result.
    pub value: T,
    /// The new version.
    pub version: u64,
    /// The new configuration, compiled.
    pub compiled: Compiled,
    /// The new configuration.
    pub config: HandleConfig,
}

/// Loads, applies `change`, compiles once, and commits with compare-and-swap; a lost
/// race is retried from a fresh load (the change runs again on the newer configuration).
///
/// # Errors
/// The change's error; 400 `validation_failed` with every problem when the result does
/// not compile; 409 `write_conflict` after [`RETRIES`] lost races; 503 `publish_failed`
/// (rolled back) or storage failures.
pub async fn mutate<S: Store, R: Resolver, T>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    change: impl Fn(&mut HandleConfig) -> Result<Edit<T>, ApiError>,
) -> Result<Mutated<T>, ApiError> {
    write(cx, handle, None, |config, _| change(config)).await
}

/// As [`mutate`], for a restore of version `restored_from` (recorded as such); the
/// change is also given the current version.
///
/// # Errors
/// As [`mutate`].
pub async fn mutate_restoring<S: Store, R: Resolver, T>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    restored_from: u64,
    change: impl Fn(&mut HandleConfig, u64) -> Result<Edit<T>, ApiError>,
) -> Result<Mutated<T>, ApiError> {
    write(cx, handle, Some(restored_from), change).await
}

async fn write<S: Store, R: Resolver, T>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    restored_from: Option<u64>,
    change: impl Fn(&mut HandleConfig, u64) -> Result<Edit<T>, ApiError>,
) -> Result<Mutated<T>, ApiError> {
    let mut attempt = 0;
    loop {
        let current = load(cx.store, handle).await?;
        let mut config = current.config.clone();
        let Edit {
            value,
            focus,
            problems,
        } = change(&mut config, current.version)?;
        let compiled = checked(&config, &focus, problems)?;
        match commit(cx, &current, &config, restored_from).await {
            Ok(version) => {
                return Ok(Mutated {
                    value,
                    version,
                    compiled,
                    config,
                })
            }
            Err(ApiError::Storage(StoreError::Conflict)) if attempt < RETRIES => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Stores `config` as the next version (compare-and-swap on `current`) with its entry
/// of the change history, and publishes it; rolls the document back (and drops the
/// entry) if publishing fails.
async fn commit<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    current: &Current,
    config: &HandleConfig,
    restored_from: Option<u64>,
) -> Result<u64, ApiError> {
    let handle = config.handle.as_str();
    let version = current.version + 1;
    let json = serde_json::to_string(config)
        .map_err(|e| ApiError::Internal(format!("serialising {handle}: {e}")))?;
    let at = cx.now_text();
    let recording = history::recording(
        &current.config,
        config,
        &json,
        current.recorded,
        cx.request_id,
        &at,
        version,
    )?;
    let write = DocumentWrite {
        handle,
        version,
        config: &json,
        by: &cx.principal.sub,
        at: &at,
        change: Some(ChangeWrite {
            version_before: current.version,
            route: cx.route,
            request_id: cx.request_id,
            restored_from,
            diff: &recording.diff,
            baseline: recording.baseline.as_deref(),
            keep_from: history::keep_from(version),
            write_id: &recording.write_id,
        }),
    };
    if !cx.store.swap_document(current.stored, write).await? {
        return Err(StoreError::Conflict.into());
    }
    let snapshot = Snapshot::new(config.clone(), version, at.clone())
        .in_generation(current.generation)
        .to_stored()
        .map_err(|e| ApiError::Internal(format!("serialising the snapshot of {handle}: {e}")))?;
    let Err(error) = cx.store.publish(handle, &snapshot).await else {
        return Ok(version);
    };
    (cx.log)(&format!(
        "publishing snapshot {handle} v{version} failed: {error}; rolling back"
    ));
    // The document goes back to what it held (not to an adopted snapshot's content).
    let rolled_back = match (current.stored, &current.stored_config) {
        (Some(old), Some(previous)) => {
            let restore = DocumentWrite {
                version: old,
                config: previous,
                change: None,
                ..write
            };
            cx.store
                .swap_document(Some(version), restore)
                .await
                .map(|_| ())
        }
        _ => cx.store.delete_document(handle, version).await,
    };
    let rolled_back = match rolled_back {
        Ok(()) => cx.store.discard_change(handle, version).await,
        Err(e) => Err(e),
    };
    if let Err(e) = rolled_back {
        (cx.log)(&format!(
            "rollback of {handle} v{version} failed ({e}); the next write republishes"
        ));
    }
    Err(ApiError::Unavailable {
        code: ErrorCode::PublishFailed,
        message: "the change could not be published; nothing was changed, retry shortly".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(path: &str, severity: Severity) -> Diagnostic {
        Diagnostic {
            severity,
            code: "x",
            path: path.into(),
            id: None,
            message: String::new(),
        }
    }

    /// Regression: the prefix `rules[1]` also stripped `rules[10].destination` into the
    /// broken path `$0].destination`.
    #[test]
    fn document_paths_match_whole_indices() {
        let out = Focus::Document("rules[1]".into()).report(vec![
            d("rules[1].destination", Severity::Error),
            d("rules[10].destination", Severity::Warning),
            d("rules[10].entries", Severity::Error),
            d("rules[1]", Severity::Error),
        ]);
        let paths: Vec<&str> = out.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["$.destination", "$", "rules[10].entries"]);
    }

    #[test]
    fn the_body_own_problems_come_first_errors_before_warnings() {
        let out = Focus::Document("campaigns[2]".into()).report(vec![
            d("rules[0].campaign", Severity::Error),
            d("campaigns[2].variants[1].destination", Severity::Warning),
            d("campaigns[2].variants[0].weight", Severity::Error),
        ]);
        let paths: Vec<&str> = out.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "$.variants[0].weight",
                "$.variants[1].destination",
                "rules[0].campaign"
            ]
        );
        let out = Focus::Body.report(vec![d("rules[0].priority", Severity::Error)]);
        assert_eq!(out[0].path, "$.rules[0].priority");
    }
}

/// What KV holds, through the whole API (issue 10).
#[cfg(test)]
mod published;
