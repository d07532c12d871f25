//! The explain trace: what a preview with `__explain=1` answers instead of redirecting.

use serde::Serialize;

use crate::engine::allowlist::NotRoutable;
use crate::engine::conditions::Mismatch;
use crate::engine::facts::Overrides;
use crate::engine::facts::{FactSources, Facts};
use crate::engine::ruleset::{Decision, NoVariant, Outcome, RuleSet, RuleStep, Visit};
use crate::model::lifecycle::CampaignStatus;

/// One fact and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct FactTrace {
    /// The value, if known.
    pub value: Option<String>,
    /// Its source.
    pub source: crate::engine::facts::FactSource,
}

/// How one rule fared.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    /// Rule id.
    pub id: String,
    /// Priority.
    pub priority: u32,
    /// `won`, `no_match`, `skipped` or `not_reached`.
    pub result: &'static str,
    /// Why, in words.
    pub reason: String,
    /// The failing condition, for `no_match`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Mismatch>,
    /// Why the destination is not routable, for unroutable skips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unroutable: Option<NotRoutable>,
}

/// The campaign part of a trace.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignTrace {
    /// Campaign id.
    pub id: String,
    /// Status at decision time.
    pub status: CampaignStatus,
    /// The assigned variant, if any.
    pub variant: Option<String>,
    /// Bucket in `[0, 1)` when bucketed.
    pub bucket: Option<f64>,
    /// Whether a preview override forced the variant.
    pub forced: bool,
    /// Why no variant was assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_variant: Option<NoVariant>,
}

/// The whole explain answer.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Request id.
    pub request_id: String,
    /// Snapshot version decided with.
    pub snapshot_version: u64,
    /// Handle.
    pub handle: String,
    /// Entry slug.
    pub entry: String,
    /// Whether a valid preview token came with the request.
    pub preview: bool,
    /// Whom the preview token was minted for, if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_sub: Option<String>,
    /// Overrides in effect.
    pub overrides: Overrides,
    /// Override parameters that were refused, with why.
    pub rejected_overrides: Vec<(String, &'static str)>,
    /// Facts with their sources.
    pub facts: std::collections::BTreeMap<&'static str, FactTrace>,
    /// Every rule of the entry, in evaluation order.
    pub rules: Vec<RuleTrace>,
    /// The outcome kind.
    pub outcome: Outcome,
    /// The winning rule.
    pub rule: Option<String>,
    /// The campaign of the winning rule.
    pub campaign: Option<CampaignTrace>,
    /// The tracking template applied.
    pub template: Option<String>,
    /// The final location (none for the safe page).
    pub location: Option<String>,
}

/// Inputs of an explanation besides the rule set and the visit.
#[derive(Debug, Clone)]
pub struct ExplainContext<'a> {
    /// Request id.
    pub request_id: &'a str,
    /// Snapshot version.
    pub snapshot_version: u64,
    /// Whether the preview token was valid.
    pub preview: bool,
    /// The preview token's subject.
    pub preview_sub: Option<&'a str>,
    /// Overrides in effect (empty without a valid token).
    pub overrides: &'a Overrides,
    /// Refused override parameters.
    pub rejected: &'a [(String, &'static str)],
    /// Fact sources.
    pub sources: &'a FactSources,
}

fn fact(value: Option<String>, source: crate::engine::facts::FactSource) -> FactTrace {
    FactTrace { value, source }
}

fn facts_trace(
    facts: &Facts,
    s: &FactSources,
) -> std::collections::BTreeMap<&'static str, FactTrace> {
    let g = &facts.geo;
    [
        ("country", fact(g.country.clone(), s.country)),
        ("continent", fact(g.continent.clone(), s.continent)),
        ("region", fact(g.region.clone(), s.region)),
        ("city", fact(g.city.clone(), s.city)),
        ("eu", fact(g.eu.map(|e| e.to_string()), s.eu)),
        ("asn", fact(g.asn.map(|a| a.to_string()), s.asn)),
        ("device", fact(Some(facts.device.to_string()), s.device)),
        ("os", fact(facts.os.clone(), s.os)),
        ("browser", fact(facts.browser.clone(), s.browser)),
        ("language", fact(facts.language.clone(), s.language)),
        ("time", fact(Some(facts.now.to_rfc3339()), s.time)),
    ]
    .into_iter()
    .collect()
}

