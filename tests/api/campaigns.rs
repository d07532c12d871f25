//! Campaigns (UC-07): creation (draft, active, refused states, a generated UUID v4),
//! validation with body-relative paths, list and get with stats, every lifecycle
//! transition on the effective status (an ended active campaign is completed), health,
//! and test conversions.

use edge_router::visit::tokens::{self, CtxClaims, TokenKind};
use serde_json::{json, Value};

use crate::harness::*;

fn variants() -> Value {
    json!([
        {"key": "control", "weight": 60, "destination": "https://www.gharart.com/festive/new-buyer-a"},
        {"key": "story", "weight": 40, "destination": "https://www.gharart.com/festive/new-buyer-b"}
    ])
}

fn create(w: &World, body: Value) -> Res {
    w.req("POST", &format!("{V2}/campaigns"))
        .pat("campaigns-write")
        .json(body)
        .send()
}

fn campaign(w: &World, id: &str) -> Res {
    w.get(&format!("{V2}/campaigns/{id}"), &pat("campaigns-read"))
}

fn transition(w: &World, id: &str, action: &str) -> Res {
    w.req("POST", &format!("{V2}/campaigns/{id}/{action}"))
        .pat("campaigns-write")
        .send()
}

fn health(w: &World, id: &str) -> Value {
    let res = w.get(
        &format!("{V2}/campaigns/{id}/health"),
        &pat("campaigns-read"),
    );
    res.ok(200).clone()
}

/// `check id → status` of a health report, in its order.
fn checks(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn check<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

fn conversion_count(w: &World) -> usize {
    w.store.tables.borrow().conversions.len()
}

#[test]
fn a_new_campaign_is_draft_by_default_stored_and_listed() {
    let w = World::new();
    let res = create(
        &w,
        json!({"id": "nbf", "name": "  New buyer funnel ", "variants": variants(), "template": "diwali-ab-utm"}),
    );
    let out = res.ok(201);
    assert_eq!(out["version"], 2);
    let c = &out["campaign"];
    assert_eq!(
        (&c["id"], &c["name"], &c["status"], &c["stored_status"]),
        (
            &json!("nbf"),
            &json!("New buyer funnel"),
            &json!("draft"),
            &json!("draft")
        )
    );
    assert_eq!(c["allowed_transitions"], json!(["activate", "cancel"]));
    assert_eq!(c["routed_by"], json!([]));
    assert_eq!(c["scheduled"], false);
    assert_eq!(
        c["required_tags"],
        json!(["utm_source", "utm_medium", "utm_campaign"])
    );
    assert_eq!(c["variants"], variants());
    let stored = w.stored_config();
    let doc = stored.campaigns.iter().find(|c| c.id == "nbf").unwrap();
    assert_eq!(
        (doc.name.as_str(), doc.status.as_str()),
        ("New buyer funnel", "draft")
    );
    assert_eq!(w.published().1, stored);
    let list = w.get(&format!("{V2}/campaigns"), &pat("campaigns-read"));
    let list = list.ok(200);
    assert_eq!(list["version"], 2);
    let ids: Vec<&str> = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["diwali-hero-ab", "gulf-eid-teaser", "nbf"],
        "declaration order"
    );
    assert_eq!(list["campaigns"][1]["status"], "paused");
}

#[test]
fn a_campaign_created_active_assigns_at_once_or_is_scheduled_until_its_start() {
    let w = World::new();
    let out = create(
        &w,
        json!({"id": "now", "name": "Now", "status": "active", "variants": variants()}),
    );
    let c = &out.ok(201)["campaign"];
    assert_eq!(
        (&c["status"], &c["scheduled"]),
        (&json!("active"), &json!(false))
    );
    assert_eq!(c["allowed_transitions"], json!(["pause", "cancel"]));
    let later = create(
        &w,
        json!({"id": "later", "name": "Later", "status": "active", "start_date": "2026-11-29T00:00:00Z", "variants": variants()}),
    );
    let c = &later.ok(201)["campaign"];
    assert_eq!(
        (&c["status"], &c["scheduled"]),
        (&json!("active"), &json!(true))
    );
    let h = health(&w, "later");
    assert_eq!(check(&h, "dates")["status"], "warn");
    assert!(
        check(&h, "dates")["reason"]
            .as_str()
            .unwrap()
            .contains("not started"),
        "{h}"
    );
}

