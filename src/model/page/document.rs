//! The campaign page document: its validation and its JSON Schema, both generated from one
//! table (`TOP`, `BLOCKS`) so they cannot drift apart.
//!
//! A document is `{title, summary?, locale?, blocks: [...]}`; each block has a `type`
//! among `hero`, `text`, `image`, `product_grid`, `cta`, `countdown`, `login_gate` and
//! that type's fields. Unknown fields are refused everywhere; text is 1 to N characters
//! (absent rather than empty); URLs are absolute https; times RFC 3339; product ids are
//! ids (`[A-Za-z0-9][A-Za-z0-9._-]{0,63}`). The serialised document is at most
//! [`MAX_DOCUMENT_BYTES`].

use serde_json::{json, Map, Value};
use url::Url;

use crate::model::diag::Diagnostics;
use crate::model::ids::is_valid_id;

/// Largest serialised document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
/// Most blocks per page.
pub const MAX_BLOCKS: usize = 50;
/// Most problems reported for one document.
const MAX_PROBLEMS: usize = 100;
/// Longest URL in a page.
const MAX_URL: usize = 2048;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string of 1 to `n` characters.
    Text(usize),
    /// An absolute https URL.
    Url,
    /// An RFC 3339 time.
    Time,
    /// A BCP 47 language tag such as `en-IN`.
    Locale,
    /// 1 to `n` product ids.
    Ids(usize),
    /// `{label, url}`.
    Link,
    /// The block list.
    Blocks,
}

/// A field of the document or of a block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

/// Fields of the document itself.
pub(crate) const TOP: &[Field] = &[
    req("title", Kind::Text(200)),
    opt("summary", Kind::Text(1000)),
    opt("locale", Kind::Locale),
    req("blocks", Kind::Blocks),
];

/// Fields of a link.
const LINK: &[Field] = &[req("label", Kind::Text(60)), req("url", Kind::Url)];

/// Block types and their fields (besides `type`).
pub(crate) const BLOCKS: &[(&str, &[Field])] = &[
    (
        "hero",
        &[
            req("heading", Kind::Text(200)),
            opt("subheading", Kind::Text(500)),
            opt("image", Kind::Url),
            opt("cta", Kind::Link),
        ],
    ),
    ("text", &[req("body", Kind::Text(10_000))]),
    (
        "image",
        &[
            req("src", Kind::Url),
            req("alt", Kind::Text(300)),
            opt("caption", Kind::Text(300)),
        ],
    ),
    (
        "product_grid",
        &[
            opt("title", Kind::Text(200)),
            req("products", Kind::Ids(48)),
        ],
    ),
    (
        "cta",
        &[req("label", Kind::Text(60)), req("url", Kind::Url)],
    ),
    (
        "countdown",
        &[req("until", Kind::Time), opt("label", Kind::Text(200))],
    ),
    ("login_gate", &[opt("message", Kind::Text(500))]),
];

/// Checks a page document, recording problems under `path` (e.g. `$.document`).
pub(crate) fn check(document: &Value, path: &str, diags: &mut Diagnostics) {
    let size = serde_json::to_vec(document).map_or(usize::MAX, |v| v.len());
    if size > MAX_DOCUMENT_BYTES {
        diags.error(
            "page_too_large",
            path,
            format!("page documents are at most {MAX_DOCUMENT_BYTES} bytes; this one is {size}"),
        );
        return;
    }
    object(document, TOP, &[], path, diags);
}

fn object(value: &Value, fields: &[Field], extra: &[&str], path: &str, diags: &mut Diagnostics) {
    let Some(map) = value.as_object() else {
        diags.error("invalid_type", path, "expected an object");
        return;
    };
    for key in map.keys() {
        if !fields.iter().any(|f| f.name == key) && !extra.contains(&key.as_str()) {
            let known: Vec<&str> = extra
                .iter()
                .copied()
                .chain(fields.iter().map(|f| f.name))
                .collect();
            diags.error(
                "unknown_field",
                format!("{path}.{key}"),
                format!("unknown field; known: {}", known.join(", ")),
            );
        }
    }
    for field in fields {
        let at = format!("{path}.{}", field.name);
        match map.get(field.name) {
            Some(value) => check_value(value, field.kind, &at, diags),
            None if field.required => diags.error("missing_field", at, "this field is required"),
            None => {}
        }
    }
}

