//! (d) Observers and metrics: what a run is watched for, when it may stop,
//! and the result columns it produces.
//!
//! The [`Observer`] watches the excitatory mean step by step and records
//! the facts of a run ([`Observation`]: baseline, first return, divergence,
//! the decay after the stimulus). Metrics are parts: each [`Metric`]
//! declares its columns and computes them from the observation; a
//! [`NetworkMetric`] computes its columns from the run's W (once per
//! distinct W). Adding a metric: one type, its impl, its place in
//! [`run_metrics`] or [`network_metrics`], a test; the tables, the report
//! and `ratenet simulate` list whatever columns the metrics declare.
//!
//! **Early stopping never changes an answer unless asked to**
//! ([`StopEarly`]). With the default a run stops only once nothing after it
//! can change a metric column (first return decided, divergence decided or
//! certified impossible for the rest of the window by [`Certificate`], or a
//! settled state); `"at_return"` stops at the first return, as the notebook
//! asks; `false` runs every step.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::matrix::Csr;
use crate::network::build::np_sum;
use crate::sim::{Schedule, Trace};
use crate::{bail, Result};

/// `simulation.stop_early`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopEarly {
    /// `true`: stop once nothing later can change a metric column; every
    /// column equals the full run's.
    #[default]
    Exact,
    /// `"at_return"`: stop at the first return (or at divergence before
    /// it); `diverged` then covers the simulated window only.
    AtReturn,
    /// `false`: every step to `t_max`.
    Never,
}

impl StopEarly {
    /// Parse `simulation.stop_early`: `true`, `false` or `"at_return"`.
    pub fn from_toml(v: &toml::Value) -> Result<StopEarly> {
        Ok(match v {
            toml::Value::Boolean(true) => StopEarly::Exact,
            toml::Value::Boolean(false) => StopEarly::Never,
            toml::Value::String(s) if s == "at_return" => StopEarly::AtReturn,
            other => bail!("simulation.stop_early: expected true, false or \"at_return\", got {other}"),
        })
    }

    /// As written in an experiment file.
    pub fn name(self) -> &'static str {
        match self {
            StopEarly::Exact => "true",
            StopEarly::AtReturn => "\"at_return\"",
            StopEarly::Never => "false",
        }
    }
}

/// The `[metric]` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSpec {
    /// Return threshold above baseline, as a fraction of the stimulus.
    pub threshold_ratio: f64,
    /// |excitatory mean| above which a run has diverged (default 1e6 × strength).
    pub divergence_threshold: Option<f64>,
    /// Whether to compute `lambda_max` and `decay_predicted` ([`Spectrum`]).
    pub spectrum: bool,
}

impl MetricSpec {
    /// The notebook's metric.
    pub fn notebook() -> Self {
        MetricSpec {
            threshold_ratio: 0.01,
            divergence_threshold: None,
            spectrum: false,
        }
    }
}

/// The type of a result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A float, empty (null) where missing or not finite.
    Float,
    /// true / false.
    Bool,
}

/// A result column a metric produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Name in the tables.
    pub name: &'static str,
    /// Type.
    pub kind: ColumnKind,
    /// One line of documentation.
    pub doc: &'static str,
}

/// One cell of a result column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Missing.
    Null,
    /// A flag.
    Bool(bool),
    /// A finite number.
    Float(f64),
}

impl Value {
    /// A float cell: null unless finite.
    pub fn float(x: Option<f64>) -> Value {
        match x {
            Some(x) if x.is_finite() => Value::Float(x),
            _ => Value::Null,
        }
    }

    /// The number, if any.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// The flag (false when missing).
    pub fn as_bool(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}

/// What an observer recorded of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Step size (s).
    pub dt: f64,
    /// First and last stimulus steps (s0, s1).
    pub on: (usize, usize),
    /// Excitatory mean at step s0 − 1 (numpy's pairwise mean).
    pub baseline: f64,
    /// The first step at or after s1 whose excitatory mean is below the threshold.
    pub return_step: Option<usize>,
    /// Whether, at any step of the run, a rate was not finite or
    /// |excitatory mean| exceeded the divergence threshold.
    pub diverged: bool,
    /// Excitatory means of steps s1, s1 + 1, … up to the return (exclusive)
    /// or the last simulated step.
    pub decay: Vec<f64>,
    /// The last step the run describes.
    pub last_step: usize,
    /// Largest excitatory mean over the simulated steps (NaN propagates).
    pub peak: f64,
    /// Excitatory mean at the last simulated step.
    pub final_mean: f64,
    /// Whether every metric column equals the full run's.
    pub complete: bool,
}

