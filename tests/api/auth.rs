//! Authentication and authorisation over the whole route table: every management route
//! of `ROUTES` (path parameters filled with ids that exist) with no credential, broken,
//! unknown, revoked and expired ones, another handle's, one lacking the route's scope,
//! exactly the route's scope, and admin.

use edge_router::api::auth::Scope;
use edge_router::api::routes::{Route, ROUTES};
use serde_json::json;

use crate::harness::*;

fn management() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|r| r.scope.is_some())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Nothing was written: no stored document, snapshot version 1.
#[track_caller]
fn untouched(w: &World) {
    assert!(w.store.tables.borrow().documents.is_empty());
    assert_eq!(w.published().0, 1);
}

#[test]
fn no_credential_is_401_missing_token_on_every_management_route() {
    let w = World::with(|s| s.auth_failures_per_minute = 10_000);
    let mut checked = 0;
    for route in management() {
        for header in [None, Some(""), Some("   ")] {
            let res = w.send_sample(route, header);
            res.expect(401, "missing_token");
            assert!(
                res.json["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Bearer"),
                "{}",
                res.text
            );
            checked += 1;
        }
    }
    let routes = management().count();
    assert!(routes > 20, "{routes} management routes");
    assert_eq!(checked, 3 * routes);
    untouched(&w);
}

#[test]
fn malformed_unknown_and_revoked_credentials_are_401_invalid_token() {
    let w = World::with(|s| s.auth_failures_per_minute = 10_000);
    let cases = [
        ("another scheme", "Basic YWRtaW46YWRtaW4=".to_owned()),
        ("the scheme alone", "Bearer".to_owned()),
        ("neither a PAT nor a JWT", bearer("not-a-token")),
        ("a PAT too short to be one", bearer("gr_pat_short")),
        (
            "a PAT with a character outside base64url",
            bearer(&format!("gr_pat_{}+", "a".repeat(40))),
        ),
        ("an unknown PAT", bearer(&pat("nobody"))),
        ("a revoked PAT", bearer(&pat(REVOKED))),
        (
            "the admin PAT with its last character changed",
            bearer(&format!("{}x", &pat(ADMIN)[..46])),
        ),
        ("a JWT-shaped string", bearer("a.b.c")),
    ];
    for route in management() {
        for (what, header) in &cases {
            let res = w.send_sample(route, Some(header));
            assert_eq!(
                (res.status, res.code()),
                (401, "invalid_token"),
                "{what} on {} {}: {}",
                route.method,
                route.pattern,
                res.text
            );
            assert_eq!(res.header("WWW-Authenticate"), Some("Bearer"), "{what}");
        }
    }
    untouched(&w);
}

#[test]
fn expired_pats_and_jwts_are_401_token_expired() {
    let w = World::with(|s| s.auth_failures_per_minute = 10_000);
    let now = w.now().timestamp();
    let stale_jwt =
        w.jwt_claims(json!({"sub": "a", "handle": HANDLE, "scopes": ["admin"], "exp": now - 3600}));
    for route in management() {
        for token in [pat(EXPIRED), stale_jwt.clone()] {
            w.send_sample(route, Some(&bearer(&token)))
                .expect(401, "token_expired");
        }
    }
    untouched(&w);
}

