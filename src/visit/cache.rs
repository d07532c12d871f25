//! The isolate's snapshot cache as policy: given what the isolate holds for a handle and
//! what one KV read of `snapshot:<handle>` returned, what to serve. The edge only reads KV
//! and keeps a [`Cache`] per isolate; every decision is here, tested natively.
//!
//! Freshness ([`Cache::serve`]): a visit never gets a snapshot whose last check is a TTL
//! old, and a busy isolate's visitors never wait for KV after its first read of a handle.
//! Once the check is half a TTL old, the visit is served what is held and starts a
//! re-read in the background (refresh-ahead, stale-while-revalidate: the edge reads KV
//! after the response, in `waitUntil`, and hands the result to [`Cache::refresh`]); one
//! re-read is in flight per handle at a time, and one that never reports back is given up
//! after [`REFRESH_TIMEOUT_MS`]. Only when no visit came in the second half of the TTL
//! (an idle isolate) does the next visitor wait for the read, as on a cold isolate: so a
//! rejection, a rollback or a takedown reaches every visitor within the TTL, as before.
//! What a read teaches is the same either way:

//! | the read returned | the isolate serves |
//! |---|---|
//! | a KV error, or a corrupt value | what it held (a snapshot as last-known-good, `stale`; a takedown stays down); nothing held: `SAFE_FALLBACK_URL` |
//! | a snapshot of the revision held | the same, not compiled again |
//! | a snapshot of a higher revision | the new one |
//! | a snapshot of a lower revision | what it held (a stale read of eventually consistent KV, not a decision); a takedown stays down |
//! | a tombstone of a revision at least the held snapshot's | the not-found page: **taken down** |
//! | a tombstone of a lower revision | the snapshot it held (the tombstone is older than a republish) |
//! | no key, nothing held | the not-found page (unknown handle) |
//! | no key, a snapshot held, first time | the snapshot, `stale`: one missing read may be a KV glitch |
//! | no key again on the next read | the not-found page: **taken down**, confirmed |
//!
//! So a KV fault or a corrupt value never takes a handle down, and nothing but a tombstone
//! or a confirmed deletion does. A tombstone (`router takedown`) takes effect within one
//! TTL (plus the re-read's own time: the visit that finds the check due is still served
//! what was held); a deleted key within one TTL and one more read (the read that notices
//! is confirmed by a re-read the very next visit starts).
//! A takedown is lifted only by a snapshot of a revision above the one it replaced
//! (`router push --local` writes one), so a stale read of the old snapshot cannot undo it.
//! Rolling back to older content on purpose: publish it in a higher generation
//! ([`crate::engine::snapshot::Revision`]).

// foldhash, not std's SipHash: these maps are read on every visit (hashing shows in wasm).
use foldhash::HashMap;
use std::rc::Rc;

use super::plan::NoSnapshot;
use crate::engine::snapshot::{self, Loaded, Published, Revision};

/// Most handles a [`Cache`] keeps.
pub const MAX_HANDLES: usize = 256;
/// How long a background re-read may take before another visit may start one.
pub const REFRESH_TIMEOUT_MS: f64 = 10_000.0;

/// What one KV read of a handle's snapshot key returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvRead {
    /// The read failed (a KV error or an injected fault), with why.
    Failed(String),
    /// No such key.
    Missing,
    /// The stored value.
    Value(Vec<u8>),
}

/// How a handle came to be taken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takedown {
    /// A tombstone.
    Tombstone,
    /// The key was missing on two reads in a row.
    Deleted,
}

/// What an isolate holds for one handle.
#[derive(Debug, Clone)]
pub enum Held {
    /// A snapshot to serve.
    Serving {
        /// The snapshot.
        loaded: Rc<Loaded>,
        /// Whether the latest read failed or found no key: this is the last-known-good one.
        stale: bool,
        /// Whether the latest read that reached KV found no key (the next such read
        /// confirms a deletion).
        missing_once: bool,
    },
    /// Taken down; only a snapshot above `floor` brings the handle back.
    TakenDown {
        /// The tombstone's revision, or the last snapshot's for a deleted key.
        floor: Revision,
        /// How.
        by: Takedown,
    },
    /// The key has not been seen: an unknown handle.
    Unknown,
    /// Nothing could be read and nothing is held.
    Unavailable,
}

/// What a visit gets from the cache.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A snapshot to decide with (`stale` when it is the last-known-good one).
    Ready {
        /// The snapshot.
        loaded: Rc<Loaded>,
        /// Whether it is the last-known-good one.
        stale: bool,
    },
    /// No such handle.
    Unknown,
    /// The handle was taken down.
    TakenDown,
    /// No snapshot could be read and none is held.
    Unavailable,
}

