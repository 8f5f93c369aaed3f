//! The runner: pending runs of a plan on a thread pool, rows appended to the
//! journal as they finish.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::data::{Connectome, DataSpec};
use crate::experiment::plan::{Plan, RunId, Shard};
use crate::experiment::results::{Journal, OutputDir, Row};
use crate::experiment::{assemble, parts_nnz, simulate_run, Lane, Spec};
use crate::network::build::{self, Parts, RandomParts, SeedDraws};
use crate::network::{NetworkKind, NetworkSpec, RngMode};
use crate::sim::{batch, KernelChoice, Record, Schedule};
use crate::{err, Result};

/// Connectomes of a plan's points, loaded once per distinct `[data]`
/// (only a swept data key makes more than one).
pub struct Connectomes {
    by_point: Vec<Option<Arc<Connectome>>>,
}

impl Connectomes {
    /// Load what the points need; `store` as in [`Connectome::load_stored`].
    pub fn load(plan: &Plan, store: Option<&std::path::Path>) -> Result<Connectomes> {
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
                    let c = Arc::new(Connectome::load_stored(&p.spec.data, store)?);
                    cache.push((p.spec.data.clone(), c.clone()));
                    c
                }
            };
            by_point.push(Some(c));
        }
        Ok(Connectomes { by_point })
    }

    /// The warnings of the distinct connectomes loaded, each once, in order.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self.by_point.iter().flatten() {
            for w in &c.warnings {
                if !out.contains(w) {
                    out.push(w.clone());
                }
            }
        }
        out
    }

    /// The connectome of point `p`.
    pub fn of(&self, p: usize) -> Option<&Connectome> {
        self.by_point[p].as_deref()
    }
}

/// Simulate one run of the plan into a row.
pub(crate) fn run_one(plan: &Plan, connectomes: &Connectomes, run: &RunId) -> Result<Row> {
    let point = &plan.points[run.point];
    let spec: &Spec = &point.spec;
    let cond = &spec.conditions[run.condition];
    let (net, resp) = simulate_run(spec, connectomes.of(run.point), cond, run.seed, &Record::default())?;
    Ok(Row::new(
        run.index,
        &cond.name,
        run.seed,
        &point.values,
        &resp,
        net.reciprocal,
        net.nnz_ee,
        net.n,
        net.n_exc,
        net.nnz(),
    ))
}

/// Most runs advanced together by default: four fill an AVX2 register of rates.
pub const MAX_LANES: usize = 4;

