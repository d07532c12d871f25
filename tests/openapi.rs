//! `src/api/openapi.json` against the route table the worker really dispatches with
//! (`edge_router::api::routes::ROUTES`) and the serde types of the request bodies.
//!
//! The end-to-end test (`tests/e2e/api.test.mjs`) checks the other half: the document the
//! worker serves at `/v2/openapi.json` is this file, and every operation in it is served.

use std::collections::{BTreeMap, BTreeSet};

use edge_router::api::auth::Scope;
use edge_router::api::ops::{AddDomain, DecideDomain};
use edge_router::api::routes::{Route, ROUTES};
use edge_router::config::{RuleDoc, TemplateDoc};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json");
    let text = std::fs::read_to_string(path).expect("src/api/openapi.json is readable");
    serde_json::from_str(&text).expect("src/api/openapi.json is JSON")
}

/// Follows a local `$ref` (`#/components/...`) until a non-reference object.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} does not resolve"));
    }
    panic!("reference cycle at {value}")
}

/// One operation of the document with its path item.
struct Operation<'a> {
    method: String,
    path: String,
    item: &'a Value,
    op: &'a Value,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Path-level and operation-level parameters, resolved.
    fn parameters<'d>(&self, doc: &'d Value) -> Vec<&'d Value>
    where
        Self: 'd,
    {
        let level = |v: &'d Value| {
            v.get("parameters")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|p| resolve(doc, p)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut all = level(self.item);
        all.extend(level(self.op));
        all
    }

    fn responses(&self) -> &Map<String, Value> {
        self.op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{} has responses", self.name()))
    }

    fn route(&self) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.method == self.method && r.pattern == self.path)
            .unwrap_or_else(|| panic!("{} is not in ROUTES", self.name()))
    }
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item_map = item.as_object().expect("a path item is an object");
        for (key, op) in item_map {
            if METHODS.contains(&key.as_str()) {
                out.push(Operation {
                    method: key.to_ascii_uppercase(),
                    path: path.clone(),
                    item,
                    op,
                });
            } else {
                assert!(
                    matches!(key.as_str(), "parameters" | "summary" | "description"),
                    "{path}: unexpected path item key {key}"
                );
            }
        }
    }
    out
}

#[test]
fn is_openapi_3_1() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3.1."), "openapi {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
}

#[test]
fn operations_equal_the_route_table() {
    let doc = document();
    let documented: Vec<(String, String)> = operations(&doc)
        .iter()
        .map(|o| (o.method.clone(), o.path.clone()))
        .collect();
    let documented_set: BTreeSet<(String, String)> = documented.iter().cloned().collect();
    assert_eq!(documented.len(), documented_set.len(), "no operation twice");
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.pattern.to_owned()))
        .collect();
    assert_eq!(served.len(), ROUTES.len(), "ROUTES has no duplicates");
    let missing: Vec<_> = served.difference(&documented_set).collect();
    let extra: Vec<_> = documented_set.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented routes: {missing:?}; documented but not served: {extra:?}"
    );
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for op in operations(&doc) {
        let id = op.op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{} has an operationId", op.name()));
        assert!(seen.insert(id.to_owned()), "operationId {id} twice");
    }
}

#[test]
fn path_parameters_match_the_pattern() {
    let doc = document();
    for op in operations(&doc) {
        let in_pattern: BTreeSet<String> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let declared: Vec<&Value> = op
            .parameters(&doc)
            .into_iter()
            .filter(|p| p["in"] == "path")
            .collect();
        let names: BTreeSet<String> = declared
            .iter()
            .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, in_pattern, "{}: path parameters", op.name());
        for p in declared {
            assert_eq!(
                p["required"],
                true,
                "{}: {} is required",
                op.name(),
                p["name"]
            );
        }
    }
}

#[test]
fn security_and_scopes_follow_the_route_table() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let text = scheme["description"].as_str().unwrap_or_default();
    assert!(
        text.contains("PAT") && text.contains("HS256"),
        "bearerAuth says it takes a PAT or an HS256 JWT"
    );
    for op in operations(&doc) {
        let route = op.route();
        let security = op.op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{} states its security explicitly", op.name()));
        match route.scope {
            None => {
                assert!(
                    security.is_empty(),
                    "{}: a public route has `security: []`",
                    op.name()
                );
                assert!(op.op.get("x-required-scope").is_none(), "{}", op.name());
            }
            Some(scope) => {
                let name = scope.as_str();
                assert_eq!(
                    op.op["x-required-scope"].as_str(),
                    Some(name),
                    "{}: x-required-scope",
                    op.name()
                );
                assert_eq!(Scope::parse(name), Some(scope));
                assert_eq!(
                    security,
                    &vec![json!({ "bearerAuth": [name] })],
                    "{}: security requirement",
                    op.name()
                );
                let description = op.op["description"].as_str().unwrap_or_default();
                assert!(
                    description.contains(&format!("`{name}`")),
                    "{}: the description states the scope {name}",
                    op.name()
                );
            }
        }
    }
}

