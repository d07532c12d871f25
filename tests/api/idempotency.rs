//! `Idempotency-Key` on writes: replays (with `Idempotent-Replayed` and this request's id
//! in a replayed error), reuse with another request (409), a key still running (409), a
//! stale reservation taken over, 5xx answers released, 4xx answers stored, malformed keys,
//! and replays that throttles do not count.

use serde_json::{json, Value};

use crate::harness::*;

fn rule(id: &str, priority: u32) -> Value {
    json!({"priority": priority, "entries": ["festive"], "conditions": {"query": {"probe": {"in": [id]}}}, "destination": format!("https://www.gharart.com/festive/{id}")})
}

fn put(w: &World, id: &str, body: Value, key: &str) -> Res {
    w.req("PUT", &format!("{V2}/personalization-rules/{id}"))
        .pat(ADMIN)
        .json(body)
        .key(key)
        .send()
}

fn add_domain(w: &World, name: &str, key: &str) -> Res {
    w.req("POST", &format!("{V2}/destination-domains"))
        .pat(ADMIN)
        .json(json!({"domain": name, "risk_score": 5}))
        .key(key)
        .send()
}

#[test]
fn the_same_key_and_request_replays_the_stored_answer_and_writes_once() {
    let w = World::new();
    let first = add_domain(&w, "idem.gharart-partner.com", "add-1");
    let out = first.ok(201).clone();
    assert_eq!(first.header("Idempotent-Replayed"), None);
    for _ in 0..2 {
        let again = add_domain(&w, "idem.gharart-partner.com", "add-1");
        assert_eq!(again.status, 201);
        assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
        assert_eq!(again.json, out, "the same answer: same version, same token");
        assert_ne!(again.request_id, first.request_id);
        assert_eq!(again.header("X-Snapshot-Version"), Some("2"));
    }
    assert_eq!(w.version(), 2, "one write");
    let domains = w.published().1.domains;
    assert_eq!(
        domains
            .iter()
            .filter(|d| d.domain == "idem.gharart-partner.com")
            .count(),
        1
    );
    // Without the key the same body is a second attempt.
    w.req("POST", &format!("{V2}/destination-domains"))
        .pat(ADMIN)
        .json(json!({"domain": "idem.gharart-partner.com", "risk_score": 5}))
        .send()
        .expect(409, "domain_exists");
}

#[test]
fn the_same_key_with_another_request_is_409_idempotency_key_reuse() {
    let w = World::new();
    put(&w, "idem-probe", rule("idem-probe", 7), "reuse").ok(201);
    put(&w, "idem-probe", rule("idem-probe", 8), "reuse").expect(409, "idempotency_key_reuse");
    put(&w, "idem-probe-2", rule("idem-probe", 7), "reuse").expect(409, "idempotency_key_reuse");
    // The key guards the exact request: reformatting the body is another request.
    let pretty = serde_json::to_vec_pretty(&rule("idem-probe", 7)).unwrap();
    w.req("PUT", &format!("{V2}/personalization-rules/idem-probe"))
        .pat(ADMIN)
        .raw(pretty)
        .key("reuse")
        .send()
        .expect(409, "idempotency_key_reuse");
    w.req("DELETE", &format!("{V2}/personalization-rules/idem-probe"))
        .pat(ADMIN)
        .key("reuse")
        .send()
        .expect(409, "idempotency_key_reuse");
    assert_eq!(w.version(), 2);
    let stored = w.stored_config();
    assert_eq!(
        stored
            .rules
            .iter()
            .find(|r| r.id == "idem-probe")
            .unwrap()
            .priority,
        7
    );
    assert!(!stored.rules.iter().any(|r| r.id == "idem-probe-2"));
}

