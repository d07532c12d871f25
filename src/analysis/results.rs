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

use crate::analysis::significance::{
    chance_to_beat, relative_uplift, sample_ratio, wilson_interval, z_test_p_value, Counts,
    NotComputed, SRM_THRESHOLD,
};
use crate::model::config::CampaignDoc;
use chrono::{DateTime, SecondsFormat, Utc};

#[cfg(test)]
mod tests;
mod view;

pub use view::{
    CampaignResults, ChosenBy, ComputedFrom, EventResults, PrimaryEvent, SrmResults,
    UnknownVariant, VariantResults,
};

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
    // A campaign has a handful of variants and events: small vectors, not maps (each map
    // type is code in the worker module).
    let mut exposed: Vec<Tally> = Vec::new();
    for row in &observed.exposures {
        Tally::add(
            &mut exposed,
            &row.variant,
            "",
            row.exposed_visitors,
            row.visits,
        );
    }
    let mut converted: Vec<Tally> = Vec::new();
    for row in &observed.conversions {
        Tally::add(
            &mut converted,
            &row.variant,
            &row.event,
            row.converting_visitors,
            row.events,
        );
    }
    let primary = primary_event(&converted, event, &known);
    let mut events: Vec<String> = converted
        .iter()
        .filter(|t| known(t.variant))
        .map(|t| t.event.to_owned())
        .collect();
    events.push(primary.name.clone());
    events.sort();
    events.dedup();

    let exposed_of = |key: &str| Tally::get(&exposed, key, "");
    let converted_of = |key: &str, event: &str| Tally::get(&converted, key, event);
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

    let mut unknown_variants: Vec<UnknownVariant> = Vec::new();
    for t in exposed
        .iter()
        .chain(&converted)
        .filter(|t| !known(t.variant))
    {
        let at = match unknown_variants.iter().position(|u| u.key == t.variant) {
            Some(at) => at,
            None => {
                unknown_variants.push(UnknownVariant {
                    key: t.variant.to_owned(),
                    ..UnknownVariant::default()
                });
                unknown_variants.len() - 1
            }
        };
        if let Some(u) = unknown_variants.get_mut(at) {
            if t.event.is_empty() {
                (u.exposed_visitors, u.visits) = (t.first, t.second);
            } else {
                u.converting_visitors.insert(t.event.to_owned(), t.first);
            }
        }
    }
    unknown_variants.sort_by(|a, b| a.key.cmp(&b.key));

    let computed_from = ComputedFrom {
        exposed_visitors: variants.iter().map(|v| v.exposed_visitors).sum(),
        visits: variants.iter().map(|v| v.visits).sum(),
        events: converted
            .iter()
            .filter(|t| known(t.variant))
            .map(|t| t.second)
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

/// Two counts summed per variant and event (`""` for exposures): exposed visitors and
/// visits, or converting visitors and events.
#[derive(Debug)]
struct Tally<'a> {
    variant: &'a str,
    event: &'a str,
    first: u64,
    second: u64,
}

impl<'a> Tally<'a> {
    fn add(
        tallies: &mut Vec<Tally<'a>>,
        variant: &'a str,
        event: &'a str,
        first: u64,
        second: u64,
    ) {
        match tallies
            .iter_mut()
            .find(|t| t.variant == variant && t.event == event)
        {
            Some(t) => {
                t.first = t.first.saturating_add(first);
                t.second = t.second.saturating_add(second);
            }
            None => tallies.push(Tally {
                variant,
                event,
                first,
                second,
            }),
        }
    }

    fn get(tallies: &[Tally<'_>], variant: &str, event: &str) -> (u64, u64) {
        tallies
            .iter()
            .find(|t| t.variant == variant && t.event == event)
            .map_or((0, 0), |t| (t.first, t.second))
    }
}

/// The requested event, else `purchase` if anything converted on it, else the event with
/// the most converting visitors, else `purchase`.
fn primary_event(
    converted: &[Tally<'_>],
    requested: Option<&str>,
    known: &dyn Fn(&str) -> bool,
) -> PrimaryEvent {
    if let Some(name) = requested.filter(|e| !e.is_empty()) {
        return PrimaryEvent {
            name: name.to_owned(),
            chosen_by: ChosenBy::Requested,
        };
    }
    let mut totals: Vec<Tally<'_>> = Vec::new();
    for t in converted.iter().filter(|t| known(t.variant) && t.first > 0) {
        Tally::add(&mut totals, "", t.event, t.first, 0);
    }
    let most = totals
        .iter()
        // The most converting visitors; among equals the first name (max_by keeps the last).
        .max_by(|a, b| a.first.cmp(&b.first).then(b.event.cmp(a.event)))
        .map(|t| t.event);
    match most {
        Some(event) if !totals.iter().any(|t| t.event == DEFAULT_EVENT) => PrimaryEvent {
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
