//! The management API's [`Store`] on D1 (documents, tokens, idempotency, counters,
//! pages, conversions, reports) and KV (the published snapshots), through the
//! fault-injection layer. Statements only: every policy is the API's. This file holds the
//! connection helpers and the [`Store`] implementation, each method one call into the
//! module of its statements: [`documents`], [`history`], [`access`] (tokens, counters,
//! idempotency), [`campaigns`] (pages, conversions, reports), [`exposures`].

mod access;
mod campaigns;
mod documents;
mod exposures;
mod history;

use serde::Deserialize;
use worker::kv::KvStore;
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use super::faults;
use crate::analysis::results::ConversionRow;
use crate::analysis::stats::StatRow;
use crate::api::auth::PatRecord;
use crate::api::conversions::Conversion;
use crate::api::exposures::{ExposureBatch, ExposureTotals, Recorded};
use crate::api::store::{
    DocumentWrite, IdempotencyRecord, Store, StoreError, StoredChange, StoredDocument, StoredPage,
};
use crate::api::support::SupportReport;
use crate::engine::snapshot::snapshot_key;

/// The KV key prefix of published snapshots (`snapshot_key`).
const SNAPSHOT_PREFIX: &str = "snapshot:";
use crate::model::page::PageState;

/// D1 and KV of one request.
pub(crate) struct D1Store {
    pub(crate) db: D1Database,
    pub(crate) kv: KvStore,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

fn optional(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::null(), text)
}

impl D1Store {
    async fn changes(&self, sql: &str, args: &[JsValue]) -> Result<usize, StoreError> {
        faults::d1().map_err(unavailable)?;
        let result = self
            .db
            .prepare(sql)
            .bind(args)
            .map_err(unavailable)?
            .run()
            .await
            .map_err(unavailable)?;
        Ok(result
            .meta()
            .map_err(unavailable)?
            .and_then(|m| m.changes)
            .unwrap_or(0))
    }

    async fn first<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> Result<Option<T>, StoreError> {
        faults::d1().map_err(unavailable)?;
        self.db
            .prepare(sql)
            .bind(args)
            .map_err(unavailable)?
            .first::<T>(None)
            .await
            .map_err(unavailable)
    }

    async fn all<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> Result<Vec<T>, StoreError> {
        faults::d1().map_err(unavailable)?;
        self.db
            .prepare(sql)
            .bind(args)
            .map_err(unavailable)?
            .all()
            .await
            .map_err(unavailable)?
            .results()
            .map_err(unavailable)
    }
}

impl Store for D1Store {
    async fn document(&self, handle: &str) -> Result<Option<StoredDocument>, StoreError> {
        self.select_document(handle).await
    }

    async fn published(&self, handle: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_published(handle).await
    }

    async fn swap_document(
        &self,
        expected: Option<u64>,
        w: DocumentWrite<'_>,
    ) -> Result<bool, StoreError> {
        self.swap_document_rows(expected, w).await
    }

    async fn delete_document(&self, handle: &str, version: u64) -> Result<(), StoreError> {
        self.delete_document_row(handle, version).await
    }

    async fn history(
        &self,
        handle: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        self.history_rows(handle, before, limit).await
    }

    async fn change(&self, handle: &str, version: u64) -> Result<Option<StoredChange>, StoreError> {
        self.change_row(handle, version).await
    }

    async fn discard_change(&self, handle: &str, version: u64) -> Result<(), StoreError> {
        self.discard(handle, version).await
    }

    async fn publish(&self, handle: &str, snapshot: &[u8]) -> Result<(), StoreError> {
        faults::kv_write().map_err(unavailable)?;
        self.kv
            .put_bytes(&snapshot_key(handle), snapshot)
            .map_err(unavailable)?
            .execute()
            .await
            .map_err(unavailable)
    }

    async fn handles(&self) -> Result<Vec<String>, StoreError> {
        self.select_handles().await
    }

    async fn pat(&self, hash: &str) -> Result<Option<PatRecord>, StoreError> {
        self.select_pat(hash).await
    }

    async fn count(&self, key: &str, expires_at: i64, now: i64) -> Result<u32, StoreError> {
        self.increment_counter(key, expires_at, now).await
    }

    async fn peek(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        self.read_counter(key, now).await
    }

    async fn idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.select_idempotency(scope, key).await
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
        self.reserve_key(scope, key, request_hash, now, stale_before, expire_before)
            .await
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        self.complete_key(scope, key, status, body).await
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.release_key(scope, key).await
    }

    async fn page(&self, handle: &str, campaign: &str) -> Result<Option<StoredPage>, StoreError> {
        self.select_page(handle, campaign).await
    }

    async fn save_page(
        &self,
        handle: &str,
        campaign: &str,
        state: &PageState,
        expected: Option<u64>,
        now: &str,
    ) -> Result<bool, StoreError> {
        self.upsert_page(handle, campaign, state, expected, now)
            .await
    }

    async fn record_conversion(
        &self,
        c: &Conversion,
        key: &str,
        payload_hash: &str,
        now: &str,
    ) -> Result<Option<String>, StoreError> {
        self.insert_conversion(c, key, payload_hash, now).await
    }

    async fn stat_rows(&self, handle: &str, campaign: &str) -> Result<Vec<StatRow>, StoreError> {
        self.select_stat_rows(handle, campaign).await
    }

    async fn conversion_rows(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<Vec<ConversionRow>, StoreError> {
        self.select_conversion_rows(handle, campaign).await
    }

    async fn record_exposures(
        &self,
        batch: &ExposureBatch,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Result<Recorded, StoreError> {
        exposures::record(self, batch, now_ms, forget_before_ms).await
    }

    async fn exposure_totals(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<ExposureTotals, StoreError> {
        exposures::totals(self, handle, campaign).await
    }

    async fn insert_report(
        &self,
        id: &str,
        report: &SupportReport,
        client: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        self.insert_support_report(id, report, client, now).await
    }
}
