#!/usr/bin/env bash
# bench/homework.sh — ratenet against the course notebook, on this machine, in one go.
#
# What it measures (run from the repo root: bench/homework.sh):
#   1. The notebook: the oracle ../shared/reference/notebook_model.py (numpy,
#      the notebook's own functions) runs the homework suite, 110 runs:
#        EX1  observed + shuffled                    × seeds 0-9        =  20
#        EX2  observed × connectivity_proba 0.15…0.35 × seeds 0-9       =  50
#        EX3  observed, no_reciprocal, shuffled,
#             no_reciprocal_shuffled                 × seeds 0-9        =  40
#      as three processes, as a student would. Reported: the wall time of the
#      three processes (sum; includes Python start-up and data loading) and the
#      mean of the oracle's own per-run times (run_s).
#      OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, if the environment sets them, are
#      unset for this command only (they force a slow generic BLAS kernel); the
#      BLAS kernel numpy really uses is printed.
#   2. ratenet on the same suite (examples/ex{1,2,3}*.toml, compat = "notebook"):
#      three processes, wall time of each and their sum,
#        - simulation + tables (output.figures=false) with
#          simulation.stop_early = "at_return" (the notebook's question) and
#          with the default stop_early = true (stops only where no answer can
#          change), alternating, BENCH_REPEAT times each (default 3), the
#          median of each reported;
#        - with figures and the HTML report ("at_return"), BENCH_REPEAT times;
#        - with --threads 1 (simulation + tables, "at_return"), once.
#      Synaptic updates/s come from ratenet's own summary lines (non-zeros of W
#      × steps actually simulated, over its in-process elapsed time, which
#      excludes figures), aggregated over the three processes of the median
#      repetition (one separate run would be hostage to this machine's
#      noise); "per core" is the rate divided by the threads used.
#   3. ΔT equality, for each of the three modes above: every run's delta_t in ratenet's results.csv against the
#      oracle's, matched on (exercise, condition, seed, connectivity_proba),
#      to 1e-9 (both "never returned" counts as equal).
#   4. One run: `ratenet simulate` (observed, seed 0), whole process including
#      data loading, mean of 10, against the oracle's run_s of that run
#      (simulation only, data already loaded).
#   5. A large network: 100,000 neurons, random, p = 0.001 (~10M synapses),
#      5000 Euler steps, no early stop: wall time and peak RSS (/usr/bin/time).
#      About a minute on 2 cores; BENCH_SKIP_LARGE=1 skips it.
# At the end a Markdown table is printed, ready for the README. "×" columns
# are notebook time / ratenet time: how many times faster ratenet is.
#
# Environment knobs: BENCH_SKIP_LARGE=1, BENCH_REPEAT=N, BENCH_NO_BUILD=1 (use
# target/release/ratenet as it is), BENCH_KEEP=1 (keep the scratch folder).
# The machine may be shared: the table gives the load average before and after
# and the CPU time other processes took meanwhile; if that share is more than a
# few %, the numbers are slower than they should be: run it again.
set -euo pipefail

cd "$(dirname "$0")/.."
DATA=../shared/data/microns_1300
SYN=$DATA/synapses_synthetic_1300.feather
CELLS=$DATA/cell_info_1300.feather
ORACLE=../shared/reference/notebook_model.py
BIN=target/release/ratenet
REPEAT=${BENCH_REPEAT:-3}
NPROC=$(nproc)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ratenet-bench.XXXXXX")
if [[ -z "${BENCH_KEEP:-}" ]]; then trap 'rm -rf "$TMP"' EXIT; else echo "scratch: $TMP" >&2; fi

