//! What a handler works with: the store and resolver, the settings, the authenticated
//! caller, the clock, the request's random bytes; and what it answers, a [`Reply`].

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::auth::Principal;
use super::error::ApiError;
use super::store::{Resolver, Store};

/// The API's settings (the edge reads them from the Worker's vars and secrets; see
/// `src/edge/settings.rs` for each one's variable and default).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Request body limit (413 above).
    pub max_body_bytes: usize,
    /// Reads per caller and route per minute.
    pub reads_per_minute: u32,
    /// Writes per caller and route per minute.
    pub writes_per_minute: u32,
    /// Writes per handle per UTC day.
    pub daily_write_limit: u32,
    /// Failed credentials per client address per minute.
    pub auth_failures_per_minute: u32,
    /// Requests per client address and public route per minute.
    pub public_per_minute: u32,
    /// Signs preview, ctx and site tokens.
    pub token_secret: Option<Vec<u8>>,
    /// Verifies HS256 JWTs.
    pub jwt_secret: Option<Vec<u8>>,
    /// When set, a JWT must name it in `aud`.
    pub jwt_audience: Option<String>,
    /// Lifetime of the ctx tokens test conversions mint.
    pub ctx_ttl_seconds: i64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_body_bytes: super::body::DEFAULT_MAX_BODY_BYTES,
            reads_per_minute: 300,
            writes_per_minute: 60,
            daily_write_limit: 1000,
            auth_failures_per_minute: 120,
            public_per_minute: 600,
            token_secret: None,
            jwt_secret: None,
            jwt_audience: None,
            ctx_ttl_seconds: 7 * 24 * 3600,
        }
    }
}

/// One request's context, as handlers see it.
pub struct Ctx<'a, S, R> {
    /// Storage.
    pub store: &'a S,
    /// DNS.
    pub resolver: &'a R,
    /// Settings.
    pub settings: &'a ApiSettings,
    /// Who is calling.
    pub principal: Principal,
    /// The clock.
    pub now: DateTime<Utc>,
    /// The request id.
    pub request_id: &'a str,
    /// What is running, as the change history records it: `METHOD pattern` of the
    /// route (`PUT /v2/handles/{handle}/configuration`), or `cron`.
    pub route: &'a str,
    /// A short hash of the client's address (public callers, reports).
    pub client: &'a str,
    /// The request's `Idempotency-Key`, if any (conversions need it).
    pub idempotency_key: Option<&'a str>,
    /// The request's `Authorization`, as sent (the public page read takes an
    /// entitlement there).
    pub authorization: Option<&'a str>,
    /// Fresh random bytes for this request (tokens, generated ids).
    pub random: [u8; 16],
    /// Writes a line to the log.
    pub log: &'a dyn Fn(&str),
}

impl<S, R> std::fmt::Debug for Ctx<'_, S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("principal", &self.principal)
            .field("now", &self.now)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl<S: Store, R: Resolver> Ctx<'_, S, R> {
    /// The clock as RFC 3339, to the second.
    pub fn now_text(&self) -> String {
        self.now.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// `TOKEN_SECRET`, which site, preview and ctx tokens need.
    ///
    /// # Errors
    /// 503 `tokens_disabled` when it is not configured.
    pub fn token_secret(&self) -> Result<&[u8], ApiError> {
        self.settings
            .token_secret
            .as_deref()
            .ok_or_else(|| ApiError::Unavailable {
                code: super::error::ErrorCode::TokensDisabled,
                message: "TOKEN_SECRET is not configured".into(),
            })
    }
}

/// A successful answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra response headers (e.g. `Idempotent-Replayed`).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A reply with a status and a JSON body.
    pub fn new(status: u16, body: Value) -> Self {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// A 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::new(200, body)
    }

    /// A reply whose body is a serialised value.
    ///
    /// # Errors
    /// 500 `internal` if it does not serialise (a bug).
    pub fn of<T: Serialize>(status: u16, value: &T) -> Result<Self, ApiError> {
        Ok(Self::new(status, to_json(value)?))
    }
}

/// A value as JSON.
///
/// # Errors
/// 500 `internal` if it does not serialise (a bug, logged; never a 503 that invites a
/// retry).
pub fn to_json<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(format!("serialising: {e}")))
}
