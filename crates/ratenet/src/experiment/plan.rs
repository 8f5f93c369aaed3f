//! The run order: sweep points (grid, first key slowest, values as listed) ×
//! conditions (file order) × seeds (ascending). A run's index in this order
//! is its identity for resuming, sharding and merging.

use crate::experiment::Spec;
use crate::Result;

/// One run of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct RunId {
    /// Position in run order.
    pub index: usize,
    /// Sweep point (index into [`Plan::points`]).
    pub point: usize,
    /// Condition (index into the spec's conditions).
    pub condition: usize,
    /// Seed.
    pub seed: u64,
}

/// One point of the sweep grid and the spec it resolves to.
#[derive(Debug, Clone)]
pub struct Point {
    /// Values of the swept keys, in key order.
    pub values: Vec<f64>,
    /// The spec with those values set.
    pub spec: Spec,
}

/// Every run of a spec, in run order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Swept keys (dotted), in file order.
    pub keys: Vec<String>,
    /// Grid points.
    pub points: Vec<Point>,
    /// Runs in order.
    pub runs: Vec<RunId>,
}

impl Plan {
    /// Lay out the runs of `spec`.
    pub fn new(spec: &Spec) -> Result<Plan> {
        let keys: Vec<String> = spec.sweep.params.iter().map(|(k, _)| k.clone()).collect();
        let mut grid: Vec<Vec<f64>> = vec![vec![]];
        for (_, vals) in &spec.sweep.params {
            grid = grid
                .into_iter()
                .flat_map(|p| vals.iter().map(move |&v| [p.clone(), vec![v]].concat()))
                .collect();
        }
        let mut points = Vec::with_capacity(grid.len());
        for values in grid {
            let mut s = spec.clone();
            for (k, &v) in keys.iter().zip(&values) {
                s = s.with_value(k, v)?;
            }
            points.push(Point { values, spec: s });
        }
        let mut runs = Vec::new();
        for p in 0..points.len() {
            for c in 0..spec.conditions.len() {
                for &seed in &spec.sweep.seeds {
                    runs.push(RunId {
                        index: runs.len(),
                        point: p,
                        condition: c,
                        seed,
                    });
                }
            }
        }
        Ok(Plan { keys, points, runs })
    }
}

/// A shard of the runs: those whose index mod `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, 0-based.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// Everything.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parse `K/N`, or `slurm` (from SLURM_ARRAY_TASK_ID, _MIN and _COUNT).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || crate::err!("--shard {s}: expected K/N with 0 <= K < N, or \"slurm\"");
        let (k, n) = if s == "slurm" {
            let var = |name: &str| -> Result<usize> {
                std::env::var(name)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| crate::err!("--shard slurm: environment variable {name} is missing or not a number (run inside a Slurm job array)"))
            };
            let id = var("SLURM_ARRAY_TASK_ID")?;
            let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
            (id.checked_sub(min).ok_or_else(bad)?, var("SLURM_ARRAY_TASK_COUNT")?)
        } else {
            let (k, n) = s.split_once('/').ok_or_else(bad)?;
            (
                k.trim().parse().map_err(|_| bad())?,
                n.trim().parse().map_err(|_| bad())?,
            )
        };
        if n == 0 || k >= n {
            return Err(bad());
        }
        Ok(Shard { index: k, count: n })
    }

    /// Whether run `index` belongs to this shard.
    pub fn owns(&self, index: usize) -> bool {
        index % self.count == self.index
    }

    /// File name of this shard's journal.
    pub fn journal_name(&self) -> String {
        format!("{}-of-{}.jsonl", self.index, self.count)
    }
}
