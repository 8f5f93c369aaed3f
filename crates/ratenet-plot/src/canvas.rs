//! Output plumbing (PNG + SVG from one drawing routine) and the axes,
//! frame and legend helpers every figure shares.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::bitmap::Bitmap;
use crate::error::{io_err, PlotError};
use crate::style::{anchored, ensure_fonts, Sc, BAND, GRID, INK, MUTED, TICK_PX};
use crate::svg::Svg;

/// Supersampling factor of the PNG: drawn this many times larger, then
/// box-filtered down, which gives antialiased lines and markers.
const SUPERSAMPLE: u32 = 2;

/// A raster to be placed at a pixel rectangle of the SVG (1× coordinates).
pub(crate) struct Raster {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
    pub img_w: u32,
    pub img_h: u32,
    pub rgb: Vec<u8>,
}

/// A figure that can draw itself on any plotters backend at any scale.
pub(crate) trait Figure {
    /// Final size in (1×) pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the whole figure. In SVG mode a figure may return a raster that
    /// is embedded as an `<image>` instead of thousands of vector shapes.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, sc: Sc) -> Result<Option<Raster>, PlotError>;
}

/// Supersampled canvases kept for the next figures: a fresh one cost as
/// much in page faults as the drawing of a simple figure. At most
/// [`KEPT_CANVASES`] are kept (8.6 MB each for a 900×800 figure).
static CANVASES: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const KEPT_CANVASES: usize = 2;

/// Writes `dir/stem.png` and `dir/stem.svg`, the two passes in parallel
/// when the pool has a thread free (the figures drawn after the runs are on
/// the critical path, two or three of them for two threads).
pub(crate) fn save<F: Figure + Sync>(dir: &Path, stem: &str, fig: &F) -> Result<(), PlotError> {
    ensure_fonts();
    if stem.is_empty() || stem.contains(['/', '\\']) {
        return Err(PlotError::new(format!(
            "invalid figure stem {stem:?}: must be a plain file name"
        )));
    }
    fs::create_dir_all(dir).map_err(|e| io_err("cannot create directory", dir, e))?;
    let (png, svg) = rayon::join(|| save_png(dir, stem, fig), || save_svg(dir, stem, fig));
    png.and(svg)
}

/// The PNG pass of [`save`]: drawn at 2×, box-filtered, encoded.
fn save_png<F: Figure>(dir: &Path, stem: &str, fig: &F) -> Result<(), PlotError> {
    let (w, h) = fig.size();
    let (bw, bh) = (w * SUPERSAMPLE, h * SUPERSAMPLE);
    let mut big = CANVASES.lock().ok().and_then(|mut c| c.pop()).unwrap_or_default();
    big.clear();
    big.resize((bw * bh * 3) as usize, 255);
    {
        // Already white.
        let root = Bitmap(BitMapBackend::with_buffer(&mut big, (bw, bh))).into_drawing_area();
        fig.draw(
            &root,
            Sc {
                s: SUPERSAMPLE as f64,
                svg: false,
            },
        )?;
        root.present()?;
    }
    let small = downsample(&big, bw, bh, SUPERSAMPLE);
    if let Ok(mut kept) = CANVASES.lock() {
        if kept.len() < KEPT_CANVASES {
            kept.push(big);
        }
    }
    let png = encode_png(&small, w, h)?;
    let png_path = dir.join(format!("{stem}.png"));
    fs::write(&png_path, png).map_err(|e| io_err("cannot write", &png_path, e))
}

/// The SVG pass of [`save`].
fn save_svg<F: Figure>(dir: &Path, stem: &str, fig: &F) -> Result<(), PlotError> {
    let (w, h) = fig.size();
    let mut svg = String::new();
    let lines = std::cell::RefCell::new(Vec::new());
    let raster = {
        let root = Svg::new(SVGBackend::with_string(&mut svg, (w, h)), &lines).into_drawing_area();
        root.fill(&WHITE)?;
        let r = fig.draw(&root, Sc { s: 1.0, svg: true })?;
        root.present()?;
        r
    };
    let mut svg = Svg::finish(svg, lines.into_inner());
    if let Some(r) = raster {
        svg = embed_raster(svg, &r)?;
    }
    let svg_path = dir.join(format!("{stem}.svg"));
    fs::write(&svg_path, svg).map_err(|e| io_err("cannot write", &svg_path, e))
}

