//! Shared helpers of the fuzz targets: the library reads tables and spec files
//! only from paths, so each input is written to a per-process scratch file.

use std::path::PathBuf;

/// Write `data` to a scratch file named `input.<ext>` in a folder of this
/// process's own, and return its path.
pub fn scratch(ext: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ratenet-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(format!("input.{ext}"));
    std::fs::write(&path, data).expect("scratch file");
    path
}

/// The decoded-size budget of the fuzzed reads: well under libFuzzer's
/// `-rss_limit_mb` (2048 in .ci/fuzz.sh), so that a file the reader accepts
/// fits, and one declaring more is refused rather than reported as out of
/// memory. crates/ratenet/tests/fuzz_regressions.rs uses the same.
pub const BUDGET: u64 = 256 << 20;

/// Read a table through the library's public reader, then use every column
/// through every accessor (each may fail, none may panic).
pub fn table(ext: &str, data: &[u8]) {
    let path = scratch(ext, data);
    for columns in [None, Some(&["pre_pt_root_id", "post_pt_root_id", "size"][..])] {
        let Ok(t) = ratenet::data::Table::read_with_budget(&path, columns, BUDGET) else {
            continue;
        };
        let names: Vec<String> = t.names().iter().map(|s| s.to_string()).collect();
        let _ = t.nrows();
        for n in &names {
            let _ = t.dtype(n);
            let _ = t.null_count(n);
            let _ = t.validity(n);
            let _ = t.is_null(n, 0);
            let _ = t.ids(n);
            let _ = t.floats(n);
            let _ = t.strings(n);
            let _ = t.bools(n);
        }
    }
}
