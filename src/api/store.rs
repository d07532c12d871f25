//! What the management API stores, as a trait: configuration documents with versions
//! (and the published snapshot the visitor path reads), the change history written with
//! them, access tokens, idempotency records, counters, campaign pages, conversions,
//! exposures and support reports. D1 and KV implement it on the edge (`src/edge/d1.rs`);
//! [`super::memory::MemoryStore`] runs every route natively in `cargo test`.
//!
//! The methods are primitives with the guarantees D1 gives (a conditional write tells
//! whether it happened); the policies built on them (compare-and-swap retries,
//! publish-or-rollback, idempotency replay, throttles) are the API's, in
//! [`super::documents`], [`super::idempotency`] and [`super::limits`].

#![allow(async_fn_in_trait)] // single-threaded: workerd and the native tests never send these futures

use std::fmt;

use super::auth::PatRecord;
use super::conversions::Conversion;
use super::exposures::{ExposureBatch, ExposureTotals, Recorded};
use super::support::SupportReport;
use crate::analysis::results::ConversionRow;
use crate::analysis::stats::StatRow;
use crate::model::page::PageState;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The storage could not be reached or refused the call; nothing was changed. The
    /// detail is for the log.
    Unavailable(String),
    /// A compare-and-swap lost: someone else wrote first.
    Conflict,
    /// Stored data does not read back (a bug or a hand edit). The detail is for the log.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "storage unavailable: {why}"),
            Self::Conflict => f.write_str("a concurrent write won"),
            Self::Corrupt(why) => write!(f, "stored data is corrupt: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A handle's configuration document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// Its version.
    pub version: u64,
    /// The configuration as JSON.
    pub config: String,
    /// Whether the change history holds this version (with its configuration).
    pub recorded: bool,
}

/// The history entry a document write records, in the same transaction as the write
/// where the storage has them (D1: one batch), so no version is stored without it.
#[derive(Debug, Clone, Copy)]
pub struct ChangeWrite<'a> {
    /// The version the write replaces.
    pub version_before: u64,
    /// What wrote: `METHOD /v2/...pattern`, or `cron`.
    pub route: &'a str,
    /// The request id.
    pub request_id: &'a str,
    /// The version whose configuration this write restored, if it is a restore.
    pub restored_from: Option<u64>,
    /// What changed: JSON of [`crate::analysis::diff::ConfigDiff`].
    pub diff: &'a str,
    /// The configuration of `version_before` when the history does not hold it yet (the
    /// first recorded write of a handle, or one over an adopted snapshot): stored as a
    /// baseline entry, unless one is there already.
    pub baseline: Option<&'a str>,
    /// Entries of versions below this one are dropped (the retention policy).
    pub keep_from: u64,
    /// Unique to this write: the entry is stored only when the document write happened.
    pub write_id: &'a str,
}

/// One entry of the change history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// The version it made (or, for a baseline, the version it found).
    pub version: u64,
    /// The version it replaced; `None` for a baseline (a configuration the history found
    /// without a recorded change: seeded, or published straight to KV).
    pub version_before: Option<u64>,
    /// When (RFC 3339).
    pub at: String,
    /// Who: the token subject, or `cron`.
    pub subject: String,
    /// What wrote (`METHOD pattern`, `cron`); `None` for a baseline.
    pub route: Option<String>,
    /// The request id; `None` for a baseline.
    pub request_id: Option<String>,
    /// The version whose configuration a restore brought back.
    pub restored_from: Option<u64>,
    /// What changed (JSON of a `ConfigDiff`); `None` for a baseline.
    pub diff: Option<String>,
    /// The whole configuration of `version` (JSON); only [`Store::change`] reads it.
    pub config: Option<String>,
}

/// A write of a handle's document.
#[derive(Debug, Clone, Copy)]
pub struct DocumentWrite<'a> {
    /// The handle.
    pub handle: &'a str,
    /// The version to write.
    pub version: u64,
    /// The configuration as JSON.
    pub config: &'a str,
    /// Who wrote it (token subject).
    pub by: &'a str,
    /// When (RFC 3339).
    pub at: &'a str,
    /// The history entry to record with it (`None` for a rollback, which removes the
    /// entry of the version it undoes with [`Store::discard_change`]).
    pub change: Option<ChangeWrite<'a>>,
}

/// The record of an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Hash of the request that took the key.
    pub request_hash: String,
    /// The stored answer: status and JSON body; `None` while the first request runs.
    pub response: Option<(u16, String)>,
    /// When the key was taken (Unix seconds).
    pub created_at: i64,
}

/// A campaign page's state and its save counter (for compare-and-swap).
pub type StoredPage = (PageState, u64);

