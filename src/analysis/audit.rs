//! Rule audit (`GET /v2/handles/{handle}/rule-audit`): what in a handle's rules is likely
//! a mistake, each finding naming the rules and entries involved.
//!
//! - **Priority collisions**: two enabled rules of one entry with the same priority whose
//!   conditions can both hold for one visitor. The id order decides; the finding says who
//!   wins and gives an example visitor. Geography is reasoned about across facts (a
//!   country lies in one continent, is or is not in the EU, contains its regions);
//!   when in doubt, a collision is reported.
//! - **Shadowed rules**: in an entry, an earlier enabled rule that always wins when it
//!   matches (a campaign rule, or a routable destination) matches every visitor the rule
//!   matches, so the rule can never win there; or the rule's conditions can never hold.
//!   Reported per entry, with whether that is so in every entry the rule applies to.
//!   Only claims that hold for every visitor are made: EU membership follows the
//!   country and a region lies in its country, but a continent is not inferred from the
//!   country (a geo source may name its own). A rule covered only by several earlier
//!   rules together is not reported.
//! - **Unroutable destinations**: of rules, campaign variants, entry defaults and the
//!   handle fallback, each with its [`NotRoutable`] reason and its effect.
//! - **Empty condition sets**: `in: []` (never holds) and `not_in: []` (always holds).
//!
//! The audit reads the compiled [`RuleSet`] and, for JSON paths, the [`HandleConfig`] it
//! was compiled from.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::engine::allowlist::NotRoutable;
use crate::engine::ruleset::{Rule, RuleSet};
use crate::model::config::HandleConfig;

mod checks;
mod space;
#[cfg(test)]
mod tests;
mod words;

/// The audit of one handle's rules.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    /// The handle.
    pub handle: String,
    /// Counts of each finding kind.
    pub summary: Summary,
    /// Same-priority rules that can both hold for one visitor, by priority then id.
    pub priority_collisions: Vec<Collision>,
    /// Rules that can never win in some or all of their entries, in evaluation order.
    pub shadowed: Vec<Shadowed>,
    /// Destinations that are not routable now.
    pub unroutable: Vec<Unroutable>,
    /// `in: []` and `not_in: []` tests, in document order.
    pub empty_condition_sets: Vec<EmptySet>,
}

/// Counts of findings.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Priority collisions.
    pub priority_collisions: usize,
    /// Rules shadowed in at least one entry.
    pub shadowed: usize,
    /// Of those, rules shadowed in every entry they apply to.
    pub shadowed_everywhere: usize,
    /// Unroutable destinations.
    pub unroutable: usize,
    /// Empty condition sets.
    pub empty_condition_sets: usize,
}

/// Two same-priority rules that can both hold for one visitor.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collision {
    /// The shared priority.
    pub priority: u32,
    /// The two rule ids, in evaluation (id) order.
    pub rules: [String; 2],
    /// Entries both apply to.
    pub entries: Vec<String>,
    /// The rule that wins for a visitor both match: the first by id, unless its
    /// destination is not routable (then it is skipped); `None` when both are skipped.
    pub wins: Option<String>,
    /// A visitor both match: the value of each fact either rule tests.
    pub example: BTreeMap<String, String>,
    /// The finding in words.
    pub why: String,
}

/// Whether a rule is shadowed everywhere it applies or only in some entries.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShadowScope {
    /// In every entry it applies to: the rule can never win anywhere.
    Everywhere,
    /// In some of its entries only.
    SomeEntries,
}

/// A rule that can never win in some of its entries.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shadowed {
    /// The rule.
    pub rule: String,
    /// Its priority.
    pub priority: u32,
    /// Everywhere or in some entries.
    pub scope: ShadowScope,
    /// Where and by what.
    pub shadowed_in: Vec<Shadowing>,
    /// Entries it applies to where it is not shadowed.
    pub not_shadowed_in: Vec<String>,
}

/// Why a rule can never win in one entry.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum ShadowCause {
    /// An earlier rule that always wins when it matches matches every visitor this one
    /// matches.
    EarlierRule {
        /// Its id.
        by: String,
        /// Its priority.
        by_priority: u32,
    },
    /// The rule's conditions can never all hold.
    NeverMatches,
}

