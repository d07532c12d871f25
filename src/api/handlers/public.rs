//! The public writes: conversions tied to a ctx token, and support reports.

use crate::api::body;
use crate::api::context::{Ctx, Reply};
use crate::api::conversions::{self, ConversionInput, Dedupe};
use crate::api::documents::load;
use crate::api::error::ApiError;
use crate::api::replies::{ConversionResult, ConversionTarget, SupportReportResult};
use crate::api::store::{Resolver, Store};
use crate::api::support::{self, SupportReport};

/// `POST /v2/public/conversions`: the ctx decides handle, campaign and variant; the
/// `(handle, ctx, Idempotency-Key)` unique key makes retries, also concurrent ones, count
/// once.
pub(super) async fn conversion<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let input: ConversionInput = body::parse(body, cx.settings.max_body_bytes)?;
    let conversion = conversions::verify_conversion(cx.token_secret()?, &input, cx.now)?;
    let key = conversions::idempotency_key(cx.idempotency_key)?;
    let current = load(cx.store, &conversion.handle)
        .await
        .map_err(|e| match e {
            ApiError::NotFound { .. } => {
                ApiError::InvalidCtx("it names a handle that does not exist")
            }
            other => other,
        })?;
    conversions::check_target(&current.config, &conversion)?;
    let hash = conversions::payload_hash(&input);
    // The key counts within its ctx: a stranger who sends the same key with another ctx
    // takes nothing from the visitor whose conversion it is.
    let key = conversions::scoped_key(&input.ctx, key);
    let stored = cx
        .store
        .record_conversion(&conversion, &key, &hash, &cx.now_text())
        .await?;
    let conversion = ConversionTarget {
        campaign: conversion.campaign,
        variant: conversion.variant,
        event: conversion.event,
    };
    let recorded = conversions::dedupe(stored.as_deref(), &hash)? == Dedupe::Recorded;
    let result = ConversionResult {
        recorded,
        duplicate: !recorded,
        conversion,
    };
    let mut reply = Reply::of(if recorded { 201 } else { 200 }, &result)?;
    if !recorded {
        reply
            .headers
            .push(("Idempotent-Replayed", "true".to_owned()));
    }
    Ok(reply)
}

/// `POST /v2/support/report`.
pub(super) async fn support_report<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let report: SupportReport = body::parse(body, cx.settings.max_body_bytes)?;
    report.validate()?;
    let report_id = support::report_id(cx.random.get(..12).unwrap_or_default());
    cx.store
        .insert_report(&report_id, &report, cx.client, &cx.now_text())
        .await?;
    Reply::of(
        201,
        &SupportReportResult {
            report_id,
            received_at: cx.now_text(),
        },
    )
}