/// A part that turns an observation into result columns.
pub trait Metric: Send + Sync {
    /// The columns it produces, in order.
    fn columns(&self) -> &'static [Column];
    /// Their values for `obs`, in column order.
    fn values(&self, obs: &Observation) -> Vec<Value>;
}

/// `delta_t`, `t_return`, `returned`: the notebook's ΔT.
pub struct Return;

impl Metric for Return {
    fn columns(&self) -> &'static [Column] {
        &[
            Column {
                name: "delta_t",
                kind: ColumnKind::Float,
                doc: "T − end of stimulus (s), T the first return to baseline",
            },
            Column {
                name: "t_return",
                kind: ColumnKind::Float,
                doc: "T, the first step at or after the stimulus's end below baseline + threshold_ratio · strength (s)",
            },
            Column {
                name: "returned",
                kind: ColumnKind::Bool,
                doc: "whether the excitatory mean returned to baseline",
            },
        ]
    }

    fn values(&self, o: &Observation) -> Vec<Value> {
        let t = o.return_step.map(|k| k as f64 * o.dt);
        vec![
            Value::float(t.map(|t| t - o.on.1 as f64 * o.dt)),
            Value::float(t),
            Value::Bool(t.is_some()),
        ]
    }
}

/// `diverged`, over the whole run.
pub struct Divergence;

impl Metric for Divergence {
    fn columns(&self) -> &'static [Column] {
        &[Column {
            name: "diverged",
            kind: ColumnKind::Bool,
            doc: "whether at any step a rate was not finite or |excitatory mean| > metric.divergence_threshold",
        }]
    }

    fn values(&self, o: &Observation) -> Vec<Value> {
        vec![Value::Bool(o.diverged)]
    }
}

/// `decay_tau`, `decay_r2`: an exponential fitted to the return.
pub struct Decay;

/// Ordinary least squares of `ln(m_k − baseline)` on `t_k` over the steps
/// `s1 ≤ k < T` where `m_k > baseline`: `(−1 / slope, R²)`, or `None` with
/// fewer than 3 such steps or a slope ≥ 0.
pub fn decay_fit(o: &Observation) -> Option<(f64, f64)> {
    o.return_step?;
    let pts: Vec<(f64, f64)> = o
        .decay
        .iter()
        .enumerate()
        .filter(|(_, &m)| m - o.baseline > 0.0)
        .map(|(j, &m)| ((o.on.1 + j) as f64 * o.dt, (m - o.baseline).ln()))
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let tm = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let ym = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - tm) * (p.0 - tm)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - tm) * (p.1 - ym)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - ym) * (p.1 - ym)).sum();
    let slope = sxy / sxx;
    if slope.is_nan() || slope >= 0.0 || !slope.is_finite() {
        return None;
    }
    let intercept = ym - slope * tm;
    let ss_res: f64 = pts
        .iter()
        .map(|p| {
            let e = p.1 - (intercept + slope * p.0);
            e * e
        })
        .sum();
    let r2 = if syy > 0.0 { 1.0 - ss_res / syy } else { f64::NAN };
    Some((-1.0 / slope, r2))
}

impl Metric for Decay {
    fn columns(&self) -> &'static [Column] {
        &[
            Column {
                name: "decay_tau",
                kind: ColumnKind::Float,
                doc: "time constant of an exponential fitted to the excitatory mean from the stimulus's end to the return (s)",
            },
            Column {
                name: "decay_r2",
                kind: ColumnKind::Float,
                doc: "coefficient of determination of that fit",
            },
        ]
    }

    fn values(&self, o: &Observation) -> Vec<Value> {
        let fit = decay_fit(o);
        vec![Value::float(fit.map(|f| f.0)), Value::float(fit.map(|f| f.1))]
    }
}

/// `complete`: whether the columns above equal the full run's.
pub struct Complete;

