//! The batched engine: several runs of one sweep point advanced together,
//! so that weights they share are loaded once per step and used for every
//! run ("a sparse matrix times a small dense block of rate vectors").
//!
//! A run's weights come as [`Parts`]; runs of one seed share their random
//! blocks, runs of one condition without seeded null models share their
//! E–E block. Sharing is detected by pointer identity of the parts.
//!
//! Every run's arithmetic is the same whichever runs it is batched with: a
//! row's dot product always sums entry `p` into accumulator `p mod 4`, in
//! entry order, and the accumulators are combined in one fixed way. Results
//! therefore never depend on thread count, shard split or batch shape.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::matrix::Csr;
use crate::network::build::Parts;
use crate::sim::{MetricSpec, Observer, Record, Response, Schedule, SimSpec, Trace, Verdict};

/// `out[i][lane]` = row `i` of `m` · column `lane` of `r`, for `K` adjacent
/// lanes starting at `off`; `r` and `out` hold `width` lanes per row.
///
/// The hot loop of every simulation. Indices are checked once per batch (see
/// [`Layout::new`]), so the loop reads without bounds checks.
#[inline]
fn rows_times_lanes<const K: usize>(m: &Csr, rows: Range<usize>, r: &[f64], width: usize, off: usize, out: &mut [f64]) {
    assert!(off + K <= width && r.len() >= m.n_cols * width && out.len() >= rows.len() * width && rows.end <= m.n_rows);
    assert!(
        m.indptr.len() == m.n_rows + 1 && m.indptr[m.n_rows] <= m.values.len() && m.values.len() == m.indices.len()
    );
    let rp = r.as_ptr();
    let first = rows.start;
    for i in rows {
        let (lo, hi) = (m.indptr[i], m.indptr[i + 1]);
        let idx = &m.indices[lo..hi];
        let val = &m.values[lo..hi];
        let mut acc = [[0.0f64; K]; 4];
        let chunks = idx.len() / 4;
        for c in 0..chunks {
            for k in 0..4 {
                let p = c * 4 + k;
                // SAFETY: p < idx.len() = val.len(); idx[p] < n_cols (checked by
                // Layout::new for every block), so base + K <= n_cols · width <= r.len().
                unsafe {
                    let w = *val.get_unchecked(p);
                    let base = *idx.get_unchecked(p) as usize * width + off;
                    for b in 0..K {
                        acc[k][b] += w * *rp.add(base + b);
                    }
                }
            }
        }
        let o = &mut out[(i - first) * width + off..(i - first) * width + off + K];
        for b in 0..K {
            o[b] = (acc[0][b] + acc[2][b]) + (acc[1][b] + acc[3][b]);
        }
        for p in chunks * 4..idx.len() {
            let w = val[p];
            let base = idx[p] as usize * width + off;
            for b in 0..K {
                o[b] += w * r[base + b];
            }
        }
    }
}

/// Blocks with more entries than this are split over rows across threads
/// (large networks); smaller ones run on the calling thread, which is already
/// one of many running batches.
const PARALLEL_ENTRIES: usize = 1 << 20;

/// Apply `m` to the given lanes (sorted), adjacent lanes four at a time.
fn apply(m: &Csr, lanes: &[usize], r: &[f64], width: usize, out: &mut [f64]) {
    if m.nnz() > PARALLEL_ENTRIES && rayon::current_num_threads() > 1 {
        // Rows are independent: any split gives the same bits.
        let chunk = m.n_rows.div_ceil(rayon::current_num_threads() * 8).max(1);
        out[..m.n_rows * width]
            .par_chunks_mut(chunk * width)
            .enumerate()
            .for_each(|(c, o)| {
                let rows = c * chunk..((c + 1) * chunk).min(m.n_rows);
                apply_rows(m, rows, lanes, r, width, o);
            });
    } else {
        apply_rows(m, 0..m.n_rows, lanes, r, width, out);
    }
}

fn apply_rows(m: &Csr, rows: Range<usize>, lanes: &[usize], r: &[f64], width: usize, out: &mut [f64]) {
    let mut k = 0;
    while k < lanes.len() {
        let mut len = 1;
        while len < 4 && k + len < lanes.len() && lanes[k + len] == lanes[k] + len {
            len += 1;
        }
        let off = lanes[k];
        let rows = rows.clone();
        match len {
            4 => rows_times_lanes::<4>(m, rows, r, width, off, out),
            3 => rows_times_lanes::<3>(m, rows, r, width, off, out),
            2 => rows_times_lanes::<2>(m, rows, r, width, off, out),
            _ => rows_times_lanes::<1>(m, rows, r, width, off, out),
        }
        k += len;
    }
}

/// Lanes grouped by the block they use (pointer identity).
fn groups(lanes: &[&Parts], pick: impl Fn(&Parts) -> &Arc<Csr>) -> Vec<(Arc<Csr>, Vec<usize>)> {
    let mut out: Vec<(Arc<Csr>, Vec<usize>)> = Vec::new();
    for (b, p) in lanes.iter().enumerate() {
        let m = pick(p);
        match out.iter_mut().find(|(x, _)| Arc::ptr_eq(x, m)) {
            Some((_, l)) => l.push(b),
            None => out.push((m.clone(), vec![b])),
        }
    }
    out
}

