//! D1 and KV access for the management API.
//!
//! The store of record for a handle's configuration is the D1 row `documents(handle)`,
//! updated with compare-and-swap on its version, because KV has neither transactions nor
//! read-your-writes: two concurrent writers through KV alone could lose an update. Each
//! successful write then publishes the snapshot to KV (`snapshot:<handle>`), which is
//! what the router reads; if that publication fails the D1 row is rolled back and the
//! client gets a 503, so no write is acknowledged that is not stored and published.
//! A handle seeded straight into KV (`make dev`, `router push`) is adopted on the first
//! API access: whichever of the D1 row and the KV snapshot has the higher version wins.

use serde::Deserialize;
use worker::kv::KvStore;
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use crate::analysis::stats::StatRow;
use crate::api::auth::PatRecord;
use crate::api::conversions::Conversion;
use crate::api::error::ApiError;
use crate::api::pages::PageState;
use crate::api::support::SupportReport;
use crate::edge::faults;
use crate::engine::snapshot::{snapshot_key, Snapshot};
use crate::model::config::HandleConfig;

/// Maps a storage failure to a 503; the detail goes to the log, never to the client.
pub(crate) fn storage(e: impl std::fmt::Display) -> ApiError {
    worker::console_error!("storage error: {e}");
    ApiError::Unavailable {
        code: "storage_unavailable",
        message: "storage is unavailable; nothing was changed, retry shortly".into(),
    }
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

async fn changes(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<usize, ApiError> {
    faults::d1().map_err(storage)?;
    let result = db
        .prepare(sql)
        .bind(args)
        .map_err(storage)?
        .run()
        .await
        .map_err(storage)?;
    Ok(result
        .meta()
        .map_err(storage)?
        .and_then(|m| m.changes)
        .unwrap_or(0))
}

async fn first<T: for<'de> Deserialize<'de>>(
    db: &D1Database,
    sql: &str,
    args: &[JsValue],
) -> Result<Option<T>, ApiError> {
    faults::d1().map_err(storage)?;
    db.prepare(sql)
        .bind(args)
        .map_err(storage)?
        .first::<T>(None)
        .await
        .map_err(storage)
}

/// A handle's current configuration and where it stands.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) config: HandleConfig,
    pub(crate) version: u64,
    /// The D1 row's version, when there is a row.
    pub(crate) stored: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct DocRow {
    version: f64,
    config: String,
}

/// Loads the newer of the D1 document and the KV snapshot.
///
/// # Errors
/// [`ApiError::NotFound`] (`handle`) when neither exists; 503 on storage failure.
pub(crate) async fn load(db: &D1Database, kv: &KvStore, handle: &str) -> Result<Current, ApiError> {
    let row: Option<DocRow> = first(
        db,
        "SELECT version, config FROM documents WHERE handle = ?1",
        &[text(handle)],
    )
    .await?;
    let stored = match row {
        Some(row) => {
            let config: HandleConfig = serde_json::from_str(&row.config).map_err(storage)?;
            Some((row.version as u64, config))
        }
        None => None,
    };
    let published = kv
        .get(&snapshot_key(handle))
        .text()
        .await
        .map_err(storage)?;
    let snapshot = published
        .and_then(|json| serde_json::from_str::<Snapshot>(&json).ok())
        .filter(|s| s.config.handle == handle);
    let stored_version = stored.as_ref().map(|(v, _)| *v);
    match (stored, snapshot) {
        (Some((v, _)), Some(s)) if s.version > v => Ok(Current {
            config: s.config,
            version: s.version,
            stored: stored_version,
        }),
        (Some((version, config)), _) => Ok(Current {
            config,
            version,
            stored: stored_version,
        }),
        (None, Some(s)) => Ok(Current {
            config: s.config,
            version: s.version,
            stored: None,
        }),
        (None, None) => Err(ApiError::NotFound {
            what: "handle",
            id: handle.to_owned(),
        }),
    }
}

/// The conflict a lost compare-and-swap reports; the caller retries from a fresh load.
pub(crate) fn write_conflict() -> ApiError {
    ApiError::Conflict {
        code: "write_conflict",
        message: "the configuration changed while this write was applied; retry".into(),
    }
}

/// Stores `config` as the next version (compare-and-swap on `current`) and publishes it.
///
/// # Errors
/// [`write_conflict`] when another write won; 503 `publish_failed` (rolled back) when KV
/// refused the snapshot; 503 on storage failure.
pub(crate) async fn commit(
    db: &D1Database,
    kv: &KvStore,
    current: &Current,
    config: &HandleConfig,
    by: &str,
    now: &str,
) -> Result<u64, ApiError> {
    let handle = config.handle.as_str();
    let version = current.version + 1;
    let json = serde_json::to_string(config).map_err(storage)?;
    let swapped = match current.stored {
        Some(old) => {
            let sql = "UPDATE documents SET version = ?1, config = ?2, updated_at = ?3, updated_by = ?4 WHERE handle = ?5 AND version = ?6";
            changes(
                db,
                sql,
                &[
                    int(version as i64),
                    text(&json),
                    text(now),
                    text(by),
                    text(handle),
                    int(old as i64),
                ],
            )
            .await?
        }
        None => {
            let sql = "INSERT INTO documents (handle, version, config, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(handle) DO NOTHING";
            changes(
                db,
                sql,
                &[
                    text(handle),
                    int(version as i64),
                    text(&json),
                    text(now),
                    text(by),
                ],
            )
            .await?
        }
    };
    if swapped == 0 {
        return Err(write_conflict());
    }
    let snapshot = Snapshot::new(config.clone(), version, now.to_owned());
    let published = match faults::kv_write().and_then(|()| {
        kv.put(&snapshot_key(handle), snapshot.to_json())
            .map_err(|e| e.to_string())
    }) {
        Ok(put) => put.execute().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = published {
        worker::console_error!("publishing snapshot {handle} v{version} failed: {e}; rolling back");
        let rollback = match current.stored {
            Some(old) => {
                let previous = serde_json::to_string(&current.config).unwrap_or_default();
                let sql = "UPDATE documents SET version = ?1, config = ?2 WHERE handle = ?3 AND version = ?4";
                changes(
                    db,
                    sql,
                    &[
                        int(old as i64),
                        text(&previous),
                        text(handle),
                        int(version as i64),
                    ],
                )
                .await
            }
            None => {
                changes(
                    db,
                    "DELETE FROM documents WHERE handle = ?1 AND version = ?2",
                    &[text(handle), int(version as i64)],
                )
                .await
            }
        };
        if rollback.is_err() {
            worker::console_error!(
                "rollback of {handle} v{version} failed; the next write republishes"
            );
        }
        return Err(ApiError::Unavailable {
            code: "publish_failed",
            message: "the change could not be published; nothing was changed, retry shortly".into(),
        });
    }
    Ok(version)
}

/// Looks a PAT up by its hash.
pub(crate) async fn pat(db: &D1Database, hash: &str) -> Result<Option<PatRecord>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        handle: String,
        scopes: String,
        sub: String,
        expires_at: Option<f64>,
        revoked: f64,
    }
    let row: Option<Row> = first(
        db,
        "SELECT handle, scopes, sub, expires_at, revoked FROM api_tokens WHERE hash = ?1",
        &[text(hash)],
    )
    .await?;
    Ok(row.map(|r| PatRecord {
        handle: r.handle,
        scopes: r.scopes,
        sub: r.sub,
        expires_at: r.expires_at.map(|e| e as i64),
        revoked: r.revoked != 0.0,
    }))
}

/// Counts one event under `key` in a window ending at `expires_at`; returns the count.
pub(crate) async fn count(
    db: &D1Database,
    key: &str,
    expires_at: i64,
    now: i64,
) -> Result<u32, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        count: f64,
    }
    let sql = "INSERT INTO rate_counters (key, count, expires_at) VALUES (?1, 1, ?2) \
               ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count";
    let row: Option<Row> = first(db, sql, &[text(key), int(expires_at)]).await?;
    let count = row.map_or(1, |r| r.count as u32);
    if count == 1 {
        // A new window: sweep expired counters now and then.
        changes(
            db,
            "DELETE FROM rate_counters WHERE expires_at < ?1",
            &[int(now)],
        )
        .await?;
    }
    Ok(count)
}