/// Box filter: averages each `f`×`f` block of an RGB buffer.
fn downsample(src: &[u8], w: u32, h: u32, f: u32) -> Vec<u8> {
    if f == 2 {
        return downsample2(src, w, h);
    }
    downsample_box(src, w, h, f)
}

/// [`downsample`] for any factor.
fn downsample_box(src: &[u8], w: u32, h: u32, f: u32) -> Vec<u8> {
    let (ow, oh) = (w / f, h / f);
    let mut out = vec![0u8; (ow * oh * 3) as usize];
    let norm = f * f;
    for oy in 0..oh {
        for ox in 0..ow {
            let mut acc = [0u32; 3];
            for dy in 0..f {
                let row = ((oy * f + dy) * w + ox * f) as usize * 3;
                for dx in 0..f as usize {
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += src[row + dx * 3 + c] as u32;
                    }
                }
            }
            let o = ((oy * ow + ox) * 3) as usize;
            for c in 0..3 {
                out[o + c] = ((acc[c] + norm / 2) / norm) as u8;
            }
        }
    }
    out
}

/// [`downsample`] by 2, the supersampling in use: the same sums and
/// rounding, row pairs at a time (no index arithmetic per byte).
fn downsample2(src: &[u8], w: u32, h: u32) -> Vec<u8> {
    let (ow, oh) = ((w / 2) as usize, (h / 2) as usize);
    let stride = w as usize * 3;
    let mut out = vec![0u8; ow * oh * 3];
    // Row pairs summed first (a loop the compiler vectorises), then
    // neighbouring pixels of the sums.
    let mut pair = vec![0u16; ow * 6];
    for (oy, orow) in out.chunks_exact_mut(ow * 3).enumerate() {
        let top = &src[2 * oy * stride..][..ow * 6];
        let bottom = &src[(2 * oy + 1) * stride..][..ow * 6];
        for ((p, &t), &b) in pair.iter_mut().zip(top).zip(bottom) {
            *p = u16::from(t) + u16::from(b);
        }
        for (o, p) in orow.chunks_exact_mut(3).zip(pair.chunks_exact(6)) {
            for c in 0..3 {
                o[c] = ((p[c] + p[c + 3] + 2) / 4) as u8;
            }
        }
    }
    out
}

