//! Throttles: reads and writes per caller, route and minute; the daily write limit per
//! handle; the per-address limit of the public routes; failed credentials per address.
//! The clock starts 15 s into a minute (`harness::start`), so a per-minute `Retry-After`
//! is 45 and the daily one is the seconds to UTC midnight.

use serde_json::json;

use crate::harness::*;

/// Seconds from the start of the world to the next UTC midnight (10:00:15 → 24:00:00).
const TO_MIDNIGHT: i64 = 86_400 - (10 * 3600 + 15);

fn rule(id: &str) -> serde_json::Value {
    json!({"priority": 7, "entries": ["festive"], "conditions": {"query": {"probe": {"in": [id]}}}, "destination": format!("https://www.gharart.com/festive/{id}")})
}

#[track_caller]
fn retry_after(res: &Res) -> i64 {
    res.header("Retry-After").unwrap().parse().unwrap()
}

#[test]
fn the_reads_over_the_limit_of_a_caller_and_route_are_429_until_the_next_minute() {
    let w = World::with(|s| s.reads_per_minute = 2);
    let reader = w.jwt("reader", &["domains:read", "rules:read"]);
    let domains = format!("{V2}/destination-domains");
    for _ in 0..2 {
        w.get(&domains, &reader).ok(200);
    }
    let limited = w.get(&domains, &reader);
    limited.expect(429, "rate_limited");
    assert_eq!(retry_after(&limited), 45);
    assert_eq!(
        limited.json["error"]["message"],
        "too many requests; retry after 45 s"
    );
    // Another route of the caller, and the route for another caller, are not limited.
    w.get(&format!("{V2}/personalization-rules"), &reader)
        .ok(200);
    w.get(&domains, &w.jwt("another-reader", &["domains:read"]))
        .ok(200);
    w.advance(44);
    assert_eq!(retry_after(&w.get(&domains, &reader)), 1);
    w.advance(1);
    w.get(&domains, &reader).ok(200);
}

#[test]
fn the_writes_over_the_limit_are_429_and_write_nothing() {
    let w = World::with(|s| s.writes_per_minute = 2);
    let writer = w.jwt("writer", &["rules:write"]);
    let put = |token: &str, id: &str| {
        w.req("PUT", &format!("{V2}/personalization-rules/{id}"))
            .bearer(token)
            .json(rule(id))
            .send()
    };
    put(&writer, "w-1").ok(201);
    put(&writer, "w-2").ok(201);
    let limited = put(&writer, "w-3");
    limited.expect(429, "rate_limited");
    assert_eq!(retry_after(&limited), 45);
    assert_eq!(w.published().0, 3);
    assert!(!w.stored_config().rules.iter().any(|r| r.id == "w-3"));
    put(&w.jwt("writer-2", &["rules:write"]), "w-3").ok(201);
}

#[test]
fn the_daily_write_limit_refuses_every_write_of_the_handle_until_utc_midnight() {
    let w = World::with(|s| s.daily_write_limit = 3);
    for (i, domain) in ["d1", "d2", "d3"].iter().enumerate() {
        // Each from its own caller: the per-minute throttle never bites.
        let token = w.jwt(&format!("writer-{i}"), &["domains:write"]);
        w.req("POST", &format!("{V2}/destination-domains"))
            .bearer(&token)
            .json(json!({"domain": format!("{domain}.gharart-partner.com")}))
            .send()
            .ok(201);
    }
    let fresh = w.jwt("fresh", &["admin"]);
    let limited = w
        .req("PUT", &format!("{V2}/personalization-rules/one-too-many"))
        .bearer(&fresh)
        .json(rule("one-too-many"))
        .send();
    limited.expect(429, "daily_write_limit");
    assert_eq!(retry_after(&limited), TO_MIDNIGHT);
    w.req("POST", &format!("{V2}/tracking-templates"))
        .pat(ADMIN)
        .json(json!({"id": "t", "params": {}}))
        .send()
        .expect(429, "daily_write_limit");
    // Reads still work, and minting a preview token is not a write.
    w.get(&format!("{V2}/tracking-templates"), &fresh).ok(200);
    w.req("POST", &format!("{V2}/preview-tokens"))
        .bearer(&fresh)
        .send()
        .ok(201);
    assert_eq!(w.published().0, 4);
    // The next UTC day starts a new count.
    w.advance(TO_MIDNIGHT);
    w.req("PUT", &format!("{V2}/personalization-rules/one-too-many"))
        .pat(ADMIN)
        .json(rule("one-too-many"))
        .send()
        .ok(201);
}

/// Issue 10: site-token writes have a daily budget of their own, so a site token (a
/// public client's credential) cannot exhaust the management API's.
#[test]
fn site_token_writes_count_against_a_daily_budget_of_their_own() {
    let w = World::with(|s| s.daily_write_limit = 1);
    let site = w.site_token(TOKEN_SECRET, HANDLE, "diwali-hero-ab", 600);
    let put_page = |title: &str| {
        w.req(
            "PUT",
            "/v2/public/handles/gharart/site-structure/campaigns/diwali-hero-ab",
        )
        .bearer(&site)
        .json(json!({"access_level": "PUBLIC", "document": page_doc(title)}))
        .send()
    };
    put_page("Diwali").ok(200);
    put_page("Diwali 2").expect(429, "daily_write_limit");
    // The management budget is untouched.
    w.req("POST", &format!("{V2}/destination-domains"))
        .pat(ADMIN)
        .json(json!({"domain": "x.gharart-partner.com"}))
        .send()
        .ok(201);
    w.req("POST", &format!("{V2}/destination-domains"))
        .pat(ADMIN)
        .json(json!({"domain": "y.gharart-partner.com"}))
        .send()
        .expect(429, "daily_write_limit");
}

