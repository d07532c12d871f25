//! The statistics of an A/B result, as pure functions of counts: the Wilson interval of a
//! conversion rate, the relative uplift against the control with its delta-method
//! interval, the two-proportion z-test, the Bayesian chance to beat the control
//! ([`chance_to_beat`], in `beat.rs`) and the sample-ratio-mismatch test
//! ([`sample_ratio`], in `srm.rs`).
//!
//! Every function answers a defined value for every input: a figure that does not exist
//! for the counts given (a rate of nothing, a ratio to a zero rate) is an `Err` with a
//! [`NotComputed`] reason, never a NaN or an infinity. Counts are `u64`; they are exact in
//! `f64` up to 2^53.
//!
//! | input | rate, interval | uplift | p-value | chance to beat |
//! |---|---|---|---|---|
//! | an arm with 0 exposures | `no_exposures` | `no_exposures` | `no_exposures` | `no_exposures` |
//! | converting > exposed (conversions without a recorded exposure) | `conversions_exceed_exposures` | same | same | same |
//! | control rate 0 | 0, Wilson `[0, hi]` | `control_rate_zero` | computed | computed |
//! | variant rate 0 (control > 0) | 0, `[0, hi]` | -1, interval `no_variance` | computed | computed |
//! | both rates 0 | 0, `[0, hi]` | `control_rate_zero` | `no_variance` | computed |
//! | both rates 100% | 1, `[lo, 1]` | 0, interval `no_variance` | `no_variance` | computed |
//!
//! **Special functions** come from `statrs`: the Lanczos log-gamma (after Pugh 2004) and
//! the regularized upper incomplete gamma `Q(a, x)` (series and continued fraction, as in
//! Numerical Recipes 6.2). Built without its default features (no nalgebra, no rand) the
//! two add about 3.6 KB gzipped to the wasm module. The normal tail of the z-test is
//! `Q` too (`erfc(|z|/√2) = Q(1/2, z²/2)`), which spares `erfc`'s tables (2.7 KB). The
//! crate's regularized incomplete beta is not used: it stops after 140 continued-fraction terms,
//! too few for the parameters of a large test, so the chance to beat control integrates
//! the two densities itself.
//!
//! Golden vectors from SciPy and statsmodels (`scripts/stats-vectors.py`, written to
//! `tests/vectors/stats/`) pin every figure: `tests/stats.rs`.

use serde::Serialize;

mod beat;
mod srm;

pub use beat::{chance_to_beat, EXACT_SUM_MAX_TERMS};
pub use srm::{sample_ratio, SampleRatio, SRM_THRESHOLD};

/// The 0.975 quantile of the standard normal distribution: the half-width of a two-sided
/// 95% interval in standard errors (`scipy.stats.norm.ppf(0.975)`).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Why a figure has no value.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotComputed {
    /// The variant (or, for a comparison, the variant or the control) was shown to nobody.
    NoExposures,
    /// More converting visitors than exposed visitors: conversions arrived for visitors
    /// whose exposure was not recorded, so no rate of this arm means anything.
    ConversionsExceedExposures,
    /// The control converted nobody: a relative uplift against a rate of 0 does not exist.
    ControlRateZero,
    /// The figure's standard error is 0 (rates of exactly 0 or 1): no interval or test.
    NoVariance,
    /// The control is not compared with itself.
    IsControl,
    /// Fewer than two variants (of positive weight): there is no split to check.
    OneVariant,
    /// The configured weights sum to 0.
    NoWeights,
    /// Visitors were exposed to a variant of weight 0: a mismatch whatever the numbers.
    ExposedAtZeroWeight,
}

impl NotComputed {
    /// The reason in words.
    pub fn describe(self) -> &'static str {
        match self {
            NotComputed::NoExposures => "no exposed visitors",
            NotComputed::ConversionsExceedExposures => {
                "more converting visitors than exposed visitors: exposures are missing"
            }
            NotComputed::ControlRateZero => "the control has no conversions to compare with",
            NotComputed::NoVariance => {
                "rates of exactly 0 or 1 have no sampling variance: no interval or test"
            }
            NotComputed::IsControl => "the control is the reference",
            NotComputed::OneVariant => "fewer than two variants: no split to check",
            NotComputed::NoWeights => "the configured weights sum to 0",
            NotComputed::ExposedAtZeroWeight => "visitors were exposed to a variant of weight 0",
        }
    }
}

/// Conversions of one arm: `successes` converting visitors out of `trials` exposed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Converting visitors.
    pub successes: u64,
    /// Exposed visitors.
    pub trials: u64,
}

