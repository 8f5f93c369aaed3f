//! The self-contained HTML report: one file, inline CSS, figures as data
//! URIs, no scripts, so it can be mailed or archived and opened offline.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use base64::Engine as _;

use crate::error::{io_err, PlotError};
use crate::style::fmt_sig;
use crate::{Report, Section};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Parses CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF).
/// Hand-rolled because the report only needs reading small, well-formed
/// tables that the CLI itself wrote.
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    // Blank lines are not rows.
    rows.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
    rows
}

/// What a CSV cell holds, for alignment decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellKind {
    Empty,
    Number,
    /// NaN / inf spelled out: allowed inside numeric columns.
    NonFinite,
    Text,
}

/// Display form of a CSV cell and its kind.
///
/// Integers are kept verbatim (seeds, counts); other finite numbers get
/// about 4 significant digits so columns stay readable.
pub(crate) fn format_cell(cell: &str) -> (String, CellKind) {
    let t = cell.trim();
    if t.is_empty() {
        return (String::new(), CellKind::Empty);
    }
    if t.parse::<i128>().is_ok() {
        return (t.to_string(), CellKind::Number);
    }
    let looks_numeric = t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    match t.parse::<f64>() {
        Ok(v) if looks_numeric && v.is_finite() => (fmt_sig(v, 4), CellKind::Number),
        Ok(v) if !v.is_finite() => (t.to_string(), CellKind::NonFinite),
        _ => (t.to_string(), CellKind::Text),
    }
}

const CSS: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #262626;
  font: 15px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 48px; background: #fff;
  min-height: 100vh; box-shadow: 0 0 0 1px #e3e5e8; }