/// The management API's storage.
pub trait Store {
    /// The handle's stored configuration document, if any.
    async fn document(&self, handle: &str) -> Result<Option<StoredDocument>, StoreError>;
    /// The value published for the handle (what the visitor path reads: a snapshot's JSON
    /// and edge form, or a tombstone), if any.
    async fn published(&self, handle: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes the document if the stored version is `expected` (`None`: no document
    /// yet); `false` when it is not.
    async fn swap_document(
        &self,
        expected: Option<u64>,
        write: DocumentWrite<'_>,
    ) -> Result<bool, StoreError>;
    /// Removes the document if it is at `version` (rolling back a first write).
    async fn delete_document(&self, handle: &str, version: u64) -> Result<(), StoreError>;
    /// The handle's change history, newest first: at most `limit` entries of versions
    /// below `before` (all when `None`), without their configurations.
    async fn history(
        &self,
        handle: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError>;
    /// One entry of the change history with its configuration, if the history holds it.
    async fn change(&self, handle: &str, version: u64) -> Result<Option<StoredChange>, StoreError>;
    /// Removes the history entry of `version` (a write that was rolled back).
    async fn discard_change(&self, handle: &str, version: u64) -> Result<(), StoreError>;
    /// Publishes a snapshot for the visitor path ([`crate::engine::snapshot::Snapshot::to_stored`]).
    async fn publish(&self, handle: &str, snapshot: &[u8]) -> Result<(), StoreError>;
    /// Every handle with a stored document or a published snapshot.
    async fn handles(&self) -> Result<Vec<String>, StoreError>;

    /// The personal access token with this SHA-256 (hex), if any.
    async fn pat(&self, hash: &str) -> Result<Option<PatRecord>, StoreError>;

    /// Counts one event under `key` in a window that ends at `expires_at`; returns the
    /// count so far. Expired counters may be swept.
    async fn count(&self, key: &str, expires_at: i64, now: i64) -> Result<u32, StoreError>;
    /// The count under `key` without counting (0 when there is none or it expired).
    async fn peek(&self, key: &str, now: i64) -> Result<u32, StoreError>;

    /// The record of an idempotency key in `scope`.
    async fn idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Reserves a key for a request; `false` when another request holds it. A
    /// reservation older than `stale_before` (a request that died) is taken over, and so
    /// is any record older than `expire_before` (a forgotten key).
    async fn reserve(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        stale_before: i64,
        expire_before: i64,
    ) -> Result<bool, StoreError>;
    /// Stores the answer of a reserved key.
    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError>;
    /// Releases a reservation whose request failed, so a retry can run.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;

    /// A campaign page and its save counter.
    async fn page(&self, handle: &str, campaign: &str) -> Result<Option<StoredPage>, StoreError>;
    /// Stores a page if its save counter is still `expected` (`None`: never saved);
    /// `false` when another write won.
    async fn save_page(
        &self,
        handle: &str,
        campaign: &str,
        state: &PageState,
        expected: Option<u64>,
        now: &str,
    ) -> Result<bool, StoreError>;

    /// Records a conversion once per `(handle, key)`: `None` when recorded now, else the
    /// payload hash stored under the key before.
    async fn record_conversion(
        &self,
        conversion: &Conversion,
        key: &str,
        payload_hash: &str,
        now: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Conversion counts of a campaign by variant, event and test flag.
    async fn stat_rows(&self, handle: &str, campaign: &str) -> Result<Vec<StatRow>, StoreError>;

    /// Real conversions of a campaign per variant and event: distinct visitor ids and
    /// rows (test conversions left out).
    async fn conversion_rows(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<Vec<ConversionRow>, StoreError>;

    /// Writes a batch of exposures in one transaction ([`super::exposures`]): counts each
    /// visit whose id was not seen before (per variant and UTC day of the visit); records
    /// each visitor's first exposure unless they have one, counting them as exposed on
    /// its day; remembers the visit ids, forgetting those seen before
    /// `forget_before_ms`; and notes `now_ms` as when each campaign's last batch landed.
    async fn record_exposures(
        &self,
        batch: &ExposureBatch,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<Recorded, StoreError>;
    /// A campaign's exposed visitors and visits per variant, and when its last batch
    /// landed.
    async fn exposure_totals(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<ExposureTotals, StoreError>;

    /// Stores a support report.
    async fn insert_report(
        &self,
        id: &str,
        report: &SupportReport,
        client: &str,
        now: &str,
    ) -> Result<(), StoreError>;
}

/// Why a DNS lookup gave no answer. Never "the record is absent" (that is an empty
/// answer): verification state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverError(pub String);

impl fmt::Display for ResolverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DNS resolver unavailable: {}", self.0)
    }
}

impl std::error::Error for ResolverError {}

/// Looks TXT records up (DNS-over-HTTPS on the edge).
pub trait Resolver {
    /// The TXT records of `name` (empty when there are none).
    async fn txt(&self, name: &str) -> Result<Vec<String>, ResolverError>;
}