fn has_idempotency_key(doc: &Value, op: &Operation<'_>) -> bool {
    op.parameters(doc)
        .iter()
        .any(|p| p["in"] == "header" && p["name"] == "Idempotency-Key")
}

#[test]
fn writes_and_only_writes_take_an_idempotency_key() {
    let doc = document();
    for op in operations(&doc) {
        let route = op.route();
        assert_eq!(
            has_idempotency_key(&doc, &op),
            route.write,
            "{}: Idempotency-Key is declared exactly on writes",
            op.name()
        );
        assert_eq!(
            op.op["x-write"].as_bool(),
            Some(route.write),
            "{}: x-write",
            op.name()
        );
    }
    let key = &doc["components"]["parameters"]["IdempotencyKey"];
    assert_eq!(key["name"], "Idempotency-Key");
    assert_eq!(key["schema"]["maxLength"], 255);
}

fn response_header(doc: &Value, response: &Value, name: &str) -> bool {
    resolve(doc, response)
        .get("headers")
        .and_then(Value::as_object)
        .is_some_and(|h| h.contains_key(name))
}

#[test]
fn every_operation_documents_the_errors_it_can_produce() {
    let doc = document();
    for op in operations(&doc) {
        let route = op.route();
        let responses = op.responses();
        let has = |code: &str| responses.contains_key(code);
        let name = op.name();
        assert!(
            responses.keys().any(|c| c.starts_with('2')),
            "{name}: a success response"
        );
        let mut expected: Vec<&str> = Vec::new();
        if route.scope.is_some() {
            // Token (401), handle/scope (403), throttle (429), unknown handle (404),
            // storage (503).
            expected.extend(["401", "403", "404", "429", "503"]);
        }
        let body_read = matches!(route.method, "POST" | "PUT");
        if body_read && route.scope.is_some() {
            expected.extend(["400", "413"]);
        }
        if op.op.get("requestBody").is_some() {
            expected.push("400");
        }
        if route.write {
            // Idempotency-Key reuse or in progress; a bad key is a 400.
            expected.extend(["409", "400"]);
        }
        for code in expected {
            assert!(has(code), "{name}: documents {code}");
        }
        if has("401") {
            assert!(
                response_header(&doc, &responses["401"], "WWW-Authenticate"),
                "{name}: 401 has WWW-Authenticate"
            );
        }
        if has("429") {
            assert!(
                response_header(&doc, &responses["429"], "Retry-After"),
                "{name}: 429 has Retry-After"
            );
        }
        for (code, response) in responses {
            assert!(
                response_header(&doc, response, "X-Request-Id"),
                "{name} {code}: X-Request-Id"
            );
            if code.starts_with('4') || code.starts_with('5') {
                let schema = &resolve(&doc, response)["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorEnvelope",
                    "{name} {code}: the error envelope"
                );
            }
        }
        if route.write {
            let success = responses
                .iter()
                .find(|(c, _)| c.starts_with('2'))
                .map(|(_, r)| r)
                .expect("a success response");
            assert!(
                response_header(&doc, success, "Idempotent-Replayed"),
                "{name}: success documents Idempotent-Replayed"
            );
        }
    }
}

#[test]
fn the_error_envelope_is_shared_and_complete() {
    let doc = document();
    let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
    assert_eq!(envelope["required"], json!(["error"]));
    let error = &envelope["properties"]["error"];
    assert_eq!(error["required"], json!(["code", "message", "request_id"]));
    let props: BTreeSet<&str> = error["properties"]
        .as_object()
        .expect("error has properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        props,
        BTreeSet::from(["code", "message", "request_id", "details"])
    );
}

