//! The whole configuration (`GET/PUT .../configuration`, what `router push` sends), the
//! route preview matrix, the rule audit and preview tokens.

use edge_router::visit::tokens::{self, CtxClaims, PreviewClaims, TokenKind};
use serde_json::{json, Value};

use crate::harness::*;

fn put_configuration(w: &World, body: Value) -> Res {
    w.req("PUT", &format!("{V2}/configuration"))
        .pat(ADMIN)
        .json(body)
        .send()
}

#[test]
fn get_configuration_is_the_rule_files_with_their_warnings() {
    let w = World::new();
    let res = w.get(&format!("{V2}/configuration"), &pat(ADMIN));
    let out = res.ok(200);
    assert_eq!(out["version"], 1);
    assert_eq!(
        out["configuration"],
        serde_json::to_value(gharart()).unwrap()
    );
    let warnings = out["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().all(|d| d["severity"] == "warning"),
        "{warnings:?}"
    );
    let unroutable: Vec<&str> = warnings
        .iter()
        .filter(|d| {
            d["code"] == "unroutable_destination"
                && d["path"].as_str().unwrap().starts_with("rules[")
        })
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    for id in [
        "in-deals-pending",
        "us-gifts",
        "gulf-sale-shop",
        "eu-festive-net",
    ] {
        assert!(unroutable.contains(&id), "{id} in {unroutable:?}");
    }
}

