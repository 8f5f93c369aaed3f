//! Transfer functions `f` of `tau dr/dt = −r + f(W r + I)`.
//!
//! Each kind is one type implementing [`Transfer`]; the engines are generic
//! over it (monomorphised, so the relu of the homework costs what it did
//! when it was written into the update). [`TransferSpec`] is what an
//! experiment file names, and [`TransferSpec::with`] hands the engine the
//! concrete type. Adding a kind: a type with its `Transfer` impl, a variant
//! of `TransferSpec`, its row in [`KINDS`], and a test.
//!
//! Every `f` propagates NaN as numpy does: `np.maximum(a, b)` and
//! `np.minimum(a, b)` return NaN when either argument is NaN (Rust's
//! `f64::max`/`min` return the other argument).

use crate::{bail, Result};

/// A transfer function, applied to one input or (with AVX2) to four.
pub trait Transfer: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// `f(x)`.
    fn f(&self, x: f64) -> f64;

    /// `f` of four inputs at once; the default applies [`Transfer::f`] to each
    /// lane, which gives the same bits as the scalar path by construction.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn f4(&self, x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        let mut v = [0.0f64; 4];
        _mm256_storeu_pd(v.as_mut_ptr(), x);
        for x in &mut v {
            *x = self.f(*x);
        }
        _mm256_loadu_pd(v.as_ptr())
    }
}

/// numpy's `np.maximum(a, b)`: `a` when `a >= b` or `a` is NaN, else `b`
/// (so a NaN in either place comes out).
#[inline(always)]
pub fn np_maximum(a: f64, b: f64) -> f64 {
    if a >= b || a.is_nan() {
        a
    } else {
        b
    }
}

/// numpy's `np.minimum(a, b)`: `a` when `a <= b` or `a` is NaN, else `b`.
#[inline(always)]
pub fn np_minimum(a: f64, b: f64) -> f64 {
    if a <= b || a.is_nan() {
        a
    } else {
        b
    }
}

/// `max(0, x)` as numpy's `np.maximum(0, x)` computes it: `0 >= x ? 0 : x`
/// (NaN stays NaN, −0 gives +0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Relu;

impl Transfer for Relu {
    #[inline(always)]
    fn f(&self, x: f64) -> f64 {
        if 0.0 >= x {
            0.0
        } else {
            x
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn f4(&self, x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        // One compare and a mask: 0 >= x is false for NaN, which then stays.
        _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_setzero_pd(), x), x)
    }
}

/// `f(x) = x`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Linear;

impl Transfer for Linear {
    #[inline(always)]
    fn f(&self, x: f64) -> f64 {
        x
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn f4(&self, x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
        x
    }
}

/// `r_max · tanh(gain · x)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tanh {
    /// Slope at 0 divided by `r_max`.
    pub gain: f64,
    /// Saturation rate.
    pub r_max: f64,
}

impl Transfer for Tanh {
    #[inline(always)]
    fn f(&self, x: f64) -> f64 {
        self.r_max * (self.gain * x).tanh()
    }
}

/// `r_max / (1 + exp(−gain · (x − threshold)))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sigmoid {
    /// Steepness.
    pub gain: f64,
    /// Input at half saturation.
    pub threshold: f64,
    /// Saturation rate.
    pub r_max: f64,
}

impl Transfer for Sigmoid {
    #[inline(always)]
    fn f(&self, x: f64) -> f64 {
        self.r_max / (1.0 + (-(self.gain * (x - self.threshold))).exp())
    }
}

/// `min(max(gain · (x − threshold), 0), r_max)`, numpy's NaN-propagating
/// `np.maximum`/`np.minimum`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdLinear {
    /// Slope above threshold.
    pub gain: f64,
    /// Input below which the rate is 0.
    pub threshold: f64,
    /// Saturation rate (∞ allowed).
    pub r_max: f64,
}

impl Transfer for ThresholdLinear {
    #[inline(always)]
    fn f(&self, x: f64) -> f64 {
        np_minimum(np_maximum(self.gain * (x - self.threshold), 0.0), self.r_max)
    }
}

