//! Small statistics helpers; figures must never panic on NaN/inf or empty
//! input, so everything here filters non-finite values itself.

/// Finite values only, sorted ascending.
pub(crate) fn sorted_finite(v: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut out: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    out.sort_by(f64::total_cmp);
    out
}

/// Quantile of sorted data with linear interpolation (numpy's default), so
/// boxes match what users get from `np.percentile`.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Mean and sample standard deviation (ddof = 1, 0 for a single value).
pub(crate) fn mean_sd(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some((mean, sd))
}

/// Box-plot summary: quartiles and Tukey whiskers (furthest data within
/// 1.5 IQR of the box).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoxStats {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub lo_whisker: f64,
    pub hi_whisker: f64,
}

/// Box-plot summary of sorted finite data; `None` when empty.
pub(crate) fn box_stats(sorted: &[f64]) -> Option<BoxStats> {
    let q1 = quantile_sorted(sorted, 0.25)?;
    let median = quantile_sorted(sorted, 0.5)?;
    let q3 = quantile_sorted(sorted, 0.75)?;
    let iqr = q3 - q1;
    let lo_lim = q1 - 1.5 * iqr;
    let hi_lim = q3 + 1.5 * iqr;
    let lo_whisker = sorted.iter().copied().find(|v| *v >= lo_lim).unwrap_or(q1).min(q1);
    let hi_whisker = sorted
        .iter()
        .rev()
        .copied()
        .find(|v| *v <= hi_lim)
        .unwrap_or(q3)
        .max(q3);
    Some(BoxStats {
        q1,
        median,
        q3,
        lo_whisker,
        hi_whisker,
    })
}

