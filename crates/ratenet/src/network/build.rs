//! The builders: observed (connectome + random E/I blocks), random and
//! feed-forward, in the notebook's two flavours of randomness.

use crate::matrix::Csr;
use crate::network::nulls::{self, count_positive, count_reciprocal};
use crate::network::rng::{FastRng, NumpyNormals, PyRandom};
use std::ops::Range;
use std::sync::Arc;

use crate::data::Connectome;
use crate::network::{Inhibition, Network, NetworkKind, NetworkSpec, RngMode, Weights};
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

/// A network in the pieces a simulation needs, split so that runs differing
/// only in their E–E matrix can share everything else:
///
/// - `ee`: the E–E block (row = post, column = pre), from the connectome;
/// - `exc_inh`: inhibitory inputs of excitatory neurons, before balancing;
/// - `exc_factor`: the per-row balancing factor of those inputs (it depends
///   on the E–E block through each row's excitatory sum);
/// - `inh_rows`: all inputs of inhibitory neurons, balanced (independent of
///   the E–E block, so shared by every condition of a seed).
///
/// Every weight is `W[i][j]` of the notebook's matrix: excitatory rows are
/// `ee[i] ++ exc_factor[i] · exc_inh[i]`, inhibitory rows are `inh_rows[i − n_exc]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// Neurons.
    pub n: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// E–E block, n_exc × n_exc, row = post.
    pub ee: Arc<Csr>,
    /// Rows 0..n_exc, columns n_exc..n (global column indices), Dale-negated,
    /// unbalanced; each row in summation order (see [`RandomParts`]).
    pub exc_inh: Arc<Csr>,
    /// Balancing factor of each excitatory row's inhibitory inputs (1 without balance).
    pub exc_factor: Arc<Vec<f64>>,
    /// Rows n_exc..n (local row index), all columns, Dale-negated and
    /// balanced; each row in summation order (see [`RandomParts`]).
    pub inh_rows: Arc<Csr>,
    /// Reciprocal ordered pairs of the E–E matrix (observed networks only).
    pub reciprocal: Option<u64>,
    /// Non-zeros of the E–E matrix (observed networks only).
    pub nnz_ee: Option<u64>,
}

/// The random part of a network: everything a seed draws, independent of
/// the E–E connectome (which only sets n and n_exc).
///
/// The rows of `exc_inh` and `inh_rows` are stored in the order their dot
/// products are summed. In notebook mode with 0 < p < 1 that is the order of
/// the Erdős–Rényi uniforms that decided the edges (ties by column), not the
/// column order: the edges kept at a smaller p are then a prefix of every
/// row kept at a larger one, with the same weights, so the batched engine can
/// run the points of a `connectivity_proba` sweep as lanes of one block with
/// bits identical to running each alone. Otherwise rows are in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomParts {
    /// Neurons.
    pub n: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// See [`Parts::exc_inh`].
    pub exc_inh: Arc<Csr>,
    /// numpy's sum of each row of `exc_inh` in column order (the notebook's
    /// balance), kept because the rows themselves may be in another order.
    pub exc_inh_sums: Arc<Vec<f64>>,
    /// See [`Parts::inh_rows`].
    pub inh_rows: Arc<Csr>,
    /// The drawn E–E block of the data-free networks (row = post).
    pub ee: Option<Arc<Csr>>,
}

/// Sizes (n, n_exc) of the network of `spec` given the connectome size, if any.
pub fn sizes(spec: &NetworkSpec, n_ee: Option<usize>) -> Result<(usize, usize)> {
    let (n, n_exc) = match (spec.kind, n_ee) {
        (NetworkKind::Observed, Some(m)) => (observed_size(m, spec.r_inhibitory), m),
        (NetworkKind::Observed, None) => bail!("network.kind = \"observed\" needs a connectome ([data])"),
        (_, Some(_)) => bail!(
            "network.kind = \"{}\" is data-free: it takes no connectome",
            spec.kind.name()
        ),
        (_, None) => (spec.n_neurons, data_free_exc(spec.n_neurons, spec.r_inhibitory)),
    };
    if n_exc == 0 || (n_exc >= n && spec.kind != NetworkKind::Observed) {
        bail!(
            "network: {n} neurons with r_inhibitory = {} leave {n_exc} excitatory; expected at least one of each",
            spec.r_inhibitory
        );
    }
    Ok((n, n_exc))
}

