//! A campaign's results (`GET .../campaigns/{id}/results`, `router results`): per variant
//! the exposed visitors, visits and, per event, converting visitors, events, the
//! conversion rate with its Wilson interval and, against the control (the campaign's
//! first variant), the relative uplift, the z-test p-value and the chance to beat it;
//! plus the sample-ratio check of the split. Pure: it takes counts already read from
//! storage ([`Observed`]) and computes with [`crate::analysis::significance`].
//!
//! - **Counts.** Exposed visitors are first exposures (one per visitor and campaign);
//!   visits are the per-variant daily visit counts; converting visitors are distinct
//!   visitor ids per variant and event, events all real conversion rows. Test conversions
//!   are excluded before they get here. Rows of one variant (and event) add up, so daily
//!   rows may be passed as they are. Rows of a variant the campaign does not have (any
//!   more) are listed under `unknown_variants`, never mixed into a variant.
//! - **Events.** Every variant reports every event any variant converted on, with zeros
//!   where it has none, and the primary event even without a conversion.
//! - **Primary event** (the one a summary headlines): the one asked for; else `purchase`
//!   when anything converted on it; else the event with the most converting visitors
//!   (ties: the first name); else, with no conversions at all, `purchase`.
//! - **Nulls.** A figure that does not exist for its counts (no exposures, a ratio to a
//!   rate of 0, no variance, the control compared with itself) is `null`, and `reasons`
//!   gives its code. No figure is ever NaN or infinite; floats are not rounded.
//! - **As of.** `as_of` is when the last exposure batch landed (`null`: none has yet).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::analysis::significance::{
    chance_to_beat, relative_uplift, sample_ratio, wilson_interval, z_test_p_value, Counts,
    NotComputed, Uplift, SRM_THRESHOLD,
};
use crate::model::config::CampaignDoc;

#[cfg(test)]
mod tests;

/// Exposures of one variant, as stored (several rows of a variant add up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureRow {
    /// Variant key.
    pub variant: String,
    /// Visitors whose first exposure to the campaign assigned this variant.
    pub exposed_visitors: u64,
    /// Visits that assigned this variant (repeat visits included).
    pub visits: u64,
}

/// Real conversions of one variant on one event (several rows add up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionRow {
    /// Variant key.
    pub variant: String,
    /// Event name.
    pub event: String,
    /// Distinct visitor ids that converted.
    pub converting_visitors: u64,
    /// Conversion rows.
    pub events: u64,
}

/// What the results are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Exposures per variant.
    pub exposures: Vec<ExposureRow>,
    /// Real conversions per variant and event (test conversions left out).
    pub conversions: Vec<ConversionRow>,
    /// When the last exposure batch was written; `None` before the first.
    pub last_batch_at: Option<DateTime<Utc>>,
}

/// A campaign's results.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignResults {
    /// Campaign id.
    pub campaign: String,
    /// The control's key (the first variant); `null` for a campaign without variants.
    pub control: Option<String>,
    /// The event a summary headlines, and why it was chosen.
    pub primary_event: PrimaryEvent,
    /// Every event reported, by name.
    pub events: Vec<String>,
    /// The campaign's variants, in its order.
    pub variants: Vec<VariantResults>,
    /// Sample-ratio mismatch: the split of exposed visitors against the weights.
    pub srm: SrmResults,
    /// Counts stored under variants the campaign does not have (any more).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_variants: Vec<UnknownVariant>,
    /// What the figures were computed from.
    pub computed_from: ComputedFrom,
    /// When the last exposure batch landed (RFC 3339); `null` when none has yet.
    pub as_of: Option<String>,
}

/// The primary event.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryEvent {
    /// Event name.
    pub name: String,
    /// Why this one.
    pub chosen_by: ChosenBy,
}

/// How the primary event was chosen.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChosenBy {
    /// Asked for (the `event` query parameter, the CLI's `--event`).
    Requested,
    /// `purchase`: something converted on it, or nothing converted at all.
    Default,
    /// No `purchase` conversions: the event with the most converting visitors.
    MostConverting,
}

