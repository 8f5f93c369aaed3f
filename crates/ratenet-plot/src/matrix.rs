//! Connectivity figures: weight-matrix heatmap and weight histogram.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::canvas::{self, Axis, Figure, Glyph, Margins, Raster, Rect};
use crate::distributions::count_axis;
use crate::error::PlotError;
use crate::stats;
use crate::style::{anchored, cond_color, fmt_sig, nice_ticks, Sc, INK, LABEL_PX, TICK_PX};

/// ColorBrewer/matplotlib "RdBu_r" anchors, from most negative to most
/// positive; zero maps to the near-white middle.
const RDBU_R: [(u8, u8, u8); 11] = [
    (0x05, 0x30, 0x61),
    (0x21, 0x66, 0xAC),
    (0x43, 0x93, 0xC3),
    (0x92, 0xC5, 0xDE),
    (0xD1, 0xE5, 0xF0),
    (0xF7, 0xF7, 0xF7),
    (0xFD, 0xDB, 0xC7),
    (0xF4, 0xA5, 0x82),
    (0xD6, 0x60, 0x4D),
    (0xB2, 0x18, 0x2B),
    (0x67, 0x00, 0x1F),
];

/// Colour of `v` on a symmetric ±`vmax` scale; out-of-range values
/// saturate and non-finite cells are left white (like matplotlib's NaN).
fn cmap(v: f64, vmax: f64) -> RGBColor {
    if !v.is_finite() {
        return WHITE;
    }
    let t = (0.5 + 0.5 * v / vmax).clamp(0.0, 1.0) * (RDBU_R.len() - 1) as f64;
    let i = (t.floor() as usize).min(RDBU_R.len() - 2);
    let f = t - i as f64;
    let (a, b) = (RDBU_R[i], RDBU_R[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colour limit: 95th percentile of |w| over non-zero finite entries, so a
/// handful of strong synapses does not wash out the rest.
fn colour_limit(m: &[f64]) -> f64 {
    let abs = stats::sorted_finite(m.iter().filter(|v| **v != 0.0).map(|v| v.abs()));
    match stats::quantile_sorted(&abs, 0.95) {
        Some(v) if v > 0.0 && v.is_finite() => v,
        _ => abs.last().copied().filter(|v| *v > 0.0).unwrap_or(1.0),
    }
}

/// Ticks at the centres of cells with nice integer indices.
fn index_axis(n: usize, desc: &str, top_down: bool) -> Axis {
    let (ticks, step) = nice_ticks(0.0, n.saturating_sub(1) as f64, 6);
    let idx: Vec<usize> = if step < 1.0 {
        (0..n).collect()
    } else {
        ticks
            .iter()
            .filter(|v| **v >= 0.0)
            .map(|v| v.round() as usize)
            .filter(|v| *v < n.max(1))
            .collect()
    };
    let n_f = n.max(1) as f64;
    Axis {
        // Reversed limits put row 0 at the top, like imshow.
        lo: if top_down { n_f } else { 0.0 },
        hi: if top_down { 0.0 } else { n_f },
        ticks: idx.iter().map(|&i| i as f64 + 0.5).collect(),
        labels: idx.iter().map(|i| i.to_string()).collect(),
        desc: desc.to_string(),
    }
}

struct Heatmap<'a> {
    title: &'a str,
    m: &'a [f64],
    n: usize,
}

/// See [`crate::matrix_heatmap`]; rejects a matrix whose length is not n².
pub(crate) fn matrix_heatmap(dir: &Path, stem: &str, title: &str, m: &[f64], n: usize) -> Result<(), PlotError> {
    if n.checked_mul(n) != Some(m.len()) {
        return Err(PlotError::new(format!(
            "matrix heatmap {stem:?}: expected {n}×{n} = {} entries, got {}",
            n.saturating_mul(n),
            m.len()
        )));
    }
    canvas::save(dir, stem, &Heatmap { title, m, n })
}

/// Largest side of the raster embedded in the SVG; beyond it cells are
/// resampled, which is what a screen shows anyway, and keeps the SVG small.
const MAX_EMBED: usize = 600;

impl Heatmap<'_> {
    fn cell(&self, row: usize, col: usize) -> f64 {
        self.m[row * self.n + col]
    }

    /// `side`×`side` nearest-neighbour raster of the matrix.
    fn raster(&self, side: usize, vmax: f64) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(side * side * 3);
        let zero = cmap(0.0, vmax);
        for py in 0..side {
            let row = py * self.n / side;
            for px in 0..side {
                let col = px * self.n / side;
                let v = self.cell(row, col);
                let c = if v == 0.0 { zero } else { cmap(v, vmax) };
                rgb.extend_from_slice(&[c.0, c.1, c.2]);
            }
        }
        rgb
    }
}

