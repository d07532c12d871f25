//! The OpenAPI 3.1 document of the management API, generated from the route table
//! ([`ROUTES`]), the words of each operation (`operations`), the error codes each can
//! answer (`errors`) and the request and reply types (their JSON Schemas, derived with
//! schemars from the same types the worker parses and serialises). `src/api/openapi.json`
//! is this document, pretty-printed (`router openapi`); a test keeps it equal, and the
//! worker serves that file at `/v2/openapi.json`. Native only: the worker does not carry
//! schemars.

mod errors;
mod operations;

use serde_json::{json, Map, Value};

use super::auth::Scope;
use super::campaigns::{CreateCampaign, PromoteRequest};
use super::conversions::{ConversionInput, TestConversionInput};
use super::domains::{AddDomain, DecideDomain};
use super::error::ErrorBody;
use super::handlers::PreviewTokenRequest;
use super::pages::{
    Entitlement, EntitlementRequest, PageInput, PageView, PublicPage, SiteToken, SiteTokenRequest,
};
use super::replies;
use super::routes::{Route, RouteId, ROUTES};
use super::support::SupportReport;
use crate::engine::device::DeviceCategory;
use crate::model::config::{HandleConfig, RuleDoc, TemplateDoc};
use crate::model::page::document::page_schema;

/// Where component schemas live.
const SCHEMAS: &str = "#/components/schemas/";

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths
            .entry(route.pattern.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.to_ascii_lowercase()] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Edge personalization router: management API",
            "version": "2.0.0",
            "description": INFO,
        },
        "servers": [{ "url": "http://127.0.0.1:8787", "description": "`make dev`" }],
        "security": [{ "bearerAuth": [] }],
        "tags": tags(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "PAT or JWT",
                    "description": BEARER,
                },
                "siteToken": {
                    "type": "http", "scheme": "bearer",
                    "bearerFormat": "site token (v1.<payload>.<mac>)",
                    "description": SITE_TOKEN,
                },
            },
            "parameters": parameters(),
            "headers": headers(),
            "schemas": schemas(),
        },
    })
}

/// The JSON Schemas of every request and reply type, under their component names.
fn schemas() -> Map<String, Value> {
    // Requests as the worker reads them, replies as it writes them: a field the worker
    // leaves out when empty (`skip_serializing_if`) is optional in a reply.
    let generator = |contract| {
        schemars::generate::SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.contract = contract;
            })
            .into_generator()
    };
    let mut requests = generator(schemars::generate::Contract::Deserialize);
    let mut replies = generator(schemars::generate::Contract::Serialize);
    macro_rules! register {
        ($generator:ident: $($t:ty),* $(,)?) => { $( $generator.subschema_for::<$t>(); )* };
    }
    register!(requests:
        AddDomain,
        DecideDomain,
        RuleDoc,
        TemplateDoc,
        HandleConfig,
        PreviewTokenRequest,
        CreateCampaign,
        PromoteRequest,
        TestConversionInput,
        SiteTokenRequest,
        EntitlementRequest,
        PageInput,
        ConversionInput,
        SupportReport,
    );
    register!(replies:
        ErrorBody,
        SiteToken,
        Entitlement,
        PageView<'static>,
        PublicPage<'static>,
        replies::DomainList,
        replies::DomainWriteResult,
        replies::VerifyResult,
        replies::RuleList,
        replies::RuleWriteResult,
        replies::RuleDeleteResult,
        replies::TemplateList,
        replies::TemplateWriteResult,
        replies::RoutePreview,
        replies::RuleAudit,
        replies::PreviewToken,
        replies::Configuration,
        replies::ConfigurationWriteResult,
        replies::CampaignList,
        replies::CampaignResult,
        replies::TransitionResult,
        replies::CampaignHealth,
        replies::CampaignResultsReply,
        replies::TestConversionResult,
        replies::ConversionResult,
        replies::SupportReportResult,
        replies::WhoAmI,
        replies::ChangeList,
        replies::ChangeDetail,
        replies::RestoreResult,
        replies::PromoteResult,
    );
    let mut schemas = requests.take_definitions(true);
    for (name, schema) in replies.take_definitions(true) {
        // A type read and written alike (the configuration documents) keeps the schema it
        // is read with: the worker writes every field it reads, so a reply also fits it.
        schemas.entry(name).or_insert(schema);
    }
    // A rule PUT may leave out the id: the path gives it.
    if let Some(mut body) = schemas.get("RuleDoc").cloned() {
        if let Some(required) = body.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| r != "id");
        }
        if let Some(map) = body.as_object_mut() {
            map.insert("description".into(), json!("A rule document as a PUT body: `id` may be left out (the path gives it) or must equal the path's."));
        }
        schemas.insert("RuleBody".into(), body);
    }
    // The page document schema, served standalone at `.../schema` with its own `$defs`,
    // is embedded here with its references made absolute.
    let mut page = page_schema();
    absolute_refs(
        &mut page,
        "#/$defs/",
        "#/components/schemas/CampaignPageDocument/$defs/",
    );
    schemas.insert("CampaignPageDocument".into(), page);
    if let Some(document) = schemas
        .get_mut("PageInput")
        .and_then(|input| input.pointer_mut("/properties/document"))
    {
        let description = document.get("description").cloned().unwrap_or(Value::Null);
        *document =
            json!({ "$ref": format!("{SCHEMAS}CampaignPageDocument"), "description": description });
    }
    for schema in schemas.values_mut() {
        bound_integers(schema);
    }
    let mut sorted: Vec<(String, Value)> = schemas.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().collect()
}

