//! `ratenet run` and `ratenet merge` end to end, on the built binary: results
//! equal `simulate` run by run (and the golden files), tables do not depend on
//! thread count or shard split, a killed run resumes to the same bytes, and
//! every output file exists and parses. Also the examples of the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The four tables that must not depend on how the runs were executed.
const TABLES: [&str; 4] = ["results.csv", "results.parquet", "summary.csv", "stats.csv"];

const RESULT_HEADER: &str =
    "delta_t,t_return,returned,diverged,decay_tau,decay_r2,complete,t_end,peak_exc_mean,final_exc_mean,reciprocal,nnz_ee,n_neurons,n_exc";

fn synapses() -> PathBuf {
    Path::new(SHARED).join("data/microns_1300/synapses_synthetic_1300.feather")
}

fn cells() -> PathBuf {
    Path::new(SHARED).join("data/microns_1300/cell_info_1300.feather")
}

/// `--set` arguments pointing `[data]` at the shared MICrONS tables.
fn data_sets() -> Vec<String> {
    vec![
        "--set".into(),
        format!("data.synapses={}", synapses().display()),
        "--set".into(),
        format!("data.cells={}", cells().display()),
    ]
}

/// Three conditions × seeds 0-2 × two values of the E–I/I–E/I–I probability
/// (0.15 never returns; 0.25 is the default) on the MICrONS data: 18 runs.
const MICRONS: &str = r#"
[stimulus]
target = "notebook"

[[condition]]
name = "observed"
nulls = []

[[condition]]
name = "shuffled"
nulls = ["shuffle_connections"]

[[condition]]
name = "no_reciprocal_shuffled"
nulls = ["remove_reciprocal", "shuffle_connections"]

[sweep]
seeds = "0-2"
"network.connectivity_proba" = [0.15, 0.25]
"#;

const MICRONS_CONDITIONS: [&str; 3] = ["observed", "shuffled", "no_reciprocal_shuffled"];

/// The data-free network, ten seeds: fast.
const RANDOM: &str = r#"
compat = "notebook"

[network]
kind = "random"
n_neurons = 200

[[condition]]
name = "random"

[sweep]
seeds = "0-9"
"#;

/// The binary, with any Slurm array variables of the surrounding job removed.
fn ratenet() -> Command {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ratenet"));
    // A cache of this test process only: no test depends on what a user has cached.
    c.env(
        "RATENET_CACHE",
        CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path(),
    );
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_COUNT",
    ] {
        c.env_remove(v);
    }
    c
}

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("cannot start ratenet");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run a command that must fail with exit code 2 and one `ratenet: ` line on
/// stderr; returns that line.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("cannot start ratenet");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{cmd:?} should fail with 2; stderr:\n{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{cmd:?}: expected one line on stderr, got {err:?}"
    );
    assert!(
        err.starts_with("ratenet: ") && !err.contains("internal error"),
        "{err:?}"
    );
    err.trim_end().to_string()
}

/// A spec file in a temporary folder, and output folders beside it.
struct Exp {
    tmp: tempfile::TempDir,
}

impl Exp {
    fn new(toml: &str) -> Exp {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("spec.toml"), toml).unwrap();
        Exp { tmp }
    }

    fn spec(&self) -> PathBuf {
        self.tmp.path().join("spec.toml")
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `ratenet run SPEC [data sets] --out DIR --quiet EXTRA...`.
    fn run(&self, data: bool, out: &str, extra: &[&str]) -> Command {
        let mut c = ratenet();
        c.arg("run").arg(self.spec());
        if data {
            c.args(data_sets());
        }
        c.arg("--out").arg(self.dir(out)).arg("--quiet").args(extra);
        c
    }
}

fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn read_text(p: &Path) -> String {
    String::from_utf8(read(p)).unwrap()
}

fn assert_same_tables(a: &Path, b: &Path) {
    for t in TABLES {
        assert!(
            read(&a.join(t)) == read(&b.join(t)),
            "{t} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// A CSV file: header and rows (every row as long as the header).
fn csv_table(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), head.len(), "{}: {row:?}", p.display());
    }
    (head, rows)
}

/// Column `name` of a table.
fn col<'a>(head: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = head
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {head:?}"));
    &row[i]
}

/// An optional float cell: empty is `None`, anything else must parse.
fn cell_f64(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|_| panic!("{s:?} is not a float")))
}

fn cell_u64(s: &str) -> Option<u64> {
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|_| panic!("{s:?} is not an unsigned integer")))
}

fn cell_bool(s: &str) -> bool {
    match s {
        "true" => true,
        "false" => false,
        _ => panic!("{s:?} is not true/false"),
    }
}

/// The lines of a journal, as JSON objects.
fn journal(p: &Path) -> Vec<Value> {
    let text = read_text(p);
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{}: torn last line",
        p.display()
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {l:?}: {e}", p.display())))
        .collect()
}

