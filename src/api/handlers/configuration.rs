//! The whole configuration (`GET/PUT .../configuration`), preview tokens, the route
//! preview matrix and the rule audit.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::analysis::audit::audit as rule_audit;
use crate::analysis::matrix::{matrix, MatrixError};
use crate::api::body;
use crate::api::context::{Ctx, Reply};
use crate::api::documents::{current, load, mutate, Edit};
use crate::api::error::{ApiError, ErrorCode, Missing};
use crate::api::replies::{
    Configuration, ConfigurationWriteResult, PreviewToken, RoutePreview, RuleAudit, WhoAmI,
};
use crate::api::rules::replace_configuration;
use crate::api::store::{Resolver, Store};
use crate::api::trust::replace_keeping_trust;
use crate::engine::device::DeviceCategory;
use crate::visit::tokens::{self, PreviewClaims, TokenKind};

impl From<MatrixError> for ApiError {
    fn from(e: MatrixError) -> Self {
        match e {
            MatrixError::UnknownEntry(id) => ApiError::not_found(Missing::Entry, id),
            MatrixError::InvalidCountry(_) | MatrixError::TooManyCountries(_) => {
                ApiError::InvalidParameter {
                    name: "countries",
                    message: e.to_string(),
                }
            }
            MatrixError::TooManyDevices(_) => ApiError::InvalidParameter {
                name: "devices",
                message: e.to_string(),
            },
        }
    }
}

pub(super) async fn get<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let (current, compiled) = current(cx.store, handle).await?;
    Reply::of(
        200,
        &Configuration {
            version: current.version,
            configuration: current.config,
            warnings: compiled.warnings,
        },
    )
}

pub(super) async fn put<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let value: Value = body::parse(body, cx.settings.max_body_bytes)?;
    let replacement = replace_configuration(handle, value)?;
    let done = mutate(cx, handle, |c| {
        // Trust state stays the server's: what the body says of it is answered as
        // warnings (see `api::trust`).
        let ignored = replace_keeping_trust(c, replacement.clone(), &cx.random);
        Ok(Edit::body(ignored))
    })
    .await?;
    let mut warnings = done.value;
    warnings.extend(done.compiled.warnings);
    Reply::of(
        200,
        &ConfigurationWriteResult {
            version: done.version,
            warnings,
        },
    )
}

/// `GET .../whoami`: the caller's subject and scopes, with the handle's version (so an
/// unknown handle is a 404 here too).
pub(super) async fn whoami<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    let who = &cx.principal;
    Reply::of(
        200,
        &WhoAmI {
            handle: who.handle.clone(),
            sub: who.sub.clone(),
            scopes: who.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            version: current.version,
        },
    )
}

/// Query of `GET .../route-preview`: `entry` (required), `countries` and `devices`
/// (comma-separated; defaults from the entry's rules), `at` (RFC 3339; default now).
#[derive(Debug)]
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
        // The entry is taken as written (a slug has no blanks to trim).
        let entry = query
            .iter()
            .find(|(k, _)| k == "entry")
            .map(|(_, v)| v.as_str())
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

pub(super) async fn route_preview<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    let (current, compiled) = current(cx.store, handle).await?;
    let request = MatrixRequest::parse(query, cx.now)?;
    let table = matrix(
        &compiled.ruleset,
        &request.entry,
        &request.countries,
        &request.devices,
        request.at,
    )?;
    Reply::of(
        200,
        &RoutePreview {
            version: current.version,
            matrix: table,
        },
    )
}

pub(super) async fn audit<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let (current, compiled) = current(cx.store, handle).await?;
    Reply::of(
        200,
        &RuleAudit {
            version: current.version,
            audit: rule_audit(&current.config, &compiled.ruleset),
        },
    )
}

/// Body of `POST .../preview-tokens` (optional).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewTokenRequest {
    /// Lifetime in seconds, 1 to 86400 (default 3600).
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(min = 1, max = 86_400)))]
    pub(crate) ttl_seconds: Option<i64>,
}

/// Longest preview token lifetime the API mints (one day).
const MAX_PREVIEW_TTL: i64 = 24 * 3600;

pub(super) fn preview_token<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let request: PreviewTokenRequest = body::parse_optional(body, cx.settings.max_body_bytes)?;
    let ttl = request.ttl_seconds.unwrap_or(3600);
    if !(1..=MAX_PREVIEW_TTL).contains(&ttl) {
        return Err(ApiError::invalid_body(
            "$.ttl_seconds",
            format!("1 to {MAX_PREVIEW_TTL} seconds"),
        ));
    }
    let secret = cx
        .settings
        .token_secret
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable {
            code: ErrorCode::PreviewsDisabled,
            message: "TOKEN_SECRET is not configured".into(),
        })?;
    let now = cx.now.timestamp();
    let claims = PreviewClaims {
        handle: handle.to_owned(),
        sub: Some(cx.principal.sub.clone()),
    };
    let token = tokens::sign(TokenKind::Preview, secret, claims, now, ttl);
    Reply::of(
        201,
        &PreviewToken {
            token,
            handle: handle.to_owned(),
            expires_at: now + ttl,
            usage: format!(
                "/{handle}/<entry>?__preview=<token>&__country=IN&__device=mobile&__explain=1"
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_errors_name_the_parameter() {
        let api: ApiError = MatrixError::UnknownEntry("nope".into()).into();
        assert_eq!(api, ApiError::not_found(Missing::Entry, "nope"));
        let api: ApiError = MatrixError::TooManyDevices(6).into();
        assert!(matches!(
            api,
            ApiError::InvalidParameter {
                name: "devices",
                ..
            }
        ));
    }

    #[test]
    fn matrix_requests_need_an_entry_and_known_devices() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        let r = MatrixRequest::parse(
            &q(&[
                ("entry", "festive"),
                ("countries", "IN, AE,"),
                ("devices", "mobile"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(
            (r.entry.as_str(), r.countries.len(), r.devices.len(), r.at),
            ("festive", 2, 1, now)
        );
        for bad in [
            &[("countries", "IN")][..],
            &[("entry", "festive"), ("devices", "phone")],
            &[("entry", "festive"), ("at", "yesterday")],
        ] {
            let err = MatrixRequest::parse(&q(bad), now).unwrap_err();
            assert_eq!(err.code(), "invalid_parameter", "{bad:?}");
        }
    }
}