/// A stored idempotent response, or its reservation.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IdempotencyRow {
    pub(crate) body_hash: String,
    pub(crate) status: Option<f64>,
    pub(crate) response: Option<String>,
}

/// Reads the record of an idempotency key.
pub(crate) async fn idempotency(
    db: &D1Database,
    handle: &str,
    key: &str,
) -> Result<Option<IdempotencyRow>, ApiError> {
    first(
        db,
        "SELECT body_hash, status, response FROM idempotency WHERE handle = ?1 AND key = ?2",
        &[text(handle), text(key)],
    )
    .await
}

/// Reserves a key; `false` when another request holds it (a reservation older than a
/// minute, left by a request that died, is taken over).
pub(crate) async fn reserve(
    db: &D1Database,
    handle: &str,
    key: &str,
    route: &str,
    body_hash: &str,
    now: i64,
) -> Result<bool, ApiError> {
    changes(
        db,
        "DELETE FROM idempotency WHERE created_at < ?1",
        &[int(now - 24 * 3600)],
    )
    .await?;
    let sql = "INSERT INTO idempotency (handle, key, route, body_hash, status, response, created_at) VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5) \
               ON CONFLICT(handle, key) DO UPDATE SET route = excluded.route, body_hash = excluded.body_hash, created_at = excluded.created_at \
               WHERE idempotency.status IS NULL AND idempotency.created_at < ?6";
    Ok(changes(
        db,
        sql,
        &[
            text(handle),
            text(key),
            text(route),
            text(body_hash),
            int(now),
            int(now - 60),
        ],
    )
    .await?
        == 1)
}

