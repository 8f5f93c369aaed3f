//! Property tests (issue 15, "Found by machines"): over random small
//! experiments — data-free random networks, and observed networks on the
//! shared MICrONS data with random null-model chains — with small sweeps
//! and a few seeds, the tables do not depend on how they were run: threads
//! 1 and 2, batches of 1 and 4, any shard split followed by `merge`, and
//! (every column but those of the simulated window) `stop_early`.
//!
//! The cases are few and drawn from a fixed seed, so that CI is
//! reproducible; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` do not apply
//! (the config is explicit), change `config()` to explore more.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use ratenet::experiment::Shard;
use ratenet::{Experiment, RunOptions};

/// The columns that describe the simulated window, which `stop_early` changes.
const WINDOW: [&str; 3] = ["t_end", "final_exc_mean", "peak_exc_mean"];

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 16,
        ..Config::default()
    }
}

/// The three tables' text.
type Tables = [String; 3];

fn tables(t: &ratenet::experiment::Results) -> Tables {
    [t.results_csv(), t.summary_csv(), t.stats_csv()]
}

fn run(exp: &Experiment, threads: usize, batch: usize) -> Tables {
    let r = exp
        .run(&RunOptions {
            threads: Some(threads),
            batch,
            ..RunOptions::default()
        })
        .unwrap();
    assert!(r.is_complete());
    tables(r.tables())
}

/// Shards K/N run one by one into one folder, then merged.
fn sharded(exp: &Experiment, count: usize) -> Tables {
    let dir = tempfile::tempdir().unwrap();
    for index in 0..count {
        exp.run(&RunOptions {
            out: Some(dir.path()),
            threads: Some(1),
            batch: 4,
            shard: Shard { index, count },
            ..RunOptions::default()
        })
        .unwrap();
    }
    tables(&Experiment::merge(dir.path()).unwrap())
}

/// A CSV table as its header and rows, with the columns of the simulated
/// window (and, in summaries, any column derived from them) left out.
fn without_window(csv: &str) -> Vec<Vec<String>> {
    let mut lines = csv
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>());
    let Some(header) = lines.next() else {
        return vec![];
    };
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !WINDOW.iter().any(|w| header[i].contains(w)))
        .collect();
    std::iter::once(header)
        .chain(lines)
        .map(|row| keep.iter().map(|&i| row.get(i).cloned().unwrap_or_default()).collect())
        .collect()
}

/// Every row of results.csv has `complete` true.
fn all_complete(results: &str) {
    let mut lines = results.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|&h| h == "complete").expect("a complete column");
    for l in lines {
        assert_eq!(l.split(',').nth(at), Some("true"), "{l}");
    }
}

/// Every property of one experiment (its `[simulation]` has no stop_early).
fn check(text: &str, shards: usize) {
    let exp = Experiment::from_toml_str(text).unwrap().with_store(None);
    let single = run(&exp, 1, 1);
    assert!(single[0].lines().count() > 1, "{text}: some runs");
    assert_eq!(run(&exp, 2, 1), single, "{text}: 2 threads");
    assert_eq!(run(&exp, 1, 4), single, "{text}: batches of 4");
    assert_eq!(run(&exp, 2, 4), single, "{text}: batches of 4 on 2 threads");
    assert_eq!(sharded(&exp, shards), single, "{text}: {shards} shards, merged");
    // stop_early = true (the default above) against a run of every step.
    let full = exp.clone().set("simulation.stop_early", false).unwrap();
    let never = run(&full, 2, 4);
    all_complete(&single[0]);
    all_complete(&never[0]);
    for (k, (a, b)) in single.iter().zip(&never).enumerate() {
        assert_eq!(without_window(a), without_window(b), "{text}: stop_early, table {k}");
    }
}

/// `[sweep]` over `key` with `values`, and `seeds`.
fn sweep(key: &str, values: &[f64], seeds: &[u64]) -> String {
    format!("[sweep]\nseeds = {seeds:?}\n\"{key}\" = {values:?}\n")
}

fn seeds() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::btree_set(0u64..50, 2..=3).prop_map(|s| s.into_iter().collect())
}

/// `[simulation]` and `[stimulus]`: a short run with the stimulus inside it.
fn schedule() -> impl Strategy<Value = String> {
    (20.0f64..30.0, 1.0f64..6.0, 1.0f64..6.0).prop_map(|(t_max, start, len)| {
        format!(
            "[simulation]\nt_max = {:.1}\n[stimulus]\nstart = {:.2}\nend = {:.2}\n",
            t_max,
            start,
            start + len
        )
    })
}

proptest! {
    #![proptest_config(config(12, 0x15_0001))]

    /// Data-free random networks.
    #[test]
    fn random_networks_give_the_same_tables_however_run(
        n in 20usize..=120,
        g in 0.001f64..0.05,
        p in 0.05f64..0.6,
        r_inh in 0.1f64..0.5,
        balance in 0.05f64..1.0,
        sweep_g in any::<bool>(),
        points in 2usize..=3,
        seeds in seeds(),
        schedule in schedule(),
        shards in 2usize..=4,
    ) {
        let (key, values): (&str, Vec<f64>) = if sweep_g {
            ("network.g", (1..=points).map(|k| g * k as f64).collect())
        } else {
            ("network.connectivity_proba", (1..=points).map(|k| p * k as f64 / points as f64).collect())
        };
        let text = format!(
            "[network]\nkind = \"random\"\nn_neurons = {n}\ng = {g}\nconnectivity_proba = {p}\n\
             r_inhibitory = {r_inh}\ninh_exc_balance = {balance}\n{schedule}\
             [[condition]]\nname = \"random\"\nnulls = []\n{}[output]\nfigures = false\n",
            sweep(key, &values, &seeds)
        );
        check(&text, shards);
    }
}

proptest! {
    #![proptest_config(config(8, 0x15_0002))]

    /// Observed networks (shared MICrONS data) and a random null-model chain.
    #[test]
    fn observed_networks_and_null_chains_give_the_same_tables_however_run(
        chain in prop::collection::vec(
            prop::sample::select(vec![
                "shuffle_connections",
                "shuffle_weights",
                "remove_reciprocal",
                "degree_preserving",
                "reciprocity_preserving",
            ]),
            1..=3,
        ),
        sweep_g in any::<bool>(),
        points in 2usize..=3,
        seeds in seeds(),
        schedule in schedule(),
        shards in 2usize..=4,
    ) {
        let (key, values): (&str, Vec<f64>) = if sweep_g {
            ("network.g", (1..=points).map(|k| 0.001 * k as f64).collect())
        } else {
            ("network.connectivity_proba", (1..=points).map(|k| 0.1 * k as f64).collect())
        };
        let (syn, cells) = common::microns();
        let text = format!(
            "[data]\nsynapses = {:?}\ncells = {:?}\n{schedule}\
             [[condition]]\nname = \"observed\"\nnulls = []\n\
             [[condition]]\nname = \"null\"\nnulls = {chain:?}\n{}[output]\nfigures = false\n",
            syn.display().to_string(),
            cells.display().to_string(),
            sweep(key, &values, &seeds)
        );
        check(&text, shards);
    }
}