/// Sizes (n, n_exc) of the network of `spec` on `connectome`, if any: with
/// observed inhibition the connectome's own (`r_inhibitory` does not
/// apply), otherwise [`sizes`] of its E–E block.
pub fn sizes_for(spec: &NetworkSpec, connectome: Option<&Connectome>) -> Result<(usize, usize)> {
    match (spec.inhibition, connectome) {
        (Inhibition::Observed, Some(c)) if spec.kind == NetworkKind::Observed => {
            if c.n_inh == 0 || c.n_exc() == 0 {
                bail!(
                    "network.inhibition = \"observed\": the connectome has {} excitatory and {} inhibitory neurons; expected at least one of each ([data.inhibitory_select])",
                    c.n_exc(),
                    c.n_inh
                );
            }
            Ok((c.n(), c.n_exc()))
        }
        (Inhibition::Random, Some(c)) if c.n_inh > 0 => bail!(
            "network.inhibition = \"random\" on a connectome with {} observed inhibitory neurons",
            c.n_inh
        ),
        _ => sizes(spec, connectome.map(|c| c.n())),
    }
}

/// The part of an observed network with observed inhibition that is not
/// its E–E block, taken from the connectome as [`random_parts`] draws it
/// otherwise: `W[post][pre] = matrix[pre][post]`, inhibitory columns negated
/// (Dale's law), the inhibitory rows balanced, rows in column order. It
/// depends on no seed.
pub fn observed_parts(spec: &NetworkSpec, c: &Connectome) -> Result<RandomParts> {
    spec.validate()?;
    let (n, n_exc) = sizes_for(spec, Some(c))?;
    Ok(finish_random_parts(spec, c.matrix.transpose(), None, n, n_exc))
}

/// Draw the random part of a network for `seed`.
pub fn random_parts(spec: &NetworkSpec, n: usize, n_exc: usize, seed: u64) -> Result<RandomParts> {
    spec.validate()?;
    let (rows, keys) = match spec.rng {
        RngMode::Notebook => {
            notebook_seed(seed)?;
            notebook_rows(spec, n, n_exc, seed)?
        }
        RngMode::Fast => (fast_rows(spec, n, n_exc, seed), None),
    };
    Ok(finish_random_parts(spec, rows, keys, n, n_exc))
}

fn notebook_seed(seed: u64) -> Result<()> {
    if seed >= 1 << 32 {
        bail!("seed {seed}: notebook mode follows numpy's RandomState, which needs 0 <= seed < 2^32 (or use network.rng = \"fast\")");
    }
    Ok(())
}

/// Everything the notebook draws for one seed outside the E–E block of an
/// observed network that sweep points up to `p_max` can use: per pair
/// (row-major, E–E pairs left out) the uniform its Erdős–Rényi edge is
/// decided by and `10^|x|` of its normal draw, kept only for the pairs that
/// are an edge at `p_max` (all pairs but the diagonal if `p_max >= 1`). A
/// sweep over `connectivity_proba`, `g` or the balance then builds each
/// point's random blocks from one drawing ([`random_parts_from`]), exactly as
/// if drawn afresh: the streams do not depend on those parameters, only
/// which draws are used does.
///
/// Each row's kept pairs are also ordered once by their uniforms (ties by
/// column) — the summation order of [`RandomParts`] — so that a point's rows
/// are prefixes of that order and nothing is sorted per point.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedDraws {
    /// Neurons.
    pub n: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// The largest connection probability the drawing serves.
    p_max: f64,
    /// Where each row's kept pairs start (n + 1 bounds).
    rows: Vec<usize>,
    /// Per kept pair, in column order within a row: the column,
    column: Vec<u32>,
    /// the Erdős–Rényi uniform,
    uniform: Vec<f64>,
    /// and `10^|x|` of the normal draw.
    magnitude: Vec<f64>,
    /// Per row, its kept pairs by uniform (ties by column): offsets into the row.
    by_uniform: Vec<u32>,
}

