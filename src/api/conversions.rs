//! Conversions (`POST /v2/public/conversions`) and test conversions (`POST
//! /v2/handles/{handle}/campaigns/{id}/test-conversion`): checking the body and the ctx
//! token, and the payload hash idempotency compares.
//!
//! Decisions:
//! - The **ctx token** is checked before anything else, and every way it can be wrong is
//!   400 `invalid_ctx` with a reason: missing, malformed, signature mismatch (forged,
//!   tampered with, or another kind of token), expired, issued in the future, or (test
//!   conversions) issued for another handle, campaign or variant. The handle, campaign,
//!   variant and visitor come from the token only, never from the body.
//! - Conversions are accepted for a campaign in any state as long as the ctx is fresh
//!   (a visitor who arrived while it was active may convert after a pause); a ctx naming
//!   a campaign or variant the handle no longer has is `invalid_ctx` ([`check_target`]).
//! - **Idempotency**: `Idempotency-Key` is required ([`idempotency_key`]). The edge stores
//!   `(handle, key)` under a unique constraint with the [`payload_hash`], so concurrent
//!   retries insert once; a duplicate with the same hash is a replay, another hash is 409
//!   `idempotency_key_reuse` ([`dedupe`]). The hash is SHA-256 (hex) of the canonical
//!   JSON of the parsed body ([`canonical_json`]): key order, whitespace, `null` versus
//!   absent, and `1` versus `1.0` do not change it.
//! - **Test conversions** are flagged `is_test` and kept out of every real figure
//!   ([`crate::analysis::stats`]). Without a ctx the edge mints one for the variant (visitor id
//!   `test-...`), so the whole path is exercised; the default event is [`TEST_EVENT`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ErrorCode, Missing};
use crate::model::config::{CampaignDoc, HandleConfig};
use crate::visit::tokens::{self, CtxClaims, Signed, TokenError, TokenKind};

/// Largest `metadata` object (canonical JSON bytes).
pub const MAX_METADATA_BYTES: usize = 4096;
/// The event of a test conversion that names none.
pub const TEST_EVENT: &str = "test_conversion";

/// Body of `POST /v2/public/conversions`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    schemars(rename = "ConversionRequest", extend("required" = ["ctx", "event"]))
)]
pub struct ConversionInput {
    /// The ctx token the redirect handed to the destination. Required; a missing or
    /// empty one is 400 `invalid_ctx` (the handler says why, serde would only say
    /// "missing field").
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1)))]
    pub ctx: String,
    /// Event name, `[a-z0-9_.-]{1,64}`.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[a-z0-9_.-]{1,64}$"))
    )]
    pub event: String,
    /// A finite, non-negative value (e.g. order total).
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(min = 0)))]
    pub value: Option<f64>,
    /// ISO 4217 code of `value`, e.g. `INR`.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(regex(pattern = r"^[A-Z]{3}$")))]
    pub currency: Option<String>,
    /// Free-form JSON object, at most 4 KiB.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// Body of `POST .../campaigns/{id}/test-conversion`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    schemars(rename = "TestConversionRequest")
)]
pub struct TestConversionInput {
    /// The variant to record it for.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    )]
    pub variant: String,
    /// A ctx token to check (it must be for this campaign and variant); minted when
    /// absent.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1)))]
    pub ctx: Option<String>,
    /// Event name (default `test_conversion`).
    #[serde(default)]
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[a-z0-9_.-]{1,64}$"))
    )]
    pub event: Option<String>,
}

/// A checked conversion, ready to store.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversion {
    /// Handle (from the ctx).
    pub handle: String,
    /// Campaign (from the ctx).
    pub campaign: String,
    /// Variant (from the ctx).
    pub variant: String,
    /// Visitor id (from the ctx).
    pub visitor_id: String,
    /// Event name.
    pub event: String,
    /// Value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Metadata as canonical JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// A test conversion (never in real figures).
    pub is_test: bool,
}

/// Checks a ctx token at `now` (a real one: a test conversion's ctx is refused).
///
/// # Errors
/// [`ApiError::InvalidCtx`] with the reason.
pub fn verify_ctx(
    secret: &[u8],
    ctx: &str,
    now: DateTime<Utc>,
) -> Result<Signed<CtxClaims>, ApiError> {
    verify_ctx_of(&[TokenKind::Ctx], secret, ctx, now)
}