say() { printf '\n== %s\n' "$*" >&2; }
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic, printed with 3 decimals unless the expression formats itself
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# CPU time (clock ticks) used by the whole machine, and by this script and its children:
# the difference is what other processes took while the benchmark ran.
cpu_machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cpu_ours() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$$/stat"; }
LOAD_BEFORE=$(loadavg); T_START=$(now); CPU_M0=$(cpu_machine); CPU_O0=$(cpu_ours)
# sci X: 1.64e9 rather than 1.64e+09
sci() { awk -v x="$1" 'BEGIN { if (x == "n/a") print x; else { s = sprintf("%.3g", x); sub(/e\+0*/, "e", s); print s } }'; }

# --- 0. ratenet binary ---------------------------------------------------------
say "ratenet binary"
if [[ -n "${BENCH_NO_BUILD:-}" ]]; then
  [[ -x $BIN ]] || { echo "BENCH_NO_BUILD=1 but $BIN is missing" >&2; exit 1; }
elif [[ ! -x $BIN ]] || [[ -n $(find crates Cargo.toml Cargo.lock -newer "$BIN" \
        \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -not -path '*/tests/*' -print -quit) ]]; then
  echo "missing, or sources changed since it was built: cargo build (a no-op if cargo finds it fresh)" >&2
  cargo build --release -p ratenet-cli
else
  echo "up to date" >&2
fi
REV="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo '+dirty')"
echo "$BIN  ($("$BIN" --version), source $REV, built $(date -r "$BIN" '+%Y-%m-%d %H:%M'))" >&2

# --- 1. Python environment of the oracle ---------------------------------------------
say "oracle's Python environment (.venv-ref)"
PY=.venv-ref/bin/python
if ! { [[ -x $PY ]] && "$PY" -c 'import numpy, pandas, networkx' 2>/dev/null; }; then
  python3 -m venv .venv-ref
  "$PY" -m pip install --quiet -r ../shared/reference/requirements.txt
fi
"$PY" -c 'import sys, numpy, pandas, networkx; print("python", sys.version.split()[0], "numpy", numpy.__version__, "pandas", pandas.__version__, "networkx", networkx.__version__)' >&2

# The BLAS kernel numpy runs on (OpenBLAS picks it at load time; OPENBLAS_CORETYPE overrides it):
# threadpoolctl if installed, else OpenBLAS's own get_corename, else numpy's build configuration.
cat > "$TMP/blas.py" <<'EOF'
import ctypes, numpy as np
try:
    import threadpoolctl
    info = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    print(", ".join(f'{i["internal_api"]} {i.get("version")}, kernel {i.get("architecture")}, '
                    f'{i["num_threads"]} threads' for i in info) or "no BLAS found by threadpoolctl")
    raise SystemExit
except ImportError:
    pass
for path in sorted({l.split()[-1] for l in open("/proc/self/maps") if "openblas" in l.lower()}):
    lib = ctypes.CDLL(path)
    for pre, suf in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", ""), ("scipy_openblas_", "")):
        if hasattr(lib, f"{pre}get_corename{suf}"):
            fn = {n: getattr(lib, f"{pre}get_{n}{suf}") for n in ("corename", "config", "num_threads")}
            fn["corename"].restype = fn["config"].restype = ctypes.c_char_p
            version = fn["config"]().decode().split()[1]
            print(f'OpenBLAS {version}, kernel {fn["corename"]().decode()}, {fn["num_threads"]()} threads')
            raise SystemExit
blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
print(f'{blas.get("name")} {blas.get("version")} (build configuration; runtime kernel unknown)')
EOF
BLAS_UNSET=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$TMP/blas.py")
echo "numpy BLAS (OPENBLAS_CORETYPE/L2_SIZE unset): $BLAS_UNSET" >&2
OPENBLAS_ENV="$(env | grep -E '^OPENBLAS_(CORETYPE|L2_SIZE)=' | sort | paste -sd' ' || true)"
if [[ -n $OPENBLAS_ENV ]]; then
  BLAS_SET=$("$PY" "$TMP/blas.py")
  echo "numpy BLAS (as set: $OPENBLAS_ENV): $BLAS_SET" >&2