fn indices(rows: &[Value]) -> Vec<u64> {
    rows.iter().map(|r| r["index"].as_u64().unwrap()).collect()
}

// ---------------------------------------------------------------------------
// 1. Results equal `simulate`, run by run, and the golden ΔT.

/// ΔT etc. of the golden files by (condition, seed, connectivity_proba).
fn golden() -> BTreeMap<(String, u64, String), Vec<Value>> {
    let mut g = BTreeMap::new();
    for (file, default) in [
        ("microns_synthetic_conditions.jsonl", Some("0.25")),
        ("microns_synthetic_sweep_connectivity_proba.jsonl", None),
    ] {
        for line in read_text(&Path::new(SHARED).join("golden").join(file)).lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["kind"] != "run" {
                continue;
            }
            let value = match default {
                Some(d) => {
                    assert!(v["param"].is_null());
                    d.to_string()
                }
                None => {
                    assert_eq!(v["param"], "connectivity_proba");
                    v["value"].as_f64().unwrap().to_string()
                }
            };
            let key = (
                v["condition"].as_str().unwrap().to_string(),
                v["seed"].as_u64().unwrap(),
                value,
            );
            g.entry(key).or_insert_with(Vec::new).push(v);
        }
    }
    g
}

#[test]
fn run_agrees_with_simulate_run_by_run_and_with_the_golden_files() {
    let e = Exp::new(MICRONS);
    ok(&mut e.run(true, "out", &["--threads", "2"]));
    let (head, rows) = csv_table(&e.dir("out/results.csv"));
    assert_eq!(rows.len(), 18);
    let golden = golden();
    let mut compared_golden = 0;
    for row in &rows {
        let (cond, seed, value) = (
            col(&head, row, "condition"),
            col(&head, row, "seed"),
            col(&head, row, "network.connectivity_proba"),
        );
        let out = ok(ratenet()
            .arg("simulate")
            .arg(e.spec())
            .args(data_sets())
            .args(["--set", &format!("network.connectivity_proba={value}")])
            .args(["--seed", seed, "--condition", cond]));
        let sim: Value = serde_json::from_slice(&out.stdout).unwrap();
        let what = format!("{cond} seed {seed} connectivity_proba {value}");
        assert_eq!(sim["condition"], cond, "{what}");
        assert_eq!(sim["seed"].as_u64().unwrap().to_string(), seed, "{what}");
        for k in ["delta_t", "t_return", "t_end", "peak_exc_mean", "final_exc_mean"] {
            // Bit-for-bit: the CSV text reads back to the very same double.
            assert_eq!(
                cell_f64(col(&head, row, k)).map(f64::to_bits),
                sim[k].as_f64().map(f64::to_bits),
                "{k} of {what}"
            );
        }
        for k in ["returned", "diverged"] {
            assert_eq!(Some(cell_bool(col(&head, row, k))), sim[k].as_bool(), "{k} of {what}");
        }
        for k in ["reciprocal", "nnz_ee", "n_neurons", "n_exc"] {
            assert_eq!(cell_u64(col(&head, row, k)), sim[k].as_u64(), "{k} of {what}");
        }
        for g in golden
            .get(&(cond.to_string(), seed.parse().unwrap(), value.to_string()))
            .into_iter()
            .flatten()
        {
            compared_golden += 1;
            let dt = cell_f64(col(&head, row, "delta_t"));
            match (dt, g["delta_t"].as_f64()) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() <= 1e-9, "ΔT of {what}: {a} != golden {b}")
                }
                (None, None) => {}
                (a, b) => panic!("ΔT of {what}: {a:?} != golden {b:?}"),
            }
            assert_eq!(
                Some(cell_bool(col(&head, row, "returned"))),
                g["returned"].as_bool(),
                "{what}"
            );
            for k in ["reciprocal", "nnz_ee", "n_neurons", "n_exc"] {
                assert_eq!(cell_u64(col(&head, row, k)), g[k].as_u64(), "{k} of {what} vs golden");
            }
        }
    }
    // 3 conditions at 0.25 (conditions file) + observed at 0.15 and 0.25 (sweep file).
    assert_eq!(compared_golden, 9 + 6);
}

// ---------------------------------------------------------------------------
// 2, 3. Thread count and shards.