fn check_value(value: &Value, kind: Kind, path: &str, diags: &mut Diagnostics) {
    match kind {
        Kind::Text(max) => {
            text(value, max, path, diags);
        }
        Kind::Url => {
            if let Some(raw) = text(value, MAX_URL, path, diags) {
                // Bytes, as for every destination (a URL travels as bytes).
                if raw.len() > MAX_URL {
                    diags.error(
                        "invalid_length",
                        path,
                        format!("a URL is at most {MAX_URL} bytes"),
                    );
                    return;
                }
                let ok = Url::parse(raw).is_ok_and(|u| {
                    u.scheme() == "https" && u.host_str().is_some() && u.username().is_empty()
                });
                if !ok {
                    diags.error("invalid_url", path, "expected an absolute https URL");
                }
            }
        }
        Kind::Time => {
            if let Some(raw) = text(value, 64, path, diags) {
                if chrono::DateTime::parse_from_rfc3339(raw).is_err() {
                    diags.error(
                        "invalid_time",
                        path,
                        "expected an RFC 3339 time such as 2026-11-01T00:00:00+05:30",
                    );
                }
            }
        }
        Kind::Locale => {
            if let Some(raw) = text(value, 35, path, diags) {
                if !is_locale(raw) {
                    diags.error(
                        "invalid_locale",
                        path,
                        "expected a BCP 47 language tag such as en-IN",
                    );
                }
            }
        }
        Kind::Ids(max) => list(value, max, path, diags, |item, at, diags| {
            if !item.as_str().is_some_and(is_valid_id) {
                diags.error(
                    "invalid_id",
                    at,
                    "product ids are 1 to 64 letters, digits, '-', '_' or '.'",
                );
            }
        }),
        Kind::Link => object(value, LINK, &[], path, diags),
        Kind::Blocks => list(value, MAX_BLOCKS, path, diags, block),
    }
}

fn text<'v>(value: &'v Value, max: usize, path: &str, diags: &mut Diagnostics) -> Option<&'v str> {
    let Some(s) = value.as_str() else {
        diags.error("invalid_type", path, "expected a string");
        return None;
    };
    let chars = s.chars().count();
    if chars == 0 || chars > max {
        diags.error(
            "invalid_length",
            path,
            format!("1 to {max} characters (leave the field out instead of sending it empty)"),
        );
        return None;
    }
    Some(s)
}

fn list(
    value: &Value,
    max: usize,
    path: &str,
    diags: &mut Diagnostics,
    item: impl Fn(&Value, &str, &mut Diagnostics),
) {
    let Some(items) = value.as_array() else {
        diags.error("invalid_type", path, "expected an array");
        return;
    };
    if items.is_empty() || items.len() > max {
        diags.error("invalid_length", path, format!("1 to {max} items"));
    }
    for (i, value) in items.iter().take(max).enumerate() {
        item(value, &format!("{path}[{i}]"), diags);
    }
}

