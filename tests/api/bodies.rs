//! Request bodies: the size limit (declared or actual, and before or after the
//! credential), JSON syntax errors with their position, shape errors with their JSON path,
//! non-object bodies, optional and ignored bodies.

use edge_router::api::routes::ROUTES;
use serde_json::json;

use crate::harness::*;

const LIMIT: usize = 1024;

fn small() -> World {
    World::with(|s| {
        s.max_body_bytes = LIMIT;
        s.auth_failures_per_minute = 10_000;
    })
}

fn padded(n: usize) -> Vec<u8> {
    let body = format!(r#"{{"x":"{}"}}"#, "a".repeat(n - 8));
    assert_eq!(body.len(), n);
    body.into_bytes()
}

#[test]
fn a_declared_length_over_the_limit_is_413_on_every_body_route_before_any_credential() {
    let w = small();
    let mut routes = 0;
    for route in ROUTES
        .iter()
        .filter(|r| r.method == "POST" || r.method == "PUT")
    {
        let path = sample(route).path;
        for token in [None, Some(pat(ADMIN))] {
            let mut req = w
                .req(route.method, &path)
                .raw(padded(LIMIT + 1))
                .content_length(LIMIT as u64 + 1);
            if let Some(token) = &token {
                req = req.bearer(token);
            }
            let res = req.send();
            res.expect(413, "body_too_large");
            assert!(
                res.json["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("1024 bytes"),
                "{}",
                res.text
            );
        }
        routes += 1;
    }
    assert!(routes >= 20, "{routes} routes take a body");
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn an_undeclared_body_over_the_limit_is_read_only_after_the_credential() {
    let w = small();
    for route in ROUTES
        .iter()
        .filter(|r| r.method == "POST" || r.method == "PUT")
    {
        let path = sample(route).path;
        let send = |token: Option<&str>| {
            let mut req = w.req(route.method, &path).raw(padded(LIMIT + 1));
            if let Some(token) = token {
                req = req.bearer(token);
            }
            req.send()
        };
        let admin = pat(ADMIN);
        if route.scope.is_some() {
            send(Some(&admin)).expect(413, "body_too_large");
            send(None).expect(401, "missing_token");
        } else if route.site_token {
            // A management token is no credential here: refused before the body is read.
            send(Some(&admin)).expect(401, "invalid_token");
            let site = w.site_token(TOKEN_SECRET, HANDLE, "diwali-hero-ab", 600);
            send(Some(&site)).expect(413, "body_too_large");
        } else {
            send(None).expect(413, "body_too_large");
        }
    }
}

#[test]
fn exactly_the_limit_is_accepted_and_one_byte_more_is_not() {
    let w = small();
    let base = r#"{"ttl_seconds": 60}"#;
    let exact = format!("{base}{}", " ".repeat(LIMIT - base.len()));
    assert_eq!(exact.len(), LIMIT);
    let path = format!("{V2}/preview-tokens");
    let res = w.req("POST", &path).pat(ADMIN).raw(exact.clone()).send();
    assert_eq!(res.ok(201)["expires_at"], w.now().timestamp() + 60);
    w.req("POST", &path)
        .pat(ADMIN)
        .raw(format!("{exact} "))
        .send()
        .expect(413, "body_too_large");
}

#[test]
fn malformed_json_is_400_invalid_json_with_line_and_column() {
    let w = World::new();
    let path = format!("{V2}/personalization-rules/shape-probe");
    let res = w
        .req("PUT", &path)
        .pat(ADMIN)
        .raw("{\n  \"priority\": 5,\n  \"entries\": [\"festive\"]\n  \"destination\": \"x\"\n}")
        .send();
    res.expect(400, "invalid_json");
    let message = res.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 4 column 3"), "{message}");
    for body in [
        "",
        "   \n",
        "{\"priority\": 5,",
        "\u{0}\u{1}",
        "{\"a\":1,,}",
    ] {
        w.req("PUT", &path)
            .pat(ADMIN)
            .raw(body)
            .send()
            .expect(400, "invalid_json");
    }
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn shape_errors_are_400_invalid_body_at_their_json_path() {
    let w = World::new();
    let path = format!("{V2}/personalization-rules/shape-probe");
    let cases = [
        (
            json!({"priority": 5, "entries": ["festive"], "conditions": {"country": {"in": ["IN"], "bogus": 1}}}),
            "$.conditions.country.bogus",
            "bogus",
        ),
        (
            json!({"priority": 5, "entries": ["festive"], "destination": "https://www.gharart.com/", "colour": "red"}),
            "$.colour",
            "colour",
        ),
        (
            json!({"priority": "high", "entries": ["festive"]}),
            "$.priority",
            "",
        ),
        (
            json!({"priority": 5, "entries": "festive"}),
            "$.entries",
            "",
        ),
        (
            json!({"priority": 5, "entries": ["festive"], "conditions": {"asn": {"in": ["AS123"]}}}),
            "$.conditions.asn.in[0]",
            "",
        ),
        (
            json!({"priority": 5, "entries": ["festive"], "conditions": {"query": {"utm_source": {"in": [1]}}}}),
            "$.conditions.query.utm_source.in[0]",
            "",
        ),
        (json!(["not", "an", "object"]), "$", "object"),
    ];
    for (body, at, mentions) in cases {
        let res = w.req("PUT", &path).pat(ADMIN).json(body.clone()).send();
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
        assert!(
            res.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{}",
            res.text
        );
    }
    assert!(w.store.tables.borrow().documents.is_empty());
}

/// Regression (body.rs): serde takes a struct written as a JSON array, so
/// `["x.example"]` was accepted as a domain body.
#[test]
fn only_objects_are_bodies_on_every_route_that_parses_one() {
    let w = World::new();
    let cases = [
        (
            "POST",
            format!("{V2}/destination-domains"),
            json!(["array-body.gharart-partner.com"]),
        ),
        (
            "POST",
            format!("{V2}/destination-domains/www.gharart.com/decision"),
            json!(["approved", "why"]),
        ),
        (
            "POST",
            format!("{V2}/tracking-templates"),
            json!(["array-template", {"a": "b"}]),
        ),
        ("POST", format!("{V2}/preview-tokens"), json!([60])),
        ("POST", format!("{V2}/campaigns"), json!([{"name": "x"}])),
        (
            "POST",
            format!("{V2}/campaigns/diwali-hero-ab/site-tokens"),
            json!(60),
        ),
        (
            "POST",
            format!("{V2}/campaigns/diwali-hero-ab/test-conversion"),
            json!("control"),
        ),
        ("PUT", format!("{V2}/configuration"), json!(null)),
        (
            "PUT",
            format!("{V2}/site-structure/campaigns/diwali-hero-ab"),
            json!([]),
        ),
        ("POST", "/v2/support/report".to_owned(), json!(["x", "y"])),
    ];
    for (method, path, body) in cases {
        let res = w.req(method, &path).pat(ADMIN).json(body.clone()).send();
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), "$", "{method} {path} with {body}");
    }
    assert!(w.store.tables.borrow().documents.is_empty());
    assert!(w.store.tables.borrow().reports.is_empty());
}

#[test]
fn optional_bodies_may_be_empty_and_get_or_delete_bodies_are_ignored() {
    let w = World::new();
    let res = w
        .req("POST", &format!("{V2}/preview-tokens"))
        .pat(ADMIN)
        .raw("  ")
        .send();
    assert_eq!(
        res.ok(201)["expires_at"],
        w.now().timestamp() + 3600,
        "the default lifetime"
    );
    let res = w
        .req(
            "POST",
            &format!("{V2}/campaigns/diwali-hero-ab/site-tokens"),
        )
        .pat(ADMIN)
        .send();
    assert_eq!(res.ok(201)["expires_at"], w.now().timestamp() + 3600);
    // A body on a GET or DELETE is never read, even an oversized one.
    let big = vec![b'{'; 200 * 1024];
    let res = w
        .req("GET", &format!("{V2}/personalization-rules"))
        .pat(ADMIN)
        .raw(big.clone())
        .send();
    res.ok(200);
    let res = w
        .req("DELETE", &format!("{V2}/personalization-rules/in-tablet"))
        .pat(ADMIN)
        .raw(big)
        .send();
    assert_eq!(res.ok(200)["deleted"], "in-tablet");
}
