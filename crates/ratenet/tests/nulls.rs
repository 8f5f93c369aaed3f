//! What each null model keeps and what it changes (the table of
//! `docs/null-models.md`), row by row, for all eight names: over random
//! sparse matrices (with and without autapses, with reciprocal pairs,
//! degenerate ones), on hand-made matrices where the answer is known, and on
//! the shared MICrONS E–E matrix. Also determinism, chains, the
//! `[null_models]` key, an experiment with edge-swap conditions run through
//! the library, and the swap time on the 115k-connection minnie65 graph.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Instant;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use ratenet::data::Connectome;
use ratenet::experiment::{self, Spec};
use ratenet::matrix::Csr;
use ratenet::network::nulls::{self, count_reciprocal, Keyed, ReciprocalPolicy, SwapsPerEdge};
use ratenet::network::{NullModel, RngMode};
use ratenet::{Experiment, RunOptions};

const MODES: [RngMode; 2] = [RngMode::Notebook, RngMode::Fast];

/// Every null model, the edge-swap ones with `swaps` attempts per edge.
fn all_models(swaps: f64) -> Vec<NullModel> {
    nulls::NULL_MODEL_NAMES
        .split(", ")
        .map(|n| {
            NullModel::parse(n.trim_matches('"'))
                .unwrap()
                .with_swaps_per_edge(swaps)
        })
        .collect()
}

fn connectome() -> &'static Connectome {
    static C: OnceLock<Connectome> = OnceLock::new();
    C.get_or_init(|| experiment::load_connectome(&microns_spec(""), None).unwrap().unwrap())
}

// ---------------------------------------------------------------------------
// What a matrix has

