//! Results: one [`Row`] per run, the journal they are appended to as runs
//! finish, and the tables written from them (`results.csv`/`.parquet`,
//! `summary.csv`, `stats.csv`). Tables depend only on the rows in run order,
//! which is what makes outputs identical for any thread count or shard split.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analysis::stats;
use crate::experiment::plan::{Plan, Shard};
use crate::experiment::Spec;
use crate::sim::Response;
use crate::{bail, err, Result};

/// One run's outcome, as stored in the journal and the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Position in run order.
    pub index: usize,
    /// Condition name.
    pub condition: String,
    /// Seed.
    pub seed: u64,
    /// Values of the swept keys.
    pub params: Vec<f64>,
    /// ΔT (s), if the run returned.
    pub delta_t: Option<f64>,
    /// Time of return (s).
    pub t_return: Option<f64>,
    /// Whether activity returned to baseline.
    pub returned: bool,
    /// Whether the run diverged.
    pub diverged: bool,
    /// Last simulated time (s).
    pub t_end: Option<f64>,
    /// Largest excitatory mean (None if not finite).
    pub peak_exc_mean: Option<f64>,
    /// Excitatory mean at t_end (None if not finite).
    pub final_exc_mean: Option<f64>,
    /// Reciprocal ordered pairs of the E–E matrix after null models.
    pub reciprocal: Option<u64>,
    /// Non-zeros of the E–E matrix after null models.
    pub nnz_ee: Option<u64>,
    /// Neurons.
    pub n_neurons: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// Steps simulated (for performance accounting; not in the tables).
    pub steps: u64,
    /// Non-zero weights of W (for performance accounting; not in the tables).
    pub nnz: u64,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Row {
    /// A row from a simulation's response.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: usize,
        condition: &str,
        seed: u64,
        params: &[f64],
        r: &Response,
        reciprocal: Option<u64>,
        nnz_ee: Option<u64>,
        n_neurons: usize,
        n_exc: usize,
        nnz: usize,
    ) -> Row {
        Row {
            index,
            condition: condition.to_string(),
            seed,
            params: params.to_vec(),
            delta_t: r.delta_t.and_then(finite),
            t_return: r.t_return.and_then(finite),
            returned: r.returned,
            diverged: r.diverged,
            t_end: finite(r.t_end),
            peak_exc_mean: finite(r.peak_exc_mean),
            final_exc_mean: finite(r.final_exc_mean),
            reciprocal,
            nnz_ee,
            n_neurons,
            n_exc,
            steps: r.steps_simulated as u64,
            nnz: nnz as u64,
        }
    }
}

/// A float in the shortest text that reads back exactly, in scientific
/// notation where Python's `repr` would use it (|x| < 1e-4 or ≥ 1e16).
pub fn fmt_float(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(fmt_float).unwrap_or_default()
}

