//! The API as a service: a request's head in, admission (route and credential) decided
//! before any body is read, then the body, idempotency, throttles, the handler, and one
//! [`Answer`] out. The edge only reads the request's parts, reads the body when admitted
//! (capped at the limit), and renders the answer.
//!
//! Order of checks: route (404/405) → a declared `Content-Length` over the limit (413,
//! nothing read) → credential for the route's kind (401/403; repeated credential
//! failures from one client are throttled, 429) → body, read up to the limit (413) → a
//! completed idempotent write is replayed here, before any throttle → per-route throttle
//! and daily write limit (429) → idempotency (reserve or 409) → handler.
//! CORS (`Access-Control-Allow-Origin: *`, preflight `OPTIONS`) applies only to the
//! public routes, which browsers on storefront pages call; never to management routes.

use chrono::{DateTime, Utc};

use super::auth::{bearer, pat_hash, verify_jwt, AuthKind, Bearer, Principal};
use super::body::BodyError;
use super::context::{ApiSettings, Ctx, Reply};
use super::error::{ApiError, ErrorCode};
use super::handlers;
use super::idempotency::{self, Reserved};
use super::limits;
use super::pages::{site_bearer, verify_site_token};
use super::routes::{match_route, Params, Route, RouteId};
use super::store::{Resolver, Store};
use crate::visit::answer::Answer;

/// The OpenAPI document, kept beside the route table.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The head of an API request: everything but the body.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path (from `/v2`).
    pub path: &'a str,
    /// Raw query string.
    pub query: &'a str,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Idempotency-Key`.
    pub idempotency_key: Option<&'a str>,
    /// The declared `Content-Length`, if any.
    pub content_length: Option<u64>,
    /// A short hash of the client's address ([`limits::client_tag`]).
    pub client: &'a str,
    /// The request id.
    pub request_id: &'a str,
}

/// The API over a store and a resolver.
pub struct Api<'a, S, R> {
    /// Storage.
    pub store: &'a S,
    /// DNS.
    pub resolver: &'a R,
    /// Settings.
    pub settings: &'a ApiSettings,
    /// Writes a line to the log (storage and internal failures, never to clients).
    pub log: &'a dyn Fn(&str),
}

impl<S, R> std::fmt::Debug for Api<'_, S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A request that may go on: its route, parameters and caller.
#[derive(Debug, Clone)]
pub struct Admitted {
    route: &'static Route,
    params: Params,
    principal: Principal,
}

impl Admitted {
    /// Whether the route takes a body (the edge reads none otherwise).
    pub fn reads_body(&self) -> bool {
        !matches!(self.route.method, "GET" | "HEAD" | "DELETE")
    }
}

/// What admission decided.
#[derive(Debug)]
pub enum Admission {
    /// The answer is known (preflight, the OpenAPI document, an error).
    Answered(Answer),
    /// Read the body (up to the limit) and go on.
    Admitted(Admitted),
}

/// Whether a path is one of the public routes that browsers call cross-origin.
pub fn is_cors_path(path: &str) -> bool {
    path.starts_with("/v2/public/") || path == "/v2/support/report"
}