/// The transfer function an experiment names (`simulation.transfer`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TransferSpec {
    /// [`Relu`].
    #[default]
    Relu,
    /// [`Linear`].
    Linear,
    /// [`Tanh`].
    Tanh(Tanh),
    /// [`Sigmoid`].
    Sigmoid(Sigmoid),
    /// [`ThresholdLinear`].
    ThresholdLinear(ThresholdLinear),
}

/// Code that runs with a concrete transfer function (see [`TransferSpec::with`]).
pub trait WithTransfer {
    /// What the code returns.
    type Out;
    /// Run with `f`.
    fn run<T: Transfer>(self, f: T) -> Self::Out;
}

/// One parameter of a transfer kind.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name in the experiment file.
    pub name: &'static str,
    /// Default value.
    pub default: f64,
    /// Whether ∞ is allowed (otherwise the value must be finite).
    pub infinite_ok: bool,
    /// Whether it must be > 0 (otherwise any finite value).
    pub positive: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

/// A transfer kind: its name, formula and parameters.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Name in the experiment file.
    pub name: &'static str,
    /// `f(x)`, for documentation.
    pub formula: &'static str,
    /// Parameters, with defaults.
    pub params: &'static [Param],
}

const GAIN: Param = Param {
    name: "gain",
    default: 1.0,
    infinite_ok: false,
    positive: true,
    doc: "input gain (> 0)",
};
const THRESHOLD: Param = Param {
    name: "threshold",
    default: 0.0,
    infinite_ok: false,
    positive: false,
    doc: "input threshold (finite)",
};
const R_MAX: Param = Param {
    name: "r_max",
    default: 1.0,
    infinite_ok: false,
    positive: true,
    doc: "saturation rate (> 0)",
};

/// Every transfer kind, in documentation order.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "relu",
        formula: "max(0, x)",
        params: &[],
    },
    Kind {
        name: "linear",
        formula: "x",
        params: &[],
    },
    Kind {
        name: "tanh",
        formula: "r_max · tanh(gain · x)",
        params: &[GAIN, R_MAX],
    },
    Kind {
        name: "sigmoid",
        formula: "r_max / (1 + exp(−gain · (x − threshold)))",
        params: &[GAIN, THRESHOLD, R_MAX],
    },
    Kind {
        name: "threshold_linear",
        formula: "min(max(gain · (x − threshold), 0), r_max)",
        params: &[
            GAIN,
            THRESHOLD,
            Param {
                name: "r_max",
                default: f64::INFINITY,
                infinite_ok: true,
                positive: true,
                doc: "saturation rate (> 0, inf allowed)",
            },
        ],
    },
];

impl TransferSpec {
    /// Run `code` with the concrete transfer function.
    #[inline]
    pub fn with<W: WithTransfer>(&self, code: W) -> W::Out {
        match *self {
            TransferSpec::Relu => code.run(Relu),
            TransferSpec::Linear => code.run(Linear),
            TransferSpec::Tanh(t) => code.run(t),
            TransferSpec::Sigmoid(t) => code.run(t),
            TransferSpec::ThresholdLinear(t) => code.run(t),
        }
    }

    /// `f(x)` (dispatching per call: for tests and one-off values).
    pub fn apply(&self, x: f64) -> f64 {
        struct One(f64);
        impl WithTransfer for One {
            type Out = f64;
            fn run<T: Transfer>(self, f: T) -> f64 {
                f.f(self.0)
            }
        }
        self.with(One(x))
    }