impl Lookup {
    /// The snapshot and whether it is stale, or why there is none.
    ///
    /// # Errors
    /// [`NoSnapshot`] when there is no snapshot to decide with.
    pub fn ready(self) -> Result<(Rc<Loaded>, bool), NoSnapshot> {
        match self {
            Lookup::Ready { loaded, stale } => Ok((loaded, stale)),
            Lookup::Unknown => Err(NoSnapshot::Unknown),
            Lookup::TakenDown => Err(NoSnapshot::TakenDown),
            Lookup::Unavailable => Err(NoSnapshot::Unavailable),
        }
    }
}

/// How loud a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Worth knowing.
    Warn,
    /// Something failed.
    Error,
}

/// A line for the worker's log about a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// How loud.
    pub level: Level,
    /// What happened.
    pub text: String,
}

fn warn(text: String) -> Option<Note> {
    Some(Note {
        level: Level::Warn,
        text,
    })
}

impl Held {
    /// What a visit gets.
    pub fn lookup(&self) -> Lookup {
        match self {
            Held::Serving { loaded, stale, .. } => Lookup::Ready {
                loaded: loaded.clone(),
                stale: *stale,
            },
            Held::TakenDown { .. } => Lookup::TakenDown,
            Held::Unknown => Lookup::Unknown,
            Held::Unavailable => Lookup::Unavailable,
        }
    }

    /// The revision a new value must exceed to replace this.
    fn floor(&self) -> Option<Revision> {
        match self {
            Held::Serving { loaded, .. } => Some(loaded.revision()),
            Held::TakenDown { floor, .. } => Some(*floor),
            Held::Unknown | Held::Unavailable => None,
        }
    }

    /// The same, after a read that taught nothing (failed, or corrupt when `present`).
    fn kept(&self, present: bool) -> Held {
        match self {
            Held::Serving {
                loaded,
                missing_once,
                ..
            } => Held::Serving {
                loaded: loaded.clone(),
                stale: true,
                missing_once: *missing_once && !present,
            },
            Held::TakenDown { .. } => self.clone(),
            Held::Unknown | Held::Unavailable => Held::Unavailable,
        }
    }
}

/// The next state of a handle after one KV read (see the module's table).
pub fn refresh(handle: &str, held: &Held, read: KvRead) -> (Held, Option<Note>) {
    let bytes = match read {
        KvRead::Failed(why) => {
            let note = Note {
                level: Level::Error,
                text: format!(
                    "KV read of the snapshot for {handle} failed: {why}; {}",
                    keeping(held)
                ),
            };
            return (held.kept(false), Some(note));
        }
        KvRead::Missing => return missing(handle, held),
        KvRead::Value(bytes) => bytes,
    };
    let floor = held.floor();
    // Peeked only over something held (an unchanged value is not built again); an
    // isolate's first read is parsed straight away (see `snapshot::parse_peeked`).
    let head = floor.and_then(|_| snapshot::peek(&bytes));
    if let (Some(head), Some(floor)) = (head, floor) {
        if let Some(next) = not_newer(handle, held, head.revision, head.tombstone, floor) {
            return next;
        }
    }
    match snapshot::load_peeked(handle, &bytes, head) {
        Ok(Published::Live(loaded)) => (
            Held::Serving {
                loaded: Rc::from(loaded),
                stale: false,
                missing_once: false,
            },
            None,
        ),
        Ok(Published::TakenDown(tombstone)) => (
            Held::TakenDown {
                floor: tombstone.revision(),
                by: Takedown::Tombstone,
            },
            warn(format!(
                "snapshot for {handle} is a tombstone ({}): taken down",
                tombstone.revision()
            )),
        ),
        Err(e) => {
            let note = Note {
                level: Level::Error,
                text: format!("corrupt snapshot for {handle}: {e}; {}", keeping(held)),
            };
            (held.kept(true), Some(note))
        }
    }
}

/// A value whose revision is not above what is held: kept as it is, or `None` to build it.
fn not_newer(
    handle: &str,
    held: &Held,
    revision: Revision,
    tombstone: bool,
    floor: Revision,
) -> Option<(Held, Option<Note>)> {
    let serving = matches!(held, Held::Serving { .. });
    if revision > floor || (tombstone && serving && revision == floor) {
        // Newer; or a tombstone as new as the snapshot held (a writer's tie): down.
        return None;
    }
    let note = match (revision == floor, tombstone) {
        (true, _) => None,
        (false, true) => warn(format!(
            "KV returned a tombstone for {handle} at {revision}, older than the {floor} held; keeping it"
        )),
        (false, false) => warn(format!(
            "KV returned snapshot {revision} for {handle}, older than the {floor} held; keeping the newer"
        )),
    };
    let next = match held {
        Held::Serving { loaded, .. } => Held::Serving {
            loaded: loaded.clone(),
            stale: false,
            missing_once: false,
        },
        _ => held.clone(),
    };
    Some((next, note))
}

