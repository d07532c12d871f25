//! The management API's [`Store`] on D1 (documents, tokens, idempotency, counters,
//! pages, conversions, reports) and KV (the published snapshots), through the
//! fault-injection layer. Statements only: every policy is the API's. The change
//! history's statements are in [`history`].

mod history;

use serde::Deserialize;
use worker::kv::KvStore;
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use super::faults;
use crate::analysis::stats::StatRow;
use crate::api::auth::PatRecord;
use crate::api::conversions::Conversion;
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
        #[derive(Deserialize)]
        struct Row {
            version: f64,
            config: String,
            recorded: f64,
        }
        let row: Option<Row> = self.first(Self::DOCUMENT, &[text(handle)]).await?;
        Ok(row.map(|r| StoredDocument {
            version: r.version as u64,
            config: r.config,
            recorded: r.recorded != 0.0,
        }))
    }

    async fn published(&self, handle: &str) -> Result<Option<String>, StoreError> {
        self.kv
            .get(&snapshot_key(handle))
            .text()
            .await
            .map_err(unavailable)
    }

    async fn swap_document(
        &self,
        expected: Option<u64>,
        w: DocumentWrite<'_>,
    ) -> Result<bool, StoreError> {
        let write_id = w.change.map_or(JsValue::null(), |c| text(c.write_id));
        let statement = match expected {
            Some(old) => {
                let sql = "UPDATE documents SET version = ?1, config = ?2, updated_at = ?3, updated_by = ?4, write_id = ?7 WHERE handle = ?5 AND version = ?6";
                let args = vec![
                    int(w.version as i64),
                    text(w.config),
                    text(w.at),
                    text(w.by),
                    text(w.handle),
                    int(old as i64),
                    write_id,
                ];
                (sql, args)
            }
            None => {
                let sql = "INSERT INTO documents (handle, version, config, updated_at, updated_by, write_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(handle) DO NOTHING";
                let args = vec![
                    text(w.handle),
                    int(w.version as i64),
                    text(w.config),
                    text(w.at),
                    text(w.by),
                    write_id,
                ];
                (sql, args)
            }
        };
        let changed = match &w.change {
            Some(change) => self.swap_recorded(statement, &w, change).await?,
            None => self.changes(statement.0, &statement.1).await?,
        };
        Ok(changed == 1)
    }

    async fn delete_document(&self, handle: &str, version: u64) -> Result<(), StoreError> {
        let sql = "DELETE FROM documents WHERE handle = ?1 AND version = ?2";
        self.changes(sql, &[text(handle), int(version as i64)])
            .await
            .map(|_| ())
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

    async fn publish(&self, handle: &str, snapshot: &str) -> Result<(), StoreError> {
        faults::kv_write().map_err(unavailable)?;
        self.kv
            .put(&snapshot_key(handle), snapshot)
            .map_err(unavailable)?
            .execute()
            .await
            .map_err(unavailable)
    }

    async fn handles(&self) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            handle: String,
        }
        let rows: Vec<Row> = self.all("SELECT handle FROM documents", &[]).await?;
        let mut handles: Vec<String> = rows.into_iter().map(|r| r.handle).collect();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = self.kv.list().prefix(SNAPSHOT_PREFIX.to_owned());
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = list.execute().await.map_err(unavailable)?;
            handles.extend(
                page.keys
                    .iter()
                    .filter_map(|k| k.name.strip_prefix(SNAPSHOT_PREFIX).map(str::to_owned)),
            );
            match page.cursor {
                Some(next) if !page.list_complete => cursor = Some(next),
                _ => break,
            }
        }
        handles.sort();
        handles.dedup();
        Ok(handles)
    }

    async fn pat(&self, hash: &str) -> Result<Option<PatRecord>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            handle: String,
            scopes: String,
            sub: String,
            expires_at: Option<f64>,
            revoked: f64,
        }
        let sql = "SELECT handle, scopes, sub, expires_at, revoked FROM api_tokens WHERE hash = ?1";
        let row: Option<Row> = self.first(sql, &[text(hash)]).await?;
        Ok(row.map(|r| PatRecord {
            handle: r.handle,
            scopes: r.scopes,
            sub: r.sub,
            expires_at: r.expires_at.map(|e| e as i64),
            revoked: r.revoked != 0.0,
        }))
    }

    async fn count(&self, key: &str, expires_at: i64, now: i64) -> Result<u32, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            count: f64,
        }
        let sql = "INSERT INTO rate_counters (key, count, expires_at) VALUES (?1, 1, ?2) \
                   ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count";
        let row: Option<Row> = self.first(sql, &[text(key), int(expires_at)]).await?;
        let count = row.map_or(1, |r| r.count as u32);
        if count == 1 {
            // A new window: sweep expired counters now and then.
            let sql = "DELETE FROM rate_counters WHERE expires_at < ?1";
            self.changes(sql, &[int(now)]).await?;
        }
        Ok(count)
    }

    async fn peek(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            count: f64,
        }
        let sql = "SELECT count FROM rate_counters WHERE key = ?1 AND expires_at >= ?2";
        let row: Option<Row> = self.first(sql, &[text(key), int(now)]).await?;
        Ok(row.map_or(0, |r| r.count as u32))
    }

    async fn idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            body_hash: String,
            status: Option<f64>,
            response: Option<String>,
            created_at: f64,
        }
        let sql = "SELECT body_hash, status, response, created_at FROM idempotency WHERE handle = ?1 AND key = ?2";
        let row: Option<Row> = self.first(sql, &[text(scope), text(key)]).await?;
        Ok(row.map(|r| IdempotencyRecord {
            request_hash: r.body_hash,
            response: r.status.zip(r.response).map(|(s, b)| (s as u16, b)),
            created_at: r.created_at as i64,
        }))
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
        let sweep = "DELETE FROM idempotency WHERE created_at < ?1";
        self.changes(sweep, &[int(expire_before)]).await?;
        let sql = "INSERT INTO idempotency (handle, key, route, body_hash, status, response, created_at) VALUES (?1, ?2, '', ?3, NULL, NULL, ?4) \
                   ON CONFLICT(handle, key) DO UPDATE SET body_hash = excluded.body_hash, created_at = excluded.created_at, status = NULL, response = NULL \
                   WHERE (idempotency.status IS NULL AND idempotency.created_at < ?5) OR idempotency.created_at < ?6";
        let args = [
            text(scope),
            text(key),
            text(request_hash),
            int(now),
            int(stale_before),
            int(expire_before),
        ];
        Ok(self.changes(sql, &args).await? == 1)
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        let sql =
            "UPDATE idempotency SET status = ?1, response = ?2 WHERE handle = ?3 AND key = ?4";
        let args = [int(i64::from(status)), text(body), text(scope), text(key)];
        self.changes(sql, &args).await.map(|_| ())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM idempotency WHERE handle = ?1 AND key = ?2 AND status IS NULL";
        self.changes(sql, &[text(scope), text(key)])
            .await
            .map(|_| ())
    }

    async fn page(&self, handle: &str, campaign: &str) -> Result<Option<StoredPage>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
            revision: f64,
        }
        let sql = "SELECT state, revision FROM campaign_pages WHERE handle = ?1 AND campaign = ?2";
        let row: Option<Row> = self.first(sql, &[text(handle), text(campaign)]).await?;
        match row {
            Some(row) => {
                let state = serde_json::from_str(&row.state)
                    .map_err(|e| StoreError::Corrupt(format!("page {handle}/{campaign}: {e}")))?;
                Ok(Some((state, row.revision as u64)))
            }
            None => Ok(None),
        }
    }

    async fn save_page(
        &self,
        handle: &str,
        campaign: &str,
        state: &PageState,
        expected: Option<u64>,
        now: &str,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(state)
            .map_err(|e| StoreError::Corrupt(format!("serialising a page: {e}")))?;
        let revision = int(expected.map_or(1, |r| r + 1) as i64);
        let changed = match expected {
            Some(old) => {
                let sql = "UPDATE campaign_pages SET state = ?1, revision = ?2, updated_at = ?3 WHERE handle = ?4 AND campaign = ?5 AND revision = ?6";
                let args = [
                    text(&json),
                    revision,
                    text(now),
                    text(handle),
                    text(campaign),
                    int(old as i64),
                ];
                self.changes(sql, &args).await?
            }
            None => {
                let sql = "INSERT INTO campaign_pages (handle, campaign, state, revision, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(handle, campaign) DO NOTHING";
                let args = [
                    text(handle),
                    text(campaign),
                    text(&json),
                    revision,
                    text(now),
                ];
                self.changes(sql, &args).await?
            }
        };
        Ok(changed == 1)
    }

    async fn record_conversion(
        &self,
        c: &Conversion,
        key: &str,
        payload_hash: &str,
        now: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = "INSERT INTO conversions (handle, campaign, variant, visitor_id, event, value, currency, metadata, is_test, idempotency_key, payload_hash, created_at) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(handle, idempotency_key) DO NOTHING";
        let args = [
            text(&c.handle),
            text(&c.campaign),
            text(&c.variant),
            text(&c.visitor_id),
            text(&c.event),
            c.value.map_or(JsValue::null(), JsValue::from_f64),
            optional(c.currency.as_deref()),
            optional(c.metadata.as_deref()),
            int(i64::from(c.is_test)),
            text(key),
            text(payload_hash),
            text(now),
        ];
        if self.changes(sql, &args).await? == 1 {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct Row {
            payload_hash: String,
        }
        let sql = "SELECT payload_hash FROM conversions WHERE handle = ?1 AND idempotency_key = ?2";
        let row: Option<Row> = self.first(sql, &[text(&c.handle), text(key)]).await?;
        row.map(|r| Some(r.payload_hash)).ok_or_else(|| {
            StoreError::Corrupt(format!("conversion key {key} neither inserted nor found"))
        })
    }

    async fn stat_rows(&self, handle: &str, campaign: &str) -> Result<Vec<StatRow>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            variant: String,
            event: String,
            is_test: f64,
            n: f64,
        }
        let sql = "SELECT variant, event, is_test, COUNT(*) AS n FROM conversions WHERE handle = ?1 AND campaign = ?2 GROUP BY variant, event, is_test";
        let rows: Vec<Row> = self.all(sql, &[text(handle), text(campaign)]).await?;
        Ok(rows
            .into_iter()
            .map(|r| StatRow {
                variant: r.variant,
                event: r.event,
                is_test: r.is_test != 0.0,
                count: r.n as u64,
            })
            .collect())
    }

    async fn insert_report(
        &self,
        id: &str,
        report: &SupportReport,
        client: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO support_reports (id, created_at, summary, details, handle, session_id, request_id, repro_artifact, client_ip_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        let args = [
            text(id),
            text(now),
            text(&report.summary),
            text(&report.details),
            optional(report.handle.as_deref()),
            optional(report.session_id.as_deref()),
            optional(report.request_id.as_deref()),
            optional(report.repro_artifact.as_deref()),
            text(client),
        ];
        self.changes(sql, &args).await.map(|_| ())
    }
}
