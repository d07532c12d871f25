//! Tests of the rule audit: the festive rules, then small crafted configurations, one
//! table per finding kind.

use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::engine::compile::compile;

fn festive() -> (HandleConfig, RuleSet) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    let (config, _) = crate::model::files::load_dir(&dir).expect("festive rules load");
    let set = compile(&config).expect("festive rules compile").ruleset;
    (config, set)
}

/// Two entries `a` and `b`, a routable and a pending domain, a draft campaign `c`.
fn config(rules: Value) -> HandleConfig {
    serde_json::from_value(json!({
        "handle": "shop",
        "fallback": "https://good.example.com/",
        "entries": [
            { "slug": "a", "default": "https://good.example.com/a" },
            { "slug": "b", "default": "https://good.example.com/b" }
        ],
        "domains": [
            { "domain": "good.example.com", "verification": "verified", "risk_score": 0 },
            { "domain": "pending.example.com", "verification": "pending" }
        ],
        "campaigns": [{
            "id": "c", "name": "c", "status": "draft",
            "variants": [
                { "key": "x", "weight": 50, "destination": "https://good.example.com/cx" },
                { "key": "y", "weight": 50, "destination": "https://good.example.com/cy" }
            ]
        }],
        "rules": rules
    }))
    .expect("test configuration")
}

fn rule(id: &str, priority: u32, conditions: Value) -> Value {
    json!({
        "id": id, "priority": priority, "entries": ["a"], "conditions": conditions,
        "destination": format!("https://good.example.com/{id}")
    })
}

fn run(rules: Value) -> Audit {
    let config = config(rules);
    let set = compile(&config)
        .expect("test configuration compiles")
        .ruleset;
    audit(&config, &set)
}

