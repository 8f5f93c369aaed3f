//! Properties that must hold whatever the numbers: null models keep what they
//! claim to keep, networks obey Dale's law and the E/I balance, the observed
//! network embeds its E–E matrix, and results depend neither on the kernel
//! nor on tracing. Checked on the shared MICrONS connectome and on small
//! hand-made matrices, in both random-stream modes.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use common::*;
use ratenet::data::Connectome;
use ratenet::experiment::{self, Condition, Spec};
use ratenet::matrix::Csr;
use ratenet::network::nulls::{self, count_positive, count_reciprocal, ReciprocalPolicy};
use ratenet::network::{self, NetworkKind, NetworkSpec, NullModel, RngMode, Weights};
use ratenet::sim::{KernelChoice, Record, Response};

const MODES: [RngMode; 2] = [RngMode::Notebook, RngMode::Fast];
const POLICIES: [ReciprocalPolicy; 4] = [
    ReciprocalPolicy::KeepUpper,
    ReciprocalPolicy::Both,
    ReciprocalPolicy::Weaker,
    ReciprocalPolicy::Random,
];

// ---------------------------------------------------------------------------
// Matrices

/// The MICrONS E–E connectome of the shared data, loaded once.
fn connectome() -> &'static Connectome {
    static C: OnceLock<Connectome> = OnceLock::new();
    C.get_or_init(|| experiment::load_connectome(&microns_spec(""), None).unwrap().unwrap())
}

/// 6 × 6 with two autapses, four reciprocal pairs (lower larger, a tie,
/// upper larger twice) and one-way entries.
fn hand_made() -> Csr {
    let t = [
        (0, 0, 0.5),
        (0, 1, 1.0),
        (0, 2, 2.0),
        (0, 4, 0.3),
        (1, 0, 3.0),
        (1, 3, 1.5),
        (2, 0, 2.0),
        (2, 2, 0.7),
        (2, 5, 0.4),
        (3, 1, 0.5),
        (3, 4, 1.1),
        (4, 3, 0.9),
        (5, 0, 0.2),
    ];
    Csr::from_sorted_triplets(6, 6, t)
}

/// 40 × 40, about 30% full, values in {0.1, …, 0.5} (many ties), from a
/// fixed linear congruential stream.
fn pseudo_random() -> Csr {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    let n = 40;
    let mut t = Vec::new();
    for i in 0..n {
        for j in 0..n {
            if next() % 10 < 3 {
                t.push((i, j, (1 + next() % 5) as f64 / 10.0));
            }
        }
    }
    Csr::from_sorted_triplets(n, n, t)
}

/// The matrices every null-model property is checked on.
fn matrices() -> Vec<(&'static str, Csr)> {
    vec![
        ("hand-made", hand_made()),
        ("pseudo-random", pseudo_random()),
        ("microns", connectome().matrix.clone()),
    ]
}