impl SeedDraws {
    /// Draw for `seed` (notebook streams) a network of `n` neurons, `n_exc`
    /// excitatory, for connection probabilities up to `p_max`.
    pub fn draw(n: usize, n_exc: usize, seed: u64, p_max: f64) -> Result<SeedDraws> {
        notebook_seed(seed)?;
        let mut d = SeedDraws {
            n,
            n_exc,
            p_max,
            rows: vec![0],
            column: Vec::new(),
            uniform: Vec::new(),
            magnitude: Vec::new(),
            by_uniform: Vec::new(),
        };
        let mut er = PyRandom::new(seed as i128);
        let mut normal = NumpyNormals::new(seed as i128)?;
        for u in 0..n {
            let mut first = 0;
            if u < n_exc {
                // E–E pairs keep nothing: both streams move past them (the
                // diagonal draws no uniform).
                er.skip(n_exc - 1);
                normal.skip(n_exc);
                first = n_exc;
            }
            let start = d.column.len();
            for v in first..n {
                let x = if u == v { f64::NAN } else { er.random() };
                // Only the pairs some point can use pay for their normal.
                if u != v && (p_max >= 1.0 || x < p_max) {
                    d.column.push(v as u32);
                    d.uniform.push(x);
                    d.magnitude.push(10f64.powf(normal.normal(1.0, 0.2).abs()));
                } else {
                    normal.skip_gauss();
                }
            }
            let at = d.by_uniform.len();
            d.by_uniform.extend(0..(d.column.len() - start) as u32);
            // Stable: equal uniforms keep column order.
            let uniform = &d.uniform[start..];
            d.by_uniform[at..].sort_by(|&a, &b| uniform[a as usize].total_cmp(&uniform[b as usize]));
            d.rows.push(d.column.len());
        }
        Ok(d)
    }

    /// Bytes held (for callers that keep many).
    pub fn bytes(&self) -> usize {
        self.column.len() * (4 + 8 + 8 + 4) + self.rows.len() * 8
    }
}

/// The random part of an observed network in notebook mode from `draws`:
/// the same as [`random_parts`] for the seed drawn. Each row is read twice:
/// in column order for the sums the notebook takes (balance), and in the
/// order of its uniforms for storage, up to the first that is not an edge.
pub fn random_parts_from(spec: &NetworkSpec, draws: &SeedDraws) -> Result<RandomParts> {
    spec.validate()?;
    if spec.kind != NetworkKind::Observed || spec.rng != RngMode::Notebook {
        bail!("network: drawings are kept for observed networks in notebook mode only");
    }
    let (n, n_exc) = (draws.n, draws.n_exc);
    let p = spec.connectivity_proba;
    if p > draws.p_max && (p < 1.0 || draws.p_max < 1.0) {
        bail!(
            "network.connectivity_proba = {p}: the drawing kept pairs up to {} only",
            draws.p_max
        );
    }
    // As ErStream: p outside (0, 1) decides without a draw, and the
    // uniforms order the rows only when they were drawn.
    let drawn = p > 0.0 && p < 1.0;
    let edge = |k: usize| p > 0.0 && (p >= 1.0 || draws.uniform[k] < p);
    let block = |rows: usize| Csr {
        n_rows: rows,
        n_cols: n,
        indptr: vec![0],
        ..Default::default()
    };
    let (mut exc_inh, mut inh_rows) = (block(n_exc), block(n - n_exc));
    let mut exc_inh_sums = Vec::with_capacity(n_exc);
    let (mut exc, mut inh) = (Vec::new(), Vec::new());
    for u in 0..n {
        let row = draws.rows[u]..draws.rows[u + 1];
        // Dale's law: inhibitory columns are negative.
        let value = |k: usize| {
            let x = spec.g * draws.magnitude[k];
            if draws.column[k] as usize >= n_exc {
                -x
            } else {
                x
            }
        };
        // The notebook's sums, in column order.
        exc.clear();
        inh.clear();
        for k in row.clone().filter(|&k| edge(k)) {
            if (draws.column[k] as usize) < n_exc {
                exc.push(value(k));
            } else {
                inh.push(value(k));
            }
        }
        let (out, scale) = if u < n_exc {
            exc_inh_sums.push(np_sum(&inh));
            (&mut exc_inh, 1.0)
        } else if spec.balance {
            let f = balance_factor(np_sum(&exc), np_sum(&inh), spec.inh_exc_balance);
            (&mut inh_rows, f)
        } else {
            (&mut inh_rows, 1.0)
        };
        let mut push = |k: usize| {
            let j = draws.column[k];
            out.indices.push(j);
            // Only inhibitory inputs of inhibitory rows are balanced.
            out.values.push(if u >= n_exc && spec.balance && j as usize >= n_exc {
                value(k) * scale
            } else {
                value(k)
            });
        };
        if drawn {
            for &o in &draws.by_uniform[row.clone()] {
                let k = row.start + o as usize;
                if !edge(k) {
                    break;
                }
                push(k);
            }
        } else {
            row.filter(|&k| edge(k)).for_each(&mut push);
        }
        out.indptr.push(out.values.len());
    }
    Ok(RandomParts {
        n,
        n_exc,
        exc_inh: Arc::new(exc_inh),
        exc_inh_sums: Arc::new(exc_inh_sums),
        inh_rows: Arc::new(inh_rows),
        ee: None,
    })
}

