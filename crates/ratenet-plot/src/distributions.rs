//! ΔT distributions per condition: overlaid histograms + strip/box plot.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::canvas::{self, Axis, Figure, Glyph, Margins, Raster, Rect};
use crate::error::PlotError;
use crate::stats;
use crate::style::{anchored, cond_color, padded, Sc, INK, MUTED, NOTE_PX, TICK_PX};
use crate::RunPoint;

/// How one run ended, as far as plotting is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// Returned with a finite ΔT: drawn.
    Value(f64),
    /// Finished without returning (or without a usable ΔT).
    NotReturned,
    /// Blew up.
    Diverged,
}

/// Classifies a run; divergence wins over everything else because a
/// diverged run's ΔT (if any) is meaningless.
pub(crate) fn outcome(r: &RunPoint) -> Outcome {
    if r.diverged {
        Outcome::Diverged
    } else {
        match r.delta_t {
            Some(v) if r.returned && v.is_finite() => Outcome::Value(v),
            _ => Outcome::NotReturned,
        }
    }
}

/// Caller-given condition order, then any unlisted condition in order of
/// first appearance, without duplicates; a stray condition must still be
/// drawn rather than silently dropped.
pub(crate) fn ordered_conditions<'a>(given: &'a [String], seen: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in given.iter().map(String::as_str).chain(seen) {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    }
    out
}

/// Per-condition tallies and drawable values.
pub(crate) struct Group {
    pub name: String,
    pub values: Vec<f64>,
    pub n: usize,
    pub not_returned: usize,
    pub diverged: usize,
}

impl Group {
    /// "observed (n=10, 2 did not return)".
    pub fn legend_label(&self) -> String {
        let mut parts = vec![format!("n={}", self.n)];
        if self.not_returned > 0 {
            parts.push(format!("{} did not return", self.not_returned));
        }
        if self.diverged > 0 {
            parts.push(format!("{} diverged", self.diverged));
        }
        format!("{} ({})", self.name, parts.join(", "))
    }
}

/// Tallies runs per condition in display order.
pub(crate) fn groups(conditions: &[String], runs: &[RunPoint]) -> Vec<Group> {
    let names = ordered_conditions(conditions, runs.iter().map(|r| r.condition.as_str()));
    names
        .into_iter()
        .map(|name| {
            let mut g = Group {
                name,
                values: Vec::new(),
                n: 0,
                not_returned: 0,
                diverged: 0,
            };
            for r in runs.iter().filter(|r| r.condition == g.name) {
                g.n += 1;
                match outcome(r) {
                    Outcome::Value(v) => g.values.push(v),
                    Outcome::NotReturned => g.not_returned += 1,
                    Outcome::Diverged => g.diverged += 1,
                }
            }
            g
        })
        .collect()
}

/// Axis for counts: integer ticks only.
pub(crate) fn count_axis(max_count: usize, desc: &str) -> Axis {
    let hi = (max_count.max(1) as f64) * 1.08;
    let mut ax = Axis::numeric(0.0, hi, desc, 5);
    if ax.ticks.len() > 1 && ax.ticks[1] - ax.ticks[0] < 1.0 {
        ax.ticks = (0..=hi.floor() as i64).map(|v| v as f64).collect();
        ax.labels = ax.ticks.iter().map(|v| format!("{v}")).collect();
    }
    ax
}

struct Distributions {
    groups: Vec<Group>,
}

/// See [`crate::delta_t_distributions`].
pub(crate) fn delta_t_distributions(
    dir: &Path,
    stem: &str,
    conditions: &[String],
    runs: &[RunPoint],
) -> Result<(), PlotError> {
    canvas::save(
        dir,
        stem,
        &Distributions {
            groups: groups(conditions, runs),
        },
    )
}

impl Figure for Distributions {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        let total: usize = self.groups.iter().map(|g| g.n).sum();
        let missing: usize = self.groups.iter().map(|g| g.not_returned + g.diverged).sum();
        let title = if missing > 0 {
            format!("ΔT after stimulus end ({missing} of {total} runs not shown)")
        } else {
            "ΔT after stimulus end".to_string()
        };
        canvas::title(root, sc, &title, 22.0)?;
        let body = root.margin(sc.px(40.0), 0, 0, 0);
        let (left, right) = body.split_horizontally(sc.px(480.0));
        self.histograms(&left, sc)?;
        self.strips(&right, sc)?;
        Ok(None)
    }
}

