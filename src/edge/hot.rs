//! The visit at the platform floor: what `src/edge/entry.mjs` calls, once per visit, with
//! the request's parts as one string, and what it answers with, as one string.
//!
//! The JavaScript entry sends `GET`/`HEAD` requests outside `/v2/` to [`hot_visit`];
//! everything else (the API, the console, health) goes through the `worker` crate's fetch
//! handler as before. A visit is one call unless the isolate lacks something it needs:
//!
//! | answer starts with | meaning | the entry then |
//! |---|---|---|
//! | `A` | an answer: `A\n<status>\n<Name>: <value>\n…\n\n<body>` | builds the `Response` in one go; lines named `@…` are tasks for after it (below) |
//! | `P` | not a visitor path | hands the request to the `worker` crate's fetch handler |
//! | `S <handle>` | the handle's snapshot was never read in this isolate, or its check is a TTL old (an idle isolate) | reads `snapshot:<handle>` from KV (or joins the read in flight), hands it to [`hot_snapshot`], calls again |
//! | `G` or `G <handle>` | the MaxMind DB is needed and was never read (or failed a minute ago) | reads `geo:mmdb`, hands it to [`hot_geodb`], calls again; with a handle, also starts that snapshot's re-read (as `@refresh`) |
//! | `C` or `C <handle>` | the geo fields of `request.cf` are needed and were not sent | reads them and calls again; with a handle, also starts that snapshot's re-read |
//!
//! `request.cf` is read only when it is needed (workerd parses the whole object on the
//! first access: a tenth of a visit's isolate time): up front when the geo order starts
//! with `cf` ([`hot_cf_first`], asked once per isolate), else only when the MaxMind DB
//! does not know the visitor's country.
//!
//! Tasks, each for after the response (`waitUntil`; the visitor never waits for them):
//! - `@refresh: <handle>`: the snapshot's check is half a TTL old: re-read it (see
//!   [`crate::visit::cache`] for the freshness rules);
//! - `@exposure: <message>`: the visit showed a campaign variant: send the message (one
//!   line of JSON, [`crate::visit::exposure::Exposure::to_message`]) to the `EXPOSURES`
//!   queue, whose consumer is [`super::queue`]. The entry gathers an isolate's exposures
//!   for a moment and sends them as one batch; a failed send is logged, never answered.
//!
//! Nothing is decided here or in JavaScript: routing of the path is [`super::route`], the
//! visit is [`crate::visit::plan`], the snapshot policy [`crate::visit::cache`].

mod wire;

use chrono::{DateTime, Utc};
use wasm_bindgen::prelude::wasm_bindgen;
use worker::Env;

use super::settings::{self, Settings};
use super::store::{self, Geo};
use super::{faults, respond, Route};
use crate::engine::geo::GeoSource;
use crate::visit::answer::Answer;
use crate::visit::cache::{KvRead, Served};
use crate::visit::headers;
use crate::visit::plan::{
    self, needs_cf, needs_mmdb, DeviceInput, GeoInput, HeldSnapshot, Plan, RequestParts,
};
use crate::visit::user_agent::DeviceHeaders;
use wire::{ask, cf_geo, encode, Field, Parts, Tasks};

/// Compiles woothee's patterns when the isolate starts, not on a visitor's request, and
/// rehearses one whole visit (the built-in handle of [`crate::visit::rehearsal`]) through
/// [`visit`], the function every visit runs, on caches and settings of its own: the
/// snapshot's read and decode, the route, the device memo, the plan, the answer and its
/// encoding have run once before the first visitor. Nothing of it is kept.
#[worker::event(start)]
fn start() {
    crate::visit::user_agent::warm();
    if let Err(why) = rehearse() {
        worker::console_error!("the start-up rehearsal failed: {why}");
    }
}