/// A rule shadowed in one entry.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shadowing {
    /// The entry.
    pub entry: String,
    /// The cause.
    #[serde(flatten)]
    pub cause: ShadowCause,
    /// The finding in words.
    pub why: String,
}

/// What kind of destination is not routable.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnroutableKind {
    /// A rule's plain destination: the rule is always skipped.
    RuleDestination,
    /// A campaign rule's own destination: used when the campaign assigns no variant.
    CampaignRuleDestination,
    /// A campaign variant's destination.
    Variant,
    /// An entry's default destination.
    EntryDefault,
    /// The handle's fallback page.
    HandleFallback,
}

/// A destination that is not routable now.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unroutable {
    /// What kind.
    pub kind: UnroutableKind,
    /// The rules involved (the rule itself, or the rules using the campaign).
    pub rules: Vec<String>,
    /// The campaign, for a variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// The variant key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The entries affected.
    pub entries: Vec<String>,
    /// The destination URL.
    pub destination: String,
    /// Why it is not routable.
    pub reason: NotRoutable,
    /// The reason in words.
    pub message: String,
    /// What visitors get instead.
    pub effect: String,
}

/// An empty `in` or `not_in` list.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmptySet {
    /// The rule.
    pub rule: String,
    /// JSON path in the configuration, e.g. `rules[3].conditions.country.in`.
    pub path: String,
    /// `in` or `not_in`.
    pub test: &'static str,
    /// The entries the rule applies to.
    pub entries: Vec<String>,
    /// What it does.
    pub effect: String,
}

/// Audits a handle's compiled rules; `config` is what `ruleset` was compiled from.
pub fn audit(config: &HandleConfig, ruleset: &RuleSet) -> Audit {
    let rules = rule_entries(ruleset);
    let priority_collisions = collisions(ruleset, &rules);
    let shadowed = shadowed(ruleset, &rules);
    let unroutable = checks::unroutable(ruleset, &rules);
    let empty_condition_sets = checks::empty_sets(config, &rules);
    Audit {
        handle: ruleset.handle().to_owned(),
        summary: Summary {
            priority_collisions: priority_collisions.len(),
            shadowed: shadowed.len(),
            shadowed_everywhere: shadowed
                .iter()
                .filter(|s| s.scope == ShadowScope::Everywhere)
                .count(),
            unroutable: unroutable.len(),
            empty_condition_sets: empty_condition_sets.len(),
        },
        priority_collisions,
        shadowed,
        unroutable,
        empty_condition_sets,
    }
}

/// Each rule (in evaluation order) with the sorted slugs of the entries it applies to.
type RuleEntries<'r> = [(&'r Rule, Vec<String>)];

/// The rules of `ruleset` with their entries (see [`RuleEntries`]).
fn rule_entries(ruleset: &RuleSet) -> Vec<(&Rule, Vec<String>)> {
    let mut out: Vec<(&Rule, Vec<String>)> =
        ruleset.rules().iter().map(|r| (r, Vec::new())).collect();
    for slug in ruleset.entry_slugs() {
        if let Some(entry) = ruleset.entry(slug) {
            for &i in &entry.rules {
                if let Some((_, list)) = out.get_mut(i as usize) {
                    list.push(slug.to_owned());
                }
            }
        }
    }
    out
}

/// Whether a rule wins whenever its conditions hold, and why.
fn always_wins(ruleset: &RuleSet, rule: &Rule) -> Option<&'static str> {
    if ruleset.rule_campaign(rule).is_some() {
        Some("a campaign rule always wins once its conditions hold")
    } else if rule
        .destination
        .as_ref()
        .is_some_and(|t| t.routable(ruleset.allowlist()).is_ok())
    {
        Some("its destination is routable")
    } else {
        None
    }
}

