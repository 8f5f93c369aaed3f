//! Dynamics as parts: early stopping never changes an answer, every
//! transfer function and integrator through the fast engine against an
//! independent computation, convergence orders, and the spectrum metric.

mod common;

use common::*;
use ratenet::experiment::{self, Spec};
use ratenet::sim::{Record, Response, StopEarly, Value};
use rayon::prelude::*;

/// The six fields that a run's early stop must not change.
fn answer(r: &Response) -> Vec<(&'static str, Value)> {
    ["returned", "delta_t", "t_return", "diverged", "decay_tau", "decay_r2"]
        .iter()
        .map(|c| (*c, r.get(c).unwrap_or_else(|| panic!("no column {c}"))))
        .collect()
}

/// Every condition × seed of `spec` (each sweep point), default stop
/// against the full run; returns (runs, runs that returned and then
/// diverged, runs the default stopped before t_max).
fn same_answer_as_full_runs(spec: &Spec, seeds: &[u64]) -> (usize, usize, usize) {
    let connectome = experiment::load_connectome(spec, None).unwrap();
    let mut points = vec![spec.clone()];
    for (k, vals) in &spec.sweep.params {
        points = points
            .iter()
            .flat_map(|p| vals.iter().map(move |&v| p.with_value(k, v).unwrap()))
            .collect();
    }
    let mut jobs = Vec::new();
    for p in &points {
        for c in &p.conditions {
            for &s in seeds {
                jobs.push((p.clone(), c.clone(), s));
            }
        }
    }
    let out: Vec<(bool, bool)> = jobs
        .par_iter()
        .map(|(p, c, seed)| {
            let mut full = p.clone();
            full.simulation.stop_early = StopEarly::Never;
            let mut exact = p.clone();
            exact.simulation.stop_early = StopEarly::Exact;
            let (_, a) = experiment::simulate_run(&exact, connectome.as_ref(), c, *seed, &Record::default()).unwrap();
            let (_, b) = experiment::simulate_run(&full, connectome.as_ref(), c, *seed, &Record::default()).unwrap();
            assert_eq!(
                answer(&a),
                answer(&b),
                "{} seed {seed} {:?} {:?}: the default stop changed the answer",
                c.name,
                p.simulation.transfer,
                p.network
            );
            assert!(a.complete && b.complete);
            (a.returned && a.diverged, a.t_end < b.t_end)
        })
        .collect();
    (
        out.len(),
        out.iter().filter(|x| x.0).count(),
        out.iter().filter(|x| x.1).count(),
    )
}

const CONDITIONS: &str = r#"
[[condition]]
name = "observed"
[[condition]]
name = "shuffled"
nulls = ["shuffle_connections"]
[[condition]]
name = "no_reciprocal"
nulls = ["remove_reciprocal"]
"#;

#[test]
fn early_stop_keeps_every_answer_of_the_golden_runs() {
    let seeds: Vec<u64> = (0..10).collect();
    let spec = microns_spec(&format!("[stimulus]\ntarget = \"notebook\"\n{CONDITIONS}"));
    let (n, _, stopped) = same_answer_as_full_runs(&spec, &seeds);
    assert_eq!(n, 30);
    // The certificate stops the homework runs near their return.
    assert_eq!(stopped, n, "every returned homework run stops before t_max");
    let sweep = microns_spec(&format!(
        "[stimulus]\ntarget = \"notebook\"\n{CONDITIONS}[sweep]\n\"network.connectivity_proba\" = [0.15, 0.25, 0.35]\n"
    ));
    same_answer_as_full_runs(&sweep, &seeds[..4]);
    let linear = microns_spec("[simulation]\ntransfer = \"linear\"\n[stimulus]\ntarget = \"excitatory\"\n");
    same_answer_as_full_runs(&linear, &seeds);
    for kind in ["random", "feedforward"] {
        let spec = Spec::parse(&format!(
            "compat = \"notebook\"\n[network]\nkind = \"{kind}\"\nn_neurons = 200\nconnectivity_proba_ee = 0.25\n"
        ))
        .unwrap();
        same_answer_as_full_runs(&spec, &seeds);
    }
}

