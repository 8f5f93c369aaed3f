//! The front door: an [`Experiment`] read from a file or from TOML text,
//! changed key by key as `--set` does, then run into [`Results`], one run
//! simulated ([`Experiment::simulate`]), or its networks built
//! ([`Experiment::network`], [`Experiment::connectome`]). Everything
//! `ratenet` does is one of these calls.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use serde_json::json;

use crate::analysis::motifs::MotifStat;
use crate::data::Connectome;
use crate::experiment::results::{Journal, Row};
use crate::experiment::runner::{self, Connectomes};
use crate::experiment::spec::{parse_set_value, set_key};
use crate::experiment::{self, OutputDir, Plan, Shard, Spec};
use crate::network::Network;
use crate::report::{self, RunInfo};
use crate::sim::{Record, Response};
use crate::{err, Result};

/// A value for [`Experiment::set`]: numbers and booleans as they are, text
/// as `--set` reads it (a TOML value if it is one, else a plain string).
pub trait SetValue {
    /// The TOML value.
    fn into_toml(self) -> toml::Value;
}

impl SetValue for toml::Value {
    fn into_toml(self) -> toml::Value {
        self
    }
}

impl SetValue for &str {
    fn into_toml(self) -> toml::Value {
        parse_set_value(self.trim())
    }
}

impl SetValue for String {
    fn into_toml(self) -> toml::Value {
        self.as_str().into_toml()
    }
}

impl SetValue for &String {
    fn into_toml(self) -> toml::Value {
        self.as_str().into_toml()
    }
}

impl SetValue for f64 {
    fn into_toml(self) -> toml::Value {
        toml::Value::Float(self)
    }
}

impl SetValue for bool {
    fn into_toml(self) -> toml::Value {
        toml::Value::Boolean(self)
    }
}

macro_rules! set_integer {
    ($($t:ty),*) => {$(
        impl SetValue for $t {
            fn into_toml(self) -> toml::Value {
                toml::Value::Integer(self as i64)
            }
        }
    )*};
}
set_integer!(i32, i64, u32, usize);

/// An experiment: its [`Spec`] and where its connectome tables are cached.
///
/// ```no_run
/// # fn main() -> ratenet::Result<()> {
/// let exp = ratenet::Experiment::from_path("examples/ex1_seeds.toml")?.set("network.g", 0.003)?;
/// let results = exp.run(&ratenet::RunOptions::default())?;
/// println!("{} runs", results.rows().len());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Experiment {
    spec: Spec,
    /// The file it was read from, named in errors.
    origin: Option<PathBuf>,
    store: Option<PathBuf>,
    connectome: OnceLock<Result<Option<Arc<Connectome>>>>,
}

impl Experiment {
    /// An experiment from a spec; the connectome cache is the download cache.
    pub fn from_spec(spec: Spec) -> Experiment {
        Experiment {
            spec,
            origin: None,
            store: crate::data::fetch::cache_dir().ok(),
            connectome: OnceLock::new(),
        }
    }

