//! What changed between two configurations of a handle, as the change history records
//! it: per collection (entries by slug, rules, templates and campaigns by id, domains by
//! name) the ids added, removed and changed, and for a changed item every JSON path
//! (relative to the item, `$.conditions.country.in`) with its value before and after;
//! the handle's own fields (`fallback`, `risk_threshold`, `default_template`) as
//! `settings`.
//!
//! A diff is bounded so a history entry stays small whatever the change: at most
//! [`MAX_IDS`] ids per list, [`MAX_FIELDS`] field changes in all, and a value whose JSON
//! is longer than [`MAX_VALUE_BYTES`] is left out (`elided: true`); `truncated` says
//! whether anything was left out. Arrays of equal length are compared element by
//! element (`$.variants[1].weight`); arrays whose length changed are one change.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::config::HandleConfig;

/// Ids kept per added, removed or changed list.
pub const MAX_IDS: usize = 500;
/// Field changes kept in one diff (settings and items together).
pub const MAX_FIELDS: usize = 200;
/// Longest JSON of a value shown before or after (bytes).
pub const MAX_VALUE_BYTES: usize = 512;

/// One changed value.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// JSON path relative to the item (`$.destination`), or to the configuration for
    /// settings (`$.fallback`).
    pub path: String,
    /// The value before; absent when the field was absent (or is elided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after; absent when the field is absent now (or is elided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The values are longer than the diff shows: read the configurations.
    #[serde(default, skip_serializing_if = "is_false")]
    pub elided: bool,
}

/// One item that exists before and after, with what changed in it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemChange {
    /// The item's id (slug, rule id, domain, template id, campaign id).
    pub id: String,
    /// What changed, in document order.
    pub fields: Vec<FieldChange>,
}

/// What changed in one collection.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionDiff {
    /// Ids present after only, in their order after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Ids present before only, in their order before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Items present in both that differ, in their order after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<ItemChange>,
}

impl CollectionDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What changed between two configurations; collections without a change are left out.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigDiff {
    /// The handle's own fields (`fallback`, `risk_threshold`, `default_template`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<FieldChange>,
    /// Entries, by slug.
    #[serde(default, skip_serializing_if = "CollectionDiff::is_empty")]
    pub entries: CollectionDiff,
    /// Personalization rules, by id.
    #[serde(default, skip_serializing_if = "CollectionDiff::is_empty")]
    pub rules: CollectionDiff,
    /// Destination domains, by name.
    #[serde(default, skip_serializing_if = "CollectionDiff::is_empty")]
    pub domains: CollectionDiff,
    /// Tracking templates, by id.
    #[serde(default, skip_serializing_if = "CollectionDiff::is_empty")]
    pub templates: CollectionDiff,
    /// Campaigns, by id.
    #[serde(default, skip_serializing_if = "CollectionDiff::is_empty")]
    pub campaigns: CollectionDiff,
    /// Something was left out to keep the diff bounded (ids, fields or long values).
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl ConfigDiff {
    /// Whether the two configurations are equal.
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.collections().iter().all(|(_, c)| c.is_empty())
    }

    /// The collections by name, in the order of the document.
    pub fn collections(&self) -> [(&'static str, &CollectionDiff); 5] {
        [
            ("entries", &self.entries),
            ("rules", &self.rules),
            ("domains", &self.domains),
            ("templates", &self.templates),
            ("campaigns", &self.campaigns),
        ]
    }
}

/// The ids of one collection's changes, without their fields.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IdChanges {
    /// Ids added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Ids removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Ids changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

impl IdChanges {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    fn of(diff: &CollectionDiff) -> Self {
        IdChanges {
            added: diff.added.clone(),
            removed: diff.removed.clone(),
            changed: diff.changed.iter().map(|c| c.id.clone()).collect(),
        }
    }
}

/// A diff's outline: which settings and which ids changed (what a history list shows).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DiffSummary {
    /// Paths of the handle's own fields that changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    /// Entries, by slug.
    #[serde(skip_serializing_if = "IdChanges::is_empty")]
    pub entries: IdChanges,
    /// Personalization rules, by id.
    #[serde(skip_serializing_if = "IdChanges::is_empty")]
    pub rules: IdChanges,
    /// Destination domains, by name.
    #[serde(skip_serializing_if = "IdChanges::is_empty")]
    pub domains: IdChanges,
    /// Tracking templates, by id.
    #[serde(skip_serializing_if = "IdChanges::is_empty")]
    pub templates: IdChanges,
    /// Campaigns, by id.
    #[serde(skip_serializing_if = "IdChanges::is_empty")]
    pub campaigns: IdChanges,
    /// The diff left something out.
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
}

