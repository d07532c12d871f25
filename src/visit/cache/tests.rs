use super::*;
use crate::engine::snapshot::{Snapshot, Tombstone};
use crate::model::config::HandleConfig;

const H: &str = "gharart";

fn rev(generation: u64, version: u64) -> Revision {
    Revision {
        generation,
        version,
    }
}

fn snapshot(r: Revision) -> KvRead {
    let config = HandleConfig {
        handle: H.into(),
        ..HandleConfig::default()
    };
    let json = Snapshot::new(config, r.version, "2026-11-22T00:00:00Z".into())
        .in_generation(r.generation)
        .to_json()
        .unwrap();
    KvRead::Value(json.into_bytes())
}

fn tombstone(r: Revision) -> KvRead {
    let json = Tombstone::new(H, r, "2026-11-22T00:00:00Z".into())
        .to_json()
        .unwrap();
    KvRead::Value(json.into_bytes())
}

fn corrupt() -> KvRead {
    KvRead::Value(
        br#"{"format":1,"version":999999,"published_at":"x","config":{"handle":"gh"#.to_vec(),
    )
}

fn failed() -> KvRead {
    KvRead::Failed("injected".into())
}

/// What a state looks like from outside, for comparing.
#[derive(Debug, PartialEq)]
enum Seen {
    Serving {
        revision: Revision,
        stale: bool,
        missing_once: bool,
    },
    TakenDown(Revision, Takedown),
    Unknown,
    Unavailable,
}

fn seen(held: &Held) -> Seen {
    match held {
        Held::Serving {
            loaded,
            stale,
            missing_once,
        } => Seen::Serving {
            revision: loaded.revision(),
            stale: *stale,
            missing_once: *missing_once,
        },
        Held::TakenDown { floor, by } => Seen::TakenDown(*floor, *by),
        Held::Unknown => Seen::Unknown,
        Held::Unavailable => Seen::Unavailable,
    }
}

fn serving(r: Revision) -> Seen {
    Seen::Serving {
        revision: r,
        stale: false,
        missing_once: false,
    }
}

/// Served as last-known-good after one missing read.
fn missing_once(r: Revision) -> Seen {
    Seen::Serving {
        revision: r,
        stale: true,
        missing_once: true,
    }
}

fn stale(r: Revision) -> Seen {
    Seen::Serving {
        revision: r,
        stale: true,
        missing_once: false,
    }
}

/// Runs reads one after another from nothing held; the state after each.
fn run(reads: Vec<KvRead>) -> Vec<(Seen, Option<Note>)> {
    let mut held = Held::Unavailable;
    reads
        .into_iter()
        .map(|read| {
            let (next, note) = refresh(H, &held, read);
            held = next;
            (seen(&held), note)
        })
        .collect()
}

fn states(reads: Vec<KvRead>) -> Vec<Seen> {
    run(reads).into_iter().map(|(s, _)| s).collect()
}

#[test]
fn faults_and_corrupt_values_keep_the_last_known_good_snapshot() {
    let v1 = rev(0, 10);
    assert_eq!(
        states(vec![snapshot(v1), failed(), corrupt(), snapshot(v1)]),
        vec![serving(v1), stale(v1), stale(v1), serving(v1)]
    );
    assert_eq!(
        states(vec![failed(), corrupt(), KvRead::Missing]),
        vec![Seen::Unavailable, Seen::Unavailable, Seen::Unknown],
        "nothing held: the safe fallback; a missing key: unknown"
    );
}

#[test]
fn a_higher_revision_replaces_and_a_lower_one_is_a_stale_read() {
    let (v1, v2) = (rev(0, 10), rev(0, 11));
    let seen = run(vec![snapshot(v1), snapshot(v2), snapshot(v1)]);
    assert_eq!(seen[1].0, serving(v2));
    assert_eq!(
        seen[2].0,
        serving(v2),
        "the older snapshot does not replace the newer"
    );
    assert!(seen[2].1.as_ref().unwrap().text.contains("older than"));
}

/// Issue 10: restoring older content on purpose used to be impossible for warm isolates
/// ("only a higher version wins").
#[test]
fn a_lower_version_in_a_newer_generation_is_a_deliberate_rollback() {
    let (new, old_restored) = (rev(0, 1_795_000_000), rev(1, 1000));
    assert_eq!(
        states(vec![snapshot(new), snapshot(old_restored), snapshot(new)]),
        vec![serving(new), serving(old_restored), serving(old_restored)],
        "served, and the previous generation cannot come back through a stale read"
    );
}

