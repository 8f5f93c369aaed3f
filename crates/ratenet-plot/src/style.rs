//! Visual constants and small numeric helpers shared by all figures.

use std::sync::Once;

use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, IntoFont, RGBColor, TextStyle};

/// Seaborn's default "deep" palette; condition `i` gets `PALETTE[i % 10]`.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4C, 0x72, 0xB0),
    RGBColor(0xDD, 0x84, 0x52),
    RGBColor(0x55, 0xA8, 0x68),
    RGBColor(0xC4, 0x4E, 0x52),
    RGBColor(0x81, 0x72, 0xB3),
    RGBColor(0x93, 0x78, 0x60),
    RGBColor(0xDA, 0x8B, 0xC3),
    RGBColor(0x8C, 0x8C, 0x8C),
    RGBColor(0xCC, 0xB9, 0x74),
    RGBColor(0x64, 0xB5, 0xCD),
];

/// Colour of condition number `i`.
pub(crate) fn cond_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Near-black used by matplotlib/seaborn for text and spines (0.15 grey).
pub(crate) const INK: RGBColor = RGBColor(0x26, 0x26, 0x26);
/// Secondary text (annotations, notes).
pub(crate) const MUTED: RGBColor = RGBColor(0x6E, 0x6E, 0x6E);
/// Grid lines: visible but quieter than any data.
pub(crate) const GRID: RGBColor = RGBColor(0xE6, 0xE6, 0xE6);
/// Colour for failures ("diverged"), deliberately outside the palette order.
pub(crate) const FAIL: RGBColor = RGBColor(0xD6, 0x27, 0x28);
/// Background tint of the failure band and stimulus span.
pub(crate) const BAND: RGBColor = RGBColor(0xF2, 0xF2, 0xF2);

/// Font family name under which DejaVu Sans is registered with plotters.
pub(crate) const FAMILY: &str = "sans-serif";

/// Base font sizes in 1× pixels, kept in one place so all figures match.
pub(crate) const TITLE_PX: f64 = 21.0;
/// Axis description ("time (s)").
pub(crate) const LABEL_PX: f64 = 18.0;
/// Tick labels and legend text.
pub(crate) const TICK_PX: f64 = 16.0;
/// Small annotations.
pub(crate) const NOTE_PX: f64 = 15.0;

static FONTS: Once = Once::new();

/// Registers the embedded DejaVu fonts with plotters' ab_glyph backend.
///
/// plotters keeps fonts in a process-wide table, so registering once is
/// enough and avoids re-parsing the font for every figure.
pub(crate) fn ensure_fonts() {
    FONTS.call_once(|| {
        // The embedded fonts are known-good; a failure here would be a bug in
        // the dejavu crate, and text then simply falls back to an error at
        // draw time which is reported to the caller.
        let _ = register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold());
        let _ = register_font(FAMILY, FontStyle::Italic, dejavu::sans::oblique());
        let _ = register_font(FAMILY, FontStyle::Oblique, dejavu::sans::oblique());
    });
}

/// Converts 1× design sizes into backend pixels.
///
/// The PNG is drawn at twice its final size and box-filtered down (plotters'
/// bitmap backend does not antialias lines), while the SVG is drawn at 1×;
/// every size therefore goes through this scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sc {
    /// Backend pixels per design pixel.
    pub s: f64,
    /// Whether the backend is SVG (raster-only tricks are skipped or swapped).
    pub svg: bool,
}

impl Sc {
    /// A length in backend pixels.
    pub fn px(&self, v: f64) -> i32 {
        (v * self.s).round() as i32
    }

    /// A stroke width in backend pixels, never zero so thin lines stay visible.
    pub fn w(&self, v: f64) -> u32 {
        ((v * self.s).round() as u32).max(1)
    }

    /// The regular font at a design size, in the ink colour.
    pub fn font(&self, size: f64) -> TextStyle<'static> {
        (FAMILY, size * self.s).into_font().color(&INK)
    }

    /// The bold font at a design size.
    pub fn bold(&self, size: f64) -> TextStyle<'static> {
        (FAMILY, size * self.s, FontStyle::Bold).into_font().color(&INK)
    }
}

/// Sets a text anchor; plotters' default (left/top) is rarely what we want.
pub(crate) fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// "Nice" tick positions covering `[lo, hi]`, about `target` of them, with
/// steps of 1, 2, 2.5 or 5 times a power of ten (like matplotlib's
/// MaxNLocator). Returns the ticks and the step.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return (vec![if lo.is_finite() { lo } else { 0.0 }], 1.0);
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            // Snap float noise (0.30000000000000004) so labels stay short.
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect();
    (ticks, step)
}