fi

# --- 2. the notebook (oracle): 110 runs, three processes -------------------------
COMMON=(--synapses "$SYN" --cells "$CELLS" --set notebook_stimulus=1)
EX1=(--condition observed --condition shuffled:shuffle_connections --seeds 0-9)
EX2=(--condition observed --seeds 0-9 --sweep connectivity_proba=0.15,0.2,0.25,0.3,0.35)
EX3=(--condition observed --condition no_reciprocal:remove_reciprocal --condition shuffled:shuffle_connections
     --condition no_reciprocal_shuffled:remove_reciprocal+shuffle_connections --seeds 0-9)

say "notebook (oracle), 110 runs in three processes (takes about a minute)"
declare -A NB_S
for ex in ex1 ex2 ex3; do
  case $ex in ex1) args=("${EX1[@]}") ;; ex2) args=("${EX2[@]}") ;; ex3) args=("${EX3[@]}") ;; esac
  t0=$(now)
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$ORACLE" "${COMMON[@]}" "${args[@]}" > "$TMP/oracle_$ex.jsonl"
  NB_S[$ex]=$(calc "$(now) - $t0")
  echo "$ex: ${NB_S[$ex]} s, $(grep -c '"kind": "run"' "$TMP/oracle_$ex.jsonl") runs" >&2
done
NB_TOTAL=$(calc "${NB_S[ex1]} + ${NB_S[ex2]} + ${NB_S[ex3]}")
# mean run_s over all runs; run_s of observed seed 0 in EX1
read -r NB_RUNS NB_MEAN NB_SEED0 < <("$PY" - "$TMP"/oracle_ex{1,2,3}.jsonl <<'EOF'
import json, sys
runs = {f: [r for r in map(json.loads, open(f)) if r["kind"] == "run"] for f in sys.argv[1:]}
seed0 = next(r["run_s"] for r in runs[sys.argv[1]] if r["condition"] == "observed" and r["seed"] == 0)
runs = [r for rs in runs.values() for r in rs]
print(len(runs), f'{sum(r["run_s"] for r in runs) / len(runs):.3f}', f"{seed0:.3f}")
EOF
)
echo "total $NB_TOTAL s; $NB_RUNS runs, mean run_s $NB_MEAN s" >&2

NB_SET_NOTE=""
if [[ -n $OPENBLAS_ENV ]]; then
  say "EX1 again with $OPENBLAS_ENV as set (for comparison)"
  "$PY" "$ORACLE" "${COMMON[@]}" "${EX1[@]}" > "$TMP/oracle_ex1_set.jsonl"
  read -r m_set m_unset < <("$PY" - "$TMP/oracle_ex1_set.jsonl" "$TMP/oracle_ex1.jsonl" <<'EOF'
import json, sys
mean = lambda f: [sum(x) / len(x) for x in [[json.loads(l)["run_s"] for l in open(f) if '"kind": "run"' in l]]][0]
print(f"{mean(sys.argv[1]):.3f} {mean(sys.argv[2]):.3f}")
EOF
)
  NB_SET_NOTE="With $OPENBLAS_ENV left as set, numpy runs on: $BLAS_SET, mean run_s $m_set s (EX1) vs $m_unset s unset."
  echo "$NB_SET_NOTE" >&2
fi

