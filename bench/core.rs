//! Core microbenchmarks (criterion, native): decide at 10, 100, 1,000 and 10,000 rules;
//! device classification; geo lookup; bucketing; template rendering; and the whole visit
//! (`visit::plan` over the floor benchmark's request mix, with its answer and exposure
//! message), the native counterpart of the worker's per-visit wasm time.
//! Run with `make bench` (or `cargo bench --bench core`).
// Benchmark code, never shipped: clippy.toml's *-in-tests options do not reach benches.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, Utc};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edge_router::engine::bucket;
use edge_router::engine::device::DeviceCategory;
use edge_router::engine::geo::GeoFacts;
use edge_router::engine::geo::GeoSource;
use edge_router::engine::snapshot::{self, Loaded, Snapshot};
use edge_router::model::files::load_dir;
use edge_router::visit::geodb::GeoDb;
use edge_router::visit::plan::{
    plan, DeviceInput, GeoInput, HeldSnapshot, Plan, RequestParts, VisitSettings,
};
use edge_router::visit::user_agent::{classify, DeviceHeaders};
use edge_router::{compile, Facts, Visit};

/// The benchmark-only generator lives with the CLI (`router snapshot --expand`).
#[path = "../src/bin/router/synth.rs"]
#[allow(dead_code, unused_imports)]
mod synth;
use synth::{expand, COUNTRIES};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Visitors spread over the 40 countries and three devices, as the floor benchmark uses.
fn visitors() -> Vec<Facts> {
    let now = "2026-11-22T10:00:00Z".parse().expect("time");
    let devices = [
        DeviceCategory::Mobile,
        DeviceCategory::Desktop,
        DeviceCategory::Tablet,
    ];
    (0..120)
        .map(|i| {
            let mut facts = Facts::at(now);
            facts.geo = GeoFacts::normalised(Some(COUNTRIES[i % 40]), None, None, None, None);
            facts.device = devices[i % 3];
            facts.language = (i % 4 == 0).then(|| "en".to_owned());
            facts
        })
        .collect()
}

fn decide(c: &mut Criterion) {
    let (base, _) = load_dir(&root().join("rules/gharart")).expect("festive rules");
    let facts = visitors();
    let mut group = c.benchmark_group("decide");
    for rules in [10usize, 100, 1_000, 10_000] {
        let mut config = expand(&base, rules.max(base.rules.len()), 40, 500);
        config.rules.truncate(rules.max(1));
        let ruleset = compile(&config).expect("compiles").ruleset;
        let mut i = 0usize;
        group.bench_with_input(
            BenchmarkId::from_parameter(rules),
            &ruleset,
            |b, ruleset| {
                b.iter(|| {
                    i = (i + 1) % facts.len();
                    let visit = Visit {
                        entry: "festive",
                        facts: &facts[i],
                        visitor_id: "0123456789abcdef0123456789abcdef",
                        forced_variant: None,
                    };
                    let decision = ruleset.decide(black_box(&visit));
                    black_box(decision.location);
                })
            },
        );
    }
    group.finish();
}

fn device(c: &mut Criterion) {
    // Warm woothee's lazily compiled regexes once, as a warm isolate has.
    let _ = classify(DeviceHeaders {
        user_agent: Some(IPHONE),
        ..Default::default()
    });
    c.bench_function("device/iphone", |b| {
        b.iter(|| {
            classify(black_box(DeviceHeaders {
                user_agent: Some(IPHONE),
                ..Default::default()
            }))
        })
    });
    c.bench_function("device/desktop", |b| {
        b.iter(|| {
            classify(black_box(DeviceHeaders {
                user_agent: Some(DESKTOP),
                ..Default::default()
            }))
        })
    });
}

/// The MaxMind DB the worker is seeded with (npm package), or `None` with a note that
/// benchmark `what` is skipped.
fn mmdb(what: &str) -> Option<GeoDb> {
    let path = root()
        .join("node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipping {what}: {} missing (npm ci)", path.display());
        return None;
    };
    Some(GeoDb::from_bytes(bytes).expect("mmdb"))
}

fn geo(c: &mut Criterion) {
    let Some(db) = mmdb("geo") else {
        return;
    };
    let ips: Vec<IpAddr> = [
        "49.36.0.1",
        "2.50.0.1",
        "81.2.69.160",
        "8.8.8.8",
        "217.160.0.1",
        "2001:4860:4860::8888",
    ]
    .iter()
    .map(|s| s.parse().expect("ip"))
    .collect();
    let mut i = 0usize;
    c.bench_function("geo/mmdb_lookup", |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            db.lookup(black_box(ips[i]))
        })
    });
}

fn bucketing(c: &mut Criterion) {
    c.bench_function("bucket/hash_v2", |b| {
        b.iter(|| {
            bucket::bucket_number(
                black_box("diwali-hero-ab"),
                black_box("0123456789abcdef0123456789abcdef"),
            )
        })
    });
}

fn template(c: &mut Criterion) {
    let (base, _) = load_dir(&root().join("rules/gharart")).expect("festive rules");
    let ruleset = compile(&base).expect("compiles").ruleset;
    let mut facts = visitors().remove(0);
    facts.device = DeviceCategory::Mobile;
    facts.query = vec![
        ("ref".into(), "friend".into()),
        ("utm_source".into(), "ig".into()),
    ];
    let visit = Visit {
        entry: "festive",
        facts: &facts,
        visitor_id: "0123456789abcdef0123456789abcdef",
        forced_variant: None,
    };
    let decision = ruleset.decide(&visit);
    c.bench_function("template/render", |b| {
        b.iter(|| {
            ruleset.location(
                black_box(&decision),
                black_box(&visit),
                Some("v1.ctx.token"),
            )
        })
    });
}

