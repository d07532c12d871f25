//! The A/B statistics against SciPy and statsmodels: golden vectors under
//! `tests/vectors/stats/*.json`, written by `scripts/stats-vectors.py` (which says where
//! each expected figure comes from), run through the statistics and through the results
//! view; plus property tests of the invariants.
//!
//! ```text
//! {
//!   "case": "typical", "description": "...",
//!   "arms": [{                               // the first arm is the control
//!     "key": "control", "weight": 50, "exposed_visitors": 10000, "converting_visitors": 480,
//!     "rate": 0.048, "interval": [lo, hi],   // null when there is no rate
//!     "uplift": {"estimate": .., "interval": [lo, hi] | null} | null,
//!     "p_value": .. | null, "chance_to_beat_control": .. | null,   // null for the control
//!     "reasons": {"p_value": "no_variance"}  // the reason code of each null figure
//!   }],
//!   "srm": {"chi_square", "degrees_of_freedom", "p_value", "flagged", "reason"}
//! }
//! ```
//!
//! Tolerances: closed forms within 1e-9 relative: rates, intervals and uplifts also within
//! 1e-15 absolute, p-values and chi-square however small they are (down to 1e-300); the
//! chance to beat control, an integral, within 1e-6 absolute (the largest error seen is
//! printed: about 5e-10).

// Test code: helpers may unwrap and index.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use edge_router::analysis::results::{results, ConversionRow, ExposureRow, Observed};
use edge_router::analysis::significance::{
    chance_to_beat, relative_uplift, sample_ratio, wilson_interval, z_test_p_value, Counts,
    NotComputed,
};
use edge_router::model::config::CampaignDoc;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Vector {
    case: String,
    arms: Vec<Arm>,
    srm: Srm,
}

