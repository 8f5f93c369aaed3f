//! The SVG pass's drawing backend: plotters' SVG backend, with polylines
//! written by a faster hand.
//!
//! plotters writes each point of a polyline through `core::fmt` and then
//! copies the text again, character by character, to escape it: a time
//! series' sixty faint traces of ~900 points made that a third of its
//! figure's time. [`Svg`] writes the same element text itself (digits
//! need no escaping) and leaves a placeholder in plotters' document, which
//! [`Svg::finish`] replaces; everything else is plotters' as it is. The
//! files are the same byte for byte (`tests::same_text_as_plotters`).

use std::cell::RefCell;
use std::fmt::Write as _;

use plotters::prelude::SVGBackend;
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind};

type Error = <SVGBackend<'static> as DrawingBackend>::ErrorType;

/// The y of a placeholder pixel: never that of a drawn one.
const PLACEHOLDER_Y: i32 = -999_999;

/// [`SVGBackend`] with polylines written by [`polyline`].
pub(crate) struct Svg<'a> {
    inner: SVGBackend<'a>,
    /// Polyline elements, in the order of their placeholders.
    lines: &'a RefCell<Vec<String>>,
}

impl<'a> Svg<'a> {
    /// A backend over `inner`, keeping its polylines in `lines` until
    /// [`Svg::finish`].
    pub fn new(inner: SVGBackend<'a>, lines: &'a RefCell<Vec<String>>) -> Svg<'a> {
        Svg { inner, lines }
    }

    /// The document `svg` (as plotters left it) with each placeholder
    /// replaced by its polyline.
    pub fn finish(svg: String, lines: Vec<String>) -> String {
        if lines.is_empty() {
            return svg;
        }
        let extra: usize = lines.iter().map(String::len).sum();
        let mut out = String::with_capacity(svg.len() + extra);
        let mut rest = svg.as_str();
        for (i, line) in lines.iter().enumerate() {
            let marker = placeholder(i);
            match rest.find(&marker) {
                Some(at) => {
                    out.push_str(&rest[..at]);
                    out.push_str(line);
                    rest = &rest[at + marker.len()..];
                }
                None => break,
            }
        }
        out.push_str(rest);
        out
    }
}

/// The element plotters writes for the placeholder pixel of polyline `i`.
fn placeholder(i: usize) -> String {
    format!(
        "<rect x=\"{i}\" y=\"{PLACEHOLDER_Y}\" width=\"1\" height=\"1\" stroke=\"none\" opacity=\"1\" fill=\"#000000\"/>\n"
    )
}

/// The text plotters' SVG backend writes for a polyline: the same
/// attributes, in the same order and format.
fn polyline(path: impl IntoIterator<Item = BackendCoord>, color: BackendColor, width: u32) -> String {
    let (r, g, b) = color.rgb;
    let mut s = String::with_capacity(256);
    let _ = write!(
        s,
        "<polyline fill=\"none\" opacity=\"{}\" stroke=\"#{r:02X}{g:02X}{b:02X}\" stroke-width=\"{width}\" points=\"",
        color.alpha
    );
    for (x, y) in path {
        push_int(&mut s, x);
        s.push(',');
        push_int(&mut s, y);
        s.push(' ');
    }
    s.push_str("\"/>\n");
    s
}

/// Appends `v` in decimal, as `{}` does.
fn push_int(s: &mut String, v: i32) {
    let mut digits = [0u8; 11];
    let mut n = v.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        s.push('-');
    }
    for &d in &digits[at..] {
        s.push(d as char);
    }
}

impl DrawingBackend for Svg<'_> {
    type ErrorType = Error;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let line = polyline(path, color, style.stroke_width());
        let i = {
            let mut lines = self.lines.borrow_mut();
            lines.push(line);
            lines.len() - 1
        };
        let marker = BackendColor {
            alpha: 1.0,
            rgb: (0, 0, 0),
        };
        self.inner.draw_pixel((i as i32, PLACEHOLDER_Y), marker)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.fill_polygon(vert, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_text(text, style, pos)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Error>> {
        self.inner.estimate_text_size(text, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.blit_bitmap(pos, size, src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::style::{Color, RGBColor};

    /// Documents drawn through [`Svg`] and through plotters alone are the
    /// same text: polylines of every sign and size of coordinate, empty
    /// and one-point paths, translucent and transparent colours, between
    /// other elements.
    #[test]
    fn same_text_as_plotters() {
        let mut seed = 11u64;
        let mut next = |n: i64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as i64 % n) as i32
        };
        for case in 0..300 {
            let mut plain = String::new();
            let mut fast = String::new();
            let lines = RefCell::new(Vec::new());
            {
                let mut a = SVGBackend::with_string(&mut plain, (300, 200));
                let mut b = Svg::new(SVGBackend::with_string(&mut fast, (300, 200)), &lines);
                for _ in 0..6 {
                    let len = next(12) as usize;
                    let scale = [10, 1000, 3_000_000, i32::MAX as i64][next(4) as usize];
                    let path: Vec<BackendCoord> = (0..len)
                        .map(|_| (next(2 * scale) - scale as i32, next(2 * scale) - scale as i32))
                        .collect();
                    let rgb = RGBColor(next(256) as u8, next(256) as u8, next(256) as u8);
                    let alpha = [1.0, 0.18, 0.35, 0.0, 1.0 / 3.0][next(5) as usize];
                    let style = Color::stroke_width(&rgb.mix(alpha), 1 + next(4) as u32);
                    a.draw_path(path.clone(), &style).unwrap();
                    b.draw_path(path, &style).unwrap();
                    let p = (next(300), next(200));
                    a.draw_pixel(p, rgb.to_backend_color()).unwrap();
                    b.draw_pixel(p, rgb.to_backend_color()).unwrap();
                }
                a.present().unwrap();
                b.present().unwrap();
            }
            let fast = Svg::finish(fast, lines.into_inner());
            assert_eq!(fast, plain, "case {case}");
        }
    }

    #[test]
    fn integers_as_display_writes_them() {
        for v in [0, 1, -1, 9, 10, -10, 12345, i32::MAX, i32::MIN, -999_999] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }
}
