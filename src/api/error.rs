//! The management API's errors as HTTP sees them: [`ApiError`], each variant with its
//! status and stable [`ErrorCode`], rendered in one place (`super::service`) as
//! `{"error": {code, message, request_id, details?}}`. Operations have errors of their
//! own (`DomainError`, `RuleError`, `CampaignError`, [`super::store::StoreError`],
//! `AuthError`, `BodyError`, ...) that convert into this one mapping; nothing internal
//! (storage errors, serialisation failures) ever reaches a client: those are a 503 that
//! says nothing was changed, or a 500 `internal`, with the detail logged.

use std::fmt;

use serde::Serialize;

use super::store::StoreError;
use crate::model::diag::{Diagnostic, Severity};

/// Every stable error code the API answers with.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no `Authorization: Bearer`.
    MissingToken,
    /// 401: malformed, forged, unknown or revoked token.
    InvalidToken,
    /// 401: the token has expired.
    TokenExpired,
    /// 403: the token is for another handle.
    WrongHandle,
    /// 403: the site token is for another campaign.
    WrongCampaign,
    /// 403: the token lacks the route's scope.
    InsufficientScope,
    /// 401: a gated page needs an entitlement (`Authorization: Bearer <entitlement>`).
    EntitlementRequired,
    /// 403: the entitlement's level is below the page's.
    InsufficientEntitlement,
    /// 404: no such route.
    RouteNotFound,
    /// 405: the route exists with other methods.
    MethodNotAllowed,
    /// 404: no such handle.
    HandleNotFound,
    /// 404: no such rule.
    RuleNotFound,
    /// 404: no such destination domain.
    DomainNotFound,
    /// 404: no such campaign.
    CampaignNotFound,
    /// 404: no such page (or not published).
    PageNotFound,
    /// 404: no such entry.
    EntryNotFound,
    /// 404: no such template.
    TemplateNotFound,
    /// 404: the campaign has no such variant.
    VariantNotFound,
    /// 404: the change history holds no such version.
    VersionNotFound,
    /// 413: the body is over the limit.
    BodyTooLarge,
    /// 400: the body is not JSON.
    InvalidJson,
    /// 400: the body is JSON of the wrong shape, or a field is wrong.
    InvalidBody,
    /// 400: a query parameter, path segment or header is wrong.
    InvalidParameter,
    /// 422: the change is well formed but does not validate; every problem in `details`.
    ValidationFailed,
    /// 400: the ctx token is not valid.
    InvalidCtx,
    /// 409: the domain is listed already.
    DomainExists,
    /// 409: the campaign id is taken.
    CampaignExists,
    /// 409: the campaign cannot make that transition from its state.
    InvalidTransition,
    /// 409: the page has no draft to publish.
    NothingToPublish,
    /// 409: the version to restore is the current one.
    AlreadyCurrent,
    /// 409: the Idempotency-Key was used with another request.
    IdempotencyKeyReuse,
    /// 409: a request with this Idempotency-Key is still running.
    IdempotencyInProgress,
    /// 409: concurrent writes kept winning; retry.
    WriteConflict,
    /// 429: too many requests.
    RateLimited,
    /// 429: the handle's daily write limit is reached.
    DailyWriteLimit,
    /// 503: storage is unavailable; nothing was changed.
    StorageUnavailable,
    /// 503: the DNS resolver is unavailable; nothing was changed.
    ResolverUnavailable,
    /// 503: the snapshot could not be published; the write was rolled back.
    PublishFailed,
    /// 503: previews need `TOKEN_SECRET`.
    PreviewsDisabled,
    /// 503: site and ctx tokens need `TOKEN_SECRET`.
    TokensDisabled,
    /// 500: a bug; the detail is logged.
    Internal,
}

