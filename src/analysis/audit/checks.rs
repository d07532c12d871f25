//! Findings read off the configuration one document at a time: destinations that are not
//! routable, and empty condition sets.

use crate::engine::ruleset::{Rule, RuleSet, Target};
use crate::model::config::{Conditions, HandleConfig, SetTest};

use super::{EmptySet, RuleEntries, Unroutable, UnroutableKind};

/// Unroutable destinations: rules (in evaluation order), campaign variants, entry
/// defaults, the handle fallback.
pub(super) fn unroutable(ruleset: &RuleSet, rules: &RuleEntries<'_>) -> Vec<Unroutable> {
    let mut out = Vec::new();
    let finding = |kind, rules, entries, target: &Target, effect: String| {
        let reason = target.routable(ruleset.allowlist()).err()?;
        Some(Unroutable {
            kind,
            rules,
            campaign: None,
            variant: None,
            entries,
            destination: target.as_str().to_owned(),
            message: reason.to_string(),
            reason,
            effect,
        })
    };
    for (rule, entries) in rules {
        let Some(target) = &rule.destination else {
            continue;
        };
        let disabled = if rule.enabled {
            ""
        } else {
            "the rule is disabled; if enabled, "
        };
        let (kind, effect) = match ruleset.rule_campaign(rule) {
            None => (
                UnroutableKind::RuleDestination,
                format!("{disabled}the rule is always skipped: visitors it matches fall through to later rules"),
            ),
            Some(c) => (
                UnroutableKind::CampaignRuleDestination,
                format!("{disabled}when campaign {} assigns no variant, visitors get the entry default instead", c.id),
            ),
        };
        out.extend(finding(
            kind,
            vec![rule.id.clone()],
            entries.clone(),
            target,
            effect,
        ));
    }
    for campaign in ruleset.campaigns() {
        let using: Vec<&(&Rule, Vec<String>)> = rules
            .iter()
            .filter(|(r, _)| {
                ruleset
                    .rule_campaign(r)
                    .is_some_and(|c| c.id == campaign.id)
            })
            .collect();
        let mut entries: Vec<String> = using
            .iter()
            .flat_map(|(_, entries)| entries.iter().cloned())
            .collect();
        entries.sort();
        entries.dedup();
        for variant in &campaign.variants {
            let effect = "visitors bucketed into this variant get the rule's own destination, or the entry default".to_owned();
            let rule_ids = using.iter().map(|(r, _)| r.id.clone()).collect();
            if let Some(mut f) = finding(
                UnroutableKind::Variant,
                rule_ids,
                entries.clone(),
                &variant.target,
                effect,
            ) {
                f.campaign = Some(campaign.id.clone());
                f.variant = Some(variant.key.clone());
                out.push(f);
            }
        }
    }
    let fallback_ok = ruleset
        .fallback
        .as_ref()
        .is_some_and(|f| f.routable(ruleset.allowlist()).is_ok());
    let mut bad_defaults = Vec::new();
    for slug in ruleset.entry_slugs() {
        let Some(entry) = ruleset.entry(slug) else {
            continue;
        };
        let effect = if fallback_ok {
            "visitors for whom no rule wins get the handle fallback"
        } else {
            "visitors for whom no rule wins get the safe page (the handle fallback is missing or not routable)"
        };
        if let Some(f) = finding(
            UnroutableKind::EntryDefault,
            Vec::new(),
            vec![slug.to_owned()],
            &entry.default,
            effect.to_owned(),
        ) {
            bad_defaults.push(slug.to_owned());
            out.push(f);
        }
    }
    if let Some(fallback) = &ruleset.fallback {
        let effect =
            "entries whose default is not routable send visitors to the safe page".to_owned();
        out.extend(finding(
            UnroutableKind::HandleFallback,
            Vec::new(),
            bad_defaults,
            fallback,
            effect,
        ));
    }
    out
}

/// Empty `in` and `not_in` lists, in document order, at their JSON paths.
pub(super) fn empty_sets(config: &HandleConfig, rules: &RuleEntries<'_>) -> Vec<EmptySet> {
    let mut out = Vec::new();
    for (i, doc) in config.rules.iter().enumerate() {
        let entries = rules
            .iter()
            .find(|(r, _)| r.id == doc.id)
            .map(|(_, entries)| entries.clone())
            .unwrap_or_default();
        for (field, test) in empty_tests(&doc.conditions) {
            let effect = if test == "in" {
                "never holds: the rule never matches"
            } else {
                "always holds: the condition tests nothing, probably a mistake"
            };
            out.push(EmptySet {
                rule: doc.id.clone(),
                path: format!("rules[{i}].conditions.{field}.{test}"),
                test,
                entries: entries.clone(),
                effect: effect.to_owned(),
            });
        }
    }
    out
}

/// The empty lists of one rule's conditions: (field, `in` or `not_in`).
fn empty_tests(c: &Conditions) -> Vec<(String, &'static str)> {
    fn check<T>(field: &str, test: Option<&SetTest<T>>, out: &mut Vec<(String, &'static str)>) {
        let Some(test) = test else { return };
        if test.any_of.as_ref().is_some_and(Vec::is_empty) {
            out.push((field.to_owned(), "in"));
        }
        if test.not_in.as_ref().is_some_and(Vec::is_empty) {
            out.push((field.to_owned(), "not_in"));
        }
    }
    let mut out = Vec::new();
    check("country", c.country.as_ref(), &mut out);
    check("continent", c.continent.as_ref(), &mut out);
    check("region", c.region.as_ref(), &mut out);
    check("city", c.city.as_ref(), &mut out);
    check("asn", c.asn.as_ref(), &mut out);
    check("device", c.device.as_ref(), &mut out);
    check("os", c.os.as_ref(), &mut out);
    check("browser", c.browser.as_ref(), &mut out);
    check("language", c.language.as_ref(), &mut out);
    for (name, test) in &c.query {
        check(&format!("query.{name}"), Some(test), &mut out);
    }
    out
}
