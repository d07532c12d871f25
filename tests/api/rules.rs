//! Personalization rules and tracking templates: lists, create/replace/delete, and every
//! problem of a refused write at its body-relative path (ported from the former unit
//! tests of `src/api/ops.rs`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::*;

fn put_rule(w: &World, id: &str, body: Value) -> Res {
    w.req("PUT", &format!("{V2}/personalization-rules/{id}"))
        .pat("rules-write")
        .json(body)
        .send()
}

fn post_template(w: &World, body: Value) -> Res {
    w.req("POST", &format!("{V2}/tracking-templates"))
        .pat("templates-write")
        .json(body)
        .send()
}

fn listed_rules(w: &World) -> Vec<Value> {
    w.get(&format!("{V2}/personalization-rules"), &pat("rules-read"))
        .json["rules"]
        .as_array()
        .unwrap()
        .clone()
}

/// Nothing stored, the seeded snapshot still published.
#[track_caller]
fn unchanged(w: &World) {
    assert!(w.store.tables.borrow().documents.is_empty());
    assert_eq!(w.published(), (1, gharart()));
}

#[test]
fn the_list_is_in_evaluation_order_with_routability_and_warnings() {
    let w = World::new();
    let res = w.get(&format!("{V2}/personalization-rules"), &pat("rules-read"));
    let body = res.ok(200);
    assert_eq!(
        (&body["handle"], &body["version"]),
        (&json!(HANDLE), &json!(1))
    );
    let config = gharart();
    assert_eq!(
        body["entries"],
        serde_json::to_value(&config.entries).unwrap()
    );
    let mut files = config.rules.clone();
    files.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
    let listed = body["rules"].as_array().unwrap();
    assert_eq!(listed.len(), files.len());
    let mut unroutable = BTreeSet::new();
    for (shown, file) in listed.iter().zip(&files) {
        // The stored document as written, plus routable and warnings.
        let mut doc = shown.clone();
        let doc_map = doc.as_object_mut().unwrap();
        let routable = doc_map.remove("routable").unwrap();
        let warnings = doc_map.remove("warnings").unwrap();
        assert_eq!(doc, serde_json::to_value(file).unwrap(), "{}", file.id);
        let flagged = warnings
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "unroutable_destination" && d["severity"] == "warning");
        assert_eq!(routable, !flagged, "{}", file.id);
        if !flagged {
            continue;
        }
        unroutable.insert(file.id.clone());
    }
    // Pending, failed, rejected, and risk 85 without approval.
    let expected = [
        "in-deals-pending",
        "us-gifts",
        "gulf-sale-shop",
        "eu-festive-net",
    ];
    assert_eq!(unroutable, expected.iter().map(|s| s.to_string()).collect());
    let disabled = listed.iter().find(|r| r["id"] == "in-mobile-2025").unwrap();
    assert_eq!(disabled["enabled"], false);
}

#[test]
fn put_creates_201_then_replaces_200_and_publishes_each_version() {
    let w = World::new();
    let rule = json!({"priority": 8, "entries": ["festive"], "conditions": {"query": {"probe": {"in": ["put"]}}}, "destination": "https://www.gharart.com/festive/put-probe"});
    let created = put_rule(&w, "campaign-probe.v1", rule.clone());
    let out = created.ok(201);
    assert_eq!(
        (&out["version"], &out["created"]),
        (&json!(2), &json!(true))
    );
    assert_eq!(out["rule"]["id"], "campaign-probe.v1");
    assert_eq!(out["rule"]["routable"], true);
    let mut again = rule.clone();
    again["id"] = json!("campaign-probe.v1");
    again["priority"] = json!(9);
    let replaced = put_rule(&w, "campaign-probe.v1", again);
    let out = replaced.ok(200);
    assert_eq!(
        (&out["version"], &out["created"], &out["rule"]["priority"]),
        (&json!(3), &json!(false), &json!(9))
    );
    let (version, published) = w.published();
    assert_eq!(version, 3);
    assert_eq!(published, w.stored_config());
    let stored: Vec<_> = published
        .rules
        .iter()
        .filter(|r| r.id == "campaign-probe.v1")
        .collect();
    assert_eq!((stored.len(), stored[0].priority), (1, 9));
    assert_eq!(published.rules.len(), gharart().rules.len() + 1);
}

