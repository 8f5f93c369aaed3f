//! The subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use ratenet::experiment::{self, Spec};
use ratenet::network::nulls::count_reciprocal;
use ratenet::sim::{Record, Response};
use ratenet::{err, npy, Result};
use serde_json::json;

/// Connectome-constrained firing-rate network experiments.
#[derive(Parser, Debug)]
#[command(name = "ratenet", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Arguments every command that reads an experiment file takes.
#[derive(clap::Args, Debug)]
struct SpecArgs {
    /// The experiment file (TOML).
    spec: PathBuf,
    /// Override a key of the file: section.key=value (repeatable); the value is TOML, or a plain string.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the E–E connectome; print its summary as one JSON line.
    Connectome {
        #[command(flatten)]
        spec: SpecArgs,
        /// Write the matrix (pre × post, float64) as .npy.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the neuron root ids (int64) as .npy.
        #[arg(long)]
        ids: Option<PathBuf>,
    },
    /// Build the weight matrix W (post × pre) of one run and write it as .npy.
    Network {
        #[command(flatten)]
        spec: SpecArgs,
        /// Seed (default 0).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Condition (default: the first).
        #[arg(long)]
        condition: Option<String>,
        /// Where to write W (.npy, float64).
        #[arg(long)]
        out: PathBuf,
    },
    /// Simulate one run; print its result as one JSON line.
    Simulate {
        #[command(flatten)]
        spec: SpecArgs,
        /// Seed (default 0).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Condition (default: the first).
        #[arg(long)]
        condition: Option<String>,
        /// Write time, mean E, mean I and stimulus per step as CSV.
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Run an experiment: sweep points × conditions × seeds, in parallel, into an output folder.
    Run {
        #[command(flatten)]
        spec: SpecArgs,
        /// Output folder (default: output.dir of the file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Run only shard K of N (K/N, 0-based), or "slurm" for a Slurm job array.
        #[arg(long)]
        shard: Option<String>,
        /// No progress bar or summary line.
        #[arg(long)]
        quiet: bool,
        /// Start over in a folder that holds another experiment's results.
        #[arg(long)]
        force: bool,
        /// Most runs advanced together over shared weights (1: one at a time); results never depend on it.
        #[arg(long, default_value_t = ratenet::experiment::runner::MAX_LANES as u64, value_parser = clap::value_parser!(u64).range(1..=64))]
        batch: u64,
    },
    /// Merge the shards of a folder into the files one run would write.
    Merge {
        /// The output folder.
        dir: PathBuf,
    },
    /// List every key of the experiment file: name, default, allowed values, doc.
    Keys {
        /// Only the keys of this section or under this key (e.g. network, simulation.transfer).
        prefix: Option<String>,
    },
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Connectome { spec, out, ids } => connectome(&spec, out.as_deref(), ids.as_deref()),
        Command::Network {
            spec,
            seed,
            condition,
            out,
        } => network(&spec, seed, condition.as_deref(), &out),
        Command::Simulate {
            spec,
            seed,
            condition,
            trace,
        } => simulate(&spec, seed, condition.as_deref(), trace.as_deref()),
        Command::Run {
            spec,
            out,
            threads,
            shard,
            quiet,
            force,
            batch,
        } => crate::run::run(
            &spec.spec,
            &spec.sets,
            crate::run::RunOptions {
                out,
                threads,
                shard,
                quiet,
                force,
                batch: batch as usize,
            },
        ),
        Command::Merge { dir } => crate::run::merge(&dir),
        Command::Keys { prefix } => keys(prefix.as_deref()),
    }
}

fn keys(prefix: Option<&str>) -> Result<()> {
    use ratenet::experiment::keys;
    if let Some(p) = prefix {
        let p = p.trim_matches(|c| c == '[' || c == ']');
        if !keys::KEYS
            .iter()
            .any(|k| k.name == p || k.name.starts_with(&format!("{p}.")))
        {
            let names = keys::SECTIONS.iter().copied().chain(keys::KEYS.iter().map(|k| k.name));
            let hint = keys::nearest(p, names.filter(|n| !n.is_empty()))
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            return Err(err!("keys: no key or section '{p}'{hint}"));
        }
        print!("{}", keys::text_table(Some(p)));
    } else {
        print!("{}", keys::text_table(None));
    }
    Ok(())
}

fn load(args: &SpecArgs) -> Result<Spec> {
    Spec::load(&args.spec, &args.sets)
}

/// A JSON number, or null when not finite (JSON has no NaN or infinity).
pub fn num(x: f64) -> serde_json::Value {
    if x.is_finite() {
        json!(x)
    } else {
        serde_json::Value::Null
    }
}