impl ErrorCode {
    /// The code as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::WrongHandle => "wrong_handle",
            Self::WrongCampaign => "wrong_campaign",
            Self::InsufficientScope => "insufficient_scope",
            Self::EntitlementRequired => "entitlement_required",
            Self::InsufficientEntitlement => "insufficient_entitlement",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::HandleNotFound => "handle_not_found",
            Self::RuleNotFound => "rule_not_found",
            Self::DomainNotFound => "domain_not_found",
            Self::CampaignNotFound => "campaign_not_found",
            Self::PageNotFound => "page_not_found",
            Self::EntryNotFound => "entry_not_found",
            Self::TemplateNotFound => "template_not_found",
            Self::VariantNotFound => "variant_not_found",
            Self::VersionNotFound => "version_not_found",
            Self::BodyTooLarge => "body_too_large",
            Self::InvalidJson => "invalid_json",
            Self::InvalidBody => "invalid_body",
            Self::InvalidParameter => "invalid_parameter",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidCtx => "invalid_ctx",
            Self::DomainExists => "domain_exists",
            Self::CampaignExists => "campaign_exists",
            Self::InvalidTransition => "invalid_transition",
            Self::NothingToPublish => "nothing_to_publish",
            Self::AlreadyCurrent => "already_current",
            Self::IdempotencyKeyReuse => "idempotency_key_reuse",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::WriteConflict => "write_conflict",
            Self::RateLimited => "rate_limited",
            Self::DailyWriteLimit => "daily_write_limit",
            Self::StorageUnavailable => "storage_unavailable",
            Self::ResolverUnavailable => "resolver_unavailable",
            Self::PublishFailed => "publish_failed",
            Self::PreviewsDisabled => "previews_disabled",
            Self::TokensDisabled => "tokens_disabled",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a missing thing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A handle.
    Handle,
    /// A rule.
    Rule,
    /// A destination domain.
    Domain,
    /// A campaign.
    Campaign,
    /// A campaign page.
    Page,
    /// An entry.
    Entry,
    /// A tracking template.
    Template,
    /// A campaign variant.
    Variant,
    /// A version of the change history.
    Version,
}

