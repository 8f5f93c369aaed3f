//! Figures (PNG + SVG) and the self-contained HTML report of a ratenet
//! experiment.
//!
//! This crate deliberately knows nothing about the ratenet library: every
//! figure takes plain data structs, so the CLI decides what is plotted and
//! this crate only decides how it looks. All figures follow one visual
//! language (white background, seaborn "deep" palette, DejaVu Sans rendered
//! through ab_glyph) so that PNGs in the report and SVGs for papers match.

#![warn(missing_docs)]

mod bitmap;
mod canvas;
mod decay;
mod distributions;
mod error;
mod matrix;
mod motifs;
mod reciprocal;
mod report;
mod stats;
mod style;
mod svg;
mod sweep;
mod timeseries;

use std::path::{Path, PathBuf};

pub use error::PlotError;
pub use style::PALETTE;

/// One simulation run, reduced to what the ΔT figures need.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoint {
    /// Condition name (e.g. "observed", "shuffled"); selects colour and group.
    pub condition: String,
    /// Swept parameter value, if the experiment is a sweep.
    pub x: Option<f64>,
    /// Return time after stimulus end in seconds; `None` when it never returned.
    pub delta_t: Option<f64>,
    /// Whether the excitatory mean rate returned to baseline within the run.
    pub returned: bool,
    /// Whether the simulation blew up (non-finite or runaway rates).
    pub diverged: bool,
}

/// Traces of one simulation, laid out like the course notebook's
/// `plot_time_series`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeSeries {
    /// Figure title.
    pub title: String,
    /// Sample times in seconds.
    pub t: Vec<f64>,
    /// Rates of a subset of excitatory neurons, each the same length as `t`.
    pub exc: Vec<Vec<f64>>,
    /// Mean rate over all excitatory neurons.
    pub exc_mean: Vec<f64>,
    /// Rates of a subset of inhibitory neurons, each the same length as `t`.
    pub inh: Vec<Vec<f64>>,
    /// Mean rate over all inhibitory neurons.
    pub inh_mean: Vec<f64>,
    /// Stimulus amplitude over time.
    pub stimulus: Vec<f64>,
    /// Time (s) at which the stimulus switches off; ΔT is measured from here.
    pub stimulus_end: f64,
    /// Time (s) at which the excitatory mean returned to baseline, if it did.
    pub t_return: Option<f64>,
    /// Return duration `t_return - stimulus_end` in seconds, if it returned.
    pub delta_t: Option<f64>,
}

/// One motif against one null model's ensemble, standardised by the
/// ensemble: what [`motif_zscores`] draws.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MotifZ {
    /// The motif (a row of the figure).
    pub motif: String,
    /// The null model (a colour).
    pub null: String,
    /// (observed − null mean) / null sd; `None` where the null sd is 0 or undefined.
    pub z: Option<f64>,
    /// Each member of the ensemble standardised the same way.
    pub null_z: Vec<f64>,
}

/// A self-contained HTML report of one experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Page title and top heading.
    pub title: String,
    /// Human-readable generation timestamp, shown under the title.
    pub generated: String,
    /// The experiment specification exactly as run, shown verbatim.
    pub spec_toml: String,
    /// Provenance rows (key, value), e.g. input file and its sha256.
    pub provenance: Vec<(String, String)>,
    /// Report body, in order.
    pub sections: Vec<Section>,
}

/// One block of the report body.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    /// A CSV table (header row + data rows) rendered as an HTML table.
    Table {
        /// Section heading.
        title: String,
        /// CSV text; numbers are shown with about 4 significant digits.
        csv: String,
    },
    /// A PNG figure, inlined into the page as a base64 data URI.
    Figure {
        /// Section heading.
        title: String,
        /// Caption shown under the figure.
        caption: String,
        /// Path of the PNG to inline.
        png: PathBuf,
    },
    /// Free text; blank lines separate paragraphs.
    Text {
        /// Section heading.
        title: String,
        /// Body text (plain text, escaped on output).
        body: String,
    },
}

/// ΔT distributions per condition, written to `dir/stem.png` and `dir/stem.svg`.
///
/// Left panel: overlaid semi-transparent histograms with shared bins. Right
/// panel: jittered strip plot over a box (median, quartiles, 1.5 IQR
/// whiskers) per condition. Runs that did not return or diverged are not
/// drawn but counted in the legend ("n=10, 2 did not return"). Conditions
/// found in `runs` but missing from `conditions` are appended in order of
/// first appearance.
pub fn delta_t_distributions(
    dir: &Path,
    stem: &str,
    conditions: &[String],
    runs: &[RunPoint],
) -> Result<(), PlotError> {
    distributions::delta_t_distributions(dir, stem, conditions, runs)
}