fn triplets(m: &Csr) -> Vec<(usize, usize, f64)> {
    (0..m.n_rows)
        .flat_map(|i| m.row(i).map(move |(j, v)| (i, j, v)))
        .collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Off-diagonal entries whose transpose is also stored and positive.
fn reciprocal_entries(m: &Csr) -> BTreeSet<(usize, usize)> {
    triplets(m)
        .into_iter()
        .filter(|&(i, j, v)| i != j && v > 0.0 && m.get(j, i) > 0.0)
        .map(|(i, j, _)| (i, j))
        .collect()
}

fn diagonal_count(m: &Csr) -> u64 {
    (0..m.n_rows.min(m.n_cols)).filter(|&i| m.get(i, i) > 0.0).count() as u64
}

fn removed(before: &Csr, after: &Csr) -> BTreeSet<(usize, usize)> {
    triplets(before)
        .into_iter()
        .filter(|&(i, j, _)| after.get(i, j) == 0.0)
        .map(|(i, j, _)| (i, j))
        .collect()
}

// ---------------------------------------------------------------------------
// Shuffles

#[test]
fn shuffle_connections_permutes_all_entries() {
    for (name, m) in matrices() {
        for mode in MODES {
            let a = nulls::shuffle_connections(&m, 0, mode).unwrap();
            assert_eq!((a.n_rows, a.n_cols), (m.n_rows, m.n_cols), "{name} {mode:?}");
            assert_eq!(
                a.nnz(),
                m.nnz(),
                "{name} {mode:?}: same number of non-zeros (so of zeros)"
            );
            assert_eq!(
                sorted(a.values.clone()),
                sorted(m.values.clone()),
                "{name} {mode:?}: same values"
            );
            assert_eq!(
                sorted(a.to_dense()),
                sorted(m.to_dense()),
                "{name} {mode:?}: same multiset with zeros"
            );
            assert!(a.indptr.windows(2).all(|w| w[0] <= w[1]) && *a.indptr.last().unwrap() == a.nnz());
            for i in 0..a.n_rows {
                let cols = &a.indices[a.indptr[i]..a.indptr[i + 1]];
                assert!(cols.windows(2).all(|w| w[0] < w[1]), "{name} {mode:?}: sorted columns");
                assert!(cols.iter().all(|&j| (j as usize) < a.n_cols));
            }
            assert_eq!(
                nulls::shuffle_connections(&m, 0, mode).unwrap(),
                a,
                "{name} {mode:?}: deterministic"
            );
            let b = nulls::shuffle_connections(&m, 1, mode).unwrap();
            assert_ne!(a, b, "{name} {mode:?}: seeds 0 and 1 give different shuffles");
            assert_ne!(a, m, "{name} {mode:?}: the shuffle moves something");
        }
        // The two modes are different streams of the same distribution.
        assert_ne!(
            nulls::shuffle_connections(&m, 0, RngMode::Notebook).unwrap(),
            nulls::shuffle_connections(&m, 0, RngMode::Fast).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn shuffle_weights_permutes_values_over_the_same_pattern() {
    for (name, m) in matrices() {
        for mode in MODES {
            let a = nulls::shuffle_weights(&m, 0, mode).unwrap();
            assert_eq!((a.n_rows, a.n_cols), (m.n_rows, m.n_cols), "{name} {mode:?}");
            assert_eq!(a.indptr, m.indptr, "{name} {mode:?}: same rows");
            assert_eq!(a.indices, m.indices, "{name} {mode:?}: same zero pattern");
            assert_eq!(
                sorted(a.values.clone()),
                sorted(m.values.clone()),
                "{name} {mode:?}: same values"
            );
            assert_eq!(
                nulls::shuffle_weights(&m, 0, mode).unwrap(),
                a,
                "{name} {mode:?}: deterministic"
            );
            let b = nulls::shuffle_weights(&m, 1, mode).unwrap();
            assert_ne!(a.values, b.values, "{name} {mode:?}: seeds 0 and 1 differ");
            assert_ne!(a.values, m.values, "{name} {mode:?}: the shuffle moves something");
        }
    }
}

#[test]
fn shuffles_of_an_empty_matrix_stay_empty() {
    let m = Csr::from_sorted_triplets(5, 5, []);
    for mode in MODES {
        assert_eq!(nulls::shuffle_connections(&m, 3, mode).unwrap(), m);
        assert_eq!(nulls::shuffle_weights(&m, 3, mode).unwrap(), m);
        for p in POLICIES {
            assert_eq!(nulls::remove_reciprocal(&m, p, 3, mode).unwrap(), m);
        }
    }
}

// ---------------------------------------------------------------------------
// Removing reciprocal connections

#[test]
fn remove_reciprocal_only_removes_reciprocal_entries() {
    for (name, m) in matrices() {
        let recip = reciprocal_entries(&m);
        assert!(!recip.is_empty(), "{name}: has reciprocal pairs to remove");
        for mode in MODES {
            for policy in POLICIES {
                let what = format!("{name} {mode:?} {policy:?}");
                let out = nulls::remove_reciprocal(&m, policy, 7, mode).unwrap();
                assert_eq!((out.n_rows, out.n_cols), (m.n_rows, m.n_cols), "{what}");
                // Only removals: every kept entry is the original one.
                for (i, j, v) in triplets(&out) {
                    assert_eq!(v.to_bits(), m.get(i, j).to_bits(), "{what}: ({i}, {j}) changed");
                }
                // The diagonal is never touched.
                for i in 0..m.n_rows {
                    assert_eq!(out.get(i, i).to_bits(), m.get(i, i).to_bits(), "{what}: diagonal {i}");
                }
                // No off-diagonal reciprocal pair is left.
                assert!(reciprocal_entries(&out).is_empty(), "{what}: reciprocal pairs left");
                assert_eq!(
                    count_reciprocal(&out),
                    diagonal_count(&m),
                    "{what}: only autapses count"
                );
                // Only reciprocal entries go, and at least one of each pair.
                let gone = removed(&m, &out);
                assert!(gone.is_subset(&recip), "{what}: removed a one-way entry");
                for &(i, j) in &recip {
                    assert!(
                        gone.contains(&(i, j)) || gone.contains(&(j, i)),
                        "{what}: pair ({i}, {j}) kept"
                    );
                }
                match policy {
                    ReciprocalPolicy::KeepUpper => {
                        let lower: BTreeSet<_> = recip.iter().copied().filter(|&(i, j)| i > j).collect();
                        assert_eq!(gone, lower, "{what}: exactly the lower entries");
                    }
                    ReciprocalPolicy::Both => assert_eq!(gone, recip, "{what}: both entries"),
                    ReciprocalPolicy::Weaker => {
                        for &(i, j) in recip.iter().filter(|&&(i, j)| i < j) {
                            let (up, low) = (m.get(i, j), m.get(j, i));
                            assert_eq!(
                                out.get(i, j).max(out.get(j, i)),
                                up.max(low),
                                "{what}: ({i}, {j}) keeps the larger"
                            );
                            let want = if up < low { (i, j) } else { (j, i) };
                            assert!(
                                gone.contains(&want) && gone.len() * 2 == recip.len(),
                                "{what}: ({i}, {j})"
                            );
                        }
                    }
                    ReciprocalPolicy::Random => {
                        assert_eq!(gone.len() * 2, recip.len(), "{what}: one entry of each pair");
                        let again = nulls::remove_reciprocal(&m, policy, 7, mode).unwrap();
                        assert_eq!(again, out, "{what}: deterministic");
                    }
                }
            }
        }
    }
}

#[test]
fn remove_reciprocal_policies_on_the_hand_made_matrix() {
    let m = hand_made();
    let set = |v: &[(usize, usize)]| v.iter().copied().collect::<BTreeSet<_>>();
    let cases = [
        (ReciprocalPolicy::KeepUpper, set(&[(1, 0), (2, 0), (3, 1), (4, 3)])),
        (ReciprocalPolicy::Weaker, set(&[(0, 1), (2, 0), (3, 1), (4, 3)])),
        (
            ReciprocalPolicy::Both,
            set(&[(0, 1), (1, 0), (0, 2), (2, 0), (1, 3), (3, 1), (3, 4), (4, 3)]),
        ),
    ];
    for mode in MODES {
        for (policy, want) in &cases {
            let out = nulls::remove_reciprocal(&m, *policy, 0, mode).unwrap();
            assert_eq!(removed(&m, &out), *want, "{mode:?} {policy:?}");
            assert_eq!(out.nnz(), m.nnz() - want.len());
            assert_eq!(count_reciprocal(&out), 2, "the two autapses");
        }
    }
    assert_eq!(count_reciprocal(&m), 10, "8 off-diagonal + 2 autapses");
}

#[test]
fn remove_reciprocal_random_depends_on_the_seed() {
    let m = &connectome().matrix;
    for mode in MODES {
        let a = nulls::remove_reciprocal(m, ReciprocalPolicy::Random, 0, mode).unwrap();
        let b = nulls::remove_reciprocal(m, ReciprocalPolicy::Random, 1, mode).unwrap();
        assert_ne!(a, b, "{mode:?}");
        assert_eq!(a.nnz(), b.nnz(), "{mode:?}: one entry of each pair either way");
    }
}

// ---------------------------------------------------------------------------
// Networks

fn condition(nulls: &[&str]) -> Condition {
    Condition {
        name: nulls.join("+"),
        nulls: nulls.iter().map(|s| NullModel::parse(s).unwrap()).collect(),
    }
}

fn with_rng(mut spec: Spec, rng: RngMode) -> Spec {
    spec.network.rng = rng;
    spec
}

/// The networks of each kind, in both modes (observed ones on the MICrONS data).
fn networks(balance: bool) -> Vec<(String, network::Network, f64)> {
    let mut out = Vec::new();
    for mode in MODES {
        let extra = format!("[network]\nbalance = {balance}\n");
        let spec = with_rng(microns_spec(&extra), mode);
        for nulls in [
            &[][..],
            &["shuffle_connections"],
            &["remove_reciprocal", "shuffle_weights"],
        ] {
            let cond = condition(nulls);
            let net = experiment::build_network(&spec, Some(connectome()), &cond, 2).unwrap();
            out.push((
                format!("observed {:?} {mode:?}", cond.nulls),
                net,
                spec.network.inh_exc_balance,
            ));
        }
        for kind in ["random", "feedforward"] {
            let text = format!("[network]\nkind = \"{kind}\"\nn_neurons = 300\nconnectivity_proba_ee = 0.3\nbalance = {balance}\ninh_exc_balance = 0.4\n");
            let spec = with_rng(Spec::parse(&text).unwrap(), mode);
            for seed in [0, 5] {
                let net = experiment::build_network(&spec, None, &spec.conditions[0], seed).unwrap();
                out.push((format!("{kind} {mode:?} seed {seed}"), net, 0.4));
            }
        }
    }
    out
}

/// Checks Dale's law; returns (positive, negative) entry counts.
fn assert_dale(what: &str, w: &Csr, n_exc: usize) -> (usize, usize) {
    let (mut pos, mut neg) = (0, 0);
    for (i, j, v) in triplets(w) {
        if j < n_exc {
            assert!(v >= 0.0, "{what}: W[{i}][{j}] = {v} from an excitatory neuron");
        } else {
            assert!(v <= 0.0, "{what}: W[{i}][{j}] = {v} from an inhibitory neuron");
        }
        pos += (v > 0.0) as usize;
        neg += (v < 0.0) as usize;
    }
    (pos, neg)
}

/// Rows with inhibitory input, and those whose Σ inh ≠ −b · Σ exc (relative 1e-12).
fn balance_violations(w: &Csr, n_exc: usize, b: f64) -> (usize, usize) {
    let (mut rows, mut bad) = (0, 0);
    for i in 0..w.n_rows {
        let (mut exc, mut inh, mut any_inh) = (0.0, 0.0, false);
        for (j, v) in w.row(i) {
            if j < n_exc {
                exc += v;
            } else {
                inh += v;
                any_inh = true;
            }
        }
        if any_inh {
            rows += 1;
            if (inh + b * exc).abs() > 1e-12 * (b * exc).abs() {
                bad += 1;
            }
        }
    }
    (rows, bad)
}

#[test]
fn dale_law_and_balance_hold_for_every_kind_and_mode() {
    let nets = networks(true);
    assert_eq!(nets.len(), 14);
    for (what, net, b) in &nets {
        let w = net.sparse();
        assert_eq!((w.n_rows, w.n_cols), (net.n, net.n), "{what}");
        assert!(net.n_exc > 0 && net.n_exc < net.n, "{what}");
        let (pos, neg) = assert_dale(what, &w, net.n_exc);
        assert!(pos > 0 && neg > 0, "{what}: has both signs");
        let (rows, bad) = balance_violations(&w, net.n_exc, *b);
        assert!(rows > net.n / 2, "{what}: most rows have inhibitory input ({rows})");
        assert_eq!(bad, 0, "{what}: {bad} of {rows} rows unbalanced");
    }
}

#[test]
fn without_balance_the_inputs_are_not_balanced() {
    for (what, net, b) in &networks(false) {
        let w = net.sparse();
        assert_dale(what, &w, net.n_exc);
        let (rows, bad) = balance_violations(&w, net.n_exc, *b);
        assert!(
            rows > 0 && bad * 10 >= rows * 9,
            "{what}: only {bad} of {rows} rows unbalanced"
        );
    }
}

#[test]
fn feedforward_excitatory_block_is_strictly_upper_triangular() {
    for mode in MODES {
        let ff =
            Spec::parse("[network]\nkind = \"feedforward\"\nn_neurons = 300\nconnectivity_proba_ee = 0.3\n").unwrap();
        let rnd = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 300\n").unwrap();
        for seed in [0, 1, 9] {
            let spec = with_rng(ff.clone(), mode);
            let net = experiment::build_network(&spec, None, &spec.conditions[0], seed).unwrap();
            let ee: Vec<_> = triplets(&net.sparse())
                .into_iter()
                .filter(|&(i, j, _)| i < net.n_exc && j < net.n_exc)
                .collect();
            assert!(!ee.is_empty(), "{mode:?} seed {seed}: has E–E connections");
            for &(i, j, v) in &ee {
                assert!(
                    j > i,
                    "{mode:?} seed {seed}: W[{i}][{j}] = {v} below or on the diagonal"
                );
            }
            // Density of the E–E block: p_ee over the upper triangle.
            let pairs = net.n_exc * (net.n_exc - 1) / 2;
            let density = ee.len() as f64 / pairs as f64;
            assert!(
                (density - 0.3).abs() < 0.03,
                "{mode:?} seed {seed}: E–E density {density}"
            );
            // The random network, for contrast, has E–E entries on both sides.
            let spec = with_rng(rnd.clone(), mode);
            let net = experiment::build_network(&spec, None, &spec.conditions[0], seed).unwrap();
            let lower = triplets(&net.sparse())
                .into_iter()
                .filter(|&(i, j, _)| j < i && i < net.n_exc)
                .count();
            assert!(lower > 0, "{mode:?} seed {seed}");
        }
    }
}

#[test]
fn observed_network_embeds_the_condition_matrix() {
    let c = connectome();
    let chains: [&[&str]; 8] = [
        &[],
        &["shuffle_connections"],
        &["shuffle_weights"],
        &["remove_reciprocal"],
        &["remove_reciprocal:both", "shuffle_connections"],
        &["remove_reciprocal:random"],
        &["degree_preserving"],
        &["remove_reciprocal", "reciprocity_preserving"],
    ];
    for mode in MODES {
        for r in [0.15, 0.3] {
            let spec = with_rng(microns_spec(&format!("[network]\nr_inhibitory = {r}\n")), mode);
            for nulls in chains {
                let cond = condition(nulls);
                for seed in [0, 4] {
                    let what = format!("{mode:?} r = {r} {nulls:?} seed {seed}");
                    let m = experiment::condition_matrix(&spec, Some(c), &cond, seed)
                        .unwrap()
                        .unwrap();
                    if nulls.is_empty() {
                        assert_eq!(m, c.matrix, "{what}");
                    }
                    let net = experiment::build_network(&spec, Some(c), &cond, seed).unwrap();
                    assert_eq!(net.n_exc, c.n(), "{what}");
                    assert_eq!(net.n, (c.n() as f64 / (1.0 - r)).floor() as usize, "{what}");
                    // W[post][pre] = M[pre][post] on the E–E block, bit for bit.
                    let w = net.sparse();
                    let ee: Vec<_> = triplets(&w)
                        .into_iter()
                        .filter(|&(i, j, _)| i < net.n_exc && j < net.n_exc)
                        .map(|(i, j, v)| (i, j, v.to_bits()))
                        .collect();
                    let want: Vec<_> = triplets(&m.transpose())
                        .into_iter()
                        .map(|(i, j, v)| (i, j, v.to_bits()))
                        .collect();
                    assert_eq!(ee, want, "{what}: E–E block of W is Mᵀ");
                    // The reported statistics are those of the matrix after the null models.
                    let nnz = m.values.iter().filter(|&&v| v > 0.0).count() as u64;
                    let recip = reciprocal_entries(&m).len() as u64 + diagonal_count(&m);
                    assert_eq!(net.nnz_ee, Some(nnz), "{what}");
                    assert_eq!(net.nnz_ee, Some(count_positive(&m)), "{what}");
                    assert_eq!(net.reciprocal, Some(recip), "{what}");
                    assert_eq!(net.reciprocal, Some(count_reciprocal(&m)), "{what}");
                    if nulls.iter().any(|n| n.starts_with("remove_reciprocal")) && nulls.len() == 1 {
                        assert_eq!(net.reciprocal, Some(diagonal_count(&c.matrix)), "{what}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Simulation

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
}

#[test]
fn dense_sparse_and_batched_kernels_agree_on_the_observed_network() {
    let record = Record {
        trace: true,
        neurons: vec![0, 5, 400],
    };
    for nulls in [&[][..], &["shuffle_connections"]] {
        let cond = condition(nulls);
        for mode in MODES {
            let mut runs = Vec::new();
            for kernel in [KernelChoice::Dense, KernelChoice::Sparse, KernelChoice::Auto] {
                let mut spec = with_rng(microns_spec(""), mode);
                spec.kernel = kernel;
                let (net, resp) = experiment::simulate_run(&spec, Some(connectome()), &cond, 0, &record).unwrap();
                assert!(net.n > 400);
                runs.push(resp);
            }
            for (s, name) in [(&runs[1], "sparse"), (&runs[2], "batched")] {
                let what = format!("{nulls:?} {mode:?} dense vs {name}");
                let d = &runs[0];
                assert!(d.returned, "{what}: the observed network returns to baseline");
                assert_eq!(d.delta_t, s.delta_t, "{what}: ΔT");
                assert_eq!(
                    (d.returned, d.diverged, d.t_end),
                    (s.returned, s.diverged, s.t_end),
                    "{what}"
                );
                assert!(rel_close(d.peak_exc_mean, s.peak_exc_mean, 1e-12), "{what}");
                let (td, ts) = (d.trace.as_ref().unwrap(), s.trace.as_ref().unwrap());
                assert_eq!(td.neurons, vec![0, 5, 400]);
                assert_eq!(td.t, ts.t);
                assert_eq!(td.stimulus, ts.stimulus);
                let mut nonzero = 0;
                for (k, (rd, rs)) in td.rates.iter().zip(&ts.rates).enumerate() {
                    assert_eq!(rd.len(), td.t.len());
                    for (step, (&a, &b)) in rd.iter().zip(rs).enumerate() {
                        assert!(
                            rel_close(a, b, 1e-12),
                            "{what}: neuron {} step {step}: {a} vs {b}",
                            td.neurons[k]
                        );
                        nonzero += (a != 0.0) as usize;
                    }
                }
                assert!(nonzero > 0, "{what}: recorded neurons are active");
                for (k, (&a, &b)) in td.exc_mean.iter().zip(&ts.exc_mean).enumerate() {
                    assert!(rel_close(a, b, 1e-12), "{what}: exc_mean step {k}: {a} vs {b}");
                }
                for (k, (&a, &b)) in td.inh_mean.iter().zip(&ts.inh_mean).enumerate() {
                    assert!(rel_close(a, b, 1e-12), "{what}: inh_mean step {k}: {a} vs {b}");
                }
            }
        }
    }
}

/// The fields of a response that do not depend on tracing.
fn outcome(r: &Response) -> (Option<u64>, Option<u64>, bool, bool, u64, u64, u64) {
    (
        r.delta_t.map(f64::to_bits),
        r.t_return.map(f64::to_bits),
        r.returned,
        r.diverged,
        r.t_end.to_bits(),
        r.peak_exc_mean.to_bits(),
        r.final_exc_mean.to_bits(),
    )
}

#[test]
fn results_do_not_depend_on_tracing() {
    let traced = Record {
        trace: true,
        neurons: vec![0, 3],
    };
    let observed = microns_spec(
        "[[condition]]\nname = \"observed\"\n[[condition]]\nname = \"shuffled\"\nnulls = [\"shuffle_connections\"]\n",
    );
    let mut cases: Vec<(Spec, Option<&Connectome>)> = Vec::new();
    for mode in MODES {
        cases.push((with_rng(observed.clone(), mode), Some(connectome())));
        let mut full = with_rng(observed.clone(), mode);
        full.simulation.stop_early = ratenet::sim::StopEarly::Never;
        cases.push((full, Some(connectome())));
        let text = "[network]\nkind = \"random\"\nn_neurons = 200\n";
        cases.push((with_rng(Spec::parse(text).unwrap(), mode), None));
        // A network that diverges (large gain).
        let text = "[network]\nkind = \"random\"\nn_neurons = 200\ng = 0.2\n";
        cases.push((with_rng(Spec::parse(text).unwrap(), mode), None));
    }
    let mut saw_diverged = false;
    for (spec, c) in &cases {
        for cond in &spec.conditions {
            for seed in [0, 1] {
                let what = format!(
                    "{} {:?} {} seed {seed}",
                    spec.network.kind.name(),
                    spec.network.rng,
                    cond.name
                );
                let (_, plain) = experiment::simulate_run(spec, *c, cond, seed, &Record::default()).unwrap();
                let (_, with) = experiment::simulate_run(spec, *c, cond, seed, &traced).unwrap();
                assert!(plain.trace.is_none() && with.trace.is_some(), "{what}");
                assert_eq!(outcome(&plain), outcome(&with), "{what}");
                let t = with.trace.unwrap();
                assert!(
                    t.t.len() >= plain.steps_simulated,
                    "{what}: the trace runs at least as long"
                );
                saw_diverged |= plain.diverged;
            }
        }
    }
    assert!(saw_diverged, "a diverging run is among the cases");
}

// ---------------------------------------------------------------------------
// Large networks

#[test]
fn fast_rng_builds_a_large_sparse_network() {
    let n = 20_000;
    let p = 0.005;
    let spec = NetworkSpec {
        kind: NetworkKind::Random,
        n_neurons: n,
        connectivity_proba: p,
        rng: RngMode::Fast,
        ..NetworkSpec::default()
    };
    let net = network::build(&spec, None, 11).unwrap();
    let Weights::Sparse(w) = &net.w else {
        panic!("fast mode builds sparse weights")
    };
    assert_eq!((net.n, w.n_rows, w.n_cols), (n, n, n));
    assert_eq!(net.n_exc, 17_000);
    let density = w.nnz() as f64 / (n as f64 * (n - 1) as f64);
    assert!((density / p - 1.0).abs() < 0.03, "density {density} vs p = {p}");
    assert!((0..n).all(|i| w.get(i, i) == 0.0), "no autapses");
    let (pos, neg) = assert_dale("fast n = 20000", w, net.n_exc);
    assert!(pos > 0 && neg > 0);
    let (rows, bad) = balance_violations(w, net.n_exc, spec.inh_exc_balance);
    assert!(rows > n * 9 / 10, "most rows have inhibitory input ({rows})");
    assert_eq!(bad, 0, "{bad} of {rows} rows unbalanced");
    // Row densities of the E and I columns both follow p.
    let exc = w.indices.iter().filter(|&&j| (j as usize) < net.n_exc).count() as f64;
    let inh = (w.nnz() as f64) - exc;
    let exc_pairs = n as f64 * net.n_exc as f64 - net.n_exc as f64;
    let inh_pairs = n as f64 * (n - net.n_exc) as f64 - (n - net.n_exc) as f64;
    assert!((exc / exc_pairs / p - 1.0).abs() < 0.03 && (inh / inh_pairs / p - 1.0).abs() < 0.05);
}

#[test]
fn a_settled_run_stops_with_the_result_of_the_full_run() {
    // A threshold below zero can never be crossed: the run does not return,
    // its rates decay after the stimulus until they stop changing bit for bit
    // (the decrement rounds to zero), and from then on nothing can change.
    // (An experiment file refuses metric.threshold_ratio <= 0, so it is set
    // on the parsed spec.)
    let text = "[network]\nkind = \"random\"\nn_neurons = 60\n";
    for kernel in ["auto", "sparse", "dense"] {
        let spec = format!("{text}[simulation]\nt_max = 300.0\nkernel = \"{kernel}\"\n");
        let mut spec = Spec::parse(&spec).unwrap();
        spec.metric.threshold_ratio = -1.0;
        let cond = spec.conditions[0].clone();
        let (_, early) = experiment::simulate_run(&spec, None, &cond, 3, &Record::default()).unwrap();
        spec.simulation.stop_early = ratenet::sim::StopEarly::Never;
        let (_, full) = experiment::simulate_run(&spec, None, &cond, 3, &Record::default()).unwrap();
        assert!(
            !full.returned && !full.diverged,
            "{kernel}: the case neither returns nor diverges"
        );
        assert!(full.steps_simulated > 29_000, "{kernel}: the full run is simulated");
        assert!(
            early.steps_simulated < full.steps_simulated,
            "{kernel}: the settled run stops early ({} steps)",
            early.steps_simulated
        );
        assert_eq!(outcome(&early), outcome(&full), "{kernel}");
    }
}

#[test]
fn conditions_simulated_together_equal_runs_alone_with_traces() {
    let record = Record {
        trace: true,
        neurons: vec![0, 5, 400],
    };
    let observed = microns_spec(
        "[[condition]]\nname = \"observed\"\n[[condition]]\nname = \"shuffled\"\nnulls = [\"shuffle_connections\"]\n\
         [[condition]]\nname = \"no_reciprocal\"\nnulls = [\"remove_reciprocal\"]\n",
    );
    let random = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 200\n").unwrap();
    // Nested lanes that diverge part-way (E–E weights three times as
    // strong, as data.scale = 50000 gives): they leave nesting once a rate
    // is not finite, and the traces still equal runs alone.
    let mut strong = connectome().clone();
    strong.matrix.values.iter_mut().for_each(|w| *w *= 3.0);
    let mut saw_diverged = false;
    for (spec, c) in [
        (&observed, Some(connectome())),
        (&random, None),
        (&observed, Some(&strong)),
    ] {
        let conds: Vec<&Condition> = spec.conditions.iter().collect();
        let together = experiment::simulate_conditions(spec, c, &conds, 4, &record).unwrap();
        assert_eq!(together.len(), conds.len());
        for (cond, t) in conds.iter().zip(&together) {
            let (_, alone) = experiment::simulate_run(spec, c, cond, 4, &record).unwrap();
            assert_eq!(outcome(t), outcome(&alone), "{}", cond.name);
            let (a, b) = (t.trace.as_ref().unwrap(), alone.trace.as_ref().unwrap());
            // Bit for bit (NaN included, where a run diverged).
            let bits = |t: &ratenet::sim::Trace| {
                let mut v: Vec<u64> = Vec::new();
                for s in [&t.t, &t.exc_mean, &t.inh_mean, &t.stimulus]
                    .into_iter()
                    .chain(&t.rates)
                {
                    v.extend(s.iter().map(|x| x.to_bits()));
                    v.push(u64::MAX);
                }
                v
            };
            assert_eq!(a.neurons, b.neurons);
            assert!(bits(a) == bits(b), "{}: trace", cond.name);
            assert_eq!(a.t.len(), 5000, "{}: traced to t_max", cond.name);
            saw_diverged |= t.diverged;
        }
    }
    assert!(saw_diverged, "a diverging run is among the cases");
}

/// The observed E–E block sums, per row, the inputs that `remove_reciprocal`
/// keeps first: the block without reciprocal pairs is then a prefix of it,
/// row by row and with the same weights, and so is its shuffle a prefix of
/// the observed matrix's shuffle with the same seed (what lets the batched
/// engine run these conditions as lanes of one block); the column-order sums
/// stay those of the matrix.
#[test]
fn the_observed_block_nests_the_block_without_reciprocal_pairs() {
    use ratenet::network::build::{np_sum, EeBlock};
    let m = &connectome().matrix;
    let block = |chain: &[NullModel], seed: u64| {
        let k = nulls::apply_chain_keyed(m, chain, seed, RngMode::Notebook).unwrap();
        assert_eq!(k.m, nulls::apply_chain(m, chain, seed, RngMode::Notebook).unwrap());
        EeBlock::keyed(&k.m, &k.keys)
    };
    let remove = NullModel::RemoveReciprocal(ReciprocalPolicy::KeepUpper);
    let shuffle = NullModel::ShuffleConnections;
    assert_eq!(block(&[], 0), EeBlock::observed(m));
    for (full, less) in [
        (block(&[], 0), block(&[remove], 0)),
        (block(&[shuffle], 3), block(&[remove, shuffle], 3)),
    ] {
        assert!(less.t.nnz() < full.t.nnz(), "the connectome has reciprocal pairs");
        let mut reordered = 0;
        for i in 0..full.t.n_rows {
            let (a, b) = (
                full.t.indptr[i]..full.t.indptr[i + 1],
                less.t.indptr[i]..less.t.indptr[i + 1],
            );
            assert!(
                full.t.indices[a.clone()].starts_with(&less.t.indices[b.clone()]),
                "row {i}"
            );
            assert_eq!(
                &full.t.values[a.start..a.start + b.len()],
                &less.t.values[b.clone()],
                "row {i}"
            );
            let cols = &full.t.indices[a.clone()];
            reordered += cols.windows(2).any(|w| w[0] > w[1]) as usize;
            let mut by_column: Vec<(u32, f64)> = cols.iter().copied().zip(full.t.values[a].iter().copied()).collect();
            by_column.sort_by_key(|&(j, _)| j);
            let values: Vec<f64> = by_column.iter().map(|&(_, v)| v).collect();
            assert_eq!(
                full.sums[i].to_bits(),
                np_sum(&values).to_bits(),
                "row {i}: sum in column order"
            );
        }
        assert!(reordered > 0, "some rows are not in column order");
    }
}

#[test]
fn fast_rng_finishes_for_every_probability_from_1e_300_to_1() {
    // `(1 - p).ln()` is 0 below about 5.6e-17: the geometric skip never
    // advanced and the build hung. Each p must finish quickly with a
    // plausible number of edges.
    let n = 2_000usize;
    let pairs = (n * (n - 1)) as f64;
    let mut ps: Vec<f64> = (0..=300).step_by(4).map(|k| 10f64.powi(-k)).collect();
    ps.extend([5e-324, f64::MIN_POSITIVE, 5.6e-17, 1e-17, 0.5, 0.999, 1.0 - 1e-16, 1.0]);
    for p in ps {
        let spec = NetworkSpec {
            kind: NetworkKind::Random,
            n_neurons: n,
            connectivity_proba: p,
            rng: RngMode::Fast,
            ..NetworkSpec::default()
        };
        let t = std::time::Instant::now();
        let net = network::build(&spec, None, 3).unwrap();
        assert!(t.elapsed().as_secs_f64() < 5.0, "p = {p:e} took {:?}", t.elapsed());
        let Weights::Sparse(w) = &net.w else {
            panic!("fast mode builds sparse weights")
        };
        let nnz = w.nnz() as f64;
        let mean = p * pairs;
        // Binomial(pairs, p): within 6 sd (+ 1 for the tiny means).
        let sd = (pairs * p * (1.0 - p)).sqrt();
        assert!(
            (nnz - mean).abs() <= 6.0 * sd + 1.0,
            "p = {p:e}: {nnz} edges, expected about {mean}"
        );
        assert!((0..n).all(|i| w.get(i, i) == 0.0), "p = {p:e}: no autapses");
    }
}
