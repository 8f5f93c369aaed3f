//! `ratenet motifs` and a `[motifs]` section of `ratenet run`, on the built
//! binary and the shared MICrONS tables: the table's shape, its
//! independence of the thread count, the observed matrix's reciprocal
//! over-representation, one-line errors, and the report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const HEADER: &str = "motif,null,observed,null_mean,null_sd,z,p";
const MOTIFS: [&str; 17] = [
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

fn cache() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn ratenet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratenet"))
        .current_dir(REPO)
        .env("RATENET_CACHE", cache())
        .args(args)
        .output()
        .unwrap()
}

fn data(name: &str) -> String {
    Path::new(SHARED)
        .join("data/microns_1300")
        .join(name)
        .display()
        .to_string()
}

/// `--set` arguments pointing `[data]` at the shared MICrONS tables.
fn data_sets() -> Vec<String> {
    vec![
        "--set".into(),
        format!("data.synapses={}", data("synapses_synthetic_1300.feather")),
        "--set".into(),
        format!("data.cells={}", data("cell_info_1300.feather")),
    ]
}

fn stdout_of(args: &[&str]) -> String {
    let out = ratenet(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{args:?}: exit {:?}, stderr: {stderr}",
        out.status
    );
    String::from_utf8(out.stdout).unwrap()
}

fn motifs_ex3(extra: &[&str]) -> String {
    let sets = data_sets();
    let mut args = vec!["motifs", "examples/ex3_reciprocal.toml"];
    args.extend(sets.iter().map(String::as_str));
    args.extend(extra);
    stdout_of(&args)
}