/// Simulate several runs of one network size and schedule together; the
/// responses come back in lane order.
pub fn simulate_batch(
    lanes: &[&Parts],
    schedule: &Schedule,
    sim: &SimSpec,
    metric: &MetricSpec,
    record: &Record,
) -> Vec<Response> {
    let Some(first) = lanes.first() else {
        return vec![];
    };
    let (n, n_exc) = (first.n, first.n_exc);
    assert!(
        lanes.iter().all(|p| p.n == n && p.n_exc == n_exc),
        "a batch holds networks of one size"
    );
    let mut active: Vec<usize> = (0..lanes.len()).collect();
    let mut observers: Vec<Observer> = lanes
        .iter()
        .map(|_| Observer::new(schedule, metric, n_exc, sim.stop_early))
        .collect();
    let mut traces: Vec<Option<Trace>> = lanes
        .iter()
        .map(|_| {
            record.trace.then(|| Trace {
                neurons: record.neurons.iter().copied().filter(|&i| i < n).collect(),
                rates: vec![Vec::new(); record.neurons.iter().filter(|&&i| i < n).count()],
                ..Default::default()
            })
        })
        .collect();
    let mut results: Vec<Option<Response>> = vec![None; lanes.len()];
    let mut width = active.len();
    let mut r = vec![0.0; n * width];
    let mut y_ee = vec![0.0; n_exc * width];
    let mut y_ei = vec![0.0; n_exc * width];
    let mut y_inh = vec![0.0; (n - n_exc) * width];
    let mut lane_r = vec![0.0; n];
    let mut layout = Layout::new(lanes, &active);
    let (dt, tau, f) = (sim.dt, sim.tau, sim.transfer);
    for k in 0..schedule.steps {
        let last = k + 1 == schedule.steps;
        let mut finished = Vec::new();
        for (b, &lane) in active.iter().enumerate() {
            for (i, x) in lane_r.iter_mut().enumerate() {
                *x = r[i * width + b];
            }
            let decided = observers[lane].observe(k, &lane_r) == Verdict::Decided;
            if let Some(t) = &mut traces[lane] {
                super::push_trace(t, k, &lane_r, n_exc, schedule);
            }
            if (decided && traces[lane].is_none()) || last {
                results[lane] = Some(observers[lane].finish(k + 1, traces[lane].take()));
                finished.push(b);
            }
        }
        if !finished.is_empty() {
            let keep: Vec<usize> = (0..active.len()).filter(|b| !finished.contains(b)).collect();
            if keep.is_empty() {
                break;
            }
            let w2 = keep.len();
            let mut r2 = vec![0.0; n * w2];
            for i in 0..n {
                for (nb, &ob) in keep.iter().enumerate() {
                    r2[i * w2 + nb] = r[i * width + ob];
                }
            }
            active = keep.iter().map(|&b| active[b]).collect();
            width = w2;
            r = r2;
            y_ee.truncate(n_exc * width);
            y_ei.truncate(n_exc * width);
            y_inh.truncate((n - n_exc) * width);
            layout = Layout::new(lanes, &active);
        }
        for (m, l) in &layout.ee {
            apply(m, l, &r, width, &mut y_ee);
        }
        for (m, l) in &layout.ei {
            apply(m, l, &r, width, &mut y_ei);
        }
        for (m, l) in &layout.inh {
            apply(m, l, &r, width, &mut y_inh);
        }
        let input = schedule.input(k);
        // Inputs in place of y_ee, then the Euler update in the notebook's order.
        for (b, &lane) in active.iter().enumerate() {
            let factor = &lanes[lane].exc_factor;
            for i in 0..n_exc {
                let k = i * width + b;
                y_ee[k] += factor[i] * y_ei[k];
            }
        }
        let n_target = schedule.n_target;
        for i in 0..n {
            let stim = if i < n_target { input } else { 0.0 };
            let ys = if i < n_exc {
                &y_ee[i * width..(i + 1) * width]
            } else {
                &y_inh[(i - n_exc) * width..(i - n_exc + 1) * width]
            };
            let rs = &mut r[i * width..(i + 1) * width];
            for (ri, &y) in rs.iter_mut().zip(ys) {
                *ri += (-*ri + f.apply(y + stim)) * dt / tau;
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every lane finishes by the last step"))
        .collect()
}

/// Which lanes use which block, for the active lanes (renumbered 0..).
struct Layout {
    ee: Vec<(Arc<Csr>, Vec<usize>)>,
    ei: Vec<(Arc<Csr>, Vec<usize>)>,
    inh: Vec<(Arc<Csr>, Vec<usize>)>,
}

impl Layout {
    fn new(lanes: &[&Parts], active: &[usize]) -> Layout {
        let act: Vec<&Parts> = active.iter().map(|&l| lanes[l]).collect();
        // The kernel reads without bounds checks: every column index must be in range.
        for p in &act {
            for m in [&p.ee, &p.exc_inh, &p.inh_rows] {
                assert!(m.indices.iter().all(|&j| (j as usize) < m.n_cols) && m.n_cols <= p.n);
            }
        }
        Layout {
            ee: groups(&act, |p| &p.ee),
            ei: groups(&act, |p| &p.exc_inh),
            inh: groups(&act, |p| &p.inh_rows),
        }
    }
}