fn triplets(m: &Csr) -> Vec<(usize, usize, f64)> {
    (0..m.n_rows)
        .flat_map(|i| m.row(i).map(move |(j, v)| (i, j, v)))
        .collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn out_degrees(m: &Csr) -> Vec<usize> {
    (0..m.n_rows).map(|i| m.indptr[i + 1] - m.indptr[i]).collect()
}

fn in_degrees(m: &Csr) -> Vec<usize> {
    let mut d = vec![0; m.n_cols];
    for &j in &m.indices {
        d[j as usize] += 1;
    }
    d
}

/// Unordered pairs i < j with both directions stored.
fn pairs(m: &Csr) -> BTreeSet<(usize, usize)> {
    triplets(m)
        .into_iter()
        .filter(|&(i, j, _)| i < j && m.get(j, i) != 0.0)
        .map(|(i, j, _)| (i, j))
        .collect()
}

/// The diagonal as (row, value bits).
fn diagonal(m: &Csr) -> Vec<(usize, u64)> {
    triplets(m)
        .into_iter()
        .filter(|&(i, j, _)| i == j)
        .map(|(i, _, v)| (i, v.to_bits()))
        .collect()
}

fn pattern(m: &Csr) -> BTreeSet<(usize, usize)> {
    triplets(m).into_iter().map(|(i, j, _)| (i, j)).collect()
}

/// Each row's weights, sorted: every neuron's outgoing weights.
fn row_weights(m: &Csr) -> Vec<Vec<u64>> {
    (0..m.n_rows)
        .map(|i| {
            let mut w: Vec<u64> = m.row(i).map(|(_, v)| v.to_bits()).collect();
            w.sort_unstable();
            w
        })
        .collect()
}

fn well_formed(m: &Csr, like: &Csr, what: &str) {
    assert_eq!((m.n_rows, m.n_cols), (like.n_rows, like.n_cols), "{what}: shape");
    assert_eq!(m.indptr.len(), m.n_rows + 1, "{what}");
    assert_eq!(*m.indptr.last().unwrap(), m.nnz(), "{what}");
    assert!(m.indptr.windows(2).all(|w| w[0] <= w[1]), "{what}");
    for i in 0..m.n_rows {
        let cols = &m.indices[m.indptr[i]..m.indptr[i + 1]];
        assert!(
            cols.windows(2).all(|w| w[0] < w[1]),
            "{what}: row {i} sorted, no duplicate"
        );
        assert!(cols.iter().all(|&j| (j as usize) < m.n_cols), "{what}");
    }
    assert!(m.values.iter().all(|&v| v != 0.0), "{what}: no stored zero");
}

/// Every row of the table of `docs/null-models.md` that says "kept" (or
/// gives the exact change), for `model` taking `m` to `out`.
fn assert_keeps(model: NullModel, m: &Csr, out: &Csr, what: &str) {
    well_formed(out, m, what);
    let recip = pairs(m);
    match model {
        NullModel::ShuffleConnections => {
            assert_eq!(out.nnz(), m.nnz(), "{what}: connections");
            assert_eq!(sorted(out.values.clone()), sorted(m.values.clone()), "{what}: weights");
        }
        NullModel::ShuffleWeights => {
            assert_eq!(
                (&out.indptr, &out.indices),
                (&m.indptr, &m.indices),
                "{what}: positions"
            );
            assert_eq!(sorted(out.values.clone()), sorted(m.values.clone()), "{what}: weights");
        }
        NullModel::RemoveReciprocal(p) => {
            let per_pair = if p == ReciprocalPolicy::Both { 2 } else { 1 };
            assert_eq!(out.nnz(), m.nnz() - per_pair * recip.len(), "{what}: connections");
            assert!(pairs(out).is_empty(), "{what}: no pair left");
            // Only removals: what stays is the original entry.
            for (i, j, v) in triplets(out) {
                assert_eq!(v.to_bits(), m.get(i, j).to_bits(), "{what}: ({i}, {j})");
            }
            assert_eq!(diagonal(out), diagonal(m), "{what}: diagonal");
        }
        NullModel::DegreePreserving(_) | NullModel::ReciprocityPreserving(_) => {
            assert_eq!(out.nnz(), m.nnz(), "{what}: connections");
            assert_eq!(sorted(out.values.clone()), sorted(m.values.clone()), "{what}: weights");
            assert_eq!(out_degrees(out), out_degrees(m), "{what}: out-degrees");
            assert_eq!(in_degrees(out), in_degrees(m), "{what}: in-degrees");
            assert_eq!(diagonal(out), diagonal(m), "{what}: diagonal");
            if let NullModel::ReciprocityPreserving(_) = model {
                assert_eq!(pairs(out).len(), recip.len(), "{what}: reciprocal pairs");
                assert_eq!(count_reciprocal(out), count_reciprocal(m), "{what}");
                // Each pair's two weights travel together.
                let pair_weights = |x: &Csr| {
                    let mut w: Vec<(u64, u64)> = pairs(x)
                        .into_iter()
                        .map(|(i, j)| {
                            let (a, b) = (x.get(i, j).to_bits(), x.get(j, i).to_bits());
                            (a.min(b), a.max(b))
                        })
                        .collect();
                    w.sort_unstable();
                    w
                };
                assert_eq!(pair_weights(out), pair_weights(m), "{what}: pair weights");
            } else {
                // A→D carries A→B's weight: rows keep their weights.
                assert_eq!(row_weights(out), row_weights(m), "{what}: outgoing weights");
            }
        }
    }
    if matches!(model, NullModel::ShuffleWeights) {
        assert_eq!(pairs(out), recip, "{what}: reciprocal pairs");
        assert_eq!(out_degrees(out), out_degrees(m), "{what}: out-degrees");
        assert_eq!(in_degrees(out), in_degrees(m), "{what}: in-degrees");
    }
}

/// Keys travel with their entries: `(value, key)` multisets are kept by
/// the models that move entries, and by rows under `degree_preserving`.
fn assert_keys_travel(model: NullModel, m: &Csr, seed: u64, what: &str) {
    let keyed = Keyed {
        keys: (0..m.nnz()).map(|k| k as f64).collect(),
        m: m.clone(),
    };
    let out = model.apply_keyed(&keyed, seed, RngMode::Fast).unwrap();
    assert_eq!(
        out.m,
        model.apply(m, seed, RngMode::Fast).unwrap(),
        "{what}: same matrix keyed"
    );
    assert_eq!(out.keys.len(), out.m.nnz(), "{what}: one key per entry");
    if matches!(
        model,
        NullModel::DegreePreserving(_) | NullModel::ReciprocityPreserving(_)
    ) {
        // Every entry is an original one: its key names its weight.
        let mut seen = BTreeSet::new();
        for ((i, j, v), &k) in triplets(&out.m).into_iter().zip(&out.keys) {
            let k = k as usize;
            assert!(seen.insert(k), "{what}: key {k} twice");
            assert_eq!(
                v.to_bits(),
                m.values[k].to_bits(),
                "{what}: ({i}, {j}) key {k} with its weight"
            );
            if let NullModel::DegreePreserving(_) = model {
                let row = m.indptr.partition_point(|&p| p <= k) - 1;
                assert_eq!(row, i, "{what}: key {k} keeps its presynaptic neuron");
            }
        }
        assert_eq!(seen.len(), m.nnz(), "{what}");
    }
}

// ---------------------------------------------------------------------------
// Matrices

/// A random sparse n × n matrix from a small linear congruential stream:
/// each off-diagonal entry with probability `p`, its reverse added with
/// probability `recip`, autapses with probability 1/2 when allowed;
/// weights in {0.1, …, 0.5} (ties) or all distinct.
fn random_matrix(n: usize, p: f64, recip: f64, autapses: bool, ties: bool, seed: u64) -> Csr {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut on = BTreeSet::new();
    for i in 0..n {
        for j in 0..n {
            if i == j {
                if autapses && next() < 0.5 {
                    on.insert((i, j));
                }
            } else if next() < p {
                on.insert((i, j));
                if next() < recip {
                    on.insert((j, i));
                }
            }
        }
    }
    let mut k = 0;
    let t: Vec<_> = on
        .into_iter()
        .map(|(i, j)| {
            k += 1;
            let w = if ties {
                (1 + k % 5) as f64 / 10.0
            } else {
                k as f64 / 7.0
            };
            (i, j, w)
        })
        .collect();
    Csr::from_sorted_triplets(n, n, t)
}

fn complete(n: usize, autapses: bool) -> Csr {
    let t: Vec<_> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .filter(|&(i, j)| autapses || i != j)
        .enumerate()
        .map(|(k, (i, j))| (i, j, 1.0 + k as f64))
        .collect();
    Csr::from_sorted_triplets(n, n, t)
}

fn csr(n: usize, t: &[(usize, usize, f64)]) -> Csr {
    Csr::from_sorted_triplets(n, n, t.iter().copied())
}

/// Tiny and degenerate matrices: empty, one or two connections, a lone
/// reciprocal pair, autapses only, complete graphs (where no swap is possible).
fn degenerate() -> Vec<(&'static str, Csr)> {
    vec![
        ("0 × 0", csr(0, &[])),
        ("empty 5 × 5", csr(5, &[])),
        ("one edge", csr(3, &[(0, 2, 0.5)])),
        ("two edges", csr(4, &[(0, 1, 0.5), (2, 3, 0.7)])),
        ("one pair", csr(3, &[(0, 1, 0.5), (1, 0, 0.7)])),
        ("one autapse", csr(2, &[(1, 1, 0.5)])),
        ("autapses only", csr(3, &[(0, 0, 0.5), (1, 1, 0.6), (2, 2, 0.7)])),
        ("complete 5", complete(5, false)),
        ("complete 4 with autapses", complete(4, true)),
    ]
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 64,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(200, 0x14_0001))]

    /// Every model keeps what the table says on random sparse matrices.
    #[test]
    fn every_null_model_keeps_what_it_says(
        n in 0usize..=14,
        p in 0.0f64..0.8,
        recip in 0.0f64..1.0,
        autapses in any::<bool>(),
        ties in any::<bool>(),
        mseed in any::<u64>(),
        seed in 0u64..1000,
        swaps in prop::sample::select(vec![0.0, 0.5, 1.0, 10.0]),
    ) {
        let m = random_matrix(n, p, recip, autapses, ties, mseed);
        for model in all_models(swaps) {
            for mode in MODES {
                let what = format!("{} {mode:?} seed {seed} swaps {swaps} on {:?}", model.name(), triplets(&m));
                let out = model.apply(&m, seed, mode).unwrap();
                assert_keeps(model, &m, &out, &what);
            }
            assert_keys_travel(model, &m, seed, model.name());
        }
    }
}