/// Dale's law, the split into blocks, the inhibitory rows' balance (all in
/// column order, as the notebook sums), then the summation order: by `keys`
/// (one per entry of `rows`: the Erdős–Rényi uniform of the edge) where given.
fn finish_random_parts(
    spec: &NetworkSpec,
    mut rows: Csr,
    keys: Option<Vec<f64>>,
    n: usize,
    n_exc: usize,
) -> RandomParts {
    // Dale's law: inhibitory columns are negative.
    for (j, x) in rows.indices.iter().zip(rows.values.iter_mut()) {
        if *j as usize >= n_exc {
            *x = -*x;
        }
    }
    let (ee, mut exc_inh, mut inh_rows) = split(&rows, n_exc);
    if spec.balance {
        for i in 0..inh_rows.n_rows {
            let r = inh_rows.indptr[i]..inh_rows.indptr[i + 1];
            let split = r.start + inh_rows.indices[r.clone()].partition_point(|&j| (j as usize) < n_exc);
            let f = balance_factor(
                np_sum(&inh_rows.values[r.start..split]),
                np_sum(&inh_rows.values[split..r.end]),
                spec.inh_exc_balance,
            );
            for x in &mut inh_rows.values[split..r.end] {
                *x *= f;
            }
        }
    }
    let exc_inh_sums = (0..n_exc)
        .map(|i| np_sum(&exc_inh.values[exc_inh.indptr[i]..exc_inh.indptr[i + 1]]))
        .collect();
    if let Some(keys) = keys {
        // The keys as a matrix of the same pattern split alike, so that each
        // block gets its entries' keys in its own storage order.
        let (_, ei_keys, ir_keys) = split(&Csr { values: keys, ..rows }, n_exc);
        sort_rows(&mut exc_inh, &ei_keys.values);
        sort_rows(&mut inh_rows, &ir_keys.values);
    }
    let ee = (spec.kind != NetworkKind::Observed).then(|| Arc::new(ee));
    RandomParts {
        n,
        n_exc,
        exc_inh: Arc::new(exc_inh),
        exc_inh_sums: Arc::new(exc_inh_sums),
        inh_rows: Arc::new(inh_rows),
        ee,
    }
}

/// Reorder the entries of every row of `m` (in column order) by their
/// `keys` (one per entry, in storage order), ties by column.
fn sort_rows(m: &mut Csr, keys: &[f64]) {
    assert_eq!(keys.len(), m.nnz(), "one key per entry");
    let mut row: Vec<(f64, u32, f64)> = Vec::new();
    for i in 0..m.n_rows {
        let r = m.indptr[i]..m.indptr[i + 1];
        row.clear();
        row.extend(
            keys[r.clone()]
                .iter()
                .zip(&m.indices[r.clone()])
                .zip(&m.values[r.clone()])
                .map(|((&k, &j), &v)| (k, j, v)),
        );
        // Stable, so equal keys keep column order.
        row.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (k, &(_, j, v)) in r.zip(row.iter()) {
            m.indices[k] = j;
            m.values[k] = v;
        }
    }
}

