//! Property tests for the router's invariants:
//! - no decision ever leaves the allowlist, whatever the configuration, facts and visitor
//!   query (checked against an oracle written from the docs, not with the allowlist code);
//! - compile-then-decide never panics, even on invalid configurations;
//! - the indexed walk (`decide`) and the traced walk (`explain`) agree;
//! - bucketing is uniform (chi-square) and stable (same seed and id, same bucket; a
//!   visitor's variant survives other campaigns being added and rules being reordered);
//! - the rule audit's claims hold: a shadowed rule never wins, and same-priority rules
//!   that both hold for a visitor are reported as colliding (`properties/audit.rs`);
//! - a parameter that holds `{ctx}` in any template carries the router's token or
//!   nothing, whatever the visitor sends and the applied template's precedence.
#![cfg(not(target_arch = "wasm32"))]
// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use chrono::{DateTime, Utc};
use edge_router::engine::bucket::{bucket_number, choose};
use edge_router::engine::explain::ExplainContext;
use edge_router::engine::facts::Overrides;
use edge_router::engine::facts::{gather, FactInputs, Facts};
use edge_router::engine::snapshot::{self, Published, Snapshot};
use edge_router::model::config::{DecisionValue, DomainDoc, HandleConfig, Verification};
use edge_router::{compile, compile_published, validate, RuleSet, Visit};
use proptest::prelude::*;
use url::{Host, Url};

#[path = "properties/audit.rs"]
mod audit;
#[path = "properties/broken.rs"]
mod broken;
#[path = "properties/gen.rs"]
mod gen;

/// Routability as the docs state it, written independently of `allowlist.rs`: https, no
/// user info, no port, a domain host; the most specific covering entry (the exact host,
/// else the longest `*.suffix` wildcard with a non-empty label before the suffix) must be
/// verified, and approved: by a manual decision, or without one by a score under the
/// threshold.
fn oracle_routable(url: &Url, domains: &[DomainDoc], threshold: u8) -> bool {
    if url.scheme() != "https"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.port().is_some()
    {
        return false;
    }
    let Some(Host::Domain(host)) = url.host() else {
        return false;
    };
    let exact = domains.iter().find(|d| d.domain == host);
    let wildcard = || {
        domains
            .iter()
            .filter(|d| {
                d.domain
                    .strip_prefix("*.")
                    .is_some_and(|s| host.len() > s.len() + 1 && host.ends_with(&format!(".{s}")))
            })
            .max_by_key(|d| d.domain.len())
    };
    let Some(entry) = exact.or_else(wildcard) else {
        return false;
    };
    let approved = match &entry.decision {
        Some(decision) => decision.value == DecisionValue::Approved,
        None => entry.risk_score.is_some_and(|score| score < threshold),
    };
    entry.verification == Verification::Verified && approved
}

/// Every destination the configuration names, without its query: the only places a
/// visitor may be sent (the query is the template's and the visitor's business).
fn configured_destinations(config: &HandleConfig) -> Vec<Url> {
    let rules = config.rules.iter().filter_map(|r| r.destination.clone());
    let variants = config
        .campaigns
        .iter()
        .flat_map(|c| c.variants.iter().map(|v| v.destination.clone()));
    let entries = config.entries.iter().map(|e| e.default.clone());
    rules
        .chain(variants)
        .chain(entries)
        .chain(config.fallback.clone())
        .filter_map(|raw| Url::parse(raw.trim()).ok())
        .map(|mut u| {
            u.set_query(None);
            u
        })
        .collect()
}

