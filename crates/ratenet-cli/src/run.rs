//! `ratenet run` and `ratenet merge`: the library's run with a progress bar,
//! and the lines printed afterwards.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ratenet::experiment::Shard;
use ratenet::{Experiment, Result};

/// Options of `ratenet run`.
pub struct RunArgs {
    /// Output folder override.
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Shard of the runs.
    pub shard: Option<String>,
    /// No progress bar.
    pub quiet: bool,
    /// Start over in a folder holding another experiment.
    pub force: bool,
    /// Most runs advanced together (results do not depend on it).
    pub batch: usize,
}

/// An indicatif bar following the runs.
struct Bar(ProgressBar);

impl Bar {
    fn new(quiet: bool) -> Bar {
        let pb = ProgressBar::with_draw_target(
            Some(0),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar(pb)
    }
}

impl ratenet::Progress for Bar {
    fn runs(&self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
    }

    fn runs_done(&self) {
        self.0.finish_and_clear();
    }

    fn warning(&self, line: &str) {
        self.0.suspend(|| eprintln!("ratenet: warning: {line}"));
    }
}

/// `ratenet run`.
pub fn run(spec_path: &Path, sets: &[String], args: RunArgs) -> Result<()> {
    let exp = Experiment::load(spec_path, sets)?;
    // The data's warnings come through the bar when the run loads the tables.
    for w in exp.warnings() {
        eprintln!("ratenet: warning: {w}");
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(&exp.spec().output.dir));
    let shard = match &args.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::ALL,
    };
    let bar = Bar::new(args.quiet);
    let results = exp.run(&ratenet::RunOptions {
        out: Some(&dir),
        threads: args.threads,
        shard,
        force: args.force,
        batch: args.batch,
        progress: Some(&bar),
    })?;
    bar.0.finish_and_clear();
    let stats = results.stats();
    if shard != Shard::ALL {
        eprintln!(
            "shard {}/{}: {} runs in {}; when every shard is done: ratenet merge {}",
            shard.index,
            shard.count,
            stats.shard_runs,
            dir.join("shards").join(shard.journal_name()).display(),
            dir.display()
        );
        return Ok(());
    }
    if !args.quiet {
        let elapsed = stats.elapsed.as_secs_f64();
        eprintln!(
            "{} runs simulated ({} in all) in {elapsed:.2} s, {:.2e} synaptic updates/s; results in {}",
            stats.fresh_runs,
            results.rows().len(),
            stats.synaptic_updates as f64 / elapsed.max(1e-9),
            dir.display()
        );
    }
    Ok(())
}

/// `ratenet merge DIR`.
pub fn merge(dir: &Path) -> Result<()> {
    let results = Experiment::merge(dir)?;
    eprintln!("merged {} runs into {}", results.rows.len(), dir.display());
    Ok(())
}

/// Print the experiment's warnings on stderr, one line each, those of its
/// data tables included (loading them: the load is kept, an error too, for
/// the command's own call to report).
pub(crate) fn warn(exp: &Experiment) {
    let _ = exp.data_warnings();
    for w in exp.warnings() {
        eprintln!("ratenet: warning: {w}");
    }
}