fn opt_u(x: Option<u64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The spec as stored next to results: the merged TOML without `[output]`,
/// which says where results go, not what they are.
pub fn spec_fingerprint(spec: &Spec) -> String {
    let mut raw = spec.raw.clone();
    raw.remove("output");
    toml::to_string(&raw).unwrap_or_default()
}

/// An output folder: its journal files and tables.
#[derive(Debug, Clone)]
pub struct OutputDir {
    /// The folder.
    pub dir: PathBuf,
}

impl OutputDir {
    /// Open (creating) `dir` for `spec`; refuse a folder holding another
    /// experiment's results unless `force`, which clears them.
    pub fn prepare(dir: &Path, spec: &Spec, force: bool) -> Result<OutputDir> {
        let out = OutputDir { dir: dir.to_path_buf() };
        let spec_path = dir.join("spec.toml");
        let fp = spec_fingerprint(spec);
        if let Ok(old) = fs::read_to_string(&spec_path) {
            if old != fp {
                if !force {
                    bail!(
                        "{}: holds results of a different experiment (its spec.toml differs); use --force to start over or choose another --out",
                        dir.display()
                    );
                }
                let _ = fs::remove_dir_all(dir.join("shards"));
            }
        }
        fs::create_dir_all(dir.join("shards")).map_err(|e| err!("{}: cannot create ({e})", dir.display()))?;
        write_atomic(&spec_path, fp.as_bytes())?;
        Ok(out)
    }

    /// Open an existing folder (for `merge`).
    pub fn open(dir: &Path) -> Result<(OutputDir, String)> {
        let spec_path = dir.join("spec.toml");
        let text = fs::read_to_string(&spec_path)
            .map_err(|_| err!("{}: no spec.toml here; is this a ratenet run folder?", dir.display()))?;
        Ok((OutputDir { dir: dir.to_path_buf() }, text))
    }

    /// The journal of a shard.
    pub fn journal_path(&self, shard: Shard) -> PathBuf {
        self.dir.join("shards").join(shard.journal_name())
    }

    /// Every row in every journal, keyed by run index. A torn last line (a
    /// run killed while writing) is dropped, and the file cut back to the
    /// last whole line so that appends continue cleanly.
    pub fn read_rows(&self, plan: &Plan) -> Result<BTreeMap<usize, Row>> {
        let mut rows = BTreeMap::new();
        let shards = self.dir.join("shards");
        let Ok(entries) = fs::read_dir(&shards) else {
            return Ok(rows);
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
        files.sort();
        for path in files {
            let text = fs::read_to_string(&path).map_err(|e| err!("{}: cannot read ({e})", path.display()))?;
            let mut good = 0;
            for line in text.split_inclusive('\n') {
                if !line.ends_with('\n') {
                    break;
                }
                let Ok(row) = serde_json::from_str::<Row>(line.trim_end()) else {
                    break;
                };
                let Some(run) = plan.runs.get(row.index) else {
                    bail!("{}: run {} is not in this experiment's plan", path.display(), row.index);
                };
                if run.seed != row.seed {
                    bail!("{}: run {} does not match this experiment's plan", path.display(), row.index);
                }
                good += line.len();
                rows.insert(row.index, row);
            }
            if good < text.len() {
                let f = fs::OpenOptions::new().write(true).open(&path).map_err(|e| err!("{}: {e}", path.display()))?;
                f.set_len(good as u64).map_err(|e| err!("{}: {e}", path.display()))?;
            }
        }
        Ok(rows)
    }
}

/// Appends rows to a journal, one flushed line each, so that an interrupted
/// run loses at most the runs in flight.
pub struct Journal {
    file: fs::File,
    path: PathBuf,
}

impl Journal {
    /// Open for appending.
    pub fn open(path: &Path) -> Result<Journal> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| err!("{}: cannot open for writing ({e})", path.display()))?;
        Ok(Journal { file, path: path.to_path_buf() })
    }

    /// Append one row.
    pub fn append(&mut self, row: &Row) -> Result<()> {
        let mut line = serde_json::to_string(row).map_err(|e| err!("{e}"))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| err!("{}: cannot write ({e})", self.path.display()))
    }
}

/// Write a file atomically (temporary file + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    fs::write(&tmp, bytes).map_err(|e| err!("{}: cannot write ({e})", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| err!("{}: cannot write ({e})", path.display()))
}

/// All rows of an experiment in run order, with what is needed to tabulate them.
#[derive(Debug, Clone)]
pub struct Results {
    /// Swept keys.
    pub keys: Vec<String>,
    /// Condition names in file order (the first is the reference).
    pub conditions: Vec<String>,
    /// Sweep points (values per key).
    pub points: Vec<Vec<f64>>,
    /// Rows in run order.
    pub rows: Vec<Row>,
}

/// Number of bootstrap resamples for the CI of the mean difference.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// Seed of the bootstrap (fixed: statistics are deterministic).
pub const BOOTSTRAP_SEED: u64 = 20_251_125;