    /// Read an experiment file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Experiment> {
        Experiment::load(path, &[])
    }

    /// Read an experiment file and apply `key=value` overrides, as
    /// `ratenet run FILE --set key=value ...` does.
    pub fn load(path: impl AsRef<Path>, sets: &[String]) -> Result<Experiment> {
        let path = path.as_ref();
        let mut e = Experiment::from_spec(Spec::load(path, sets)?);
        e.origin = Some(path.to_path_buf());
        Ok(e)
    }

    /// An experiment from the text of an experiment file.
    pub fn from_toml_str(text: &str) -> Result<Experiment> {
        Ok(Experiment::from_spec(Spec::parse(text)?))
    }

    /// The same experiment with the dotted `key` set to `value`, as
    /// `--set key=value` does (`"network.g"`, `"sweep.seeds"`,
    /// `"data.select.cell_type"`); the result is checked at once. Keys that
    /// are only valid together go in one [`Experiment::set_args`].
    pub fn set(self, key: &str, value: impl SetValue) -> Result<Experiment> {
        let mut raw = self.spec.raw.clone();
        set_key(&mut raw, key.trim(), value.into_toml())?;
        self.with_raw(raw)
    }

    /// [`Experiment::set`] from the text `key=value` of `--set`.
    pub fn set_arg(self, arg: &str) -> Result<Experiment> {
        self.set_args(&[arg])
    }

    /// Several `key=value` texts of `--set`, applied in order and checked
    /// together, as `ratenet run FILE --set ... --set ...` does.
    pub fn set_args<S: AsRef<str>>(self, args: &[S]) -> Result<Experiment> {
        let mut raw = self.spec.raw.clone();
        for arg in args {
            let arg = arg.as_ref();
            let (k, v) = arg
                .split_once('=')
                .ok_or_else(|| err!("--set {arg}: expected section.key=value"))?;
            set_key(&mut raw, k.trim(), parse_set_value(v.trim()))?;
        }
        self.with_raw(raw)
    }

    /// The experiment of a changed table, checked.
    fn with_raw(self, raw: toml::Table) -> Result<Experiment> {
        let spec = Spec::from_table(raw).map_err(|e| match &self.origin {
            Some(p) => e.context(p.display()),
            None => e,
        })?;
        Ok(Experiment {
            spec,
            connectome: OnceLock::new(),
            ..self
        })
    }

    /// Where built connectomes are kept between runs (`None`: nowhere).
    pub fn with_store(self, store: Option<PathBuf>) -> Experiment {
        Experiment {
            store,
            connectome: OnceLock::new(),
            ..self
        }
    }

    /// The spec in force.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// What a user should know before running that is not an error (one
    /// line each), e.g. forward Euler with `dt ≥ 2 · tau`; once the
    /// connectome is loaded (by [`Experiment::data_warnings`],
    /// [`Experiment::connectome`], [`Experiment::network`] or
    /// [`Experiment::simulate`]), also its tables' warnings.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = crate::experiment::warnings(&self.spec);
        if let Some(Ok(Some(c))) = self.connectome.get() {
            w.extend(c.warnings.iter().cloned());
        }
        w
    }

    /// The warnings of the data tables (e.g. duplicate ids in the cell
    /// table), loading the connectome if it is not yet loaded; none for
    /// data-free networks. [`Experiment::run`] also reports them through
    /// [`Progress::warning`] and [`Results::warnings`].
    pub fn data_warnings(&self) -> Result<Vec<String>> {
        Ok(self.loaded()?.map(|c| c.warnings.clone()).unwrap_or_default())
    }

    /// Where built connectomes are kept between runs.
    pub fn store(&self) -> Option<&Path> {
        self.store.as_deref()
    }

    /// The connectome, loaded once; a failed load is kept too, so that it
    /// is not tried again (downloads included).
    fn loaded(&self) -> Result<Option<&Connectome>> {
        let c = self
            .connectome
            .get_or_init(|| experiment::load_connectome(&self.spec, self.store()).map(|c| c.map(Arc::new)));
        match c {
            Ok(c) => Ok(c.as_deref()),
            Err(e) => Err(e.clone()),
        }
    }

    /// The E–E connectome (`matrix`, pre × post, and the neurons' root
    /// `ids`); with observed inhibition every block, the last `n_inh`
    /// neurons inhibitory. An error for data-free networks.
    pub fn connectome(&self) -> Result<Connectome> {
        if !self.spec.needs_data() {
            return Err(err!(
                "connectome: network.kind = \"{}\" uses no data",
                self.spec.network.kind.name()
            ));
        }
        self.loaded()?.cloned().ok_or_else(|| err!("connectome: none loaded"))
    }

    /// The weight matrix W (row = post) of one run: `condition` by name
    /// (default: the first), sparse ([`Network::sparse`]) with a dense view
    /// ([`Network::dense`]). It is the W that [`Experiment::simulate`] and
    /// [`Experiment::run`] simulate.
    pub fn network(&self, seed: u64, condition: Option<&str>) -> Result<Network> {
        let cond = self.spec.condition(condition)?;
        experiment::build_network(&self.spec, self.loaded()?, cond, seed)
    }

    /// Simulate one run (`condition` by name, default the first) on the
    /// engine of [`Experiment::run`], bit for bit the run's result; with
    /// `trace`, the per-step means and stimulus are kept.
    pub fn simulate(&self, seed: u64, condition: Option<&str>, trace: bool) -> Result<Simulation> {
        let cond = self.spec.condition(condition)?;
        let record = Record { trace, neurons: vec![] };
        let (net, response) = experiment::simulate_run(&self.spec, self.loaded()?, cond, seed, &record)?;
        Ok(Simulation {
            condition: cond.name.clone(),
            seed,
            n_neurons: net.n,
            n_exc: net.n_exc,
            nnz: net.nnz(),
            reciprocal: net.reciprocal,
            nnz_ee: net.nnz_ee,
            response,
        })
    }

    /// Run the experiment: every sweep point × condition × seed (of
    /// `opts.shard`), in parallel. With `opts.out`, the folder gets what
    /// `ratenet run` writes (tables, `spec.toml`, `shards/`, figures and
    /// `report.html` when `output.figures` is on, `manifest.json`) and a run
    /// interrupted there resumes; without it nothing is written.
    pub fn run(&self, opts: &RunOptions) -> Result<Results> {
        let started = report::utc_now();
        let t0 = Instant::now();
        let spec = &self.spec;
        let shard = opts.shard;
        let (pool, threads) = thread_pool(opts.threads)?;
        let plan = Plan::new(spec)?;
        let connectomes = Connectomes::load(&plan, self.store())?;
        let warnings = connectomes.warnings();
        if let Some(p) = opts.progress {
            for w in &warnings {
                p.warning(w);
            }
        }
        let out = opts.out.map(|d| OutputDir::prepare(d, spec, opts.force)).transpose()?;
        let done = match &out {
            Some(o) => o.read_rows_for(&plan, shard)?,
            None => BTreeMap::new(),
        };
        let done_before: HashSet<usize> = done.keys().copied().collect();
        let progress = |d: usize, total: usize| {
            if let Some(p) = opts.progress {
                p.runs(d, total)
            }
        };
        let cancelled = || opts.progress.is_some_and(|p| p.cancelled());
        // Figures that need no results are drawn while the runs are simulated.
        let early_dir = opts
            .out
            .filter(|_| spec.output.figures && shard == Shard::ALL)
            .map(|d| d.join("figures"));
        // The time series' trace runs give their rows: the runner leaves them out.
        let traced: Vec<usize> = match early_dir {
            Some(_) => report::traced_runs(spec, &plan)
                .map(|r| r.index)
                .filter(|i| !done.contains_key(i))
                .collect(),
            None => vec![],
        };
        // The threads that run out of runs help the figures' trace runs.
        let idle = AtomicUsize::new(0);
        let ((rows, elapsed), early) = pool.install(|| {
            rayon::join(
                || {
                    let rows = runner::execute_with(
                        &plan,
                        &connectomes,
                        out.as_ref(),
                        shard,
                        done,
                        &traced,
                        opts.batch,
                        &progress,
                        &cancelled,
                        &idle,
                    );
                    (rows, t0.elapsed())
                },
                || {
                    early_dir
                        .as_deref()
                        .map(|fig| report::draw_early_helped(spec, &plan, &connectomes, fig, &idle))
                        .transpose()
                },
            )
        });
        let mut rows = rows?;
        let early = early?.map(|e| {
            let fresh: Vec<Row> = e.rows.into_iter().filter(|r| traced.contains(&r.index)).collect();
            (e.figures, fresh, e.traced_at.duration_since(t0))
        });
        let (early, elapsed) = match early {
            None => (None, elapsed),
            Some((figures, fresh, traced_at)) => {
                if let Some(o) = &out {
                    let mut journal = Journal::open(&o.journal_path(shard))?;
                    for r in &fresh {
                        journal.append(r)?;
                    }
                }
                rows.extend(fresh.into_iter().map(|r| (r.index, r)));
                if let Some(p) = opts.progress {
                    p.runs(rows.len(), plan.runs.len());
                }
                (Some(figures), elapsed.max(traced_at))
            }
        };
        if let Some(p) = opts.progress {
            p.runs_done();
        }
        let fresh: Vec<&Row> = rows
            .values()
            .filter(|r| shard.owns(r.index) && !done_before.contains(&r.index))
            .collect();
        let synaptic_updates: u64 = fresh.iter().map(|r| r.steps * r.nnz).sum();
        let fresh_runs = fresh.len();
        let shard_runs = plan.runs.iter().filter(|r| shard.owns(r.index)).count();
        let stats = RunStats {
            fresh_runs,
            shard_runs,
            synaptic_updates,
            elapsed,
        };
        if shard != Shard::ALL {
            let tables = experiment::Results {
                keys: plan.keys.clone(),
                columns: crate::sim::observe::columns(&spec.metric),
                conditions: spec.conditions.iter().map(|c| c.name.clone()).collect(),
                points: plan.points.iter().map(|p| p.values.clone()).collect(),
                rows: rows.into_values().collect(),
            };
            let complete = tables.rows.len() == plan.runs.len();
            return Ok(Results {
                tables,
                complete,
                warnings,
                stats,
                out: opts.out.map(Path::to_path_buf),
                shard,
            });
        }
        let tables = experiment::Results::from_rows(spec, &plan, rows)?;
        if let Some(dir) = &opts.out {
            let info = RunInfo {
                started,
                threads,
                shard: "all".into(),
            };
            pool.install(|| report::finalize(spec, &plan, &connectomes, &tables, dir, early, self.store(), &info))?;
        }
        Ok(Results {
            tables,
            complete: true,
            warnings,
            stats,
            out: opts.out.map(Path::to_path_buf),
            shard,
        })
    }

    /// Motif statistics of the observed E–E matrix (after `[data]`, before
    /// any condition's null model), as `ratenet motifs` computes them: the
    /// reciprocal ordered pairs and the 16-class triad census against an
    /// ensemble of each null model over the seeds, in parallel (the result
    /// does not depend on the thread count). Null models and seeds come from
    /// `opts`, else from the file's `[motifs]` section, else from the key
    /// table's defaults. With `opts.out`, `motifs.csv` and
    /// `figures/motifs.png` (and `.svg`) are written there.
    ///
    /// ```no_run
    /// # fn main() -> ratenet::Result<()> {
    /// use ratenet::api::MotifOptions;
    /// let exp = ratenet::Experiment::from_path("examples/ex3_reciprocal.toml")?;
    /// let opts = MotifOptions { nulls: Some(vec!["shuffle_connections".into()]), seeds: Some((0..20).collect()), ..Default::default() };
    /// let m = exp.motifs(&opts)?;
    /// println!("reciprocal: z = {:?}", m.get("reciprocal", "shuffle_connections").and_then(|s| s.z));
    /// print!("{}", m.csv());
    /// # Ok(())
    /// # }
    /// ```
    pub fn motifs(&self, opts: &MotifOptions) -> Result<Motifs> {
        if !self.spec.needs_data() {
            return Err(err!(
                "motifs: network.kind = \"{}\" uses no data (motif statistics count the observed E–E matrix)",
                self.spec.network.kind.name()
            ));
        }
        let section = self.spec.motifs.clone().unwrap_or_else(experiment::MotifSpec::defaults);
        let (nulls, key) = match &opts.nulls {
            Some(n) => (n.clone(), "--nulls"),
            None if self.spec.motifs.is_some() => (section.nulls, "motifs.nulls"),
            None => (section.nulls, "--nulls"),
        };
        let seeds = opts.seeds.clone().unwrap_or(section.seeds);
        // Names are checked before the data are read.
        experiment::MotifSpec::resolve(&nulls, key)?;
        let (pool, _) = thread_pool(opts.threads)?;
        let c = self.loaded()?.ok_or_else(|| err!("motifs: no connectome loaded"))?;
        let stats = pool.install(|| report::motif_stats(&c.ee(), &nulls, key, &seeds, &self.spec))?;
        let figure = match opts.out {
            Some(dir) => pool
                .install(|| report::write_motifs(&stats, &seeds, dir, true))?
                .map(|f| f.png),
            None => None,
        };
        Ok(Motifs {
            stats,
            nulls,
            seeds,
            figure,
        })
    }

    /// Merge the shards of the output folder `dir` into the files one run
    /// would write (`ratenet merge`); connectomes come from the download cache.
    pub fn merge(dir: &Path) -> Result<experiment::Results> {
        report::merge(dir, crate::data::fetch::cache_dir().ok().as_deref())
    }
}

