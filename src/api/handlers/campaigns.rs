//! `.../campaigns`: list, create, one with its stats, lifecycle transitions, health,
//! test conversions.

use crate::analysis::health;
use crate::analysis::stats::{self, Stats};
use crate::api::body;
use crate::api::campaigns::{
    campaign_view, campaign_views, create_campaign, find_campaign, promote_campaign,
    transition_campaign, uuid_v4, CampaignView, CreateCampaign, PromoteRequest,
};
use crate::api::context::{Ctx, Reply};
use crate::api::conversions::{self, TestConversionInput};
use crate::api::documents::{current, load, mutate};
use crate::api::error::{ApiError, Missing};
use crate::api::replies::{
    CampaignHealth, CampaignList, CampaignResult, PromoteResult, TestConversionResult,
    TransitionResult,
};
use crate::api::store::{Resolver, Store};
use crate::model::config::HandleConfig;
use crate::model::ids::hex;
use crate::model::lifecycle::Transition;

async fn campaign_stats<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    config: &HandleConfig,
    id: &str,
) -> Result<Stats, ApiError> {
    let doc = find_campaign(config, id)?;
    let rows = cx.store.stat_rows(&config.handle, id).await?;
    Ok(stats::stats(doc, &rows))
}

fn view<S, R>(
    cx: &Ctx<'_, S, R>,
    config: &HandleConfig,
    id: &str,
) -> Result<CampaignView, ApiError> {
    let doc = find_campaign(config, id)?;
    Ok(campaign_view(config, doc, cx.now))
}

pub(super) async fn list<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    Reply::of(
        200,
        &CampaignList {
            handle: handle.to_owned(),
            version: current.version,
            campaigns: campaign_views(&current.config, cx.now),
        },
    )
}

pub(super) async fn create<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let request: CreateCampaign = body::parse(body, cx.settings.max_body_bytes)?;
    let generated = uuid_v4(cx.random);
    let done = mutate(cx, handle, |c| {
        Ok(create_campaign(
            c,
            request.clone(),
            generated.clone(),
            cx.now,
        )?)
    })
    .await?;
    Reply::of(
        201,
        &CampaignResult {
            version: done.version,
            campaign: view(cx, &done.config, &done.value)?,
        },
    )
}

pub(super) async fn get<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let current = load(cx.store, handle).await?;
    let mut campaign = view(cx, &current.config, id)?;
    campaign.stats = Some(campaign_stats(cx, &current.config, id).await?);
    Reply::of(
        200,
        &CampaignResult {
            version: current.version,
            campaign,
        },
    )
}

pub(super) async fn transition<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    requested: Transition,
) -> Result<Reply, ApiError> {
    let done = mutate(cx, handle, |c| {
        Ok(transition_campaign(c, id, requested, cx.now)?)
    })
    .await?;
    let (from, status) = done.value;
    Reply::of(
        200,
        &TransitionResult {
            version: done.version,
            from,
            status,
            campaign: view(cx, &done.config, id)?,
        },
    )
}

pub(super) async fn promote<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let request: PromoteRequest = body::parse(body, cx.settings.max_body_bytes)?;
    let done = mutate(cx, handle, |c| {
        promote_campaign(c, id, &request.variant, cx.now)
    })
    .await?;
    let campaign = view(cx, &done.config, id)?;
    Reply::of(
        200,
        &PromoteResult {
            version: done.version,
            from: done.value.from,
            status: campaign.doc.status,
            variant: request.variant,
            destination: done.value.destination,
            rules: done.value.rules,
            campaign,
        },
    )
}

pub(super) async fn health<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let (current, compiled) = current(cx.store, handle).await?;
    find_campaign(&current.config, id)?;
    let page = cx.store.page(handle, id).await?.map(|(state, _)| state);
    let tests = campaign_stats(cx, &current.config, id)
        .await?
        .test_conversions();
    let report = health::health(
        &current.config,
        &compiled.ruleset,
        id,
        cx.now,
        page.as_ref(),
        &tests,
    )
    .ok_or_else(|| ApiError::not_found(Missing::Campaign, id))?;
    Reply::of(
        200,
        &CampaignHealth {
            version: current.version,
            health: report,
        },
    )
}

pub(super) async fn test_conversion<S: Store, R: Resolver>(
    cx: &Ctx<'_, S, R>,
    handle: &str,
    id: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let input: TestConversionInput = body::parse(body, cx.settings.max_body_bytes)?;
    let current = load(cx.store, handle).await?;
    let doc = find_campaign(&current.config, id)?;
    let visitor = format!("test-{}", hex(cx.random.get(..8).unwrap_or_default()));
    let (conversion, ctx_token) = conversions::test_conversion(
        cx.token_secret()?,
        handle,
        doc,
        &input,
        &visitor,
        cx.settings.ctx_ttl_seconds,
        cx.now,
    )?;
    // Each test conversion is its own record; a retried request is deduplicated by the
    // generic Idempotency-Key layer around this handler.
    let key = format!("test:{}", cx.request_id);
    cx.store
        .record_conversion(&conversion, &key, &key, &cx.now_text())
        .await?;
    Reply::of(
        201,
        &TestConversionResult {
            recorded: true,
            conversion,
            ctx: ctx_token,
        },
    )
}