fn rule_trace(step: RuleStep) -> (&'static str, String, Option<Mismatch>, Option<NotRoutable>) {
    match step {
        RuleStep::Won => (
            "won",
            "conditions hold and the destination is routable".into(),
            None,
            None,
        ),
        RuleStep::Disabled => ("skipped", "rule is disabled".into(), None, None),
        RuleStep::CrawlerSkipped => (
            "skipped",
            "crawlers only take rules that target the crawler device".into(),
            None,
            None,
        ),
        RuleStep::NoMatch(m) => {
            let actual = m.actual.clone().unwrap_or_else(|| "unknown".into());
            (
                "no_match",
                format!("{} {} does not satisfy {}", m.condition, actual, m.expected),
                Some(m),
                None,
            )
        }
        RuleStep::Unroutable(r) => (
            "skipped",
            format!("conditions hold but the destination is not routable: {r}"),
            None,
            Some(r),
        ),
        RuleStep::NotReached => ("not_reached", "an earlier rule won".into(), None, None),
    }
}

impl RuleSet {
    /// Decides a visit the slow, fully traced way and explains it.
    pub fn explain(
        &self,
        visit: &Visit<'_>,
        ctx: &ExplainContext<'_>,
    ) -> (Explanation, Option<url::Url>) {
        let (decision, steps) = self.decide_traced(visit);
        let rules = steps
            .into_iter()
            .map(|(rule, step)| {
                let (result, reason, mismatch, unroutable) = rule_trace(step);
                RuleTrace {
                    id: rule.id.clone(),
                    priority: rule.priority,
                    result,
                    reason,
                    mismatch,
                    unroutable,
                }
            })
            .collect();
        let location = self.location(&decision, visit, None);
        let mut rejected = ctx.rejected.to_vec();
        let forced = decision.assignment.is_some_and(|a| a.forced);
        if ctx.overrides.variant.is_some() && !forced {
            rejected.push((
                "__variant".to_owned(),
                "not a variant of the winning rule's campaign (or no campaign rule won)",
            ));
        }
        let explanation = Explanation {
            request_id: ctx.request_id.to_owned(),
            snapshot_version: ctx.snapshot_version,
            handle: self.handle.clone(),
            entry: visit.entry.to_owned(),
            preview: ctx.preview,
            preview_sub: ctx.preview_sub.map(str::to_owned),
            overrides: ctx.overrides.clone(),
            rejected_overrides: rejected,
            facts: facts_trace(visit.facts, ctx.sources),
            rules,
            outcome: if location.is_none() && decision.location.is_some() {
                Outcome::SafePage
            } else {
                decision.outcome
            },
            rule: decision.rule.map(|r| r.id.clone()),
            campaign: campaign_trace(self, &decision, visit),
            template: self.template_for(&decision).map(|t| t.id().to_owned()),
            location: location.as_ref().map(|u| u.to_string()),
        };
        (explanation, location)
    }
}

fn campaign_trace(
    set: &RuleSet,
    decision: &Decision<'_>,
    visit: &Visit<'_>,
) -> Option<CampaignTrace> {
    let now = visit.facts.now;
    if let Some(a) = decision.assignment {
        return Some(CampaignTrace {
            id: a.campaign.id.clone(),
            status: a.campaign.status_at(now),
            variant: Some(a.variant.key.clone()),
            bucket: a.bucket.map(|n| f64::from(n) / 10_000.0),
            forced: a.forced,
            no_variant: None,
        });
    }
    if let Some((campaign, reason)) = &decision.no_variant {
        return Some(CampaignTrace {
            id: campaign.id.clone(),
            status: campaign.status_at(now),
            variant: None,
            bucket: None,
            forced: false,
            no_variant: Some(reason.clone()),
        });
    }
    decision
        .rule
        .and_then(|r| set.rule_campaign(r))
        .map(|c| CampaignTrace {
            id: c.id.clone(),
            status: c.status_at(now),
            variant: None,
            bucket: None,
            forced: false,
            no_variant: None,
        })
}
