//! The compiled rule set of one handle and the decision procedure.
//!
//! Deciding follows the crate-level semantics exactly: the entry's enabled rules in
//! `(priority, id)` order; the first whose conditions hold and whose destination is
//! routable wins; a rule pointing at a campaign always wins once its conditions hold and
//! then resolves to a variant (active campaign), or to its own destination or the entry's
//! default (no variant, with the reason). No winner: the entry's default; default not
//! routable: the handle's fallback; that not routable either: the safe page. Deciding
//! never fails, and parses only a published snapshot's destination the first time a visit
//! reaches it ([`Target`]).
//!
//! [`RuleSet::decide`] walks only the rules that can match the visitor's country (an
//! index built at compile time); [`RuleSet::explain`] walks every rule of the entry and
//! records why each matched or not. Both reach the same decision (a property test pins
//! this).

// foldhash, not std's SipHash: these maps are read on every visit (hashing shows in wasm).
use foldhash::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::engine::allowlist::{Allowlist, NotRoutable};
use crate::engine::bucket;
use crate::engine::conditions::{CompiledConditions, Mismatch};
use crate::engine::device::DeviceCategory;
use crate::engine::facts::Facts;
use crate::engine::template::{render, RenderValues, Template};
use crate::model::lifecycle::{effective_status, CampaignStatus};

/// A destination and whether it may be routed to.
///
/// Checked when the configuration is compiled for the management API (every problem is
/// reported then, `Target::checked`); a published snapshot's destinations were checked
/// by its publisher, so loading one only keeps their text and each is parsed and checked
/// against the allowlist the first time a visit reaches it (`Target::deferred`): a
/// 1,000-rule snapshot costs an isolate's first visitor no 1,000 URL parses. A deferred
/// destination that does not parse (a snapshot written by something else) is not routable
/// (`not_a_domain`), like one on no allowlist: no visitor is ever sent there.
#[derive(Debug, Clone)]
pub struct Target {
    /// The destination as written: a deferred one's only form until it is parsed (a
    /// checked one holds its URL and keeps no copy of the text).
    raw: Box<str>,
    url: std::sync::OnceLock<Option<Url>>,
    routable: std::sync::OnceLock<Result<(), NotRoutable>>,
}

impl Target {
    /// A destination parsed and checked already.
    pub(crate) fn checked(url: Url, routable: Result<(), NotRoutable>) -> Self {
        Target {
            raw: Box::default(),
            url: Some(url).into(),
            routable: routable.into(),
        }
    }

    /// A destination parsed and checked when first asked.
    pub(crate) fn deferred(raw: &str) -> Self {
        Target {
            raw: raw.trim().into(),
            url: std::sync::OnceLock::new(),
            routable: std::sync::OnceLock::new(),
        }
    }

    /// The parsed URL (`None` only for a deferred destination that does not parse).
    pub fn url(&self) -> Option<&Url> {
        self.url.get_or_init(|| Url::parse(&self.raw).ok()).as_ref()
    }

    /// The URL as text (as written, for a destination that does not parse).
    pub fn as_str(&self) -> &str {
        self.url().map_or(&self.raw, Url::as_str)
    }

    /// The URL, when visitors may be sent there by `allowlist` (the handle's own).
    ///
    /// # Errors
    /// [`NotRoutable`]: why not.
    pub fn routable(&self, allowlist: &Allowlist) -> Result<&Url, NotRoutable> {
        let url = self.url().ok_or(NotRoutable::NotADomain)?;
        match self.routable.get_or_init(|| allowlist.check_url(url)) {
            Ok(()) => Ok(url),
            Err(why) => Err(why.clone()),
        }
    }
}

/// In a snapshot's edge form a destination is its text; it decodes deferred, so the
/// decoding isolate parses and checks it against the decoded allowlist when a visit first
/// reaches it, like one compiled from the JSON.
impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&str>::deserialize(deserializer)?;
        Ok(Target::deferred(raw))
    }
}

