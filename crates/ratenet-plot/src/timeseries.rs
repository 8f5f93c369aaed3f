//! Excitatory / inhibitory / stimulus panels, like the course notebook's
//! `plot_time_series`, with the ΔT marker.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::canvas::{self, Axis, Chart, Figure, Glyph, Margins, Raster, Rect};
use crate::error::PlotError;
use crate::stats::{self, decimated_segments};
use crate::style::{anchored, cond_color, fmt_sig, padded, Sc, FAIL, INK, NOTE_PX};
use crate::TimeSeries;

/// Min/max buckets kept per bold trace (two points each): about one per
/// horizontal pixel, so the line is visually exact.
const BUCKETS: usize = 900;
/// Buckets for the faint per-neuron traces: they are context, not data to
/// read off, and there can be hundreds of them, so the SVG stays small.
const FAINT_BUCKETS: usize = 450;

/// A line split at its gaps and decimated (see [`decimated_segments`]).
type Segments = Vec<Vec<(f64, f64)>>;

struct Series<'a> {
    ts: &'a TimeSeries,
    /// The traces decimated once, for both the PNG and the SVG pass.
    exc: Vec<Segments>,
    inh: Vec<Segments>,
    exc_mean: Segments,
    inh_mean: Segments,
    stimulus: Segments,
    /// What both passes share, found once: scanning every trace for the
    /// axes' ranges costs as much as drawing them.
    layout: Layout,
}

/// The axes, return time, baseline and stimulus onset of a figure.
struct Layout {
    /// The time axis; its `lo` and `hi` are the data's time range.
    x: Axis,
    y1: Axis,
    y2: Axis,
    y3: Axis,
    ret: Option<(f64, f64)>,
    base: Option<f64>,
    onset: Option<f64>,
}

/// See [`crate::time_series`].
pub(crate) fn time_series(dir: &Path, stem: &str, ts: &TimeSeries) -> Result<(), PlotError> {
    let faint = |v: &Vec<f64>| decimated_segments(&ts.t, v, FAINT_BUCKETS);
    let series = Series {
        ts,
        exc: ts.exc.iter().map(faint).collect(),
        inh: ts.inh.iter().map(faint).collect(),
        exc_mean: decimated_segments(&ts.t, &ts.exc_mean, BUCKETS),
        inh_mean: decimated_segments(&ts.t, &ts.inh_mean, BUCKETS),
        stimulus: decimated_segments(&ts.t, &ts.stimulus, BUCKETS),
        layout: Layout::of(ts),
    };
    canvas::save(dir, stem, &series)
}

impl Layout {
    fn of(ts: &TimeSeries) -> Layout {
        let (tlo, thi) = match stats::finite_range([ts.t.as_slice()]) {
            Some((a, b)) if b > a => (a, b),
            Some((a, _)) => (a - 0.5, a + 0.5),
            None => (0.0, 1.0),
        };
        let x = Axis::numeric(tlo, thi, "time (s)", 8);
        let onset = onset(ts);
        let ret = ret(ts);
        let base = ret.and_then(|(t, _)| baseline(ts, onset, t));

        let mut exc_series: Vec<&[f64]> = ts.exc.iter().map(Vec::as_slice).collect();
        exc_series.push(&ts.exc_mean);
        let base_slice = base.map(|b| vec![b]).unwrap_or_default();
        exc_series.push(&base_slice);
        let y1 = y_axis(exc_series, "rate (a.u.)");
        let mut inh_series: Vec<&[f64]> = ts.inh.iter().map(Vec::as_slice).collect();
        inh_series.push(&ts.inh_mean);
        let y2 = y_axis(inh_series, "rate (a.u.)");
        let y3 = y_axis([ts.stimulus.as_slice()], "stimulus");
        Layout {
            x,
            y1,
            y2,
            y3,
            ret,
            base,
            onset,
        }
    }
}

/// Stimulus on-period shading: a faint tint of the palette orange,
/// translucent so grid lines stay visible through it.
fn stim_tint() -> RGBAColor {
    cond_color(1).mix(0.13)
}

