//! The change history of a handle's configuration, and restoring a version of it.
//!
//! Every write that stores a new version of the configuration document goes through
//! [`super::documents::mutate`], which records here, in the same storage transaction as
//! the document (one D1 batch; see `src/edge/d1.rs`): who (the token subject, or `cron`
//! for the scheduled re-verification), when, the route (`METHOD pattern`), the request
//! id, the versions before and after, a bounded structured diff
//! ([`crate::analysis::diff`]) and the whole new configuration, so any recorded version
//! can be restored. A write rolled back because its snapshot could not be published
//! leaves no entry.
//!
//! Decisions:
//! - **Baseline.** A handle whose current configuration was never written through the
//!   API (seeded from `rules/`, published with `router push --local`, or written before
//!   the history existed) gets a `baseline` entry for that version with the first
//!   recorded write, so it can be restored too. Its `at` and `subject` are those of the
//!   write that recorded it; it has no diff.
//! - **Retention.** The entries of the last [`KEEP_VERSIONS`] versions of each handle are
//!   kept (with their configurations); older ones are dropped by the write that passes
//!   them. Nothing else expires.
//! - **Restore** (`POST .../changes/{version}/restore`, admin) writes that version's
//!   configuration as a new version, through the trust rules of a whole-configuration
//!   write ([`super::trust::keep_server_trust`]): every domain keeps the trust state it
//!   has now (a restore never verifies, approves or scores anything), a domain that is
//!   gone comes back `pending` with a fresh token, `risk_threshold` stays. What the old
//!   version said otherwise is answered as `ignored_trust_field` warnings. A version the
//!   history does not hold is 404 `version_not_found`; the current version is 409
//!   `already_current` (nothing to do).
//! - **Takedown.** A handle taken down (a tombstone in KV) is unknown to these routes as
//!   to every other (404 `handle_not_found`): a restore cannot lift a takedown.
//! - **Reading** needs the scope `history:read`; the whole configuration of a version
//!   (`?configuration=true`) needs `admin`, as `GET .../configuration` does.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ErrorCode};
use super::store::StoredChange;
use crate::analysis::diff::{ConfigDiff, DiffSummary};
use crate::model::config::HandleConfig;
use crate::model::ids::hex;

/// Versions of a handle whose history entries are kept.
pub const KEEP_VERSIONS: u64 = 500;
/// Entries a page of `GET .../changes` holds unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 20;
/// The most entries one page holds.
pub const MAX_LIMIT: usize = 100;

/// The oldest version kept once `version` is written.
pub fn keep_from(version: u64) -> u64 {
    version.saturating_sub(KEEP_VERSIONS - 1)
}

/// What a write records besides the document: owned, for the store's borrowed
/// [`super::store::ChangeWrite`].
#[derive(Debug, Clone)]
pub struct Recording {
    /// JSON of the diff.
    pub diff: String,
    /// JSON of the configuration before, when the history lacks it.
    pub baseline: Option<String>,
    /// Unique to this write.
    pub write_id: String,
}

/// What a write of `after` over `before` records.
///
/// # Errors
/// 500 `internal` if a configuration does not serialise (a bug).
pub fn recording(
    before: &HandleConfig,
    after: &HandleConfig,
    after_json: &str,
    recorded: bool,
    request_id: &str,
    at: &str,
    version: u64,
) -> Result<Recording, ApiError> {
    let internal = |e: serde_json::Error| ApiError::Internal(format!("recording a change: {e}"));
    let diff =
        serde_json::to_string(&crate::analysis::diff::diff(before, after)).map_err(internal)?;
    let baseline = match recorded {
        true => None,
        false => Some(serde_json::to_string(before).map_err(internal)?),
    };
    let mut hasher = Sha256::new();
    for part in [request_id, at, &version.to_string(), after_json] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    Ok(Recording {
        diff,
        baseline,
        write_id: hex(digest.get(..16).unwrap_or_default()),
    })
}

/// What kind of entry.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A configuration the history found without a recorded write (seeded, pushed
    /// straight to KV, or from before the history): restorable, no diff.
    Baseline,
    /// A write through the API or the scheduled re-verification.
    Change,
    /// A restore of an earlier version (`restored_from`).
    Restore,
}

/// One entry of the change history as the API shows it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    /// The version this entry made (a baseline: the version it found).
    pub version: u64,
    /// The version it replaced (absent for a baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_before: Option<u64>,
    /// What kind of entry.
    pub kind: ChangeKind,
    /// When (RFC 3339).
    pub at: String,
    /// Who: the token subject, or `cron` for the scheduled re-verification.
    pub subject: String,
    /// What wrote: `METHOD /v2/...pattern`, or `cron` (absent for a baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The request id, as in `X-Request-Id` (absent for a baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The version a restore brought back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
    /// The ids added, removed and changed per collection, and the settings changed.
    pub summary: DiffSummary,
    /// The whole diff with paths and values (`GET .../changes/{version}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<ConfigDiff>,
}