/// A compiled rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    /// Id.
    pub id: String,
    /// Priority (lower first).
    pub priority: u32,
    /// Whether it is evaluated at all.
    pub enabled: bool,
    pub(crate) conditions: CompiledConditions,
    /// Its destination (a campaign's fallback when it has a campaign).
    pub destination: Option<Target>,
    pub(crate) campaign: Option<usize>,
    pub(crate) template: Option<usize>,
}

/// A compiled campaign variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variant {
    /// Key.
    pub key: String,
    /// Weight in percent.
    pub weight: u8,
    /// Destination.
    pub target: Target,
}

/// A compiled campaign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Campaign {
    /// Id.
    pub id: String,
    /// Stored status.
    pub status: CampaignStatus,
    /// Start of assignment.
    #[serde(with = "crate::engine::edge_time::optional")]
    pub start: Option<DateTime<Utc>>,
    /// Completion time.
    #[serde(with = "crate::engine::edge_time::optional")]
    pub end: Option<DateTime<Utc>>,
    /// Variants in range order.
    pub variants: Vec<Variant>,
    /// Hash seed.
    pub seed: String,
    pub(crate) template: Option<usize>,
}

impl Campaign {
    /// The status at `now` (active turns completed after the end date).
    pub fn status_at(&self, now: DateTime<Utc>) -> CampaignStatus {
        effective_status(self.status, self.end, now)
    }
}

/// Rules of one entry, indexed by the visitor's country.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct EntryIndex {
    /// Enabled rules whose country condition is `in` a set containing the key, merged
    /// with `open`, in evaluation order.
    pub(crate) by_country: HashMap<String, Vec<u32>>,
    /// Enabled rules with no positive country condition, in evaluation order.
    pub(crate) open: Vec<u32>,
    /// Enabled rules that explicitly target crawlers, in evaluation order.
    pub(crate) crawler: Vec<u32>,
}

/// A compiled entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Slug.
    pub slug: String,
    /// Default destination.
    pub default: Target,
    pub(crate) template: Option<usize>,
    /// Every rule (enabled or not) of this entry, in evaluation order.
    pub(crate) rules: Vec<u32>,
    pub(crate) index: EntryIndex,
}

/// Everything one handle decides with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleSet {
    pub(crate) handle: String,
    pub(crate) fallback: Option<Target>,
    pub(crate) entries: HashMap<String, Entry>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) campaigns: Vec<Campaign>,
    pub(crate) templates: Vec<Template>,
    pub(crate) default_template: Option<usize>,
    pub(crate) allowlist: Allowlist,
    /// Names of template parameters whose values the router computes (they hold a
    /// placeholder) in any of the handle's templates: never taken from a visitor.
    pub(crate) router_params: Vec<String>,
    /// Names of template parameters that hold `{ctx}` in any of the handle's templates:
    /// the router's whatever the applied template's precedence (a subset of
    /// `router_params`).
    pub(crate) ctx_params: Vec<String>,
}

/// One visit to decide.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// Entry slug.
    pub entry: &'a str,
    /// Facts.
    pub facts: &'a Facts,
    /// The visitor id bucketing uses.
    pub visitor_id: &'a str,
    /// A variant forced by a preview override.
    pub forced_variant: Option<&'a str>,
}

/// What kind of answer a decision is.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A rule won (a plain destination, a variant, or a campaign rule's own destination).
    Rule,
    /// The entry's default destination.
    EntryDefault,
    /// The handle's fallback page.
    HandleFallback,
    /// Nothing routable: the worker's own safe page.
    SafePage,
    /// The entry does not exist.
    UnknownEntry,
}

/// Why a campaign rule assigned no variant.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum NoVariant {
    /// The campaign is not active (draft, paused, canceled or completed).
    Inactive {
        /// Its status at decision time.
        status: CampaignStatus,
    },
    /// Active, but its start date lies ahead.
    NotStarted,
    /// Crawlers never get variants.
    Crawler,
    /// The assigned variant's destination is not routable.
    VariantUnroutable {
        /// The variant.
        variant: String,
        /// Why.
        reason: NotRoutable,
    },
}

