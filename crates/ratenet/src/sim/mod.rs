//! Simulation: a [`Network`] under a step stimulus → a [`Response`].
//!
//! `tau dr/dt = −r + f(W r + I(t))` from `r = 0`, observed step by step so
//! that a run can stop as soon as its answer is decided and no n × steps
//! array is ever needed. The engine is parts: [`kernels`] (sparse mat-vec,
//! no model meaning), the network operator (blocks with per-row scales),
//! [`integrate`] (state updaters: Euler — the notebook's arithmetic, bit for
//! bit —, exponential Euler, RK4), [`transfer`] (relu, linear, tanh,
//! sigmoid, threshold-linear) and [`observe`] (the observer, early
//! stopping, the metrics and their result columns).

pub mod batch;
pub mod integrate;
pub mod kernel;
pub mod kernels;
pub mod observe;
pub(crate) mod operator;
pub mod transfer;

pub use integrate::Method;
pub use kernel::{Kernel, KernelChoice};
pub use observe::{Column, ColumnKind, MetricSpec, Observer, StopEarly, Value, Verdict};
pub use transfer::TransferSpec;

use crate::network::build::np_sum;
use crate::network::Network;
use crate::{bail, Result};

/// The `[simulation]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpec {
    /// Simulated time (s); `steps = floor(t_max / dt)`.
    pub t_max: f64,
    /// Step (s).
    pub dt: f64,
    /// Time constant (s).
    pub tau: f64,
    /// Transfer function.
    pub transfer: TransferSpec,
    /// Integrator.
    pub method: Method,
    /// When a run may stop before `t_max` (see [`StopEarly`]).
    pub stop_early: StopEarly,
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec {
            t_max: 50.0,
            dt: 0.01,
            tau: 0.25,
            transfer: TransferSpec::Relu,
            method: Method::Euler,
            stop_early: StopEarly::Exact,
        }
    }
}

/// Which neurons the stimulus reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Every excitatory neuron.
    #[default]
    Excitatory,
    /// The notebook's first `floor(n · (1 − r_inhibitory))` neurons, which can
    /// be one fewer than the excitatory ones (kept for exact numbers).
    Notebook,
}

impl Target {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "excitatory" => Ok(Self::Excitatory),
            "notebook" => Ok(Self::Notebook),
            _ => bail!("stimulus.target: unknown '{s}' (expected \"excitatory\" or \"notebook\")"),
        }
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Excitatory => "excitatory",
            Self::Notebook => "notebook",
        }
    }
}

/// The `[stimulus]` section: a step of `strength` on `[start, end]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StimulusSpec {
    /// On from (s).
    pub start: f64,
    /// On until, inclusive (s).
    pub end: f64,
    /// Input while on.
    pub strength: f64,
    /// Who receives it.
    pub target: Target,
}

impl Default for StimulusSpec {
    fn default() -> Self {
        StimulusSpec {
            start: 1.0,
            end: 15.0,
            strength: 10.0,
            target: Target::Excitatory,
        }
    }
}

/// A stimulus laid out on the step grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Steps simulated: `floor(t_max / dt)`.
    pub steps: usize,
    /// First and last on-steps.
    pub on: (usize, usize),
    /// Mean on-value of neuron 0 (the notebook's `np.mean(stimulus[0][mask])`).
    pub on_value: f64,
    /// Neurons `0..n_target` receive the stimulus.
    pub n_target: usize,
    /// Input while on.
    pub strength: f64,
    /// Step size.
    pub dt: f64,
    /// Stimulus on from (s).
    pub start: f64,
    /// Stimulus on until, inclusive (s).
    pub end: f64,
}