/// Deterministic pseudo-random offset in [-0.5, 0.5) for point `i` of group
/// `g`, so figures are reproducible byte for byte across runs.
pub(crate) fn jitter(g: usize, i: usize) -> f64 {
    // splitmix64 finaliser over the (group, index) pair.
    let mut z = (g as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i as u64)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// Counts of `values` in `nbins` equal bins over `[lo, hi]`; values outside
/// are ignored and `hi` itself goes into the last bin (numpy semantics).
pub(crate) fn histogram(values: &[f64], lo: f64, hi: f64, nbins: usize) -> Vec<usize> {
    let mut counts = vec![0usize; nbins.max(1)];
    let width = hi - lo;
    if !(width > 0.0 && width.is_finite()) {
        // Degenerate range: everything equal to lo lands in one bin.
        counts[0] = values.iter().filter(|v| **v == lo).count();
        return counts;
    }
    for &v in values {
        if !v.is_finite() || v < lo || v > hi {
            continue;
        }
        let b = (((v - lo) / width) * counts.len() as f64) as usize;
        let last = counts.len() - 1;
        counts[b.min(last)] += 1;
    }
    counts
}

/// Number of histogram bins for `n` values: numpy's "auto" rule (max of
/// Sturges and Freedman–Diaconis), clamped to a readable range.
pub(crate) fn auto_bins(sorted: &[f64]) -> usize {
    let n = sorted.len();
    if n < 2 {
        return 10;
    }
    let range = sorted[n - 1] - sorted[0];
    let sturges = (n as f64).log2().ceil() as usize + 1;
    let fd = match (quantile_sorted(sorted, 0.25), quantile_sorted(sorted, 0.75)) {
        (Some(a), Some(b)) if b > a && range > 0.0 => {
            let h = 2.0 * (b - a) / (n as f64).cbrt();
            (range / h).ceil() as usize
        }
        _ => 0,
    };
    sturges.max(fd).clamp(5, 50)
}

/// Splits a trace at non-finite samples (so gaps stay gaps) and reduces each
/// piece to at most ~`2 * buckets` points by keeping each bucket's min and
/// max, which preserves peaks that plain striding would miss.
pub(crate) fn decimated_segments(t: &[f64], v: &[f64], buckets: usize) -> Vec<Vec<(f64, f64)>> {
    let n = t.len().min(v.len());
    // Runs of finite samples are contiguous: kept as index ranges.
    let mut segments: Vec<std::ops::Range<usize>> = Vec::new();
    let mut i = 0;
    while i < n {
        if t[i].is_finite() && v[i].is_finite() {
            let start = i;
            while i < n && t[i].is_finite() && v[i].is_finite() {
                i += 1;
            }
            segments.push(start..i);
        } else {
            i += 1;
        }
    }
    let total: usize = segments.iter().map(|s| s.len()).sum();
    segments
        .into_iter()
        .map(|idx| {
            let len = idx.len();
            let share = ((buckets as f64) * len as f64 / total.max(1) as f64).ceil() as usize;
            let share = share.max(1);
            if len <= 2 * share {
                return idx.map(|i| (t[i], v[i])).collect();
            }
            let mut out = Vec::with_capacity(2 * share + 2);
            for b in 0..share {
                let a = idx.start + b * len / share;
                let e = (idx.start + (b + 1) * len / share).max(a + 1);
                // The first minimum and the first maximum, values kept in
                // registers rather than re-read at their indices.
                let (mut imin, mut imax) = (a, a);
                let (mut lo, mut hi) = (v[a], v[a]);
                for (i, &x) in (a..e).zip(&v[a..e]) {
                    if x < lo {
                        (lo, imin) = (x, i);
                    }
                    if x > hi {
                        (hi, imax) = (x, i);
                    }
                }
                let (first, second) = if imin <= imax { (imin, imax) } else { (imax, imin) };
                out.push((t[first], v[first]));
                if second != first {
                    out.push((t[second], v[second]));
                }
            }
            // Keep the true end point so the line reaches the right edge.
            let last = idx.end - 1;
            if out.last().map(|p| p.0) != Some(t[last]) {
                out.push((t[last], v[last]));
            }
            out
        })
        .collect()
}

/// Finite min and max over several series.
pub(crate) fn finite_range<'a>(series: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for s in series {
        for &v in s {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    (lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&s, 0.25), Some(1.75));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    #[test]
    fn whiskers_exclude_outliers() {
        let s = [1.0, 2.0, 3.0, 4.0, 100.0];
        let b = box_stats(&s).unwrap();
        assert_eq!(b.hi_whisker, 4.0);
        assert_eq!(b.lo_whisker, 1.0);
    }

    #[test]
    fn jitter_is_deterministic_and_bounded() {
        for i in 0..1000 {
            let j = jitter(3, i);
            assert!((-0.5..0.5).contains(&j));
            assert_eq!(j, jitter(3, i));
        }
        assert_ne!(jitter(0, 1), jitter(1, 1));
    }

    #[test]
    fn histogram_edges() {
        let c = histogram(&[0.0, 0.5, 1.0, 2.0, f64::NAN], 0.0, 1.0, 2);
        assert_eq!(c, vec![1, 2]);
    }

    #[test]
    fn decimation_keeps_peaks_and_gaps() {
        let t: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        let mut v = vec![0.0; 10_000];
        v[5_001] = 9.0;
        v[7_000] = f64::NAN;
        let segs = decimated_segments(&t, &v, 100);
        assert_eq!(segs.len(), 2);
        assert!(segs.iter().flatten().any(|p| p.1 == 9.0));
        assert!(segs.iter().map(|s| s.len()).sum::<usize>() < 500);
    }

    /// The decimation written plainly (index lists), as it was first.
    fn decimated_reference(t: &[f64], v: &[f64], buckets: usize) -> Vec<Vec<(f64, f64)>> {
        let n = t.len().min(v.len());
        let mut segments = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        for i in 0..n {
            if t[i].is_finite() && v[i].is_finite() {
                cur.push(i);
            } else if !cur.is_empty() {
                segments.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            segments.push(cur);
        }
        let total: usize = segments.iter().map(|s| s.len()).sum();
        segments
            .into_iter()
            .map(|idx| {
                let share = (((buckets as f64) * idx.len() as f64 / total.max(1) as f64).ceil() as usize).max(1);
                if idx.len() <= 2 * share {
                    return idx.iter().map(|&i| (t[i], v[i])).collect();
                }
                let mut out = Vec::new();
                for b in 0..share {
                    let a = b * idx.len() / share;
                    let e = ((b + 1) * idx.len() / share).max(a + 1);
                    let chunk = &idx[a..e];
                    let (mut imin, mut imax) = (chunk[0], chunk[0]);
                    for &i in chunk {
                        if v[i] < v[imin] {
                            imin = i;
                        }
                        if v[i] > v[imax] {
                            imax = i;
                        }
                    }
                    let (first, second) = if imin <= imax { (imin, imax) } else { (imax, imin) };
                    out.push((t[first], v[first]));
                    if second != first {
                        out.push((t[second], v[second]));
                    }
                }
                let last = *idx.last().unwrap();
                if out.last().map(|p| p.0) != Some(t[last]) {
                    out.push((t[last], v[last]));
                }
                out
            })
            .collect()
    }

    #[test]
    fn decimation_equals_the_plain_version() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..200 {
            let n = (next() * 3000.0) as usize;
            let t: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    let x = next();
                    if x < 0.01 * (case % 4) as f64 {
                        [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][(x * 1000.0) as usize % 3]
                    } else {
                        next() * 10.0 - 5.0
                    }
                })
                .collect();
            let buckets = 1 + (next() * 900.0) as usize;
            let bits = |s: Vec<Vec<(f64, f64)>>| {
                s.into_iter()
                    .map(|seg| {
                        seg.into_iter()
                            .map(|(a, b)| (a.to_bits(), b.to_bits()))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                bits(decimated_segments(&t, &v, buckets)),
                bits(decimated_reference(&t, &v, buckets)),
                "case {case}: n = {n}, buckets = {buckets}"
            );
        }
    }
}