impl Figure for Heatmap<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        canvas::title(root, sc, self.title, 22.0)?;
        let vmax = colour_limit(self.m);
        let x = index_axis(self.n, "postsynaptic neuron", false);
        let y = index_axis(self.n, "presynaptic neuron", true);

        let (top, bottom, side) = (sc.px(48.0), sc.px(58.0), sc.px(480.0));
        let left = canvas::needed_left(root, sc, &y);
        let (gap, cb_w, cb_right) = (sc.px(26.0), sc.px(20.0), sc.px(90.0));
        let total = left + side + gap + cb_w + cb_right;
        let (w, _) = root.dim_in_pixel();
        let x_off = ((w as i32 - total) / 2).max(0);
        let m_area = root.clone().shrink((x_off, top), (left + side, side + bottom));
        let margins = Margins {
            top: 0.0,
            right: 0.0,
            left: left as f64 / sc.s,
            bottom: bottom as f64 / sc.s,
        };
        let chart = canvas::chart(&m_area, sc, &x, &y, margins, (false, false))?;
        let r = Rect::of(&chart);
        let mut raster = None;
        if self.n == 0 {
            canvas::empty_note(&chart, sc, "empty matrix")?;
        } else if sc.svg {
            let side_px = self.n.min(MAX_EMBED);
            raster = Some(Raster {
                x: r.x0,
                y: r.y0,
                w: r.w() as u32,
                h: r.h() as u32,
                img_w: side_px as u32,
                img_h: side_px as u32,
                rgb: self.raster(side_px, vmax),
            });
        } else {
            // Per-pixel nearest-neighbour lookup: exact cell boundaries and
            // no per-cell rectangles, whatever n is; the pixels are blitted
            // as one image (opaque colours, so the same bytes as drawing
            // them one by one, at a fraction of the cost).
            // Zero cells (most of a connectome) share one colour, computed once.
            let (pw, ph) = (r.w().max(1) as usize, r.h().max(1) as usize);
            let zero = cmap(0.0, vmax);
            let cols: Vec<usize> = (0..pw).map(|px| (px * self.n / pw).min(self.n - 1)).collect();
            // A pixel row showing the same matrix row as the one above it
            // is a copy of it.
            let mut rgb: Vec<u8> = Vec::with_capacity(pw * ph * 3);
            let mut last = None;
            for py in 0..ph {
                let row = (py * self.n / ph).min(self.n - 1);
                if last == Some(row) {
                    let start = rgb.len() - pw * 3;
                    rgb.extend_from_within(start..);
                    continue;
                }
                last = Some(row);
                for &col in &cols {
                    let v = self.cell(row, col);
                    let c = if v == 0.0 { zero } else { cmap(v, vmax) };
                    rgb.extend_from_slice(&[c.0, c.1, c.2]);
                }
            }
            let image = BitMapElement::with_owned_buffer((r.x0, r.y0), (pw as u32, ph as u32), rgb)
                .ok_or_else(|| PlotError::new("heatmap raster of the wrong size"))?;
            chart.plotting_area().use_screen_coord().draw(&image)?;
        }
        canvas::frame(&chart, sc)?;

        // Colour bar, aligned with the matrix.
        let cb_area = root
            .clone()
            .shrink((x_off + left + side + gap, top), (cb_w + cb_right, side + bottom));
        let cy = Axis::numeric(-vmax, vmax, "", 5);
        let cx = Axis {
            lo: 0.0,
            hi: 1.0,
            ticks: Vec::new(),
            labels: Vec::new(),
            desc: String::new(),
        };
        let yf = |v: &f64| {
            cy.ticks
                .iter()
                .position(|t| (t - v).abs() < 1e-12 * vmax.max(1.0))
                .and_then(|i| cy.labels.get(i).cloned())
                .unwrap_or_default()
        };
        let mut cb = ChartBuilder::on(&cb_area)
            .margin(0)
            .set_label_area_size(LabelAreaPosition::Right, cb_right)
            .set_label_area_size(LabelAreaPosition::Bottom, bottom)
            .build_cartesian_2d(cx.coord(), cy.coord())?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .axis_style(ShapeStyle::from(&INK).stroke_width(sc.w(1.0)))
            .set_all_tick_mark_size(sc.px(5.0))
            .y_label_style(anchored(sc.font(TICK_PX), HPos::Left, VPos::Center))
            .y_label_formatter(&yf)
            .draw()?;
        let steps = 128;
        for i in 0..steps {
            let a = -vmax + 2.0 * vmax * i as f64 / steps as f64;
            let b = -vmax + 2.0 * vmax * (i + 1) as f64 / steps as f64;
            cb.plotting_area().draw(&Rectangle::new(
                [(0.0, a), (1.0, b)],
                cmap((a + b) / 2.0, vmax).filled(),
            ))?;
        }
        canvas::frame(&cb, sc)?;
        let cr = Rect::of(&cb);
        let tick_w = cy
            .labels
            .iter()
            .map(|l| root.estimate_text_size(l, &sc.font(TICK_PX)).map(|d| d.0).unwrap_or(0) as i32)
            .max()
            .unwrap_or(0);
        root.use_screen_coord().draw(&Text::new(
            "weight",
            (cr.x1 + sc.px(14.0) + tick_w + sc.px(8.0), (cr.y0 + cr.y1) / 2),
            anchored(
                sc.font(LABEL_PX).transform(FontTransform::Rotate270),
                HPos::Center,
                VPos::Top,
            ),
        ))?;
        Ok(raster)
    }
}