#[test]
fn thread_count_and_shard_split_do_not_change_the_outputs() {
    let e = Exp::new(MICRONS);
    ok(&mut e.run(true, "two", &["--threads", "2"]));
    ok(&mut e.run(true, "one", &["--threads", "1"]));
    assert_same_tables(&e.dir("two"), &e.dir("one"));

    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = ok(&mut e.run(
            true,
            "sharded",
            &["--shard", &shard, "--threads", if k == 1 { "2" } else { "1" }],
        ));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ratenet merge"),
            "shard {shard} should say how to merge: {err:?}"
        );
        let rows = journal(&e.dir(&format!("sharded/shards/{k}-of-3.jsonl")));
        let mut got = indices(&rows);
        got.sort();
        assert_eq!(
            got,
            (0..18).filter(|i| i % 3 == k).collect::<Vec<u64>>(),
            "runs of shard {shard}"
        );
    }
    assert!(
        !e.dir("sharded/results.csv").exists(),
        "a shard must not write the tables"
    );
    ok(ratenet().arg("merge").arg(e.dir("sharded")));
    assert_same_tables(&e.dir("two"), &e.dir("sharded"));

    // Figures too: they depend only on the rows and the spec.
    let figs: Vec<PathBuf> = fs::read_dir(e.dir("two/figures"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    assert!(figs.len() >= 10, "{figs:?}");
    for f in &figs {
        let name = f.file_name().unwrap();
        for other in ["one", "sharded"] {
            assert!(
                read(f) == read(&e.dir(other).join("figures").join(name)),
                "figures/{name:?} differs in {other}"
            );
        }
    }

    let manifest = |d: &str| -> Value { serde_json::from_str(&read_text(&e.dir(d).join("manifest.json"))).unwrap() };
    assert_eq!(
        (manifest("two")["threads"].as_u64(), manifest("two")["shard"].as_str()),
        (Some(2), Some("all"))
    );
    assert_eq!(
        (manifest("one")["threads"].as_u64(), manifest("one")["shard"].as_str()),
        (Some(1), Some("all"))
    );
    assert_eq!(manifest("sharded")["shard"], "merged");
}

#[test]
fn slurm_array_variables_select_the_shard() {
    let e = Exp::new(RANDOM);
    // Array 4-6: task 5 is shard 1 of 3.
    ok(e.run(false, "slurm", &["--shard", "slurm", "--threads", "1"])
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "4")
        .env("SLURM_ARRAY_TASK_COUNT", "3"));
    let names: Vec<String> = fs::read_dir(e.dir("slurm/shards"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["1-of-3.jsonl"]);
    let slurm = journal(&e.dir("slurm/shards/1-of-3.jsonl"));
    assert_eq!(indices(&slurm), [1, 4, 7]);
    assert!(!e.dir("slurm/results.csv").exists());

    // The same rows as naming the shard.
    ok(&mut e.run(false, "explicit", &["--shard", "1/3", "--threads", "1"]));
    assert_eq!(slurm, journal(&e.dir("explicit/shards/1-of-3.jsonl")));

    // Without SLURM_ARRAY_TASK_MIN the array starts at 0.
    ok(e.run(false, "slurm", &["--shard", "slurm"])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "3"));
    let mut got = indices(&journal(&e.dir("slurm/shards/2-of-3.jsonl")));
    got.sort();
    assert_eq!(got, [2, 5, 8]);

    let err = fails(&mut e.run(false, "bad", &["--shard", "slurm"]));
    assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
    let err = fails(
        e.run(false, "bad", &["--shard", "slurm"])
            .env("SLURM_ARRAY_TASK_ID", "3")
            .env("SLURM_ARRAY_TASK_COUNT", "3"),
    );
    assert!(err.contains("--shard"), "{err}");
    let err = fails(&mut e.run(false, "bad", &["--shard", "3/3"]));
    assert!(err.contains("--shard 3/3"), "{err}");
}

#[test]
fn merge_with_a_missing_shard_names_the_missing_runs() {
    let e = Exp::new(RANDOM);
    ok(&mut e.run(false, "whole", &[]));
    ok(&mut e.run(false, "parts", &["--shard", "0/3"]));
    ok(&mut e.run(false, "parts", &["--shard", "2/3"]));
    // Shard 1 of 3 holds runs 1, 4 and 7.
    let err = fails(ratenet().arg("merge").arg(e.dir("parts")));
    assert!(err.contains("3 of 10 runs are missing"), "{err}");
    assert!(!e.dir("parts/results.csv").exists());
    ok(&mut e.run(false, "parts", &["--shard", "1/3"]));
    ok(ratenet().arg("merge").arg(e.dir("parts")));
    assert_same_tables(&e.dir("whole"), &e.dir("parts"));

    let err = fails(ratenet().arg("merge").arg(e.dir("nothing-here")));
    assert!(err.contains("spec.toml"), "{err}");
}

// ---------------------------------------------------------------------------
// 4. Resume.

