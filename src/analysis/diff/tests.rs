use serde_json::json;

use super::*;
use crate::model::config::{DomainDoc, RuleDoc, Verification};

fn festive() -> HandleConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    crate::model::files::load_dir(&dir).unwrap().0
}

fn rule<'c>(config: &'c mut HandleConfig, id: &str) -> &'c mut RuleDoc {
    config.rules.iter_mut().find(|r| r.id == id).unwrap()
}

#[test]
fn equal_configurations_have_an_empty_diff() {
    let config = festive();
    let d = diff(&config, &config);
    assert!(d.is_empty());
    assert_eq!(serde_json::to_value(&d).unwrap(), json!({}));
}

#[test]
fn a_changed_rule_names_each_path_with_its_values() {
    let before = festive();
    let mut after = before.clone();
    let r = rule(&mut after, "in-mobile");
    r.destination = Some("https://m.gharart.in/sale".into());
    r.enabled = false;
    r.conditions.query.insert(
        "utm_source".into(),
        crate::model::config::SetTest::any_of(vec!["mail".into()]),
    );
    let d = diff(&before, &after);
    assert_eq!(d.rules.changed.len(), 1);
    let change = &d.rules.changed[0];
    assert_eq!(change.id, "in-mobile");
    let mut paths: Vec<&str> = change.fields.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["$.conditions.query", "$.destination", "$.enabled"]);
    let destination = change
        .fields
        .iter()
        .find(|f| f.path == "$.destination")
        .unwrap();
    assert_eq!(
        destination.before,
        Some(json!("https://m.gharart.in/festive"))
    );
    assert_eq!(destination.after, Some(json!("https://m.gharart.in/sale")));
    let enabled = change
        .fields
        .iter()
        .find(|f| f.path == "$.enabled")
        .unwrap();
    assert_eq!(
        (&enabled.before, &enabled.after),
        (&None, &Some(json!(false)))
    );
    assert!(d.entries.is_empty() && d.domains.is_empty() && !d.truncated);
}

#[test]
fn added_removed_and_settings_are_listed() {
    let before = festive();
    let mut after = before.clone();
    after.rules.retain(|r| r.id != "us-ca");
    let mut copy = before.rules[0].clone();
    copy.id = "new-rule".into();
    after.rules.push(copy);
    after.fallback = None;
    after.domains.push(DomainDoc {
        domain: "new.example".into(),
        verification: Verification::Pending,
        token: None,
        risk_score: None,
        decision: None,
        verified_at: None,
        checked_at: None,
        failure: None,
    });
    let d = diff(&before, &after);
    assert_eq!(d.rules.added, ["new-rule"]);
    assert_eq!(d.rules.removed, ["us-ca"]);
    assert_eq!(d.domains.added, ["new.example"]);
    assert_eq!(
        d.settings,
        [FieldChange {
            path: "$.fallback".into(),
            before: Some(json!("https://www.gharart.com/")),
            after: None,
            elided: false,
        }]
    );
    let json = serde_json::to_value(&d).unwrap();
    assert!(json.get("entries").is_none(), "{json}");
    let back: ConfigDiff = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
}

#[test]
fn arrays_of_equal_length_compare_by_element_and_odd_keys_are_quoted() {
    let before = festive();
    let mut after = before.clone();
    after.campaigns[0].variants[1].weight = 40;
    after.campaigns[0].variants[0].weight = 60;
    after.templates[0]
        .params
        .insert("utm-x".into(), "{rule}".into());
    rule(&mut after, "in-mobile")
        .entries
        .push("diwali-sale".into());
    let d = diff(&before, &after);
    let paths: Vec<&str> = d.campaigns.changed[0]
        .fields
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["$.variants[0].weight", "$.variants[1].weight"]);
    assert_eq!(
        d.templates.changed[0].fields[0].path,
        r#"$.params["utm-x"]"#
    );
    let entries = &d.rules.changed[0].fields[0];
    assert_eq!(entries.path, "$.entries", "a longer array is one change");
    assert_eq!(entries.after, Some(json!(["festive", "diwali-sale"])));
}

#[test]
fn diffs_are_bounded() {
    let before = festive();
    let mut after = before.clone();
    for r in &mut after.rules {
        r.description = Some("x".repeat(MAX_VALUE_BYTES + 1));
    }
    let template = after.rules[0].clone();
    for n in 0..(MAX_IDS + 10) {
        let mut r = template.clone();
        r.id = format!("bulk-{n}");
        after.rules.push(r);
    }
    let d = diff(&before, &after);
    assert!(d.truncated);
    assert_eq!(d.rules.added.len(), MAX_IDS);
    assert!(d
        .rules
        .changed
        .iter()
        .flat_map(|c| &c.fields)
        .all(|f| f.elided && f.before.is_none() && f.after.is_none()));
    let mut many = before.clone();
    for (n, r) in many.rules.iter_mut().enumerate() {
        r.priority = 1000 + n as u32;
    }
    for n in 0..MAX_FIELDS {
        let mut r = template.clone();
        r.id = format!("p-{n}");
        many.rules.push(r);
    }
    let mut moved = many.clone();
    for r in &mut moved.rules {
        r.priority += 1;
    }
    let d = diff(&many, &moved);
    let fields: usize = d.rules.changed.iter().map(|c| c.fields.len()).sum();
    assert_eq!(fields, MAX_FIELDS);
    assert!(d.truncated);
}
