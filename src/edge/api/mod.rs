//! The API under `/v2`: routing, body limit, authentication, throttles, idempotency,
//! CORS for the public routes, and the one place where errors become responses.
//!
//! Order of checks: route (404/405) → body size (413) → credential for the route's kind
//! (management PAT/JWT with handle and scope, campaign site token, or none) (401/403;
//! repeated credential failures from one client are throttled, 429) → a completed
//! idempotent write is replayed here, before any throttle → per-route throttle and
//! daily write limit (429) → idempotency (reserve or 409) → handler.
//! Throttles: `API_READS_PER_MINUTE` / `API_WRITES_PER_MINUTE` per handle, caller and
//! route; `API_PUBLIC_PER_MINUTE` per client address and route on the public routes
//! (keyed by a hash of the address); `DAILY_WRITE_LIMIT` writes per handle per UTC day
//! (management and site-token writes); `API_AUTH_FAILURES_PER_MINUTE` failed credentials
//! (401) per client address.
//! CORS (`Access-Control-Allow-Origin: *`, preflight `OPTIONS`) applies only to the
//! public routes, which browsers on storefront pages call; never to management routes.

mod campaigns;
mod db;
mod handlers;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use worker::{Env, Headers, Method, Request, Response, ResponseBuilder};

use super::respond::{self, base_headers};
use super::settings::{self, Settings};
use super::visitor::client_ip;
use crate::api::auth::{bearer, pat_hash, verify_jwt, AuthKind, Bearer, Principal};
use crate::api::error::ApiError;
use crate::api::pages::{site_bearer, verify_site_token};
use crate::api::routes::{match_route, Params, Route, RouteId};
use handlers::{Ctx, Reply};

/// The OpenAPI document, kept in the repo beside the route table.
const OPENAPI: &str = include_str!("../../api/openapi.json");

/// Whether a path is one of the public routes that browsers call cross-origin.
fn is_cors_path(path: &str) -> bool {
    path.starts_with("/v2/public/") || path == "/v2/support/report"
}

/// Answers a `/v2/...` request. Never fails: errors are rendered here.
pub(crate) async fn handle(req: Request, env: &Env, request_id: &str) -> Response {
    let settings = settings::get(env);
    let path = req.path();
    let cors = is_cors_path(&path);
    let rendered = if req.method() == Method::Options && cors {
        preflight(request_id)
    } else {
        match dispatch(req, env, &settings, request_id).await {
            Ok(reply) => render(reply, request_id, cors),
            Err(error) => render_error(&error, request_id, cors),
        }
    };
    rendered.unwrap_or_else(|_| Response::builder().with_status(500).empty())
}

fn cors_headers(headers: &Headers) -> worker::Result<()> {
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set(
        "Access-Control-Expose-Headers",
        "X-Request-Id, Retry-After, Idempotent-Replayed",
    )
}

fn preflight(request_id: &str) -> worker::Result<Response> {
    let headers = base_headers(request_id)?;
    cors_headers(&headers)?;
    headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")?;
    headers.set(
        "Access-Control-Allow-Headers",
        "Content-Type, Authorization, Idempotency-Key",
    )?;
    headers.set("Access-Control-Max-Age", "86400")?;
    Ok(ResponseBuilder::new()
        .with_status(204)
        .with_headers(headers)
        .empty())
}

fn render(reply: Reply, request_id: &str, cors: bool) -> worker::Result<Response> {
    let headers = base_headers(request_id)?;
    if cors {
        cors_headers(&headers)?;
    }
    if let Some(version) = reply
        .body
        .get("version")
        .and_then(serde_json::Value::as_u64)
    {
        headers.set("X-Snapshot-Version", &version.to_string())?;
    }
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    respond::json(reply.status, &reply.body, headers)
}