/// A pool of `threads` workers (default: all cores).
fn thread_pool(threads: Option<usize>) -> Result<(rayon::ThreadPool, usize)> {
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if threads == 0 {
        return Err(err!("--threads 0: expected at least 1"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| err!("--threads {threads}: {e}"))?;
    Ok((pool, threads))
}

/// How [`Experiment::motifs`] runs; every field has a default.
#[derive(Debug, Clone, Default)]
pub struct MotifOptions<'a> {
    /// Null-model names, each an ensemble (as in `condition.nulls`); default:
    /// the file's `motifs.nulls`, else the key's default.
    pub nulls: Option<Vec<String>>,
    /// Seeds of each ensemble; default: the file's `motifs.seeds`, else 0–99.
    pub seeds: Option<Vec<u64>>,
    /// Folder for `motifs.csv` and `figures/motifs.png`; `None`: nothing written.
    pub out: Option<&'a Path>,
    /// Worker threads (default: all cores); the result never depends on it.
    pub threads: Option<usize>,
}

/// The result of [`Experiment::motifs`]: one [`MotifStat`] per null model
/// and motif (null models in the order given, motifs as
/// [`crate::analysis::motifs::MOTIFS`]: `reciprocal`, then the 16 triads).
#[derive(Debug, Clone, PartialEq)]
pub struct Motifs {
    stats: Vec<MotifStat>,
    nulls: Vec<String>,
    seeds: Vec<u64>,
    figure: Option<PathBuf>,
}

impl Motifs {
    /// Every statistic, grouped by null model.
    pub fn stats(&self) -> &[MotifStat] {
        &self.stats
    }

    /// The statistic of `motif` against the null model named `null`.
    pub fn get(&self, motif: &str, null: &str) -> Option<&MotifStat> {
        self.stats.iter().find(|s| s.motif == motif && s.null == null)
    }

    /// The null models, as named.
    pub fn nulls(&self) -> &[String] {
        &self.nulls
    }

    /// The seeds of each ensemble.
    pub fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    /// The figure written (with an output folder).
    pub fn figure(&self) -> Option<&Path> {
        self.figure.as_deref()
    }

    /// The table `ratenet motifs` prints and writes as `motifs.csv`:
    /// `motif,null,observed,null_mean,null_sd,z,p`.
    pub fn csv(&self) -> String {
        report::motifs_csv(&self.stats)
    }
}

/// Follows a run's progress; the CLI draws a bar, other front ends their own.
pub trait Progress: Sync {
    /// `done` of `total` runs are finished. Called once before the first
    /// run and then as runs finish, from the worker threads.
    fn runs(&self, done: usize, total: usize);

    /// The runs are over; the tables, figures and report follow.
    fn runs_done(&self) {}

    /// Whether the run should stop (e.g. the user pressed Ctrl-C): asked
    /// before each batch of runs starts; once true, no further batch starts
    /// and [`Experiment::run`] returns the error "interrupted". With an
    /// output folder the finished runs stay in its journal, so the same run
    /// resumes.
    fn cancelled(&self) -> bool {
        false
    }

    /// Something the user should know that is not an error (one line, e.g.
    /// duplicate ids in the cell table), told once before the runs start.
    fn warning(&self, _line: &str) {}
}

/// How [`Experiment::run`] runs.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Output folder; `None`: nothing is written.
    pub out: Option<&'a Path>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Which runs ([`Shard::ALL`] by default; see [`Shard::parse`]).
    pub shard: Shard,
    /// Start over in a folder that holds another experiment's results.
    pub force: bool,
    /// Most runs advanced together over shared weights; results never depend on it.
    pub batch: usize,
    /// Told as runs finish.
    pub progress: Option<&'a dyn Progress>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            out: None,
            threads: None,
            shard: Shard::ALL,
            force: false,
            batch: runner::MAX_LANES,
            progress: None,
        }
    }
}