/// ΔT against a swept parameter, written to `dir/stem.png` and `dir/stem.svg`.
///
/// One point per run (dodged horizontally per condition) and a mean ± sd
/// line per condition. Runs that did not return (hollow triangles) or
/// diverged (red crosses) are drawn in labelled bands at the top of the axes.
/// Runs without an `x` value are ignored.
pub fn sweep_plot(
    dir: &Path,
    stem: &str,
    x_label: &str,
    conditions: &[String],
    runs: &[RunPoint],
) -> Result<(), PlotError> {
    sweep::sweep_plot(dir, stem, x_label, conditions, runs)
}

/// Excitatory rates, inhibitory rates and stimulus in three stacked panels
/// sharing the time axis, with the ΔT marker on the excitatory panel;
/// written to `dir/stem.png` and `dir/stem.svg`.
pub fn time_series(dir: &Path, stem: &str, ts: &TimeSeries) -> Result<(), PlotError> {
    timeseries::time_series(dir, stem, ts)
}

/// Heatmap of an `n`×`n` row-major weight matrix (rows = presynaptic on the
/// y axis, columns = postsynaptic on the x axis) with a diverging colormap
/// symmetric around zero; written to `dir/stem.png` and `dir/stem.svg`.
///
/// The colour limits are ±(95th percentile of |w| over non-zero entries) so
/// that a few strong synapses do not wash out the rest. The SVG embeds the
/// matrix as a PNG raster so it stays small for large `n`.
pub fn matrix_heatmap(dir: &Path, stem: &str, title: &str, m: &[f64], n: usize) -> Result<(), PlotError> {
    matrix::matrix_heatmap(dir, stem, title, m, n)
}

/// Histogram of the non-zero finite weights (101 bins from 0, or the minimum
/// if negative, up to the 99th percentile); written to `dir/stem.png` and
/// `dir/stem.svg`.
pub fn weight_histogram(dir: &Path, stem: &str, title: &str, weights: &[f64]) -> Result<(), PlotError> {
    matrix::weight_histogram(dir, stem, title, weights)
}

/// Reciprocal ordered pair counts per condition (one point per seed, bar at
/// the mean); written to `dir/stem.png` and `dir/stem.svg`.
pub fn reciprocal_pairs(
    dir: &Path,
    stem: &str,
    conditions: &[String],
    values: &[(String, f64)],
) -> Result<(), PlotError> {
    reciprocal::reciprocal_pairs(dir, stem, conditions, values)
}

/// Predicted against measured decay after the stimulus, one point per run
/// (`runs`: condition, predicted, measured; non-finite pairs are left out),
/// with the identity line; written to `dir/stem.png` and `dir/stem.svg`.
pub fn decay_scatter(
    dir: &Path,
    stem: &str,
    conditions: &[String],
    runs: &[(String, f64, f64)],
) -> Result<(), PlotError> {
    decay::decay_scatter(dir, stem, conditions, runs)
}

/// Motifs against null models, written to `dir/stem.png` and `dir/stem.svg`:
/// one row per motif (in the order of `motifs`, then any other found in
/// `cells`), the observed z-score against each null model as a large dot in
/// the null's colour over its standardised ensemble (small dots), with the
/// |z| ≤ 2 band, on a symmetric log scale (sign(z) · log10(1 + |z|)). A
/// motif whose z is undefined is marked at 0 with a hollow triangle.
pub fn motif_zscores(
    dir: &Path,
    stem: &str,
    motifs: &[String],
    nulls: &[String],
    cells: &[MotifZ],
) -> Result<(), PlotError> {
    motifs::motif_zscores(dir, stem, motifs, nulls, cells)
}

/// Writes `report` as one self-contained HTML page (inline CSS, figures as
/// base64 PNG data URIs, no scripts or external assets).
///
/// A figure whose PNG cannot be read is replaced by a visible notice rather
/// than failing the whole report, so one broken figure does not hide all
/// the tables.
pub fn write_report(path: &Path, report: &Report) -> Result<(), PlotError> {
    report::write_report(path, report)
}