/// Stores the final response of a reserved key.
pub(crate) async fn complete(
    db: &D1Database,
    handle: &str,
    key: &str,
    status: u16,
    response: &str,
) -> Result<(), ApiError> {
    let sql = "UPDATE idempotency SET status = ?1, response = ?2 WHERE handle = ?3 AND key = ?4";
    changes(
        db,
        sql,
        &[
            int(i64::from(status)),
            text(response),
            text(handle),
            text(key),
        ],
    )
    .await
    .map(|_| ())
}

/// Releases a reservation whose request failed with a 5xx, so a retry can run.
pub(crate) async fn release(db: &D1Database, handle: &str, key: &str) -> Result<(), ApiError> {
    changes(
        db,
        "DELETE FROM idempotency WHERE handle = ?1 AND key = ?2 AND status IS NULL",
        &[text(handle), text(key)],
    )
    .await
    .map(|_| ())
}

/// A campaign page's state and its revision (for compare-and-swap); `None` if never written.
pub(crate) async fn page(
    db: &D1Database,
    handle: &str,
    campaign: &str,
) -> Result<Option<(PageState, u64)>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        state: String,
        revision: f64,
    }
    let row: Option<Row> = first(
        db,
        "SELECT state, revision FROM campaign_pages WHERE handle = ?1 AND campaign = ?2",
        &[text(handle), text(campaign)],
    )
    .await?;
    match row {
        Some(row) => Ok(Some((
            serde_json::from_str(&row.state).map_err(storage)?,
            row.revision as u64,
        ))),
        None => Ok(None),
    }
}