# --- 3. ratenet on the same suite -------------------------------------------------------
# rn_suite TAG ARGS...: the three exercises as three processes into $TMP/TAG_exN;
# sets RN_TIMES (ex1 ex2 ex3 seconds) and RN_SUM.
declare -A SPEC=([ex1]=examples/ex1_seeds.toml [ex2]=examples/ex2_sweep.toml [ex3]=examples/ex3_reciprocal.toml)
rn_suite() {
  local tag=$1; shift
  RN_TIMES=(); RN_SUM=0
  for ex in ex1 ex2 ex3; do
    local t0; t0=$(now)
    "$BIN" run "${SPEC[$ex]}" --set data.synapses="$SYN" --set data.cells="$CELLS" \
      --out "$TMP/${tag}_$ex" --force "$@" 2> "$TMP/${tag}_$ex.stderr"
    local s; s=$(calc "$(now) - $t0")
    RN_TIMES+=("$s"); RN_SUM=$(calc "$RN_SUM + $s")
  done
  echo "$tag: ${RN_TIMES[*]} s, sum $RN_SUM s" >&2
}
# rn_rate TAG: synaptic updates/s over the three processes, from their summary lines
# ("N runs simulated (N in all) in S s, R synaptic updates/s; ...").
rn_rate() {
  cat "$TMP/$1"_ex{1,2,3}.stderr | tr '\r' '\n' |
    sed -nE 's/.* in ([0-9.]+) s, ([0-9.eE+-]+) synaptic updates\/s.*/\1 \2/p' |
    awk '{ s += $1; u += $1 * $2; n++ } END { if (n == 3) printf "%.3g", u / s; else printf "n/a" }'
}

AT_RETURN=(--set 'simulation.stop_early="at_return"')
# median_of LINES...: of "sum repetition ex1 ex2 ex3" lines, the median one
median_of() { printf '%s\n' "$@" | sort -g | sed -n "$(( (REPEAT + 1) / 2 ))p"; }

say "ratenet, simulation + tables, stop_early = \"at_return\" and the default, $REPEAT times each"
ATR=()   # "sum repetition ex1 ex2 ex3" per repetition
DEF=()
for i in $(seq "$REPEAT"); do
  # Not --quiet: the summary lines give the updates/s (below). The two
  # modes alternate, so that a slow spell of the machine hits both.
  rn_suite "atr$i" --set output.figures=false "${AT_RETURN[@]}"
  ATR+=("$RN_SUM $i ${RN_TIMES[*]}")
  rn_suite "def$i" --set output.figures=false
  DEF+=("$RN_SUM $i ${RN_TIMES[*]}")
done
read -r RN_NOFIG MEDIAN a b c < <(median_of "${ATR[@]}")
RN_NOFIG_EACH="$a + $b + $c"
read -r RN_DEF MEDIAN_DEF a b c < <(median_of "${DEF[@]}")
RN_DEF_EACH="$a + $b + $c"

say "ratenet, with figures and report, stop_early = \"at_return\", $REPEAT times"
FIG=()
for i in $(seq "$REPEAT"); do
  rn_suite "fig$i" --quiet "${AT_RETURN[@]}"
  FIG+=("$RN_SUM $i ${RN_TIMES[*]}")
done
read -r RN_FIG MEDIAN_FIG a b c < <(median_of "${FIG[@]}")
RN_FIG_EACH="$a + $b + $c"

say "ratenet, --threads 1 (simulation + tables, \"at_return\")"
RATE_ALL=$(rn_rate "atr$MEDIAN")
RATE_DEF=$(rn_rate "def$MEDIAN_DEF")
rn_suite t1 --set output.figures=false --threads 1 "${AT_RETURN[@]}"
RN_T1=$RN_SUM
RATE_1=$(rn_rate t1)
RATE_CORE=$(awk -v r="$RATE_ALL" -v n="$NPROC" 'BEGIN { if (r == "n/a") printf "n/a"; else printf "%.3g", r / n }')
echo "updates/s: $RATE_ALL with $NPROC threads ($RATE_CORE per core); $RATE_1 with --threads 1; default mode $RATE_DEF" >&2