/// Issue 10: a refused write costs nothing, and stopping traffic (pause, cancel, reject)
/// stays possible when the budget is spent.
#[test]
fn only_writes_that_happen_count_and_stopping_traffic_is_never_limited() {
    let w = World::with(|s| s.daily_write_limit = 1);
    let add = |name: &str| {
        w.req("POST", &format!("{V2}/destination-domains"))
            .pat(ADMIN)
            .json(json!({"domain": name}))
            .send()
    };
    for _ in 0..3 {
        add("not a domain").expect(VALIDATION_STATUS, "validation_failed");
    }
    add("ok.gharart-partner.com").ok(201);
    add("more.gharart-partner.com").expect(429, "daily_write_limit");
    let campaign = |action: &str| {
        w.req("POST", &format!("{V2}/campaigns/diwali-hero-ab/{action}"))
            .pat(ADMIN)
            .send()
    };
    campaign("pause").ok(200);
    campaign("resume").expect(429, "daily_write_limit");
    campaign("cancel").ok(200);
    let decide = |decision: &str| {
        w.req(
            "POST",
            &format!("{V2}/destination-domains/www.gharart.com/decision"),
        )
        .pat(ADMIN)
        .json(json!({"decision": decision, "reason": "checked"}))
        .send()
    };
    decide("rejected").ok(200);
    decide("approved").expect(429, "daily_write_limit");
}

#[test]
fn public_routes_are_limited_per_client_address() {
    let w = World::with(|s| s.public_per_minute = 2);
    let report = |client: &str| {
        w.req("POST", "/v2/support/report")
            .client(client)
            .json(json!({"summary": "Blank page", "details": "Nothing loads."}))
            .send()
    };
    report("a").ok(201);
    report("a").ok(201);
    let limited = report("a");
    limited.expect(429, "rate_limited");
    assert_eq!(retry_after(&limited), 45);
    assert_eq!(
        limited.header("Access-Control-Allow-Origin"),
        Some("*"),
        "CORS on a refusal too"
    );
    report("b").ok(201);
    assert_eq!(w.store.tables.borrow().reports.len(), 3);
    // Another public route has a count of its own.
    let page = "/v2/public/handles/gharart/site-structure/campaigns/diwali-hero-ab";
    for _ in 0..2 {
        w.req("GET", page)
            .client("a")
            .send()
            .expect(404, "page_not_found");
    }
    w.req("GET", page)
        .client("a")
        .send()
        .expect(429, "rate_limited");
}

/// Regression (api-limits.test.mjs): support reports used up the daily write budget, so a
/// visitor's conversion could be refused; public writes are bounded per address instead.
#[test]
fn public_writes_do_not_use_the_daily_write_limit() {
    let w = World::with(|s| s.daily_write_limit = 2);
    for i in 0..3 {
        w.req("POST", "/v2/support/report")
            .client(&format!("reporter-{i}"))
            .json(json!({"summary": format!("report {i}"), "details": "filling the budget"}))
            .send()
            .ok(201);
    }
    let ctx = w.ctx(
        "diwali-hero-ab",
        "control",
        "c0ffee00c0ffee00c0ffee00c0ffee00",
    );
    w.req("POST", "/v2/public/conversions")
        .key("daily-conversion")
        .json(json!({"ctx": ctx, "event": "purchase"}))
        .send()
        .ok(201);
    w.req("POST", &format!("{V2}/destination-domains"))
        .pat(ADMIN)
        .json(json!({"domain": "still-room.gharart-partner.com"}))
        .send()
        .ok(201);
}

#[test]
fn failed_credentials_past_the_limit_are_429_for_that_address_only() {
    let w = World::with(|s| s.auth_failures_per_minute = 3);
    let path = format!("{V2}/personalization-rules");
    let bad = |client: &str| {
        w.req("GET", &path)
            .authorization("Bearer not-a-token")
            .client(client)
            .send()
    };
    // A 403 comes from a valid credential: not counted.
    for _ in 0..3 {
        w.req("GET", &path)
            .pat("preview")
            .client("a")
            .send()
            .expect(403, "insufficient_scope");
    }
    for _ in 0..3 {
        bad("a").expect(401, "invalid_token");
    }
    // Issue 10: once over, the address is refused before any credential is looked at.
    let limited = bad("a");
    limited.expect(429, "rate_limited");
    assert_eq!(retry_after(&limited), 45);
    assert_eq!(limited.header("WWW-Authenticate"), None);
    w.req("GET", &path)
        .client("a")
        .send()
        .expect(429, "rate_limited");
    // Even a valid credential waits out the minute: the budget is read before any
    // credential, so guessing cannot go on behind a good token.
    w.req("GET", &path)
        .pat(READ_ONLY)
        .client("a")
        .send()
        .expect(429, "rate_limited");
    w.req("GET", &path)
        .pat(READ_ONLY)
        .client("b")
        .send()
        .ok(200);
    bad("b").expect(401, "invalid_token");
    w.advance(45);
    bad("a").expect(401, "invalid_token");
}
