//! What `ratenet run` writes besides the tables: the figures with their
//! captions (and the trace runs they need), the self-contained HTML report,
//! the provenance of the input tables and `manifest.json`.
//!
//! The figures are drawn by [`ratenet_plot`], which knows nothing about
//! ratenet: this module decides what is plotted. Figures that need no
//! results ([`draw_early`]: the time series with their trace runs, the E–E
//! matrix and the weight histogram) can be drawn while the runs are
//! simulated; the rest ([`draw_late`]) once the results are in.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::time::{SystemTime, UNIX_EPOCH};

use ratenet_plot as plot;
use rayon::prelude::*;
use serde_json::json;

use crate::analysis::motifs::{MotifStat, MOTIFS};
use crate::experiment::results::{fmt_float, spec_fingerprint, write_atomic};
use crate::experiment::runner::Connectomes;
use crate::experiment::{self, OutputDir, Plan, Results, Row, RunId, Spec};
use crate::sim::Record;
use crate::{err, Result};

/// The version of ratenet, as the manifest and the report give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One figure of the report: `png` (and an SVG beside it) with its heading and caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File name without extension.
    pub stem: String,
    /// Heading in the report.
    pub title: String,
    /// Caption under the figure.
    pub caption: String,
    /// The PNG written.
    pub png: PathBuf,
}

/// Where a figure goes in the report: ΔT figures, time series, the
/// connectome's figures, then the reciprocal pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    DeltaT,
    Decay,
    TimeSeries,
    Connectome,
    Reciprocal,
    Motifs,
}

/// Figures drawn so far, each with its place in the report.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    drawn: Vec<(Place, Figure)>,
}

impl Figures {
    /// Both sets, in report order.
    pub fn merged(self, other: Figures) -> Figures {
        let mut drawn = self.drawn;
        drawn.extend(other.drawn);
        // Stable: figures of one place keep their order.
        drawn.sort_by_key(|(p, _)| *p);
        Figures { drawn }
    }

    /// The figures in report order.
    pub fn list(&self) -> Vec<&Figure> {
        self.drawn.iter().map(|(_, f)| f).collect()
    }
}

/// UTC time as RFC 3339 (`2026-01-31T12:00:00Z`), without a date library.
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

fn perr(e: plot::PlotError) -> crate::Error {
    err!("figures: {e}")
}

/// A figure job: where it goes, stem, title, caption and how to draw it.
type Job<'a> = (
    Place,
    String,
    String,
    String,
    Box<dyn Fn(&Path, &str) -> Result<()> + Send + Sync + 'a>,
);

