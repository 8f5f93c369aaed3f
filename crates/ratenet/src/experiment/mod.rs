//! Experiments: a [`Spec`] → runs over sweep points × conditions × seeds →
//! [`Results`].

pub mod keys;
pub mod spec;

pub use spec::{Condition, MotifSpec, NullModelsSpec, Spec};

use std::sync::atomic::AtomicUsize;

use crate::data::Connectome;
use crate::matrix::Csr;
use crate::network::build::{self, Parts, RandomParts};
use crate::network::{self, nulls, Network};
use crate::sim::{self, Kernel, KernelChoice, Record, Response, Schedule};
use crate::Result;

/// Things a user should know before running `spec` that are not errors:
/// one line each. Today: keys set that do not apply ([`unused_keys`]); forward Euler with `dt ≥ 2 · tau`, where a
/// decoupled neuron no longer decays (`|1 − dt/tau| ≥ 1`); relu Euler can
/// give negative rates once `dt > tau`.
pub fn warnings(spec: &Spec) -> Vec<String> {
    let mut out = unused_keys(spec);
    if spec.simulation.method != sim::Method::Euler {
        return out;
    }
    let mut pairs = vec![(spec.simulation.dt, spec.simulation.tau)];
    for (k, vals) in &spec.sweep.params {
        for &v in vals {
            match k.as_str() {
                "simulation.dt" => pairs.push((v, spec.simulation.tau)),
                "simulation.tau" => pairs.push((spec.simulation.dt, v)),
                _ => {}
            }
        }
    }
    if let Some((dt, tau)) = pairs.into_iter().find(|&(dt, tau)| dt >= 2.0 * tau) {
        out.push(format!(
            "simulation.dt = {dt} ≥ 2 · tau = {}: forward Euler is unstable here (a decoupled neuron no longer decays, |1 − dt/tau| ≥ 1); use a smaller dt or method = \"exponential_euler\"",
            2.0 * tau
        ));
    }
    out
}

/// Keys the file sets that the network it describes does not use: the
/// fraction of inhibitory neurons under observed inhibition (the data give
/// them), the inhibitory selection without it.
fn unused_keys(spec: &Spec) -> Vec<String> {
    let given = |section: &str, key: &str| spec.raw.get(section).and_then(|t| t.get(key)).is_some();
    let swept = |key: &str| spec.sweep.params.iter().any(|(k, _)| k == key);
    let mut out = Vec::new();
    let observed = spec.needs_data() && spec.network.inhibition == network::Inhibition::Observed;
    if observed && (given("network", "r_inhibitory") || swept("network.r_inhibitory")) {
        out.push(
            "network.r_inhibitory does not apply with network.inhibition = \"observed\": the inhibitory neurons are those of [data.inhibitory_select]".to_string(),
        );
    }
    if !observed && given("data", "inhibitory_select") {
        out.push(
            "data.inhibitory_select is ignored: it applies with network.kind = \"observed\" and network.inhibition = \"observed\" only".to_string(),
        );
    }
    out
}

/// The connectome the spec asks for, or `None` for data-free networks;
/// `store` as in [`Connectome::load_stored`].
pub fn load_connectome(spec: &Spec, store: Option<&std::path::Path>) -> Result<Option<Connectome>> {
    if spec.needs_data() {
        Ok(Some(Connectome::load_stored(&spec.data, store)?))
    } else {
        Ok(None)
    }
}

/// The E–E matrix of a condition for a seed (its null models applied).
pub fn condition_matrix(
    spec: &Spec,
    connectome: Option<&Connectome>,
    condition: &Condition,
    seed: u64,
) -> Result<Option<Csr>> {
    connectome
        .map(|c| nulls::apply_chain(&c.ee(), &condition.nulls, seed, spec.network.rng))
        .transpose()
}

/// [`condition_matrix`] with each entry's summation key (see [`nulls::Keyed`]).
pub fn condition_keyed(
    spec: &Spec,
    connectome: Option<&Connectome>,
    condition: &Condition,
    seed: u64,
) -> Result<Option<nulls::Keyed>> {
    connectome
        .map(|c| nulls::apply_chain_keyed(&c.ee(), &condition.nulls, seed, spec.network.rng))
        .transpose()
}