/// Encodes an RGB buffer as PNG bytes.
pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, PlotError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut out = Vec::new();
    // Paeth alone: within a few % of the adaptive choice's size on these
    // figures (flat colours, lines, text), at half its time or less
    // (adaptive filters every row five ways).
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Paeth)
        .write_image(rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| PlotError::new(format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

/// Inserts `r` as a data-URI `<image>` right after the SVG background, so
/// that axes and labels drawn afterwards stay on top of it.
fn embed_raster(svg: String, r: &Raster) -> Result<String, PlotError> {
    let png = encode_png(&r.rgb, r.img_w, r.img_h)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    // Browsers smooth upscaled images by default, which would blur cells;
    // both spellings are needed for Chrome/Safari and Firefox.
    let tag = format!(
        "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
         image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated;image-rendering:crisp-edges\" \
         href=\"data:image/png;base64,{}\"/>\n",
        r.x, r.y, r.w, r.h, b64
    );
    let pos = svg
        .find("<rect")
        .and_then(|start| svg[start..].find("/>").map(|e| start + e + 2))
        .or_else(|| svg.rfind("</svg>"))
        .ok_or_else(|| PlotError::new("SVG backend produced no document"))?;
    let mut out = String::with_capacity(svg.len() + tag.len() + 1);
    out.push_str(&svg[..pos]);
    out.push('\n');
    out.push_str(&tag);
    out.push_str(&svg[pos..]);
    Ok(out)
}

/// One axis: limits, tick positions and their labels, and a description.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub labels: Vec<String>,
    pub desc: String,
}

impl Axis {
    /// A numeric axis over `[lo, hi]` with nice ticks inside the limits.
    pub fn numeric(lo: f64, hi: f64, desc: &str, target: usize) -> Axis {
        let (ticks, step) = crate::style::nice_ticks(lo.min(hi), hi.max(lo), target);
        let max_abs = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let f = crate::style::tick_formatter(step, max_abs);
        let labels = ticks.iter().map(&f).collect();
        Axis {
            lo,
            hi,
            ticks,
            labels,
            desc: desc.to_string(),
        }
    }

    /// A categorical axis with one slot per name, centred on 0, 1, 2, …
    pub fn categorical(names: &[String], desc: &str) -> Axis {
        let k = names.len().max(1);
        Axis {
            lo: -0.5,
            hi: k as f64 - 0.5,
            ticks: (0..names.len()).map(|i| i as f64).collect(),
            labels: names.to_vec(),
            desc: desc.to_string(),
        }
    }

    /// Keeps tick marks but blanks their labels (for shared axes).
    pub fn without_labels(mut self) -> Axis {
        self.labels.iter_mut().for_each(|l| l.clear());
        self.desc.clear();
        self
    }

    fn label_for(&self, v: f64) -> String {
        self.ticks
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - v).abs().total_cmp(&(b.1 - v).abs()))
            .and_then(|(i, _)| self.labels.get(i).cloned())
            .unwrap_or_default()
    }

    pub fn coord(&self) -> Ticked {
        let (lo, hi) = if self.hi != self.lo && self.hi.is_finite() && self.lo.is_finite() {
            (self.lo, self.hi)
        } else {
            (0.0, 1.0)
        };
        Ticked {
            lo,
            hi,
            ticks: self.ticks.clone(),
        }
    }
}

/// A linear f64 coordinate whose ticks we choose ourselves.
///
/// plotters' own f64 coordinate picks its ticks, and its key-point
/// combinator loses the ability to format labels, so this small type does
/// both: explicit ticks, labels via the mesh formatter, and a reversible
/// range (lo may exceed hi, which puts row 0 of a matrix at the top).
#[derive(Debug, Clone)]
pub(crate) struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let frac = (v - self.lo) / (self.hi - self.lo);
        let len = (limit.1 - limit.0) as f64;
        // Clamp far-away values so integer conversion cannot overflow.
        let px = (limit.0 as f64 + len * frac).clamp(-1e6, 1e6);
        px.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The chart type used by every panel: f64 axes with explicit ticks.
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// Where the plotting rectangle sits inside its area, in 1× pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Margins {
    pub top: f64,
    pub right: f64,
    pub left: f64,
    pub bottom: f64,
}

/// Builds a chart with grid, ticks, labels and a full frame (matplotlib
/// draws all four spines; plotters only the left and bottom ones).
pub(crate) fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    sc: Sc,
    x: &Axis,
    y: &Axis,
    m: Margins,
    grid: (bool, bool),
) -> Result<Chart<'a, DB>, PlotError> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(sc.px(m.top))
        .margin_right(sc.px(m.right))
        .x_label_area_size(sc.px(m.bottom))
        .y_label_area_size(sc.px(m.left).max(needed_left(area, sc, y)))
        .build_cartesian_2d(x.coord(), y.coord())?;
    let xf = |v: &f64| x.label_for(*v);
    let yf = |v: &f64| y.label_for(*v);
    let grid_style = ShapeStyle::from(&GRID).stroke_width(sc.w(1.0));
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(grid_style)
        .light_line_style(TRANSPARENT)
        .axis_style(ShapeStyle::from(&INK).stroke_width(sc.w(1.0)))
        .set_all_tick_mark_size(sc.px(5.0))
        .x_label_style(anchored(sc.font(TICK_PX), HPos::Center, VPos::Top))
        .y_label_style(anchored(sc.font(TICK_PX), HPos::Right, VPos::Center))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf);
    if !grid.0 {
        mesh.disable_x_mesh();
    }
    if !grid.1 {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    axis_descriptions(area, &chart, sc, x, y)?;
    Ok(chart)
}

