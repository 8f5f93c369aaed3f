//! (c) Integrators: how `tau dr/dt = −r + f(W r + I(t))` advances one step.
//!
//! As in Brian2, an integrator is a state updater that sees only the
//! right-hand side: it may ask for `W x` of any state `x` of the batch
//! ([`Rhs::eval`]), apply the transfer function and read the stimulus at any
//! time; it never sees blocks, lanes' weights or the model's E/I structure.
//! Each integrator is one type implementing [`Integrator`], generic over
//! the [`Transfer`] (monomorphised); [`Method`] names them in experiment
//! files and hands the engine the concrete type ([`Method::with`]).
//! Adding one: its type and impl, a variant of `Method`, a row in
//! [`METHODS`], and a test.
//!
//! States are lane-minor (`r[i · width + b]`: neuron `i` of lane `b`).
//! Every integrator ends its step with the same bookkeeping ([`LaneSums`]):
//! each lane's excitatory sum in neuron order (what the observer needs, as
//! numpy's in-order mean), whether its inhibitory rates are finite, and
//! whether any of its rates changed.

use crate::sim::kernels::Lines;
use crate::sim::transfer::Transfer;
use crate::sim::Schedule;
use crate::{bail, Result};

/// The shape of a batch and the constants of the equation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Neurons per lane.
    pub n: usize,
    /// Excitatory neurons (`0..n_exc`).
    pub n_exc: usize,
    /// Neurons `0..n_target` receive the stimulus.
    pub n_target: usize,
    /// Lanes per row of a state.
    pub width: usize,
    /// Step (s).
    pub dt: f64,
    /// Time constant (s).
    pub tau: f64,
}

/// What the observer needs of each lane after a step.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneSums {
    /// Sum of the excitatory rates, in neuron order.
    pub exc_sum: Vec<f64>,
    /// 0 when every inhibitory rate is finite, NaN otherwise (`x · 0` is
    /// ±0 for finite x and NaN otherwise, and NaN survives a sum, so no
    /// order matters).
    pub inh_check: Vec<f64>,
    /// OR of the changed bits of every rate (0: the step changed nothing).
    pub moved: Vec<u64>,
}

impl LaneSums {
    /// Sums for `width` lanes, every lane marked as moving.
    pub fn new(width: usize) -> LaneSums {
        LaneSums {
            exc_sum: vec![0.0; width],
            inh_check: vec![0.0; width],
            moved: vec![u64::MAX; width],
        }
    }

    /// The sums of a state from scratch (after lanes were regrouped).
    pub fn of(r: &[f64], n_exc: usize, width: usize) -> LaneSums {
        let mut s = LaneSums::new(width);
        s.exc_sum.fill(0.0);
        for row in r[..n_exc * width].chunks_exact(width) {
            for (x, &v) in s.exc_sum.iter_mut().zip(row) {
                *x += v;
            }
        }
        for row in r[n_exc * width..].chunks_exact(width) {
            for (x, &v) in s.inh_check.iter_mut().zip(row) {
                *x += v * 0.0;
            }
        }
        s
    }
}

/// The right-hand side as an integrator sees it.
pub struct Rhs<'a, T> {
    /// The transfer function.
    pub f: T,
    /// Shape and constants.
    pub frame: Frame,
    /// The stimulus.
    pub schedule: &'a Schedule,
    /// `eval(x, y)` sets `y = W x` for every lane (both `n · width`).
    pub eval: &'a mut dyn FnMut(&[f64], &mut [f64]),
}

/// A state updater: `r_k → r_{k+1}`.
pub trait Integrator: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// Work states (`n · width` each) it needs besides `r` and `y`.
    const BUFFERS: usize;

    /// Advance every lane of `r` from step `k` to `k + 1`; `y` is a work
    /// state for `W x`, `bufs` holds [`Self::BUFFERS`] more. Fills `sums`.
    #[allow(clippy::too_many_arguments)]
    fn step<T: Transfer>(
        &self,
        rhs: &mut Rhs<T>,
        k: usize,
        r: &mut [f64],
        y: &mut [f64],
        bufs: &mut [Lines],
        sums: &mut LaneSums,
        avx2: bool,
    );
}

/// The stimulus of neuron `i` when a targeted neuron gets `input`.
#[inline(always)]
fn stim(i: usize, n_target: usize, input: f64) -> f64 {
    if i < n_target {
        input
    } else {
        0.0
    }
}

