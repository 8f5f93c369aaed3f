//! Motif statistics of an E–E matrix (pre × post): the reciprocal count and
//! the 16-class directed triad census, observed and over an ensemble of
//! null models (the homework's EX3(a) with every three-neuron motif).
//!
//! The census counts the graph with every neuron as a node and an edge
//! i → j for each `M[i][j] > 0`, i ≠ j; its classes are named and ordered
//! by networkx's triad codes and equal `networkx.triadic_census` of that
//! graph (tested against a fixture made by networkx). The algorithm is
//! Batagelj and Mrvar's, as networkx implements it: each connected triad is
//! counted once from its edge of smallest node pair, in O(m · Δ); the empty
//! triads (003) are what is left of C(n, 3).

use rayon::prelude::*;

use crate::matrix::Csr;
use crate::network::nulls::{apply_chain, count_reciprocal, NullModel};
use crate::network::RngMode;
use crate::Result;

/// The 16 triad classes in networkx's order (`networkx.algorithms.triads.TRIAD_NAMES`).
pub const TRIADS: [&str; 16] = [
    "003", "012", "102", "021D", "021U", "021C", "111D", "111U", "030T", "030C", "201", "120D", "120U", "120C", "210",
    "300",
];

/// The motifs of a [`MotifCounts`] in table order: `reciprocal`, then the triads.
pub const MOTIFS: [&str; 17] = [
    "reciprocal",
    "003",
    "012",
    "102",
    "021D",
    "021U",
    "021C",
    "111D",
    "111U",
    "030T",
    "030C",
    "201",
    "120D",
    "120U",
    "120C",
    "210",
    "300",
];

/// Class (index into [`TRIADS`]) of each of the 64 triad codes of Batagelj
/// and Mrvar (networkx's `TRICODES`, less one): bit 1 v→u, 2 u→v, 4 v→w,
/// 8 w→v, 16 u→w, 32 w→u.
const TRICODE_CLASS: [u8; 64] = [
    0, 1, 1, 2, 1, 3, 5, 7, 1, 5, 4, 6, 2, 7, 6, 10, 1, 5, 3, 7, 4, 8, 8, 12, 5, 9, 8, 13, 6, 13, 11, 14, 1, 4, 5, 6,
    5, 8, 9, 13, 3, 8, 8, 11, 7, 12, 13, 14, 2, 6, 7, 10, 6, 11, 13, 14, 7, 13, 12, 14, 10, 14, 14, 15,
];

/// Direction bits of an adjacency entry: the node's edge to the neighbour, and back.
const OUT: u8 = 1;
const IN: u8 = 2;

/// Every neuron's neighbours in either direction, sorted, with the
/// directions ([`OUT`], [`IN`]) of the edges between them.
struct Adjacency {
    start: Vec<usize>,
    nbr: Vec<u32>,
    bits: Vec<u8>,
}

