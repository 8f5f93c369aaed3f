#!/usr/bin/env bash
# CI, issue 15 "A real cluster": start a single-node Slurm (munge + slurmctld +
# slurmd, state in a temporary folder), send EX2 through `ratenet submit
# --tasks 4`, wait for the merge job and compare its results.csv, summary.csv
# and stats.csv with a local `ratenet run`'s, byte for byte.
# The output folder has a space in its name, so that the quoting of the
# scripts (#SBATCH lines and shell) is tried for real.
#
# Where Slurm cannot be installed or started (not root, no apt-get, a daemon
# that does not come up) it prints "slurm: skipped (<reason>)" and exits 0:
# skipped, never "passed". A wrong or missing result exits 1.
#
# Usage: .ci/slurm-test.sh [path/to/ratenet]   (default target/release/ratenet)
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${1:-$repo/target/release/ratenet}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
data=$(cd ../shared/data/microns_1300 && pwd)
t_start=$(date +%s)

skip() {
  echo "slurm: skipped ($*)"
  exit 0
}
fail() {
  echo "slurm: FAILED ($*)" >&2
  show_logs
  exit 1
}

tmp=$(mktemp -d /tmp/ratenet-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
jobs_submitted=()
cleanup() {
  # Cancel this script's jobs (a failed or timed-out test), then stop the
  # daemons it started, by pid, newest first.
  if [ ${#jobs_submitted[@]} -gt 0 ]; then scancel "${jobs_submitted[@]}" 2>/dev/null || true; fi
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

show_logs() {
  local f
  for f in "$tmp"/log/*.log "$tmp"/munge/munged.log "$tmp"/"slurm out"/slurm/*.out; do
    [ -f "$f" ] && { echo "--- $f (last 20 lines)" >&2; tail -n 20 "$f" >&2; }
  done
}

# --- install --------------------------------------------------------------
[ -x "$bin" ] || fail "no ratenet binary at $bin"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
  || ! command -v sbatch >/dev/null; then
  [ "$(id -u)" = 0 ] || skip "slurm-wlm and munge are not installed and this is not root"
  command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed and there is no apt-get"
  echo "slurm: installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$tmp/apt.log" 2>&1 \
    && apt-get install -y -qq --no-install-recommends slurm-wlm munge >>"$tmp/apt.log" 2>&1 \
    || skip "apt-get install slurm-wlm munge failed: $(tail -n 1 "$tmp/apt.log")"
fi
[ "$(id -u)" = 0 ] || skip "the daemons need root (munged as the munge user, slurmd as root)"
id munge >/dev/null 2>&1 || skip "no munge user"

# --- munge ----------------------------------------------------------------
mkdir -p "$tmp/munge" "$tmp/log" "$tmp/state" "$tmp/spool"
chown munge: "$tmp/munge"
key=$tmp/munge/munge.key
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$key" >/dev/null 2>&1 || skip "mungekey failed"
elif command -v create-munge-key >/dev/null; then
  yes | create-munge-key -f >/dev/null 2>&1 && cp /etc/munge/munge.key "$key" || skip "create-munge-key failed"
else
  dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
fi
chown munge: "$key"
chmod 600 "$key"
# --force: the folder is under /tmp (sticky, world-writable), which munged
# otherwise refuses.
su -s /bin/sh munge -c "munged --force --socket=$tmp/munge/munge.sock --key-file=$key \
  --log-file=$tmp/munge/munged.log --pid-file=$tmp/munge/munged.pid --seed-file=$tmp/munge/munged.seed" \
  >"$tmp/log/munged.out" 2>&1 || skip "munged did not start: $(tail -n 1 "$tmp/log/munged.out")"
for _ in $(seq 50); do [ -s "$tmp/munge/munged.pid" ] && break; sleep 0.1; done
[ -s "$tmp/munge/munged.pid" ] || skip "munged wrote no pid file"
pids+=("$(cat "$tmp/munge/munged.pid")")
munge -S "$tmp/munge/munge.sock" -n </dev/null | unmunge -S "$tmp/munge/munge.sock" >/dev/null 2>&1 \
  || skip "munge credentials do not round-trip"

# --- slurm.conf -----------------------------------------------------------
# Two free ports (another CI run may hold the default 6817/6818).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=
for _ in $(seq 20); do
  b=$((20000 + RANDOM % 20000))
  if port_free "$b" && port_free $((b + 1)); then base=$b; break; fi
done
[ -n "$base" ] || skip "no two free TCP ports"
host=$(hostname -s 2>/dev/null || uname -n)
host=${host%%.*}
cpus=$(nproc)
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=ratenetci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.sock
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# --- daemons --------------------------------------------------------------
start_daemon() { # name
  "$1" -f "$SLURM_CONF" >"$tmp/log/$1.out" 2>&1 || skip "$1 did not start: $(tail -n 1 "$tmp/log/$1.out")"
  for _ in $(seq 100); do [ -s "$tmp/$1.pid" ] && break; sleep 0.1; done
  [ -s "$tmp/$1.pid" ] || skip "$1 wrote no pid file: $(tail -n 1 "$tmp/log/$1.log" 2>/dev/null)"
  pids+=("$(cat "$tmp/$1.pid")")
}
start_daemon slurmctld
start_daemon slurmd
state=
for _ in $(seq 150); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || skip "node $host is not idle after 30 s (state: ${state:-none}): $(tail -n 1 "$tmp/log/slurmd.log" 2>/dev/null)"
t_up=$(date +%s)
echo "slurm: single node $host ($cpus CPUs) up in $((t_up - t_start)) s"

# --- the test -------------------------------------------------------------
sets=(--set "data.synapses=$data/synapses_synthetic_1300.feather"
  --set "data.cells=$data/cell_info_1300.feather"
  --set output.figures=false)
export RATENET_CACHE=$tmp/cache
submitted=$(cd "$tmp" && "$bin" submit "$repo/examples/ex2_sweep.toml" "${sets[@]}" \
  --tasks 4 --cpus-per-task 1 --time 00:10:00 --out "$tmp/slurm out" 2>&1) || fail "ratenet submit: $submitted"
echo "$submitted" | sed 's/^/slurm: /'
array_job=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\).*/\1/p' | head -n 1)
merge_job=$(echo "$submitted" | sed -n 's/.*merge job \([0-9]*\).*/\1/p' | head -n 1)
[ -n "$array_job" ] && [ -n "$merge_job" ] || fail "no job ids in: $submitted"
jobs_submitted=("$array_job" "$merge_job")

# Meanwhile, the same experiment locally.
"$bin" run "$repo/examples/ex2_sweep.toml" "${sets[@]}" --out "$tmp/local" --quiet \
  || fail "local ratenet run failed"

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1; }
job_reason() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*Reason=\([A-Za-z_]*\).*/\1/p' | head -n 1; }
deadline=$(($(date +%s) + 300))
st=
while :; do
  st=$(job_state "$merge_job")
  case "$st" in
    COMPLETED) break ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) fail "merge job $merge_job: $st" ;;
  esac
  # A failed array task leaves the merge job pending for ever.
  [ "$(job_reason "$merge_job")" = DependencyNeverSatisfied ] && fail "an array task failed: merge job $merge_job can never run"
  if [ "$(date +%s)" -ge "$deadline" ]; then
    squeue >&2
    fail "merge job $merge_job not done after 5 minutes (state: ${st:-unknown})"
  fi
  sleep 1
done
t_done=$(date +%s)
for f in results.csv summary.csv stats.csv; do
  [ -f "$tmp/slurm out/$f" ] || fail "the merged folder has no $f"
  cmp "$tmp/local/$f" "$tmp/slurm out/$f" || fail "$f of the Slurm run differs from the local run's"
done
echo "slurm: passed (EX2 through 4 array tasks + merge job in $((t_done - t_up)) s, results.csv, summary.csv, stats.csv identical to a local run; $((t_done - t_start)) s in all)"
