//! Isolate-level caches over KV: each handle's snapshot (one KV read per handle per TTL)
//! and the MaxMind DB (read once per isolate). An I/O shell: what to serve after a read
//! (last-known-good on faults and corrupt values, tombstones and confirmed deletions as
//! takedowns, rollbacks by generation) is [`crate::visit::cache`]'s policy.
//!
//! workerd runs one request at a time per isolate thread, so `thread_local` caches need no
//! locking; no `RefCell` borrow is ever held across an `.await`.

use std::cell::RefCell;
use std::rc::Rc;

use worker::kv::KvStore;

use super::faults;
use crate::engine::snapshot::snapshot_key;
use crate::visit::cache::{Cache, KvRead, Level, Lookup};
use crate::visit::geodb::GeoDb;

/// The KV key of the MaxMind DB.
pub(crate) const MMDB_KEY: &str = "geo:mmdb";
/// How long a failed MaxMind DB read is remembered before trying again.
const MMDB_RETRY_MS: f64 = 60_000.0;

thread_local! {
    static KV_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static SNAPSHOTS: RefCell<Cache> = RefCell::new(Cache::default());
    static GEODB: RefCell<GeoSlot> = const { RefCell::new(GeoSlot::NotRead) };
}

/// KV reads this isolate has made so far (benchmarks read the per-request difference
/// from the `X-Kv-Reads` header when `EXPOSE_COUNTERS=true`).
pub(crate) fn kv_reads() -> u64 {
    KV_READS.with(std::cell::Cell::get)
}

fn count_read() {
    KV_READS.with(|c| c.set(c.get() + 1));
}

/// One counted KV read, through the fault-injection layer.
async fn read_bytes(kv: &KvStore, key: &str) -> Result<Option<Vec<u8>>, String> {
    count_read();
    faults::kv_read().await?;
    kv.get(key).bytes().await.map_err(|e| e.to_string())
}

/// The handle's snapshot, from the isolate cache or (when older than `ttl_ms`) from KV.
pub(crate) async fn snapshot(kv: &KvStore, handle: &str, now_ms: f64, ttl_ms: f64) -> Lookup {
    if let Some(lookup) = SNAPSHOTS.with(|c| c.borrow().fresh(handle, now_ms, ttl_ms)) {
        return lookup;
    }
    let read = match read_bytes(kv, &snapshot_key(handle)).await {
        Ok(Some(bytes)) => KvRead::Value(bytes),
        Ok(None) => KvRead::Missing,
        Err(why) => KvRead::Failed(why),
    };
    let (lookup, note) = SNAPSHOTS.with(|c| c.borrow_mut().refresh(handle, read, now_ms));
    match note {
        Some(n) if n.level == Level::Error => worker::console_error!("{}", n.text),
        Some(n) => worker::console_warn!("{}", n.text),
        None => {}
    }
    lookup
}

#[derive(Debug)]
enum GeoSlot {
    NotRead,
    Ready(Rc<GeoDb>),
    Failed { at_ms: f64 },
}

/// The MaxMind DB, read from KV once per isolate; `None` when it is missing or corrupt
/// (then retried after a minute).
pub(crate) async fn geodb(kv: &KvStore, now_ms: f64) -> Option<Rc<GeoDb>> {
    let state = GEODB.with(|g| match &*g.borrow() {
        GeoSlot::Ready(db) => Some(Some(db.clone())),
        GeoSlot::Failed { at_ms } if now_ms - at_ms < MMDB_RETRY_MS => Some(None),
        _ => None,
    });
    if let Some(known) = state {
        return known;
    }
    let slot = match read_bytes(kv, MMDB_KEY).await {
        Ok(Some(bytes)) => match GeoDb::from_bytes(bytes) {
            Ok(db) => GeoSlot::Ready(Rc::new(db)),
            Err(e) => {
                worker::console_error!("{MMDB_KEY}: {e}");
                GeoSlot::Failed { at_ms: now_ms }
            }
        },
        Ok(None) => {
            worker::console_warn!(
                "{MMDB_KEY} is not in KV: IP geolocation falls back to request.cf only"
            );
            GeoSlot::Failed { at_ms: now_ms }
        }
        Err(e) => {
            worker::console_error!("KV read of {MMDB_KEY} failed: {e}");
            GeoSlot::Failed { at_ms: now_ms }
        }
    };
    let db = match &slot {
        GeoSlot::Ready(db) => Some(db.clone()),
        _ => None,
    };
    GEODB.with(|g| *g.borrow_mut() = slot);
    db
}
