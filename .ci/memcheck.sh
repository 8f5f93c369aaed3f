#!/usr/bin/env bash
# --- issue 15, "Found by machines": the unsafe kernels' unit tests (sim::,
# the kernels, integrators and batched engine, including networks without
# inhibitory neurons, single-neuron blocks, empty rows and 1–16 lanes) under
# valgrind memcheck; any error fails. Prints "memcheck: N passed" last.
# Installs valgrind with apt-get where it is missing (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  fi
  command -v valgrind >/dev/null || { echo "memcheck: valgrind not found and cannot be installed" >&2; exit 1; }
fi
# The library's unit-test binary, release build (as `cargo test --release`).
bin=$(cargo test --release -p ratenet --lib --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "ratenet" and m["profile"]["test"]:
        print(m["executable"])
')
[ -n "$bin" ] && [ -x "$bin" ] || { echo "memcheck: ratenet's lib test binary not found" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
set +e
valgrind -q --error-exitcode=1 --leak-check=no "$bin" --test-threads=2 sim:: 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || { echo "memcheck: failed (exit $rc)" >&2; exit 1; }
passed=$(awk '/^test result:/ { p += $4 } END { print p + 0 }' "$log")
[ "$passed" -gt 0 ] || { echo "memcheck: no tests ran" >&2; exit 1; }
echo "memcheck: $passed passed in $(( $(date +%s) - start )) s"
