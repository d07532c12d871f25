//! Statements of configuration documents: read, compare-and-swap, delete, the list of
//! handles; the published snapshot in KV.

use super::*;

impl D1Store {
    pub(super) async fn select_document(
        &self,
        handle: &str,
    ) -> Result<Option<StoredDocument>, StoreError> {
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

    pub(super) async fn read_published(&self, handle: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv
            .get(&snapshot_key(handle))
            .bytes()
            .await
            .map_err(unavailable)
    }

    pub(super) async fn swap_document_rows(
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

    pub(super) async fn delete_document_row(
        &self,
        handle: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        let sql = "DELETE FROM documents WHERE handle = ?1 AND version = ?2";
        self.changes(sql, &[text(handle), int(version as i64)])
            .await
            .map(|_| ())
    }

    pub(super) async fn select_handles(&self) -> Result<Vec<String>, StoreError> {
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
}
