//! The PNG pass's drawing backend: plotters' bitmap backend with one fast
//! path, for wide axis-aligned lines.
//!
//! plotters draws every line wider than one pixel as a polygon and fills
//! it by sweeping its edges one pixel column (or row) at a time, sorting
//! and reallocating the edge list at each: grid lines, axes, tick marks
//! and frames (two pixels wide in the 2× raster) took about a quarter of
//! a simple figure's time that way. For a two-point path whose polygon is
//! an axis-aligned rectangle, [`Bitmap`] draws what that sweep draws, line
//! for line, without the sweep; everything else goes to plotters as it is.
//! The pixels are the same by construction (see [`Bitmap::fill_rect`]) and
//! by test (`tests::same_pixels_as_plotters`).

use plotters::prelude::BitMapBackend;
use plotters_backend::rasterizer::polygonize;
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, DrawingBackend, DrawingErrorKind};

/// [`BitMapBackend`] with wide axis-aligned lines filled directly.
pub(crate) struct Bitmap<'a>(pub BitMapBackend<'a>);

type Error = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

impl Bitmap<'_> {
    /// What plotters' `fill_polygon` draws for the axis-aligned rectangle
    /// `x ∈ [x0, x1]`, `y ∈ [y0, y1]` (`x0 < x1`, `y0 < y1`): it sweeps the
    /// longer side (columns when the rectangle is wider than tall), and at
    /// each step draws a one-pixel line across the rectangle from edge to
    /// edge, both ends included; at the last step both edges are at their
    /// ends and the line is drawn only if the edges are at most a pixel
    /// apart. (It also blends a pixel at each end with the colour at
    /// alpha 0, which changes nothing.) An opaque colour sets pixels, so
    /// its lines together are one filled rectangle; a translucent one is
    /// drawn line by line, as plotters blends lines and rectangles by two
    /// different roundings.
    fn fill_rect(
        &mut self,
        (x0, x1): (i32, i32),
        (y0, y1): (i32, i32),
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let columns = x1 - x0 > y1 - y0;
        let (sweep_end, across) = if columns { (x1, y1 - y0) } else { (y1, x1 - x0) };
        let last = if across > 1 { sweep_end - 1 } else { sweep_end };
        if color.alpha >= 1.0 {
            let (xe, ye) = if columns { (last, y1) } else { (x1, last) };
            if xe < x0 || ye < y0 {
                return Ok(());
            }
            return self.0.draw_rect((x0, y0), (xe + 1, ye + 1), &color, true);
        }
        if columns {
            for x in x0..=last {
                self.0.draw_line((x, y0), (x, y1), &color)?;
            }
        } else {
            for y in y0..=last {
                self.0.draw_line((x0, y), (x1, y), &color)?;
            }
        }
        Ok(())
    }
}

/// The corners of `v` if it is an axis-aligned rectangle with sides
/// longer than zero, walked corner to corner: `((x0, x1), (y0, y1))`.
fn rectangle(v: &[BackendCoord]) -> Option<((i32, i32), (i32, i32))> {
    if v.len() != 4 {
        return None;
    }
    let xs = (v.iter().map(|p| p.0).min()?, v.iter().map(|p| p.0).max()?);
    let ys = (v.iter().map(|p| p.1).min()?, v.iter().map(|p| p.1).max()?);
    if xs.0 == xs.1 || ys.0 == ys.1 {
        return None;
    }
    let corner = |p: &BackendCoord| (p.0 == xs.0 || p.0 == xs.1) && (p.1 == ys.0 || p.1 == ys.1);
    let sides = (0..4).all(|i| {
        let (a, b) = (v[i], v[(i + 1) % 4]);
        (a.0 == b.0) != (a.1 == b.1)
    });
    (v.iter().all(corner) && sides).then_some((xs, ys))
}

/// The polygon plotters' line rasterizer fills for a line `width` pixels
/// wide (the same arithmetic: corners at ± half the width along the
/// normal, truncated); `None` for a line too short to draw.
fn wide_line_polygon(from: BackendCoord, to: BackendCoord, width: u32) -> Option<Vec<BackendCoord>> {
    let v = (i64::from(to.0 - from.0), i64::from(to.1 - from.1));
    let l = ((v.0 * v.0 + v.1 * v.1) as f64).sqrt();
    if l < 1e-5 {
        return None;
    }
    let v = (v.0 as f64 / l, v.1 as f64 / l);
    let r = f64::from(width) / 2.0;
    let mut trans = [(v.1 * r, -v.0 * r), (-v.1 * r, v.0 * r)];
    let mut out = Vec::with_capacity(4);
    for p in [from, to] {
        for t in trans {
            out.push(((f64::from(p.0) + t.0) as i32, (f64::from(p.1) + t.1) as i32));
        }
        trans.swap(0, 1);
    }
    Some(out)
}