impl Missing {
    fn code(self) -> ErrorCode {
        match self {
            Self::Handle => ErrorCode::HandleNotFound,
            Self::Rule => ErrorCode::RuleNotFound,
            Self::Domain => ErrorCode::DomainNotFound,
            Self::Campaign => ErrorCode::CampaignNotFound,
            Self::Page => ErrorCode::PageNotFound,
            Self::Entry => ErrorCode::EntryNotFound,
            Self::Template => ErrorCode::TemplateNotFound,
            Self::Variant => ErrorCode::VariantNotFound,
            Self::Version => ErrorCode::VersionNotFound,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Handle => "handle",
            Self::Rule => "rule",
            Self::Domain => "domain",
            Self::Campaign => "campaign",
            Self::Page => "page",
            Self::Entry => "entry",
            Self::Template => "template",
            Self::Variant => "variant",
            Self::Version => "version",
        }
    }
}

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
    /// A gated page without an entitlement. 401 `entitlement_required`.
    EntitlementRequired(&'static str),
    /// An entitlement below the page's level. 403 `insufficient_entitlement`.
    InsufficientEntitlement(&'static str),
    /// No such route. 404 `route_not_found`.
    RouteNotFound,
    /// The route exists with other methods. 405 `method_not_allowed`.
    MethodNotAllowed(Vec<&'static str>),
    /// A named thing does not exist. 404 `<what>_not_found`.
    NotFound {
        /// What kind of thing.
        what: Missing,
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
    /// The change is well formed but does not validate; every problem listed. 422
    /// `validation_failed`.
    Validation(Vec<Diagnostic>),
    /// The request conflicts with the current state. 409 with the given code.
    Conflict {
        /// `domain_exists`, `invalid_transition`, `idempotency_key_reuse`, ...
        code: ErrorCode,
        /// What to do.
        message: String,
    },
    /// Too many requests. 429 with `Retry-After`.
    RateLimited {
        /// `rate_limited` or `daily_write_limit`.
        code: ErrorCode,
        /// Seconds until a retry can succeed.
        retry_after: u32,
    },
    /// A ctx token is missing, malformed, forged, expired or for something else. 400 `invalid_ctx`.
    InvalidCtx(&'static str),
    /// A dependency (D1, KV, the DoH resolver) failed; nothing was stored. 503 with the code.
    Unavailable {
        /// `storage_unavailable`, `resolver_unavailable`, `publish_failed`, ...
        code: ErrorCode,
        /// What failed, in words a client can act on.
        message: String,
    },
    /// Storage failed: 503 `storage_unavailable` (nothing was changed), 409
    /// `write_conflict`, or 500 `internal` for corrupt data; the detail is logged.
    Storage(StoreError),
    /// A bug: a serialisation or logic failure. 500 `internal`; the detail is logged,
    /// never answered.
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::EntitlementRequired(_) => 401,
            Self::WrongHandle
            | Self::WrongCampaign
            | Self::InsufficientScope(_)
            | Self::InsufficientEntitlement(_) => 403,
            Self::RouteNotFound | Self::NotFound { .. } => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::BodyTooLarge(_) => 413,
            Self::InvalidJson(_)
            | Self::InvalidBody { .. }
            | Self::InvalidParameter { .. }
            | Self::InvalidCtx(_) => 400,
            Self::Validation(_) => 422,
            Self::Conflict { .. } => 409,
            Self::RateLimited { .. } => 429,
            Self::Unavailable { .. } | Self::Storage(StoreError::Unavailable(_)) => 503,
            Self::Storage(StoreError::Conflict) => 409,
            Self::Internal(_) | Self::Storage(StoreError::Corrupt(_)) => 500,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingToken => ErrorCode::MissingToken,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::WrongHandle => ErrorCode::WrongHandle,
            Self::WrongCampaign => ErrorCode::WrongCampaign,
            Self::InsufficientScope(_) => ErrorCode::InsufficientScope,
            Self::EntitlementRequired(_) => ErrorCode::EntitlementRequired,
            Self::InsufficientEntitlement(_) => ErrorCode::InsufficientEntitlement,
            Self::RouteNotFound => ErrorCode::RouteNotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::NotFound { what, .. } => what.code(),
            Self::BodyTooLarge(_) => ErrorCode::BodyTooLarge,
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::InvalidBody { .. } => ErrorCode::InvalidBody,
            Self::InvalidParameter { .. } => ErrorCode::InvalidParameter,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::Conflict { code, .. }
            | Self::RateLimited { code, .. }
            | Self::Unavailable { code, .. } => *code,
            Self::InvalidCtx(_) => ErrorCode::InvalidCtx,
            Self::Storage(StoreError::Unavailable(_)) => ErrorCode::StorageUnavailable,
            Self::Storage(StoreError::Conflict) => ErrorCode::WriteConflict,
            Self::Internal(_) | Self::Storage(StoreError::Corrupt(_)) => ErrorCode::Internal,
        }
    }

    /// What goes to the log and never to the client, if anything.
    pub fn log_detail(&self) -> Option<String> {
        match self {
            Self::Storage(e @ (StoreError::Unavailable(_) | StoreError::Corrupt(_))) => {
                Some(e.to_string())
            }
            Self::Internal(why) => Some(format!("internal error: {why}")),
            _ => None,
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

    /// Extra response headers (`Retry-After`, `Allow`, `WWW-Authenticate`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::RateLimited { retry_after, .. } => vec![("Retry-After", retry_after.to_string())],
            Self::Unavailable { .. } | Self::Storage(StoreError::Unavailable(_)) => {
                vec![("Retry-After", "5".to_owned())]
            }
            Self::MethodNotAllowed(allowed) => vec![("Allow", allowed.join(", "))],
            Self::MissingToken
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::EntitlementRequired(_) => vec![("WWW-Authenticate", "Bearer".to_owned())],
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

    /// A thing that does not exist.
    pub fn not_found(what: Missing, id: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            id: id.into(),
        }
    }

    /// A field of the body that is wrong.
    pub fn invalid_body(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidBody {
            path: path.into(),
            message: message.into(),
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
            Self::EntitlementRequired(level) => write!(f, "this page is {level}: send Authorization: Bearer <entitlement> (minted by the storefront's server with POST /v2/handles/{{handle}}/entitlements)"),
            Self::InsufficientEntitlement(level) => write!(f, "this page is {level}; the entitlement does not reach it"),
            Self::RouteNotFound => f.write_str("no such route; see /v2/openapi.json"),
            Self::MethodNotAllowed(allowed) => write!(f, "allowed methods: {}", allowed.join(", ")),
            Self::NotFound { what, id } => write!(f, "no {} {id:?}", what.word()),
            Self::BodyTooLarge(limit) => write!(f, "request bodies are limited to {limit} bytes"),
            Self::InvalidJson(message) => write!(f, "the body is not valid JSON: {message}"),
            Self::InvalidBody { path, message } => write!(f, "{path}: {message}"),
            Self::InvalidParameter { name, message } => write!(f, "{name}: {message}"),
            Self::Validation(diagnostics) => {
                let errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
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
            Self::Storage(StoreError::Unavailable(_)) => {
                f.write_str("storage is unavailable; nothing was changed, retry shortly")
            }
            Self::Storage(StoreError::Conflict) => {
                f.write_str("the configuration changed while this write was applied; retry")
            }
            Self::Internal(_) | Self::Storage(StoreError::Corrupt(_)) => f.write_str(
                "an internal error; nothing was changed. Quote the request id to support",
            ),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::Storage(error)
    }
}

/// Every error: a stable code, a message a person can act on, and the request id (equal
/// to the `X-Request-Id` header).
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(schemars::JsonSchema),
    schemars(rename = "ErrorEnvelope")
)]
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error itself.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
    /// The request id, for support.
    pub request_id: String,
    /// Machine-readable detail: `validation_failed`, the list of diagnostics;
    /// `invalid_body`, `{path}`; `method_not_allowed`, `{allowed}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}