/// Decides one visit both ways and checks every invariant; returns the location.
fn check_visit(
    set: &RuleSet,
    config: &HandleConfig,
    visit: &Visit<'_>,
) -> Result<Option<Url>, TestCaseError> {
    let decision = set.decide(visit);
    let location = set.location(&decision, visit, None);
    if let Some(url) = &location {
        prop_assert!(
            set.allowlist().check_url(url).is_ok(),
            "allowlist refuses its own decision {url}"
        );
        prop_assert!(
            oracle_routable(url, &config.domains, config.risk_threshold),
            "{url} is not verified and approved"
        );
        let mut bare = url.clone();
        bare.set_query(None);
        prop_assert!(
            configured_destinations(config).contains(&bare),
            "{url} is not a configured destination"
        );
    }
    // Issue 10: a name that holds {ctx} in any template carries the issued token or
    // nothing, whatever the applied template's precedence and the visitor's query.
    let ctx_names: Vec<&str> = config
        .templates
        .iter()
        .flat_map(|t| t.params.iter())
        .filter(|(_, value)| value.contains("{ctx}"))
        .map(|(name, _)| name.as_str())
        .collect();
    for ctx in [None, Some("v1.router-issued.ctx")] {
        let Some(url) = set.location(&decision, visit, ctx) else {
            continue;
        };
        for (name, value) in url.query_pairs() {
            if ctx_names.contains(&name.as_ref()) {
                prop_assert!(
                    ctx.is_some_and(|token| value.contains(token)),
                    "{name}={value} in {url}: not the router's ctx ({ctx:?})"
                );
            }
        }
    }
    let (_, sources) = gather(FactInputs {
        now: visit.facts.now,
        ..Default::default()
    });
    let overrides = Overrides::default();
    let ctx = ExplainContext {
        request_id: "p",
        snapshot_version: 0,
        preview: false,
        preview_sub: None,
        overrides: &overrides,
        rejected: &[],
        sources: &sources,
    };
    let (explanation, traced) = set.explain(visit, &ctx);
    prop_assert_eq!(explanation.outcome, decision.outcome);
    prop_assert_eq!(
        explanation.rule.as_deref(),
        decision.rule.map(|r| r.id.as_str())
    );
    prop_assert_eq!(&traced, &location);
    prop_assert_eq!(explanation.location, location.as_ref().map(Url::to_string));
    Ok(location)
}

/// The rule set an isolate builds from the snapshot's edge form alone: its JSON is broken,
/// so nothing else could have built it.
fn from_edge_form(config: &HandleConfig) -> Result<RuleSet, TestCaseError> {
    let stored = Snapshot::new(config.clone(), 1, "2026-11-30T00:00:00Z".into())
        .to_stored()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (_, edge) = snapshot::split(&stored);
    let edge =
        edge.ok_or_else(|| TestCaseError::fail("a compiling configuration has an edge form"))?;
    match snapshot::load(&config.handle, &snapshot::join(b"{", edge)) {
        Ok(Published::Live(loaded)) => Ok(loaded.ruleset),
        other => Err(TestCaseError::fail(format!(
            "the edge form did not load: {other:?}"
        ))),
    }
}

