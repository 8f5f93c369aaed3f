//! Simulation: a [`Network`] under a step stimulus → a [`Response`].
//!
//! `tau dr/dt = −r + f(W r + I(t))`, Euler from `r = 0`, exactly in the
//! notebook's arithmetic order (`r + (−r + f(x)) · dt / tau`), observed step
//! by step so that a run can stop as soon as ΔT is decided and no
//! n × steps array is ever needed.

pub mod batch;
pub mod kernel;

pub use kernel::{Kernel, KernelChoice};

use crate::network::build::np_sum;
use crate::network::Network;
use crate::{bail, Result};

/// The transfer function `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfer {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// `x`.
    Linear,
}

impl Transfer {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "relu" => Ok(Self::Relu),
            "linear" => Ok(Self::Linear),
            _ => bail!("simulation.transfer: unknown '{s}' (expected \"relu\" or \"linear\")"),
        }
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::Linear => "linear",
        }
    }

    #[inline]
    pub(crate) fn apply(self, x: f64) -> f64 {
        match self {
            // np.maximum(0, x) as numpy computes it, `0 >= x ? 0 : x`: NaN
            // propagates and −0 gives +0 (f64::max may return either zero).
            Self::Relu => {
                if 0.0 >= x {
                    0.0
                } else {
                    x
                }
            }
            Self::Linear => x,
        }
    }
}

/// The `[simulation]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpec {
    /// Simulated time (s); `steps = floor(t_max / dt)`.
    pub t_max: f64,
    /// Euler step (s).
    pub dt: f64,
    /// Time constant (s).
    pub tau: f64,
    /// Transfer function.
    pub transfer: Transfer,
    /// Stop a run once ΔT is decided or divergence declared, or once its
    /// rates stop changing after the stimulus (see [`Observer::settled`]);
    /// the result is the full run's either way.
    pub stop_early: bool,
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec {
            t_max: 50.0,
            dt: 0.01,
            tau: 0.25,
            transfer: Transfer::Relu,
            stop_early: true,
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

/// The `[metric]` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSpec {
    /// Return threshold above baseline, as a fraction of the stimulus.
    pub threshold_ratio: f64,
    /// Excitatory mean above which a run has diverged (default 1e6 × strength).
    pub divergence_threshold: Option<f64>,
}

impl MetricSpec {
    /// The notebook's metric.
    pub fn notebook() -> Self {
        MetricSpec {
            threshold_ratio: 0.01,
            divergence_threshold: None,
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
                "stimulus: no step of 0..{} s has a positive stimulus (start = {}, end = {}, strength = {}); ΔT needs one",
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
    /// Whether a rate became non-finite or the excitatory mean exceeded the divergence threshold.
    pub diverged: bool,
    /// The last simulated time (s).
    pub t_end: f64,
    /// Largest excitatory mean over the simulated steps.
    pub peak_exc_mean: f64,
    /// Excitatory mean at `t_end`.
    pub final_exc_mean: f64,
    /// Steps simulated (for the updates/s accounting): steps whose result
    /// is known without computing them (the all-zero state before the
    /// stimulus in the batched engine, a settled state) are not counted.
    pub steps_simulated: usize,
    /// Per-step records, if asked for.
    pub trace: Option<Trace>,
}

/// Watches one run step by step and decides ΔT: the part of a simulation
/// that does not depend on how `W r` is computed, so batched kernels reuse it.
#[derive(Debug, Clone)]
pub struct Observer {
    n_exc: usize,
    on: (usize, usize),
    on_value: f64,
    threshold_ratio: f64,
    divergence: f64,
    dt: f64,
    stop_early: bool,
    threshold: f64,
    peak: f64,
    last_mean: f64,
    last_step: usize,
    t_return: Option<f64>,
    diverged: bool,
    frozen: bool,
}

/// What the observer says after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep going.
    Running,
    /// ΔT is decided or the run diverged.
    Decided,
}

impl Observer {
    /// An observer of a run of `n_exc` excitatory neurons.
    pub fn new(schedule: &Schedule, metric: &MetricSpec, n_exc: usize, stop_early: bool) -> Observer {
        Observer {
            n_exc,
            on: schedule.on,
            on_value: schedule.on_value,
            threshold_ratio: metric.threshold_ratio,
            divergence: metric.divergence_threshold.unwrap_or(1e6 * schedule.strength),
            dt: schedule.dt,
            stop_early,
            threshold: f64::NAN,
            peak: f64::NEG_INFINITY,
            last_mean: f64::NAN,
            last_step: 0,
            t_return: None,
            diverged: false,
            frozen: false,
        }
    }

    /// Look at the rates `r` of step `k`. Once the run is decided and
    /// `stop_early` holds, the result is frozen: later steps (simulated only
    /// for a trace) change nothing, so results never depend on tracing.
    pub fn observe(&mut self, k: usize, r: &[f64]) -> Verdict {
        if self.frozen {
            return Verdict::Decided;
        }
        let exc = &r[..self.n_exc];
        // np.mean(r, axis=0) over neurons adds them in order.
        let mut sum = 0.0;
        for &x in exc {
            sum += x;
        }
        let others_finite = r[self.n_exc..].iter().all(|x| x.is_finite());
        self.observe_sum(k, sum, others_finite, || exc.to_vec())
    }

