//! `ratenet run` and `ratenet merge`: the experiment runner with progress,
//! and what is drawn and written after the last run.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ratenet::experiment::runner::{self, Connectomes};
use ratenet::experiment::{self, OutputDir, Plan, Results, Shard, Spec};
use ratenet::sim::Record;
use ratenet::{err, Result};
use ratenet_plot as plot;
use rayon::prelude::*;
use serde_json::json;

/// Options of `ratenet run`.
pub struct RunOptions {
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

/// UTC time as RFC 3339, without a date library.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn progress_bar(quiet: bool) -> ProgressBar {
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
    pb
}

/// `ratenet run`.
pub fn run(spec_path: &Path, sets: &[String], opts: RunOptions) -> Result<()> {
    let started = utc_now();
    let t0 = Instant::now();
    let spec = Spec::load(spec_path, sets)?;
    crate::commands::warn(&spec);
    let dir = opts.out.clone().unwrap_or_else(|| PathBuf::from(&spec.output.dir));
    let shard = match &opts.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::ALL,
    };
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if threads == 0 {
        return Err(err!("--threads 0: expected at least 1"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| err!("--threads {threads}: {e}"))?;
    let plan = Plan::new(&spec)?;
    let connectomes = Connectomes::load(&plan, crate::commands::store().as_deref())?;
    let out = OutputDir::prepare(&dir, &spec, opts.force)?;
    let done = out.read_rows(&plan)?;
    let done_before: std::collections::HashSet<usize> = done.keys().copied().collect();
    let pb = progress_bar(opts.quiet);
    let progress = |d: usize, total: usize| {
        pb.set_length(total as u64);
        pb.set_position(d as u64);
    };
    let rows = pool.install(|| runner::execute(&plan, &connectomes, &out, shard, done, opts.batch, &progress))?;
    pb.finish_and_clear();
    let elapsed = t0.elapsed().as_secs_f64();
    let fresh: Vec<&ratenet::experiment::Row> = rows
        .values()
        .filter(|r| shard.owns(r.index) && !done_before.contains(&r.index))
        .collect();
    let simulated: u64 = fresh.iter().map(|r| r.steps * r.nnz).sum();
    let fresh_runs = fresh.len();
    if shard != Shard::ALL {
        let ours = rows.keys().filter(|&&i| shard.owns(i)).count();
        eprintln!(
            "shard {}/{}: {ours} runs in {}; when every shard is done: ratenet merge {}",
            shard.index,
            shard.count,
            dir.join("shards").join(shard.journal_name()).display(),
            dir.display()
        );
        return Ok(());
    }
    let results = Results::from_rows(&spec, &plan, rows)?;
    pool.install(|| finalize(&spec, &plan, &connectomes, &results, &dir, &started, threads, "all"))?;
    if !opts.quiet {
        eprintln!(
            "{fresh_runs} runs simulated ({} in all) in {elapsed:.2} s, {:.2e} synaptic updates/s; results in {}",
            results.rows.len(),
            simulated as f64 / elapsed.max(1e-9),
            dir.display()
        );
    }
    Ok(())
}

/// `ratenet merge DIR`.
pub fn merge(dir: &Path) -> Result<()> {
    let started = utc_now();
    let (out, text) = OutputDir::open(dir)?;
    let raw: toml::Table = text
        .parse()
        .map_err(|e| err!("{}: spec.toml is not valid TOML ({e})", dir.display()))?;
    let spec = Spec::from_table(raw).map_err(|e| e.context(dir.join("spec.toml").display()))?;
    let plan = Plan::new(&spec)?;
    let rows = out.read_rows(&plan)?;
    let results = Results::from_rows(&spec, &plan, rows)?;
    let connectomes = Connectomes::load(&plan, crate::commands::store().as_deref())?;
    finalize(
        &spec,
        &plan,
        &connectomes,
        &results,
        dir,
        &started,
        rayon::current_num_threads(),
        "merged",
    )?;
    eprintln!("merged {} runs into {}", results.rows.len(), dir.display());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn finalize(
    spec: &Spec,
    plan: &Plan,
    connectomes: &Connectomes,
    results: &Results,
    dir: &Path,
    started: &str,
    threads: usize,
    shard: &str,
) -> Result<()> {
    results.write_tables(dir)?;
    let figures = if spec.output.figures {
        draw_figures(spec, plan, connectomes, results, dir)?
    } else {
        vec![]
    };
    let inputs = input_provenance(spec)?;
    let report = build_report(spec, results, &inputs, &figures, dir)?;
    plot::write_report(&dir.join("report.html"), &report)
        .map_err(|e| err!("{}: {e}", dir.join("report.html").display()))?;
    let manifest = json!({
        "ratenet_version": env!("CARGO_PKG_VERSION"),
        "spec": ratenet::experiment::results::spec_fingerprint(spec),
        "inputs": inputs.iter().map(|(k, p, h)| json!({"key": k, "source": p, "sha256": h})).collect::<Vec<_>>(),
        "runs": results.rows.len(),
        "started": started,
        "finished": utc_now(),
        "threads": threads,
        "shard": shard,
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| err!("{e}"))?;
    ratenet::experiment::results::write_atomic(&dir.join("manifest.json"), text.as_bytes())
}

/// (key, source, sha256) of each input table.
fn input_provenance(spec: &Spec) -> Result<Vec<(String, String, String)>> {
    if !spec.needs_data() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for (key, src, pin) in [
        ("data.synapses", &spec.data.synapses, &spec.data.synapses_sha256),
        ("data.cells", &spec.data.cells, &spec.data.cells_sha256),
    ] {
        let path = ratenet::data::fetch::resolve(src, pin.as_deref(), key)?;
        let digest = ratenet::data::store::file_digest(crate::commands::store().as_deref(), &path)?;
        out.push((key.to_string(), src.clone(), digest));
    }
    Ok(out)
}

fn perr(e: plot::PlotError) -> ratenet::Error {
    err!("figures: {e}")
}

/// Draw every figure; returns (title, caption, png path) in report order.
fn draw_figures(
    spec: &Spec,
    plan: &Plan,
    connectomes: &Connectomes,
    results: &Results,
    dir: &Path,
) -> Result<Vec<(String, String, PathBuf)>> {
    let fig = dir.join("figures");
    std::fs::create_dir_all(&fig).map_err(|e| err!("{}: cannot create ({e})", fig.display()))?;
    let conditions = &results.conditions;
    let points: Vec<plot::RunPoint> = results
        .rows
        .iter()
        .map(|r| plot::RunPoint {
            condition: r.condition.clone(),
            x: r.params.first().copied(),
            delta_t: r.delta_t(),
            returned: r.returned(),
            diverged: r.diverged(),
        })
        .collect();
    // Each figure is an independent job (title, caption, draw); they run in
    // parallel and come back in this order for the report.
    type Job<'a> = (
        String,
        String,
        String,
        Box<dyn Fn(&str) -> Result<()> + Send + Sync + 'a>,
    );
    let mut jobs: Vec<Job> = Vec::new();
    let (fig, points) = (&fig, &points);
    if results.keys.is_empty() {
        jobs.push((
            "delta_t_distributions".into(),
            "ΔT per condition".into(),
            format!(
                "ΔT over seeds {}; histograms (left) and strip plot with box (right).",
                seeds_text(spec)
            ),
            Box::new(move |stem| plot::delta_t_distributions(fig, stem, conditions, points).map_err(perr)),
        ));
    } else {
        let key = &results.keys[0];
        jobs.push((
            "sweep".into(),
            format!("ΔT against {key}"),
            "One point per seed; line: mean ± sd; runs that did not return or diverged at the top.".into(),
            Box::new(move |stem| plot::sweep_plot(fig, stem, key, conditions, points).map_err(perr)),
        ));
        for (p, vals) in results.points.iter().enumerate() {
            let what: Vec<String> = results
                .keys
                .iter()
                .zip(vals)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            jobs.push((
                format!("delta_t_distributions_point{p}"),
                format!("ΔT per condition at {}", what.join(", ")),
                String::new(),
                Box::new(move |stem| {
                    let sub: Vec<plot::RunPoint> = points
                        .iter()
                        .zip(&results.rows)
                        .filter(|(_, r)| &r.params == vals)
                        .map(|(x, _)| x.clone())
                        .collect();
                    plot::delta_t_distributions(fig, stem, conditions, &sub).map_err(perr)
                }),
            ));
        }
    }
    // One time series per condition: first point, first seed; 40 excitatory
    // and 20 inhibitory neurons drawn. The conditions are simulated together
    // (shared weights loaded once), alongside the other figures; each series
    // is drawn once its traces are in.
    let point = &plan.points[0];
    let seed = spec.sweep.seeds[0];
    let (n, n_exc) = ratenet::network::build::sizes(&point.spec.network, connectomes.of(0).map(|c| c.n()))?;
    let exc: Vec<usize> = (0..n_exc.min(40)).collect();
    let inh: Vec<usize> = (n_exc..n.min(n_exc + 20)).collect();
    let series_at = jobs.len();
    let series: Vec<(String, String, String)> = point
        .spec
        .conditions
        .iter()
        .enumerate()
        .map(|(ci, cond)| {
            (
                format!("time_series_{ci}_{}", sanitize(&cond.name)),
                format!("Time series: {}", cond.name),
                "Excitatory rates (faint) and mean (bold) with ΔT; inhibitory rates; stimulus.".to_string(),
            )
        })
        .collect();
    if let Some(c) = connectomes.of(0) {
        jobs.push((
            "ee_matrix".into(),
            "E–E matrix".into(),
            format!("{} neurons; colour limits at the 95th percentile of |w|.", c.n()),
            Box::new(move |stem| {
                plot::matrix_heatmap(
                    fig,
                    stem,
                    "Observed E–E weights (pre × post)",
                    &c.matrix.to_dense(),
                    c.n(),
                )
                .map_err(perr)
            }),
        ));
        jobs.push((
            "weights".into(),
            "Weight distribution".into(),
            "Non-zero weights, 101 bins up to the 99th percentile.".into(),
            Box::new(move |stem| {
                plot::weight_histogram(fig, stem, "Observed E–E weights", &c.matrix.values).map_err(perr)
            }),
        ));
        jobs.push((
            "reciprocal".into(),
            "Reciprocal pairs".into(),
            "Reciprocal ordered pairs of the E–E matrix per condition, one point per seed.".into(),
            Box::new(move |stem| {
                let recip: Vec<(String, f64)> = results
                    .rows
                    .iter()
                    .filter(|r| r.params == results.points[0])
                    .filter_map(|r| r.reciprocal.map(|x| (r.condition.clone(), x as f64)))
                    .collect();
                plot::reciprocal_pairs(fig, stem, conditions, &recip).map_err(perr)
            }),
        ));
    }
    let record = Record {
        trace: true,
        neurons: exc.iter().chain(&inh).copied().collect(),
    };
    let conds: Vec<&ratenet::experiment::Condition> = point.spec.conditions.iter().collect();
    let (traces, others) = rayon::join(
        || experiment::simulate_conditions(&point.spec, connectomes.of(0), &conds, seed, &record),
        || {
            jobs.par_iter()
                .map(|(stem, title, caption, draw)| {
                    draw(stem)?;
                    Ok((title.clone(), caption.clone(), fig.join(format!("{stem}.png"))))
                })
                .collect::<Result<Vec<_>>>()
        },
    );
    let (traces, mut figures) = (traces?, others?);
    let drawn = series
        .par_iter()
        .zip(conds.par_iter().zip(traces.into_par_iter()))
        .map(|((stem, title, caption), (cond, resp))| {
            let t = resp.trace.unwrap_or_default();
            let ts = plot::TimeSeries {
                title: format!("{} (seed {seed})", cond.name),
                exc: t.rates[..exc.len()].to_vec(),
                inh: t.rates[exc.len()..].to_vec(),
                t: t.t,
                exc_mean: t.exc_mean,
                inh_mean: t.inh_mean,
                stimulus: t.stimulus,
                stimulus_end: point.spec.stimulus.end.min(point.spec.simulation.t_max),
                t_return: resp.t_return,
                delta_t: resp.delta_t,
            };
            plot::time_series(fig, stem, &ts).map_err(perr)?;
            Ok((title.clone(), caption.clone(), fig.join(format!("{stem}.png"))))
        })
        .collect::<Result<Vec<_>>>()?;
    // The report's order: distributions, time series, then the rest.
    figures.splice(series_at..series_at, drawn);
    Ok(figures)
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn seeds_text(spec: &Spec) -> String {
    let s = &spec.sweep.seeds;
    match (s.first(), s.last()) {
        (Some(a), Some(b)) if s.len() > 1 && (b - a) as usize + 1 == s.len() => format!("{a}–{b}"),
        _ => s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
    }
}

fn build_report(
    spec: &Spec,
    results: &Results,
    inputs: &[(String, String, String)],
    figures: &[(String, String, PathBuf)],
    dir: &Path,
) -> Result<plot::Report> {
    let mut provenance = vec![("ratenet".to_string(), env!("CARGO_PKG_VERSION").to_string())];
    for (k, src, h) in inputs {
        provenance.push((k.clone(), src.clone()));
        provenance.push((format!("{k} sha256"), h.clone()));
    }
    provenance.push(("runs".into(), results.rows.len().to_string()));
    let mut sections = vec![plot::Section::Text {
        title: "Experiment".into(),
        body: format!(
            "{} condition(s) ({}), seeds {}, {} sweep point(s). The first condition is the reference of the statistics. Output folder: {}.",
            results.conditions.len(),
            results.conditions.join(", "),
            seeds_text(spec),
            results.points.len(),
            dir.display()
        ),
    }];
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| err!("{}: {e}", dir.join(name).display()));
    sections.push(plot::Section::Table {
        title: "Summary (summary.csv)".into(),
        csv: read("summary.csv")?,
    });
    if results.conditions.len() > 1 {
        sections.push(plot::Section::Table {
            title: "Statistics against the reference (stats.csv)".into(),
            csv: read("stats.csv")?,
        });
    }
    for (title, caption, png) in figures {
        sections.push(plot::Section::Figure {
            title: title.clone(),
            caption: caption.clone(),
            png: png.clone(),
        });
    }
    Ok(plot::Report {
        title: "ratenet experiment".into(),
        generated: utc_now(),
        spec_toml: ratenet::experiment::results::spec_fingerprint(spec),
        provenance,
        sections,
    })
}