/// Split pending runs into batches that share weights: the conditions of one
/// (point, seed) share their random blocks, and seeds with few conditions
/// fill a batch together (two seeds' observed runs share its E–E block, see
/// [`crate::sim::batch`]); without several conditions, the seeds of one
/// (point, condition) share the E–E block when no null model draws from the
/// seed. When the points differ only in weights drawn from
/// the same streams ([`points_nest`]: a sweep over `connectivity_proba`, `g`
/// or the balance), the runs of one seed go together across points instead:
/// their random blocks nest and run as one (see
/// [`crate::network::build::RandomParts`]); a run left alone that way joins
/// the other seeds' of its point and condition. Where seeds were paired and
/// the batches do not divide evenly among `threads`, the last pairs are run
/// as single seeds again, so that the last round keeps every thread busy
/// (a seed alone costs about half a pair). Batches never change a run's
/// result (see [`crate::sim::batch`]), only how fast it comes.
pub(crate) fn batches<'a>(
    plan: &Plan,
    pending: &[&'a RunId],
    max_lanes: usize,
    nest: bool,
    threads: usize,
) -> Vec<Vec<&'a RunId>> {
    let max_lanes = max_lanes.max(1);
    let by_seed = plan.points.first().is_some_and(|p| p.spec.conditions.len() > 1);
    let group = |runs: &[&'a RunId], key: &dyn Fn(&RunId) -> (usize, u64)| {
        let mut groups: Vec<((usize, u64), Vec<&'a RunId>)> = Vec::new();
        for &r in runs {
            let k = key(r);
            match groups.iter_mut().find(|(g, _)| *g == k) {
                Some((_, g)) => g.push(r),
                None => groups.push((k, vec![r])),
            }
        }
        groups
    };
    let alone = |r: &RunId| {
        if by_seed {
            (r.point, r.seed)
        } else {
            (r.point, r.condition as u64)
        }
    };
    if !nest || max_lanes == 1 {
        // Each batch with where its second seed starts, if it pairs two.
        let mut out: Vec<(Vec<&'a RunId>, Option<usize>)> = Vec::new();
        for (_, g) in group(pending, &alone) {
            match out.last_mut() {
                Some((last, paired @ None))
                    if by_seed
                        && g.len() < max_lanes
                        && last.len() + g.len() <= max_lanes
                        && last[0].point == g[0].point =>
                {
                    *paired = Some(last.len());
                    last.extend_from_slice(&g)
                }
                _ => out.extend(g.chunks(max_lanes).map(|c| (c.to_vec(), None))),
            }
        }
        let threads = threads.max(1);
        let mut split = (threads - out.len() % threads) % threads;
        for k in (0..out.len()).rev() {
            if split == 0 {
                break;
            }
            if let Some(at) = out[k].1.take() {
                let second = out[k].0.split_off(at);
                out.insert(k + 1, (second, None));
                split -= 1;
            }
        }
        return out.into_iter().map(|(b, _)| b).collect();
    }
    let mut out = Vec::new();
    let mut single = Vec::new();
    for (_, g) in group(pending, &|r| (0, r.seed)) {
        for c in g.chunks(max_lanes) {
            if c.len() == 1 && g.len() > 1 {
                single.push(c[0]);
            } else {
                out.push(c.to_vec());
            }
        }
    }
    for (_, g) in group(&single, &alone) {
        out.extend(g.chunks(max_lanes).map(|c| c.to_vec()));
    }
    out
}

/// Whether runs of different points may share a batch with nested random
/// blocks: observed networks of one connectome in notebook mode, the points
/// differing at most in `connectivity_proba`, `g` and the balance (the same
/// streams, the same schedule).
pub(crate) fn points_nest(plan: &Plan, connectomes: &Connectomes) -> bool {
    let Some(first) = plan.points.first() else {
        return false;
    };
    let base = &first.spec;
    let same_connectome = |i: usize| match (&connectomes.by_point[0], &connectomes.by_point[i]) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    plan.points.len() > 1
        && plan.points.iter().enumerate().all(|(i, p)| {
            let s = &p.spec;
            let network = NetworkSpec {
                connectivity_proba: base.network.connectivity_proba,
                g: base.network.g,
                balance: base.network.balance,
                inh_exc_balance: base.network.inh_exc_balance,
                ..s.network.clone()
            };
            s.network.kind == NetworkKind::Observed
                && s.network.rng == RngMode::Notebook
                && s.kernel == KernelChoice::Auto
                && same_connectome(i)
                && network == base.network
                && s.data == base.data
                && s.simulation == base.simulation
                && s.stimulus == base.stimulus
                && s.metric == base.metric
                && s.conditions == base.conditions
        })
}

/// Random draws shared between batches: the notebook streams of a seed,
/// drawn once for all sweep points of an observed network (see
/// [`SeedDraws`]). Kept only when several points can use them and they fit
/// in [`Draws::MAX_BYTES`].
pub(crate) struct Draws {
    enabled: bool,
    /// The largest connection probability among the plan's points.
    p_max: f64,
    kept: Mutex<Vec<(DrawKey, Arc<SeedDraws>)>>,
}

/// (seed, neurons, excitatory neurons).
type DrawKey = (u64, usize, usize);

impl Draws {
    /// Most memory the kept drawings may take.
    pub const MAX_BYTES: usize = 256 << 20;

    /// Drawings for `plan`'s pending runs: worth keeping when one seed
    /// recurs over several sweep points of observed networks in notebook mode.
    pub fn for_plan(plan: &Plan, connectomes: &Connectomes, pending: &[&RunId]) -> Draws {
        let observed_notebook = plan.points.iter().enumerate().all(|(i, p)| {
            p.spec.network.kind == NetworkKind::Observed
                && p.spec.network.rng == RngMode::Notebook
                && p.spec.network.inhibition == crate::network::Inhibition::Random
                && connectomes.of(i).is_some()
        });
        let mut seeds: Vec<u64> = pending.iter().map(|r| r.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        let points = pending
            .iter()
            .map(|r| r.point)
            .collect::<std::collections::BTreeSet<_>>();
        let p_max = plan
            .points
            .iter()
            .map(|p| p.spec.network.connectivity_proba)
            .fold(0.0, f64::max);
        // Per seed and network size: a column, two doubles and an offset per
        // pair kept (those outside the E–E block that are edges at p_max).
        let sizes: std::collections::BTreeSet<(usize, usize)> = (0..plan.points.len())
            .filter_map(|i| build::sizes_for(&plan.points[i].spec.network, Some(connectomes.of(i)?)).ok())
            .collect();
        let per_seed: usize = sizes
            .iter()
            .map(|&(n, n_exc)| ((n * n - n_exc * n_exc) as f64 * p_max.min(1.0) * 24.0) as usize + n * 8)
            .sum();
        let bytes = seeds.len().saturating_mul(per_seed);
        Draws {
            enabled: observed_notebook && points.len() > 1 && bytes <= Self::MAX_BYTES,
            p_max,
            kept: Mutex::new(Vec::new()),
        }
    }

    /// Nothing kept: every batch draws its own.
    pub fn none() -> Draws {
        Draws {
            enabled: false,
            p_max: 0.0,
            kept: Mutex::new(Vec::new()),
        }
    }

    fn random_parts(&self, spec: &Spec, n: usize, n_exc: usize, seed: u64) -> Result<RandomParts> {
        if !self.enabled {
            return build::random_parts(&spec.network, n, n_exc, seed);
        }
        let key = (seed, n, n_exc);
        let found = self
            .kept
            .lock()
            .map_err(|_| err!("draws lock poisoned"))?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, d)| d.clone());
        let d = match found {
            Some(d) => d,
            None => {
                // Drawn outside the lock: two batches may draw one seed at
                // once, which costs time, never a different result.
                let d = Arc::new(SeedDraws::draw(n, n_exc, seed, self.p_max)?);
                self.kept
                    .lock()
                    .map_err(|_| err!("draws lock poisoned"))?
                    .push((key, d.clone()));
                d
            }
        };
        build::random_parts_from(&spec.network, &d)
    }
}