impl Schedule {
    /// Lay out the stimulus for a network of `n` neurons (`n_exc` excitatory).
    pub fn new(sim: &SimSpec, stim: &StimulusSpec, n: usize, n_exc: usize, r_inhibitory: f64) -> Result<Schedule> {
        if !(sim.dt > 0.0 && sim.dt.is_finite()) {
            bail!("simulation.dt = {}: expected a positive number", sim.dt);
        }
        if !(sim.tau > 0.0 && sim.tau.is_finite()) {
            bail!("simulation.tau = {}: expected a positive number", sim.tau);
        }
        if !(sim.t_max > 0.0 && sim.t_max.is_finite()) {
            bail!("simulation.t_max = {}: expected a positive number", sim.t_max);
        }
        let steps = (sim.t_max / sim.dt) as usize;
        if steps > 1 << 31 {
            bail!("simulation: t_max / dt = {steps} steps is too many");
        }
        let on_at = |k: usize| {
            let t = k as f64 * sim.dt;
            stim.start <= t && t <= stim.end
        };
        let n_target = match stim.target {
            Target::Excitatory => n_exc,
            Target::Notebook => (n as f64 * (1.0 - r_inhibitory)) as usize,
        };
        let first = (0..steps).find(|&k| on_at(k));
        let (s0, s1) = match (first, stim.strength > 0.0 && n_target > 0) {
            (Some(s0), true) => (s0, (s0..steps).take_while(|&k| on_at(k)).last().unwrap_or(s0)),
            _ => bail!(
                "stimulus: no step of 0..{} s (simulation.t_max) has a positive stimulus (stimulus.start = {}, stimulus.end = {}, stimulus.strength = {}); ΔT needs one",
                sim.t_max,
                stim.start,
                stim.end,
                stim.strength
            ),
        };
        if s0 == 0 {
            bail!("stimulus.start = {}: the stimulus is on at step 0, so there is no baseline before it; start it after t = 0", stim.start);
        }
        let count = s1 - s0 + 1;
        let on_value = np_sum(&vec![stim.strength; count]) / count as f64;
        Ok(Schedule {
            steps,
            on: (s0, s1),
            on_value,
            n_target,
            strength: stim.strength,
            dt: sim.dt,
            start: stim.start,
            end: stim.end,
        })
    }

    /// The input of a targeted neuron at step k.
    #[inline]
    pub fn input(&self, k: usize) -> f64 {
        if k >= self.on.0 && k <= self.on.1 {
            self.strength
        } else {
            0.0
        }
    }

    /// The input of a targeted neuron at time `t` (for integrators that
    /// evaluate between steps): on while `start ≤ t ≤ end`.
    #[inline]
    pub fn input_at(&self, t: f64) -> f64 {
        if self.start <= t && t <= self.end {
            self.strength
        } else {
            0.0
        }
    }
}

/// What to record besides the metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// Record the per-step means and stimulus (a trace), to t_max.
    pub trace: bool,
    /// Neurons whose rates are recorded in the trace.
    pub neurons: Vec<usize>,
}

/// Per-step records of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Time of each recorded step (s).
    pub t: Vec<f64>,
    /// Mean excitatory rate.
    pub exc_mean: Vec<f64>,
    /// Mean inhibitory rate (NaN without inhibitory neurons).
    pub inh_mean: Vec<f64>,
    /// Stimulus of neuron 0.
    pub stimulus: Vec<f64>,
    /// Recorded neurons.
    pub neurons: Vec<usize>,
    /// `rates[k][s]`: neuron `neurons[k]` at step s.
    pub rates: Vec<Vec<f64>>,
}

/// The outcome of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// ΔT = T − end of stimulus (s), if activity returned to baseline.
    pub delta_t: Option<f64>,
    /// T, the time of return (s).
    pub t_return: Option<f64>,
    /// Whether activity returned to baseline.
    pub returned: bool,
    /// Whether at any step a rate was not finite or |excitatory mean|
    /// exceeded the divergence threshold (with `stop_early = "at_return"`:
    /// any simulated step).
    pub diverged: bool,
    /// Whether every metric column equals the full run's.
    pub complete: bool,
    /// The last simulated time (s).
    pub t_end: f64,
    /// Largest excitatory mean over the simulated steps.
    pub peak_exc_mean: f64,
    /// Excitatory mean at `t_end`.
    pub final_exc_mean: f64,
    /// Every metric column, in table order (network metrics null until
    /// filled in where W is known, see [`Response::set`]).
    pub metrics: Vec<(&'static str, Value)>,
    /// Steps simulated (for the updates/s accounting): steps whose result
    /// is known without computing them (the all-zero state before the
    /// stimulus in the batched engine, a settled state) are not counted.
    pub steps_simulated: usize,
    /// Per-step records, if asked for.
    pub trace: Option<Trace>,
}

