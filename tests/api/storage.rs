//! The store of record under the API's policies: adopting the published snapshot,
//! compare-and-swap with three retries, publish-or-rollback (first write included),
//! unavailable storage (503, detail only in the log), corrupt data (500), and which of
//! the stored document and the published snapshot wins.

use edge_router::api::store::StoredDocument;
use edge_router::engine::snapshot::Snapshot;
use serde_json::{json, Value};

use crate::harness::*;

fn rule(id: &str) -> Value {
    json!({"id": id, "priority": 7, "entries": ["festive"], "conditions": {"query": {"probe": {"in": [id]}}}, "destination": format!("https://www.gharart.com/festive/{id}")})
}

fn put(w: &World, id: &str) -> Res {
    w.req("PUT", &format!("{V2}/personalization-rules/{id}"))
        .pat(ADMIN)
        .json(rule(id))
        .send()
}

fn has_rule(config: &edge_router::HandleConfig, id: &str) -> bool {
    config.rules.iter().any(|r| r.id == id)
}

fn stored_version(w: &World) -> Option<u64> {
    w.store
        .tables
        .borrow()
        .documents
        .get(HANDLE)
        .map(|d| d.version)
}

fn publish_raw(w: &World, json: String) {
    w.store
        .tables
        .borrow_mut()
        .published
        .insert(HANDLE.into(), json.into_bytes());
}

#[test]
fn the_first_write_adopts_the_published_snapshot_and_stores_the_next_version() {
    let w = World::new();
    assert_eq!(stored_version(&w), None, "make dev seeds KV only");
    assert_eq!(put(&w, "first").ok(201)["version"], 2);
    assert_eq!(stored_version(&w), Some(2));
    let mut expected = gharart();
    expected
        .rules
        .push(serde_json::from_value(rule("first")).unwrap());
    assert_eq!(w.stored_config(), expected);
    assert_eq!(w.published(), (2, expected));
}

#[test]
fn three_lost_compare_and_swaps_are_retried_and_the_write_lands_once() {
    let w = World::new();
    w.store.faults.borrow_mut().lost_swaps = 3;
    assert_eq!(put(&w, "retried").ok(201)["version"], 2);
    assert_eq!(
        w.store.faults.borrow().lost_swaps,
        0,
        "every lost swap was retried"
    );
    assert_eq!(stored_version(&w), Some(2));
    let published = w.published();
    assert_eq!(published.0, 2);
    assert_eq!(
        published
            .1
            .rules
            .iter()
            .filter(|r| r.id == "retried")
            .count(),
        1
    );
}

#[test]
fn a_fourth_lost_compare_and_swap_is_409_write_conflict_and_nothing_is_stored() {
    let w = World::new();
    w.store.faults.borrow_mut().lost_swaps = 4;
    let res = put(&w, "lost");
    res.expect(409, "write_conflict");
    assert!(res.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("retry"));
    assert_eq!(w.store.faults.borrow().lost_swaps, 0, "four attempts");
    assert_eq!(stored_version(&w), None);
    assert_eq!(w.published(), (1, gharart()));
    // Nothing is left half-done: the retry lands as version 2.
    assert_eq!(put(&w, "lost").ok(201)["version"], 2);
}

#[test]
fn a_failed_publish_of_the_first_write_deletes_the_document_again() {
    let w = World::new();
    w.store.faults.borrow_mut().publish = true;
    let res = put(&w, "unpublished");
    res.expect(503, "publish_failed");
    assert_eq!(res.header("Retry-After"), Some("5"));
    assert_eq!(stored_version(&w), None, "rolled back");
    assert_eq!(w.published(), (1, gharart()));
    let log = w.log_text();
    assert!(
        log.contains("publishing snapshot gharart v2 failed") && log.contains("rolling back"),
        "{log}"
    );
    w.store.faults.borrow_mut().publish = false;
    assert_eq!(
        put(&w, "unpublished").ok(201)["version"],
        2,
        "the version was not used up"
    );
}

