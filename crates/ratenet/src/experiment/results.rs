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
use crate::sim::observe::{self, Column, ColumnKind};
use crate::sim::{Response, Value};
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
    /// The metric columns (see [`crate::sim::observe`]), by name.
    pub values: BTreeMap<String, Value>,
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
            values: r.metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            reciprocal,
            nnz_ee,
            n_neurons,
            n_exc,
            steps: r.steps_simulated as u64,
            nnz: nnz as u64,
        }
    }

    /// A metric column's value (null when absent).
    pub fn get(&self, column: &str) -> Value {
        self.values.get(column).copied().unwrap_or(Value::Null)
    }

    /// ΔT (s), if the run returned.
    pub fn delta_t(&self) -> Option<f64> {
        self.get("delta_t").as_f64()
    }

    /// Whether the run returned.
    pub fn returned(&self) -> bool {
        self.get("returned").as_bool()
    }

    /// Whether the run diverged.
    pub fn diverged(&self) -> bool {
        self.get("diverged").as_bool()
    }

    /// ΔT where the statistics use it: returned and not diverged.
    pub fn delta_t_for_stats(&self) -> Option<f64> {
        self.delta_t().filter(|_| self.returned() && !self.diverged())
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
    fingerprint_of(&spec.raw)
}

fn fingerprint_of(raw: &toml::Table) -> String {
    let mut raw = raw.clone();
    raw.remove("output");
    toml::to_string(&raw).unwrap_or_default()
}

/// The spec as `spec.toml` stores it: the merged TOML without `output.dir`
/// (the folder may move), keeping `output.figures` for `merge`.
pub fn stored_spec(spec: &Spec) -> String {
    let mut raw = spec.raw.clone();
    if let Some(toml::Value::Table(o)) = raw.get_mut("output") {
        o.remove("dir");
        if o.is_empty() {
            raw.remove("output");
        }
    }
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
    /// experiment's results. `force` starts over: earlier runs are discarded.
    pub fn prepare(dir: &Path, spec: &Spec, force: bool) -> Result<OutputDir> {
        let out = OutputDir { dir: dir.to_path_buf() };
        let spec_path = dir.join("spec.toml");
        let fp = spec_fingerprint(spec);
        if let Ok(old) = fs::read_to_string(&spec_path) {
            let old_fp = old.parse::<toml::Table>().map(|t| fingerprint_of(&t)).unwrap_or(old);
            if old_fp != fp && !force {
                bail!(
                    "{}: holds results of a different experiment (its spec.toml differs); use --force to start over or choose another --out",
                    dir.display()
                );
            }
        }
        if force {
            let _ = fs::remove_dir_all(dir.join("shards"));
        }
        fs::create_dir_all(dir.join("shards")).map_err(|e| err!("{}: cannot create ({e})", dir.display()))?;
        write_atomic(&spec_path, stored_spec(spec).as_bytes())?;
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
        self.read_rows_repairing(plan, None)
    }

    /// [`OutputDir::read_rows`] for a run of `shard`: only that shard's own
    /// journal is cut back to its last whole line. The other journals may be
    /// growing at this very moment (the other tasks of a job array), so a
    /// torn last line there is skipped, never cut.
    pub fn read_rows_for(&self, plan: &Plan, shard: Shard) -> Result<BTreeMap<usize, Row>> {
        self.read_rows_repairing(plan, Some(self.journal_path(shard)))
    }

    fn read_rows_repairing(&self, plan: &Plan, only: Option<PathBuf>) -> Result<BTreeMap<usize, Row>> {
        let mut rows = BTreeMap::new();
        let shards = self.dir.join("shards");
        let Ok(entries) = fs::read_dir(&shards) else {
            return Ok(rows);
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
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
                    bail!(
                        "{}: run {} does not match this experiment's plan",
                        path.display(),
                        row.index
                    );
                }
                good += line.len();
                rows.insert(row.index, row);
            }
            if good < text.len() && only.as_ref().is_none_or(|p| *p == path) {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| err!("{}: {e}", path.display()))?;
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
        Ok(Journal {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Append one row.
    pub fn append(&mut self, row: &Row) -> Result<()> {
        let mut line = serde_json::to_string(row).map_err(|e| err!("{e}"))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| err!("{}: cannot write ({e})", self.path.display()))
    }
}

/// Write a file atomically (temporary file + rename). The temporary file's
/// name is unique to the call (process id, time, counter), so that writers
/// in parallel (the tasks of a job array preparing one output folder, on
/// one or several nodes) never rename each other's file away.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = path.with_file_name(format!(
        ".{}.{}.{nanos}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    fs::write(&tmp, bytes).map_err(|e| err!("{}: cannot write ({e})", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err!("{}: cannot write ({e})", path.display())
    })
}

