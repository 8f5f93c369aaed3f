//! The batched engine: several runs of one network size and schedule
//! advanced together, so that weights they share are loaded once per step
//! and used for every run ("a sparse matrix times a small dense block of
//! rate vectors").
//!
//! It puts the parts together: the network operator (blocks, lanes,
//! E/I scales) gives `W x`, an [`Integrator`] advances the state with a
//! [`Transfer`] function, an [`Observer`] per run decides when it may stop.
//! The engine is generic over the integrator and the transfer function
//! (dispatched once per batch, monomorphised), and knows nothing of either.
//!
//! Every run's arithmetic is the same whichever runs it is batched with
//! (the kernels' [`CanonicalSum`](super::kernels::CanonicalSum), per-lane
//! integrator passes), so results never depend on thread count, shard split
//! or batch shape.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::matrix::Csr;
use crate::network::build::Parts;
use crate::sim::integrate::{Frame, Integrator, LaneSums, Method, Rhs, WithIntegrator};
use crate::sim::kernels::{has_avx2, Lines};
use crate::sim::observe::{Certificate, MetricSpec, Observer, Verdict};
use crate::sim::operator::Operator;
use crate::sim::transfer::{Transfer, TransferSpec, WithTransfer};
use crate::sim::{Record, Response, Schedule, SimSpec, Trace};

/// Simulate several runs of one network size and schedule together; the
/// responses come back in lane order.
pub fn simulate_batch(
    lanes: &[&Parts],
    schedule: &Schedule,
    sim: &SimSpec,
    metric: &MetricSpec,
    record: &Record,
) -> Vec<Response> {
    simulate_batch_helped(lanes, schedule, sim, metric, record, &AtomicUsize::new(0))
}

/// [`simulate_batch`] on a thread pool whose other threads may run out of
/// batches: while `idle` (the threads that have) is not zero, each step's
/// products are split in two halves of rows, one for an idle thread to take
/// (rayon::join), so that the last batch of a run does not leave a core
/// waiting. Rows are independent, so the bits are the same either way.
pub(crate) fn simulate_batch_helped(
    lanes: &[&Parts],
    schedule: &Schedule,
    sim: &SimSpec,
    metric: &MetricSpec,
    record: &Record,
    idle: &AtomicUsize,
) -> Vec<Response> {
    struct ByTransfer<'a> {
        job: Job<'a>,
        method: Method,
    }
    impl WithTransfer for ByTransfer<'_> {
        type Out = Vec<Response>;
        fn run<T: Transfer>(self, f: T) -> Vec<Response> {
            struct ByMethod<'a, T> {
                job: Job<'a>,
                f: T,
            }
            impl<T: Transfer> WithIntegrator for ByMethod<'_, T> {
                type Out = Vec<Response>;
                fn run<I: Integrator>(self, m: I) -> Vec<Response> {
                    engine(&self.job, self.f, m)
                }
            }
            self.method.with(ByMethod { job: self.job, f })
        }
    }
    let job = Job {
        lanes,
        schedule,
        sim,
        metric,
        record,
        idle,
    };
    sim.transfer.with(ByTransfer {
        job,
        method: sim.method,
    })
}

/// What a batch is asked to do.
struct Job<'a> {
    lanes: &'a [&'a Parts],
    schedule: &'a Schedule,
    sim: &'a SimSpec,
    metric: &'a MetricSpec,
    record: &'a Record,
    idle: &'a AtomicUsize,
}

/// The first step whose update sees a stimulus: before it, a network whose
/// `f(+0)` is `+0` stays exactly at `r = +0` (`W · 0 = +0`, no input), so
/// those steps are known without computing them. Rk4 looks half a step and
/// a step ahead.
fn first_driven_step(method: Method, s0: usize) -> usize {
    match method {
        Method::Rk4 => s0.saturating_sub(1),
        Method::Euler | Method::ExponentialEuler => s0,
    }
}