/// Checks a ctx token that may be of any of `kinds` (in order; a signature mismatch
/// tries the next) at `now`.
fn verify_ctx_of(
    kinds: &[TokenKind],
    secret: &[u8],
    ctx: &str,
    now: DateTime<Utc>,
) -> Result<Signed<CtxClaims>, ApiError> {
    let ctx = ctx.trim();
    if ctx.is_empty() {
        return Err(ApiError::InvalidCtx(
            "missing; send the ctx token the redirect passed to the destination",
        ));
    }
    let mut outcome = Err(TokenError::BadSignature);
    for kind in kinds {
        outcome = tokens::verify(*kind, secret, ctx, now.timestamp());
        if !matches!(outcome, Err(TokenError::BadSignature)) {
            break;
        }
    }
    outcome.map_err(|e| {
        ApiError::InvalidCtx(match e {
            TokenError::Malformed => "malformed; it is not a ctx token",
            TokenError::BadSignature => {
                "signature mismatch; it was forged, tampered with, or is not a ctx token"
            }
            TokenError::Expired => "expired; use a ctx from a fresh redirect",
            TokenError::NotYetValid => "issued in the future",
        })
    })
}

fn invalid(path: &str, message: impl Into<String>) -> ApiError {
    ApiError::InvalidBody {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Checks an event name.
///
/// # Errors
/// [`ApiError::InvalidBody`] at `path`.
pub fn check_event(event: &str, path: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&event.len())
        && event.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            "event names are 1 to 64 of a-z, 0-9, '_', '.', '-'",
        ))
    }
}