/// Stores a page state if the row's revision counter is still `expected` (`None`: not
/// yet stored); `false` when another write won. The counter is bumped by every save, a
/// publish included, so a draft PUT that read the page before a publish cannot write
/// the old published revision back.
pub(crate) async fn save_page(
    db: &D1Database,
    handle: &str,
    campaign: &str,
    state: &PageState,
    expected: Option<u64>,
    now: &str,
) -> Result<bool, ApiError> {
    let json = serde_json::to_string(state).map_err(storage)?;
    let revision = int(expected.map_or(1, |r| r + 1) as i64);
    let changed = match expected {
        Some(old) => {
            let sql = "UPDATE campaign_pages SET state = ?1, revision = ?2, updated_at = ?3 WHERE handle = ?4 AND campaign = ?5 AND revision = ?6";
            changes(
                db,
                sql,
                &[
                    text(&json),
                    revision,
                    text(now),
                    text(handle),
                    text(campaign),
                    int(old as i64),
                ],
            )
            .await?
        }
        None => {
            let sql = "INSERT INTO campaign_pages (handle, campaign, state, revision, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(handle, campaign) DO NOTHING";
            changes(
                db,
                sql,
                &[
                    text(handle),
                    text(campaign),
                    text(&json),
                    revision,
                    text(now),
                ],
            )
            .await?
        }
    };
    Ok(changed == 1)
}

/// Conversion counts of a campaign grouped by variant, event and test flag.
pub(crate) async fn stat_rows(
    db: &D1Database,
    handle: &str,
    campaign: &str,
) -> Result<Vec<StatRow>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        variant: String,
        event: String,
        is_test: f64,
        n: f64,
    }
    faults::d1().map_err(storage)?;
    let sql = "SELECT variant, event, is_test, COUNT(*) AS n FROM conversions WHERE handle = ?1 AND campaign = ?2 GROUP BY variant, event, is_test";
    let result = db
        .prepare(sql)
        .bind(&[text(handle), text(campaign)])
        .map_err(storage)?
        .all()
        .await
        .map_err(storage)?;
    let rows: Vec<Row> = result.results().map_err(storage)?;
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

/// Records a conversion once per `(handle, key)`; `None` when recorded now, else the
/// payload hash stored under the key before (a retry or a reuse).
pub(crate) async fn record_conversion(
    db: &D1Database,
    c: &Conversion,
    key: &str,
    payload_hash: &str,
    now: &str,
) -> Result<Option<String>, ApiError> {
    let sql = "INSERT INTO conversions (handle, campaign, variant, visitor_id, event, value, currency, metadata, is_test, idempotency_key, payload_hash, created_at) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(handle, idempotency_key) DO NOTHING";
    let optional = |v: &Option<String>| v.as_deref().map_or(JsValue::null(), text);
    let args = [
        text(&c.handle),
        text(&c.campaign),
        text(&c.variant),
        text(&c.visitor_id),
        text(&c.event),
        c.value.map_or(JsValue::null(), JsValue::from_f64),
        optional(&c.currency),
        optional(&c.metadata),
        int(i64::from(c.is_test)),
        text(key),
        text(payload_hash),
        text(now),
    ];
    if changes(db, sql, &args).await? == 1 {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Row {
        payload_hash: String,
    }
    let row: Option<Row> = first(
        db,
        "SELECT payload_hash FROM conversions WHERE handle = ?1 AND idempotency_key = ?2",
        &[text(&c.handle), text(key)],
    )
    .await?;
    Ok(Some(row.map(|r| r.payload_hash).unwrap_or_default()))
}

/// Stores a support report.
pub(crate) async fn insert_report(
    db: &D1Database,
    id: &str,
    report: &SupportReport,
    client: &str,
    now: &str,
) -> Result<(), ApiError> {
    let optional = |v: &Option<String>| v.as_deref().map_or(JsValue::null(), text);
    let sql = "INSERT INTO support_reports (id, created_at, summary, details, handle, session_id, request_id, repro_artifact, client_ip_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    let args = [
        text(id),
        text(now),
        text(&report.summary),
        text(&report.details),
        optional(&report.handle),
        optional(&report.session_id),
        optional(&report.request_id),
        optional(&report.repro_artifact),
        text(client),
    ];
    changes(db, sql, &args).await.map(|_| ())
}