    /// As [`Observer::observe`] from the in-order sum of the excitatory rates
    /// (what batched engines compute for many runs at once), whether every
    /// inhibitory rate is finite, and the excitatory rates on demand (needed
    /// once, for the baseline).
    pub fn observe_sum(
        &mut self,
        k: usize,
        exc_sum: f64,
        others_finite: bool,
        exc: impl FnOnce() -> Vec<f64>,
    ) -> Verdict {
        if self.frozen {
            return Verdict::Decided;
        }
        let mean = exc_sum / self.n_exc as f64;
        self.last_mean = mean;
        self.last_step = k;
        // np.max propagates NaN.
        if !self.peak.is_nan() && (mean.is_nan() || mean > self.peak) {
            self.peak = mean;
        }
        if k + 1 == self.on.0 {
            // np.mean of one column: numpy's pairwise order.
            let b = np_sum(&exc()) / self.n_exc as f64;
            self.threshold = self.on_value * self.threshold_ratio + b;
        }
        let mut decided = false;
        if self.t_return.is_none() && k >= self.on.1 && mean < self.threshold {
            self.t_return = Some(k as f64 * self.dt);
            decided = true;
        }
        if !self.diverged && (!mean.is_finite() || !others_finite || mean > self.divergence) {
            self.diverged = true;
            decided = true;
        }
        if decided && self.stop_early {
            self.frozen = true;
            return Verdict::Decided;
        }
        Verdict::Running
    }

    /// Tell the observer that `r_k`, just observed at step `k`, is bit for
    /// bit the state `r_{k−1}` it came from. When the stimulus was already off
    /// for that step (and stays off), every later state is this one, so the
    /// rest of the run is known without simulating it: the run ends as if
    /// simulated to the last step. Returns [`Verdict::Decided`] when it did
    /// so (only with `stop_early`; a decided run stays as it was).
    pub fn settled(&mut self, k: usize, steps: usize) -> Verdict {
        if self.frozen {
            return Verdict::Decided;
        }
        if !self.stop_early || k < self.on.1 + 2 || steps == 0 {
            return Verdict::Running;
        }
        // Nothing observed from here on differs from step k: no return (k
        // was past the stimulus and did not return), no divergence, no new peak.
        self.last_step = steps - 1;
        self.frozen = true;
        Verdict::Decided
    }

    /// The run's result.
    pub fn finish(&self, steps_simulated: usize, trace: Option<Trace>) -> Response {
        let on_end = self.on.1 as f64 * self.dt;
        Response {
            delta_t: self.t_return.map(|t| t - on_end),
            t_return: self.t_return,
            returned: self.t_return.is_some(),
            diverged: self.diverged,
            t_end: self.last_step as f64 * self.dt,
            peak_exc_mean: self.peak,
            final_exc_mean: self.last_mean,
            steps_simulated,
            trace,
        }
    }
}

/// Simulate `net` under `schedule` and measure ΔT.
pub fn simulate(
    net: &Network,
    kernel: &Kernel,
    schedule: &Schedule,
    sim: &SimSpec,
    metric: &MetricSpec,
    record: &Record,
) -> Response {
    let n = net.n;
    let mut r = vec![0.0; n];
    let mut y = vec![0.0; n];
    let mut obs = Observer::new(schedule, metric, net.n_exc, sim.stop_early);
    let mut trace = record.trace.then(|| Trace {
        neurons: record.neurons.iter().copied().filter(|&i| i < n).collect(),
        ..Default::default()
    });
    if let Some(t) = &mut trace {
        t.rates = vec![Vec::new(); t.neurons.len()];
    }
    let mut simulated = 0;
    let mut moved = true;
    for k in 0..schedule.steps {
        simulated = k + 1;
        let mut decided = obs.observe(k, &r) == Verdict::Decided;
        if !decided && !moved && trace.is_none() {
            decided = obs.settled(k, schedule.steps) == Verdict::Decided;
        }
        if let Some(t) = &mut trace {
            push_trace(t, k, &r, net.n_exc, schedule);
        }
        if (decided && trace.is_none()) || k + 1 == schedule.steps {
            break;
        }
        moved = euler_step(kernel, schedule, sim, k, &mut r, &mut y);
    }
    obs.finish(simulated, trace)
}

/// One Euler step from r_k to r_{k+1}, in the notebook's operation order.
/// Returns whether any rate changed (bit for bit).
#[inline]
pub fn euler_step(kernel: &Kernel, schedule: &Schedule, sim: &SimSpec, k: usize, r: &mut [f64], y: &mut [f64]) -> bool {
    kernel.apply(r, y);
    let input = schedule.input(k);
    let (dt, tau, f) = (sim.dt, sim.tau, sim.transfer);
    let mut moved = 0u64;
    for (i, (ri, &yi)) in r.iter_mut().zip(y.iter()).enumerate() {
        let stim = if i < schedule.n_target { input } else { 0.0 };
        let pre = yi + stim;
        let old = *ri;
        *ri += (-*ri + f.apply(pre)) * dt / tau;
        moved |= old.to_bits() ^ ri.to_bits();
    }
    moved != 0
}

pub(crate) fn push_trace(t: &mut Trace, k: usize, r: &[f64], n_exc: usize, schedule: &Schedule) {
    let n = r.len();
    t.t.push(k as f64 * schedule.dt);
    t.exc_mean.push(r[..n_exc].iter().sum::<f64>() / n_exc as f64);
    t.inh_mean.push(if n > n_exc {
        r[n_exc..].iter().sum::<f64>() / (n - n_exc) as f64
    } else {
        f64::NAN
    });
    t.stimulus.push(schedule.input(k));
    for (slot, &i) in t.rates.iter_mut().zip(&t.neurons) {
        slot.push(r[i]);
    }
}
