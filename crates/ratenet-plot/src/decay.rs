//! Predicted against measured decay: one point per run, the linearised
//! network's prediction `tau / (1 − λ_max)` on x, the time constant fitted
//! to the return on y, and the identity line where they would agree.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::canvas::{self, Axis, Figure, Glyph, Raster};
use crate::distributions::ordered_conditions;
use crate::error::PlotError;
use crate::style::{cond_color, padded, Sc, MUTED};

struct Decay {
    names: Vec<String>,
    /// (condition index, predicted, measured), finite values only.
    points: Vec<(usize, f64, f64)>,
}

/// See [`crate::decay_scatter`].
pub(crate) fn decay_scatter(
    dir: &Path,
    stem: &str,
    conditions: &[String],
    runs: &[(String, f64, f64)],
) -> Result<(), PlotError> {
    let names = ordered_conditions(conditions, runs.iter().map(|r| r.0.as_str()));
    let points = runs
        .iter()
        .filter(|r| r.1.is_finite() && r.2.is_finite())
        .filter_map(|r| Some((names.iter().position(|n| *n == r.0)?, r.1, r.2)))
        .collect();
    canvas::save(dir, stem, &Decay { names, points })
}

impl Figure for Decay {
    fn size(&self) -> (u32, u32) {
        (900, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        canvas::title(root, sc, "Decay after the stimulus: predicted vs measured", 22.0)?;
        let all = self.points.iter().flat_map(|p| [p.1, p.2]);
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() && hi > lo {
            padded(lo, hi, 0.08)
        } else if lo.is_finite() {
            (lo * 0.9, lo * 1.1 + 1e-9)
        } else {
            (0.0, 1.0)
        };
        let x = Axis::numeric(lo, hi, "predicted: tau / (1 − λ_max)  (s)", 7);
        let y = Axis::numeric(lo, hi, "measured: decay_tau  (s)", 7);
        let mut entries: Vec<(Glyph, String)> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (Glyph::Dot(cond_color(i)), n.clone()))
            .collect();
        entries.push((Glyph::Line(MUTED, 1.2, 1.0), "measured = predicted".into()));
        let (plot_area, margins) = canvas::beside_legend(root, sc, &y, &entries);
        let chart = canvas::chart(&plot_area, sc, &x, &y, margins, (true, true))?;
        let pa = chart.plotting_area();
        pa.draw(&PathElement::new(
            vec![(lo, lo), (hi, hi)],
            ShapeStyle::from(&MUTED).stroke_width(sc.w(1.2)),
        ))?;
        let screen = pa.use_screen_coord();
        for &(c, px, py) in &self.points {
            let at = chart.backend_coord(&(px, py));
            canvas::marker_dot(&screen, sc, at, cond_color(c), 3.6, 0.6)?;
        }
        if self.points.is_empty() {
            canvas::empty_note(&chart, sc, "no run with both a measured and a predicted decay")?;
        }
        canvas::frame(&chart, sc)?;
        let r = canvas::Rect::of(&chart);
        canvas::draw_legend(&root.use_screen_coord(), sc, &entries, (r.x1 + sc.px(16.0), r.y0))?;
        Ok(None)
    }
}
