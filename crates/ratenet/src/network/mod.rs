//! Network: the E–E connectome (or nothing) → the full E/I weight matrix
//! [`Network`], with Erdős–Rényi E–I, I–E and I–I blocks, log-normal weights,
//! Dale's law and per-neuron E/I input balance, as the notebook builds it.
//!
//! `W` is post × pre: row `i` holds the inputs of neuron `i`.

pub mod build;
pub(crate) mod mt;
pub mod nulls;
pub mod rng;

pub use build::build;
pub use nulls::NullModel;

use crate::matrix::Csr;
use crate::{bail, Result};

/// Which network to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkKind {
    /// The observed E–E connectome embedded in a random E/I network.
    #[default]
    Observed,
    /// The class notebook's data-free random E/I network.
    Random,
    /// Its feed-forward variant (E–E block strictly upper triangular).
    Feedforward,
}

impl NetworkKind {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "observed" => Ok(Self::Observed),
            "random" => Ok(Self::Random),
            "feedforward" => Ok(Self::Feedforward),
            _ => bail!("network.kind: unknown '{s}' (expected \"observed\", \"random\" or \"feedforward\")"),
        }
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Observed => "observed",
            Self::Random => "random",
            Self::Feedforward => "feedforward",
        }
    }
}

/// Where an observed network's inhibitory neurons come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Inhibition {
    /// Invented, as the notebook does: `r_inhibitory` sets their number and
    /// the E–I, I–E and I–I blocks are drawn (Erdős–Rényi, log-normal).
    #[default]
    Random,
    /// The data's: `[data.inhibitory_select]` names the inhibitory cells and
    /// every block of W is the connectome's.
    Observed,
}

impl Inhibition {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "random" => Ok(Self::Random),
            "observed" => Ok(Self::Observed),
            _ => bail!("network.inhibition: unknown '{s}' (expected \"random\" or \"observed\")"),
        }
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Observed => "observed",
        }
    }
}

/// Which random streams build the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RngMode {
    /// Python's `random` (networkx) and numpy's legacy `RandomState`, bit for
    /// bit: O(n²) draws, fine up to a few thousand neurons.
    #[default]
    Notebook,
    /// Geometric skipping and xoshiro256++: O(edges), same distributions,
    /// different numbers. For large networks.
    Fast,
}

impl RngMode {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "notebook" => Ok(Self::Notebook),
            "fast" => Ok(Self::Fast),
            _ => bail!("network.rng: unknown '{s}' (expected \"notebook\" or \"fast\")"),
        }
    }

    /// The experiment-file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Notebook => "notebook",
            Self::Fast => "fast",
        }
    }
}

/// The `[network]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Observed, random or feed-forward.
    pub kind: NetworkKind,
    /// Size of the data-free networks.
    pub n_neurons: usize,
    /// Fraction of inhibitory neurons.
    pub r_inhibitory: f64,
    /// Gain of the log-normal weights `g · 10^|N(1, 0.2)|`.
    pub g: f64,
    /// Erdős–Rényi connection probability of the random blocks.
    pub connectivity_proba: f64,
    /// E–E probability of the feed-forward network (default: `connectivity_proba`).
    pub connectivity_proba_ee: Option<f64>,
    /// Target ratio of summed inhibitory to excitatory input per neuron.
    pub inh_exc_balance: f64,
    /// Whether to balance inputs at all.
    pub balance: bool,
    /// Random streams.
    pub rng: RngMode,
    /// Invented or observed inhibitory neurons (observed networks).
    pub inhibition: Inhibition,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            kind: NetworkKind::Observed,
            n_neurons: 200,
            r_inhibitory: 0.15,
            g: 0.002,
            connectivity_proba: 0.25,
            connectivity_proba_ee: None,
            inh_exc_balance: 0.15,
            balance: true,
            rng: RngMode::Notebook,
            inhibition: Inhibition::Random,
        }
    }
}

impl NetworkSpec {
    /// Refuse parameters the model has no meaning for.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.r_inhibitory) {
            bail!(
                "network.r_inhibitory = {}: expected 0 <= r_inhibitory < 1",
                self.r_inhibitory
            );
        }
        for (k, p) in [
            ("connectivity_proba", Some(self.connectivity_proba)),
            ("connectivity_proba_ee", self.connectivity_proba_ee),
        ] {
            if let Some(p) = p {
                if !(0.0..=1.0).contains(&p) {
                    bail!("network.{k} = {p}: expected a probability in [0, 1]");
                }
            }
        }
        if !self.g.is_finite() || self.g < 0.0 {
            bail!("network.g = {}: expected a finite number >= 0", self.g);
        }
        if !self.inh_exc_balance.is_finite() || self.inh_exc_balance < 0.0 {
            bail!(
                "network.inh_exc_balance = {}: expected a finite number >= 0",
                self.inh_exc_balance
            );
        }
        if self.kind != NetworkKind::Observed && self.n_neurons < 2 {
            bail!("network.n_neurons = {}: expected at least 2", self.n_neurons);
        }
        Ok(())
    }
}

/// Connection weights, dense for small networks and sparse for large ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// Row-major n × n.
    Dense(Vec<f64>),
    /// Compressed sparse rows.
    Sparse(Csr),
}

/// A built network: weights (post × pre), its E/I split and the statistics of
/// the E–E block that experiments report.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Neurons.
    pub n: usize,
    /// Excitatory neurons: `0..n_exc`.
    pub n_exc: usize,
    /// Weights, row = postsynaptic.
    pub w: Weights,
    /// Reciprocal ordered pairs of the E–E matrix (observed networks only).
    pub reciprocal: Option<u64>,
    /// Non-zeros of the E–E matrix (observed networks only).
    pub nnz_ee: Option<u64>,
}

impl Network {
    /// Weights as a dense row-major matrix.
    pub fn dense(&self) -> Vec<f64> {
        match &self.w {
            Weights::Dense(d) => d.clone(),
            Weights::Sparse(s) => s.to_dense(),
        }
    }

    /// Weights as compressed sparse rows.
    pub fn sparse(&self) -> Csr {
        match &self.w {
            Weights::Dense(d) => Csr::from_dense(self.n, self.n, d),
            Weights::Sparse(s) => s.clone(),
        }
    }

    /// The excitatory–excitatory block of W (row = post), columns ascending.
    pub fn exc_block(&self) -> Csr {
        let k = self.n_exc;
        let mut t = Vec::new();
        match &self.w {
            Weights::Dense(d) => {
                for i in 0..k {
                    for j in 0..k {
                        if d[i * self.n + j] != 0.0 {
                            t.push((i, j, d[i * self.n + j]));
                        }
                    }
                }
            }
            Weights::Sparse(s) => {
                for i in 0..k {
                    t.extend(s.row(i).filter(|&(j, _)| j < k).map(|(j, v)| (i, j, v)));
                }
            }
        }
        Csr::from_sorted_triplets(k, k, t)
    }

    /// Stored non-zero weights.
    pub fn nnz(&self) -> usize {
        match &self.w {
            Weights::Dense(d) => d.iter().filter(|&&v| v != 0.0).count(),
            Weights::Sparse(s) => s.nnz(),
        }
    }
}