/// One failure: non-zero exit, nothing on stdout, one line on stderr.
fn fails(args: &[&str]) -> String {
    let out = ratenet(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(
        lines[0].starts_with("ratenet: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    lines[0].to_string()
}

type Rows = Vec<Vec<String>>;

fn table(csv_text: &str) -> Rows {
    let mut lines = csv_text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    lines.map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn motifs_of_ex3_against_two_nulls() {
    let args = [
        "--nulls",
        "shuffle_connections,remove_reciprocal:random",
        "--seeds",
        "0-4",
    ];
    let one = motifs_ex3(&[&args[..], &["--threads", "1"]].concat());
    let two = motifs_ex3(&[&args[..], &["--threads", "2"]].concat());
    assert_eq!(one, two, "the output does not depend on the thread count");
    let rows = table(&one);
    assert_eq!(rows.len(), 17 * 2);
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 7);
        assert_eq!(r[0], MOTIFS[k % 17]);
        assert_eq!(r[1], ["shuffle_connections", "remove_reciprocal:random"][k / 17]);
        // Observed counts are the same against every null.
        assert_eq!(r[2], rows[k % 17][2]);
        // p = (1 + m) / 6 for 5 seeds: every cell reads back exactly.
        let p: f64 = r[6].parse().unwrap();
        assert!((1..=6).any(|m| p == m as f64 / 6.0), "{r:?}");
    }
    // The observed reciprocal count is the one `ratenet connectome` reports.
    let sets = data_sets();
    let mut args = vec!["connectome", "examples/ex3_reciprocal.toml"];
    args.extend(sets.iter().map(String::as_str));
    let summary: serde_json::Value = serde_json::from_str(&stdout_of(&args)).unwrap();
    assert_eq!(rows[0][2], summary["reciprocal"].to_string());
    // The triads partition every triple of neurons.
    let n = summary["n_exc"].as_u64().unwrap();
    let triads: u64 = rows[1..17].iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert_eq!(triads, n * (n - 1) * (n - 2) / 6);
    // EX3(a): reciprocal pairs are over-represented against connection shuffles.
    let z: f64 = rows[0][5].parse().unwrap();
    assert!(z > 2.0, "reciprocal z = {z} against shuffle_connections: {:?}", rows[0]);
    assert_eq!(rows[0][6], (1.0f64 / 6.0).to_string());
}

/// The defaults (`shuffle_connections,degree_preserving`, no
/// `--nulls`): the observed matrix has more reciprocal pairs than every
/// member of either null ensemble (EX3(a), against both controls).
#[test]
fn default_nulls_show_reciprocal_over_representation() {
    let rows = table(&motifs_ex3(&["--seeds", "0-9"]));
    assert_eq!(rows.len(), 17 * 2);
    for (k, null) in ["shuffle_connections", "degree_preserving"].iter().enumerate() {
        let r = &rows[17 * k];
        assert_eq!((r[0].as_str(), r[1].as_str()), ("reciprocal", *null));
        let (observed, mean): (f64, f64) = (r[2].parse().unwrap(), r[3].parse().unwrap());
        let z: f64 = r[5].parse().unwrap();
        assert!(observed > mean && z > 2.0, "reciprocal against {null}: {r:?}");
        // No member of either ensemble reaches the observed count.
        assert_eq!(r[6], (1.0f64 / 11.0).to_string(), "{r:?}");
    }
}

/// `null_models.swaps_per_edge` reaches the motif ensembles: with no swap
/// attempt, every degree-preserving member is the observed matrix.
#[test]
fn swaps_per_edge_reaches_the_ensembles() {
    let rows = table(&motifs_ex3(&[
        "--nulls",
        "degree_preserving",
        "--seeds",
        "0-2",
        "--set",
        "null_models.swaps_per_edge=0",
    ]));
    assert_eq!(rows.len(), 17);
    for r in &rows {
        assert_eq!(r[2], r[3], "null mean = observed: {r:?}");
        assert_eq!((r[4].as_str(), r[5].as_str(), r[6].as_str()), ("0", "", "1"), "{r:?}");
    }
}

#[test]
fn with_out_the_table_and_the_figure_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let printed = motifs_ex3(&[
        "--nulls",
        "shuffle_weights",
        "--seeds",
        "[3, 5]",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(out.join("motifs.csv")).unwrap(), printed);
    for f in ["figures/motifs.png", "figures/motifs.svg"] {
        assert!(out.join(f).metadata().unwrap().len() > 1000, "{f}");
    }
    // Weights shuffled over the same connections leave every motif as it was.
    for r in table(&printed) {
        assert_eq!(
            (r[3].as_str(), r[4].as_str(), r[5].as_str(), r[6].as_str()),
            (r[2].as_str(), "0", "", "1"),
            "{r:?}"
        );
    }
}

#[test]
fn bad_input_is_one_line() {
    let sets = data_sets();
    let base: Vec<&str> = ["motifs", "examples/ex3_reciprocal.toml"]
        .into_iter()
        .chain(sets.iter().map(String::as_str))
        .collect();
    let e = fails(&[&base[..], &["--nulls", "shuffle_connections,no_such_null"]].concat());
    assert!(e.contains("--nulls") && e.contains("no_such_null"), "{e}");
    for bad in ["9-2", "x", "[0, -3]"] {
        let e = fails(&[&base[..], &["--seeds", bad]].concat());
        assert!(e.contains("--seeds"), "{e}");
    }
    let e = fails(&[&base[..], &["--nulls", "shuffle_weights", "--threads", "0"]].concat());
    assert!(e.contains("--threads"), "{e}");
    let e = fails(&["motifs", "examples/random_network.toml"]);
    assert!(e.contains("network.kind"), "{e}");
    // In a file: the key is named.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "[motifs]\nnulls = [\"shufle_connections\"]\n").unwrap();
    let e = fails(&["motifs", spec.to_str().unwrap()]);
    assert!(e.contains("motifs.nulls") && e.contains("shufle_connections"), "{e}");
    std::fs::write(&spec, "[motifs]\nnulls = [\"shuffle_weights\"]\nseeds = \"5-1\"\n").unwrap();
    assert!(fails(&["run", spec.to_str().unwrap()]).contains("motifs.seeds"));
    std::fs::write(&spec, "[motifs]\nnull = []\n").unwrap();
    assert!(fails(&["run", spec.to_str().unwrap()]).contains("did you mean 'nulls'"));
}

fn spec_file(dir: &Path, motifs: &str) -> PathBuf {
    let text = format!(
        "compat = \"notebook\"\n[data]\nsynapses = {:?}\ncells = {:?}\n[simulation]\nt_max = 20.0\n{motifs}",
        data("synapses_synthetic_1300.feather"),
        data("cell_info_1300.feather")
    );
    let p = dir.join(format!("spec{}.toml", motifs.len()));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_motifs_section_puts_table_and_figure_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let section = "[motifs]\nnulls = [\"shuffle_connections\", \"shuffle_weights\"]\nseeds = \"0-2\"\n";
    let spec = spec_file(dir.path(), section);
    let out = dir.path().join("out");
    stdout_of(&["run", spec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    let csv_text = std::fs::read_to_string(out.join("motifs.csv")).unwrap();
    // The same as `ratenet motifs` on the file (its defaults from [motifs]).
    assert_eq!(csv_text, stdout_of(&["motifs", spec.to_str().unwrap()]));
    assert_eq!(table(&csv_text).len(), 17 * 2);
    assert!(out.join("figures/motifs.png").exists());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Motifs against null models (motifs.csv)"));
    assert!(html.contains("120C") && html.contains("shuffle_weights"));
    // The figure is in the page, inlined like the others.
    let figure = html
        .find("<h2>Motifs against null models</h2>")
        .expect("the figure's heading");
    assert!(html[figure..].contains("data:image/png;base64,"));

    // Without the section nothing changes: no motifs.csv, no motif section.
    let plain = spec_file(dir.path(), "");
    let out = dir.path().join("plain");
    stdout_of(&[
        "run",
        plain.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(!out.join("motifs.csv").exists() && !out.join("figures/motifs.png").exists());
    assert!(!std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("Motifs"));
}