fn entries_and_a_stranger(config: &HandleConfig) -> Vec<String> {
    config
        .entries
        .iter()
        .map(|e| e.slug.clone())
        .chain(["no-such-entry".to_owned()])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_decision_ever_leaves_the_allowlist(
        config in gen::valid_config(),
        visits in prop::collection::vec(gen::visit(), 1..8),
    ) {
        let compiled = compile(&config);
        prop_assert!(compiled.is_ok(), "a well-formed config must compile: {}", compiled.unwrap_err());
        let set = compiled.unwrap().ruleset;
        // The edge's compile of the same configuration once published (destinations
        // parsed and checked when first reached) decides every visit the same way.
        let published = compile_published(&config).map_err(|e| TestCaseError::fail(e.to_string()))?.ruleset;
        // And so does the rule set decoded from the snapshot's edge form, as publishers
        // store it.
        let decoded = from_edge_form(&config)?;
        for (facts, visitor_id, forced) in &visits {
            for entry in entries_and_a_stranger(&config) {
                let visit = Visit { entry: &entry, facts, visitor_id, forced_variant: forced.as_deref() };
                let location = check_visit(&set, &config, &visit)?;
                prop_assert_eq!(check_visit(&published, &config, &visit)?, location.clone());
                prop_assert_eq!(check_visit(&decoded, &config, &visit)?, location);
            }
        }
    }

    #[test]
    fn compile_then_decide_never_panics(config in broken::arbitrary_config(), visits in prop::collection::vec(gen::visit(), 1..4)) {
        let diagnostics = validate(&config);
        // A snapshot nobody checked (its destinations unparsed until reached) may load
        // where `compile` refuses it; it still never routes off the allowlist.
        if let Ok(published) = compile_published(&config) {
            for (facts, visitor_id, forced) in &visits {
                for entry in entries_and_a_stranger(&config) {
                    let visit = Visit { entry: &entry, facts, visitor_id, forced_variant: forced.as_deref() };
                    check_visit(&published.ruleset, &config, &visit)?;
                }
            }
        }
        match compile(&config) {
            Err(error) => prop_assert_eq!(error.diagnostics, diagnostics),
            Ok(compiled) => {
                for (facts, visitor_id, forced) in &visits {
                    for entry in entries_and_a_stranger(&config) {
                        let visit = Visit { entry: &entry, facts, visitor_id, forced_variant: forced.as_deref() };
                        check_visit(&compiled.ruleset, &config, &visit)?;
                    }
                }
            }
        }
    }

    #[test]
    fn config_json_round_trips_and_never_panics(json in broken::json_text()) {
        if let Ok(config) = serde_json::from_str::<HandleConfig>(&json) {
            let _ = validate(&config);
            let back: HandleConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
            prop_assert_eq!(back, config);
        }
    }

    #[test]
    fn a_bucket_depends_only_on_seed_then_id(seed in "[ -~]{0,24}", id in "[0-9a-f]{32}|\\PC{0,40}", split in 0usize..24) {
        let n = bucket_number(&seed, &id);
        prop_assert!(n < 10_000);
        prop_assert_eq!(n, bucket_number(&seed, &id));
        // GrowthBook hashes `seed + id` as one string.
        let joined = format!("{seed}{id}");
        let at = (0..=split.min(joined.len())).rev().find(|i| joined.is_char_boundary(*i)).unwrap_or(0);
        prop_assert_eq!(n, bucket_number(&joined[..at], &joined[at..]));
    }

    #[test]
    fn a_visitor_keeps_its_variant_when_campaigns_are_added_and_rules_reordered(
        (base, extended) in gen::campaign_pair(),
        visitor_id in "[0-9a-f]{32}",
    ) {
        let facts = Facts::at("2026-11-22T10:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let visit = Visit { entry: "e", facts: &facts, visitor_id: &visitor_id, forced_variant: None };
        let variant = |config: &HandleConfig| -> Result<(String, Option<u32>), TestCaseError> {
            let set = compile(config).map_err(|e| TestCaseError::fail(e.to_string()))?.ruleset;
            let decision = set.decide(&visit);
            let assignment = decision.assignment.ok_or_else(|| TestCaseError::fail("no variant assigned"))?;
            Ok((assignment.variant.key.clone(), assignment.bucket))
        };
        let before = variant(&base)?;
        prop_assert_eq!(&before, &variant(&base)?, "recompiling changes nothing");
        prop_assert_eq!(&before, &variant(&extended)?);
        let main = &base.campaigns[0];
        let n = bucket_number(main.effective_seed(), &visitor_id);
        let index = choose(n, main.variants.iter().map(|v| v.weight)).unwrap();
        prop_assert_eq!(before, (main.variants[index].key.clone(), Some(n)));
    }
}

// ---------------------------------------------------------------------------------------
// Uniformity: chi-square over 100,000 pseudo-random 128-bit hex visitor ids.
//
// The ids come from a fixed-seed SplitMix64 so the test is reproducible; the thresholds
// are the chi-square critical values at p = 0.001 (a correct hash fails one seed in a
// thousand): df = 1 -> 10.828, df = 2 -> 13.816, df = 99 -> 148.230.

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn visitor_ids(count: usize, mut state: u64) -> impl Iterator<Item = String> {
    (0..count).map(move |_| {
        format!(
            "{:016x}{:016x}",
            splitmix64(&mut state),
            splitmix64(&mut state)
        )
    })
}

/// Pearson's chi-square statistic of observed counts against expected shares.
fn chi_square(observed: &[u64], shares: &[f64]) -> f64 {
    let total: u64 = observed.iter().sum();
    observed
        .iter()
        .zip(shares)
        .map(|(&o, &share)| {
            let expected = total as f64 * share;
            (o as f64 - expected).powi(2) / expected
        })
        .sum()
}

const VISITORS: usize = 100_000;

fn variant_counts(seed: &str, weights: &[u8], ids_seed: u64) -> Vec<u64> {
    let mut counts = vec![0u64; weights.len()];
    for id in visitor_ids(VISITORS, ids_seed) {
        counts[choose(bucket_number(seed, &id), weights.iter().copied()).unwrap()] += 1;
    }
    counts
}

#[test]
fn a_50_50_split_is_uniform() {
    let counts = variant_counts("diwali-hero-ab", &[50, 50], 0x6768_6172_6172_7431);
    let chi = chi_square(&counts, &[0.5, 0.5]);
    assert!(
        chi < 10.828,
        "chi-square {chi:.3} over df = 1 for {counts:?}"
    );
}

#[test]
fn a_20_30_50_split_is_uniform() {
    let counts = variant_counts("festive-split", &[20, 30, 50], 0x5eed_0002);
    let chi = chi_square(&counts, &[0.2, 0.3, 0.5]);
    assert!(
        chi < 13.816,
        "chi-square {chi:.3} over df = 2 for {counts:?}"
    );
}

#[test]
fn the_10000_buckets_are_uniform_in_100_bins() {
    for (seed, ids_seed) in [("diwali-hero-ab", 1u64), ("gulf-eid-teaser", 2), ("", 3)] {
        let mut bins = vec![0u64; 100];
        for id in visitor_ids(VISITORS, ids_seed) {
            bins[(bucket_number(seed, &id) / 100) as usize] += 1;
        }
        let chi = chi_square(&bins, &[0.01; 100]);
        assert!(
            chi < 148.230,
            "seed {seed:?}: chi-square {chi:.3} over df = 99"
        );
    }
}

#[test]
fn the_oracle_agrees_with_the_documented_examples() {
    let doc = |domain: &str, verification, risk, decision: Option<DecisionValue>| DomainDoc {
        domain: domain.into(),
        verification,
        token: None,
        risk_score: risk,
        decision: decision.map(|value| edge_router::model::config::DomainDecision {
            value,
            by: "t".into(),
            reason: "t".into(),
            at: "2026-01-01T00:00:00Z".into(),
        }),
        verified_at: None,
        checked_at: None,
        failure: None,
    };
    let domains = [
        doc("*.example.com", Verification::Verified, Some(1), None),
        doc(
            "bad.example.com",
            Verification::Verified,
            Some(1),
            Some(DecisionValue::Rejected),
        ),
        doc(
            "ok.example.org",
            Verification::Verified,
            Some(95),
            Some(DecisionValue::Approved),
        ),
    ];
    let routable = |u: &str| oracle_routable(&Url::parse(u).unwrap(), &domains, 30);
    assert!(routable("https://shop.example.com/") && routable("https://ok.example.org/x"));
    assert!(!routable("https://bad.example.com/") && !routable("https://example.com/"));
    assert!(!routable("http://shop.example.com/") && !routable("https://shop.example.com:8443/"));
    assert!(!routable("https://u@shop.example.com/") && !routable("https://127.0.0.1/"));
}