/// First time the stimulus departs from its initial value.
fn onset(ts: &TimeSeries) -> Option<f64> {
    let n = ts.t.len().min(ts.stimulus.len());
    let first = (0..n).find(|&i| ts.stimulus[i].is_finite())?;
    let s0 = ts.stimulus[first];
    let scale = ts
        .stimulus
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    (first..n)
        .find(|&i| ts.stimulus[i].is_finite() && (ts.stimulus[i] - s0).abs() > 1e-9 * scale)
        .map(|i| ts.t[i])
        .filter(|t| t.is_finite())
}

/// Return time and ΔT, each derived from the other when only one is given.
fn ret(ts: &TimeSeries) -> Option<(f64, f64)> {
    let end = ts.stimulus_end;
    match (ts.t_return, ts.delta_t) {
        (Some(t), Some(d)) if t.is_finite() && d.is_finite() => Some((t, d)),
        (Some(t), _) if t.is_finite() && end.is_finite() => Some((t, t - end)),
        (_, Some(d)) if d.is_finite() && end.is_finite() => Some((end + d, d)),
        _ => None,
    }
}

/// Baseline level of the excitatory mean: its average before stimulus
/// onset, or its value at the return time when there is no pre-stimulus
/// period.
fn baseline(ts: &TimeSeries, onset: Option<f64>, t_ret: f64) -> Option<f64> {
    let n = ts.t.len().min(ts.exc_mean.len());
    if let Some(on) = onset {
        let pre: Vec<f64> = (0..n)
            .filter(|&i| ts.t[i] < on && ts.exc_mean[i].is_finite())
            .map(|i| ts.exc_mean[i])
            .collect();
        if let Some((m, _)) = stats::mean_sd(&pre) {
            return Some(m);
        }
    }
    (0..n)
        .filter(|&i| ts.exc_mean[i].is_finite() && ts.t[i].is_finite())
        .min_by(|&a, &b| (ts.t[a] - t_ret).abs().total_cmp(&(ts.t[b] - t_ret).abs()))
        .map(|i| ts.exc_mean[i])
}

/// Draws traces (faint) and a mean (bold) and returns sampled pixel
/// positions for legend placement.
fn draw_traces<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    sc: Sc,
    traces: &[Segments],
    mean: &Segments,
    color: RGBColor,
) -> Result<Vec<Rect>, PlotError> {
    let pa = chart.plotting_area();
    let mut obstacles = Vec::new();
    let mut note = |p: (f64, f64)| {
        let c = chart.backend_coord(&p);
        obstacles.push(Rect {
            x0: c.0 - 1,
            y0: c.1 - 1,
            x1: c.0 + 1,
            y1: c.1 + 1,
        });
    };
    for tr in traces {
        for seg in tr {
            for p in seg.iter().step_by(8) {
                note(*p);
            }
            // One backend pixel wide: plotters draws wider paths as filled
            // polygons, which cost most of this figure's time (60 traces of
            // ~900 points). In the 2× raster a 1-px line covers half of
            // what the 2-px one did, so its opacity doubles.
            let alpha = if sc.svg { 0.18 } else { 0.36 };
            pa.draw(&PathElement::new(
                seg.as_slice(),
                color.mix(alpha).stroke_width(sc.w(0.5)),
            ))?;
        }
    }
    for seg in mean {
        for p in seg.iter().step_by(4) {
            note(*p);
        }
        pa.draw(&PathElement::new(seg.as_slice(), color.stroke_width(sc.w(2.4))))?;
    }
    Ok(obstacles)
}

fn y_axis<'a>(series: impl IntoIterator<Item = &'a [f64]>, desc: &str) -> Axis {
    let (lo, hi) = match stats::finite_range(series) {
        Some((a, b)) => padded(a, b, 0.06),
        None => (0.0, 1.0),
    };
    Axis::numeric(lo, hi, desc, 5)
}

impl Figure for Series<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 800)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError> {
        let ts = self.ts;
        let title = if ts.title.is_empty() {
            "Network activity"
        } else {
            ts.title.as_str()
        };
        canvas::title(root, sc, title, 22.0)?;
        let l = &self.layout;
        let (tlo, thi, ret, base, onset) = (l.x.lo, l.x.hi, l.ret, l.base, l.onset);
        let (x, y1, y2, y3) = (&l.x, &l.y1, &l.y2, &l.y3);