/// Split full rows into the E–E block, the excitatory rows' inhibitory
/// inputs and the inhibitory rows.
fn split(w: &Csr, n_exc: usize) -> (Csr, Csr, Csr) {
    let n = w.n_rows;
    let exc = |i: usize| w.row(i).filter(|&(j, _)| j < n_exc).collect::<Vec<_>>();
    let inh = |i: usize| w.row(i).filter(|&(j, _)| j >= n_exc).collect::<Vec<_>>();
    let ee = Csr::from_sorted_triplets(
        n_exc,
        n_exc,
        (0..n_exc).flat_map(|i| exc(i).into_iter().map(move |(j, v)| (i, j, v))),
    );
    let ei = Csr::from_sorted_triplets(
        n_exc,
        n,
        (0..n_exc).flat_map(|i| inh(i).into_iter().map(move |(j, v)| (i, j, v))),
    );
    let ir = Csr::from_sorted_triplets(
        n - n_exc,
        n,
        (n_exc..n).flat_map(|i| w.row(i).map(move |(j, v)| (i - n_exc, j, v))),
    );
    (ee, ei, ir)
}

/// An E–E block as the engine reads it: rows = post, each row in summation
/// order, with numpy's sum of each row in column order (the notebook's
/// balance). Runs that share one share its `Arc`s.
#[derive(Debug, Clone, PartialEq)]
pub struct EeBlock {
    /// The block, row = post.
    pub t: Arc<Csr>,
    /// Per row, the sum of its weights in column order.
    pub sums: Arc<Vec<f64>>,
}

impl EeBlock {
    /// The block of an observed E–E matrix `m` (pre × post) taken as it is:
    /// [`EeBlock::keyed`] with the keys of [`nulls::Keyed::new`].
    pub fn observed(m: &Csr) -> EeBlock {
        let k = nulls::Keyed::new(m.clone());
        EeBlock::keyed(&k.m, &k.keys)
    }

    /// The block of an E–E matrix `m` (pre × post, after null models) whose
    /// entries carry summation keys (see [`nulls::Keyed`]): each row sums
    /// its entries by key, ties by column — the entries `remove_reciprocal`
    /// keeps first, then the ones it drops. The matrix without reciprocal
    /// pairs then has every row a prefix of the observed one's (shuffled
    /// alike or not), with the same weights, so the batched engine runs the
    /// two as lanes of one block, bit for bit as alone.
    pub fn keyed(m: &Csr, keys: &[f64]) -> EeBlock {
        assert_eq!(keys.len(), m.nnz(), "one key per entry");
        let mut t = m.transpose();
        let sums = row_sums(&t);
        // The keys as a matrix of the same pattern transpose alike.
        let kt = Csr {
            values: keys.to_vec(),
            ..m.clone()
        }
        .transpose();
        sort_rows(&mut t, &kt.values);
        EeBlock {
            t: Arc::new(t),
            sums: Arc::new(sums),
        }
    }

    /// A drawn block (data-free networks), rows = post in column order.
    pub fn drawn(t: Arc<Csr>) -> EeBlock {
        let sums = Arc::new(row_sums(&t));
        EeBlock { t, sums }
    }
}

fn row_sums(m: &Csr) -> Vec<f64> {
    (0..m.n_rows)
        .map(|i| np_sum(&m.values[m.indptr[i]..m.indptr[i + 1]]))
        .collect()
}

/// Combine the random part with an E–E block into [`Parts`].
pub fn parts_with(
    spec: &NetworkSpec,
    random: &RandomParts,
    ee: &EeBlock,
    reciprocal: Option<u64>,
    nnz_ee: Option<u64>,
) -> Parts {
    let n_exc = random.n_exc;
    let factor: Vec<f64> = (0..n_exc)
        .map(|i| {
            if !spec.balance {
                return 1.0;
            }
            balance_factor(ee.sums[i], random.exc_inh_sums[i], spec.inh_exc_balance)
        })
        .collect();
    Parts {
        n: random.n,
        n_exc,
        ee: ee.t.clone(),
        exc_inh: random.exc_inh.clone(),
        exc_factor: Arc::new(factor),
        inh_rows: random.inh_rows.clone(),
        reciprocal,
        nnz_ee,
    }
}