/// States the range of every sized integer (schemars names the format, `uint32`, but a
/// client generating values needs the bound: the worker refuses 2^32 for a `u32`).
fn bound_integers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let range: Option<(i128, i128)> = match map.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0, u8::MAX.into())),
                Some("uint16") => Some((0, u16::MAX.into())),
                Some("uint32") => Some((0, u32::MAX.into())),
                Some("uint64") => Some((0, u64::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((min, max)) = range {
                map.entry("minimum").or_insert_with(|| json!(min));
                map.entry("maximum").or_insert_with(|| json!(max));
            }
            map.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// Rewrites `$ref`s that start with `from` to start with `to`.
fn absolute_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(rest) = r.strip_prefix(from) {
                    *r = format!("{to}{rest}");
                }
            }
            map.values_mut().for_each(|v| absolute_refs(v, from, to));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolute_refs(v, from, to)),
        _ => {}
    }
}

fn is_cors(route: &Route) -> bool {
    super::service::is_cors_path(route.pattern)
}

/// One operation: its words, parameters, body, responses and security.
fn operation(route: &Route) -> Value {
    let doc = operations::doc(route.id);
    let mut op = Map::new();
    op.insert("operationId".into(), json!(doc.id));
    op.insert("summary".into(), json!(doc.summary));
    op.insert(
        "description".into(),
        json!(description(route, doc.description)),
    );
    op.insert("tags".into(), json!([doc.tag]));
    let parameters = operation_parameters(route);
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(schema) = doc.request {
        // The token routes take an optional body (`{}` or none: the defaults).
        let required = !matches!(route.id, RouteId::MintPreviewToken | RouteId::MintSiteToken);
        op.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": { "application/json": { "schema": { "$ref": format!("{SCHEMAS}{schema}") } } },
            }),
        );
    }
    let mut responses = Map::new();
    for success in doc.success {
        responses.insert(success.status.to_string(), success_response(route, success));
    }
    for (status, codes) in errors::codes(route) {
        responses.insert(status.to_string(), error_response(route, status, &codes));
    }
    op.insert("responses".into(), Value::Object(responses));
    match (route.scope, route.site_token) {
        (Some(scope), _) => {
            op.insert(
                "security".into(),
                json!([{ "bearerAuth": [scope.as_str()] }]),
            );
            op.insert("x-required-scope".into(), json!(scope.as_str()));
        }
        (None, true) => {
            op.insert("security".into(), json!([{ "siteToken": [] }]));
            op.insert("x-site-token".into(), json!(true));
        }
        (None, false) if route.any_scope => {
            op.insert("security".into(), json!([{ "bearerAuth": [] }]));
        }
        (None, false) => {
            op.insert("security".into(), json!([]));
        }
    }
    op.insert("x-write".into(), json!(route.write));
    if is_cors(route) {
        op.insert("x-cors".into(), json!(true));
    }
    Value::Object(op)
}