/// Build the network of one run: the W that [`simulate_run`] simulates
/// (assembled from the same parts, rows in column order).
pub fn build_network(
    spec: &Spec,
    connectome: Option<&Connectome>,
    condition: &Condition,
    seed: u64,
) -> Result<Network> {
    let lane = Lane::alone(spec, condition, seed);
    Ok(assemble_one(connectome, lane)?.network())
}

/// [`assemble`] for one run, its random part drawn afresh.
fn assemble_one(connectome: Option<&Connectome>, lane: Lane) -> Result<Parts> {
    assemble(connectome, &[lane], &draw_random)?
        .pop()
        .ok_or_else(|| crate::err!("network: nothing assembled"))
}

/// One run to assemble for the engine: the spec of its sweep point, its
/// condition and seed. `point` and `condition_index` say what runs share:
/// runs of one (point, seed) share their random blocks, runs of one
/// condition share the E–E block unless a null model draws from the seed.
#[derive(Clone, Copy)]
pub(crate) struct Lane<'a> {
    /// The spec of the run's sweep point.
    pub spec: &'a Spec,
    /// Which sweep point (runs of one point and seed share random blocks).
    pub point: usize,
    /// The condition.
    pub condition: &'a Condition,
    /// Which condition (runs of one condition may share the E–E block).
    pub condition_index: usize,
    /// The seed.
    pub seed: u64,
}

impl<'a> Lane<'a> {
    /// A run simulated on its own (first point, its condition alone).
    fn alone(spec: &'a Spec, condition: &'a Condition, seed: u64) -> Lane<'a> {
        Lane {
            spec,
            point: 0,
            condition,
            condition_index: 0,
            seed,
        }
    }
}

/// How the random part of a run is drawn: `(spec, n, n_exc, seed)`.
pub(crate) type DrawRandom<'a> = dyn Fn(&Spec, usize, usize, u64) -> Result<RandomParts> + 'a;

/// Draw the random part afresh (nothing shared between calls).
pub(crate) fn draw_random(spec: &Spec, n: usize, n_exc: usize, seed: u64) -> Result<RandomParts> {
    network::build::random_parts(&spec.network, n, n_exc, seed)
}

/// The one path from runs to the [`Parts`] the engine simulates, used by
/// [`simulate_run`], [`simulate_conditions`] and the runner's batches. The
/// lanes share one connectome and one network size (those of the first
/// lane's spec); random blocks are drawn once per (point, seed) by `random`,
/// E–E blocks once per condition (and seed, where a null model draws from
/// it). Sharing never changes a run's parts, only how often they are built.
///
/// With observed inhibition (`network.inhibition = "observed"`) the blocks
/// other than E–E come from the connectome ([`build::observed_parts`]),
/// once per point for every seed, and null models act on the E–E block only.
pub(crate) fn assemble(connectome: Option<&Connectome>, lanes: &[Lane], random: &DrawRandom) -> Result<Vec<Parts>> {
    let Some(first) = lanes.first() else {
        return Ok(vec![]);
    };
    let mut sizes: Option<(usize, usize)> = None;
    let mut randoms: Vec<((usize, u64), RandomParts)> = Vec::new();
    let mut blocks: Vec<((usize, Option<u64>), EeBlock)> = Vec::new();
    let mut parts = Vec::with_capacity(lanes.len());
    for lane in lanes {
        let spec = lane.spec;
        // The E–E block first: a null model's error comes before a size's.
        let block = match connectome {
            None => None,
            Some(c) => {
                let seeded = lane.condition.nulls.iter().any(|n| n.draws_from_seed());
                let key = (lane.condition_index, seeded.then_some(lane.seed));
                Some(match blocks.iter().find(|(k, _)| *k == key) {
                    Some((_, b)) => b.clone(),
                    None => {
                        let k = nulls::apply_chain_keyed(&c.ee(), &lane.condition.nulls, lane.seed, spec.network.rng)?;
                        let b = EeBlock {
                            block: build::EeBlock::keyed(&k.m, &k.keys),
                            reciprocal: nulls::count_reciprocal(&k.m),
                            nnz: nulls::count_positive(&k.m),
                        };
                        blocks.push((key, b.clone()));
                        b
                    }
                })
            }
        };
        let (n, n_exc) = match sizes {
            Some(s) => s,
            None => *sizes.insert(build::sizes_for(&first.spec.network, connectome)?),
        };
        let observed = match connectome {
            Some(c) if spec.network.inhibition == network::Inhibition::Observed => Some(c),
            _ => None,
        };
        // Observed inhibition draws nothing: one part per point serves every seed.
        let key = (lane.point, if observed.is_some() { 0 } else { lane.seed });
        let rp = match randoms.iter().find(|(k, _)| *k == key) {
            Some((_, rp)) => rp.clone(),
            None => {
                let rp = match observed {
                    Some(c) => build::observed_parts(&spec.network, c)?,
                    None => random(spec, n, n_exc, lane.seed)?,
                };
                randoms.push((key, rp.clone()));
                rp
            }
        };
        parts.push(match block {
            Some(b) => build::parts_with(&spec.network, &rp, &b.block, Some(b.reciprocal), Some(b.nnz)),
            None => {
                let ee = rp
                    .ee
                    .clone()
                    .ok_or_else(|| crate::err!("network: a data-free network without its drawn E–E block"))?;
                build::parts_with(&spec.network, &rp, &build::EeBlock::drawn(ee), None, None)
            }
        });
    }
    Ok(parts)
}