impl<S: Store, R: Resolver> Api<'_, S, R> {
    /// Decides whether a request may go on before its body is read.
    pub async fn admit(&self, req: &ApiRequest<'_>, now: DateTime<Utc>) -> Admission {
        let cors = is_cors_path(req.path);
        if req.method == "OPTIONS" && cors {
            return Admission::Answered(preflight(req.request_id));
        }
        let (route, params) = match match_route(req.method, req.path) {
            Ok(found) => found,
            Err(e) => return Admission::Answered(render(Err(e), req, self.log)),
        };
        if route.id == RouteId::OpenApi {
            let reply = serde_json::from_str(OPENAPI)
                .map(Reply::ok)
                .map_err(|e| ApiError::Internal(format!("openapi.json: {e}")));
            return Admission::Answered(render(reply, req, self.log));
        }
        let limit = self.settings.max_body_bytes;
        let takes_body = !matches!(route.method, "GET" | "HEAD" | "DELETE");
        if takes_body && req.content_length.is_some_and(|n| n > limit as u64) {
            // Refused on its declared length alone: nothing is read, no credential needed.
            let error = ApiError::from(BodyError::TooLarge(limit));
            return Admission::Answered(render(Err(error), req, self.log));
        }
        let needs_credential = !route.is_public();
        if needs_credential {
            // Fails open: when the counter cannot be read (storage down) the request goes
            // on, and a credential that needs storage (a PAT) gets its own 503 there; a
            // missing or malformed one is still told apart without storage.
            match limits::auth_blocked(self.store, self.settings, req.client, now.timestamp()).await
            {
                Ok(None) => {}
                Ok(Some(error)) => return Admission::Answered(render(Err(error), req, self.log)),
                Err(error) => (self.log)(&format!(
                    "auth-failure budget unreadable ({}); checking the credential anyway",
                    error.code().as_str()
                )),
            }
        }
        match self.caller(route, &params, req, now).await {
            Ok(principal) => Admission::Admitted(Admitted {
                route,
                params,
                principal,
            }),
            Err(error) => {
                let error = limits::auth_failed(
                    self.store,
                    self.settings,
                    req.client,
                    now.timestamp(),
                    error,
                )
                .await;
                Admission::Answered(render(Err(error), req, self.log))
            }
        }
    }

    /// Answers an admitted request with its body (or why it could not be read).
    ///
    /// `random` is what the platform's random source gave for this request (`None`: it
    /// failed). Without random bytes nothing runs: 503 `storage_unavailable` (nothing
    /// was stored; retry), never ids or tokens minted from a stand-in.
    pub async fn respond(
        &self,
        req: &ApiRequest<'_>,
        admitted: Admitted,
        body: Result<Vec<u8>, BodyError>,
        now: DateTime<Utc>,
        random: Option<[u8; 16]>,
    ) -> Answer {
        let result = match (body, random) {
            (Err(e), _) => Err(e.into()),
            (Ok(_), None) => Err(ApiError::Unavailable {
                code: ErrorCode::StorageUnavailable,
                message: "the platform's random source failed; nothing was stored, retry \
                          shortly"
                    .into(),
            }),
            (Ok(body), Some(random)) => self.run(req, admitted, &body, now, random).await,
        };
        render(result, req, self.log)
    }

    /// Admits and answers a request whose body is at hand (tests, and bodies the edge
    /// has already read).
    pub async fn handle(
        &self,
        req: &ApiRequest<'_>,
        body: &[u8],
        now: DateTime<Utc>,
        random: [u8; 16],
    ) -> Answer {
        match self.admit(req, now).await {
            Admission::Answered(answer) => answer,
            Admission::Admitted(admitted) => {
                let body = if !admitted.reads_body() {
                    Ok(Vec::new())
                } else if body.len() > self.settings.max_body_bytes {
                    Err(BodyError::TooLarge(self.settings.max_body_bytes))
                } else {
                    Ok(body.to_vec())
                };
                self.respond(req, admitted, body, now, Some(random)).await
            }
        }
    }

    async fn run(
        &self,
        req: &ApiRequest<'_>,
        admitted: Admitted,
        body: &[u8],
        now: DateTime<Utc>,
        random: [u8; 16],
    ) -> Result<Reply, ApiError> {
        let Admitted {
            route,
            params,
            principal,
        } = admitted;
        // Conversions dedupe on their own table; every other write may carry a key.
        let key = req
            .idempotency_key
            .filter(|_| route.write && route.id != RouteId::Conversion);
        // Keys and throttles are scoped by handle and credential, so one caller cannot
        // take a key another will use; routes without a handle (support reports) by the
        // client address. Conversions scope their keys to the ctx (`handlers::public`).
        let scope = match params.handle() {
            "" => format!("_client:{}", req.client),
            handle => format!("{handle}|{}", principal.sub),
        };
        let hash = idempotency::request_hash(route.method, req.path, body);
        if let Some(key) = key {
            idempotency::check_key(key)?;
            let stored = self.store.idempotency(&scope, key).await?;
            if let Some(reply) =
                idempotency::replay(stored, &hash, req.request_id, now.timestamp())?
            {
                return Ok(reply);
            }
        }
        let now_s = now.timestamp();
        let exempt = limits::exempt_from_daily(route.id, body);
        limits::throttle(
            self.store,
            self.settings,
            route,
            &principal,
            &scope,
            exempt,
            now_s,
        )
        .await?;
        let counted = principal.clone();
        let route_name = format!("{} {}", route.method, route.pattern);
        let cx = Ctx {
            store: self.store,
            resolver: self.resolver,
            settings: self.settings,
            principal,
            now,
            request_id: req.request_id,
            route: &route_name,
            client: req.client,
            idempotency_key: req.idempotency_key,
            authorization: req.authorization,
            random,
            log: self.log,
        };
        let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes())
            .into_owned()
            .collect();
        let result = match key {
            None => handlers::dispatch(&cx, route.id, &params, &query, body).await,
            Some(key) => {
                match idempotency::reserve(self.store, &scope, key, &hash, now_s, req.request_id)
                    .await?
                {
                    Reserved::Answered(reply) => return Ok(reply),
                    Reserved::Run => {
                        let result = handlers::dispatch(&cx, route.id, &params, &[], body).await;
                        idempotency::settle(self.store, &scope, key, &result, req.request_id)
                            .await?;
                        result
                    }
                }
            }
        };
        // Only a write that happened spends the day's budget.
        if result.is_ok() {
            limits::count_write(self.store, route, &counted, now_s).await?;
        }
        result
    }

    /// Authenticates the caller for the route's kind of access.
    async fn caller(
        &self,
        route: &Route,
        params: &Params,
        req: &ApiRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<Principal, ApiError> {
        let handle = params.handle();
        if let Some(scope) = route.scope {
            let principal = self
                .authenticate(req.authorization, now.timestamp())
                .await?;
            principal.authorize(handle, scope)?;
            return Ok(principal);
        }
        if route.any_scope {
            let principal = self
                .authenticate(req.authorization, now.timestamp())
                .await?;
            principal.authorize_handle(handle)?;
            return Ok(principal);
        }
        if route.site_token {
            let token = site_bearer(req.authorization)?;
            let secret = self
                .settings
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
            sub: format!("client:{}", req.client),
            handle: handle.to_owned(),
            scopes: Vec::new(),
            kind: AuthKind::Public,
        })
    }

    async fn authenticate(
        &self,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Principal, ApiError> {
        match bearer(authorization)? {
            Bearer::Pat(token) => self
                .store
                .pat(&pat_hash(token))
                .await?
                .ok_or(ApiError::InvalidToken)?
                .principal(now),
            Bearer::Jwt(token) => match &self.settings.jwt_secret {
                Some(secret) => {
                    verify_jwt(token, secret, self.settings.jwt_audience.as_deref(), now)
                }
                None => Err(ApiError::InvalidToken),
            },
        }
    }
}

