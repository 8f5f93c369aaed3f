//! Statistics comparing the ΔT samples of a condition against a reference.
//!
//! Throughout, `x` is the condition and `y` the reference, so every signed
//! quantity is "condition minus reference". The conventions are those of
//! numpy/scipy, so that tables agree with the Python notebook to rounding:
//! `ddof = 1` standard deviations, numpy's default (linear) percentiles and
//! scipy's asymptotic Mann–Whitney U test.
//!
//! The project rule is that a statistic needs at least [`MIN_PER_SIDE`] values
//! on each side; below that the functions return `None`, which the tables
//! write as an empty cell. Inputs are expected to be finite: NaN is not
//! filtered here (that would silently change `n`), it merely never panics.

/// Fewer values than this on either side leave a comparison cell empty.
pub const MIN_PER_SIDE: usize = 2;

/// Bootstrap resamples used by the experiments.
pub const DEFAULT_RESAMPLES: usize = 10_000;

/// Confidence level of the bootstrap interval in [`compare`].
pub const DEFAULT_LEVEL: f64 = 0.95;

/// Summary of one sample, as numpy computes it: `mean`, `std(ddof=1)`,
/// `median`, `min`, `max`.
///
/// Every field but `n` is `None` for an empty sample; `sd` is also `None`
/// for a single value (numpy gives NaN there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Describe {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Sample standard deviation (`ddof = 1`).
    pub sd: Option<f64>,
    /// Median; the mean of the two middle values when `n` is even.
    pub median: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

/// Describe a sample: `n`, mean, sd (`ddof = 1`), median, min and max,
/// matching `np.mean`, `np.std(ddof=1)`, `np.median`, `np.min`, `np.max`.
pub fn describe(x: &[f64]) -> Describe {
    let sorted = sorted_copy(x);
    Describe {
        n: x.len(),
        mean: mean(x),
        sd: sd(x),
        median: percentile_sorted(&sorted, 50.0),
        min: sorted.first().copied(),
        max: sorted.last().copied(),
    }
}

/// Percentile bootstrap confidence interval of `mean(x) − mean(y)`.
///
/// Each of the `resamples` replicates draws `x.len()` values from `x` and then
/// `y.len()` values from `y`, with replacement, independently; the interval is
/// the `50·(1 − level)` and `100 − 50·(1 − level)` percentiles of the
/// replicate differences computed like numpy's default `np.percentile`
/// (linear interpolation). The generator is SplitMix64 seeded with `seed` and
/// indices are drawn with Lemire's unbiased multiply-shift, so the result is
/// identical on every platform for a fixed seed.
///
/// Returns `(low, high)`, or `None` when either side has fewer than
/// [`MIN_PER_SIDE`] values, `resamples` is 0 or `level` is not inside (0, 1).
pub fn bootstrap_mean_diff_ci(x: &[f64], y: &[f64], resamples: usize, seed: u64, level: f64) -> Option<(f64, f64)> {
    if !enough(x, y) || resamples == 0 || !(level > 0.0 && level < 1.0) {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| {
            let mx = resampled_mean(x, &mut rng);
            let my = resampled_mean(y, &mut rng);
            mx - my
        })
        .collect();
    diffs.sort_unstable_by(f64::total_cmp);
    // Written in percent and then divided by 100 inside the percentile, as
    // `np.percentile(d, [2.5, 97.5])` does, so that for level 0.95 the
    // interpolation weight is bit-for-bit numpy's ((1 − 0.95)/2 is not 0.025).
    let tail = (100.0 - 100.0 * level) / 2.0;
    let low = percentile_sorted(&diffs, tail)?;
    let high = percentile_sorted(&diffs, 100.0 - tail)?;
    Some((low, high))
}

/// Result of a two-sided Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample, `U1 = R1 − n1(n1 + 1)/2`, with
    /// midranks for ties (scipy's `statistic`).
    pub u: f64,
    /// Two-sided p-value from the tie-corrected normal approximation with
    /// continuity correction.
    pub p: f64,
}