/// The variant a visitor got.
#[derive(Debug, Clone, Copy)]
pub struct Assignment<'r> {
    /// The campaign.
    pub campaign: &'r Campaign,
    /// The variant.
    pub variant: &'r Variant,
    /// Bucket number in `0..10000` (none when forced).
    pub bucket: Option<u32>,
    /// Whether a preview override forced it.
    pub forced: bool,
}

/// A decision, borrowing from the rule set.
#[derive(Debug, Clone)]
pub struct Decision<'r> {
    /// What kind of answer.
    pub outcome: Outcome,
    /// The rule that won, if any.
    pub rule: Option<&'r Rule>,
    /// The entry, if it exists.
    pub entry: Option<&'r Entry>,
    /// Where to send the visitor, before the tracking template.
    pub location: Option<&'r Url>,
    /// The variant, if one was assigned.
    pub assignment: Option<Assignment<'r>>,
    /// The campaign of the winning rule and why it assigned no variant, if it did not.
    pub no_variant: Option<(&'r Campaign, NoVariant)>,
}

/// How one rule fared, for the trace.
#[derive(Debug, Clone)]
pub(crate) enum RuleStep {
    Disabled,
    CrawlerSkipped,
    NoMatch(Mismatch),
    Unroutable(NotRoutable),
    Won,
    NotReached,
}

impl RuleSet {
    /// The handle.
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// Whether every rule, campaign and template it refers to is one it has: always so
    /// for a compiled one; checked on a decoded one (`engine::snapshot`'s edge form).
    pub(crate) fn indices_in_range(&self) -> bool {
        let rule = |i: &u32| (*i as usize) < self.rules.len();
        let template = |t: &Option<usize>| t.is_none_or(|i| i < self.templates.len());
        self.entries.values().all(|e| {
            template(&e.template)
                && e.rules.iter().all(rule)
                && e.index.open.iter().all(rule)
                && e.index.crawler.iter().all(rule)
                && e.index.by_country.values().flatten().all(rule)
        }) && self
            .rules
            .iter()
            .all(|r| template(&r.template) && r.campaign.is_none_or(|i| i < self.campaigns.len()))
            && self.campaigns.iter().all(|c| template(&c.template))
            && template(&self.default_template)
    }

    /// The allowlist.
    pub fn allowlist(&self) -> &Allowlist {
        &self.allowlist
    }

    /// An entry by slug.
    pub fn entry(&self, slug: &str) -> Option<&Entry> {
        self.entries.get(slug)
    }

    /// Entry slugs, sorted.
    pub fn entry_slugs(&self) -> Vec<&str> {
        let mut slugs: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        slugs.sort_unstable();
        slugs
    }

    /// Rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A campaign by id.
    pub fn campaign(&self, id: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }

    /// Campaigns in declaration order.
    pub fn campaigns(&self) -> &[Campaign] {
        &self.campaigns
    }

