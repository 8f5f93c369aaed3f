//! The `ratenet` binary as a user runs it: what it prints, what it writes,
//! how `--set` merges into the experiment file, and that every bad input ends
//! in one line on stderr naming the culprit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ratenet::npy::{self, NpyArray};
use serde_json::Value;

/// `../shared` beside the repository.
fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
}

fn microns() -> (String, String) {
    let d = shared().join("data/microns_1300");
    let s = |p: PathBuf| p.display().to_string();
    (
        s(d.join("synapses_synthetic_1300.feather")),
        s(d.join("cell_info_1300.feather")),
    )
}

fn pinky() -> (String, String) {
    let d = shared().join("data/pinky_v185");
    let s = |p: PathBuf| p.display().to_string();
    (
        s(d.join("soma_subgraph_synapses_spines_v185.csv")),
        s(d.join("soma_valence_v185.csv")),
    )
}

/// A temporary folder holding `spec.toml` with `text`.
struct SpecFile {
    dir: tempfile::TempDir,
}

impl SpecFile {
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.toml"), text).unwrap();
        SpecFile { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("spec.toml")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn random_spec() -> SpecFile {
    SpecFile::new("[network]\nkind = \"random\"\nn_neurons = 120\n[simulation]\nt_max = 30.0\n")
}

fn microns_spec(extra: &str) -> SpecFile {
    let (s, c) = microns();
    SpecFile::new(&format!("[data]\nsynapses = {s:?}\ncells = {c:?}\n{extra}"))
}

/// The pinky v185 tables read through the same code by naming their columns.
fn pinky_spec(select: &str) -> SpecFile {
    let (s, c) = pinky();
    SpecFile::new(&format!(
        "[data]\nsynapses = {s:?}\ncells = {c:?}\npre_column = \"pre_root_id\"\npost_column = \"post_root_id\"\n\
         size_column = \"cleft_vx\"\ncell_id_column = \"pt_root_id\"\nmin_synapses = 1\n{select}"
    ))
}

/// The cache folder of this test process (downloads, built connectomes):
/// empty at the start, so no test depends on what a user has cached.
fn cache() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn ratenet(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratenet"))
        .env("RATENET_CACHE", cache())
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// A successful run that printed one JSON line: the parsed line and the raw text.
fn ok_json(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (Value, String) {
    let out = ratenet(args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "exit {:?}, stderr: {stderr}", out.status);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {stdout:?}");
    assert!(stdout.ends_with('\n'));
    (serde_json::from_str(lines[0]).unwrap(), stdout)
}

/// A failed run: non-zero exit, one line on stderr starting "ratenet:", no
/// panic or backtrace. Returns that line.
fn fails(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = ratenet(args);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success; stdout: {}",
        text(&out.stdout)
    );
    assert_ne!(out.status.code(), None, "exited normally (not by a signal)");
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", text(&out.stdout));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    let line = lines[0].to_string();
    assert!(line.starts_with("ratenet:"), "{line}");
    let lower = line.to_lowercase();
    for bad in ["panicked", "backtrace", "internal error"] {
        assert!(!lower.contains(bad), "{line}");
    }
    line
}

fn assert_names(line: &str, culprits: &[&str]) {
    for c in culprits {
        assert!(line.contains(c), "error should name {c:?}: {line}");
    }
}

// ---------------------------------------------------------------------------
// simulate

const RUN_KEYS: [&str; 16] = [
    "condition",
    "seed",
    "delta_t",
    "t_return",
    "returned",
    "diverged",
    "decay_tau",
    "decay_r2",
    "complete",
    "t_end",
    "n_neurons",
    "n_exc",
    "reciprocal",
    "nnz_ee",
    "peak_exc_mean",
    "final_exc_mean",
];

#[test]
fn simulate_prints_one_json_line_with_the_documented_keys() {
    let spec = random_spec();
    let (v, _) = ok_json(&[&"simulate", &spec.path(), &"--seed", &"3"]);
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = RUN_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(v["condition"], "observed");
    assert_eq!(v["seed"], 3);
    assert_eq!(v["n_neurons"], 120);
    assert_eq!(v["n_exc"], 102);
    assert_eq!(v["reciprocal"], Value::Null, "data-free network");
    assert_eq!(v["nnz_ee"], Value::Null, "data-free network");
    assert_eq!(v["returned"], true);
    assert_eq!(v["diverged"], false);
    let (dt, t) = (v["delta_t"].as_f64().unwrap(), v["t_return"].as_f64().unwrap());
    assert!(
        dt > 0.0 && (t - dt - 15.0).abs() < 1e-9,
        "ΔT = T − end of stimulus: {v}"
    );
    assert!(v["peak_exc_mean"].as_f64().unwrap() > 0.0);
    assert_eq!(v["complete"], true);
    assert!(v["decay_tau"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn simulate_trace_writes_csv_and_leaves_the_json_line_unchanged() {
    let spec = random_spec();
    let trace = spec.file("trace.csv");
    let (plain, plain_text) = ok_json(&[&"simulate", &spec.path(), &"--seed", &"1"]);
    let (traced, traced_text) = ok_json(&[&"simulate", &spec.path(), &"--seed", &"1", &"--trace", &trace]);
    assert_eq!(plain_text, traced_text, "the JSON line does not depend on --trace");
    assert_eq!(plain, traced);

    let csv = std::fs::read_to_string(&trace).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,exc_mean,inh_mean,stimulus"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse::<f64>().unwrap()).collect())
        .collect();
    // The trace runs to t_max: floor(30 / 0.01) steps.
    assert_eq!(rows.len(), (30.0f64 / 0.01) as usize);
    assert!(rows.iter().all(|r| r.len() == 4));
    assert_eq!(rows[0], vec![0.0, 0.0, 0.0, 0.0]);
    let on: Vec<&Vec<f64>> = rows.iter().filter(|r| r[3] != 0.0).collect();
    assert!(
        on.iter()
            .all(|r| r[3] == 10.0 && r[0] >= 1.0 - 1e-9 && r[0] <= 15.0 + 1e-9),
        "stimulus on [1, 15]"
    );
    assert!(on.len() > 1300, "{} on-steps", on.len());
    let peak = rows.iter().map(|r| r[1]).fold(f64::MIN, f64::max);
    assert_eq!(
        peak,
        plain["peak_exc_mean"].as_f64().unwrap(),
        "the trace's peak is the reported one"
    );
    assert!(rows.iter().any(|r| r[2] > 0.0), "inhibitory activity");
}

// ---------------------------------------------------------------------------
// connectome

fn read_f64(p: &Path) -> (Vec<usize>, Vec<f64>) {
    match npy::read(p).unwrap() {
        NpyArray::F64 { shape, data } => (shape, data),
        other => panic!("{}: expected float64, got {other:?}", p.display()),
    }
}

fn read_i64(p: &Path) -> (Vec<usize>, Vec<i64>) {
    match npy::read(p).unwrap() {
        NpyArray::I64 { shape, data } => (shape, data),
        other => panic!("{}: expected int64, got {other:?}", p.display()),
    }
}

#[test]
fn connectome_writes_the_notebooks_matrix_and_ids() {
    let spec = microns_spec("");
    let (m, ids) = (spec.file("m.npy"), spec.file("ids.npy"));
    let (v, _) = ok_json(&[&"connectome", &spec.path(), &"--out", &m, &"--ids", &ids]);
    let golden = shared().join("golden/dumps_seed0");
    let (shape, got) = read_f64(&m);
    let (want_shape, want) = read_f64(&golden.join("ee_matrix.npy"));
    assert_eq!(shape, want_shape);
    assert!(
        got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
        "E–E matrix bit for bit"
    );
    assert_eq!(got.len(), want.len());
    let (id_shape, got_ids) = read_i64(&ids);
    let (_, want_ids) = read_i64(&golden.join("ee_ids.npy"));
    assert_eq!(got_ids, want_ids);
    assert_eq!(id_shape, vec![want_ids.len()]);
    assert_eq!(v["n_exc"], want_ids.len());
    assert_eq!(v["nnz"], want.iter().filter(|&&x| x > 0.0).count());
    assert_eq!(v["first_id"], want_ids[0]);
    assert_eq!(v["last_id"], *want_ids.last().unwrap());
}

/// (n_exc, nnz, reciprocal, weight_sum, first_id, last_id), as pandas computes
/// them with shared/reference/notebook_model.py's `observed_matrix`.
fn assert_pinky(v: &Value, want: (u64, u64, u64, f64, i64, i64)) {
    assert_eq!(v["n_exc"], want.0, "{v}");
    assert_eq!(v["nnz"], want.1, "{v}");
    assert_eq!(v["reciprocal"], want.2, "{v}");
    let sum = v["weight_sum"].as_f64().unwrap();
    assert!((sum - want.3).abs() <= 1e-12 * want.3, "{v}");
    assert_eq!(v["first_id"], want.4, "{v}");
    assert_eq!(v["last_id"], want.5, "{v}");
}

const PINKY_E: (u64, u64, u64, f64, i64, i64) = (104, 682, 64, 1.79606, 648518346349492682, 648518346349540057);
// Excitatory cells except the one with id 17 (root id 648518346349540057).
const PINKY_E_NOT_17: (u64, u64, u64, f64, i64, i64) =
    (103, 673, 64, 1.7488666666666668, 648518346349492682, 648518346349540048);

#[test]
fn pinky_csv_tables_load_by_naming_columns() {
    let spec = pinky_spec("[data.select]\ncell_type = \"e\"\n");
    let (m, ids) = (spec.file("m.npy"), spec.file("ids.npy"));
    let (v, _) = ok_json(&[&"connectome", &spec.path(), &"--out", &m, &"--ids", &ids]);
    assert_pinky(&v, PINKY_E);
    let (shape, data) = read_f64(&m);
    assert_eq!(shape, vec![104, 104]);
    assert_eq!(data.iter().filter(|&&x| x > 0.0).count(), 682);
    let (_, id) = read_i64(&ids);
    assert!(id.windows(2).all(|w| w[0] < w[1]), "ids ascending");
}

// ---------------------------------------------------------------------------
// --set

#[test]
fn set_one_selection_column_adds_to_the_selection_in_force() {
    // The file's rule (id ≠ 17) stays and cell_type = "e" joins it.
    let spec = pinky_spec("[data.select]\nid = { not = 17 }\n");
    let (v, _) = ok_json(&[&"connectome", &spec.path(), &"--set", &"data.select.cell_type=e"]);
    assert_pinky(&v, PINKY_E_NOT_17);
    // Without a selection in the file, the default one is in force: its
    // columns stay and are missing from the pinky cell table.
    let spec = pinky_spec("");
    let line = fails(&[&"connectome", &spec.path(), &"--set", &"data.select.cell_type=e"]);
    assert_names(&line, &["cell_type_auto"]);
}

#[test]
fn set_the_selection_table_replaces_it() {
    let spec = pinky_spec("[data.select]\nid = { not = 17 }\n");
    let (v, _) = ok_json(&[&"connectome", &spec.path(), &"--set", &"data.select={cell_type=\"e\"}"]);
    assert_pinky(&v, PINKY_E);
    // Also over the default selection.
    let spec = pinky_spec("");
    let (v, _) = ok_json(&[&"connectome", &spec.path(), &"--set", &"data.select={cell_type=\"e\"}"]);
    assert_pinky(&v, PINKY_E);
}

#[test]
fn set_accepts_integers_for_float_keys() {
    let spec = random_spec();
    let (base, _) = ok_json(&[&"simulate", &spec.path()]);
    let (v, _) = ok_json(&[&"simulate", &spec.path(), &"--set", &"network.g=1"]);
    assert_ne!(v["peak_exc_mean"], base["peak_exc_mean"], "g = 1 took effect");
    assert_eq!(v["diverged"], true, "g = 1 is far too strong");
    // And the same as the float.
    let (f, _) = ok_json(&[&"simulate", &spec.path(), &"--set", &"network.g=1.0"]);
    assert_eq!(v, f);
    let (a, _) = ok_json(&[&"simulate", &spec.path(), &"--set", &"network.g=0.002"]);
    assert_eq!(a, base, "the default g, given explicitly");
}

#[test]
fn set_takes_a_plain_string_value() {
    let (syn, _) = microns();
    // An unquoted path is not TOML: it is taken as a string.
    let spec = microns_spec("");
    let (want, _) = ok_json(&[&"connectome", &spec.path()]);
    let (s, c) = pinky();
    let other = SpecFile::new(&format!("[data]\nsynapses = {s:?}\ncells = {c:?}\n"));
    let (_, cells) = microns();
    let (v, _) = ok_json(&[
        &"connectome",
        &other.path(),
        &"--set",
        &format!("data.synapses={syn}"),
        &"--set",
        &format!("data.cells={cells}"),
    ]);
    assert_eq!(v, want);
    let line = fails(&[
        &"connectome",
        &spec.path(),
        &"--set",
        &"data.synapses=some/path.feather",
    ]);
    assert_names(&line, &["some/path.feather"]);
}

// ---------------------------------------------------------------------------
// Bad input

#[test]
fn missing_spec_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let line = fails(&[&"simulate", &missing]);
    assert_names(&line, &["nope.toml"]);
}

#[test]
fn invalid_toml() {
    let spec = SpecFile::new("[network\nkind = \"random\"\n");
    let line = fails(&[&"simulate", &spec.path()]);
    assert_names(&line, &["spec.toml", "TOML"]);
}

#[test]
fn unknown_keys() {
    let spec = SpecFile::new("bogus_key = 1\n[network]\nkind = \"random\"\n");
    assert_names(&fails(&[&"simulate", &spec.path()]), &["bogus_key"]);
    let spec = SpecFile::new("[network]\nkind = \"random\"\nfoo_bar = 1\n");
    assert_names(&fails(&[&"simulate", &spec.path()]), &["network", "foo_bar"]);
    // Through --set too.
    let spec = random_spec();
    assert_names(
        &fails(&[&"simulate", &spec.path(), &"--set", &"network.gain=1"]),
        &["network", "gain"],
    );
}

#[test]
fn wrong_type() {
    let spec = SpecFile::new("[network]\nkind = \"random\"\ng = \"x\"\n");
    assert_names(&fails(&[&"simulate", &spec.path()]), &["network.g"]);
    let spec = random_spec();
    assert_names(
        &fails(&[&"simulate", &spec.path(), &"--set", &"network.balance=maybe"]),
        &["network.balance"],
    );
}

#[test]
fn out_of_range() {
    let spec = random_spec();
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"network.connectivity_proba=1.5"]);
    assert_names(&line, &["network.connectivity_proba", "1.5"]);
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"network.r_inhibitory=1"]);
    assert_names(&line, &["network.r_inhibitory"]);
}

#[test]
fn unknown_null_model() {
    let spec = microns_spec("[[condition]]\nname = \"odd\"\nnulls = [\"shuffle_everything\"]\n");
    let line = fails(&[&"simulate", &spec.path()]);
    assert_names(&line, &["shuffle_everything", "odd"]);
}

#[test]
fn unknown_condition() {
    let spec = random_spec();
    let line = fails(&[&"simulate", &spec.path(), &"--condition", &"nosuch"]);
    assert_names(&line, &["nosuch"]);
}

#[test]
fn missing_data_file() {
    let spec = microns_spec("");
    let line = fails(&[
        &"connectome",
        &spec.path(),
        &"--set",
        &"data.synapses=/nonexistent/syn.feather",
    ]);
    assert_names(&line, &["/nonexistent/syn.feather"]);
    let line = fails(&[
        &"simulate",
        &spec.path(),
        &"--set",
        &"data.cells=/nonexistent/cells.feather",
    ]);
    assert_names(&line, &["/nonexistent/cells.feather"]);
}

#[test]
fn missing_column() {
    let spec = microns_spec("");
    let line = fails(&[&"connectome", &spec.path(), &"--set", &"data.pre_column=nope"]);
    assert_names(&line, &["'nope'"]);
    let line = fails(&[&"connectome", &spec.path(), &"--set", &"data.select.no_such_column=1"]);
    assert_names(&line, &["no_such_column"]);
}

#[test]
fn empty_selection() {
    let spec = microns_spec("");
    let line = fails(&[&"connectome", &spec.path(), &"--set", &"data.select.region=Mars"]);
    assert_names(&line, &["Mars", "data.select"]);
}

#[test]
fn stimulus_without_an_on_step_or_without_a_baseline() {
    let spec = random_spec();
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"stimulus.strength=0"]);
    assert_names(&line, &["stimulus", "strength"]);
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"stimulus.start=0"]);
    assert_names(&line, &["stimulus.start"]);
}