impl DrawingBackend for Bitmap<'_> {
    type ErrorType = Error;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.0.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), DrawingErrorKind<Error>> {
        self.0.draw_pixel(point, color)
    }

    /// plotters' own line, except that a wide line (a rectangle's outline,
    /// say) whose polygon is an axis-aligned rectangle is filled directly.
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        if style.stroke_width() > 1 && style.color().alpha != 0.0 {
            if let Some((xs, ys)) = wide_line_polygon(from, to, style.stroke_width())
                .as_deref()
                .and_then(rectangle)
            {
                return self.fill_rect(xs, ys, style.color());
            }
        }
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        if fill {
            return self.0.draw_rect(upper_left, bottom_right, style, fill);
        }
        // An outline is four lines, as plotters draws it, but through
        // this backend's lines.
        plotters_backend::rasterizer::draw_rect(self, upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<(), DrawingErrorKind<Error>> {
        self.0.blit_bitmap(pos, size, src)
    }

    /// plotters' own `draw_path` (one-pixel segments as lines, wider paths
    /// as a filled polygon), with the rectangle case drawn directly.
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        if style.stroke_width() == 1 {
            let mut begin: Option<BackendCoord> = None;
            for end in path {
                if let Some(begin) = begin {
                    self.draw_line(begin, end, style)?;
                }
                begin = Some(end);
            }
            return Ok(());
        }
        let p: Vec<BackendCoord> = path.into_iter().collect();
        let v = polygonize(&p, style.stroke_width());
        match rectangle(&v) {
            Some((xs, ys)) if p.len() == 2 => self.fill_rect(xs, ys, style.color()),
            _ => self.fill_polygon(v, &style.color()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::style::{Color, RGBColor};

    /// A deterministic stream of small integers.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: i32) -> i32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as i32
        }
    }

    /// Every path, line and rectangle outline drawn through [`Bitmap`]
    /// gives plotters' own pixels: axis-aligned ones of widths 2–9 in either
    /// direction, partly or wholly off the canvas, opaque and translucent,
    /// over earlier drawing, and diagonal and longer paths (which go to
    /// plotters unchanged).
    #[test]
    fn same_pixels_as_plotters() {
        let (w, h) = (61u32, 47u32);
        let mut rng = Lcg(7);
        let mut rects = 0;
        let mut wide = 0;
        for case in 0..4000 {
            let mut a = vec![255u8; (w * h * 3) as usize];
            let mut b = a.clone();
            let mut pa = BitMapBackend::with_buffer(&mut a, (w, h));
            let mut pb = Bitmap(BitMapBackend::with_buffer(&mut b, (w, h)));
            for _ in 0..3 {
                let x0 = rng.next(90) - 15;
                let y0 = rng.next(70) - 12;
                let (x1, y1) = match rng.next(4) {
                    0 => (x0 + rng.next(50) - 25, y0),
                    1 => (x0, y0 + rng.next(50) - 25),
                    2 => (x0 + rng.next(9) - 4, y0 + rng.next(9) - 4),
                    _ => (x0 + rng.next(30) - 15, y0 + rng.next(30) - 15),
                };
                let mut path = vec![(x0, y0), (x1, y1)];
                if rng.next(6) == 0 {
                    path.push((x1 + rng.next(20) - 10, y1));
                }
                let rgb = RGBColor(rng.next(256) as u8, rng.next(256) as u8, rng.next(256) as u8);
                let alpha = [1.0, 0.5, 0.13, 0.8, 0.0][rng.next(5) as usize];
                let style = Color::stroke_width(&rgb.mix(alpha), 1 + rng.next(9) as u32);
                if rectangle(&polygonize(&path, style.stroke_width)).is_some() && path.len() == 2 {
                    rects += 1;
                }
                if let Some(v) = wide_line_polygon(path[0], path[1], style.stroke_width) {
                    wide += usize::from(style.stroke_width > 1 && rectangle(&v).is_some());
                }
                match rng.next(3) {
                    0 => {
                        pa.draw_path(path.clone(), &style).unwrap();
                        pb.draw_path(path, &style).unwrap();
                    }
                    1 => {
                        pa.draw_line(path[0], path[1], &style).unwrap();
                        pb.draw_line(path[0], path[1], &style).unwrap();
                    }
                    _ => {
                        pa.draw_rect(path[0], path[1], &style, false).unwrap();
                        pb.draw_rect(path[0], path[1], &style, false).unwrap();
                    }
                }
            }
            drop((pa, pb));
            assert!(a == b, "case {case}: pixels differ");
        }
        assert!(rects > 3000 && wide > 3000, "fast paths: {rects} paths, {wide} lines");
    }

    #[test]
    fn rectangles_are_recognised() {
        assert_eq!(rectangle(&[(0, 1), (5, 1), (5, -1), (0, -1)]), Some(((0, 5), (-1, 1))));
        assert_eq!(rectangle(&[(0, 1), (5, -1), (5, 1), (0, -1)]), None);
        assert_eq!(rectangle(&[(0, 1), (5, 1), (5, 1), (0, 1)]), None);
        assert_eq!(rectangle(&[(0, 1), (5, 2), (5, -1), (0, -1)]), None);
    }
}
