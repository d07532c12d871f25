//! The change history (`GET .../changes`, `GET .../changes/{version}`) and restoring a
//! version (`POST .../changes/{version}/restore`): every kind of configuration write is
//! recorded with who, when, the route, the request id and a diff; pages are stable; a
//! restore goes through the trust rules. Promoting a winner is in `promote.rs`.

use edge_router::api::history::KEEP_VERSIONS;
use edge_router::api::store::StoredChange;
use edge_router::engine::compile::compile;
use edge_router::model::config::HandleConfig;
use serde_json::{json, Value};

use crate::harness::*;

pub(crate) fn changes(w: &World, query: &str) -> Value {
    let res = w.get(&format!("{V2}/changes{query}"), &pat("history-read"));
    res.ok(200).clone()
}

pub(crate) fn change(w: &World, version: u64) -> Value {
    let res = w.get(&format!("{V2}/changes/{version}"), &pat("history-read"));
    res.ok(200)["change"].clone()
}

pub(crate) fn restore(w: &World, version: u64) -> Res {
    w.req("POST", &format!("{V2}/changes/{version}/restore"))
        .pat(ADMIN)
        .send()
}

fn put_rule(w: &World, id: &str, destination: &str) -> Res {
    w.req("PUT", &format!("{V2}/personalization-rules/{id}"))
        .pat("rules-write")
        .json(json!({"priority": 5, "entries": ["festive"], "destination": destination}))
        .send()
}

fn put_configuration(w: &World, config: &HandleConfig) -> Res {
    w.req("PUT", &format!("{V2}/configuration"))
        .pat(ADMIN)
        .json(serde_json::to_value(config).unwrap())
        .send()
}

/// Whether the published snapshot routes `host`.
pub(crate) fn routes_to(w: &World, host: &str) -> bool {
    let (_, config) = w.published();
    compile(&config)
        .unwrap()
        .ruleset
        .allowlist()
        .check_host(host)
        .is_ok()
}

fn domain_of(config: &HandleConfig, name: &str) -> Value {
    let doc = config.domains.iter().find(|d| d.domain == name);
    serde_json::to_value(doc).unwrap()
}

/// What, method, path, scope, body, expected status, the collection (or `settings`) it
/// touches.
type Write = (
    &'static str,
    &'static str,
    String,
    &'static str,
    Option<Value>,
    u16,
    &'static str,
);