#[test]
fn seed_from_2_pow_32_needs_fast_rng() {
    let spec = random_spec();
    let line = fails(&[&"simulate", &spec.path(), &"--seed", &"4294967296"]);
    assert_names(&line, &["4294967296", "fast"]);
    let (v, _) = ok_json(&[
        &"simulate",
        &spec.path(),
        &"--seed",
        &"4294967296",
        &"--set",
        &"network.rng=fast",
    ]);
    assert_eq!(v["seed"], 4294967296u64);
}

#[test]
fn null_models_on_a_random_network() {
    let spec = SpecFile::new(
        "[network]\nkind = \"random\"\n[[condition]]\nname = \"shuffled\"\nnulls = [\"shuffle_connections\"]\n",
    );
    let line = fails(&[&"simulate", &spec.path()]);
    assert_names(&line, &["shuffled", "null models", "random"]);
}

/// Argument mistakes end in one line too, naming the argument.
#[test]
fn argument_errors_are_one_line() {
    let line = fails(&[&"run", &"spec.toml", &"--bogus"]);
    assert_names(&line, &["--bogus"]);
    let line = fails(&[&"simulate"]);
    assert_names(&line, &["<SPEC>"]);
    let line = fails(&[&"run", &"spec.toml", &"--threads", &"abc"]);
    assert_names(&line, &["--threads", "abc"]);
    let line = fails(&[&"run", &"spec.toml", &"--batch", &"0"]);
    assert_names(&line, &["--batch"]);
}

