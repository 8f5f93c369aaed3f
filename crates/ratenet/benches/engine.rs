//! Engine benchmark (not a test): synaptic updates per second of whole simulations by the batched
//! engine on the homework network (observed MICrONS E–E block, 444 neurons),
//! one to four lanes, and of the single-run dense and sparse kernels.
//!
//!     cargo bench -p ratenet --bench engine
//!
//! A synaptic update is one non-zero weight used in one simulated step for
//! one run. Numbers are per core (everything here runs on one thread).

use std::time::Instant;

use ratenet::experiment::{self, Spec};
use ratenet::network::build::{self, Parts};
use ratenet::network::{nulls, NullModel, RngMode};
use ratenet::sim::{self, batch, Kernel, KernelChoice, Record, Schedule};

fn spec() -> Spec {
    let d = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/microns_1300");
    let text = format!(
        "compat = \"notebook\"\n[data]\nsynapses = \"{d}/synapses_synthetic_1300.feather\"\ncells = \"{d}/cell_info_1300.feather\"\n\
         [simulation]\nt_max = 10.0\n"
    );
    Spec::parse(&text).expect("bench spec")
}

fn time<F: FnMut()>(mut f: F) -> f64 {
    f();
    let reps = 3;
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let spec = spec();
    let connectome = experiment::load_connectome(&spec, None)
        .expect("shared data")
        .expect("observed");
    let ee = build::EeBlock::observed(&connectome.matrix);
    let (n, n_exc) = build::sizes(&spec.network, Some(connectome.n())).unwrap();
    let random = build::random_parts(&spec.network, n, n_exc, 0).unwrap();
    let schedule = Schedule::new(&spec.simulation, &spec.stimulus, n, n_exc, spec.network.r_inhibitory).unwrap();
    // The stimulus lasts past t_max: no run is decided early, every step
    // from the stimulus on is computed (the all-zero ones before are not).
    let steps = (schedule.steps - schedule.on.0) as f64;
    println!(
        "network: {n} neurons, {} excitatory; {steps} steps computed per run",
        n_exc
    );
    // Lanes sharing the random blocks and the E–E block (conditions of one seed with one matrix).
    let shared: Vec<Parts> = (0..4)
        .map(|_| build::parts_with(&spec.network, &random, &ee, None, None))
        .collect();
    // Lanes sharing only the random blocks, each with its own shuffled E–E block.
    let own: Vec<Parts> = (0..4)
        .map(|seed| {
            let m = nulls::apply_chain(
                &connectome.matrix,
                &[NullModel::ShuffleConnections],
                seed,
                RngMode::Notebook,
            )
            .expect("shuffle");
            build::parts_with(&spec.network, &random, &build::EeBlock::observed(&m), None, None)
        })
        .collect();
    // Lanes of one seed at four connection probabilities: nested random blocks.
    let nested: Vec<Parts> = [0.15, 0.2, 0.25, 0.3]
        .iter()
        .map(|&p| {
            let mut s = spec.network.clone();
            s.connectivity_proba = p;
            let random = build::random_parts(&s, n, n_exc, 0).unwrap();
            build::parts_with(&s, &random, &ee, None, None)
        })
        .collect();
    let nnz_of = |p: &Parts| (p.ee.nnz() + p.exc_inh.nnz() + p.inh_rows.nnz()) as f64;
    println!("non-zeros per run: {}", nnz_of(&shared[0]));
    for (what, set) in [
        ("all blocks shared", &shared),
        ("E–E shuffled per lane", &own),
        ("nested over p", &nested),
    ] {
        for lanes in 1..=4 {
            let l: Vec<&Parts> = set[..lanes].iter().collect();
            let secs = time(|| {
                let r = batch::simulate_batch(&l, &schedule, &spec.simulation, &spec.metric, &Record::default());
                assert!(
                    r.iter().all(|r| r.steps_simulated as f64 == steps),
                    "no run stops early"
                );
            });
            let nnz: f64 = l.iter().map(|p| nnz_of(p)).sum();
            let ups = nnz * steps / secs;
            println!(
                "batched, {what:<21} {lanes} lane(s): {:>8.2} ms/run  {:.2e} updates/s",
                secs * 1e3 / lanes as f64,
                ups
            );
        }
    }
    let net = shared[0].network();
    for choice in [KernelChoice::Dense, KernelChoice::Sparse] {
        let kernel = Kernel::new(&net, choice);
        let secs = time(|| {
            sim::simulate(
                &net,
                &kernel,
                &schedule,
                &spec.simulation,
                &spec.metric,
                &Record::default(),
            );
        });
        // The single-run engine computes the steps before the stimulus too.
        println!(
            "single run, {choice:?} kernel:            {:>8.2} ms/run  {:.2e} updates/s",
            secs * 1e3,
            nnz_of(&shared[0]) * schedule.steps as f64 / secs
        );
    }
}
