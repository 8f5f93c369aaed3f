//! The builders: observed (connectome + random E/I blocks), random and
//! feed-forward, in the notebook's two flavours of randomness.

use crate::matrix::Csr;
use crate::network::nulls::{count_positive, count_reciprocal};
use crate::network::rng::{FastRng, NumpyRandomState, PyRandom};
use crate::network::{Network, NetworkKind, NetworkSpec, RngMode, Weights};
use crate::{bail, Result};

/// Number of neurons of an observed network with `n_exc` excitatory ones:
/// the notebook's `int(n_exc / (1 - r_inhibitory))`.
pub fn observed_size(n_exc: usize, r_inhibitory: f64) -> usize {
    (n_exc as f64 / (1.0 - r_inhibitory)) as usize
}

/// Excitatory neurons of a data-free network: `int(n · (1 − r_inhibitory))`.
pub fn data_free_exc(n: usize, r_inhibitory: f64) -> usize {
    (n as f64 * (1.0 - r_inhibitory)) as usize
}

/// Build the network of `spec` for `seed`. `ee` is the E–E matrix (pre × post)
/// after the condition's null models; it is required for observed networks
/// and refused for the data-free ones.
pub fn build(spec: &NetworkSpec, ee: Option<&Csr>, seed: u64) -> Result<Network> {
    spec.validate()?;
    let (n, n_exc) = match (spec.kind, ee) {
        (NetworkKind::Observed, Some(m)) => (observed_size(m.n_rows, spec.r_inhibitory), m.n_rows),
        (NetworkKind::Observed, None) => bail!("network.kind = \"observed\" needs a connectome ([data])"),
        (_, Some(_)) => bail!("network.kind = \"{}\" is data-free: it takes no connectome", spec.kind.name()),
        (_, None) => (spec.n_neurons, data_free_exc(spec.n_neurons, spec.r_inhibitory)),
    };
    if n_exc == 0 || n_exc >= n && spec.kind != NetworkKind::Observed {
        bail!(
            "network: {n} neurons with r_inhibitory = {} leave {n_exc} excitatory; expected at least one of each",
            spec.r_inhibitory
        );
    }
    let w = match spec.rng {
        RngMode::Notebook => {
            if seed >= 1 << 32 {
                bail!("seed {seed}: notebook mode follows numpy's RandomState, which needs 0 <= seed < 2^32 (or use network.rng = \"fast\")");
            }
            let mut d = notebook_dense(spec, ee, n, n_exc, seed)?;
            if spec.balance {
                balance_dense(&mut d, n, n_exc, spec.inh_exc_balance);
            }
            Weights::Dense(d)
        }
        RngMode::Fast => {
            let mut s = fast_sparse(spec, ee, n, n_exc, seed);
            if spec.balance {
                balance_sparse(&mut s, n_exc, spec.inh_exc_balance);
            }
            Weights::Sparse(s)
        }
    };
    Ok(Network {
        n,
        n_exc,
        w,
        reciprocal: ee.map(count_reciprocal),
        nnz_ee: ee.map(count_positive),
    })
}

/// One directed Erdős–Rényi graph as networkx draws it: one `random()` per
/// ordered pair u ≠ v, row-major; `None` when p makes draws unnecessary.
struct ErStream {
    rng: Option<PyRandom>,
    p: f64,
}

impl ErStream {
    fn new(p: f64, seed: u64) -> Self {
        let draws = p > 0.0 && p < 1.0;
        ErStream { rng: draws.then(|| PyRandom::new(seed as i128)), p }
    }

    /// Whether edge u → v exists; must be called for every pair in row-major order.
    #[inline]
    fn edge(&mut self, u: usize, v: usize) -> bool {
        if u == v || self.p <= 0.0 {
            return false;
        }
        match &mut self.rng {
            Some(r) => r.random() < self.p,
            None => true,
        }
    }
}

/// The notebook's matrices, entry by entry, with both generators advanced in
/// lock-step (they are independent streams, so interleaving them is exact).
fn notebook_dense(spec: &NetworkSpec, ee: Option<&Csr>, n: usize, n_exc: usize, seed: u64) -> Result<Vec<f64>> {
    if n > 50_000 {
        bail!("network: {n} neurons is too many for network.rng = \"notebook\" (O(n²) draws and memory); use network.rng = \"fast\"");
    }
    let mut er = ErStream::new(spec.connectivity_proba, seed);
    let p_ee = spec.connectivity_proba_ee.unwrap_or(spec.connectivity_proba);
    let mut er_ee = (spec.kind == NetworkKind::Feedforward).then(|| ErStream::new(p_ee, seed));
    let mut normal = NumpyRandomState::new(seed as i128)?;
    let mut w = vec![0.0; n * n];
    if let Some(m) = ee {
        // W[EE] = M.T: row = post, column = pre.
        for pre in 0..m.n_rows {
            for (post, v) in m.row(pre) {
                w[post * n + pre] = v;
            }
        }
    }
    let g = spec.g;
    for u in 0..n {
        for v in 0..n {
            let edge = er.edge(u, v);
            let x = normal.normal(1.0, 0.2);
            let in_ee = u < n_exc && v < n_exc;
            let keep = match spec.kind {
                NetworkKind::Observed if in_ee => continue,
                NetworkKind::Feedforward if in_ee => {
                    let e = er_ee.as_mut().map_or(false, |s| s.edge(u, v));
                    e && u <= v
                }
                _ => edge,
            };
            if keep {
                w[u * n + v] = g * 10f64.powf(x.abs());
            }
        }
    }
    // Dale's law: inhibitory columns are negative.
    for row in w.chunks_exact_mut(n) {
        for x in &mut row[n_exc..] {
            *x = -*x;
        }
    }
    Ok(w)
}