impl Metric for Complete {
    fn columns(&self) -> &'static [Column] {
        &[Column {
            name: "complete",
            kind: ColumnKind::Bool,
            doc: "whether every metric column equals the full run's (false only with stop_early = \"at_return\")",
        }]
    }

    fn values(&self, o: &Observation) -> Vec<Value> {
        vec![Value::Bool(o.complete)]
    }
}

/// `t_end`, `peak_exc_mean`, `final_exc_mean`: the simulated window.
pub struct Window;

impl Metric for Window {
    fn columns(&self) -> &'static [Column] {
        &[
            Column {
                name: "t_end",
                kind: ColumnKind::Float,
                doc: "the last simulated time (s)",
            },
            Column {
                name: "peak_exc_mean",
                kind: ColumnKind::Float,
                doc: "largest excitatory mean over the simulated steps",
            },
            Column {
                name: "final_exc_mean",
                kind: ColumnKind::Float,
                doc: "excitatory mean at t_end",
            },
        ]
    }

    fn values(&self, o: &Observation) -> Vec<Value> {
        vec![
            Value::float(Some(o.last_step as f64 * o.dt)),
            Value::float(Some(o.peak)),
            Value::float(Some(o.final_mean)),
        ]
    }
}

/// A part that computes result columns from a run's W.
pub trait NetworkMetric: Send + Sync {
    /// The columns it produces, in order.
    fn columns(&self) -> &'static [Column];
    /// Their values for the dense row-major `n × n` W of a run with time
    /// constant `tau`, in column order.
    fn values(&self, n: usize, w: &[f64], tau: f64) -> Vec<Value>;
}

/// `lambda_max`, `decay_predicted` (with `metric.spectrum = true`).
pub struct Spectrum;

impl NetworkMetric for Spectrum {
    fn columns(&self) -> &'static [Column] {
        &[
            Column {
                name: "lambda_max",
                kind: ColumnKind::Float,
                doc: "largest real part of the eigenvalues of W",
            },
            Column {
                name: "decay_predicted",
                kind: ColumnKind::Float,
                doc: "tau / (1 − lambda_max) when lambda_max < 1: the linearised network's slowest decay (s)",
            },
        ]
    }

    fn values(&self, n: usize, w: &[f64], tau: f64) -> Vec<Value> {
        let lambda = if n <= crate::analysis::spectrum::MAX_DENSE {
            crate::analysis::spectrum::spectrum(n, w).ok().map(|s| s.max_real)
        } else {
            None
        };
        let predicted = lambda.filter(|&l| l < 1.0).map(|l| tau / (1.0 - l));
        vec![Value::float(lambda), Value::float(predicted)]
    }
}

/// The per-run metrics, in column order.
pub fn run_metrics() -> [&'static dyn Metric; 3] {
    [&Return, &Divergence, &Decay]
}

/// The metrics after the network metrics: completeness and the window.
pub fn tail_metrics() -> [&'static dyn Metric; 2] {
    [&Complete, &Window]
}

/// The network metrics `spec` asks for.
pub fn network_metrics(spec: &MetricSpec) -> Vec<&'static dyn NetworkMetric> {
    if spec.spectrum {
        vec![&Spectrum]
    } else {
        vec![]
    }
}

/// Every result column of a run under `spec`, in table order.
pub fn columns(spec: &MetricSpec) -> Vec<Column> {
    let mut out = Vec::new();
    for m in run_metrics() {
        out.extend_from_slice(m.columns());
    }
    for m in network_metrics(spec) {
        out.extend_from_slice(m.columns());
    }
    for m in tail_metrics() {
        out.extend_from_slice(m.columns());
    }
    out
}

/// The run-metric cells of `obs` (network metrics are filled in by the
/// caller where W is known), as (column, value) in table order.
pub fn cells(spec: &MetricSpec, obs: &Observation) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for m in run_metrics() {
        out.extend(m.columns().iter().map(|c| c.name).zip(m.values(obs)));
    }
    for m in network_metrics(spec) {
        out.extend(m.columns().iter().map(|c| (c.name, Value::Null)));
    }
    for m in tail_metrics() {
        out.extend(m.columns().iter().map(|c| c.name).zip(m.values(obs)));
    }
    out
}