/// One variant's results.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantResults {
    /// Variant key.
    pub key: String,
    /// Configured share of traffic, in percent.
    pub weight: u8,
    /// Whether this is the control (the first variant).
    pub is_control: bool,
    /// Visitors first exposed to this variant.
    pub exposed_visitors: u64,
    /// Visits that assigned it.
    pub visits: u64,
    /// Figures per event name.
    pub events: BTreeMap<String, EventResults>,
}

/// One variant's figures on one event.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventResults {
    /// Distinct visitors who converted.
    pub converting_visitors: u64,
    /// Conversions (a visitor may convert more than once).
    pub events: u64,
    /// `converting_visitors / exposed_visitors`.
    pub rate: Option<f64>,
    /// 95% Wilson interval of the rate, `[lo, hi]`.
    pub interval: Option<[f64; 2]>,
    /// Relative uplift over the control with its 95% delta-method interval.
    pub uplift: Option<Uplift>,
    /// Two-sided p-value of the pooled two-proportion z-test against the control.
    pub p_value: Option<f64>,
    /// Bayesian chance that this variant's rate beats the control's (Beta(1, 1) priors).
    pub chance_to_beat_control: Option<f64>,
    /// Why a figure is `null`, by field name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: BTreeMap<String, NotComputed>,
}

/// The sample-ratio check with what it compared.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmResults {
    /// The p-value of the chi-square test; `null` when it does not apply.
    pub p_value: Option<f64>,
    /// Whether the split is a mismatch (`p_value` under `threshold`).
    pub flagged: bool,
    /// The flagging threshold, 0.001.
    pub threshold: f64,
    /// Pearson's chi-square; `null` when the test does not apply or is infinite.
    pub chi_square: Option<f64>,
    /// Degrees of freedom (variants of positive weight minus one).
    pub degrees_of_freedom: u64,
    /// Each variant's share by weight (its weight over the weights' sum).
    pub expected_shares: BTreeMap<String, f64>,
    /// Exposed visitors per variant.
    pub observed: BTreeMap<String, u64>,
    /// Why the test does not apply, or why it is flagged without a statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotComputed>,
}

/// Counts stored under a variant key the campaign does not have.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnknownVariant {
    /// Variant key.
    pub key: String,
    /// Visitors first exposed to it.
    pub exposed_visitors: u64,
    /// Visits.
    pub visits: u64,
    /// Converting visitors per event.
    pub converting_visitors: BTreeMap<String, u64>,
}

/// What the figures were computed from.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComputedFrom {
    /// Exposed visitors over the campaign's variants.
    pub exposed_visitors: u64,
    /// Visits over the campaign's variants.
    pub visits: u64,
    /// Conversion rows over the campaign's variants and every event.
    pub events: u64,
    /// The exposures counted.
    pub exposures: &'static str,
    /// The conversions counted.
    pub conversions: &'static str,
    /// The methods.
    pub methods: &'static str,
}

const EXPOSURES: &str = "first exposure of each visitor to the campaign, recorded by the edge \
     for every visit that assigned a variant (not previews, crawlers, HEAD requests or link \
     previews); visits: every such visit, counted per variant and day";
const CONVERSIONS: &str = "real conversions (test conversions excluded): converting visitors \
     are distinct visitor ids per variant and event, events every conversion";
const METHODS: &str = "rate: converting / exposed visitors, 95% Wilson interval; uplift: \
     relative to the control (the first variant), 95% delta-method interval on the ratio; \
     p_value: two-sided pooled two-proportion z-test; chance_to_beat_control: P(variant > \
     control) with Beta(1, 1) priors, exact sum or numerical integration; srm: chi-square of \
     exposed visitors against the weights, flagged under p = 0.001";

/// The event a summary headlines when none is asked for.
pub const DEFAULT_EVENT: &str = "purchase";

