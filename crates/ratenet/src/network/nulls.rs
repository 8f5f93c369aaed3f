//! Null models of the E–E matrix (pre × post): what the observed network is
//! compared against. Each draws from its own generator seeded with the run's
//! seed, as the notebook does, so chains never share a stream.

use std::collections::HashSet;

use crate::matrix::Csr;
use crate::network::rng::{FastRng, NumpyRandomState};
use crate::network::RngMode;
use crate::{bail, Result};

/// Which entry of a reciprocal pair `remove_reciprocal` drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReciprocalPolicy {
    /// Drop the entry below the diagonal (`M[i][j]` with i > j).
    KeepUpper,
    /// Drop both entries.
    Both,
    /// Drop the smaller entry; ties as `KeepUpper`.
    Weaker,
    /// Drop one at random (`random_sample() < 0.5` drops the upper entry).
    Random,
}

/// A null model, as named in the experiment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullModel {
    /// Permute all entries of the matrix, zeros included.
    ShuffleConnections,
    /// Permute the non-zero weights over the existing connections.
    ShuffleWeights,
    /// Remove reciprocal connections.
    RemoveReciprocal(ReciprocalPolicy),
}

/// The names accepted in `nulls = [...]`.
pub const NULL_MODEL_NAMES: &str = "\"shuffle_connections\", \"shuffle_weights\", \"remove_reciprocal\", \
\"remove_reciprocal:both\", \"remove_reciprocal:weaker\", \"remove_reciprocal:random\"";

impl NullModel {
    /// Parse `"shuffle_connections"`, `"remove_reciprocal:weaker"`, ….
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "shuffle_connections" => Self::ShuffleConnections,
            "shuffle_weights" => Self::ShuffleWeights,
            "remove_reciprocal" | "remove_reciprocal:keep_upper" => Self::RemoveReciprocal(ReciprocalPolicy::KeepUpper),
            "remove_reciprocal:both" => Self::RemoveReciprocal(ReciprocalPolicy::Both),
            "remove_reciprocal:weaker" => Self::RemoveReciprocal(ReciprocalPolicy::Weaker),
            "remove_reciprocal:random" => Self::RemoveReciprocal(ReciprocalPolicy::Random),
            _ => bail!("unknown null model '{s}' (expected one of {NULL_MODEL_NAMES})"),
        })
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ShuffleConnections => "shuffle_connections",
            Self::ShuffleWeights => "shuffle_weights",
            Self::RemoveReciprocal(ReciprocalPolicy::KeepUpper) => "remove_reciprocal",
            Self::RemoveReciprocal(ReciprocalPolicy::Both) => "remove_reciprocal:both",
            Self::RemoveReciprocal(ReciprocalPolicy::Weaker) => "remove_reciprocal:weaker",
            Self::RemoveReciprocal(ReciprocalPolicy::Random) => "remove_reciprocal:random",
        }
    }

    /// Whether the result depends on the seed (shuffles and random removal).
    pub fn draws_from_seed(self) -> bool {
        !matches!(
            self,
            Self::RemoveReciprocal(ReciprocalPolicy::KeepUpper | ReciprocalPolicy::Both | ReciprocalPolicy::Weaker)
        )
    }

    /// Apply to `m` (pre × post, square) with a fresh generator seeded by `seed`.
    pub fn apply(self, m: &Csr, seed: u64, rng: RngMode) -> Result<Csr> {
        Ok(self.apply_keyed(&Keyed::unkeyed(m.clone()), seed, rng)?.m)
    }

    /// As [`NullModel::apply`], each entry taking its key along (see [`Keyed`]).
    pub fn apply_keyed(self, m: &Keyed, seed: u64, rng: RngMode) -> Result<Keyed> {
        match self {
            Self::ShuffleConnections => shuffle_connections_keyed(m, seed, rng),
            Self::ShuffleWeights => Ok(Keyed {
                m: shuffle_weights(&m.m, seed, rng)?,
                keys: m.keys.clone(),
            }),
            Self::RemoveReciprocal(p) => remove_reciprocal_keyed(m, p, seed, rng),
        }
    }
}

/// An E–E matrix (pre × post) with a summation key per entry (parallel to
/// its values): rows of the engine's E–E block sum their entries in key
/// order, ties by column (see [`crate::network::build::EeBlock`]).
///
/// The keys of the observed matrix mark the entries that `remove_reciprocal`
/// drops (the lower entry of each reciprocal pair: key 1, else 0), and every
/// null model carries each entry's key along with it. So the matrix without
/// reciprocal pairs, shuffled or not, has every row a prefix of the
/// observed one's — shuffled with the same seed, the same permutation moves
/// both — which lets the batched engine run such conditions as lanes of one
/// block, bit for bit as alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed {
    /// The matrix.
    pub m: Csr,
    /// One key per stored entry, in storage order.
    pub keys: Vec<f64>,
}

