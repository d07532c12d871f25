// The A/B figures the results route reports, computed here independently of the Rust core
// (src/analysis/significance) for the end-to-end tests: GrowthBook's hash v2 bucketing,
// the Wilson interval, the pooled two-proportion z-test, the delta-method uplift, the
// Bayesian chance to beat control (Evan Miller's closed form for Beta posteriors) and the
// chi-square sample-ratio test. Pure functions of counts; no dependencies.

/** The 0.975 normal quantile (scipy.stats.norm.ppf(0.975)). */
export const Z_95 = 1.959963984540054;

/** 32-bit FNV-1a over UTF-8 bytes. */
export function fnv1a32(text) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** GrowthBook hash v2: `fnv1a32(str(fnv1a32(seed + id))) % 10000`. */
export const bucketOf = (seed, id) => fnv1a32(String(fnv1a32(seed + id))) % 10000;

/** The index of the variant a bucket falls in, weights (percent) laid out in order. */
export function chooseVariant(bucket, weights) {
  let end = 0;
  for (const [i, w] of weights.entries()) {
    end += w * 100;
    if (bucket < end) return i;
  }
  return -1;
}

/** erfc(x) for x >= 0: the Taylor series of erf below 3, Lentz's continued fraction above. */
export function erfc(x) {
  if (x < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up.
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** The 95% Wilson score interval of `successes` of `n`. */
export function wilson(successes, n) {
  const p = successes / n;
  const z2 = Z_95 * Z_95;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (Z_95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** Two-sided p-value of the pooled two-proportion z-test. */
export function zTestP(xc, nc, xv, nv) {
  const pooled = (xc + xv) / (nc + nv);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nv));
  const z = (xv / nv - xc / nc) / se;
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Relative uplift `pv/pc - 1` with its 95% delta-method interval. */
export function uplift(xc, nc, xv, nv) {
  const [pc, pv] = [xc / nc, xv / nv];
  const varC = (pc * (1 - pc)) / nc;
  const varV = (pv * (1 - pv)) / nv;
  const estimate = pv / pc - 1;
  const se = Math.sqrt(varV / (pc * pc) + (pv * pv * varC) / pc ** 4);
  return { estimate, interval: [Math.max(-1, estimate - Z_95 * se), estimate + Z_95 * se] };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
export function lnGamma(x) {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let a = c[0];
  const t = y + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

const lnBeta = (a, b) => lnGamma(a) + lnGamma(b) - lnGamma(a + b);

/**
 * P(rate_v > rate_c) with Beta(1, 1) priors: Evan Miller's exact sum
 * Σ_{i<αv} B(αc+i, βc+βv) / ((βv+i) B(1+i, βv) B(αc, βc)).
 */
export function chanceToBeat(xc, nc, xv, nv) {
  const [ac, bc, av, bv] = [xc + 1, nc - xc + 1, xv + 1, nv - xv + 1];
  let total = 0;
  for (let i = 0; i < av; i++) {
    total += Math.exp(lnBeta(ac + i, bc + bv) - Math.log(bv + i) - lnBeta(1 + i, bv) - lnBeta(ac, bc));
  }
  return total;
}

/** Pearson's chi-square of a two-variant split against weights, and its p-value (1 dof). */
export function srm(observed, weights) {
  const total = observed.reduce((a, b) => a + b, 0);
  const sum = weights.reduce((a, b) => a + b, 0);
  const chi = observed.reduce((acc, seen, i) => {
    const expected = (total * weights[i]) / sum;
    return acc + ((seen - expected) * (seen - expected)) / expected;
  }, 0);
  return { chiSquare: chi, p: erfc(Math.sqrt(chi / 2)) };
}