/// Where built connectomes are kept between runs: the download cache (see
/// `ratenet::data::store`); none if the system has no cache folder.
pub(crate) fn store() -> Option<std::path::PathBuf> {
    ratenet::data::fetch::cache_dir().ok()
}

fn connectome(args: &SpecArgs, out: Option<&Path>, ids: Option<&Path>) -> Result<()> {
    let spec = load(args)?;
    if !spec.needs_data() {
        return Err(err!(
            "connectome: network.kind = \"{}\" uses no data",
            spec.network.kind.name()
        ));
    }
    let c = ratenet::data::Connectome::load_stored(&spec.data, store().as_deref())?;
    let m = &c.matrix;
    if let Some(p) = out {
        npy::write_f64(p, &[m.n_rows, m.n_cols], &m.to_dense())?;
    }
    if let Some(p) = ids {
        npy::write_i64(p, &[c.ids.len()], &c.ids)?;
    }
    let line = json!({
        "n_exc": c.n(),
        "nnz": m.values.iter().filter(|&&v| v > 0.0).count(),
        "reciprocal": count_reciprocal(m),
        "weight_sum": num(ratenet::network::build::np_sum(&m.to_dense())),
        "first_id": c.ids.first(),
        "last_id": c.ids.last(),
    });
    println!("{line}");
    Ok(())
}

fn network(args: &SpecArgs, seed: u64, condition: Option<&str>, out: &Path) -> Result<()> {
    let spec = load(args)?;
    let cond = spec.condition(condition)?.clone();
    let connectome = experiment::load_connectome(&spec, store().as_deref())?;
    let net = experiment::build_network(&spec, connectome.as_ref(), &cond, seed)?;
    let dense = net.dense();
    npy::write_f64(out, &[net.n, net.n], &dense)?;
    // The leading eigenvalues tell whether the linearised network is stable.
    let spectrum = (net.n <= ratenet::analysis::spectrum::MAX_DENSE)
        .then(|| ratenet::analysis::spectrum::spectrum(net.n, &dense))
        .transpose()?;
    let line = json!({
        "condition": cond.name,
        "seed": seed,
        "n_neurons": net.n,
        "n_exc": net.n_exc,
        "nnz": net.nnz(),
        "spectral_radius": spectrum.map(|s| num(s.spectral_radius)),
        "max_real_eigenvalue": spectrum.map(|s| num(s.max_real)),
    });
    println!("{line}");
    Ok(())
}

/// The JSON object of one run, as `simulate` prints it.
pub fn run_json(
    condition: &str,
    seed: u64,
    n: usize,
    n_exc: usize,
    recip: Option<u64>,
    nnz_ee: Option<u64>,
    r: &Response,
) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("condition".into(), json!(condition));
    o.insert("seed".into(), json!(seed));
    // Every metric column, under its table name (null where missing).
    for (name, v) in &r.metrics {
        let v = match v {
            ratenet::sim::Value::Null => serde_json::Value::Null,
            ratenet::sim::Value::Bool(b) => json!(b),
            ratenet::sim::Value::Float(x) => num(*x),
        };
        o.insert(name.to_string(), v);
    }
    o.insert("n_neurons".into(), json!(n));
    o.insert("n_exc".into(), json!(n_exc));
    o.insert("reciprocal".into(), json!(recip));
    o.insert("nnz_ee".into(), json!(nnz_ee));
    serde_json::Value::Object(o)
}

fn simulate(args: &SpecArgs, seed: u64, condition: Option<&str>, trace: Option<&Path>) -> Result<()> {
    let spec = load(args)?;
    let cond = spec.condition(condition)?.clone();
    let connectome = experiment::load_connectome(&spec, store().as_deref())?;
    let record = Record {
        trace: trace.is_some(),
        neurons: vec![],
    };
    let (net, resp) = experiment::simulate_run(&spec, connectome.as_ref(), &cond, seed, &record)?;
    if let (Some(path), Some(t)) = (trace, &resp.trace) {
        let mut w = csv::Writer::from_path(path).map_err(|e| err!("{}: cannot write ({e})", path.display()))?;
        let io = |e: csv::Error| err!("{}: cannot write ({e})", path.display());
        w.write_record(["time", "exc_mean", "inh_mean", "stimulus"])
            .map_err(io)?;
        for k in 0..t.t.len() {
            let f = |x: f64| if x.is_finite() { x.to_string() } else { String::new() };
            w.write_record([f(t.t[k]), f(t.exc_mean[k]), f(t.inh_mean[k]), f(t.stimulus[k])])
                .map_err(io)?;
        }
        w.flush().map_err(|e| err!("{}: cannot write ({e})", path.display()))?;
    }
    let line = run_json(&cond.name, seed, net.n, net.n_exc, net.reciprocal, net.nnz_ee, &resp);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").map_err(|e| err!("stdout: {e}"))?;
    Ok(())
}
