//! (b) The network operator: `y = W x` for every lane of a batch, built
//! from a run's [`Parts`] as blocks with per-row scales. Dale's law and
//! the E/I balance are how the operator is built — the inhibitory inputs of
//! an excitatory row are one block scaled per row by the balancing factor
//! (`W_E· x = W_EE x + factor ⊙ (W_EI x)`) — not arithmetic in a kernel or
//! an integrator. Blocks shared by lanes (pointer identity of the parts)
//! are loaded once per product; blocks that nest run as one
//! ([`Block::nested`]).

use std::ops::Range;
use std::sync::Arc;

use crate::matrix::Csr;
use crate::network::build::Parts;
use crate::sim::kernels::{apply, apply_rows, Block, PARALLEL_ENTRIES};

/// `W x` for the active lanes of a batch, lane-minor (`x[i · width + b]`).
pub(crate) struct Operator {
    layout: Layout,
    /// Balancing factor of each excitatory row, laid out like the rates.
    factor: Vec<f64>,
    /// The inhibitory inputs of excitatory rows before scaling.
    y_ei: Vec<f64>,
    n: usize,
    n_exc: usize,
    width: usize,
}

impl Operator {
    /// The operator of lanes `active` of `lanes`, `width` lanes per row;
    /// `nest` as in [`Layout::new`].
    pub(crate) fn new(lanes: &[&Parts], active: &[usize], width: usize, nest: bool) -> Operator {
        let first = lanes[active[0]];
        let (n, n_exc) = (first.n, first.n_exc);
        let mut factor = vec![0.0; n_exc * width];
        for (b, &lane) in active.iter().enumerate() {
            for (i, &f) in lanes[lane].exc_factor.iter().enumerate() {
                factor[i * width + b] = f;
            }
        }
        Operator {
            layout: Layout::new(lanes, active, width, nest),
            factor,
            y_ei: vec![0.0; n_exc * width],
            n,
            n_exc,
            width,
        }
    }

    /// `y = W x` (both `n · width`). With `split`, every block's rows go in
    /// two halves, the second for an idle thread of the pool (rayon::join);
    /// rows are independent, so the bits are the same either way.
    pub(crate) fn apply(&mut self, x: &[f64], y: &mut [f64], avx2: bool, split: bool) {
        let small = |blocks: &[Block]| blocks.iter().all(|b| b.m.nnz() <= PARALLEL_ENTRIES);
        let (w, exc, inh) = (self.width, self.n_exc, self.n - self.n_exc);
        let l = &self.layout;
        let (y_ee, y_inh) = y.split_at_mut(exc * w);
        if split && small(&l.ee) && small(&l.ei) && small(&l.inh) {
            let (ee0, ee1) = y_ee.split_at_mut(exc / 2 * w);
            let (ei0, ei1) = self.y_ei.split_at_mut(exc / 2 * w);
            let (in0, in1) = y_inh.split_at_mut(inh / 2 * w);
            let part = |e: Range<usize>, i: Range<usize>, ee: &mut [f64], ei: &mut [f64], ih: &mut [f64]| {
                for b in &l.ee {
                    apply_rows(b, e.clone(), x, w, ee, avx2);
                }
                for b in &l.ei {
                    apply_rows(b, e.clone(), x, w, ei, avx2);
                }
                for b in &l.inh {
                    apply_rows(b, i.clone(), x, w, ih, avx2);
                }
            };
            rayon::join(
                || part(0..exc / 2, 0..inh / 2, ee0, ei0, in0),
                || part(exc / 2..exc, inh / 2..inh, ee1, ei1, in1),
            );
        } else {
            for b in &l.ee {
                apply(b, x, w, y_ee, avx2);
            }
            for b in &l.ei {
                apply(b, x, w, &mut self.y_ei, avx2);
            }
            for b in &l.inh {
                apply(b, x, w, y_inh, avx2);
            }
        }
        // The per-row scale of the inhibitory inputs of excitatory rows.
        for ((y, &f), &z) in y_ee.iter_mut().zip(&self.factor).zip(&self.y_ei) {
            *y += f * z;
        }
    }
}

/// Lanes grouped by the block they use (pointer identity).
pub(crate) fn groups(lanes: &[&Parts], pick: impl Fn(&Parts) -> &Arc<Csr>) -> Vec<(Arc<Csr>, Vec<usize>)> {
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

/// Which lanes use which block, for the active lanes (renumbered 0..).
struct Layout {
    ee: Vec<Block>,
    ei: Vec<Block>,
    inh: Vec<Block>,
}

impl Layout {
    /// With `nest`, blocks that nest run as one ([`Block::nested`]): only
    /// while every lane's rates are finite, since past that a zero weight
    /// times an infinite rate is NaN where the run alone has no term (the
    /// batched engine regroups without nesting then).
    fn new(lanes: &[&Parts], active: &[usize], width: usize, nest: bool) -> Layout {
        let act: Vec<&Parts> = active.iter().map(|&l| lanes[l]).collect();
        let n = act.first().map_or(0, |p| p.n);
        let blocks = |pick: fn(&Parts) -> &Arc<Csr>| {
            let g = groups(&act, pick);
            if !nest || g.len() < 2 {
                return g.into_iter().map(|(m, l)| Block::new(m, l, n, width)).collect();
            }
            // Greedily, in lane order: a cluster of groups grows while they
            // nest (`joined` is the cluster's nested block, once it has two).
            let mut out = Vec::new();
            let mut cluster: Vec<(Arc<Csr>, Vec<usize>)> = Vec::new();
            let mut joined: Option<Block> = None;
            for grp in g {
                cluster.push(grp);
                if cluster.len() == 1 {
                    continue;
                }
                match Block::nested(&cluster, n, width) {
                    Some(b) => joined = Some(b),
                    None => {
                        let last = cluster.pop().expect("just pushed");
                        out.push(match joined.take() {
                            Some(b) => b,
                            None => {
                                let (m, l) = cluster.pop().expect("a cluster of one");
                                Block::new(m, l, n, width)
                            }
                        });
                        cluster = vec![last];
                    }
                }
            }
            out.push(match joined {
                Some(b) => b,
                None => {
                    let (m, l) = cluster.pop().expect("groups were not empty");
                    Block::new(m, l, n, width)
                }
            });
            out
        };
        Layout {
            ee: blocks(|p| &p.ee),
            ei: blocks(|p| &p.exc_inh),
            inh: blocks(|p| &p.inh_rows),
        }
    }
}