    /// The kind's name.
    pub fn name(&self) -> &'static str {
        match self {
            TransferSpec::Relu => "relu",
            TransferSpec::Linear => "linear",
            TransferSpec::Tanh(_) => "tanh",
            TransferSpec::Sigmoid(_) => "sigmoid",
            TransferSpec::ThresholdLinear(_) => "threshold_linear",
        }
    }

    /// Whether `f(+0)` is `+0` bit for bit: only then does a network at rest
    /// stay at `r = 0` until the stimulus, so those steps need no computing.
    pub fn fixes_zero(&self) -> bool {
        self.apply(0.0).to_bits() == 0
    }

    /// Parse `simulation.transfer`: a kind's name, or an inline table
    /// `{ kind = "...", param = value, ... }`.
    pub fn from_toml(v: &toml::Value) -> Result<TransferSpec> {
        const KEY: &str = "simulation.transfer";
        let names = || {
            KINDS
                .iter()
                .map(|k| format!("\"{}\"", k.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (name, table) = match v {
            toml::Value::String(s) => (s.as_str(), None),
            toml::Value::Table(t) => match t.get("kind") {
                Some(toml::Value::String(s)) => (s.as_str(), Some(t)),
                Some(other) => bail!("{KEY}.kind: expected a string (one of {}), got {other}", names()),
                None => bail!("{KEY}: an inline table needs kind = one of {}", names()),
            },
            other => bail!(
                "{KEY}: expected a name (one of {}) or a table like {{ kind = \"tanh\", gain = 0.05 }}, got {other}",
                names()
            ),
        };
        let Some(kind) = KINDS.iter().find(|k| k.name == name) else {
            bail!("{KEY}: unknown '{name}' (expected one of {})", names());
        };
        let mut vals: Vec<f64> = kind.params.iter().map(|p| p.default).collect();
        if let Some(t) = table {
            for (k, v) in t {
                if k == "kind" {
                    continue;
                }
                let Some(i) = kind.params.iter().position(|p| p.name == k) else {
                    let known: Vec<&str> = kind.params.iter().map(|p| p.name).collect();
                    bail!(
                        "{KEY}.{k}: \"{name}\" has no parameter '{k}' ({})",
                        if known.is_empty() {
                            "it takes none".to_string()
                        } else {
                            format!("it takes {}", known.join(", "))
                        }
                    );
                };
                let p = &kind.params[i];
                let x = match v {
                    toml::Value::Float(x) => *x,
                    toml::Value::Integer(i) => *i as f64,
                    other => bail!("{KEY}.{k}: expected a number, got {other}"),
                };
                let ok_inf = p.infinite_ok && x == f64::INFINITY;
                if !(x.is_finite() || ok_inf) || (p.positive && x <= 0.0) {
                    bail!("{KEY}.{k} = {x}: expected {}", p.doc);
                }
                vals[i] = x;
            }
        }
        let get = |n: &str| {
            kind.params
                .iter()
                .position(|p| p.name == n)
                .map(|i| vals[i])
                .unwrap_or(f64::NAN)
        };
        Ok(match name {
            "relu" => TransferSpec::Relu,
            "linear" => TransferSpec::Linear,
            "tanh" => TransferSpec::Tanh(Tanh {
                gain: get("gain"),
                r_max: get("r_max"),
            }),
            "sigmoid" => TransferSpec::Sigmoid(Sigmoid {
                gain: get("gain"),
                threshold: get("threshold"),
                r_max: get("r_max"),
            }),
            "threshold_linear" => TransferSpec::ThresholdLinear(ThresholdLinear {
                gain: get("gain"),
                threshold: get("threshold"),
                r_max: get("r_max"),
            }),
            _ => unreachable!("every kind in KINDS has a variant"),
        })
    }

    /// Parse a name alone (`"relu"`, `"linear"`, ... with default parameters).
    pub fn parse(s: &str) -> Result<TransferSpec> {
        Self::from_toml(&toml::Value::String(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<TransferSpec> {
        let t: toml::Table = format!("v = {text}").parse().unwrap();
        TransferSpec::from_toml(&t["v"])
    }

    #[test]
    fn every_kind_parses_with_defaults_and_parameters() {
        assert_eq!(spec("\"relu\"").unwrap(), TransferSpec::Relu);
        assert_eq!(
            spec("{ kind = \"sigmoid\", gain = 0.2, threshold = 10, r_max = 100 }").unwrap(),
            TransferSpec::Sigmoid(Sigmoid {
                gain: 0.2,
                threshold: 10.0,
                r_max: 100.0
            })
        );
        assert_eq!(
            spec("{ kind = \"tanh\", gain = 0.05 }").unwrap(),
            TransferSpec::Tanh(Tanh { gain: 0.05, r_max: 1.0 })
        );
        assert_eq!(
            spec("\"threshold_linear\"").unwrap(),
            TransferSpec::ThresholdLinear(ThresholdLinear {
                gain: 1.0,
                threshold: 0.0,
                r_max: f64::INFINITY
            })
        );
        for k in KINDS {
            assert_eq!(TransferSpec::parse(k.name).unwrap().name(), k.name);
        }
    }

    #[test]
    fn bad_transfers_name_the_culprit() {
        let e = spec("\"softplus\"").unwrap_err();
        assert!(
            e.message().contains("softplus") && e.message().contains("sigmoid"),
            "{e}"
        );
        let e = spec("{ kind = \"tanh\", threshold = 1 }").unwrap_err();
        assert!(e.message().contains("simulation.transfer.threshold"), "{e}");
        let e = spec("{ kind = \"sigmoid\", gain = 0 }").unwrap_err();
        assert!(e.message().contains("gain = 0"), "{e}");
        let e = spec("{ kind = \"tanh\", r_max = inf }").unwrap_err();
        assert!(e.message().contains("r_max"), "{e}");
        assert!(spec("{ kind = \"threshold_linear\", r_max = inf }").is_ok());
        assert!(spec("{ gain = 1 }").unwrap_err().message().contains("kind"));
        assert!(spec("{ kind = \"relu\", gain = 2 }")
            .unwrap_err()
            .message()
            .contains("takes none"));
    }

    /// Values worked out by hand (and with numpy: `np.maximum(0, x)`,
    /// `r_max * np.tanh(gain * x)`, `r_max / (1 + np.exp(-gain * (x - th)))`,
    /// `np.minimum(np.maximum(gain * (x - th), 0), r_max)`).
    #[test]
    fn values_and_nan_propagation() {
        let tanh = TransferSpec::Tanh(Tanh { gain: 0.5, r_max: 2.0 });
        let sig = TransferSpec::Sigmoid(Sigmoid {
            gain: 0.2,
            threshold: 10.0,
            r_max: 100.0,
        });
        let tl = TransferSpec::ThresholdLinear(ThresholdLinear {
            gain: 2.0,
            threshold: 1.0,
            r_max: 5.0,
        });
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs().max(1.0);
        assert_eq!(TransferSpec::Relu.apply(-3.0), 0.0);
        assert_eq!(TransferSpec::Relu.apply(-0.0).to_bits(), 0);
        assert_eq!(TransferSpec::Relu.apply(2.5), 2.5);
        assert!(close(tanh.apply(1.0), 2.0 * 0.46211715726000974));
        assert!(close(sig.apply(10.0), 50.0));
        assert!(close(sig.apply(0.0), 100.0 / (1.0 + 2f64.exp())));
        assert_eq!(tl.apply(0.0), 0.0);
        assert_eq!(tl.apply(2.0), 2.0);
        assert_eq!(tl.apply(100.0), 5.0);
        for f in [TransferSpec::Relu, TransferSpec::Linear, tanh, sig, tl] {
            assert!(f.apply(f64::NAN).is_nan(), "{} must propagate NaN", f.name());
        }
        assert!(TransferSpec::Relu.fixes_zero() && tanh.fixes_zero() && tl.fixes_zero());
        assert!(!sig.fixes_zero());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn four_at_once_gives_the_scalar_bits() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        fn check<T: Transfer>(f: T) {
            use std::arch::x86_64::*;
            let xs = [-2.0, -0.0, 0.0, 3.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-310];
            for c in xs.chunks(4) {
                let mut out = [0.0f64; 4];
                // SAFETY: AVX2 checked above.
                unsafe { _mm256_storeu_pd(out.as_mut_ptr(), f.f4(_mm256_loadu_pd(c.as_ptr()))) };
                for (x, y) in c.iter().zip(out) {
                    assert_eq!(f.f(*x).to_bits(), y.to_bits(), "{f:?} at {x}");
                }
            }
        }
        check(Relu);
        check(Linear);
        check(Tanh { gain: 0.3, r_max: 2.0 });
    }
}
