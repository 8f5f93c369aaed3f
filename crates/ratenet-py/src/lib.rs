//! `ratenet._ratenet`: the compiled half of the Python package `ratenet`.
//!
//! Each function takes the experiment as `(kind, text)`: `kind` is `"path"`
//! (an experiment file), `"toml"` (its text) or `"json"` (its structure as
//! JSON, from a Python dict), and `sets` are `key=value` texts of `--set`.
//! Matrices come back as raw float64/int64 bytes that the Python layer views
//! with numpy; tables as the CSV text the CLI writes (pandas reads them with
//! the dtypes of `pd.read_csv` on the files) and as Arrow C streams.
//! Long calls run without the GIL; `run` polls for Ctrl-C.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};
use ratenet::experiment::{self, OutputDir, Plan, Spec};
use ratenet::Experiment;

create_exception!(
    ratenet,
    RatenetError,
    PyValueError,
    "An error of ratenet (a bad experiment file or key, missing data, ...): the one-line message the CLI prints."
);

/// The library's error as a `RatenetError` with its first line.
fn py_err(e: ratenet::Error) -> PyErr {
    RatenetError::new_err(e.message().lines().next().unwrap_or("").to_string())
}

fn to_py<T>(r: ratenet::Result<T>) -> PyResult<T> {
    r.map_err(py_err)
}

/// The experiment of `(kind, text)` with the overrides `sets` applied together.
fn experiment(kind: &str, text: &str, sets: &[String]) -> ratenet::Result<Experiment> {
    match kind {
        "path" => Experiment::load(text, sets),
        "toml" => Experiment::from_toml_str(text)?.set_args(sets),
        "json" => {
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| ratenet::Error::new(format!("spec dict: {e}")))?;
            let table: toml::Table = toml::Value::try_from(value)
                .ok()
                .and_then(|v| match v {
                    toml::Value::Table(t) => Some(t),
                    _ => None,
                })
                .ok_or_else(|| {
                    ratenet::Error::new("spec dict: not representable in TOML (None values or non-string keys?)")
                })?;
            let toml_text = toml::to_string(&table)
                .map_err(|e| ratenet::Error::new(format!("spec dict: not representable in TOML ({e})")))?;
            Experiment::from_toml_str(&toml_text)?.set_args(sets)
        }
        other => Err(ratenet::Error::new(format!(
            "spec kind {other:?}: expected path, toml or json"
        ))),
    }
}

/// The experiment's warnings (one line each), for `warnings.warn`.
#[pyfunction]
fn warnings(py: Python<'_>, kind: &str, spec: &str, sets: Vec<String>) -> PyResult<Vec<String>> {
    py.detach(|| to_py(experiment(kind, spec, &sets).map(|e| e.warnings())))
}

/// The experiment file's text after the overrides (what `run` stores as spec.toml).
#[pyfunction]
fn spec_toml(kind: &str, spec: &str, sets: Vec<String>) -> PyResult<String> {
    let e = to_py(experiment(kind, spec, &sets))?;
    Ok(toml::to_string(&e.spec().raw).unwrap_or_default())
}

/// Little-endian-native bytes of a slice of f64 or i64.
fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// `(n, W bytes)`: W of one run, post × pre, float64.
#[pyfunction]
#[pyo3(signature = (kind, spec, sets, seed, condition=None))]
fn network<'py>(
    py: Python<'py>,
    kind: &str,
    spec: &str,
    sets: Vec<String>,
    seed: u64,
    condition: Option<String>,
) -> PyResult<(usize, Bound<'py, PyByteArray>)> {
    let (n, bytes) = py.detach(|| {
        to_py((|| {
            let net = experiment(kind, spec, &sets)?.network(seed, condition.as_deref())?;
            Ok((net.n, f64_bytes(&net.dense())))
        })())
    })?;
    Ok((n, PyByteArray::new(py, &bytes)))
}

