use serde_json::json;

use super::*;
use crate::api::body;

const SECRET: &[u8] = b"test-secret-of-reasonable-length";
const NOW: &str = "2026-11-10T12:00:00Z";

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap()
}

fn festive() -> HandleConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    crate::model::files::load_dir(&dir).unwrap().0
}

fn ctx_for(handle: &str, campaign: &str, variant: &str, ttl: i64) -> String {
    let claims = CtxClaims {
        handle: handle.into(),
        campaign: campaign.into(),
        variant: variant.into(),
        vid: "vid-1".into(),
    };
    tokens::sign(TokenKind::Ctx, SECRET, claims, at(NOW).timestamp(), ttl)
}

fn input(ctx: &str) -> ConversionInput {
    body::from_value(json!({"ctx": ctx, "event": "purchase", "value": 1499.0, "currency": "INR"}))
        .unwrap()
}

/// A token whose payload was changed after signing (variant `story` → `control`).
fn tampered(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    parts[1] = URL_SAFE_NO_PAD.encode(payload.replace("story", "control"));
    parts.join(".")
}

#[test]
fn ctx_cases() {
    let good = ctx_for("gharart", "diwali-hero-ab", "story", 3600);
    let site = tokens::sign(
        TokenKind::Site,
        SECRET,
        crate::visit::tokens::SiteClaims {
            handle: "gharart".into(),
            campaign: "diwali-hero-ab".into(),
        },
        at(NOW).timestamp(),
        3600,
    );
    let cases: Vec<(String, &str, Result<&str, &str>)> = vec![
        (good.clone(), NOW, Ok("story")),
        (good.clone(), "2026-11-10T12:59:59Z", Ok("story")),
        (good.clone(), "2026-11-10T13:00:00Z", Err("expired")),
        (
            good.clone(),
            "2026-11-10T11:58:00Z",
            Err("issued in the future"),
        ),
        (tampered(&good), NOW, Err("signature mismatch")),
        (site, NOW, Err("signature mismatch")),
        (format!("{good}x"), NOW, Err("signature mismatch")),
        ("v1.abc".into(), NOW, Err("malformed")),
        ("not a token".into(), NOW, Err("malformed")),
        ("".into(), NOW, Err("missing")),
        ("  ".into(), NOW, Err("missing")),
    ];
    for (ctx, when, expected) in cases {
        match (verify_conversion(SECRET, &input(&ctx), at(when)), expected) {
            (Ok(c), Ok(variant)) => {
                assert_eq!(
                    (c.variant.as_str(), c.campaign.as_str(), c.handle.as_str()),
                    (variant, "diwali-hero-ab", "gharart")
                );
                assert_eq!((c.visitor_id.as_str(), c.is_test), ("vid-1", false));
            }
            (Err(e), Err(words)) => {
                assert_eq!(
                    (e.status(), e.code().as_str()),
                    (400, "invalid_ctx"),
                    "{ctx}"
                );
                assert!(e.to_string().contains(words), "{ctx}: {e}");
            }
            (got, want) => panic!("{ctx} at {when}: got {got:?}, want {want:?}"),
        }
    }
    let missing: ConversionInput = body::from_value(json!({"event": "purchase"})).unwrap();
    assert_eq!(
        verify_conversion(SECRET, &missing, at(NOW))
            .unwrap_err()
            .code(),
        "invalid_ctx"
    );
}