struct WeightHist<'a> {
    title: &'a str,
    weights: Vec<f64>,
}

/// See [`crate::weight_histogram`].
pub(crate) fn weight_histogram(dir: &Path, stem: &str, title: &str, weights: &[f64]) -> Result<(), PlotError> {
    let weights = stats::sorted_finite(weights.iter().copied().filter(|w| *w != 0.0));
    canvas::save(dir, stem, &WeightHist { title, weights })
}

/// Number of bins of the weight histogram (fixed so figures compare).
const WEIGHT_BINS: usize = 101;

impl Figure for WeightHist<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        canvas::title(root, sc, self.title, 22.0)?;
        let w = &self.weights;
        let (min, max) = (w.first().copied(), w.last().copied());
        let lo = min.map_or(0.0, |m| m.min(0.0));
        let p99 = stats::quantile_sorted(w, 0.99).unwrap_or(1.0);
        let hi = if p99 > lo {
            p99
        } else if max.is_some_and(|m| m > lo) {
            max.unwrap_or(1.0)
        } else {
            lo + lo.abs().max(1.0)
        };
        let counts = stats::histogram(w, lo, hi, WEIGHT_BINS);
        let above = w.iter().filter(|v| **v > hi).count();
        let max_count = counts.iter().copied().max().unwrap_or(0);

        let color = cond_color(0);
        let mut entries = vec![(Glyph::Patch(color, 1.0), format!("non-zero weights (n={})", w.len()))];
        if !w.is_empty() {
            if let Some((m, _)) = stats::mean_sd(w) {
                entries.push((Glyph::Blank, format!("mean {}", fmt_sig(m, 4))));
            }
            entries.push((Glyph::Blank, format!("99th percentile {}", fmt_sig(p99, 4))));
            if above > 0 {
                entries.push((Glyph::Blank, format!("{above} larger not shown")));
            }
        }
        let body = root.margin(sc.px(40.0), 0, 0, 0);
        let margins = Margins {
            top: 12.0,
            right: 24.0,
            left: 0.0,
            bottom: 58.0,
        };
        let legend = canvas::legend_size(&body, sc, &entries);
        let plot_h = body.dim_in_pixel().1 as f64 - sc.px(margins.top + margins.bottom) as f64;
        let free = (1.0 - (legend.1 as f64 + sc.px(16.0) as f64) / plot_h).clamp(0.4, 1.0);
        let x = Axis::numeric(lo, hi + (hi - lo) * 0.01, "synaptic weight", 7);
        let y = count_axis(((max_count.max(1) as f64) / free).ceil() as usize, "count");
        let chart = canvas::chart(&body, sc, &x, &y, margins, (false, true))?;
        let width = (hi - lo) / WEIGHT_BINS as f64;
        let mut obstacles = Vec::new();
        let edge = ShapeStyle::from(&WHITE).stroke_width(sc.w(0.5));
        for (b, &c) in counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let x0 = lo + b as f64 * width;
            let rect = [(x0, 0.0), (x0 + width, c as f64)];
            chart.plotting_area().draw(&Rectangle::new(rect, color.filled()))?;
            chart.plotting_area().draw(&Rectangle::new(rect, edge))?;
            let p0 = chart.backend_coord(&rect[0]);
            let p1 = chart.backend_coord(&rect[1]);
            obstacles.push(Rect {
                x0: p0.0,
                y0: p1.1,
                x1: p1.0,
                y1: p0.1,
            });
        }
        if w.is_empty() {
            canvas::empty_note(&chart, sc, "no non-zero weights")?;
        }
        let screen = chart.plotting_area().use_screen_coord();
        let pos = canvas::best_corner(Rect::of(&chart), legend, &obstacles, sc);
        canvas::draw_legend(&screen, sc, &entries, pos)?;
        canvas::frame(&chart, sc)?;
        Ok(None)
    }
}