fn engine<T: Transfer, I: Integrator>(job: &Job, f: T, method: I) -> Vec<Response> {
    let (lanes, schedule, sim, record) = (job.lanes, job.schedule, job.sim, job.record);
    let Some(first) = lanes.first() else {
        return vec![];
    };
    let (n, n_exc) = (first.n, first.n_exc);
    assert!(
        lanes.iter().all(|p| p.n == n && p.n_exc == n_exc),
        "a batch holds networks of one size"
    );
    let mut observers: Vec<Observer> = lanes
        .iter()
        .map(|_| Observer::new(schedule, job.metric, n_exc, sim.stop_early))
        .collect();
    let neurons: Vec<usize> = record.neurons.iter().copied().filter(|&i| i < n).collect();
    let mut traces: Vec<Option<Trace>> = lanes
        .iter()
        .map(|_| {
            record.trace.then(|| Trace {
                rates: vec![Vec::new(); neurons.len()],
                neurons: neurons.clone(),
                ..Default::default()
            })
        })
        .collect();
    let mut results: Vec<Option<Response>> = vec![None; lanes.len()];
    // Nested blocks give a lane its bits alone only while its rates are
    // finite (past that, a zero weight times an infinite rate is NaN where
    // the run alone has no term): lanes leave nesting once one is not. That
    // holds for traced lanes too, which run on to t_max.
    let mut st = State::new(lanes, (0..lanes.len()).collect(), n, n_exc, true, I::BUFFERS);
    let n_target = schedule.n_target.min(n_exc);
    let avx2 = has_avx2();
    let quiet_until = if sim.transfer.fixes_zero() {
        first_driven_step(sim.method, schedule.on.0)
    } else {
        0
    };
    let h = sim.dt / sim.tau;
    let certifiable = matches!(sim.transfer, TransferSpec::Relu) && sim.method == Method::Euler && h <= 1.0;
    let mut certificates: Vec<(Arc<Csr>, Arc<Certificate>)> = Vec::new();
    for k in 0..schedule.steps {
        let last = k + 1 == schedule.steps;
        let mut finished = Vec::new();
        let mut not_finite = false;
        for (b, &lane) in st.active.iter().enumerate() {
            let (w, r) = (st.width, &st.r);
            let column = || (0..n_exc).map(|i| r[i * w + b]).collect::<Vec<f64>>();
            let (sum, check) = (st.sums.exc_sum[b], st.sums.inh_check[b]);
            let obs = &mut observers[lane];
            let mut verdict = obs.observe_sum(k, sum, check == 0.0, column);
            if verdict == Verdict::Certify {
                let ok = certifiable && k > schedule.on.1 && {
                    let ee = &lanes[lane].ee;
                    let at = match certificates.iter().position(|(m, _)| Arc::ptr_eq(m, ee)) {
                        Some(at) => at,
                        None => {
                            certificates.push((ee.clone(), Certificate::shared(ee)));
                            certificates.len() - 1
                        }
                    };
                    let rates = (0..n_exc).map(|i| r[i * w + b]);
                    certificates[at]
                        .1
                        .holds(rates, schedule.steps - 1 - k, h, obs.divergence_threshold())
                };
                verdict = obs.certified(k, ok);
            }
            // A settled state: every later state is this one (see
            // Observer::settled), so the run ends as if simulated to the
            // last step, and a trace is the same values repeated.
            let settled = k > 0 && st.sums.moved[b] == 0 && obs.settles(k);
            if verdict != Verdict::Decided && settled {
                verdict = obs.settled(k);
            }
            not_finite |= !sum.is_finite() || check != 0.0;
            if let Some(t) = &mut traces[lane] {
                super::push_trace(t, k, n, |i| r[i * w + b], sum, n_exc, schedule);
                if settled {
                    super::pad_trace(t, k + 1, schedule.steps, schedule);
                }
            }
            if (verdict == Verdict::Decided && (traces[lane].is_none() || settled)) || last {
                // Steps known without computing them were not counted.
                let computed = k + 1 - quiet_until.min(k);
                results[lane] = Some(obs.finish(job.metric, computed, traces[lane].take()));
                finished.push(b);
            }
        }
        if !finished.is_empty() || (not_finite && st.nest) {
            let keep: Vec<usize> = (0..st.active.len()).filter(|b| !finished.contains(b)).collect();
            if keep.is_empty() {
                break;
            }
            let nest = st.nest && !not_finite;
            st = st.keep(lanes, &keep, nest);
        }
        if k >= quiet_until {
            let split = job.idle.load(Ordering::Relaxed) > 0;
            st.step(f, method, schedule, sim, k, n_target, avx2, split);
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every lane finishes by the last step"))
        .collect()
}

/// Rates and work states of the active lanes, lane-minor (`x[i * width + b]`).
struct State {
    active: Vec<usize>,
    width: usize,
    n: usize,
    n_exc: usize,
    r: Lines,
    /// `W x` of the integrator's last evaluation.
    y: Lines,
    /// The integrator's work states.
    bufs: Vec<Lines>,
    sums: LaneSums,
    op: Operator,
    /// Whether nested blocks may be used.
    nest: bool,
}

impl State {
    fn new(lanes: &[&Parts], active: Vec<usize>, n: usize, n_exc: usize, nest: bool, buffers: usize) -> State {
        // Three lanes are laid out as four (the fourth a phantom no block
        // uses): three rates then fill one register, as four do. A phantom
        // lane is integrated too; its rates stay finite (no block feeds it)
        // and nothing reads them.
        let width = if active.len() == 3 { 4 } else { active.len() };
        State {
            op: Operator::new(lanes, &active, width, nest),
            nest,
            active,
            width,
            n,
            n_exc,
            r: Lines::zeroed(n * width),
            y: Lines::zeroed(n * width),
            bufs: (0..buffers).map(|_| Lines::zeroed(n * width)).collect(),
            sums: LaneSums::new(width),
        }
    }

    /// The same state restricted to lanes `keep` (positions among the active).
    fn keep(self, lanes: &[&Parts], keep: &[usize], nest: bool) -> State {
        let active: Vec<usize> = keep.iter().map(|&b| self.active[b]).collect();
        let mut next = State::new(lanes, active, self.n, self.n_exc, nest, self.bufs.len());
        for i in 0..self.n {
            for (nb, &ob) in keep.iter().enumerate() {
                next.r[i * next.width + nb] = self.r[i * self.width + ob];
            }
        }
        next.sums = LaneSums::of(&next.r, self.n_exc, next.width);
        for (nb, &ob) in keep.iter().enumerate() {
            next.sums.moved[nb] = self.sums.moved[ob];
        }
        next
    }

    /// One step of every active lane.
    #[allow(clippy::too_many_arguments)]
    fn step<T: Transfer, I: Integrator>(
        &mut self,
        f: T,
        method: I,
        schedule: &Schedule,
        sim: &SimSpec,
        k: usize,
        n_target: usize,
        avx2: bool,
        split: bool,
    ) {
        let op = &mut self.op;
        let mut eval = |x: &[f64], y: &mut [f64]| op.apply(x, y, avx2, split);
        let mut rhs = Rhs {
            f,
            frame: Frame {
                n: self.n,
                n_exc: self.n_exc,
                n_target,
                width: self.width,
                dt: sim.dt,
                tau: sim.tau,
            },
            schedule,
            eval: &mut eval,
        };
        method.step(
            &mut rhs,
            k,
            &mut self.r,
            &mut self.y,
            &mut self.bufs,
            &mut self.sums,
            avx2,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Spec;
    use crate::network::build;

    /// A batch whose steps are split in two halves of rows for an idle
    /// thread (the last batch of a `ratenet run`) gives the same bits as one
    /// that is not.
    #[test]
    fn a_batch_helped_by_an_idle_thread_gives_the_same_bits() {
        let spec = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 200\n").unwrap();
        let parts: Vec<Parts> = (0..3)
            .map(|seed| build::build_parts(&spec.network, None, seed).unwrap())
            .collect();
        let lanes: Vec<&Parts> = parts.iter().collect();
        let (n, n_exc) = (parts[0].n, parts[0].n_exc);
        let schedule = Schedule::new(&spec.simulation, &spec.stimulus, n, n_exc, spec.network.r_inhibitory).unwrap();
        let run = |idle: usize| {
            let idle = AtomicUsize::new(idle);
            simulate_batch_helped(
                &lanes,
                &schedule,
                &spec.simulation,
                &spec.metric,
                &Record::default(),
                &idle,
            )
        };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let (alone, helped) = pool.install(|| (run(0), run(1)));
        assert!(alone.iter().all(|r| r.returned), "the runs return");
        for (a, h) in alone.iter().zip(&helped) {
            assert_eq!(a.metrics, h.metrics);
            assert_eq!(a.peak_exc_mean.to_bits(), h.peak_exc_mean.to_bits());
            assert_eq!(a.final_exc_mean.to_bits(), h.final_exc_mean.to_bits());
        }
    }

    /// One lane's response, compared bit for bit.
    fn same(a: &Response, b: &Response, what: &str) {
        assert_eq!(a.metrics, b.metrics, "{what}");
        assert_eq!(a.t_end.to_bits(), b.t_end.to_bits(), "{what}: t_end");
        assert_eq!(
            a.peak_exc_mean.to_bits(),
            b.peak_exc_mean.to_bits(),
            "{what}: peak_exc_mean"
        );
        assert_eq!(
            a.final_exc_mean.to_bits(),
            b.final_exc_mean.to_bits(),
            "{what}: final_exc_mean"
        );
    }

    /// Batches of 1 to 16 lanes (every layout width the engine forms, and
    /// lanes dropping out as they finish) give each lane the bits it has
    /// alone: networks without inhibitory neurons (an empty inhibitory
    /// part), sparse ones with empty rows, and two-neuron networks whose
    /// blocks are single neurons. Short, so that it runs under valgrind
    /// (`.ci/memcheck.sh`).
    #[test]
    fn batches_of_1_to_16_lanes_give_each_lane_its_bits_alone() {
        // An observed E–E matrix of n × n with about share · n entries a
        // row (positive weights), every third row empty.
        let ee = |n: usize, share: f64, seed: u64| {
            let mut s = seed;
            let mut next = || {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut t = Vec::new();
            for i in 0..n {
                for j in 0..n {
                    if next() < share && i % 3 != 2 {
                        t.push((i, j, 1.0 + 4.0 * next()));
                    }
                }
            }
            Csr::from_sorted_triplets(n, n, t)
        };
        for (net, observed, seeds) in [
            // No inhibitory neurons: observed networks with r_inhibitory = 0.
            (
                "kind = \"observed\"\nr_inhibitory = 0.0\ng = 0.02",
                Some(ee(24, 0.3, 1)),
                16,
            ),
            (
                "kind = \"observed\"\nr_inhibitory = 0.0\ng = 0.05",
                Some(ee(24, 0.04, 2)),
                9,
            ),
            (
                "kind = \"observed\"\nr_inhibitory = 0.0\ng = 0.5",
                Some(ee(1, 1.0, 3)),
                5,
            ),
            // Single-neuron blocks.
            (
                "kind = \"observed\"\nr_inhibitory = 0.5\ng = 0.5",
                Some(ee(1, 1.0, 4)),
                5,
            ),
            (
                "kind = \"random\"\nn_neurons = 2\nr_inhibitory = 0.5\nconnectivity_proba = 1.0\ng = 0.5",
                None,
                5,
            ),
            // Sparse random blocks with empty rows.
            (
                "kind = \"random\"\nn_neurons = 20\nr_inhibitory = 0.25\nconnectivity_proba = 0.1",
                None,
                6,
            ),
        ] {
            for stop in ["true", "false"] {
                let text = format!(
                    "[network]\n{net}\n[simulation]\ndt = 0.05\nt_max = 4.0\nstop_early = {stop}\n\
                     [stimulus]\nstart = 1.0\nend = 1.5\n"
                );
                let spec = Spec::parse(&text).unwrap();
                let keyed = observed.clone().map(crate::network::nulls::Keyed::unkeyed);
                let parts: Vec<Parts> = (0..seeds)
                    .map(|seed| build::build_parts(&spec.network, keyed.as_ref(), seed).unwrap())
                    .collect();
                let (n, n_exc) = (parts[0].n, parts[0].n_exc);
                if net.contains("r_inhibitory = 0.0") {
                    assert_eq!(n, n_exc, "{net}: no inhibitory neurons");
                }
                let schedule =
                    Schedule::new(&spec.simulation, &spec.stimulus, n, n_exc, spec.network.r_inhibitory).unwrap();
                let run = |lanes: &[&Parts]| {
                    simulate_batch(lanes, &schedule, &spec.simulation, &spec.metric, &Record::default())
                };
                let alone: Vec<Response> = parts.iter().map(|p| run(&[p]).remove(0)).collect();
                for k in 2..=seeds as usize {
                    let lanes: Vec<&Parts> = parts[..k].iter().collect();
                    for (lane, r) in run(&lanes).iter().enumerate() {
                        same(
                            &alone[lane],
                            r,
                            &format!("{net}, stop_early {stop}: lane {lane} of {k}"),
                        );
                    }
                }
            }
        }
    }
}
