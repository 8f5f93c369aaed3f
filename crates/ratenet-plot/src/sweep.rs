//! ΔT against a swept parameter, with failures in labelled bands on top.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::canvas::{self, Axis, Figure, Glyph, Raster};
use crate::distributions::{ordered_conditions, outcome, Outcome};
use crate::error::PlotError;
use crate::stats;
use crate::style::{cond_color, fmt_sig, padded, Sc, FAIL, INK};
use crate::RunPoint;

/// One run reduced to what the sweep needs.
struct Pt {
    cond: usize,
    x: f64,
    outcome: Outcome,
}

struct Sweep {
    x_label: String,
    names: Vec<String>,
    points: Vec<Pt>,
    /// Runs dropped because they had no usable x value.
    no_x: usize,
}

/// See [`crate::sweep_plot`].
pub(crate) fn sweep_plot(
    dir: &Path,
    stem: &str,
    x_label: &str,
    conditions: &[String],
    runs: &[RunPoint],
) -> Result<(), PlotError> {
    let names = ordered_conditions(conditions, runs.iter().map(|r| r.condition.as_str()));
    let mut points = Vec::new();
    let mut no_x = 0;
    for r in runs {
        let cond = names.iter().position(|n| *n == r.condition).unwrap_or(0);
        match r.x {
            Some(x) if x.is_finite() => points.push(Pt {
                cond,
                x,
                outcome: outcome(r),
            }),
            _ => no_x += 1,
        }
    }
    canvas::save(
        dir,
        stem,
        &Sweep {
            x_label: x_label.to_string(),
            names,
            points,
            no_x,
        },
    )
}

impl Figure for Sweep {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        let mut title = if self.x_label.is_empty() {
            "ΔT across the sweep".to_string()
        } else {
            format!("ΔT vs {}", self.x_label)
        };
        if self.no_x > 0 {
            title.push_str(&format!(" ({} runs without a sweep value)", self.no_x));
        }
        canvas::title(root, sc, &title, 22.0)?;

