#!/usr/bin/env bash
# Issue 15, "Found by machines": coverage-guided fuzzing of the table readers
# (Arrow IPC/Feather, Parquet, CSV) and of the experiment file + `--set`
# parser, on the STABLE toolchain: cargo-fuzz with `-s none` (libFuzzer and
# sanitizer coverage, no sanitizer, so no nightly flag), debug assertions on.
#
#   .ci/fuzz.sh [SECONDS_PER_TARGET]     (default 30, or $FUZZ_SECONDS)
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/) in a
# scratch corpus. Any crash fails its target: a panic, an abort or other
# signal, out of memory (over 2 GiB) or a timeout (over 10 s); each is
# printed with its replay's log and its input in base64, which belongs in
# crates/ratenet/tests/fuzz_regressions/<target>/ once fixed. The readers
# check what a file declares against a memory budget before decoding
# (crates/ratenet/src/data/declared.rs); the targets use 256 MiB. Ends with
# one line, "fuzz: N passed, M failed (...)".
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
# The instrumented build (every dependency with coverage counters) takes
# minutes on 2 cores: kept in a cache folder outside the clone, so that the
# next run on the same machine reuses it (a cold run still builds it all).
export CARGO_TARGET_DIR=${RATENET_FUZZ_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/ratenet/fuzz-target}
mkdir -p "$CARGO_TARGET_DIR"
cargo fuzz build -s none
bin=$CARGO_TARGET_DIR/$(rustc -vV | sed -n "s/^host: //p")/release
built=$(date +%s)
passed=0 failed=0
for t in "${targets[@]}"; do
  corpus="$tmp/corpus/$t" artifacts="$tmp/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp seeds/"$t"/* "$corpus"/
  log="$tmp/$t.log"
  # Fork mode keeps fuzzing after a crash, so one run reports every crash it
  # meets; each is then replayed and printed, and fails the target.
  cargo fuzz run -s none "$t" "$corpus" -- \
      -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$artifacts/" >"$log" 2>&1 || true
  bad=0
  grep -q "fuzzing in separate process" "$log" || { bad=1; echo "fuzz: $t did not start:" >&2; tail -20 "$log" >&2; }
  # Every artifact fails: a panic, an abort or other signal (crash-*), out
  # of memory (oom-*), a timeout (timeout-*), a slow unit or a leak.
  for a in "$artifacts"/*; do
    [ -f "$a" ] || continue
    bad=$((bad + 1))
    kind=$(basename "$a" | sed 's/-[0-9a-f]*$//')
    replay="$tmp/replay.log"
    RUST_BACKTRACE=1 timeout 60 "$bin/$t" -timeout=10 -rss_limit_mb=2048 "$a" >"$replay" 2>&1 || true
    echo "fuzz: $t: $kind on $(basename "$a") ($(wc -c <"$a") bytes); the replay's log:" >&2
    grep -v '^ *at /rustc' "$replay" | head -40 >&2
    echo "fuzz: the input (base64; decode into crates/ratenet/tests/fuzz_regressions/$t/ once fixed):" >&2
    base64 -w0 "$a" >&2; echo >&2
  done
  runs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
  if [ "$bad" -eq 0 ]; then
    echo "fuzz: $t ok (${runs:-?} inputs in ${seconds} s)"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED ($bad crashes in ${runs:-?} inputs)" >&2
  fi
done
echo "fuzz: $passed passed, $failed failed ($((built - start)) s install+build, $(( $(date +%s) - built )) s fuzzing)"
[ "$failed" -eq 0 ]
