//! What the management API stores, as a trait: configuration documents with versions
//! (and the published snapshot the visitor path reads), access tokens, idempotency
//! records, counters, campaign pages, conversions, exposures and support reports. D1 and KV
//! implement it on the edge (`src/edge/d1.rs`); [`super::memory::MemoryStore`] runs every
//! route natively in `cargo test`.
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
    /// The snapshot published for the handle (the JSON the visitor path reads), if any.
    async fn published(&self, handle: &str) -> Result<Option<String>, StoreError>;
    /// Writes the document if the stored version is `expected` (`None`: no document
    /// yet); `false` when it is not.
    async fn swap_document(
        &self,
        expected: Option<u64>,
        write: DocumentWrite<'_>,
    ) -> Result<bool, StoreError>;
    /// Removes the document if it is at `version` (rolling back a first write).
    async fn delete_document(&self, handle: &str, version: u64) -> Result<(), StoreError>;
    /// Publishes a snapshot (JSON) for the visitor path.
    async fn publish(&self, handle: &str, snapshot: &str) -> Result<(), StoreError>;
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
