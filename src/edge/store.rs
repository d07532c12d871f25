//! Isolate-level caches over KV: each handle's compiled snapshot (one KV read per handle
//! per TTL, last-known-good kept when KV fails or the snapshot is corrupt) and the
//! MaxMind DB (read once per isolate).
//!
//! Policy when a refresh does not produce a usable snapshot:
//! - KV error, corrupt snapshot, or a snapshot *older* than the one held: keep serving the
//!   last-known-good one and try again after another TTL;
//! - key missing and nothing held: the handle is unknown (404), cached for a TTL;
//! - key missing but a snapshot held: treated like a KV fault (keep last-known-good), since
//!   KV is eventually consistent and a deleted handle is rare and deliberate.
//!
//! workerd runs one request at a time per isolate thread, so `thread_local` caches need no
//! locking; no `RefCell` borrow is ever held across an `.await`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use worker::kv::KvStore;

use super::faults;
use crate::engine::snapshot::{self, snapshot_key, Loaded};
use crate::visit::geodb::GeoDb;

/// The KV key of the MaxMind DB.
pub(crate) const MMDB_KEY: &str = "geo:mmdb";
/// How long a failed MaxMind DB read is remembered before trying again.
const MMDB_RETRY_MS: f64 = 60_000.0;
/// Most handles kept in the isolate's cache.
const MAX_CACHED_HANDLES: usize = 256;

/// What the cache can say about a handle.
#[derive(Debug, Clone)]
pub(crate) enum SnapshotLookup {
    /// A snapshot to decide with (`stale` when a refresh failed and this is the
    /// last-known-good one).
    Ready { loaded: Rc<Loaded>, stale: bool },
    /// The handle has no snapshot.
    Missing,
    /// No snapshot could be read and none is held.
    Unavailable,
}

#[derive(Debug)]
struct Slot {
    loaded: Option<Rc<Loaded>>,
    stale: bool,
    missing: bool,
    checked_at_ms: f64,
}

impl Slot {
    fn lookup(&self) -> SnapshotLookup {
        match (&self.loaded, self.missing) {
            (Some(loaded), _) => SnapshotLookup::Ready {
                loaded: loaded.clone(),
                stale: self.stale,
            },
            (None, true) => SnapshotLookup::Missing,
            (None, false) => SnapshotLookup::Unavailable,
        }
    }
}

thread_local! {
    static KV_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static SNAPSHOTS: RefCell<HashMap<String, Slot>> = RefCell::new(HashMap::new());
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
pub(crate) async fn snapshot(
    kv: &KvStore,
    handle: &str,
    now_ms: f64,
    ttl_ms: f64,
) -> SnapshotLookup {
    let cached = SNAPSHOTS.with(|c| {
        c.borrow().get(handle).map(|slot| {
            (
                slot.lookup(),
                now_ms - slot.checked_at_ms < ttl_ms,
                slot.loaded.clone(),
            )
        })
    });
    let held = match cached {
        Some((lookup, true, _)) => return lookup,
        Some((_, false, held)) => held,
        None => None,
    };
    let read = read_bytes(kv, &snapshot_key(handle)).await;
    let unchanged = match (&read, &held) {
        (Ok(Some(bytes)), Some(held)) => snapshot::peek_version(bytes) == Some(held.version),
        _ => false,
    };
    if unchanged {
        // Same version as held: nothing to compile, just start a new TTL period.
        let slot = Slot {
            loaded: held,
            stale: false,
            missing: false,
            checked_at_ms: now_ms,
        };
        let lookup = slot.lookup();
        SNAPSHOTS.with(|c| c.borrow_mut().insert(handle.to_owned(), slot));
        return lookup;
    }
    let fresh = match read {
        Ok(Some(bytes)) => match snapshot::load(handle, &bytes) {
            Ok(loaded) => Ok(Some(loaded)),
            Err(e) => Err(format!("corrupt snapshot for {handle}: {e}")),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(format!("KV read of the snapshot for {handle} failed: {e}")),
    };
    let slot = match (fresh, held) {
        (Ok(Some(loaded)), Some(held)) if loaded.version < held.version => {
            worker::console_warn!(
                "KV returned snapshot version {} for {handle}, older than {}; keeping the newer",
                loaded.version,
                held.version
            );
            Slot {
                loaded: Some(held),
                stale: false,
                missing: false,
                checked_at_ms: now_ms,
            }
        }
        (Ok(Some(loaded)), _) => Slot {
            loaded: Some(Rc::new(loaded)),
            stale: false,
            missing: false,
            checked_at_ms: now_ms,
        },
        (Ok(None), None) => Slot {
            loaded: None,
            stale: false,
            missing: true,
            checked_at_ms: now_ms,
        },
        (Ok(None), Some(held)) => {
            worker::console_warn!(
                "snapshot for {handle} is missing from KV; keeping the last-known-good one"
            );
            Slot {
                loaded: Some(held),
                stale: true,
                missing: false,
                checked_at_ms: now_ms,
            }
        }
        (Err(why), held) => {
            worker::console_error!(
                "{why}; {}",
                if held.is_some() {
                    "keeping the last-known-good one"
                } else {
                    "no snapshot held"
                }
            );
            let stale = held.is_some();
            Slot {
                loaded: held,
                stale,
                missing: false,
                checked_at_ms: now_ms,
            }
        }
    };
    let lookup = slot.lookup();
    SNAPSHOTS.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= MAX_CACHED_HANDLES && !cache.contains_key(handle) {
            cache.retain(|_, s| s.loaded.is_some());
            if cache.len() >= MAX_CACHED_HANDLES {
                cache.clear();
            }
        }
        cache.insert(handle.to_owned(), slot);
    });
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