#[test]
fn body_fields_are_checked_after_the_ctx() {
    let ctx = ctx_for("gharart", "diwali-hero-ab", "story", 3600);
    let big = "x".repeat(MAX_METADATA_BYTES);
    let cases = [
        (json!({"event": "Purchase!"}), Some("$.event")),
        (json!({"event": ""}), Some("$.event")),
        (json!({"event": "x".repeat(65)}), Some("$.event")),
        (json!({"event": "checkout.step-2_done"}), None),
        (json!({"event": "buy", "value": -1}), Some("$.value")),
        (json!({"event": "buy", "value": 0}), None),
        (
            json!({"event": "buy", "currency": "inr"}),
            Some("$.currency"),
        ),
        (
            json!({"event": "buy", "currency": "RUPEE"}),
            Some("$.currency"),
        ),
        (
            json!({"event": "buy", "metadata": {"note": big}}),
            Some("$.metadata"),
        ),
        (
            json!({"event": "buy", "metadata": {"order": "A-17", "items": [1, 2]}}),
            None,
        ),
    ];
    for (mut value, path) in cases {
        value["ctx"] = json!(ctx);
        let parsed: ConversionInput = body::from_value(value.clone()).unwrap();
        match (verify_conversion(SECRET, &parsed, at(NOW)), path) {
            (Ok(_), None) => {}
            (Err(ApiError::InvalidBody { path: got, .. }), Some(want)) => {
                assert_eq!(got, want, "{value}")
            }
            (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
        }
    }
    for (bad, path) in [
        (
            json!({"ctx": ctx, "event": "buy", "variant": "control"}),
            "$.variant",
        ),
        (
            json!({"ctx": ctx, "event": "buy", "metadata": [1]}),
            "$.metadata",
        ),
        (
            json!({"ctx": ctx, "event": "buy", "value": "12"}),
            "$.value",
        ),
    ] {
        let err = body::from_value::<ConversionInput>(bad).unwrap_err();
        assert!(
            matches!(&err, body::BodyError::Shape { path: p, .. } if p == path),
            "{err:?}"
        );
    }
    let with_meta: ConversionInput = body::from_value(
        json!({"ctx": ctx, "event": "buy", "metadata": {"b": 1, "a": [true, null]}}),
    )
    .unwrap();
    let c = verify_conversion(SECRET, &with_meta, at(NOW)).unwrap();
    assert_eq!(c.metadata.as_deref(), Some(r#"{"a":[true,null],"b":1}"#));
}

#[test]
fn conversions_must_name_what_the_handle_has() {
    let config = festive();
    for (campaign, variant, expected) in [
        ("diwali-hero-ab", "story", Ok(())),
        ("diwali-hero-ab", "gone", Err("invalid_ctx")),
        ("deleted-campaign", "story", Err("invalid_ctx")),
    ] {
        let c = verify_conversion(
            SECRET,
            &input(&ctx_for("gharart", campaign, variant, 60)),
            at(NOW),
        )
        .unwrap();
        assert_eq!(
            check_target(&config, &c).map_err(|e| e.code().as_str()),
            expected,
            "{campaign}/{variant}"
        );
    }
}

#[test]
fn payload_hash_is_canonical() {
    let parse = |text: &str| serde_json::from_str::<ConversionInput>(text).unwrap();
    let a = parse(
        r#"{"ctx":"t","event":"buy","value":10,"currency":"INR","metadata":{"x":1,"y":{"b":2,"a":1}}}"#,
    );
    let same = [
        r#"{ "metadata": {"y": {"a": 1, "b": 2}, "x": 1.0}, "currency": "INR", "value": 10.0, "event": "buy", "ctx": "t" }"#,
        "{\n\"ctx\":\"t\",\n\t\"event\":\"buy\",\"value\":1e1,\"currency\":\"INR\",\"metadata\":{\"x\":1,\"y\":{\"a\":1,\"b\":2}}}",
    ];
    for text in same {
        assert_eq!(payload_hash(&parse(text)), payload_hash(&a), "{text}");
    }
    let b = parse(r#"{"ctx":"t","event":"buy"}"#);
    assert_eq!(
        payload_hash(&b),
        payload_hash(&parse(
            r#"{"ctx":"t","event":"buy","value":null,"metadata":null}"#
        ))
    );
    let different = [
        r#"{"ctx":"t","event":"buy","value":11,"currency":"INR","metadata":{"x":1,"y":{"b":2,"a":1}}}"#,
        r#"{"ctx":"t","event":"buy","value":10,"currency":"USD","metadata":{"x":1,"y":{"b":2,"a":1}}}"#,
        r#"{"ctx":"t","event":"buy","value":10,"currency":"INR","metadata":{"x":"1","y":{"b":2,"a":1}}}"#,
        r#"{"ctx":"u","event":"buy","value":10,"currency":"INR","metadata":{"x":1,"y":{"b":2,"a":1}}}"#,
        r#"{"ctx":"t","event":"sell","value":10,"currency":"INR","metadata":{"x":1,"y":{"b":2,"a":1}}}"#,
    ];
    for text in different {
        assert_ne!(payload_hash(&parse(text)), payload_hash(&a), "{text}");
    }
    assert_eq!(payload_hash(&a).len(), 64);
    assert_eq!(
        canonical_json(&json!({"b": [1.5, "é\n"], "a": {}})),
        r#"{"a":{},"b":[1.5,"é\n"]}"#
    );
}

#[test]
fn idempotency_keys_and_dedupe() {
    assert_eq!(idempotency_key(Some(" order-17 ")), Ok("order-17"));
    for bad in [None, Some(""), Some("has space"), Some("é")] {
        assert_eq!(
            idempotency_key(bad).unwrap_err().code(),
            "invalid_parameter",
            "{bad:?}"
        );
    }
    assert_eq!(
        idempotency_key(Some(&"k".repeat(256))).unwrap_err().code(),
        "invalid_parameter"
    );
    assert_eq!(dedupe(None, "h1"), Ok(Dedupe::Recorded));
    assert_eq!(dedupe(Some("h1"), "h1"), Ok(Dedupe::Replay));
    let err = dedupe(Some("h1"), "h2").unwrap_err();
    assert_eq!(
        (err.status(), err.code().as_str()),
        (409, "idempotency_key_reuse")
    );
}

#[test]
fn test_conversions() {
    let config = festive();
    let campaign = &config.campaigns[0];
    let test = |variant: &str, ctx: Option<String>, event: Option<&str>| {
        let input = TestConversionInput {
            variant: variant.into(),
            ctx,
            event: event.map(str::to_owned),
        };
        test_conversion(
            SECRET,
            "gharart",
            campaign,
            &input,
            "test-vid",
            600,
            at(NOW),
        )
    };
    let (c, minted) = test("control", None, None).unwrap();
    assert_eq!(
        (
            c.variant.as_str(),
            c.event.as_str(),
            c.is_test,
            c.visitor_id.as_str()
        ),
        ("control", TEST_EVENT, true, "test-vid")
    );
    // A minted test ctx is its own kind of token: the public route refuses it.
    assert_eq!(
        verify_ctx(SECRET, &minted, at(NOW)).unwrap_err().code(),
        "invalid_ctx"
    );
    let back =
        tokens::verify::<CtxClaims>(TokenKind::TestCtx, SECRET, &minted, at(NOW).timestamp())
            .unwrap();
    assert_eq!(
        (back.claims.variant.as_str(), back.exp - back.iat),
        ("control", 600)
    );

    let story = ctx_for("gharart", "diwali-hero-ab", "story", 3600);
    let (c, used) = test("story", Some(story.clone()), Some("purchase")).unwrap();
    assert_eq!(
        (c.visitor_id.as_str(), c.event.as_str(), used),
        ("vid-1", "purchase", story.clone())
    );

    let cases: Vec<(&str, Option<String>, Option<&str>, &str)> = vec![
        ("control", Some(story.clone()), None, "another variant"),
        (
            "story",
            Some(ctx_for("gharart", "gulf-eid-teaser", "story", 60)),
            None,
            "another campaign",
        ),
        (
            "story",
            Some(ctx_for("other", "diwali-hero-ab", "story", 60)),
            None,
            "another handle",
        ),
        ("story", Some(tampered(&story)), None, "signature mismatch"),
        (
            "story",
            Some(ctx_for("gharart", "diwali-hero-ab", "story", -1)),
            None,
            "expired",
        ),
        ("story", Some(String::new()), None, "missing"),
    ];
    for (variant, ctx, event, words) in cases {
        let err = test(variant, ctx, event).unwrap_err();
        assert_eq!(err.code(), "invalid_ctx", "{words}");
        assert!(err.to_string().contains(words), "{err}");
    }
    let err = test("hero-c", None, None).unwrap_err();
    assert_eq!(
        err,
        ApiError::not_found(crate::api::error::Missing::Variant, "hero-c")
    );
    assert_eq!(
        (err.status(), err.code().as_str()),
        (404, "variant_not_found")
    );
    let err = test("story", None, Some("Bad Event")).unwrap_err();
    assert!(matches!(&err, ApiError::InvalidBody { path, .. } if path == "$.event"));
    let err =
        body::from_value::<TestConversionInput>(json!({"variant": "story", "is_test": false}))
            .unwrap_err();
    assert_eq!(ApiError::from(err).code(), "invalid_body");
}
