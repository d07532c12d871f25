//! The UC-07 handlers: campaigns (lifecycle, health, test conversions), campaign pages
//! (management and public), public conversions and support reports. Decisions are the
//! core's (`crate::api::{campaigns, health, pages, conversions, stats, support}`); this
//! file sequences I/O.

use serde_json::{json, Value};

use super::db;
use super::handlers::{current, mutate, ok, Ctx, Reply};
use crate::analysis::health;
use crate::analysis::stats::{self, Stats};
use crate::api::body;
use crate::api::campaigns::{self, CreateCampaign};
use crate::api::conversions::{self, ConversionInput, Dedupe, TestConversionInput};
use crate::api::error::ApiError;
use crate::api::pages::{self, PageInput, PageState, SiteTokenRequest};
use crate::api::routes::{Params, RouteId};
use crate::api::support::{self, SupportReport};
use crate::edge::respond;
use crate::model::config::HandleConfig;

fn secret(ctx: &Ctx) -> Result<&[u8], ApiError> {
    ctx.settings
        .visit
        .token_secret
        .as_deref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "tokens_disabled",
            message: "TOKEN_SECRET is not configured".into(),
        })
}

fn optional_body<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
    limit: usize,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        body::parse(body, limit)
    }
}

async fn campaign_stats(ctx: &Ctx, config: &HandleConfig, id: &str) -> Result<Stats, ApiError> {
    let doc = &config.campaigns[campaigns::find_campaign(config, id)?];
    let rows = db::stat_rows(&ctx.db, &config.handle, id).await?;
    Ok(stats::stats(doc, &rows))
}

fn view(config: &HandleConfig, id: &str, ctx: &Ctx) -> Result<Value, ApiError> {
    let doc = &config.campaigns[campaigns::find_campaign(config, id)?];
    serde_json::to_value(campaigns::campaign_view(config, doc, ctx.now)).map_err(db::storage)
}

