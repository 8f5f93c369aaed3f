//! Inputs found by the fuzz targets (fuzz/, run by .ci/fuzz.sh), kept as
//! regression tests, plus the fuzzers' seeds: each goes through what its
//! target does, and must end in `Ok` or an `Err` of one line — never a panic.
//!
//! tests/fuzz_regressions/<target>/ holds the crash inputs (file name: what
//! it was), fuzz/seeds/<target>/ the seed corpora.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ratenet::data::Table;
use ratenet::experiment::Spec;

fn one_line<T>(what: &Path, r: ratenet::Result<T>) {
    if let Err(e) = r {
        let msg = e.to_string();
        assert!(
            !msg.trim().is_empty() && !msg.contains('\n'),
            "{}: error is not one line: {msg:?}",
            what.display()
        );
    }
}

/// fuzz/src/lib.rs's `BUDGET`: the decoded-size budget of the fuzzed reads.
const BUDGET: u64 = 256 << 20;

/// What fuzz/src/lib.rs's `table` does: read, then every accessor of every column.
fn table(path: &Path) {
    for columns in [None, Some(&["pre_pt_root_id", "post_pt_root_id", "size"][..])] {
        let r = Table::read_with_budget(path, columns, BUDGET);
        let Ok(t) = r else {
            one_line(path, r);
            continue;
        };
        let names: Vec<String> = t.names().iter().map(|s| s.to_string()).collect();
        for n in &names {
            one_line(path, t.dtype(n));
            one_line(path, t.null_count(n));
            one_line(path, t.validity(n));
            one_line(path, t.is_null(n, 0));
            one_line(path, t.ids(n));
            one_line(path, t.floats(n));
            one_line(path, t.strings(n));
            one_line(path, t.bools(n));
        }
    }
}

/// What fuzz/fuzz_targets/spec.rs does: NUL-separated parts, the first the
/// TOML file, the others `--set` strings.
fn spec(path: &Path, scratch: &Path) {
    let data = std::fs::read(path).unwrap();
    let mut parts = data.split(|&b| b == 0);
    let toml = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.take(8).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let file = scratch.join("input.toml");
    std::fs::write(&file, toml).unwrap();
    one_line(path, Spec::load(&file, &sets));
    if let Ok(text) = std::str::from_utf8(toml) {
        one_line(path, Spec::parse(text));
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn check(target: &str, ext: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for dir in [
        root.join("tests/fuzz_regressions").join(target),
        root.join("../../fuzz/seeds").join(target),
    ] {
        for input in files(&dir) {
            n += 1;
            let r = catch_unwind(AssertUnwindSafe(|| {
                if ext == "toml" {
                    spec(&input, scratch.path());
                } else {
                    // The reader picks the format by extension: copy under the target's.
                    let file = scratch.path().join(format!("input.{ext}"));
                    std::fs::copy(&input, &file).unwrap();
                    table(&file);
                }
            }));
            if r.is_err() {
                failures.push(input.display().to_string());
            }
        }
    }
    assert!(n > 0, "{target}: no inputs found");
    assert!(failures.is_empty(), "{target}: panicked on {failures:?}");
}

/// Inputs that once exhausted memory or time inside the decoders (or
/// aborted the process): each is refused before decoding, with one line
/// naming the file and what it declares, under the fuzz targets' budget and
/// under the default one alike, and quickly.
#[test]
fn resource_crashes_are_refused_before_decoding() {
    const SYNAPSE: &[&str] = &["pre_pt_root_id", "post_pt_root_id", "size"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let scratch = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, Option<&[&str]>, &str); 4] = [
        // arrow-ipc's Vec::with_capacity(7e18) for an LZ4 buffer: an abort.
        (
            "table_ipc/lz4_declared_length_7e18",
            "feather",
            None,
            "a compressed buffer (message at byte 704) declares 7089336938131513954 bytes (6447714.4 TiB) once decoded, over the table budget of ",
        ),
        // Over 10 s in parquet's page header reader (a header that runs on
        // past its column chunk, read byte by byte to the end of the file);
        // the whole file is refused at its first chunk already.
        (
            "table_parquet/slow_17s",
            "parquet",
            Some(SYNAPSE),
            "not a valid Parquet file (row group 0, column 4: page header at byte 456: runs past the column chunk's end)",
        ),
        (
            "table_parquet/slow_17s",
            "parquet",
            None,
            "not a valid Parquet file (row group 0, column 0: page at byte 77 declares -25 bytes compressed, 16 uncompressed, 12 values)",
        ),
        // Over 10 s in parquet's footer decoder, skipping lists that
        // declare 2^31 elements in a footer of a few KB: refused by the
        // footer walk, whose every element takes a byte.
        (
            "table_parquet/footer_list_2e31",
            "parquet",
            None,
            "not a valid Parquet file (footer metadata at byte 2619: runs past the footer's end)",
        ),
    ];
    for (input, ext, columns, expected) in cases {
        let file = scratch.path().join(format!("input.{ext}"));
        std::fs::copy(root.join(input), &file).unwrap();
        for budget in [Some(BUDGET), None] {
            let t0 = std::time::Instant::now();
            let r = match budget {
                Some(b) => Table::read_with_budget(&file, columns, b),
                None => Table::read(&file, columns),
            };
            let e = r.expect_err(input).to_string();
            assert!(
                e.starts_with(&format!("{}: {expected}", file.display())) && !e.contains('\n'),
                "{input}: {e}"
            );
            assert!(t0.elapsed().as_secs_f64() < 1.0, "{input}: {:?}", t0.elapsed());
        }
    }
}

#[test]
fn table_ipc() {
    check("table_ipc", "feather");
}

#[test]
fn table_parquet() {
    check("table_parquet", "parquet");
}

#[test]
fn table_csv() {
    check("table_csv", "csv");
}

#[test]
fn spec_and_sets() {
    check("spec", "toml");
}
