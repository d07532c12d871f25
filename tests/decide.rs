//! Table-driven decision tests (matchit's `MatchTest { .. }.run()` style) for the semantics
//! that read better as code than as JSON vectors, and compile-diagnostics tests: a broken
//! configuration reports every problem, with its code, path and id, in one compile.
//!
//! Visits are written as a small spec string: `country=IN region=MH city=Pune asn=55836
//! device=mobile os=ios browser=safari lang=hi-in q.utm_source=x at=<RFC 3339>`. Unset
//! facts are unknown; the device defaults to `other` and the clock to 2026-11-22T10:00Z.

// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
use edge_router::engine::device::DeviceCategory;
use edge_router::engine::explain::ExplainContext;
use edge_router::engine::facts::Overrides;
use edge_router::engine::facts::{gather, FactInputs, Facts};
use edge_router::engine::geo::GeoFacts;
use edge_router::model::config::{DomainDoc, EntryDoc, RuleDoc, Verification};
use edge_router::{compile, compile_published, HandleConfig, Outcome, RuleSet, Visit};
use serde_json::json;

fn facts(spec: &str) -> Facts {
    let mut facts = Facts::at("2026-11-22T10:00:00Z".parse().unwrap());
    let (mut country, mut region, mut city, mut asn) = (None, None, None, None);
    for pair in spec.split_whitespace() {
        let (key, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("bad spec item {pair:?}"));
        match key {
            "country" => country = Some(value),
            "region" => region = Some(value),
            "city" => city = Some(value),
            "asn" => asn = Some(value.parse().unwrap()),
            "device" => facts.device = DeviceCategory::parse(value).unwrap(),
            "os" => facts.os = Some(value.into()),
            "browser" => facts.browser = Some(value.into()),
            "lang" => facts.language = Some(value.into()),
            "at" => facts.now = value.parse().unwrap(),
            q if q.starts_with("q.") => facts.query.push((q[2..].into(), value.into())),
            other => panic!("unknown spec key {other:?}"),
        }
    }
    facts.geo = GeoFacts::normalised(country, None, region, city, asn);
    facts
}

/// Two entries, `e` and `f`, on a verified domain; `pending.example.com` is not routable.
fn config(rules: Vec<serde_json::Value>) -> HandleConfig {
    let domain = |d: &str, verification| DomainDoc {
        domain: d.into(),
        verification,
        token: None,
        risk_score: Some(0),
        decision: None,
        verified_at: None,
        checked_at: None,
        failure: None,
    };
    let entry = |slug: &str| EntryDoc {
        slug: slug.into(),
        default: format!("https://good.example.com/{slug}"),
        template: None,
        description: None,
    };
    HandleConfig {
        handle: "shop".into(),
        entries: vec![entry("e"), entry("f")],
        domains: vec![
            domain("good.example.com", Verification::Verified),
            domain("pending.example.com", Verification::Pending),
        ],
        rules: rules
            .into_iter()
            .map(|r| serde_json::from_value::<RuleDoc>(r).unwrap())
            .collect(),
        ..Default::default()
    }
}

/// A rule on entry `e` sending to `https://good.example.com/<id>`.
fn rule(id: &str, priority: u32, conditions: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "priority": priority, "entries": ["e"], "conditions": conditions, "destination": format!("https://good.example.com/{id}")})
}

