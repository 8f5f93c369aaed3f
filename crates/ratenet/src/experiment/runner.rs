//! The runner: pending runs of a plan on a thread pool, rows appended to the
//! journal as they finish.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::data::{Connectome, DataSpec};
use crate::experiment::plan::{Plan, RunId, Shard};
use crate::experiment::results::{Journal, OutputDir, Row};
use crate::experiment::{simulate_run, Spec};
use crate::sim::Record;
use crate::{err, Result};

/// Connectomes of a plan's points, loaded once per distinct `[data]`
/// (only a swept data key makes more than one).
pub struct Connectomes {
    by_point: Vec<Option<Arc<Connectome>>>,
}

impl Connectomes {
    /// Load what the points need.
    pub fn load(plan: &Plan) -> Result<Connectomes> {
        let mut cache: Vec<(DataSpec, Arc<Connectome>)> = Vec::new();
        let mut by_point = Vec::new();
        for p in &plan.points {
            if !p.spec.needs_data() {
                by_point.push(None);
                continue;
            }
            let c = match cache.iter().find(|(d, _)| *d == p.spec.data) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = Arc::new(Connectome::load(&p.spec.data)?);
                    cache.push((p.spec.data.clone(), c.clone()));
                    c
                }
            };
            by_point.push(Some(c));
        }
        Ok(Connectomes { by_point })
    }

    /// The connectome of point `p`.
    pub fn of(&self, p: usize) -> Option<&Connectome> {
        self.by_point[p].as_deref()
    }
}

/// Simulate one run of the plan into a row.
pub fn run_one(plan: &Plan, connectomes: &Connectomes, run: &RunId) -> Result<Row> {
    let point = &plan.points[run.point];
    let spec: &Spec = &point.spec;
    let cond = &spec.conditions[run.condition];
    let (net, resp) = simulate_run(spec, connectomes.of(run.point), cond, run.seed, &Record::default())?;
    Ok(Row::new(run.index, &cond.name, run.seed, &point.values, &resp, net.reciprocal, net.nnz_ee, net.n, net.n_exc, net.nnz()))
}

/// Run every run of `shard` not yet in `done`, appending rows to the shard's
/// journal as they finish; `progress(done, total)` is called after each.
/// Returns all rows known afterwards.
pub fn execute(
    plan: &Plan,
    connectomes: &Connectomes,
    out: &OutputDir,
    shard: Shard,
    mut done: BTreeMap<usize, Row>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BTreeMap<usize, Row>> {
    let mine: Vec<&RunId> = plan.runs.iter().filter(|r| shard.owns(r.index)).collect();
    let total = mine.len();
    let pending: Vec<&RunId> = mine.iter().copied().filter(|r| !done.contains_key(&r.index)).collect();
    let already = total - pending.len();
    progress(already, total);
    let journal = Mutex::new(Journal::open(&out.journal_path(shard))?);
    let counter = Mutex::new(already);
    let fresh: Vec<Row> = pending
        .par_iter()
        .map(|run| {
            let row = run_one(plan, connectomes, run)?;
            journal.lock().map_err(|_| err!("journal lock poisoned"))?.append(&row)?;
            let mut c = counter.lock().map_err(|_| err!("progress lock poisoned"))?;
            *c += 1;
            progress(*c, total);
            Ok(row)
        })
        .collect::<Result<Vec<Row>>>()?;
    for r in fresh {
        done.insert(r.index, r);
    }
    Ok(done)
}