/// The last pass of a step over lanes `lanes`: `r[at] = new(i, at, old)`
/// for neuron `i` at index `at`, gathering the lanes' [`LaneSums`].
#[inline(always)]
fn pass(
    fr: &Frame,
    lanes: std::ops::Range<usize>,
    r: &mut [f64],
    sums: &mut LaneSums,
    mut new: impl FnMut(usize, usize, f64) -> f64,
) {
    let w = fr.width;
    assert!(r.len() >= fr.n * w && lanes.end <= w && sums.exc_sum.len() >= w);
    for b in lanes.clone() {
        sums.exc_sum[b] = 0.0;
        sums.inh_check[b] = 0.0;
        sums.moved[b] = 0;
    }
    for i in 0..fr.n {
        for b in lanes.clone() {
            let at = i * w + b;
            let old = r[at];
            let v = new(i, at, old);
            r[at] = v;
            sums.moved[b] |= old.to_bits() ^ v.to_bits();
            if i < fr.n_exc {
                sums.exc_sum[b] += v;
            } else {
                sums.inh_check[b] += v * 0.0;
            }
        }
    }
}

/// Forward Euler in the notebook's operation order:
/// `r + (−r + f(W r + I(t_k))) · dt / tau`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Euler;

impl Euler {
    /// The update of every lane from `y = W r`, four lanes a register where
    /// the CPU has AVX2 (the same operations in the same order, so the same
    /// bits as the generic pass: tested).
    #[inline(always)]
    fn update<T: Transfer>(f: T, fr: &Frame, input: f64, r: &mut [f64], y: &[f64], sums: &mut LaneSums, avx2: bool) {
        let (dt, tau) = (fr.dt, fr.tau);
        let mut o = 0;
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // Lanes four at a time, so that each lane's running sums stay
            // in registers rather than in memory.
            while o + 4 <= fr.width {
                // SAFETY: AVX2 is only set where the CPU has it.
                unsafe { euler_four(f, fr, o, input, r, y, sums) };
                o += 4;
            }
        }
        let _ = avx2;
        // −r + f(x) written f(x) − r: the same number, and the same NaN
        // (sign included) as the AVX2 path, whose subtraction keeps the
        // NaN operand's sign where negating r first would flip it.
        pass(fr, o..fr.width, r, sums, |i, at, old| {
            old + (f.f(y[at] + stim(i, fr.n_target, input)) - old) * dt / tau
        });
    }
}

/// [`Euler::update`] of lanes `o..o + 4`: one register per neuron. The
/// compiler's version of the generic pass spent most of its instructions
/// on bounds checks and the rectifier's NaN test.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn euler_four<T: Transfer>(
    f: T,
    fr: &Frame,
    o: usize,
    input: f64,
    r: &mut [f64],
    y: &[f64],
    sums: &mut LaneSums,
) {
    use std::arch::x86_64::*;
    let (w, n, n_exc, n_target) = (fr.width, fr.n, fr.n_exc, fr.n_target);
    assert!(o + 4 <= w && n_target <= n_exc && n_exc <= n);
    assert!(r.len() >= n * w && y.len() >= n * w && sums.exc_sum.len() >= o + 4);
    let zero = _mm256_setzero_pd();
    let (dt, tau) = (_mm256_set1_pd(fr.dt), _mm256_set1_pd(fr.tau));
    let rp = r.as_mut_ptr().add(o);
    let yp = y.as_ptr().add(o);
    // One neuron: the new rates from the old and the input y + stim;
    // −r + f(x) is f(x) − r (IEEE subtraction is adding the negation).
    let step = |at: usize, stim: __m256d, moved: &mut __m256d| {
        let old = _mm256_loadu_pd(rp.add(at));
        let fx = f.f4(_mm256_add_pd(_mm256_loadu_pd(yp.add(at)), stim));
        let new = _mm256_add_pd(old, _mm256_div_pd(_mm256_mul_pd(_mm256_sub_pd(fx, old), dt), tau));
        _mm256_storeu_pd(rp.add(at), new);
        *moved = _mm256_or_pd(*moved, _mm256_xor_pd(old, new));
        new
    };
    let (mut sum, mut check, mut moved) = (zero, zero, zero);
    for (i, s) in [(0..n_target, input), (n_target..n_exc, 0.0)] {
        let s = _mm256_set1_pd(s);
        for i in i {
            sum = _mm256_add_pd(sum, step(i * w, s, &mut moved));
        }
    }
    for i in n_exc..n {
        let new = step(i * w, zero, &mut moved);
        check = _mm256_add_pd(check, _mm256_mul_pd(new, zero));
    }
    _mm256_storeu_pd(sums.exc_sum[o..o + 4].as_mut_ptr(), sum);
    _mm256_storeu_pd(sums.inh_check[o..o + 4].as_mut_ptr(), check);
    _mm256_storeu_pd(sums.moved[o..o + 4].as_mut_ptr().cast(), moved);
}