impl Response {
    /// The response of an observed run.
    pub fn from_observation(
        spec: &MetricSpec,
        obs: observe::Observation,
        steps_simulated: usize,
        trace: Option<Trace>,
    ) -> Response {
        let t_return = obs.return_step.map(|k| k as f64 * obs.dt);
        Response {
            delta_t: t_return.map(|t| t - obs.on.1 as f64 * obs.dt),
            t_return,
            returned: t_return.is_some(),
            diverged: obs.diverged,
            complete: obs.complete,
            t_end: obs.last_step as f64 * obs.dt,
            peak_exc_mean: obs.peak,
            final_exc_mean: obs.final_mean,
            metrics: observe::cells(spec, &obs),
            steps_simulated,
            trace,
        }
    }

    /// The value of a metric column.
    pub fn get(&self, column: &str) -> Option<Value> {
        self.metrics.iter().find(|(c, _)| *c == column).map(|(_, v)| *v)
    }

    /// Set a metric column (where W is known: the network metrics).
    pub fn set(&mut self, column: &'static str, value: Value) {
        match self.metrics.iter_mut().find(|(c, _)| *c == column) {
            Some((_, v)) => *v = value,
            None => self.metrics.push((column, value)),
        }
    }

    /// Fill in the network metrics of `spec` from the dense row-major W.
    pub fn add_network_metrics(&mut self, spec: &MetricSpec, n: usize, w: &[f64], tau: f64) {
        for m in observe::network_metrics(spec) {
            for (c, v) in m.columns().iter().zip(m.values(n, w, tau)) {
                self.set(c.name, v);
            }
        }
    }
}

