//! `src/api/openapi.json`: generated from the route table and the request and reply types
//! (`edge_router::api::openapi::document`, written by `router openapi`), and checked here
//! against the route table the worker really dispatches with
//! (`edge_router::api::routes::ROUTES`) and the serde types of the request bodies.
//!
//! The end-to-end tests check the other half: the document the worker serves at
//! `/v2/openapi.json` is this file and every operation in it is served
//! (`tests/e2e/api.test.mjs`); the public routes send CORS headers and the management
//! routes none (`tests/e2e/campaigns.test.mjs`).
// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};

use edge_router::api::auth::Scope;
use edge_router::api::campaigns::CreateCampaign;
use edge_router::api::conversions::{ConversionInput, TestConversionInput};
use edge_router::api::domains::{AddDomain, DecideDomain};
use edge_router::api::pages::{page_schema, PageInput, SiteTokenRequest};
use edge_router::api::routes::{Route, ROUTES};
use edge_router::api::support::SupportReport;
use edge_router::model::config::{HandleConfig, RuleDoc, TemplateDoc, VariantDoc};
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
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    resolve_in(doc, doc, value).1
}

/// Follows local `$ref`s against `base`, the innermost enclosing schema resource: the
/// document itself, or an embedded JSON Schema with its own `$id` (such as the page
/// document schema, whose `#/$defs/...` references are relative to it). Returns the
/// resource the result lives in and the result.
fn resolve_in<'a>(
    doc: &'a Value,
    mut base: &'a Value,
    mut value: &'a Value,
) -> (&'a Value, &'a Value) {
    for _ in 0..16 {
        if value.get("$id").is_some() {
            base = value;
        }
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return (base, value);
        };
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        if pointer.starts_with("/components/") {
            base = doc;
        }
        value = base
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

/// The committed document is the generated one: nothing in it is kept by hand.
#[test]
fn the_committed_document_is_generated() {
    let generated = edge_router::api::openapi::document();
    assert!(
        document() == generated,
        "src/api/openapi.json is stale: run `cargo run --bin router -- openapi --out src/api/openapi.json`"
    );
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
            None if route.any_scope => {
                assert_eq!(
                    security,
                    &vec![json!({ "bearerAuth": [] })],
                    "{}: a route for any management credential requires bearerAuth without scopes",
                    op.name()
                );
                assert!(op.op.get("x-required-scope").is_none(), "{}", op.name());
                let description = op.op["description"].as_str().unwrap_or_default();
                assert!(description.contains("any scopes"), "{}", op.name());
            }
            None if route.site_token => {
                assert_eq!(
                    security,
                    &vec![json!({ "siteToken": [] })],
                    "{}: a site-token route requires the siteToken scheme, and only it",
                    op.name()
                );
                assert_eq!(op.op["x-site-token"], true, "{}: x-site-token", op.name());
                assert!(op.op.get("x-required-scope").is_none(), "{}", op.name());
            }
            None => {
                assert!(route.is_public(), "{}", op.name());
                assert!(
                    security.is_empty(),
                    "{}: a public route has `security: []`",
                    op.name()
                );
                assert!(op.op.get("x-required-scope").is_none(), "{}", op.name());
                assert!(op.op.get("x-site-token").is_none(), "{}", op.name());
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

/// The site-token scheme says how a site token is minted, what it is good for and how it
/// fails; the minting route is documented with the scope the route table gives it.
#[test]
fn the_site_token_scheme_is_documented() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["siteToken"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let text = scheme["description"].as_str().unwrap_or_default();
    let mint = "/v2/handles/{handle}/campaigns/{campaignId}/site-tokens";
    for needle in [
        mint,
        "pages:write",
        "TOKEN_SECRET",
        "missing_token",
        "invalid_token",
        "token_expired",
        "wrong_handle",
        "wrong_campaign",
    ] {
        assert!(
            text.contains(needle),
            "siteToken's description names {needle}"
        );
    }
    let minting = ROUTES
        .iter()
        .find(|r| r.method == "POST" && r.pattern == mint)
        .expect("the site-token route is served");
    assert_eq!(
        doc["paths"][mint]["post"]["x-required-scope"].as_str(),
        minting.scope.map(Scope::as_str)
    );
    // Every route that takes a site token is under /v2/public/.
    for route in ROUTES.iter().filter(|r| r.site_token) {
        assert!(
            route.pattern.starts_with("/v2/public/"),
            "{}",
            route.pattern
        );
    }
}

/// CORS: the public routes (under `/v2/public/` and the support report) say so, and every
/// response of theirs, errors included, declares `Access-Control-Allow-Origin`; no
/// management route does.
#[test]
fn cors_is_documented_on_the_public_routes_only() {
    let doc = document();
    for op in operations(&doc) {
        let cors = op.path.starts_with("/v2/public/") || op.path == "/v2/support/report";
        assert_eq!(
            op.op
                .get("x-cors")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            cors,
            "{}: x-cors",
            op.name()
        );
        for (code, response) in op.responses() {
            assert_eq!(
                response_header(&doc, response, "Access-Control-Allow-Origin"),
                cors,
                "{} {code}: Access-Control-Allow-Origin",
                op.name()
            );
        }
        if cors {
            let description = op.op["description"].as_str().unwrap_or_default();
            assert!(
                description.contains("CORS"),
                "{}: the description mentions CORS",
                op.name()
            );
        }
    }
    let info = doc["info"]["description"].as_str().unwrap_or_default();
    assert!(info.contains("OPTIONS") && info.contains("Access-Control-Allow-Headers"));
}

/// Success responses whose body carries the snapshot `version` declare the
/// `X-Snapshot-Version` header the worker sends with it.
#[test]
fn replies_with_a_version_declare_x_snapshot_version() {
    let doc = document();
    for op in operations(&doc) {
        for (code, response) in op.responses() {
            if !code.starts_with('2') {
                continue;
            }
            let schema = resolve(
                &doc,
                &resolve(&doc, response)["content"]["application/json"]["schema"],
            );
            let carries = schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|n| n == "version"));
            assert_eq!(
                response_header(&doc, response, "X-Snapshot-Version"),
                carries,
                "{} {code}: X-Snapshot-Version exactly when the body has a version",
                op.name()
            );
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

/// A conversion cannot be recorded without an `Idempotency-Key` (it is what makes it count
/// once); every other write takes one optionally.
#[test]
fn the_conversion_requires_its_idempotency_key() {
    let doc = document();
    for op in operations(&doc) {
        let keys: Vec<&Value> = op
            .parameters(&doc)
            .into_iter()
            .filter(|p| p["in"] == "header" && p["name"] == "Idempotency-Key")
            .collect();
        let Some(key) = keys.first() else { continue };
        assert_eq!(keys.len(), 1, "{}: one Idempotency-Key", op.name());
        let conversion = op.path == "/v2/public/conversions";
        assert_eq!(
            key["required"],
            json!(conversion),
            "{}: Idempotency-Key required exactly on the conversion",
            op.name()
        );
        assert_eq!(key["schema"]["maxLength"], 255, "{}", op.name());
    }
}

/// The error codes specific to each new route are named in the response that carries them.
#[test]
fn route_specific_error_codes_are_documented() {
    let doc = document();
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "POST",
            "/v2/handles/{handle}/campaigns",
            "409",
            &["campaign_exists", "idempotency_key_reuse"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns",
            "400",
            &["invalid_body", "invalid_json"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns",
            "422",
            &["validation_failed"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/test-conversion",
            "404",
            &["campaign_not_found", "variant_not_found"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/activate",
            "409",
            &["invalid_transition"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/pause",
            "409",
            &["invalid_transition"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/resume",
            "409",
            &["invalid_transition"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/cancel",
            "409",
            &["invalid_transition"],
        ),
        (
            "GET",
            "/v2/handles/{handle}/campaigns/{campaignId}",
            "404",
            &["campaign_not_found"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/test-conversion",
            "400",
            &["invalid_ctx"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/site-structure/campaigns/{campaignId}/publish",
            "409",
            &["nothing_to_publish"],
        ),
        (
            "POST",
            "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}/publish",
            "409",
            &["nothing_to_publish"],
        ),
        (
            "GET",
            "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}",
            "404",
            &["page_not_found"],
        ),
        (
            "PUT",
            "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}",
            "401",
            &["missing_token", "invalid_token", "token_expired"],
        ),
        (
            "PUT",
            "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}",
            "403",
            &["wrong_handle", "wrong_campaign"],
        ),
        (
            "POST",
            "/v2/public/conversions",
            "400",
            &["invalid_ctx", "invalid_parameter"],
        ),
        (
            "POST",
            "/v2/public/conversions",
            "409",
            &["idempotency_key_reuse"],
        ),
        (
            "PUT",
            "/v2/handles/{handle}/configuration",
            "400",
            &["invalid_body", "invalid_json"],
        ),
        (
            "PUT",
            "/v2/handles/{handle}/configuration",
            "422",
            &["validation_failed"],
        ),
        (
            "PUT",
            "/v2/handles/{handle}/configuration",
            "404",
            &["handle_not_found"],
        ),
        (
            "GET",
            "/v2/handles/{handle}/configuration",
            "404",
            &["handle_not_found"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/promote",
            "404",
            &["campaign_not_found", "variant_not_found"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/promote",
            "409",
            &["invalid_transition"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/campaigns/{campaignId}/promote",
            "422",
            &["validation_failed"],
        ),
        (
            "GET",
            "/v2/handles/{handle}/changes",
            "400",
            &["invalid_parameter"],
        ),
        (
            "GET",
            "/v2/handles/{handle}/changes/{version}",
            "404",
            &["version_not_found"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/changes/{version}/restore",
            "404",
            &["version_not_found"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/changes/{version}/restore",
            "409",
            &["already_current"],
        ),
        (
            "POST",
            "/v2/handles/{handle}/changes/{version}/restore",
            "422",
            &["validation_failed"],
        ),
    ];
    let codes = error_codes(&doc);
    for (method, path, status, needles) in cases {
        let op = &doc["paths"][*path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is documented");
        let response = resolve(&doc, &op["responses"][*status]);
        let text = format!(
            "{} {}",
            response["description"].as_str().unwrap_or_default(),
            op["description"].as_str().unwrap_or_default()
        );
        for needle in *needles {
            assert!(
                text.contains(&format!("`{needle}`")),
                "{method} {path} {status} names `{needle}`: {text}"
            );
            assert!(codes.contains(*needle), "ErrorEnvelope lists {needle}");
        }
    }
}

/// Every code the error envelope's `code` can take.
fn error_codes(doc: &Value) -> BTreeSet<String> {
    let error = resolve(
        doc,
        &doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["error"],
    );
    let code = resolve(doc, &error["properties"]["code"]);
    let consts = code["oneOf"]
        .as_array()
        .map(|alternatives| alternatives.iter().map(|a| &a["const"]).collect::<Vec<_>>())
        .or_else(|| code["enum"].as_array().map(|e| e.iter().collect()))
        .expect("the code is an enumeration");
    consts
        .into_iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect()
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
        if !route.is_public() {
            // Token (401), handle/scope or campaign (403), throttle (429), unknown handle,
            // campaign or page (404), storage (503).
            expected.extend(["401", "403", "404", "429", "503"]);
        } else if route.pattern != "/v2/openapi.json" {
            // Public routes are throttled per client address and read storage.
            expected.extend(["429", "503"]);
        }
        let body_read = matches!(route.method, "POST" | "PUT");
        if body_read && route.pattern != "/v2/openapi.json" {
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
    let error = resolve(&doc, &envelope["properties"]["error"]);
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
    /// `base` is the innermost schema resource: references inside an embedded schema with
    /// an `$id` (the page document schema) resolve against it, `#/components/...` against
    /// the document.
    fn walk(doc: &Value, base: &Value, value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                let base = if map.contains_key("$id") { value } else { base };
                if let Some(Value::String(r)) = map.get("$ref") {
                    let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{at}: {r}"));
                    let root = if pointer.starts_with("/components/") {
                        doc
                    } else {
                        base
                    };
                    assert!(
                        root.pointer(pointer).is_some(),
                        "{at}: {r} does not resolve"
                    );
                }
                for (k, v) in map {
                    walk(doc, base, v, &format!("{at}/{k}"));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(doc, base, v, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    let doc = document();
    walk(&doc, &doc, &doc, "#");
}

// ---------------------------------------------------------------------------------------
// Request body schemas against the serde types the worker parses them into.

/// A value for every property the schema documents (recursively), enough for serde.
fn example(doc: &Value, schema: &Value) -> Value {
    example_in(doc, doc, schema)
}

fn example_in(doc: &Value, base: &Value, schema: &Value) -> Value {
    let (base, schema) = resolve_in(doc, base, schema);
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[0].clone();
    }
    if let Some(first) = ["oneOf", "allOf", "anyOf"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Value::as_array))
        .and_then(|a| a.first())
    {
        return example_in(doc, base, first);
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
        "array" => json!([example_in(doc, base, &schema["items"])]),
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    out.insert(name.clone(), example_in(doc, base, prop));
                }
            } else if let Some(additional) =
                schema.get("additionalProperties").filter(|v| v.is_object())
            {
                out.insert("name".into(), example_in(doc, base, additional));
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

/// The field names of serde's "unknown field `x`, expected one of `a`, `b`" (or "expected
/// `a`") message.
fn serde_fields(message: &str) -> BTreeSet<String> {
    let list = message
        .split_once("expected ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
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
    check_body_with::<T>(doc, schema_name, always, &[]);
}

/// As [`check_body`], where `by_handler` are required by the handler rather than by serde
/// (documented required; serde takes them missing and the handler refuses them).
fn check_body_with<T: DeserializeOwned>(
    doc: &Value,
    schema_name: &str,
    always: &[&str],
    by_handler: &[&str],
) {
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
    let refused = parses::<T>(&extra).expect_err("an unknown field is refused");
    // serde names every field it knows in that error: each must be documented.
    let known = serde_fields(&refused);
    let documented: BTreeSet<String> = full
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        known, documented,
        "{schema_name}: the schema documents exactly the fields serde knows ({refused})"
    );
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = full.as_object().expect("an object").clone();
    for name in by_handler {
        assert!(
            required.contains(name),
            "{schema_name}.{name}: documented as required"
        );
    }
    let by_serde = |n: &&String| !always.contains(&n.as_str()) && !by_handler.contains(&n.as_str());
    for name in props.keys().filter(by_serde) {
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
    check_body::<TemplateDoc>(&doc, "TemplateDoc", &[]);
    check_body::<CreateCampaign>(&doc, "CreateCampaignRequest", &[]);
    check_body::<VariantDoc>(&doc, "VariantDoc", &[]);
    check_body::<TestConversionInput>(&doc, "TestConversionRequest", &[]);
    check_body::<SiteTokenRequest>(&doc, "SiteTokenRequest", &[]);
    check_body::<PageInput>(&doc, "PageInput", &[]);
    check_body_with::<ConversionInput>(&doc, "ConversionRequest", &[], &["ctx"]);
    check_body::<SupportReport>(&doc, "SupportReportRequest", &[]);
    check_body::<edge_router::api::pages::EntitlementRequest>(&doc, "EntitlementRequest", &[]);
    check_body::<HandleConfig>(&doc, "HandleConfig", &[]);
    check_body::<edge_router::api::campaigns::PromoteRequest>(&doc, "PromoteRequest", &[]);
}

/// The page document schema in the OpenAPI document is the one the worker validates with
/// and serves publicly, and both page writes take it.
#[test]
fn the_page_document_schema_is_the_served_one() {
    let doc = document();
    // Embedded, its `#/$defs/...` references are made absolute (a tool resolves `#` against
    // the document's root); otherwise it is the served schema.
    let documented = doc["components"]["schemas"]["CampaignPageDocument"].to_string();
    let served = page_schema().to_string().replace(
        "\"#/$defs/",
        "\"#/components/schemas/CampaignPageDocument/$defs/",
    );
    assert_eq!(
        documented, served,
        "components.schemas.CampaignPageDocument is pages::page_schema()"
    );
    for (method, path) in [
        (
            "put",
            "/v2/handles/{handle}/site-structure/campaigns/{campaignId}",
        ),
        (
            "put",
            "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}",
        ),
    ] {
        assert_eq!(
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/PageInput",
            "{method} {path}"
        );
    }
    let schema_route = "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}/schema";
    let served = &doc["paths"][schema_route]["get"]["responses"]["200"];
    assert_eq!(
        served["content"]["application/json"]["schema"],
        json!({ "type": "object" }),
        "the route answers a JSON Schema, not a page document"
    );
    assert!(served["description"]
        .as_str()
        .is_some_and(|d| d.contains("CampaignPageDocument")));
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
            "TemplateDoc",
        ),
        (
            ("POST", "/v2/handles/{handle}/preview-tokens"),
            "PreviewTokenRequest",
        ),
        (
            ("POST", "/v2/handles/{handle}/campaigns"),
            "CreateCampaignRequest",
        ),
        (
            (
                "POST",
                "/v2/handles/{handle}/campaigns/{campaignId}/test-conversion",
            ),
            "TestConversionRequest",
        ),
        (
            (
                "POST",
                "/v2/handles/{handle}/campaigns/{campaignId}/site-tokens",
            ),
            "SiteTokenRequest",
        ),
        (
            (
                "PUT",
                "/v2/handles/{handle}/site-structure/campaigns/{campaignId}",
            ),
            "PageInput",
        ),
        (
            (
                "PUT",
                "/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}",
            ),
            "PageInput",
        ),
        (
            ("PUT", "/v2/handles/{handle}/configuration"),
            "HandleConfig",
        ),
        (("POST", "/v2/public/conversions"), "ConversionRequest"),
        (
            ("POST", "/v2/handles/{handle}/entitlements"),
            "EntitlementRequest",
        ),
        (("POST", "/v2/support/report"), "SupportReportRequest"),
        (
            (
                "POST",
                "/v2/handles/{handle}/campaigns/{campaignId}/promote",
            ),
            "PromoteRequest",
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
