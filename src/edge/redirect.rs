//! `GET /{handle}/{slug}`: the visitor path. Reads the snapshot (cached in the isolate)
//! and, only when the geo order needs it, the MaxMind DB; hands the request's parts to
//! [`crate::visit::plan`] and renders the plan. It never answers a 5xx: a failure to
//! read anything becomes the safe fallback.

use chrono::{DateTime, Utc};
use worker::{Env, Request, Response};

use super::respond;
use super::settings::{self, Settings};
use super::store;
use super::visitor;
use crate::visit::plan::{
    self, needs_mmdb, DeviceInput, GeoInput, HeldSnapshot, NoSnapshot, Plan, RequestParts,
};
use crate::visit::user_agent::DeviceHeaders;

/// Handles a visit; whatever fails, the visitor gets a safe answer.
pub(crate) async fn handle(
    req: &Request,
    env: &Env,
    handle: &str,
    slug: &str,
    request_id: &str,
) -> Response {
    let settings = settings::get(env);
    let reads_before = store::kv_reads();
    let plan = match visit(req, env, &settings, handle, slug, request_id).await {
        Ok(plan) => plan,
        Err(e) => {
            worker::console_error!("visit {handle}/{slug} failed ({request_id}): {e}");
            plan::without_snapshot(NoSnapshot::Unavailable, &settings.visit)
        }
    };
    let mut answer = plan.answer(request_id);
    if settings.expose_counters && matches!(plan, Plan::Redirect { .. } | Plan::SafePage { .. }) {
        answer.header("X-Kv-Reads", (store::kv_reads() - reads_before).to_string());
    }
    respond::render(answer)
}

async fn visit(
    req: &Request,
    env: &Env,
    settings: &Settings,
    handle: &str,
    slug: &str,
    request_id: &str,
) -> worker::Result<Plan> {
    let now_ms = respond::now_ms();
    let kv = env.kv("CONFIG")?;
    let lookup = store::snapshot(&kv, handle, now_ms, settings.snapshot_ttl_ms).await;
    let (loaded, stale) = match lookup.ready() {
        Ok(held) => held,
        Err(why) => return Ok(plan::without_snapshot(why, &settings.visit)),
    };
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let url = req.url()?;
    let headers = visitor::visit_headers(req.headers());
    let cf = visitor::cf_geo(req);
    let client_ip = visitor::client_ip(req.headers(), settings);
    let mmdb = match client_ip {
        Some(_) if needs_mmdb(&settings.visit.geo_order, cf.as_ref()) => {
            store::geodb(&kv, now_ms).await
        }
        _ => None,
    };
    let parts = RequestParts {
        request_id,
        entry: slug,
        query: url.query().unwrap_or_default(),
        cookie: headers.cookie.as_deref(),
        accept_language: headers.accept_language.as_deref(),
        device: DeviceInput::Headers(DeviceHeaders {
            user_agent: headers.user_agent.as_deref(),
            ch_mobile: headers.ch_mobile.as_deref(),
            ch_platform: headers.ch_platform.as_deref(),
        }),
        geo: GeoInput {
            cf,
            client_ip,
            mmdb: mmdb.as_deref(),
        },
    };
    let held = HeldSnapshot {
        loaded: &loaded,
        stale,
    };
    Ok(plan::plan(
        held,
        &parts,
        &settings.visit,
        now,
        respond::random_bytes::<16>(),
    ))
}
