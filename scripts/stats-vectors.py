#!/usr/bin/env python3
"""Golden vectors of the A/B statistics (src/analysis/significance) from independent
references, written to tests/vectors/stats/<case>.json and checked by tests/stats.rs.

Run once when a case is added or a definition changes; the Rust tests never need Python:

    python3 -m venv /tmp/statsvenv
    /tmp/statsvenv/bin/pip install scipy==1.17.1 statsmodels==0.15.0 numpy==2.4.6 mpmath==1.4.1
    /tmp/statsvenv/bin/python scripts/stats-vectors.py

Where each figure comes from:
- rate and Wilson 95% interval: statsmodels proportion_confint(method="wilson");
- two-sided p-value of the pooled two-proportion z-test: statsmodels proportions_ztest;
- sample-ratio mismatch: scipy.stats.chisquare against the weights' shares;
- chance to beat control P(B > A), A ~ Beta(1+k_c, 1+n_c-k_c), B ~ Beta(1+k_v, 1+n_v-k_v):
  scipy.integrate.quad of beta.pdf(x; B) * beta.cdf(x; A), cross-checked where it is
  affordable with Evan Miller's exact sum in mpmath at 50 digits;
- relative uplift p_v/p_c - 1 with its 95% delta-method interval (plain ratio, lower end
  clamped at -1): no library computes it, so it is computed here with numpy from the
  formula, se = sqrt(V_v/p_c^2 + p_v^2 V_c/p_c^4), V = p(1-p)/n.

A figure the reference cannot give (NaN, division by zero) is written as null with the
reason code the Rust side must answer (see the table in src/analysis/significance/mod.rs).
"""

import json
import math
import pathlib
import warnings

import mpmath
import numpy as np
import scipy
import statsmodels
from scipy import integrate, stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

PINNED = {"scipy": "1.17.1", "statsmodels": "0.15.0", "numpy": "2.4.6", "mpmath": "1.4.1"}
Z_95 = stats.norm.ppf(0.975)
SRM_THRESHOLD = 0.001
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "stats"

# (name, description, [(key, weight, exposed visitors, converting visitors)]); the first
# arm is the control.
CASES = [
    ("typical", "a 50/50 test with a few hundred conversions",
     [("control", 50, 10_000, 480), ("story", 50, 10_050, 556)]),
    ("tiny", "single-digit counts",
     [("control", 50, 3, 1), ("story", 50, 4, 2)]),
    ("zero-exposures", "the variant was shown to nobody; then the control",
     [("control", 50, 120, 6), ("story", 50, 0, 0), ("quiet", 0, 0, 0)]),
    ("zero-exposures-control", "the control was shown to nobody",
     [("control", 50, 0, 0), ("story", 50, 90, 9)]),
    ("zero-conversions", "nobody converted anywhere",
     [("control", 50, 500, 0), ("story", 50, 480, 0)]),
    ("zero-conversions-control", "the control converted nobody, the variant some",
     [("control", 50, 500, 0), ("story", 50, 480, 7)]),
    ("zero-conversions-variant", "the variant converted nobody",
     [("control", 50, 500, 12), ("story", 50, 480, 0)]),
    ("full-conversion", "everybody converted in both arms",
     [("control", 50, 20, 20), ("story", 50, 25, 25)]),
    ("full-conversion-control", "everybody converted in the control",
     [("control", 50, 20, 20), ("story", 50, 25, 18)]),
    ("huge", "millions of visitors and a hundred thousand conversions (numerical integration), "
     "one variant with half the traffic",
     [("control", 40, 2_000_000, 100_000), ("story", 40, 2_001_500, 100_600),
      ("quiet", 20, 1_000_300, 50_400)]),
    ("huge-rare", "millions of visitors and rare conversions (exact sum)",
     [("control", 50, 5_000_000, 2_000), ("story", 50, 5_000_000, 2_150)]),
    ("uneven-60-40", "weights 60/40 with a split that matches them",
     [("control", 60, 6_020, 301), ("story", 40, 3_980, 230)]),
    ("three-variants", "weights 10/30/60",
     [("control", 10, 1_013, 52), ("story", 30, 2_990, 171), ("quiet", 60, 5_997, 290)]),
    ("srm-60-40-at-50-50", "a forced 60/40 split at 50/50 weights: a sample-ratio mismatch",
     [("control", 50, 6_000, 300), ("story", 50, 4_000, 210)]),
    ("srm-close", "a 50/50 split off by chance: not flagged",
     [("control", 50, 1_000, 50), ("story", 50, 1_060, 61)]),
    ("near-full-conversion", "almost everybody converted (the exact sum over the non-converters)",
     [("control", 50, 10_000, 9_991), ("story", 50, 10_000, 9_996)]),
    ("one-variant", "a single variant: nothing to compare, no split to check",
     [("control", 100, 700, 35)]),
    ("exposed-at-zero-weight", "visitors reached a variant of weight 0",
     [("control", 100, 500, 20), ("story", 0, 3, 0)]),
]


def finite(x):
    return x is not None and math.isfinite(x)


def rate(k, n):
    if n == 0:
        return None, "no_exposures"
    return k / n, None


def wilson(k, n):
    if n == 0:
        return None
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return [max(0.0, float(lo)), min(1.0, float(hi))]