fn collisions(ruleset: &RuleSet, rules: &RuleEntries<'_>) -> Vec<Collision> {
    let mut out = Vec::new();
    for (i, (a, a_entries)) in rules.iter().enumerate().filter(|(_, (r, _))| r.enabled) {
        let same = rules
            .iter()
            .skip(i + 1)
            .take_while(|(b, _)| b.priority == a.priority);
        for (b, b_entries) in same.filter(|(b, _)| b.enabled) {
            let entries: Vec<String> = a_entries
                .iter()
                .filter(|e| b_entries.contains(e))
                .cloned()
                .collect();
            if entries.is_empty() {
                continue;
            }
            let Some(example) = space::overlap(&a.conditions, &b.conditions) else {
                continue;
            };
            let wins = [a, b]
                .into_iter()
                .find(|r| always_wins(ruleset, r).is_some());
            let outcome = match wins {
                Some(w) if w.id == a.id => format!("{} is evaluated first and wins", a.id),
                Some(_) => format!(
                    "{} is evaluated first but its destination is not routable, so it is \
                     skipped and {} wins",
                    a.id, b.id
                ),
                None => format!(
                    "{} is evaluated first, but neither destination is routable, so both are \
                     skipped",
                    a.id
                ),
            };
            let shown: Vec<String> = example.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let why = format!(
                "both can hold for one visitor, e.g. {}: {} wants {}; {} wants {}. They share \
                 priority {}, so the id order decides: {outcome}.",
                shown.join(", "),
                a.id,
                words::describe(&a.conditions),
                b.id,
                words::describe(&b.conditions),
                a.priority,
            );
            out.push(Collision {
                priority: a.priority,
                rules: [a.id.clone(), b.id.clone()],
                entries,
                wins: wins.map(|w| w.id.clone()),
                example,
                why,
            });
        }
    }
    out
}

fn shadowed(ruleset: &RuleSet, rules: &RuleEntries<'_>) -> Vec<Shadowed> {
    let mut subsumes: HashMap<(usize, usize), bool> = HashMap::new();
    let mut out = Vec::new();
    for (idx, (rule, slugs)) in rules.iter().enumerate().filter(|(_, (r, _))| r.enabled) {
        let never = space::never_matches(&rule.conditions);
        let mut shadowed_in = Vec::new();
        let mut not_shadowed_in = Vec::new();
        for slug in slugs {
            let Some(entry) = ruleset.entry(slug) else {
                continue;
            };
            if let Some(reason) = &never {
                shadowed_in.push(Shadowing {
                    entry: slug.clone(),
                    cause: ShadowCause::NeverMatches,
                    why: format!("its conditions can never all hold: {reason}"),
                });
                continue;
            }
            // An index out of range (a compile bug) is skipped here as decide() skips it.
            let earlier = entry
                .rules
                .iter()
                .map(|&i| i as usize)
                .take_while(|&i| i != idx)
                .filter_map(|i| Some((i, ruleset.rules().get(i)?)))
                .filter(|(_, r)| r.enabled);
            let mut by = None;
            for (e, earlier_rule) in earlier {
                let Some(wins) = always_wins(ruleset, earlier_rule) else {
                    continue;
                };
                let covers = *subsumes
                    .entry((e, idx))
                    .or_insert_with(|| space::subsumes(&earlier_rule.conditions, &rule.conditions));
                if covers {
                    by = Some((earlier_rule, wins));
                    break;
                }
            }
            match by {
                Some((e, wins)) => shadowed_in.push(Shadowing {
                    entry: slug.clone(),
                    cause: ShadowCause::EarlierRule {
                        by: e.id.clone(),
                        by_priority: e.priority,
                    },
                    why: format!(
                        "{} (priority {}) is evaluated first and matches every visitor {} \
                         matches ({} wants {}; {} wants {}), and {wins}",
                        e.id,
                        e.priority,
                        rule.id,
                        e.id,
                        words::describe(&e.conditions),
                        rule.id,
                        words::describe(&rule.conditions),
                    ),
                }),
                None => not_shadowed_in.push(slug.clone()),
            }
        }
        if !shadowed_in.is_empty() {
            out.push(Shadowed {
                rule: rule.id.clone(),
                priority: rule.priority,
                scope: if not_shadowed_in.is_empty() {
                    ShadowScope::Everywhere
                } else {
                    ShadowScope::SomeEntries
                },
                shadowed_in,
                not_shadowed_in,
            });
        }
    }
    out
}