#[test]
fn the_built_connectome_is_stored_and_read_back() {
    let spec = microns_spec("");
    let (first, _) = ok_json(&[&"connectome", &spec.path()]);
    let dir = cache().join("connectomes");
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    assert!(!entries.is_empty(), "an entry in {}", dir.display());
    let (again, _) = ok_json(&[&"connectome", &spec.path()]);
    assert_eq!(again, first, "read back");
    // A damaged entry is rebuilt, never used.
    for e in &entries {
        let mut b = std::fs::read(e).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0xff;
        std::fs::write(e, b).unwrap();
    }
    let (rebuilt, _) = ok_json(&[&"connectome", &spec.path()]);
    assert_eq!(rebuilt, first, "rebuilt");
    // Another key is another entry.
    let other = microns_spec("min_synapses = 30\n");
    let (fewer, _) = ok_json(&[&"connectome", &other.path()]);
    assert!(fewer["n_exc"].as_u64() < first["n_exc"].as_u64(), "{fewer} vs {first}");
}

#[test]
fn euler_with_a_large_step_warns_and_names_the_bound() {
    let spec = random_spec();
    let out = ratenet(&[&"simulate", &spec.path(), &"--set", &"simulation.dt=0.5"]);
    let err = text(&out.stderr);
    assert!(err.contains("warning: simulation.dt = 0.5 ≥ 2 · tau = 0.5"), "{err}");
    let out = ratenet(&[&"simulate", &spec.path(), &"--set", &"simulation.method=\"rk4\""]);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------------------
// keys

/// `ratenet keys`: a header and one aligned line per key of the table, with
/// its default as written in TOML; one section on request.
#[test]
fn keys_lists_every_key_with_its_default() {
    let out = ratenet(&[&"keys"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), ratenet::experiment::keys::KEYS.len() + 1);
    assert!(lines[0].starts_with("KEY") && lines[0].contains("DEFAULT") && lines[0].contains("DOC"));
    let doc_col = lines[0].find("DOC").unwrap();
    for k in ratenet::experiment::keys::KEYS {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(k.name))
            .unwrap_or_else(|| panic!("{} is listed", k.name));
        assert!(line.contains(&k.default_text()), "{line}");
        if !line.contains("https://") && !k.name.ends_with(".select") {
            assert_eq!(line.chars().nth(doc_col - 1), Some(' '), "aligned: {line}");
        }
    }
    for (key, default) in [
        ("network.g", "0.002"),
        ("simulation.transfer", "\"relu\""),
        ("simulation.stop_early", "true"),
        ("metric.spectrum", "false"),
        ("simulation.transfer.gain", "1"),
    ] {
        let line = lines.iter().find(|l| l.starts_with(&format!("{key} "))).unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some(default), "{line}");
    }
    let out = ratenet(&[&"keys", &"network"]);
    let stdout = text(&out.stdout);
    assert!(stdout.lines().skip(1).all(|l| l.starts_with("network.")), "{stdout}");
    assert_names(&fails(&[&"keys", &"netwrk"]), &["netwrk", "did you mean 'network'"]);
}

#[test]
fn unknown_keys_and_ranges_from_the_key_table() {
    let spec = random_spec();
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"network.gg=1"]);
    assert_names(&line, &["[network]: unknown key 'gg' (did you mean 'g'?)"]);
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"network.r_inhibitory=1.2"]);
    assert_names(&line, &["network.r_inhibitory = 1.2: expected a number in [0, 1)"]);
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"simulation.t_max=0.001"]);
    assert_names(&line, &["simulation.t_max = 0.001", "simulation.dt"]);
    let line = fails(&[&"simulate", &spec.path(), &"--set", &"metric.threshold_ratio=0"]);
    assert_names(&line, &["metric.threshold_ratio = 0"]);
}
