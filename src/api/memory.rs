//! An in-memory [`Store`] and [`Resolver`] with the same guarantees as D1 and KV give the
//! edge (conditional writes, unique keys), so every route runs natively in `cargo test`.
//! Faults can be switched on to exercise the API's failure paths: storage unavailable,
//! publishing refused, a lost compare-and-swap.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

mod exposures;

pub use exposures::{DailyCounts, ExposureTables, FirstExposures};

use super::auth::PatRecord;
use super::conversions::Conversion;
use super::exposures::{ExposureBatch, ExposureTotals, Recorded};
use super::store::{
    DocumentWrite, IdempotencyRecord, Resolver, ResolverError, Store, StoreError, StoredChange,
    StoredDocument, StoredPage,
};
use super::support::SupportReport;
use crate::analysis::results::ConversionRow;
use crate::analysis::stats::StatRow;
use crate::model::page::PageState;

mod history;

/// Faults a [`MemoryStore`] can inject.
#[derive(Debug, Clone, Default)]
pub struct StoreFaults {
    /// Every call fails as unavailable.
    pub unavailable: bool,
    /// Publishing a snapshot fails (the write must be rolled back).
    pub publish: bool,
    /// The next this many document swaps lose, as if another writer won each time.
    pub lost_swaps: usize,
}

/// One stored conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversion {
    /// The conversion.
    pub conversion: Conversion,
    /// Its idempotency key.
    pub key: String,
    /// Hash of its payload.
    pub payload_hash: String,
}

/// Everything a [`MemoryStore`] holds, for tests to look at.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// Documents by handle.
    pub documents: BTreeMap<String, StoredDocument>,
    /// The change history: (handle, version) → entry with its configuration.
    pub changes: BTreeMap<(String, u64), StoredChange>,
    /// Published snapshots by handle.
    pub published: BTreeMap<String, Vec<u8>>,
    /// PATs by hash.
    pub pats: BTreeMap<String, PatRecord>,
    /// Counters: key → (count, expires at).
    pub counters: HashMap<String, (u32, i64)>,
    /// Idempotency records: (scope, key) → (record, created at).
    pub idempotency: BTreeMap<(String, String), (IdempotencyRecord, i64)>,
    /// Pages: (handle, campaign) → state and save counter.
    pub pages: BTreeMap<(String, String), StoredPage>,
    /// Conversions in insertion order.
    pub conversions: Vec<StoredConversion>,
    /// Support reports: id → (report, client).
    pub reports: BTreeMap<String, (SupportReport, String)>,
    /// Exposures: first exposures, daily counts, visit ids seen, batches landed.
    pub exposures: ExposureTables,
}