/// What the observer says after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep going.
    Running,
    /// Nothing later can change what is asked for: the run may stop.
    Decided,
    /// The run returned and has not diverged: a [`Certificate`] that the
    /// rest of the window cannot diverge would decide it (answer with
    /// [`Observer::certified`]).
    Certify,
}

/// Steps between two attempts at a certificate.
const CERTIFY_EVERY: usize = 32;

/// Watches one run step by step (the part of a simulation that does not
/// depend on how `W r` is computed, so that every engine shares it).
#[derive(Debug, Clone)]
pub struct Observer {
    n_exc: usize,
    steps: usize,
    on_value: f64,
    threshold_ratio: f64,
    divergence: f64,
    mode: StopEarly,
    threshold: f64,
    /// An excitatory rate is NaN: it stays NaN (every integrator's update
    /// involves r), so the mean is NaN from here on and never returns.
    dead: bool,
    next_try: usize,
    frozen: bool,
    obs: Observation,
}

impl Observer {
    /// An observer of a run of `n_exc` excitatory neurons.
    pub fn new(schedule: &Schedule, metric: &MetricSpec, n_exc: usize, mode: StopEarly) -> Observer {
        Observer {
            n_exc,
            steps: schedule.steps,
            on_value: schedule.on_value,
            threshold_ratio: metric.threshold_ratio,
            divergence: metric.divergence_threshold.unwrap_or(1e6 * schedule.strength),
            mode,
            threshold: f64::NAN,
            dead: false,
            next_try: 0,
            frozen: false,
            obs: Observation {
                dt: schedule.dt,
                on: schedule.on,
                baseline: f64::NAN,
                return_step: None,
                diverged: false,
                decay: Vec::new(),
                last_step: 0,
                peak: f64::NEG_INFINITY,
                final_mean: f64::NAN,
                complete: true,
            },
        }
    }

    /// The |excitatory mean| above which a run has diverged.
    pub fn divergence_threshold(&self) -> f64 {
        self.divergence
    }

    /// Look at the rates `r` of step `k` (one run alone).
    pub fn observe(&mut self, k: usize, r: &[f64]) -> Verdict {
        let exc = &r[..self.n_exc];
        // np.mean(r, axis=0) over neurons adds them in order.
        let mut sum = 0.0;
        for &x in exc {
            sum += x;
        }
        let others_finite = r[self.n_exc..].iter().all(|x| x.is_finite());
        self.observe_sum(k, sum, others_finite, || exc.to_vec())
    }

    /// As [`Observer::observe`] from the in-order sum of the excitatory
    /// rates (what batched engines compute for many runs at once), whether
    /// every inhibitory rate is finite, and the excitatory rates on demand
    /// (needed for the baseline, and once a mean is NaN).
    pub fn observe_sum(&mut self, k: usize, exc_sum: f64, others_finite: bool, exc: impl Fn() -> Vec<f64>) -> Verdict {
        if self.frozen {
            return Verdict::Decided;
        }
        let o = &mut self.obs;
        let mean = exc_sum / self.n_exc as f64;
        o.final_mean = mean;
        o.last_step = k;
        // np.max propagates NaN.
        if !o.peak.is_nan() && (mean.is_nan() || mean > o.peak) {
            o.peak = mean;
        }
        if k + 1 == o.on.0 {
            // np.mean of one column: numpy's pairwise order.
            o.baseline = np_sum(&exc()) / self.n_exc as f64;
            self.threshold = self.on_value * self.threshold_ratio + o.baseline;
        }
        if o.return_step.is_none() && k >= o.on.1 {
            if mean < self.threshold {
                o.return_step = Some(k);
                self.next_try = k;
            } else {
                o.decay.push(mean);
            }
        }
        if !o.diverged && (!mean.is_finite() || !others_finite || mean.abs() > self.divergence) {
            o.diverged = true;
        }
        if mean.is_nan() && !self.dead {
            self.dead = exc().iter().any(|x| x.is_nan());
        }
        let returned = o.return_step.is_some();
        match self.mode {
            StopEarly::Never => Verdict::Running,
            StopEarly::AtReturn => {
                if returned {
                    return Verdict::Certify;
                }
                if o.diverged {
                    // Divergence before the return: complete only if it can
                    // never return.
                    let dead = self.dead;
                    self.freeze(k, dead);
                    return Verdict::Decided;
                }
                Verdict::Running
            }
            StopEarly::Exact => {
                if self.dead || (returned && o.diverged) {
                    self.freeze(k, true);
                    return Verdict::Decided;
                }
                if returned && k >= self.next_try {
                    return Verdict::Certify;
                }
                Verdict::Running
            }
        }
    }

