//! Statements of access control: personal access tokens, the throttle and limit
//! counters, idempotency records.

use super::*;

impl D1Store {
    pub(super) async fn select_pat(&self, hash: &str) -> Result<Option<PatRecord>, StoreError> {
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

    pub(super) async fn increment_counter(
        &self,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<u32, StoreError> {
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

    pub(super) async fn read_counter(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            count: f64,
        }
        let sql = "SELECT count FROM rate_counters WHERE key = ?1 AND expires_at >= ?2";
        let row: Option<Row> = self.first(sql, &[text(key), int(now)]).await?;
        Ok(row.map_or(0, |r| r.count as u32))
    }

    pub(super) async fn select_idempotency(
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

    pub(super) async fn reserve_key(
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

    pub(super) async fn complete_key(
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

    pub(super) async fn release_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM idempotency WHERE handle = ?1 AND key = ?2 AND status IS NULL";
        self.changes(sql, &[text(scope), text(key)])
            .await
            .map(|_| ())
    }
}