#[test]
fn early_stop_keeps_every_answer_of_the_examples() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let (syn, cells) = microns();
    let mut n = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        // Each example on its own shared tables (the course's for the rest).
        let data = common::shared().join("data");
        let (s, c) = match path.file_stem().and_then(|x| x.to_str()) {
            Some("pinky_v185") => (
                data.join("pinky_v185/soma_subgraph_synapses_spines_v185.csv"),
                data.join("pinky_v185/soma_valence_v185.csv"),
            ),
            Some("minnie65_graph") => (
                data.join("minnie65_graph/mouse_directed_connectome.csv"),
                data.join("minnie65_graph/mouse_basic_neuron_info.csv"),
            ),
            _ => (syn.clone(), cells.clone()),
        };
        let sets = [
            format!("data.synapses={}", s.display()),
            format!("data.cells={}", c.display()),
        ];
        let spec = Spec::load(&path, &sets).unwrap();
        let seeds: Vec<u64> = spec.sweep.seeds.iter().copied().take(3).collect();
        n += same_answer_as_full_runs(&spec, &seeds).0;
    }
    assert!(n >= 36, "{n} runs");
}

/// A grid of linear and relu networks where g and the balance make some
/// runs return and then diverge: the default must still report them
/// diverged (the full run's answer), where the notebook's stop at the
/// return would not.
#[test]
fn early_stop_keeps_every_answer_of_networks_that_return_then_diverge() {
    let base = microns_spec("[stimulus]\ntarget = \"notebook\"\n");
    // The issue's example: returns after 1.14 s, then explodes.
    let mut s = base.with_value("network.g", 0.004).unwrap();
    s = s.with_value("network.inh_exc_balance", 1.0).unwrap();
    s.simulation.transfer = ratenet::sim::TransferSpec::Linear;
    let c = experiment::load_connectome(&s, None).unwrap();
    let cond = s.conditions[0].clone();
    let (_, r) = experiment::simulate_run(&s, c.as_ref(), &cond, 3, &Record::default()).unwrap();
    assert!(r.returned && r.diverged && r.complete, "{r:?}");
    assert!((r.delta_t.unwrap() - 1.14).abs() < 1e-9);
    let mut at = s.clone();
    at.simulation.stop_early = StopEarly::AtReturn;
    let (_, q) = experiment::simulate_run(&at, c.as_ref(), &cond, 3, &Record::default()).unwrap();
    assert!(
        q.returned && !q.diverged && !q.complete,
        "at_return stops at the return: {q:?}"
    );
    assert_eq!(q.delta_t, r.delta_t);

    let mut both = 0;
    for transfer in ["linear", "relu"] {
        for g in [0.002, 0.003, 0.004] {
            for balance in [0.15, 0.6, 1.0] {
                let mut s = base.with_value("network.g", g).unwrap();
                s = s.with_value("network.inh_exc_balance", balance).unwrap();
                s.simulation.transfer = ratenet::sim::TransferSpec::parse(transfer).unwrap();
                both += same_answer_as_full_runs(&s, &[1, 3]).1;
            }
        }
    }
    assert!(both > 0, "the grid has runs that return and then diverge");
}

/// A small random network run through the batched engine and through a
/// plain dense loop written here (W from the same parts), for every
/// transfer function and integrator: ΔT and the peak agree.
#[test]
fn every_transfer_and_method_through_the_engine_matches_a_plain_loop() {
    let transfers = [
        "\"relu\"",
        "\"linear\"",
        "{ kind = \"tanh\", gain = 0.05, r_max = 60 }",
        "{ kind = \"sigmoid\", gain = 0.2, threshold = 10, r_max = 50 }",
        "{ kind = \"threshold_linear\", gain = 1.5, threshold = 0.5, r_max = 80 }",
    ];
    for method in ["euler", "exponential_euler", "rk4"] {
        for transfer in transfers {
            let text = format!(
                "[network]\nkind = \"random\"\nn_neurons = 60\n\
                 [simulation]\nt_max = 20.0\ntransfer = {transfer}\nmethod = \"{method}\"\nstop_early = false\n\
                 [stimulus]\nstart = 5.0\nend = 8.0\n"
            );
            let spec = Spec::parse(&text).unwrap();
            let cond = spec.conditions[0].clone();
            let (net, r) = experiment::simulate_run(&spec, None, &cond, 2, &Record::default()).unwrap();
            let want = plain_loop(&spec, &net);
            let what = format!("{method} {transfer}");
            assert_eq!(r.returned, want.0.is_some(), "{what}");
            if let (Some(a), Some(b)) = (r.delta_t, want.0) {
                assert!((a - b).abs() < 1e-9, "{what}: ΔT {a} vs {b}");
            }
            assert!(
                (r.peak_exc_mean - want.1).abs() <= 1e-9 * want.1.abs().max(1.0),
                "{what}: peak {} vs {}",
                r.peak_exc_mean,
                want.1
            );
            assert!(r.returned, "{what}: the small network returns");
        }
    }
}

