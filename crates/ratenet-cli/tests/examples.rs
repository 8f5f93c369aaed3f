//! The examples on other connectomes — the pinky v185 tables, the minnie65
//! graph of row numbers, observed inhibition on the MICrONS tables — run
//! from the repository root as a user runs them, their data keys given by
//! `--set` on `../shared/data/`, on three seeds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn data(rel: &str) -> String {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        .join(rel)
        .display()
        .to_string()
}

fn ratenet(args: &[String], cache: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ratenet"))
        .current_dir(REPO)
        .env("RATENET_CACHE", cache)
        .args(args)
        .output()
        .expect("cannot start ratenet");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "ratenet {args:?} failed:\n{stderr}");
    (stdout, stderr)
}

/// (condition, returned, diverged, n_neurons, n_exc) per run of `examples/{file}`
/// on seeds 0-2, with `sets` (`key=value`); checks that it takes under a minute.
fn run_example(file: &str, sets: &[(&str, String)]) -> Vec<(String, bool, bool, usize, usize)> {
    let tmp = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["run".into(), format!("examples/{file}")];
    for (k, v) in sets.iter().chain(&[("sweep.seeds", "0-2".to_string())]) {
        args.push("--set".into());
        args.push(format!("{k}={v}"));
    }
    args.extend([
        "--out".into(),
        tmp.path().join("out").display().to_string(),
        "--quiet".into(),
    ]);
    let start = Instant::now();
    ratenet(&args, tmp.path());
    let took = start.elapsed();
    assert!(took < Duration::from_secs(60), "{file}: {took:?}");
    let mut r = csv::Reader::from_path(tmp.path().join("out/results.csv")).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let at = |name: &str| head.iter().position(|h| h == name).unwrap();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (
                x[at("condition")].to_string(),
                &x[at("returned")] == "true",
                &x[at("diverged")] == "true",
                x[at("n_neurons")].parse().unwrap(),
                x[at("n_exc")].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn example_pinky_v185() {
    let d = "pinky_v185";
    let rows = run_example(
        "pinky_v185.toml",
        &[
            (
                "data.synapses",
                data(&format!("{d}/soma_subgraph_synapses_spines_v185.csv")),
            ),
            ("data.cells", data(&format!("{d}/soma_valence_v185.csv"))),
        ],
    );
    assert_eq!(rows.len(), 6);
    for (cond, returned, diverged, n, n_exc) in &rows {
        assert_eq!((*n, *n_exc), (122, 104), "{cond}");
        if cond == "observed" {
            assert!(*returned && !*diverged, "{rows:?}");
        }
    }
}

#[test]
fn example_minnie65_graph() {
    let d = "minnie65_graph";
    let rows = run_example(
        "minnie65_graph.toml",
        &[
            ("data.synapses", data(&format!("{d}/mouse_directed_connectome.csv"))),
            ("data.cells", data(&format!("{d}/mouse_basic_neuron_info.csv"))),
        ],
    );
    assert_eq!(rows.len(), 6);
    for (cond, returned, diverged, n, n_exc) in &rows {
        assert_eq!((*n, *n_exc), (1578, 1342), "{cond}");
        assert!(*returned && !*diverged, "{rows:?}");
    }
}

#[test]
fn example_observed_inhibition() {
    let d = "microns_1300";
    let sets = [
        ("data.synapses", data(&format!("{d}/synapses_synthetic_1300.feather"))),
        ("data.cells", data(&format!("{d}/cell_info_1300.feather"))),
    ];
    let rows = run_example("observed_inhibition.toml", &sets);
    assert_eq!(rows.len(), 6);
    for (cond, returned, diverged, n, n_exc) in &rows {
        assert_eq!((*n, *n_exc), (592, 419), "{cond}");
        assert!(*returned && !*diverged, "{rows:?}");
    }
    // `ratenet connectome` writes every block, ids excitatory then inhibitory.
    let tmp = tempfile::tempdir().unwrap();
    let (m, ids) = (tmp.path().join("m.npy"), tmp.path().join("ids.npy"));
    let mut args = vec!["connectome".to_string(), "examples/observed_inhibition.toml".into()];
    for (k, v) in &sets {
        args.extend(["--set".into(), format!("{k}={v}")]);
    }
    args.extend([
        "--out".into(),
        m.display().to_string(),
        "--ids".into(),
        ids.display().to_string(),
    ]);
    let (stdout, _) = ratenet(&args, tmp.path());
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        (v["n_exc"].as_u64(), v["n_inh"].as_u64()),
        (Some(419), Some(173)),
        "{v}"
    );
    let Ok(ratenet::npy::NpyArray::I64 { shape, data: id }) = ratenet::npy::read(&ids) else {
        panic!("ids.npy is not int64");
    };
    assert_eq!(shape, vec![592]);
    assert!(id[..419].windows(2).all(|w| w[0] < w[1]) && id[419..].windows(2).all(|w| w[0] < w[1]));
    let Ok(ratenet::npy::NpyArray::F64 { shape, data: w }) = ratenet::npy::read(&m) else {
        panic!("m.npy is not float64");
    };
    assert_eq!(shape, vec![592, 592]);
    let n = 592;
    let block = |pre_inh: bool, post_inh: bool| {
        (0..n)
            .filter(|&i| (i >= 419) == pre_inh)
            .flat_map(|i| (0..n).filter(move |&j| (j >= 419) == post_inh).map(move |j| (i, j)))
            .filter(|&(i, j)| w[i * n + j] > 0.0)
            .count()
    };
    assert_eq!(
        [
            block(false, false),
            block(false, true),
            block(true, false),
            block(true, true)
        ],
        [8271, 521, 550, 204]
    );
}
