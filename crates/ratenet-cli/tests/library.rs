//! The library's front door (`ratenet::Experiment`) against the binary: the
//! same file gives the same numbers, bit for bit, whichever way it is run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::Array;
use ratenet::{Experiment, RunOptions};
use serde_json::Value;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn data_sets() -> Vec<String> {
    let d = Path::new(REPO).join("../shared/data/microns_1300");
    vec![
        format!("data.synapses={}", d.join("synapses_synthetic_1300.feather").display()),
        format!("data.cells={}", d.join("cell_info_1300.feather").display()),
    ]
}

fn cache() -> &'static Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// The binary's stdout; it must succeed.
fn ratenet(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ratenet"))
        .env("RATENET_CACHE", cache())
        .current_dir(REPO)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ratenet {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn with_sets<'a>(args: &[&'a str], sets: &'a [String]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    for s in sets {
        v.extend(["--set", s.as_str()]);
    }
    v
}

/// An experiment from a file of the repository with `sets` applied one by one.
fn experiment(file: &str, sets: &[String]) -> Experiment {
    let mut e = Experiment::from_path(Path::new(REPO).join(file))
        .unwrap()
        .with_store(Some(cache().to_path_buf()));
    for s in sets {
        e = e.set_arg(s).unwrap();
    }
    e
}

/// `cargo run --example quickstart` prints `Experiment::simulate`'s ΔT of
/// seed 0 of examples/random_network.toml: the CLI's, bit for bit.
#[test]
fn quickstart_simulates_the_delta_t_that_the_cli_prints() {
    let line = ratenet(&["simulate", "examples/random_network.toml"]);
    let cli: Value = serde_json::from_str(line.trim()).unwrap();
    let sim = experiment("examples/random_network.toml", &[])
        .simulate(0, None, false)
        .unwrap();
    let dt = sim.delta_t().expect("seed 0 returns");
    assert_eq!(cli["delta_t"].as_f64().unwrap().to_bits(), dt.to_bits());
    // The whole line comes from the library.
    assert_eq!(line, format!("{}\n", sim.to_json()));
}

#[test]
fn simulate_and_its_trace_are_the_clis() {
    let sets = data_sets();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    let trace_arg = trace.display().to_string();
    let args = with_sets(
        &[
            "simulate",
            "examples/ex1_seeds.toml",
            "--seed",
            "3",
            "--condition",
            "shuffled",
            "--trace",
            &trace_arg,
        ],
        &sets,
    );
    let line = ratenet(&args);
    let sim = experiment("examples/ex1_seeds.toml", &sets)
        .simulate(3, Some("shuffled"), true)
        .unwrap();
    assert_eq!(line, format!("{}\n", sim.to_json()));
    assert_eq!(std::fs::read_to_string(&trace).unwrap(), sim.trace_csv().unwrap());
    assert!(sim.reciprocal.is_some() && sim.nnz_ee.is_some());
}