    /// A template by id.
    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id() == id)
    }

    /// The campaign a rule points at.
    pub fn rule_campaign(&self, rule: &Rule) -> Option<&Campaign> {
        rule.campaign.and_then(|i| self.campaigns.get(i))
    }

    /// Decides a visit using the country index.
    pub fn decide<'r>(&'r self, visit: &Visit<'_>) -> Decision<'r> {
        let Some(entry) = self.entries.get(visit.entry) else {
            return self.unknown_entry();
        };
        let facts = visit.facts;
        let candidates = if facts.device == DeviceCategory::Crawler {
            &entry.index.crawler
        } else {
            match facts
                .geo
                .country
                .as_ref()
                .and_then(|c| entry.index.by_country.get(c))
            {
                Some(list) => list,
                None => &entry.index.open,
            }
        };
        // Indices come from compile(); an out-of-range one (a compile bug) is skipped.
        for rule in candidates
            .iter()
            .filter_map(|&i| self.rules.get(i as usize))
        {
            if !rule.conditions.holds(facts) {
                continue;
            }
            if let Some(decision) = self.resolve(entry, rule, visit) {
                return decision;
            }
        }
        self.entry_default(entry)
    }

    /// Decides a visit by walking every rule of the entry, recording each step.
    pub(crate) fn decide_traced<'r>(
        &'r self,
        visit: &Visit<'_>,
    ) -> (Decision<'r>, Vec<(&'r Rule, RuleStep)>) {
        let Some(entry) = self.entries.get(visit.entry) else {
            return (self.unknown_entry(), Vec::new());
        };
        let mut steps = Vec::with_capacity(entry.rules.len());
        let mut decided = None;
        for rule in entry
            .rules
            .iter()
            .filter_map(|&i| self.rules.get(i as usize))
        {
            let step = if decided.is_some() {
                RuleStep::NotReached
            } else if !rule.enabled {
                RuleStep::Disabled
            } else if visit.facts.device == DeviceCategory::Crawler
                && !rule.conditions.targets_crawlers()
            {
                RuleStep::CrawlerSkipped
            } else if let Err(m) = rule.conditions.check(visit.facts) {
                RuleStep::NoMatch(m)
            } else if let Some(decision) = self.resolve(entry, rule, visit) {
                decided = Some(decision);
                RuleStep::Won
            } else {
                let reason = rule
                    .destination
                    .as_ref()
                    .and_then(|t| t.routable(&self.allowlist).err());
                RuleStep::Unroutable(reason.unwrap_or(NotRoutable::NotADomain))
            };
            steps.push((rule, step));
        }
        (decided.unwrap_or_else(|| self.entry_default(entry)), steps)
    }

    /// A matched rule's decision, or `None` when it is skipped (unroutable destination).
    fn resolve<'r>(
        &'r self,
        entry: &'r Entry,
        rule: &'r Rule,
        visit: &Visit<'_>,
    ) -> Option<Decision<'r>> {
        let won = |location: &'r Url| Decision {
            outcome: Outcome::Rule,
            rule: Some(rule),
            entry: Some(entry),
            location: Some(location),
            assignment: None,
            no_variant: None,
        };
        let Some(campaign) = rule.campaign.and_then(|i| self.campaigns.get(i)) else {
            let target = rule.destination.as_ref()?;
            return target.routable(&self.allowlist).ok().map(won);
        };
        match assign(campaign, visit, &self.allowlist) {
            Ok((assignment, location)) => Some(Decision {
                assignment: Some(assignment),
                ..won(location)
            }),
            Err(reason) => {
                let own = rule
                    .destination
                    .as_ref()
                    .and_then(|t| t.routable(&self.allowlist).ok());
                let mut decision = match own {
                    Some(location) => won(location),
                    None => Decision {
                        rule: Some(rule),
                        ..self.entry_default(entry)
                    },
                };
                decision.no_variant = Some((campaign, reason));
                Some(decision)
            }
        }
    }

    fn entry_default<'r>(&'r self, entry: &'r Entry) -> Decision<'r> {
        let (outcome, location) = if let Ok(url) = entry.default.routable(&self.allowlist) {
            (Outcome::EntryDefault, Some(url))
        } else {
            match self
                .fallback
                .as_ref()
                .and_then(|f| f.routable(&self.allowlist).ok())
            {
                Some(fallback) => (Outcome::HandleFallback, Some(fallback)),
                None => (Outcome::SafePage, None),
            }
        };
        Decision {
            outcome,
            rule: None,
            entry: Some(entry),
            location,
            assignment: None,
            no_variant: None,
        }
    }

    fn unknown_entry(&self) -> Decision<'_> {
        Decision {
            outcome: Outcome::UnknownEntry,
            rule: None,
            entry: None,
            location: None,
            assignment: None,
            no_variant: None,
        }
    }

    /// The tracking template a decision uses: the campaign's (when a variant was
    /// assigned), else the rule's, else the entry's, else the handle's default.
    pub fn template_for(&self, decision: &Decision<'_>) -> Option<&Template> {
        let index = decision
            .assignment
            .and_then(|a| a.campaign.template)
            .or_else(|| decision.rule.and_then(|r| r.template))
            .or_else(|| decision.entry.and_then(|e| e.template))
            .or(self.default_template);
        index.and_then(|i| self.templates.get(i))
    }

    /// The final location: the decision's destination with the tracking template and the
    /// forwarded visitor query applied, checked against the allowlist once more. `None`
    /// means the safe page. Visitor parameters named like a router-computed template
    /// parameter of any of the handle's templates (`gh_rule={rule}`,
    /// `gh_variant={variant}`, ...) are dropped, so attribution tags cannot be planted;
    /// unless the applied template explicitly ranks the visitor before itself (a
    /// marketer's choice, e.g. to keep a sharer's UTM tags). A name that holds `{ctx}` in
    /// any of the handle's templates has no such exception: it is always dropped from the
    /// visitor's query, and the render keeps it the router's (the issued token or nothing).
    pub fn location(
        &self,
        decision: &Decision<'_>,
        visit: &Visit<'_>,
        ctx: Option<&str>,
    ) -> Option<Url> {
        let destination = decision.location?;
        let values = RenderValues {
            handle: &self.handle,
            entry: visit.entry,
            rule: decision.rule.map(|r| r.id.as_str()),
            campaign: decision.assignment.map(|a| a.campaign.id.as_str()),
            variant: decision.assignment.map(|a| a.variant.key.as_str()),
            country: visit.facts.geo.country.as_deref(),
            device: Some(visit.facts.device.as_str()),
            ctx,
        };
        let template = self.template_for(decision);
        let visitor_first = template.is_some_and(Template::lets_visitor_win);
        let forwarded: Vec<(String, String)> = visit
            .facts
            .query
            .iter()
            .filter(|(name, _)| !self.ctx_params.contains(name))
            .filter(|(name, _)| visitor_first || !self.router_params.contains(name))
            .cloned()
            .collect();
        let url = render(destination, template, &forwarded, &values, &self.ctx_params);
        self.allowlist.check_url(&url).is_ok().then_some(url)
    }
}

