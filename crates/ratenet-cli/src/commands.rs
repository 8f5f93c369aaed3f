//! The subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use ratenet::{err, npy, Experiment, Result};

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
    /// Build the E–E connectome (with network.inhibition = "observed": every
    /// block, excitatory neurons first, n_inh inhibitory ones last); print
    /// its summary as one JSON line.
    Connectome {
        #[command(flatten)]
        spec: SpecArgs,
        /// Write the matrix (pre × post, float64, unsigned) as .npy.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the neuron root ids (int64) as .npy, in the matrix's order.
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
    /// Motif statistics of the observed E–E matrix against null models; prints CSV.
    ///
    /// Counts the reciprocal ordered pairs and the 16-class directed triad census
    /// (networkx's codes 003 … 300) of the E–E matrix after [data], before any
    /// condition's null model, and of each null model applied with each seed. Prints
    /// motif,null,observed,null_mean,null_sd,z,p: one row per motif and null model.
    /// Defaults come from the file's [motifs] section, else as shown.
    Motifs {
        #[command(flatten)]
        spec: SpecArgs,
        /// Null models, comma-separated, each an ensemble [default: shuffle_connections,degree_preserving].
        #[arg(long, value_name = "NAMES", value_delimiter = ',')]
        nulls: Option<Vec<String>>,
        /// Seeds of each ensemble: "A-B" (inclusive), one seed, or a list [0,3,7] [default: 0-99].
        #[arg(long, value_name = "SEEDS")]
        seeds: Option<String>,
        /// Also write motifs.csv and figures/motifs.png (and .svg) into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores); the output never depends on it.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Submit an experiment to Slurm: a job array of shards, then a merge job after it.
    ///
    /// Writes OUT/slurm/array.sbatch (task k of N runs `ratenet run SPEC --shard slurm`)
    /// and OUT/slurm/merge.sbatch (`ratenet merge OUT`, submitted with
    /// --dependency=afterok:<array job id>), submits both with `sbatch --parsable` and
    /// prints the job ids. The file is checked (keys, ranges, runs); no table is read.
    Submit {
        #[command(flatten)]
        spec: SpecArgs,
        /// Tasks of the job array (default: 10); more tasks than runs are cut to the number of runs.
        #[arg(long, value_name = "N")]
        tasks: Option<usize>,
        /// CPUs, and worker threads, of each task (default: 4).
        #[arg(long, value_name = "C")]
        cpus_per_task: Option<usize>,
        /// Time limit of each job (sbatch --time), e.g. 00:30:00.
        #[arg(long, value_name = "T")]
        time: Option<String>,
        /// Partition of both jobs.
        #[arg(long, value_name = "P")]
        partition: Option<String>,
        /// One more sbatch option for both jobs, e.g. --sbatch-arg=--mem=8G (repeatable).
        #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
        sbatch_args: Vec<String>,
        /// Output folder (default: output.dir of the file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print both scripts and the sbatch commands; write and submit nothing.
        #[arg(long)]
        dry_run: bool,
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
            crate::run::RunArgs {
                out,
                threads,
                shard,
                quiet,
                force,
                batch: batch as usize,
            },
        ),
        Command::Submit {
            spec,
            tasks,
            cpus_per_task,
            time,
            partition,
            sbatch_args,
            out,
            dry_run,
        } => submit(
            &spec,
            &ratenet::experiment::cluster::SubmitOptions {
                tasks,
                cpus_per_task,
                time,
                partition,
                sbatch_args,
                out,
            },
            dry_run,
        ),
        Command::Motifs {
            spec,
            nulls,
            seeds,
            out,
            threads,
        } => motifs(&spec, nulls, seeds.as_deref(), out.as_deref(), threads),
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

fn submit(args: &SpecArgs, opts: &ratenet::experiment::cluster::SubmitOptions, dry_run: bool) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| err!("submit: cannot find the ratenet binary ({e})"))?;
    let wd = std::env::current_dir().map_err(|e| err!("submit: cannot read the working directory ({e})"))?;
    let sub = ratenet::experiment::cluster::Submission::new(&args.spec, &args.sets, opts, &exe, &wd)?;
    if let Some(asked) = sub.tasks_requested {
        eprintln!(
            "ratenet: note: --tasks {asked} but the experiment has {} runs: submitting {} tasks",
            sub.runs, sub.tasks
        );
    }
    let mut out = std::io::stdout().lock();
    let text = if dry_run {
        sub.dry_run_text()?
    } else {
        let ids = sub.submit()?;
        format!(
            "array job {} ({} tasks, {} runs) and merge job {} (after it) submitted\nresults in {} once job {} has run; scripts and logs in {}\n",
            ids.array_job,
            sub.tasks,
            sub.runs,
            ids.merge_job,
            sub.out.display(),
            ids.merge_job,
            sub.script_dir().display()
        )
    };
    write!(out, "{text}").map_err(|e| err!("stdout: {e}"))
}

fn load(args: &SpecArgs) -> Result<Experiment> {
    let exp = Experiment::load(&args.spec, &args.sets)?;
    crate::run::warn(&exp);
    Ok(exp)
}

fn print(line: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").map_err(|e| err!("stdout: {e}"))
}

fn connectome(args: &SpecArgs, out: Option<&Path>, ids: Option<&Path>) -> Result<()> {
    let c = load(args)?.connectome()?;
    let m = &c.matrix;
    if let Some(p) = out {
        npy::write_f64(p, &[m.n_rows, m.n_cols], &m.to_dense())?;
    }
    if let Some(p) = ids {
        npy::write_i64(p, &[c.ids.len()], &c.ids)?;
    }
    print(&ratenet::api::connectome_json(&c))
}

fn network(args: &SpecArgs, seed: u64, condition: Option<&str>, out: &Path) -> Result<()> {
    let exp = load(args)?;
    let cond = exp.spec().condition(condition)?.name.clone();
    let net = exp.network(seed, condition)?;
    npy::write_f64(out, &[net.n, net.n], &net.dense())?;
    print(&ratenet::api::network_json(&cond, seed, &net)?)
}

fn simulate(args: &SpecArgs, seed: u64, condition: Option<&str>, trace: Option<&Path>) -> Result<()> {
    let sim = load(args)?.simulate(seed, condition, trace.is_some())?;
    if let Some(path) = trace {
        sim.write_trace_csv(path)?;
    }
    print(&sim.to_json())
}

fn motifs(
    args: &SpecArgs,
    nulls: Option<Vec<String>>,
    seeds: Option<&str>,
    out: Option<&Path>,
    threads: Option<usize>,
) -> Result<()> {
    use ratenet::experiment::spec::{parse_seeds_named, parse_set_value};
    let seeds = seeds
        .map(|s| parse_seeds_named(&parse_set_value(s.trim()), "--seeds"))
        .transpose()?;
    let m = load(args)?.motifs(&ratenet::MotifOptions {
        nulls,
        seeds,
        out,
        threads,
    })?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", m.csv()).map_err(|e| err!("stdout: {e}"))
}