impl Adjacency {
    fn new(m: &Csr) -> Adjacency {
        let n = m.n_rows;
        let edges = || {
            (0..n).flat_map(move |i| {
                m.row(i)
                    .filter(move |&(j, v)| v > 0.0 && j != i)
                    .map(move |(j, _)| (i, j))
            })
        };
        let mut count = vec![0usize; n + 1];
        for (i, j) in edges() {
            count[i + 1] += 1;
            count[j + 1] += 1;
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut next = count.clone();
        let mut raw = vec![(0u32, 0u8); count[n]];
        for (i, j) in edges() {
            raw[next[i]] = (j as u32, OUT);
            next[i] += 1;
            raw[next[j]] = (i as u32, IN);
            next[j] += 1;
        }
        // Sorted by neighbour, the two directions of a reciprocal pair merged.
        let mut adj = Adjacency {
            start: Vec::with_capacity(n + 1),
            nbr: Vec::with_capacity(raw.len()),
            bits: Vec::with_capacity(raw.len()),
        };
        adj.start.push(0);
        for i in 0..n {
            let slice = &mut raw[count[i]..count[i + 1]];
            slice.sort_unstable_by_key(|e| e.0);
            for &(j, b) in slice.iter() {
                if adj.nbr.last() == Some(&j) && adj.nbr.len() > adj.start[i] {
                    *adj.bits.last_mut().expect("an entry") |= b;
                } else {
                    adj.nbr.push(j);
                    adj.bits.push(b);
                }
            }
            adj.start.push(adj.nbr.len());
        }
        adj
    }

    fn of(&self, v: usize) -> (&[u32], &[u8]) {
        let r = self.start[v]..self.start[v + 1];
        (&self.nbr[r.clone()], &self.bits[r])
    }
}

/// The directed triad census of `m` (square, pre × post): how many of the
/// C(n, 3) node triples fall in each class of [`TRIADS`].
pub fn triad_census(m: &Csr) -> [u64; 16] {
    let n = m.n_rows;
    let adj = Adjacency::new(m);
    let mut census = [0u64; 16];
    for v in 0..n {
        let (vn, vb) = adj.of(v);
        // Each edge {v, u} once, from its smaller end.
        for (k, &u) in vn.iter().enumerate() {
            let u = u as usize;
            if u <= v {
                continue;
            }
            let vu = vb[k];
            let (un, ub) = adj.of(u);
            // The union of both neighbourhoods (u and v left out), merged:
            // every w with its edges to v and to u.
            let (mut a, mut b) = (0, 0);
            let mut union = 0u64;
            let mut visit = |w: usize, vw: u8, uw: u8, census: &mut [u64; 16]| {
                if w == u || w == v {
                    return;
                }
                union += 1;
                // Counted here only from its smallest edge: w > u, or
                // v < w < u with no edge between v and w.
                if u < w || (v < w && w < u && vw == 0) {
                    let code = (vu & OUT)
                        | (vu & IN)
                        | ((vw & OUT) << 2)
                        | ((vw & IN) << 2)
                        | ((uw & OUT) << 4)
                        | ((uw & IN) << 4);
                    census[TRICODE_CLASS[code as usize] as usize] += 1;
                }
            };
            while a < vn.len() || b < un.len() {
                let wa = vn.get(a).map_or(u32::MAX, |&x| x);
                let wb = un.get(b).map_or(u32::MAX, |&x| x);
                if wa < wb {
                    visit(wa as usize, vb[a], 0, &mut census);
                    a += 1;
                } else if wb < wa {
                    visit(wb as usize, 0, ub[b], &mut census);
                    b += 1;
                } else {
                    visit(wa as usize, vb[a], ub[b], &mut census);
                    a += 1;
                    b += 1;
                }
            }
            // Triads of this edge and a neuron linked to neither end.
            let dyadic = n as u64 - union - 2;
            census[if vu == OUT | IN { 2 } else { 1 }] += dyadic;
        }
    }
    let connected: u64 = census[1..].iter().sum();
    census[0] = choose3(n as u64) - connected;
    census
}

/// C(n, 3).
fn choose3(n: u64) -> u64 {
    if n < 3 {
        0
    } else {
        // n(n−1)(n−2)/6 without overflowing for any n whose census fits u64.
        let (a, b, c) = (n as u128, n as u128 - 1, n as u128 - 2);
        (a * b * c / 6) as u64
    }
}

/// The counts of every motif of [`MOTIFS`]: the reciprocal ordered pairs
/// (the notebook's `np.sum((M * M.T) > 0)`, autapses included), then the
/// triad census.
pub fn motif_counts(m: &Csr) -> [u64; 17] {
    let mut out = [0u64; 17];
    out[0] = count_reciprocal(m);
    out[1..].copy_from_slice(&triad_census(m));
    out
}

/// One motif against one null model's ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct MotifStat {
    /// The motif ([`MOTIFS`]).
    pub motif: &'static str,
    /// The null model's label (as the caller named it).
    pub null: String,
    /// The observed count.
    pub observed: u64,
    /// The count of each member of the ensemble, in seed order.
    pub null_counts: Vec<u64>,
    /// Mean of the null counts.
    pub null_mean: f64,
    /// Their standard deviation (ddof = 1); `None` with fewer than two.
    pub null_sd: Option<f64>,
    /// (observed − null_mean) / null_sd; `None` when null_sd is 0 or undefined.
    pub z: Option<f64>,
    /// Two-sided permutation p: (1 + #{i : |x_i − mean| ≥ |observed − mean|}) / (1 + N).
    pub p: f64,
}

impl MotifStat {
    /// The statistics of `observed` against the ensemble `null_counts`.
    pub fn new(motif: &'static str, null: &str, observed: u64, null_counts: Vec<u64>) -> MotifStat {
        let x: Vec<f64> = null_counts.iter().map(|&c| c as f64).collect();
        let n = x.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            x.iter().sum::<f64>() / n as f64
        };
        let sd = (n >= 2).then(|| (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt());
        let obs = observed as f64;
        let z = sd.filter(|&s| s > 0.0).map(|s| (obs - mean) / s);
        let d = (obs - mean).abs();
        let extreme = x.iter().filter(|&&v| (v - mean).abs() >= d).count();
        MotifStat {
            motif,
            null: null.to_string(),
            observed,
            null_counts,
            null_mean: mean,
            null_sd: sd,
            z,
            p: (1 + extreme) as f64 / (1 + n) as f64,
        }
    }
}