/// Simulate `net` under `schedule` with an assembled W (the checking
/// engine of `simulation.kernel = "dense"` / `"sparse"`): the same
/// integrators, transfer functions and observer as the batched engine, one
/// run at a time.
pub fn simulate(
    net: &Network,
    kernel: &Kernel,
    schedule: &Schedule,
    sim: &SimSpec,
    metric: &MetricSpec,
    record: &Record,
) -> Response {
    use integrate::{Frame, Integrator, LaneSums, Rhs, WithIntegrator};
    use transfer::{Transfer, WithTransfer};
    struct Job<'a> {
        net: &'a Network,
        kernel: &'a Kernel,
        schedule: &'a Schedule,
        sim: &'a SimSpec,
        metric: &'a MetricSpec,
        record: &'a Record,
    }
    struct ByTransfer<'a>(Job<'a>);
    struct ByMethod<'a, T>(Job<'a>, T);
    impl WithTransfer for ByTransfer<'_> {
        type Out = Response;
        fn run<T: Transfer>(self, f: T) -> Response {
            let m = self.0.sim.method;
            m.with(ByMethod(self.0, f))
        }
    }
    impl<T: Transfer> WithIntegrator for ByMethod<'_, T> {
        type Out = Response;
        fn run<I: Integrator>(self, m: I) -> Response {
            let Job {
                net,
                kernel,
                schedule,
                sim,
                metric,
                record,
            } = self.0;
            let n = net.n;
            let mut r = vec![0.0; n];
            let mut y = vec![0.0; n];
            let mut bufs: Vec<kernels::Lines> = (0..I::BUFFERS).map(|_| kernels::Lines::zeroed(n)).collect();
            let mut sums = LaneSums::new(1);
            let mut obs = Observer::new(schedule, metric, net.n_exc, sim.stop_early);
            let mut trace = record.trace.then(|| Trace {
                neurons: record.neurons.iter().copied().filter(|&i| i < n).collect(),
                ..Default::default()
            });
            if let Some(t) = &mut trace {
                t.rates = vec![Vec::new(); t.neurons.len()];
            }
            let mut eval = |x: &[f64], y: &mut [f64]| kernel.apply(x, y);
            let mut rhs = Rhs {
                f: self.1,
                frame: Frame {
                    n,
                    n_exc: net.n_exc,
                    n_target: schedule.n_target.min(net.n_exc),
                    width: 1,
                    dt: sim.dt,
                    tau: sim.tau,
                },
                schedule,
                eval: &mut eval,
            };
            let certifiable =
                matches!(sim.transfer, TransferSpec::Relu) && sim.method == Method::Euler && sim.dt <= sim.tau;
            let mut cert: Option<observe::Certificate> = None;
            let mut simulated = 0;
            for k in 0..schedule.steps {
                simulated = k + 1;
                let mut verdict = obs.observe(k, &r);
                if verdict == Verdict::Certify {
                    let ok = certifiable && k > schedule.on.1 && {
                        let c = cert.get_or_insert_with(|| observe::Certificate::new(&net.exc_block()));
                        let h = sim.dt / sim.tau;
                        c.holds(
                            r[..net.n_exc].iter().copied(),
                            schedule.steps - 1 - k,
                            h,
                            obs.divergence_threshold(),
                        )
                    };
                    verdict = obs.certified(k, ok);
                }
                if verdict != Verdict::Decided && k > 0 && sums.moved[0] == 0 && trace.is_none() {
                    verdict = obs.settled(k);
                }
                if let Some(t) = &mut trace {
                    let exc_sum = r[..net.n_exc].iter().fold(0.0, |a, &x| a + x);
                    push_trace(t, k, r.len(), |i| r[i], exc_sum, net.n_exc, schedule);
                }
                if (verdict == Verdict::Decided && trace.is_none()) || k + 1 == schedule.steps {
                    break;
                }
                m.step(&mut rhs, k, &mut r, &mut y, &mut bufs, &mut sums, false);
            }
            obs.finish(metric, simulated, trace)
        }
    }
    sim.transfer.with(ByTransfer(Job {
        net,
        kernel,
        schedule,
        sim,
        metric,
        record,
    }))
}

/// Repeat the last recorded step of `t` for steps `from..steps` (a settled
/// state: every later state is the last one, and the stimulus is off).
pub(crate) fn pad_trace(t: &mut Trace, from: usize, steps: usize, schedule: &Schedule) {
    let (e, i) = (
        *t.exc_mean.last().unwrap_or(&f64::NAN),
        *t.inh_mean.last().unwrap_or(&f64::NAN),
    );
    for k in from..steps {
        t.t.push(k as f64 * schedule.dt);
        t.exc_mean.push(e);
        t.inh_mean.push(i);
        t.stimulus.push(schedule.input(k));
        for slot in &mut t.rates {
            let v = *slot.last().unwrap_or(&f64::NAN);
            slot.push(v);
        }
    }
}

/// Appends step `k` to a trace; `r(i)` is neuron `i`'s rate, so that a
/// batch reads its lane in place, and `exc_sum` the in-order sum of the
/// excitatory rates from +0 (the observer's, which a batch has already).
pub(crate) fn push_trace(
    t: &mut Trace,
    k: usize,
    n: usize,
    r: impl Fn(usize) -> f64,
    exc_sum: f64,
    n_exc: usize,
    schedule: &Schedule,
) {
    t.t.push(k as f64 * schedule.dt);
    t.exc_mean.push(exc_sum / n_exc as f64);
    t.inh_mean.push(if n > n_exc {
        (n_exc..n).map(&r).sum::<f64>() / (n - n_exc) as f64
    } else {
        f64::NAN
    });
    t.stimulus.push(schedule.input(k));
    for (slot, &i) in t.rates.iter_mut().zip(&t.neurons) {
        slot.push(r(i));
    }
}