/// Builds the results of `campaign` from `observed`, headlining `event` when given.
pub fn results(
    campaign: &CampaignDoc,
    observed: &Observed,
    event: Option<&str>,
) -> CampaignResults {
    let known = |key: &str| campaign.variants.iter().any(|v| v.key == key);
    let mut exposed: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for row in &observed.exposures {
        let slot = exposed.entry(row.variant.as_str()).or_default();
        slot.0 = slot.0.saturating_add(row.exposed_visitors);
        slot.1 = slot.1.saturating_add(row.visits);
    }
    let mut converted: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for row in &observed.conversions {
        let slot = converted
            .entry((row.variant.as_str(), row.event.as_str()))
            .or_default();
        slot.0 = slot.0.saturating_add(row.converting_visitors);
        slot.1 = slot.1.saturating_add(row.events);
    }
    let primary = primary_event(&converted, event, &known);
    let mut events: Vec<String> = converted
        .keys()
        .filter(|(variant, _)| known(variant))
        .map(|(_, event)| (*event).to_owned())
        .collect();
    events.push(primary.name.clone());
    events.sort();
    events.dedup();

    let exposed_of = |key: &str| exposed.get(key).copied().unwrap_or_default();
    let converted_of =
        |key: &str, event: &str| converted.get(&(key, event)).copied().unwrap_or_default();
    let control = campaign.variants.first();
    let variants: Vec<VariantResults> = campaign
        .variants
        .iter()
        .map(|v| {
            let (exposed_visitors, visits) = exposed_of(&v.key);
            let is_control = control.is_some_and(|c| c.key == v.key);
            let figures = events.iter().map(|event| {
                let (converting, rows) = converted_of(&v.key, event);
                let counts = Counts::new(converting, exposed_visitors);
                let against = control
                    .filter(|_| !is_control)
                    .map(|c| Counts::new(converted_of(&c.key, event).0, exposed_of(&c.key).0));
                (event.clone(), figures(counts, rows, against))
            });
            VariantResults {
                key: v.key.clone(),
                weight: v.weight,
                is_control,
                exposed_visitors,
                visits,
                events: figures.collect(),
            }
        })
        .collect();

    let mut unknown: BTreeMap<&str, UnknownVariant> = BTreeMap::new();
    for (key, (exposed_visitors, visits)) in exposed.iter().filter(|(k, _)| !known(k)) {
        let slot = unknown.entry(key).or_default();
        (slot.exposed_visitors, slot.visits) = (*exposed_visitors, *visits);
    }
    for ((key, event), (converting, _)) in converted.iter().filter(|((k, _), _)| !known(k)) {
        let slot = unknown.entry(key).or_default();
        slot.converting_visitors
            .insert((*event).to_owned(), *converting);
    }
    let unknown_variants = unknown
        .into_iter()
        .map(|(key, u)| UnknownVariant {
            key: key.to_owned(),
            ..u
        })
        .collect();

    let computed_from = ComputedFrom {
        exposed_visitors: variants.iter().map(|v| v.exposed_visitors).sum(),
        visits: variants.iter().map(|v| v.visits).sum(),
        events: converted
            .iter()
            .filter(|((k, _), _)| known(k))
            .map(|(_, (_, rows))| rows)
            .sum(),
        exposures: EXPOSURES,
        conversions: CONVERSIONS,
        methods: METHODS,
    };
    CampaignResults {
        campaign: campaign.id.clone(),
        control: control.map(|c| c.key.clone()),
        primary_event: primary,
        events,
        srm: srm(campaign, &variants),
        variants,
        unknown_variants,
        computed_from,
        as_of: observed
            .last_batch_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
    }
}