/// `(n, M bytes, ids bytes, n_inh)`: the connectome, pre × post float64,
/// root ids int64, and how many of the last neurons are inhibitory.
#[pyfunction]
fn connectome<'py>(
    py: Python<'py>,
    kind: &str,
    spec: &str,
    sets: Vec<String>,
) -> PyResult<(usize, Bound<'py, PyByteArray>, Bound<'py, PyByteArray>, usize)> {
    let (n, m, ids, n_inh) = py.detach(|| {
        to_py((|| {
            let c = experiment(kind, spec, &sets)?.connectome()?;
            Ok((c.n(), f64_bytes(&c.matrix.to_dense()), i64_bytes(&c.ids), c.n_inh))
        })())
    })?;
    Ok((n, PyByteArray::new(py, &m), PyByteArray::new(py, &ids), n_inh))
}

/// `(json, trace csv or None)`: one run as `ratenet simulate` prints it.
#[pyfunction]
#[pyo3(signature = (kind, spec, sets, seed, condition=None, trace=false))]
fn simulate(
    py: Python<'_>,
    kind: &str,
    spec: &str,
    sets: Vec<String>,
    seed: u64,
    condition: Option<String>,
    trace: bool,
) -> PyResult<(String, Option<String>)> {
    py.detach(|| {
        to_py((|| {
            let sim = experiment(kind, spec, &sets)?.simulate(seed, condition.as_deref(), trace)?;
            Ok((sim.to_json().to_string(), sim.trace_csv()))
        })())
    })
}

/// Progress counters shared with the worker threads, and the stop flag.
#[derive(Default)]
struct Shared {
    done: AtomicUsize,
    total: AtomicUsize,
    stop: AtomicBool,
}

impl ratenet::Progress for Shared {
    fn runs(&self, done: usize, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The results of a run (or of a folder): the tables, where they were
/// written, and what the run did.
#[pyclass(frozen, module = "ratenet._ratenet")]
struct RunResults {
    tables: experiment::Results,
    out: Option<PathBuf>,
    fresh_runs: usize,
    elapsed: f64,
}

/// One record batch as an Arrow C stream capsule.
fn stream_capsule(py: Python<'_>, batch: ratenet::Result<RecordBatch>) -> PyResult<Bound<'_, PyCapsule>> {
    const NAME: &CStr = c"arrow_array_stream";
    let batch = to_py(batch)?;
    let schema = batch.schema();
    let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
    PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(Box::new(reader)), NAME)
}

#[pymethods]
impl RunResults {
    /// results.csv's text.
    fn runs_csv(&self) -> String {
        self.tables.results_csv()
    }

    /// summary.csv's text.
    fn summary_csv(&self) -> String {
        self.tables.summary_csv()
    }

    /// stats.csv's text.
    fn stats_csv(&self) -> String {
        self.tables.stats_csv()
    }

    /// An Arrow C stream (PyCapsule) of one table: "runs", "summary" or "stats".
    #[pyo3(signature = (table="runs"))]
    fn stream<'py>(&self, py: Python<'py>, table: &str) -> PyResult<Bound<'py, PyCapsule>> {
        let batch = match table {
            "runs" => self.tables.runs_batch(),
            "summary" => self.tables.summary_batch(),
            "stats" => self.tables.stats_batch(),
            other => {
                return Err(RatenetError::new_err(format!(
                    "table {other:?}: expected runs, summary or stats"
                )))
            }
        };
        stream_capsule(py, batch)
    }

    /// The output folder, if any.
    #[getter]
    fn out(&self) -> Option<PathBuf> {
        self.out.clone()
    }

    /// Number of runs in the tables.
    #[getter]
    fn n_runs(&self) -> usize {
        self.tables.rows.len()
    }

    /// Runs simulated by this call (not read back from a journal).
    #[getter]
    fn fresh_runs(&self) -> usize {
        self.fresh_runs
    }

    /// Seconds to the end of the last run.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.elapsed
    }

    /// The condition names.
    #[getter]
    fn conditions(&self) -> Vec<String> {
        self.tables.conditions.clone()
    }

    /// The swept keys.
    #[getter]
    fn keys(&self) -> Vec<String> {
        self.tables.keys.clone()
    }
}