impl Integrator for Euler {
    const BUFFERS: usize = 0;

    fn step<T: Transfer>(
        &self,
        rhs: &mut Rhs<T>,
        k: usize,
        r: &mut [f64],
        y: &mut [f64],
        _bufs: &mut [Lines],
        sums: &mut LaneSums,
        avx2: bool,
    ) {
        (rhs.eval)(r, y);
        let input = rhs.schedule.input(k);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: AVX2 is only set where the CPU has it; the whole
            // update compiled for it (same operations, same order).
            return unsafe { euler_update_avx2(rhs.f, &rhs.frame, input, r, y, sums) };
        }
        Euler::update(rhs.f, &rhs.frame, input, r, y, sums, false);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn euler_update_avx2<T: Transfer>(f: T, fr: &Frame, input: f64, r: &mut [f64], y: &[f64], sums: &mut LaneSums) {
    Euler::update(f, fr, input, r, y, sums, true);
}

/// Exponential Euler: the input held over the step, the decay exact:
/// `r_{k+1} = f(x_k) + (r_k − f(x_k)) · exp(−dt / tau)`, `x_k = W r_k + I(t_k)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExponentialEuler;

impl Integrator for ExponentialEuler {
    const BUFFERS: usize = 0;

    fn step<T: Transfer>(
        &self,
        rhs: &mut Rhs<T>,
        k: usize,
        r: &mut [f64],
        y: &mut [f64],
        _bufs: &mut [Lines],
        sums: &mut LaneSums,
        _avx2: bool,
    ) {
        (rhs.eval)(r, y);
        let (fr, f) = (rhs.frame, rhs.f);
        let input = rhs.schedule.input(k);
        let e = (-fr.dt / fr.tau).exp();
        pass(&fr, 0..fr.width, r, sums, |i, at, old| {
            let fx = f.f(y[at] + stim(i, fr.n_target, input));
            fx + (old - fx) * e
        });
    }
}

/// The classical fourth-order Runge–Kutta method on
/// `F(r, t) = (−r + f(W r + I(t))) / tau`: `k1 = F(r_k, t_k)`,
/// `k2 = F(r_k + dt/2 · k1, t_k + dt/2)`, `k3 = F(r_k + dt/2 · k2, t_k + dt/2)`,
/// `k4 = F(r_k + dt · k3, t_{k+1})`,
/// `r_{k+1} = r_k + dt/6 · (k1 + 2 k2 + 2 k3 + k4)`; the stimulus is on
/// wherever `start ≤ t ≤ end` at the evaluated t.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rk4;

impl Integrator for Rk4 {
    /// The stage state and the running sum of the slopes.
    const BUFFERS: usize = 2;

    fn step<T: Transfer>(
        &self,
        rhs: &mut Rhs<T>,
        k: usize,
        r: &mut [f64],
        y: &mut [f64],
        bufs: &mut [Lines],
        sums: &mut LaneSums,
        _avx2: bool,
    ) {
        let (fr, f) = (rhs.frame, rhs.f);
        let (dt, tau, w) = (fr.dt, fr.tau, fr.width);
        let t = k as f64 * dt;
        let (i0, ih, i1) = (
            rhs.schedule.input_at(t),
            rhs.schedule.input_at(t + 0.5 * dt),
            rhs.schedule.input_at((k + 1) as f64 * dt),
        );
        let [x, acc] = bufs else {
            panic!("rk4 needs two work states");
        };
        let len = fr.n * w;
        // Entry `at` is neuron at / width: driven while at < n_target · width.
        let driven = fr.n_target * w;
        let slope = |y: f64, x: f64, at: usize, input: f64| {
            let stim = if at < driven { input } else { 0.0 };
            (-x + f.f(y + stim)) / tau
        };
        // k1, then x = r + dt/2 · k1.
        (rhs.eval)(r, y);
        for at in 0..len {
            let k1 = slope(y[at], r[at], at, i0);
            acc[at] = k1;
            x[at] = r[at] + 0.5 * dt * k1;
        }
        // k2 and k3 from the stage states.
        for weight in [0.5 * dt, dt] {
            (rhs.eval)(x, y);
            for at in 0..len {
                let ks = slope(y[at], x[at], at, ih);
                acc[at] += 2.0 * ks;
                x[at] = r[at] + weight * ks;
            }
        }
        // k4 and the combination.
        (rhs.eval)(x, y);
        pass(&fr, 0..w, r, sums, |_, at, old| {
            let k4 = slope(y[at], x[at], at, i1);
            old + dt / 6.0 * (acc[at] + k4)
        });
    }
}

/// The integrator an experiment names (`simulation.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// [`Euler`].
    #[default]
    Euler,
    /// [`ExponentialEuler`].
    ExponentialEuler,
    /// [`Rk4`].
    Rk4,
}