#[test]
fn forged_and_foreign_jwts_are_401_invalid_token() {
    let w = World::with(|s| s.auth_failures_per_minute = 10_000);
    let exp = w.now().timestamp() + 600;
    let admin = json!({"sub": "mallory", "handle": HANDLE, "scopes": ["admin"], "exp": exp});
    let good = w.jwt("reader", &["rules:read"]);
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let elevated = b64(admin.to_string().as_bytes());
    let payload = b64(admin.to_string().as_bytes());
    let signed_as = |alg: &str| {
        // A correct HS256 MAC over a header naming another algorithm.
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        let input = format!("{header}.{payload}");
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(JWT_SECRET).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    };
    let cases = [
        (
            "signed with another secret",
            edge_router::api::auth::sign_jwt(&admin, b"another-secret"),
        ),
        (
            "the payload swapped for admin",
            format!("{head}.{elevated}.{sig}"),
        ),
        (
            "alg none, no signature",
            format!("{}.{payload}.", b64(br#"{"alg":"none"}"#)),
        ),
        ("alg HS512 in its header", signed_as("HS512")),
        ("alg none with a valid HS256 MAC", signed_as("none")),
        (
            "no exp",
            w.jwt_claims(json!({"sub": "a", "handle": HANDLE, "scopes": ["admin"]})),
        ),
        (
            "an empty sub",
            w.jwt_claims(json!({"sub": "", "handle": HANDLE, "scopes": ["admin"], "exp": exp})),
        ),
        ("a garbage signature", format!("{head}.{payload}.AAAA")),
    ];
    for (what, token) in &cases {
        for route in management() {
            let res = w.send_sample(route, Some(&bearer(token)));
            assert_eq!(
                (res.status, res.code()),
                (401, "invalid_token"),
                "{what} on {} {}: {}",
                route.method,
                route.pattern,
                res.text
            );
        }
    }
    untouched(&w);
}

#[test]
fn jwt_clock_skew_is_bounded_to_60_seconds() {
    let w = World::new();
    let now = w.now().timestamp();
    let path = format!("{V2}/destination-domains");
    let claims = |extra: serde_json::Value| {
        let mut c =
            json!({"sub": "skew", "handle": HANDLE, "scopes": ["domains:read"], "exp": now + 600});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        w.jwt_claims(c)
    };
    let cases = [
        (json!({"exp": now - 30}), 200, ""),
        (json!({"exp": now - 59}), 200, ""),
        (json!({"exp": now - 60}), 401, "token_expired"),
        (json!({"exp": now - 90}), 401, "token_expired"),
        (json!({"nbf": now + 20}), 200, ""),
        (json!({"nbf": now + 61}), 401, "invalid_token"),
        (json!({"iat": now + 600}), 401, "invalid_token"),
        (json!({"iat": now - 600, "nbf": now - 600}), 200, ""),
    ];
    for (extra, status, code) in cases {
        let res = w.get(&path, &claims(extra.clone()));
        assert_eq!(
            (res.status, res.code()),
            (status, code),
            "{extra}: {}",
            res.text
        );
    }
}

#[test]
fn another_handles_credential_is_403_wrong_handle_on_every_management_route() {
    let w = World::new();
    let other_jwt = w.jwt_claims(json!({
        "sub": "other", "handle": "other-shop", "scopes": ["admin"], "exp": w.now().timestamp() + 600,
    }));
    for route in management() {
        for token in [pat(OTHER_HANDLE), other_jwt.clone()] {
            let res = w.send_sample(route, Some(&bearer(&token)));
            res.expect(403, "wrong_handle");
            assert_eq!(
                res.header("WWW-Authenticate"),
                None,
                "a 403 asks for no other token"
            );
        }
    }
    untouched(&w);
}

#[test]
fn every_scope_but_the_routes_is_403_insufficient_scope_naming_it() {
    let w = World::new();
    for route in management() {
        let needed = route.scope.unwrap();
        let others: Vec<&str> = Scope::ALL
            .iter()
            .filter(|s| **s != needed && **s != Scope::Admin)
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            others.len(),
            Scope::ALL.len() - if needed == Scope::Admin { 1 } else { 2 }
        );
        let res = w.send_sample(route, Some(&bearer(&w.jwt("many-scopes", &others))));
        res.expect(403, "insufficient_scope");
        let message = res.json["error"]["message"].as_str().unwrap();
        assert!(
            message.ends_with(needed.as_str()),
            "{} {}: {message}",
            route.method,
            route.pattern
        );
    }
    untouched(&w);
}

#[test]
fn exactly_the_routes_scope_passes_auth_and_reaches_the_handler() {
    for route in management() {
        let scope = route.scope.unwrap();
        let expected = sample(route);
        let jwt = World::new().jwt("exact", &[scope.as_str()]);
        for token in [scope_pat(scope), jwt] {
            // A world per request: the sample writes.
            let w = World::new();
            let res = w.send_sample(route, Some(&bearer(&token)));
            assert_eq!(
                (res.status, res.code()),
                (expected.status, expected.code),
                "{} {} with exactly {}: {}",
                route.method,
                route.pattern,
                scope.as_str(),
                res.text
            );
        }
    }
}

#[test]
fn admin_implies_every_scope() {
    for route in management() {
        let expected = sample(route);
        let jwt = World::new().jwt_claims(json!({
            "sub": "root", "handle": HANDLE, "scopes": "admin", "exp": crate::harness::start().timestamp() + 600,
        }));
        for token in [pat(ADMIN), jwt] {
            let w = World::new();
            let res = w.send_sample(route, Some(&bearer(&token)));
            assert_eq!(
                (res.status, res.code()),
                (expected.status, expected.code),
                "{} {} as admin: {}",
                route.method,
                route.pattern,
                res.text
            );
        }
    }
}

#[test]
fn scope_names_are_matched_exactly() {
    let w = World::new();
    let path = format!("{V2}/personalization-rules");
    for scopes in [
        &["rules:READ"][..],
        &["rules"],
        &["rules:*"],
        &["rules:write"],
        &[],
    ] {
        w.get(&path, &w.jwt("picky", scopes))
            .expect(403, "insufficient_scope");
    }
    // Space-separated in one string, with unknown names ignored.
    let spaced = w.jwt_claims(json!({
        "sub": "spaced", "handle": HANDLE, "scopes": "bogus rules:read", "exp": w.now().timestamp() + 600,
    }));
    w.get(&path, &spaced).ok(200);
}

#[test]
fn the_read_only_pat_reads_what_it_is_scoped_for_and_nothing_else() {
    let w = World::new();
    let token = pat(READ_ONLY);
    for path in [
        "/personalization-rules",
        "/destination-domains",
        "/tracking-templates",
        "/rule-audit",
    ] {
        w.get(&format!("{V2}{path}"), &token).ok(200);
    }
    for path in [
        "/campaigns",
        "/configuration",
        "/route-preview?entry=festive",
    ] {
        w.get(&format!("{V2}{path}"), &token)
            .expect(403, "insufficient_scope");
    }
    w.req("POST", &format!("{V2}/tracking-templates"))
        .bearer(&token)
        .json(json!({"id": "x", "params": {}}))
        .send()
        .expect(403, "insufficient_scope");
    w.req("POST", &format!("{V2}/preview-tokens"))
        .bearer(&token)
        .send()
        .expect(403, "insufficient_scope");
    untouched(&w);
}

#[test]
fn a_token_for_a_handle_without_configuration_passes_auth_and_gets_404_handle_not_found() {
    let w = World::new();
    let token = pat(OTHER_HANDLE);
    for path in [
        "/destination-domains",
        "/personalization-rules",
        "/campaigns",
        "/configuration",
    ] {
        w.get(&format!("/v2/handles/other-shop{path}"), &token)
            .expect(404, "handle_not_found");
    }
    w.req("POST", "/v2/handles/other-shop/destination-domains")
        .bearer(&token)
        .json(json!({"domain": "x.example"}))
        .send()
        .expect(404, "handle_not_found");
    let tables = w.store.tables.borrow();
    assert!(!tables.documents.contains_key("other-shop"));
    assert!(!tables.published.contains_key("other-shop"));
}

#[test]
fn without_a_jwt_secret_jwts_are_refused_and_pats_still_work() {
    let w = World::with(|s| s.jwt_secret = None);
    let path = format!("{V2}/personalization-rules");
    w.get(&path, &w.jwt("someone", &["admin"]))
        .expect(401, "invalid_token");
    w.get(&path, &pat(ADMIN)).ok(200);
}

#[test]
fn a_pat_is_valid_until_the_second_it_expires() {
    let w = World::new();
    // The per-scope PATs expire a day after the world starts.
    let path = format!("{V2}/personalization-rules");
    w.advance(86_399);
    w.get(&path, &scope_pat(Scope::RulesRead)).ok(200);
    w.advance(1);
    w.get(&path, &scope_pat(Scope::RulesRead))
        .expect(401, "token_expired");
    w.get(&path, &pat(ADMIN)).ok(200);
}