#[test]
fn a_killed_run_resumes_to_the_same_files() {
    // 4 conditions × 15 seeds = 60 runs on one thread: a few seconds.
    let spec = format!(
        "{}\n[[condition]]\nname = \"no_reciprocal\"\nnulls = [\"remove_reciprocal\"]\n",
        MICRONS.replace(
            "seeds = \"0-2\"\n\"network.connectivity_proba\" = [0.15, 0.25]",
            "seeds = \"0-14\""
        )
    ) + "\n[output]\nfigures = false\n";
    let e = Exp::new(&spec);
    let total = 60;
    ok(&mut e.run(true, "reference", &["--threads", "2"]));

    let journal_path = e.dir("resumed/shards/0-of-1.jsonl");
    let mut child = e
        .run(true, "resumed", &["--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let lines = fs::read(&journal_path)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0);
        if lines >= 10 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it could be killed");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no journal lines after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = read(&journal_path);
    let whole_len = before.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    let n_before = before[..whole_len].iter().filter(|&&c| c == b'\n').count();
    assert!(
        (2..total).contains(&n_before),
        "killed after {n_before} of {total} runs: expected some but not all"
    );
    assert!(!e.dir("resumed/results.csv").exists());
    // As if killed in the middle of writing the last line: cut it in half
    // (which also leaves a batch of conditions partly done).
    let last_start = before[..whole_len - 1]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    let kept = before[..last_start].to_vec();
    let torn = last_start + (whole_len - last_start) / 2;
    fs::write(&journal_path, &before[..torn]).unwrap();

    ok(&mut e.run(true, "resumed", &["--threads", "1"]));
    assert_same_tables(&e.dir("reference"), &e.dir("resumed"));
    let after = read(&journal_path);
    assert!(
        after.starts_with(&kept),
        "the rows written before the kill must be kept, not redone"
    );
    let rows = journal(&journal_path);
    assert_eq!(rows.len(), total, "one journal line per run");
    let set: BTreeSet<u64> = indices(&rows).into_iter().collect();
    assert_eq!(
        set,
        (0..total as u64).collect::<BTreeSet<u64>>(),
        "every run exactly once"
    );
    eprintln!("killed after {n_before} of {total} runs");
}

#[test]
fn a_changed_spec_is_refused_unless_forced() {
    let e = Exp::new(RANDOM);
    ok(&mut e.run(false, "out", &["--threads", "2"]));
    let results = read(&e.dir("out/results.csv"));
    let lines = read(&e.dir("out/shards/0-of-1.jsonl"));

    // Same spec, other thread count: nothing to redo.
    ok(&mut e.run(false, "out", &["--threads", "1"]));
    assert!(read(&e.dir("out/shards/0-of-1.jsonl")) == lines);
    assert!(read(&e.dir("out/results.csv")) == results);

    let err = fails(&mut e.run(false, "out", &["--set", "network.g=0.004"]));
    assert!(err.contains("--force"), "{err}");
    assert!(err.contains(&e.dir("out").display().to_string()), "{err}");
    assert!(
        read(&e.dir("out/results.csv")) == results,
        "a refused run must leave the results alone"
    );
    assert!(read(&e.dir("out/shards/0-of-1.jsonl")) == lines);

    ok(&mut e.run(false, "out", &["--set", "network.g=0.004", "--force"]));
    assert!(read(&e.dir("out/results.csv")) != results, "g changes ΔT");
    assert_eq!(
        journal(&e.dir("out/shards/0-of-1.jsonl")).len(),
        10,
        "old rows must be cleared"
    );
    assert!(read_text(&e.dir("out/spec.toml")).contains("g = 0.004"));
    ok(&mut e.run(false, "fresh", &["--set", "network.g=0.004"]));
    assert_same_tables(&e.dir("out"), &e.dir("fresh"));
}

/// Edge-swap null models as conditions of `ratenet run`: degrees and
/// connections kept, pairs kept by `reciprocity_preserving` only, and
/// `--set null_models.swaps_per_edge=0` gives the observed runs back.
#[test]
fn edge_swap_conditions_run_from_the_command_line() {
    let spec = r#"
[simulation]
t_max = 20.0

[[condition]]
name = "observed"

[[condition]]
name = "degree"
nulls = ["degree_preserving"]

[[condition]]
name = "reciprocity"
nulls = ["reciprocity_preserving"]

[[condition]]
name = "no_pairs_degree"
nulls = ["remove_reciprocal", "degree_preserving"]

[sweep]
seeds = "0-1"

[output]
figures = false
"#;
    let e = Exp::new(spec);
    ok(&mut e.run(true, "swapped", &["--threads", "2"]));
    ok(&mut e.run(true, "unswapped", &["--set", "null_models.swaps_per_edge=0"]));
    let by = |out: &str| {
        let (head, rows) = csv_table(&e.dir(out).join("results.csv"));
        assert_eq!(rows.len(), 8, "{out}");
        rows.iter()
            .map(|r| {
                let key = (
                    col(&head, r, "condition").to_string(),
                    col(&head, r, "seed").to_string(),
                );
                let cells: BTreeMap<String, String> = head.iter().cloned().zip(r.iter().cloned()).collect();
                (key, cells)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (swapped, unswapped) = (by("swapped"), by("unswapped"));
    for seed in ["0", "1"] {
        let get = |t: &BTreeMap<(String, String), BTreeMap<String, String>>, c: &str, k: &str| {
            t[&(c.to_string(), seed.to_string())][k].clone()
        };
        let observed_recip = cell_u64(&get(&swapped, "observed", "reciprocal")).unwrap();
        for c in ["degree", "reciprocity"] {
            assert_eq!(get(&swapped, c, "nnz_ee"), get(&swapped, "observed", "nnz_ee"), "{c}");
            // No swap: the observed matrix, keys and all, so the same run.
            for k in ["delta_t", "reciprocal", "peak_exc_mean", "t_end"] {
                assert_eq!(get(&unswapped, c, k), get(&unswapped, "observed", k), "{c} {k}");
            }
        }
        assert_eq!(get(&swapped, "reciprocity", "reciprocal"), observed_recip.to_string());
        assert!(cell_u64(&get(&swapped, "degree", "reciprocal")).unwrap() < observed_recip);
        assert!(
            cell_u64(&get(&swapped, "no_pairs_degree", "nnz_ee")).unwrap()
                < cell_u64(&get(&swapped, "observed", "nnz_ee")).unwrap()
        );
    }
    let err = fails(&mut e.run(true, "bad", &["--set", "null_models.swaps_per_edge=-1"]));
    assert!(err.contains("null_models.swaps_per_edge"), "{err}");
}

// ---------------------------------------------------------------------------
// 5. Every output file.

fn sha256sum(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().expect("sha256sum");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The `<td>` cells of each row of the table after `<h2>{title}</h2>`.
fn html_table(html: &str, title: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<h2>{title}</h2>"))
        .unwrap_or_else(|| panic!("no section {title}"));
    let body = &html[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()].to_string())
                .collect()
        })
        .collect()
}

/// Check results.parquet against results.csv cell by cell.
fn check_parquet(path: &Path, head: &[String], rows: &[Vec<String>]) {
    use arrow_array::{Array, BooleanArray, Float64Array, StringArray, UInt64Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut n = 0;
    for batch in reader {
        let batch = batch.unwrap();
        let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, head, "parquet columns");
        for (c, name) in head.iter().enumerate() {
            let a = batch.column(c).as_any();
            for i in 0..batch.num_rows() {
                let csv = rows[n + i][c].as_str();
                let what = format!("row {} column {name}", n + i);
                if batch.column(c).is_null(i) {
                    assert_eq!(csv, "", "{what}");
                } else if let Some(a) = a.downcast_ref::<StringArray>() {
                    assert_eq!(a.value(i), csv, "{what}");
                } else if let Some(a) = a.downcast_ref::<UInt64Array>() {
                    assert_eq!(Some(a.value(i)), cell_u64(csv), "{what}");
                } else if let Some(a) = a.downcast_ref::<Float64Array>() {
                    assert_eq!(Some(a.value(i).to_bits()), cell_f64(csv).map(f64::to_bits), "{what}");
                } else if let Some(a) = a.downcast_ref::<BooleanArray>() {
                    assert_eq!(a.value(i), cell_bool(csv), "{what}");
                } else {
                    panic!("{what}: unexpected type {}", batch.column(c).data_type());
                }
            }
        }
        n += batch.num_rows();
    }
    assert_eq!(n, rows.len(), "parquet rows");
}

#[test]
fn every_output_file_exists_and_parses() {
    let e = Exp::new(MICRONS);
    ok(&mut e.run(true, "out", &["--threads", "2"]));
    let dir = e.dir("out");

    // results.csv: run order, documented columns, booleans, empty cells.
    let (head, rows) = csv_table(&dir.join("results.csv"));
    assert_eq!(
        head.join(","),
        format!("condition,seed,network.connectivity_proba,{RESULT_HEADER}")
    );
    let mut order = Vec::new();
    for p in ["0.15", "0.25"] {
        for c in MICRONS_CONDITIONS {
            for s in ["0", "1", "2"] {
                order.push((c, s, p));
            }
        }
    }
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str(),
                r[1].as_str(),
                col(&head, r, "network.connectivity_proba"),
            )
        })
        .collect();
    assert_eq!(got, order, "rows in run order: point, condition, seed");
    for r in &rows {
        let returned = cell_bool(col(&head, r, "returned"));
        cell_bool(col(&head, r, "diverged"));
        let dt = cell_f64(col(&head, r, "delta_t"));
        let tr = cell_f64(col(&head, r, "t_return"));
        assert_eq!(dt.is_some(), returned, "{r:?}");
        assert_eq!(tr.is_some(), returned, "{r:?}");
        if let (Some(dt), Some(tr)) = (dt, tr) {
            assert!(dt > 0.0 && tr > dt, "{r:?}");
        }
        for k in ["t_end", "peak_exc_mean", "final_exc_mean"] {
            assert!(cell_f64(col(&head, r, k)).is_some_and(f64::is_finite), "{k} of {r:?}");
        }
        for k in ["reciprocal", "nnz_ee", "n_neurons", "n_exc"] {
            assert!(cell_u64(col(&head, r, k)).is_some(), "{k} of {r:?}");
        }
    }
    // At 0.15 the observed network never returns: empty ΔT cells.
    assert!(rows[..3]
        .iter()
        .all(|r| col(&head, r, "delta_t").is_empty() && col(&head, r, "returned") == "false"));
    assert!(rows[9..].iter().all(|r| col(&head, r, "returned") == "true"));

    check_parquet(&dir.join("results.parquet"), &head, &rows);

    // summary.csv: one row per point × condition, consistent with results.csv.
    let (sh, srows) = csv_table(&dir.join("summary.csv"));
    assert_eq!(
        sh.join(","),
        "network.connectivity_proba,condition,n,n_returned,n_not_returned,n_diverged,delta_t_mean,delta_t_sd,delta_t_median,delta_t_min,delta_t_max,decay_tau_mean,decay_tau_sd,decay_r2_mean,decay_r2_sd,reciprocal_mean,reciprocal_sd"
    );
    assert_eq!(srows.len(), 6);
    for s in &srows {
        let group: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == s[1] && r[2] == s[0]).collect();
        let dts: Vec<f64> = group
            .iter()
            .filter_map(|r| cell_f64(col(&head, r, "delta_t")))
            .collect();
        assert_eq!(col(&sh, s, "n"), group.len().to_string());
        assert_eq!(col(&sh, s, "n_returned"), dts.len().to_string());
        assert_eq!(col(&sh, s, "n_diverged"), "0");
        let mean = cell_f64(col(&sh, s, "delta_t_mean"));
        if dts.is_empty() {
            assert_eq!(mean, None, "{s:?}");
            assert_eq!(col(&sh, s, "delta_t_min"), "");
        } else {
            let m = dts.iter().sum::<f64>() / dts.len() as f64;
            assert!((mean.unwrap() - m).abs() < 1e-12, "{s:?}");
            let min = dts.iter().copied().fold(f64::INFINITY, f64::min);
            assert_eq!(cell_f64(col(&sh, s, "delta_t_min")), Some(min));
        }
    }

    // stats.csv: each condition against the first at each point.
    let (th, trows) = csv_table(&dir.join("stats.csv"));
    assert_eq!(
        th.join(","),
        "network.connectivity_proba,condition,reference,n,n_reference,n_returned,n_not_returned,n_diverged,n_reference_returned,n_reference_not_returned,n_reference_diverged,mean_diff,ci_low,ci_high,mann_whitney_u,p_value,cliffs_delta,cohens_d"
    );
    let keys: Vec<(&str, &str, &str)> = trows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("0.15", "shuffled", "observed"),
            ("0.15", "no_reciprocal_shuffled", "observed"),
            ("0.25", "shuffled", "observed"),
            ("0.25", "no_reciprocal_shuffled", "observed"),
        ]
    );
    // No returned reference runs at 0.15: empty statistics.
    for r in &trows[..2] {
        assert_eq!(col(&th, r, "n_reference"), "0");
        assert!(r[11..].iter().all(String::is_empty), "{r:?}");
    }
    for r in &trows[2..] {
        let (d, lo, hi) = (
            cell_f64(col(&th, r, "mean_diff")).unwrap(),
            cell_f64(col(&th, r, "ci_low")).unwrap(),
            cell_f64(col(&th, r, "ci_high")).unwrap(),
        );
        assert!(d < 0.0 && lo <= d && d <= hi, "{r:?}");
        assert!(r[11..].iter().all(|c| cell_f64(c).is_some()), "{r:?}");
    }

    // figures: PNG and SVG of each.
    let mut pngs = BTreeSet::new();
    for entry in fs::read_dir(dir.join("figures")).unwrap() {
        let p = entry.unwrap().path();
        let bytes = read(&p);
        match p.extension().and_then(|x| x.to_str()) {
            Some("png") => {
                assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", p.display());
                assert!(p.with_extension("svg").exists(), "no SVG beside {}", p.display());
                pngs.insert(p.file_stem().unwrap().to_string_lossy().into_owned());
            }
            Some("svg") => assert!(String::from_utf8(bytes).unwrap().contains("</svg>"), "{}", p.display()),
            _ => panic!("unexpected file {}", p.display()),
        }
    }
    for want in [
        "sweep",
        "delta_t_distributions_point0",
        "delta_t_distributions_point1",
        "time_series_0_observed",
        "time_series_1_shuffled",
        "time_series_2_no_reciprocal_shuffled",
        "ee_matrix",
        "weights",
        "reciprocal",
    ] {
        assert!(pngs.contains(want), "no figures/{want}.png in {pngs:?}");
    }

    // report.html: self-contained, every condition, the summary values.
    let html = read_text(&dir.join("report.html"));
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        pngs.len(),
        "one embedded image per figure"
    );
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href="] {
        for (i, _) in lower.match_indices(attr) {
            let v = lower[i + attr.len()..].trim_start_matches(['"', '\'']);
            assert!(
                !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//") || v.starts_with("file:")),
                "external reference: {}",
                &html[i..(i + 80).min(html.len())]
            );
        }
    }
    assert!(
        !lower.contains("<link") && !lower.contains("@import"),
        "external stylesheet"
    );
    for c in MICRONS_CONDITIONS {
        assert!(html.contains(c), "report does not name condition {c}");
    }
    let shown = html_table(&html, "Summary (summary.csv)");
    assert_eq!(shown.len(), srows.len());
    for (s, h) in srows.iter().zip(&shown) {
        assert_eq!(s.len(), h.len(), "{h:?}");
        for (a, b) in s.iter().zip(h) {
            match (cell_f64_lenient(a), cell_f64_lenient(b)) {
                // Shown to about 4 significant digits.
                (Some(x), Some(y)) => assert!((x - y).abs() <= 5e-4 * x.abs().max(1e-300), "summary {a} shown as {b}"),
                _ => assert_eq!(a, b, "summary cell"),
            }
        }
    }
    assert!(html.contains("Statistics against the reference"));

    // manifest.json.
    let m: Value = serde_json::from_str(&read_text(&dir.join("manifest.json"))).unwrap();
    for k in [
        "ratenet_version",
        "spec",
        "inputs",
        "started",
        "finished",
        "threads",
        "shard",
    ] {
        assert!(m.get(k).is_some(), "manifest.json has no {k}: {m}");
    }
    assert_eq!(m["ratenet_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["spec"].as_str().unwrap(), read_text(&dir.join("spec.toml")));
    assert!(m["spec"].as_str().unwrap().contains("no_reciprocal_shuffled"));
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    for (inp, (key, path)) in inputs
        .iter()
        .zip([("data.synapses", synapses()), ("data.cells", cells())])
    {
        assert_eq!(inp["key"], key);
        assert_eq!(inp["source"], path.display().to_string());
        assert_eq!(inp["sha256"].as_str().unwrap(), sha256sum(&path), "sha256 of {key}");
    }
    let (started, finished) = (m["started"].as_str().unwrap(), m["finished"].as_str().unwrap());
    for t in [started, finished] {
        let b = t.as_bytes();
        assert!(
            b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z' && t[..4].parse::<u32>().unwrap() >= 2024,
            "not an RFC 3339 UTC time: {t}"
        );
    }
    assert!(started <= finished);
    assert_eq!(m["threads"], 2);
    assert_eq!(m["shard"], "all");

    // pandas reads results.csv with the intended types (where the reference venv exists).
    let python = Path::new(REPO).join(".venv-ref/bin/python");
    if python.exists() {
        let script = "import sys, pandas as pd\n\
            df = pd.read_csv(sys.argv[1])\n\
            assert len(df) == 18, len(df)\n\
            assert str(df['returned'].dtype) == 'bool' and str(df['diverged'].dtype) == 'bool', df.dtypes\n\
            assert str(df['delta_t'].dtype) == 'float64' and df['delta_t'].isna().sum() == 6, df['delta_t']\n\
            assert str(df['seed'].dtype) == 'int64' and str(df['nnz_ee'].dtype) == 'int64', df.dtypes\n\
            assert list(df['network.connectivity_proba'].unique()) == [0.15, 0.25]\n";
        let out = Command::new(&python)
            .args(["-c", script])
            .arg(dir.join("results.csv"))
            .output()
            .unwrap();
        assert!(out.status.success(), "pandas: {}", String::from_utf8_lossy(&out.stderr));
    } else {
        eprintln!("{} not found: pandas check skipped", python.display());
    }
}

/// A cell as a number if it is one (condition names are not).
fn cell_f64_lenient(s: &str) -> Option<f64> {
    s.parse().ok()
}

// ---------------------------------------------------------------------------
// 7. The examples of the repository.

/// Run `examples/{name}` from the repository root; returns results.csv.
fn example(name: &str, data: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = ratenet();
    c.current_dir(REPO).arg("run").arg(format!("examples/{name}"));
    if data {
        c.args(data_sets());
    }
    ok(c.arg("--out").arg(tmp.path()).arg("--quiet"));
    for f in [
        "results.csv",
        "results.parquet",
        "summary.csv",
        "stats.csv",
        "report.html",
        "manifest.json",
    ] {
        assert!(tmp.path().join(f).exists(), "{name}: no {f}");
    }
    csv_table(&tmp.path().join("results.csv"))
}

fn count(head: &[String], rows: &[Vec<String>], column: &str, value: &str) -> usize {
    rows.iter().filter(|r| col(head, r, column) == value).count()
}

#[test]
fn example_ex1_seeds() {
    let (head, rows) = example("ex1_seeds.toml", true);
    assert_eq!(rows.len(), 20);
    assert_eq!(head.join(","), format!("condition,seed,{RESULT_HEADER}"));
    assert_eq!(
        (
            count(&head, &rows, "condition", "observed"),
            count(&head, &rows, "condition", "shuffled")
        ),
        (10, 10)
    );
}

#[test]
fn example_ex2_sweep() {
    let (head, rows) = example("ex2_sweep.toml", true);
    assert_eq!(rows.len(), 50);
    assert_eq!(
        head.join(","),
        format!("condition,seed,network.connectivity_proba,{RESULT_HEADER}")
    );
    for v in ["0.15", "0.2", "0.25", "0.3", "0.35"] {
        assert_eq!(count(&head, &rows, "network.connectivity_proba", v), 10, "{v}");
    }
}

#[test]
fn example_ex3_reciprocal() {
    let (head, rows) = example("ex3_reciprocal.toml", true);
    assert_eq!(rows.len(), 40);
    let recip = |c: &str| -> Vec<u64> {
        rows.iter()
            .filter(|r| r[0] == c)
            .map(|r| cell_u64(col(&head, r, "reciprocal")).unwrap())
            .collect()
    };
    let (observed, shuffled) = (recip("observed"), recip("shuffled"));
    assert_eq!(shuffled.len(), 10);
    let max_shuffled = *shuffled.iter().max().unwrap();
    assert!(
        observed.iter().all(|&o| o > max_shuffled),
        "observed {observed:?} vs shuffled {shuffled:?}"
    );
    assert!(
        recip("no_reciprocal").iter().all(|&x| x == 0),
        "{:?}",
        recip("no_reciprocal")
    );
}

#[test]
fn example_random_network() {
    let (head, rows) = example("random_network.toml", false);
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| col(&head, r, "condition") == "random"));
    // No E–E matrix from data: no reciprocal counts.
    assert!(rows
        .iter()
        .all(|r| col(&head, r, "reciprocal").is_empty() && col(&head, r, "nnz_ee").is_empty()));
    assert!(rows.iter().all(|r| col(&head, r, "n_neurons") == "200"));
}

