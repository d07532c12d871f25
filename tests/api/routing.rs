//! Routing: unknown paths, wrong methods, HEAD, trailing slashes, CORS and preflights
//! (public routes only), the OpenAPI document (served without a credential), and the
//! headers every answer carries.

use std::collections::BTreeSet;

use edge_router::api::routes::ROUTES;
use edge_router::api::service::is_cors_path;
use serde_json::json;

use crate::harness::*;

const CORS_HEADERS: [&str; 5] = [
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
];

#[test]
fn unknown_paths_are_404_route_not_found_even_without_a_token() {
    let w = World::new();
    for path in [
        "/v2",
        "/v2/",
        "/v2/nope",
        "/v2/handles/gharart/nope",
        "/v2/handles//destination-domains",
        "/v2/handles/gharart/destination-domains/a/b/c",
        "/V2/handles/gharart/destination-domains",
        "/v2/handles/gharart/campaigns/diwali-hero-ab/restart",
        "/v2/public/handles/gharart/site-structure/campaigns",
    ] {
        for token in [None, Some(pat(ADMIN))] {
            let mut req = w.req("GET", path);
            if let Some(token) = &token {
                req = req.bearer(token);
            }
            req.send().expect(404, "route_not_found");
        }
    }
}

#[test]
fn a_known_path_with_another_method_is_405_with_allow_and_nothing_happens() {
    let w = World::new();
    let cases = [
        ("PATCH", "/personalization-rules/in-mobile", "PUT, DELETE"),
        ("GET", "/personalization-rules/in-mobile", "PUT, DELETE"),
        ("POST", "/personalization-rules/in-mobile", "PUT, DELETE"),
        ("DELETE", "/destination-domains", "GET, POST"),
        ("GET", "/destination-domains/www.gharart.com/verify", "POST"),
        ("DELETE", "/tracking-templates", "GET, POST"),
        ("PUT", "/preview-tokens", "POST"),
        ("DELETE", "/configuration", "GET, PUT"),
        ("GET", "/campaigns/diwali-hero-ab/pause", "POST"),
    ];
    for (method, path, allow) in cases {
        let res = w
            .req(method, &format!("{V2}{path}"))
            .pat(ADMIN)
            .json(json!({}))
            .send();
        res.expect(405, "method_not_allowed");
        assert_eq!(res.header("Allow"), Some(allow), "{method} {path}");
        let allowed: Vec<&str> = allow.split(", ").collect();
        assert_eq!(res.json["error"]["details"]["allowed"], json!(allowed));
    }
    w.req("POST", "/v2/openapi.json")
        .send()
        .expect(405, "method_not_allowed");
    w.req("GET", "/v2/support/report")
        .send()
        .expect(405, "method_not_allowed");
    assert!(w.store.tables.borrow().documents.is_empty(), "no write");
    assert_eq!(w.published().0, 1);
}