/// The requested event, else `purchase` if anything converted on it, else the event with
/// the most converting visitors, else `purchase`.
fn primary_event(
    converted: &BTreeMap<(&str, &str), (u64, u64)>,
    requested: Option<&str>,
    known: &dyn Fn(&str) -> bool,
) -> PrimaryEvent {
    if let Some(name) = requested.filter(|e| !e.is_empty()) {
        return PrimaryEvent {
            name: name.to_owned(),
            chosen_by: ChosenBy::Requested,
        };
    }
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for ((variant, event), (converting, _)) in converted {
        if known(variant) && *converting > 0 {
            *totals.entry(event).or_default() += converting;
        }
    }
    let most = totals
        .iter()
        // The most converting visitors; among equals the first name (max_by keeps the last).
        .max_by(|(ea, a), (eb, b)| a.cmp(b).then(eb.cmp(ea)))
        .map(|(event, _)| *event);
    match most {
        Some(event) if !totals.contains_key(DEFAULT_EVENT) => PrimaryEvent {
            name: event.to_owned(),
            chosen_by: ChosenBy::MostConverting,
        },
        _ => PrimaryEvent {
            name: DEFAULT_EVENT.to_owned(),
            chosen_by: ChosenBy::Default,
        },
    }
}

/// One variant's figures on one event, compared with the control's `against` (`None`
/// for the control itself).
fn figures(counts: Counts, events: u64, against: Option<Counts>) -> EventResults {
    let mut reasons = BTreeMap::new();
    let mut note = |field: &str, why: NotComputed| {
        reasons.insert(field.to_owned(), why);
    };
    let rate = settle(counts.rate(), "rate", &mut note).filter(|r| r.is_finite());
    let interval = settle(wilson_interval(counts), "interval", &mut note)
        .filter(|[lo, hi]| lo.is_finite() && hi.is_finite());
    let (uplift, p_value, chance) = match against {
        None => {
            for field in ["uplift", "p_value", "chance_to_beat_control"] {
                note(field, NotComputed::IsControl);
            }
            (None, None, None)
        }
        Some(control) => (
            settle(relative_uplift(control, counts), "uplift", &mut note).filter(|u| {
                u.estimate.is_finite()
                    && u.interval
                        .is_none_or(|[lo, hi]| lo.is_finite() && hi.is_finite())
            }),
            settle(z_test_p_value(control, counts), "p_value", &mut note).filter(|p| p.is_finite()),
            settle(
                chance_to_beat(control, counts),
                "chance_to_beat_control",
                &mut note,
            )
            .filter(|p| p.is_finite()),
        ),
    };
    if uplift.is_some_and(|u| u.interval.is_none()) {
        note("uplift.interval", NotComputed::NoVariance);
    }
    EventResults {
        converting_visitors: counts.successes,
        events,
        rate,
        interval,
        uplift,
        p_value,
        chance_to_beat_control: chance,
        reasons,
    }
}

/// The value, or `None` with its reason noted under `field`.
fn settle<T>(
    figure: Result<T, NotComputed>,
    field: &str,
    note: &mut impl FnMut(&str, NotComputed),
) -> Option<T> {
    figure.map_err(|why| note(field, why)).ok()
}

fn srm(campaign: &CampaignDoc, variants: &[VariantResults]) -> SrmResults {
    let split: Vec<(u64, u8)> = variants
        .iter()
        .map(|v| (v.exposed_visitors, v.weight))
        .collect();
    let test = sample_ratio(&split);
    let weights: u64 = campaign.variants.iter().map(|v| u64::from(v.weight)).sum();
    SrmResults {
        p_value: test.p_value,
        flagged: test.flagged,
        threshold: SRM_THRESHOLD,
        chi_square: test.chi_square,
        degrees_of_freedom: test.degrees_of_freedom,
        expected_shares: campaign
            .variants
            .iter()
            .filter(|_| weights > 0)
            .map(|v| (v.key.clone(), f64::from(v.weight) / weights as f64))
            .collect(),
        observed: variants
            .iter()
            .map(|v| (v.key.clone(), v.exposed_visitors))
            .collect(),
        reason: test.reason,
    }
}