/// What a run did, for accounting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunStats {
    /// Runs simulated now (not read back from an earlier, interrupted run).
    pub fresh_runs: usize,
    /// Runs of the shard (of the experiment, for a whole run).
    pub shard_runs: usize,
    /// Synaptic updates of the fresh runs (steps × non-zero weights).
    pub synaptic_updates: u64,
    /// Time to the end of the last run (the tables, figures and report not included).
    pub elapsed: Duration,
}

/// The results of [`Experiment::run`]: one [`Row`] per run in run order,
/// the tables as Arrow record batches, and what the run did. The tables
/// themselves (CSV text, Parquet bytes) are [`experiment::Results`], at
/// [`Results::tables`].
#[derive(Debug, Clone)]
pub struct Results {
    tables: experiment::Results,
    complete: bool,
    warnings: Vec<String>,
    stats: RunStats,
    out: Option<PathBuf>,
    shard: Shard,
}

impl Results {
    /// One row per run, in run order (for one shard of several: the runs known so far).
    pub fn rows(&self) -> &[Row] {
        &self.tables.rows
    }

    /// The condition names (the first is the reference of the statistics).
    pub fn conditions(&self) -> &[String] {
        &self.tables.conditions
    }

    /// The swept keys.
    pub fn keys(&self) -> &[String] {
        &self.tables.keys
    }