/// All rows of an experiment in run order, with what is needed to tabulate them.
#[derive(Debug, Clone)]
pub struct Results {
    /// Swept keys.
    pub keys: Vec<String>,
    /// The metric columns, in table order.
    pub columns: Vec<Column>,
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
            columns: observe::columns(&spec.metric),
            conditions: spec.conditions.iter().map(|c| c.name.clone()).collect(),
            points: plan.points.iter().map(|p| p.values.clone()).collect(),
            rows: rows.into_values().collect(),
        })
    }

    /// Rows of one point and condition.
    pub fn group(&self, point: &[f64], condition: &str) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.params == point && r.condition == condition)
            .collect()
    }

    /// The cell text of a metric value.
    fn cell(v: Value) -> String {
        match v {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Float(x) => fmt_float(x),
        }
    }

    /// The header of `results.csv`: condition, seed, the swept keys, the
    /// metric columns, then the network's counts.
    pub fn results_header(&self) -> Vec<String> {
        let mut head = vec!["condition".to_string(), "seed".to_string()];
        head.extend(self.keys.iter().cloned());
        head.extend(self.columns.iter().map(|c| c.name.to_string()));
        head.extend(NETWORK_COLUMNS.iter().map(|s| s.to_string()));
        head
    }

    /// `results.csv`.
    pub fn results_csv(&self) -> String {
        let head = self.results_header();
        let mut rows = Vec::with_capacity(self.rows.len());
        for r in &self.rows {
            let mut rec = vec![r.condition.clone(), r.seed.to_string()];
            rec.extend(r.params.iter().map(|&v| fmt_float(v)));
            rec.extend(self.columns.iter().map(|c| Self::cell(r.get(c.name))));
            rec.extend([
                opt_u(r.reciprocal),
                opt_u(r.nnz_ee),
                r.n_neurons.to_string(),
                r.n_exc.to_string(),
            ]);
            rows.push(rec);
        }
        csv_table(head, rows)
    }

    /// Float metric columns summarised per group (besides ΔT).
    fn summarised(&self) -> Vec<&'static str> {
        self.columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Float && SUMMARISED.contains(&c.name))
            .map(|c| c.name)
            .collect()
    }

    /// `summary.csv`: per point × condition. ΔT statistics use the runs
    /// that returned and did not diverge.
    pub fn summary_csv(&self) -> String {
        let mut cols: Vec<String> = [
            "condition",
            "n",
            "n_returned",
            "n_not_returned",
            "n_diverged",
            "delta_t_mean",
            "delta_t_sd",
            "delta_t_median",
            "delta_t_min",
            "delta_t_max",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let extra = self.summarised();
        for c in &extra {
            cols.push(format!("{c}_mean"));
            cols.push(format!("{c}_sd"));
        }
        cols.extend(["reciprocal_mean".to_string(), "reciprocal_sd".to_string()]);
        let head: Vec<String> = self.keys.iter().cloned().chain(cols).collect();
        let mut rows = Vec::new();
        for p in &self.points {
            for c in &self.conditions {
                let g = self.group(p, c);
                let dt: Vec<f64> = g.iter().filter_map(|r| r.delta_t_for_stats()).collect();
                let rc: Vec<f64> = g.iter().filter_map(|r| r.reciprocal.map(|x| x as f64)).collect();
                let d = stats::describe(&dt);
                let rd = stats::describe(&rc);
                let mut rec: Vec<String> = p.iter().map(|&v| fmt_float(v)).collect();
                let returned = g.iter().filter(|r| r.returned()).count();
                rec.extend([
                    c.clone(),
                    g.len().to_string(),
                    returned.to_string(),
                    (g.len() - returned).to_string(),
                    g.iter().filter(|r| r.diverged()).count().to_string(),
                    opt(d.mean),
                    opt(d.sd),
                    opt(d.median),
                    opt(d.min),
                    opt(d.max),
                ]);
                for col in &extra {
                    let v: Vec<f64> = g.iter().filter_map(|r| r.get(col).as_f64()).collect();
                    let s = stats::describe(&v);
                    rec.extend([opt(s.mean), opt(s.sd)]);
                }
                rec.extend([opt(rd.mean), opt(rd.sd)]);
                rows.push(rec);
            }
        }
        csv_table(head, rows)
    }

    /// `stats.csv`: each condition against the first at each point, over
    /// runs that returned and did not diverge.
    pub fn stats_csv(&self) -> String {
        let head = header(
            &self.keys,
            &[
                "condition",
                "reference",
                "n",
                "n_reference",
                "n_returned",
                "n_not_returned",
                "n_diverged",
                "n_reference_returned",
                "n_reference_not_returned",
                "n_reference_diverged",
                "mean_diff",
                "ci_low",
                "ci_high",
                "mann_whitney_u",
                "p_value",
                "cliffs_delta",
                "cohens_d",
            ],
        );
        let mut rows = Vec::new();
        let Some(reference) = self.conditions.first() else {
            return csv_table(head, rows);
        };
        let counts = |g: &[&Row]| {
            let returned = g.iter().filter(|r| r.returned()).count();
            [
                returned.to_string(),
                (g.len() - returned).to_string(),
                g.iter().filter(|r| r.diverged()).count().to_string(),
            ]
        };
        for p in &self.points {
            let refs = self.group(p, reference);
            let y: Vec<f64> = refs.iter().filter_map(|r| r.delta_t_for_stats()).collect();
            for c in &self.conditions[1..] {
                let g = self.group(p, c);
                let x: Vec<f64> = g.iter().filter_map(|r| r.delta_t_for_stats()).collect();
                let cmp = stats::compare(&x, &y, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED);
                let mut rec: Vec<String> = p.iter().map(|&v| fmt_float(v)).collect();
                rec.extend([c.clone(), reference.clone(), x.len().to_string(), y.len().to_string()]);
                rec.extend(counts(&g));
                rec.extend(counts(&refs));
                rec.extend([
                    opt(cmp.mean_diff),
                    opt(cmp.ci_low),
                    opt(cmp.ci_high),
                    opt(cmp.mann_whitney_u),
                    opt(cmp.p_value),
                    opt(cmp.cliffs_delta),
                    opt(cmp.cohens_d),
                ]);
                rows.push(rec);
            }
        }
        csv_table(head, rows)
    }

    /// The runs as an Arrow record batch, with the columns of `results.csv`.
    pub fn runs_batch(&self) -> Result<arrow_array::RecordBatch> {
        use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array};
        let rows = &self.rows;
        let f = |g: &dyn Fn(&Row) -> Option<f64>| {
            Arc::new(Float64Array::from(rows.iter().map(g).collect::<Vec<_>>())) as ArrayRef
        };
        let u = |g: &dyn Fn(&Row) -> Option<u64>| {
            Arc::new(UInt64Array::from(rows.iter().map(g).collect::<Vec<_>>())) as ArrayRef
        };
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                "condition".into(),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.condition.as_str()).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            ("seed".into(), u(&|r| Some(r.seed))),
        ];
        for (k, key) in self.keys.iter().enumerate() {
            cols.push((key.clone(), f(&|r| r.params.get(k).copied())));
        }
        for c in &self.columns {
            let a = match c.kind {
                ColumnKind::Float => f(&|r| r.get(c.name).as_f64()),
                ColumnKind::Bool => Arc::new(BooleanArray::from(
                    rows.iter()
                        .map(|r| match r.get(c.name) {
                            Value::Bool(b) => Some(b),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            };
            cols.push((c.name.to_string(), a));
        }
        cols.extend([
            ("reciprocal".to_string(), u(&|r| r.reciprocal)),
            ("nnz_ee".into(), u(&|r| r.nnz_ee)),
            ("n_neurons".into(), u(&|r| Some(r.n_neurons as u64))),
            ("n_exc".into(), u(&|r| Some(r.n_exc as u64))),
        ]);
        RecordBatch::try_from_iter(cols).map_err(|e| err!("results: {e}"))
    }

    /// `results.parquet`, with the same columns as `results.csv`.
    pub fn results_parquet(&self) -> Result<Vec<u8>> {
        let batch = self.runs_batch()?;
        let mut buf = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None)
            .map_err(|e| err!("results.parquet: {e}"))?;
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

    /// `summary.csv` as a record batch: counts as UInt64, the condition as
    /// text, every other column Float64 (null where the cell is empty).
    pub fn summary_batch(&self) -> Result<arrow_array::RecordBatch> {
        Self::csv_batch(&self.summary_csv(), &["condition"], &["n", "n_returned", "n_diverged"])
    }

    /// `stats.csv` as a record batch, typed as [`Results::summary_batch`].
    pub fn stats_batch(&self) -> Result<arrow_array::RecordBatch> {
        Self::csv_batch(
            &self.stats_csv(),
            &["condition", "reference"],
            &["n", "n_reference", "n_not_returned", "n_reference_not_returned"],
        )
    }

    /// A CSV table of this module as a record batch: `text` columns as
    /// strings, `counts` as UInt64, the rest Float64 (or strings, if not all
    /// numbers); an empty cell is null.
    /// The cells are shortest round-trip text, so the numbers are exact.
    fn csv_batch(table: &str, text: &[&str], counts: &[&str]) -> Result<arrow_array::RecordBatch> {
        use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
        let bad = |e: &dyn std::fmt::Display| err!("table: {e}");
        let mut r = csv::Reader::from_reader(table.as_bytes());
        let head: Vec<String> = r.headers().map_err(|e| bad(&e))?.iter().map(String::from).collect();
        let rows: Vec<csv::StringRecord> = r
            .records()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(&e))?;
        let mut cols: Vec<(String, ArrayRef)> = Vec::new();
        for (j, name) in head.iter().enumerate() {
            let cells = rows.iter().map(|row| row.get(j).filter(|c| !c.is_empty()));
            let col: ArrayRef = if text.contains(&name.as_str()) {
                Arc::new(StringArray::from(cells.collect::<Vec<_>>()))
            } else if counts.contains(&name.as_str()) {
                let v = cells
                    .map(|c| c.map(str::parse::<u64>).transpose())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(&format!("{name}: {e}")))?;
                Arc::new(UInt64Array::from(v))
            } else {
                // A column that is not all numbers stays text.
                match cells
                    .clone()
                    .map(|c| c.map(str::parse::<f64>).transpose())
                    .collect::<std::result::Result<Vec<_>, _>>()
                {
                    Ok(v) => Arc::new(Float64Array::from(v)),
                    Err(_) => Arc::new(StringArray::from(cells.collect::<Vec<_>>())),
                }
            };
            cols.push((name.clone(), col));
        }
        RecordBatch::try_from_iter(cols).map_err(|e| bad(&e))
    }
}

