//! The management API's errors: one enum, each variant with its HTTP status and stable
//! code. The edge renders them in one place as `{"error": {code, message, request_id}}`;
//! nothing internal (storage errors, stack text) ever reaches a client.

use std::fmt;

use serde::Serialize;

use crate::model::diag::Diagnostic;

/// An API error.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// No `Authorization: Bearer` header. 401 `missing_token`.
    MissingToken,
    /// The token is malformed, forged, unknown or revoked. 401 `invalid_token`.
    InvalidToken,
    /// The token has expired. 401 `token_expired`.
    TokenExpired,
    /// The token belongs to another handle. 403 `wrong_handle`.
    WrongHandle,
    /// A campaign-scoped (site) token is for another campaign of the handle. 403
    /// `wrong_campaign`.
    WrongCampaign,
    /// The token lacks the route's scope. 403 `insufficient_scope`.
    InsufficientScope(&'static str),
    /// No such route. 404 `route_not_found`.
    RouteNotFound,
    /// The route exists with other methods. 405 `method_not_allowed`.
    MethodNotAllowed(Vec<&'static str>),
    /// A named thing does not exist. 404 `<what>_not_found`.
    NotFound {
        /// `handle`, `rule`, `domain`, `campaign`, `page`, `entry`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The body exceeds the limit. 413 `body_too_large`.
    BodyTooLarge(usize),
    /// The body is not JSON. 400 `invalid_json`.
    InvalidJson(String),
    /// The body is JSON of the wrong shape (unknown field, wrong type). 400 `invalid_body`.
    InvalidBody {
        /// JSON path of the problem.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A query parameter or path segment is invalid. 400 `invalid_parameter`.
    InvalidParameter {
        /// Its name.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The change does not validate; every problem listed. 400 `validation_failed`.
    Validation(Vec<Diagnostic>),
    /// The request conflicts with the current state. 409 with the given code.
    Conflict {
        /// Stable code, e.g. `domain_exists`, `invalid_transition`, `idempotency_key_reuse`.
        code: &'static str,
        /// What to do.
        message: String,
    },
    /// Too many requests. 429 with `Retry-After`.
    RateLimited {
        /// `rate_limited` or `daily_write_limit`.
        code: &'static str,
        /// Seconds until a retry can succeed.
        retry_after: u32,
    },
    /// A ctx token is missing, malformed, forged, expired or for something else. 400 `invalid_ctx`.
    InvalidCtx(&'static str),
    /// A dependency (D1, KV, the DoH resolver) failed; nothing was stored. 503 with the code.
    Unavailable {
        /// `storage_unavailable`, `resolver_unavailable`, `publish_failed`.
        code: &'static str,
        /// What failed, in words a client can act on.
        message: String,
    },
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken | Self::InvalidToken | Self::TokenExpired => 401,
            Self::WrongHandle | Self::WrongCampaign | Self::InsufficientScope(_) => 403,
            Self::RouteNotFound | Self::NotFound { .. } => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::BodyTooLarge(_) => 413,
            Self::InvalidJson(_)
            | Self::InvalidBody { .. }
            | Self::InvalidParameter { .. }
            | Self::Validation(_)
            | Self::InvalidCtx(_) => 400,
            Self::Conflict { .. } => 409,
            Self::RateLimited { .. } => 429,
            Self::Unavailable { .. } => 503,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::WrongHandle => "wrong_handle",
            Self::WrongCampaign => "wrong_campaign",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::NotFound { what, .. } => match *what {
                "handle" => "handle_not_found",
                "rule" => "rule_not_found",
                "domain" => "domain_not_found",
                "campaign" => "campaign_not_found",
                "page" => "page_not_found",
                "entry" => "entry_not_found",
                "template" => "template_not_found",
                _ => "not_found",
            },
            Self::BodyTooLarge(_) => "body_too_large",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidBody { .. } => "invalid_body",
            Self::InvalidParameter { .. } => "invalid_parameter",
            Self::Validation(_) => "validation_failed",
            Self::Conflict { code, .. }
            | Self::RateLimited { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::InvalidCtx(_) => "invalid_ctx",
        }
    }

    /// Extra machine-readable detail (diagnostics, allowed methods).
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            Self::Validation(diagnostics) => serde_json::to_value(diagnostics).ok(),
            Self::InvalidBody { path, .. } => Some(serde_json::json!({ "path": path })),
            Self::MethodNotAllowed(allowed) => Some(serde_json::json!({ "allowed": allowed })),
            _ => None,
        }
    }

    /// Extra response headers (`Retry-After`, `Allow`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::RateLimited { retry_after, .. } => vec![("Retry-After", retry_after.to_string())],
            Self::Unavailable { .. } => vec![("Retry-After", "5".to_owned())],
            Self::MethodNotAllowed(allowed) => vec![("Allow", allowed.join(", "))],
            _ => Vec::new(),
        }
    }

    /// The error body.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                request_id: request_id.to_owned(),
                details: self.details(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingToken => f.write_str("send Authorization: Bearer <PAT or JWT>"),
            Self::InvalidToken => f.write_str("the token is not valid"),
            Self::TokenExpired => f.write_str("the token has expired"),
            Self::WrongHandle => f.write_str("the token is not for this handle"),
            Self::WrongCampaign => f.write_str("the token is not for this campaign"),
            Self::InsufficientScope(scope) => write!(f, "this route needs the scope {scope}"),
            Self::RouteNotFound => f.write_str("no such route; see /v2/openapi.json"),
            Self::MethodNotAllowed(allowed) => write!(f, "allowed methods: {}", allowed.join(", ")),
            Self::NotFound { what, id } => write!(f, "no {what} {id:?}"),
            Self::BodyTooLarge(limit) => write!(f, "request bodies are limited to {limit} bytes"),
            Self::InvalidJson(message) => write!(f, "the body is not valid JSON: {message}"),
            Self::InvalidBody { path, message } => write!(f, "{path}: {message}"),
            Self::InvalidParameter { name, message } => write!(f, "{name}: {message}"),
            Self::Validation(diagnostics) => {
                let errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == crate::Severity::Error)
                    .count();
                write!(f, "{errors} validation error(s); see error.details")
            }
            Self::Conflict { message, .. } | Self::Unavailable { message, .. } => {
                f.write_str(message)
            }
            Self::RateLimited { retry_after, .. } => {
                write!(f, "too many requests; retry after {retry_after} s")
            }
            Self::InvalidCtx(why) => write!(f, "the ctx token is not valid: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// The JSON error envelope.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error itself.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
    /// The request id, for support.
    pub request_id: String,
    /// Machine-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}
