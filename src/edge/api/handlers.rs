//! The UC-08 route handlers: load, apply a core operation, commit, answer. All decisions
//! are the core's (`crate::api::ops`); this file only sequences I/O.

use std::rc::Rc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::kv::KvStore;
use worker::{D1Database, Fetch, Headers, Method, Request, RequestInit};

use super::db::{self, Current};
use crate::analysis::{audit, matrix};
use crate::api::auth::Principal;
use crate::api::body;
use crate::api::doh;
use crate::api::error::ApiError;
use crate::api::ops::{self, AddDomain, DecideDomain};
use crate::api::routes::{Params, RouteId};
use crate::edge::respond;
use crate::edge::settings::Settings;
use crate::engine::compile::Compiled;
use crate::engine::device::DeviceCategory;
use crate::model::config::{HandleConfig, TemplateDoc};
use crate::visit::tokens::{self, PreviewClaims, TokenKind};

/// What a handler has to work with.
pub(crate) struct Ctx {
    pub(crate) db: D1Database,
    pub(crate) kv: KvStore,
    pub(crate) settings: Rc<Settings>,
    pub(crate) principal: Principal,
    pub(crate) now: DateTime<Utc>,
    pub(crate) request_id: String,
    /// A hash of the client's address (public callers, reports).
    pub(crate) client: String,
    /// The request's `Idempotency-Key`, if any (conversions need it).
    pub(crate) idempotency_key: Option<String>,
}

