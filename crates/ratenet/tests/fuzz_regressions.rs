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

/// What fuzz/src/lib.rs's `table` does: read, then every accessor of every column.
fn table(path: &Path) {
    for columns in [None, Some(&["pre_pt_root_id", "post_pt_root_id", "size"][..])] {
        let r = Table::read(path, columns);
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
