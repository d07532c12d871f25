//! Sample-ratio mismatch: does the split of exposed visitors across variants match the
//! configured weights? Pearson's chi-square goodness-of-fit test (`scipy.stats.chisquare`)
//! with `k - 1` degrees of freedom, its p-value the chi-square survival function
//! `Q((k-1)/2, χ²/2)` (the regularized upper incomplete gamma), flagged under
//! [`SRM_THRESHOLD`]. A flagged split means assignment or exposure recording is broken
//! (bots, redirects that lose visitors, a variant that errors): its results cannot be
//! trusted, however significant they look.
//!
//! - Weights are shares of their sum (a valid campaign's sum to 100).
//! - A variant of weight 0 takes no part when nobody was exposed to it; exposures to it
//!   are a mismatch by themselves: `p_value` 0, flagged, no chi-square (it would be
//!   infinite), reason `exposed_at_zero_weight`.
//! - Not applicable (no p-value, not flagged, with the reason): fewer than two variants
//!   of positive weight (`one_variant`), no exposures at all (`no_exposures`), weights
//!   summing to 0 (`no_weights`).

use serde::Serialize;

use super::NotComputed;

/// The p-value under which a split is flagged as a sample-ratio mismatch.
pub const SRM_THRESHOLD: f64 = 0.001;

/// The verdict of the sample-ratio test.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SampleRatio {
    /// Pearson's chi-square statistic; `null` when not applicable or infinite.
    pub chi_square: Option<f64>,
    /// Degrees of freedom: variants of positive weight minus one (0 when not applicable).
    pub degrees_of_freedom: u64,
    /// The p-value; `null` when the test does not apply.
    pub p_value: Option<f64>,
    /// Whether the split is a mismatch: `p_value < 0.001`.
    pub flagged: bool,
    /// Why the test does not apply, or why it is flagged without a statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotComputed>,
}

impl SampleRatio {
    fn not_applicable(reason: NotComputed) -> SampleRatio {
        SampleRatio {
            chi_square: None,
            degrees_of_freedom: 0,
            p_value: None,
            flagged: false,
            reason: Some(reason),
        }
    }
}

/// Tests exposed visitors against weights, one `(exposed visitors, weight)` per variant.
pub fn sample_ratio(variants: &[(u64, u8)]) -> SampleRatio {
    if variants
        .iter()
        .any(|&(seen, weight)| weight == 0 && seen > 0)
    {
        return SampleRatio {
            chi_square: None,
            degrees_of_freedom: 0,
            p_value: Some(0.0),
            flagged: true,
            reason: Some(NotComputed::ExposedAtZeroWeight),
        };
    }
    let weighted: Vec<(f64, f64)> = variants
        .iter()
        .filter(|&&(_, weight)| weight > 0)
        .map(|&(seen, weight)| (seen as f64, f64::from(weight)))
        .collect();
    let total: f64 = weighted.iter().map(|&(seen, _)| seen).sum();
    let weights: f64 = weighted.iter().map(|&(_, weight)| weight).sum();
    if variants.len() < 2 || (weighted.len() < 2 && weights > 0.0) {
        return SampleRatio::not_applicable(NotComputed::OneVariant);
    }
    if weights <= 0.0 {
        return SampleRatio::not_applicable(NotComputed::NoWeights);
    }
    if total <= 0.0 {
        return SampleRatio::not_applicable(NotComputed::NoExposures);
    }
    let chi_square: f64 = weighted
        .iter()
        .map(|&(seen, weight)| {
            let expected = total * weight / weights;
            (seen - expected) * (seen - expected) / expected
        })
        .sum();
    let dof = weighted.len() as u64 - 1;
    let p_value = chi_square_survival(chi_square, dof);
    SampleRatio {
        chi_square: Some(chi_square),
        degrees_of_freedom: dof,
        p_value: Some(p_value),
        flagged: p_value < SRM_THRESHOLD,
        reason: None,
    }
}

/// `P(X > x)` for `X` chi-square with `dof` degrees of freedom (`dof >= 1`).
pub(super) fn chi_square_survival(x: f64, dof: u64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    statrs::function::gamma::checked_gamma_ur(dof as f64 / 2.0, x / 2.0)
        .map_or(1.0, |q| q.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survival_of_known_quantiles() {
        // scipy.stats.chi2.sf
        assert!((chi_square_survival(3.841_458_820_694_124, 1) - 0.05).abs() < 1e-12);
        assert!((chi_square_survival(13.815_510_557_964_274, 2) - 0.001).abs() < 1e-12);
        assert_eq!(chi_square_survival(0.0, 3), 1.0);
    }

    #[test]
    fn zero_weight_variants_without_exposures_take_no_part() {
        let with = sample_ratio(&[(480, 50), (520, 50), (0, 0)]);
        let without = sample_ratio(&[(480, 50), (520, 50)]);
        assert_eq!(with, without);
        assert_eq!(with.degrees_of_freedom, 1);
    }

    #[test]
    fn not_applicable_cases() {
        for (variants, reason) in [
            (vec![(100, 100)], NotComputed::OneVariant),
            (vec![(100, 100), (0, 0)], NotComputed::OneVariant),
            (vec![(0, 50), (0, 50)], NotComputed::NoExposures),
            (vec![(0, 0), (0, 0)], NotComputed::NoWeights),
            (vec![], NotComputed::OneVariant),
        ] {
            let srm = sample_ratio(&variants);
            assert_eq!(srm.reason, Some(reason), "{variants:?}");
            assert!(!srm.flagged && srm.p_value.is_none(), "{variants:?}");
        }
        let srm = sample_ratio(&[(100, 100), (3, 0)]);
        assert_eq!(srm.reason, Some(NotComputed::ExposedAtZeroWeight));
        assert!(srm.flagged);
    }
}
