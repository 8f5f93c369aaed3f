//! The notebook, as its oracle recorded it in ../shared/golden: the E–E
//! matrix, W, and ΔT of every recorded run must come out the same.

mod common;

use common::*;
use ratenet::experiment::{self, Spec};
use ratenet::sim::Record;
use rayon::prelude::*;

const CONDITIONS: &str = r#"
[stimulus]
target = "notebook"
[[condition]]
name = "observed"
nulls = []
[[condition]]
name = "shuffled"
nulls = ["shuffle_connections"]
[[condition]]
name = "shuffled_weights"
nulls = ["shuffle_weights"]
[[condition]]
name = "no_reciprocal"
nulls = ["remove_reciprocal"]
[[condition]]
name = "no_reciprocal_shuffled"
nulls = ["remove_reciprocal", "shuffle_connections"]
"#;

#[test]
fn connectome_equals_the_notebooks_matrix_and_ids() {
    let spec = microns_spec("");
    let c = experiment::load_connectome(&spec, None).unwrap().unwrap();
    let (shape, m) = npy_f64("golden/dumps_seed0/ee_matrix.npy");
    assert_eq!(shape, vec![c.n(), c.n()]);
    assert_eq!(c.matrix.to_dense(), m, "E–E matrix bit for bit");
    let ids = match ratenet::npy::read(&shared().join("golden/dumps_seed0/ee_ids.npy")).unwrap() {
        ratenet::npy::NpyArray::I64 { data, .. } => data,
        _ => panic!("ids are int64"),
    };
    assert_eq!(c.ids, ids);
    let summary = &golden_lines("microns_synthetic_conditions.jsonl")[0];
    assert_eq!(summary["n_exc"], c.n());
    assert_eq!(summary["nnz"], c.matrix.nnz());
    assert_eq!(
        summary["reciprocal"],
        ratenet::network::nulls::count_reciprocal(&c.matrix)
    );
}

fn w_of(spec: &Spec, condition: &str, seed: u64) -> Vec<f64> {
    let c = experiment::load_connectome(spec, None).unwrap();
    let cond = spec.condition(Some(condition)).unwrap();
    experiment::build_network(spec, c.as_ref(), cond, seed).unwrap().dense()
}

#[test]
fn w_observed_and_shuffled_equal_the_dumps() {
    let spec = microns_spec(CONDITIONS);
    for (cond, file) in [
        ("observed", "W_observed_seed0.npy"),
        ("shuffled", "W_shuffled_seed0.npy"),
    ] {
        let (_, want) = npy_f64(&format!("golden/dumps_seed0/{file}"));
        let got = w_of(&spec, cond, 0);
        let d = max_abs_diff(&got, &want);
        assert!(d <= 1e-12, "{cond}: max |ΔW| = {d:e}");
    }
}

#[test]
fn w_random_and_feedforward_equal_the_dumps() {
    for (kind, file) in [
        ("random", "W_random_seed0.npy"),
        ("feedforward", "W_feedforward_seed0.npy"),
    ] {
        let spec = Spec::parse(&format!(
            "[network]\nkind = \"{kind}\"\nn_neurons = 200\nconnectivity_proba_ee = 0.25\n"
        ))
        .unwrap();
        let cond = spec.condition(None).unwrap();
        let got = experiment::build_network(&spec, None, cond, 0).unwrap().dense();
        let (_, want) = npy_f64(&format!("golden/dumps_random/{file}"));
        let d = max_abs_diff(&got, &want);
        assert!(d <= 1e-12, "{kind}: max |ΔW| = {d:e}");
    }
}

/// Simulate every run of a golden file and compare ΔT (1e-9) and what else it recorded.
fn check_runs(file: &str, spec: &Spec, full_length: bool) {
    let runs: Vec<_> = golden_lines(file).into_iter().filter(|r| r["kind"] == "run").collect();
    assert!(!runs.is_empty());
    let connectome = experiment::load_connectome(spec, None).unwrap();
    let mismatches: Vec<String> = runs
        .par_iter()
        .filter_map(|r| {
            let seed = r["seed"].as_u64().unwrap();
            let mut s = spec.clone();
            if let Some(p) = r["param"].as_str() {
                s = s
                    .with_value(&format!("network.{p}"), r["value"].as_f64().unwrap())
                    .unwrap();
            }
            if full_length {
                s.simulation.stop_early = ratenet::sim::StopEarly::Never;
            }
            let name = r["condition"].as_str().unwrap();
            let cond = if spec.needs_data() {
                s.condition(Some(name)).unwrap().clone()
            } else {
                s.conditions[0].clone()
            };
            let (net, resp) =
                experiment::simulate_run(&s, connectome.as_ref(), &cond, seed, &Record::default()).unwrap();
            let want = r["delta_t"].as_f64();
            let ok = match (want, resp.delta_t) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9,
                (None, None) => true,
                _ => false,
            } && r["returned"].as_bool() == Some(resp.returned)
                && r["n_neurons"].as_u64() == Some(net.n as u64)
                && r["n_exc"].as_u64() == Some(net.n_exc as u64)
                && (r.get("reciprocal").is_none() || r["reciprocal"].as_u64() == net.reciprocal)
                && (r.get("nnz_ee").is_none() || r["nnz_ee"].as_u64() == net.nnz_ee);
            let rel = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1e-300);
            let peak_ok = rel(r["peak_exc_mean"].as_f64().unwrap(), resp.peak_exc_mean);
            let final_ok = !full_length || rel(r["final_exc_mean"].as_f64().unwrap(), resp.final_exc_mean);
            (!(ok && peak_ok && final_ok)).then(|| {
                format!(
                    "{name}/seed {seed} {:?}: got {resp:?} net {} {}, want {r}",
                    r["value"], net.n, net.n_exc
                )
            })
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} runs differ:\n{}",
        mismatches.len(),
        runs.len(),
        mismatches.join("\n")
    );
}

#[test]
fn delta_t_equals_golden_conditions() {
    check_runs("microns_synthetic_conditions.jsonl", &microns_spec(CONDITIONS), false);
}

#[test]
fn delta_t_equals_golden_sweep() {
    check_runs(
        "microns_synthetic_sweep_connectivity_proba.jsonl",
        &microns_spec(CONDITIONS),
        false,
    );
}

#[test]
fn delta_t_equals_golden_linear_all_excitatory_full_length() {
    let spec = microns_spec("[simulation]\ntransfer = \"linear\"\n[stimulus]\ntarget = \"excitatory\"\n");
    check_runs("microns_synthetic_linear_all_exc_stimulus.jsonl", &spec, true);
}

#[test]
fn delta_t_equals_golden_random_and_feedforward() {
    let spec = Spec::parse("compat = \"notebook\"\n[network]\nkind = \"random\"\nn_neurons = 200\n").unwrap();
    check_runs("random_network.jsonl", &spec, true);
    let spec = Spec::parse(
        "compat = \"notebook\"\n[network]\nkind = \"feedforward\"\nn_neurons = 200\nconnectivity_proba_ee = 0.25\n",
    )
    .unwrap();
    check_runs("feedforward_network.jsonl", &spec, true);
}