/// The parts of the network of `spec` for `seed`; `m` is the E–E matrix
/// (pre × post) after the condition's null models with its summation keys
/// ([`nulls::apply_chain_keyed`]), required for observed networks and
/// refused for the data-free ones.
pub fn build_parts(spec: &NetworkSpec, m: Option<&nulls::Keyed>, seed: u64) -> Result<Parts> {
    let (n, n_exc) = sizes(spec, m.map(|m| m.m.n_rows))?;
    let random = random_parts(spec, n, n_exc, seed)?;
    parts_from(spec, &random, m)
}

/// The parts of a network from its random part and, for observed networks,
/// the E–E matrix `m` as in [`build_parts`]; runs that share `random` share
/// its blocks.
pub fn parts_from(spec: &NetworkSpec, random: &RandomParts, m: Option<&nulls::Keyed>) -> Result<Parts> {
    Ok(match (m, &random.ee) {
        (Some(k), _) => parts_with(
            spec,
            random,
            &EeBlock::keyed(&k.m, &k.keys),
            Some(count_reciprocal(&k.m)),
            Some(count_positive(&k.m)),
        ),
        (None, Some(ee)) => parts_with(spec, random, &EeBlock::drawn(ee.clone()), None, None),
        (None, None) => bail!("network: a data-free network without its drawn E–E block"),
    })
}

impl Parts {
    /// The full weight matrix (row = post), balanced, rows in column order.
    pub fn assemble(&self) -> Csr {
        let (n, n_exc) = (self.n, self.n_exc);
        let mut w = Csr {
            n_rows: n,
            n_cols: n,
            indptr: vec![0],
            ..Default::default()
        };
        for i in 0..n_exc {
            for (j, v) in self.ee.row(i) {
                w.indices.push(j as u32);
                w.values.push(v);
            }
            for (j, v) in self.exc_inh.row(i) {
                w.indices.push(j as u32);
                w.values.push(v * self.exc_factor[i]);
            }
            w.indptr.push(w.values.len());
        }
        for i in 0..n - n_exc {
            for (j, v) in self.inh_rows.row(i) {
                w.indices.push(j as u32);
                w.values.push(v);
            }
            w.indptr.push(w.values.len());
        }
        // The random blocks' rows may be in summation order (see RandomParts).
        let columns: Vec<f64> = w.indices.iter().map(|&j| j as f64).collect();
        sort_rows(&mut w, &columns);
        w
    }

    /// As a [`Network`].
    pub fn network(&self) -> Network {
        Network {
            n: self.n,
            n_exc: self.n_exc,
            w: Weights::Sparse(self.assemble()),
            reciprocal: self.reciprocal,
            nnz_ee: self.nnz_ee,
        }
    }
}

/// Build the network of `spec` for `seed`. `ee` is the E–E matrix (pre × post)
/// after the condition's null models; it is required for observed networks
/// and refused for the data-free ones.
pub fn build(spec: &NetworkSpec, ee: Option<&Csr>, seed: u64) -> Result<Network> {
    // The assembled matrix is in column order whatever the summation keys.
    let keyed = ee.map(|m| nulls::Keyed::unkeyed(m.clone()));
    Ok(build_parts(spec, keyed.as_ref(), seed)?.network())
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
        ErStream {
            rng: draws.then(|| PyRandom::new(seed as i128)),
            p,
        }
    }

    /// Whether edge u → v exists; must be called for every pair in row-major order.
    #[inline]
    fn edge(&mut self, u: usize, v: usize) -> bool {
        self.edge_uniform(u, v).0
    }

    /// Advance past the pairs (u, v) for v in `vs`, as [`ErStream::edge`] for each would.
    fn skip(&mut self, u: usize, vs: Range<usize>) {
        if let (Some(r), true) = (&mut self.rng, self.p > 0.0) {
            r.skip(vs.len() - vs.contains(&u) as usize);
        }
    }

    /// As [`ErStream::edge`], with the uniform that decided it (NaN without a draw).
    #[inline]
    fn edge_uniform(&mut self, u: usize, v: usize) -> (bool, f64) {
        if u == v || self.p <= 0.0 {
            return (false, f64::NAN);
        }
        match &mut self.rng {
            Some(r) => {
                let x = r.random();
                (x < self.p, x)
            }
            None => (true, f64::NAN),
        }
    }
}

