//! Decision vectors and golden bucketing: JSON files under `tests/vectors/`, run by this one
//! driver (the shape of yggdrasil's client-spec runner).
//!
//! # Decision vectors: `tests/vectors/decisions/*.json`
//!
//! ```text
//! {
//!   "description": "what the file covers",
//!   "rules_dir": "rules/gharart",        // a rule directory (relative to the crate root),
//!   "config": { ...HandleConfig... },    // or an inline configuration: exactly one of the two
//!   "now": "2026-11-22T10:00:00Z",       // optional default clock for every case
//!   "cases": [{
//!     "name": "Indian iPhone gets the Indian mobile storefront",
//!     "entry": "festive",
//!     "facts": {                          // every field optional
//!       "country": "IN", "region": "IN-MH", "city": "Pune", "asn": 55836,
//!       "device": "mobile",               // desktop|mobile|tablet|crawler|other; default other
//!       "os": "ios", "browser": "safari", "language": "hi-in",
//!       "query": { "utm_source": "whatsapp" },   // forwarded visitor query, in name order
//!       "now": "2026-11-22T10:00:00Z"     // overrides the file's `now`; one of them is required
//!     },
//!     "visitor_id": "7215ee9c7d9dc229d2921a40e899ec5f",  // default: 32 zeros
//!     "forced_variant": "story",          // optional, as a preview `__variant` would force
//!     "expect": {                         // every key required, null meaning "none"
//!       "outcome": "rule",                // rule|entry_default|handle_fallback|safe_page|unknown_entry
//!       "rule": "in-mobile",
//!       "location": "https://m.gharart.in/festive?...",  // RuleSet::location(.., None)
//!       "variant": null,                  // the assigned variant key
//!       "no_variant": null,               // inactive|not_started|crawler|variant_unroutable
//!       "trace": { "in-deals-pending": "skipped" }  // optional: rule id -> explain result
//!     }
//!   }]
//! }
//! ```
//!
//! Geography is built with [`GeoFacts::normalised`], so continent and EU membership are
//! derived from the country and a region may be written `MH` or `IN-MH`. No ctx token is
//! issued (`{ctx}` parameters are left out). Every case is decided twice, by
//! [`RuleSet::decide`] (the indexed walk) and by [`RuleSet::explain`] (the full traced
//! walk), and both must agree on outcome, rule and location.
//!
//! # Golden bucketing: `tests/vectors/bucketing.json`
//!
//! Generated with GrowthBook's JS SDK (`hash(seed, value, 2)` and `chooseVariation`); each
//! case pins `bucket`, `bucket_number` and `choose` for a 50/50 and a 20/30/50 split.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use edge_router::engine::bucket;
use edge_router::engine::device::DeviceCategory;
use edge_router::engine::explain::ExplainContext;
use edge_router::engine::facts::Overrides;
use edge_router::engine::facts::{gather, FactInputs, Facts};
use edge_router::engine::geo::GeoFacts;
use edge_router::model::files::load_dir;
use edge_router::{compile, HandleConfig, RuleSet, Visit};
use serde::{Deserialize, Deserializer};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Makes an `Option` field required: present, with `null` meaning none.
fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::deserialize(d)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    description: String,
    #[serde(default)]
    rules_dir: Option<String>,
    #[serde(default)]
    config: Option<HandleConfig>,
    #[serde(default)]
    now: Option<String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    entry: String,
    #[serde(default)]
    facts: FactsDoc,
    #[serde(default = "default_visitor")]
    visitor_id: String,
    #[serde(default)]
    forced_variant: Option<String>,
    expect: Expect,
}