/// (ΔT, peak) of `spec` on `net` by the formulas of the issue, with W dense.
fn plain_loop(spec: &Spec, net: &ratenet::network::Network) -> (Option<f64>, f64) {
    let sim = &spec.simulation;
    let st = &spec.stimulus;
    let (n, ne) = (net.n, net.n_exc);
    let w = net.dense();
    let f = |x: f64| sim.transfer.apply(x);
    let input = |t: f64, i: usize| {
        if i < ne && st.start <= t && t <= st.end {
            st.strength
        } else {
            0.0
        }
    };
    let rhs = |r: &[f64], t: f64| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let x: f64 = (0..n).map(|j| w[i * n + j] * r[j]).sum::<f64>() + input(t, i);
                (-r[i] + f(x)) / sim.tau
            })
            .collect()
    };
    let steps = (sim.t_max / sim.dt) as usize;
    let dt = sim.dt;
    let on: Vec<usize> = (0..steps).filter(|&k| input(k as f64 * dt, 0) > 0.0).collect();
    let (s0, s1) = (on[0], *on.last().unwrap());
    let mut r = vec![0.0; n];
    let mut means = Vec::new();
    for k in 0..steps {
        means.push(r[..ne].iter().sum::<f64>() / ne as f64);
        let t = k as f64 * dt;
        let x: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| w[i * n + j] * r[j]).sum::<f64>() + input(t, i))
            .collect();
        r = match sim.method {
            ratenet::sim::Method::Euler => (0..n).map(|i| r[i] + (-r[i] + f(x[i])) * dt / sim.tau).collect(),
            ratenet::sim::Method::ExponentialEuler => {
                let e = (-dt / sim.tau).exp();
                (0..n).map(|i| f(x[i]) + (r[i] - f(x[i])) * e).collect()
            }
            ratenet::sim::Method::Rk4 => {
                let add = |a: &[f64], s: f64, b: &[f64]| a.iter().zip(b).map(|(x, y)| x + s * y).collect::<Vec<_>>();
                let k1 = rhs(&r, t);
                let k2 = rhs(&add(&r, dt / 2.0, &k1), t + dt / 2.0);
                let k3 = rhs(&add(&r, dt / 2.0, &k2), t + dt / 2.0);
                let k4 = rhs(&add(&r, dt, &k3), (k + 1) as f64 * dt);
                (0..n)
                    .map(|i| r[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
                    .collect()
            }
        };
    }
    let baseline = means[s0 - 1];
    let threshold = baseline + 0.01 * st.strength;
    let back = (s1..steps).find(|&k| means[k] < threshold);
    let peak = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (back.map(|k| k as f64 * dt - s1 as f64 * dt), peak)
}

