//! `GET .../whoami`: any management credential for the handle learns its subject and
//! scopes (PATs are opaque; the console shows what a token may not do from this), and
//! nothing else gets in.

use edge_router::api::auth::Scope;
use serde_json::json;

use crate::harness::*;

const WHOAMI: &str = "/v2/handles/gharart/whoami";

#[test]
fn a_pat_of_any_single_scope_reads_its_subject_scopes_and_the_version() {
    let w = World::new();
    for scope in Scope::ALL {
        let token = if scope == Scope::Admin {
            pat(ADMIN)
        } else {
            scope_pat(scope)
        };
        let res = w.get(WHOAMI, &token);
        res.expect(200, "");
        assert_eq!(res.json["handle"], HANDLE);
        assert_eq!(res.json["scopes"], json!([scope.as_str()]), "{}", res.text);
        assert_eq!(res.json["version"], 1, "the seeded snapshot's version");
        assert_eq!(res.header("X-Snapshot-Version"), Some("1"));
    }
    let res = w.get(WHOAMI, &pat(READ_ONLY));
    assert_eq!(res.json["sub"], "read-only@gharart.com");
    assert_eq!(
        res.json["scopes"],
        json!(["rules:read", "domains:read", "templates:read"])
    );
}

#[test]
fn a_jwt_reads_its_claims_and_unknown_scope_names_are_left_out() {
    let w = World::new();
    let token = w.jwt(
        "priya@gharart.com",
        &["preview", "campaigns:write", "rules:*"],
    );
    let res = w.get(WHOAMI, &token);
    res.expect(200, "");
    assert_eq!(res.json["sub"], "priya@gharart.com");
    assert_eq!(res.json["scopes"], json!(["preview", "campaigns:write"]));
    let none = w.get(WHOAMI, &w.jwt("nobody", &[]));
    none.expect(200, "");
    assert_eq!(
        none.json["scopes"],
        json!([]),
        "no scopes is still a credential"
    );
}

#[test]
fn no_broken_expired_or_other_handle_credential_gets_in() {
    let w = World::with(|s| s.auth_failures_per_minute = 10_000);
    w.req("GET", WHOAMI).send().expect(401, "missing_token");
    w.get(WHOAMI, "not-a-token").expect(401, "invalid_token");
    w.get(WHOAMI, &pat(REVOKED)).expect(401, "invalid_token");
    w.get(WHOAMI, &pat(EXPIRED)).expect(401, "token_expired");
    w.get(WHOAMI, &pat(OTHER_HANDLE))
        .expect(403, "wrong_handle");
    // Its own handle has no configuration: 404, as every route of an unknown handle.
    w.get("/v2/handles/other-shop/whoami", &pat(OTHER_HANDLE))
        .expect(404, "handle_not_found");
    // A read: no other method.
    w.req("POST", WHOAMI)
        .pat(ADMIN)
        .send()
        .expect(405, "method_not_allowed");
}