/// Every method: (name, one line of documentation).
pub const METHODS: &[(&str, &str)] = &[
    ("euler", "forward Euler, the notebook's update, bit for bit"),
    (
        "exponential_euler",
        "f(x) + (r − f(x)) · exp(−dt/tau), input held over the step",
    ),
    ("rk4", "classical Runge–Kutta, four evaluations of W r per step"),
];

/// Code that runs with a concrete integrator (see [`Method::with`]).
pub trait WithIntegrator {
    /// What the code returns.
    type Out;
    /// Run with `m`.
    fn run<I: Integrator>(self, m: I) -> Self::Out;
}

impl Method {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Method> {
        Ok(match s {
            "euler" => Method::Euler,
            "exponential_euler" => Method::ExponentialEuler,
            "rk4" => Method::Rk4,
            _ => bail!(
                "simulation.method: unknown '{s}' (expected one of {})",
                METHODS
                    .iter()
                    .map(|(n, _)| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Euler => "euler",
            Method::ExponentialEuler => "exponential_euler",
            Method::Rk4 => "rk4",
        }
    }

    /// Run `code` with the concrete integrator.
    #[inline]
    pub fn with<W: WithIntegrator>(self, code: W) -> W::Out {
        match self {
            Method::Euler => code.run(Euler),
            Method::ExponentialEuler => code.run(ExponentialEuler),
            Method::Rk4 => code.run(Rk4),
        }
    }

    /// Work states the method needs.
    pub fn buffers(self) -> usize {
        match self {
            Method::Euler => Euler::BUFFERS,
            Method::ExponentialEuler => ExponentialEuler::BUFFERS,
            Method::Rk4 => Rk4::BUFFERS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::transfer::{Linear, Relu, Tanh, ThresholdLinear};

    /// The four-lane AVX2 Euler update gives the generic pass's bits:
    /// rates, excitatory sums, the inhibitory check and the moved bits,
    /// with inputs of every sign, zeros of both signs, infinities and NaN.
    #[test]
    fn every_euler_build_gives_the_same_bits() {
        if !crate::sim::kernels::has_avx2() {
            return;
        }
        fn check<T: Transfer>(f: T, width: usize) {
            let (n, n_exc) = (37, 29);
            let fr = Frame {
                n,
                n_exc,
                n_target: 11,
                width,
                dt: 0.01,
                tau: 0.25,
            };
            let special = [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e-310, -1e-310];
            let mut s = 9u64;
            let mut next = |k: usize| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if k % 11 == 0 {
                    special[(s >> 40) as usize % special.len()]
                } else {
                    ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.4) * 50.0
                }
            };
            let r0: Vec<f64> = (0..n * width).map(|k| next(k).abs()).collect();
            let y: Vec<f64> = (0..n * width).map(&mut next).collect();
            let (mut a, mut b) = (r0.clone(), r0);
            let (mut sa, mut sb) = (LaneSums::new(width), LaneSums::new(width));
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { euler_update_avx2(f, &fr, 7.5, &mut a, &y, &mut sa) };
            Euler::update(f, &fr, 7.5, &mut b, &y, &mut sb, false);
            // Bits, every NaN as one: which NaN an operation returns (its
            // sign) is not fixed by the compiler, which may swap the
            // operands of an addition.
            let bits = |v: &[f64]| {
                v.iter()
                    .map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() })
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&a), bits(&b), "rates, {f:?} width {width}");
            assert_eq!(bits(&sa.exc_sum), bits(&sb.exc_sum), "sums, {f:?} width {width}");
            assert_eq!(bits(&sa.inh_check), bits(&sb.inh_check), "check, {f:?} width {width}");
            let moved = |s: &LaneSums| s.moved.iter().map(|&m| m != 0).collect::<Vec<_>>();
            assert_eq!(moved(&sa), moved(&sb), "moved, {f:?} width {width}");
        }
        for width in [1, 2, 4, 6, 8] {
            check(Relu, width);
            check(Linear, width);
            check(Tanh { gain: 0.1, r_max: 3.0 }, width);
            check(
                ThresholdLinear {
                    gain: 2.0,
                    threshold: 1.0,
                    r_max: 40.0,
                },
                width,
            );
        }
    }