#[test]
fn a_4xx_answer_is_stored_and_replayed_with_this_requests_id() {
    let w = World::new();
    let bad =
        json!({"priority": 7, "entries": ["nope"], "destination": "https://www.gharart.com/"});
    let first = put(&w, "idem-bad", bad.clone(), "bad-1");
    first.expect(VALIDATION_STATUS, "validation_failed");
    let replay = put(&w, "idem-bad", bad, "bad-1");
    replay.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(replay.header("Idempotent-Replayed"), Some("true"));
    assert_ne!(replay.request_id, first.request_id);
    // The harness checks error.request_id == X-Request-Id; the rest is as stored.
    let mut a = first.json.clone();
    let mut b = replay.json.clone();
    a["error"]["request_id"] = Value::Null;
    b["error"]["request_id"] = Value::Null;
    assert_eq!(a, b);
    let tables = w.store.tables.borrow();
    let (record, _) = &tables.idempotency[&(key_scope(ADMIN), "bad-1".to_owned())];
    assert_eq!(
        record.response.as_ref().map(|(s, _)| *s),
        Some(VALIDATION_STATUS)
    );
}

#[test]
fn a_5xx_answer_releases_the_key_so_a_retry_runs() {
    let w = World::new();
    w.store.faults.borrow_mut().publish = true;
    add_domain(&w, "retry.gharart-partner.com", "k-503").expect(503, "publish_failed");
    assert!(w.store.tables.borrow().idempotency.is_empty(), "released");
    w.store.faults.borrow_mut().publish = false;
    let retry = add_domain(&w, "retry.gharart-partner.com", "k-503");
    assert_eq!(retry.ok(201)["version"], 2);
    assert_eq!(retry.header("Idempotent-Replayed"), None, "it ran");
    // The resolver failing is a 5xx too.
    w.resolver.down.set(true);
    let verify = |w: &World| {
        w.req(
            "POST",
            &format!("{V2}/destination-domains/retry.gharart-partner.com/verify"),
        )
        .pat(ADMIN)
        .key("k-verify")
        .send()
    };
    verify(&w).expect(503, "resolver_unavailable");
    w.resolver.down.set(false);
    let out = verify(&w);
    assert_eq!(out.ok(200)["domain"]["verification"], "failed");
    assert_eq!(out.header("Idempotent-Replayed"), None);
}

#[test]
fn a_key_still_running_is_409_in_progress_until_its_reservation_goes_stale() {
    let w = World::new();
    put(&w, "slow", rule("slow", 7), "slow-1").ok(201);
    // As if the request were still running: the reservation without an answer, 30 s old.
    let id = (key_scope(ADMIN), "slow-1".to_owned());
    {
        let mut tables = w.store.tables.borrow_mut();
        let (record, created) = tables.idempotency.get_mut(&id).unwrap();
        record.response = None;
        *created = w.now().timestamp() - 30;
    }
    put(&w, "slow", rule("slow", 7), "slow-1").expect(409, "idempotency_in_progress");
    // Another body is reuse, whether or not the first still runs.
    put(&w, "slow", rule("slow", 8), "slow-1").expect(409, "idempotency_key_reuse");
    // A reservation older than a minute belongs to a request that died: taken over.
    w.store
        .tables
        .borrow_mut()
        .idempotency
        .get_mut(&id)
        .unwrap()
        .1 = w.now().timestamp() - 61;
    let res = put(&w, "slow", rule("slow", 7), "slow-1");
    assert_eq!(
        res.ok(200)["created"],
        false,
        "it ran (the rule existed already)"
    );
    assert_eq!(res.header("Idempotent-Replayed"), None);
    assert_eq!(w.version(), 3);
    let tables = w.store.tables.borrow();
    let (record, created) = &tables.idempotency[&id];
    assert_eq!(
        (record.response.as_ref().map(|r| r.0), *created),
        (Some(200), w.now().timestamp())
    );
}

#[test]
fn a_malformed_key_is_400_invalid_parameter_and_reads_ignore_the_header() {
    let w = World::new();
    let long = "k".repeat(256);
    for key in [long.as_str(), "has space", "tab\there", "é", ""] {
        let res = add_domain(&w, "key-probe.gharart-partner.com", key);
        res.expect(400, "invalid_parameter");
        assert!(
            res.json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Idempotency-Key:"),
            "{}",
            res.text
        );
    }
    add_domain(&w, "key-probe.gharart-partner.com", &"k".repeat(255)).ok(201);
    w.req("GET", &format!("{V2}/destination-domains"))
        .pat(ADMIN)
        .key("has space")
        .send()
        .ok(200);
    // Minting a preview token is not a write: no key is checked or stored.
    w.req("POST", &format!("{V2}/preview-tokens"))
        .pat(ADMIN)
        .key("has space")
        .send()
        .ok(201);
    assert_eq!(w.store.tables.borrow().idempotency.len(), 1);
}