struct DecideTest {
    rules: Vec<serde_json::Value>,
    /// `(entry, visit spec, winning rule or None for the entry's default)`.
    visits: Vec<(&'static str, &'static str, Option<&'static str>)>,
}

impl DecideTest {
    fn run(self) {
        let set = compile(&config(self.rules))
            .unwrap_or_else(|e| panic!("{e}"))
            .ruleset;
        for (entry, spec, want) in self.visits {
            let facts = facts(spec);
            let visit = Visit {
                entry,
                facts: &facts,
                visitor_id: "0123456789abcdef0123456789abcdef",
                forced_variant: None,
            };
            let decision = set.decide(&visit);
            assert_eq!(decision.rule.map(|r| r.id.as_str()), want, "{entry} {spec}");
            let expected_outcome = if want.is_some() {
                Outcome::Rule
            } else {
                Outcome::EntryDefault
            };
            assert_eq!(decision.outcome, expected_outcome, "{entry} {spec}");
            assert_traced_agrees(&set, &visit);
        }
    }
}

fn assert_traced_agrees(set: &RuleSet, visit: &Visit<'_>) {
    let decision = set.decide(visit);
    let location = set.location(&decision, visit, None).map(|u| u.to_string());
    let (_, sources) = gather(FactInputs {
        now: visit.facts.now,
        ..Default::default()
    });
    let overrides = Overrides::default();
    let ctx = ExplainContext {
        request_id: "t",
        snapshot_version: 0,
        preview: false,
        preview_sub: None,
        overrides: &overrides,
        rejected: &[],
        sources: &sources,
    };
    let (explanation, traced) = set.explain(visit, &ctx);
    assert_eq!(explanation.outcome, decision.outcome);
    assert_eq!(
        explanation.rule.as_deref(),
        decision.rule.map(|r| r.id.as_str())
    );
    assert_eq!(traced.map(|u| u.to_string()), location);
}

#[test]
fn lower_priority_first_then_id_in_byte_order() {
    DecideTest {
        rules: vec![
            rule("b", 10, json!({})),
            rule("a", 10, json!({})),
            rule("z", 5, json!({"country": {"in": ["IN"]}})),
            rule("rule-9", 1, json!({"country": {"in": ["US"]}})),
            rule("rule-10", 1, json!({"country": {"in": ["US"]}})),
            rule("B", 1, json!({"country": {"in": ["GB"]}})),
            rule("a-lower", 1, json!({"country": {"in": ["GB"]}})),
        ],
        visits: vec![
            ("e", "country=IN", Some("z")),
            ("e", "country=DE", Some("a")),
            ("e", "", Some("a")),
            // Ids compare as strings: "rule-10" < "rule-9", and upper case before lower.
            ("e", "country=US", Some("rule-10")),
            ("e", "country=GB", Some("B")),
        ],
    }
    .run();
}

#[test]
fn disabled_rules_are_never_evaluated() {
    let mut off = rule("off", 1, json!({}));
    off["enabled"] = json!(false);
    DecideTest {
        rules: vec![off, rule("on", 2, json!({"device": {"in": ["mobile"]}}))],
        visits: vec![
            ("e", "device=mobile", Some("on")),
            ("e", "device=desktop", None),
        ],
    }
    .run();
}

#[test]
fn entries_scope_rules_and_star_means_every_entry() {
    let mut everywhere = rule("everywhere", 5, json!({"country": {"in": ["IN"]}}));
    everywhere["entries"] = json!(["*"]);
    let mut on_f = rule("only-f", 1, json!({}));
    on_f["entries"] = json!(["f"]);
    DecideTest {
        rules: vec![everywhere, on_f, rule("only-e", 9, json!({}))],
        visits: vec![
            ("e", "country=IN", Some("everywhere")),
            ("f", "country=IN", Some("only-f")),
            ("e", "country=US", Some("only-e")),
        ],
    }
    .run();
}

#[test]
fn in_needs_a_known_fact_and_not_in_holds_for_an_unknown_one() {
    let pairs = [
        ("country", json!("IN"), "country=IN", "country=US"),
        ("continent", json!("AS"), "country=IN", "country=US"),
        (
            "region",
            json!("IN-MH"),
            "country=IN region=MH",
            "country=IN region=KA",
        ),
        (
            "city",
            json!("Pune"),
            "country=IN city=Pune",
            "country=IN city=Delhi",
        ),
        ("asn", json!(55836), "asn=55836", "asn=13335"),
        ("os", json!("ios"), "os=ios", "os=android"),
        (
            "browser",
            json!("safari"),
            "browser=safari",
            "browser=chrome",
        ),
        ("language", json!("hi"), "lang=hi", "lang=en"),
    ];
    for (field, value, listed, other) in pairs {
        DecideTest {
            rules: vec![
                rule("pos", 1, json!({field: {"in": [value.clone()]}})),
                rule("neg", 2, json!({field: {"not_in": [value]}})),
            ],
            visits: vec![
                ("e", listed, Some("pos")),
                ("e", other, Some("neg")),
                ("e", "", Some("neg")),
            ],
        }
        .run();
    }
    DecideTest {
        rules: vec![
            rule("pos", 1, json!({"query": {"src": {"in": ["ad"]}}})),
            rule("neg", 2, json!({"query": {"src": {"not_in": ["ad"]}}})),
        ],
        visits: vec![
            ("e", "q.src=ad", Some("pos")),
            ("e", "q.src=mail", Some("neg")),
            ("e", "q.other=ad", Some("neg")),
        ],
    }
    .run();
}

#[test]
fn eu_membership_needs_a_known_country() {
    DecideTest {
        rules: vec![
            rule("eu", 1, json!({"eu": true})),
            rule("non-eu", 2, json!({"eu": false})),
        ],
        visits: vec![
            ("e", "country=IE", Some("eu")),
            ("e", "country=GB", Some("non-eu")),
            ("e", "country=CH", Some("non-eu")),
            ("e", "", None),
        ],
    }
    .run();
}

#[test]
fn conditions_are_anded_and_values_are_normalised_once() {
    DecideTest {
        rules: vec![rule(
            "in-hindi-phone",
            1,
            json!({"country": {"in": ["in"]}, "device": {"in": ["Mobile"]}, "language": {"in": ["HI"]}, "city": {"in": ["pune"]}}),
        )],
        visits: vec![
            ("e", "country=IN city=PUNE device=mobile lang=hi-in", Some("in-hindi-phone")),
            ("e", "country=IN city=Pune device=mobile lang=hi", Some("in-hindi-phone")),
            ("e", "country=IN city=Pune device=desktop lang=hi", None),
            ("e", "country=IN city=Pune device=mobile lang=en", None),
            ("e", "country=IN device=mobile lang=hi", None),
        ],
    }
    .run();
}

#[test]
fn a_language_value_matches_its_tag_or_subtags_of_it() {
    DecideTest {
        rules: vec![
            rule("en-gb", 1, json!({"language": {"in": ["en-GB"]}})),
            rule("ar", 2, json!({"language": {"in": ["ar"]}})),
        ],
        visits: vec![
            ("e", "lang=en-gb", Some("en-gb")),
            ("e", "lang=en", None),
            ("e", "lang=en-us", None),
            ("e", "lang=ar-ae", Some("ar")),
            ("e", "lang=arn", None),
        ],
    }
    .run();
}

#[test]
fn a_query_condition_tests_the_first_value() {
    DecideTest {
        rules: vec![rule(
            "wa",
            1,
            json!({"query": {"utm_source": {"in": ["whatsapp"]}}}),
        )],
        visits: vec![
            ("e", "q.utm_source=whatsapp q.utm_source=mail", Some("wa")),
            ("e", "q.utm_source=mail q.utm_source=whatsapp", None),
            ("e", "q.utm_source=", None),
        ],
    }
    .run();
}

#[test]
fn time_windows_start_inclusive_end_exclusive_either_bound_open() {
    DecideTest {
        rules: vec![
            rule("window", 1, json!({"time": {"start": "2026-11-08T00:00:00+05:30", "end": "2026-11-09T00:00:00+05:30"}})),
            rule("until", 2, json!({"time": {"end": "2026-11-01T00:00:00Z"}})),
            rule("from", 3, json!({"time": {"start": "2027-01-01T00:00:00Z"}})),
        ],
        visits: vec![
            ("e", "at=2026-11-07T18:30:00Z", Some("window")),
            ("e", "at=2026-11-08T18:29:59.999Z", Some("window")),
            ("e", "at=2026-11-08T18:30:00Z", None),
            ("e", "at=2026-10-31T23:59:59Z", Some("until")),
            ("e", "at=2026-11-01T00:00:00Z", None),
            ("e", "at=2027-01-01T00:00:00Z", Some("from")),
        ],
    }
    .run();
}

#[test]
fn crawlers_only_take_rules_whose_device_condition_lists_crawler() {
    DecideTest {
        rules: vec![
            rule("anyone", 1, json!({})),
            rule("not-phones", 2, json!({"device": {"not_in": ["mobile"]}})),
            rule(
                "bots-in",
                3,
                json!({"device": {"in": ["crawler", "mobile"]}, "country": {"in": ["IN"]}}),
            ),
            rule("bots", 4, json!({"device": {"in": ["crawler"]}})),
        ],
        visits: vec![
            ("e", "device=crawler country=IN", Some("bots-in")),
            ("e", "device=crawler country=US", Some("bots")),
            ("e", "device=crawler", Some("bots")),
            ("e", "device=mobile", Some("anyone")),
        ],
    }
    .run();
}

#[test]
fn an_unroutable_rule_is_skipped_and_the_next_one_wins() {
    let mut pending = rule("pending", 1, json!({}));
    pending["destination"] = json!("https://pending.example.com/x");
    DecideTest {
        rules: vec![pending, rule("next", 2, json!({"country": {"in": ["IN"]}}))],
        visits: vec![("e", "country=IN", Some("next")), ("e", "country=US", None)],
    }
    .run();
}

/// A published snapshot's destinations are parsed and checked when a visit first reaches
/// them: one its publisher would have refused (not a URL, http, a port, an address, an
/// unverified domain) loads, is skipped like any unroutable destination, and says why.
#[test]
fn a_published_destination_is_checked_when_first_reached() {
    let bad = [
        ("not-a-url", "no scheme at all"),
        ("http", "http://good.example.com/x"),
        ("port", "https://good.example.com:8443/x"),
        ("address", "https://127.0.0.1/x"),
        ("pending", "https://pending.example.com/x"),
    ];
    let mut rules: Vec<serde_json::Value> = bad
        .iter()
        .enumerate()
        .map(|(i, (id, destination))| {
            let mut r = rule(id, i as u32 + 1, json!({}));
            r["destination"] = json!(destination);
            r
        })
        .collect();
    rules.push(rule("next", 10, json!({"country": {"in": ["IN"]}})));
    let config = config(rules);
    let refused = compile(&config).expect_err("the publisher refuses it");
    assert!(refused.diagnostics.iter().any(|d| d.code == "invalid_url"));
    let set = compile_published(&config).unwrap().ruleset;
    for (spec, want) in [("country=IN", Some("next")), ("country=US", None)] {
        let facts = facts(spec);
        let visit = Visit {
            entry: "e",
            facts: &facts,
            visitor_id: "0123456789abcdef0123456789abcdef",
            forced_variant: None,
        };
        let decision = set.decide(&visit);
        assert_eq!(decision.rule.map(|r| r.id.as_str()), want, "{spec}");
        let location = set.location(&decision, &visit, None).unwrap();
        assert_eq!(location.host_str(), Some("good.example.com"), "{spec}");
        assert_traced_agrees(&set, &visit);
    }
    for (id, _) in bad {
        let rule = set.rules().iter().find(|r| r.id == id).unwrap();
        let target = rule.destination.as_ref().unwrap();
        let why = target.routable(set.allowlist()).unwrap_err();
        let want = match id {
            "not-a-url" | "address" => "not_a_domain",
            "http" => "not_https",
            "port" => "has_port",
            _ => "unverified",
        };
        assert_eq!(serde_json::to_value(&why).unwrap()["code"], want, "{id}");
    }
}

#[test]
fn an_empty_in_set_never_matches_and_an_empty_not_in_set_always_does() {
    let rules = vec![
        rule("never", 1, json!({"country": {"in": []}})),
        rule("always", 2, json!({"country": {"not_in": []}})),
    ];
    let warnings = compile(&config(rules.clone())).unwrap().warnings;
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.code == "empty_condition_set")
            .count(),
        2,
        "{warnings:#?}"
    );
    DecideTest {
        rules,
        visits: vec![
            ("e", "country=IN", Some("always")),
            ("e", "", Some("always")),
        ],
    }
    .run();
}