/// The visitor's variant of `campaign` and its destination, or why there is none.
fn assign<'r>(
    campaign: &'r Campaign,
    visit: &Visit<'_>,
    allowlist: &Allowlist,
) -> Result<(Assignment<'r>, &'r Url), NoVariant> {
    let facts = visit.facts;
    if facts.device == DeviceCategory::Crawler {
        return Err(NoVariant::Crawler);
    }
    let forced = visit
        .forced_variant
        .and_then(|key| campaign.variants.iter().find(|v| v.key == key));
    let (variant, bucket) = match forced {
        Some(variant) => (variant, None),
        None => {
            let status = campaign.status_at(facts.now);
            if status != CampaignStatus::Active {
                return Err(NoVariant::Inactive { status });
            }
            if campaign.start.is_some_and(|start| facts.now < start) {
                return Err(NoVariant::NotStarted);
            }
            let n = bucket::bucket_number(&campaign.seed, visit.visitor_id);
            let index = bucket::choose(n, campaign.variants.iter().map(|v| v.weight)).unwrap_or(0);
            let Some(variant) = campaign.variants.get(index) else {
                return Err(NoVariant::Inactive { status });
            };
            (variant, Some(n))
        }
    };
    let location = match variant.target.routable(allowlist) {
        Ok(location) => location,
        Err(reason) => {
            return Err(NoVariant::VariantUnroutable {
                variant: variant.key.clone(),
                reason,
            })
        }
    };
    let assignment = Assignment {
        campaign,
        variant,
        bucket,
        forced: forced.is_some(),
    };
    Ok((assignment, location))
}