#[derive(Debug, Deserialize)]
struct Arm {
    key: String,
    weight: u8,
    exposed_visitors: u64,
    converting_visitors: u64,
    rate: Option<f64>,
    interval: Option<[f64; 2]>,
    uplift: Option<UpliftVector>,
    p_value: Option<f64>,
    chance_to_beat_control: Option<f64>,
    reasons: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct UpliftVector {
    estimate: f64,
    interval: Option<[f64; 2]>,
}

#[derive(Debug, Deserialize)]
struct Srm {
    chi_square: Option<f64>,
    degrees_of_freedom: u64,
    p_value: Option<f64>,
    flagged: bool,
    reason: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/stats");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "too few stats vectors in {dir:?}");
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// Rates, intervals, uplifts: within 1e-9 relative or 1e-15 absolute (statsmodels puts
/// the Wilson interval of 0 conversions at 4e-19, not 0).
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs() || (got - want).abs() <= 1e-15
}

/// P-values and statistics: within 1e-9 relative, however small (or both below 1e-300).
fn close_p(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs() || (got.abs() < 1e-300 && want.abs() < 1e-300)
}

fn code(reason: NotComputed) -> String {
    serde_json::to_value(reason)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Compares an optional figure with its vector: the value, or the reason of its absence.
fn check<T: std::fmt::Debug>(
    at: &str,
    got: Result<T, NotComputed>,
    want: Option<&Value>,
    want_reason: Option<&Value>,
    mut same: impl FnMut(&T) -> bool,
) {
    match (got, want) {
        (Ok(v), Some(_)) => assert!(same(&v), "{at}: got {v:?}, want {want:?}"),
        (Err(r), None) => assert_eq!(
            Some(code(r).as_str()),
            want_reason.and_then(Value::as_str),
            "{at}: reason"
        ),
        (got, want) => panic!("{at}: got {got:?}, want {want:?} ({want_reason:?})"),
    }
}

#[test]
fn figures_match_scipy_and_statsmodels() {
    let mut worst_beat: f64 = 0.0;
    let mut figures = 0;
    for v in vectors() {
        let control = &v.arms[0];
        let c = Counts::new(control.converting_visitors, control.exposed_visitors);
        for (i, arm) in v.arms.iter().enumerate() {
            let at = format!("{} / {}", v.case, arm.key);
            let counts = Counts::new(arm.converting_visitors, arm.exposed_visitors);
            let num = |x: Option<f64>| x.map(Value::from);
            check(
                &format!("{at} rate"),
                counts.rate(),
                num(arm.rate).as_ref(),
                arm.reasons.get("rate"),
                |r| close(*r, arm.rate.unwrap()),
            );
            let interval = arm.interval.map(|[lo, hi]| Value::from(vec![lo, hi]));
            check(
                &format!("{at} interval"),
                wilson_interval(counts),
                interval.as_ref(),
                arm.reasons.get("rate"),
                |[lo, hi]| {
                    let [wlo, whi] = arm.interval.unwrap();
                    close(*lo, wlo) && close(*hi, whi)
                },
            );
            figures += 2;
            if i == 0 {
                continue;
            }
            let uplift = arm.uplift.as_ref().map(|u| Value::from(u.estimate));
            check(
                &format!("{at} uplift"),
                relative_uplift(c, counts),
                uplift.as_ref(),
                arm.reasons.get("uplift"),
                |u| {
                    let want = arm.uplift.as_ref().unwrap();
                    close(u.estimate, want.estimate)
                        && match (u.interval, want.interval) {
                            (Some([lo, hi]), Some([wlo, whi])) => close(lo, wlo) && close(hi, whi),
                            (None, None) => true,
                            _ => false,
                        }
                },
            );
            check(
                &format!("{at} p-value"),
                z_test_p_value(c, counts),
                num(arm.p_value).as_ref(),
                arm.reasons.get("p_value"),
                |p| close_p(*p, arm.p_value.unwrap()),
            );
            check(
                &format!("{at} chance to beat"),
                chance_to_beat(c, counts),
                num(arm.chance_to_beat_control).as_ref(),
                arm.reasons.get("chance_to_beat_control"),
                |p| {
                    let err = (p - arm.chance_to_beat_control.unwrap()).abs();
                    worst_beat = worst_beat.max(err);
                    err <= 1e-6
                },
            );
            figures += 3;
        }
        let pairs: Vec<(u64, u8)> = v
            .arms
            .iter()
            .map(|a| (a.exposed_visitors, a.weight))
            .collect();
        let srm = sample_ratio(&pairs);
        let at = format!("{} srm", v.case);
        assert_eq!(srm.flagged, v.srm.flagged, "{at}: flagged");
        assert_eq!(
            srm.degrees_of_freedom, v.srm.degrees_of_freedom,
            "{at}: dof"
        );
        assert_eq!(srm.reason.map(code), v.srm.reason, "{at}: reason");
        for (got, want, what) in [
            (srm.chi_square, v.srm.chi_square, "chi-square"),
            (srm.p_value, v.srm.p_value, "p-value"),
        ] {
            match (got, want) {
                (Some(g), Some(w)) => assert!(close_p(g, w), "{at} {what}: got {g}, want {w}"),
                (None, None) => {}
                _ => panic!("{at} {what}: got {got:?}, want {want:?}"),
            }
        }
        figures += 1;
    }
    assert!(figures > 60, "only {figures} figures checked");
    println!("{figures} figures; chance to beat control within {worst_beat:e} of SciPy");
}

/// The results view over each vector's arms (as one campaign, event `purchase`) carries
/// the same figures, and its JSON no NaN or infinity.
#[test]
fn results_carry_the_reference_figures() {
    for v in vectors() {
        let variants: Vec<Value> = v
            .arms
            .iter()
            .map(|a| serde_json::json!({"key": a.key, "weight": a.weight, "destination": "https://gharart.com/"}))
            .collect();
        let campaign: CampaignDoc = serde_json::from_value(
            serde_json::json!({"id": v.case, "name": v.case, "variants": variants}),
        )
        .unwrap();
        let observed = Observed {
            exposures: v
                .arms
                .iter()
                .map(|a| ExposureRow {
                    variant: a.key.clone(),
                    exposed_visitors: a.exposed_visitors,
                    visits: a.exposed_visitors,
                })
                .collect(),
            conversions: v
                .arms
                .iter()
                .map(|a| ConversionRow {
                    variant: a.key.clone(),
                    event: "purchase".into(),
                    converting_visitors: a.converting_visitors,
                    events: a.converting_visitors,
                })
                .collect(),
            last_batch_at: None,
        };
        let r = results(&campaign, &observed, None);
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !["NaN", "inf"].iter().any(|bad| text.contains(bad)),
            "{}: {text}",
            v.case
        );
        assert_eq!(r.srm.flagged, v.srm.flagged, "{}", v.case);
        for (arm, got) in v.arms.iter().zip(&r.variants) {
            let at = format!("{} / {}", v.case, arm.key);
            let e = &got.events["purchase"];
            let same = |g: Option<f64>, w: Option<f64>| match (g, w) {
                (Some(g), Some(w)) => close(g, w) || (g - w).abs() <= 1e-6,
                (None, None) => true,
                _ => false,
            };
            assert!(same(e.rate, arm.rate), "{at}: rate {:?}", e.rate);
            assert!(
                same(e.interval.map(|i| i[0]), arm.interval.map(|i| i[0])),
                "{at}: interval"
            );
            assert!(
                same(e.p_value, arm.p_value),
                "{at}: p-value {:?}",
                e.p_value
            );
            assert!(
                same(e.chance_to_beat_control, arm.chance_to_beat_control),
                "{at}: chance"
            );
            assert!(
                same(
                    e.uplift.map(|u| u.estimate),
                    arm.uplift.as_ref().map(|u| u.estimate)
                ),
                "{at}: uplift"
            );
            for (field, reason) in &arm.reasons {
                assert_eq!(
                    e.reasons.get(field.as_str()).map(|r| code(*r)).as_deref(),
                    reason.as_str(),
                    "{at}: {field}"
                );
            }
        }
    }
}

/// Counts of one arm: up to `max` exposed visitors, some of them converting.
fn arm(max: u64) -> impl Strategy<Value = Counts> {
    (0..=max).prop_flat_map(|n| (0..=n).prop_map(move |k| Counts::new(k, n)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_interval_holds_the_rate(counts in arm(5_000_000)) {
        if let (Ok(p), Ok([lo, hi])) = (counts.rate(), wilson_interval(counts)) {
            prop_assert!(0.0 <= lo && lo <= p && p <= hi && hi <= 1.0, "{lo} {p} {hi}");
        } else {
            prop_assert_eq!(counts.trials, 0);
        }
    }

    #[test]
    fn the_uplift_interval_holds_the_estimate(c in arm(100_000), v in arm(100_000)) {
        if let Ok(u) = relative_uplift(c, v) {
            prop_assert!(u.estimate.is_finite() && u.estimate >= -1.0);
            if let Some([lo, hi]) = u.interval {
                prop_assert!(lo <= u.estimate && u.estimate <= hi && lo >= -1.0, "{lo} {} {hi}", u.estimate);
            }
        }
    }

    #[test]
    fn p_values_are_probabilities(c in arm(1_000_000), v in arm(1_000_000)) {
        if let Ok(p) = z_test_p_value(c, v) {
            prop_assert!((0.0..=1.0).contains(&p));
        }
    }

    /// No ties: the chance to beat and the chance to lose add up to 1, in both regimes.
    #[test]
    fn beating_and_losing_add_up_to_one(c in arm(3_000_000), v in arm(3_000_000)) {
        if let (Ok(win), Ok(lose)) = (chance_to_beat(c, v), chance_to_beat(v, c)) {
            prop_assert!((0.0..=1.0).contains(&win));
            prop_assert!((win + lose - 1.0).abs() < 1e-9, "{win} + {lose}");
        } else {
            prop_assert!(c.trials == 0 || v.trials == 0);
        }
    }

    /// Whatever the counts (converting visitors above exposed ones included), the results
    /// are finite and every null figure says why.
    #[test]
    fn results_are_always_defined(
        arms in proptest::collection::vec((0u64..3_000_000, 0u64..200_000, 0u8..=100), 0..4)
    ) {
        let variants: Vec<Value> = arms
            .iter()
            .enumerate()
            .map(|(i, (_, _, w))| serde_json::json!({"key": format!("v{i}"), "weight": w, "destination": "https://gharart.com/"}))
            .collect();
        let campaign: CampaignDoc =
            serde_json::from_value(serde_json::json!({"id": "c", "name": "c", "variants": variants})).unwrap();
        let observed = Observed {
            exposures: arms.iter().enumerate().map(|(i, (n, _, _))| ExposureRow {
                variant: format!("v{i}"), exposed_visitors: *n, visits: *n,
            }).collect(),
            conversions: arms.iter().enumerate().map(|(i, (_, k, _))| ConversionRow {
                variant: format!("v{i}"), event: "purchase".into(), converting_visitors: *k, events: *k,
            }).collect(),
            last_batch_at: None,
        };
        let value = serde_json::to_value(results(&campaign, &observed, None)).unwrap();
        let text = value.to_string();
        prop_assert!(!text.contains("NaN") && !text.contains("inf"), "{}", text);
        for v in value["variants"].as_array().unwrap() {
            let e = &v["events"]["purchase"];
            for field in ["rate", "interval", "uplift", "p_value", "chance_to_beat_control"] {
                prop_assert!(!e[field].is_null() || e["reasons"][field].is_string(), "{}: {}", field, e);
            }
        }
    }

    #[test]
    fn sample_ratio_is_a_probability(seen in proptest::collection::vec((0u64..1_000_000, 0u8..=100), 0..5)) {
        let srm = sample_ratio(&seen);
        if let Some(p) = srm.p_value {
            prop_assert!((0.0..=1.0).contains(&p));
            prop_assert_eq!(srm.flagged, p < 0.001);
        } else {
            prop_assert!(!srm.flagged && srm.reason.is_some());
        }
        prop_assert!(srm.chi_square.is_none_or(f64::is_finite));
    }
}