/// Formats tick values so that consecutive ticks differing by `step` are
/// distinguishable and no label carries float noise.
pub(crate) fn tick_formatter(step: f64, max_abs: f64) -> impl Fn(&f64) -> String {
    let sci = max_abs >= 1e5 || (max_abs > 0.0 && max_abs < 1e-3);
    let decimals = if step > 0.0 && step.is_finite() {
        let mag = step.log10().floor();
        // A 2.5×10^k step needs one more digit than its magnitude says.
        let mant = step / 10f64.powf(mag);
        let extra = if (mant - 2.5).abs() < 1e-6 { 1.0 } else { 0.0 };
        (-mag + extra).clamp(0.0, 10.0) as usize
    } else {
        2
    };
    move |v: &f64| {
        let s = if sci {
            fmt_sci(*v)
        } else {
            let s = format!("{:.*}", decimals, v);
            if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                // Avoid "-0.00".
                s.trim_start_matches('-').to_string()
            } else {
                s
            }
        };
        typographic_minus(&s)
    }
}

/// Uses the real minus sign (U+2212) like matplotlib; a hyphen looks too
/// short next to digits.
pub(crate) fn typographic_minus(s: &str) -> String {
    s.replace('-', "\u{2212}")
}

/// Compact scientific notation ("1.5e-4") for ticks outside the fixed range.
fn fmt_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{:.2e}", v);
    // Trim "1.50e-4" to "1.5e-4".
    match s.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') {
                m.trim_end_matches('0').trim_end_matches('.')
            } else {
                m
            };
            format!("{m}e{e}")
        }
        None => s,
    }
}

/// Formats a value with about `sig` significant digits, trimming trailing
/// zeros; used for annotations, legend entries and report tables.
pub(crate) fn fmt_sig(v: f64, sig: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..9).contains(&mag) {
        let s = format!("{:.*e}", sig.saturating_sub(1), v);
        return match s.split_once('e') {
            Some((m, e)) => {
                let m = if m.contains('.') {
                    m.trim_end_matches('0').trim_end_matches('.')
                } else {
                    m
                };
                format!("{m}e{e}")
            }
            None => s,
        };
    }
    let decimals = (sig as i32 - 1 - mag).max(0) as usize;
    let s = format!("{:.*}", decimals, v);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Pads a data range like matplotlib's default 5% margins, widening
/// degenerate (empty or zero-width) ranges so the axes stay drawable.
pub(crate) fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let d = if lo.abs() > 0.0 { lo.abs() * 0.1 } else { 0.5 };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        let (t, s) = nice_ticks(0.0, 1.0, 5);
        assert_eq!(s, 0.2);
        assert_eq!(t.len(), 6);
        let f = tick_formatter(s, 1.0);
        assert_eq!(f(&t[3]), "0.6");
        let (t, s) = nice_ticks(0.15, 0.35, 5);
        assert!(t.iter().all(|v| (0.15..=0.35 + 1e-12).contains(v)));
        let f = tick_formatter(s, 0.35);
        assert_eq!(f(&0.25), "0.25");
        assert_eq!(tick_formatter(2.5, 10.0)(&7.5), "7.5");
        assert_eq!(tick_formatter(250.0, 1000.0)(&750.0), "750");
        assert_eq!(tick_formatter(0.25, 1.0)(&-0.75), "\u{2212}0.75");
        assert_eq!(tick_formatter(0.1, 1.0)(&-0.0), "0.0");
    }

    #[test]
    fn sig_formatting() {
        assert_eq!(fmt_sig(15.4712, 4), "15.47");
        assert_eq!(fmt_sig(0.15, 4), "0.15");
        assert_eq!(fmt_sig(1234567.0, 4), "1234567");
        assert_eq!(fmt_sig(0.000012346, 4), "1.235e-5");
        assert_eq!(fmt_sig(-0.00001, 2), "-1e-5");
        assert_eq!(fmt_sig(2.0, 4), "2");
    }

    #[test]
    fn padding_handles_degenerate_ranges() {
        assert_eq!(padded(f64::NAN, 1.0, 0.05), (0.0, 1.0));
        let (a, b) = padded(3.0, 3.0, 0.05);
        assert!(a < 3.0 && b > 3.0);
        let (a, b) = padded(0.0, 0.0, 0.05);
        assert!(a < 0.0 && b > 0.0);
    }
}
