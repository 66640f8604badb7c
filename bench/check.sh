#!/usr/bin/env bash
# Benchmark of `ops check` against peers, measured side by side in one run.
#
#   bench/check.sh [SCRATCH]        (default SCRATCH: /tmp/ops-bench)
#
# Installs the peers into SCRATCH (never into the repository): ansible-core from PyPI in a
# venv, just and hurlfmt from crates.io with `cargo install --root`, hyperfine and GNU time
# from Debian. Generates the same workload for every tool (bench/gen_check_workload.py):
# 200 (and 1,000) runbooks of 30 steps, and the equivalent playbooks, Hurl files and
# justfiles. Prints a Markdown report and writes it to SCRATCH/report-check.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
peers="$scratch/peers"
work="$scratch/work"
mkdir -p "$peers" "$work"

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
install_peers ansible just hurlfmt

log "building ops (release)"
(cd "$repo" && cargo build --release --quiet)
ops="$repo/target/release/ops"

# ---------------------------------------------------------------- workload
for n in 200 1000; do
  if [ ! -d "$work/w$n" ]; then
    log "generating $n runbooks x 30 steps"
    python3 "$repo/bench/gen_check_workload.py" "$work/w$n" "$n"
  fi
done
"$ops" check "$work/w200/ops" >/dev/null || { echo "the workload does not check clean" >&2; exit 1; }

json="$scratch/hyperfine"
mkdir -p "$json"

run() { # name runs command...
  local name="$1" runs="$2"; shift 2
  log "timing $name"
  hyperfine --style none --warmup 2 --runs "$runs" --export-json "$json/$name.json" "$@" >/dev/null
}

cd "$work/w200"
run ops200 30 "$ops check ops"
run hurl200 10 "$hurlfmt --check hurl/*.hurl"
run just200 5 "for f in just/*.just; do $just --justfile \$f --summary >/dev/null; done"
run ansible200 3 "ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False $ansible --syntax-check ansible/*.yml"
cd "$work/w1000"
run ops1000 20 "$ops check ops"
cd "$repo"
run ops1 200 -N "$ops check runbooks/summit/ga-smoke.rb.ops"
run just1 200 -N "$just --justfile $work/w200/just/b0000.just --summary"

# Peak RSS: the largest of 20 runs.
peak() { local max=0 v; for _ in $(seq 20); do v=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1); [ "$v" -gt "$max" ] && max=$v; done; echo "$max"; }
rss1=$(peak "$ops" check runbooks/summit/ga-smoke.rb.ops)
rss200=$(cd "$work/w200" && peak "$ops" check ops)

# Instructions (callgrind): a figure that does not move with machine load.
instr=0
if command -v valgrind >/dev/null; then
  log "counting instructions (callgrind, 20 runbooks, one thread)"
  rm -rf "$scratch/cg20" && mkdir -p "$scratch/cg20" && cp "$work/w200/ops"/b000*.rb.ops "$work/w200/ops"/b001*.rb.ops "$scratch/cg20/"
  valgrind --tool=callgrind --callgrind-out-file="$scratch/callgrind.out" "$ops" check "$scratch/cg20" >/dev/null 2>"$scratch/callgrind.log"
  instr=$(grep -m1 '^summary:' "$scratch/callgrind.out" | awk '{print $2}')
fi
bytes20=$(cat "$scratch/cg20"/*.rb.ops 2>/dev/null | wc -c)

bytes200=$(cat "$work/w200/ops"/*.rb.ops | wc -c)
bytes1000=$(cat "$work/w1000/ops"/*.rb.ops | wc -c)

report="$scratch/report-check.md"
python3 - "$json" "$bytes200" "$bytes1000" "$rss1" "$rss200" "$instr" "$bytes20" > "$report" <<'PY'
import json, os, sys
d, b200, b1000, rss1, rss200 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
instr, b20 = int(sys.argv[6] or 0), int(sys.argv[7] or 0)
def m(name):
    r = json.load(open(os.path.join(d, name + '.json')))['results'][0]
    return r['mean'], r['stddev'] or 0.0
ops200, ops1000, ops1 = m('ops200'), m('ops1000'), m('ops1')
hurl, just200, ansible, just1 = m('hurl200'), m('just200'), m('ansible200'), m('just1')
ms = lambda s: f"{s[0]*1000:.1f} ms ± {s[1]*1000:.1f}"
print("| workload | tool | mean | ratio (peer / ops) |")
print("|---|---|---|---|")
print(f"| 200 runbooks x 30 steps ({b200/1e6:.2f} MB) | `ops check` | {ms(ops200)} | 1 |")
print(f"| | `hurlfmt --check` (200 Hurl files) | {ms(hurl)} | {hurl[0]/ops200[0]:.1f}x |")
print(f"| | `just --summary` x 200 files | {ms(just200)} | {just200[0]/ops200[0]:.1f}x |")
print(f"| | `ansible-playbook --syntax-check` (200 playbooks) | {ms(ansible)} | {ansible[0]/ops200[0]:.0f}x |")
print(f"| 1,000 runbooks x 30 steps ({b1000/1e6:.2f} MB) | `ops check` | {ms(ops1000)} | |")
print(f"| 1 small runbook | `ops check` | {ms(ops1)} | |")
print(f"| | `just --summary` (1 file) | {ms(just1)} | {just1[0]/ops1[0]:.1f}x |")
print()
print(f"- throughput: {b200/ops200[0]/1e6:.1f} MB/s (200 files), {b1000/ops1000[0]/1e6:.1f} MB/s (1,000 files)")
print(f"- peak RSS: {rss1/1024:.1f} MB for one small runbook, {rss200/1024:.1f} MB for 200 runbooks")
if instr and b20:
    print(f"- instructions (callgrind, whole process, 20 runbooks): {instr/1e6:.1f} M, {instr/b20:.0f} per byte of runbook")
PY
cat "$report"
