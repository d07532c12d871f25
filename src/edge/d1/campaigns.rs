//! Statements of campaigns: pages, conversions and their statistics rows, support
//! reports.

use super::*;

impl D1Store {
    pub(super) async fn select_page(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<Option<StoredPage>, StoreError> {
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

    pub(super) async fn upsert_page(
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

    pub(super) async fn insert_conversion(
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

    pub(super) async fn select_stat_rows(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<Vec<StatRow>, StoreError> {
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

    pub(super) async fn select_conversion_rows(
        &self,
        handle: &str,
        campaign: &str,
    ) -> Result<Vec<ConversionRow>, StoreError> {
        exposures::conversions(self, handle, campaign).await
    }

    pub(super) async fn insert_support_report(
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
