//! The public writes: conversions tied to a ctx token (201, a duplicate key replayed as
//! 200, another payload under the key 409, a required key, every way a ctx is wrong) and
//! support reports.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edge_router::visit::tokens::{self, CtxClaims, PreviewClaims, TokenKind};
use serde_json::{json, Value};

use crate::harness::*;

const CONVERSIONS: &str = "/v2/public/conversions";
const CAMPAIGN: &str = "diwali-hero-ab";
const VID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";

fn convert(w: &World, body: Value, key: &str) -> Res {
    w.req("POST", CONVERSIONS).key(key).json(body).send()
}

fn recorded(w: &World) -> usize {
    w.store.tables.borrow().conversions.len()
}

#[test]
fn a_fresh_ctx_is_recorded_201_for_the_variant_it_names() {
    let w = World::new();
    let ctx = w.ctx(CAMPAIGN, "control", VID);
    let body = json!({"ctx": ctx, "event": "signup", "value": 2499, "currency": "INR", "metadata": {"step": 1, "source": "e2e"}});
    let res = convert(&w, body, "conv-1");
    assert_eq!(
        res.ok(201),
        &json!({"recorded": true, "duplicate": false, "conversion": {"campaign": CAMPAIGN, "variant": "control", "event": "signup"}})
    );
    assert_eq!(res.header("Idempotent-Replayed"), None);
    assert_eq!(res.header("Access-Control-Allow-Origin"), Some("*"));
    let tables = w.store.tables.borrow();
    let stored = &tables.conversions[0];
    // Issue 10: the key is stored scoped to its ctx.
    assert_eq!(
        stored.key,
        edge_router::api::conversions::scoped_key(&ctx, "conv-1")
    );
    let c = &stored.conversion;
    assert_eq!(
        (
            c.handle.as_str(),
            c.campaign.as_str(),
            c.variant.as_str(),
            c.visitor_id.as_str()
        ),
        (HANDLE, CAMPAIGN, "control", VID)
    );
    assert_eq!(
        (c.event.as_str(), c.value, c.currency.as_deref(), c.is_test),
        ("signup", Some(2499.0), Some("INR"), false)
    );
    assert_eq!(
        c.metadata.as_deref(),
        Some(r#"{"source":"e2e","step":1}"#),
        "canonical JSON"
    );
    // Nothing of the configuration changes.
    assert!(tables.documents.is_empty());
}

#[test]
fn a_retry_under_the_same_key_is_a_200_duplicate_whatever_its_formatting() {
    let w = World::new();
    let ctx = w.ctx(CAMPAIGN, "control", VID);
    let body = json!({"ctx": ctx, "event": "signup", "metadata": {"source": "e2e", "step": 1}});
    convert(&w, body.clone(), "conv-1").ok(201);
    let duplicate = json!({"recorded": false, "duplicate": true, "conversion": {"campaign": CAMPAIGN, "variant": "control", "event": "signup"}});
    for _ in 0..2 {
        let retry = convert(&w, body.clone(), "conv-1");
        assert_eq!(retry.ok(200), &duplicate);
        assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
    }
    // Key order, whitespace, 1 versus 1.0 and an explicit null are the same conversion.
    let reordered = format!("{{ \"metadata\": {{\"step\": 1.0, \"source\": \"e2e\"}},\n \"value\": null, \"event\": \"signup\", \"ctx\": \" {ctx} \" }}");
    let res = w
        .req("POST", CONVERSIONS)
        .key("conv-1")
        .raw(reordered)
        .send();
    assert_eq!(res.ok(200), &duplicate);
    assert_eq!(recorded(&w), 1);
}

#[test]
fn the_same_key_with_another_payload_is_409_idempotency_key_reuse() {
    let w = World::new();
    let ctx = w.ctx(CAMPAIGN, "control", VID);
    let body = json!({"ctx": ctx, "event": "signup", "metadata": {"step": 1}});
    convert(&w, body.clone(), "conv-1").ok(201);
    let others = [
        json!({"ctx": ctx, "event": "purchase", "metadata": {"step": 1}}),
        json!({"ctx": ctx, "event": "signup", "metadata": {"step": 2}}),
        json!({"ctx": ctx, "event": "signup"}),
    ];
    for other in others {
        convert(&w, other, "conv-1").expect(409, "idempotency_key_reuse");
    }
    assert_eq!(recorded(&w), 1);
    // Issue 10: keys are scoped to the ctx: another visitor's (or a stranger's) ctx with
    // the same key is another conversion, never a 409 for the real one.
    convert(
        &w,
        json!({"ctx": w.ctx(CAMPAIGN, "story", VID), "event": "signup", "metadata": {"step": 1}}),
        "conv-1",
    )
    .ok(201);
    assert_eq!(recorded(&w), 2);
    let body = json!({"ctx": ctx, "event": "signup", "metadata": {"step": 1}});
    // Keys are per handle, not per campaign: a new key records a new conversion.
    convert(&w, body, "conv-2").ok(201);
    assert_eq!(recorded(&w), 3);
}

#[test]
fn a_conversion_needs_an_idempotency_key_checked_after_the_ctx() {
    let w = World::new();
    let ctx = w.ctx(CAMPAIGN, "control", VID);
    let body = json!({"ctx": ctx, "event": "signup"});
    let res = w.req("POST", CONVERSIONS).json(body.clone()).send();
    res.expect(400, "invalid_parameter");
    assert!(res.json["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Idempotency-Key:"));
    for key in ["has space", &"k".repeat(256), "é", "  "] {
        convert(&w, body.clone(), key).expect(400, "invalid_parameter");
    }
    // The ctx is checked first.
    w.req("POST", CONVERSIONS)
        .json(json!({"ctx": "garbage", "event": "signup"}))
        .send()
        .expect(400, "invalid_ctx");
    assert_eq!(recorded(&w), 0);
}

#[test]
fn forged_expired_and_foreign_ctx_tokens_are_400_invalid_ctx() {
    let w = World::new();
    let now = w.now().timestamp();
    let claims = CtxClaims {
        handle: HANDLE.into(),
        campaign: CAMPAIGN.into(),
        variant: "control".into(),
        vid: VID.into(),
    };
    let ctx = w.ctx(CAMPAIGN, "control", VID);
    let (head, rest) = ctx.split_once('.').unwrap();
    let (payload, mac) = rest.split_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
    let at = bytes
        .windows(VID.len())
        .position(|w| w == VID.as_bytes())
        .unwrap()
        + 3;
    bytes[at] ^= 0x01;
    let tampered = format!("{head}.{}.{mac}", URL_SAFE_NO_PAD.encode(&bytes));
    let mut swapped: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    swapped["variant"] = json!("story");
    let swapped = format!(
        "{head}.{}.{mac}",
        URL_SAFE_NO_PAD.encode(swapped.to_string())
    );
    let preview = tokens::sign(
        TokenKind::Preview,
        TOKEN_SECRET,
        PreviewClaims {
            handle: HANDLE.into(),
            sub: None,
        },
        now,
        600,
    );
    let cases = [
        (
            "expired",
            tokens::sign(
                TokenKind::Ctx,
                TOKEN_SECRET,
                claims.clone(),
                now - 7200,
                3600,
            ),
            "expired",
        ),
        (
            "tampered (one bit of the visitor id)",
            tampered,
            "signature",
        ),
        ("tampered (variant swapped)", swapped, "signature"),
        (
            "signed with another secret",
            tokens::sign(TokenKind::Ctx, b"not-the-secret", claims.clone(), now, 600),
            "signature",
        ),
        ("a preview token", preview, "signature"),
        (
            "a site token",
            w.site_token(TOKEN_SECRET, HANDLE, CAMPAIGN, 600),
            "signature",
        ),
        (
            "issued in the future",
            tokens::sign(TokenKind::Ctx, TOKEN_SECRET, claims, now + 3600, 3600),
            "future",
        ),
        ("garbage", "v1.x.y".to_owned(), "malformed"),
        ("not a token", "hello".to_owned(), "malformed"),
        ("empty", String::new(), "missing"),
    ];
    for (i, (what, bad, says)) in cases.into_iter().enumerate() {
        let res = convert(
            &w,
            json!({"ctx": bad, "event": "signup"}),
            &format!("bad-{i}"),
        );
        res.expect(400, "invalid_ctx");
        let message = res.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
    }
    let res = convert(&w, json!({"event": "signup"}), "bad-no-ctx");
    res.expect(400, "invalid_ctx");
    assert_eq!(recorded(&w), 0);
}

#[test]
fn a_ctx_naming_a_campaign_or_variant_the_handle_no_longer_has_is_invalid_ctx() {
    let w = World::new();
    for (campaign, variant, says) in [
        ("no-such-campaign", "control", "campaign"),
        (CAMPAIGN, "no-such-variant", "variant"),
    ] {
        let res = convert(
            &w,
            json!({"ctx": w.ctx(campaign, variant, VID), "event": "signup"}),
            &format!("k-{campaign}-{variant}"),
        );
        res.expect(400, "invalid_ctx");
        assert!(
            res.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{}",
            res.text
        );
    }
    // A ctx minted while the campaign existed, after the campaign was removed.
    let ctx = w.ctx("gulf-eid-teaser", "countdown", VID);
    let mut config = gharart();
    config
        .rules
        .retain(|r| r.campaign.as_deref() != Some("gulf-eid-teaser"));
    config.campaigns.retain(|c| c.id != "gulf-eid-teaser");
    w.req("PUT", &format!("{V2}/configuration"))
        .pat(ADMIN)
        .json(serde_json::to_value(config).unwrap())
        .send()
        .ok(200);
    convert(&w, json!({"ctx": ctx, "event": "signup"}), "k-removed").expect(400, "invalid_ctx");
    // A ctx for a handle with no configuration.
    let foreign = tokens::sign(
        TokenKind::Ctx,
        TOKEN_SECRET,
        CtxClaims {
            handle: "other-shop".into(),
            campaign: CAMPAIGN.into(),
            variant: "control".into(),
            vid: VID.into(),
        },
        w.now().timestamp(),
        600,
    );
    let res = convert(&w, json!({"ctx": foreign, "event": "signup"}), "k-foreign");
    res.expect(400, "invalid_ctx");
    assert!(res.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("handle"));
    assert_eq!(recorded(&w), 0);
}

#[test]
fn a_paused_campaign_still_counts_conversions_from_a_fresh_ctx() {
    let w = World::new();
    let ctx = w.ctx("gulf-eid-teaser", "gift-guide", VID);
    let res = convert(&w, json!({"ctx": ctx, "event": "purchase"}), "late");
    assert_eq!(res.ok(201)["conversion"]["variant"], "gift-guide");
    let stats = w
        .get(&format!("{V2}/campaigns/gulf-eid-teaser"), &pat(ADMIN))
        .json["campaign"]["stats"]["total"]
        .clone();
    assert_eq!(stats, json!({"conversions": 1, "test_conversions": 0}));
}

#[test]
fn conversion_fields_are_checked_with_their_paths() {
    let w = World::new();
    let ctx = w.ctx(CAMPAIGN, "control", VID);
    let big: serde_json::Map<String, Value> =
        (0..400).map(|i| (format!("k{i:03}"), json!("v"))).collect();
    let cases = [
        (json!({"ctx": ctx, "event": "Sign Up"}), "$.event"),
        (json!({"ctx": ctx, "event": "x".repeat(65)}), "$.event"),
        (
            json!({"ctx": ctx, "event": "purchase", "value": -1}),
            "$.value",
        ),
        (
            json!({"ctx": ctx, "event": "purchase", "value": 1, "currency": "rupees"}),
            "$.currency",
        ),
        (
            json!({"ctx": ctx, "event": "purchase", "currency": "inr"}),
            "$.currency",
        ),
        (
            json!({"ctx": ctx, "event": "purchase", "campaign": "gulf-eid-teaser"}),
            "$.campaign",
        ),
        (
            json!({"ctx": ctx, "event": "purchase", "metadata": big}),
            "$.metadata",
        ),
        (
            json!({"ctx": ctx, "event": "purchase", "metadata": [1]}),
            "$.metadata",
        ),
        (json!([{"ctx": ctx, "event": "signup"}]), "$"),
    ];
    for (i, (body, at)) in cases.into_iter().enumerate() {
        let res = convert(&w, body.clone(), &format!("field-{i}"));
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
    }
    assert_eq!(recorded(&w), 0);
    convert(&w, json!({"ctx": ctx, "event": "x".repeat(64)}), "field-ok").ok(201);
    // Metadata is measured as canonical JSON: {"k":"..."} is 8 bytes plus the value.
    let at_limit =
        json!({"ctx": ctx, "event": "purchase", "metadata": {"k": "a".repeat(4096 - 8)}});
    convert(&w, at_limit, "meta-4096").ok(201);
    let over = json!({"ctx": ctx, "event": "purchase", "metadata": {"k": "a".repeat(4096 - 7)}});
    assert_eq!(convert(&w, over, "meta-4097").path(), "$.metadata");
}

#[test]
fn without_a_token_secret_conversions_are_503_tokens_disabled() {
    let w = World::with(|s| s.token_secret = None);
    let ctx = World::new().ctx(CAMPAIGN, "control", VID);
    convert(&w, json!({"ctx": ctx, "event": "signup"}), "k").expect(503, "tokens_disabled");
    assert_eq!(recorded(&w), 0);
}

#[test]
fn a_support_report_is_stored_with_a_random_id_and_the_clients_tag() {
    let w = World::new();
    w.next_random.set(Some([0x5a; 16]));
    let body = json!({
        "summary": "Resume refused after cancel",
        "details": "Canceled by mistake; resume answers 409.",
        "handle": HANDLE,
        "sessionId": "sess-1",
        "requestId": "0123abcd",
        "reproArtifact": "curl -X POST https://edge.example/v2/handles/gharart/campaigns/x/resume",
    });
    let res = w
        .req("POST", "/v2/support/report")
        .client("203-0-113-7-tag")
        .json(body.clone())
        .send();
    let out = res.ok(201);
    let id = format!("rep_{}", "5a".repeat(12));
    assert_eq!(
        out,
        &json!({"report_id": id, "received_at": "2026-11-22T10:00:15Z"})
    );
    assert_eq!(res.header("Access-Control-Allow-Origin"), Some("*"));
    let tables = w.store.tables.borrow();
    let (report, client) = &tables.reports[&id];
    assert_eq!(client, "203-0-113-7-tag");
    assert_eq!(serde_json::to_value(report).unwrap(), body);
    drop(tables);
    let minimal = w
        .req("POST", "/v2/support/report")
        .json(json!({"summary": "Blank", "details": "Nothing."}))
        .send();
    assert_ne!(minimal.ok(201)["report_id"], json!(id));
    assert_eq!(w.store.tables.borrow().reports.len(), 2);
}

#[test]
fn a_bad_support_report_is_400_at_the_fields_path_and_nothing_is_stored() {
    let w = World::new();
    let cases = [
        (json!({"summary": "x"}), "$"),
        (json!({"details": "x"}), "$"),
        (json!({"summary": "", "details": "x"}), "$.summary"),
        (json!({"summary": "   ", "details": "x"}), "$.summary"),
        (
            json!({"summary": "x".repeat(201), "details": "x"}),
            "$.summary",
        ),
        (json!({"summary": "x", "details": ""}), "$.details"),
        (
            json!({"summary": "x", "details": "x".repeat(10_001)}),
            "$.details",
        ),
        (json!({"summary": "x\u{0}", "details": "y"}), "$.summary"),
        (
            json!({"summary": "x", "details": "y", "handle": "Not A Handle"}),
            "$.handle",
        ),
        (
            json!({"summary": "x", "details": "y", "session_id": "s"}),
            "$.session_id",
        ),
        (
            json!({"summary": "x", "details": "y", "sessionId": "s".repeat(129)}),
            "$.sessionId",
        ),
        (
            json!({"summary": "x", "details": "y", "operator": true}),
            "$.operator",
        ),
    ];
    for (body, at) in cases {
        let res = w
            .req("POST", "/v2/support/report")
            .json(body.clone())
            .send();
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
    }
    w.req("POST", "/v2/support/report")
        .raw("{\"summary\": ")
        .send()
        .expect(400, "invalid_json");
    assert!(w.store.tables.borrow().reports.is_empty());
    // Multi-line details with tabs are fine.
    w.req("POST", "/v2/support/report")
        .json(json!({"summary": "Steps", "details": "1.\topen\r\n2.\tclick"}))
        .send()
        .ok(201);
}