/// Run the experiment (into `out` if given). `progress(done, total)` is
/// called from this thread while the runs go on; Ctrl-C stops the run after
/// the runs in flight and raises KeyboardInterrupt (their rows stay in the
/// journal of `out`).
#[pyfunction]
#[pyo3(signature = (kind, spec, sets, out=None, threads=None, progress=None))]
fn run(
    py: Python<'_>,
    kind: &str,
    spec: &str,
    sets: Vec<String>,
    out: Option<PathBuf>,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<RunResults> {
    let exp = to_py(experiment(kind, spec, &sets))?;
    let exp = match &out {
        Some(_) => exp,
        // Without a folder nothing is written: no figures either.
        None => to_py(exp.set("output.figures", false))?,
    };
    let shared = Shared::default();
    let mut interrupt: Option<PyErr> = None;
    let mut reported = (usize::MAX, usize::MAX);
    let result = py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel();
            let exp = &exp;
            let shared = &shared;
            let out = out.as_deref();
            s.spawn(move || {
                let opts = ratenet::RunOptions {
                    out,
                    threads,
                    progress: Some(shared),
                    ..ratenet::RunOptions::default()
                };
                let _ = tx.send(exp.run(&opts));
            });
            loop {
                let got = rx.recv_timeout(Duration::from_millis(100));
                let now = (
                    shared.done.load(Ordering::Relaxed),
                    shared.total.load(Ordering::Relaxed),
                );
                let callback_error = Python::attach(|py| -> PyResult<()> {
                    if let Some(cb) = &progress {
                        if now != reported && now.1 > 0 {
                            cb.call1(py, now)?;
                        }
                    }
                    py.check_signals()
                });
                reported = now;
                if let Err(e) = callback_error {
                    if interrupt.is_none() {
                        shared.stop.store(true, Ordering::Relaxed);
                        interrupt = Some(e);
                    }
                }
                match got {
                    Ok(r) => return Some(r),
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                }
            }
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    let results = match result {
        Some(r) => to_py(r)?,
        None => return Err(RatenetError::new_err("run: the worker thread ended without a result")),
    };
    Ok(RunResults {
        tables: results.tables().clone(),
        out: results.out().map(Path::to_path_buf),
        fresh_runs: results.stats().fresh_runs,
        elapsed: results.stats().elapsed.as_secs_f64(),
    })
}

/// The tables of a folder written by `ratenet run` or `merge`, from its
/// spec.toml and journals (nothing is written).
#[pyfunction]
fn read_results(py: Python<'_>, folder: PathBuf) -> PyResult<RunResults> {
    let tables = py.detach(|| {
        to_py((|| {
            let (dir, text) = OutputDir::open(&folder)?;
            let raw: toml::Table = text
                .parse()
                .map_err(|e| ratenet::Error::new(format!("{}: spec.toml is not valid TOML ({e})", folder.display())))?;
            let spec = Spec::from_table(raw).map_err(|e| e.context(folder.join("spec.toml").display()))?;
            let plan = Plan::new(&spec)?;
            let rows = dir.read_rows(&plan)?;
            if rows.len() < plan.runs.len() {
                return Err(ratenet::Error::new(format!(
                    "{}: {} of {} runs done; run the experiment again (it resumes) or merge its shards",
                    folder.display(),
                    rows.len(),
                    plan.runs.len()
                )));
            }
            experiment::Results::from_rows(&spec, &plan, rows)
        })())
    })?;
    Ok(RunResults {
        tables,
        out: Some(folder),
        fresh_runs: 0,
        elapsed: 0.0,
    })
}

/// The package version (the workspace's).
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[pymodule]
fn _ratenet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RatenetError", m.py().get_type::<RatenetError>())?;
    m.add("__version__", VERSION)?;
    m.add_class::<RunResults>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(read_results, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(network, m)?)?;
    m.add_function(wrap_pyfunction!(connectome, m)?)?;
    m.add_function(wrap_pyfunction!(warnings, m)?)?;
    m.add_function(wrap_pyfunction!(spec_toml, m)?)?;
    Ok(())
}