    fn freeze(&mut self, k: usize, complete: bool) {
        self.frozen = true;
        // A run stopped on its last step is the full run.
        self.obs.complete = complete || k + 1 >= self.steps;
    }

    /// The answer to [`Verdict::Certify`] at step `k`: whether a
    /// certificate shows that no later step of the window can diverge.
    pub fn certified(&mut self, k: usize, ok: bool) -> Verdict {
        if ok {
            self.freeze(k, true);
            return Verdict::Decided;
        }
        match self.mode {
            StopEarly::AtReturn => {
                self.freeze(k, false);
                Verdict::Decided
            }
            _ => {
                self.next_try = k + CERTIFY_EVERY;
                Verdict::Running
            }
        }
    }

    /// Whether a state at step `k` that equals the one before it, bit for
    /// bit, settles the run (see [`Observer::settled`]): past the stimulus
    /// by two steps, and not with `stop_early = false`.
    pub fn settles(&self, k: usize) -> bool {
        self.mode != StopEarly::Never && k >= self.obs.on.1 + 2 && self.steps > 0
    }

    /// Tell the observer that `r_k`, just observed at step `k`, is bit for
    /// bit the state `r_{k−1}` it came from. When the stimulus was already
    /// off for that step (and stays off), every later state is this one, so
    /// the rest of the run is known without simulating it: the run ends as
    /// if simulated to the last step (not with `stop_early = false`).
    pub fn settled(&mut self, k: usize) -> Verdict {
        if self.frozen {
            return Verdict::Decided;
        }
        if !self.settles(k) {
            return Verdict::Running;
        }
        // Nothing observed from here on differs from step k: no return (k
        // was past the stimulus and did not return, or returned before), no
        // new divergence, no new peak; the decay window ends at the return.
        self.obs.last_step = self.steps - 1;
        self.freeze(self.steps - 1, true);
        Verdict::Decided
    }

    /// What was recorded.
    pub fn observation(&self) -> &Observation {
        &self.obs
    }

    /// The run's result.
    pub fn finish(&self, spec: &MetricSpec, steps_simulated: usize, trace: Option<Trace>) -> super::Response {
        super::Response::from_observation(spec, self.obs.clone(), steps_simulated, trace)
    }
}

/// A certificate that a relu network integrated by Euler with
/// `h = dt / tau ≤ 1` and no input cannot reach an excitatory mean above a
/// bound within m steps. With rates `r ≥ 0`,
/// `r_{k+1} ≤ ((1 − h) I + h W⁺) r_k` element-wise (`W⁺` the non-negative
/// part of W; relu(x) ≤ max(x, 0)). The excitatory rows of `W⁺` read only
/// excitatory rates (Dale's law), so for any positive vector `v` with
/// `W⁺_EE v ≤ μ v` (Collatz–Wielandt: `μ = maxᵢ (W⁺_EE v)ᵢ / vᵢ`, an upper
/// bound of the Perron root ρ whatever `v`) the excitatory rates obey
/// `r_E(k + m) ≤ c · (1 − h + h μ)^m · v`, `c = maxᵢ r_i⁺ / vᵢ` at step k.
/// The inhibitory rates then stay bounded too (their inputs are). `v` is
/// an approximate Perron vector (power iteration on `W⁺_EE + I`) lifted by
/// a small constant, so that neurons without excitatory inputs (a
/// reducible `W_EE`) do not make `c` huge.
#[derive(Debug, Clone)]
pub struct Certificate {
    v: Vec<f64>,
    mu: f64,
    mean_v: f64,
}

/// How many recent E–E blocks [`Certificate::shared`] remembers.
const MEMO_LEN: usize = 32;
/// How many block entries [`Certificate::shared`] keeps alive at most, all
/// remembered blocks together (about 50 MB): a long-lived process (a Python
/// session) does not hold on to large networks.
pub const MEMO_MAX_NNZ: usize = 1 << 22;