#[test]
fn network_is_the_clis() {
    let sets = data_sets();
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.npy");
    let w_arg = w.display().to_string();
    let args = with_sets(
        &[
            "network",
            "examples/ex3_reciprocal.toml",
            "--seed",
            "2",
            "--out",
            &w_arg,
        ],
        &sets,
    );
    ratenet(&args);
    let net = experiment("examples/ex3_reciprocal.toml", &sets)
        .network(2, None)
        .unwrap();
    let ratenet::npy::NpyArray::F64 { shape, data: cli } = ratenet::npy::read(&w).unwrap() else {
        panic!("W is not float64");
    };
    assert_eq!(shape, vec![net.n, net.n]);
    let dense = net.dense();
    assert!(cli.iter().zip(&dense).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(net.sparse().to_dense(), dense, "the sparse W and its dense view");
}

#[derive(Default)]
struct Count {
    calls: AtomicUsize,
    last: Mutex<(usize, usize)>,
    done: AtomicUsize,
}

impl ratenet::Progress for Count {
    fn runs(&self, done: usize, total: usize) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut l = self.last.lock().unwrap();
        *l = (l.0.max(done), total);
    }

    fn runs_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// A run without an output folder writes nothing and gives the tables that
/// `ratenet run` writes; a run with one writes them.
#[test]
fn run_gives_the_tables_of_the_cli() {
    let mut sets = data_sets();
    sets.push("sweep.seeds=\"0-3\"".into());
    let tmp = tempfile::tempdir().unwrap();
    let cli_dir = tmp.path().join("cli");
    let cli_arg = cli_dir.display().to_string();
    ratenet(&with_sets(
        &[
            "run",
            "examples/ex1_seeds.toml",
            "--quiet",
            "--out",
            &cli_arg,
            "--set",
            "output.figures=false",
        ],
        &sets,
    ));
    // output.dir points into the temporary folder: nothing may appear there.
    let unwritten = tmp.path().join("unwritten");
    let exp = experiment("examples/ex1_seeds.toml", &sets)
        .set("output.dir", unwritten.display().to_string())
        .unwrap();
    let progress = Count::default();
    let results = exp
        .run(&RunOptions {
            threads: Some(2),
            progress: Some(&progress),
            ..RunOptions::default()
        })
        .unwrap();
    assert!(!unwritten.exists(), "a run without `out` wrote {}", unwritten.display());
    assert_eq!(*progress.last.lock().unwrap(), (8, 8));
    assert!(progress.calls.load(Ordering::Relaxed) >= 2);
    assert_eq!(progress.done.load(Ordering::Relaxed), 1);
    assert!(results.is_complete() && results.out().is_none());
    assert_eq!(results.stats().fresh_runs, 8);
    let t = results.tables();
    let read = |name: &str| std::fs::read_to_string(cli_dir.join(name)).unwrap();
    assert_eq!(t.results_csv(), read("results.csv"));
    assert_eq!(t.summary_csv(), read("summary.csv"));
    assert_eq!(t.stats_csv(), read("stats.csv"));

    // The record batches hold the numbers of the tables.
    let runs = results.runs_batch().unwrap();
    assert_eq!(runs.num_rows(), 8);
    let dt = runs.column_by_name("delta_t").unwrap().as_primitive::<Float64Type>();
    for (i, r) in results.rows().iter().enumerate() {
        assert_eq!(dt.is_valid(i).then(|| dt.value(i)), r.delta_t());
    }
    let summary = results.summary_batch().unwrap();
    assert_eq!(summary.num_rows(), 2);
    let n = summary.column_by_name("n").unwrap().as_primitive::<UInt64Type>();
    assert_eq!((n.value(0), n.value(1)), (4, 4));
    let stats = results.stats_batch().unwrap();
    assert_eq!(stats.num_rows(), 1);
    assert_eq!(
        stats.column_by_name("reference").unwrap().as_string::<i32>().value(0),
        "observed"
    );

    // With `out`: the folder `ratenet run` writes.
    let lib_dir: PathBuf = tmp.path().join("lib");
    exp.run(&RunOptions {
        out: Some(&lib_dir),
        ..RunOptions::default()
    })
    .unwrap();
    for f in [
        "results.csv",
        "summary.csv",
        "stats.csv",
        "spec.toml",
        "report.html",
        "manifest.json",
    ] {
        assert!(lib_dir.join(f).exists(), "no {f}");
    }
    assert_eq!(
        std::fs::read_to_string(lib_dir.join("results.csv")).unwrap(),
        read("results.csv")
    );
    assert!(lib_dir.join("figures/time_series_0_observed.png").exists());
    // Every run once in the journal, the ones traced for the figures too.
    let journal = std::fs::read_to_string(lib_dir.join("shards/0-of-1.jsonl")).unwrap();
    let mut indices: Vec<u64> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["index"].as_u64().unwrap())
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..8).collect::<Vec<u64>>());
    // Run again: nothing is redone, the tables stay.
    let again = exp
        .run(&RunOptions {
            out: Some(&lib_dir),
            ..RunOptions::default()
        })
        .unwrap();
    assert_eq!(again.stats().fresh_runs, 0);
    assert_eq!(
        std::fs::read_to_string(lib_dir.join("shards/0-of-1.jsonl")).unwrap(),
        journal
    );
    assert_eq!(
        std::fs::read_to_string(lib_dir.join("results.csv")).unwrap(),
        read("results.csv")
    );
}

#[test]
fn merge_is_a_library_call() {
    let mut sets = data_sets();
    sets.push("sweep.seeds=\"0-2\"".into());
    sets.push("output.figures=false".into());
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment("examples/ex1_seeds.toml", &sets);
    for k in 0..2 {
        let r = exp
            .run(&RunOptions {
                out: Some(tmp.path()),
                shard: ratenet::experiment::Shard::parse(&format!("{k}/2")).unwrap(),
                ..RunOptions::default()
            })
            .unwrap();
        assert_eq!(r.is_complete(), k == 1);
    }
    let merged = ratenet::report::merge(tmp.path(), Some(cache())).unwrap();
    assert_eq!(merged.rows.len(), 6);
    let whole = exp.run(&RunOptions::default()).unwrap();
    assert_eq!(merged.results_csv(), whole.tables().results_csv());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("results.csv")).unwrap(),
        merged.results_csv()
    );
}

/// The runs traced for the time series (to t_max, their rows given to the
/// runner) change no table: tables with figures equal tables without,
/// however wide the batches, and every run is journalled once.
#[test]
fn runs_traced_for_figures_change_no_table() {
    let mut sets = data_sets();
    sets.push("sweep.seeds=\"0-4\"".into());
    let exp = experiment("examples/ex2_sweep.toml", &sets);
    let tmp = tempfile::tempdir().unwrap();
    let plain = exp
        .clone()
        .set("output.figures", false)
        .unwrap()
        .run(&RunOptions {
            out: Some(&tmp.path().join("plain")),
            ..RunOptions::default()
        })
        .unwrap();
    for batch in [1, 2, 4] {
        let dir = tmp.path().join(format!("figures{batch}"));
        let with = exp
            .run(&RunOptions {
                out: Some(&dir),
                batch,
                ..RunOptions::default()
            })
            .unwrap();
        assert_eq!(
            with.tables().results_csv(),
            plain.tables().results_csv(),
            "batch {batch}"
        );
        assert!(dir.join("figures/time_series_0_observed.png").exists());
        let journal = std::fs::read_to_string(dir.join("shards/0-of-1.jsonl")).unwrap();
        let mut indices: Vec<u64> = journal
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["index"].as_u64().unwrap())
            .collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..25).collect::<Vec<u64>>(), "batch {batch}");
    }
}