#[test]
fn put_configuration_replaces_the_whole_document_and_publishes_it() {
    let w = World::new();
    let mut config = gharart();
    config.rules.retain(|r| r.id != "in-mobile");
    config.fallback = Some("https://www.gharart.com/pushed".into());
    let res = put_configuration(&w, serde_json::to_value(&config).unwrap());
    let out = res.ok(200);
    assert_eq!(out["version"], 2);
    assert!(out["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["severity"] == "warning"));
    assert_eq!(w.stored_config(), config);
    assert_eq!(w.published(), (2, config.clone()));
    let read = w.get(&format!("{V2}/configuration"), &pat(ADMIN));
    assert_eq!(
        read.json["configuration"],
        serde_json::to_value(&config).unwrap()
    );
}

#[test]
fn put_configuration_refuses_another_handle_a_bad_shape_and_a_config_that_does_not_compile() {
    let w = World::new();
    let mut other = serde_json::to_value(gharart()).unwrap();
    other["handle"] = json!("other-shop");
    let res = put_configuration(&w, other);
    res.expect(400, "invalid_body");
    assert_eq!(res.path(), "$.handle");
    let res = put_configuration(&w, json!({"handle": HANDLE, "entries": "nope"}));
    res.expect(400, "invalid_body");
    assert_eq!(res.path(), "$.entries");
    let mut broken = serde_json::to_value(gharart()).unwrap();
    broken["rules"][0]["conditions"]["device"] = json!({"in": ["phone"]});
    let unused = json!({"id": "unused", "params": {"gh_x": "{nope}"}});
    broken["templates"].as_array_mut().unwrap().push(unused);
    let res = put_configuration(&w, broken);
    res.expect(VALIDATION_STATUS, "validation_failed");
    let mut errors = res.errors();
    errors.sort();
    assert_eq!(
        errors,
        pairs(&[
            ("invalid_device", "$.rules[0].conditions.device.in[0]"),
            ("invalid_placeholder", "$.templates[3].params.gh_x"),
        ])
    );
    assert!(w.store.tables.borrow().documents.is_empty());
    assert_eq!(w.published(), (1, gharart()));
}

fn preview(w: &World, query: &str) -> Res {
    w.get(&format!("{V2}/route-preview?{query}"), &pat("preview"))
}

#[test]
fn the_route_preview_names_each_cells_rule_and_location() {
    let w = World::new();
    let res = preview(
        &w,
        "entry=festive&countries=IN,AE,unknown&devices=desktop,mobile",
    );
    let out = res.ok(200);
    assert_eq!(out["entry"], "festive");
    assert_eq!(out["countries"], json!(["IN", "AE", null]));
    assert_eq!(out["devices"], json!(["desktop", "mobile"]));
    assert_eq!(out["version"], 1);
    assert_eq!(out["at"], "2026-11-22T10:00:15Z", "now by default");
    let cells = out["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6);
    let cell = |country: Value, device: &str| {
        cells
            .iter()
            .find(|c| c["country"] == country && c["device"] == device)
            .unwrap()
            .clone()
    };
    // (country, device) -> winning rule and its destination, read off rules.json:
    // in-deals-pending (45) is unroutable, gulf-sale-shop (45) rejected, the Arabic rules
    // need a language, the Eid teaser a query parameter.
    let expected = [
        (
            json!("IN"),
            "mobile",
            "in-mobile",
            "https://m.gharart.in/festive",
        ),
        (json!("IN"), "desktop", "in-desktop-diwali-ab", ""),
        (
            json!("AE"),
            "mobile",
            "gulf-mobile",
            "https://ae.gharart.com/m/festive",
        ),
        (
            json!("AE"),
            "desktop",
            "gulf",
            "https://ae.gharart.com/festive",
        ),
        (
            Value::Null,
            "desktop",
            "rest-of-world",
            "https://www.gharart.com/festive/world",
        ),
        (
            Value::Null,
            "mobile",
            "rest-of-world",
            "https://www.gharart.com/festive/world",
        ),
    ];
    for (country, device, rule, destination) in expected {
        let c = cell(country.clone(), device);
        assert_eq!(c["rule"], rule, "{country} {device}: {c}");
        if !destination.is_empty() {
            assert_eq!(c["destination"], destination, "{country} {device}");
            assert!(
                c["location"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{destination}?")),
                "{c}"
            );
        }
    }
    let ab = cell(json!("IN"), "desktop");
    assert_eq!(ab["campaign"]["id"], "diwali-hero-ab");
    let legend = out["legend"].as_array().unwrap();
    let total: u64 = legend.iter().map(|l| l["cells"].as_u64().unwrap()).sum();
    assert_eq!(total, 6);
    for c in cells {
        assert!(legend.get(c["legend"].as_u64().unwrap() as usize).is_some());
    }
}

#[test]
fn the_route_preview_decides_at_a_given_time_and_has_defaults() {
    let w = World::new();
    let res = preview(
        &w,
        "entry=festive&countries=IN&devices=mobile&at=2026-11-06T12:00:00%2B05:30",
    );
    let out = res.ok(200);
    assert_eq!(
        out["cells"][0]["rule"], "dhanteras-flash",
        "the Dhanteras window"
    );
    let res = preview(&w, "entry=festive");
    let out = res.ok(200);
    let countries = out["countries"].as_array().unwrap();
    assert_eq!(
        countries.last(),
        Some(&Value::Null),
        "unknown is always a column"
    );
    for c in ["IN", "AE", "GB", "US"] {
        assert!(
            countries.contains(&json!(c)),
            "{c} from the rules: {countries:?}"
        );
    }
    for d in ["desktop", "mobile", "tablet"] {
        assert!(out["devices"].as_array().unwrap().contains(&json!(d)));
    }
}

#[test]
fn route_preview_parameters_are_checked() {
    let w = World::new();
    for (query, name) in [
        ("entry=festive&at=yesterday", "at"),
        ("entry=festive&devices=phone", "devices"),
        ("countries=IN", "entry"),
        ("entry=", "entry"),
        ("entry=festive&countries=IN,India", "countries"),
    ] {
        let res = preview(&w, query);
        res.expect(400, "invalid_parameter");
        let message = res.json["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{name}:")),
            "{query}: {message}"
        );
    }
    preview(&w, "entry=no-such-entry").expect(404, "entry_not_found");
}

#[test]
fn the_rule_audit_reports_collisions_and_unroutable_destinations() {
    let w = World::new();
    let res = w.get(&format!("{V2}/rule-audit"), &pat("rules-read"));
    let out = res.ok(200);
    assert_eq!(
        (&out["handle"], &out["version"]),
        (&json!(HANDLE), &json!(1))
    );
    let collisions = out["priority_collisions"].as_array().unwrap();
    let arabic = collisions
        .iter()
        .find(|c| c["rules"] == json!(["ae-arabic", "gulf-arabic"]))
        .unwrap_or_else(|| panic!("{collisions:?}"));
    assert_eq!(
        (&arabic["priority"], &arabic["wins"]),
        (&json!(30), &json!("ae-arabic"))
    );
    let unroutable = out["unroutable"].as_array().unwrap();
    let reason = |rule: &str| {
        unroutable
            .iter()
            .find(|u| {
                u["rules"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(rule)))
            })
            .map(|u| u["reason"]["code"].clone())
    };
    assert_eq!(reason("in-deals-pending"), Some(json!("unverified")));
    assert_eq!(reason("us-gifts"), Some(json!("unverified")));
    assert_eq!(reason("gulf-sale-shop"), Some(json!("rejected")));
    assert_eq!(reason("eu-festive-net"), Some(json!("risk_too_high")));
    assert_eq!(reason("in-mobile"), None);
    assert!(unroutable
        .iter()
        .any(|u| u["kind"] == "entry_default" && u["entries"] == json!(["partner-offers"])));
    assert_eq!(out["summary"]["unroutable"], unroutable.len());
    assert_eq!(out["summary"]["priority_collisions"], collisions.len());
}

#[test]
fn preview_tokens_are_minted_for_the_handle_and_the_caller() {
    let w = World::new();
    let now = w.now().timestamp();
    let path = format!("{V2}/preview-tokens");
    for (body, ttl) in [
        (Some(json!({"ttl_seconds": 120})), 120),
        (None, 3600),
        (Some(json!({"ttl_seconds": 86_400})), 86_400),
    ] {
        let mut req = w.req("POST", &path).pat("preview");
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send();
        let out = res.ok(201).clone();
        assert_eq!(
            (&out["handle"], &out["expires_at"]),
            (&json!(HANDLE), &json!(now + ttl))
        );
        let token = out["token"].as_str().unwrap();
        let signed =
            tokens::verify::<PreviewClaims>(TokenKind::Preview, TOKEN_SECRET, token, now).unwrap();
        assert_eq!(signed.claims.handle, HANDLE);
        assert_eq!(signed.claims.sub.as_deref(), Some("preview@gharart.com"));
        assert_eq!(signed.exp - signed.iat, ttl);
        assert!(
            tokens::verify::<CtxClaims>(TokenKind::Ctx, TOKEN_SECRET, token, now).is_err(),
            "not a ctx token"
        );
        assert!(out["usage"].as_str().unwrap().contains("__preview=<token>"));
    }
    for (body, at) in [
        (json!({"ttl_seconds": 0}), "$.ttl_seconds"),
        (json!({"ttl_seconds": 86_401}), "$.ttl_seconds"),
        (json!({"ttl_seconds": "soon"}), "$.ttl_seconds"),
        (json!({"handle": "other-shop"}), "$.handle"),
    ] {
        let res = w
            .req("POST", &path)
            .pat("preview")
            .json(body.clone())
            .send();
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
    }
    // Minting changes nothing stored.
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn without_a_token_secret_previews_are_503_previews_disabled() {
    let w = World::with(|s| s.token_secret = None);
    let res = w
        .req("POST", &format!("{V2}/preview-tokens"))
        .pat(ADMIN)
        .send();
    res.expect(503, "previews_disabled");
}
