//! Null models of the E–E matrix (pre × post): what the observed network is
//! compared against. Each draws from its own generator seeded with the run's
//! seed, as the notebook does, so chains never share a stream.
//!
//! The notebook's two shuffles and `remove_reciprocal` follow numpy's
//! streams in `network.rng = "notebook"` mode. The edge-swap models
//! (`degree_preserving`, `reciprocity_preserving`) have no notebook
//! counterpart: they draw from [`FastRng`] in every mode, so a seed gives
//! the same matrix whatever `network.rng` says. What each model keeps is
//! tabulated in `docs/null-models.md`.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

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
    /// Directed edge swaps that keep every neuron's in- and out-degree.
    DegreePreserving(SwapsPerEdge),
    /// Edge swaps that also keep the reciprocal pairs (swapped as pairs).
    ReciprocityPreserving(SwapsPerEdge),
}

/// Swap attempts per off-diagonal connection of the edge-swap null models
/// (`null_models.swaps_per_edge`): a finite number `>= 0`, checked by the
/// key table, so equality is an equivalence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwapsPerEdge(pub f64);

impl Eq for SwapsPerEdge {}

/// The default of `null_models.swaps_per_edge`.
pub const DEFAULT_SWAPS_PER_EDGE: f64 = 10.0;

impl Default for SwapsPerEdge {
    fn default() -> Self {
        SwapsPerEdge(DEFAULT_SWAPS_PER_EDGE)
    }
}