/// Recent blocks and their certificates, oldest first.
type Memo = Vec<(u64, Arc<Csr>, Arc<Certificate>)>;
static MEMO: Mutex<Memo> = Mutex::new(Vec::new());

/// FNV-1a over the block's shape, structure and weight bits: a quick
/// filter before the full comparison.
fn content_hash(m: &Csr) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |x: u64| {
        h ^= x;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(m.n_rows as u64);
    eat(m.n_cols as u64);
    m.indptr.iter().for_each(|&x| eat(x as u64));
    m.indices.iter().for_each(|&x| eat(u64::from(x)));
    m.values.iter().for_each(|x| eat(x.to_bits()));
    h
}

/// How far below the divergence threshold a certified bound must stay
/// (for the rounding of the steps it bounds and of the bound itself).
pub const CERTIFICATE_MARGIN: f64 = 10.0;

impl Certificate {
    /// The certificate of the E–E block `w_ee` (row = post).
    pub fn new(w_ee: &Csr) -> Certificate {
        let n = w_ee.n_rows;
        // Rows in column order, so that the certificate does not depend on
        // the order a block stores its entries in (every engine gets the
        // same one); laid out flat, as a CSR of the positive entries.
        let mut start = Vec::with_capacity(n + 1);
        let mut cols: Vec<u32> = Vec::with_capacity(w_ee.nnz());
        let mut vals: Vec<f64> = Vec::with_capacity(w_ee.nnz());
        let mut row: Vec<(usize, f64)> = Vec::new();
        start.push(0);
        for i in 0..n {
            row.clear();
            row.extend(w_ee.row(i).filter(|&(_, w)| w > 0.0));
            row.sort_by_key(|&(j, _)| j);
            cols.extend(row.iter().map(|&(j, _)| j as u32));
            vals.extend(row.iter().map(|&(_, w)| w));
            start.push(cols.len());
        }
        let apply = |v: &[f64], out: &mut [f64]| {
            for (o, ab) in out.iter_mut().zip(start.windows(2)) {
                let (a, b) = (ab[0], ab[1]);
                *o = cols[a..b]
                    .iter()
                    .zip(&vals[a..b])
                    .map(|(&j, &w)| w * v[j as usize])
                    .sum();
            }
        };
        let mut v = vec![1.0; n];
        let mut u = vec![0.0; n];
        for _ in 0..200 {
            apply(&v, &mut u);
            let top = u.iter().zip(&v).map(|(a, b)| a + b).fold(0.0f64, f64::max);
            if !(top > 0.0 && top.is_finite()) {
                break;
            }
            let mut moved = false;
            for (x, a) in v.iter_mut().zip(&u) {
                let next = (*x + a) / top;
                moved |= next.to_bits() != x.to_bits();
                *x = next;
            }
            // A fixed point, bit for bit: the remaining iterations would
            // repeat it.
            if !moved {
                break;
            }
        }
        let lift = 1e-3 * v.iter().copied().fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
        for x in &mut v {
            *x += lift;
        }
        apply(&v, &mut u);
        let mu = u.iter().zip(&v).map(|(a, b)| a / b).fold(0.0f64, f64::max);
        let mean_v = v.iter().sum::<f64>() / n.max(1) as f64;
        Certificate { v, mu, mean_v }
    }

    /// [`Certificate::new`] of `w_ee`, computed once per distinct block:
    /// runs of an experiment share their E–E blocks (every seed of the
    /// observed network, every point of a sweep over other keys) but not
    /// always the same allocation, so recent blocks are remembered by
    /// content (a hash, then equality). A certificate is a function of the
    /// block alone, so this changes no result. The oldest blocks are
    /// forgotten beyond [`MEMO_MAX_NNZ`] entries in all; a larger block is
    /// not remembered (its power iteration is small next to a run on it).
    pub fn shared(w_ee: &Arc<Csr>) -> Arc<Certificate> {
        if w_ee.nnz() > MEMO_MAX_NNZ {
            return Arc::new(Certificate::new(w_ee));
        }
        let hash = content_hash(w_ee);
        let found = {
            let memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
            memo.iter()
                .find(|(h, m, _)| *h == hash && (Arc::ptr_eq(m, w_ee) || **m == **w_ee))
                .map(|(_, _, c)| c.clone())
        };
        if let Some(c) = found {
            return c;
        }
        let c = Arc::new(Certificate::new(w_ee));
        let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        let mut held: usize = memo.iter().map(|(_, m, _)| m.nnz()).sum::<usize>() + w_ee.nnz();
        while !memo.is_empty() && (memo.len() >= MEMO_LEN || held > MEMO_MAX_NNZ) {
            held -= memo.remove(0).1.nnz();
        }
        memo.push((hash, w_ee.clone(), c.clone()));
        c
    }