fn rehearse() -> Result<(), String> {
    use crate::visit::rehearsal::{self as r, ENTRY, HANDLE_NAME};
    let stored = r::stored().ok_or("the built-in handle does not publish")?;
    let now_ms = r::NOW_MS as f64;
    let held = store::Held::default();
    held.apply_snapshot(HANDLE_NAME, KvRead::Value(stored), now_ms);
    let settings = Settings::from_vars(&|name| match name {
        "GEO_ORDER" => Some("cf,mmdb".to_owned()),
        "TOKEN_SECRET" => Some(r::TOKEN_SECRET.to_owned()),
        _ => None,
    });
    let path = format!("/{HANDLE_NAME}/{ENTRY}");
    let parts = Parts::of(&[
        (Field::Method, "GET"),
        (Field::Path, &path),
        (Field::Query, r::QUERY),
        (Field::UserAgent, r::USER_AGENT),
        (Field::AcceptLanguage, r::ACCEPT_LANGUAGE),
        (Field::CfCountry, "IN"),
        (Field::CfContinent, "AS"),
        (Field::CfRegionCode, "MH"),
        (Field::CfCity, "Mumbai"),
        (Field::CfAsn, "55836"),
        (Field::CfRead, "1"),
        (Field::KvReads, "0"),
    ]);
    let Route::Visit { handle, entry } = super::route(true, parts.get(Field::Path).unwrap_or("/"))
    else {
        return Err("its path is not a visitor's".into());
    };
    let answer = visit(&held, &settings, &parts, &handle, &entry, now_ms, || {
        Some([7; 32])
    });
    if answer.starts_with("A\n302\n") && answer.contains("\n@exposure: ") {
        Ok(())
    } else {
        let start: Vec<&str> = answer.lines().take(2).collect();
        Err(format!("no campaign redirect but {:?}", start.join(" ")))
    }
}

/// One visit (see the module's table).
#[wasm_bindgen]
pub fn hot_visit(env: Env, parts: &str, now_ms: f64) -> String {
    let parts = Parts::split(parts);
    let path = parts.get(Field::Path).unwrap_or("/");
    let Route::Visit { handle, entry } = super::route(true, path) else {
        return "P".to_owned();
    };
    let settings = settings::get(&env);
    faults::visit(path);
    store::with(|held| {
        visit(
            held,
            &settings,
            &parts,
            &handle,
            &entry,
            now_ms,
            respond::random_bytes::<32>,
        )
    })
}

/// A visit to `handle`'s `entry` against what `held` holds: the answer string, or what to
/// read first. `random` gives the visit's 32 random bytes (the request id's 16 and the
/// visitor's 16), or none when the platform's generator failed.
fn visit(
    held: &store::Held,
    settings: &Settings,
    parts: &Parts<'_>,
    handle: &str,
    entry: &str,
    now_ms: f64,
    random: fn() -> Option<[u8; 32]>,
) -> String {
    let read_now = parts.get(Field::KvReads).is_some_and(|n| n != "0");
    let (lookup, refresh) = match held.serve(handle, now_ms, settings.snapshot_ttl_ms, read_now) {
        Served::Unread => return format!("S {handle}"),
        Served::Held { lookup, refresh } => (lookup, refresh),
    };
    let random = random();
    let (id_bytes, visitor_bytes) = match random {
        Some(bytes) => {
            let (id, visitor) = bytes.split_at(16);
            (
                <[u8; 16]>::try_from(id).unwrap_or_default(),
                <[u8; 16]>::try_from(visitor).ok(),
            )
        }
        None => ([0; 16], None),
    };
    let request_id = respond::hex(&id_bytes);
    let head = parts.get(Field::Method) == Some("HEAD");
    let plan = match lookup.ready() {
        Ok((loaded, stale)) => {
            let order = &settings.visit.geo_order;
            let cf_read = parts.get(Field::CfRead).is_some();
            if !cf_read && order.first() == Some(&GeoSource::Cf) {
                return ask("C", refresh, handle);
            }
            let cf = if cf_read { cf_geo(parts) } else { None };
            let client_ip = headers::client_ip(
                parts.get(Field::ConnectingIp),
                parts.get(Field::ForwardedFor),
                settings.trust_forwarded_ip,
            );
            let mmdb = match client_ip {
                Some(_) if needs_mmdb(&settings.visit.geo_order, cf.as_ref()) => {
                    match held.geodb(now_ms) {
                        Geo::Ready(db) => Some(db),
                        Geo::Absent => None,
                        Geo::Unread => return ask("G", refresh, handle),
                    }
                }
                _ => None,
            };
            // Looked up once: `plan` takes the answer.
            let mmdb_answer = match (mmdb.as_deref(), client_ip) {
                (Some(db), Some(ip)) => Some(db.lookup(ip)),
                _ => None,
            };
            if !cf_read && needs_cf(order, mmdb_answer.as_ref().and_then(Option::as_ref)) {
                return ask("C", refresh, handle);
            }
            let device_headers = DeviceHeaders {
                user_agent: parts.get(Field::UserAgent),
                ch_mobile: parts.get(Field::ChMobile),
                ch_platform: parts.get(Field::ChPlatform),
            };
            let device = held.classify(device_headers);
            let request = RequestParts {
                request_id: &request_id,
                entry,
                query: parts.get(Field::Query).unwrap_or_default(),
                cookie: parts.get(Field::Cookie),
                accept_language: parts.get(Field::AcceptLanguage),
                device: DeviceInput::Classified {
                    headers: device_headers,
                    facts: device,
                },
                geo: GeoInput {
                    cf,
                    client_ip,
                    mmdb: mmdb.as_deref(),
                    mmdb_answer,
                },
                head,
            };
            let held = HeldSnapshot {
                loaded: &loaded,
                stale,
            };
            let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default();
            plan::plan(held, &request, &settings.visit, now, visitor_bytes)
        }
        Err(why) => plan::without_snapshot(why, &settings.visit),
    };
    let tasks = Tasks {
        refresh: refresh.then_some(handle),
        exposure: exposure_message(&plan),
    };
    let mut answer = plan.answer(&request_id);
    counters(&mut answer, &plan, settings, parts);
    encode(answer, head, &tasks)
}