/// The names accepted in `nulls = [...]`.
pub const NULL_MODEL_NAMES: &str = "\"shuffle_connections\", \"shuffle_weights\", \"remove_reciprocal\", \
\"remove_reciprocal:both\", \"remove_reciprocal:weaker\", \"remove_reciprocal:random\", \
\"degree_preserving\", \"reciprocity_preserving\"";

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
            "degree_preserving" => Self::DegreePreserving(SwapsPerEdge::default()),
            "reciprocity_preserving" => Self::ReciprocityPreserving(SwapsPerEdge::default()),
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
            Self::DegreePreserving(_) => "degree_preserving",
            Self::ReciprocityPreserving(_) => "reciprocity_preserving",
        }
    }

    /// The same model with `null_models.swaps_per_edge = x` (edge-swap
    /// models; the others do not swap and are returned as they are).
    pub fn with_swaps_per_edge(self, x: f64) -> Self {
        match self {
            Self::DegreePreserving(_) => Self::DegreePreserving(SwapsPerEdge(x)),
            Self::ReciprocityPreserving(_) => Self::ReciprocityPreserving(SwapsPerEdge(x)),
            other => other,
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
            Self::DegreePreserving(s) => Ok(degree_preserving_keyed(m, s.0, seed)),
            Self::ReciprocityPreserving(s) => Ok(reciprocity_preserving_keyed(m, s.0, seed)),
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
const STREAM_DEGREE: u64 = 13;
const STREAM_RECIPROCITY: u64 = 14;

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

// ---------------------------------------------------------------------------
// Edge swaps

/// The off-diagonal entries of a keyed matrix as a list of directed edges,
/// each with its weight and key; a swap changes an edge's ends in place, so
/// the weight and key stay with the edge.
struct Edges {
    src: Vec<u32>,
    dst: Vec<u32>,
    val: Vec<f64>,
    key: Vec<f64>,
}

/// The diagonal entries (row, value, key), left where they are, and the
/// other entries as [`Edges`], both in row-major order.
fn split_diagonal(k: &Keyed) -> (Vec<(usize, f64, f64)>, Edges) {
    let m = &k.m;
    let mut diag = Vec::new();
    let mut e = Edges {
        src: Vec::with_capacity(m.nnz()),
        dst: Vec::with_capacity(m.nnz()),
        val: Vec::with_capacity(m.nnz()),
        key: Vec::with_capacity(m.nnz()),
    };
    let mut at = 0;
    for i in 0..m.n_rows {
        for (j, v) in m.row(i) {
            if i == j {
                diag.push((i, v, k.keys[at]));
            } else {
                e.src.push(i as u32);
                e.dst.push(j as u32);
                e.val.push(v);
                e.key.push(k.keys[at]);
            }
            at += 1;
        }
    }
    (diag, e)
}

/// The matrix again, from the untouched diagonal and the swapped edges.
fn join_diagonal(n_rows: usize, n_cols: usize, diag: Vec<(usize, f64, f64)>, e: Edges) -> Keyed {
    let mut t: Vec<(usize, usize, f64, f64)> = diag.into_iter().map(|(i, v, key)| (i, i, v, key)).collect();
    t.extend((0..e.src.len()).map(|x| (e.src[x] as usize, e.dst[x] as usize, e.val[x], e.key[x])));
    t.sort_unstable_by_key(|&(i, j, _, _)| (i, j));
    let keys = t.iter().map(|x| x.3).collect();
    Keyed {
        m: Csr::from_sorted_triplets(n_rows, n_cols, t.into_iter().map(|(i, j, v, _)| (i, j, v))),
        keys,
    }
}

/// A directed edge as one hash key.
#[inline]
fn edge(i: u32, j: u32) -> u64 {
    (u64::from(i) << 32) | u64::from(j)
}

/// The splitmix64 finaliser over one `u64`: a few cycles where SipHash
/// would dominate the swap loop; the keys are our own, not adversarial.
#[derive(Default)]
struct EdgeHasher(u64);

impl Hasher for EdgeHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        let mut z = (self.0 ^ x).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.0 = z ^ (z >> 31);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type EdgeSet = HashSet<u64, BuildHasherDefault<EdgeHasher>>;

fn edge_set(e: &Edges) -> EdgeSet {
    let mut s = EdgeSet::with_capacity_and_hasher(e.src.len() * 2, Default::default());
    s.extend(e.src.iter().zip(&e.dst).map(|(&i, &j)| edge(i, j)));
    s
}

/// `swaps_per_edge · edges`, rounded: the number of swap attempts.
fn attempts(swaps_per_edge: f64, edges: usize) -> u64 {
    (swaps_per_edge * edges as f64).round() as u64
}

/// Move edge `a` from `(s, d_old)` to `(s, d_new)` in the edge set.
#[inline]
fn retarget(set: &mut EdgeSet, s: u32, d_old: u32, d_new: u32) {
    set.remove(&edge(s, d_old));
    set.insert(edge(s, d_new));
}

/// `degree_preserving`: `attempts(swaps_per_edge, E)` attempts over the E
/// off-diagonal edges, each picking two edges A→B, C→D uniformly (with
/// replacement) and rewiring them to A→D, C→B unless that is a no-op
/// (A = C or B = D), makes a self-loop (A = D or C = B) or duplicates an
/// existing edge. An edge keeps its presynaptic neuron, its weight and its
/// key and takes the other's postsynaptic neuron: A→D carries A→B's weight,
/// so every neuron keeps its out-degree, its in-degree and the weights of
/// its outgoing connections. The diagonal takes no part.
fn degree_preserving_keyed(k: &Keyed, swaps_per_edge: f64, seed: u64) -> Keyed {
    let (diag, mut e) = split_diagonal(k);
    let n = e.src.len();
    if n >= 2 {
        let mut set = edge_set(&e);
        let mut g = FastRng::new(seed, STREAM_DEGREE);
        for _ in 0..attempts(swaps_per_edge, n) {
            let a = g.below(n as u64) as usize;
            let c = g.below(n as u64) as usize;
            let (sa, da, sc, dc) = (e.src[a], e.dst[a], e.src[c], e.dst[c]);
            if sa == sc || da == dc || sa == dc || sc == da {
                continue;
            }
            if set.contains(&edge(sa, dc)) || set.contains(&edge(sc, da)) {
                continue;
            }
            retarget(&mut set, sa, da, dc);
            retarget(&mut set, sc, dc, da);
            e.dst[a] = dc;
            e.dst[c] = da;
        }
    }
    join_diagonal(k.m.n_rows, k.m.n_cols, diag, e)
}

/// `reciprocity_preserving`: the off-diagonal edges are split into one-way
/// edges (the reverse not stored) and reciprocal pairs (both directions
/// stored). Each of `attempts(swaps_per_edge, U + 2P)` attempts picks an
/// edge uniformly among all U + 2P off-diagonal edges (a pair counting as
/// its two) and a second of its kind uniformly:
///
/// - two one-way edges A→B, C→D rewire as in [`degree_preserving_keyed`],
///   also rejected when A→D or C→B would have its reverse present (a new
///   reciprocal pair);
/// - two pairs A⇄B, C⇄D (each taken in a random orientation) rewire to
///   A⇄D, C⇄B unless a self-loop or an existing edge in either direction
///   of A⇄D or C⇄B is in the way. A pair keeps its first end and both its
///   weights and keys: A→D carries A→B's, D→A carries B→A's.
///
/// So in- and out-degrees, the one-way/pair split and the number of
/// reciprocal pairs are kept; the diagonal takes no part.
fn reciprocity_preserving_keyed(k: &Keyed, swaps_per_edge: f64, seed: u64) -> Keyed {
    let (diag, mut e) = split_diagonal(k);
    let mut set = edge_set(&e);
    // Edge indices by (src, dst) to find each pair's reverse.
    let mut one_way: Vec<usize> = Vec::new();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    {
        let index: std::collections::HashMap<u64, usize, BuildHasherDefault<EdgeHasher>> =
            (0..e.src.len()).map(|x| (edge(e.src[x], e.dst[x]), x)).collect();
        for x in 0..e.src.len() {
            match index.get(&edge(e.dst[x], e.src[x])) {
                None => one_way.push(x),
                Some(&y) if e.src[x] < e.dst[x] => pairs.push((x, y)),
                Some(_) => {}
            }
        }
    }
    let (nu, np) = (one_way.len(), pairs.len());
    let total = nu + 2 * np;
    let mut g = FastRng::new(seed, STREAM_RECIPROCITY);
    for _ in 0..attempts(swaps_per_edge, total) {
        let t = g.below(total as u64) as usize;
        if t < nu {
            if nu < 2 {
                continue;
            }
            let (a, c) = (one_way[t], one_way[g.below(nu as u64) as usize]);
            let (sa, da, sc, dc) = (e.src[a], e.dst[a], e.src[c], e.dst[c]);
            if sa == sc || da == dc || sa == dc || sc == da {
                continue;
            }
            if [edge(sa, dc), edge(sc, da), edge(dc, sa), edge(da, sc)]
                .iter()
                .any(|x| set.contains(x))
            {
                continue;
            }
            retarget(&mut set, sa, da, dc);
            retarget(&mut set, sc, dc, da);
            e.dst[a] = dc;
            e.dst[c] = da;
        } else {
            if np < 2 {
                continue;
            }
            let p = pairs[(t - nu) / 2];
            let q = pairs[g.below(np as u64) as usize];
            let flips = g.below(4);
            // (forward, backward): forward runs from the end that stays.
            let (pf, pb) = if flips & 1 == 0 { p } else { (p.1, p.0) };
            let (qf, qb) = if flips & 2 == 0 { q } else { (q.1, q.0) };
            let (a, b, c, d) = (e.src[pf], e.dst[pf], e.src[qf], e.dst[qf]);
            if a == c || b == d || a == d || c == b {
                continue;
            }
            if [edge(a, d), edge(d, a), edge(c, b), edge(b, c)]
                .iter()
                .any(|x| set.contains(x))
            {
                continue;
            }
            // A→B, B→A, C→D, D→C ⇒ A→D, D→A, C→B, B→C.
            for x in [edge(a, b), edge(b, a), edge(c, d), edge(d, c)] {
                set.remove(&x);
            }
            for x in [edge(a, d), edge(d, a), edge(c, b), edge(b, c)] {
                set.insert(x);
            }
            e.dst[pf] = d;
            e.src[pb] = d;
            e.dst[qf] = b;
            e.src[qb] = b;
        }
    }
    join_diagonal(k.m.n_rows, k.m.n_cols, diag, e)
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