#[test]
fn head_is_answered_as_get_and_never_writes() {
    let w = World::new();
    let cases = [
        ("/v2/openapi.json".to_owned(), None),
        (format!("{V2}/personalization-rules"), Some(READ_ONLY)),
        (format!("{V2}/personalization-rules"), None),
        (format!("{V2}/destination-domains"), Some("templates-read")),
        (format!("{V2}/nope"), Some(READ_ONLY)),
        (format!("{V2}/preview-tokens"), Some(ADMIN)),
        (format!("{V2}/campaigns/diwali-hero-ab"), Some(ADMIN)),
    ];
    let mut statuses = BTreeSet::new();
    for (path, token) in cases {
        let send = |method| {
            let mut req = w.req(method, &path);
            if let Some(token) = token {
                req = req.pat(token);
            }
            req.send()
        };
        let (get, head) = (send("GET"), send("HEAD"));
        let without_id = |res: &Res| -> Vec<(&str, String)> {
            res.headers
                .iter()
                .filter(|(n, _)| *n != "X-Request-Id")
                .map(|(n, v)| (*n, v.clone()))
                .collect()
        };
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert_eq!(without_id(&head), without_id(&get), "HEAD {path}");
        if get.status >= 400 {
            assert_eq!(head.code(), get.code());
        } else {
            assert_eq!(head.json, get.json, "HEAD {path}");
        }
        statuses.insert(get.status);
    }
    assert_eq!(statuses, BTreeSet::from([200, 401, 403, 404, 405]));
    // A path that only takes PUT and DELETE: 405, not a write.
    let res = w
        .req("HEAD", &format!("{V2}/personalization-rules/head-probe"))
        .pat(ADMIN)
        .send();
    res.expect(405, "method_not_allowed");
    assert_eq!(res.header("Allow"), Some("PUT, DELETE"));
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn a_trailing_slash_is_tolerated() {
    let w = World::new();
    let res = w.get(&format!("{V2}/destination-domains/"), &pat(READ_ONLY));
    assert_eq!(res.ok(200)["handle"], HANDLE);
    let res = w
        .req("PUT", &format!("{V2}/personalization-rules/slash-probe/"))
        .pat(ADMIN)
        .json(json!({"priority": 9, "entries": ["festive"], "destination": "https://www.gharart.com/slash"}))
        .send();
    assert_eq!(
        res.ok(201)["rule"]["id"],
        "slash-probe",
        "the id without the slash"
    );
}

#[test]
fn preflights_are_answered_on_the_public_routes_only() {
    let w = World::new();
    for path in [
        "/v2/public/conversions",
        "/v2/support/report",
        "/v2/public/handles/gharart/site-structure/campaigns/diwali-hero-ab",
        "/v2/public/handles/gharart/site-structure/campaigns/diwali-hero-ab/publish",
    ] {
        let res = w.req("OPTIONS", path).send();
        assert_eq!(res.status, 204, "{path}: {}", res.text);
        assert!(res.text.is_empty());
        assert_eq!(res.header("Access-Control-Allow-Origin"), Some("*"));
        let methods = res.header("Access-Control-Allow-Methods").unwrap();
        for m in ["GET", "POST", "PUT", "OPTIONS"] {
            assert!(methods.split(", ").any(|x| x == m), "{methods}");
        }
        let headers = res.header("Access-Control-Allow-Headers").unwrap();
        for h in ["Content-Type", "Authorization", "Idempotency-Key"] {
            assert!(headers.contains(h), "{headers}");
        }
        assert!(
            res.header("Access-Control-Max-Age")
                .unwrap()
                .parse::<u32>()
                .unwrap()
                > 0
        );
        assert_eq!(res.header("Access-Control-Allow-Credentials"), None);
    }
    for (path, allow) in [
        (format!("{V2}/campaigns"), "GET, POST"),
        (format!("{V2}/configuration"), "GET, PUT"),
        ("/v2/openapi.json".to_owned(), "GET"),
    ] {
        let res = w.req("OPTIONS", &path).send();
        res.expect(405, "method_not_allowed");
        assert_eq!(res.header("Allow"), Some(allow));
        for name in CORS_HEADERS {
            assert_eq!(res.header(name), None, "{name} on OPTIONS {path}");
        }
    }
}

#[test]
fn cors_headers_exactly_on_the_public_routes_whatever_the_answer() {
    let w = World::new();
    let mut public = 0;
    for route in ROUTES {
        let sample = sample(route);
        let cors = sample.path.starts_with("/v2/public/") || sample.path == "/v2/support/report";
        assert_eq!(is_cors_path(&sample.path), cors, "{}", route.pattern);
        for token in [None, Some(pat(ADMIN))] {
            let res = w.send_sample(route, token.map(|t| format!("Bearer {t}")).as_deref());
            if cors {
                assert_eq!(
                    res.header("Access-Control-Allow-Origin"),
                    Some("*"),
                    "{} {} ({})",
                    route.method,
                    route.pattern,
                    res.status
                );
                let exposed = res.header("Access-Control-Expose-Headers").unwrap();
                for h in ["X-Request-Id", "Retry-After", "Idempotent-Replayed"] {
                    assert!(exposed.contains(h), "{exposed}");
                }
            } else {
                for name in CORS_HEADERS {
                    assert_eq!(
                        res.header(name),
                        None,
                        "{name} on {} {} ({})",
                        route.method,
                        route.pattern,
                        res.status
                    );
                }
            }
            // Every answer: JSON, never cached, never sniffed.
            assert_eq!(
                res.header("Content-Type"),
                Some("application/json; charset=utf-8")
            );
            assert_eq!(res.header("Cache-Control"), Some("private, no-store"));
            assert_eq!(res.header("X-Content-Type-Options"), Some("nosniff"));
        }
        public += usize::from(cors);
    }
    assert_eq!(public, 6, "four page routes, conversions and reports");
}

#[test]
fn the_openapi_document_is_served_without_a_credential_and_lists_every_route() {
    let w = World::with(|s| s.auth_failures_per_minute = 0);
    let plain = w.req("GET", "/v2/openapi.json").send();
    let doc = plain.ok(200).clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    // Any credential, even a broken one, is ignored (and not counted as a failure).
    for header in ["Bearer not-a-token", "Basic x", "Bearer gr_pat_short"] {
        let res = w
            .req("GET", "/v2/openapi.json")
            .authorization(header)
            .send();
        assert_eq!(res.ok(200), &doc);
    }
    let served: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "put", "post", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.pattern.to_owned()))
        .collect();
    assert_eq!(served, routed);
}

#[test]
fn x_snapshot_version_names_the_version_of_the_answer() {
    let w = World::new();
    let rules = format!("{V2}/personalization-rules");
    let res = w.get(&rules, &pat(ADMIN));
    assert_eq!(
        (res.header("X-Snapshot-Version"), &res.json["version"]),
        (Some("1"), &json!(1))
    );
    let put = w
        .req("PUT", &format!("{rules}/version-probe"))
        .pat(ADMIN)
        .json(json!({"priority": 9, "entries": ["festive"], "destination": "https://www.gharart.com/v"}))
        .send();
    assert_eq!(put.header("X-Snapshot-Version"), Some("2"));
    assert_eq!(
        w.get(&rules, &pat(ADMIN)).header("X-Snapshot-Version"),
        Some("2")
    );
    // Errors and answers without a version carry none.
    let err = w.get(&format!("{V2}/campaigns/nope"), &pat(ADMIN));
    err.expect(404, "campaign_not_found");
    assert_eq!(err.header("X-Snapshot-Version"), None);
    let token = w
        .req("POST", &format!("{V2}/preview-tokens"))
        .pat(ADMIN)
        .send();
    assert_eq!(
        (token.status, token.header("X-Snapshot-Version")),
        (201, None)
    );
}