#[test]
fn a_failed_publish_restores_the_previous_document() {
    let w = World::new();
    assert_eq!(put(&w, "kept").ok(201)["version"], 2);
    let before = w.stored_config();
    w.store.faults.borrow_mut().publish = true;
    put(&w, "refused").expect(503, "publish_failed");
    assert_eq!(stored_version(&w), Some(2));
    assert_eq!(w.stored_config(), before);
    assert!(has_rule(&before, "kept") && !has_rule(&before, "refused"));
    assert_eq!(w.published(), (2, before));
    w.store.faults.borrow_mut().publish = false;
    assert_eq!(w.version(), 2);
    assert_eq!(put(&w, "refused").ok(201)["version"], 3);
}

#[test]
fn unavailable_storage_is_503_storage_unavailable_and_the_detail_goes_only_to_the_log() {
    let w = World::new();
    w.store.faults.borrow_mut().unavailable = true;
    let jwt = w.jwt("writer", &["admin"]);
    let attempts = [
        w.get(&format!("{V2}/personalization-rules"), &pat(ADMIN)),
        w.get(&format!("{V2}/personalization-rules"), &jwt),
        w.req("PUT", &format!("{V2}/personalization-rules/x"))
            .bearer(&jwt)
            .json(rule("x"))
            .send(),
        w.req("POST", &format!("{V2}/destination-domains"))
            .bearer(&jwt)
            .json(json!({"domain": "x.example"}))
            .key("k-1")
            .send(),
        w.req("POST", "/v2/support/report")
            .json(json!({"summary": "s", "details": "d"}))
            .send(),
        w.req(
            "GET",
            "/v2/public/handles/gharart/site-structure/campaigns/diwali-hero-ab",
        )
        .send(),
    ];
    for res in &attempts {
        res.expect(503, "storage_unavailable");
        assert_eq!(res.header("Retry-After"), Some("5"));
        assert_eq!(
            res.json["error"]["message"],
            "storage is unavailable; nothing was changed, retry shortly"
        );
        assert!(!res.text.contains("injected"), "{}", res.text);
        assert!(
            w.log.borrow().iter().any(|l| l.contains(&res.request_id)
                && l.contains("storage unavailable: injected fault")),
            "{} in {:?}",
            res.request_id,
            w.log.borrow()
        );
    }
    w.store.faults.borrow_mut().unavailable = false;
    let tables = w.store.tables.borrow();
    assert!(
        tables.documents.is_empty() && tables.reports.is_empty() && tables.idempotency.is_empty()
    );
}

#[test]
fn a_corrupt_stored_document_is_500_internal_and_is_left_alone() {
    let w = World::new();
    let corrupt = StoredDocument {
        version: 3,
        config: "{not json".into(),
        recorded: false,
    };
    w.store
        .tables
        .borrow_mut()
        .documents
        .insert(HANDLE.into(), corrupt.clone());
    for res in [
        w.get(&format!("{V2}/personalization-rules"), &pat(ADMIN)),
        put(&w, "over-corrupt"),
    ] {
        res.expect(500, "internal");
        assert_eq!(
            res.json["error"]["message"],
            "an internal error; nothing was changed. Quote the request id to support"
        );
        assert!(
            w.log
                .borrow()
                .iter()
                .any(|l| l.contains(&res.request_id) && l.contains("does not parse")),
            "{:?}",
            w.log.borrow()
        );
        assert!(!res.text.contains("parse"), "{}", res.text);
    }
    assert_eq!(w.store.tables.borrow().documents[HANDLE], corrupt);
    assert_eq!(w.published().0, 1);
}