/// CSV text of a header and rows; writing to memory cannot fail.
fn csv_table(head: Vec<String>, rows: Vec<Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for rec in std::iter::once(head).chain(rows) {
        w.write_record(&rec).ok();
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The swept keys followed by `columns`.
fn header(keys: &[String], columns: &[&str]) -> Vec<String> {
    keys.iter()
        .cloned()
        .chain(columns.iter().map(|s| s.to_string()))
        .collect()
}

/// The network's counts, after the metric columns of `results.csv`.
pub const NETWORK_COLUMNS: [&str; 4] = ["reciprocal", "nnz_ee", "n_neurons", "n_exc"];

/// Float metric columns that `summary.csv` gives a mean and sd of.
pub const SUMMARISED: [&str; 4] = ["decay_tau", "decay_r2", "lambda_max", "decay_predicted"];

#[cfg(test)]
mod tests {
    //! `summary.csv` and `stats.csv` of hand-made rows, checked against
    //! numbers from numpy/scipy (`np.mean`, `np.std(ddof=1)`, `np.median`,
    //! `scipy.stats.mannwhitneyu(x, y, method="asymptotic")`, Cliff's delta as
    //! `np.sign(np.subtract.outer(x, y)).mean()`, Cohen's d with pooled
    //! `ddof=1` variances), and `fmt_float`.

    use super::*;

    /// A task of a job array reads every journal of the folder while the
    /// other tasks append to theirs: it cuts back a torn last line of its own
    /// journal only (another's may be a line being written); merge cuts all.
    #[test]
    fn a_shard_cuts_back_only_its_own_journal() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 20\n").unwrap();
        let out = OutputDir::prepare(dir.path(), &spec, false).unwrap();
        let plan = Plan::new(&spec).unwrap();
        let torn = "{\"index\": 0, \"se";
        let (mine, other) = (Shard { index: 0, count: 2 }, Shard { index: 1, count: 2 });
        for s in [mine, other] {
            fs::write(out.journal_path(s), torn).unwrap();
        }
        assert!(out.read_rows_for(&plan, mine).unwrap().is_empty());
        assert_eq!(fs::read_to_string(out.journal_path(mine)).unwrap(), "");
        assert_eq!(fs::read_to_string(out.journal_path(other)).unwrap(), torn);
        assert!(out.read_rows(&plan).unwrap().is_empty());
        assert_eq!(fs::read_to_string(out.journal_path(other)).unwrap(), "");
    }

    /// The tasks of a job array start together and each prepares the one
    /// output folder: none may fail (a shared temporary name once made one
    /// rename another's file away: "spec.toml: cannot write").
    #[test]
    fn output_folder_prepared_in_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let spec = Spec::parse("[network]\nkind = \"random\"\nn_neurons = 20\n").unwrap();
        for _ in 0..20 {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..8)
                    .map(|_| s.spawn(|| OutputDir::prepare(&out, &spec, false)))
                    .collect();
                for h in hs {
                    h.join().unwrap().unwrap();
                }
            });
        }
        let names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    /// A row at `network.g = g`; `delta_t = None` means not returned.
    fn row(
        index: usize,
        condition: &str,
        g: f64,
        delta_t: Option<f64>,
        diverged: bool,
        reciprocal: Option<u64>,
    ) -> Row {
        let f = |x: Option<f64>| x.map_or(Value::Null, Value::Float);
        let values = [
            ("delta_t", f(delta_t)),
            ("t_return", f(delta_t.map(|_| 30.0))),
            ("returned", Value::Bool(delta_t.is_some())),
            ("diverged", Value::Bool(diverged)),
            ("decay_tau", f(delta_t.map(|_| 2.5))),
            ("decay_r2", f(delta_t.map(|_| 0.99))),
            ("complete", Value::Bool(true)),
            ("t_end", Value::Float(if delta_t.is_some() { 30.0 } else { 50.0 })),
            ("peak_exc_mean", Value::Float(100.0)),
            (
                "final_exc_mean",
                if diverged {
                    Value::Null
                } else {
                    Value::Float(1.3650717354014372e-5)
                },
            ),
        ];
        Row {
            index,
            condition: condition.into(),
            seed: index as u64,
            params: vec![g],
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            reciprocal,
            nnz_ee: reciprocal.map(|_| 7978),
            n_neurons: 444,
            n_exc: 378,
            steps: 1,
            nnz: 1,
        }
    }

    /// Point g=1: observed 4 returned + 1 not; shuffled 4 returned + 1
    /// diverged. Point g=2: ties between the samples, no reciprocal counts.
    /// Point g=3: the reference has a single returned run.
    fn results() -> Results {
        let mut rows = Vec::new();
        let mut push = |c: &str, g: f64, dt: Option<f64>, div: bool, rc: Option<u64>| {
            let i = rows.len();
            rows.push(row(i, c, g, dt, div, rc));
        };
        for dt in [Some(15.47), Some(15.95), None, Some(15.29), Some(17.21)] {
            push("observed", 1.0, dt, false, Some(654));
        }
        for (dt, rc) in [
            (Some(12.39), 492),
            (Some(12.55), 454),
            (Some(13.51), 470),
            (None, 480),
            (Some(11.91), 460),
        ] {
            push("shuffled", 1.0, dt, dt.is_none(), Some(rc));
        }
        for dt in [2.0, 3.0, 4.0, 4.0] {
            push("observed", 2.0, Some(dt), false, None);
        }
        for dt in [1.0, 2.0, 2.0, 3.0, 5.0] {
            push("shuffled", 2.0, Some(dt), false, None);
        }
        for dt in [None, Some(14.0), None] {
            push("observed", 3.0, dt, false, Some(600));
        }
        for dt in [11.0, 12.0, 13.0] {
            push("shuffled", 3.0, Some(dt), false, Some(500));
        }
        Results {
            keys: vec!["network.g".into()],
            columns: observe::columns(&crate::sim::MetricSpec::notebook()),
            conditions: vec!["observed".into(), "shuffled".into()],
            points: vec![vec![1.0], vec![2.0], vec![3.0]],
            rows,
        }
    }

    fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let head = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(String::from).collect())
            .collect();
        (head, rows)
    }

    /// Cell `col` of `row` as a number, compared with `want` to 1e-12 relative;
    /// `None` wants an empty cell.
    fn check(head: &[String], row: &[String], col: &str, want: Option<f64>) {
        let i = head
            .iter()
            .position(|h| h == col)
            .unwrap_or_else(|| panic!("no column {col}"));
        let cell = &row[i];
        match want {
            None => assert_eq!(cell, "", "{col} of {row:?} should be empty"),
            Some(w) => {
                let got: f64 = cell
                    .parse()
                    .unwrap_or_else(|_| panic!("{col} = {cell:?} of {row:?} is not a number"));
                assert!(
                    (got - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{col} of {row:?}: {got} != {w}"
                );
            }
        }
    }

    #[test]
    fn summary_per_point_and_condition() {
        let (head, rows) = table(&results().summary_csv());
        assert_eq!(
            head.join(","),
            "network.g,condition,n,n_returned,n_not_returned,n_diverged,delta_t_mean,delta_t_sd,delta_t_median,delta_t_min,delta_t_max,decay_tau_mean,decay_tau_sd,decay_r2_mean,decay_r2_sd,reciprocal_mean,reciprocal_sd"
        );
        let keys: Vec<(&str, &str)> = rows.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
        assert_eq!(
            keys,
            [
                ("1", "observed"),
                ("1", "shuffled"),
                ("2", "observed"),
                ("2", "shuffled"),
                ("3", "observed"),
                ("3", "shuffled")
            ]
        );
        let cols = [
            "n",
            "n_returned",
            "n_not_returned",
            "n_diverged",
            "delta_t_mean",
            "delta_t_sd",
            "delta_t_median",
            "delta_t_min",
            "delta_t_max",
            "reciprocal_mean",
            "reciprocal_sd",
        ];
        #[rustfmt::skip]
        let want: [[Option<f64>; 11]; 6] = [
            [Some(5.0), Some(4.0), Some(1.0), Some(0.0), Some(15.98), Some(0.8660254037844392), Some(15.71), Some(15.29), Some(17.21), Some(654.0), Some(0.0)],
            [Some(5.0), Some(4.0), Some(1.0), Some(1.0), Some(12.59), Some(0.6709197666884864), Some(12.47), Some(11.91), Some(13.51), Some(471.2), Some(15.270887335056859)],
            [Some(4.0), Some(4.0), Some(0.0), Some(0.0), Some(3.25), Some(0.9574271077563381), Some(3.5), Some(2.0), Some(4.0), None, None],
            [Some(5.0), Some(5.0), Some(0.0), Some(0.0), Some(2.6), Some(1.5165750888103102), Some(2.0), Some(1.0), Some(5.0), None, None],
            // One returned run: no sd.
            [Some(3.0), Some(1.0), Some(2.0), Some(0.0), Some(14.0), None, Some(14.0), Some(14.0), Some(14.0), Some(600.0), Some(0.0)],
            [Some(3.0), Some(3.0), Some(0.0), Some(0.0), Some(12.0), Some(1.0), Some(12.0), Some(11.0), Some(13.0), Some(500.0), Some(0.0)],
        ];
        for (row, w) in rows.iter().zip(&want) {
            for (col, &v) in cols.iter().zip(w) {
                check(&head, row, col, v);
            }
            // The decay fit's columns are summarised too.
            check(&head, row, "decay_tau_mean", Some(2.5));
        }
        // Counts are written as integers.
        assert_eq!(&rows[1][2..6], ["5", "4", "1", "1"]);
    }

    /// A run that returned and then diverged counts as returned and as
    /// diverged, and its ΔT stays out of the statistics.
    #[test]
    fn diverged_runs_are_kept_apart() {
        let mut r = results();
        for row in r.rows.iter_mut().filter(|x| x.index == 0) {
            row.values.insert("diverged".into(), Value::Bool(true));
        }
        let (head, rows) = table(&r.summary_csv());
        check(&head, &rows[0], "n_returned", Some(4.0));
        check(&head, &rows[0], "n_diverged", Some(1.0));
        // ΔT of the three others: 15.95, 15.29, 17.21.
        check(&head, &rows[0], "delta_t_mean", Some(16.15));
        let (head, rows) = table(&r.stats_csv());
        check(&head, &rows[0], "n_reference", Some(3.0));
        check(&head, &rows[0], "n_reference_diverged", Some(1.0));
        check(&head, &rows[0], "n_reference_returned", Some(4.0));
    }

    #[test]
    fn stats_against_the_first_condition() {
        let (head, rows) = table(&results().stats_csv());
        assert_eq!(
            head.join(","),
            "network.g,condition,reference,n,n_reference,n_returned,n_not_returned,n_diverged,n_reference_returned,n_reference_not_returned,n_reference_diverged,mean_diff,ci_low,ci_high,mann_whitney_u,p_value,cliffs_delta,cohens_d"
        );
        assert_eq!(rows.len(), 3, "one row per point for the one non-reference condition");
        for (r, g) in rows.iter().zip(["1", "2", "3"]) {
            assert_eq!(
                (r[0].as_str(), r[1].as_str(), r[2].as_str()),
                (g, "shuffled", "observed")
            );
        }
        // scipy: mannwhitneyu(x, y) -> U1 = 0, p = 0.03038282197657749; all x < all y.
        let r = &rows[0];
        assert_eq!(&r[3..11], ["4", "4", "4", "1", "1", "4", "1", "0"]);
        check(&head, r, "mean_diff", Some(-3.3900000000000006));
        check(&head, r, "mann_whitney_u", Some(0.0));
        check(&head, r, "p_value", Some(0.03038282197657749));
        check(&head, r, "cliffs_delta", Some(-1.0));
        check(&head, r, "cohens_d", Some(-4.3762280641861));
        let f = |r: &[String], c: &str| -> f64 { r[head.iter().position(|h| h == c).unwrap()].parse().unwrap() };
        let (lo, hi) = (f(r, "ci_low"), f(r, "ci_high"));
        // Bootstrap bounds: inside the range of possible resampled differences
        // (min x − max y, max x − min y) and around the observed difference.
        assert!(
            (11.91 - 17.21..-3.39).contains(&lo) && -3.39 < hi && hi <= 13.51 - 15.29,
            "CI [{lo}, {hi}]"
        );

        // Ties within and across samples: U1 = 6.5, p = 0.45088703102517036.
        let r = &rows[1];
        assert_eq!(&r[3..11], ["5", "4", "5", "0", "0", "4", "0", "0"]);
        check(&head, r, "mean_diff", Some(-0.6499999999999999));
        check(&head, r, "mann_whitney_u", Some(6.5));
        check(&head, r, "p_value", Some(0.45088703102517036));
        check(&head, r, "cliffs_delta", Some(-0.35));
        check(&head, r, "cohens_d", Some(-0.4974832054943703));
        let (lo, hi) = (f(r, "ci_low"), f(r, "ci_high"));
        assert!(lo < -0.65 && -0.65 < hi, "CI [{lo}, {hi}]");

        // The reference has one returned run: every statistic is empty.
        let r = &rows[2];
        assert_eq!(&r[3..11], ["3", "1", "3", "0", "0", "1", "2", "0"]);
        for c in [
            "mean_diff",
            "ci_low",
            "ci_high",
            "mann_whitney_u",
            "p_value",
            "cliffs_delta",
            "cohens_d",
        ] {
            check(&head, r, c, None);
        }
    }

    #[test]
    fn stats_are_deterministic_and_follow_condition_order() {
        let a = results();
        assert_eq!(a.stats_csv(), results().stats_csv());
        // With "shuffled" as the reference the signed statistics flip.
        let mut b = results();
        b.conditions.reverse();
        let (head, rows) = table(&b.stats_csv());
        assert_eq!(&rows[0][1..3], ["observed", "shuffled"]);
        check(&head, &rows[0], "mean_diff", Some(3.3900000000000006));
        check(&head, &rows[0], "mann_whitney_u", Some(16.0));
        check(&head, &rows[0], "p_value", Some(0.03038282197657749));
        check(&head, &rows[0], "cliffs_delta", Some(1.0));
        check(&head, &rows[0], "cohens_d", Some(4.3762280641861));
    }

    #[test]
    fn results_csv_cells() {
        let text = results().results_csv();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "condition,seed,network.g,delta_t,t_return,returned,diverged,decay_tau,decay_r2,complete,t_end,peak_exc_mean,final_exc_mean,reciprocal,nnz_ee,n_neurons,n_exc"
        );
        assert_eq!(
            lines.next().unwrap(),
            "observed,0,1,15.47,30,true,false,2.5,0.99,true,30,100,1.3650717354014372e-5,654,7978,444,378"
        );
        // Not returned and diverged: empty ΔT, t_return and final mean.
        assert_eq!(
            lines.nth(7).unwrap(),
            "shuffled,8,1,,,false,true,,,true,50,100,,480,7978,444,378"
        );
        assert_eq!(
            lines.next().unwrap(),
            "shuffled,9,1,11.91,30,true,false,2.5,0.99,true,30,100,1.3650717354014372e-5,460,7978,444,378"
        );
        // No reciprocal counts: empty cells.
        assert_eq!(
            lines.next().unwrap(),
            "observed,10,2,2,30,true,false,2.5,0.99,true,30,100,1.3650717354014372e-5,,,444,378"
        );
        assert_eq!(text.lines().count(), 1 + results().rows.len());
    }

    #[test]
    fn fmt_float_is_shortest_round_trip_with_python_switch_to_scientific() {
        let cases: [(f64, &str); 16] = [
            (1.3650717354014372e-5, "1.3650717354014372e-5"),
            (15.469999999999999, "15.469999999999999"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0001, "0.0001"),
            (0.00009999999999999999, "9.999999999999999e-5"),
            (-2e-5, "-2e-5"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (0.0, "0"),
            (654.0, "654"),
            (-3.0, "-3"),
            (9999999999999998.0, "9999999999999998"),
            (1e16, "1e16"),
            (-1.5e16, "-1.5e16"),
            (f64::MAX, "1.7976931348623157e308"),
            (0.25, "0.25"),
        ];
        for (x, want) in cases {
            let s = fmt_float(x);
            assert_eq!(s, want, "fmt_float({x:?})");
            assert_eq!(
                s.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{s} does not read back"
            );
        }
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(fmt_float(x), "", "non-finite {x} is an empty cell");
        }
    }
}