/// numpy's pairwise summation (`np.add.reduce` on a contiguous row): the
/// first element seeds the accumulator and the rest is summed in blocks of
/// eight, split in halves above 128 — kept so balanced weights match to the ulp.
pub fn np_sum(a: &[f64]) -> f64 {
    match a.split_first() {
        None => 0.0,
        Some((first, rest)) => first + pairwise(rest),
    }
}

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for k in 0..8 {
                r[k] += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// Scale each row's inhibitory inputs so that Σ inh = −balance · Σ exc.
fn balance_factor(e: f64, s: f64, b: f64) -> f64 {
    let s = if s == 0.0 { 1.0 } else { s };
    e / -s * b
}

fn balance_dense(w: &mut [f64], n: usize, n_exc: usize, b: f64) {
    for row in w.chunks_exact_mut(n) {
        let f = balance_factor(np_sum(&row[..n_exc]), np_sum(&row[n_exc..]), b);
        for x in &mut row[n_exc..] {
            *x *= f;
        }
    }
}

fn balance_sparse(w: &mut Csr, n_exc: usize, b: f64) {
    for i in 0..w.n_rows {
        let r = w.indptr[i]..w.indptr[i + 1];
        let split = r.start + w.indices[r.clone()].partition_point(|&j| (j as usize) < n_exc);
        let f = balance_factor(np_sum(&w.values[r.start..split]), np_sum(&w.values[split..r.end]), b);
        for x in &mut w.values[split..r.end] {
            *x *= f;
        }
    }
}

// Stream labels of the fast generator.
const STREAM_MASK: u64 = 1;
const STREAM_MASK_EE: u64 = 2;
const STREAM_WEIGHTS: u64 = 3;

/// Columns `lo..hi` (minus `skip`) of one row kept with probability p, by
/// geometric skipping: O(edges) instead of O(n) draws.
fn er_row(g: &mut FastRng, p: f64, lo: usize, hi: usize, skip: usize, out: &mut Vec<usize>) {
    if p <= 0.0 || lo >= hi {
        return;
    }
    if p >= 1.0 {
        out.extend((lo..hi).filter(|&v| v != skip));
        return;
    }
    let log_q = (1.0 - p).ln();
    let mut v = lo as f64 - 1.0;
    loop {
        let u = 1.0 - g.uniform(); // (0, 1]
        v += 1.0 + (u.ln() / log_q).floor();
        if v >= hi as f64 {
            break;
        }
        if v as usize != skip {
            out.push(v as usize);
        }
    }
}

/// Same distributions as the notebook, drawn sparsely (never n × n).
fn fast_sparse(spec: &NetworkSpec, ee: Option<&Csr>, n: usize, n_exc: usize, seed: u64) -> Csr {
    let mut mask = FastRng::new(seed, STREAM_MASK);
    let mut mask_ee = FastRng::new(seed, STREAM_MASK_EE);
    let mut weights = FastRng::new(seed, STREAM_WEIGHTS);
    let ee_t = ee.map(Csr::transpose); // row = post
    let p = spec.connectivity_proba;
    let p_ee = spec.connectivity_proba_ee.unwrap_or(p);
    let mut w = Csr { n_rows: n, n_cols: n, indptr: vec![0], ..Default::default() };
    let mut cols = Vec::new();
    for u in 0..n {
        cols.clear();
        let mut lognormal = |cols: &[usize], w: &mut Csr| {
            for &v in cols {
                w.indices.push(v as u32);
                w.values.push(spec.g * 10f64.powf(weights.normal_abs()));
            }
        };
        if u < n_exc {
            match spec.kind {
                NetworkKind::Observed => {
                    if let Some(m) = &ee_t {
                        for (v, x) in m.row(u) {
                            w.indices.push(v as u32);
                            w.values.push(x);
                        }
                    }
                }
                NetworkKind::Random => er_row(&mut mask, p, 0, n_exc, u, &mut cols),
                NetworkKind::Feedforward => er_row(&mut mask_ee, p_ee, u + 1, n_exc, u, &mut cols),
            }
            er_row(&mut mask, p, n_exc, n, u, &mut cols);
        } else {
            er_row(&mut mask, p, 0, n, u, &mut cols);
        }
        lognormal(&cols, &mut w);
        w.indptr.push(w.values.len());
    }
    for (j, x) in w.indices.iter().zip(w.values.iter_mut()) {
        if *j as usize >= n_exc {
            *x = -*x;
        }
    }
    w
}

impl FastRng {
    /// `|N(1, 0.2)|`, the exponent of the log-normal weights.
    #[inline]
    fn normal_abs(&mut self) -> f64 {
        (1.0 + 0.2 * self.gauss()).abs()
    }
}