impl Distributions {
    fn histograms<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, sc: Sc) -> Result<(), PlotError> {
        let all = stats::sorted_finite(self.groups.iter().flat_map(|g| g.values.iter().copied()));
        let margins = Margins {
            top: 12.0,
            right: 18.0,
            left: 0.0,
            bottom: 58.0,
        };
        let (lo, hi) = match (all.first(), all.last()) {
            (Some(&a), Some(&b)) if b > a => (a, b),
            (Some(&a), _) => (a - 0.5, a + 0.5),
            _ => (0.0, 1.0),
        };
        let nbins = stats::auto_bins(&all);
        let counts: Vec<Vec<usize>> = self
            .groups
            .iter()
            .map(|g| stats::histogram(&g.values, lo, hi, nbins))
            .collect();
        let max_count = counts.iter().flatten().copied().max().unwrap_or(0);
        let (xlo, xhi) = padded(lo, hi, 0.03);
        let x = Axis::numeric(xlo, xhi, "ΔT (s)", 6);
        // Reserve headroom so the legend sits above the bars instead of on
        // them: the count axis is stretched by the legend's share of the plot.
        let entries: Vec<(Glyph, String)> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (Glyph::Patch(cond_color(i), 0.45), g.legend_label()))
            .collect();
        let legend = canvas::legend_size(area, sc, &entries);
        let plot_h = area.dim_in_pixel().1 as f64 - sc.px(margins.top + margins.bottom) as f64;
        let free = (1.0 - (legend.1 as f64 + sc.px(16.0) as f64) / plot_h).clamp(0.4, 1.0);
        let y = count_axis(((max_count.max(1) as f64) / free).ceil() as usize, "count");
        let chart = canvas::chart(area, sc, &x, &y, margins, (false, true))?;
        let width = (hi - lo) / nbins as f64;
        let mut obstacles = Vec::new();
        for (gi, (g, c)) in self.groups.iter().zip(&counts).enumerate() {
            let color = cond_color(gi);
            for (b, &count) in c.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let x0 = lo + b as f64 * width;
                let x1 = x0 + width;
                let rect = [(x0, 0.0), (x1, count as f64)];
                chart
                    .plotting_area()
                    .draw(&Rectangle::new(rect, color.mix(0.45).filled()))?;
                chart.plotting_area().draw(&Rectangle::new(
                    rect,
                    ShapeStyle::from(&color.mix(0.9)).stroke_width(sc.w(1.0)),
                ))?;
                let p0 = chart.backend_coord(&(x0, count as f64));
                let p1 = chart.backend_coord(&(x1, 0.0));
                obstacles.push(Rect {
                    x0: p0.0,
                    y0: p0.1,
                    x1: p1.0,
                    y1: p1.1,
                });
            }
            let _ = g;
        }
        if all.is_empty() {
            canvas::empty_note(&chart, sc, "no returned runs")?;
        }
        let screen = chart.plotting_area().use_screen_coord();
        let size = canvas::legend_size(&screen, sc, &entries);
        let pos = canvas::best_corner(Rect::of(&chart), size, &obstacles, sc);
        canvas::draw_legend(&screen, sc, &entries, pos)?;
        canvas::frame(&chart, sc)?;
        Ok(())
    }

    fn strips<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, sc: Sc) -> Result<(), PlotError> {
        let margins = Margins {
            top: 12.0,
            right: 22.0,
            left: 0.0,
            bottom: 58.0,
        };
        let all = stats::sorted_finite(self.groups.iter().flat_map(|g| g.values.iter().copied()));
        let (ylo, yhi) = match (all.first(), all.last()) {
            (Some(&a), Some(&b)) => padded(a, b, 0.06),
            _ => (0.0, 1.0),
        };
        let k = self.groups.len().max(1);
        let plot_w = area.dim_in_pixel().0 as i32 - sc.px(margins.left + margins.right);
        let font = sc.font(TICK_PX);
        let names: Vec<String> = self
            .groups
            .iter()
            .map(|g| canvas::fit_text(area, &font, &g.name, plot_w / k as i32 - sc.px(6.0)))
            .collect();
        let x = Axis::categorical(&names, "condition");
        let y = Axis::numeric(ylo, yhi, "ΔT (s)", 6);
        let chart = canvas::chart(area, sc, &x, &y, margins, (false, true))?;
        let pa = chart.plotting_area();
        let screen = pa.use_screen_coord();
        let edge = RGBColor(0x40, 0x40, 0x40);
        for (gi, g) in self.groups.iter().enumerate() {
            let c = gi as f64;
            let color = cond_color(gi);
            let sorted = stats::sorted_finite(g.values.iter().copied());
            if let Some(b) = stats::box_stats(&sorted) {
                let hw = 0.28;
                let line = ShapeStyle::from(&edge).stroke_width(sc.w(1.3));
                pa.draw(&Rectangle::new(
                    [(c - hw, b.q1), (c + hw, b.q3)],
                    color.mix(0.3).filled(),
                ))?;
                pa.draw(&Rectangle::new([(c - hw, b.q1), (c + hw, b.q3)], line))?;
                pa.draw(&PathElement::new(vec![(c, b.q3), (c, b.hi_whisker)], line))?;
                pa.draw(&PathElement::new(vec![(c, b.q1), (c, b.lo_whisker)], line))?;
                for w in [b.lo_whisker, b.hi_whisker] {
                    pa.draw(&PathElement::new(vec![(c - hw / 2.0, w), (c + hw / 2.0, w)], line))?;
                }
                pa.draw(&PathElement::new(
                    vec![(c - hw, b.median), (c + hw, b.median)],
                    ShapeStyle::from(&INK).stroke_width(sc.w(2.2)),
                ))?;
            } else if !all.is_empty() {
                let p = chart.backend_coord(&(c, (ylo + yhi) / 2.0));
                screen.draw(&Text::new(
                    "none returned",
                    p,
                    anchored(sc.font(NOTE_PX).color(&MUTED), HPos::Center, VPos::Center),
                ))?;
            }
            for (i, &v) in g.values.iter().enumerate() {
                let xj = c + stats::jitter(gi, i) * 0.3;
                let p = chart.backend_coord(&(xj, v));
                canvas::marker_dot(&screen, sc, p, color, 3.6, 0.85)?;
            }
        }
        if all.is_empty() {
            canvas::empty_note(&chart, sc, "no returned runs")?;
        }
        canvas::frame(&chart, sc)?;
        Ok(())
    }
}