#[test]
fn degenerate_matrices_keep_everything_and_complete_graphs_cannot_swap() {
    for (name, m) in degenerate() {
        for model in all_models(10.0) {
            for mode in MODES {
                for seed in 0..5 {
                    let what = format!("{name}: {} {mode:?} seed {seed}", model.name());
                    let out = model.apply(&m, seed, mode).unwrap();
                    assert_keeps(model, &m, &out, &what);
                    let swaps = matches!(
                        model,
                        NullModel::DegreePreserving(_) | NullModel::ReciprocityPreserving(_)
                    );
                    // No swap is possible on any of these but "two edges"
                    // (0→1, 2→3 ⇒ 0→3, 2→1, one-way both before and after).
                    if swaps && name != "two edges" {
                        assert_eq!(out, m, "{what}: nothing can move");
                    }
                }
            }
        }
    }
}

#[test]
fn the_smallest_swaps_reach_both_wirings() {
    let dp = NullModel::parse("degree_preserving").unwrap();
    let m = csr(4, &[(0, 1, 0.5), (2, 3, 0.7)]);
    let swapped = csr(4, &[(0, 3, 0.5), (2, 1, 0.7)]);
    let outs: BTreeSet<Vec<(usize, usize, u64)>> = (0..20)
        .map(|s| {
            let out = dp.apply(&m, s, RngMode::Fast).unwrap();
            assert!(out == m || out == swapped, "seed {s}: {:?}", triplets(&out));
            triplets(&out)
                .into_iter()
                .map(|(i, j, v)| (i, j, v.to_bits()))
                .collect()
        })
        .collect();
    assert_eq!(outs.len(), 2, "some seeds swap, some swap back");

    // Two pairs 0⇄1 (0.1, 0.2) and 2⇄3 (0.3, 0.4): the pairs rewire as
    // pairs, each pair's weights staying together; one-way swaps cannot
    // happen (there are none).
    let rp = NullModel::parse("reciprocity_preserving").unwrap();
    let m = csr(4, &[(0, 1, 0.1), (1, 0, 0.2), (2, 3, 0.3), (3, 2, 0.4)]);
    let mut wirings = BTreeSet::new();
    for s in 0..40 {
        let out = rp.apply(&m, s, RngMode::Fast).unwrap();
        assert_keeps(rp, &m, &out, &format!("seed {s}"));
        wirings.insert(pairs(&out));
    }
    let want: BTreeSet<BTreeSet<(usize, usize)>> = [
        [(0, 1), (2, 3)].into(),
        [(0, 3), (1, 2)].into(),
        [(0, 2), (1, 3)].into(),
    ]
    .into();
    assert_eq!(wirings, want, "all three pairings of four neurons");

    // Three one-way edges in a cycle 0→1→2→0 plus 3→4: a one-way swap that
    // would close a reciprocal pair is refused, so the pair count stays 0.
    let m = csr(5, &[(0, 1, 1.0), (1, 2, 2.0), (2, 0, 3.0), (3, 4, 4.0)]);
    for s in 0..40 {
        let out = rp.apply(&m, s, RngMode::Fast).unwrap();
        assert_keeps(rp, &m, &out, &format!("cycle seed {s}"));
        assert!(pairs(&out).is_empty(), "seed {s}: {:?}", triplets(&out));
    }
    // …whereas degree_preserving may create one (2→0, 3→4 ⇒ 2→4, 3→0, then
    // 0→1, 2→4 ⇒ 0→4, 2→1 beside 1→2).
    let made_pair = (0..200).any(|s| !pairs(&dp.apply(&m, s, RngMode::Fast).unwrap()).is_empty());
    assert!(made_pair, "degree_preserving can create reciprocal pairs");
}