impl ConfigDiff {
    /// The outline of this diff.
    pub fn summary(&self) -> DiffSummary {
        DiffSummary {
            settings: self.settings.iter().map(|f| f.path.clone()).collect(),
            entries: IdChanges::of(&self.entries),
            rules: IdChanges::of(&self.rules),
            domains: IdChanges::of(&self.domains),
            templates: IdChanges::of(&self.templates),
            campaigns: IdChanges::of(&self.campaigns),
            truncated: self.truncated,
        }
    }
}

/// The handle's own fields a diff compares as `settings` (`handle` never changes).
const SETTINGS: [&str; 3] = ["fallback", "risk_threshold", "default_template"];

/// What changed from `before` to `after`.
pub fn diff(before: &HandleConfig, after: &HandleConfig) -> ConfigDiff {
    let mut budget = Budget {
        fields: MAX_FIELDS,
        truncated: false,
    };
    let (b, a) = (to_object(before), to_object(after));
    let mut settings = Vec::new();
    for key in SETTINGS {
        let path = format!("$.{key}");
        compare(b.get(key), a.get(key), &path, &mut settings, &mut budget);
    }
    let mut out = ConfigDiff {
        settings,
        ..ConfigDiff::default()
    };
    out.entries = collection(&b, &a, "entries", "slug", &mut budget);
    out.rules = collection(&b, &a, "rules", "id", &mut budget);
    out.domains = collection(&b, &a, "domains", "domain", &mut budget);
    out.templates = collection(&b, &a, "templates", "id", &mut budget);
    out.campaigns = collection(&b, &a, "campaigns", "id", &mut budget);
    out.truncated = budget.truncated;
    out
}

/// What is left of the bounds.
struct Budget {
    fields: usize,
    truncated: bool,
}

fn to_object(config: &HandleConfig) -> Map<String, Value> {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The items of a collection by id, in document order (a repeated id keeps its first).
fn items<'v>(config: &'v Map<String, Value>, name: &str, key: &str) -> Vec<(String, &'v Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    for item in config
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = item.get(key).and_then(Value::as_str).unwrap_or_default();
        if !out.iter().any(|(seen, _)| seen == id) {
            out.push((id.to_owned(), item));
        }
    }
    out
}

fn collection(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    name: &str,
    key: &str,
    budget: &mut Budget,
) -> CollectionDiff {
    let (old, new) = (items(before, name, key), items(after, name, key));
    let mut out = CollectionDiff::default();
    for (id, value) in &new {
        match find(&old, id) {
            None => push_id(&mut out.added, id, budget),
            Some(previous) if previous != *value => {
                let mut fields = Vec::new();
                compare(Some(previous), Some(value), "$", &mut fields, budget);
                if out.changed.len() < MAX_IDS {
                    out.changed.push(ItemChange {
                        id: id.clone(),
                        fields,
                    });
                } else {
                    budget.truncated = true;
                }
            }
            Some(_) => {}
        }
    }
    for (id, _) in &old {
        if find(&new, id).is_none() {
            push_id(&mut out.removed, id, budget);
        }
    }
    out
}

fn find<'v>(list: &[(String, &'v Value)], id: &str) -> Option<&'v Value> {
    list.iter()
        .find(|(other, _)| other == id)
        .map(|(_, value)| *value)
}

fn push_id(list: &mut Vec<String>, id: &str, budget: &mut Budget) {
    if list.len() < MAX_IDS {
        list.push(id.to_owned());
    } else {
        budget.truncated = true;
    }
}

/// Appends the changes from `before` to `after` at `path`: objects key by key, arrays of
/// equal length element by element, anything else as one change.
fn compare(
    before: Option<&Value>,
    after: Option<&Value>,
    path: &str,
    out: &mut Vec<FieldChange>,
    budget: &mut Budget,
) {
    if before == after {
        return;
    }
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            for (key, value) in a {
                compare(b.get(key), Some(value), &member(path, key), out, budget);
            }
            for (key, value) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                compare(Some(value), None, &member(path, key), out, budget);
            }
        }
        (Some(Value::Array(b)), Some(Value::Array(a))) if a.len() == b.len() => {
            for (index, (old, new)) in b.iter().zip(a).enumerate() {
                compare(
                    Some(old),
                    Some(new),
                    &format!("{path}[{index}]"),
                    out,
                    budget,
                );
            }
        }
        _ => {
            if budget.fields == 0 {
                budget.truncated = true;
                return;
            }
            budget.fields -= 1;
            let fits = |v: Option<&Value>| {
                v.is_none_or(|v| serde_json::to_string(v).is_ok_and(|s| s.len() <= MAX_VALUE_BYTES))
            };
            let elided = !(fits(before) && fits(after));
            budget.truncated |= elided;
            out.push(FieldChange {
                path: path.to_owned(),
                before: before.filter(|_| !elided).cloned(),
                after: after.filter(|_| !elided).cloned(),
                elided,
            });
        }
    }
}

/// `path.key`, or `path["key"]` for a key that is not a plain name (query parameters,
/// template parameters).
fn member(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

#[cfg(test)]
mod tests;