    /// The sweep points (one value per swept key).
    pub fn points(&self) -> &[Vec<f64>] {
        &self.tables.points
    }

    /// The tables behind the batches (CSV text, Parquet bytes).
    pub fn tables(&self) -> &experiment::Results {
        &self.tables
    }

    /// Whether every run of the experiment is in (false for a shard of several).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The data tables' warnings (one line each; also told to
    /// [`Progress::warning`] before the runs start).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What the run did.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// The output folder, if any.
    pub fn out(&self) -> Option<&Path> {
        self.out.as_deref()
    }

    /// The shard run.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// `results.csv` as a record batch (the columns of `results.parquet`).
    pub fn runs_batch(&self) -> Result<RecordBatch> {
        self.tables.runs_batch()
    }

    /// `summary.csv` as a record batch.
    pub fn summary_batch(&self) -> Result<RecordBatch> {
        self.tables.summary_batch()
    }

    /// `stats.csv` as a record batch.
    pub fn stats_batch(&self) -> Result<RecordBatch> {
        self.tables.stats_batch()
    }
}

/// One run simulated alone ([`Experiment::simulate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Condition name.
    pub condition: String,
    /// Seed.
    pub seed: u64,
    /// Neurons.
    pub n_neurons: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// Non-zero weights of W.
    pub nnz: usize,
    /// Reciprocal ordered pairs of the E–E matrix (observed networks).
    pub reciprocal: Option<u64>,
    /// Non-zeros of the E–E matrix (observed networks).
    pub nnz_ee: Option<u64>,
    /// ΔT and the rest, with the trace if asked for.
    pub response: Response,
}