/// Errors against a much finer Rk4 solution on a smooth problem (a coupled
/// tanh network under constant input): halving dt divides them by about 2
/// for euler and exponential_euler and by about 16 for rk4.
#[test]
fn convergence_orders() {
    use ratenet::sim::integrate::{Frame, Integrator, LaneSums, Method, Rhs, WithIntegrator};
    use ratenet::sim::kernels::Lines;
    use ratenet::sim::transfer::Tanh;
    use ratenet::sim::Schedule;
    let w: Vec<f64> = vec![
        0.0, 0.8, -0.5, 0.3, //
        0.6, 0.0, 0.4, -0.7, //
        -0.3, 0.9, 0.0, 0.5, //
        0.2, -0.4, 0.7, 0.0,
    ];
    struct Solve {
        w: Vec<f64>,
        dt: f64,
        t_end: f64,
    }
    impl WithIntegrator for Solve {
        type Out = Vec<f64>;
        fn run<I: Integrator>(self, m: I) -> Vec<f64> {
            let n = 4;
            let steps = (self.t_end / self.dt).round() as usize;
            let schedule = Schedule {
                steps,
                on: (1, steps),
                on_value: 1.5,
                n_target: 2,
                strength: 1.5,
                dt: self.dt,
                start: -1.0,
                end: 1e9,
            };
            let w = self.w;
            let mut eval = |x: &[f64], y: &mut [f64]| {
                for i in 0..n {
                    y[i] = (0..n).map(|j| w[i * n + j] * x[j]).sum();
                }
            };
            let mut rhs = Rhs {
                f: Tanh { gain: 1.0, r_max: 2.0 },
                frame: Frame {
                    n,
                    n_exc: 2,
                    n_target: 2,
                    width: 1,
                    dt: self.dt,
                    tau: 0.5,
                },
                schedule: &schedule,
                eval: &mut eval,
            };
            let mut r = vec![0.1, -0.2, 0.3, 0.0];
            let mut y = vec![0.0; n];
            let mut bufs: Vec<Lines> = (0..I::BUFFERS).map(|_| Lines::zeroed(n)).collect();
            let mut sums = LaneSums::new(1);
            for k in 0..steps {
                m.step(&mut rhs, k, &mut r, &mut y, &mut bufs, &mut sums, false);
            }
            r
        }
    }
    let solve = |m: Method, dt: f64| {
        m.with(Solve {
            w: w.clone(),
            dt,
            t_end: 2.0,
        })
    };
    let exact = solve(Method::Rk4, 1.0 / 2048.0);
    let err = |m: Method, dt: f64| max_abs_diff(&solve(m, dt), &exact);
    for (m, lo, hi) in [
        (Method::Euler, 1.8, 2.2),
        (Method::ExponentialEuler, 1.8, 2.2),
        (Method::Rk4, 14.0, 18.0),
    ] {
        let (a, b, c) = (err(m, 0.04), err(m, 0.02), err(m, 0.01));
        for ratio in [a / b, b / c] {
            assert!((lo..hi).contains(&ratio), "{m:?}: errors {a:e} {b:e} {c:e}");
        }
    }
}

/// `lambda_max` and `decay_predicted` against matrices whose eigenvalues
/// are known, through an experiment with `metric.spectrum = true`, and
/// against the dense eigensolver on the network's W.
#[test]
fn spectrum_metric_against_known_eigenvalues() {
    use ratenet::sim::observe::{NetworkMetric, Spectrum};
    // [[a, b], [b, a]]: a ± b; a rotation by 90° scaled by 2: ±2i; upper
    // triangular: its diagonal.
    for (n, w, want) in [
        (2, vec![0.3, 0.5, 0.5, 0.3], 0.8),
        (2, vec![0.0, -2.0, 2.0, 0.0], 0.0),
        (3, vec![0.5, 3.0, -1.0, 0.0, -2.0, 4.0, 0.0, 0.0, 0.9], 0.9),
        (3, vec![1.5, 0.0, 0.0, 1.0, 0.2, 0.0, 0.0, 1.0, 0.1], 1.5),
    ] {
        let v = Spectrum.values(n, &w, 0.25);
        let l = v[0].as_f64().unwrap();
        assert!((l - want).abs() < 1e-12, "{w:?}: {l}");
        match v[1] {
            Value::Float(p) => assert!(want < 1.0 && (p - 0.25 / (1.0 - want)).abs() < 1e-12),
            Value::Null => assert!(want >= 1.0, "{w:?}"),
            Value::Bool(_) => panic!("a float column"),
        }
    }
    let spec = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 80\n[metric]\nspectrum = true\n").unwrap();
    let cond = spec.conditions[0].clone();
    let (net, r) = experiment::simulate_run(&spec, None, &cond, 1, &Record::default()).unwrap();
    let s = ratenet::analysis::spectrum::spectrum(net.n, &net.dense()).unwrap();
    assert_eq!(r.get("lambda_max"), Some(Value::Float(s.max_real)));
    let Some(Value::Float(p)) = r.get("decay_predicted") else {
        panic!("a stable network has a predicted decay: {r:?}")
    };
    assert!((p - 0.25 / (1.0 - s.max_real)).abs() < 1e-12);
    // Off by default: no column at all.
    let plain = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 80\n").unwrap();
    let (_, r) = experiment::simulate_run(&plain, None, &cond, 1, &Record::default()).unwrap();
    assert_eq!(r.get("lambda_max"), None);
}

