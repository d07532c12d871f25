//! `GET /{handle}/{slug}`: the visitor path. Reads the snapshot (cached), gathers facts,
//! lets the core decide, and answers a 302, the explain JSON (valid preview only), or a
//! safe page. It never answers a 5xx: any failure becomes the safe fallback.

use chrono::{DateTime, Utc};
use worker::{Env, Headers, Request, Response};

use super::respond::{self, base_headers};
use super::settings::{self, Settings};
use super::store::{self, SnapshotLookup};
use super::ua;
use super::visitor;
use crate::engine::device::DeviceCategory;
use crate::engine::explain::ExplainContext;
use crate::engine::facts::{gather, FactInputs};
use crate::engine::ruleset::{Outcome, Visit};
use crate::engine::snapshot::Loaded;
use crate::visit::reserved_query::split_query;
use crate::visit::tokens::{self, CtxClaims, PreviewClaims, TokenKind};
use crate::visit::user_agent::{classify_with, DeviceHeaders};

/// Handles a visit; whatever fails, the visitor gets a safe answer.
pub(crate) async fn handle(
    req: &Request,
    env: &Env,
    handle: &str,
    slug: &str,
    request_id: &str,
) -> Response {
    let settings = settings::get(env);
    match visit(req, env, &settings, handle, slug, request_id).await {
        Ok(response) => response,
        Err(e) => {
            worker::console_error!("visit {handle}/{slug} failed ({request_id}): {e}");
            unavailable(&settings, request_id)
        }
    }
}

/// No snapshot at all: the operator's safe fallback URL, or the safe page; never a 5xx.
fn unavailable(settings: &Settings, request_id: &str) -> Response {
    let build = || -> worker::Result<Response> {
        let headers = base_headers(request_id)?;
        headers.set("X-Router-Outcome", "snapshot_unavailable")?;
        match &settings.safe_fallback {
            Some(url) => respond::redirect(url.as_str(), headers),
            None => respond::page(
                200,
                "Back soon",
                "This link is briefly unavailable. Please try again in a minute.",
                headers,
                request_id,
            ),
        }
    };
    build().unwrap_or_else(|_| Response::empty().unwrap_or_else(|_| Response::builder().empty()))
}

async fn visit(
    req: &Request,
    env: &Env,
    settings: &Settings,
    handle: &str,
    slug: &str,
    request_id: &str,
) -> worker::Result<Response> {
    let now_ms = respond::now_ms();
    let reads_before = store::kv_reads();
    let kv = env.kv("CONFIG")?;
    let (loaded, stale) = match store::snapshot(&kv, handle, now_ms, settings.snapshot_ttl_ms).await
    {
        SnapshotLookup::Ready { loaded, stale } => (loaded, stale),
        SnapshotLookup::Missing => return respond::not_found(request_id, None),
        SnapshotLookup::Unavailable => return Ok(unavailable(settings, request_id)),
    };
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let url = req.url()?;
    let split = split_query(url.query_pairs());
    let preview = match (&split.token, &settings.token_secret) {
        (Some(token), Some(secret)) => {
            tokens::verify::<PreviewClaims>(TokenKind::Preview, secret, token, now.timestamp())
                .ok()
                .filter(|signed| signed.claims.handle == handle)
        }
        _ => None,
    };
    let is_preview = preview.is_some();
    let overrides = is_preview.then_some(&split.overrides);

    let geo = visitor::geo_sources(req, &kv, settings, now_ms).await;
    let [user_agent, ch_mobile, ch_platform, accept_language] =
        visitor::device_headers(req.headers());
    let (facts, sources) = gather(FactInputs {
        geo,
        device: classify_with(
            DeviceHeaders {
                user_agent: user_agent.as_deref(),
                ch_mobile: ch_mobile.as_deref(),
                ch_platform: ch_platform.as_deref(),
            },
            ua::parse,
        ),
        accept_language: accept_language.as_deref(),
        query: split.forwarded.clone(),
        now,
        overrides,
    });

    let cookie_id = visitor::cookie_visitor_id(req.headers());
    let set_cookie = cookie_id.is_none() && !is_preview && facts.device != DeviceCategory::Crawler;
    let visitor_id = cookie_id.unwrap_or_else(|| respond::hex(&respond::random_bytes::<16>()));
    let visit = Visit {
        entry: slug,
        facts: &facts,
        visitor_id: &visitor_id,
        forced_variant: overrides.and_then(|o| o.variant.as_deref()),
    };

    let headers = base_headers(request_id)?;
    headers.set("X-Snapshot-Version", &loaded.version.to_string())?;
    if stale {
        // Serving the last-known-good snapshot: the latest read from KV failed.
        headers.set("X-Snapshot-Stale", "1")?;
    }
    if is_preview && split.explain {
        let context = ExplainContext {
            request_id,
            snapshot_version: loaded.version,
            preview: true,
            preview_sub: preview.as_ref().and_then(|p| p.claims.sub.as_deref()),
            overrides: &split.overrides,
            rejected: &split.rejected,
            sources: &sources,
        };
        let (explanation, _) = loaded.ruleset.explain(&visit, &context);
        return respond::json(200, &explanation, headers);
    }
    let decision = loaded.ruleset.decide(&visit);
    let ctx = match (decision.assignment, &settings.token_secret, is_preview) {
        (Some(a), Some(secret), false)
            if loaded
                .ruleset
                .template_for(&decision)
                .is_some_and(|t| t.uses_ctx()) =>
        {
            let claims = CtxClaims {
                handle: handle.to_owned(),
                campaign: a.campaign.id.clone(),
                variant: a.variant.key.clone(),
                vid: visitor_id.clone(),
            };
            Some(tokens::sign(
                TokenKind::Ctx,
                secret,
                claims,
                now.timestamp(),
                settings.ctx_ttl_seconds,
            ))
        }
        _ => None,
    };
    let location = loaded.ruleset.location(&decision, &visit, ctx.as_deref());
    if settings.expose_counters {
        headers.set(
            "X-Kv-Reads",
            &(store::kv_reads() - reads_before).to_string(),
        )?;
    }
    answer(
        &loaded,
        decision.outcome,
        location,
        headers,
        set_cookie.then_some(&visitor_id),
        is_preview,
        request_id,
    )
}

fn answer(
    loaded: &Loaded,
    outcome: Outcome,
    location: Option<url::Url>,
    headers: Headers,
    new_visitor: Option<&String>,
    is_preview: bool,
    request_id: &str,
) -> worker::Result<Response> {
    if is_preview {
        headers.set("X-Router-Preview", "1")?;
    }
    match (location, outcome) {
        (_, Outcome::UnknownEntry) => respond::not_found(request_id, Some(loaded.version)),
        (Some(location), _) => {
            headers.set("X-Router-Outcome", outcome_name(outcome))?;
            if let Some(id) = new_visitor {
                headers.set("Set-Cookie", &crate::visit::headers::set_cookie(id))?;
            }
            respond::redirect(location.as_str(), headers)
        }
        (None, _) => {
            headers.set("X-Router-Outcome", "safe_page")?;
            respond::page(
                200,
                "Nothing to show here yet",
                "This link has no destination we can send you to right now.",
                headers,
                request_id,
            )
        }
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Rule => "rule",
        Outcome::EntryDefault => "entry_default",
        Outcome::HandleFallback => "handle_fallback",
        Outcome::SafePage => "safe_page",
        Outcome::UnknownEntry => "unknown_entry",
    }
}
