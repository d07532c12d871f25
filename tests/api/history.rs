//! The change history (`GET .../changes`, `GET .../changes/{version}`): every kind of
//! configuration write is recorded with who, when, the route, the request id and a diff;
//! pages are stable; retention. Restoring is in `restore.rs`, promoting a winner in
//! `promote.rs`.

use edge_router::api::history::KEEP_VERSIONS;
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

pub(crate) fn put_rule(w: &World, id: &str, destination: &str) -> Res {
    w.req("PUT", &format!("{V2}/personalization-rules/{id}"))
        .pat("rules-write")
        .json(json!({"priority": 5, "entries": ["festive"], "destination": destination}))
        .send()
}

pub(crate) fn put_configuration(w: &World, config: &HandleConfig) -> Res {
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

pub(crate) fn domain_of(config: &HandleConfig, name: &str) -> Value {
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
