//! Core microbenchmarks (criterion, native): decide at 10, 100, 1,000 and 10,000 rules;
//! device classification; geo lookup; bucketing; template rendering.
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

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edge_router::engine::bucket;
use edge_router::engine::device::DeviceCategory;
use edge_router::engine::geo::GeoFacts;
use edge_router::model::files::load_dir;
use edge_router::visit::geodb::GeoDb;
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

fn geo(c: &mut Criterion) {
    let path = root()
        .join("node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipping geo: {} missing (npm ci)", path.display());
        return;
    };
    let db = GeoDb::from_bytes(bytes).expect("mmdb");
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

criterion_group!(benches, decide, device, geo, bucketing, template);
criterion_main!(benches);