def uplift(c, v):
    (kc, nc), (kv, nv) = c, v
    if nc == 0 or nv == 0:
        return None, "no_exposures"
    pc, pv = kc / nc, kv / nv
    if pc == 0:
        return None, "control_rate_zero"
    pc_, pv_ = np.float64(pc), np.float64(pv)
    var_c, var_v = pc_ * (1 - pc_) / nc, pv_ * (1 - pv_) / nv
    est = pv_ / pc_ - 1
    se = np.sqrt(var_v / pc_**2 + pv_**2 * var_c / pc_**4)
    interval = None if se == 0 else [float(max(-1.0, est - Z_95 * se)), float(est + Z_95 * se)]
    return {"estimate": float(est), "interval": interval}, None


def z_test(c, v):
    (kc, nc), (kv, nv) = c, v
    if nc == 0 or nv == 0:
        return None, "no_exposures"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, p = proportions_ztest([kv, kc], [nv, nc], value=0, alternative="two-sided")
    if not finite(p):
        return None, "no_variance"
    return float(p), None


def posterior(k, n):
    return 1 + k, 1 + n - k


def beat_quad(c, v):
    a1, b1 = posterior(*c)
    a2, b2 = posterior(*v)
    m = a2 / (a2 + b2)
    sd = math.sqrt(a2 * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1)))
    lo, hi = max(0.0, m - 20 * sd), min(1.0, m + 20 * sd)
    f = lambda x: stats.beta.pdf(x, a2, b2) * stats.beta.cdf(x, a1, b1)
    val, err = integrate.quad(f, lo, hi, points=[m], epsabs=1e-13, epsrel=1e-12, limit=1000)
    assert err < 1e-9, (c, v, err)
    return val


def beat_exact(c, v):
    """Evan Miller's sum at 50 digits (the reference's second opinion)."""
    mpmath.mp.dps = 50
    a1, b1 = posterior(*c)
    a2, b2 = posterior(*v)
    lb = lambda a, b: mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
    total = mpmath.mpf(0)
    for i in range(a2):
        total += mpmath.exp(lb(a1 + i, b1 + b2) - mpmath.log(b2 + i) - lb(1 + i, b2) - lb(a1, b1))
    return float(total)


def beat(c, v):
    if c[1] == 0 or v[1] == 0:
        return None, "no_exposures"
    q = beat_quad(c, v)
    if posterior(*v)[0] <= 5_000:
        e = beat_exact(c, v)
        assert abs(q - e) < 1e-9, (c, v, q, e)
    return q, None


def srm(arms):
    if any(w == 0 and n > 0 for _, w, n, _ in arms):
        return {"chi_square": None, "degrees_of_freedom": 0, "p_value": 0.0, "flagged": True,
                "reason": "exposed_at_zero_weight"}
    used = [(n, w) for _, w, n, _ in arms if w > 0]
    total = sum(n for n, _ in used)
    weights = sum(w for _, w in used)
    reason = None
    if len(arms) < 2 or (len(used) < 2 and weights > 0):
        reason = "one_variant"
    elif weights == 0:
        reason = "no_weights"
    elif total == 0:
        reason = "no_exposures"
    if reason:
        return {"chi_square": None, "degrees_of_freedom": 0, "p_value": None, "flagged": False,
                "reason": reason}
    expected = [total * w / weights for _, w in used]
    chi, p = stats.chisquare([n for n, _ in used], expected)
    return {"chi_square": float(chi), "degrees_of_freedom": len(used) - 1, "p_value": float(p),
            "flagged": bool(p < SRM_THRESHOLD), "reason": None}


def case(name, description, arms):
    _, _, nc, kc = arms[0]
    out = []
    for i, (key, weight, n, k) in enumerate(arms):
        r, r_reason = rate(k, n)
        arm = {"key": key, "weight": weight, "exposed_visitors": n, "converting_visitors": k,
               "rate": r, "interval": wilson(k, n), "reasons": {}}
        if r_reason:
            arm["reasons"]["rate"] = r_reason
        if i == 0:
            arm.update(uplift=None, p_value=None, chance_to_beat_control=None)
        else:
            for field, (value, why) in (("uplift", uplift((kc, nc), (k, n))),
                                        ("p_value", z_test((kc, nc), (k, n))),
                                        ("chance_to_beat_control", beat((kc, nc), (k, n)))):
                arm[field] = value
                if why:
                    arm["reasons"][field] = why
        out.append(arm)
    return {"case": name, "description": description, "arms": out, "srm": srm(arms)}


def main():
    for lib, want in (("scipy", scipy.__version__), ("statsmodels", statsmodels.__version__),
                      ("numpy", np.__version__), ("mpmath", mpmath.__version__)):
        if want != PINNED[lib]:
            print(f"warning: {lib} {want}, the vectors were made with {PINNED[lib]}")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, description, arms in CASES:
        doc = case(name, description, arms)
        doc["generated_by"] = "scripts/stats-vectors.py: " + ", ".join(
            f"{k} {v}" for k, v in PINNED.items())
        (OUT / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(f"{name}: {len(arms)} arms, srm p = {doc['srm']['p_value']}")


if __name__ == "__main__":
    main()