#[test]
fn a_newer_snapshot_published_outside_the_api_is_adopted_and_the_next_write_continues_from_it() {
    let w = World::new();
    assert_eq!(put(&w, "before-push").ok(201)["version"], 2);
    // `router push --local`: a snapshot straight into KV, without the rule just written.
    let mut pushed = gharart();
    pushed.rules.retain(|r| r.id != "in-mobile");
    publish_raw(
        &w,
        Snapshot::new(pushed, 5000, "2026-11-22T09:00:00Z".into())
            .to_json()
            .unwrap(),
    );
    let listed = w.get(&format!("{V2}/personalization-rules"), &pat(ADMIN));
    assert_eq!(listed.json["version"], 5000);
    let ids: Vec<&str> = listed.json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"in-mobile") && !ids.contains(&"before-push"),
        "the pushed configuration"
    );
    assert_eq!(put(&w, "after-push").ok(201)["version"], 5001);
    assert_eq!(stored_version(&w), Some(5001));
    let stored = w.stored_config();
    assert!(
        has_rule(&stored, "after-push")
            && !has_rule(&stored, "in-mobile")
            && !has_rule(&stored, "before-push")
    );
    assert_eq!(w.published(), (5001, stored));
}

#[test]
fn an_older_or_unreadable_published_snapshot_loses_to_the_stored_document() {
    let w = World::new();
    put(&w, "a").ok(201);
    put(&w, "b").ok(201);
    let stored = w.stored_config();
    for stale in [
        Snapshot::new(gharart(), 2, "2026-11-01T00:00:00Z".into())
            .to_json()
            .unwrap(),
        "garbage".to_owned(),
        Snapshot::new(
            edge_router::HandleConfig {
                handle: "other-shop".into(),
                ..gharart()
            },
            9000,
            "x".into(),
        )
        .to_json()
        .unwrap(),
    ] {
        publish_raw(&w, stale);
        assert_eq!(w.version(), 3);
        let config =
            w.get(&format!("{V2}/configuration"), &pat(ADMIN)).json["configuration"].clone();
        assert_eq!(config, serde_json::to_value(&stored).unwrap());
    }
}

#[test]
fn without_a_document_an_unreadable_snapshot_is_no_handle() {
    let w = World::new();
    for published in [
        "garbage".to_owned(),
        Snapshot::new(
            edge_router::HandleConfig {
                handle: "other-shop".into(),
                ..gharart()
            },
            9,
            "x".into(),
        )
        .to_json()
        .unwrap(),
    ] {
        publish_raw(&w, published);
        w.get(&format!("{V2}/personalization-rules"), &pat(ADMIN))
            .expect(404, "handle_not_found");
        put(&w, "x").expect(404, "handle_not_found");
        assert_eq!(stored_version(&w), None);
    }
}

/// Rolling back restores the stored document as it was. After adopting a newer snapshot
/// (version 5000 over the stored version 2), `commit` rolls back with `current.config`,
/// the adopted snapshot's configuration, under the stored version: the document of record
/// changes content without a version change although the client is told nothing changed.
#[test]
fn a_failed_publish_after_adopting_a_newer_snapshot_leaves_the_stored_document_as_it_was() {
    let w = World::new();
    put(&w, "stored").ok(201);
    let before = w.stored_config();
    let mut pushed = gharart();
    pushed.rules.retain(|r| r.id != "in-mobile");
    publish_raw(
        &w,
        Snapshot::new(pushed, 5000, "2026-11-22T09:00:00Z".into())
            .to_json()
            .unwrap(),
    );
    w.store.faults.borrow_mut().publish = true;
    put(&w, "refused").expect(503, "publish_failed");
    assert_eq!(stored_version(&w), Some(2));
    assert_eq!(w.stored_config(), before);
}

/// The auth-failure budget is read before the credential, but when storage is down the
/// check fails open: what needs no storage (no token, a forged JWT) is still told apart,
/// and what needs it (a PAT) gets its 503 where it is looked up.
#[test]
fn with_storage_down_credentials_are_still_told_apart() {
    let w = World::new();
    w.store.faults.borrow_mut().unavailable = true;
    let path = format!("{V2}/personalization-rules");
    w.req("GET", &path).send().expect(401, "missing_token");
    w.get(&path, "not-a-token").expect(401, "invalid_token");
    w.get(&path, &pat(ADMIN)).expect(503, "storage_unavailable");
    assert!(
        w.log
            .borrow()
            .iter()
            .any(|l| l.contains("auth-failure budget unreadable")),
        "{:?}",
        w.log.borrow()
    );
}
