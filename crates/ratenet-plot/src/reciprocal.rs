//! Reciprocal ordered pairs per condition: bar at the mean plus one point
//! per seed, so an observed matrix can be compared with its shuffles.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::canvas::{self, Axis, Figure, Margins, Raster};
use crate::distributions::ordered_conditions;
use crate::error::PlotError;
use crate::stats;
use crate::style::{anchored, cond_color, fmt_sig, Sc, INK, MUTED, NOTE_PX, TICK_PX};

struct Reciprocal {
    names: Vec<String>,
    /// Finite values per condition, in input order.
    values: Vec<Vec<f64>>,
    /// Non-finite values dropped per condition (reported, not drawn).
    dropped: Vec<usize>,
}

/// See [`crate::reciprocal_pairs`].
pub(crate) fn reciprocal_pairs(
    dir: &Path,
    stem: &str,
    conditions: &[String],
    values: &[(String, f64)],
) -> Result<(), PlotError> {
    let names = ordered_conditions(conditions, values.iter().map(|v| v.0.as_str()));
    let mut per = vec![Vec::new(); names.len()];
    let mut dropped = vec![0; names.len()];
    for (c, v) in values {
        if let Some(i) = names.iter().position(|n| n == c) {
            if v.is_finite() {
                per[i].push(*v);
            } else {
                dropped[i] += 1;
            }
        }
    }
    canvas::save(
        dir,
        stem,
        &Reciprocal {
            names,
            values: per,
            dropped,
        },
    )
}

impl Figure for Reciprocal {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        canvas::title(root, sc, "Reciprocal connections per condition", 22.0)?;
        let body = root.margin(sc.px(40.0), 0, 0, 0);
        let all = stats::sorted_finite(self.values.iter().flatten().copied());
        // Bars start at zero, so the axis must include it.
        let lo = all.first().copied().unwrap_or(0.0).min(0.0);
        let hi = all.last().copied().unwrap_or(1.0).max(0.0);
        let (lo, hi) = if hi > lo { (lo, hi) } else { (0.0, 1.0) };
        // Headroom for the mean labels above the tallest point.
        let span = hi - lo;
        let ylo = if lo < 0.0 { lo - span * 0.08 } else { 0.0 };
        let y = Axis::numeric(ylo, hi + span * 0.12, "reciprocal ordered pairs", 6);

        let k = self.names.len().max(1);
        let margins = Margins {
            top: 12.0,
            right: 24.0,
            left: 0.0,
            bottom: 58.0,
        };
        let plot_w = body.dim_in_pixel().0 as i32
            - sc.px(margins.right)
            - canvas::needed_left(&body, sc, &y).max(sc.px(margins.left));
        let font = sc.font(TICK_PX);
        let labels: Vec<String> = self
            .names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| {
                canvas::fit_text(
                    &body,
                    &font,
                    &format!("{n} (n={})", v.len()),
                    plot_w / k as i32 - sc.px(6.0),
                )
            })
            .collect();
        let x = Axis::categorical(&labels, "condition");
        let chart = canvas::chart(&body, sc, &x, &y, margins, (false, true))?;
        let pa = chart.plotting_area();
        let screen = pa.use_screen_coord();
        let hw = 0.32;
        for (ci, v) in self.values.iter().enumerate() {
            let c = ci as f64;
            let color = cond_color(ci);
            let Some((mean, sd)) = stats::mean_sd(v) else {
                if all.is_empty() {
                    continue;
                }
                let p = chart.backend_coord(&(c, (ylo + hi) / 2.0));
                screen.draw(&Text::new(
                    "no values",
                    p,
                    anchored(sc.font(NOTE_PX).color(&MUTED), HPos::Center, VPos::Center),
                ))?;
                continue;
            };
            pa.draw(&Rectangle::new(
                [(c - hw, 0.0), (c + hw, mean)],
                color.mix(0.3).filled(),
            ))?;
            pa.draw(&Rectangle::new(
                [(c - hw, 0.0), (c + hw, mean)],
                ShapeStyle::from(&color).stroke_width(sc.w(1.2)),
            ))?;
            if v.len() > 1 {
                let st = INK.stroke_width(sc.w(1.5));
                pa.draw(&PathElement::new(vec![(c, mean - sd), (c, mean + sd)], st))?;
                for yv in [mean - sd, mean + sd] {
                    pa.draw(&PathElement::new(vec![(c - 0.06, yv), (c + 0.06, yv)], st))?;
                }
            }
            pa.draw(&PathElement::new(
                vec![(c - hw, mean), (c + hw, mean)],
                INK.stroke_width(sc.w(2.4)),
            ))?;
            for (i, &val) in v.iter().enumerate() {
                let xj = if v.len() > 1 { c + stats::jitter(ci, i) * 0.4 } else { c };
                let p = chart.backend_coord(&(xj, val));
                canvas::marker_dot(&screen, sc, p, color, 4.0, 0.9)?;
            }
            let top = v.iter().copied().fold(mean + sd, f64::max);
            let mut label = if v.len() > 1 {
                format!("mean {} ± {}", fmt_sig(mean, 4), fmt_sig(sd, 2))
            } else {
                fmt_sig(mean, 4)
            };
            if self.dropped[ci] > 0 {
                label.push_str(&format!(" ({} non-finite)", self.dropped[ci]));
            }
            let p = chart.backend_coord(&(c, top));
            screen.draw(&Text::new(
                label,
                (p.0, p.1 - sc.px(10.0)),
                anchored(sc.font(NOTE_PX), HPos::Center, VPos::Bottom),
            ))?;
        }
        if all.is_empty() {
            canvas::empty_note(&chart, sc, "no values")?;
        }
        canvas::frame(&chart, sc)?;
        Ok(None)
    }
}
