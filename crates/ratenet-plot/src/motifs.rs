//! Motifs against null models, as a forest plot: one row per motif, the
//! observed count's z-score against each null model (a large dot), the
//! null ensemble standardised the same way behind it (small faint dots, so
//! the null's spread and skew show), and the |z| ≤ 2 band. z runs on a
//! symmetric log scale, so that a reciprocal count 40 sd above its null and
//! a triad 2 sd off both read at a glance.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::canvas::{self, Axis, Figure, Glyph, Raster};
use crate::error::PlotError;
use crate::stats;
use crate::style::{cond_color, typographic_minus, Sc, BAND, GRID, INK, MUTED};
use crate::MotifZ;

struct Motifs {
    motifs: Vec<String>,
    nulls: Vec<String>,
    /// (motif index, null index, z, standardised ensemble).
    cells: Vec<(usize, usize, Option<f64>, Vec<f64>)>,
}

/// See [`crate::motif_zscores`].
pub(crate) fn motif_zscores(
    dir: &Path,
    stem: &str,
    motifs: &[String],
    nulls: &[String],
    cells: &[MotifZ],
) -> Result<(), PlotError> {
    let mut motifs = motifs.to_vec();
    let mut nulls = nulls.to_vec();
    let index = |list: &mut Vec<String>, name: &str| match list.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            list.push(name.to_string());
            list.len() - 1
        }
    };
    let cells = cells
        .iter()
        .map(|c| {
            (
                index(&mut motifs, &c.motif),
                index(&mut nulls, &c.null),
                c.z.filter(|z| z.is_finite()),
                c.null_z.iter().copied().filter(|z| z.is_finite()).collect(),
            )
        })
        .collect();
    canvas::save(dir, stem, &Motifs { motifs, nulls, cells })
}

/// The symmetric log scale: sign(z) · log10(1 + |z|).
fn symlog(z: f64) -> f64 {
    z.signum() * (1.0 + z.abs()).log10()
}

/// Ticks of the symmetric log axis up to `max` (> 0): 0, ±1, ±2, ±5, ±10, …,
/// thinned to the powers of ten when there are too many.
fn symlog_ticks(max: f64) -> Vec<f64> {
    let mut pos: Vec<f64> = Vec::new();
    let mut mag = 1.0;
    while mag <= max {
        for m in [1.0, 2.0, 5.0] {
            if m * mag <= max {
                pos.push(m * mag);
            }
        }
        mag *= 10.0;
    }
    if pos.len() > 6 {
        pos.retain(|v| (v.log10() - v.log10().round()).abs() < 1e-9 || *v == 2.0);
    }
    let mut out: Vec<f64> = pos.iter().rev().map(|v| -v).collect();
    out.push(0.0);
    out.extend(pos);
    out
}

fn tick_label(v: f64) -> String {
    typographic_minus(&format!("{v}"))
}

impl Figure for Motifs {
    fn size(&self) -> (u32, u32) {
        let rows = self.motifs.len().max(1) as u32;
        (1000, 150 + rows * (18 + 8 * self.nulls.len().clamp(1, 4) as u32))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        canvas::title(root, sc, "Motifs: observed against null models", 22.0)?;
        let all = self.cells.iter().flat_map(|c| c.2.iter().chain(&c.3).map(|z| z.abs()));
        let zmax = all.fold(3.0f64, f64::max);
        let top = symlog(zmax) * 1.06;
        let ticks = symlog_ticks(zmax);
        let x = Axis {
            lo: -top,
            hi: top,
            ticks: ticks.iter().map(|&v| symlog(v)).collect(),
            labels: ticks.iter().map(|&v| tick_label(v)).collect(),
            desc: "z = (observed − null mean) / null sd   (symmetric log scale)".into(),
        };
        // Row 0 (the first motif) at the top.
        let mut y = Axis::categorical(&self.motifs, "");
        std::mem::swap(&mut y.lo, &mut y.hi);

        let k = self.nulls.len().max(1);
        let mut entries: Vec<(Glyph, String)> = self
            .nulls
            .iter()
            .enumerate()
            .map(|(i, n)| (Glyph::Dot(cond_color(i)), n.clone()))
            .collect();
        entries.push((Glyph::Blank, "large dot: observed".into()));
        entries.push((Glyph::Blank, "small dots: null ensemble".into()));
        entries.push((Glyph::Patch(BAND, 1.0), "|z| ≤ 2".into()));
        let undefined = self.cells.iter().any(|c| c.2.is_none());
        if undefined {
            entries.push((Glyph::HollowTri(MUTED), "z undefined (null sd 0)".into()));
        }
        let (plot_area, margins) = canvas::beside_legend(root, sc, &y, &entries);
        let chart = canvas::chart(&plot_area, sc, &x, &y, margins, (true, false))?;
        let pa = chart.plotting_area();
        let rows = self.motifs.len() as f64;
        canvas::tinted_band(&chart, (symlog(-2.0), symlog(2.0)), (-0.5, rows - 0.5), BAND)?;
        for r in 1..self.motifs.len() {
            let yr = r as f64 - 0.5;
            pa.draw(&PathElement::new(
                vec![(-top, yr), (top, yr)],
                GRID.stroke_width(sc.w(1.0)),
            ))?;
        }
        pa.draw(&PathElement::new(
            vec![(0.0, -0.5), (0.0, rows - 0.5)],
            MUTED.stroke_width(sc.w(1.2)),
        ))?;
        let screen = pa.use_screen_coord();
        // Each null model gets its own lane within a motif's row.
        let lane = 0.8 / k as f64;
        let at = |m: usize, n: usize| m as f64 + (n as f64 - (k as f64 - 1.0) / 2.0) * lane;
        for (ci, &(m, n, _, ref ens)) in self.cells.iter().enumerate() {
            let color = cond_color(n);
            for (i, &z) in ens.iter().enumerate() {
                let p = chart.backend_coord(&(symlog(z), at(m, n) + stats::jitter(ci, i) * lane * 0.6));
                screen.draw(&Circle::new(p, sc.px(2.0), color.mix(0.35).filled()))?;
            }
        }
        for &(m, n, z, _) in &self.cells {
            match z {
                Some(z) => {
                    let p = chart.backend_coord(&(symlog(z), at(m, n)));
                    screen.draw(&Circle::new(p, sc.px(6.0), cond_color(n).filled()))?;
                    screen.draw(&Circle::new(p, sc.px(6.0), INK.stroke_width(sc.w(1.2))))?;
                }
                None => canvas::marker_tri(&screen, sc, chart.backend_coord(&(0.0, at(m, n))), cond_color(n))?,
            }
        }
        if self.cells.is_empty() {
            canvas::empty_note(&chart, sc, "no motif statistics")?;
        }
        canvas::frame(&chart, sc)?;
        let r = canvas::Rect::of(&chart);
        canvas::draw_legend(&root.use_screen_coord(), sc, &entries, (r.x1 + sc.px(16.0), r.y0))?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlog_axis() {
        assert_eq!(symlog(0.0), 0.0);
        assert_eq!(symlog(9.0), 1.0);
        assert_eq!(symlog(-99.0), -2.0);
        assert_eq!(symlog_ticks(3.0), [-2.0, -1.0, 0.0, 1.0, 2.0]);
        assert_eq!(
            symlog_ticks(60.0),
            [-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        );
        assert_eq!(
            symlog_ticks(1000.0),
            [-1000.0, -100.0, -10.0, -2.0, -1.0, 0.0, 1.0, 2.0, 10.0, 100.0, 1000.0]
        );
    }
}