        let mut xs: Vec<f64> = self.points.iter().map(|p| p.x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let k = self.names.len().max(1);
        let spacing = xs.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
        let spacing = if spacing.is_finite() && spacing > 0.0 {
            spacing
        } else {
            match xs.first() {
                Some(x) if *x != 0.0 => x.abs() * 0.2,
                _ => 1.0,
            }
        };
        // Conditions share at most a third of the gap between sweep values,
        // so dodged groups never reach into the neighbouring value.
        let span = spacing * 0.33;
        let dodge = |c: usize| {
            if k > 1 {
                (c as f64 - (k - 1) as f64 / 2.0) * span / k as f64
            } else {
                0.0
            }
        };

        let values: Vec<f64> = self
            .points
            .iter()
            .filter_map(|p| match p.outcome {
                Outcome::Value(v) => Some(v),
                _ => None,
            })
            .collect();
        // Mean ± sd per (condition, x).
        let mut summaries: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); self.names.len()];
        for (ci, s) in summaries.iter_mut().enumerate() {
            for &x in &xs {
                let v: Vec<f64> = self
                    .points
                    .iter()
                    .filter(|p| p.cond == ci && p.x == x)
                    .filter_map(|p| match p.outcome {
                        Outcome::Value(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                if let Some((m, sd)) = stats::mean_sd(&v) {
                    s.push((x, m, sd));
                }
            }
        }
        let ext = stats::finite_range(
            [values.as_slice()].into_iter().chain(std::iter::once(
                summaries
                    .iter()
                    .flatten()
                    .flat_map(|&(_, m, sd)| [m - sd, m + sd])
                    .collect::<Vec<_>>()
                    .as_slice(),
            )),
        );
        let (ylo, ydata_hi) = match ext {
            Some((a, b)) => padded(a, b, 0.06),
            None => (0.0, 1.0),
        };
        let has_nr = self.points.iter().any(|p| p.outcome == Outcome::NotReturned);
        let has_dv = self.points.iter().any(|p| p.outcome == Outcome::Diverged);
        let mut rows: Vec<(&str, Outcome)> = Vec::new();
        if has_nr {
            rows.push(("did not return", Outcome::NotReturned));
        }
        if has_dv {
            rows.push(("diverged", Outcome::Diverged));
        }
        let row_h = (ydata_hi - ylo) * 0.075;
        let band_lo = ydata_hi;
        let yhi = band_lo + row_h * rows.len() as f64;
        let row_y = |o: Outcome| {
            rows.iter()
                .position(|r| r.1 == o)
                .map(|i| band_lo + row_h * (i as f64 + 0.5))
                .unwrap_or(band_lo)
        };

        let mut y = Axis::numeric(ylo, ydata_hi, "ΔT (s)", 6);
        if !rows.is_empty() {
            // A tick right under the band would collide with its labels.
            let keep: Vec<bool> = y.ticks.iter().map(|t| *t < band_lo - 0.45 * row_h).collect();
            let mut it = keep.iter();
            y.ticks.retain(|_| *it.next().unwrap_or(&true));
            let mut it = keep.iter();
            y.labels.retain(|_| *it.next().unwrap_or(&true));
        }
        // The failure rows are labelled through the tick machinery so the
        // labels line up with the y tick labels.
        for (i, (label, _)) in rows.iter().enumerate() {
            y.ticks.push(band_lo + row_h * (i as f64 + 0.5));
            y.labels.push(label.to_string());
        }
        y.hi = yhi;

        let (xlo, xhi) = match (xs.first(), xs.last()) {
            (Some(&a), Some(&b)) => {
                let pad = (0.05 * (b - a)).max(spacing * 0.4);
                (a - pad, b + pad)
            }
            _ => (0.0, 1.0),
        };
        let x = if !xs.is_empty() && xs.len() <= 12 {
            Axis {
                lo: xlo,
                hi: xhi,
                ticks: xs.clone(),
                labels: xs.iter().map(|v| fmt_sig(*v, 4)).collect(),
                desc: self.x_label.clone(),
            }
        } else {
            Axis::numeric(xlo, xhi, &self.x_label, 7)
        };

        let mut entries: Vec<(Glyph, String)> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (Glyph::LineDot(cond_color(i)), n.clone()))
            .collect();
        entries.push((Glyph::Dot(RGBColor(0xA0, 0xA0, 0xA0)), "single run".into()));
        if has_nr {
            entries.push((Glyph::HollowTri(INK), "did not return".into()));
        }
        if has_dv {
            entries.push((Glyph::Cross(FAIL), "diverged".into()));
        }
        let (plot_area, margins) = canvas::beside_legend(root, sc, &y, &entries);
        let chart = canvas::chart(&plot_area, sc, &x, &y, margins, (true, true))?;
        let pa = chart.plotting_area();
        let screen = pa.use_screen_coord();

        if !rows.is_empty() {
            canvas::band(&chart, (xlo, xhi), (band_lo, yhi))?;
            pa.draw(&PathElement::new(
                vec![(xlo, band_lo), (xhi, band_lo)],
                ShapeStyle::from(&RGBColor(0xBB, 0xBB, 0xBB)).stroke_width(sc.w(1.0)),
            ))?;
        }

        for (i, p) in self.points.iter().enumerate() {
            let jit = stats::jitter(p.cond, i);
            let px = p.x + dodge(p.cond) + jit * span / k as f64 * 0.5;
            let color = cond_color(p.cond);
            match p.outcome {
                Outcome::Value(v) => {
                    let c = chart.backend_coord(&(px, v));
                    canvas::marker_dot(&screen, sc, c, color, 3.2, 0.45)?;
                }
                Outcome::NotReturned => {
                    let yv = row_y(Outcome::NotReturned) + stats::jitter(p.cond + 97, i) * row_h * 0.4;
                    let c = chart.backend_coord(&(px, yv));
                    canvas::marker_tri(&screen, sc, c, color)?;
                }
                Outcome::Diverged => {
                    let yv = row_y(Outcome::Diverged) + stats::jitter(p.cond + 193, i) * row_h * 0.4;
                    let c = chart.backend_coord(&(px, yv));
                    canvas::marker_cross(&screen, sc, c, FAIL)?;
                }
            }
        }

        for (ci, s) in summaries.iter().enumerate() {
            let color = cond_color(ci);
            let line: Vec<(f64, f64)> = s.iter().map(|&(x, m, _)| (x + dodge(ci), m)).collect();
            pa.draw(&PathElement::new(line, color.stroke_width(sc.w(2.2))))?;
            for &(x, m, sd) in s {
                let xd = x + dodge(ci);
                let st = color.stroke_width(sc.w(1.8));
                pa.draw(&PathElement::new(vec![(xd, m - sd), (xd, m + sd)], st))?;
                // Caps have a fixed pixel width: in data units they would
                // balloon when the sweep has a single value.
                let cap = sc.px(5.0);
                for yv in [m - sd, m + sd] {
                    let c = chart.backend_coord(&(xd, yv));
                    screen.draw(&PathElement::new(vec![(c.0 - cap, c.1), (c.0 + cap, c.1)], st))?;
                }
                let c = chart.backend_coord(&(xd, m));
                canvas::marker_dot(&screen, sc, c, color, 5.0, 1.0)?;
            }
        }

        if xs.is_empty() {
            canvas::empty_note(&chart, sc, "no runs with a sweep value")?;
        } else if values.is_empty() && rows.is_empty() {
            canvas::empty_note(&chart, sc, "no returned runs")?;
        }
        canvas::frame(&chart, sc)?;
        let r = canvas::Rect::of(&chart);
        canvas::draw_legend(&root.use_screen_coord(), sc, &entries, (r.x1 + sc.px(16.0), r.y0))?;
        Ok(None)
    }
}