/// The view of a stored entry, with the whole diff when `with_diff`.
///
/// # Errors
/// 500 `internal` when the stored diff does not read back.
pub fn change_view(change: StoredChange, with_diff: bool) -> Result<ChangeView, ApiError> {
    let diff: ConfigDiff = match &change.diff {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            ApiError::Internal(format!("the diff of version {}: {e}", change.version))
        })?,
        None => ConfigDiff::default(),
    };
    let kind = match (change.version_before, change.restored_from) {
        (None, _) => ChangeKind::Baseline,
        (Some(_), Some(_)) => ChangeKind::Restore,
        (Some(_), None) => ChangeKind::Change,
    };
    Ok(ChangeView {
        version: change.version,
        version_before: change.version_before,
        kind,
        at: change.at,
        subject: change.subject,
        route: change.route,
        request_id: change.request_id,
        restored_from: change.restored_from,
        summary: diff.summary(),
        diff: with_diff.then_some(diff),
    })
}

/// The configuration of a stored entry.
///
/// # Errors
/// 500 `internal` when it is missing or does not read back.
pub fn stored_config(change: &StoredChange) -> Result<HandleConfig, ApiError> {
    let json = change.config.as_deref().ok_or_else(|| {
        ApiError::Internal(format!("version {} has no configuration", change.version))
    })?;
    serde_json::from_str(json)
        .map_err(|e| ApiError::Internal(format!("version {}: {e}", change.version)))
}

/// Query of `GET .../changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Entries of versions below this one (`None`: from the newest).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

impl Page {
    /// Reads `before` (a version, 1 or more) and `limit` (1 to [`MAX_LIMIT`]).
    ///
    /// # Errors
    /// 400 `invalid_parameter` naming the parameter.
    pub fn parse(query: &[(String, String)]) -> Result<Self, ApiError> {
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let before = match get("before") {
            None => None,
            Some(raw) => Some(raw.parse::<u64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                ApiError::InvalidParameter {
                    name: "before",
                    message: format!("{raw:?} is not a version (1 or more)"),
                }
            })?),
        };
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::InvalidParameter {
                    name: "limit",
                    message: format!("{raw:?} is not a number from 1 to {MAX_LIMIT}"),
                })?,
        };
        Ok(Page { before, limit })
    }
}

/// Reads a `{version}` path segment.
///
/// # Errors
/// 400 `invalid_parameter` when it is not a version (1 or more).
pub fn parse_version(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::InvalidParameter {
            name: "version",
            message: format!("{raw:?} is not a version (1 or more)"),
        })
}

/// Reads `configuration` of `GET .../changes/{version}` (`true` or `false`).
///
/// # Errors
/// 400 `invalid_parameter`.
pub fn wants_configuration(query: &[(String, String)]) -> Result<bool, ApiError> {
    match query.iter().find(|(k, _)| k == "configuration") {
        None => Ok(false),
        Some((_, v)) if v == "true" => Ok(true),
        Some((_, v)) if v == "false" => Ok(false),
        Some((_, v)) => Err(ApiError::InvalidParameter {
            name: "configuration",
            message: format!("{v:?} is not true or false"),
        }),
    }
}

/// Restoring the version that is current.
pub fn already_current(version: u64) -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::AlreadyCurrent,
        message: format!("version {version} is the current configuration; nothing to restore"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn pages_and_versions_are_checked() {
        assert_eq!(
            Page::parse(&q(&[])).unwrap(),
            Page {
                before: None,
                limit: DEFAULT_LIMIT
            }
        );
        assert_eq!(
            Page::parse(&q(&[("before", "7"), ("limit", "100")])).unwrap(),
            Page {
                before: Some(7),
                limit: 100
            }
        );
        for (name, value) in [
            ("before", "0"),
            ("before", "x"),
            ("limit", "0"),
            ("limit", "101"),
            ("limit", "-1"),
        ] {
            let err = Page::parse(&q(&[(name, value)])).unwrap_err();
            assert!(
                matches!(err, ApiError::InvalidParameter { name: n, .. } if n == name),
                "{name}={value}: {err:?}"
            );
        }
        assert_eq!(parse_version("12").unwrap(), 12);
        assert!(parse_version("0").is_err() && parse_version("1.5").is_err());
        assert!(wants_configuration(&q(&[("configuration", "true")])).unwrap());
        assert!(wants_configuration(&q(&[("configuration", "yes")])).is_err());
    }

    #[test]
    fn retention_keeps_the_last_versions() {
        assert_eq!(keep_from(1), 0);
        assert_eq!(keep_from(KEEP_VERSIONS), 1);
        assert_eq!(keep_from(KEEP_VERSIONS + 10), 11);
    }

    #[test]
    fn each_write_has_its_own_id() {
        let config = HandleConfig::default();
        let a = recording(&config, &config, "{}", true, "r1", "t", 2).unwrap();
        let b = recording(&config, &config, "{}", true, "r1", "t", 3).unwrap();
        assert_ne!(a.write_id, b.write_id);
        assert_eq!(a.write_id.len(), 32);
        assert!(a.baseline.is_none());
        let c = recording(&config, &config, "{}", false, "r1", "t", 2).unwrap();
        assert!(c.baseline.is_some());
        assert_eq!(c.diff, "{}");
    }
}