impl Keyed {
    /// `m` with the keys of an observed matrix.
    pub fn new(m: Csr) -> Keyed {
        let mut keys = Vec::with_capacity(m.nnz());
        for i in 0..m.n_rows {
            for (j, v) in m.row(i) {
                let dropped = j < i && v > 0.0 && m.get(j, i) > 0.0;
                keys.push(if dropped { 1.0 } else { 0.0 });
            }
        }
        Keyed { m, keys }
    }

    /// `m` with every key 0, for callers that keep only the matrix.
    pub fn unkeyed(m: Csr) -> Keyed {
        Keyed {
            keys: vec![0.0; m.nnz()],
            m,
        }
    }
}

/// Apply a chain of null models in order, each seeded by `seed`.
pub fn apply_chain(m: &Csr, nulls: &[NullModel], seed: u64, rng: RngMode) -> Result<Csr> {
    let mut out = Keyed::unkeyed(m.clone());
    for null in nulls {
        out = null.apply_keyed(&out, seed, rng)?;
    }
    Ok(out.m)
}

/// As [`apply_chain`], with each entry's summation key (see [`Keyed`]).
pub fn apply_chain_keyed(m: &Csr, nulls: &[NullModel], seed: u64, rng: RngMode) -> Result<Keyed> {
    let mut out = Keyed::new(m.clone());
    for null in nulls {
        out = null.apply_keyed(&out, seed, rng)?;
    }
    Ok(out)
}

// Stream labels of the fast generator, one per null model.
const STREAM_SHUFFLE: u64 = 11;
const STREAM_RECIPROCAL: u64 = 12;

/// `np.random.RandomState(seed).shuffle(M.flatten())`, reshaped; in fast mode
/// the same distribution: the non-zeros at a uniform random set of positions.
pub fn shuffle_connections(m: &Csr, seed: u64, rng: RngMode) -> Result<Csr> {
    NullModel::ShuffleConnections.apply(m, seed, rng)
}

/// [`shuffle_connections`] with keys (in fast mode every key is 0: its
/// positions do not nest across matrices anyway).
fn shuffle_connections_keyed(k: &Keyed, seed: u64, rng: RngMode) -> Result<Keyed> {
    let m = &k.m;
    let (r, c) = (m.n_rows, m.n_cols);
    match rng {
        RngMode::Notebook => {
            // numpy's shuffle of the flattened matrix is one permutation of
            // positions, whatever they hold: shuffle where each entry is
            // (u32::MAX for a zero) and move values and keys alike.
            let cells = r * c;
            if cells >= u32::MAX as usize {
                bail!("cannot shuffle a {r} × {c} matrix compatibly with numpy (at most 2^32 − 1 cells)");
            }
            let mut at = vec![u32::MAX; cells];
            let mut k_at = 0u32;
            for i in 0..r {
                for (j, _) in m.row(i) {
                    at[i * c + j] = k_at;
                    k_at += 1;
                }
            }
            NumpyRandomState::new(seed as i128)?.shuffle(&mut at)?;
            let mut out = Csr {
                n_rows: r,
                n_cols: c,
                indptr: vec![0],
                ..Default::default()
            };
            let mut keys = Vec::with_capacity(m.nnz());
            for row in at.chunks_exact(c.max(1)).take(r) {
                for (j, &e) in row.iter().enumerate() {
                    // As Csr::from_dense: stored zeros are not entries.
                    if e != u32::MAX && m.values[e as usize] != 0.0 {
                        out.indices.push(j as u32);
                        out.values.push(m.values[e as usize]);
                        keys.push(k.keys[e as usize]);
                    }
                }
                out.indptr.push(out.values.len());
            }
            Ok(Keyed { m: out, keys })
        }
        RngMode::Fast => {
            let total = (r as u64) * (c as u64);
            let k = m.nnz() as u64;
            let mut g = FastRng::new(seed, STREAM_SHUFFLE);
            // Floyd's sampling of k distinct positions out of r·c.
            let mut chosen: HashSet<u64> = HashSet::with_capacity(k as usize);
            for j in (total - k)..total {
                let t = g.below(j + 1);
                if !chosen.insert(t) {
                    chosen.insert(j);
                }
            }
            let mut pos: Vec<u64> = chosen.into_iter().collect();
            pos.sort_unstable();
            let mut vals = m.values.clone();
            fast_shuffle(&mut vals, &mut g);
            let m = Csr::from_sorted_triplets(
                r,
                c,
                pos.into_iter()
                    .zip(vals)
                    .map(|(p, v)| ((p / c as u64) as usize, (p % c as u64) as usize, v)),
            );
            Ok(Keyed {
                keys: vec![0.0; m.nnz()],
                m,
            })
        }
    }
}