/// The plotting area of a figure whose legend stands to the right of its
/// chart (below a 40-px title band), and the margins that leave room for
/// `y`'s tick labels; the legend goes at the chart's top right corner.
pub(crate) fn beside_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sc: Sc,
    y: &Axis,
    entries: &[(Glyph, String)],
) -> (DrawingArea<DB, Shift>, Margins) {
    let body = root.margin(sc.px(40.0), 0, 0, 0);
    let legend = legend_size(&body, sc, entries);
    let (w, _) = body.dim_in_pixel();
    let (area, _) = body.split_horizontally(w as i32 - legend.0 - sc.px(24.0));
    let margins = Margins {
        top: 12.0,
        right: 14.0,
        left: needed_left(&area, sc, y) as f64 / sc.s,
        bottom: 58.0,
    };
    (area, margins)
}

/// Left margin (backend pixels) that fits `y`'s tick labels and rotated
/// description, so panels with wide labels do not clip them.
pub(crate) fn needed_left<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, sc: Sc, y: &Axis) -> i32 {
    let tick_font = sc.font(TICK_PX);
    let tick_w = y
        .labels
        .iter()
        .map(|l| area.estimate_text_size(l, &tick_font).map(|d| d.0).unwrap_or(0) as i32)
        .max()
        .unwrap_or(0);
    let desc_h = if y.desc.is_empty() {
        0
    } else {
        area.estimate_text_size(&y.desc, &sc.font(crate::style::LABEL_PX))
            .map(|d| d.1)
            .unwrap_or(0) as i32
    };
    sc.px(10.0) + tick_w + sc.px(8.0) + desc_h + sc.px(10.0)
}

/// Axis descriptions placed just outside the tick labels, like matplotlib.
///
/// plotters pins descriptions to the outer edge of the label area (and
/// clips rotated ones at the figure edge), so they are drawn here instead,
/// measured against the actual tick labels.
fn axis_descriptions<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_, DB>,
    sc: Sc,
    x: &Axis,
    y: &Axis,
) -> Result<(), PlotError> {
    let r = Rect::of(chart);
    // The plotting area would clamp coordinates to itself; the whole panel
    // is needed to reach the label margins.
    let screen = area.use_screen_coord();
    let tick_font = sc.font(TICK_PX);
    let desc_font = sc.font(crate::style::LABEL_PX);
    let label_gap = sc.px(10.0);
    if !x.desc.is_empty() {
        let tick_h = x
            .labels
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| screen.estimate_text_size(l, &tick_font).map(|d| d.1).unwrap_or(0) as i32)
            .max()
            .unwrap_or(0);
        screen.draw(&Text::new(
            x.desc.clone(),
            ((r.x0 + r.x1) / 2, r.y1 + label_gap + tick_h + sc.px(9.0)),
            anchored(desc_font.clone(), HPos::Center, VPos::Top),
        ))?;
    }
    if !y.desc.is_empty() {
        // Pinned to the panel's left edge (the label area is at least as wide
        // as the labels need), so stacked panels get aligned descriptions.
        let x0 = area.get_base_pixel().0 + sc.px(10.0);
        screen.draw(&Text::new(
            y.desc.clone(),
            (x0, (r.y0 + r.y1) / 2),
            anchored(desc_font.transform(FontTransform::Rotate270), HPos::Center, VPos::Top),
        ))?;
    }
    Ok(())
}