// ---------------------------------------------------------------------------------------
// Compile diagnostics

/// `(code, path, id)` of every error a configuration has, in report order.
fn errors(config: &HandleConfig) -> Vec<(&'static str, String, Option<String>)> {
    let error = compile(config).expect_err("the configuration should not compile");
    error
        .errors()
        .map(|d| (d.code, d.path.clone(), d.id.clone()))
        .collect()
}

#[test]
fn a_broken_config_reports_every_problem_with_code_path_and_id() {
    let mut config = config(vec![
        rule("bad-country", 1, json!({"country": {"in": ["IN", "IND"]}})),
        json!({"id": "ghost-entry", "priority": 1, "entries": ["holi"], "destination": "https://good.example.com/"}),
        json!({"id": "ghost-campaign", "priority": 1, "entries": ["e"], "campaign": "nope"}),
        rule("bad-country", 2, json!({})),
        json!({"id": "http-dest", "priority": 1, "entries": ["e"], "destination": "http://good.example.com/"}),
        json!({"id": "relative", "priority": 1, "entries": ["e"], "destination": "good.example.com/festive"}),
        rule(
            "empty-window",
            1,
            json!({"time": {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}}),
        ),
        rule("has space", 1, json!({"device": {"in": ["phone"]}})),
    ]);
    config.campaigns = serde_json::from_value(json!([{
        "id": "lopsided", "name": "60/30", "variants": [
            {"key": "a", "weight": 60, "destination": "https://good.example.com/a"},
            {"key": "b", "weight": 30, "destination": "https://good.example.com/b"}]
    }]))
    .unwrap();
    config.templates = serde_json::from_value(
        json!([{"id": "bad-tpl", "params": {"ok": "{country}", "x": "{nope}"}}]),
    )
    .unwrap();
    config.default_template = Some("missing".into());
    config.domains[0].domain = "Good.Example.com".into();
    let id = |s: &str| Some(s.to_owned());
    let want = vec![
        (
            "invalid_domain",
            "domains[0].domain".into(),
            id("Good.Example.com"),
        ),
        (
            "invalid_placeholder",
            "templates[0].params.x".into(),
            id("bad-tpl"),
        ),
        ("unknown_template", "default_template".into(), None),
        (
            "invalid_weights",
            "campaigns[0].variants".into(),
            id("lopsided"),
        ),
        (
            "invalid_country",
            "rules[0].conditions.country.in[1]".into(),
            id("bad-country"),
        ),
        (
            "unknown_entry",
            "rules[1].entries[0]".into(),
            id("ghost-entry"),
        ),
        (
            "unknown_campaign",
            "rules[2].campaign".into(),
            id("ghost-campaign"),
        ),
        ("duplicate_id", "rules[3].id".into(), id("bad-country")),
        (
            "invalid_url",
            "rules[4].destination".into(),
            id("http-dest"),
        ),
        ("invalid_url", "rules[5].destination".into(), id("relative")),
        (
            "empty_time_window",
            "rules[6].conditions.time".into(),
            id("empty-window"),
        ),
        ("invalid_id", "rules[7].id".into(), id("has space")),
        (
            "invalid_device",
            "rules[7].conditions.device.in[0]".into(),
            id("has space"),
        ),
    ];
    assert_eq!(errors(&config), want);
}