#[test]
fn the_body_id_must_match_the_path_and_the_path_id_must_be_an_id() {
    let w = World::new();
    let rule =
        json!({"priority": 8, "entries": ["festive"], "destination": "https://www.gharart.com/x"});
    let mut mismatch = rule.clone();
    mismatch["id"] = json!("another-id");
    let res = put_rule(&w, "probe", mismatch);
    res.expect(400, "invalid_body");
    assert_eq!(res.path(), "$.id");
    let mut numeric = rule.clone();
    numeric["id"] = json!(7);
    assert_eq!(put_rule(&w, "probe", numeric).path(), "$.id");
    for bad in ["bad%20id!", &"x".repeat(65), "%C3%A9"] {
        let res = put_rule(&w, bad, rule.clone());
        res.expect(400, "invalid_parameter");
        assert!(
            res.json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("ruleId:"),
            "{}",
            res.text
        );
    }
    put_rule(&w, &"x".repeat(64), rule).ok(201);
}

/// Ported from `put_rule_reports_every_problem_relative_to_the_body` (src/api/ops.rs).
#[test]
fn a_rule_with_several_problems_lists_every_error_at_its_body_relative_path_in_order() {
    let w = World::new();
    let body = json!({"priority": 5, "entries": ["nope"], "conditions": {"country": {"in": ["India"]}, "device": {"in": ["phone"]}}, "destination": "http://www.gharart.com/"});
    let res = put_rule(&w, "bad", body);
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(
        res.errors(),
        pairs(&[
            ("unknown_entry", "$.entries[0]"),
            ("invalid_country", "$.conditions.country.in[0]"),
            ("invalid_device", "$.conditions.device.in[0]"),
            ("invalid_url", "$.destination"),
        ])
    );
    for d in res.json["error"]["details"].as_array().unwrap() {
        assert!(d["path"].as_str().unwrap().starts_with('$'), "{d}");
        assert_eq!(d["id"], "bad");
        assert!(!d["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        res.json["error"]["message"],
        "4 validation error(s); see error.details"
    );
    unchanged(&w);
}

#[test]
fn references_to_missing_templates_and_campaigns_are_refused_at_their_path() {
    let w = World::new();
    let base =
        json!({"priority": 6, "entries": ["festive"], "destination": "https://www.gharart.com/"});
    for (field, value) in [("template", "ghost"), ("campaign", "no-such-campaign")] {
        let mut body = base.clone();
        body[field] = json!(value);
        let res = put_rule(&w, "ghost", body);
        res.expect(VALIDATION_STATUS, "validation_failed");
        let paths: Vec<String> = res.errors().into_iter().map(|(_, p)| p).collect();
        assert_eq!(paths, [format!("$.{field}")], "{}", res.text);
    }
    unchanged(&w);
}

#[test]
fn a_rule_to_an_unroutable_destination_is_accepted_and_flagged() {
    let w = World::new();
    let res = put_rule(
        &w,
        "to-agency",
        json!({"priority": 5, "entries": ["festive"], "destination": "https://festive-gharart.net/x"}),
    );
    let out = res.ok(201);
    assert_eq!(out["rule"]["routable"], false);
    let warnings = out["rule"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|d| d["code"] == "unroutable_destination" && d["severity"] == "warning"),
        "{warnings:?}"
    );
    let listed = listed_rules(&w);
    assert_eq!(
        listed.iter().find(|r| r["id"] == "to-agency").unwrap()["routable"],
        false
    );
}

#[test]
fn delete_removes_a_rule_and_deleting_again_is_404() {
    let w = World::new();
    let path = format!("{V2}/personalization-rules/in-mobile");
    let res = w.req("DELETE", &path).pat("rules-write").send();
    assert_eq!(res.ok(200), &json!({"version": 2, "deleted": "in-mobile"}));
    assert!(!listed_rules(&w).iter().any(|r| r["id"] == "in-mobile"));
    assert!(!w.published().1.rules.iter().any(|r| r.id == "in-mobile"));
    w.req("DELETE", &path)
        .pat("rules-write")
        .send()
        .expect(404, "rule_not_found");
    assert_eq!(w.published().0, 2);
}

#[test]
fn templates_are_listed_as_the_rule_files_have_them() {
    let w = World::new();
    let res = w.get(&format!("{V2}/tracking-templates"), &pat("templates-read"));
    let out = res.ok(200);
    assert_eq!(out["default_template"], "festive-utm");
    assert_eq!(
        out["templates"],
        serde_json::to_value(gharart().templates).unwrap()
    );
    assert_eq!(out["version"], 1);
}

#[test]
fn post_template_creates_201_and_replaces_200() {
    let w = World::new();
    let template = json!({"id": "partner-utm", "params": {"utm_source": "gharart-edge", "utm_medium": "partner", "utm_campaign": "{entry}-{handle}", "pr": "{rule}"}});
    let out = post_template(&w, template.clone());
    let out = out.ok(201);
    assert_eq!(
        (&out["created"], &out["version"], &out["template"]),
        (&json!(true), &json!(2), &template)
    );
    let mut changed = template.clone();
    changed["params"]["utm_medium"] = json!("partner-v2");
    let out = post_template(&w, changed.clone());
    let out = out.ok(200);
    assert_eq!(
        (&out["created"], &out["version"]),
        (&json!(false), &json!(3))
    );
    let published = w.published().1;
    let stored = published
        .templates
        .iter()
        .find(|t| t.id == "partner-utm")
        .unwrap();
    assert_eq!(serde_json::to_value(stored).unwrap(), changed);
    assert_eq!(published.templates.len(), 4);
}

/// Ported from `template_values_and_counts_are_bounded` (src/api/ops.rs). Regression:
/// template values had no length limit, so a 60 KB value made a 61 KB Location header.
#[test]
fn template_values_are_at_most_256_bytes_and_templates_at_most_20_params() {
    let w = World::new();
    let res = post_template(&w, json!({"id": "long", "params": {"x": "v".repeat(257)}}));
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(
        res.errors(),
        pairs(&[("invalid_param_value", "$.params.x")])
    );
    let many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("p{i}"), json!("v"))).collect();
    let res = post_template(&w, json!({"id": "many", "params": many}));
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(res.errors(), pairs(&[("too_many_params", "$.params")]));
    unchanged(&w);
    // The limits themselves are allowed.
    post_template(&w, json!({"id": "long", "params": {"x": "v".repeat(256)}})).ok(201);
    let twenty: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("p{i}"), json!("v"))).collect();
    post_template(&w, json!({"id": "many", "params": twenty})).ok(201);
}

#[test]
fn a_broken_template_is_refused_with_its_paths_and_the_old_snapshot_stays() {
    let w = World::new();
    let mut broken = serde_json::to_value(&gharart().templates[0]).unwrap();
    broken["params"]["utm_content"] = json!("{country}-{devise}");
    broken["params"]["gh_x"] = json!("{unbalanced");
    let res = post_template(&w, broken);
    res.expect(VALIDATION_STATUS, "validation_failed");
    let errors = res.errors();
    assert!(
        errors.contains(&("invalid_placeholder".into(), "$.params.utm_content".into())),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(_, p)| p == "$.params.gh_x"),
        "{errors:?}"
    );
    post_template(&w, json!({"id": "brand-new", "params": {"x": "{nope}"}}))
        .expect(VALIDATION_STATUS, "validation_failed");
    let res = post_template(&w, json!({"id": "x", "params": {}, "owner": "me"}));
    res.expect(400, "invalid_body");
    assert_eq!(res.path(), "$.owner");
    unchanged(&w);
}
