#!/usr/bin/env bash
# Benchmark of the run journal and the run index (issue 16), measured in one run:
#
#   bench/journal.sh [SCRATCH]     (default SCRATCH: /tmp/ops-bench; BASE=REV to change
#                                   the peer build, default 51da65f, the last commit
#                                   before the journal)
#
# Peers, built or installed into SCRATCH (never into the repository): `ops` at BASE (no
# journal, no index), built with `cargo build --release` from a git worktree in
# SCRATCH/base; the sqlite3 CLI (Debian) reading the same index; hyperfine (Debian).
# Workloads: 1,000 no-op read-only steps (`wait 0s`), 1,000 mutating steps (`notify
# stdout`: each start is fsync'd), 1,000 commands (`exec ["true"]`), a one-step run, and
# `ops history` over 10,000 journaled runs. The state directory is on this machine's disk (SCRATCH).
# Prints a Markdown report and writes SCRATCH/report-journal.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
base_rev="${BASE:-51da65f}"
peers="$scratch/peers"
work="$scratch/journal-work"
mkdir -p "$peers" "$work"

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
install_peers
command -v sqlite3 >/dev/null || { log "installing sqlite3 (apt)"; apt-get install -y sqlite3 >/dev/null; }

log "building ops (release)"
(cd "$repo" && cargo build --release --quiet)
ops="$repo/target/release/ops"
if [ ! -x "$scratch/base/target/release/ops" ]; then
  log "building the peer: ops at $base_rev (release) in $scratch/base"
  rm -rf "$scratch/base"
  git -C "$repo" worktree add -f -q "$scratch/base" "$base_rev"
  (cd "$scratch/base" && cargo build --release --quiet)
fi
base="$scratch/base/target/release/ops"

# ---------------------------------------------------------------- workloads
header='runbook "bench" {
  title = "bench"
  owner = "bench"
}
'
{ echo "$header"; for _ in $(seq 1000); do echo 'wait 0s'; done; } > "$work/noop1000.rb.ops"
{ echo "$header"; for _ in $(seq 1000); do echo 'notify stdout "x"'; done; } > "$work/notify1000.rb.ops"
{ echo "$header"; echo 'notify stdout "x"'; } > "$work/one.rb.ops"
{ echo "$header"; for _ in $(seq 1000); do echo 'exec ["true"]'; done; } > "$work/exec1000.rb.ops"
"$ops" check "$work"/*.rb.ops >/dev/null

json="$scratch/hyperfine-journal"
mkdir -p "$json"
time_it() { # name runs command...
  local name="$1" runs="$2"; shift 2
  log "timing $name"
  hyperfine --style none --warmup 3 --runs "$runs" --export-json "$json/$name.json" "$@" >/dev/null
}
state="$work/state"
rm -rf "$state"
cd "$work"
export OPS_STATE_DIR="$state"
time_it ops_noop 30 -N "$ops run noop1000.rb.ops"
time_it base_noop 30 -N "$base run noop1000.rb.ops"
time_it ops_notify 15 -N "$ops run notify1000.rb.ops"
time_it base_notify 15 -N "$base run notify1000.rb.ops"
time_it ops_exec 5 -N "$ops run exec1000.rb.ops"
time_it base_exec 5 -N "$base run exec1000.rb.ops"
time_it ops_one 100 -N "$ops run one.rb.ops"
time_it base_one 100 -N "$base run one.rb.ops"

log "10,000 journaled runs"
hist="$work/history-state"
rm -rf "$hist"
for _ in $(seq 10000); do OPS_STATE_DIR="$hist" "$ops" run one.rb.ops >/dev/null; done
export OPS_STATE_DIR="$hist"
runs=$(find "$hist/runs" -name '*.jsonl' | wc -l)
time_it ops_history 50 -N "$ops history"
time_it ops_history_all 20 -N "$ops history --limit 100000 --json"
time_it sqlite_history 50 -N "sqlite3 $hist/index.sqlite \"SELECT run, runbook, user, host, started, duration_ms, status, exit_code, approvals FROM runs ORDER BY started DESC LIMIT 50\""
history_kb=$(/usr/bin/time -f %M "$ops" history --limit 100000 --json 2>&1 >/dev/null | tail -1)

# ---------------------------------------------------------------- report
python3 - "$json" "$runs" "$history_kb" "$base_rev" <<'PY' | tee "$scratch/report-journal.md"
import json, sys, os
d, runs, kb, rev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def m(n):
    r = json.load(open(os.path.join(d, n + ".json")))["results"][0]
    return r["mean"] * 1000, r["stddev"] * 1000
def row(label, tool, n, base=None):
    mean, sd = m(n)
    ratio = ""
    if base:
        b, _ = m(base)
        ratio = f"{mean / b:.3f}"
    print(f"| {label} | {tool} | {mean:.1f} ms ± {sd:.1f} | {ratio} |")
print("| workload | tool | mean | ratio (ops / peer) |")
print("|---|---|---|---|")
row("1,000 read-only steps (`wait 0s`)", "`ops run` (journal)", "ops_noop", "base_noop")
row("", f"`ops run` at {rev} (no journal)", "base_noop")
row("1,000 mutating steps (`notify stdout`)", "`ops run` (journal)", "ops_notify", "base_notify")
row("", f"`ops run` at {rev}", "base_notify")
row("1,000 commands (`exec [\"true\"]`)", "`ops run` (journal)", "ops_exec", "base_exec")
row("", f"`ops run` at {rev}", "base_exec")
row("one-step run", "`ops run` (journal)", "ops_one", "base_one")
row("", f"`ops run` at {rev}", "base_one")
row(f"history of {runs:,} runs, latest 50", "`ops history`", "ops_history", "sqlite_history")
row("", "`sqlite3` query of the same index", "sqlite_history")
row(f"history of {runs:,} runs, all", "`ops history --limit 100000 --json`", "ops_history_all")
noop, base_noop = m("ops_noop")[0], m("base_noop")[0]
notify, base_notify = m("ops_notify")[0], m("base_notify")[0]
print()
print(f"- journal cost on 1,000 read-only steps: {100 * (noop - base_noop) / base_noop:+.1f}%")
print(f"- per mutating step (its start fsync'd, its end written): "
      f"({notify:.1f} - {base_notify:.1f}) ms / 1,000 = {(notify - base_notify) / 1000 * 1000:.0f} µs")
ex, base_ex = m("ops_exec")[0], m("base_exec")[0]
print(f"- journal cost on 1,000 commands: {100 * (ex - base_ex) / base_ex:+.1f}%")
print(f"- peak RSS of `ops history` listing all {runs:,} runs: {kb / 1024:.1f} MB")
PY