#[test]
fn diagnostics_read_as_code_path_id_and_a_fix() {
    let config = config(vec![rule(
        "bad-country",
        1,
        json!({"country": {"in": ["IND"]}}),
    )]);
    let error = compile(&config).unwrap_err();
    assert_eq!(
        error.to_string(),
        "1 error(s) in the configuration\n  error[invalid_country] rules[0].conditions.country.in[0] (bad-country): \
         not an ISO 3166-1 alpha-2 country code such as IN"
    );
    assert_eq!(
        edge_router::validate(&config),
        error.diagnostics,
        "validate reports what compile refuses"
    );
}

#[test]
fn an_unroutable_destination_is_a_warning_not_an_error() {
    let mut pending = rule("pending", 1, json!({}));
    pending["destination"] = json!("https://pending.example.com/x");
    let compiled = compile(&config(vec![pending])).unwrap();
    let warnings: Vec<_> = compiled
        .warnings
        .iter()
        .map(|d| (d.code, d.path.as_str(), d.id.as_deref()))
        .collect();
    assert_eq!(
        warnings,
        [(
            "unroutable_destination",
            "rules[0].destination",
            Some("pending")
        )]
    );
    assert!(compiled.warnings[0]
        .message
        .contains("pending.example.com is not verified (verification pending)"));
}