/// Mann–Whitney U test of `x` against `y`, exactly as
/// `scipy.stats.mannwhitneyu(x, y, alternative="two-sided",
/// method="asymptotic", use_continuity=True)`.
///
/// `u` is U1 of `x`; the p-value uses `U = max(U1, U2)`,
/// `z = (U − n1·n2/2 − 0.5) / σ` with the tie-corrected
/// `σ² = n1·n2/12 · ((n + 1) − Σ(t³ − t)/(n(n − 1)))`, and
/// `p = 2·sf(z)` clipped to at most 1, so it does not depend on the order of
/// the samples.
///
/// When every value is tied σ is 0 and z is −∞; scipy then returns p = 1
/// (not NaN), and so does this.
///
/// `None` when either side has fewer than [`MIN_PER_SIDE`] values.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if !enough(x, y) {
        return None;
    }
    let (n1, n2) = (x.len(), y.len());
    let (r1, tie_term) = rank_sum_and_ties(x, y);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = r1 - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    let u = u1.max(u2);

    let n = n1f + n2f;
    let mu = (n1 * n2) as f64 / 2.0;
    let s = ((n1 * n2) as f64 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    // Subtracting 0.5 is always the right continuity correction because U is
    // the larger of U1 and U2, so the upper tail is the one evaluated.
    let z = (u - mu - 0.5) / s;
    let p = (2.0 * normal_sf(z)).clamp(0.0, 1.0);
    Some(MannWhitney { u: u1, p })
}

/// Cliff's delta of `x` against `y`: `P(x > y) − P(x < y)` over all pairs,
/// i.e. `np.sign(np.subtract.outer(x, y)).mean()`.
///
/// Antisymmetric: `cliffs_delta(x, y) = −cliffs_delta(y, x)`. `None` when
/// either side has fewer than [`MIN_PER_SIDE`] values.
pub fn cliffs_delta(x: &[f64], y: &[f64]) -> Option<f64> {
    if !enough(x, y) {
        return None;
    }
    let ys = sorted_copy(y);
    let m = ys.len();
    // Counting by binary search keeps this O((n + m) log m) for the
    // thousands-of-cells samples the experiments produce.
    let mut greater: u64 = 0;
    let mut less: u64 = 0;
    for &xi in x {
        let below = ys.partition_point(|&v| v < xi);
        let not_above = ys.partition_point(|&v| v <= xi);
        greater += below as u64;
        less += (m - not_above) as u64;
    }
    let pairs = (x.len() as u64 * m as u64) as f64;
    Some((greater as f64 - less as f64) / pairs)
}

/// Cohen's d of `x` against `y`: `(mean x − mean y) / s_pooled` with
/// `s_pooled = sqrt(((nx − 1)·sx² + (ny − 1)·sy²) / (nx + ny − 2))` and
/// `ddof = 1` variances (the numpy one-liner in the tests).
///
/// `None` when either side has fewer than [`MIN_PER_SIDE`] values, and also
/// when the pooled SD is 0 (both samples constant): the ratio is then 0/0 or
/// ±∞, neither of which is a usable effect size, so the cell stays empty.
pub fn cohens_d(x: &[f64], y: &[f64]) -> Option<f64> {
    if !enough(x, y) {
        return None;
    }
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let (mx, my) = (mean(x)?, mean(y)?);
    let (sx, sy) = (sd(x)?, sd(y)?);
    let pooled = (((nx - 1.0) * sx * sx + (ny - 1.0) * sy * sy) / (nx + ny - 2.0)).sqrt();
    if pooled > 0.0 {
        Some((mx - my) / pooled)
    } else {
        None
    }
}

/// Every statistic of a condition `x` against a reference `y`, for one row of
/// a comparison table.
///
/// All statistics are `None` when either side has fewer than
/// [`MIN_PER_SIDE`] values; `cohens_d` is also `None` when both samples are
/// constant (see [`cohens_d`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Number of condition values.
    pub n_x: usize,
    /// Number of reference values.
    pub n_y: usize,
    /// `mean(x) − mean(y)`.
    pub mean_diff: Option<f64>,
    /// Lower end of the bootstrap interval of `mean_diff`
    /// ([`bootstrap_mean_diff_ci`] at [`DEFAULT_LEVEL`]).
    pub ci_low: Option<f64>,
    /// Upper end of the bootstrap interval of `mean_diff`.
    pub ci_high: Option<f64>,
    /// Mann–Whitney U1 of the condition ([`mann_whitney_u`]).
    pub mann_whitney_u: Option<f64>,
    /// Two-sided asymptotic Mann–Whitney p-value.
    pub p_value: Option<f64>,
    /// [`cliffs_delta`] of condition against reference.
    pub cliffs_delta: Option<f64>,
    /// [`cohens_d`] of condition against reference.
    pub cohens_d: Option<f64>,
}