/// The notebook's random weights, entry by entry, with both generators
/// advanced in lock-step (they are independent streams, so interleaving them
/// is exact). Observed networks leave the E–E block empty. With the rows come
/// the Erdős–Rényi uniform of each entry, where they were drawn.
fn notebook_rows(spec: &NetworkSpec, n: usize, n_exc: usize, seed: u64) -> Result<(Csr, Option<Vec<f64>>)> {
    if n > 50_000 {
        bail!(
            "network: {n} neurons is too many for network.rng = \"notebook\" (O(n²) draws); use network.rng = \"fast\""
        );
    }
    let mut er = ErStream::new(spec.connectivity_proba, seed);
    let p_ee = spec.connectivity_proba_ee.unwrap_or(spec.connectivity_proba);
    let mut er_ee = (spec.kind == NetworkKind::Feedforward).then(|| ErStream::new(p_ee, seed));
    let mut normal = NumpyNormals::new(seed as i128)?;
    let mut w = Csr {
        n_rows: n,
        n_cols: n,
        indptr: vec![0],
        ..Default::default()
    };
    let g = spec.g;
    let drawn = er.rng.is_some();
    let mut keys = Vec::new();
    for u in 0..n {
        let mut first = 0;
        if spec.kind == NetworkKind::Observed && u < n_exc {
            // The E–E pairs of an observed network keep nothing: both
            // streams move past them.
            er.skip(u, 0..n_exc);
            normal.skip(n_exc);
            first = n_exc;
        }
        for v in first..n {
            let (edge, uniform) = er.edge_uniform(u, v);
            let in_ee = u < n_exc && v < n_exc;
            let keep = match spec.kind {
                NetworkKind::Observed if in_ee => false,
                NetworkKind::Feedforward if in_ee => {
                    let e = er_ee.as_mut().is_some_and(|s| s.edge(u, v));
                    e && u <= v
                }
                _ => edge,
            };
            // Every pair draws its normal (the stream must advance); only kept
            // entries pay for evaluating it.
            if keep {
                let x = normal.normal(1.0, 0.2);
                w.indices.push(v as u32);
                w.values.push(g * 10f64.powf(x.abs()));
                if drawn {
                    // E–E entries (data-free kinds) keep column order: any key does.
                    keys.push(if in_ee { 0.0 } else { uniform });
                }
            } else {
                normal.skip_gauss();
            }
        }
        w.indptr.push(w.values.len());
    }
    Ok((w, drawn.then_some(keys)))
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

/// The factor that makes Σ inh = −balance · Σ exc (an empty inhibitory sum counts as 1).
fn balance_factor(e: f64, s: f64, b: f64) -> f64 {
    let s = if s == 0.0 { 1.0 } else { s };
    e / -s * b
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
    // ln(1 − p) by ln_1p: `(1.0 - p).ln()` is exactly 0 for p below about
    // 5.6e-17, which made every skip −∞/NaN and the loop never advance.
    let log_q = (-p).ln_1p();
    let mut v = lo as f64 - 1.0;
    loop {
        let u = 1.0 - g.uniform(); // (0, 1]
        let step = 1.0 + (u.ln() / log_q).floor();
        // A skip beyond f64's range (p subnormal) or NaN ends the row.
        if !step.is_finite() || step < 1.0 {
            break;
        }
        v += step;
        if v >= hi as f64 {
            break;
        }
        if v as usize != skip {
            out.push(v as usize);
        }
    }
}

/// Same distributions as the notebook, drawn sparsely (never n × n).
/// Observed networks leave the E–E block empty.
fn fast_rows(spec: &NetworkSpec, n: usize, n_exc: usize, seed: u64) -> Csr {
    let mut mask = FastRng::new(seed, STREAM_MASK);
    let mut mask_ee = FastRng::new(seed, STREAM_MASK_EE);
    let mut weights = FastRng::new(seed, STREAM_WEIGHTS);
    let p = spec.connectivity_proba;
    let p_ee = spec.connectivity_proba_ee.unwrap_or(p);
    let mut w = Csr {
        n_rows: n,
        n_cols: n,
        indptr: vec![0],
        ..Default::default()
    };
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
                NetworkKind::Observed => {}
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
    w
}

impl FastRng {
    /// `|N(1, 0.2)|`, the exponent of the log-normal weights.
    #[inline]
    fn normal_abs(&mut self) -> f64 {
        (1.0 + 0.2 * self.gauss()).abs()
    }
}
