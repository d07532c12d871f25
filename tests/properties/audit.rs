//! Properties of the rule audit, on the well-formed configurations of [`crate::gen`]:
//! - a rule the audit calls shadowed in an entry never wins there, whatever the visitor
//!   (geography as `gather` builds it: EU membership from the country, a region inside
//!   its country, the continent from a source or derived);
//! - two same-priority rules of one entry that both hold for some visitor with
//!   consistent geography (continent from the table) are reported as a collision.
//!
//! Each runs its own [`TestRunner`] so it can also check that the generators produce
//! enough findings for the property to mean something.

use std::cell::Cell;

use edge_router::analysis::audit::{audit, ShadowCause};
use edge_router::engine::explain::ExplainContext;
use edge_router::engine::facts::Overrides;
use edge_router::engine::facts::{gather, FactInputs, Facts};
use edge_router::engine::geo::GeoFacts;
use edge_router::model::config::HandleConfig;
use edge_router::{compile, RuleSet, Visit};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};

use crate::gen;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Facts from [`gen::visit`] with their geography rebuilt as a geo source would give it:
/// normalised, EU membership derived, and the continent named by the source (any, even
/// one the table disagrees with) or derived.
fn visit_with_source_continent() -> impl Strategy<Value = (Facts, String, Option<String>)> {
    let continent = prop::option::weighted(0.3, select(&["AS", "EU", "NA", "OC", "AF"][..]));
    (gen::visit(), continent).prop_map(|((mut facts, id, forced), continent)| {
        facts.geo = renormalised(&facts.geo, continent);
        (facts, id, forced)
    })
}

fn renormalised(g: &GeoFacts, continent: Option<&str>) -> GeoFacts {
    GeoFacts::normalised(
        g.country.as_deref(),
        continent,
        g.region.as_deref(),
        g.city.as_deref(),
        g.asn,
    )
}

#[test]
fn a_rule_the_audit_calls_shadowed_never_wins() {
    let (by_rule, never) = (Cell::new(0usize), Cell::new(0usize));
    let strategy = (
        gen::valid_config(),
        prop::collection::vec(visit_with_source_continent(), 1..12),
    );
    let result = runner().run(&strategy, |(config, visits)| {
        let set = compile(&config)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .ruleset;
        let found = audit(&config, &set);
        for shadowed in &found.shadowed {
            for s in &shadowed.shadowed_in {
                match s.cause {
                    ShadowCause::EarlierRule { .. } => by_rule.set(by_rule.get() + 1),
                    ShadowCause::NeverMatches => never.set(never.get() + 1),
                }
                for (facts, visitor_id, forced) in &visits {
                    let visit = Visit {
                        entry: &s.entry,
                        facts,
                        visitor_id,
                        forced_variant: forced.as_deref(),
                    };
                    let winner = set.decide(&visit).rule.map(|r| r.id.clone());
                    prop_assert_ne!(
                        winner.as_deref(),
                        Some(shadowed.rule.as_str()),
                        "{} won in {} for {:?}, yet: {}",
                        shadowed.rule,
                        s.entry,
                        facts,
                        s.why
                    );
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        by_rule.get() >= 50 && never.get() >= 50,
        "too few findings to mean anything: {} by an earlier rule, {} never matching",
        by_rule.get(),
        never.get()
    );
}

/// The same configuration with every rule pointing at a destination off the allowlist and
/// no campaign: no rule ever wins, so the explain trace says of every enabled rule
/// whether its conditions hold (`skipped` for an unroutable destination).
fn all_skipped(config: &HandleConfig) -> Result<RuleSet, TestCaseError> {
    let mut config = config.clone();
    for rule in &mut config.rules {
        rule.campaign = None;
        rule.destination = Some("https://not-on-the-allowlist.invalid/".into());
    }
    compile(&config)
        .map(|c| c.ruleset)
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

#[test]
fn same_priority_rules_that_both_hold_are_reported() {
    let confirmed = Cell::new(0usize);
    let strategy = (
        gen::valid_config(),
        prop::collection::vec(gen::visit(), 1..12),
    );
    let result = runner().run(&strategy, |(config, visits)| {
        let set = compile(&config).map_err(|e| TestCaseError::fail(e.to_string()))?.ruleset;
        let found = audit(&config, &set);
        let probe = all_skipped(&config)?;
        let overrides = Overrides::default();
        for (facts, visitor_id, _) in &visits {
            let facts = Facts {
                geo: renormalised(&facts.geo, None),
                ..facts.clone()
            };
            let (_, sources) = gather(FactInputs {
                now: facts.now,
                ..Default::default()
            });
            let ctx = ExplainContext {
                request_id: "p",
                snapshot_version: 0,
                preview: false,
                preview_sub: None,
                overrides: &overrides,
                rejected: &[],
                sources: &sources,
            };
            for entry in set.entry_slugs() {
                let visit = Visit {
                    entry,
                    facts: &facts,
                    visitor_id,
                    forced_variant: None,
                };
                let (explanation, _) = probe.explain(&visit, &ctx);
                let holding: Vec<_> = explanation
                    .rules
                    .iter()
                    .filter(|r| r.unroutable.is_some())
                    .collect();
                for (i, a) in holding.iter().enumerate() {
                    for b in holding.iter().skip(i + 1).filter(|b| b.priority == a.priority) {
                        let reported = found.priority_collisions.iter().any(|c| {
                            c.rules == [a.id.clone(), b.id.clone()]
                                && c.entries.iter().any(|e| e == entry)
                        });
                        prop_assert!(
                            reported,
                            "{} and {} (priority {}) both hold in {} for {:?}, but no collision is reported",
                            a.id,
                            b.id,
                            a.priority,
                            entry,
                            facts
                        );
                        confirmed.set(confirmed.get() + 1);
                    }
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        confirmed.get() >= 100,
        "too few colliding visits to mean anything: {}",
        confirmed.get()
    );
}
