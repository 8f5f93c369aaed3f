//! Shared helpers of the integration tests: where the shared data lives and
//! how to read the golden files.

#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared` beside the repository.
pub fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
}

/// The course-shaped data: synapse and cell tables.
pub fn microns() -> (PathBuf, PathBuf) {
    let d = shared().join("data/microns_1300");
    (
        d.join("synapses_synthetic_1300.feather"),
        d.join("cell_info_1300.feather"),
    )
}

/// A spec over the shared MICrONS data with extra TOML appended.
pub fn microns_spec(extra: &str) -> ratenet::experiment::Spec {
    let (s, c) = microns();
    let text = format!(
        "[data]\nsynapses = {:?}\ncells = {:?}\n{extra}",
        s.display().to_string(),
        c.display().to_string()
    );
    ratenet::experiment::Spec::parse(&text).unwrap()
}

/// JSON lines of a golden file.
pub fn golden_lines(name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(shared().join("golden").join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A float64 .npy as (shape, data).
pub fn npy_f64(rel: &str) -> (Vec<usize>, Vec<f64>) {
    match ratenet::npy::read(&shared().join(rel)).unwrap() {
        ratenet::npy::NpyArray::F64 { shape, data } => (shape, data),
        other => panic!("{rel}: expected float64, got {other:?}"),
    }
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}