        let body = root.margin(sc.px(40.0), 0, 0, 0);
        let left = [&y1, &y2, &y3]
            .iter()
            .map(|y| canvas::needed_left(&body, sc, y))
            .max()
            .unwrap_or(0) as f64
            / sc.s;
        let (_, h) = body.dim_in_pixel();
        let h1 = (h as f64 * 0.40) as i32;
        let h2 = (h as f64 * 0.30) as i32;
        let (p1, rest) = body.split_vertically(h1);
        let (p2, p3) = rest.split_vertically(h2);
        let m = |bottom: f64| Margins {
            top: 14.0,
            right: 22.0,
            left,
            bottom,
        };
        let hidden = x.clone().without_labels();
        let stim_span = onset
            .filter(|on| ts.stimulus_end.is_finite() && *on < ts.stimulus_end)
            .map(|on| (on.max(tlo), ts.stimulus_end.min(thi)));

        let exc_color = cond_color(0);
        let inh_color = cond_color(3);

        // Panel 1: excitatory rates and the ΔT marker.
        let c1 = canvas::chart(&p1, sc, &hidden, y1, m(14.0), (false, true))?;
        if let Some(span) = stim_span {
            canvas::tinted_band(&c1, span, (y1.lo, y1.hi), stim_tint())?;
        }
        let mut obstacles = draw_traces(&c1, sc, &self.exc, &self.exc_mean, exc_color)?;
        let mut entries = Vec::new();
        if !ts.exc.is_empty() {
            entries.push((
                Glyph::Line(exc_color, 1.2, 0.35),
                format!("excitatory neurons ({} shown)", ts.exc.len()),
            ));
        }
        entries.push((Glyph::Line(exc_color, 2.4, 1.0), "excitatory mean".to_string()));
        match (ret, base) {
            (Some((t_ret, dt)), Some(b)) => {
                obstacles.extend(self.delta_t_marker(&c1, sc, t_ret, dt, b)?);
                entries.push((Glyph::Dashed(INK), "return to baseline".to_string()));
            }
            _ if ts.t_return.is_none() && ts.delta_t.is_none() && !ts.t.is_empty() => {
                entries.push((Glyph::Cross(FAIL), "did not return".to_string()));
            }
            _ => {}
        }
        if ts.t.is_empty() {
            canvas::empty_note(&c1, sc, "no samples")?;
        }
        self.legend(&c1, sc, &entries, &obstacles)?;
        canvas::frame(&c1, sc)?;

        // Panel 2: inhibitory rates.
        let c2 = canvas::chart(&p2, sc, &hidden, y2, m(14.0), (false, true))?;
        if let Some(span) = stim_span {
            canvas::tinted_band(&c2, span, (y2.lo, y2.hi), stim_tint())?;
        }
        let obstacles = draw_traces(&c2, sc, &self.inh, &self.inh_mean, inh_color)?;
        let mut entries = Vec::new();
        if !ts.inh.is_empty() {
            entries.push((
                Glyph::Line(inh_color, 1.2, 0.35),
                format!("inhibitory neurons ({} shown)", ts.inh.len()),
            ));
        }
        entries.push((Glyph::Line(inh_color, 2.4, 1.0), "inhibitory mean".to_string()));
        if let Some((t_ret, _)) = ret {
            dashed_vline(&c2, sc, t_ret, (y2.lo, y2.hi))?;
        }
        self.legend(&c2, sc, &entries, &obstacles)?;
        canvas::frame(&c2, sc)?;

        // Panel 3: stimulus.
        let c3 = canvas::chart(&p3, sc, x, y3, m(58.0), (false, true))?;
        if let Some(span) = stim_span {
            canvas::tinted_band(&c3, span, (y3.lo, y3.hi), stim_tint())?;
        }
        let stim_color = RGBColor(0x3A, 0x3A, 0x3A);
        let mut obstacles = Vec::new();
        for seg in &self.stimulus {
            for p in seg.iter().step_by(4) {
                let c = c3.backend_coord(p);
                obstacles.push(Rect {
                    x0: c.0 - 1,
                    y0: c.1 - 1,
                    x1: c.0 + 1,
                    y1: c.1 + 1,
                });
            }
            c3.plotting_area()
                .draw(&PathElement::new(seg.as_slice(), stim_color.stroke_width(sc.w(2.0))))?;
        }
        if let Some((t_ret, _)) = ret {
            dashed_vline(&c3, sc, t_ret, (y3.lo, y3.hi))?;
        }
        let mut entries = vec![(Glyph::Line(stim_color, 2.0, 1.0), "stimulus".to_string())];
        if stim_span.is_some() {
            entries.push((Glyph::Patch(cond_color(1), 0.13), "stimulus on".to_string()));
        }
        self.legend(&c3, sc, &entries, &obstacles)?;
        canvas::frame(&c3, sc)?;
        Ok(None)
    }
}