/// Pixel rectangle (absolute backend coordinates) of a chart's plot area.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub fn of<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> Rect {
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        Rect {
            x0: xr.start,
            y0: yr.start,
            x1: xr.end,
            y1: yr.end,
        }
    }

    pub fn w(&self) -> i32 {
        self.x1 - self.x0
    }

    pub fn h(&self) -> i32 {
        self.y1 - self.y0
    }

    fn overlap(&self, o: &Rect) -> i64 {
        let w = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0) as i64;
        let h = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0) as i64;
        w * h
    }
}

/// Draws the top and right spines on top of the data.
///
/// plotters draws the left and bottom axis lines just outside the plot
/// rectangle; the other two are placed to close that box exactly, so every
/// spine is one line wide (matplotlib draws all four).
pub(crate) fn frame<DB: DrawingBackend>(chart: &Chart<'_, DB>, sc: Sc) -> Result<(), PlotError> {
    let r = Rect::of(chart);
    let screen = chart.plotting_area().use_screen_coord();
    let off = (sc.w(1.0) as i32 - 1) / 2;
    screen.draw(&PathElement::new(
        vec![(r.x0, r.y0 + off), (r.x1 - 1 - off, r.y0 + off), (r.x1 - 1 - off, r.y1)],
        ShapeStyle::from(&INK).stroke_width(sc.w(1.0)),
    ))?;
    Ok(())
}

/// A centred grey message in an empty plot ("no returned runs").
pub(crate) fn empty_note<DB: DrawingBackend>(chart: &Chart<'_, DB>, sc: Sc, text: &str) -> Result<(), PlotError> {
    let r = Rect::of(chart);
    let screen = chart.plotting_area().use_screen_coord();
    screen.draw(&Text::new(
        text.to_string(),
        ((r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2),
        anchored(
            sc.font(crate::style::LABEL_PX).color(&MUTED),
            HPos::Center,
            VPos::Center,
        ),
    ))?;
    Ok(())
}

/// Legend glyphs, mirroring how each series is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Glyph {
    /// Filled square with transparency (histograms, bars).
    Patch(RGBColor, f64),
    /// Line of a given design width and opacity.
    Line(RGBColor, f64, f64),
    /// Filled dot.
    Dot(RGBColor),
    /// Dot on a line (mean ± sd series).
    LineDot(RGBColor),
    /// Hollow triangle ("did not return").
    HollowTri(RGBColor),
    /// Diagonal cross ("diverged").
    Cross(RGBColor),
    /// Dashed vertical-ish marker line.
    Dashed(RGBColor),
    /// No glyph: a plain text row (summary notes).
    Blank,
}

const GLYPH_W: f64 = 24.0;
const ROW_H: f64 = 21.0;
const PAD: f64 = 7.0;

/// Size of a legend box in backend pixels.
pub(crate) fn legend_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sc: Sc,
    entries: &[(Glyph, String)],
) -> (i32, i32) {
    let font = sc.font(TICK_PX);
    let text_w = entries
        .iter()
        .map(|(_, t)| area.estimate_text_size(t, &font).map(|s| s.0).unwrap_or(0) as i32)
        .max()
        .unwrap_or(0);
    (
        sc.px(PAD * 2.0 + GLYPH_W + 8.0) + text_w,
        sc.px(PAD * 2.0 + ROW_H * entries.len() as f64),
    )
}

/// Picks the corner of the plot rectangle where the legend hides the least
/// data (matplotlib's loc="best", restricted to corners and top centre).
pub(crate) fn best_corner(plot: Rect, size: (i32, i32), obstacles: &[Rect], sc: Sc) -> (i32, i32) {
    let inset = sc.px(8.0);
    let candidates = [
        (plot.x1 - inset - size.0, plot.y0 + inset),
        (plot.x0 + inset, plot.y0 + inset),
        (plot.x1 - inset - size.0, plot.y1 - inset - size.1),
        (plot.x0 + inset, plot.y1 - inset - size.1),
        ((plot.x0 + plot.x1 - size.0) / 2, plot.y0 + inset),
    ];
    candidates
        .iter()
        .map(|&(x, y)| {
            let r = Rect {
                x0: x,
                y0: y,
                x1: x + size.0,
                y1: y + size.1,
            };
            let cost: i64 = obstacles
                .iter()
                .map(|o| r.overlap(o).max(if r.overlap(o) > 0 { 1 } else { 0 }))
                .sum();
            (cost, x, y)
        })
        .min_by_key(|c| c.0)
        .map(|c| (c.1, c.2))
        .unwrap_or((plot.x0 + inset, plot.y0 + inset))
}