/// Compare condition `x` with reference `y`: mean difference, its
/// [`DEFAULT_LEVEL`] bootstrap interval from `resamples` replicates seeded
/// with `seed`, Mann–Whitney U and p, Cliff's delta and Cohen's d.
pub fn compare(x: &[f64], y: &[f64], resamples: usize, seed: u64) -> Comparison {
    let mean_diff = match (enough(x, y), mean(x), mean(y)) {
        (true, Some(mx), Some(my)) => Some(mx - my),
        _ => None,
    };
    let ci = bootstrap_mean_diff_ci(x, y, resamples, seed, DEFAULT_LEVEL);
    let mw = mann_whitney_u(x, y);
    Comparison {
        n_x: x.len(),
        n_y: y.len(),
        mean_diff,
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
        mann_whitney_u: mw.map(|m| m.u),
        p_value: mw.map(|m| m.p),
        cliffs_delta: cliffs_delta(x, y),
        cohens_d: cohens_d(x, y),
    }
}

fn enough(x: &[f64], y: &[f64]) -> bool {
    x.len() >= MIN_PER_SIDE && y.len() >= MIN_PER_SIDE
}

fn sorted_copy(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for &v in x {
        sum += v;
    }
    Some(sum / x.len() as f64)
}

/// Two-pass `ddof = 1` standard deviation, as `np.std(x, ddof=1)` computes it.
fn sd(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let mut ss = 0.0;
    for &v in x {
        ss += (v - m) * (v - m);
    }
    Some((ss / (x.len() - 1) as f64).sqrt())
}

