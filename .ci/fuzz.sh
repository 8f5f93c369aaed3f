#!/usr/bin/env bash
# Issue 15, "Found by machines": coverage-guided fuzzing of the table readers
# (Arrow IPC/Feather, Parquet, CSV) and of the experiment file + `--set`
# parser, on the STABLE toolchain: cargo-fuzz with `-s none` (libFuzzer and
# sanitizer coverage, no sanitizer, so no nightly flag), debug assertions on.
#
#   .ci/fuzz.sh [SECONDS_PER_TARGET]     (default 30, or $FUZZ_SECONDS)
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/) in a
# scratch corpus. Any crash (panic, abort, timeout, out of memory) fails the
# script and prints the input, which belongs in
# crates/ratenet/tests/fuzz_regressions/<target>/ once fixed. Ends with one
# line, "fuzz: N passed, M failed (...)".
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-30}}
targets=(table_ipc table_parquet table_csv spec)
start=$(date +%s)
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked --quiet
fi
cargo fuzz --version
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd fuzz
cargo fuzz build -s none
built=$(date +%s)
passed=0 failed=0
for t in "${targets[@]}"; do
  corpus="$tmp/corpus/$t" artifacts="$tmp/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp seeds/"$t"/* "$corpus"/
  log="$tmp/$t.log"
  if cargo fuzz run -s none "$t" "$corpus" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    echo "fuzz: $t ok ($runs inputs in ${seconds} s)"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED; the end of libFuzzer's log:" >&2
    tail -40 "$log" >&2
    for a in "$artifacts"/*; do
      [ -f "$a" ] || continue
      echo "fuzz: crashing input $(basename "$a") (base64; decode into crates/ratenet/tests/fuzz_regressions/$t/):" >&2
      base64 -w0 "$a" >&2; echo >&2
    done
  fi
done
echo "fuzz: $passed passed, $failed failed ($((built - start)) s install+build, $(( $(date +%s) - built )) s fuzzing)"
[ "$failed" -eq 0 ]