/// Checks the body fields other than the ctx; returns the canonical metadata.
fn check_fields(input: &ConversionInput) -> Result<Option<String>, ApiError> {
    check_event(&input.event, "$.event")?;
    if input.value.is_some_and(|v| !v.is_finite() || v < 0.0) {
        return Err(invalid("$.value", "a finite number of at least 0"));
    }
    if input
        .currency
        .as_deref()
        .is_some_and(|c| c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(invalid(
            "$.currency",
            "an ISO 4217 code of three capital letters, e.g. INR",
        ));
    }
    let metadata = input
        .metadata
        .as_ref()
        .map(|m| canonical_json(&Value::Object(m.clone())));
    if metadata
        .as_ref()
        .is_some_and(|m| m.len() > MAX_METADATA_BYTES)
    {
        return Err(invalid(
            "$.metadata",
            format!("at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    Ok(metadata)
}

/// Checks a public conversion: the ctx first, then the fields.
///
/// # Errors
/// [`ApiError::InvalidCtx`], then [`ApiError::InvalidBody`] with the field's path.
pub fn verify_conversion(
    secret: &[u8],
    input: &ConversionInput,
    now: DateTime<Utc>,
) -> Result<Conversion, ApiError> {
    let claims = verify_ctx(secret, &input.ctx, now)?.claims;
    let metadata = check_fields(input)?;
    Ok(Conversion {
        handle: claims.handle,
        campaign: claims.campaign,
        variant: claims.variant,
        visitor_id: claims.vid,
        event: input.event.clone(),
        value: input.value,
        currency: input.currency.clone(),
        metadata,
        is_test: false,
    })
}

/// Checks that the handle still has the conversion's campaign and variant.
///
/// # Errors
/// [`ApiError::InvalidCtx`].
pub fn check_target(config: &HandleConfig, conversion: &Conversion) -> Result<(), ApiError> {
    let campaign = config
        .campaigns
        .iter()
        .find(|c| c.id == conversion.campaign)
        .ok_or(ApiError::InvalidCtx(
            "it names a campaign this handle does not have",
        ))?;
    if campaign
        .variants
        .iter()
        .any(|v| v.key == conversion.variant)
    {
        Ok(())
    } else {
        Err(ApiError::InvalidCtx(
            "it names a variant the campaign does not have",
        ))
    }
}

/// Checks a test conversion for `campaign` of `handle`; returns it (flagged) and the
/// ctx it is tied to: the body's, checked, or one minted for `visitor_id` with
/// `ttl_seconds`.
///
/// # Errors
/// [`ApiError::InvalidBody`] (`$.variant` unknown, `$.event`), [`ApiError::InvalidCtx`]
/// for a bad ctx or one for another handle, campaign or variant.
pub fn test_conversion(
    secret: &[u8],
    handle: &str,
    campaign: &CampaignDoc,
    input: &TestConversionInput,
    visitor_id: &str,
    ttl_seconds: i64,
    now: DateTime<Utc>,
) -> Result<(Conversion, String), ApiError> {
    if !campaign.variants.iter().any(|v| v.key == input.variant) {
        return Err(ApiError::not_found(Missing::Variant, input.variant.clone()));
    }
    let event = input.event.as_deref().unwrap_or(TEST_EVENT);
    check_event(event, "$.event")?;
    let (claims, ctx) = match &input.ctx {
        Some(ctx) => {
            // A visitor's real ctx, or one an earlier test conversion minted.
            let claims =
                verify_ctx_of(&[TokenKind::Ctx, TokenKind::TestCtx], secret, ctx, now)?.claims;
            if claims.handle != handle {
                return Err(ApiError::InvalidCtx("issued for another handle"));
            }
            if claims.campaign != campaign.id {
                return Err(ApiError::InvalidCtx("issued for another campaign"));
            }
            if claims.variant != input.variant {
                return Err(ApiError::InvalidCtx("issued for another variant"));
            }
            (claims, ctx.trim().to_owned())
        }
        None => {
            let claims = CtxClaims {
                handle: handle.to_owned(),
                campaign: campaign.id.clone(),
                variant: input.variant.clone(),
                vid: visitor_id.to_owned(),
            };
            // Its own kind of token: the public conversion route refuses it, so a test
            // ctx can never count as a real conversion.
            let ctx = tokens::sign(
                TokenKind::TestCtx,
                secret,
                claims.clone(),
                now.timestamp(),
                ttl_seconds,
            );
            (claims, ctx)
        }
    };
    let conversion = Conversion {
        handle: claims.handle,
        campaign: claims.campaign,
        variant: claims.variant,
        visitor_id: claims.vid,
        event: event.to_owned(),
        value: None,
        currency: None,
        metadata: None,
        is_test: true,
    };
    Ok((conversion, ctx))
}

/// The `Idempotency-Key` of a conversion (required).
///
/// # Errors
/// [`ApiError::InvalidParameter`] when missing, empty, longer than 255 or not printable
/// ASCII.
pub fn idempotency_key(header: Option<&str>) -> Result<&str, ApiError> {
    let key = header.map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidParameter {
            name: "Idempotency-Key",
            message: "required: 1 to 255 printable ASCII characters, the same for every retry of one conversion".into(),
        });
    }
    Ok(key)
}

/// The stored form of a conversion's `Idempotency-Key`: scoped to the ctx it came with
/// (a hash of the token, so the table holds no token).
pub fn scoped_key(ctx: &str, key: &str) -> String {
    let digest = Sha256::digest(ctx.trim().as_bytes());
    format!(
        "{}:{key}",
        crate::model::ids::hex(digest.get(..12).unwrap_or_default())
    )
}

/// What to do with a conversion whose key may already be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// The key is new: it was recorded now.
    Recorded,
    /// The same conversion was already recorded: answer as before, count nothing.
    Replay,
}

/// Compares the stored payload hash of a key (if the insert found one) with this one.
///
/// # Errors
/// [`ApiError::Conflict`] `idempotency_key_reuse` for a different payload.
pub fn dedupe(stored: Option<&str>, hash: &str) -> Result<Dedupe, ApiError> {
    match stored {
        None => Ok(Dedupe::Recorded),
        Some(stored) if stored == hash => Ok(Dedupe::Replay),
        Some(_) => Err(ApiError::Conflict {
            code: ErrorCode::IdempotencyKeyReuse,
            message: "this Idempotency-Key was used for another conversion payload".into(),
        }),
    }
}

/// SHA-256 (hex) of the canonical form of a conversion body.
pub fn payload_hash(input: &ConversionInput) -> String {
    let mut object = Map::new();
    object.insert("ctx".into(), Value::from(input.ctx.trim()));
    object.insert("event".into(), Value::from(input.event.as_str()));
    if let Some(value) = input.value {
        object.insert("value".into(), Value::from(value));
    }
    if let Some(currency) = &input.currency {
        object.insert("currency".into(), Value::from(currency.as_str()));
    }
    if let Some(metadata) = &input.metadata {
        object.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    let digest = Sha256::digest(canonical_json(&Value::Object(object)).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Canonical JSON: no whitespace, object keys sorted (by their UTF-8 bytes), strings as
/// serde_json escapes them, integral numbers up to 2^53 written as integers.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&value.to_string()),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => {
                out.push_str(&format!("{}", f as i64));
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests;