/// The operation's words, then what follows from the route table.
fn description(route: &Route, words: &str) -> String {
    let mut parts = vec![words.to_owned()];
    match (route.scope, route.site_token) {
        (Some(Scope::Admin), _) => parts.push("Requires a bearer token (PAT or HS256 JWT) for the path's handle with the scope `admin`.".into()),
        (Some(scope), _) => parts.push(format!("Requires a bearer token (PAT or HS256 JWT) for the path's handle with the scope `{}` (or `admin`, which implies every scope).", scope.as_str())),
        (None, true) => parts.push("Requires a site token for this campaign (`siteToken`).".into()),
        (None, false) if route.any_scope => parts.push("Requires a bearer token (PAT or HS256 JWT) for the path's handle, with any scopes.".into()),
        (None, false) if route.id != RouteId::OpenApi => parts.push("Public: no credential; throttled per client address.".into()),
        (None, false) => {}
    }
    if route.write {
        parts.push(if route.is_public() {
            "Counts as a write: the per-address throttle.".into()
        } else {
            "Counts as a write: per-route write throttle, the daily write limit of the handle, and `Idempotency-Key` replays.".into()
        });
    }
    if is_cors(route) {
        parts.push("CORS: every response carries `Access-Control-Allow-Origin: *`; a preflight `OPTIONS` is answered 204.".into());
    }
    parts.join("\n\n")
}

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

fn cors_headers(route: &Route, headers: &mut Map<String, Value>) {
    if is_cors(route) {
        for name in [
            "Access-Control-Allow-Origin",
            "Access-Control-Expose-Headers",
        ] {
            headers.insert(name.into(), header_ref(name));
        }
    }
}

fn success_response(route: &Route, success: &operations::Success) -> Value {
    let mut headers = Map::new();
    headers.insert("X-Request-Id".into(), header_ref("X-Request-Id"));
    if success.schema.is_some_and(carries_version) {
        headers.insert(
            "X-Snapshot-Version".into(),
            header_ref("X-Snapshot-Version"),
        );
    }
    if route.write {
        headers.insert(
            "Idempotent-Replayed".into(),
            header_ref("Idempotent-Replayed"),
        );
    }
    cors_headers(route, &mut headers);
    let schema = match success.schema {
        Some(name) => json!({ "$ref": format!("{SCHEMAS}{name}") }),
        None => json!({ "type": "object" }),
    };
    json!({
        "description": success.description,
        "headers": headers,
        "content": { "application/json": { "schema": schema } },
    })
}

/// Whether a reply schema has a required `version` (the worker sends
/// `X-Snapshot-Version` with those).
fn carries_version(name: &str) -> bool {
    thread_local! {
        static SCHEMAS: Map<String, Value> = schemas();
    }
    SCHEMAS.with(|s| {
        s.get(name)
            .and_then(|schema| schema["required"].as_array())
            .is_some_and(|r| r.iter().any(|n| n == "version"))
    })
}

fn error_response(route: &Route, status: u16, codes: &[super::error::ErrorCode]) -> Value {
    let list: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    let mut headers = Map::new();
    headers.insert("X-Request-Id".into(), header_ref("X-Request-Id"));
    match status {
        401 => {
            headers.insert("WWW-Authenticate".into(), header_ref("WWW-Authenticate"));
        }
        429 | 503 => {
            headers.insert("Retry-After".into(), header_ref("Retry-After"));
        }
        _ => {}
    }
    cors_headers(route, &mut headers);
    json!({
        "description": format!("{}: {}.", errors::meaning(status), list.join(", ")),
        "headers": headers,
        "content": { "application/json": { "schema": { "$ref": format!("{SCHEMAS}ErrorEnvelope") } } },
    })
}

fn path_parameter(name: &str, description: &str, pattern: Option<&str>) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("string"));
    schema.insert("minLength".into(), json!(1));
    if let Some(pattern) = pattern {
        schema.insert("pattern".into(), json!(pattern));
    }
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

/// The shared parameters.
fn parameters() -> Value {
    let key = |required: bool, description: &str| {
        json!({
            "name": "Idempotency-Key", "in": "header", "required": required,
            "description": description,
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
        })
    };
    json!({
        "handle": path_parameter("handle", "The tenant, e.g. `gharart`. Must equal the token's handle.", Some(SLUG)),
        "domain": path_parameter("domain", "A listed destination domain (looked up after normalisation; percent-encode `*` as needed).", None),
        "ruleId": path_parameter("ruleId", "Rule id: 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit.", Some(ID)),
        "campaignId": path_parameter("campaignId", "Campaign id: 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit (a UUID v4 when the creator gave none).", Some(ID)),
        "version": path_parameter("version", "A version of the handle's configuration, as the change history lists it (1 or more).", Some(VERSION)),
        "IdempotencyKey": key(false, IDEMPOTENCY),
        "ConversionIdempotencyKey": key(true, CONVERSION_IDEMPOTENCY),
    })
}