/// Run figure jobs in parallel into `fig`.
fn draw_jobs(fig: &Path, jobs: Vec<Job>) -> Result<Figures> {
    let drawn = jobs
        .into_par_iter()
        .map(|(place, stem, title, caption, draw)| {
            draw(fig, &stem)?;
            let png = fig.join(format!("{stem}.png"));
            Ok((
                place,
                Figure {
                    stem,
                    title,
                    caption,
                    png,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Figures { drawn })
}

fn create_dir(fig: &Path) -> Result<()> {
    std::fs::create_dir_all(fig).map_err(|e| err!("{}: cannot create ({e})", fig.display()))
}

/// The figures that need no results, drawn into the folder `fig` in
/// parallel: one time series per condition (first sweep point, first seed;
/// 40 excitatory and 20 inhibitory neurons drawn; the conditions simulated
/// together, alongside the other figures), and for observed networks the
/// E–E matrix and its weight histogram.
pub fn draw_early(spec: &Spec, plan: &Plan, connectomes: &Connectomes, fig: &Path) -> Result<Figures> {
    Ok(draw_early_helped(spec, plan, connectomes, fig, &AtomicUsize::new(0))?.figures)
}

/// What [`draw_early_helped`] did: the figures, and the rows of the runs
/// traced for the time series (tracing changes no result, so these rows are
/// those the runner would give).
pub(crate) struct Early {
    pub figures: Figures,
    pub rows: Vec<Row>,
    /// When the trace runs were over.
    pub traced_at: std::time::Instant,
}

/// The runs [`draw_early`] simulates (with traces) for the time series:
/// every condition of the first sweep point at the first seed.
pub(crate) fn traced_runs<'a>(spec: &Spec, plan: &'a Plan) -> impl Iterator<Item = &'a RunId> {
    let seed = spec.sweep.seeds.first().copied();
    plan.runs.iter().filter(move |r| r.point == 0 && Some(r.seed) == seed)
}

/// [`draw_early`] while the runs go on: the trace runs split their steps
/// with the threads that ran out of runs (counted in `idle`, see
/// [`crate::experiment::runner`]), so that they do not hold up the end.
pub(crate) fn draw_early_helped(
    spec: &Spec,
    plan: &Plan,
    connectomes: &Connectomes,
    fig: &Path,
    idle: &AtomicUsize,
) -> Result<Early> {
    create_dir(fig)?;
    let point = &plan.points[0];
    let seed = spec.sweep.seeds[0];
    let connectome = connectomes.of(0);
    let (n, n_exc) = crate::network::build::sizes_for(&point.spec.network, connectome)?;
    let exc: Vec<usize> = (0..n_exc.min(40)).collect();
    let inh: Vec<usize> = (n_exc..n.min(n_exc + 20)).collect();
    let mut jobs: Vec<Job> = Vec::new();
    if let Some(c) = connectome {
        // With observed inhibition the whole connectome, excitatory neurons first.
        let (heading, title, what) = match c.n_inh {
            0 => (
                "E–E matrix",
                "Observed E–E weights (pre × post)",
                "Observed E–E weights",
            ),
            _ => (
                "Connectome (E then I)",
                "Observed weights, E then I (pre × post)",
                "Observed weights (all blocks)",
            ),
        };
        let neurons = match c.n_inh {
            0 => format!("{} neurons", c.n()),
            k => format!("{} excitatory then {k} inhibitory neurons (unsigned)", c.n_exc()),
        };
        jobs.push((
            Place::Connectome,
            "ee_matrix".into(),
            heading.into(),
            format!("{neurons}; colour limits at the 95th percentile of |w|."),
            Box::new(move |fig, stem| {
                plot::matrix_heatmap(fig, stem, title, &c.matrix.to_dense(), c.n()).map_err(perr)
            }),
        ));
        jobs.push((
            Place::Connectome,
            "weights".into(),
            "Weight distribution".into(),
            "Non-zero weights, 101 bins up to the 99th percentile.".into(),
            Box::new(move |fig, stem| plot::weight_histogram(fig, stem, what, &c.matrix.values).map_err(perr)),
        ));
    }
    let record = Record {
        trace: true,
        neurons: exc.iter().chain(&inh).copied().collect(),
    };
    let conds: Vec<&experiment::Condition> = point.spec.conditions.iter().collect();
    let (traces, others) = rayon::join(
        || experiment::simulate_conditions_helped(&point.spec, connectome, &conds, seed, &record, idle),
        || draw_jobs(fig, jobs),
    );
    let (traces, others) = (traces?, others?);
    let traced_at = std::time::Instant::now();
    let rows = traced_runs(spec, plan)
        .filter_map(|r| {
            let sim = traces.get(r.condition)?;
            Some(sim.row(r.index, &conds[r.condition].name, r.seed, &point.values))
        })
        .collect();
    let traces = traces.into_iter().map(|s| s.response);
    let stimulus_end = point.spec.stimulus.end.min(point.spec.simulation.t_max);
    let series: Vec<Job> = conds
        .iter()
        .zip(traces)
        .enumerate()
        .map(|(ci, (cond, resp))| -> Job {
            let t = resp.trace.unwrap_or_default();
            let ts = plot::TimeSeries {
                title: format!("{} (seed {seed})", cond.name),
                exc: t.rates[..exc.len()].to_vec(),
                inh: t.rates[exc.len()..].to_vec(),
                t: t.t,
                exc_mean: t.exc_mean,
                inh_mean: t.inh_mean,
                stimulus: t.stimulus,
                stimulus_end,
                t_return: resp.t_return,
                delta_t: resp.delta_t,
            };
            (
                Place::TimeSeries,
                format!("time_series_{ci}_{}", sanitize(&cond.name)),
                format!("Time series: {}", cond.name),
                "Excitatory rates (faint) and mean (bold) with ΔT; inhibitory rates; stimulus.".to_string(),
                Box::new(move |fig, stem| plot::time_series(fig, stem, &ts).map_err(perr)),
            )
        })
        .collect();
    Ok(Early {
        figures: draw_jobs(fig, series)?.merged(others),
        rows,
        traced_at,
    })
}

/// The figures drawn from the results, into the folder `fig` in parallel:
/// ΔT per condition (one per sweep point, and ΔT against the first swept
/// key for a sweep), and the reciprocal pairs of observed networks.
pub fn draw_late(spec: &Spec, connectomes: &Connectomes, results: &Results, fig: &Path) -> Result<Figures> {
    create_dir(fig)?;
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
    let points = &points;
    let mut jobs: Vec<Job> = Vec::new();
    if results.keys.is_empty() {
        jobs.push((
            Place::DeltaT,
            "delta_t_distributions".into(),
            "ΔT per condition".into(),
            format!(
                "ΔT over seeds {}; histograms (left) and strip plot with box (right).",
                seeds_text(spec)
            ),
            Box::new(move |fig, stem| plot::delta_t_distributions(fig, stem, conditions, points).map_err(perr)),
        ));
    } else {
        let key = &results.keys[0];
        jobs.push((
            Place::DeltaT,
            "sweep".into(),
            format!("ΔT against {key}"),
            "One point per seed; line: mean ± sd; runs that did not return or diverged at the top.".into(),
            Box::new(move |fig, stem| plot::sweep_plot(fig, stem, key, conditions, points).map_err(perr)),
        ));
        for (p, vals) in results.points.iter().enumerate() {
            let what: Vec<String> = results
                .keys
                .iter()
                .zip(vals)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            jobs.push((
                Place::DeltaT,
                format!("delta_t_distributions_point{p}"),
                format!("ΔT per condition at {}", what.join(", ")),
                String::new(),
                Box::new(move |fig, stem| {
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
    if results.columns.iter().any(|c| c.name == "decay_predicted") {
        jobs.push((
            Place::Decay,
            "decay_predicted".into(),
            "Decay: predicted against measured".into(),
            "One point per run: tau / (1 − λ_max), λ_max the largest real part of W's eigenvalues (the linearised network's slowest decay), against decay_tau, the time constant of an exponential fitted to the excitatory mean from the stimulus's end to its return. Runs without either are left out.".into(),
            Box::new(move |fig, stem| {
                let runs: Vec<(String, f64, f64)> = results
                    .rows
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r.condition.clone(),
                            r.get("decay_predicted").as_f64()?,
                            r.get("decay_tau").as_f64()?,
                        ))
                    })
                    .collect();
                plot::decay_scatter(fig, stem, conditions, &runs).map_err(perr)
            }),
        ));
    }
    if connectomes.of(0).is_some() {
        jobs.push((
            Place::Reciprocal,
            "reciprocal".into(),
            "Reciprocal pairs".into(),
            "Reciprocal ordered pairs of the E–E matrix per condition, one point per seed.".into(),
            Box::new(move |fig, stem| {
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
    draw_jobs(fig, jobs)
}

/// Every figure of an experiment (early and late together, in parallel).
pub fn draw_figures(
    spec: &Spec,
    plan: &Plan,
    connectomes: &Connectomes,
    results: &Results,
    fig: &Path,
) -> Result<Figures> {
    let (early, late) = rayon::join(
        || draw_early(spec, plan, connectomes, fig),
        || draw_late(spec, connectomes, results, fig),
    );
    Ok(late?.merged(early?))
}

/// A file name made of letters, digits, `-` and `_` only.
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

/// The seeds as the report names them: `0–9`, or a list.
fn seeds_text(spec: &Spec) -> String {
    let s = &spec.sweep.seeds;
    match (s.first(), s.last()) {
        (Some(a), Some(b)) if s.len() > 1 && (b - a) as usize + 1 == s.len() => format!("{a}–{b}"),
        _ => s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
    }
}

/// The header of `motifs.csv` (and of `ratenet motifs`'s output).
pub const MOTIFS_HEADER: [&str; 7] = ["motif", "null", "observed", "null_mean", "null_sd", "z", "p"];

/// Motif statistics of the E–E matrix `m` (pre × post) against each null
/// model named in `nulls` (as written; `key` names them in errors), over
/// `seeds`: one [`MotifStat`] per null and motif, in that order
/// ([`crate::analysis::motifs::motif_stats`]); `spec` gives the random
/// streams (`network.rng`) and the null models' settings (`[null_models]`).
pub fn motif_stats(
    m: &crate::matrix::Csr,
    nulls: &[String],
    key: &str,
    seeds: &[u64],
    spec: &Spec,
) -> Result<Vec<MotifStat>> {
    if seeds.is_empty() {
        return Err(err!("{key}: no seeds"));
    }
    let swaps = spec.null_models.swaps_per_edge;
    let chains: Vec<(String, Vec<crate::network::NullModel>)> = experiment::MotifSpec::resolve(nulls, key)?
        .into_iter()
        .map(|(label, null)| (label, vec![null.with_swaps_per_edge(swaps)]))
        .collect();
    crate::analysis::motifs::motif_stats(m, &chains, seeds, spec.network.rng)
}

/// `motifs.csv`: the header [`MOTIFS_HEADER`], then one row per statistic
/// in order; numbers in the shortest text that reads back exactly (as in
/// `results.csv`), `null_sd` and `z` empty where undefined.
pub fn motifs_csv(stats: &[MotifStat]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    w.write_record(MOTIFS_HEADER).ok();
    for s in stats {
        let opt = |x: Option<f64>| x.map(fmt_float).unwrap_or_default();
        w.write_record([
            s.motif.to_string(),
            s.null.clone(),
            s.observed.to_string(),
            fmt_float(s.null_mean),
            opt(s.null_sd),
            opt(s.z),
            fmt_float(s.p),
        ])
        .ok();
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The motif figure of `stats` ([`ratenet_plot::motif_zscores`]) as
/// `fig/motifs.png` and `.svg`, with its report heading and caption.
pub fn draw_motifs(stats: &[MotifStat], seeds: &[u64], fig: &Path) -> Result<Figure> {
    create_dir(fig)?;
    let mut nulls: Vec<String> = Vec::new();
    for s in stats {
        if !nulls.contains(&s.null) {
            nulls.push(s.null.clone());
        }
    }
    let cells: Vec<plot::MotifZ> = stats
        .iter()
        .map(|s| {
            let sd = s.null_sd.filter(|&sd| sd > 0.0);
            plot::MotifZ {
                motif: s.motif.to_string(),
                null: s.null.clone(),
                z: s.z,
                null_z: sd
                    .map(|sd| s.null_counts.iter().map(|&x| (x as f64 - s.null_mean) / sd).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let motifs: Vec<String> = MOTIFS.iter().map(|m| m.to_string()).collect();
    let stem = "motifs";
    plot::motif_zscores(fig, stem, &motifs, &nulls, &cells).map_err(perr)?;
    Ok(Figure {
        stem: stem.into(),
        title: "Motifs against null models".into(),
        caption: format!(
            "Reciprocal ordered pairs and the 16 triad classes (networkx's codes) of the observed E–E matrix against {} ensemble(s) of {} seeds ({}): z = (observed − null mean) / null sd (large dots), each null member standardised the same way (small dots); grey band |z| ≤ 2; symmetric log scale. The table is motifs.csv.",
            nulls.len(),
            seeds.len(),
            seeds_list_text(seeds),
        ),
        png: fig.join(format!("{stem}.png")),
    })
}

/// Write `motifs.csv` into `dir` and, with `figures`, the motif figure into
/// `dir/figures`.
pub fn write_motifs(stats: &[MotifStat], seeds: &[u64], dir: &Path, figures: bool) -> Result<Option<Figure>> {
    std::fs::create_dir_all(dir).map_err(|e| err!("{}: cannot create ({e})", dir.display()))?;
    write_atomic(&dir.join("motifs.csv"), motifs_csv(stats).as_bytes())?;
    figures
        .then(|| draw_motifs(stats, seeds, &dir.join("figures")))
        .transpose()
}

/// The `[motifs]` section of `spec` computed on the first sweep point's
/// E–E matrix and written into `dir` ([`write_motifs`]); nothing without
/// the section.
fn motifs_of_spec(spec: &Spec, plan: &Plan, connectomes: &Connectomes, dir: &Path) -> Result<Option<Figure>> {
    let Some(ms) = &spec.motifs else {
        return Ok(None);
    };
    let c = connectomes
        .of(0)
        .ok_or_else(|| err!("[motifs]: no observed E–E matrix"))?;
    let stats = motif_stats(&c.ee(), &ms.nulls, "motifs.nulls", &ms.seeds, &plan.points[0].spec)?;
    write_motifs(&stats, &ms.seeds, dir, spec.output.figures)
}

/// Seeds as text: `0–99`, or a list.
fn seeds_list_text(s: &[u64]) -> String {
    match (s.first(), s.last()) {
        (Some(a), Some(b))
            if s.len() > 1 && b >= a && (b - a) as usize + 1 == s.len() && s.windows(2).all(|w| w[1] == w[0] + 1) =>
        {
            format!("seeds {a}–{b}")
        }
        _ => format!(
            "seeds {}",
            s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// One input table: the key naming it, where it came from, its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The experiment-file key (`data.synapses`, `data.cells`).
    pub key: String,
    /// The path or URL as the file gives it.
    pub source: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// The input tables of `spec` with their digests (none for data-free
/// networks); `store` is the download cache, where digests are kept.
pub fn input_provenance(spec: &Spec, store: Option<&Path>) -> Result<Vec<Input>> {
    if !spec.needs_data() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for (key, src, pin) in [
        ("data.synapses", &spec.data.synapses, &spec.data.synapses_sha256),
        ("data.cells", &spec.data.cells, &spec.data.cells_sha256),
    ] {
        let path = crate::data::fetch::resolve(src, pin.as_deref(), key)?;
        let digest = crate::data::store::file_digest(store, &path)?;
        out.push(Input {
            key: key.to_string(),
            source: src.clone(),
            sha256: digest,
        });
    }
    Ok(out)
}

/// The report of an experiment whose tables are written in `dir`.
pub fn build_report(
    spec: &Spec,
    results: &Results,
    inputs: &[Input],
    figures: &Figures,
    dir: &Path,
) -> Result<plot::Report> {
    let mut provenance = vec![("ratenet".to_string(), VERSION.to_string())];
    for i in inputs {
        provenance.push((i.key.clone(), i.source.clone()));
        provenance.push((format!("{} sha256", i.key), i.sha256.clone()));
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
    if spec.motifs.is_some() {
        sections.push(plot::Section::Table {
            title: "Motifs against null models (motifs.csv)".into(),
            csv: read("motifs.csv")?,
        });
    }
    for f in figures.list() {
        sections.push(plot::Section::Figure {
            title: f.title.clone(),
            caption: f.caption.clone(),
            png: f.png.clone(),
        });
    }
    Ok(plot::Report {
        title: "ratenet experiment".into(),
        generated: utc_now(),
        spec_toml: spec_fingerprint(spec),
        provenance,
        sections,
    })
}

/// How an output folder came to be, for `manifest.json`.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// When it started (RFC 3339, [`utc_now`]).
    pub started: String,
    /// Worker threads.
    pub threads: usize,
    /// `"all"` for a whole run, `"merged"` for merged shards.
    pub shard: String,
}

/// `manifest.json` of a folder: version, spec, inputs, runs, times, threads, shard.
pub fn manifest(spec: &Spec, results: &Results, inputs: &[Input], info: &RunInfo) -> serde_json::Value {
    json!({
        "ratenet_version": VERSION,
        "spec": spec_fingerprint(spec),
        "inputs": inputs.iter().map(|i| json!({"key": i.key, "source": i.source, "sha256": i.sha256})).collect::<Vec<_>>(),
        "runs": results.rows.len(),
        "started": info.started,
        "finished": utc_now(),
        "threads": info.threads,
        "shard": info.shard,
    })
}

/// Write what follows the last run into `dir`: the tables, the figures
/// (when `output.figures` is on; `early` are those already drawn by
/// [`draw_early`], the rest are drawn here in parallel), with a `[motifs]`
/// section `motifs.csv` and its figure, `report.html` and `manifest.json`.
/// `store` as in [`input_provenance`].
#[allow(clippy::too_many_arguments)]
pub fn finalize(
    spec: &Spec,
    plan: &Plan,
    connectomes: &Connectomes,
    results: &Results,
    dir: &Path,
    early: Option<Figures>,
    store: Option<&Path>,
    info: &RunInfo,
) -> Result<()> {
    let fig = dir.join("figures");
    let (tables, (figures, motifs)) = rayon::join(
        || -> Result<Vec<Input>> {
            results.write_tables(dir)?;
            input_provenance(spec, store)
        },
        || {
            rayon::join(
                || -> Result<Figures> {
                    if !spec.output.figures {
                        return Ok(Figures::default());
                    }
                    match early {
                        Some(early) => Ok(draw_late(spec, connectomes, results, &fig)?.merged(early)),
                        None => draw_figures(spec, plan, connectomes, results, &fig),
                    }
                },
                || motifs_of_spec(spec, plan, connectomes, dir),
            )
        },
    );
    let (inputs, mut figures) = (tables?, figures?);
    if let Some(f) = motifs? {
        figures = figures.merged(Figures {
            drawn: vec![(Place::Motifs, f)],
        });
    }
    let report = build_report(spec, results, &inputs, &figures, dir)?;
    plot::write_report(&dir.join("report.html"), &report)
        .map_err(|e| err!("{}: {e}", dir.join("report.html").display()))?;
    let text = serde_json::to_string_pretty(&manifest(spec, results, &inputs, info)).map_err(|e| err!("{e}"))?;
    write_atomic(&dir.join("manifest.json"), text.as_bytes())
}

/// Merge the shards of the output folder `dir` into the files one run
/// would write (`ratenet merge`); `store` as in [`input_provenance`].
pub fn merge(dir: &Path, store: Option<&Path>) -> Result<Results> {
    let started = utc_now();
    let (out, text) = OutputDir::open(dir)?;
    let raw: toml::Table = text
        .parse()
        .map_err(|e| err!("{}: spec.toml is not valid TOML ({e})", dir.display()))?;
    let spec = Spec::from_table(raw).map_err(|e| e.context(dir.join("spec.toml").display()))?;
    let plan = Plan::new(&spec)?;
    let rows = out.read_rows(&plan)?;
    let results = Results::from_rows(&spec, &plan, rows)?;
    let connectomes = Connectomes::load(&plan, store)?;
    let info = RunInfo {
        started,
        threads: rayon::current_num_threads(),
        shard: "merged".into(),
    };
    finalize(&spec, &plan, &connectomes, &results, dir, None, store, &info)?;
    Ok(results)
}