/// Draws a legend box with its top-left corner at `pos` (screen coordinates).
pub(crate) fn draw_legend<DB: DrawingBackend>(
    screen: &DrawingArea<DB, Shift>,
    sc: Sc,
    entries: &[(Glyph, String)],
    pos: (i32, i32),
) -> Result<(), PlotError> {
    if entries.is_empty() {
        return Ok(());
    }
    let (w, h) = legend_size(screen, sc, entries);
    let (x, y) = pos;
    screen.draw(&Rectangle::new([(x, y), (x + w, y + h)], WHITE.mix(0.88).filled()))?;
    screen.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        ShapeStyle::from(&RGBColor(0xCC, 0xCC, 0xCC)).stroke_width(sc.w(1.0)),
    ))?;
    for (i, (g, text)) in entries.iter().enumerate() {
        let cy = y + sc.px(PAD + ROW_H * (i as f64 + 0.5));
        let gx0 = x + sc.px(PAD);
        let gx1 = gx0 + sc.px(GLYPH_W);
        draw_glyph(screen, sc, *g, (gx0, gx1), cy)?;
        screen.draw(&Text::new(
            text.clone(),
            (gx1 + sc.px(8.0), cy),
            anchored(sc.font(TICK_PX), HPos::Left, VPos::Center),
        ))?;
    }
    Ok(())
}

fn draw_glyph<DB: DrawingBackend>(
    screen: &DrawingArea<DB, Shift>,
    sc: Sc,
    g: Glyph,
    (x0, x1): (i32, i32),
    cy: i32,
) -> Result<(), PlotError> {
    let cx = (x0 + x1) / 2;
    match g {
        Glyph::Patch(c, a) => {
            let hh = sc.px(6.0);
            screen.draw(&Rectangle::new(
                [(x0 + sc.px(3.0), cy - hh), (x1 - sc.px(3.0), cy + hh)],
                c.mix(a).filled(),
            ))?;
            screen.draw(&Rectangle::new(
                [(x0 + sc.px(3.0), cy - hh), (x1 - sc.px(3.0), cy + hh)],
                ShapeStyle::from(&c).stroke_width(sc.w(1.0)),
            ))?;
        }
        Glyph::Line(c, width, a) => {
            screen.draw(&PathElement::new(
                vec![(x0, cy), (x1, cy)],
                c.mix(a).stroke_width(sc.w(width)),
            ))?;
        }
        Glyph::Dot(c) => marker_dot(screen, sc, (cx, cy), c, 4.0, 1.0)?,
        Glyph::LineDot(c) => {
            screen.draw(&PathElement::new(vec![(x0, cy), (x1, cy)], c.stroke_width(sc.w(2.0))))?;
            marker_dot(screen, sc, (cx, cy), c, 4.5, 1.0)?;
        }
        Glyph::HollowTri(c) => marker_tri(screen, sc, (cx, cy), c)?,
        Glyph::Cross(c) => marker_cross(screen, sc, (cx, cy), c)?,
        Glyph::Blank => {}
        Glyph::Dashed(c) => {
            let d = sc.px(4.0);
            let mut xa = x0;
            while xa < x1 {
                screen.draw(&PathElement::new(
                    vec![(xa, cy), ((xa + d).min(x1), cy)],
                    c.stroke_width(sc.w(1.5)),
                ))?;
                xa += 2 * d;
            }
        }
    }
    Ok(())
}

