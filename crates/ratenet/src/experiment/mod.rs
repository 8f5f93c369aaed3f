//! Experiments: a [`Spec`] → runs over sweep points × conditions × seeds →
//! [`Results`].

pub mod keys;
pub mod spec;

pub use spec::{Condition, Spec};

use crate::data::Connectome;
use crate::matrix::Csr;
use crate::network::{self, nulls, Network};
use crate::sim::{self, Kernel, KernelChoice, Record, Response, Schedule};
use crate::Result;

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
        .map(|c| nulls::apply_chain(&c.matrix, &condition.nulls, seed, spec.network.rng))
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
        .map(|c| nulls::apply_chain_keyed(&c.matrix, &condition.nulls, seed, spec.network.rng))
        .transpose()
}

/// Build the network of one run.
pub fn build_network(
    spec: &Spec,
    connectome: Option<&Connectome>,
    condition: &Condition,
    seed: u64,
) -> Result<Network> {
    let ee = condition_matrix(spec, connectome, condition, seed)?;
    network::build(&spec.network, ee.as_ref(), seed)
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
    let ee = condition_keyed(spec, connectome, condition, seed)?;
    let parts = network::build::build_parts(&spec.network, ee.as_ref(), seed)?;
    let net = parts.network();
    let schedule = Schedule::new(
        &spec.simulation,
        &spec.stimulus,
        net.n,
        net.n_exc,
        spec.network.r_inhibitory,
    )?;
    let resp = match spec.kernel {
        KernelChoice::Auto => {
            let mut v = sim::batch::simulate_batch(&[&parts], &schedule, &spec.simulation, &spec.metric, record);
            add_network_metrics(spec, &[&parts], &mut v);
            v.pop().ok_or_else(|| crate::err!("simulation produced no result"))?
        }
        choice => {
            let kernel = Kernel::new(&net, choice);
            let mut r = sim::simulate(&net, &kernel, &schedule, &spec.simulation, &spec.metric, record);
            r.add_network_metrics(&spec.metric, net.n, &net.dense(), spec.simulation.tau);
            r
        }
    };
    Ok((net, resp))
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
                responses[i].add_network_metrics(&spec.metric, net.n, &net.dense(), spec.simulation.tau);
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
    if spec.kernel != KernelChoice::Auto {
        return conditions
            .iter()
            .map(|c| Ok(simulate_run(spec, connectome, c, seed, record)?.1))
            .collect();
    }
    let (n, n_exc) = network::build::sizes(&spec.network, connectome.map(|c| c.n()))?;
    let random = network::build::random_parts(&spec.network, n, n_exc, seed)?;
    let parts = conditions
        .iter()
        .map(|c| {
            let m = condition_keyed(spec, connectome, c, seed)?;
            network::build::parts_from(&spec.network, &random, m.as_ref())
        })
        .collect::<Result<Vec<_>>>()?;
    let schedule = Schedule::new(&spec.simulation, &spec.stimulus, n, n_exc, spec.network.r_inhibitory)?;
    let lanes: Vec<&network::build::Parts> = parts.iter().collect();
    let mut responses = sim::batch::simulate_batch(&lanes, &schedule, &spec.simulation, &spec.metric, record);
    add_network_metrics(spec, &lanes, &mut responses);
    Ok(responses)
}

pub mod plan;
pub mod results;
pub mod runner;

pub use plan::{Plan, RunId, Shard};
pub use results::{OutputDir, Results, Row};