    /// One step of each integrator on a two-neuron network worked out by
    /// hand: W = [[0, 0.5], [-0.25, 0]], dt = 0.1, tau = 0.5, f = tanh
    /// (gain 1, r_max 1), neuron 0 driven by 2 from t = 0.1 (first step
    /// k = 1), r_1 = (0.3, 0.2).
    #[test]
    fn one_step_of_each_method_by_hand() {
        let w = [[0.0, 0.5], [-0.25, 0.0]];
        let schedule = Schedule {
            steps: 100,
            on: (1, 50),
            on_value: 2.0,
            n_target: 1,
            strength: 2.0,
            dt: 0.1,
            start: 0.1,
            end: 5.0,
        };
        let fr = Frame {
            n: 2,
            n_exc: 1,
            n_target: 1,
            width: 1,
            dt: 0.1,
            tau: 0.5,
        };
        let f = Tanh { gain: 1.0, r_max: 1.0 };
        let wx = |x: &[f64]| [w[0][0] * x[0] + w[0][1] * x[1], w[1][0] * x[0] + w[1][1] * x[1]];
        let rhs_f = |x: &[f64], input: f64| {
            let y = wx(x);
            [(-x[0] + (y[0] + input).tanh()) / 0.5, (-x[1] + y[1].tanh()) / 0.5]
        };
        let r1 = [0.3, 0.2];
        let run = |m: Method| {
            struct Go(Schedule, Frame, [f64; 2]);
            impl WithIntegrator for Go {
                type Out = Vec<f64>;
                fn run<I: Integrator>(self, m: I) -> Vec<f64> {
                    let w = [[0.0, 0.5], [-0.25, 0.0]];
                    let mut eval = |x: &[f64], y: &mut [f64]| {
                        y[0] = w[0][0] * x[0] + w[0][1] * x[1];
                        y[1] = w[1][0] * x[0] + w[1][1] * x[1];
                    };
                    let mut rhs = Rhs {
                        f: Tanh { gain: 1.0, r_max: 1.0 },
                        frame: self.1,
                        schedule: &self.0,
                        eval: &mut eval,
                    };
                    let mut r = self.2.to_vec();
                    let mut y = vec![0.0; 2];
                    let mut bufs: Vec<Lines> = (0..I::BUFFERS).map(|_| Lines::zeroed(2)).collect();
                    let mut sums = LaneSums::new(1);
                    m.step(&mut rhs, 1, &mut r, &mut y, &mut bufs, &mut sums, false);
                    assert_eq!(sums.exc_sum[0].to_bits(), r[0].to_bits());
                    r
                }
            }
            m.with(Go(schedule.clone(), fr, r1))
        };
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-15);
        // Euler: r + dt · F(r).
        let k1 = rhs_f(&r1, 2.0);
        let euler = [r1[0] + 0.1 * k1[0], r1[1] + 0.1 * k1[1]];
        assert!(
            close(&run(Method::Euler), &euler),
            "{:?} vs {euler:?}",
            run(Method::Euler)
        );
        // Exponential Euler: f(x) + (r − f(x)) e^{−dt/tau}.
        let y = wx(&r1);
        let (f0, f1) = ((y[0] + 2.0).tanh(), y[1].tanh());
        let e = (-0.2f64).exp();
        let ee = [f0 + (r1[0] - f0) * e, f1 + (r1[1] - f1) * e];
        assert!(close(&run(Method::ExponentialEuler), &ee));
        // Rk4, stages written out (the stimulus is on at t = 0.1, 0.15, 0.2).
        let add = |a: [f64; 2], s: f64, b: [f64; 2]| [a[0] + s * b[0], a[1] + s * b[1]];
        let k2 = rhs_f(&add(r1, 0.05, k1), 2.0);
        let k3 = rhs_f(&add(r1, 0.05, k2), 2.0);
        let k4 = rhs_f(&add(r1, 0.1, k3), 2.0);
        let rk = [
            r1[0] + 0.1 / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
            r1[1] + 0.1 / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
        ];
        assert!(close(&run(Method::Rk4), &rk), "{:?} vs {rk:?}", run(Method::Rk4));
        let _ = f;
    }
}