/// Vertical dashed line across a panel (return time).
fn dashed_vline<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    sc: Sc,
    x: f64,
    (lo, hi): (f64, f64),
) -> Result<(), PlotError> {
    let a = chart.backend_coord(&(x, hi));
    let b = chart.backend_coord(&(x, lo));
    let screen = chart.plotting_area().use_screen_coord();
    let (dash, gap) = (sc.px(6.0), sc.px(4.0));
    let mut y = a.1;
    while y < b.1 {
        screen.draw(&PathElement::new(
            vec![(a.0, y), (a.0, (y + dash).min(b.1))],
            INK.mix(0.8).stroke_width(sc.w(1.4)),
        ))?;
        y += dash + gap;
    }
    Ok(())
}

impl Series<'_> {
    /// Draws the double-headed ΔT arrow at the baseline, the dashed return
    /// line and the "ΔT = … s" label; returns the label's box so the legend
    /// avoids it.
    fn delta_t_marker<DB: DrawingBackend>(
        &self,
        chart: &Chart<'_, DB>,
        sc: Sc,
        t_ret: f64,
        dt: f64,
        base: f64,
    ) -> Result<Vec<Rect>, PlotError> {
        let (ylo, yhi) = {
            let r = chart.y_range();
            (r.start, r.end)
        };
        dashed_vline(chart, sc, t_ret, (ylo, yhi))?;
        let screen = chart.plotting_area().use_screen_coord();
        let a = chart.backend_coord(&(self.ts.stimulus_end, base));
        let b = chart.backend_coord(&(t_ret, base));
        let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
        let y = a.1;
        let style = INK.stroke_width(sc.w(1.6));
        screen.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))?;
        let head = sc.px(7.0);
        let half = sc.px(3.5);
        if x1 - x0 > 2 * head {
            screen.draw(&Polygon::new(
                vec![(x0, y), (x0 + head, y - half), (x0 + head, y + half)],
                INK.filled(),
            ))?;
            screen.draw(&Polygon::new(
                vec![(x1, y), (x1 - head, y - half), (x1 - head, y + half)],
                INK.filled(),
            ))?;
        }
        let label = format!("ΔT = {} s", fmt_sig(dt, 4));
        let font = sc.bold(NOTE_PX);
        let (tw, th) = screen
            .estimate_text_size(&label, &font)
            .map(|(w, h)| (w as i32, h as i32))
            .unwrap_or((0, 0));
        let r = Rect::of(chart);
        let cx = ((x0 + x1) / 2).clamp(r.x0 + tw / 2 + sc.px(4.0), r.x1 - tw / 2 - sc.px(4.0));
        // Above the arrow when there is room, otherwise below it.
        let above = y - sc.px(8.0) - th > r.y0 + sc.px(2.0);
        let ty = if above { y - sc.px(8.0) } else { y + sc.px(8.0) + th };
        let pad = sc.px(3.0);
        let bx = Rect {
            x0: cx - tw / 2 - pad,
            y0: ty - th - pad,
            x1: cx + tw / 2 + pad,
            y1: ty + pad,
        };
        screen.draw(&Rectangle::new(
            [(bx.x0, bx.y0), (bx.x1, bx.y1)],
            WHITE.mix(0.85).filled(),
        ))?;
        screen.draw(&Text::new(label, (cx, ty), anchored(font, HPos::Center, VPos::Bottom)))?;
        Ok(vec![bx])
    }

    fn legend<DB: DrawingBackend>(
        &self,
        chart: &Chart<'_, DB>,
        sc: Sc,
        entries: &[(Glyph, String)],
        obstacles: &[Rect],
    ) -> Result<(), PlotError> {
        let screen = chart.plotting_area().use_screen_coord();
        let size = canvas::legend_size(&screen, sc, entries);
        let pos = canvas::best_corner(Rect::of(chart), size, obstacles, sc);
        canvas::draw_legend(&screen, sc, entries, pos)
    }
}