impl Counts {
    /// `successes` of `trials`.
    pub fn new(successes: u64, trials: u64) -> Counts {
        Counts { successes, trials }
    }

    /// The conversion rate `successes / trials`, in `[0, 1]`.
    ///
    /// # Errors
    /// [`NotComputed::NoExposures`] when `trials` is 0;
    /// [`NotComputed::ConversionsExceedExposures`] when `successes > trials`.
    pub fn rate(self) -> Result<f64, NotComputed> {
        if self.trials == 0 {
            Err(NotComputed::NoExposures)
        } else if self.successes > self.trials {
            Err(NotComputed::ConversionsExceedExposures)
        } else {
            Ok(self.successes as f64 / self.trials as f64)
        }
    }

    fn n(self) -> f64 {
        self.trials as f64
    }
}

/// The 95% Wilson score interval `[lo, hi]` of the rate (statsmodels'
/// `proportion_confint(method="wilson")`): `(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) /
/// (1 + z²/n)`. It lies in `[0, 1]` and contains the rate; at 0 conversions it is
/// `[0, hi]`, at 100% `[lo, 1]`.
///
/// # Errors
/// As [`Counts::rate`]: no interval of no exposures.
pub fn wilson_interval(counts: Counts) -> Result<[f64; 2], NotComputed> {
    let p = counts.rate()?;
    let n = counts.n();
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Ok([(center - half).clamp(0.0, p), (center + half).clamp(p, 1.0)])
}

/// Relative uplift of the variant's rate over the control's: `p_v / p_c - 1`, with its
/// 95% interval.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Uplift {
    /// `p_v / p_c - 1` (0.12 is +12%).
    pub estimate: f64,
    /// The 95% interval `[lo, hi]`; `null` when its standard error is 0 (see `reasons`).
    pub interval: Option<[f64; 2]>,
}

/// The relative uplift of `variant` over `control` with a 95% interval by the delta
/// method on the plain ratio (the one GrowthBook, Eppo and Statsig report): with
/// `V(p) = p(1-p)/n`, `se = sqrt(V(p_v)/p_c² + p_v²·V(p_c)/p_c⁴)` and the interval
/// `estimate ± z·se`, its lower end clamped at -1 (a rate cannot fall below 0).
///
/// # Errors
/// The rate errors of either arm; [`NotComputed::ControlRateZero`] when the control
/// converted nobody. An estimate with a standard error of 0 (the variant converted nobody,
/// or both converted everyone) comes without an interval.
pub fn relative_uplift(control: Counts, variant: Counts) -> Result<Uplift, NotComputed> {
    let (pc, pv) = (control.rate()?, variant.rate()?);
    if pc == 0.0 {
        return Err(NotComputed::ControlRateZero);
    }
    let var_c = pc * (1.0 - pc) / control.n();
    let var_v = pv * (1.0 - pv) / variant.n();
    let estimate = pv / pc - 1.0;
    let se = (var_v / (pc * pc) + pv * pv * var_c / (pc * pc * pc * pc)).sqrt();
    let interval = (se > 0.0).then(|| [(estimate - Z_95 * se).max(-1.0), estimate + Z_95 * se]);
    Ok(Uplift { estimate, interval })
}

/// The two-sided p-value of the pooled two-proportion z-test (statsmodels'
/// `proportions_ztest`): `z = (p_v - p_c) / sqrt(P(1-P)(1/n_c + 1/n_v))` with the pooled
/// rate `P`, and `p = 2·(1 - Φ(|z|)) = erfc(|z|/√2)`, the chi-square(1) tail of `z²`.
///
/// # Errors
/// The rate errors of either arm; [`NotComputed::NoVariance`] when the pooled rate is 0
/// or 1 (nobody or everybody converted in both arms: nothing to test).
pub fn z_test_p_value(control: Counts, variant: Counts) -> Result<f64, NotComputed> {
    let (pc, pv) = (control.rate()?, variant.rate()?);
    let (nc, nv) = (control.n(), variant.n());
    let pooled = (control.successes as f64 + variant.successes as f64) / (nc + nv);
    let se = (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nv)).sqrt();
    if se <= 0.0 {
        return Err(NotComputed::NoVariance);
    }
    let z = (pv - pc) / se;
    // 2·(1 - Φ(|z|)) = erfc(|z|/√2) = P(χ²₁ > z²): one special function fewer in the module.
    Ok(srm::chi_square_survival(z * z, 1))
}

#[cfg(test)]
mod tests;
