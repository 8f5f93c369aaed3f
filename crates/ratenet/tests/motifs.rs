//! Motif statistics: the triad census equal to networkx's on random graphs
//! and on the minnie65 graph (fixture made by `fixtures/make_triads.py`),
//! its invariants, and the null-model ensembles.

mod common;

use std::time::Instant;

use ratenet::analysis::motifs::{motif_counts, motif_stats, triad_census, MOTIFS, TRIADS};
use ratenet::matrix::Csr;
use ratenet::network::{NullModel, RngMode};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/triads.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

/// The fixture's matrix: (row, column, weight) entries, row-major.
fn matrix(g: &Value) -> Csr {
    let n = g["n"].as_u64().unwrap() as usize;
    let entries = g["entries"].as_array().unwrap().iter().map(|e| {
        (
            e[0].as_u64().unwrap() as usize,
            e[1].as_u64().unwrap() as usize,
            e[2].as_f64().unwrap(),
        )
    });
    Csr::from_sorted_triplets(n, n, entries)
}

fn choose3(n: u64) -> u64 {
    if n < 3 {
        0
    } else {
        n * (n - 1) * (n - 2) / 6
    }
}

/// `m` with its neurons renumbered: neuron i becomes `perm[i]`.
fn relabelled(m: &Csr, perm: &[usize]) -> Csr {
    let n = m.n_rows;
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for (j, v) in m.row(i) {
            d[perm[i] * n + perm[j]] = v;
        }
    }
    Csr::from_dense(n, n, &d)
}

/// A deterministic permutation of 0..n.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p.swap(i, (s % (i as u64 + 1)) as usize);
    }
    p
}

#[test]
fn the_census_is_networkx_s_on_random_graphs() {
    let f = fixture();
    let names: Vec<&str> = f["triads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(names, TRIADS, "networkx's class order");
    let graphs = f["graphs"].as_array().unwrap();
    assert!(graphs.len() >= 30);
    for (k, g) in graphs.iter().enumerate() {
        let m = matrix(g);
        let want = u64s(&g["census"]);
        let got = triad_census(&m);
        assert_eq!(got.to_vec(), want, "graph {k} (n = {})", m.n_rows);
        assert_eq!(got.iter().sum::<u64>(), choose3(m.n_rows as u64), "graph {k}");
        let counts = motif_counts(&m);
        assert_eq!(
            counts[0],
            g["reciprocal"].as_u64().unwrap(),
            "graph {k}: np.sum((M * M.T) > 0)"
        );
        assert_eq!(&counts[1..], &got[..]);
    }
}

#[test]
fn the_census_does_not_depend_on_how_neurons_are_numbered() {
    for (k, g) in fixture()["graphs"].as_array().unwrap().iter().enumerate() {
        let m = matrix(g);
        let want = motif_counts(&m);
        for seed in 1..4 {
            let p = permutation(m.n_rows, seed + k as u64);
            assert_eq!(motif_counts(&relabelled(&m, &p)), want, "graph {k}, permutation {p:?}");
        }
    }
}

/// The minnie65 graph (6,548 neurons, 115,379 edges) against networkx's
/// census of it, and how long the census takes.
#[test]
fn the_census_of_minnie65_is_networkx_s() {
    let path = common::shared().join("data/minnie65_graph/mouse_directed_connectome.csv");
    let f = fixture();
    let want = u64s(&f["minnie65"]["census"]);
    let n = f["minnie65"]["n"].as_u64().unwrap() as usize;
    let mut rd = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut t: Vec<(usize, usize, f64)> = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].parse::<usize>().unwrap() - 1,
                r[1].parse::<usize>().unwrap() - 1,
                r[2].parse::<f64>().unwrap(),
            )
        })
        .collect();
    t.sort_by_key(|e| (e.0, e.1));
    t.dedup_by_key(|e| (e.0, e.1));
    let m = Csr::from_sorted_triplets(n, n, t);
    let t0 = Instant::now();
    let got = triad_census(&m);
    let took = t0.elapsed();
    eprintln!("triad census of minnie65 ({n} neurons, {} edges): {took:?}", m.nnz());
    assert_eq!(got.to_vec(), want);
}

/// A random sparse pre × post matrix with autapses and reciprocal pairs.
fn random_matrix(n: usize, p: f64, seed: u64) -> Csr {
    let mut s = seed | 1;
    let mut u = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if u() < p {
                d[i * n + j] = 0.5 + u();
                if u() < 0.4 {
                    d[j * n + i] = 0.5 + u();
                }
            }
        }
    }
    Csr::from_dense(n, n, &d)
}

fn nulls(names: &[&str]) -> Vec<(String, Vec<NullModel>)> {
    names
        .iter()
        .map(|n| (n.to_string(), vec![NullModel::parse(n).unwrap()]))
        .collect()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn ensembles_are_in_order_and_do_not_depend_on_the_thread_count() {
    let m = random_matrix(60, 0.08, 3);
    let nl = nulls(&["shuffle_connections", "shuffle_weights", "remove_reciprocal:random"]);
    let seeds: Vec<u64> = (0..12).collect();
    for rng in [RngMode::Notebook, RngMode::Fast] {
        let one = in_pool(1, || motif_stats(&m, &nl, &seeds, rng).unwrap());
        let three = in_pool(3, || motif_stats(&m, &nl, &seeds, rng).unwrap());
        assert_eq!(one, three);
        assert_eq!(one.len(), 17 * 3);
        let observed = motif_counts(&m);
        for (k, s) in one.iter().enumerate() {
            assert_eq!(s.motif, MOTIFS[k % 17]);
            assert_eq!(s.null, nl[k / 17].0);
            assert_eq!(s.observed, observed[k % 17]);
            assert_eq!(s.null_counts.len(), seeds.len());
            // Member i is the null model applied with seed i.
            let member = nl[k / 17].1[0].apply(&m, seeds[5], rng).unwrap();
            assert_eq!(s.null_counts[5], motif_counts(&member)[k % 17]);
        }
    }
}

#[test]
fn what_each_null_keeps_shows_in_its_ensemble() {
    let m = random_matrix(50, 0.1, 7);
    let seeds: Vec<u64> = (0..8).collect();
    let stats = motif_stats(
        &m,
        &nulls(&["shuffle_weights", "remove_reciprocal:random"]),
        &seeds,
        RngMode::Notebook,
    )
    .unwrap();
    let (weights, removed) = stats.split_at(17);
    // Weights moved over the same positions: every motif as observed.
    for s in weights {
        assert!(s.null_counts.iter().all(|&x| x == s.observed), "{}", s.motif);
        assert_eq!((s.null_sd, s.z, s.p), (Some(0.0), None, 1.0), "{}", s.motif);
    }
    // No reciprocal pair left: only autapses count as reciprocal, and no
    // triad has a mutual dyad.
    let autapses = (0..50).filter(|&i| m.get(i, i) > 0.0).count() as u64;
    assert!(removed[0].observed > autapses);
    assert!(removed[0].null_counts.iter().all(|&x| x == autapses));
    // A constant ensemble the observed count is off: no z, the smallest p.
    assert_eq!((removed[0].z, removed[0].p), (None, 1.0 / 9.0));
    for s in &removed[1..] {
        if ["102", "111D", "111U", "201", "120D", "120U", "120C", "210", "300"].contains(&s.motif) {
            assert!(s.null_counts.iter().all(|&x| x == 0), "{}", s.motif);
        }
    }
    for i in 0..seeds.len() {
        let total: u64 = removed[1..].iter().map(|s| s.null_counts[i]).sum();
        assert_eq!(total, 50 * 49 * 48 / 6);
    }
}
