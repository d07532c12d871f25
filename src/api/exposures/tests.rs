use pollster::block_on;

use super::*;
use crate::api::memory::{MemoryStore, StoreFaults};

const DAY_MS: i64 = 24 * 3600 * 1000;
/// 2026-11-22T10:00:00Z.
const T0: i64 = 1_795_341_600_000;

fn visit(id: &str, visitor: u8, variant: &str, at: i64) -> Exposure {
    Exposure {
        id: id.into(),
        handle: "gharart".into(),
        campaign: "diwali-hero-ab".into(),
        variant: variant.into(),
        visitor_id: format!("{visitor:02x}").repeat(16),
        at,
    }
}

fn messages(visits: &[Exposure]) -> Vec<String> {
    visits.iter().map(Exposure::to_message).collect()
}

fn consume_all(store: &MemoryStore, bodies: &[String], now: i64) -> Consumed {
    let bodies: Vec<Option<&str>> = bodies.iter().map(|b| Some(b.as_str())).collect();
    block_on(consume(store, &bodies, now, DEFAULT_DEDUPE_SECONDS))
}

/// (variant, exposed visitors, visits) of the campaign, by variant.
fn totals(store: &MemoryStore) -> Vec<(String, u64, u64)> {
    let mut rows: Vec<(String, u64, u64)> =
        block_on(store.exposure_totals("gharart", "diwali-hero-ab"))
            .unwrap()
            .rows
            .into_iter()
            .map(|r| (r.variant, r.exposed_visitors, r.visits))
            .collect();
    rows.sort();
    rows
}

fn row(variant: &str, exposed: u64, visits: u64) -> (String, u64, u64) {
    (variant.to_owned(), exposed, visits)
}

#[test]
fn a_redelivered_batch_counts_nothing_twice() {
    let store = MemoryStore::new();
    let batch = messages(&[
        visit("v1", 1, "control", T0),
        visit("v2", 2, "story", T0 + 1),
        visit("v3", 1, "control", T0 + 2),
    ]);
    let first = consume_all(&store, &batch, T0 + 10);
    assert_eq!(first.verdicts, vec![Verdict::Ack; 3]);
    assert_eq!(
        first.recorded,
        Some(Recorded {
            visits: 3,
            visitors: 2
        })
    );
    assert_eq!(
        totals(&store),
        vec![row("control", 1, 2), row("story", 1, 1)]
    );
    for again in 1..=3 {
        let redelivered = consume_all(&store, &batch, T0 + 10 + again * 1000);
        assert_eq!(redelivered.verdicts, vec![Verdict::Ack; 3], "acked again");
        assert_eq!(
            redelivered.recorded,
            Some(Recorded::default()),
            "delivery {again}"
        );
        assert_eq!(
            totals(&store),
            vec![row("control", 1, 2), row("story", 1, 1)]
        );
    }
    // A batch mixing redelivered and new messages counts only the new ones.
    let mixed = messages(&[
        visit("v2", 2, "story", T0 + 1),
        visit("v4", 3, "story", T0 + 5),
    ]);
    let out = consume_all(&store, &mixed, T0 + 20_000);
    assert_eq!(
        out.recorded,
        Some(Recorded {
            visits: 1,
            visitors: 1
        })
    );
    assert_eq!(
        totals(&store),
        vec![row("control", 1, 2), row("story", 2, 2)]
    );
    let landed = block_on(store.exposure_totals("gharart", "diwali-hero-ab")).unwrap();
    assert_eq!(
        landed.landed_at,
        Some(T0 + 20_000),
        "the last batch to land"
    );
}

#[test]
fn within_a_batch_a_visit_counts_once_and_the_earliest_exposure_is_the_first() {
    let store = MemoryStore::new();
    // Weights changed between two visits of visitor 7: the earlier one's variant is theirs.
    let batch = messages(&[
        visit("late", 7, "story", T0 + 50),
        visit("early", 7, "control", T0),
        visit("late", 7, "story", T0 + 50),
    ]);
    let out = consume_all(&store, &batch, T0 + 100);
    assert_eq!(
        out.recorded,
        Some(Recorded {
            visits: 2,
            visitors: 1
        })
    );
    assert_eq!(
        totals(&store),
        vec![row("control", 1, 1), row("story", 0, 1)]
    );
    let first = &store.tables.borrow().exposures.first;
    assert_eq!(first.values().next(), Some(&("control".to_owned(), T0)));
}

#[test]
fn visits_count_per_day_and_visitors_on_the_day_of_their_first_exposure() {
    let store = MemoryStore::new();
    let batch = messages(&[
        visit("d1", 1, "control", T0),
        visit("d2", 1, "control", T0 + DAY_MS),
        visit("d3", 2, "control", T0 + DAY_MS),
    ]);
    consume_all(&store, &batch, T0 + 2 * DAY_MS);
    let daily = store.tables.borrow().exposures.daily.clone();
    let by_day: Vec<(String, (u64, u64))> = daily.into_iter().map(|(k, v)| (k.3, v)).collect();
    assert_eq!(
        by_day,
        vec![
            ("2026-11-22".to_owned(), (1, 1)),
            ("2026-11-23".to_owned(), (2, 1))
        ]
    );
    assert_eq!(day_of(T0), "2026-11-22");
    assert_eq!(day_of(i64::MAX), "1970-01-01", "out of range: the epoch");
}

