//! The change history on D1 (`changes`, migration 0003): a document write and its
//! history rows go in one batch, which D1 runs as one transaction. The rows are
//! inserted from the document row itself, and only when it holds this write's
//! `write_id`: a compare-and-swap that lost inserts nothing, and the configuration text
//! is sent once.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{int, text, unavailable, D1Store};
use crate::api::store::{ChangeWrite, DocumentWrite, StoreError, StoredChange};
use crate::edge::faults;

/// The largest version a bound parameter carries exactly (D1 binds numbers as doubles).
const MAX_VERSION: i64 = (1 << 53) - 1;

/// A row of `changes`.
#[derive(Deserialize)]
struct Row {
    version: f64,
    version_before: Option<f64>,
    at: String,
    subject: String,
    route: Option<String>,
    request_id: Option<String>,
    restored_from: Option<f64>,
    diff: Option<String>,
    #[serde(default)]
    config: Option<String>,
}

impl From<Row> for StoredChange {
    fn from(r: Row) -> Self {
        StoredChange {
            version: r.version as u64,
            version_before: r.version_before.map(|v| v as u64),
            at: r.at,
            subject: r.subject,
            route: r.route,
            request_id: r.request_id,
            restored_from: r.restored_from.map(|v| v as u64),
            diff: r.diff,
            config: r.config,
        }
    }
}

const COLUMNS: &str =
    "version, version_before, at, subject, route, request_id, restored_from, diff";

impl D1Store {
    fn statement(&self, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement, StoreError> {
        self.db.prepare(sql).bind(args).map_err(unavailable)
    }

    /// Runs the document statement and the history rows of `change` in one batch;
    /// returns how many rows the document statement changed.
    pub(super) async fn swap_recorded(
        &self,
        document: (&str, Vec<JsValue>),
        w: &DocumentWrite<'_>,
        change: &ChangeWrite<'_>,
    ) -> Result<usize, StoreError> {
        faults::d1().map_err(unavailable)?;
        let (sql, args) = document;
        let mut batch = vec![self.statement(sql, &args)?];
        // Every row below exists only if the document row holds this write.
        let mine = "FROM documents d WHERE d.handle = ?1 AND d.version = ?2 AND d.write_id = ?3";
        let version = int(w.version as i64);
        if let Some(baseline) = change.baseline {
            let sql = format!(
                "INSERT OR IGNORE INTO changes (handle, version, version_before, at, subject, route, request_id, restored_from, diff, config) \
                 SELECT ?1, ?4, NULL, ?5, ?6, NULL, NULL, NULL, NULL, ?7 {mine}"
            );
            let args = [
                text(w.handle),
                version.clone(),
                text(change.write_id),
                int(change.version_before as i64),
                text(w.at),
                text(w.by),
                text(baseline),
            ];
            batch.push(self.statement(&sql, &args)?);
        }
        let sql = format!(
            "INSERT OR REPLACE INTO changes (handle, version, version_before, at, subject, route, request_id, restored_from, diff, config) \
             SELECT ?1, ?2, ?4, ?5, ?6, ?7, ?8, ?9, ?10, d.config {mine}"
        );
        let args = [
            text(w.handle),
            version.clone(),
            text(change.write_id),
            int(change.version_before as i64),
            text(w.at),
            text(w.by),
            text(change.route),
            text(change.request_id),
            change
                .restored_from
                .map_or(JsValue::null(), |v| int(v as i64)),
            text(change.diff),
        ];
        batch.push(self.statement(&sql, &args)?);
        let sql = format!(
            "DELETE FROM changes WHERE handle = ?1 AND version < ?4 AND EXISTS (SELECT 1 {mine})"
        );
        let args = [
            text(w.handle),
            version,
            text(change.write_id),
            int(change.keep_from as i64),
        ];
        batch.push(self.statement(&sql, &args)?);
        let results = self.db.batch(batch).await.map_err(unavailable)?;
        let first = results
            .first()
            .ok_or_else(|| StoreError::Unavailable("an empty batch result".into()))?;
        Ok(first
            .meta()
            .map_err(unavailable)?
            .and_then(|m| m.changes)
            .unwrap_or(0))
    }

    pub(super) async fn history_rows(
        &self,
        handle: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM changes WHERE handle = ?1 AND version < ?2 ORDER BY version DESC LIMIT ?3"
        );
        let before = before.map_or(MAX_VERSION, |v| (v as i64).min(MAX_VERSION));
        let args = [text(handle), int(before), int(limit as i64)];
        let rows: Vec<Row> = self.all(&sql, &args).await?;
        Ok(rows.into_iter().map(StoredChange::from).collect())
    }

    pub(super) async fn change_row(
        &self,
        handle: &str,
        version: u64,
    ) -> Result<Option<StoredChange>, StoreError> {
        if version > MAX_VERSION as u64 {
            return Ok(None);
        }
        let sql =
            format!("SELECT {COLUMNS}, config FROM changes WHERE handle = ?1 AND version = ?2");
        let row: Option<Row> = self
            .first(&sql, &[text(handle), int(version as i64)])
            .await?;
        Ok(row.map(StoredChange::from))
    }

    pub(super) async fn discard(&self, handle: &str, version: u64) -> Result<(), StoreError> {
        let sql = "DELETE FROM changes WHERE handle = ?1 AND version = ?2";
        self.changes(sql, &[text(handle), int(version as i64)])
            .await
            .map(|_| ())
    }

    /// Whether the history holds the document's version is read with the document.
    pub(super) const DOCUMENT: &'static str = "SELECT d.version, d.config, EXISTS (SELECT 1 FROM changes c WHERE c.handle = d.handle AND c.version = d.version) AS recorded FROM documents d WHERE d.handle = ?1";
}