/// A JSON number, or null when not finite (JSON has no NaN or infinity).
pub fn json_number(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        serde_json::Value::Null
    }
}

impl Simulation {
    /// ΔT (s), if activity returned to baseline.
    pub fn delta_t(&self) -> Option<f64> {
        self.response.delta_t
    }

    /// The JSON object `ratenet simulate` prints.
    pub fn to_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        o.insert("condition".into(), json!(self.condition));
        o.insert("seed".into(), json!(self.seed));
        // Every metric column, under its table name (null where missing).
        for (name, v) in &self.response.metrics {
            let v = match v {
                crate::sim::Value::Null => serde_json::Value::Null,
                crate::sim::Value::Bool(b) => json!(b),
                crate::sim::Value::Float(x) => json_number(*x),
            };
            o.insert(name.to_string(), v);
        }
        o.insert("n_neurons".into(), json!(self.n_neurons));
        o.insert("n_exc".into(), json!(self.n_exc));
        o.insert("reciprocal".into(), json!(self.reciprocal));
        o.insert("nnz_ee".into(), json!(self.nnz_ee));
        serde_json::Value::Object(o)
    }

    /// The trace as CSV (time, exc_mean, inh_mean, stimulus per step; empty
    /// cells where not finite), if one was recorded.
    pub fn trace_csv(&self) -> Option<String> {
        let t = self.response.trace.as_ref()?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let f = |x: f64| if x.is_finite() { x.to_string() } else { String::new() };
        // Writing to memory cannot fail.
        w.write_record(["time", "exc_mean", "inh_mean", "stimulus"]).ok();
        for k in 0..t.t.len() {
            w.write_record([f(t.t[k]), f(t.exc_mean[k]), f(t.inh_mean[k]), f(t.stimulus[k])])
                .ok();
        }
        Some(String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default())
    }

    /// Write [`Simulation::trace_csv`] to `path`; an error without a trace.
    pub fn write_trace_csv(&self, path: &Path) -> Result<()> {
        let text = self
            .trace_csv()
            .ok_or_else(|| err!("{}: no trace recorded", path.display()))?;
        std::fs::write(path, text).map_err(|e| err!("{}: cannot write ({e})", path.display()))
    }
}