    /// The bound `μ` on the Perron root of `W⁺_EE`.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// An upper bound of the excitatory mean over the next `remaining`
    /// steps from excitatory rates `r_exc`, with `h = dt / tau ≤ 1`.
    pub fn bound(&self, r_exc: impl Iterator<Item = f64>, remaining: usize, h: f64) -> f64 {
        let mut c = 0.0f64;
        for (x, v) in r_exc.zip(&self.v) {
            if x.is_nan() {
                return f64::INFINITY;
            }
            c = c.max(x.max(0.0) / v);
        }
        let lambda = 1.0 - h + h * self.mu;
        let growth = if lambda > 1.0 {
            lambda.powf(remaining as f64)
        } else {
            1.0
        };
        c * self.mean_v * growth
    }

    /// Whether the rest of the window (`remaining` steps) provably stays
    /// below `divergence` (with [`CERTIFICATE_MARGIN`]).
    pub fn holds(&self, r_exc: impl Iterator<Item = f64>, remaining: usize, h: f64, divergence: f64) -> bool {
        let b = self.bound(r_exc, remaining, h);
        b.is_finite() && b * CERTIFICATE_MARGIN < divergence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(decay: Vec<f64>, baseline: f64, ret: Option<usize>) -> Observation {
        Observation {
            dt: 0.01,
            on: (100, 1500),
            baseline,
            return_step: ret,
            diverged: false,
            decay,
            last_step: 2000,
            peak: 10.0,
            final_mean: baseline,
            complete: true,
        }
    }

    /// A synthetic exponential: the fit gives its time constant and R² = 1.
    #[test]
    fn decay_fit_recovers_a_synthetic_exponential() {
        let (tau, b) = (0.8, 0.3);
        let decay: Vec<f64> = (0..300)
            .map(|j| b + 5.0 * (-((1500 + j) as f64 * 0.01 - 15.0) / tau).exp())
            .collect();
        let o = observation(decay, b, Some(1800));
        let (t, r2) = decay_fit(&o).unwrap();
        assert!((t - tau).abs() < 1e-9, "{t}");
        assert!((r2 - 1.0).abs() < 1e-12, "{r2}");
        let v = Decay.values(&o);
        assert_eq!(v[0].as_f64(), Some(t));
        // Not returned, too few points, or growing: null.
        assert_eq!(decay_fit(&observation(o.decay.clone(), b, None)), None);
        assert_eq!(decay_fit(&observation(vec![1.0, 0.9], 0.0, Some(1502))), None);
        assert_eq!(decay_fit(&observation(vec![1.0, 1.1, 1.2, 1.3], 0.0, Some(1504))), None);
        // Points at or below the baseline are left out.
        assert!(decay_fit(&observation(vec![0.5, 0.25, 0.2, 0.125, 0.0], 0.1, Some(1505))).is_some());
    }

    /// The certificate's bound holds along a simulated relu Euler run
    /// without input, on a non-negative matrix with a reducible part.
    #[test]
    fn certificate_bounds_a_relu_euler_run() {
        let n = 30;
        let mut t = Vec::new();
        let mut s = 5u64;
        for i in 0..n {
            for j in 0..n {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // Neuron 0 has no excitatory input (a reducible block).
                if i > 0 && i != j && (s >> 33) % 4 == 0 {
                    t.push((i, j, ((s >> 11) % 1000) as f64 / 1000.0 * 0.2));
                }
            }
        }
        let w = Csr::from_sorted_triplets(n, n, t);
        let c = Certificate::new(&w);
        let h = 0.04;
        let mut r: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64).collect();
        let bound = c.bound(r.iter().copied(), 3000, h);
        assert!(bound.is_finite());
        for _ in 0..3000 {
            let y: Vec<f64> = (0..n).map(|i| w.row(i).map(|(j, v)| v * r[j]).sum()).collect();
            for i in 0..n {
                r[i] += (y[i].max(0.0) - r[i]) * h;
            }
            let mean = r.iter().sum::<f64>() / n as f64;
            assert!(mean <= bound, "{mean} > {bound}");
        }
        assert!(c.mu() > 0.0);
        assert!(c.holds(r.iter().copied(), 10, h, bound * 11.0));
        assert!(!c.holds([f64::NAN].into_iter(), 10, h, 1e300));
    }