impl Ctx {
    pub(crate) fn now_text(&self) -> String {
        self.now.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// A successful answer: status and JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    /// Extra response headers (e.g. `Idempotent-Replayed`).
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply with a status and a JSON body.
    pub(crate) fn new(status: u16, body: Value) -> Self {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }
}

pub(crate) fn ok(body: Value) -> Reply {
    Reply::new(200, body)
}

/// Loads, applies `change`, validates, and commits with compare-and-swap, retrying a lost
/// race from a fresh load (the change runs again on the newer configuration).
pub(crate) async fn mutate<T>(
    ctx: &Ctx,
    handle: &str,
    change: impl Fn(&mut HandleConfig) -> Result<T, ApiError>,
) -> Result<(T, u64, Compiled, HandleConfig), ApiError> {
    let mut attempt = 0;
    loop {
        let current = db::load(&ctx.db, &ctx.kv, handle).await?;
        let mut config = current.config.clone();
        let out = change(&mut config)?;
        let compiled = ops::checked(&config)?;
        match db::commit(
            &ctx.db,
            &ctx.kv,
            &current,
            &config,
            &ctx.principal.sub,
            &ctx.now_text(),
        )
        .await
        {
            Ok(version) => return Ok((out, version, compiled, config)),
            Err(ApiError::Conflict {
                code: "write_conflict",
                ..
            }) if attempt < 3 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) async fn current(ctx: &Ctx, handle: &str) -> Result<(Current, Compiled), ApiError> {
    let current = db::load(&ctx.db, &ctx.kv, handle).await?;
    let compiled = ops::checked(&current.config)?;
    Ok((current, compiled))
}

/// Runs the handler of a matched route.
pub(crate) async fn run(
    ctx: &Ctx,
    route: RouteId,
    params: &Params,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Reply, ApiError> {
    let handle = params.handle();
    let limit = ctx.settings.api_max_body_bytes;
    match route {
        RouteId::ListDomains => {
            let (current, _) = current(ctx, handle).await?;
            let threshold = current.config.risk_threshold;
            let domains: Vec<_> = current
                .config
                .domains
                .iter()
                .map(|d| ops::domain_view(d, threshold))
                .collect();
            Ok(ok(
                json!({ "handle": handle, "version": current.version, "risk_threshold": threshold, "domains": domains }),
            ))
        }
        RouteId::AddDomain => {
            let request: AddDomain = body::parse(body, limit)?;
            let token = format!(
                "gharart-verify={}",
                respond::hex(&respond::random_bytes::<16>())
            );
            let (name, version, _, config) = mutate(ctx, handle, |c| {
                ops::add_domain(c, request.clone(), token.clone())
            })
            .await?;
            let view = domain_view(&config, &name)?;
            Ok(Reply::new(
                201,
                json!({ "version": version, "domain": view }),
            ))
        }
        RouteId::VerifyDomain => {
            let raw = params.domain.as_deref().unwrap_or_default();
            let (current, _) = current(ctx, handle).await?;
            let name = current.config.domains[ops::find_domain(&current.config, raw)?]
                .domain
                .clone();
            let record = ops::txt_record_name(&name);
            let records = lookup_txt(&ctx.settings, &record).await?;
            let now = ctx.now_text();
            let (matched, version, _, config) = mutate(ctx, handle, |c| {
                let i = ops::find_domain(c, &name)?;
                Ok(ops::record_verification(&mut c.domains[i], &records, &now))
            })
            .await?;
            let view = domain_view(&config, &name)?;
            Ok(ok(
                json!({ "version": version, "domain": view, "check": { "record": record, "found": records, "matched": matched } }),
            ))
        }
        RouteId::DecideDomain => {
            let raw = params.domain.as_deref().unwrap_or_default();
            let request: DecideDomain = body::parse(body, limit)?;
            let (by, at) = (ctx.principal.sub.clone(), ctx.now_text());
            let (name, version, _, config) = mutate(ctx, handle, |c| {
                let i = ops::find_domain(c, raw)?;
                ops::decide_domain(&mut c.domains[i], request.clone(), &by, &at)?;
                Ok(c.domains[i].domain.clone())
            })
            .await?;
            Ok(ok(
                json!({ "version": version, "domain": domain_view(&config, &name)? }),
            ))
        }
        RouteId::ListRules => {
            let (current, compiled) = current(ctx, handle).await?;
            Ok(ok(
                json!({ "handle": handle, "version": current.version, "entries": current.config.entries, "rules": ops::rule_views(&current.config, &compiled) }),
            ))
        }
        RouteId::PutRule => {
            let id = params.rule_id.as_deref().unwrap_or_default();
            let value: Value = body::parse(body, limit)?;
            let (created, version, compiled, config) = mutate(ctx, handle, |c| {
                ops::put_rule(c, id, value.clone()).map(|(created, _)| created)
            })
            .await?;
            let rule = config
                .rules
                .iter()
                .find(|r| r.id == id)
                .map(|r| ops::rule_view(r, &compiled.warnings));
            Ok(Reply::new(
                if created { 201 } else { 200 },
                json!({ "version": version, "created": created, "rule": rule }),
            ))
        }
        RouteId::DeleteRule => {
            let id = params.rule_id.as_deref().unwrap_or_default();
            let ((), version, _, _) = mutate(ctx, handle, |c| ops::delete_rule(c, id)).await?;
            Ok(ok(json!({ "version": version, "deleted": id })))
        }
        RouteId::ListTemplates => {
            let (current, _) = current(ctx, handle).await?;
            Ok(ok(
                json!({ "handle": handle, "version": current.version, "default_template": current.config.default_template, "templates": current.config.templates }),
            ))
        }
        RouteId::PostTemplate => {
            let template: TemplateDoc = body::parse(body, limit)?;
            let id = template.id.clone();
            let (created, version, _, config) = mutate(ctx, handle, |c| {
                ops::put_template(c, template.clone()).map(|(created, _)| created)
            })
            .await?;
            let stored = config.templates.iter().find(|t| t.id == id);
            Ok(Reply::new(
                if created { 201 } else { 200 },
                json!({ "version": version, "created": created, "template": stored }),
            ))
        }
        RouteId::MintPreviewToken => mint_preview_token(ctx, handle, body, limit),
        RouteId::GetConfiguration => {
            let (current, compiled) = current(ctx, handle).await?;
            Ok(ok(
                json!({ "version": current.version, "configuration": current.config, "warnings": compiled.warnings }),
            ))
        }
        RouteId::PutConfiguration => {
            let value: Value = body::parse(body, limit)?;
            let replacement = ops::replace_configuration(handle, value)?;
            let ((), version, compiled, _) = mutate(ctx, handle, |c| {
                *c = replacement.clone();
                Ok(())
            })
            .await?;
            Ok(ok(
                json!({ "version": version, "warnings": compiled.warnings }),
            ))
        }
        RouteId::RoutePreview => {
            let (current, compiled) = current(ctx, handle).await?;
            let request = MatrixRequest::parse(query, ctx.now)?;
            let table = matrix::matrix(
                &compiled.ruleset,
                &request.entry,
                &request.countries,
                &request.devices,
                request.at,
            )?;
            let mut body = serde_json::to_value(table).map_err(db::storage)?;
            body["version"] = json!(current.version);
            Ok(ok(body))
        }
        RouteId::RuleAudit => {
            let (current, compiled) = current(ctx, handle).await?;
            let mut body = serde_json::to_value(audit::audit(&current.config, &compiled.ruleset))
                .map_err(db::storage)?;
            body["version"] = json!(current.version);
            Ok(ok(body))
        }
        RouteId::OpenApi => Err(ApiError::RouteNotFound),
        other => super::campaigns::run(ctx, other, params, body).await,
    }
}

/// Query of `GET .../route-preview`: `entry` (required), `countries` and `devices`
/// (comma-separated; defaults from the entry's rules), `at` (RFC 3339; default now).
struct MatrixRequest {
    entry: String,
    countries: Vec<String>,
    devices: Vec<DeviceCategory>,
    at: DateTime<Utc>,
}

impl MatrixRequest {
    fn parse(query: &[(String, String)], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let list = |value: Option<&str>| -> Vec<String> {
            value
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let entry = get("entry")
            .filter(|e| !e.is_empty())
            .ok_or(ApiError::InvalidParameter {
                name: "entry",
                message: "give the entry slug, e.g. ?entry=festive".into(),
            })?;
        let devices = list(get("devices"))
            .iter()
            .map(|d| {
                DeviceCategory::parse(d).ok_or_else(|| ApiError::InvalidParameter {
                    name: "devices",
                    message: format!("{d:?} is not one of desktop, mobile, tablet, crawler, other"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let at = match get("at") {
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .map_err(|_| ApiError::InvalidParameter {
                    name: "at",
                    message: format!("{raw:?} is not an RFC 3339 time"),
                })?
                .with_timezone(&Utc),
            None => now,
        };
        Ok(MatrixRequest {
            entry: entry.to_owned(),
            countries: list(get("countries")),
            devices,
            at,
        })
    }
}

fn domain_view(config: &HandleConfig, name: &str) -> Result<ops::DomainView, ApiError> {
    let doc = config
        .domains
        .iter()
        .find(|d| d.domain == name)
        .ok_or_else(|| ApiError::NotFound {
            what: "domain",
            id: name.to_owned(),
        })?;
    Ok(ops::domain_view(doc, config.risk_threshold))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewTokenRequest {
    #[serde(default)]
    ttl_seconds: Option<i64>,
}

/// Longest preview token lifetime the API mints (one day).
const MAX_PREVIEW_TTL: i64 = 24 * 3600;

fn mint_preview_token(
    ctx: &Ctx,
    handle: &str,
    body: &[u8],
    limit: usize,
) -> Result<Reply, ApiError> {
    let request: PreviewTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PreviewTokenRequest::default()
    } else {
        body::parse(body, limit)?
    };
    let ttl = request.ttl_seconds.unwrap_or(3600);
    if !(1..=MAX_PREVIEW_TTL).contains(&ttl) {
        return Err(ApiError::InvalidBody {
            path: "$.ttl_seconds".into(),
            message: format!("1 to {MAX_PREVIEW_TTL} seconds"),
        });
    }
    let secret = ctx
        .settings
        .visit
        .token_secret
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "previews_disabled",
            message: "TOKEN_SECRET is not configured".into(),
        })?;
    let now = ctx.now.timestamp();
    let claims = PreviewClaims {
        handle: handle.to_owned(),
        sub: Some(ctx.principal.sub.clone()),
    };
    let token = tokens::sign(TokenKind::Preview, secret, claims, now, ttl);
    Ok(Reply::new(
        201,
        json!({ "token": token, "handle": handle, "expires_at": now + ttl, "usage": format!("/{handle}/<entry>?__preview=<token>&__country=IN&__device=mobile&__explain=1") }),
    ))
}

/// Fetches the TXT records of `name` from the configured DoH resolver.
///
/// # Errors
/// 503 `resolver_unavailable` when the resolver cannot be reached or answers garbage;
/// verification state is then left as it was.
async fn lookup_txt(settings: &Settings, name: &str) -> Result<Vec<String>, ApiError> {
    let unavailable = |why: String| {
        worker::console_error!("DoH lookup of {name} failed: {why}");
        ApiError::Unavailable { code: "resolver_unavailable", message: "the DNS resolver is unavailable or answered garbage; verification unchanged, retry later".into() }
    };
    let url = doh::query_url(&settings.doh_resolver, name);
    let headers = Headers::new();
    headers
        .set("Accept", "application/dns-json")
        .map_err(|e| unavailable(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(&url, &init).map_err(|e| unavailable(e.to_string()))?;
    let mut response = Fetch::Request(request)
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if response.status_code() != 200 {
        return Err(unavailable(format!("HTTP {}", response.status_code())));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if bytes.len() > 64 * 1024 {
        return Err(unavailable("answer too large".into()));
    }
    doh::parse_txt(&bytes).map_err(|e| unavailable(e.to_string()))
}