fn example(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn festive_rules() {
    let (config, set) = festive();
    let found = audit(&config, &set);
    let summary = Summary {
        priority_collisions: 1,
        shadowed: 0,
        shadowed_everywhere: 0,
        unroutable: 5,
        empty_condition_sets: 0,
    };
    assert_eq!(found.summary, summary);
    // The one tie that matters: an Arabic-speaking visitor from the Emirates.
    let tie = &found.priority_collisions[0];
    assert_eq!(tie.priority, 30);
    assert_eq!(
        tie.rules,
        ["ae-arabic".to_owned(), "gulf-arabic".to_owned()]
    );
    assert_eq!(tie.entries, ["festive"]);
    assert_eq!(tie.wins.as_deref(), Some("ae-arabic"));
    assert_eq!(
        tie.example,
        example(&[("country", "AE"), ("language", "ar")])
    );
    // No false shadowing: not of the catch-all, not of in-mobile by the unroutable
    // in-deals-pending or the disabled in-mobile-2025, not of gulf-arabic by ae-arabic.
    assert!(found.shadowed.is_empty(), "{:#?}", found.shadowed);
    let got: Vec<Value> = found
        .unroutable
        .iter()
        .map(|u| json!([u.kind, u.rules, u.entries, u.reason]))
        .collect();
    let pending = json!({"code": "unverified", "domain": "offers.gharart-deals.com", "verification": "pending"});
    #[rustfmt::skip]
    let want = vec![
        json!(["rule_destination", ["gulf-sale-shop"], ["festive"], {"code": "rejected", "domain": "gharart-sale.shop"}]),
        json!(["rule_destination", ["in-deals-pending"], ["festive"], pending]),
        json!(["rule_destination", ["eu-festive-net"], ["festive"], {"code": "risk_too_high", "domain": "festive-gharart.net", "score": 85, "threshold": 30}]),
        json!(["rule_destination", ["us-gifts"], ["festive"], {"code": "unverified", "domain": "gharart-gifts.co", "verification": "failed"}]),
        json!(["entry_default", [], ["partner-offers"], pending]),
    ];
    assert_eq!(got, want);
    let effect = &found.unroutable[4].effect;
    assert_eq!(
        effect,
        "visitors for whom no rule wins get the handle fallback"
    );
}

#[test]
fn a_copy_of_a_festive_rule_below_it_is_shadowed_by_the_routable_one() {
    let (mut config, _) = festive();
    let original = config.rules.iter().find(|r| r.id == "in-mobile");
    let mut copy = original.expect("in-mobile").clone();
    copy.id = "in-mobile-copy".into();
    copy.priority = 70;
    config.rules.push(copy);
    let set = compile(&config).expect("compiles").ruleset;
    let found = audit(&config, &set);
    assert_eq!(found.shadowed.len(), 1);
    let s = &found.shadowed[0];
    assert_eq!(
        (s.rule.as_str(), s.scope),
        ("in-mobile-copy", ShadowScope::Everywhere)
    );
    // Not by in-deals-pending (priority 45): its destination is not routable.
    let by = ShadowCause::EarlierRule {
        by: "in-mobile".into(),
        by_priority: 50,
    };
    assert_eq!(s.shadowed_in[0].cause, by);
}

fn window(start: &str, end: Option<&str>) -> Value {
    json!({ "time": { "start": start, "end": end } })
}

/// (name, first rule's conditions, second rule's conditions, the example visitor of the
/// collision, if they collide)
type CollisionCase = (
    &'static str,
    Value,
    Value,
    Option<Vec<(&'static str, &'static str)>>,
);

#[test]
fn priority_collisions() {
    let (jan, feb, mar) = (
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    );
    #[rustfmt::skip]
    let cases: Vec<CollisionCase> = vec![
        ("in vs in, disjoint", json!({"country": {"in": ["IN"]}}), json!({"country": {"in": ["AE"]}}), None),
        ("in vs in, shared", json!({"country": {"in": ["IN", "AE"]}}), json!({"country": {"in": ["AE", "GB"]}}), Some(vec![("country", "AE")])),
        ("in within not_in", json!({"country": {"in": ["IN"]}}), json!({"country": {"not_in": ["IN", "AE"]}}), None),
        ("in beyond not_in", json!({"country": {"in": ["IN", "GB"]}}), json!({"country": {"not_in": ["IN"]}}), Some(vec![("country", "GB")])),
        ("not_in vs not_in meet on an unknown country", json!({"country": {"not_in": ["IN"]}}), json!({"country": {"not_in": ["AE"]}}), Some(vec![("country", "unknown")])),
        ("device not_in vs not_in is exact", json!({"device": {"not_in": ["desktop", "mobile"]}}), json!({"device": {"not_in": ["tablet", "other"]}}), None),
        ("device not_in vs not_in overlapping", json!({"device": {"not_in": ["desktop"]}}), json!({"device": {"not_in": ["mobile"]}}), Some(vec![("device", "tablet")])),
        ("a crawler rule vs a rule crawlers never take", json!({"device": {"in": ["crawler"]}}), json!({}), None),
        ("two crawler rules", json!({"device": {"in": ["crawler"]}}), json!({"device": {"in": ["desktop", "crawler"]}}), Some(vec![("device", "crawler")])),
        ("a country outside a continent", json!({"country": {"in": ["IN"]}}), json!({"continent": {"in": ["EU"]}}), None),
        ("a country inside a continent", json!({"country": {"in": ["FR"]}}), json!({"continent": {"in": ["EU"]}}), Some(vec![("continent", "EU"), ("country", "FR")])),
        ("continent not_in vs a country in it", json!({"continent": {"not_in": ["AS"]}}), json!({"country": {"in": ["IN"]}}), None),
        ("eu true vs false", json!({"eu": true}), json!({"eu": false}), None),
        ("a non-member vs eu true", json!({"country": {"in": ["GB"]}}), json!({"eu": true}), None),
        ("a non-member vs eu false", json!({"country": {"in": ["GB"]}}), json!({"eu": false}), Some(vec![("country", "GB"), ("eu", "false")])),
        ("a region vs another country", json!({"region": {"in": ["IN-MH"]}}), json!({"country": {"in": ["US"]}}), None),
        ("a region vs its country", json!({"region": {"in": ["IN-MH"]}}), json!({"country": {"in": ["IN"]}}), Some(vec![("country", "IN"), ("region", "IN-MH")])),
        ("adjacent time windows", window(jan, Some(feb)), window(feb, Some(mar)), None),
        ("overlapping time windows", window(jan, Some(mar)), window(feb, None), Some(vec![("time", "from 2026-02-01T00:00:00+00:00 until 2026-03-01T00:00:00+00:00")])),
        ("one query parameter, two values", json!({"query": {"utm_source": {"in": ["a"]}}}), json!({"query": {"utm_source": {"in": ["b"]}}}), None),
        ("two query parameters", json!({"query": {"utm_source": {"in": ["a"]}}}), json!({"query": {"utm_medium": {"in": ["b"]}}}), Some(vec![("query.utm_medium", "b"), ("query.utm_source", "a")])),
        ("a language and its subtag", json!({"language": {"in": ["hi"]}}), json!({"language": {"in": ["hi-in"]}}), Some(vec![("language", "hi-in")])),
        ("cities ignore case", json!({"city": {"in": ["Pune"]}}), json!({"city": {"in": ["PUNE"]}}), Some(vec![("city", "Pune")])),
        ("no conditions vs anything", json!({}), json!({"country": {"in": ["IN"]}}), Some(vec![("country", "IN")])),
        ("an empty in list", json!({"country": {"in": []}}), json!({}), None),
    ];
    for (name, a, b, expected) in cases {
        let found = run(json!([rule("a", 10, a), rule("b", 10, b)]));
        let got = found.priority_collisions.first().map(|c| c.example.clone());
        assert_eq!(got, expected.map(|e| example(&e)), "{name}");
        if let Some(c) = found.priority_collisions.first() {
            assert_eq!(
                (c.rules[0].as_str(), c.wins.as_deref()),
                ("a", Some("a")),
                "{name}"
            );
            let decides = "so the id order decides: a is evaluated first and wins";
            assert!(c.why.contains(decides), "{name}: {}", c.why);
        }
    }
}

#[test]
fn collisions_need_one_priority_a_shared_entry_and_two_enabled_rules() {
    let us = json!({"country": {"in": ["US"]}});
    let mut other_entry = rule("b", 10, us.clone());
    other_entry["entries"] = json!(["b"]);
    let mut disabled = rule("b", 10, us.clone());
    disabled["enabled"] = json!(false);
    for rules in [
        json!([rule("a", 10, us.clone()), rule("b", 11, us.clone())]),
        json!([rule("a", 10, us.clone()), other_entry]),
        json!([rule("a", 10, us.clone()), disabled]),
    ] {
        assert!(run(rules).priority_collisions.is_empty());
    }
    let mut everywhere = rule("b", 10, us.clone());
    everywhere["entries"] = json!(["*"]);
    let found = run(json!([rule("a", 10, us), everywhere]));
    assert_eq!(found.priority_collisions[0].entries, ["a"]);
}

#[test]
fn the_tie_goes_to_the_second_rule_when_the_first_is_not_routable() {
    let mut first = rule("a", 10, json!({}));
    first["destination"] = json!("https://pending.example.com/a");
    let found = run(json!([first.clone(), rule("b", 10, json!({}))]));
    assert_eq!(found.priority_collisions[0].wins.as_deref(), Some("b"));
    let mut second = rule("b", 10, json!({}));
    second["destination"] = json!("https://pending.example.com/b");
    let found = run(json!([first, second]));
    assert_eq!(found.priority_collisions[0].wins, None);
    assert!(found.priority_collisions[0]
        .why
        .contains("both are skipped"));
}

/// (name, earlier rule's conditions, its destination (`None`: it is a campaign rule),
/// later rule's conditions, whether the later one is shadowed)
type ShadowCase = (&'static str, Value, Option<&'static str>, Value, bool);

#[test]
fn shadowing_by_an_earlier_rule() {
    let pending = Some("https://pending.example.com/e");
    let (jan, jan15, feb, mar) = (
        "2026-01-01T00:00:00Z",
        "2026-01-15T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    );
    #[rustfmt::skip]
    let cases: Vec<ShadowCase> = vec![
        ("no conditions cover everything", json!({}), None, json!({"country": {"in": ["IN"]}}), true),
        ("but not when the destination is not routable", json!({}), pending, json!({"country": {"in": ["IN"]}}), false),
        ("a catch-all is not shadowed by a narrower rule", json!({"country": {"in": ["IN"]}}), None, json!({}), false),
        ("a rule for crawlers is not shadowed by one crawlers never take", json!({}), None, json!({"device": {"in": ["crawler"]}}), false),
        ("nor is one that also takes crawlers", json!({}), None, json!({"device": {"in": ["crawler", "mobile"]}}), false),
        ("a crawler rule covers a narrower crawler rule", json!({"device": {"in": ["crawler"]}}), None, json!({"device": {"in": ["crawler"]}, "country": {"in": ["IN"]}}), true),
        ("in within in", json!({"country": {"in": ["IN", "AE"]}}), None, json!({"country": {"in": ["IN"]}}), true),
        ("in beyond in", json!({"country": {"in": ["IN"]}}), None, json!({"country": {"in": ["IN", "AE"]}}), false),
        ("in outside not_in", json!({"country": {"not_in": ["US"]}}), None, json!({"country": {"in": ["IN"]}}), true),
        ("not_in with more values", json!({"country": {"not_in": ["US"]}}), None, json!({"country": {"not_in": ["US", "GB"]}}), true),
        ("not_in with fewer values", json!({"country": {"not_in": ["US", "GB"]}}), None, json!({"country": {"not_in": ["US"]}}), false),
        ("a device not_in covers the rest", json!({"device": {"not_in": ["desktop"]}}), None, json!({"device": {"in": ["mobile", "tablet"]}}), true),
        ("a time window inside another", window(jan, Some(mar)), None, window(jan15, Some(feb)), true),
        ("a time window reaching beyond", window(jan, Some(mar)), None, window(jan15, None), false),
        ("a region lies in its country", json!({"country": {"in": ["IN"]}}), None, json!({"region": {"in": ["IN-MH"]}}), true),
        ("EU membership follows the country", json!({"eu": true}), None, json!({"country": {"in": ["DE", "FR"]}}), true),
        ("a source may name its own continent", json!({"continent": {"in": ["EU"]}}), None, json!({"country": {"in": ["DE"]}}), false),
        ("a language covers its subtags", json!({"language": {"in": ["hi"]}}), None, json!({"language": {"in": ["hi-in"]}}), true),
        ("a subtag does not cover its language", json!({"language": {"in": ["hi-in"]}}), None, json!({"language": {"in": ["hi"]}}), false),
        ("more conditions are narrower", json!({"query": {"utm_source": {"in": ["a"]}}}), None, json!({"query": {"utm_source": {"in": ["a"]}}, "country": {"in": ["IN"]}}), true),
        ("fewer conditions are wider", json!({"country": {"in": ["IN"]}, "device": {"in": ["mobile"]}}), None, json!({"country": {"in": ["IN"]}}), false),
    ];
    for (name, e_conditions, destination, r_conditions, expected) in cases {
        let mut earlier = rule("e", 10, e_conditions);
        match destination {
            Some(d) => earlier["destination"] = json!(d),
            None => earlier["campaign"] = json!("c"),
        }
        let found = run(json!([earlier, rule("r", 20, r_conditions)]));
        let shadowed = found.shadowed.iter().find(|s| s.rule == "r");
        assert_eq!(
            shadowed.is_some(),
            expected,
            "{name}: {:#?}",
            found.shadowed
        );
        if let Some(s) = shadowed {
            let by = ShadowCause::EarlierRule {
                by: "e".into(),
                by_priority: 10,
            };
            assert_eq!(s.shadowed_in[0].cause, by, "{name}");
            assert!(
                s.shadowed_in[0].why.contains("a campaign rule always wins"),
                "{name}"
            );
        }
    }
}

#[test]
fn rules_whose_conditions_never_hold() {
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("an empty in list", json!({"country": {"in": []}}), Some("an empty `in` list never holds (country in [])")),
        ("only crawlers, but not targeting them", json!({"device": {"not_in": ["desktop", "mobile", "tablet", "other"]}}), Some("leaves only crawlers")),
        ("a country outside the EU", json!({"country": {"in": ["IN"]}, "eu": true}), Some("no visitor's geography satisfies country in [IN] and eu true")),
        ("a region outside the country", json!({"country": {"in": ["IN"]}, "region": {"in": ["US-CA"]}}), Some("geography")),
        ("a continent a source may give", json!({"country": {"in": ["IN"]}, "continent": {"in": ["EU"]}}), None),
        ("only crawlers, targeting them", json!({"device": {"in": ["crawler"]}}), None),
    ];
    for (name, conditions, expected) in cases {
        let found = run(json!([rule("r", 10, conditions)]));
        let never = found.shadowed.first().map(|s| {
            let cause = (s.scope, &s.shadowed_in[0].cause);
            assert_eq!(
                cause,
                (ShadowScope::Everywhere, &ShadowCause::NeverMatches),
                "{name}"
            );
            s.shadowed_in[0].why.clone()
        });
        match (never, expected) {
            (Some(why), Some(part)) => assert!(why.contains(part), "{name}: {why}"),
            (never, expected) => {
                assert_eq!(never.is_some(), expected.is_some(), "{name}: {never:?}")
            }
        }
    }
}

#[test]
fn shadowed_in_some_entries_or_everywhere() {
    let mut later = rule("r", 20, json!({"country": {"in": ["IN"]}}));
    later["entries"] = json!(["a", "b"]);
    let found = run(json!([rule("e", 10, json!({})), later.clone()]));
    let s = &found.shadowed[0];
    assert_eq!(
        (s.scope, s.not_shadowed_in.as_slice()),
        (ShadowScope::SomeEntries, &["b".to_owned()][..])
    );
    let entries: Vec<&str> = s.shadowed_in.iter().map(|x| x.entry.as_str()).collect();
    assert_eq!(entries, ["a"]);
    assert_eq!(
        (found.summary.shadowed, found.summary.shadowed_everywhere),
        (1, 0)
    );
    let mut everywhere = rule("e", 10, json!({}));
    everywhere["entries"] = json!(["*"]);
    let found = run(json!([everywhere, later]));
    assert_eq!(found.shadowed[0].scope, ShadowScope::Everywhere);
    assert_eq!(found.summary.shadowed_everywhere, 1);
    // Same priority: the id order decides which rule comes first.
    let india = json!({"country": {"in": ["IN"]}});
    let found = run(json!([
        rule("b", 10, json!({})),
        rule("a", 10, india.clone())
    ]));
    assert!(found.shadowed.is_empty());
    let found = run(json!([rule("a", 10, json!({})), rule("b", 10, india)]));
    assert_eq!(found.shadowed[0].rule, "b");
}

#[test]
fn unroutable_destinations() {
    let mut config = config(json!([{
        "id": "camp", "priority": 10, "entries": ["a"], "campaign": "c",
        "destination": "https://pending.example.com/own"
    }]));
    config.campaigns[0].variants[1].destination = "https://pending.example.com/y".into();
    config.entries[1].default = "https://pending.example.com/b".into();
    config.fallback = Some("https://pending.example.com/".into());
    let set = compile(&config).expect("compiles").ruleset;
    let found = audit(&config, &set);
    let got: Vec<Value> = found
        .unroutable
        .iter()
        .map(|u| {
            json!([
                u.kind,
                u.rules,
                u.campaign,
                u.variant,
                u.entries,
                u.destination
            ])
        })
        .collect();
    #[rustfmt::skip]
    let want = vec![
        json!(["campaign_rule_destination", ["camp"], null, null, ["a"], "https://pending.example.com/own"]),
        json!(["variant", ["camp"], "c", "y", ["a"], "https://pending.example.com/y"]),
        json!(["entry_default", [], null, null, ["b"], "https://pending.example.com/b"]),
        json!(["handle_fallback", [], null, null, ["b"], "https://pending.example.com/"]),
    ];
    assert_eq!(got, want);
    assert!(found.unroutable[2].effect.contains("safe page"));
    let shape = serde_json::to_value(&found.unroutable[1]).expect("serialises");
    let reason =
        json!({"code": "unverified", "domain": "pending.example.com", "verification": "pending"});
    assert_eq!(shape["reason"], reason);
    assert_eq!(
        shape["message"],
        "pending.example.com is not verified (verification pending)"
    );
}

#[test]
fn empty_condition_sets() {
    let odd = json!({"country": {"in": []}, "query": {"utm_source": {"not_in": []}}});
    let fine = json!({"country": {"in": ["IN"]}});
    let found = run(json!([rule("fine", 10, fine), rule("odd", 20, odd)]));
    let got: Vec<(&str, &str, &str)> = found
        .empty_condition_sets
        .iter()
        .map(|e| (e.rule.as_str(), e.path.as_str(), e.test))
        .collect();
    let want = [
        ("odd", "rules[1].conditions.country.in", "in"),
        (
            "odd",
            "rules[1].conditions.query.utm_source.not_in",
            "not_in",
        ),
    ];
    assert_eq!(got, want);
    assert!(found.empty_condition_sets[1]
        .effect
        .starts_with("always holds"));
    assert_eq!(
        found.shadowed[0].shadowed_in[0].cause,
        ShadowCause::NeverMatches
    );
}

#[test]
fn the_json_shape() {
    let mobile = json!({"device": {"in": ["mobile"]}});
    let found = run(json!([rule("e", 10, json!({})), rule("r", 20, mobile)]));
    let shape = serde_json::to_value(&found).expect("serialises");
    let why = "e (priority 10) is evaluated first and matches every visitor r matches \
               (e wants no conditions (matches every visitor); r wants device in [mobile]), \
               and its destination is routable";
    let want = json!({
        "rule": "r", "priority": 20, "scope": "everywhere",
        "shadowed_in": [{
            "entry": "a", "cause": "earlier_rule", "by": "e", "by_priority": 10, "why": why
        }],
        "not_shadowed_in": []
    });
    assert_eq!(shape["shadowed"][0], want);
    assert_eq!(shape["summary"]["shadowed_everywhere"], 1);
}