#[test]
fn other_initial_states_are_refused_at_status() {
    let w = World::new();
    for status in ["paused", "completed", "canceled"] {
        let res = create(
            &w,
            json!({"name": "x", "status": status, "variants": variants()}),
        );
        res.expect(VALIDATION_STATUS, "validation_failed");
        assert_eq!(
            res.errors(),
            pairs(&[("invalid_status", "$.status")]),
            "{status}"
        );
    }
    let res = create(
        &w,
        json!({"name": "x", "status": "running", "variants": variants()}),
    );
    res.expect(400, "invalid_body");
    assert_eq!(res.path(), "$.status");
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn without_an_id_a_uuid_v4_is_made_from_the_requests_random_bytes() {
    let w = World::new();
    // Version nibble 4, variant bits 10: RFC 9562.
    for (bytes, id) in [
        ([0xff; 16], "ffffffff-ffff-4fff-bfff-ffffffffffff"),
        ([0x00; 16], "00000000-0000-4000-8000-000000000000"),
        (
            [
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                0xde, 0xf0,
            ],
            "12345678-9abc-4ef0-9234-56789abcdef0",
        ),
    ] {
        w.next_random.set(Some(bytes));
        let res = create(
            &w,
            json!({"name": "Generated id", "variants": [{"key": "only", "weight": 100, "destination": "https://www.gharart.com/only"}]}),
        );
        assert_eq!(res.ok(201)["campaign"]["id"], id);
        assert_eq!(campaign(&w, id).ok(200)["campaign"]["name"], "Generated id");
    }
    // The body's id wins over the random bytes.
    w.next_random.set(Some([0xff; 16]));
    let res = create(
        &w,
        json!({"id": "given", "name": "Given", "variants": variants()}),
    );
    assert_eq!(res.ok(201)["campaign"]["id"], "given");
}

#[test]
fn every_problem_of_a_new_campaign_is_reported_relative_to_the_body() {
    let w = World::new();
    let res = create(
        &w,
        json!({
            "id": "nbf-bad", "name": "  ", "end_date": "2026-01-01T00:00:00Z",
            "variants": [
                {"key": "a", "weight": 50, "destination": "https://www.gharart.com/a"},
                {"key": "b", "weight": 40, "destination": "http://www.gharart.com/b"}
            ],
            "template": "no-such-template"
        }),
    );
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(
        res.errors(),
        pairs(&[
            ("invalid_name", "$.name"),
            ("end_date_passed", "$.end_date"),
            ("invalid_weights", "$.variants"),
            ("invalid_url", "$.variants[1].destination"),
            ("unknown_template", "$.template"),
        ])
    );
    // An end date a minute ago, alone.
    let res = create(
        &w,
        json!({"id": "nbf-past", "name": "Over", "status": "active", "end_date": "2026-11-22T09:59:15Z", "variants": variants()}),
    );
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(res.errors(), pairs(&[("end_date_passed", "$.end_date")]));
    campaign(&w, "nbf-past").expect(404, "campaign_not_found");
    for (body, at) in [
        (
            json!({"name": "x", "variants": variants(), "owner": "me"}),
            "$.owner",
        ),
        (json!({"name": "x"}), "$"),
        (
            json!({"name": "x", "variants": [{"key": "a", "weight": "half"}]}),
            "$.variants[0].weight",
        ),
    ] {
        let res = create(&w, body.clone());
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
    }
    assert!(
        w.store.tables.borrow().documents.is_empty(),
        "nothing stored"
    );
}

#[test]
fn an_existing_id_is_409_campaign_exists() {
    let w = World::new();
    let res = create(
        &w,
        json!({"id": "diwali-hero-ab", "name": "Again", "variants": variants()}),
    );
    res.expect(409, "campaign_exists");
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn get_campaign_counts_real_and_test_conversions_apart() {
    let w = World::new();
    let res = campaign(&w, "diwali-hero-ab");
    let out = res.ok(200);
    assert_eq!(out["version"], 1);
    assert_eq!(
        out["campaign"]["routed_by"],
        json!(["in-desktop-diwali-ab"])
    );
    assert_eq!(
        out["campaign"]["stats"]["total"],
        json!({"conversions": 0, "test_conversions": 0})
    );
    w.req(
        "POST",
        &format!("{V2}/campaigns/diwali-hero-ab/test-conversion"),
    )
    .pat("campaigns-write")
    .json(json!({"variant": "control"}))
    .send()
    .ok(201);
    for (variant, event, key) in [
        ("story", "purchase", "k1"),
        ("story", "signup", "k2"),
        ("control", "purchase", "k3"),
    ] {
        let ctx = w.ctx("diwali-hero-ab", variant, &format!("vid-{key}"));
        w.req("POST", "/v2/public/conversions")
            .key(key)
            .json(json!({"ctx": ctx, "event": event}))
            .send()
            .ok(201);
    }
    let stats = campaign(&w, "diwali-hero-ab").json["campaign"]["stats"].clone();
    assert_eq!(
        stats,
        json!({
            "variants": [
                {"key": "control", "conversions": 1, "test_conversions": 1, "by_event": {"purchase": 1}},
                {"key": "story", "conversions": 2, "test_conversions": 0, "by_event": {"purchase": 1, "signup": 1}}
            ],
            "total": {"conversions": 3, "test_conversions": 1}
        })
    );
    campaign(&w, "no-such-campaign").expect(404, "campaign_not_found");
}

#[test]
fn every_transition_follows_the_state_machine_and_refusals_name_the_state() {
    let w = World::new();
    create(
        &w,
        json!({"id": "lc", "name": "Lifecycle", "variants": variants()}),
    )
    .ok(201);
    // (action, Ok((from, to, allowed after)) or Err(words the refusal names))
    type Step = (
        &'static str,
        Result<(&'static str, &'static str, Value), &'static [&'static str]>,
    );
    let steps: [Step; 14] = [
        ("pause", Err(&["pause", "draft", "activate or cancel"])),
        ("resume", Err(&["resume", "draft"])),
        (
            "activate",
            Ok(("draft", "active", json!(["pause", "cancel"]))),
        ),
        ("activate", Err(&["activate", "active", "pause or cancel"])),
        ("resume", Err(&["resume", "active"])),
        (
            "pause",
            Ok(("active", "paused", json!(["resume", "cancel"]))),
        ),
        ("pause", Err(&["pause", "paused", "resume or cancel"])),
        ("activate", Err(&["activate", "paused"])),
        (
            "resume",
            Ok(("paused", "active", json!(["pause", "cancel"]))),
        ),
        ("cancel", Ok(("active", "canceled", json!([])))),
        ("resume", Err(&["canceled", "terminal"])),
        ("pause", Err(&["canceled", "terminal"])),
        ("activate", Err(&["canceled", "terminal"])),
        ("cancel", Err(&["canceled", "terminal"])),
    ];
    let mut version = 2;
    for (i, (action, expected)) in steps.into_iter().enumerate() {
        let res = transition(&w, "lc", action);
        match expected {
            Ok((from, to, allowed)) => {
                version += 1;
                let out = res.ok(200);
                assert_eq!(
                    (&out["from"], &out["status"], &out["version"]),
                    (&json!(from), &json!(to), &json!(version)),
                    "step {i}"
                );
                assert_eq!(out["campaign"]["allowed_transitions"], allowed, "step {i}");
                let stored = w.stored_config();
                assert_eq!(
                    stored
                        .campaigns
                        .iter()
                        .find(|c| c.id == "lc")
                        .unwrap()
                        .status
                        .as_str(),
                    to
                );
            }
            Err(words) => {
                res.expect(409, "invalid_transition");
                let message = res.json["error"]["message"].as_str().unwrap();
                for word in words {
                    assert!(
                        message.contains(word),
                        "step {i} ({action}): {message:?} names {word:?}"
                    );
                }
            }
        }
        assert_eq!(
            w.published().0,
            version,
            "step {i}: only a transition writes"
        );
    }
    // Draft can be canceled directly; unknown campaigns are 404.
    create(
        &w,
        json!({"id": "lc-2", "name": "Short", "variants": variants()}),
    )
    .ok(201);
    assert_eq!(transition(&w, "lc-2", "cancel").ok(200)["from"], "draft");
    transition(&w, "no-such-campaign", "pause").expect(404, "campaign_not_found");
}

#[test]
fn an_active_campaign_past_its_end_date_reads_as_completed_everywhere() {
    let w = World::new();
    let end = "2026-11-22T10:00:25Z"; // ten seconds ahead
    for (id, status) in [
        ("flash", "active"),
        ("flash-draft", "draft"),
        ("flash-paused", "active"),
    ] {
        create(&w, json!({"id": id, "name": id, "status": status, "end_date": end, "variants": variants()})).ok(201);
    }
    transition(&w, "flash-paused", "pause").ok(200);
    w.advance(10);
    let c = campaign(&w, "flash").json["campaign"].clone();
    assert_eq!(
        (&c["status"], &c["stored_status"]),
        (&json!("completed"), &json!("active")),
        "from the clock, not stored"
    );
    assert_eq!(c["allowed_transitions"], json!([]));
    let list = w
        .get(&format!("{V2}/campaigns"), &pat("campaigns-read"))
        .json;
    assert_eq!(
        list["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == "flash")
            .unwrap()["status"],
        "completed"
    );
    for action in ["pause", "resume", "activate", "cancel"] {
        let res = transition(&w, "flash", action);
        res.expect(409, "invalid_transition");
        assert!(
            res.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("completed"),
            "{}",
            res.text
        );
    }
    let h = health(&w, "flash");
    assert_eq!(
        (&h["campaign_status"], &check(&h, "status")["status"]),
        (&json!("completed"), &json!("fail"))
    );
    // Only an active campaign completes on its own; the others keep their state, can no
    // longer be activated or resumed (they would complete at once), and can be canceled.
    let draft = campaign(&w, "flash-draft").json["campaign"].clone();
    assert_eq!(
        (&draft["status"], &draft["allowed_transitions"]),
        (&json!("draft"), &json!(["cancel"]))
    );
    let res = transition(&w, "flash-draft", "activate");
    res.expect(409, "invalid_transition");
    assert!(
        res.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("end_date"),
        "{}",
        res.text
    );
    let res = transition(&w, "flash-paused", "resume");
    res.expect(409, "invalid_transition");
    assert!(
        res.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("end_date"),
        "{}",
        res.text
    );
    assert_eq!(
        transition(&w, "flash-paused", "cancel").ok(200)["status"],
        "canceled"
    );
    assert_eq!(
        w.stored_config()
            .campaigns
            .iter()
            .find(|c| c.id == "flash")
            .unwrap()
            .status
            .as_str(),
        "active"
    );
}

#[test]
fn health_lists_every_check_in_order_and_follows_the_campaign() {
    let w = World::new();
    let ids = [
        "status",
        "dates",
        "weights",
        "variant_destinations",
        "routing",
        "traffic_tags",
        "ctx_token",
        "campaign_page",
        "test_conversions",
        "sample_ratio",
    ];
    let h = health(&w, "diwali-hero-ab");
    assert_eq!(h["campaign"], "diwali-hero-ab");
    assert_eq!(h["version"], 1);
    assert_eq!(h["checked_at"], "2026-11-22T10:00:15Z");
    let statuses: Vec<(String, String)> = checks(&h);
    let expected = [
        "pass", "pass", "pass", "pass", "pass", "pass", "pass", "fail", "warn", "pass",
    ];
    assert_eq!(
        statuses,
        ids.iter()
            .zip(expected)
            .map(|(i, s)| (i.to_string(), s.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(h["status"], "fail", "the worst check");
    for c in h["checks"].as_array().unwrap() {
        assert!(!c["reason"].as_str().unwrap().is_empty(), "{c}");
    }
    // A template missing two of the three UTM tags fails traffic_tags naming them.
    w.req("POST", &format!("{V2}/tracking-templates"))
        .pat(ADMIN)
        .json(json!({"id": "nbf-utm", "params": {"utm_source": "gharart-edge", "gh_ctx": "{ctx}"}}))
        .send()
        .ok(201);
    create(
        &w,
        json!({"id": "nbf", "name": "New buyers", "variants": variants(), "template": "nbf-utm"}),
    )
    .ok(201);
    let h = health(&w, "nbf");
    let tags = check(&h, "traffic_tags");
    assert_eq!(tags["status"], "fail");
    assert_eq!(
        tags["details"]["templates"][0]["missing"],
        json!(["utm_medium", "utm_campaign"])
    );
    assert_eq!(
        check(&h, "routing")["status"],
        "warn",
        "no rule routes to it"
    );
    assert_eq!(check(&h, "status")["status"], "warn", "draft");
    assert_eq!(
        check(&h, "test_conversions")["details"]["missing"],
        json!(["control", "story"])
    );
    // Test conversions for both variants and a published FREE_WITH_LOGIN page pass.
    for variant in ["control", "story"] {
        w.req("POST", &format!("{V2}/campaigns/nbf/test-conversion"))
            .pat(ADMIN)
            .json(json!({"variant": variant}))
            .send()
            .ok(201);
    }
    let page = format!("{V2}/site-structure/campaigns/nbf");
    w.req("PUT", &page)
        .pat(ADMIN)
        .json(json!({"access_level": "FREE_WITH_LOGIN", "document": page_doc("New buyers")}))
        .send()
        .ok(200);
    w.req("POST", &format!("{page}/publish"))
        .pat(ADMIN)
        .send()
        .ok(200);
    let h = health(&w, "nbf");
    assert_eq!(check(&h, "test_conversions")["status"], "pass");
    assert_eq!(
        check(&h, "test_conversions")["details"]["per_variant"],
        json!({"control": 1, "story": 1})
    );
    assert_eq!(check(&h, "campaign_page")["status"], "pass");
    w.get(&format!("{V2}/campaigns/nope/health"), &pat(ADMIN))
        .expect(404, "campaign_not_found");
}

#[test]
fn a_test_conversion_is_flagged_tied_to_a_minted_ctx_and_kept_out_of_real_figures() {
    let w = World::new();
    let now = w.now().timestamp();
    w.next_random.set(Some([0xab; 16]));
    let res = w
        .req(
            "POST",
            &format!("{V2}/campaigns/diwali-hero-ab/test-conversion"),
        )
        .pat("campaigns-write")
        .json(json!({"variant": "story"}))
        .send();
    let out = res.ok(201).clone();
    assert_eq!(out["recorded"], true);
    let visitor = format!("test-{}", "ab".repeat(8));
    assert_eq!(
        out["conversion"],
        json!({"handle": HANDLE, "campaign": "diwali-hero-ab", "variant": "story", "visitor_id": visitor, "event": "test_conversion", "is_test": true})
    );
    let ctx = out["ctx"].as_str().unwrap();
    // Issue 10: a test conversion's ctx is a token of its own kind, refused as a real one.
    assert!(tokens::verify::<CtxClaims>(TokenKind::Ctx, TOKEN_SECRET, ctx, now).is_err());
    let signed = tokens::verify::<CtxClaims>(TokenKind::TestCtx, TOKEN_SECRET, ctx, now).unwrap();
    assert_eq!(
        (signed.claims.variant.as_str(), signed.claims.vid.as_str()),
        ("story", visitor.as_str())
    );
    assert_eq!(
        signed.exp - signed.iat,
        7 * 24 * 3600,
        "CTX_TTL_SECONDS by default"
    );
    // With the redirect's ctx: tied to that visitor, with its own event.
    let real = w.ctx("diwali-hero-ab", "control", "c0ffee");
    let res = w
        .req(
            "POST",
            &format!("{V2}/campaigns/diwali-hero-ab/test-conversion"),
        )
        .pat("campaigns-write")
        .json(json!({"variant": "control", "ctx": real, "event": "checkout.test"}))
        .send();
    let out = res.ok(201);
    assert_eq!(
        (
            &out["conversion"]["visitor_id"],
            &out["ctx"],
            &out["conversion"]["event"]
        ),
        (&json!("c0ffee"), &json!(real), &json!("checkout.test"))
    );
    let tables = w.store.tables.borrow();
    assert_eq!(tables.conversions.len(), 2);
    assert!(tables.conversions.iter().all(|c| c.conversion.is_test));
    drop(tables);
    let stats = campaign(&w, "diwali-hero-ab").json["campaign"]["stats"]["total"].clone();
    assert_eq!(stats, json!({"conversions": 0, "test_conversions": 2}));
}

#[test]
fn a_test_conversion_with_a_bad_ctx_variant_or_event_records_nothing() {
    let w = World::new();
    let path = format!("{V2}/campaigns/diwali-hero-ab/test-conversion");
    let now = w.now().timestamp();
    let claims = |campaign: &str, variant: &str| CtxClaims {
        handle: HANDLE.into(),
        campaign: campaign.into(),
        variant: variant.into(),
        vid: "v".into(),
    };
    let stale = tokens::sign(
        TokenKind::Ctx,
        TOKEN_SECRET,
        claims("diwali-hero-ab", "control"),
        now - 7200,
        3600,
    );
    let other_handle = tokens::sign(
        TokenKind::Ctx,
        TOKEN_SECRET,
        CtxClaims {
            handle: "other-shop".into(),
            ..claims("diwali-hero-ab", "control")
        },
        now,
        600,
    );
    let cases = [
        ("garbage", "not-a-ctx".to_owned(), "malformed"),
        (
            "another variant",
            w.ctx("diwali-hero-ab", "story", "v"),
            "another variant",
        ),
        (
            "another campaign",
            w.ctx("gulf-eid-teaser", "control", "v"),
            "another campaign",
        ),
        ("another handle", other_handle, "another handle"),
        ("expired", stale, "expired"),
        (
            "another secret",
            tokens::sign(
                TokenKind::Ctx,
                b"another-secret",
                claims("diwali-hero-ab", "control"),
                now,
                600,
            ),
            "signature",
        ),
        (
            "a site token",
            w.site_token(TOKEN_SECRET, HANDLE, "diwali-hero-ab", 600),
            "signature",
        ),
    ];
    for (what, ctx, says) in cases {
        let res = w
            .req("POST", &path)
            .pat(ADMIN)
            .json(json!({"variant": "control", "ctx": ctx}))
            .send();
        res.expect(400, "invalid_ctx");
        assert!(
            res.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{what}: {}",
            res.text
        );
    }
    let res = w
        .req("POST", &path)
        .pat(ADMIN)
        .json(json!({"variant": "control", "event": "Bad Event"}))
        .send();
    res.expect(400, "invalid_body");
    assert_eq!(res.path(), "$.event");
    // The working tree answers a variant the campaign lacks with 404 variant_not_found
    // (tests/e2e/campaigns.test.mjs still expects 400 invalid_body at $.variant).
    w.req("POST", &path)
        .pat(ADMIN)
        .json(json!({"variant": "nope"}))
        .send()
        .expect(404, "variant_not_found");
    w.req("POST", &format!("{V2}/campaigns/nope/test-conversion"))
        .pat(ADMIN)
        .json(json!({"variant": "control"}))
        .send()
        .expect(404, "campaign_not_found");
    assert_eq!(conversion_count(&w), 0);
    let w = World::with(|s| s.token_secret = None);
    w.req("POST", &path)
        .pat(ADMIN)
        .json(json!({"variant": "control"}))
        .send()
        .expect(503, "tokens_disabled");
    assert_eq!(conversion_count(&w), 0);
}

#[test]
fn a_retried_test_conversion_under_one_key_is_recorded_once() {
    let w = World::new();
    let send = || {
        w.req(
            "POST",
            &format!("{V2}/campaigns/diwali-hero-ab/test-conversion"),
        )
        .pat(ADMIN)
        .key("tc-1")
        .json(json!({"variant": "story"}))
        .send()
    };
    let first = send().json.clone();
    let retry = send();
    assert_eq!(
        (retry.status, retry.header("Idempotent-Replayed")),
        (201, Some("true"))
    );
    assert_eq!(retry.json, first);
    assert_eq!(conversion_count(&w), 1);
    // Without a key each request is a test conversion of its own.
    w.req(
        "POST",
        &format!("{V2}/campaigns/diwali-hero-ab/test-conversion"),
    )
    .pat(ADMIN)
    .json(json!({"variant": "story"}))
    .send()
    .ok(201);
    assert_eq!(conversion_count(&w), 2);
}

#[test]
fn conversions_of_a_variant_the_campaign_no_longer_has_are_kept_apart_in_the_totals() {
    let w = World::new();
    for (variant, key) in [("control", "k1"), ("story", "k2")] {
        let ctx = w.ctx("diwali-hero-ab", variant, "vid");
        w.req("POST", "/v2/public/conversions")
            .key(key)
            .json(json!({"ctx": ctx, "event": "purchase"}))
            .send()
            .ok(201);
    }
    // The story variant is replaced by a new one.
    let mut config = gharart();
    let doc = config
        .campaigns
        .iter_mut()
        .find(|c| c.id == "diwali-hero-ab")
        .unwrap();
    doc.variants[1].key = "story-v2".into();
    w.req("PUT", &format!("{V2}/configuration"))
        .pat(ADMIN)
        .json(serde_json::to_value(config).unwrap())
        .send()
        .ok(200);
    let stats = campaign(&w, "diwali-hero-ab").json["campaign"]["stats"].clone();
    let keys: Vec<&str> = stats["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["control", "story-v2"]);
    assert_eq!(stats["variants"][1]["conversions"], 0);
    assert_eq!(stats["unknown_variants"][0]["key"], "story");
    assert_eq!(stats["unknown_variants"][0]["conversions"], 1);
    assert_eq!(
        stats["total"],
        json!({"conversions": 2, "test_conversions": 0}),
        "totals add up to what is stored"
    );
}

#[test]
fn a_campaigns_own_traffic_tags_are_what_its_template_must_set() {
    let w = World::new();
    let res = create(
        &w,
        json!({"id": "own-tags", "name": "Own tags", "variants": variants(), "traffic_tags": ["utm_source", "utm_term"], "template": "diwali-ab-utm"}),
    );
    assert_eq!(
        res.ok(201)["campaign"]["required_tags"],
        json!(["utm_source", "utm_term"])
    );
    let h = health(&w, "own-tags");
    let tags = check(&h, "traffic_tags");
    assert_eq!(tags["status"], "fail");
    assert_eq!(
        tags["details"]["templates"][0]["missing"],
        json!(["utm_term"])
    );
}

#[test]
fn campaign_documents_are_checked_at_their_body_paths() {
    let w = World::new();
    let one = json!([{"key": "a", "weight": 100, "destination": "https://www.gharart.com/a"}]);
    let twins = json!([
        {"key": "a", "weight": 50, "destination": "https://www.gharart.com/a"},
        {"key": "a", "weight": 50, "destination": "https://www.gharart.com/b"}
    ]);
    let cases = [
        (
            json!({"name": "x", "start_date": "2027-02-01T00:00:00Z", "end_date": "2027-01-01T00:00:00Z", "variants": one}),
            ("invalid_dates", "$.end_date"),
        ),
        (
            json!({"name": "x", "start_date": "tomorrow", "variants": one}),
            ("invalid_time", "$.start_date"),
        ),
        (
            json!({"name": "x", "variants": twins}),
            ("duplicate_id", "$.variants[1].key"),
        ),
        (
            json!({"name": "x", "variants": []}),
            ("no_variants", "$.variants"),
        ),
        (
            json!({"id": "a/b", "name": "x", "variants": one}),
            ("invalid_id", "$.id"),
        ),
        (
            json!({"id": "bad id!", "name": "x", "variants": one}),
            ("invalid_id", "$.id"),
        ),
        (
            json!({"name": "x", "seed": "", "variants": one}),
            ("invalid_seed", "$.seed"),
        ),
    ];
    for (body, (code, path)) in cases {
        let res = create(&w, body.clone());
        res.expect(VALIDATION_STATUS, "validation_failed");
        assert_eq!(
            res.errors().first(),
            Some(&(code.to_owned(), path.to_owned())),
            "{body}: {:?}",
            res.errors()
        );
    }
    assert!(w.store.tables.borrow().documents.is_empty());
}