/// A condition's E–E block (row = post) with its statistics.
#[derive(Clone)]
struct EeBlock {
    block: build::EeBlock,
    reciprocal: u64,
    nnz: u64,
}

/// The schedule of runs of `spec` on networks of `parts`' size.
fn schedule_for(spec: &Spec, parts: &Parts) -> Result<Schedule> {
    Schedule::new(
        &spec.simulation,
        &spec.stimulus,
        parts.n,
        parts.n_exc,
        spec.network.r_inhibitory,
    )
}

/// Build and simulate one run. With `simulation.kernel = "auto"` this is the
/// batched engine with one lane, so that a run alone and a run inside
/// `ratenet run` give the same bits; "dense"/"sparse" use the assembled W.
pub fn simulate_run(
    spec: &Spec,
    connectome: Option<&Connectome>,
    condition: &Condition,
    seed: u64,
    record: &Record,
) -> Result<(Network, Response)> {
    let lane = Lane::alone(spec, condition, seed);
    if spec.kernel == KernelChoice::Dense {
        // Before the blocks are drawn: their size does not depend on them.
        if !spec.needs_data() {
            sim::kernel::check_dense(spec.network.n_neurons)?;
        }
    }
    let parts = assemble_one(connectome, lane)?;
    if spec.kernel == KernelChoice::Dense {
        sim::kernel::check_dense(parts.n)?;
    }
    let net = parts.network();
    let schedule = schedule_for(spec, &parts)?;
    let resp = match spec.kernel {
        KernelChoice::Auto => {
            let mut v = sim::batch::simulate_batch(&[&parts], &schedule, &spec.simulation, &spec.metric, record);
            add_network_metrics(spec, &[&parts], &mut v);
            v.pop().ok_or_else(|| crate::err!("simulation produced no result"))?
        }
        choice => {
            let kernel = Kernel::new(&net, choice);
            let mut r = sim::simulate(&net, &kernel, &schedule, &spec.simulation, &spec.metric, record);
            if !sim::observe::network_metrics(&spec.metric).is_empty() {
                r.add_network_metrics(&spec.metric, net.n, &metric_dense(&net), spec.simulation.tau);
            }
            r
        }
    };
    Ok((net, resp))
}

/// The dense W the network metrics read; empty (their values null) above
/// the size a dense eigen-decomposition handles, so that a large network
/// never allocates n² for them.
fn metric_dense(net: &Network) -> Vec<f64> {
    if net.n <= crate::analysis::spectrum::MAX_DENSE {
        net.dense()
    } else {
        Vec::new()
    }
}