// ---------------------------------------------------------------------------
// What they change

/// Matrices that admit swaps: the 40 × 40 random one and the shared data.
fn rich() -> Vec<(&'static str, Csr)> {
    vec![
        ("random 40", random_matrix(40, 0.2, 0.4, true, false, 7)),
        ("microns", connectome().matrix.clone()),
    ]
}

#[test]
fn each_null_model_changes_what_it_says_on_the_shared_data() {
    for (name, m) in rich() {
        assert!(!pairs(&m).is_empty(), "{name}: has reciprocal pairs");
        let observed_pattern = pattern(&m);
        for model in all_models(10.0) {
            for mode in MODES {
                let what = format!("{name}: {} {mode:?}", model.name());
                let out = model.apply(&m, 3, mode).unwrap();
                assert_keeps(model, &m, &out, &what);
                match model {
                    NullModel::ShuffleConnections => {
                        assert_ne!(out_degrees(&out), out_degrees(&m), "{what}: out-degrees change");
                        assert_ne!(in_degrees(&out), in_degrees(&m), "{what}: in-degrees change");
                        assert_ne!(pairs(&out).len(), pairs(&m).len(), "{what}: pairs change");
                    }
                    NullModel::ShuffleWeights => assert_ne!(out.values, m.values, "{what}: weights move"),
                    NullModel::RemoveReciprocal(_) => assert!(out.nnz() < m.nnz(), "{what}"),
                    NullModel::DegreePreserving(_) => {
                        let moved = observed_pattern.difference(&pattern(&out)).count();
                        assert!(
                            moved * 2 > m.nnz() - diagonal(&m).len(),
                            "{what}: most edges move ({moved})"
                        );
                        assert!(pairs(&out).len() < pairs(&m).len(), "{what}: fewer pairs than observed");
                    }
                    NullModel::ReciprocityPreserving(_) => {
                        let moved = observed_pattern.difference(&pattern(&out)).count();
                        assert!(
                            moved * 2 > m.nnz() - diagonal(&m).len(),
                            "{what}: most edges move ({moved})"
                        );
                        assert_ne!(pairs(&out), pairs(&m), "{what}: the pairs themselves move");
                    }
                }
            }
        }
    }
}