/// The parameters of one operation.
fn operation_parameters(route: &Route) -> Vec<Value> {
    let reference = |name: &str| json!({ "$ref": format!("#/components/parameters/{name}") });
    let mut out: Vec<Value> = route
        .pattern
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(reference)
        .collect();
    if route.write {
        out.push(reference(if route.id == RouteId::Conversion {
            "ConversionIdempotencyKey"
        } else {
            "IdempotencyKey"
        }));
    }
    let query = |name: &str, required: bool, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema });
    if route.id == RouteId::ListChanges {
        out.push(query(
            "before",
            false,
            "Only versions below this one (the previous page's `next_before`).",
            json!({ "type": "string", "pattern": VERSION }),
        ));
        out.push(query(
            "limit",
            false,
            "Entries per page, 1 to 100 (default 20).",
            json!({ "type": "string", "pattern": "^(?:[1-9][0-9]?|100)$" }),
        ));
    }
    if route.id == RouteId::GetChange {
        out.push(query(
            "configuration",
            false,
            "`true` to include the whole configuration of that version (scope `admin`).",
            json!({ "type": "string", "enum": ["true", "false"] }),
        ));
    }
    if route.id == RouteId::CampaignResults {
        out.push(query(
            "event",
            false,
            "The event the results headline (`primary_event`); default `purchase`, or the event with the most converting visitors when nothing converted on `purchase`. Every event is reported either way.",
            json!({ "type": "string", "pattern": "^[a-z0-9_.-]{1,64}$" }),
        ));
    }
    if route.id == RouteId::RoutePreview {
        let query = |name: &str, required: bool, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema });
        out.push(query(
            "entry",
            true,
            "The entry slug.",
            json!({ "type": "string", "pattern": SLUG }),
        ));
        let country = format!("(?:[A-Za-z]{{2}}|{})", any_case("unknown"));
        out.push(query(
            "countries",
            false,
            "Comma-separated ISO 3166-1 alpha-2 codes (either case); `unknown` (or `XX`) for the unknown country; at most 60.",
            json!({ "type": "string", "pattern": list_of(&country, 60) }),
        ));
        let devices: Vec<String> = DeviceCategory::ALL
            .iter()
            .map(|d| any_case(d.as_str()))
            .collect();
        let device = format!("(?:{})", devices.join("|"));
        out.push(query(
            "devices",
            false,
            "Comma-separated device categories (either case); at most 5.",
            json!({ "type": "string", "pattern": list_of(&device, 5) }),
        ));
        out.push(query(
            "at",
            false,
            "RFC 3339 time to decide at (default now).",
            json!({ "type": "string", "format": "date-time" }),
        ));
    }
    out
}

fn headers() -> Value {
    let header =
        |description: &str, schema: Value| json!({ "description": description, "schema": schema });
    json!({
        "X-Request-Id": header("Identifies this request in logs; equal to `error.request_id`.", json!({ "type": "string" })),
        "Retry-After": header("Seconds until a retry can succeed.", json!({ "type": "integer", "minimum": 1 })),
        "Idempotent-Replayed": header("`true` when this is the stored response of an earlier request with the same Idempotency-Key.", json!({ "type": "string", "enum": ["true"] })),
        "WWW-Authenticate": header("`Bearer`.", json!({ "type": "string" })),
        "Allow": header("The methods the path allows.", json!({ "type": "string" })),
        "X-Snapshot-Version": header("The handle's configuration version this reply reflects (the body's `version`).", json!({ "type": "integer", "minimum": 0 })),
        "Access-Control-Allow-Origin": header("`*` on the public routes (CORS), on every response, errors included; never on management routes.", json!({ "type": "string", "enum": ["*"] })),
        "Access-Control-Expose-Headers": header("`X-Request-Id, Retry-After, Idempotent-Replayed` on the public routes.", json!({ "type": "string" })),
    })
}