# --- 4. ΔT equality, run by run ------------------------------------------------
say "ΔT: ratenet results.csv against the oracle"
# dt_check TAG: ΔT of $TMP/TAG_exN/results.csv against the oracle, one line.
dt_check() {
"$PY" - "$TMP" "$1" <<'EOF'
import csv, json, sys
tmp, tag = sys.argv[1], sys.argv[2]
DEFAULT_P = 0.25  # the oracle's and the examples' connectivity_proba outside EX2
def key(ex, cond, seed, p):
    return (ex, cond, int(seed), round(float(p), 9))
oracle, ours = {}, {}
for ex in ("ex1", "ex2", "ex3"):
    for line in open(f"{tmp}/oracle_{ex}.jsonl"):
        r = json.loads(line)
        if r["kind"] == "run":
            p = r["value"] if r["param"] == "connectivity_proba" else DEFAULT_P
            oracle[key(ex, r["condition"], r["seed"], p)] = r["delta_t"]
    with open(f"{tmp}/{tag}_{ex}/results.csv") as f:
        for r in csv.DictReader(f):
            p = r.get("network.connectivity_proba") or DEFAULT_P
            ours[key(ex, r["condition"], r["seed"], p)] = float(r["delta_t"]) if r["delta_t"] else None
same, bad = 0, []
for k, a in sorted(oracle.items()):
    b = ours.get(k, "missing")
    if (a is None and b is None) or (a is not None and isinstance(b, float) and abs(a - b) <= 1e-9):
        same += 1
    else:
        bad.append((k, a, b))
extra = sorted(set(ours) - set(oracle))
for k, a, b in bad[:10]:
    print(f"  differs: {k}: oracle {a}, ratenet {b}", file=sys.stderr)
for k in extra[:10]:
    print(f"  only in ratenet: {k}", file=sys.stderr)
print(f"ΔT identical: {same}/{len(oracle)}" + (f" ({len(extra)} extra ratenet runs)" if extra else ""))
EOF
}
DT_LINE=$(dt_check "atr$MEDIAN")
DT_DEF=$(dt_check "def$MEDIAN_DEF")
DT_FIG=$(dt_check "fig$MEDIAN_FIG")
echo "at_return: $DT_LINE; default: $DT_DEF; figures: $DT_FIG"

# --- 5. one run ---------------------------------------------------------------------
say "one run: ratenet simulate (observed, seed 0), mean of 10"
SIM=("$BIN" simulate examples/ex1_seeds.toml --set data.synapses="$SYN" --set data.cells="$CELLS"
     --condition observed --seed 0)
"${SIM[@]}" > "$TMP/simulate_seed0.json"   # warm the page cache once, untimed
t0=$(now)
for _ in $(seq 10); do "${SIM[@]}" > /dev/null; done
RN_ONE=$(calc "($(now) - $t0) / 10")
echo "ratenet simulate: $RN_ONE s per process; oracle run_s: $NB_SEED0 s" >&2

# --- 6. the large network ----------------------------------------------------------
LARGE_ROW="| 100,000 neurons, ~10M synapses, 5000 steps | skipped (BENCH_SKIP_LARGE=1) |"
if [[ -z "${BENCH_SKIP_LARGE:-}" ]]; then
  say "large network: 100,000 neurons, p = 0.001, 5000 steps (about a minute)"
  cat > "$TMP/large.toml" <<'EOF'
[network]
kind = "random"
n_neurons = 100000
rng = "fast"
connectivity_proba = 0.001
g = 0.0005