#[test]
fn edge_swaps_are_deterministic_differ_by_seed_and_ignore_the_rng_mode() {
    for (name, m) in rich() {
        for model in all_models(10.0)
            .into_iter()
            .filter(|n| n.name().ends_with("_preserving"))
        {
            let what = format!("{name}: {}", model.name());
            let a = model.apply(&m, 0, RngMode::Fast).unwrap();
            assert_eq!(
                model.apply(&m, 0, RngMode::Fast).unwrap(),
                a,
                "{what}: same seed, same matrix"
            );
            assert_eq!(
                model.apply(&m, 0, RngMode::Notebook).unwrap(),
                a,
                "{what}: one stream in every mode"
            );
            assert_ne!(
                model.apply(&m, 1, RngMode::Fast).unwrap(),
                a,
                "{what}: seeds 0 and 1 differ"
            );
            assert!(model.draws_from_seed(), "{what}");
            // No swap attempted: the matrix as it was.
            assert_eq!(
                model.with_swaps_per_edge(0.0).apply(&m, 0, RngMode::Fast).unwrap(),
                m,
                "{what}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Chains and the experiment file

#[test]
fn edge_swaps_chain_with_the_other_models() {
    let m = &connectome().matrix;
    let dp = NullModel::parse("degree_preserving").unwrap();
    let rp = NullModel::parse("reciprocity_preserving").unwrap();
    let remove = NullModel::parse("remove_reciprocal").unwrap();
    let shuffle_w = NullModel::parse("shuffle_weights").unwrap();
    for mode in MODES {
        let no_pairs = remove.apply(m, 5, mode).unwrap();
        let chain = nulls::apply_chain(m, &[remove, dp], 5, mode).unwrap();
        assert_eq!(chain, dp.apply(&no_pairs, 5, mode).unwrap(), "{mode:?}: in order");
        assert_keeps(dp, &no_pairs, &chain, "remove_reciprocal, degree_preserving");
        assert_eq!(chain.nnz(), m.nnz() - pairs(m).len());
        let chain = nulls::apply_chain(m, &[remove, rp], 5, mode).unwrap();
        assert!(pairs(&chain).is_empty(), "{mode:?}: no pair to keep, none made");
        let chain = nulls::apply_chain(m, &[dp, shuffle_w], 5, mode).unwrap();
        let swapped = dp.apply(m, 5, mode).unwrap();
        assert_eq!(pattern(&chain), pattern(&swapped), "{mode:?}");
        assert_keeps(shuffle_w, &swapped, &chain, "degree_preserving, shuffle_weights");
        // The keyed chain the engine uses gives the same matrix.
        let keyed = nulls::apply_chain_keyed(m, &[remove, dp, rp], 5, mode).unwrap();
        assert_eq!(keyed.m, nulls::apply_chain(m, &[remove, dp, rp], 5, mode).unwrap());
    }
}

#[test]
fn swaps_per_edge_comes_from_the_experiment_file() {
    let spec = Spec::parse(
        "[null_models]\nswaps_per_edge = 2.5\n\
         [[condition]]\nname = \"a\"\nnulls = [\"remove_reciprocal\", \"degree_preserving\", \"reciprocity_preserving\"]\n",
    )
    .unwrap();
    assert_eq!(spec.null_models.swaps_per_edge, 2.5);
    assert_eq!(
        spec.conditions[0].nulls,
        [
            NullModel::RemoveReciprocal(ReciprocalPolicy::KeepUpper),
            NullModel::DegreePreserving(SwapsPerEdge(2.5)),
            NullModel::ReciprocityPreserving(SwapsPerEdge(2.5)),
        ]
    );
    assert_eq!(
        spec.null_model("degree_preserving").unwrap(),
        spec.conditions[0].nulls[1]
    );
    let default = Spec::parse("[[condition]]\nname = \"a\"\nnulls = [\"degree_preserving\"]\n").unwrap();
    assert_eq!(
        default.conditions[0].nulls,
        [NullModel::DegreePreserving(SwapsPerEdge(10.0))]
    );
    for bad in ["-1", "\"many\"", "inf", "nan"] {
        let e = Spec::parse(&format!("[null_models]\nswaps_per_edge = {bad}\n")).unwrap_err();
        assert!(e.message().contains("null_models.swaps_per_edge"), "{bad}: {e}");
    }
    let e = Spec::parse("[null_models]\nswap_per_edge = 1\n").unwrap_err();
    assert!(e.message().contains("did you mean 'swaps_per_edge'"), "{e}");
    let e = Spec::parse("[sweep]\n\"null_models.swaps_per_edge\" = [1, 2]\n").unwrap_err();
    assert!(e.message().contains("cannot be swept"), "{e}");
}

#[test]
fn an_experiment_with_edge_swap_conditions_runs_through_the_library() {
    let (syn, cells) = microns();
    let text = format!(
        "[data]\nsynapses = {:?}\ncells = {:?}\n\
         [simulation]\nt_max = 20.0\n\
         [[condition]]\nname = \"observed\"\nnulls = []\n\
         [[condition]]\nname = \"degree\"\nnulls = [\"degree_preserving\"]\n\
         [[condition]]\nname = \"reciprocity\"\nnulls = [\"reciprocity_preserving\"]\n\
         [[condition]]\nname = \"no_pairs_degree\"\nnulls = [\"remove_reciprocal\", \"degree_preserving\"]\n\
         [sweep]\nseeds = \"0-1\"\n[output]\nfigures = false\n",
        syn.display().to_string(),
        cells.display().to_string()
    );
    let exp = Experiment::from_toml_str(&text).unwrap();
    let results = exp.run(&RunOptions::default()).unwrap();
    assert!(results.is_complete());
    let rows: BTreeMap<(&str, u64), &ratenet::experiment::Row> = results
        .rows()
        .iter()
        .map(|r| ((r.condition.as_str(), r.seed), r))
        .collect();
    assert_eq!(rows.len(), 8);
    let m = &connectome().matrix;
    let recip = |c: &str, seed: u64| rows[&(c, seed)].reciprocal.unwrap();
    let nnz = |c: &str, seed: u64| rows[&(c, seed)].nnz_ee.unwrap();
    for seed in [0, 1] {
        assert_eq!(recip("observed", seed), count_reciprocal(m));
        for c in ["degree", "reciprocity"] {
            assert_eq!(nnz(c, seed), m.nnz() as u64, "{c}: connections kept");
            assert!(rows[&(c, seed)].get("t_end").as_f64().is_some(), "{c}: ran");
        }
        assert_eq!(recip("reciprocity", seed), recip("observed", seed));
        assert!(
            recip("degree", seed) < recip("observed", seed),
            "seed {seed}: degree_preserving loses the observed pairs"
        );
        assert_eq!(nnz("no_pairs_degree", seed), (m.nnz() - pairs(m).len()) as u64);
        // The row's statistics are those of the matrix the library builds.
        let spec = exp.spec();
        let cond = spec.condition(Some("degree")).unwrap();
        let cm = experiment::condition_matrix(spec, Some(connectome()), cond, seed)
            .unwrap()
            .unwrap();
        assert_eq!(count_reciprocal(&cm), recip("degree", seed));
        assert_eq!(cm, cond.nulls[0].apply(m, seed, RngMode::Notebook).unwrap());
    }
    // Two seeds, two rewirings.
    let spec = exp.spec();
    let cond = spec.condition(Some("reciprocity")).unwrap();
    let at = |seed| {
        experiment::condition_matrix(spec, Some(connectome()), cond, seed)
            .unwrap()
            .unwrap()
    };
    assert_ne!(at(0), at(1));
}

// ---------------------------------------------------------------------------
// Scale

/// The minnie65 graph: `i, j, weight` with 1-based row numbers, as a
/// square matrix over the largest row number (duplicate rows summed).
fn minnie65() -> Csr {
    let path = shared().join("data/minnie65_graph/mouse_directed_connectome.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next().map(str::trim), Some("i,j,weight"));
    let mut entries: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for l in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.trim().split(',').collect();
        let (i, j, w): (usize, usize, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap());
        *entries.entry((i - 1, j - 1)).or_default() += w;
    }
    let n = entries.keys().map(|&(i, j)| i.max(j) + 1).max().unwrap_or(0);
    Csr::from_sorted_triplets(n, n, entries.into_iter().map(|((i, j), w)| (i, j, w)))
}

/// CPU seconds this thread has used (Linux; `None` elsewhere): the swap
/// time without the waits of a busy machine.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

#[test]
fn edge_swaps_on_the_minnie65_graph() {
    let m = minnie65();
    assert!(m.nnz() > 100_000, "{}", m.nnz());
    for model in all_models(10.0)
        .into_iter()
        .filter(|n| n.name().ends_with("_preserving"))
    {
        let (t0, c0) = (Instant::now(), thread_cpu_seconds());
        let out = model.apply(&m, 0, RngMode::Fast).unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let cpu = c0.zip(thread_cpu_seconds()).map(|(a, b)| format!("{:.2}", b - a));
        println!(
            "{}: {} neurons, {} connections ({} reciprocal pairs, {} autapses), 10 swaps/edge: {secs:.3} s \
             (CPU {} s); reciprocal pairs after: {}",
            model.name(),
            m.n_rows,
            m.nnz(),
            pairs(&m).len(),
            diagonal(&m).len(),
            cpu.unwrap_or_else(|| "?".into()),
            pairs(&out).len()
        );
        assert_keeps(model, &m, &out, model.name());
        // O(edges · swaps): 1.15 million attempts take well under a second
        // on one core; a quadratic pass over 6,500² cells would not.
        assert!(secs < 20.0, "{}: {secs} s", model.name());
    }
}