fn tags() -> Value {
    json!([
        { "name": "destination-domains", "description": "UC-08: destination trust." },
        { "name": "personalization-rules", "description": "UC-08: rules and their audit." },
        { "name": "tracking-templates", "description": "UC-08: tracking templates." },
        { "name": "preview", "description": "Route previews and preview tokens." },
        { "name": "configuration", "description": "The whole configuration of a handle as one document: what `router push` publishes." },
        { "name": "meta", "description": "This document, and who a credential is." },
        { "name": "campaigns", "description": "UC-07: campaign lifecycle (draft, active, paused, canceled, completed), health and test conversions." },
        { "name": "campaign-pages", "description": "UC-07: site-structure campaign pages: draft, publish, public read, and public edits with a campaign-scoped site token." },
        { "name": "conversions", "description": "UC-07: conversions tied to a campaign variant by the ctx token of the redirect." },
        { "name": "support", "description": "End-user escalation." },
        { "name": "history", "description": "The change history of the configuration: who changed what and when, with a structured diff, and restoring an earlier version through the trust rules." },
    ])
}

/// A version of the change history (`api::history::parse_version`).
const VERSION: &str = "^[1-9][0-9]{0,15}$";
/// A handle or entry slug (`model::ids::is_valid_slug`).
const SLUG: &str = "^[a-z0-9][a-z0-9-]{0,62}$";
/// A rule, campaign, template or variant id (`model::ids::is_valid_id`).
const ID: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

/// A word in any case, as a pattern (`ab` is `[Aa][Bb]`).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
        .collect()
}

/// A comma-separated list of at most `max` items matching `item`, as the worker reads
/// one: blanks around items and empty items allowed.
fn list_of(item: &str, max: usize) -> String {
    let slot = format!(r"\s*(?:{item}\s*)?");
    format!("^{slot}(?:,{slot}){{0,{}}}$", max - 1)
}

const INFO: &str = include_str!("info.md");
const BEARER: &str = "`Authorization: Bearer <token>` with either a personal access token (PAT: `gr_pat_` + 32 or more URL-safe characters; stored only as its SHA-256 with the handle, scopes, subject, optional expiry; create one with `router pat --handle H --scopes \"...\"`) or an HS256 JWT signed with the worker's `JWT_SECRET` carrying `sub`, `handle`, `scopes` (array or space-separated) and `exp` (required; `nbf`/`iat` honoured; 60 s clock skew allowed; any other `alg` is refused). Scopes: rules:read rules:write domains:read domains:write domains:admin templates:read templates:write preview campaigns:read campaigns:write pages:write entitlements history:read admin (`admin` implies every scope). Failures: no header 401 `missing_token` (with `WWW-Authenticate: Bearer`); malformed, forged, unknown or revoked 401 `invalid_token`; expired 401 `token_expired`; another handle 403 `wrong_handle`; missing scope 403 `insufficient_scope`.";
const SITE_TOKEN: &str = "`Authorization: Bearer <site token>` on the public campaign-page writes (`PUT` and `POST .../publish` under `/v2/public/handles/{handle}/site-structure/campaigns/{campaignId}`), so the storefront's page editor can change one campaign's page without a management credential. Minted by `POST /v2/handles/{handle}/campaigns/{campaignId}/site-tokens` (scope `pages:write`; body `{\"ttl_seconds\": n}` optional, default 3600, at most 86400): an HMAC-SHA256-signed token (`v1.<payload>.<mac>`, key derived from the worker's `TOKEN_SECRET` for this kind of token only) whose claims are the handle, the campaign, `iat` and `exp`. It is good for that campaign's page only and cannot be revoked: keep it short-lived. PATs, JWTs, preview and ctx tokens are not site tokens, and a site token opens no management route. Failures: no header 401 `missing_token`; malformed, forged, another kind of token or issued in the future 401 `invalid_token`; expired 401 `token_expired`; another handle 403 `wrong_handle`; another campaign 403 `wrong_campaign`.";
const IDEMPOTENCY: &str = "Makes a retried write safe: the same key with the same method, path and body replays the stored response (with `Idempotent-Replayed: true`) instead of writing again; the same key with another request is 409 `idempotency_key_reuse`; while the first request still runs, 409 `idempotency_in_progress`. Keys are per handle and kept for 24 hours; 5xx answers are not stored.";
const CONVERSION_IDEMPOTENCY: &str = "Required: one key per conversion, the same for every retry of it. The first request with a key records the conversion (201); the same key with the same payload (compared on the canonical JSON of the body: key order, whitespace, `null` versus absent and `1` versus `1.0` do not matter) is counted once however often it is retried, also under concurrent retries (200, `duplicate: true`, `Idempotent-Replayed: true`); the same key with another payload is 409 `idempotency_key_reuse`. Missing or malformed: 400 `invalid_parameter` (checked after the ctx).";