h1 { font-size: 26px; margin: 8px 0 2px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e3e5e8; }
.meta { color: #6e6e6e; margin: 0 0 18px; }
nav ol { margin: 4px 0 0; padding-left: 22px; columns: 2; }
nav a { color: #4C72B0; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.table-wrap { overflow-x: auto; max-height: 640px; overflow-y: auto; border: 1px solid #e3e5e8; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { padding: 4px 10px; text-align: left; white-space: nowrap; }
thead th { position: sticky; top: 0; background: #eef1f5; border-bottom: 1px solid #cfd4da; }
tbody tr:nth-child(even) { background: #f8f9fb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv td:first-child { color: #6e6e6e; width: 1%; white-space: nowrap; }
table.kv td { white-space: normal; word-break: break-all; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #4a4a4a; font-size: 14px; margin-top: 6px; text-align: center; }
.text { white-space: pre-wrap; }
.missing { color: #C44E52; font-style: italic; }
pre { background: #f6f8fa; border: 1px solid #e3e5e8; padding: 12px 14px; overflow-x: auto;
  font: 13px/1.45 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.empty { color: #6e6e6e; font-style: italic; }
@media print { body { background: #fff; } main { box-shadow: none; }
  .table-wrap { max-height: none; overflow: visible; } }
"#;

/// See [`crate::write_report`].
pub(crate) fn write_report(path: &Path, report: &Report) -> Result<(), PlotError> {
    let html = render(report);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io_err("cannot create directory", parent, e))?;
    }
    fs::write(path, html).map_err(|e| io_err("cannot write report", path, e))
}

fn section_title(s: &Section) -> &str {
    match s {
        Section::Table { title, .. } | Section::Figure { title, .. } | Section::Text { title, .. } => title,
    }
}

/// Renders the whole page; infallible so a report is always produced.
pub(crate) fn render(report: &Report) -> String {
    let mut h = String::new();
    let title = if report.title.is_empty() {
        "ratenet report"
    } else {
        report.title.as_str()
    };
    // `write!` into a String cannot fail; results are ignored throughout.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        escape(title),
        CSS
    );
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", escape(title));
    if !report.generated.is_empty() {
        let _ = writeln!(h, "<p class=\"meta\">Generated {}</p>", escape(&report.generated));
    }
    h.push_str("</header>\n");

    // Contents: results first, reproducibility details last.
    let mut toc: Vec<(String, String)> = report
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("sec-{}", i + 1), section_title(s).to_string()))
        .collect();
    if !report.provenance.is_empty() {
        toc.push(("provenance".into(), "Provenance".into()));
    }
    if !report.spec_toml.is_empty() {
        toc.push(("spec".into(), "Experiment specification".into()));
    }
    if toc.len() > 1 {
        h.push_str("<nav>\n<strong>Contents</strong>\n<ol>\n");
        for (id, t) in &toc {
            let _ = writeln!(h, "<li><a href=\"#{id}\">{}</a></li>", escape(t));
        }
        h.push_str("</ol>\n</nav>\n");
    }

    for (i, s) in report.sections.iter().enumerate() {
        let _ = writeln!(
            h,
            "<section id=\"sec-{}\">\n<h2>{}</h2>",
            i + 1,
            escape(section_title(s))
        );
        match s {
            Section::Table { csv, .. } => table(&mut h, csv),
            Section::Figure {
                title, caption, png, ..
            } => figure(&mut h, title, caption, png),
            Section::Text { body, .. } => {
                for para in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                    let _ = writeln!(h, "<p class=\"text\">{}</p>", escape(para));
                }
            }
        }
        h.push_str("</section>\n");
    }

    if !report.provenance.is_empty() {
        h.push_str("<section id=\"provenance\">\n<h2>Provenance</h2>\n<div class=\"table-wrap\"><table class=\"kv\">\n<tbody>\n");
        for (k, v) in &report.provenance {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(v));
        }
        h.push_str("</tbody>\n</table></div>\n</section>\n");
    }
    if !report.spec_toml.is_empty() {
        let _ = writeln!(
            h,
            "<section id=\"spec\">\n<h2>Experiment specification</h2>\n<pre><code>{}</code></pre>\n</section>",
            escape(&report.spec_toml)
        );
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn table(h: &mut String, csv: &str) {
    let rows = parse_csv(csv);
    let Some((header, body)) = rows.split_first() else {
        h.push_str("<p class=\"empty\">(empty table)</p>\n");
        return;
    };
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    // A column is right-aligned when it holds numbers and nothing but
    // numbers, NaN/inf or blanks.
    let numeric: Vec<bool> = (0..width)
        .map(|c| {
            let kinds: Vec<CellKind> = body.iter().filter_map(|r| r.get(c)).map(|s| format_cell(s).1).collect();
            kinds.contains(&CellKind::Number) && !kinds.contains(&CellKind::Text)
        })
        .collect();
    h.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for (c, &num) in numeric.iter().enumerate() {
        let name = header.get(c).map(String::as_str).unwrap_or("");
        let class = if num { " class=\"num\"" } else { "" };
        let _ = write!(h, "<th{class}>{}</th>", escape(name.trim()));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for r in body {
        h.push_str("<tr>");
        for (c, &num) in numeric.iter().enumerate() {
            let (text, _) = format_cell(r.get(c).map(String::as_str).unwrap_or(""));
            let class = if num { " class=\"num\"" } else { "" };
            let _ = write!(h, "<td{class}>{}</td>", escape(&text));
        }
        h.push_str("</tr>\n");
    }
    if body.is_empty() {
        let _ = writeln!(
            h,
            "<tr><td class=\"empty\" colspan=\"{}\">(no rows)</td></tr>",
            width.max(1)
        );
    }
    h.push_str("</tbody>\n</table></div>\n");
}

fn figure(h: &mut String, title: &str, caption: &str, png: &Path) {
    match fs::read(png) {
        Ok(bytes) if bytes.starts_with(b"\x89PNG\r\n\x1a\n") => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = write!(
                h,
                "<figure>\n<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n",
                escape(title),
                b64
            );
            if !caption.is_empty() {
                let _ = writeln!(h, "<figcaption>{}</figcaption>", escape(caption));
            }
            h.push_str("</figure>\n");
        }
        Ok(_) => {
            let _ = writeln!(
                h,
                "<p class=\"missing\">Figure not available: {} is not a PNG file.</p>",
                escape(&png.display().to_string())
            );
        }
        Err(e) => {
            let _ = writeln!(
                h,
                "<p class=\"missing\">Figure not available: cannot read {} ({}).</p>",
                escape(&png.display().to_string()),
                escape(&e.to_string())
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_newlines() {
        let rows = parse_csv("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n1,2");
        assert_eq!(
            rows,
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["x, y".into(), "say \"hi\"".into()],
                vec!["1".into(), "2".into()],
            ]
        );
    }

    #[test]
    fn cells() {
        use CellKind::*;
        assert_eq!(format_cell("15.471234"), ("15.47".into(), Number));
        assert_eq!(format_cell("123456789"), ("123456789".into(), Number));
        assert_eq!(format_cell("0.15"), ("0.15".into(), Number));
        assert_eq!(format_cell("2.5e-7"), ("2.5e-7".into(), Number));
        assert_eq!(format_cell("NaN"), ("NaN".into(), NonFinite));
        assert_eq!(format_cell("inf"), ("inf".into(), NonFinite));
        assert_eq!(format_cell("true"), ("true".into(), Text));
        assert_eq!(format_cell("e"), ("e".into(), Text));
        assert_eq!(format_cell(""), ("".into(), Empty));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