/// Every `$ref` anywhere in the document resolves.
#[test]
fn references_resolve() {
    fn walk(doc: &Value, value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{at}: {r}"));
                    assert!(doc.pointer(pointer).is_some(), "{at}: {r} does not resolve");
                }
                for (k, v) in map {
                    walk(doc, v, &format!("{at}/{k}"));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(doc, v, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    let doc = document();
    walk(&doc, &doc, "#");
}

// ---------------------------------------------------------------------------------------
// Request body schemas against the serde types the worker parses them into.

/// A value for every property the schema documents (recursively), enough for serde.
fn example(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[0].clone();
    }
    if let Some(first) = schema
        .get("oneOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return example(doc, first);
    }
    let kind = match &schema["type"] {
        Value::String(s) => s.as_str(),
        Value::Array(kinds) => kinds.first().and_then(Value::as_str).unwrap_or("null"),
        _ => "object",
    };
    match kind {
        "string" => json!("x"),
        "integer" => json!(schema["minimum"].as_i64().unwrap_or(0).max(1)),
        "number" => json!(1.0),
        "boolean" => json!(true),
        "array" => json!([example(doc, &schema["items"])]),
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    out.insert(name.clone(), example(doc, prop));
                }
            } else if let Some(additional) =
                schema.get("additionalProperties").filter(|v| v.is_object())
            {
                out.insert("name".into(), example(doc, additional));
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

fn parses<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(value.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks a request schema against `T`: every documented property is accepted, an
/// undocumented one is refused (the schema says `additionalProperties: false`), and
/// exactly the documented `required` properties are required (`always` stay present,
/// e.g. the rule `id` the handler fills in from the path).
fn check_body<T: DeserializeOwned>(doc: &Value, schema_name: &str, always: &[&str]) {
    let schema = &doc["components"]["schemas"][schema_name];
    assert_eq!(
        schema["additionalProperties"], false,
        "{schema_name}: unknown fields are refused, so the schema says so"
    );
    let mut full = example(doc, schema);
    for name in always {
        full[*name] = json!("x");
    }
    parses::<T>(&full).unwrap_or_else(|e| panic!("{schema_name}: {full} is refused: {e}"));
    let mut extra = full.clone();
    extra["undocumented_field"] = json!(1);
    assert!(
        parses::<T>(&extra).is_err(),
        "{schema_name}: an unknown field is refused"
    );
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = full.as_object().expect("an object").clone();
    for name in props.keys().filter(|n| !always.contains(&n.as_str())) {
        let mut without = full.clone();
        without.as_object_mut().expect("an object").remove(name);
        let outcome = parses::<T>(&without);
        assert_eq!(
            outcome.is_err(),
            required.contains(name.as_str()),
            "{schema_name}.{name}: documented as {}required, serde {}",
            if required.contains(name.as_str()) {
                ""
            } else {
                "not "
            },
            match &outcome {
                Ok(()) => "accepts it missing".to_owned(),
                Err(e) => format!("refuses it missing ({e})"),
            }
        );
    }
}

#[test]
fn request_schemas_match_the_serde_types() {
    let doc = document();
    check_body::<AddDomain>(&doc, "AddDomainRequest", &[]);
    check_body::<DecideDomain>(&doc, "DecideDomainRequest", &[]);
    check_body::<RuleDoc>(&doc, "RuleBody", &["id"]);
    check_body::<TemplateDoc>(&doc, "Template", &[]);
}

/// The request body schema each body-taking route names, so a route cannot silently
/// point at the wrong type.
#[test]
fn body_routes_name_their_schema() {
    let doc = document();
    let expected: BTreeMap<(&str, &str), &str> = BTreeMap::from([
        (
            ("POST", "/v2/handles/{handle}/destination-domains"),
            "AddDomainRequest",
        ),
        (
            (
                "POST",
                "/v2/handles/{handle}/destination-domains/{domain}/decision",
            ),
            "DecideDomainRequest",
        ),
        (
            ("PUT", "/v2/handles/{handle}/personalization-rules/{ruleId}"),
            "RuleBody",
        ),
        (
            ("POST", "/v2/handles/{handle}/tracking-templates"),
            "Template",
        ),
        (
            ("POST", "/v2/handles/{handle}/preview-tokens"),
            "PreviewTokenRequest",
        ),
    ]);
    for op in operations(&doc) {
        let named = op.op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"));
        let want = expected
            .get(&(op.method.as_str(), op.path.as_str()))
            .copied();
        assert_eq!(named, want, "{}: request body schema", op.name());
        if let Some(name) = want {
            assert_eq!(
                doc["components"]["schemas"][name]["additionalProperties"], false,
                "{name} refuses unknown fields"
            );
        }
    }
}