/// The floor benchmark's request mix (bench/mix.lua): user agents, client addresses,
/// languages, a visitor cookie on every other request, a query on every fourth.
struct MixRequest {
    user_agent: &'static str,
    ip: IpAddr,
    accept_language: &'static str,
    cookie: Option<String>,
    query: &'static str,
}

fn mix() -> Vec<MixRequest> {
    let uas = [
        IPHONE,
        DESKTOP,
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    ];
    let ips = [
        "49.36.0.1",
        "2.50.0.1",
        "81.2.69.160",
        "8.8.8.8",
        "217.160.0.1",
        "176.224.0.1",
        "103.21.124.1",
        "94.200.0.1",
    ];
    let langs = [
        "en-IN,en;q=0.9",
        "ar-AE,ar;q=0.9",
        "en-GB",
        "de-DE,de;q=0.8",
        "hi-IN,hi;q=0.9",
    ];
    (1..=64usize)
        .map(|n| MixRequest {
            user_agent: uas[n % uas.len()],
            ip: ips[n % ips.len()].parse().expect("ip"),
            accept_language: langs[n % langs.len()],
            cookie: (n % 2 == 0).then(|| format!("gh_vid={:032x}", n as u128 * 2_654_435_761)),
            query: if n % 4 == 0 {
                "utm_source=instagram&ref=friend"
            } else {
                ""
            },
        })
        .collect()
}

fn visit(c: &mut Criterion) {
    let Some(db) = mmdb("visit") else {
        return;
    };
    let (base, _) = load_dir(&root().join("rules/gharart")).expect("festive rules");
    let config = expand(&base, 1_000, 40, 500);
    let loaded = Loaded {
        version: 1,
        generation: 0,
        published_at: "2026-11-22T10:00:00Z".into(),
        ruleset: compile(&config).expect("compiles").ruleset,
    };
    let settings = VisitSettings {
        geo_order: vec![GeoSource::Mmdb, GeoSource::Cf],
        token_secret: Some(b"bench-secret-0123456789abcdef".to_vec()),
        ctx_ttl_seconds: 7 * 24 * 3600,
        safe_fallback: None,
    };
    let requests = mix();
    // The edge remembers classifications per isolate: classify once, as a warm one has.
    let devices: Vec<_> = requests
        .iter()
        .map(|r| {
            classify(DeviceHeaders {
                user_agent: Some(r.user_agent),
                ..Default::default()
            })
        })
        .collect();
    let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().expect("time");
    let mut i = 0usize;
    c.bench_function("visit/plan", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            let r = &requests[i];
            let parts = RequestParts {
                request_id: "0123456789abcdef0123456789abcdef",
                entry: "festive",
                query: r.query,
                cookie: r.cookie.as_deref(),
                accept_language: Some(r.accept_language),
                device: DeviceInput::Classified {
                    headers: DeviceHeaders {
                        user_agent: Some(r.user_agent),
                        ..Default::default()
                    },
                    facts: devices[i].clone(),
                },
                geo: GeoInput {
                    cf: None,
                    client_ip: Some(r.ip),
                    mmdb: Some(&db),
                    mmdb_answer: None,
                },
                head: false,
            };
            let held = HeldSnapshot {
                loaded: &loaded,
                stale: false,
            };
            let plan = plan(held, black_box(&parts), &settings, now, Some([7; 16]));
            let message = match &plan {
                Plan::Redirect {
                    exposure: Some(e), ..
                } => Some(e.to_message()),
                _ => None,
            };
            black_box((plan.answer("0123456789abcdef0123456789abcdef"), message))
        })
    });
}

/// The large snapshot (1,000 rules, 40 countries, 500 domains): parsing its JSON,
/// compiling it as the management API does (every destination checked), and what an
/// isolate's first visit pays for it: `snapshot/load_json` a value of JSON alone (parse,
/// and the edge's compile, destinations checked when first reached), `snapshot/load` what
/// a publisher stores (the edge form decoded, the JSON not read).
fn snapshot(c: &mut Criterion) {
    let (base, _) = load_dir(&root().join("rules/gharart")).expect("festive rules");
    let config = expand(&base, 1_000, 40, 500);
    let snapshot = Snapshot::new(config, 1, "2026-11-22T10:00:00Z".into());
    let json = snapshot.to_json().expect("json");
    let stored = snapshot.to_stored().expect("stored");
    c.bench_function("snapshot/parse", |b| {
        b.iter(|| serde_json::from_str::<Snapshot>(black_box(&json)).expect("parses"))
    });
    let parsed: Snapshot = serde_json::from_str(&json).expect("parses");
    c.bench_function("snapshot/compile", |b| {
        b.iter(|| compile(black_box(&parsed.config)).expect("compiles"))
    });
    c.bench_function("snapshot/load_json", |b| {
        b.iter(|| snapshot::load("gharart", black_box(json.as_bytes())).expect("loads"))
    });
    c.bench_function("snapshot/load", |b| {
        b.iter(|| snapshot::load("gharart", black_box(&stored)).expect("loads"))
    });
}

criterion_group!(benches, decide, device, geo, bucketing, template, visit, snapshot);
criterion_main!(benches);