/// Simulate a batch of runs of one sweep point into rows (in batch order).
pub fn run_batch(plan: &Plan, connectomes: &Connectomes, runs: &[&RunId]) -> Result<Vec<Row>> {
    run_batch_with(plan, connectomes, runs, &Draws::none(), &AtomicUsize::new(0))
}

/// As [`run_batch`], random parts taken from `draws`.
pub(crate) fn run_batch_with(
    plan: &Plan,
    connectomes: &Connectomes,
    runs: &[&RunId],
    draws: &Draws,
    idle: &AtomicUsize,
) -> Result<Vec<Row>> {
    let Some(first) = runs.first() else {
        return Ok(vec![]);
    };
    let spec: &Spec = &plan.points[first.point].spec;
    let several_points = runs.iter().any(|r| r.point != first.point);
    if spec.kernel != KernelChoice::Auto || (several_points && !points_nest(plan, connectomes)) {
        return runs.iter().map(|r| run_one(plan, connectomes, r)).collect();
    }
    // Points of one batch share the connectome, the conditions and the
    // schedule (points_nest); each run's network follows its own point.
    let lanes: Vec<Lane> = runs
        .iter()
        .map(|r| {
            let spec: &Spec = &plan.points[r.point].spec;
            Lane {
                spec,
                point: r.point,
                condition: &spec.conditions[r.condition],
                condition_index: r.condition,
                seed: r.seed,
            }
        })
        .collect();
    let parts = assemble(connectomes.of(first.point), &lanes, &|s, n, n_exc, seed| {
        draws.random_parts(s, n, n_exc, seed)
    })?;
    let schedule = Schedule::new(
        &spec.simulation,
        &spec.stimulus,
        parts[0].n,
        parts[0].n_exc,
        spec.network.r_inhibitory,
    )?;
    let lanes: Vec<&Parts> = parts.iter().collect();
    let mut responses = batch::simulate_batch_helped(
        &lanes,
        &schedule,
        &spec.simulation,
        &spec.metric,
        &Record::default(),
        idle,
    );
    crate::experiment::add_network_metrics(spec, &lanes, &mut responses);
    Ok(runs
        .iter()
        .zip(&parts)
        .zip(&responses)
        .map(|((r, p), resp)| {
            let nnz = parts_nnz(p);
            Row::new(
                r.index,
                &spec.conditions[r.condition].name,
                r.seed,
                &plan.points[r.point].values,
                resp,
                p.reciprocal,
                p.nnz_ee,
                p.n,
                p.n_exc,
                nnz,
            )
        })
        .collect())
}