fn block(value: &Value, path: &str, diags: &mut Diagnostics) {
    if !value.is_object() {
        diags.error("invalid_type", path, "expected an object");
        return;
    }
    let known = || {
        BLOCKS
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(kind) = value.get("type") else {
        diags.error(
            "missing_field",
            format!("{path}.type"),
            format!("every block has a type: {}", known()),
        );
        return;
    };
    let Some((_, fields)) = kind
        .as_str()
        .and_then(|k| BLOCKS.iter().find(|(name, _)| *name == k))
    else {
        diags.error(
            "unknown_block_type",
            format!("{path}.type"),
            format!("block types are {}", known()),
        );
        return;
    };
    object(value, fields, &["type"], path, diags);
}

/// Every URL of a document (one that passed [`check`]) with its JSON path under `path`,
/// found through the same tables: image sources, links, calls to action.
pub fn urls(document: &Value, path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(document, TOP, path, &mut out);
    out
}

fn collect(value: &Value, fields: &[Field], path: &str, out: &mut Vec<(String, String)>) {
    for field in fields {
        let Some(value) = value.get(field.name) else {
            continue;
        };
        let at = format!("{path}.{}", field.name);
        match field.kind {
            Kind::Url => {
                if let Some(url) = value.as_str() {
                    out.push((at, url.to_owned()));
                }
            }
            Kind::Link => collect(value, LINK, &at, out),
            Kind::Blocks => {
                for (i, block) in value.as_array().into_iter().flatten().enumerate() {
                    let kind = block.get("type").and_then(Value::as_str);
                    if let Some((_, fields)) = BLOCKS.iter().find(|(name, _)| Some(*name) == kind) {
                        collect(block, fields, &format!("{at}[{i}]"), out);
                    }
                }
            }
            Kind::Text(_) | Kind::Time | Kind::Locale | Kind::Ids(_) => {}
        }
    }
}

fn is_locale(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Trims the problem list of a pathological document.
pub(crate) fn cap(mut diagnostics: Vec<crate::Diagnostic>) -> Vec<crate::Diagnostic> {
    diagnostics.truncate(MAX_PROBLEMS);
    diagnostics
}

fn schema_of(kind: Kind) -> Value {
    match kind {
        Kind::Text(max) => json!({"type": "string", "minLength": 1, "maxLength": max}),
        Kind::Url => {
            json!({"type": "string", "format": "uri", "pattern": "^https://", "maxLength": MAX_URL, "description": "an absolute https URL of at most 2048 bytes whose host is routable on the handle's allowlist"})
        }
        Kind::Time => json!({"type": "string", "format": "date-time"}),
        Kind::Locale => json!({"type": "string", "maxLength": 35,
            "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"}),
        Kind::Ids(max) => json!({"type": "array", "minItems": 1, "maxItems": max,
            "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}}),
        Kind::Link => object_schema(LINK, None),
        Kind::Blocks => {
            let refs: Vec<Value> = BLOCKS
                .iter()
                .map(|(name, _)| json!({"$ref": format!("#/$defs/{name}")}))
                .collect();
            json!({"type": "array", "minItems": 1, "maxItems": MAX_BLOCKS, "items": {"oneOf": refs}})
        }
    }
}

fn object_schema(fields: &[Field], block_type: Option<&str>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    if let Some(name) = block_type {
        properties.insert("type".into(), json!({"const": name}));
        required.push("type");
    }
    for field in fields {
        properties.insert(field.name.into(), schema_of(field.kind));
        if field.required {
            required.push(field.name);
        }
    }
    json!({"type": "object", "properties": properties, "required": required,
        "additionalProperties": false})
}

/// The JSON Schema (2020-12) of a campaign page document, served publicly.
pub fn page_schema() -> Value {
    let mut schema = object_schema(TOP, None);
    let defs: Map<String, Value> = BLOCKS
        .iter()
        .map(|(name, fields)| ((*name).to_owned(), object_schema(fields, Some(name))))
        .collect();
    if let Some(map) = schema.as_object_mut() {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert(
            "$id".into(),
            json!("https://www.gharart.com/schemas/campaign-page.json"),
        );
        map.insert("title".into(), json!("Gharart campaign page document"));
        map.insert(
            "description".into(),
            json!(format!("The document of a site-structure campaign page; at most {MAX_DOCUMENT_BYTES} bytes serialised.")),
        );
        map.insert("$defs".into(), Value::Object(defs));
    }
    schema
}