/// Runs a campaign, page, conversion or report route.
pub(crate) async fn run(
    ctx: &Ctx,
    route: RouteId,
    params: &Params,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let handle = params.handle();
    let id = params.campaign_id.as_deref().unwrap_or_default();
    let limit = ctx.settings.api_max_body_bytes;
    match route {
        RouteId::ListCampaigns => {
            let (current, _) = current(ctx, handle).await?;
            let list = campaigns::campaign_views(&current.config, ctx.now);
            Ok(ok(
                json!({ "handle": handle, "version": current.version, "campaigns": list }),
            ))
        }
        RouteId::CreateCampaign => {
            let request: CreateCampaign = body::parse(body, limit)?;
            let generated = campaigns::uuid_v4(respond::random_bytes::<16>());
            let now = ctx.now;
            let (created, version, _, config) = mutate(ctx, handle, |c| {
                campaigns::create_campaign(c, request.clone(), generated.clone(), now)
            })
            .await?;
            Ok(Reply::new(
                201,
                json!({ "version": version, "campaign": view(&config, &created, ctx)? }),
            ))
        }
        RouteId::GetCampaign => {
            let (current, _) = current(ctx, handle).await?;
            let mut campaign = view(&current.config, id, ctx)?;
            campaign["stats"] =
                serde_json::to_value(campaign_stats(ctx, &current.config, id).await?)
                    .map_err(db::storage)?;
            Ok(ok(
                json!({ "version": current.version, "campaign": campaign }),
            ))
        }
        RouteId::TransitionCampaign(transition) => {
            let now = ctx.now;
            let ((from, to), version, _, config) = mutate(ctx, handle, |c| {
                campaigns::transition_campaign(c, id, transition, now)
            })
            .await?;
            Ok(ok(
                json!({ "version": version, "from": from, "status": to, "campaign": view(&config, id, ctx)? }),
            ))
        }
        RouteId::CampaignHealth => {
            let (current, compiled) = current(ctx, handle).await?;
            campaigns::find_campaign(&current.config, id)?;
            let page = db::page(&ctx.db, handle, id).await?.map(|(state, _)| state);
            let tests = campaign_stats(ctx, &current.config, id)
                .await?
                .test_conversions();
            let report = health::health(
                &current.config,
                &compiled.ruleset,
                id,
                ctx.now,
                page.as_ref(),
                &tests,
            )
            .ok_or_else(|| ApiError::NotFound {
                what: "campaign",
                id: id.to_owned(),
            })?;
            let mut value = serde_json::to_value(report).map_err(db::storage)?;
            value["version"] = json!(current.version);
            Ok(ok(value))
        }
        RouteId::TestConversion => test_conversion(ctx, handle, id, body, limit).await,
        RouteId::MintSiteToken => {
            let (current, _) = current(ctx, handle).await?;
            campaigns::find_campaign(&current.config, id)?;
            let request: SiteTokenRequest = optional_body(body, limit)?;
            let token = pages::mint_site_token(secret(ctx)?, handle, id, &request, ctx.now)?;
            Ok(Reply::new(
                201,
                serde_json::to_value(token).map_err(db::storage)?,
            ))
        }
        RouteId::GetPage => {
            let (current, _) = current(ctx, handle).await?;
            campaigns::find_campaign(&current.config, id)?;
            let (state, _) =
                db::page(&ctx.db, handle, id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound {
                        what: "page",
                        id: id.to_owned(),
                    })?;
            Ok(ok(
                serde_json::to_value(pages::page_view(id, &state)).map_err(db::storage)?
            ))
        }
        RouteId::PutPage | RouteId::PublicPutPage => {
            let input: PageInput = body::parse(body, limit)?;
            let by = ctx.principal.sub.clone();
            let now = ctx.now_text();
            let state = change_page(ctx, handle, id, |state| {
                pages::put_draft(state, id, input.clone(), &by, &now).map(|_| ())
            })
            .await?;
            Ok(ok(
                serde_json::to_value(pages::page_view(id, &state)).map_err(db::storage)?
            ))
        }
        RouteId::PublishPage | RouteId::PublicPublishPage => {
            let by = ctx.principal.sub.clone();
            let now = ctx.now_text();
            let state = change_page(ctx, handle, id, |state| {
                pages::publish(state, &by, &now).map(|_| ())
            })
            .await?;
            Ok(ok(
                serde_json::to_value(pages::page_view(id, &state)).map_err(db::storage)?
            ))
        }
        RouteId::PublicGetPage => {
            let not_found = || ApiError::NotFound {
                what: "page",
                id: id.to_owned(),
            };
            let (state, _) = db::page(&ctx.db, handle, id).await?.ok_or_else(not_found)?;
            let schema_url =
                format!("/v2/public/handles/{handle}/site-structure/campaigns/{id}/schema");
            let page = pages::public_view(id, &state, &schema_url).ok_or_else(not_found)?;
            Ok(ok(serde_json::to_value(page).map_err(db::storage)?))
        }
        RouteId::PublicPageSchema => Ok(ok(pages::page_schema())),
        RouteId::Conversion => conversion(ctx, body, limit).await,
        RouteId::SupportReport => {
            let report: SupportReport = body::parse(body, limit)?;
            report.validate()?;
            let report_id = support::report_id(&respond::random_bytes::<12>());
            db::insert_report(&ctx.db, &report_id, &report, &ctx.client, &ctx.now_text()).await?;
            Ok(Reply::new(
                201,
                json!({ "report_id": report_id, "received_at": ctx.now_text() }),
            ))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

/// Applies `change` to a campaign page with compare-and-swap on its revision, retrying a
/// lost race from a fresh read. The campaign must exist.
async fn change_page(
    ctx: &Ctx,
    handle: &str,
    id: &str,
    change: impl Fn(&mut PageState) -> Result<(), ApiError>,
) -> Result<PageState, ApiError> {
    let (current, _) = current(ctx, handle).await?;
    campaigns::find_campaign(&current.config, id)?;
    for _ in 0..4 {
        let (mut state, expected) = match db::page(&ctx.db, handle, id).await? {
            Some((state, revision)) => (state, Some(revision)),
            None => (PageState::default(), None),
        };
        change(&mut state)?;
        if db::save_page(&ctx.db, handle, id, &state, expected, &ctx.now_text()).await? {
            return Ok(state);
        }
    }
    Err(db::write_conflict())
}

async fn test_conversion(
    ctx: &Ctx,
    handle: &str,
    id: &str,
    body: &[u8],
    limit: usize,
) -> Result<Reply, ApiError> {
    let input: TestConversionInput = body::parse(body, limit)?;
    let (current, _) = current(ctx, handle).await?;
    let doc = &current.config.campaigns[campaigns::find_campaign(&current.config, id)?];
    let visitor = format!("test-{}", respond::hex(&respond::random_bytes::<8>()));
    let (conversion, ctx_token) = conversions::test_conversion(
        secret(ctx)?,
        handle,
        doc,
        &input,
        &visitor,
        ctx.settings.visit.ctx_ttl_seconds,
        ctx.now,
    )?;
    // Each test conversion is its own record; a retried request is deduplicated by the
    // generic Idempotency-Key layer around this handler.
    let key = format!("test:{}", ctx.request_id);
    db::record_conversion(&ctx.db, &conversion, &key, &key, &ctx.now_text()).await?;
    Ok(Reply::new(
        201,
        json!({ "recorded": true, "conversion": conversion, "ctx": ctx_token }),
    ))
}

/// `POST /v2/public/conversions`: the ctx decides handle, campaign and variant; the
/// `(handle, Idempotency-Key)` unique key makes retries, also concurrent ones, count once.
async fn conversion(ctx: &Ctx, body: &[u8], limit: usize) -> Result<Reply, ApiError> {
    let input: ConversionInput = body::parse(body, limit)?;
    let conversion = conversions::verify_conversion(secret(ctx)?, &input, ctx.now)?;
    let key = conversions::idempotency_key(ctx.idempotency_key.as_deref())?;
    let (current, _) = current(ctx, &conversion.handle)
        .await
        .map_err(|e| match e {
            ApiError::NotFound { .. } => {
                ApiError::InvalidCtx("it names a handle that does not exist")
            }
            other => other,
        })?;
    conversions::check_target(&current.config, &conversion)?;
    let hash = conversions::payload_hash(&input);
    let stored = db::record_conversion(&ctx.db, &conversion, key, &hash, &ctx.now_text()).await?;
    let answer = json!({ "campaign": conversion.campaign, "variant": conversion.variant, "event": conversion.event });
    match conversions::dedupe(stored.as_deref(), &hash)? {
        Dedupe::Recorded => Ok(Reply::new(
            201,
            json!({ "recorded": true, "duplicate": false, "conversion": answer }),
        )),
        Dedupe::Replay => {
            let mut reply = Reply::new(
                200,
                json!({ "recorded": false, "duplicate": true, "conversion": answer }),
            );
            reply
                .headers
                .push(("Idempotent-Replayed", "true".to_owned()));
            Ok(reply)
        }
    }
}