/// The non-zero weights (row-major order) permuted over the same positions.
pub fn shuffle_weights(m: &Csr, seed: u64, rng: RngMode) -> Result<Csr> {
    let mut out = m.clone();
    // The notebook shuffles `W[W > 0]`; stored entries are non-zero, and a
    // negative one (never in a connectome) stays where it is.
    let pos: Vec<usize> = (0..m.nnz()).filter(|&k| m.values[k] > 0.0).collect();
    let mut vals: Vec<f64> = pos.iter().map(|&k| m.values[k]).collect();
    match rng {
        RngMode::Notebook => NumpyRandomState::new(seed as i128)?.shuffle(&mut vals)?,
        RngMode::Fast => fast_shuffle(&mut vals, &mut FastRng::new(seed, STREAM_SHUFFLE)),
    }
    for (&k, v) in pos.iter().zip(vals) {
        out.values[k] = v;
    }
    Ok(out)
}

fn fast_shuffle<T>(x: &mut [T], g: &mut FastRng) {
    for i in (1..x.len()).rev() {
        let j = g.below(i as u64 + 1) as usize;
        x.swap(i, j);
    }
}

/// Drop reciprocal connections (pairs i ≠ j with both directions > 0) by `policy`;
/// the diagonal is never touched.
pub fn remove_reciprocal(m: &Csr, policy: ReciprocalPolicy, seed: u64, rng: RngMode) -> Result<Csr> {
    NullModel::RemoveReciprocal(policy).apply(m, seed, rng)
}

/// [`remove_reciprocal`] with keys: the kept entries keep theirs.
fn remove_reciprocal_keyed(k: &Keyed, policy: ReciprocalPolicy, seed: u64, rng: RngMode) -> Result<Keyed> {
    let m = &k.m;
    let mut drop: HashSet<(usize, usize)> = HashSet::new();
    let mut np_rng = None;
    let mut fast_rng = None;
    if policy == ReciprocalPolicy::Random {
        match rng {
            RngMode::Notebook => np_rng = Some(NumpyRandomState::new(seed as i128)?),
            RngMode::Fast => fast_rng = Some(FastRng::new(seed, STREAM_RECIPROCAL)),
        }
    }
    // Pairs i < j in row-major order of the upper entry: the order of the random draws.
    for i in 0..m.n_rows {
        for (j, upper) in m.row(i) {
            if j <= i || upper <= 0.0 {
                continue;
            }
            let lower = m.get(j, i);
            if lower <= 0.0 {
                continue;
            }
            let drop_upper = match policy {
                ReciprocalPolicy::KeepUpper => false,
                ReciprocalPolicy::Both => {
                    drop.insert((i, j));
                    false
                }
                ReciprocalPolicy::Weaker => upper < lower,
                ReciprocalPolicy::Random => match (&mut np_rng, &mut fast_rng) {
                    (Some(g), _) => g.random_sample() < 0.5,
                    (_, Some(g)) => g.uniform() < 0.5,
                    _ => unreachable!("a generator was made for the random policy"),
                },
            };
            drop.insert(if drop_upper { (i, j) } else { (j, i) });
        }
    }
    let mut kept = Vec::with_capacity(m.nnz());
    let mut keys = Vec::with_capacity(m.nnz());
    let mut e = 0;
    for i in 0..m.n_rows {
        for (j, v) in m.row(i) {
            if !drop.contains(&(i, j)) {
                kept.push((i, j, v));
                keys.push(k.keys[e]);
            }
            e += 1;
        }
    }
    Ok(Keyed {
        m: Csr::from_sorted_triplets(m.n_rows, m.n_cols, kept),
        keys,
    })
}

/// The notebook's `np.sum((M * M.T) > 0)`: ordered pairs with both directions
/// present, the diagonal included.
pub fn count_reciprocal(m: &Csr) -> u64 {
    let mut count = 0;
    for i in 0..m.n_rows {
        for (j, v) in m.row(i) {
            if v * m.get(j, i) > 0.0 {
                count += 1;
            }
        }
    }
    count
}

/// Entries > 0 (the notebook's `(M > 0).sum()`).
pub fn count_positive(m: &Csr) -> u64 {
    m.values.iter().filter(|&&v| v > 0.0).count() as u64
}