/// Issue 10: a deleted key used to keep the last snapshot forever in a warm isolate.
#[test]
fn a_deleted_key_is_a_takedown_once_a_re_read_confirms_it() {
    let v1 = rev(0, 10);
    let seen = run(vec![
        snapshot(v1),
        KvRead::Missing,
        failed(),
        KvRead::Missing,
        KvRead::Missing,
        failed(),
    ]);
    let first_missing = missing_once(v1);
    assert_eq!(seen[1].0, first_missing, "one missing read may be a glitch");
    assert_eq!(
        seen[2].0, first_missing,
        "a fault in between confirms nothing"
    );
    let down = Seen::TakenDown(v1, Takedown::Deleted);
    assert_eq!(seen[3].0, down);
    assert_eq!(seen[4].0, down);
    assert_eq!(
        seen[5].0, down,
        "a fault does not bring a taken-down handle back"
    );
    assert!(seen[3].1.as_ref().unwrap().text.contains("taken down"));
}

#[test]
fn a_missing_read_between_two_good_ones_confirms_nothing() {
    let v1 = rev(0, 10);
    assert_eq!(
        states(vec![
            snapshot(v1),
            KvRead::Missing,
            snapshot(v1),
            KvRead::Missing
        ]),
        vec![serving(v1), missing_once(v1), serving(v1), missing_once(v1),]
    );
    assert_eq!(
        states(vec![
            snapshot(v1),
            KvRead::Missing,
            corrupt(),
            KvRead::Missing
        ]),
        vec![serving(v1), missing_once(v1), stale(v1), missing_once(v1),],
        "a corrupt value is a key that exists"
    );
}

#[test]
fn a_tombstone_takes_the_handle_down_at_once_and_only_a_newer_snapshot_lifts_it() {
    let (v1, t, v_after) = (rev(0, 10), rev(0, 11), rev(0, 12));
    let seen = run(vec![
        snapshot(v1),
        tombstone(t),
        snapshot(v1),
        failed(),
        corrupt(),
        KvRead::Missing,
        tombstone(t),
        snapshot(v_after),
    ]);
    let down = Seen::TakenDown(t, Takedown::Tombstone);
    let states: Vec<&Seen> = seen.iter().map(|(s, _)| s).collect();
    assert_eq!(
        states,
        vec![
            &serving(v1),
            &down,
            &down,
            &down,
            &down,
            &down,
            &down,
            &serving(v_after)
        ]
    );
    assert!(seen[2].1.as_ref().unwrap().text.contains("older than"));
    assert_eq!(
        states_from_nothing(tombstone(t)),
        down,
        "a cold isolate honours it too"
    );
}

fn states_from_nothing(read: KvRead) -> Seen {
    states(vec![read]).remove(0)
}

#[test]
fn an_older_tombstone_does_not_take_down_a_republished_handle() {
    let (t, v_after) = (rev(0, 11), rev(0, 12));
    let seen = run(vec![snapshot(v_after), tombstone(t), tombstone(rev(0, 12))]);
    assert_eq!(seen[1].0, serving(v_after), "a stale read of the tombstone");
    assert!(seen[1].1.as_ref().unwrap().text.contains("older than"));
    assert_eq!(
        seen[2].0,
        Seen::TakenDown(v_after, Takedown::Tombstone),
        "a tombstone as new as the snapshot: down (fail closed on a writer's tie)"
    );
}

#[test]
fn a_takedown_by_deletion_is_lifted_only_above_the_last_snapshot() {
    let v1 = rev(0, 10);
    assert_eq!(
        states(vec![
            snapshot(v1),
            KvRead::Missing,
            KvRead::Missing,
            snapshot(v1),
            snapshot(rev(0, 11))
        ]),
        vec![
            serving(v1),
            missing_once(v1),
            Seen::TakenDown(v1, Takedown::Deleted),
            Seen::TakenDown(v1, Takedown::Deleted),
            serving(rev(0, 11)),
        ]
    );
}