#[test]
fn every_kind_of_configuration_write_is_recorded_with_who_what_and_where() {
    let w = World::new();
    w.resolver.records.borrow_mut().insert(
        "_gharart-verify.shop.gharart-partner.com".into(),
        vec!["gharart-verify=x".into()],
    );
    let campaign = json!({"id": "c1", "name": "C1", "variants": [
        {"key": "a", "weight": 100, "destination": "https://www.gharart.com/a"}]});
    let mut config = gharart();
    config.fallback = Some("https://www.gharart.com/pushed".into());
    let writes: Vec<Write> = vec![
        (
            "put rule",
            "PUT",
            format!("{V2}/personalization-rules/new-rule"),
            "rules-write",
            Some(
                json!({"priority": 5, "entries": ["festive"], "destination": "https://www.gharart.com/x"}),
            ),
            201,
            "rules",
        ),
        (
            "delete rule",
            "DELETE",
            format!("{V2}/personalization-rules/us-ca"),
            "rules-write",
            None,
            200,
            "rules",
        ),
        (
            "template",
            "POST",
            format!("{V2}/tracking-templates"),
            "templates-write",
            Some(json!({"id": "t2", "params": {"utm_source": "x"}})),
            201,
            "templates",
        ),
        (
            "add domain",
            "POST",
            format!("{V2}/destination-domains"),
            "domains-write",
            Some(json!({"domain": "shop.gharart-partner.com"})),
            201,
            "domains",
        ),
        (
            "verify",
            "POST",
            format!("{V2}/destination-domains/shop.gharart-partner.com/verify"),
            "domains-write",
            None,
            200,
            "domains",
        ),
        (
            "decide",
            "POST",
            format!("{V2}/destination-domains/shop.gharart-partner.com/decision"),
            "domains-admin",
            Some(json!({"decision": "approved", "reason": "ours"})),
            200,
            "domains",
        ),
        (
            "configuration",
            "PUT",
            format!("{V2}/configuration"),
            ADMIN,
            None,
            200,
            "settings",
        ),
        (
            "create campaign",
            "POST",
            format!("{V2}/campaigns"),
            "campaigns-write",
            Some(campaign),
            201,
            "campaigns",
        ),
        (
            "pause",
            "POST",
            format!("{V2}/campaigns/diwali-hero-ab/pause"),
            "campaigns-write",
            None,
            200,
            "campaigns",
        ),
        (
            "promote",
            "POST",
            format!("{V2}/campaigns/gulf-eid-teaser/promote"),
            ADMIN,
            Some(json!({"variant": "countdown"})),
            200,
            "campaigns",
        ),
    ];
    let mut version = 1;
    for (what, method, path, scope, body, status, collection) in writes {
        w.advance(60);
        let body = match (what, body) {
            // The configuration PUT sends what is stored now with one setting changed.
            ("configuration", _) => {
                let mut now = w.stored_config();
                now.fallback = config.fallback.clone();
                Some(serde_json::to_value(now).unwrap())
            }
            (_, body) => body,
        };
        let mut req = w.req(method, &path).pat(scope);
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send();
        res.ok(status);
        version += 1;
        assert_eq!(res.json["version"], version, "{what}");
        let entry = change(&w, version);
        let pattern = edge_router::api::routes::match_route(method, &path)
            .unwrap()
            .0
            .pattern;
        assert_eq!(entry["version"], version, "{what}");
        assert_eq!(entry["version_before"], version - 1, "{what}");
        assert_eq!(entry["kind"], "change");
        assert_eq!(entry["route"], format!("{method} {pattern}"), "{what}");
        assert_eq!(entry["subject"], format!("{scope}@gharart.com"), "{what}");
        assert_eq!(entry["request_id"], res.request_id.as_str(), "{what}");
        assert_eq!(
            entry["at"],
            w.now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        assert!(
            entry["summary"].get(collection).is_some(),
            "{what}: {}",
            entry["summary"]
        );
    }
    // The first write found version 1 unrecorded (seeded into KV): a baseline.
    let list = changes(&w, "?limit=100");
    let entries = list["changes"].as_array().unwrap();
    assert_eq!(entries.len(), version as usize);
    let baseline = entries.last().unwrap();
    assert_eq!(
        (&baseline["version"], &baseline["kind"]),
        (&json!(1), &json!("baseline"))
    );
    assert!(baseline.get("version_before").is_none() && baseline.get("route").is_none());
    assert_eq!(list["version"], version);
    assert!(list.get("next_before").is_none());
    // The scheduled re-check writes as `cron`.
    w.advance(60);
    let log = |_: &str| {};
    let report = pollster::block_on(edge_router::api::reverify::run(
        &w.store,
        &w.resolver,
        &w.settings,
        w.now(),
        chrono::Duration::zero(),
        &log,
    ));
    assert!(!report.lost.is_empty());
    let entry = change(&w, version + 1);
    assert_eq!(
        (&entry["subject"], &entry["route"]),
        (&json!("cron"), &json!("cron"))
    );
    assert!(entry["diff"]["domains"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "www.gharart.com"));
}

#[test]
fn writes_that_change_nothing_stored_are_not_recorded() {
    let w = World::new();
    put_rule(&w, "bad", "not a url").expect(VALIDATION_STATUS, "validation_failed");
    w.req("POST", &format!("{V2}/preview-tokens"))
        .pat(ADMIN)
        .send()
        .ok(201);
    w.req(
        "PUT",
        &format!("{V2}/site-structure/campaigns/diwali-hero-ab"),
    )
    .pat(ADMIN)
    .json(json!({"access_level": "PUBLIC", "document": page_doc("Diwali")}))
    .send()
    .ok(200);
    assert!(w.store.tables.borrow().changes.is_empty());
    assert_eq!(changes(&w, "")["changes"], json!([]));
    // A write whose snapshot cannot be published is rolled back with its entry.
    w.store.faults.borrow_mut().publish = true;
    put_rule(&w, "r", "https://www.gharart.com/r").expect(503, "publish_failed");
    w.store.faults.borrow_mut().publish = false;
    assert!(
        w.store.tables.borrow().changes.keys().all(|(_, v)| *v == 1),
        "only the baseline stays"
    );
    put_rule(&w, "r", "https://www.gharart.com/r").ok(201);
    let entry = change(&w, 2);
    assert_eq!(entry["version_before"], 1);
    assert_eq!(entry["summary"]["rules"]["added"], json!(["r"]));
}

#[test]
fn pages_are_newest_first_and_stable_while_writes_go_on() {
    let w = World::new();
    for n in 0..5 {
        put_rule(&w, "r", &format!("https://www.gharart.com/{n}")).ok(if n == 0 {
            201
        } else {
            200
        });
    }
    let versions = |page: &Value| -> Vec<u64> {
        page["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["version"].as_u64().unwrap())
            .collect()
    };
    let first = changes(&w, "?limit=2");
    assert_eq!(versions(&first), [6, 5]);
    assert_eq!(first["next_before"], 5);
    assert!(
        first["changes"][0].get("diff").is_none(),
        "lists carry summaries"
    );
    assert_eq!(
        first["changes"][0]["summary"]["rules"]["changed"],
        json!(["r"])
    );
    // A write between pages does not shift the next one.
    put_rule(&w, "r", "https://www.gharart.com/late").ok(200);
    let second = changes(&w, "?limit=2&before=5");
    assert_eq!(versions(&second), [4, 3]);
    let last = changes(&w, "?limit=2&before=3");
    assert_eq!(versions(&last), [2, 1]);
    assert!(last.get("next_before").is_none());
    assert_eq!(versions(&changes(&w, "")), [7, 6, 5, 4, 3, 2, 1]);
    for (query, name) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?before=0", "before"),
        ("?before=x", "before"),
    ] {
        let res = w.get(&format!("{V2}/changes{query}"), &pat(ADMIN));
        res.expect(400, "invalid_parameter");
        assert!(res.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(name));
    }
}

#[test]
fn one_entry_has_the_whole_diff_and_the_configuration_for_an_admin() {
    let w = World::new();
    let res = put_rule(&w, "in-mobile", "https://m.gharart.in/sale");
    res.ok(200);
    let out = w
        .get(&format!("{V2}/changes/2"), &pat("history-read"))
        .ok(200)
        .clone();
    assert_eq!(out["current_version"], 2);
    assert!(out.get("configuration").is_none());
    let rule = &out["change"]["diff"]["rules"]["changed"][0];
    assert_eq!(rule["id"], "in-mobile");
    let destination = rule["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "$.destination")
        .unwrap();
    assert_eq!(destination["before"], "https://m.gharart.in/festive");
    assert_eq!(destination["after"], "https://m.gharart.in/sale");
    w.get(
        &format!("{V2}/changes/2?configuration=true"),
        &pat("history-read"),
    )
    .expect(403, "insufficient_scope");
    let full = w.get(&format!("{V2}/changes/1?configuration=true"), &pat(ADMIN));
    assert_eq!(
        full.ok(200)["configuration"],
        serde_json::to_value(gharart()).unwrap()
    );
    assert_eq!(full.json["change"]["kind"], "baseline");
    w.get(&format!("{V2}/changes/9"), &pat(ADMIN))
        .expect(404, "version_not_found");
    w.get(&format!("{V2}/changes/nine"), &pat(ADMIN))
        .expect(400, "invalid_parameter");
    w.get(&format!("{V2}/changes"), &pat("rules-read"))
        .expect(403, "insufficient_scope");
}

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

#[test]
fn the_last_versions_are_kept_and_older_ones_dropped() {
    let w = World::new();
    put_rule(&w, "r", "https://www.gharart.com/r").ok(201);
    // Pretend a long history: entries up to version 2 + KEEP_VERSIONS, the document there.
    let top = 2 + KEEP_VERSIONS;
    {
        let mut tables = w.store.tables.borrow_mut();
        let template = tables.changes[&(HANDLE.to_owned(), 2)].clone();
        for version in 3..=top {
            let mut entry = template.clone();
            entry.version = version;
            entry.version_before = Some(version - 1);
            tables.changes.insert((HANDLE.into(), version), entry);
        }
        let doc = tables.documents.get_mut(HANDLE).unwrap();
        doc.version = top;
    }
    put_rule(&w, "r", "https://www.gharart.com/r2").ok(200);
    let tables = w.store.tables.borrow();
    let kept: Vec<u64> = tables.changes.keys().map(|(_, v)| *v).collect();
    assert_eq!(kept.len() as u64, KEEP_VERSIONS);
    assert_eq!(kept.first(), Some(&(top + 1 - KEEP_VERSIONS + 1)));
    assert_eq!(kept.last(), Some(&(top + 1)));
    drop(tables);
    restore(&w, 1).expect(404, "version_not_found");
}