/// The queue message of the exposure a visit records, if it records one.
fn exposure_message(plan: &Plan) -> Option<String> {
    match plan {
        Plan::Redirect {
            exposure: Some(exposure),
            ..
        } => Some(exposure.to_message()),
        _ => None,
    }
}

/// `X-Kv-Reads` (benchmarks only).
fn counters(answer: &mut Answer, plan: &Plan, settings: &Settings, parts: &Parts<'_>) {
    if settings.expose_counters && matches!(plan, Plan::Redirect { .. } | Plan::SafePage { .. }) {
        answer.header("X-Kv-Reads", parts.get(Field::KvReads).unwrap_or("0"));
    }
}

/// What one KV read returned, as the entry hands it over.
fn kv_read(value: Option<Vec<u8>>, failure: &str) -> KvRead {
    match value {
        _ if !failure.is_empty() => KvRead::Failed(failure.to_owned()),
        Some(bytes) => KvRead::Value(bytes),
        None => KvRead::Missing,
    }
}

/// One read of `snapshot:<handle>`: the value (`undefined` for no key) or why it failed.
/// Whether the geo order starts with `request.cf` (the entry then reads it up front).
#[wasm_bindgen]
pub fn hot_cf_first(env: Env) -> bool {
    settings::get(&env).visit.geo_order.first() == Some(&GeoSource::Cf)
}

#[wasm_bindgen]
pub fn hot_snapshot(env: Env, handle: &str, value: Option<Vec<u8>>, failure: &str, now_ms: f64) {
    settings::get(&env);
    store::apply_snapshot(handle, kv_read(value, failure), now_ms);
}

/// One read of `geo:mmdb`.
#[wasm_bindgen]
pub fn hot_geodb(env: Env, value: Option<Vec<u8>>, failure: &str, now_ms: f64) {
    settings::get(&env);
    store::apply_geodb(kv_read(value, failure), now_ms);
}

/// Before the entry sends exposures to the queue: whether the send must fail (tests only,
/// see [`faults`]).
#[wasm_bindgen]
pub fn hot_send_fault(env: Env) -> bool {
    settings::get(&env);
    faults::fail_exposure_send()
}

/// Before the entry reads KV: `""`, or the injected fault as `<delay ms>,<1 if the read
/// fails>` (tests only, see [`faults`]).
#[wasm_bindgen]
pub fn hot_kv_fault(env: Env) -> String {
    settings::get(&env);
    match faults::kv_read_plan() {
        (0, Ok(())) => String::new(),
        (delay, result) => format!("{delay},{}", u8::from(result.is_err())),
    }
}