/// Filled dot with a thin white edge (seaborn's scatter look), in screen
/// coordinates.
pub(crate) fn marker_dot<DB: DrawingBackend>(
    screen: &DrawingArea<DB, Shift>,
    sc: Sc,
    p: (i32, i32),
    c: RGBColor,
    r: f64,
    alpha: f64,
) -> Result<(), PlotError> {
    screen.draw(&Circle::new(p, sc.px(r), c.mix(alpha).filled()))?;
    screen.draw(&Circle::new(
        p,
        sc.px(r),
        ShapeStyle::from(&WHITE.mix(0.9)).stroke_width(sc.w(0.6)),
    ))?;
    Ok(())
}

/// Hollow upward triangle, in screen coordinates.
pub(crate) fn marker_tri<DB: DrawingBackend>(
    screen: &DrawingArea<DB, Shift>,
    sc: Sc,
    (x, y): (i32, i32),
    c: RGBColor,
) -> Result<(), PlotError> {
    let r = sc.px(5.5);
    let pts = vec![
        (x, y - r),
        (x + (r as f64 * 0.87) as i32, y + r / 2),
        (x - (r as f64 * 0.87) as i32, y + r / 2),
        (x, y - r),
    ];
    screen.draw(&Polygon::new(pts.clone(), WHITE.filled()))?;
    screen.draw(&PathElement::new(pts, c.stroke_width(sc.w(1.6))))?;
    Ok(())
}

/// Diagonal cross, in screen coordinates.
pub(crate) fn marker_cross<DB: DrawingBackend>(
    screen: &DrawingArea<DB, Shift>,
    sc: Sc,
    (x, y): (i32, i32),
    c: RGBColor,
) -> Result<(), PlotError> {
    let r = sc.px(4.5);
    let style = c.stroke_width(sc.w(2.0));
    screen.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], style))?;
    screen.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], style))?;
    Ok(())
}

/// Shortens `text` with an ellipsis until it fits `max_w` backend pixels,
/// so crowded category labels do not overlap.
pub(crate) fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &TextStyle<'_>,
    text: &str,
    max_w: i32,
) -> String {
    let width = |s: &str| area.estimate_text_size(s, style).map(|d| d.0 as i32).unwrap_or(0);
    if width(text) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (1..chars.len()).rev() {
        let s: String = chars[..keep].iter().collect::<String>() + "…";
        if width(&s) <= max_w {
            return s;
        }
    }
    "…".into()
}

/// Figure title centred at the top of `root`.
pub(crate) fn title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sc: Sc,
    text: &str,
    y: f64,
) -> Result<(), PlotError> {
    let (w, _) = root.dim_in_pixel();
    let style = sc.font(crate::style::TITLE_PX);
    let text = fit_text(root, &style, text, w as i32 - sc.px(20.0));
    root.draw(&Text::new(
        text,
        (w as i32 / 2, sc.px(y)),
        anchored(style, HPos::Center, VPos::Center),
    ))?;
    Ok(())
}

/// A light grey band across the plot (failure rows).
pub(crate) fn band<DB: DrawingBackend>(chart: &Chart<'_, DB>, xs: (f64, f64), ys: (f64, f64)) -> Result<(), PlotError> {
    tinted_band(chart, xs, ys, BAND)
}

/// A filled data-space rectangle behind the data (spans, bands).
pub(crate) fn tinted_band<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    color: impl Color,
) -> Result<(), PlotError> {
    chart
        .plotting_area()
        .draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_by_two_equals_the_box_filter() {
        for (w, h) in [(8u32, 6u32), (9, 7), (2, 2), (31, 17), (64, 9), (250, 40)] {
            let src: Vec<u8> = (0..w * h * 3)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
                .collect();
            assert_eq!(downsample2(&src, w, h), downsample_box(&src, w, h, 2), "{w}×{h}");
            // A white page with a few marks, as a figure mostly is.
            let page: Vec<u8> = src
                .iter()
                .enumerate()
                .map(|(i, &v)| if i % 37 < 2 { v } else { 255 })
                .collect();
            assert_eq!(
                downsample2(&page, w, h),
                downsample_box(&page, w, h, 2),
                "{w}×{h}, white"
            );
        }
    }
}
