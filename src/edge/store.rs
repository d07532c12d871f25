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

use crate::engine::device::DeviceFacts;
use crate::visit::cache::{Cache, KvRead, Level, Served};
use crate::visit::geodb::GeoDb;
use crate::visit::user_agent::{DeviceHeaders, Memo};

/// How long a failed MaxMind DB read is remembered before trying again.
const MMDB_RETRY_MS: f64 = 60_000.0;

/// What an isolate holds between visits: each handle's snapshot, the MaxMind DB and the
/// device classifications made. The isolate's own is [`with`]'s; the start-up rehearsal
/// (`super::hot`) runs a visit against one of its own, so the code a visitor runs is the
/// code it ran.
#[derive(Debug, Default)]
pub(crate) struct Held {
    snapshots: RefCell<Cache>,
    geodb: RefCell<GeoSlot>,
    devices: RefCell<Memo>,
}

thread_local! {
    static ISOLATE: Held = Held::default();
}

/// Runs `f` with the isolate's [`Held`].
pub(crate) fn with<R>(f: impl FnOnce(&Held) -> R) -> R {
    ISOLATE.with(f)
}

/// Applies one read of the handle's snapshot key to the isolate's [`Held`].
pub(crate) fn apply_snapshot(handle: &str, read: KvRead, now_ms: f64) {
    with(|held| held.apply_snapshot(handle, read, now_ms));
}

impl Held {
    /// What this holds for `handle` (see [`Cache::serve`]).
    pub(crate) fn serve(&self, handle: &str, now_ms: f64, ttl_ms: f64, read_now: bool) -> Served {
        self.snapshots
            .borrow_mut()
            .serve(handle, now_ms, ttl_ms, read_now)
    }

    /// Applies one read of the handle's snapshot key, logging what the policy notes.
    pub(crate) fn apply_snapshot(&self, handle: &str, read: KvRead, now_ms: f64) {
        let (_, note) = self.snapshots.borrow_mut().refresh(handle, read, now_ms);
        match note {
            Some(n) if n.level == Level::Error => worker::console_error!("{}", n.text),
            Some(n) => worker::console_warn!("{}", n.text),
            None => {}
        }
    }

    /// The MaxMind DB, if read.
    pub(crate) fn geodb(&self, now_ms: f64) -> Geo {
        match &*self.geodb.borrow() {
            GeoSlot::Ready(db) => Geo::Ready(db.clone()),
            GeoSlot::Failed { at_ms } if now_ms - at_ms < MMDB_RETRY_MS => Geo::Absent,
            _ => Geo::Unread,
        }
    }

    /// A device classification, remembered ([`Memo::classify`]).
    pub(crate) fn classify(&self, headers: DeviceHeaders<'_>) -> DeviceFacts {
        self.devices.borrow_mut().classify(headers)
    }
}

#[derive(Debug, Default)]
enum GeoSlot {
    #[default]
    NotRead,
    Ready(Rc<GeoDb>),
    Failed {
        at_ms: f64,
    },
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
    with(|held| *held.geodb.borrow_mut() = slot);
}