/// What `serve` gave (TTL 1000 ms): the lookup's kind and whether a re-read is due.
fn served(cache: &mut Cache, handle: &str, now_ms: f64) -> Option<(&'static str, bool)> {
    match cache.serve(handle, now_ms, 1000.0, false) {
        Served::Unread => None,
        Served::Held { lookup, refresh } => Some((
            match lookup {
                Lookup::Ready { stale: false, .. } => "ready",
                Lookup::Ready { stale: true, .. } => "stale",
                Lookup::Unknown => "unknown",
                Lookup::TakenDown => "taken down",
                Lookup::Unavailable => "unavailable",
            },
            refresh,
        )),
    }
}

#[test]
fn busy_isolates_re_read_in_the_background_and_nothing_older_than_the_ttl_is_served() {
    let mut cache = Cache::default();
    assert!(
        served(&mut cache, H, 0.0).is_none(),
        "never read: the visit waits"
    );
    let (lookup, _) = cache.refresh(H, snapshot(rev(0, 1)), 0.0);
    assert!(matches!(lookup, Lookup::Ready { stale: false, .. }));
    assert_eq!(served(&mut cache, H, 499.0), Some(("ready", false)));
    // Half a TTL on, the visit is served what is held and starts the one re-read...
    assert_eq!(served(&mut cache, H, 500.0), Some(("ready", true)));
    // ...which concurrent visits do not start again while it is in flight.
    assert_eq!(served(&mut cache, H, 501.0), Some(("ready", false)));
    assert_eq!(served(&mut cache, H, 999.0), Some(("ready", false)));
    // A TTL on, nothing held is served without a read (the visit waits, joining the
    // read in flight)...
    assert!(served(&mut cache, H, 1000.0).is_none());
    // ...unless this very visit has just read.
    assert!(matches!(
        cache.serve(H, 1000.0, 1000.0, true),
        Served::Held { refresh: false, .. }
    ));
    // A re-read that lands resets the clock and the one in flight.
    cache.refresh(H, snapshot(rev(0, 2)), 1200.0);
    assert_eq!(served(&mut cache, H, 1700.0), Some(("ready", true)));
    // One that never reports back is given up after REFRESH_TIMEOUT_MS (with a TTL long
    // enough to outlive it).
    assert!(matches!(
        cache.serve(H, 1700.0 + REFRESH_TIMEOUT_MS, 20_000.0, false),
        Served::Held { refresh: true, .. }
    ));
    // A tombstone takes the handle down; it is re-read like a snapshot.
    let (lookup, _) = cache.refresh(H, tombstone(rev(0, 3)), 20_000.0);
    assert!(matches!(lookup, Lookup::TakenDown));
    assert_eq!(served(&mut cache, H, 20_100.0), Some(("taken down", false)));
    assert_eq!(served(&mut cache, H, 20_600.0), Some(("taken down", true)));
    // A first missing read is confirmed by the next visit at once, whatever its age.
    cache.refresh(H, snapshot(rev(0, 4)), 30_000.0);
    let (lookup, _) = cache.refresh(H, KvRead::Missing, 30_500.0);
    assert!(matches!(lookup, Lookup::Ready { stale: true, .. }));
    assert_eq!(served(&mut cache, H, 30_501.0), Some(("stale", true)));
    assert_eq!(served(&mut cache, H, 30_502.0), Some(("stale", false)));
    let (lookup, _) = cache.refresh(H, KvRead::Missing, 30_600.0);
    assert!(matches!(lookup, Lookup::TakenDown));
    let (lookup, _) = cache.refresh("other", KvRead::Missing, 0.0);
    assert!(matches!(lookup, Lookup::Unknown));
    let (lookup, _) = cache.refresh("third", failed(), 0.0);
    assert!(matches!(lookup, Lookup::Unavailable));
    assert_eq!(
        served(&mut cache, "third", 10.0),
        Some(("unavailable", false))
    );
}

#[test]
fn a_full_cache_drops_handles_that_serve_nothing_first() {
    let mut cache = Cache::default();
    cache.refresh(H, snapshot(rev(0, 1)), 0.0);
    for i in 1..MAX_HANDLES {
        cache.refresh(&format!("unknown-{i}"), KvRead::Missing, 0.0);
    }
    assert_eq!(cache.slots.len(), MAX_HANDLES);
    cache.refresh("one-more", KvRead::Missing, 0.0);
    assert_eq!(cache.slots.len(), 2);
    assert_eq!(served(&mut cache, H, 1.0), Some(("ready", false)));
}