/// The one place a reply or an error becomes an answer: JSON, `X-Snapshot-Version` when
/// the body has a version, CORS on the public routes, error headers; the detail of a
/// storage or internal failure goes to `log`, never to the client.
pub fn render(result: Result<Reply, ApiError>, req: &ApiRequest<'_>, log: &dyn Fn(&str)) -> Answer {
    let mut answer = Answer::new(req.request_id);
    if is_cors_path(req.path) {
        cors_headers(&mut answer);
    }
    let (status, body) = match result {
        Ok(reply) => {
            if let Some(version) = reply.body.get("version").and_then(|v| v.as_u64()) {
                answer.header("X-Snapshot-Version", version.to_string());
            }
            answer.headers.extend(reply.headers);
            (reply.status, serde_json::to_vec_pretty(&reply.body))
        }
        Err(error) => {
            if let Some(detail) = error.log_detail() {
                log(&format!(
                    "{} {} ({}): {detail}",
                    req.method, req.path, req.request_id
                ));
            }
            answer.headers.extend(error.headers());
            (
                error.status(),
                serde_json::to_vec_pretty(&error.body(req.request_id)),
            )
        }
    };
    match body {
        Ok(body) => answer.json(status, body),
        Err(e) => {
            log(&format!("rendering {} failed: {e}", req.path));
            let fallback = br#"{"error":{"code":"internal","message":"an internal error"}}"#;
            answer.json(500, fallback.to_vec())
        }
    }
}

fn cors_headers(answer: &mut Answer) {
    answer.header("Access-Control-Allow-Origin", "*");
    answer.header(
        "Access-Control-Expose-Headers",
        "X-Request-Id, Retry-After, Idempotent-Replayed",
    );
}

fn preflight(request_id: &str) -> Answer {
    let mut answer = Answer::new(request_id);
    cors_headers(&mut answer);
    answer.header("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS");
    answer.header(
        "Access-Control-Allow-Headers",
        "Content-Type, Authorization, Idempotency-Key",
    );
    answer.header("Access-Control-Max-Age", "86400");
    answer.status = 204;
    answer
}

#[cfg(test)]
mod tests;