/// `np.percentile(sorted, pct)` with the default linear method, on an
/// already sorted slice; reproduces numpy's index arithmetic and its
/// two-sided lerp so the result is bit-for-bit the same.
fn percentile_sorted(sorted: &[f64], pct: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let q = pct / 100.0;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return Some(sorted[last]);
    }
    if virtual_index < 0.0 {
        return Some(sorted[0]);
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let i = previous as usize;
    let (a, b) = (sorted[i], sorted[i + 1]);
    let diff = b - a;
    // numpy interpolates from the nearer end to keep the result monotone.
    Some(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

/// Sum of the midranks of `x` in the pooled sample `x ++ y`, and the tie
/// term `Σ(t³ − t)` over groups of equal values (scipy's `_rankdata`).
fn rank_sum_and_ties(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n1 = x.len();
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    debug_assert_eq!(pooled.iter().filter(|p| p.1).count(), n1);

    let mut r1 = 0.0;
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < pooled.len() {
        // `==` rather than total order, so that -0.0 and 0.0 tie as in numpy.
        let mut end = start + 1;
        while end < pooled.len() && pooled[end].0 == pooled[start].0 {
            end += 1;
        }
        // Ranks are 1-based: positions start..end hold ranks start+1..=end.
        let midrank = (start + 1 + end) as f64 / 2.0;
        let in_x = pooled[start..end].iter().filter(|p| p.1).count();
        r1 += midrank * in_x as f64;
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    (r1, tie_term)
}

/// Upper tail of the standard normal, `P(Z > z)`, computed as scipy's
/// `ndtr(-z)` (cephes): `erf` near the centre, `erfc` in the tails so that
/// small p-values keep full relative precision.
fn normal_sf(z: f64) -> f64 {
    let x = -z * std::f64::consts::FRAC_1_SQRT_2;
    if x.abs() < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        let y = 0.5 * libm::erfc(x.abs());
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

fn resampled_mean(x: &[f64], rng: &mut SplitMix64) -> f64 {
    let n = x.len() as u64;
    let mut sum = 0.0;
    for _ in 0..n {
        sum += x[rng.below(n) as usize];
    }
    sum / n as f64
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fully specified and passes
/// BigCrush, which is all a bootstrap needs; writing it out here pins the
/// stream so that seeded intervals never change with a dependency upgrade.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` (n > 0) by Lemire's multiply-shift with
    /// rejection, which avoids the bias of `next_u64() % n`.
    fn below(&mut self, n: u64) -> u64 {
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values come from numpy 2.4.6 / scipy 1.17.1. Each test names
    // the Python expression that produced its numbers, with `x`, `y` being
    // `np.array(...)` of the literal data in the test.

    const X1: [f64; 7] = [1.2, 3.4, 2.2, 5.1, 4.4, 2.2, 0.7];
    const Y1: [f64; 9] = [2.0, 2.2, 3.9, 6.1, 5.5, 4.4, 3.3, 7.0, 2.2];
    const X2: [f64; 12] = [0.31, -1.2, 0.05, 2.4, 0.9, 1.7, -0.4, 0.05, 3.3, 1.1, 0.6, 2.0];
    const Y2: [f64; 5] = [-0.5, 0.05, -2.1, 0.3, -0.9];

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        actual == expected || (actual - expected).abs() <= rel * expected.abs().max(actual.abs())
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64) {
        assert!(close(actual, expected, 1e-12), "got {actual:e}, expected {expected:e}");
    }

    fn x3() -> Vec<f64> {
        (0..20).map(f64::from).collect()
    }

    fn y3() -> Vec<f64> {
        (0..25).map(|i| f64::from(i) + 100.0).collect()
    }

    #[test]
    fn describe_matches_numpy() {
        // [repr(float(v)) for v in (x.mean(), x.std(ddof=1), np.median(x), x.min(), x.max())]
        let d = describe(&X1);
        assert_eq!(d.n, 7);
        assert_close(d.mean.unwrap(), 2.7428571428571424);
        assert_close(d.sd.unwrap(), 1.6267115528545546);
        assert_eq!(d.median, Some(2.2));
        assert_eq!(d.min, Some(0.7));
        assert_eq!(d.max, Some(5.1));

        // Even length: the median averages the two middle values.
        let d = describe(&X2);
        assert_eq!(d.n, 12);
        assert_close(d.mean.unwrap(), 0.9008333333333333);
        assert_close(d.sd.unwrap(), 1.2750433741879552);
        assert_close(d.median.unwrap(), 0.75);
        assert_eq!(d.min, Some(-1.2));
        assert_eq!(d.max, Some(3.3));
    }

    #[test]
    fn describe_small_samples() {
        let d = describe(&[2.5]);
        assert_eq!(
            d,
            Describe {
                n: 1,
                mean: Some(2.5),
                sd: None,
                median: Some(2.5),
                min: Some(2.5),
                max: Some(2.5),
            }
        );
        let d = describe(&[]);
        assert_eq!(d.n, 0);
        assert!(d.mean.is_none() && d.sd.is_none() && d.median.is_none());
        assert!(d.min.is_none() && d.max.is_none());
        let d = describe(&[1.0, 3.0]);
        assert_eq!((d.mean, d.median), (Some(2.0), Some(2.0)));
        assert_close(d.sd.unwrap(), std::f64::consts::SQRT_2);
    }

    #[test]
    fn percentile_matches_numpy() {
        // a = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, -7.25]
        // [repr(float(v)) for v in np.percentile(a, [0, 2.5, 25, 33.3, 50, 62.5, 97.5, 100])]
        let a = sorted_copy(&[3.0, 1.0, 4.0, 1.5, 9.0, 2.6, -7.25]);
        let cases = [
            (0.0, -7.25),
            (2.5, -6.012499999999999),
            (25.0, 1.25),
            (33.3, 1.4989999999999999),
            (50.0, 2.6),
            (62.5, 2.9),
            (97.5, 8.249999999999998),
            (100.0, 9.0),
        ];
        for (pct, expected) in cases {
            // numpy's lerp is reproduced exactly, so these agree to the bit.
            assert_eq!(percentile_sorted(&a, pct), Some(expected), "pct {pct}");
        }
        assert_eq!(percentile_sorted(&[5.0], 2.5), Some(5.0));
        assert_eq!(percentile_sorted(&[], 50.0), None);
    }

    /// A Mann–Whitney reference case: samples, U1 of `x` against `y`, U1 of
    /// `y` against `x`, and the two-sided p (the same in both orders).
    struct MwCase {
        x: Vec<f64>,
        y: Vec<f64>,
        u_xy: f64,
        u_yx: f64,
        p: f64,
    }

    fn mw_case(x: &[f64], y: &[f64], u_xy: f64, u_yx: f64, p: f64) -> MwCase {
        MwCase {
            x: x.to_vec(),
            y: y.to_vec(),
            u_xy,
            u_yx,
            p,
        }
    }

    /// r = scipy.stats.mannwhitneyu(x, y, alternative="two-sided",
    ///     method="asymptotic", use_continuity=True)
    /// repr(float(r.statistic)), repr(float(r.pvalue)), and the same with
    /// (y, x) for the second U.
    fn mann_whitney_cases() -> Vec<MwCase> {
        vec![
            // Ties across samples, unequal sizes, x smaller than y.
            mw_case(&X1, &Y1, 19.5, 43.5, 0.2197264285118472),
            // x larger than y, a tie across samples.
            mw_case(&X2, &Y2, 51.0, 9.0, 0.030295480596493587),
            // Complete separation: deep tail, erfc precision matters.
            mw_case(&x3(), &y3(), 0.0, 500.0, 1.205252299499121e-08),
            // All values tied: σ = 0, scipy gives p = 1.
            mw_case(&[1.0; 3], &[1.0; 2], 3.0, 3.0, 1.0),
            // Identical samples: U = n1·n2/2, p clipped to 1.
            mw_case(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0], 8.0, 8.0, 1.0),
            // n = 2 on both sides.
            mw_case(&[0.0, 1.0], &[2.0, 3.0], 0.0, 4.0, 0.2452781168067728),
            mw_case(&[1.0, 2.0], &[2.0, 5.0], 0.5, 3.5, 0.4142161782425252),
        ]
    }

    #[test]
    fn mann_whitney_matches_scipy_in_both_orders() {
        for MwCase { x, y, u_xy, u_yx, p } in mann_whitney_cases() {
            let a = mann_whitney_u(&x, &y).unwrap();
            let b = mann_whitney_u(&y, &x).unwrap();
            assert_eq!(a.u, u_xy, "U of {x:?} vs {y:?}");
            assert_eq!(b.u, u_yx, "U of {y:?} vs {x:?}");
            assert_close(a.p, p);
            assert_close(b.p, p);
            assert_eq!(a.u + b.u, (x.len() * y.len()) as f64);
        }
    }

    #[test]
    fn mann_whitney_all_tied_is_not_nan() {
        let r = mann_whitney_u(&[0.5; 4], &[0.5; 6]).unwrap();
        assert_eq!(r, MannWhitney { u: 12.0, p: 1.0 });
        // -0.0 and 0.0 are one tie group, as in numpy.
        let r = mann_whitney_u(&[0.0, -0.0], &[-0.0, 0.0]).unwrap();
        assert_eq!(r, MannWhitney { u: 2.0, p: 1.0 });
    }

    #[test]
    fn fewer_than_two_on_a_side_is_none() {
        let one = [1.0];
        let two = [1.0, 2.0];
        for (x, y) in [(&one[..], &two[..]), (&two[..], &one[..]), (&[][..], &two[..])] {
            assert!(mann_whitney_u(x, y).is_none());
            assert!(cliffs_delta(x, y).is_none());
            assert!(cohens_d(x, y).is_none());
            assert!(bootstrap_mean_diff_ci(x, y, 100, 1, 0.95).is_none());
        }
    }

    #[test]
    fn cliffs_delta_matches_numpy() {
        // repr(float(np.sign(np.subtract.outer(x, y)).mean()))
        let cases: [(&[f64], &[f64], f64); 5] = [
            (&X1, &Y1, -0.38095238095238093),
            (&X2, &Y2, 0.7),
            (&[1.0, 1.0, 1.0], &[1.0, 1.0], 0.0),
            (&[0.0, 1.0], &[2.0, 3.0], -1.0),
            (&[1.0, 2.0], &[2.0, 5.0], -0.75),
        ];
        for (x, y, expected) in cases {
            assert_close(cliffs_delta(x, y).unwrap(), expected);
            assert_close(cliffs_delta(y, x).unwrap(), -expected);
        }
        assert_eq!(cliffs_delta(&x3(), &y3()), Some(-1.0));
    }

    #[test]
    fn cliffs_delta_is_antisymmetric_and_agrees_with_u() {
        for MwCase { x, y, .. } in mann_whitney_cases() {
            let d = cliffs_delta(&x, &y).unwrap();
            assert_eq!(d, -cliffs_delta(&y, &x).unwrap());
            // δ = 2·U1/(n·m) − 1, since U1 counts wins plus half the ties.
            let u = mann_whitney_u(&x, &y).unwrap().u;
            let nm = (x.len() * y.len()) as f64;
            assert!((d - (2.0 * u / nm - 1.0)).abs() < 1e-15);
        }
    }

    #[test]
    fn cohens_d_matches_numpy() {
        // repr(float((x.mean() - y.mean()) / np.sqrt(((len(x) - 1) * x.var(ddof=1)
        //     + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))))
        let cases: [(&[f64], &[f64], f64); 4] = [
            (&X1, &Y1, -0.7585696655459574),
            (&X2, &Y2, 1.279816293742884),
            (&[0.0, 1.0], &[2.0, 3.0], -2.82842712474619),
            (&[1.0, 2.0], &[2.0, 5.0], -1.2649110640673518),
        ];
        for (x, y, expected) in cases {
            assert_close(cohens_d(x, y).unwrap(), expected);
            assert_close(cohens_d(y, x).unwrap(), -expected);
        }
        assert_close(cohens_d(&x3(), &y3()).unwrap(), -15.162709547249442);
        let same = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(cohens_d(&same, &same), Some(0.0));
    }

    #[test]
    fn cohens_d_with_zero_pooled_sd_is_none() {
        // numpy gives nan (0/0) here and ±inf for different constants.
        assert_eq!(cohens_d(&[1.0; 3], &[1.0; 2]), None);
        assert_eq!(cohens_d(&[1.0; 3], &[2.0; 2]), None);
    }

    #[test]
    fn splitmix64_reference_stream() {
        // Vigna's splitmix64.c seeded with 1234567.
        let mut rng = SplitMix64::new(1234567);
        let expected = [
            6457827717110365317,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
        let mut rng = SplitMix64::new(9);
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert!((0..10).all(|_| rng.below(1) == 0));
    }

    // Python reimplementation of the bootstrap, to regenerate the numbers in
    // `bootstrap_matches_python_reimplementation`:
    //
    // import numpy as np
    // M = (1 << 64) - 1
    // class SplitMix64:
    //     def __init__(self, seed): self.s = seed & M
    //     def next(self):
    //         self.s = (self.s + 0x9E3779B97F4A7C15) & M
    //         z = self.s
    //         z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    //         z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    //         return z ^ (z >> 31)
    //     def below(self, n):
    //         m = self.next() * n
    //         if (m & M) < n:
    //             t = ((1 << 64) - n) % n
    //             while (m & M) < t:
    //                 m = self.next() * n
    //         return m >> 64
    // def mean_of_resample(r, a):
    //     s = 0.0  # plain loop: Python >= 3.12's sum() is compensated
    //     for _ in a: s += a[r.below(len(a))]
    //     return s / len(a)
    // def boot(x, y, resamples, seed, lo=2.5, hi=97.5):
    //     r = SplitMix64(seed)
    //     d = []
    //     for _ in range(resamples):
    //         mx = mean_of_resample(r, x); my = mean_of_resample(r, y); d.append(mx - my)
    //     return [repr(float(v)) for v in np.percentile(d, [lo, hi])]
    // print(boot(X1, Y1, 2000, 42)); print(boot(Y1, X1, 2000, 7, 5.0, 95.0))
    #[test]
    fn bootstrap_matches_python_reimplementation() {
        let (lo, hi) = bootstrap_mean_diff_ci(&X1, &Y1, 2000, 42, 0.95).unwrap();
        assert_close(lo, -2.8609523809523814);
        assert_close(hi, 0.21460317460317302);
        let (lo, hi) = bootstrap_mean_diff_ci(&Y1, &X1, 2000, 7, 0.90).unwrap();
        assert_close(lo, 0.014285714285715078);
        assert_close(hi, 2.653968253968254);
    }

    #[test]
    fn bootstrap_is_deterministic_and_covers_the_observed_difference() {
        let observed = mean(&X2).unwrap() - mean(&Y2).unwrap();
        let a = bootstrap_mean_diff_ci(&X2, &Y2, DEFAULT_RESAMPLES, 3, 0.95).unwrap();
        let b = bootstrap_mean_diff_ci(&X2, &Y2, DEFAULT_RESAMPLES, 3, 0.95).unwrap();
        let c = bootstrap_mean_diff_ci(&X2, &Y2, DEFAULT_RESAMPLES, 4, 0.95).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for (lo, hi) in [a, c] {
            assert!(lo < observed && observed < hi, "{lo} {observed} {hi}");
        }
        // A wider level gives a wider interval from the same replicates.
        let w = bootstrap_mean_diff_ci(&X2, &Y2, DEFAULT_RESAMPLES, 3, 0.99).unwrap();
        assert!(w.0 < a.0 && a.1 < w.1);
        // The percentile interval is close to the normal one, ±1.96·SE, where
        // the bootstrap SE uses the plug-in (ddof = 0) variances.
        let var0 = |v: &[f64]| {
            let n = v.len() as f64;
            sd(v).unwrap().powi(2) * (n - 1.0) / n / n
        };
        let se = (var0(&X2) + var0(&Y2)).sqrt();
        let half = (a.1 - a.0) / 2.0;
        assert!((half / (1.959964 * se) - 1.0).abs() < 0.1, "{half} {se}");
    }

    #[test]
    fn bootstrap_rejects_bad_arguments() {
        assert!(bootstrap_mean_diff_ci(&X1, &Y1, 0, 1, 0.95).is_none());
        for level in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(bootstrap_mean_diff_ci(&X1, &Y1, 10, 1, level).is_none());
        }
        // Constant samples give a degenerate but valid interval.
        let ci = bootstrap_mean_diff_ci(&[2.0; 3], &[1.0; 4], 50, 1, 0.95);
        assert_eq!(ci, Some((1.0, 1.0)));
    }

    #[test]
    fn compare_bundles_the_individual_statistics() {
        let c = compare(&X1, &Y1, 500, 11);
        let ci = bootstrap_mean_diff_ci(&X1, &Y1, 500, 11, DEFAULT_LEVEL).unwrap();
        let mw = mann_whitney_u(&X1, &Y1).unwrap();
        assert_eq!(
            c,
            Comparison {
                n_x: 7,
                n_y: 9,
                mean_diff: Some(mean(&X1).unwrap() - mean(&Y1).unwrap()),
                ci_low: Some(ci.0),
                ci_high: Some(ci.1),
                mann_whitney_u: Some(mw.u),
                p_value: Some(mw.p),
                cliffs_delta: cliffs_delta(&X1, &Y1),
                cohens_d: cohens_d(&X1, &Y1),
            }
        );
        // repr(float(x.mean() - y.mean()))
        assert_close(c.mean_diff.unwrap(), -1.3238095238095249);
    }

    #[test]
    fn compare_with_too_few_values_has_only_counts() {
        let c = compare(&[1.0], &Y1, 100, 1);
        assert_eq!(
            c,
            Comparison {
                n_x: 1,
                n_y: 9,
                mean_diff: None,
                ci_low: None,
                ci_high: None,
                mann_whitney_u: None,
                p_value: None,
                cliffs_delta: None,
                cohens_d: None,
            }
        );
    }
}
