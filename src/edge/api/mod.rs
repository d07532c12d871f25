//! The management API under `/v2`: routing, body limit, authentication, throttles,
//! idempotency, and the one place where errors become responses.
//!
//! Order of checks: route (404/405) → body size (413) → credentials (401) → handle and
//! scope (403) → per-route throttle and daily write limit (429) → idempotency (replay or
//! 409) → handler. Throttles: `API_READS_PER_MINUTE` / `API_WRITES_PER_MINUTE` per
//! caller and route, `DAILY_WRITE_LIMIT` writes per handle per UTC day.

mod db;
mod handlers;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use worker::{Env, Method, Request, Response};

use super::respond::{self, base_headers};
use super::settings::{self, Settings};
use crate::api::auth::{bearer, pat_hash, verify_jwt, Bearer, Principal};
use crate::api::error::ApiError;
use crate::api::routes::{match_route, Route};
use handlers::{Ctx, Reply};

/// The OpenAPI document, kept in the repo beside the route table.
const OPENAPI: &str = include_str!("../../api/openapi.json");

/// Answers a `/v2/...` request. Never fails: errors are rendered here.
pub(crate) async fn handle(req: Request, env: &Env, request_id: &str) -> Response {
    let settings = settings::get(env);
    let result = dispatch(req, env, &settings, request_id).await;
    let rendered = match result {
        Ok(reply) => render(reply, request_id),
        Err(error) => render_error(&error, request_id),
    };
    rendered.unwrap_or_else(|_| Response::builder().with_status(500).empty())
}

fn render(reply: Reply, request_id: &str) -> worker::Result<Response> {
    let headers = base_headers(request_id)?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    respond::json(reply.status, &reply.body, headers)
}

/// The one place an [`ApiError`] becomes a response.
fn render_error(error: &ApiError, request_id: &str) -> worker::Result<Response> {
    let headers = base_headers(request_id)?;
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

async fn dispatch(
    mut req: Request,
    env: &Env,
    settings: &std::rc::Rc<Settings>,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let method = req.method();
    let path = req.path();
    let (route, params) = match_route(method.as_ref(), &path)?;
    let Some(scope) = route.scope else {
        return Ok(Reply::new(
            200,
            serde_json::from_str(OPENAPI).map_err(db::storage)?,
        ));
    };
    let body = read_body(&mut req, &method, settings.api_max_body_bytes).await?;
    let now_ms = respond::now_ms();
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let database = env.d1("DB").map_err(db::storage)?;
    let kv = env.kv("CONFIG").map_err(db::storage)?;
    let principal = authenticate(
        header(&req, "Authorization").as_deref(),
        &database,
        settings,
        now.timestamp(),
    )
    .await?;
    let handle = params.handle().to_owned();
    principal.authorize(&handle, scope)?;
    throttle(
        &database,
        settings,
        route,
        &principal,
        &handle,
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
    };
    let query: Vec<(String, String)> = req
        .url()
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let key = header(&req, "Idempotency-Key").filter(|_| route.write);
    match key {
        Some(key) => idempotent(&ctx, route, &params, &handle, &key, &path, &body).await,
        None => handlers::run(&ctx, route.id, &params, &query, &body).await,
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
    handle: &str,
    now: i64,
) -> Result<(), ApiError> {
    let minute = now / 60;
    let limit = if route.write {
        settings.writes_per_minute
    } else {
        settings.reads_per_minute
    };
    let key = format!(
        "route:{}:{}:{}:{minute}",
        principal.sub, route.method, route.pattern
    );
    if db::count(database, &key, (minute + 1) * 60, now).await? > limit {
        let retry_after = (60 - now % 60).max(1) as u32;
        return Err(ApiError::RateLimited {
            code: "rate_limited",
            retry_after,
        });
    }
    if route.write {
        let day = now / 86_400;
        let key = format!("daily:{handle}:{day}");
        if db::count(database, &key, (day + 1) * 86_400, now).await? > settings.daily_write_limit {
            let retry_after = ((day + 1) * 86_400 - now).max(1) as u32;
            return Err(ApiError::RateLimited {
                code: "daily_write_limit",
                retry_after,
            });
        }
    }
    Ok(())
}

/// Runs a write under an `Idempotency-Key`: the same key and body replay the stored
/// response; the same key with another body is 409; a key whose first request is still
/// running is 409 `idempotency_in_progress` (retry). Responses of 5xx are not stored.
async fn idempotent(
    ctx: &Ctx,
    route: &Route,
    params: &crate::api::routes::Params,
    handle: &str,
    key: &str,
    path: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidParameter {
            name: "Idempotency-Key",
            message: "1 to 255 printable ASCII characters".into(),
        });
    }
    let mut hasher = Sha256::new();
    hasher.update(route.method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    let body_hash = respond::hex(&hasher.finalize());
    let now = ctx.now.timestamp();
    if !db::reserve(&ctx.db, handle, key, route.pattern, &body_hash, now).await? {
        let existing = db::idempotency(&ctx.db, handle, key).await?;
        return replay(existing, &body_hash);
    }
    let result = handlers::run(ctx, route.id, params, &[], body).await;
    let (status, stored) = match &result {
        Ok(reply) => (reply.status, reply.body.clone()),
        Err(e) if e.status() < 500 => (
            e.status(),
            serde_json::to_value(e.body(&ctx.request_id)).unwrap_or_default(),
        ),
        Err(_) => {
            db::release(&ctx.db, handle, key).await?;
            return result;
        }
    };
    db::complete(&ctx.db, handle, key, status, &stored.to_string()).await?;
    result
}

fn replay(existing: Option<db::IdempotencyRow>, body_hash: &str) -> Result<Reply, ApiError> {
    let Some(row) = existing else {
        return Err(ApiError::Conflict {
            code: "idempotency_in_progress",
            message: "a request with this Idempotency-Key is still running; retry".into(),
        });
    };
    if row.body_hash != body_hash {
        return Err(ApiError::Conflict {
            code: "idempotency_key_reuse",
            message: "this Idempotency-Key was used with another request body".into(),
        });
    }
    match (row.status, row.response) {
        (Some(status), Some(response)) => {
            let body = serde_json::from_str(&response).map_err(db::storage)?;
            let mut reply = Reply::new(status as u16, body);
            reply
                .headers
                .push(("Idempotent-Replayed", "true".to_owned()));
            Ok(reply)
        }
        _ => Err(ApiError::Conflict {
            code: "idempotency_in_progress",
            message: "a request with this Idempotency-Key is still running; retry".into(),
        }),
    }
}
