//! Edge cases of the closed forms; SciPy's and statsmodels' figures are in `tests/stats.rs`.

use super::*;

fn c(k: u64, n: u64) -> Counts {
    Counts::new(k, n)
}

#[test]
fn no_exposures_and_impossible_counts_have_no_figures() {
    for (control, variant, reason) in [
        (c(0, 0), c(3, 10), NotComputed::NoExposures),
        (c(3, 10), c(0, 0), NotComputed::NoExposures),
        (c(11, 10), c(3, 10), NotComputed::ConversionsExceedExposures),
    ] {
        assert_eq!(relative_uplift(control, variant), Err(reason));
        assert_eq!(z_test_p_value(control, variant), Err(reason));
        assert_eq!(chance_to_beat(control, variant), Err(reason));
    }
    assert_eq!(wilson_interval(c(0, 0)), Err(NotComputed::NoExposures));
    assert_eq!(
        wilson_interval(c(2, 1)),
        Err(NotComputed::ConversionsExceedExposures)
    );
}

#[test]
fn wilson_at_the_ends_touches_zero_and_one() {
    let [lo, hi] = wilson_interval(c(0, 20)).unwrap();
    assert_eq!(lo, 0.0);
    assert!(hi > 0.0 && hi < 0.2, "{hi}");
    let [lo, hi] = wilson_interval(c(20, 20)).unwrap();
    assert_eq!(hi, 1.0);
    assert!(lo > 0.8 && lo < 1.0, "{lo}");
}

#[test]
fn uplift_edges() {
    assert_eq!(
        relative_uplift(c(0, 100), c(5, 100)),
        Err(NotComputed::ControlRateZero)
    );
    let u = relative_uplift(c(10, 100), c(0, 100)).unwrap();
    assert_eq!((u.estimate, u.interval), (-1.0, None));
    let u = relative_uplift(c(100, 100), c(100, 100)).unwrap();
    assert_eq!((u.estimate, u.interval), (0.0, None));
    // The control at 100% still has an interval from the variant's spread.
    let u = relative_uplift(c(100, 100), c(50, 100)).unwrap();
    assert!(u.interval.is_some());
    // Small samples: the lower end stops at -100%.
    let u = relative_uplift(c(1, 3), c(1, 10)).unwrap();
    assert_eq!(u.interval.map(|[lo, _]| lo), Some(-1.0));
}

#[test]
fn z_test_without_any_variation_is_not_computed() {
    assert_eq!(
        z_test_p_value(c(0, 50), c(0, 70)),
        Err(NotComputed::NoVariance)
    );
    assert_eq!(
        z_test_p_value(c(50, 50), c(70, 70)),
        Err(NotComputed::NoVariance)
    );
    assert_eq!(z_test_p_value(c(5, 50), c(5, 50)), Ok(1.0));
}

#[test]
fn chance_to_beat_is_symmetric_and_defined_at_the_ends() {
    for (a, b) in [
        (c(0, 10), c(0, 10)),
        (c(10, 10), c(10, 10)),
        (c(0, 10), c(10, 10)),
        (c(3, 7), c(300, 900)),
    ] {
        let p = chance_to_beat(a, b).unwrap();
        let q = chance_to_beat(b, a).unwrap();
        assert!((p + q - 1.0).abs() < 1e-12, "{a:?} {b:?}: {p} + {q}");
    }
    assert!((chance_to_beat(c(0, 10), c(0, 10)).unwrap() - 0.5).abs() < 1e-12);
}
