//! The JSON Schema of a rule file, generated from [`super::RuleFile`] and the
//! configuration types it holds (their doc comments become the descriptions).

use serde_json::Value;

/// The JSON Schema (draft 2020-12) of one rule file, generated from the types the router
/// reads rule files into; `rules/schema.json` is this, pretty-printed (`router schema`).
/// Optional fields are described without `null` (rule files leave them out) and doc
/// comment paragraphs become one line each.
pub fn rule_file_schema() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<super::RuleFile>();
    let mut value = schema.to_value();
    tidy(&mut value);
    value
}

/// Drops the `null` alternatives and `default: null` of optional fields, and unwraps the
/// lines of descriptions.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    map.insert("type".into(), single);
                }
            }
            if let Some(Value::Array(any)) = map.get("anyOf") {
                let kept: Vec<&Value> = any.iter().filter(|s| s["type"] != "null").collect();
                if let ([Value::Object(only)], true) = (kept.as_slice(), kept.len() < any.len()) {
                    let only = only.clone();
                    map.remove("anyOf");
                    map.extend(only);
                }
            }
            if let Some(Value::String(text)) = map.get_mut("description") {
                let paragraphs: Vec<String> =
                    text.split("\n\n").map(|p| p.replace('\n', " ")).collect();
                *text = paragraphs.join("\n\n");
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_plain_and_descriptions_one_line_per_paragraph() {
        let mut value = serde_json::json!({
            "properties": {
                "a": {"type": ["string", "null"], "default": null, "description": "one\ntwo\n\nthree"},
                "b": {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}], "description": "b"}
            }
        });
        tidy(&mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "properties": {
                    "a": {"type": "string", "description": "one two\n\nthree"},
                    "b": {"$ref": "#/$defs/X", "description": "b"}
                }
            })
        );
    }
}