    /// The certificate as first written: nested rows, 200 iterations.
    fn certificate_reference(w_ee: &Csr) -> Certificate {
        let n = w_ee.n_rows;
        let rows: Vec<Vec<(usize, f64)>> = (0..n)
            .map(|i| {
                let mut r: Vec<(usize, f64)> = w_ee.row(i).filter(|&(_, w)| w > 0.0).collect();
                r.sort_by_key(|&(j, _)| j);
                r
            })
            .collect();
        let apply = |v: &[f64], out: &mut [f64]| {
            for (o, row) in out.iter_mut().zip(&rows) {
                *o = row.iter().map(|&(j, w)| w * v[j]).sum();
            }
        };
        let mut v = vec![1.0; n];
        let mut u = vec![0.0; n];
        for _ in 0..200 {
            apply(&v, &mut u);
            let top = u.iter().zip(&v).map(|(a, b)| a + b).fold(0.0f64, f64::max);
            if !(top > 0.0 && top.is_finite()) {
                break;
            }
            for (x, a) in v.iter_mut().zip(&u) {
                *x = (*x + a) / top;
            }
        }
        let lift = 1e-3 * v.iter().copied().fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
        for x in &mut v {
            *x += lift;
        }
        apply(&v, &mut u);
        let mu = u.iter().zip(&v).map(|(a, b)| a / b).fold(0.0f64, f64::max);
        let mean_v = v.iter().sum::<f64>() / n.max(1) as f64;
        Certificate { v, mu, mean_v }
    }

    /// The flat layout and the stop at a fixed point change no bit of the
    /// certificate (results and early stops depend on it): random blocks
    /// of several sizes and densities, with negative entries, unsorted
    /// rows (as nested blocks store them) and empty rows.
    #[test]
    fn certificate_equals_the_plain_construction() {
        let mut s = 11u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s >> 11
        };
        for case in 0..40 {
            let n = 1 + (next() % 120) as usize;
            let density = 1 + next() % 30;
            let mut t = Vec::new();
            for i in 0..n {
                for j in 0..n {
                    if next() % 100 < density {
                        let w = (next() % 2000) as f64 / 1000.0 - 0.3;
                        t.push((i, j, w * 0.05));
                    }
                }
            }
            let mut w = Csr::from_sorted_triplets(n, n, t);
            if case % 3 == 0 {
                // Rows stored in reverse column order.
                for i in 0..n {
                    let r = w.indptr[i]..w.indptr[i + 1];
                    w.indices[r.clone()].reverse();
                    w.values[r].reverse();
                }
            }
            let (a, b) = (Certificate::new(&w), certificate_reference(&w));
            let bits = |c: &Certificate| {
                let mut x: Vec<u64> = c.v.iter().map(|v| v.to_bits()).collect();
                x.push(c.mu.to_bits());
                x.push(c.mean_v.to_bits());
                x
            };
            assert_eq!(bits(&a), bits(&b), "case {case}: n = {n}");
            // Remembered by content: an equal block in another allocation
            // gets the same certificate; a block one weight apart its own.
            let first = Certificate::shared(&Arc::new(w.clone()));
            let again = Certificate::shared(&Arc::new(w.clone()));
            assert!(Arc::ptr_eq(&first, &again), "case {case}");
            assert_eq!(bits(&first), bits(&a), "case {case}");
            if w.nnz() > 0 {
                let mut other = w.clone();
                other.values[0] += 0.5;
                let c = Certificate::shared(&Arc::new(other.clone()));
                assert!(!Arc::ptr_eq(&first, &c), "case {case}");
                assert_eq!(bits(&c), bits(&Certificate::new(&other)), "case {case}");
            }
        }
    }
}