/// The summary `ratenet connectome` prints: sizes, non-zeros, reciprocal
/// pairs, weight sum (numpy's), first and last root id — of the matrix it
/// writes (with observed inhibition every block, excitatory neurons first).
pub fn connectome_json(c: &Connectome) -> serde_json::Value {
    let m = &c.matrix;
    json!({
        "n_exc": c.n_exc(),
        "n_inh": c.n_inh,
        "nnz": m.values.iter().filter(|&&v| v > 0.0).count(),
        "reciprocal": crate::network::nulls::count_reciprocal(m),
        "weight_sum": json_number(crate::network::build::np_sum(&m.to_dense())),
        "first_id": c.ids.first(),
        "last_id": c.ids.last(),
    })
}

/// The summary `ratenet network` prints of a run's W: sizes, non-zeros and,
/// up to [`crate::analysis::spectrum::MAX_DENSE`] neurons, the leading
/// eigenvalues (whether the linearised network is stable).
pub fn network_json(condition: &str, seed: u64, net: &Network) -> Result<serde_json::Value> {
    let spectrum = (net.n <= crate::analysis::spectrum::MAX_DENSE)
        .then(|| crate::analysis::spectrum::spectrum(net.n, &net.dense()))
        .transpose()?;
    Ok(json!({
        "condition": condition,
        "seed": seed,
        "n_neurons": net.n,
        "n_exc": net.n_exc,
        "nnz": net.nnz(),
        "spectral_radius": spectrum.map(|s| json_number(s.spectral_radius)),
        "max_real_eigenvalue": spectrum.map(|s| json_number(s.max_real)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "[network]\nkind = \"random\"\nn_neurons = 120\n[simulation]\nt_max = 30.0\n";

    #[test]
    fn set_takes_numbers_and_text_as_the_cli_does() {
        let e = Experiment::from_toml_str(RANDOM)
            .unwrap()
            .set("network.g", 0.003)
            .unwrap()
            .set("network.n_neurons", 150)
            .unwrap()
            .set("sweep.seeds", "0-3")
            .unwrap()
            .set("sweep.\"network.g\"", "[0.001, 0.002]")
            .unwrap();
        let s = e.spec();
        assert_eq!((s.network.g, s.network.n_neurons), (0.003, 150));
        assert_eq!(s.sweep.seeds, vec![0, 1, 2, 3]);
        assert_eq!(s.sweep.params, vec![("network.g".to_string(), vec![0.001, 0.002])]);
        // The same through the text of `--set`.
        let t = Experiment::from_toml_str(RANDOM)
            .unwrap()
            .set_args(&["network.g=0.003", "network.n_neurons=150", "sweep.seeds=0-3"])
            .unwrap();
        assert_eq!(t.spec().network.g, 0.003);
        assert_eq!(t.spec().sweep.seeds, vec![0, 1, 2, 3]);
        // Errors name the key.
        let e = Experiment::from_toml_str(RANDOM)
            .unwrap()
            .set("network.gg", 1.0)
            .unwrap_err();
        assert!(e.message().contains("gg"), "{e}");
        let e = Experiment::from_toml_str(RANDOM)
            .unwrap()
            .set_arg("network.g")
            .unwrap_err();
        assert!(e.message().contains("expected section.key=value"), "{e}");
    }

    /// Keys valid only together: one `set_args` checks them together.
    #[test]
    fn set_args_checks_the_keys_together() {
        let seed_and_rng = ["sweep.seeds=[4294967296]", "network.rng=\"fast\""];
        let e = Experiment::from_toml_str(RANDOM).unwrap();
        let together = e.clone().set_args(&seed_and_rng);
        assert!(together.is_ok(), "{:?}", together.err());
        let run = together.unwrap().simulate(4_294_967_296, None, false).unwrap();
        assert_eq!(run.seed, 4_294_967_296);
        assert!(e.simulate(4_294_967_296, None, false).is_err());
    }

    /// A progress that asks to stop after the first batch: the run ends with
    /// "interrupted", its finished runs journalled; the same run resumes.
    #[test]
    fn a_cancelled_run_stops_and_resumes() {
        struct StopAfter(std::sync::atomic::AtomicBool);
        impl Progress for StopAfter {
            fn runs(&self, done: usize, _total: usize) {
                if done > 0 {
                    self.0.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            fn cancelled(&self) -> bool {
                self.0.load(std::sync::atomic::Ordering::Relaxed)
            }
        }
        let e = Experiment::from_toml_str(RANDOM)
            .unwrap()
            .set("sweep.seeds", "0-7")
            .unwrap()
            .set("output.figures", false)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stop = StopAfter(std::sync::atomic::AtomicBool::new(false));
        let opts = RunOptions {
            out: Some(dir.path()),
            threads: Some(1),
            batch: 1,
            progress: Some(&stop),
            ..RunOptions::default()
        };
        let err = e.run(&opts).unwrap_err();
        assert_eq!(err.message(), "interrupted");
        let again = e.run(&RunOptions { progress: None, ..opts }).unwrap();
        assert_eq!(again.rows().len(), 8);
        assert!(again.stats().fresh_runs < 8, "the finished runs were kept");
        let whole = e.run(&RunOptions::default()).unwrap();
        assert_eq!(whole.tables().results_csv(), again.tables().results_csv());
    }

    #[test]
    fn simulate_with_a_trace_gives_its_csv() {
        let e = Experiment::from_toml_str(RANDOM).unwrap();
        let plain = e.simulate(1, None, false).unwrap();
        let traced = e.simulate(1, None, true).unwrap();
        assert_eq!(plain.delta_t(), traced.delta_t());
        assert!(plain.trace_csv().is_none());
        let csv = traced.trace_csv().unwrap();
        let steps = traced.response.trace.as_ref().unwrap().t.len();
        assert_eq!(csv.lines().count(), 1 + steps);
        assert!(csv.starts_with("time,exc_mean,inh_mean,stimulus\n"));
        assert_eq!(plain.to_json()["n_neurons"], 120);
        assert!(e.connectome().is_err(), "a data-free network has no connectome");
    }
}