#[test]
fn poison_is_dead_lettered_and_never_blocks_the_rest_of_the_batch() {
    let store = MemoryStore::new();
    let good = visit("g1", 1, "control", T0).to_message();
    let v2 = good.replace("\"v\":1", "\"v\":2");
    let bodies: Vec<Option<&str>> = vec![Some("not json"), Some(&good), None, Some(&v2)];
    let out = block_on(consume(&store, &bodies, T0 + 10, DEFAULT_DEDUPE_SECONDS));
    assert!(matches!(
        out.verdicts[0],
        Verdict::DeadLetter(Poison::NotJson(_))
    ));
    assert_eq!(out.verdicts[1], Verdict::Ack);
    assert!(matches!(
        out.verdicts[2],
        Verdict::DeadLetter(Poison::NotJson(_))
    ));
    assert_eq!(
        out.verdicts[3],
        Verdict::DeadLetter(Poison::UnknownVersion(Some(2)))
    );
    assert_eq!(out.count(|v| matches!(v, Verdict::DeadLetter(_))), 3);
    assert_eq!(
        out.recorded,
        Some(Recorded {
            visits: 1,
            visitors: 1
        })
    );
    // A batch of nothing but poison does not touch storage.
    let calls = store.calls.get();
    let out = block_on(consume(
        &store,
        &[Some("{}")],
        T0 + 20,
        DEFAULT_DEDUPE_SECONDS,
    ));
    assert_eq!(
        out.verdicts,
        vec![Verdict::DeadLetter(Poison::UnknownVersion(None))]
    );
    assert_eq!((out.recorded, store.calls.get()), (None, calls));
}

#[test]
fn a_storage_failure_retries_the_valid_messages_and_the_retry_counts_once() {
    let store = MemoryStore::new();
    let batch = messages(&[visit("r1", 1, "control", T0), visit("r2", 2, "story", T0)]);
    let mut bodies = batch.clone();
    bodies.push("garbage".into());
    *store.faults.borrow_mut() = StoreFaults {
        unavailable: true,
        ..StoreFaults::default()
    };
    let out = consume_all(&store, &bodies, T0 + 10);
    assert_eq!(out.verdicts[..2], [Verdict::Retry, Verdict::Retry]);
    assert!(
        matches!(out.verdicts[2], Verdict::DeadLetter(_)),
        "poison is never retried"
    );
    assert!(matches!(out.failure, Some(StoreError::Unavailable(_))));
    assert_eq!(out.recorded, None);
    store.faults.borrow_mut().unavailable = false;
    assert!(totals(&store).is_empty(), "nothing written");
    let retried = consume_all(&store, &batch, T0 + 60_000);
    assert_eq!(
        retried.recorded,
        Some(Recorded {
            visits: 2,
            visitors: 2
        })
    );
    assert_eq!(
        totals(&store),
        vec![row("control", 1, 1), row("story", 1, 1)]
    );
}

#[test]
fn visit_ids_are_remembered_for_the_dedupe_window_then_forgotten() {
    let store = MemoryStore::new();
    let batch = messages(&[visit("w1", 1, "control", T0)]);
    consume_all(&store, &batch, T0);
    let window = DEFAULT_DEDUPE_SECONDS * 1000;
    // Within the window (the queue's retention), a redelivery is recognised.
    let out = consume_all(&store, &batch, T0 + window - 1);
    assert_eq!(out.recorded, Some(Recorded::default()));
    assert!(store.tables.borrow().exposures.seen.contains_key("w1"));
    // Past it the id is swept (no redelivery can come any more: the queue dropped it).
    consume_all(
        &store,
        &messages(&[visit("w2", 2, "control", T0)]),
        T0 + window + 1,
    );
    assert!(!store.tables.borrow().exposures.seen.contains_key("w1"));
    assert_eq!(totals(&store), vec![row("control", 2, 2)]);
}

#[test]
fn the_batch_deduplicates_visits_by_id_and_visitors_by_campaign() {
    let a = visit("a", 1, "control", T0 + 5);
    let mut other_campaign = visit("b", 1, "countdown", T0);
    other_campaign.campaign = "gulf-eid-teaser".into();
    let batch = ExposureBatch::of(&[a.clone(), a.clone(), other_campaign.clone()]);
    assert_eq!(batch.visits, vec![a.clone(), other_campaign.clone()]);
    assert_eq!(
        batch.first,
        vec![a, other_campaign],
        "one first exposure per campaign"
    );
}