/// A traced run that settles stops computing and repeats its last state:
/// the trace is the fully simulated one, bit for bit.
#[test]
fn a_settled_trace_equals_the_simulated_one() {
    // A sigmoid network settles on its fixed point after the stimulus (no
    // certificate covers it, so the default runs on until then).
    let spec = Spec::parse(
        "[network]\nkind = \"random\"\nn_neurons = 100\n\
         [simulation]\ntransfer = { kind = \"sigmoid\", gain = 0.2, threshold = 10, r_max = 50 }\n\
         [stimulus]\nstart = 10.0\nend = 12.0\n",
    )
    .unwrap();
    let c: Option<ratenet::data::Connectome> = None;
    let cond = spec.conditions[0].clone();
    let record = Record {
        trace: true,
        neurons: vec![0, 7, 420],
    };
    let (_, a) = experiment::simulate_run(&spec, c.as_ref(), &cond, 0, &record).unwrap();
    let mut full = spec.clone();
    full.simulation.stop_early = StopEarly::Never;
    let (_, b) = experiment::simulate_run(&full, c.as_ref(), &cond, 0, &record).unwrap();
    assert!(
        a.steps_simulated < b.steps_simulated,
        "the settled run stopped computing"
    );
    let (ta, tb) = (a.trace.unwrap(), b.trace.unwrap());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&ta.t), bits(&tb.t));
    assert_eq!(bits(&ta.exc_mean), bits(&tb.exc_mean));
    assert_eq!(bits(&ta.inh_mean), bits(&tb.inh_mean));
    assert_eq!(bits(&ta.stimulus), bits(&tb.stimulus));
    for (x, y) in ta.rates.iter().zip(&tb.rates) {
        assert_eq!(bits(x), bits(y));
    }
    assert_eq!(answer_of(&a.metrics), answer_of(&b.metrics));
}

fn answer_of(m: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    m.iter()
        .filter(|(c, _)| *c != "complete" && *c != "t_end")
        .copied()
        .collect()
}

/// A sweep whose points run as nested lanes of one batch, where some lanes
/// return and then diverge (non-finite rates): the batch leaves nesting
/// when a lane's rates stop being finite, so every batch size and thread
/// count gives the same tables, in every stop mode.
#[test]
fn nested_lanes_that_diverge_give_the_tables_of_lanes_alone() {
    use ratenet::{Experiment, RunOptions};
    let (syn, cells) = microns();
    for stop in ["true", "false", "\"at_return\""] {
        let text = format!(
            "[data]\nsynapses = {:?}\ncells = {:?}\n[stimulus]\ntarget = \"notebook\"\n\
             [simulation]\ntransfer = \"linear\"\nstop_early = {stop}\n[network]\ninh_exc_balance = 1.0\n\
             [sweep]\nseeds = [1, 3]\n\"network.g\" = [0.01, 0.02]\n\"network.connectivity_proba\" = [0.1, 0.2, 0.3, 0.4]\n",
            syn.display().to_string(),
            cells.display().to_string()
        );
        let exp = Experiment::from_toml_str(&text).unwrap();
        let table = |batch: usize, threads: usize| {
            let r = exp
                .run(&RunOptions {
                    batch,
                    threads: Some(threads),
                    ..RunOptions::default()
                })
                .unwrap();
            let non_finite = r
                .rows()
                .iter()
                .filter(|r| r.diverged() && r.get("final_exc_mean") == ratenet::sim::Value::Null)
                .count();
            (
                r.tables().results_csv(),
                r.rows().iter().filter(|r| r.diverged()).count(),
                non_finite,
            )
        };
        let (alone, diverged, non_finite) = table(1, 1);
        assert!(diverged > 0, "{stop}: some runs diverge");
        if stop == "false" {
            assert!(non_finite > 0, "some lanes reach non-finite rates");
        }
        assert_eq!(table(4, 2).0, alone, "{stop}: batches of 4 on 2 threads");
        assert_eq!(table(2, 1).0, alone, "{stop}: batches of 2");
    }
}
