//! `rules/schema.json`, the JSON Schema of a rule file that editors check `rules/*/*.json`
//! with: it is the one generated from the types the router reads rule files into, every
//! rule file names it and follows it, and it refuses what the router refuses.
// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::{Path, PathBuf};

use edge_router::model::files::rule_file_schema;
use serde_json::{json, Value};

const REGENERATE: &str = "cargo run --bin router -- schema --out rules/schema.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `rules/<handle>/*.json`.
fn rule_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in fs::read_dir(root().join("rules")).expect("rules/ is readable") {
        let dir = dir.expect("a directory entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in fs::read_dir(&dir).expect("a handle directory is readable") {
            let file = file.expect("a directory entry").path();
            if file.extension().is_some_and(|x| x == "json") {
                files.push(file);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "rules/*/*.json exist");
    files
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&read_json(&root().join("rules/schema.json")))
        .expect("rules/schema.json is a valid JSON Schema")
}

/// The problems the schema finds in a rule file's JSON, as `instance path: message`.
fn problems(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = root().join("rules/schema.json");
    let committed = fs::read_to_string(&path).expect("rules/schema.json is committed");
    let mut generated =
        serde_json::to_string_pretty(&rule_file_schema()).expect("the schema renders");
    generated.push('\n');
    assert!(
        committed == generated,
        "rules/schema.json is out of date with the rule-file types (src/config.rs, \
         src/rulefiles.rs); regenerate it with `{REGENERATE}`"
    );
}

#[test]
fn the_schema_is_draft_2020_12_and_documents_every_property() {
    let schema = rule_file_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&schema).expect("a valid draft 2020-12 schema");
    let mut objects: Vec<(String, &Value)> = vec![("(root)".into(), &schema)];
    if let Some(defs) = schema["$defs"].as_object() {
        objects.extend(defs.iter().map(|(name, def)| (name.clone(), def)));
    }
    for (name, object) in objects {
        assert!(
            object["description"].is_string(),
            "{name} has a description"
        );
        let Some(properties) = object["properties"].as_object() else {
            continue;
        };
        assert_eq!(
            object["additionalProperties"], false,
            "{name} refuses unknown fields, as serde does"
        );
        for (property, value) in properties {
            assert!(
                value["description"].is_string(),
                "{name}.{property} has a description (from its doc comment)"
            );
        }
    }
    for list in ["entries", "rules", "domains", "templates", "campaigns"] {
        assert!(
            schema["properties"][list]["items"]["$ref"].is_string(),
            "{list} is described"
        );
    }
}

#[test]
fn every_rule_file_names_the_schema_and_follows_it() {
    let validator = validator();
    for file in rule_files() {
        let value = read_json(&file);
        assert_eq!(
            value["$schema"],
            "../schema.json",
            "{} names the schema with \"$schema\": \"../schema.json\"",
            file.display()
        );
        let found = problems(&validator, &value);
        assert!(
            found.is_empty(),
            "{} does not follow rules/schema.json:\n{}",
            file.display(),
            found.join("\n")
        );
    }
}

/// The schema refuses the mistakes an editor should underline, at their paths.
#[test]
fn the_schema_refuses_what_the_router_refuses() {
    let validator = validator();
    let rule = json!({"id": "r", "priority": 1, "entries": ["festive"], "destination": "https://x.example/"});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"handel": "gharart"}), ""),
        (json!({"handle": "Ghar Art"}), "/handle"),
        (json!({"risk_threshold": 101}), "/risk_threshold"),
        (
            json!({"rules": [{"id": "r", "priority": 1, "entries": ["festive"], "conditions": {"contry": {"in": ["IN"]}}}]}),
            "/rules/0/conditions",
        ),
        (
            json!({"rules": [{"id": "r", "priority": 1, "entries": ["festive"], "conditions": {"country": {"in": ["IN"], "not_in": ["AE"]}}}]}),
            "/rules/0/conditions/country",
        ),
        (
            json!({"rules": [{"id": "r", "entries": ["festive"]}]}),
            "/rules/0",
        ),
        (
            json!({"rules": [{"id": "r", "priority": -1, "entries": ["festive"]}]}),
            "/rules/0/priority",
        ),
        (
            json!({"domains": [{"domain": "x.example", "verification": "done"}]}),
            "/domains/0/verification",
        ),
        (
            json!({"campaigns": [{"id": "c", "name": "C", "status": "running", "variants": []}]}),
            "/campaigns/0/status",
        ),
        (
            json!({"campaigns": [{"id": "c", "name": "C", "variants": [{"key": "a", "weight": 150, "destination": "https://x.example/"}]}]}),
            "/campaigns/0/variants/0/weight",
        ),
        (
            json!({"templates": [{"id": "t", "params": {"a": "b"}, "precedence": ["nobody"]}]}),
            "/templates/0/precedence/0",
        ),
    ];
    assert!(problems(&validator, &json!({"rules": [rule]})).is_empty());
    for (value, at) in cases {
        let found = problems(&validator, &value);
        assert!(
            found.iter().any(|p| p.starts_with(&format!("{at}:"))),
            "{value} is refused at {at:?}: {found:?}"
        );
        let parsed = serde_json::to_vec(&value).expect("JSON");
        assert!(
            serde_json::from_slice::<edge_router::HandleConfig>(&parsed).is_err()
                || !edge_router::validate(&with_handle(&value)).is_empty(),
            "the router refuses {value} too"
        );
    }
}

/// The value as a whole configuration (a handle added when it has none).
fn with_handle(value: &Value) -> edge_router::HandleConfig {
    let mut value = value.clone();
    if value.get("handle").is_none() {
        value["handle"] = json!("gharart");
    }
    serde_json::from_value(value).unwrap_or_default()
}
