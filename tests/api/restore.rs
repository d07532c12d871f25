//! Restoring a version (`POST .../changes/{version}/restore`): the old configuration as a
//! new version, recorded as a restore, through the trust rules of a whole-configuration
//! write: a restore never brings back trust a domain has lost, nor gives any to a domain
//! the handle no longer lists.

use edge_router::api::store::StoredChange;
use serde_json::json;

use crate::harness::*;
use crate::history::{change, domain_of, put_configuration, put_rule, restore, routes_to};

#[test]
fn restoring_writes_the_old_configuration_as_a_new_version_recorded_as_a_restore() {
    let w = World::new();
    put_rule(&w, "in-mobile", "https://m.gharart.in/sale").ok(200);
    put_rule(&w, "extra", "https://www.gharart.com/extra").ok(201);
    let res = restore(&w, 1);
    let out = res.ok(200);
    assert_eq!(
        (&out["version"], &out["restored_from"]),
        (&json!(4), &json!(1))
    );
    assert!(
        out["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["code"] != "ignored_trust_field"),
        "nothing about trust changed"
    );
    assert_eq!(w.published(), (4, gharart()));
    let entry = change(&w, 4);
    assert_eq!(
        (&entry["kind"], &entry["restored_from"]),
        (&json!("restore"), &json!(1))
    );
    assert_eq!(
        entry["route"],
        "POST /v2/handles/{handle}/changes/{version}/restore"
    );
    assert_eq!(entry["summary"]["rules"]["removed"], json!(["extra"]));
    assert_eq!(entry["summary"]["rules"]["changed"], json!(["in-mobile"]));
    // Restoring the restore's source again is a new version; the current one is 409.
    restore(&w, 4).expect(409, "already_current");
    restore(&w, 3).ok(200);
    assert_eq!(w.version(), 5);
    restore(&w, 77).expect(404, "version_not_found");
    w.req("POST", &format!("{V2}/changes/0/restore"))
        .pat(ADMIN)
        .send()
        .expect(400, "invalid_parameter");
    w.req("POST", &format!("{V2}/changes/1/restore"))
        .pat("history-read")
        .send()
        .expect(403, "insufficient_scope");
    // A retried restore with its key is replayed, not written twice.
    let first = w
        .req("POST", &format!("{V2}/changes/1/restore"))
        .pat(ADMIN)
        .key("restore-1")
        .send();
    let again = w
        .req("POST", &format!("{V2}/changes/1/restore"))
        .pat(ADMIN)
        .key("restore-1")
        .send();
    assert_eq!(first.ok(200)["version"], 6);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(w.version(), 6);
}

#[test]
fn a_restore_never_brings_back_trust_the_domain_has_lost() {
    let w = World::new();
    let net = "festive-gharart.net";
    let decide = |value: &str| {
        w.req("POST", &format!("{V2}/destination-domains/{net}/decision"))
            .pat(ADMIN)
            .json(json!({"decision": value, "reason": "by hand"}))
            .send()
    };
    decide("approved").ok(200);
    put_rule(&w, "net", &format!("https://{net}/festive")).ok(201);
    assert!(routes_to(&w, net), "approved at version 3");
    decide("rejected").ok(200);
    assert!(!routes_to(&w, net));
    // Version 3 said approved; the domain is rejected now and stays so.
    let out = restore(&w, 3).ok(200).clone();
    assert!(!routes_to(&w, net), "a restore does not re-approve");
    let stored = w.stored_config();
    assert_eq!(domain_of(&stored, net)["decision"]["value"], "rejected");
    let index = stored.domains.iter().position(|d| d.domain == net).unwrap();
    let paths: Vec<&str> = out["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "ignored_trust_field")
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [format!("$.domains[{index}].decision")]);
    assert!(out["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["code"] == "unroutable_destination" && d["id"] == "net"));

    // A domain the handle no longer lists comes back pending, whatever it was.
    let mut without = w.stored_config();
    without.domains.retain(|d| d.domain != "uk.gharart.com");
    put_configuration(&w, &without).ok(200);
    assert!(!routes_to(&w, "uk.gharart.com"));
    let out = restore(&w, 1).ok(200).clone();
    let uk = domain_of(&w.stored_config(), "uk.gharart.com");
    assert_eq!(uk["verification"], "pending");
    assert!(uk.get("risk_score").is_none() && uk.get("verified_at").is_none());
    assert_ne!(uk["token"], "gh-verify-72a9e0c4b1d6", "a fresh token");
    assert!(!routes_to(&w, "uk.gharart.com"));
    assert!(out["warnings"].as_array().unwrap().iter().any(|d| {
        d["code"] == "ignored_trust_field"
            && d["id"] == "uk.gharart.com"
            && d["path"].as_str().unwrap().ends_with(".verification")
    }));
    // And `net` is still rejected after restoring the seeded version, which had no
    // decision for it.
    assert!(!routes_to(&w, net));
}

#[test]
fn a_proof_lost_to_the_cron_stays_lost_through_a_restore() {
    let w = World::new();
    put_rule(&w, "r", "https://www.gharart.com/r").ok(201);
    let log = |_: &str| {};
    w.advance(60);
    pollster::block_on(edge_router::api::reverify::run(
        &w.store,
        &w.resolver,
        &w.settings,
        w.now(),
        chrono::Duration::zero(),
        &log,
    ));
    assert!(!routes_to(&w, "www.gharart.com"));
    restore(&w, 2).ok(200);
    let www = domain_of(&w.stored_config(), "www.gharart.com");
    assert_eq!(www["verification"], "failed");
    assert!(!routes_to(&w, "www.gharart.com"));
}

#[test]
fn a_history_entry_that_claims_trust_gets_none() {
    // Whatever a stored version says (a baseline pushed straight to KV may carry trust
    // fields), a domain the handle does not list now starts pending.
    let w = World::new();
    put_rule(&w, "r", "https://www.gharart.com/r").ok(201);
    let mut claimed = gharart();
    let mut evil = claimed.domains[0].clone();
    evil.domain = "evil.example".into();
    claimed.domains.push(evil);
    claimed.entries[0].default = "https://evil.example/login".into();
    w.store.tables.borrow_mut().changes.insert(
        (HANDLE.into(), 1),
        StoredChange {
            version: 1,
            version_before: None,
            at: "2026-11-01T00:00:00Z".into(),
            subject: "seed".into(),
            route: None,
            request_id: None,
            restored_from: None,
            diff: None,
            config: Some(serde_json::to_string(&claimed).unwrap()),
        },
    );
    let out = restore(&w, 1).ok(200).clone();
    assert!(!routes_to(&w, "evil.example"));
    assert_eq!(
        domain_of(&w.stored_config(), "evil.example")["verification"],
        "pending"
    );
    assert!(out["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["code"] == "ignored_trust_field" && d["id"] == "evil.example"));
}