[simulation]
stop_early = false
EOF
  /usr/bin/time -f '%e %M %P' -o "$TMP/large.time" "$BIN" simulate "$TMP/large.toml" > "$TMP/large.json"
  read -r L_S L_KB L_CPU < "$TMP/large.time"
  L_MB=$(calc "$L_KB / 1024")
  L_STATE=$("$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print("diverged" if r["diverged"] else ("returned, ΔT = %.2f" % r["delta_t"]) if r["returned"] else "did not return")' "$TMP/large.json")
  # expected synapses N²·p = 1e7 (ratenet does not print the count for random networks)
  L_RATE=$(sci "$(calc "1e7 * 5000 / $L_S")")
  echo "$L_S s, peak RSS $L_MB MB, CPU $L_CPU, $L_STATE; ≈ $L_RATE updates/s" >&2
  LARGE_ROW="| 100,000 neurons, ~10M synapses, 5000 steps (\`ratenet simulate\`) | $(printf '%.1f' "$L_S") s, peak RSS $(printf '%.0f' "$L_MB") MB, CPU $L_CPU; $L_STATE; ≈ $L_RATE updates/s (assuming N²p = 10⁷ synapses) |"
fi

# --- 7. summary ------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
HZ=$(getconf CLK_TCK)
OTHERS=$(awk -v m0="$CPU_M0" -v m1="$(cpu_machine)" -v o0="$CPU_O0" -v o1="$(cpu_ours)" -v hz="$HZ" \
             -v wall="$(calc "$(now) - $T_START")" -v n="$NPROC" \
  'BEGIN { c = ((m1 - m0) - (o1 - o0)) / hz; if (c < 0) c = 0
           printf "other processes used %.0f CPU-s during the %.0f s benchmark (%.0f%% of the machine)", c, wall, 100 * c / (wall * n) }')
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
cat <<EOF

### Homework suite (110 runs), $(date -u '+%Y-%m-%d')

| | |
|---|---|
| Machine | $NPROC cores, $CPU; load average $LOAD_BEFORE before, $(loadavg) after; $OTHERS |
| Versions | ratenet $REV; numpy $("$PY" -c 'import numpy; print(numpy.__version__)') on $BLAS_UNSET |
| Notebook (numpy oracle), 3 processes | $NB_TOTAL s (${NB_S[ex1]} + ${NB_S[ex2]} + ${NB_S[ex3]}); mean $NB_MEAN s per run |
| ratenet, simulation + tables, \`stop_early = "at_return"\` | $RN_NOFIG s ($RN_NOFIG_EACH; median of $REPEAT) — **$(x "$NB_TOTAL" "$RN_NOFIG")** faster; ΔT ${DT_LINE#ΔT } |
| ratenet, simulation + tables, default \`stop_early = true\` | $RN_DEF s ($RN_DEF_EACH; median of $REPEAT) — **$(x "$NB_TOTAL" "$RN_DEF")** faster; ΔT ${DT_DEF#ΔT } |
| ratenet, with figures and report, \`"at_return"\` | $RN_FIG s ($RN_FIG_EACH; median of $REPEAT) — **$(x "$NB_TOTAL" "$RN_FIG")** faster; ΔT ${DT_FIG#ΔT } |
| ratenet, \`--threads 1\`, simulation + tables, \`"at_return"\` | $RN_T1 s — $(x "$NB_TOTAL" "$RN_T1") faster |
| Synaptic updates/s | $(sci "$RATE_ALL") per machine ($NPROC threads), $(sci "$RATE_CORE") per core; $(sci "$RATE_1") with \`--threads 1\`; $(sci "$RATE_DEF") in the default mode |
| One run (observed, seed 0) | \`ratenet simulate\` $RN_ONE s (whole process, data loading included) vs notebook $NB_SEED0 s (simulation only) — $(x "$NB_SEED0" "$RN_ONE") |
$LARGE_ROW

Notebook times: wall time of \`python notebook_model.py\` per exercise, Python start-up and data loading included, with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset. ratenet times: wall time of \`ratenet run examples/exN_*.toml\`, everything included. The notebook always simulates 5000 steps; ratenet (compat = "notebook") with \`stop_early = "at_return"\` stops a run at its first return, the notebook's question; the default stops only once nothing later can change an answer (a certificate bounds the rest of the window, so \`diverged\` covers the whole run); ΔT is the same either way. Updates/s: non-zeros of W × steps simulated / ratenet's in-process time, from its summary lines in the median repetition.
EOF
[[ -n $NB_SET_NOTE ]] && echo "$NB_SET_NOTE"
exit 0