/// Fill in the network metrics that `spec` asks for (the spectrum) from
/// each run's W, computed once per distinct W (runs whose parts are the
/// same blocks share it).
pub fn add_network_metrics(spec: &Spec, parts: &[&network::build::Parts], responses: &mut [Response]) {
    if sim::observe::network_metrics(&spec.metric).is_empty() {
        return;
    }
    let same = |a: &network::build::Parts, b: &network::build::Parts| {
        std::sync::Arc::ptr_eq(&a.ee, &b.ee)
            && std::sync::Arc::ptr_eq(&a.exc_inh, &b.exc_inh)
            && std::sync::Arc::ptr_eq(&a.exc_factor, &b.exc_factor)
            && std::sync::Arc::ptr_eq(&a.inh_rows, &b.inh_rows)
    };
    for i in 0..parts.len().min(responses.len()) {
        match (0..i).find(|&j| same(parts[i], parts[j])) {
            Some(j) => {
                let cells: Vec<(&'static str, sim::Value)> = sim::observe::network_metrics(&spec.metric)
                    .iter()
                    .flat_map(|m| {
                        m.columns()
                            .iter()
                            .map(|c| (c.name, responses[j].get(c.name).unwrap_or(sim::Value::Null)))
                    })
                    .collect();
                for (c, v) in cells {
                    responses[i].set(c, v);
                }
            }
            None => {
                let net = parts[i].network();
                responses[i].add_network_metrics(&spec.metric, net.n, &metric_dense(&net), spec.simulation.tau);
            }
        }
    }
}

/// Simulate the runs of several conditions for one seed together, as the
/// runner's batches do: one drawing of the random blocks shared by all, so
/// that each weight is loaded once per step for every condition (the way
/// figures get their traces). Responses come in `conditions` order and equal
/// [`simulate_run`]'s bit for bit.
pub fn simulate_conditions(
    spec: &Spec,
    connectome: Option<&Connectome>,
    conditions: &[&Condition],
    seed: u64,
    record: &Record,
) -> Result<Vec<Response>> {
    Ok(
        simulate_conditions_helped(spec, connectome, conditions, seed, record, &AtomicUsize::new(0))?
            .into_iter()
            .map(|s| s.response)
            .collect(),
    )
}

/// Non-zero weights of the W of `p`.
pub(crate) fn parts_nnz(p: &Parts) -> usize {
    p.ee.nnz() + p.exc_inh.nnz() + p.inh_rows.nnz()
}

/// One run simulated with what a [`Row`] needs of its network.
pub(crate) struct Simulated {
    pub n: usize,
    pub n_exc: usize,
    pub reciprocal: Option<u64>,
    pub nnz_ee: Option<u64>,
    /// Non-zero weights of W.
    pub nnz: usize,
    pub response: Response,
}

impl Simulated {
    /// The row of run `index` (of `condition`, `seed`, at the point of `params`).
    pub fn row(&self, index: usize, condition: &str, seed: u64, params: &[f64]) -> Row {
        Row::new(
            index,
            condition,
            seed,
            params,
            &self.response,
            self.reciprocal,
            self.nnz_ee,
            self.n,
            self.n_exc,
            self.nnz,
        )
    }
}

/// [`simulate_conditions`], each step split with an idle thread of the pool
/// while `idle` (the threads that have run out of work) is not zero.
pub(crate) fn simulate_conditions_helped(
    spec: &Spec,
    connectome: Option<&Connectome>,
    conditions: &[&Condition],
    seed: u64,
    record: &Record,
    idle: &AtomicUsize,
) -> Result<Vec<Simulated>> {
    if spec.kernel != KernelChoice::Auto {
        return conditions
            .iter()
            .map(|c| {
                let (net, response) = simulate_run(spec, connectome, c, seed, record)?;
                Ok(Simulated {
                    n: net.n,
                    n_exc: net.n_exc,
                    reciprocal: net.reciprocal,
                    nnz_ee: net.nnz_ee,
                    nnz: net.nnz(),
                    response,
                })
            })
            .collect();
    }
    let lanes: Vec<Lane> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| Lane {
            spec,
            point: 0,
            condition: c,
            condition_index: i,
            seed,
        })
        .collect();
    let parts = assemble(connectome, &lanes, &draw_random)?;
    let Some(first) = parts.first() else {
        return Ok(vec![]);
    };
    let schedule = schedule_for(spec, first)?;
    let lanes: Vec<&Parts> = parts.iter().collect();
    let mut responses =
        sim::batch::simulate_batch_helped(&lanes, &schedule, &spec.simulation, &spec.metric, record, idle);
    add_network_metrics(spec, &lanes, &mut responses);
    Ok(parts
        .iter()
        .zip(responses)
        .map(|(p, response)| Simulated {
            n: p.n,
            n_exc: p.n_exc,
            reciprocal: p.reciprocal,
            nnz_ee: p.nnz_ee,
            nnz: parts_nnz(p),
            response,
        })
        .collect())
}

pub mod cluster;
pub mod plan;
pub mod results;
pub mod runner;

pub use plan::{Plan, RunId, Shard};
pub use results::{OutputDir, Results, Row};