/// The observed counts of `m` against each null model over `seeds`: one
/// [`MotifStat`] per motif and null, grouped by null in the order given,
/// motifs in [`MOTIFS`] order. `nulls` are (label, chain applied in order);
/// each member of an ensemble is the chain applied to `m` with one seed, as
/// a condition's null models are. The ensembles are counted in parallel on
/// the current rayon pool; the result does not depend on the thread count.
pub fn motif_stats(m: &Csr, nulls: &[(String, Vec<NullModel>)], seeds: &[u64], rng: RngMode) -> Result<Vec<MotifStat>> {
    let jobs: Vec<(usize, u64)> = (0..nulls.len())
        .flat_map(|k| seeds.iter().map(move |&s| (k, s)))
        .collect();
    let (observed, counts) = rayon::join(
        || motif_counts(m),
        || {
            jobs.par_iter()
                .map(|&(k, seed)| Ok(motif_counts(&apply_chain(m, &nulls[k].1, seed, rng)?)))
                .collect::<Result<Vec<[u64; 17]>>>()
        },
    );
    let counts = counts?;
    let mut out = Vec::with_capacity(nulls.len() * MOTIFS.len());
    for (k, (label, _)) in nulls.iter().enumerate() {
        let ensemble = &counts[k * seeds.len()..(k + 1) * seeds.len()];
        for (i, &motif) in MOTIFS.iter().enumerate() {
            let xs: Vec<u64> = ensemble.iter().map(|c| c[i]).collect();
            out.push(MotifStat::new(motif, label, observed[i], xs));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(n: usize, edges: &[(usize, usize)]) -> Csr {
        let mut d = vec![0.0; n * n];
        for &(i, j) in edges {
            d[i * n + j] = 1.0;
        }
        Csr::from_dense(n, n, &d)
    }

    fn class(name: &str) -> usize {
        TRIADS.iter().position(|t| *t == name).unwrap()
    }

    /// One triple per class, drawn by hand from the class's name (M: mutual,
    /// A: asymmetric, N: null dyads; D down, U up, C cyclic, T transitive).
    #[test]
    fn each_class_by_hand() {
        let cases: [(&str, &[(usize, usize)]); 16] = [
            ("003", &[]),
            ("012", &[(0, 1)]),
            ("102", &[(0, 1), (1, 0)]),
            ("021D", &[(0, 1), (0, 2)]),
            ("021U", &[(1, 0), (2, 0)]),
            ("021C", &[(0, 1), (1, 2)]),
            ("111D", &[(0, 1), (1, 0), (2, 0)]),
            ("111U", &[(0, 1), (1, 0), (0, 2)]),
            ("030T", &[(0, 1), (1, 2), (0, 2)]),
            ("030C", &[(0, 1), (1, 2), (2, 0)]),
            ("201", &[(0, 1), (1, 0), (0, 2), (2, 0)]),
            ("120D", &[(0, 1), (0, 2), (1, 2), (2, 1)]),
            ("120U", &[(1, 0), (2, 0), (1, 2), (2, 1)]),
            ("120C", &[(0, 1), (1, 2), (0, 2), (2, 0)]),
            ("210", &[(0, 1), (1, 0), (0, 2), (2, 0), (1, 2)]),
            ("300", &[(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]),
        ];
        for (name, edges) in cases {
            let mut want = [0u64; 16];
            want[class(name)] = 1;
            // Every labelling of the three nodes gives the same class.
            for p in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
                let e: Vec<(usize, usize)> = edges.iter().map(|&(i, j)| (p[i], p[j])).collect();
                assert_eq!(triad_census(&dense(3, &e)), want, "{name} relabelled {p:?}");
            }
        }
    }

    #[test]
    fn small_graphs_and_autapses() {
        assert_eq!(triad_census(&Csr::from_dense(0, 0, &[])), [0; 16]);
        assert_eq!(triad_census(&dense(2, &[(0, 1), (1, 0)])), [0; 16]);
        // Autapses are no edges of the graph, but count as reciprocal pairs.
        let m = dense(4, &[(0, 0), (1, 1), (0, 1)]);
        let c = motif_counts(&m);
        assert_eq!(c[0], 2);
        assert_eq!(c[1 + class("012")], 2);
        assert_eq!(c[1 + class("003")], 2);
        assert_eq!(choose3(6548), 46_770_903_796);
    }

    #[test]
    fn stats_on_a_hand_made_ensemble() {
        // mean 12, deviations −2, 0, 2, sd 2; observed 16: z 2, one deviation ≥ 4.
        let s = MotifStat::new("reciprocal", "x", 16, vec![10, 12, 14]);
        assert_eq!((s.null_mean, s.null_sd, s.z, s.p), (12.0, Some(2.0), Some(2.0), 0.25));
        // Observed at the mean: every member is at least as far.
        let s = MotifStat::new("reciprocal", "x", 12, vec![10, 12, 14]);
        assert_eq!((s.z, s.p), (Some(0.0), 1.0));
        // Two-sided: 8 is as far below as 16 is above.
        let s = MotifStat::new("reciprocal", "x", 16, vec![8, 12, 12, 16]);
        assert_eq!(s.null_sd, Some((32.0f64 / 3.0).sqrt()));
        assert_eq!(s.p, 3.0 / 5.0);
        // A constant ensemble: no z; p 1 at the constant, 1 / (1 + N) off it.
        let s = MotifStat::new("300", "x", 5, vec![5, 5]);
        assert_eq!((s.null_sd, s.z, s.p), (Some(0.0), None, 1.0));
        let s = MotifStat::new("300", "x", 6, vec![5, 5]);
        assert_eq!((s.z, s.p), (None, 1.0 / 3.0));
        // One member: no sd.
        let s = MotifStat::new("300", "x", 6, vec![5]);
        assert_eq!((s.null_sd, s.z, s.p), (None, None, 0.5));
    }
}