/// The one place an [`ApiError`] becomes a response.
fn render_error(error: &ApiError, request_id: &str, cors: bool) -> worker::Result<Response> {
    let headers = base_headers(request_id)?;
    if cors {
        cors_headers(&headers)?;
    }
    for (name, value) in error.headers() {
        headers.set(name, &value)?;
    }
    if error.status() == 401 {
        headers.set("WWW-Authenticate", "Bearer")?;
    }
    respond::json(error.status(), &error.body(request_id), headers)
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// A short, non-reversible name for a client address (throttle keys, reports).
fn client_tag(req: &Request, settings: &Settings) -> String {
    let ip = client_ip(req.headers(), settings)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    respond::hex(&Sha256::digest(ip.as_bytes())[..8])
}

async fn dispatch(
    mut req: Request,
    env: &Env,
    settings: &std::rc::Rc<Settings>,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let method = req.method();
    let path = req.path();
    let (route, params) = match_route(method.as_ref(), &path)?;
    if route.id == RouteId::OpenApi {
        return Ok(Reply::new(
            200,
            serde_json::from_str(OPENAPI).map_err(db::storage)?,
        ));
    }
    let body = read_body(&mut req, &method, settings.api_max_body_bytes).await?;
    let now_ms = respond::now_ms();
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let database = env.d1("DB").map_err(db::storage)?;
    let kv = env.kv("CONFIG").map_err(db::storage)?;
    let client = client_tag(&req, settings);
    let handle = params.handle().to_owned();
    let authorization = header(&req, "Authorization");
    let principal = match caller(
        route,
        &params,
        authorization.as_deref(),
        &database,
        settings,
        &client,
        now,
    )
    .await
    {
        Ok(principal) => principal,
        Err(error) => {
            return Err(auth_failed(&database, settings, &client, now.timestamp(), error).await)
        }
    };
    // Conversions dedupe on their own table; every other write may carry a key.
    let key =
        header(&req, "Idempotency-Key").filter(|_| route.write && route.id != RouteId::Conversion);
    // Idempotency keys and throttles are scoped by handle; routes without one (support
    // reports, conversions) by the client address, so anonymous clients never share keys.
    let scope = if handle.is_empty() {
        format!("_client:{client}")
    } else {
        handle.clone()
    };
    let body_hash = request_hash(route, &path, &body);
    if let Some(key) = &key {
        check_key(key)?;
        if let Some(replay) = replay(
            db::idempotency(&database, &scope, key).await?,
            &body_hash,
            request_id,
        )? {
            return Ok(replay);
        }
    }
    throttle(
        &database,
        settings,
        route,
        &principal,
        &scope,
        now.timestamp(),
    )
    .await?;
    let ctx = Ctx {
        db: database,
        kv,
        settings: settings.clone(),
        principal,
        now,
        request_id: request_id.to_owned(),
        client,
        idempotency_key: header(&req, "Idempotency-Key"),
    };
    let query: Vec<(String, String)> = req
        .url()
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    match key {
        Some(key) => idempotent(&ctx, route, &params, &scope, &key, &body_hash, &body).await,
        None => handlers::run(&ctx, route.id, &params, &query, &body).await,
    }
}

/// Authenticates the caller for the route's kind of access.
async fn caller(
    route: &Route,
    params: &Params,
    authorization: Option<&str>,
    database: &worker::D1Database,
    settings: &Settings,
    client: &str,
    now: DateTime<Utc>,
) -> Result<Principal, ApiError> {
    let handle = params.handle();
    if let Some(scope) = route.scope {
        let principal = authenticate(authorization, database, settings, now.timestamp()).await?;
        principal.authorize(handle, scope)?;
        return Ok(principal);
    }
    if route.site_token {
        let token = site_bearer(authorization)?;
        let secret = settings
            .visit
            .token_secret
            .as_deref()
            .ok_or(ApiError::InvalidToken)?;
        let campaign = params.campaign_id.as_deref().unwrap_or_default();
        verify_site_token(secret, token, handle, campaign, now)?;
        return Ok(Principal {
            sub: format!("site:{campaign}"),
            handle: handle.to_owned(),
            scopes: Vec::new(),
            kind: AuthKind::Site,
        });
    }
    Ok(Principal {
        sub: format!("client:{client}"),
        handle: handle.to_owned(),
        scopes: Vec::new(),
        kind: AuthKind::Public,
    })
}

/// Counts a credential failure against the client; past the limit, answers 429 instead.
async fn auth_failed(
    database: &worker::D1Database,
    settings: &Settings,
    client: &str,
    now: i64,
    error: ApiError,
) -> ApiError {
    // Only failed credentials (401) count: a 403 comes from a valid token.
    if error.status() != 401 {
        return error;
    }
    let minute = now / 60;
    match db::count(
        database,
        &format!("authfail:{client}:{minute}"),
        (minute + 1) * 60,
        now,
    )
    .await
    {
        Ok(count) if count > settings.auth_failures_per_minute => ApiError::RateLimited {
            code: "rate_limited",
            retry_after: (60 - now % 60).max(1) as u32,
        },
        _ => error,
    }
}

async fn read_body(req: &mut Request, method: &Method, limit: usize) -> Result<Vec<u8>, ApiError> {
    if matches!(method, Method::Get | Method::Head | Method::Delete) {
        return Ok(Vec::new());
    }
    let declared = header(req, "Content-Length").and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge(limit));
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::InvalidJson("the body could not be read".into()))?;
    if bytes.len() > limit {
        return Err(ApiError::BodyTooLarge(limit));
    }
    Ok(bytes)
}

