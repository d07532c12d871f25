//! The isolate's caches: each handle's snapshot and the MaxMind DB. KV itself is read by
//! the JavaScript hot path (`src/edge/entry.mjs`), which hands what it read to
//! [`apply_snapshot`] and [`apply_geodb`]; what to serve after a read (last-known-good on
//! faults and corrupt values, tombstones and confirmed deletions as takedowns, rollbacks
//! by generation, when to re-read in the background) is [`crate::visit::cache`]'s policy.
//!
//! workerd runs one request at a time per isolate thread, so `thread_local` caches need no
//! locking.

use std::cell::RefCell;
use std::rc::Rc;

use crate::visit::cache::{Cache, KvRead, Level, Served};
use crate::visit::geodb::GeoDb;

/// How long a failed MaxMind DB read is remembered before trying again.
const MMDB_RETRY_MS: f64 = 60_000.0;

thread_local! {
    static SNAPSHOTS: RefCell<Cache> = RefCell::new(Cache::default());
    static GEODB: RefCell<GeoSlot> = const { RefCell::new(GeoSlot::NotRead) };
}

/// What the isolate holds for `handle` (see [`Cache::serve`]).
pub(crate) fn serve(handle: &str, now_ms: f64, ttl_ms: f64, read_now: bool) -> Served {
    SNAPSHOTS.with(|c| c.borrow_mut().serve(handle, now_ms, ttl_ms, read_now))
}

/// Applies one read of the handle's snapshot key, logging what the policy notes.
pub(crate) fn apply_snapshot(handle: &str, read: KvRead, now_ms: f64) {
    let (_, note) = SNAPSHOTS.with(|c| c.borrow_mut().refresh(handle, read, now_ms));
    match note {
        Some(n) if n.level == Level::Error => worker::console_error!("{}", n.text),
        Some(n) => worker::console_warn!("{}", n.text),
        None => {}
    }
}

#[derive(Debug)]
enum GeoSlot {
    NotRead,
    Ready(Rc<GeoDb>),
    Failed { at_ms: f64 },
}

/// The MaxMind DB as the isolate holds it.
pub(crate) enum Geo {
    /// Read and usable.
    Ready(Rc<GeoDb>),
    /// Missing or corrupt (recently): decide without it.
    Absent,
    /// Never read, or a failure a minute old: the visit waits for one read.
    Unread,
}

/// The MaxMind DB, if the isolate has read it.
pub(crate) fn geodb(now_ms: f64) -> Geo {
    GEODB.with(|g| match &*g.borrow() {
        GeoSlot::Ready(db) => Geo::Ready(db.clone()),
        GeoSlot::Failed { at_ms } if now_ms - at_ms < MMDB_RETRY_MS => Geo::Absent,
        _ => Geo::Unread,
    })
}

/// Applies one read of the MaxMind DB key (`MMDB_KEY` in `entry.mjs`).
pub(crate) fn apply_geodb(read: KvRead, now_ms: f64) {
    let slot = match read {
        KvRead::Value(bytes) => match GeoDb::from_bytes(bytes) {
            Ok(db) => GeoSlot::Ready(Rc::new(db)),
            Err(e) => {
                worker::console_error!("geo:mmdb: {e}");
                GeoSlot::Failed { at_ms: now_ms }
            }
        },
        KvRead::Missing => {
            worker::console_warn!(
                "geo:mmdb is not in KV: IP geolocation falls back to request.cf only"
            );
            GeoSlot::Failed { at_ms: now_ms }
        }
        KvRead::Failed(e) => {
            worker::console_error!("KV read of geo:mmdb failed: {e}");
            GeoSlot::Failed { at_ms: now_ms }
        }
    };
    GEODB.with(|g| *g.borrow_mut() = slot);
}