/// No key: an unknown handle, a first missing read, or a confirmed deletion.
fn missing(handle: &str, held: &Held) -> (Held, Option<Note>) {
    match held {
        Held::Serving {
            loaded,
            missing_once: false,
            ..
        } => (
            Held::Serving {
                loaded: loaded.clone(),
                stale: true,
                missing_once: true,
            },
            warn(format!(
                "snapshot for {handle} is missing from KV; keeping the last-known-good one until a re-read confirms the deletion"
            )),
        ),
        Held::Serving { loaded, .. } => (
            Held::TakenDown {
                floor: loaded.revision(),
                by: Takedown::Deleted,
            },
            warn(format!(
                "snapshot for {handle} is still missing from KV: deleted, taken down"
            )),
        ),
        Held::TakenDown { .. } => (held.clone(), None),
        Held::Unknown | Held::Unavailable => (Held::Unknown, None),
    }
}

fn keeping(held: &Held) -> &'static str {
    match held {
        Held::Serving { .. } => "keeping the last-known-good one",
        Held::TakenDown { .. } => "the handle stays taken down",
        Held::Unknown | Held::Unavailable => "no snapshot held",
    }
}

#[derive(Debug)]
struct Slot {
    held: Held,
    checked_at_ms: f64,
    /// When the background re-read in flight was started.
    refreshing_since_ms: Option<f64>,
}

/// What [`Cache::serve`] gives a visit.
#[derive(Debug, Clone)]
pub enum Served {
    /// The handle was never read in this isolate, or its check is a TTL old: the visit
    /// waits for one read.
    Unread,
    /// What is held, and whether the visit should start a background re-read (its check
    /// is half a TTL old and no other re-read is in flight).
    Held {
        /// What the visit decides with.
        lookup: Lookup,
        /// Whether to re-read KV after the response.
        refresh: bool,
    },
}

/// An isolate's snapshots, by handle.
#[derive(Debug, Default)]
pub struct Cache {
    slots: HashMap<String, Slot>,
}

impl Cache {
    /// What a visit gets without waiting for KV, and whether a re-read is due; a due
    /// re-read is marked in flight, so concurrent visits do not start another.
    /// `read_now`: this visit has just read KV (then what is held is served as it is).
    pub fn serve(&mut self, handle: &str, now_ms: f64, ttl_ms: f64, read_now: bool) -> Served {
        let Some(slot) = self.slots.get_mut(handle) else {
            return Served::Unread;
        };
        let age = now_ms - slot.checked_at_ms;
        if read_now {
            return Served::Held {
                lookup: slot.held.lookup(),
                refresh: false,
            };
        }
        if age >= ttl_ms {
            return Served::Unread;
        }
        let idle = slot
            .refreshing_since_ms
            .is_none_or(|since| now_ms - since >= REFRESH_TIMEOUT_MS);
        // A first missing read is confirmed by the next visit's re-read, not half a TTL
        // later: a deletion then takes effect within the TTL, like a tombstone.
        let confirming = matches!(
            slot.held,
            Held::Serving {
                missing_once: true,
                ..
            }
        );
        let refresh = (age >= ttl_ms / 2.0 || confirming) && idle;
        if refresh {
            slot.refreshing_since_ms = Some(now_ms);
        }
        Served::Held {
            lookup: slot.held.lookup(),
            refresh,
        }
    }

    /// Applies one KV read of `handle` (see [`refresh`]) and keeps the result. At
    /// [`MAX_HANDLES`], handles that serve nothing go first, then everything.
    pub fn refresh(&mut self, handle: &str, read: KvRead, now_ms: f64) -> (Lookup, Option<Note>) {
        let held = self
            .slots
            .get(handle)
            .map_or(Held::Unavailable, |s| s.held.clone());
        let (held, note) = refresh(handle, &held, read);
        let lookup = held.lookup();
        if self.slots.len() >= MAX_HANDLES && !self.slots.contains_key(handle) {
            self.slots
                .retain(|_, s| matches!(s.held, Held::Serving { .. } | Held::TakenDown { .. }));
            if self.slots.len() >= MAX_HANDLES {
                self.slots.clear();
            }
        }
        let slot = Slot {
            held,
            checked_at_ms: now_ms,
            refreshing_since_ms: None,
        };
        self.slots.insert(handle.to_owned(), slot);
        (lookup, note)
    }
}

#[cfg(test)]
mod tests;