#[test]
fn every_campaign_problem_is_reported_at_its_variant() {
    let mut config = config(vec![]);
    config.campaigns = serde_json::from_value(json!([
        {"id": "dates", "name": "n", "start_date": "2026-12-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z",
         "variants": [{"key": "a", "weight": 50, "destination": "https://good.example.com/a"},
                      {"key": "a", "weight": 50, "destination": "ftp://good.example.com/b"}]},
        {"id": "empty", "name": "n", "variants": []},
        {"id": "dates", "name": "dup", "seed": "", "end_date": "soon",
         "variants": [{"key": "x", "weight": 100, "destination": "https://good.example.com/x"}]}
    ]))
    .unwrap();
    let id = |s: &str| Some(s.to_owned());
    assert_eq!(
        errors(&config),
        vec![
            ("invalid_dates", "campaigns[0].end_date".into(), id("dates")),
            (
                "duplicate_id",
                "campaigns[0].variants[1].key".into(),
                id("dates")
            ),
            (
                "invalid_url",
                "campaigns[0].variants[1].destination".into(),
                id("dates")
            ),
            ("no_variants", "campaigns[1].variants".into(), id("empty")),
            ("duplicate_id", "campaigns[2].id".into(), id("dates")),
            ("invalid_time", "campaigns[2].end_date".into(), id("dates")),
            ("invalid_seed", "campaigns[2].seed".into(), id("dates")),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Rule files: merged paths map back to the file and the index inside it

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edge-router-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn origins_locate_a_merged_path_in_its_file() {
    use edge_router::model::files::load_dir;
    let dir = temp_dir("locate");
    let write = |name: &str, value: serde_json::Value| {
        std::fs::write(dir.join(name), value.to_string()).unwrap()
    };
    let mut base = serde_json::to_value(config(vec![])).unwrap();
    base.as_object_mut()
        .unwrap()
        .retain(|k, _| ["handle", "entries", "domains"].contains(&k.as_str()));
    write("10-handle.json", base);
    write(
        "20-rules.json",
        json!({"$schema": "x", "rules": [rule("a", 1, json!({})), rule("b", 2, json!({}))]}),
    );
    write(
        "30-more.json",
        json!({"rules": [rule("c", 3, json!({})), rule("d", 4, json!({"country": {"in": ["IND"]}}))]}),
    );
    write(
        "40-templates.json",
        json!({"default_template": "missing", "templates": []}),
    );
    let (merged, origins) = load_dir(&dir).unwrap();
    assert_eq!(
        merged
            .rules
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    let located: Vec<(String, String)> = compile(&merged)
        .unwrap_err()
        .errors()
        .map(|d| origins.locate(d))
        .map(|f| {
            (
                f.file.file_name().unwrap().to_string_lossy().into_owned(),
                f.diagnostic.path,
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            (
                "40-templates.json".to_owned(),
                "default_template".to_owned()
            ),
            (
                "30-more.json".to_owned(),
                "rules[1].conditions.country.in[0]".to_owned()
            ),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rule_files_that_disagree_are_refused_with_the_file_named() {
    use edge_router::model::files::load_dir;
    let dir = temp_dir("conflict");
    std::fs::write(
        dir.join("a.json"),
        json!({"handle": "shop", "fallback": "https://good.example.com/"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("b.json"),
        json!({"handle": "other", "fallback": "https://good.example.com/x"}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("c.json"), "{\"rules\": [").unwrap();
    let problems = load_dir(&dir).unwrap_err();
    let found: Vec<(String, &str)> = problems
        .iter()
        .map(|p| {
            (
                p.file.file_name().unwrap().to_string_lossy().into_owned(),
                p.diagnostic.code,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("c.json".to_owned(), "invalid_json"),
            ("b.json".to_owned(), "conflicting_handle"),
            ("b.json".to_owned(), "duplicate_setting")
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
