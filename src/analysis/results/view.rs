//! The results view: what `GET .../campaigns/{id}/results` and `router results --json`
//! answer (see [`super`] for how it is computed and what its nulls mean).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::significance::{NotComputed, Uplift};

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