async fn authenticate(
    authorization: Option<&str>,
    database: &worker::D1Database,
    settings: &Settings,
    now: i64,
) -> Result<Principal, ApiError> {
    match bearer(authorization)? {
        Bearer::Pat(token) => db::pat(database, &pat_hash(token))
            .await?
            .ok_or(ApiError::InvalidToken)?
            .principal(now),
        Bearer::Jwt(token) => match &settings.jwt_secret {
            Some(secret) => verify_jwt(token, secret, now),
            None => Err(ApiError::InvalidToken),
        },
    }
}

async fn throttle(
    database: &worker::D1Database,
    settings: &Settings,
    route: &Route,
    principal: &Principal,
    scope: &str,
    now: i64,
) -> Result<(), ApiError> {
    let minute = now / 60;
    let limit = match (route.is_public(), route.write) {
        (true, _) => settings.public_per_minute,
        (false, true) => settings.writes_per_minute,
        (false, false) => settings.reads_per_minute,
    };
    let key = format!(
        "route:{scope}:{}:{} {}:{minute}",
        principal.sub, route.method, route.pattern
    );
    if db::count(database, &key, (minute + 1) * 60, now).await? > limit {
        return Err(ApiError::RateLimited {
            code: "rate_limited",
            retry_after: (60 - now % 60).max(1) as u32,
        });
    }
    // The daily write limit is per handle: public writes (conversions, reports) have no
    // handle in their path and are bounded per client address above instead.
    if route.write && !route.is_public() {
        let day = now / 86_400;
        let key = format!("daily:{scope}:{day}");
        if db::count(database, &key, (day + 1) * 86_400, now).await? > settings.daily_write_limit {
            return Err(ApiError::RateLimited {
                code: "daily_write_limit",
                retry_after: ((day + 1) * 86_400 - now).max(1) as u32,
            });
        }
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidParameter {
            name: "Idempotency-Key",
            message: "1 to 255 printable ASCII characters".into(),
        });
    }
    Ok(())
}

fn request_hash(route: &Route, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    respond::hex(&hasher.finalize())
}

/// Runs a write under an `Idempotency-Key` whose stored response (if any) was not
/// replayed: reserves the key (a reservation older than a minute, left by a request that
/// died, is taken over), runs the handler, stores its response unless it is a 5xx.
async fn idempotent(
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    scope: &str,
    key: &str,
    body_hash: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let now = ctx.now.timestamp();
    if !db::reserve(&ctx.db, scope, key, route.pattern, body_hash, now).await? {
        let existing = db::idempotency(&ctx.db, scope, key).await?;
        return replay(existing, body_hash, &ctx.request_id)?.ok_or_else(in_progress);
    }
    let result = handlers::run(ctx, route.id, params, &[], body).await;
    let (status, stored) = match &result {
        Ok(reply) => (reply.status, reply.body.clone()),
        Err(e) if e.status() < 500 => (
            e.status(),
            serde_json::to_value(e.body(&ctx.request_id)).unwrap_or_default(),
        ),
        Err(_) => {
            db::release(&ctx.db, scope, key).await?;
            return result;
        }
    };
    db::complete(&ctx.db, scope, key, status, &stored.to_string()).await?;
    result
}

fn in_progress() -> ApiError {
    ApiError::Conflict {
        code: "idempotency_in_progress",
        message: "a request with this Idempotency-Key is still running; retry".into(),
    }
}

/// The stored response of a completed key with the same request, `None` when the key is
/// unknown or still reserved; 409 for another request under the same key. A replayed
/// error names this request's id, so it matches `X-Request-Id`.
fn replay(
    existing: Option<db::IdempotencyRow>,
    body_hash: &str,
    request_id: &str,
) -> Result<Option<Reply>, ApiError> {
    let Some(row) = existing else { return Ok(None) };
    if row.body_hash != body_hash {
        return Err(ApiError::Conflict {
            code: "idempotency_key_reuse",
            message: "this Idempotency-Key was used with another request body".into(),
        });
    }
    let (Some(status), Some(response)) = (row.status, row.response) else {
        return Ok(None);
    };
    let mut body: serde_json::Value = serde_json::from_str(&response).map_err(db::storage)?;
    if let Some(error) = body
        .get_mut("error")
        .and_then(serde_json::Value::as_object_mut)
    {
        error.insert("request_id".into(), serde_json::Value::from(request_id));
    }
    let mut reply = Reply::new(status as u16, body);
    reply
        .headers
        .push(("Idempotent-Replayed", "true".to_owned()));
    Ok(Some(reply))
}