impl Results {
    /// Collect complete results; errors name the missing runs.
    pub fn from_rows(spec: &Spec, plan: &Plan, rows: BTreeMap<usize, Row>) -> Result<Results> {
        let missing: Vec<usize> = (0..plan.runs.len()).filter(|i| !rows.contains_key(i)).collect();
        if !missing.is_empty() {
            bail!(
                "{} of {} runs are missing (first: run {}); run the missing shards, or `ratenet run` again to finish",
                missing.len(),
                plan.runs.len(),
                missing[0]
            );
        }
        Ok(Results {
            keys: plan.keys.clone(),
            conditions: spec.conditions.iter().map(|c| c.name.clone()).collect(),
            points: plan.points.iter().map(|p| p.values.clone()).collect(),
            rows: rows.into_values().collect(),
        })
    }

    /// Rows of one point and condition.
    pub fn group(&self, point: &[f64], condition: &str) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.params == point && r.condition == condition).collect()
    }

    /// `results.csv`.
    pub fn results_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head = vec!["condition".to_string(), "seed".to_string()];
        head.extend(self.keys.iter().cloned());
        head.extend(RESULT_COLUMNS.iter().map(|s| s.to_string()));
        w.write_record(&head).ok();
        for r in &self.rows {
            let mut rec = vec![r.condition.clone(), r.seed.to_string()];
            rec.extend(r.params.iter().map(|&v| fmt_float(v)));
            rec.extend([
                opt(r.delta_t),
                opt(r.t_return),
                r.returned.to_string(),
                r.diverged.to_string(),
                opt(r.t_end),
                opt(r.peak_exc_mean),
                opt(r.final_exc_mean),
                opt_u(r.reciprocal),
                opt_u(r.nnz_ee),
                r.n_neurons.to_string(),
                r.n_exc.to_string(),
            ]);
            w.write_record(&rec).ok();
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// `summary.csv`: per point × condition.
    pub fn summary_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head: Vec<String> = self.keys.clone();
        head.extend(
            [
                "condition",
                "n",
                "n_returned",
                "n_diverged",
                "delta_t_mean",
                "delta_t_sd",
                "delta_t_median",
                "delta_t_min",
                "delta_t_max",
                "reciprocal_mean",
                "reciprocal_sd",
            ]
            .map(String::from),
        );
        w.write_record(&head).ok();
        for p in &self.points {
            for c in &self.conditions {
                let g = self.group(p, c);
                let dt: Vec<f64> = g.iter().filter_map(|r| r.delta_t).collect();
                let rc: Vec<f64> = g.iter().filter_map(|r| r.reciprocal.map(|x| x as f64)).collect();
                let d = stats::describe(&dt);
                let rd = stats::describe(&rc);
                let mut rec: Vec<String> = p.iter().map(|&v| fmt_float(v)).collect();
                rec.extend([
                    c.clone(),
                    g.len().to_string(),
                    g.iter().filter(|r| r.returned).count().to_string(),
                    g.iter().filter(|r| r.diverged).count().to_string(),
                    opt(d.mean),
                    opt(d.sd),
                    opt(d.median),
                    opt(d.min),
                    opt(d.max),
                    opt(rd.mean),
                    opt(rd.sd),
                ]);
                w.write_record(&rec).ok();
            }
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// `stats.csv`: each condition against the first at each point, over runs that returned.
    pub fn stats_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head: Vec<String> = self.keys.clone();
        head.extend(
            [
                "condition",
                "reference",
                "n",
                "n_reference",
                "n_not_returned",
                "n_reference_not_returned",
                "mean_diff",
                "ci_low",
                "ci_high",
                "mann_whitney_u",
                "p_value",
                "cliffs_delta",
                "cohens_d",
            ]
            .map(String::from),
        );
        w.write_record(&head).ok();
        let Some(reference) = self.conditions.first() else {
            return String::new();
        };
        for p in &self.points {
            let refs = self.group(p, reference);
            let y: Vec<f64> = refs.iter().filter_map(|r| r.delta_t).collect();
            for c in &self.conditions[1..] {
                let g = self.group(p, c);
                let x: Vec<f64> = g.iter().filter_map(|r| r.delta_t).collect();
                let cmp = stats::compare(&x, &y, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED);
                let mut rec: Vec<String> = p.iter().map(|&v| fmt_float(v)).collect();
                rec.extend([
                    c.clone(),
                    reference.clone(),
                    x.len().to_string(),
                    y.len().to_string(),
                    (g.len() - x.len()).to_string(),
                    (refs.len() - y.len()).to_string(),
                    opt(cmp.mean_diff),
                    opt(cmp.ci_low),
                    opt(cmp.ci_high),
                    opt(cmp.mann_whitney_u),
                    opt(cmp.p_value),
                    opt(cmp.cliffs_delta),
                    opt(cmp.cohens_d),
                ]);
                w.write_record(&rec).ok();
            }
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// `results.parquet`, with the same columns as `results.csv`.
    pub fn results_parquet(&self) -> Result<Vec<u8>> {
        use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array};
        let rows = &self.rows;
        let f = |g: &dyn Fn(&Row) -> Option<f64>| Arc::new(Float64Array::from(rows.iter().map(g).collect::<Vec<_>>())) as ArrayRef;
        let u = |g: &dyn Fn(&Row) -> Option<u64>| Arc::new(UInt64Array::from(rows.iter().map(g).collect::<Vec<_>>())) as ArrayRef;
        let b = |g: &dyn Fn(&Row) -> bool| Arc::new(BooleanArray::from(rows.iter().map(g).collect::<Vec<_>>())) as ArrayRef;
        let mut cols: Vec<(String, ArrayRef)> = vec![
            ("condition".into(), Arc::new(StringArray::from(rows.iter().map(|r| r.condition.as_str()).collect::<Vec<_>>())) as ArrayRef),
            ("seed".into(), u(&|r| Some(r.seed))),
        ];
        for (k, key) in self.keys.iter().enumerate() {
            cols.push((key.clone(), f(&|r| r.params.get(k).copied())));
        }
        cols.extend([
            ("delta_t".to_string(), f(&|r| r.delta_t)),
            ("t_return".into(), f(&|r| r.t_return)),
            ("returned".into(), b(&|r| r.returned)),
            ("diverged".into(), b(&|r| r.diverged)),
            ("t_end".into(), f(&|r| r.t_end)),
            ("peak_exc_mean".into(), f(&|r| r.peak_exc_mean)),
            ("final_exc_mean".into(), f(&|r| r.final_exc_mean)),
            ("reciprocal".into(), u(&|r| r.reciprocal)),
            ("nnz_ee".into(), u(&|r| r.nnz_ee)),
            ("n_neurons".into(), u(&|r| Some(r.n_neurons as u64))),
            ("n_exc".into(), u(&|r| Some(r.n_exc as u64))),
        ]);
        let batch = RecordBatch::try_from_iter(cols).map_err(|e| err!("results.parquet: {e}"))?;
        let mut buf = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).map_err(|e| err!("results.parquet: {e}"))?;
        writer.write(&batch).map_err(|e| err!("results.parquet: {e}"))?;
        writer.close().map_err(|e| err!("results.parquet: {e}"))?;
        Ok(buf)
    }

    /// Write `results.csv`, `results.parquet`, `summary.csv` and `stats.csv` into `dir`.
    pub fn write_tables(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join("results.csv"), self.results_csv().as_bytes())?;
        write_atomic(&dir.join("results.parquet"), &self.results_parquet()?)?;
        write_atomic(&dir.join("summary.csv"), self.summary_csv().as_bytes())?;
        write_atomic(&dir.join("stats.csv"), self.stats_csv().as_bytes())?;
        Ok(())
    }
}

/// Result columns after condition, seed and the swept keys.
pub const RESULT_COLUMNS: [&str; 11] = [
    "delta_t",
    "t_return",
    "returned",
    "diverged",
    "t_end",
    "peak_exc_mean",
    "final_exc_mean",
    "reciprocal",
    "nnz_ee",
    "n_neurons",
    "n_exc",
];