fn default_visitor() -> String {
    "0".repeat(32)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsDoc {
    country: Option<String>,
    region: Option<String>,
    city: Option<String>,
    asn: Option<u32>,
    device: Option<String>,
    os: Option<String>,
    browser: Option<String>,
    language: Option<String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    now: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: String,
    #[serde(deserialize_with = "required")]
    rule: Option<String>,
    #[serde(deserialize_with = "required")]
    location: Option<String>,
    #[serde(deserialize_with = "required")]
    variant: Option<String>,
    #[serde(deserialize_with = "required")]
    no_variant: Option<String>,
    #[serde(default)]
    trace: BTreeMap<String, String>,
}

/// What one decision came to, in the vectors' terms.
#[derive(Debug, PartialEq)]
struct Observed {
    outcome: String,
    rule: Option<String>,
    location: Option<String>,
    variant: Option<String>,
    no_variant: Option<String>,
}

fn facts_of(doc: &FactsDoc, file_now: Option<&str>) -> Result<Facts, String> {
    let raw_now = doc
        .now
        .as_deref()
        .or(file_now)
        .ok_or("no `now` in the case or the file")?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(raw_now)
        .map_err(|e| format!("now {raw_now:?}: {e}"))?
        .into();
    let mut facts = Facts::at(now);
    facts.geo = GeoFacts::normalised(
        doc.country.as_deref(),
        None,
        doc.region.as_deref(),
        doc.city.as_deref(),
        doc.asn,
    );
    if let Some(device) = &doc.device {
        facts.device =
            DeviceCategory::parse(device).ok_or_else(|| format!("unknown device {device:?}"))?;
    }
    facts.os = doc.os.clone();
    facts.browser = doc.browser.clone();
    facts.language = doc.language.clone();
    facts.query = doc
        .query
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(facts)
}

fn code<T: serde::Serialize>(value: &T, field: Option<&str>) -> String {
    let json = serde_json::to_value(value).unwrap_or_default();
    let json = match field {
        Some(f) => json.get(f).cloned().unwrap_or_default(),
        None => json,
    };
    json.as_str().unwrap_or_default().to_owned()
}

/// Decides one case both ways; returns the observation or a description of a mismatch.
fn run_case(set: &RuleSet, case: &Case, file_now: Option<&str>) -> Result<Observed, String> {
    let facts = facts_of(&case.facts, file_now)?;
    let visit = Visit {
        entry: &case.entry,
        facts: &facts,
        visitor_id: &case.visitor_id,
        forced_variant: case.forced_variant.as_deref(),
    };
    let decision = set.decide(&visit);
    let observed = Observed {
        outcome: code(&decision.outcome, None),
        rule: decision.rule.map(|r| r.id.clone()),
        location: set.location(&decision, &visit, None).map(|u| u.to_string()),
        variant: decision.assignment.map(|a| a.variant.key.clone()),
        no_variant: decision
            .no_variant
            .as_ref()
            .map(|(_, why)| code(why, Some("code"))),
    };
    let (_, sources) = gather(FactInputs {
        now: facts.now,
        ..Default::default()
    });
    let overrides = Overrides::default();
    let ctx = ExplainContext {
        request_id: "vector",
        snapshot_version: 1,
        preview: false,
        preview_sub: None,
        overrides: &overrides,
        rejected: &[],
        sources: &sources,
    };
    let (explanation, traced_location) = set.explain(&visit, &ctx);
    let traced = (
        code(&explanation.outcome, None),
        explanation.rule.clone(),
        traced_location.map(|u| u.to_string()),
    );
    let indexed = (
        observed.outcome.clone(),
        observed.rule.clone(),
        observed.location.clone(),
    );
    if traced != indexed || explanation.location != observed.location {
        return Err(format!("decide {indexed:?} but explain {traced:?}"));
    }
    for (id, want) in &case.expect.trace {
        let got = explanation
            .rules
            .iter()
            .find(|r| &r.id == id)
            .map(|r| r.result);
        if got != Some(want.as_str()) {
            return Err(format!("trace of rule {id}: expected {want}, got {got:?}"));
        }
    }
    Ok(observed)
}

fn load_config(file: &VectorFile, name: &str) -> HandleConfig {
    match (&file.rules_dir, &file.config) {
        (Some(dir), None) => match load_dir(&root().join(dir)) {
            Ok((config, _)) => config,
            Err(problems) => panic!("{name}: rules_dir {dir}: {problems:#?}"),
        },
        (None, Some(config)) => config.clone(),
        _ => panic!("{name}: give exactly one of rules_dir and config"),
    }
}

#[test]
fn decision_vectors() {
    let dir = root().join("tests/vectors/decisions");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no vector files in {}", dir.display());
    let (mut total, mut failures) = (0, Vec::new());
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file: VectorFile = serde_json::from_slice(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !file.description.is_empty() && !file.cases.is_empty(),
            "{name}: describe the file and give cases"
        );
        let config = load_config(&file, &name);
        let set = compile(&config)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .ruleset;
        for case in &file.cases {
            total += 1;
            let expect = &case.expect;
            let want = Observed {
                outcome: expect.outcome.clone(),
                rule: expect.rule.clone(),
                location: expect.location.clone(),
                variant: expect.variant.clone(),
                no_variant: expect.no_variant.clone(),
            };
            match run_case(&set, case, file.now.as_deref()) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{name}: {}\n  expected {want:?}\n  got      {got:?}",
                    case.name
                )),
                Err(why) => failures.push(format!("{name}: {}: {why}", case.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} decision vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 40, "only {total} decision vectors");
}