/// Runs advanced together share weights but never bits: one run at a time
/// (`--batch 1`), pairs, and the default give the same tables.
#[test]
fn batch_size_does_not_change_results() {
    let e = Exp::new(MICRONS);
    ok(&mut e.run(true, "b1", &["--batch", "1"]));
    ok(&mut e.run(true, "b2", &["--batch", "2", "--threads", "1"]));
    ok(&mut e.run(true, "b4", &[]));
    assert_same_tables(&e.dir("b1"), &e.dir("b4"));
    assert_same_tables(&e.dir("b2"), &e.dir("b4"));
}

/// An example file on fewer seeds (`seeds`), run one run at a time
/// (`--batch 1`) and batched by default: the tables must be identical.
fn example_batched_as_alone(file: &str, seeds: &str) {
    let text = read_text(&Path::new(REPO).join("examples").join(file));
    let e = Exp::new(&text.replace("seeds = \"0-9\"", &format!("seeds = \"{seeds}\"")));
    assert!(
        read_text(&e.spec()).contains(&format!("seeds = \"{seeds}\"")),
        "{file} sweeps seeds 0-9"
    );
    ok(&mut e.run(true, "b1", &["--batch", "1"]));
    ok(&mut e.run(true, "b4", &[]));
    assert_same_tables(&e.dir("b1"), &e.dir("b4"));
}

/// The homework's third exercise (its example file) on two seeds: the
/// observed and no-reciprocal E–E blocks run as lanes of one nested block,
/// and so do their shuffles, bit for bit as alone.
#[test]
fn nested_conditions_give_the_results_of_runs_alone() {
    example_batched_as_alone("ex3_reciprocal.toml", "0-1");
}

/// The homework's first exercise (its example file) on four seeds: two
/// seeds' observed and shuffled runs share a batch, the observed E–E block
/// computed for lanes 0 and 2 in one pass, bit for bit as alone.
#[test]
fn seeds_sharing_a_batch_give_the_results_of_runs_alone() {
    example_batched_as_alone("ex1_seeds.toml", "0-3");
}