/// Run every run of `shard` not yet in `done`, at most `max_lanes` runs
/// advanced together, appending rows to the shard's journal in `out` (if
/// any) as they finish; `progress(done, total)` is called after each.
/// Returns all rows known afterwards.
pub fn execute(
    plan: &Plan,
    connectomes: &Connectomes,
    out: Option<&OutputDir>,
    shard: Shard,
    done: BTreeMap<usize, Row>,
    max_lanes: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BTreeMap<usize, Row>> {
    execute_with(
        plan,
        connectomes,
        out,
        shard,
        done,
        &[],
        max_lanes,
        progress,
        &|| false,
        &AtomicUsize::new(0),
    )
}

/// [`execute`], leaving out the runs `elsewhere` (simulated by the caller,
/// who journals them) and counting in `idle` the threads that ran out of
/// batches, so that other work on the pool (the figures' trace runs) can
/// take their help. When `cancelled()` turns true no further batch starts
/// and the call returns an error ("interrupted"); the rows journalled so far
/// stay, so the same run resumes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn execute_with(
    plan: &Plan,
    connectomes: &Connectomes,
    out: Option<&OutputDir>,
    shard: Shard,
    mut done: BTreeMap<usize, Row>,
    elsewhere: &[usize],
    max_lanes: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
    idle: &AtomicUsize,
) -> Result<BTreeMap<usize, Row>> {
    let mine: Vec<&RunId> = plan.runs.iter().filter(|r| shard.owns(r.index)).collect();
    let total = mine.len();
    let not_here = |r: &&RunId| done.contains_key(&r.index) || elsewhere.contains(&r.index);
    let already = mine.iter().filter(|r| done.contains_key(&r.index)).count();
    let pending: Vec<&RunId> = mine.iter().copied().filter(|r| !not_here(r)).collect();
    progress(already, total);
    let journal = Mutex::new(out.map(|o| Journal::open(&o.journal_path(shard))).transpose()?);
    let counter = Mutex::new(already);
    let threads = rayon::current_num_threads();
    let groups = batches(plan, &pending, max_lanes, points_nest(plan, connectomes), threads);
    let draws = Draws::for_plan(plan, connectomes, &pending);
    // Every thread takes the next batch in plan order from one queue, so no
    // thread idles while batches wait (measured: EX2 about 5% faster than
    // rayon's split of the list, whose halves were unequal in work).
    let next = AtomicUsize::new(0);
    let work = |_| -> Result<Vec<Vec<Row>>> {
        let mut mine = Vec::new();
        loop {
            if cancelled() {
                idle.fetch_add(1, Ordering::Relaxed);
                return Err(err!("interrupted"));
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(runs) = groups.get(i) else {
                // No batch left: the batches still running may split their
                // steps with this thread (simulate_batch_helped).
                idle.fetch_add(1, Ordering::Relaxed);
                return Ok(mine);
            };
            let rows = run_batch_with(plan, connectomes, runs, &draws, idle)?;
            let mut j = journal.lock().map_err(|_| err!("journal lock poisoned"))?;
            if let Some(j) = j.as_mut() {
                for row in &rows {
                    j.append(row)?;
                }
            }
            drop(j);
            let mut c = counter.lock().map_err(|_| err!("progress lock poisoned"))?;
            *c += rows.len();
            progress(*c, total);
            drop(c);
            mine.push(rows);
        }
    };
    let workers = rayon::current_num_threads().min(groups.len()).max(1);
    let fresh: Vec<Vec<Row>> = (0..workers)
        .into_par_iter()
        .map(work)
        .collect::<Result<Vec<Vec<Vec<Row>>>>>()?
        .into_iter()
        .flatten()
        .collect();
    for r in fresh.into_iter().flatten() {
        done.insert(r.index, r);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Spec;

    /// Two conditions × ten seeds: seeds go two to a batch, except where
    /// that would leave a thread idle in the last round.
    #[test]
    fn paired_seeds_split_so_that_the_last_round_fills_every_thread() {
        let spec = Spec::parse(
            "[data]\nsynapses = \"s.feather\"\ncells = \"c.feather\"\n\
             [[condition]]\nname = \"observed\"\nnulls = []\n\
             [[condition]]\nname = \"shuffled\"\nnulls = [\"shuffle_connections\"]\n\
             [sweep]\nseeds = \"0-9\"\n",
        )
        .unwrap();
        let plan = Plan::new(&spec).unwrap();
        let pending: Vec<&RunId> = plan.runs.iter().collect();
        for (threads, sizes) in [
            (1, vec![4, 4, 4, 4, 4]),
            (2, vec![4, 4, 4, 4, 2, 2]),
            (3, vec![4, 4, 4, 4, 2, 2]),
            (4, vec![4, 4, 2, 2, 2, 2, 2, 2]),
            (5, vec![4, 4, 4, 4, 4]),
        ] {
            let b = batches(&plan, &pending, MAX_LANES, false, threads);
            assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), sizes, "{threads} threads");
            // Every run once; a batch holds whole seeds, the conditions of a seed together.
            let mut all: Vec<usize> = b.iter().flatten().map(|r| r.index).collect();
            all.sort_unstable();
            assert_eq!(all, (0..plan.runs.len()).collect::<Vec<_>>());
            for batch in &b {
                for r in batch.iter() {
                    assert_eq!(
                        batch.iter().filter(|x| x.seed == r.seed).count(),
                        2,
                        "seed {} whole",
                        r.seed
                    );
                }
            }
        }
    }
}