#[derive(Debug, Deserialize)]
struct BucketFile {
    source: String,
    cases: Vec<BucketCase>,
}

#[derive(Debug, Deserialize)]
struct BucketCase {
    seed: String,
    visitor_id: String,
    bucket: f64,
    weights_50_50: usize,
    weights_20_30_50: usize,
}

#[test]
fn golden_bucketing_matches_growthbook() {
    let path = root().join("tests/vectors/bucketing.json");
    let file: BucketFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        file.source.contains("GrowthBook"),
        "the golden file names its source"
    );
    assert!(file.cases.len() >= 10);
    for case in &file.cases {
        let (seed, id) = (case.seed.as_str(), case.visitor_id.as_str());
        let n = bucket::bucket_number(seed, id);
        // The JS SDK rounds n / 10000 to four places, so n is recovered exactly.
        assert_eq!(
            n,
            (case.bucket * 10_000.0).round() as u32,
            "bucket_number({seed:?}, {id:?})"
        );
        assert!(
            (bucket::bucket(seed, id) - case.bucket).abs() < 1e-9,
            "bucket({seed:?}, {id:?})"
        );
        assert_eq!(
            bucket::choose(n, [50, 50]),
            Some(case.weights_50_50),
            "50/50 for ({seed:?}, {id:?})"
        );
        assert_eq!(
            bucket::choose(n, [20, 30, 50]),
            Some(case.weights_20_30_50),
            "20/30/50 for ({seed:?}, {id:?})"
        );
    }
}

#[test]
fn the_gharart_rule_files_load_and_compile() {
    let (config, _) = load_dir(&root().join("rules/gharart")).unwrap();
    let compiled = compile(&config).unwrap_or_else(|e| panic!("{e}"));
    // Only the deliberately unroutable destinations warn: the pending, failed, rejected
    // and high-risk domains, each used by a rule (and the partner entry's default).
    let mut warned: Vec<&str> = compiled
        .warnings
        .iter()
        .map(|d| d.id.as_deref().unwrap_or_default())
        .collect();
    warned.sort_unstable();
    assert!(
        compiled
            .warnings
            .iter()
            .all(|d| d.code == "unroutable_destination"),
        "{:#?}",
        compiled.warnings
    );
    assert_eq!(
        warned,
        [
            "eu-festive-net",
            "gulf-sale-shop",
            "in-deals-pending",
            "partner-offers",
            "us-gifts"
        ]
    );
    assert!(config.rules.len() >= 12);
    assert_eq!(
        compiled.ruleset.entry_slugs(),
        ["diwali-sale", "festive", "partner-offers"]
    );
}