#[test]
fn replays_are_not_counted_by_the_throttles() {
    let w = World::with(|s| {
        s.writes_per_minute = 2;
        s.daily_write_limit = 2;
    });
    add_domain(&w, "one.gharart-partner.com", "t-1").ok(201);
    for _ in 0..5 {
        let res = add_domain(&w, "one.gharart-partner.com", "t-1");
        assert_eq!(
            (res.status, res.header("Idempotent-Replayed")),
            (201, Some("true"))
        );
    }
    add_domain(&w, "two.gharart-partner.com", "t-2").ok(201);
    let limited = add_domain(&w, "three.gharart-partner.com", "t-3");
    limited.expect(429, "rate_limited");
    // A refused request stores nothing under its key: a later retry runs for real.
    assert!(!w
        .store
        .tables
        .borrow()
        .idempotency
        .contains_key(&(key_scope(ADMIN), "t-3".to_owned())));
    // The stored answers still replay past the limits.
    assert_eq!(
        add_domain(&w, "two.gharart-partner.com", "t-2").header("Idempotent-Replayed"),
        Some("true")
    );
}

#[test]
fn keys_of_anonymous_callers_are_scoped_by_their_address() {
    let w = World::new();
    let report = |client: &str| {
        w.req("POST", "/v2/support/report")
            .client(client)
            .key("same-key")
            .json(json!({"summary": "Blank page", "details": "Nothing loads."}))
            .send()
    };
    let a = report("client-a");
    let a_id = a.ok(201)["report_id"].clone();
    let again = report("client-a");
    assert_eq!(
        (
            again.header("Idempotent-Replayed"),
            &again.json["report_id"]
        ),
        (Some("true"), &a_id)
    );
    let b = report("client-b");
    assert_ne!(
        b.ok(201)["report_id"],
        a_id,
        "another client's key is its own"
    );
    assert_eq!(b.header("Idempotent-Replayed"), None);
    assert_eq!(w.store.tables.borrow().reports.len(), 2);
}

#[test]
fn a_retried_campaign_transition_replays_instead_of_409() {
    let w = World::new();
    let pause = || {
        w.req("POST", &format!("{V2}/campaigns/diwali-hero-ab/pause"))
            .pat(ADMIN)
            .key("pause-1")
            .send()
    };
    let first = pause();
    let out = first.ok(200).clone();
    assert_eq!(
        (&out["from"], &out["status"]),
        (&json!("active"), &json!("paused"))
    );
    let retry = pause();
    assert_eq!(
        (retry.status, retry.header("Idempotent-Replayed")),
        (200, Some("true"))
    );
    assert_eq!(retry.json, out);
    w.req("POST", &format!("{V2}/campaigns/diwali-hero-ab/pause"))
        .pat(ADMIN)
        .send()
        .expect(409, "invalid_transition");
}

/// Keys are remembered for a day (`KEPT_FOR`): after that a request under an old key is a
/// new request. Expired records are only swept when some keyed write reserves a key, and
/// the replay check before it reads the record regardless of its age, so whether an old
/// key answers 409 depends on unrelated traffic.
#[test]
fn a_key_older_than_a_day_is_forgotten() {
    let w = World::new();
    put(&w, "daily", rule("daily", 7), "old-key").ok(201);
    w.advance(24 * 3600 + 1);
    let res = put(&w, "daily", rule("daily", 8), "old-key");
    assert_eq!((res.status, res.code()), (200, ""), "{}", res.text);
}

/// The same request with an unrelated keyed write in between: the old key is forgotten.
#[test]
fn a_key_older_than_a_day_is_forgotten_once_swept() {
    let w = World::new();
    put(&w, "daily", rule("daily", 7), "old-key").ok(201);
    w.advance(24 * 3600 + 1);
    put(&w, "unrelated", rule("unrelated", 7), "other-key").ok(201);
    let res = put(&w, "daily", rule("daily", 8), "old-key");
    assert_eq!(res.ok(200)["rule"]["priority"], 8);
}