/// An in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// The data.
    pub tables: RefCell<Tables>,
    /// Faults to inject.
    pub faults: RefCell<StoreFaults>,
    /// Store calls made so far.
    pub calls: Cell<u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn enter(&self) -> Result<(), StoreError> {
        self.calls.set(self.calls.get() + 1);
        if self.faults.borrow().unavailable {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    async fn document(&self, handle: &str) -> Result<Option<StoredDocument>, StoreError> {
        self.enter()?;
        let tables = self.tables.borrow();
        Ok(tables.documents.get(handle).map(|doc| StoredDocument {
            recorded: tables
                .changes
                .contains_key(&(handle.to_owned(), doc.version)),
            ..doc.clone()
        }))
    }

    async fn published(&self, handle: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.enter()?;
        Ok(self.tables.borrow().published.get(handle).cloned())
    }

    async fn swap_document(
        &self,
        expected: Option<u64>,
        write: DocumentWrite<'_>,
    ) -> Result<bool, StoreError> {
        self.enter()?;
        {
            let mut faults = self.faults.borrow_mut();
            if faults.lost_swaps > 0 {
                faults.lost_swaps -= 1;
                return Ok(false);
            }
        }
        let mut tables = self.tables.borrow_mut();
        let current = tables.documents.get(write.handle).map(|d| d.version);
        if current != expected {
            return Ok(false);
        }
        tables.documents.insert(
            write.handle.to_owned(),
            StoredDocument {
                version: write.version,
                config: write.config.to_owned(),
                recorded: false,
            },
        );
        if let Some(change) = write.change {
            tables.record(&write, &change);
        }
        Ok(true)
    }

    async fn delete_document(&self, handle: &str, version: u64) -> Result<(), StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        if tables
            .documents
            .get(handle)
            .is_some_and(|d| d.version == version)
        {
            tables.documents.remove(handle);
        }
        Ok(())
    }

    async fn history(
        &self,
        handle: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        self.enter()?;
        Ok(self.tables.borrow().history(handle, before, limit))
    }

    async fn change(&self, handle: &str, version: u64) -> Result<Option<StoredChange>, StoreError> {
        self.enter()?;
        let key = (handle.to_owned(), version);
        Ok(self.tables.borrow().changes.get(&key).cloned())
    }

    async fn discard_change(&self, handle: &str, version: u64) -> Result<(), StoreError> {
        self.enter()?;
        let key = (handle.to_owned(), version);
        self.tables.borrow_mut().changes.remove(&key);
        Ok(())
    }

    async fn publish(&self, handle: &str, snapshot: &[u8]) -> Result<(), StoreError> {
        self.enter()?;
        if self.faults.borrow().publish {
            return Err(StoreError::Unavailable("injected publish fault".into()));
        }
        self.tables
            .borrow_mut()
            .published
            .insert(handle.to_owned(), snapshot.to_vec());
        Ok(())
    }

    async fn handles(&self) -> Result<Vec<String>, StoreError> {
        self.enter()?;
        let tables = self.tables.borrow();
        let mut handles: Vec<String> = tables
            .documents
            .keys()
            .chain(tables.published.keys())
            .cloned()
            .collect();
        handles.sort();
        handles.dedup();
        Ok(handles)
    }

    async fn pat(&self, hash: &str) -> Result<Option<PatRecord>, StoreError> {
        self.enter()?;
        Ok(self.tables.borrow().pats.get(hash).cloned())
    }

    async fn count(&self, key: &str, expires_at: i64, now: i64) -> Result<u32, StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        tables.counters.retain(|_, (_, expiry)| *expiry >= now);
        let entry = tables
            .counters
            .entry(key.to_owned())
            .or_insert((0, expires_at));
        entry.0 += 1;
        Ok(entry.0)
    }

    async fn peek(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        self.enter()?;
        let tables = self.tables.borrow();
        Ok(tables
            .counters
            .get(key)
            .filter(|(_, expiry)| *expiry >= now)
            .map_or(0, |(count, _)| *count))
    }

    async fn idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.enter()?;
        let tables = self.tables.borrow();
        Ok(tables
            .idempotency
            .get(&(scope.to_owned(), key.to_owned()))
            .map(|(record, _)| record.clone()))
    }

    async fn reserve(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        stale_before: i64,
        expire_before: i64,
    ) -> Result<bool, StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        tables
            .idempotency
            .retain(|_, (_, created)| *created >= expire_before);
        let id = (scope.to_owned(), key.to_owned());
        let free = match tables.idempotency.get(&id) {
            None => true,
            Some((record, created)) => {
                (record.response.is_none() && *created < stale_before) || *created < expire_before
            }
        };
        if free {
            let record = IdempotencyRecord {
                request_hash: request_hash.to_owned(),
                response: None,
                created_at: now,
            };
            tables.idempotency.insert(id, (record, now));
        }
        Ok(free)
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        if let Some((record, _)) = tables
            .idempotency
            .get_mut(&(scope.to_owned(), key.to_owned()))
        {
            record.response = Some((status, body.to_owned()));
        }
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        let id = (scope.to_owned(), key.to_owned());
        if tables
            .idempotency
            .get(&id)
            .is_some_and(|(r, _)| r.response.is_none())
        {
            tables.idempotency.remove(&id);
        }
        Ok(())
    }

    async fn page(&self, handle: &str, campaign: &str) -> Result<Option<StoredPage>, StoreError> {
        self.enter()?;
        let tables = self.tables.borrow();
        Ok(tables
            .pages
            .get(&(handle.to_owned(), campaign.to_owned()))
            .cloned())
    }

    async fn save_page(
        &self,
        handle: &str,
        campaign: &str,
        state: &PageState,
        expected: Option<u64>,
        _now: &str,
    ) -> Result<bool, StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        let id = (handle.to_owned(), campaign.to_owned());
        let current = tables.pages.get(&id).map(|(_, revision)| *revision);
        if current != expected {
            return Ok(false);
        }
        let revision = expected.map_or(1, |r| r + 1);
        tables.pages.insert(id, (state.clone(), revision));
        Ok(true)
    }

    async fn record_conversion(
        &self,
        conversion: &Conversion,
        key: &str,
        payload_hash: &str,
        _now: &str,
    ) -> Result<Option<String>, StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        let existing = tables
            .conversions
            .iter()
            .find(|c| c.conversion.handle == conversion.handle && c.key == key);
        if let Some(existing) = existing {
            return Ok(Some(existing.payload_hash.clone()));
        }
        tables.conversions.push(StoredConversion {
            conversion: conversion.clone(),
            key: key.to_owned(),
            payload_hash: payload_hash.to_owned(),
        });
        Ok(None)
    }

    async fn stat_rows(&self, handle: &str, campaign: &str) -> Result<Vec<StatRow>, StoreError> {
        self.enter()?;
        let tables = self.tables.borrow();
        let mut counts: BTreeMap<(String, String, bool), u64> = BTreeMap::new();
        for c in tables
            .conversions
            .iter()
            .map(|c| &c.conversion)
            .filter(|c| c.handle == handle && c.campaign == campaign)
        {
            *counts
                .entry((c.variant.clone(), c.event.clone(), c.is_test))
                .or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((variant, event, is_test), count)| StatRow {
                variant,
                event,
                is_test,
                count,
            })
            .collect())
    }

    async fn conversion_rows(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<Vec<ConversionRow>, StoreError> {
        self.enter()?;
        Ok(Self::read_conversions(
            &self.tables.borrow(),
            handle,
            campaign,
        ))
    }

    async fn record_exposures(
        &self,
        batch: &ExposureBatch,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<Recorded, StoreError> {
        self.enter()?;
        let mut tables = self.tables.borrow_mut();
        Ok(Self::write_exposures(
            &mut tables,
            batch,
            now_ms,
            forget_before_ms,
        ))
    }

    async fn exposure_totals(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<ExposureTotals, StoreError> {
        self.enter()?;
        Ok(Self::read_exposures(
            &self.tables.borrow(),
            handle,
            campaign,
        ))
    }

    async fn insert_report(
        &self,
        id: &str,
        report: &SupportReport,
        client: &str,
        _now: &str,
    ) -> Result<(), StoreError> {
        self.enter()?;
        self.tables
            .borrow_mut()
            .reports
            .insert(id.to_owned(), (report.clone(), client.to_owned()));
        Ok(())
    }
}

/// A resolver with fixed answers: TXT records by name, or a failure.
#[derive(Debug, Default)]
pub struct FixedResolver {
    /// TXT records by name.
    pub records: RefCell<BTreeMap<String, Vec<String>>>,
    /// Fail every lookup.
    pub down: Cell<bool>,
}

impl Resolver for FixedResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, ResolverError> {
        if self.down.get() {
            return Err(ResolverError("injected: resolver down".into()));
        }
        Ok(self.records.borrow().get(name).cloned().unwrap_or_default())
    }
}
