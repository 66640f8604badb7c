#!/usr/bin/env bash
# The single-figure targets of issue 17, measured in one run:
#   - `ops plan` of 10,000 named HTTP probes (each reads a parameter and has an
#     expectation; `method = GET` and the other defaults are looked up per step);
#   - peak memory of `ops check` over 5,000 runbooks (bench/gen_check_workload.py);
#   - start-up: `/bin/true`, `ops --version`, `ops plan` of a one-step runbook, and
#     `ops run` of a one-step read-only and a one-step mutating runbook (journaled);
#   - against peers: `ops plan` of the 50-step runbook of bench/run.sh against
#     `just --dry-run` of 50 recipes, and `ops check` of 200 runbooks x 30 steps against
#     `hurlfmt --check` of the same 200 Hurl files, in wall and in CPU time (user + system).
#
#   bench/targets.sh [SCRATCH]      (default SCRATCH: /tmp/ops-bench)
#   OPS_BIN=path/to/ops bench/targets.sh ...   (time that binary instead of building one)
#
# Prints a Markdown report and writes it to SCRATCH/report-targets.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
peers="$scratch/peers"
work="$scratch/targets"
mkdir -p "$peers" "$work"

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
install_peers just hurlfmt

ops_binary

head() { printf 'runbook "%s" {\n  title = "%s"\n  owner = "bench"\n}\n\n' "$1" "$1"; }
{
  head named-http
  printf 'param base: url = "http://127.0.0.1:9/healthz"\n\n'
  for i in $(seq 0 9999); do
    printf 'probe http base as p%d {\n  expect status == 200\n}\n' "$i"
  done
} >"$work/named-http-10000.rb.ops"
{ head one; printf 'wait 0s\n'; } >"$work/read-only.rb.ops"
{ head one; printf 'notify stdout "hello"\n'; } >"$work/mutating.rb.ops"
[ -d "$work/w5000" ] || python3 "$repo/bench/gen_check_workload.py" "$work/w5000" 5000 >/dev/null
"$ops" check "$work/named-http-10000.rb.ops" >/dev/null
[ -d "$work/run" ] || python3 "$repo/bench/gen_run_workload.py" "$work/run" 9 >/dev/null
[ -d "$work/w200" ] || python3 "$repo/bench/gen_check_workload.py" "$work/w200" 200 >/dev/null
{
  for i in $(seq 0 49); do printf 'r%d:\n    echo "step %d"\n\n' "$i" "$i"; done
  printf 'all:'; for i in $(seq 0 49); do printf ' r%d' "$i"; done; printf '\n'
} >"$work/just50.just"
export OPS_STATE_DIR="$work/state"

json="$scratch/hyperfine-targets"
mkdir -p "$json"
run() { # name runs command
  local name="$1" runs="$2"; shift 2
  log "$name"
  hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$json/$name.json" "$@" >/dev/null
}
cd "$work"
run plan_named 10 "$ops plan named-http-10000.rb.ops"
run true 300 "/bin/true"
run version 300 "$ops --version"
run plan_one 300 "$ops plan read-only.rb.ops"
run run_ro 200 "$ops run read-only.rb.ops"
run run_mut 200 "$ops run mutating.rb.ops"
run plan50 200 "$ops plan run/plan50.rb.ops"
run just50 200 "$just --justfile just50.just --dry-run all"
run check200 20 "$ops check w200/ops"
(cd w200 && run hurlfmt200 20 "$hurlfmt --check $(ls hurl/*.hurl | tr '\n' ' ')")
peak_kb=$( { /usr/bin/time -f '%M' "$ops" check "$work/w5000/ops" >/dev/null; } 2>&1 | tail -1)

report="$scratch/report-targets.md"
python3 - "$json" "$peak_kb" >"$report" <<'EOF'
import json, sys
d, peak = sys.argv[1], int(sys.argv[2])
def m(n):
    r = json.load(open(f"{d}/{n}.json"))["results"][0]
    return r["mean"], r["stddev"]
t = m("true")[0]
print("| measurement | mean | ratio to `/bin/true` |")
print("|---|---|---|")
for name, label in [("true", "`/bin/true`"), ("version", "`ops --version`"),
                    ("plan_one", "`ops plan` of one read-only step"),
                    ("run_ro", "`ops run` of one read-only step (journaled)"),
                    ("run_mut", "`ops run` of one mutating step (journaled, fsync'd)")]:
    mean, sd = m(name)
    print(f"| {label} | {mean * 1000:.2f} ms ± {sd * 1000:.2f} | {mean / t:.1f}× |")
mean, sd = m("plan_named")
print()
print(f"- `ops plan` of 10,000 named HTTP probes: {mean * 1000:.0f} ms ± {sd * 1000:.0f}")
print(f"- `ops check` of 5,000 runbooks: {peak / 1024:.1f} MB peak RSS")
def cpu(n):
    r = json.load(open(f"{d}/{n}.json"))["results"][0]
    return r["user"] + r["system"]
p, j = m("plan50"), m("just50")
print(f"- `ops plan` of 50 steps {p[0] * 1000:.2f} ms ± {p[1] * 1000:.2f}; `just --dry-run` of 50 recipes {j[0] * 1000:.2f} ms ± {j[1] * 1000:.2f} (just / ops: {j[0] / p[0]:.2f})")
c, h = m("check200"), m("hurlfmt200")
print(f"- `ops check` of 200 runbooks x 30 steps {c[0] * 1000:.1f} ms wall, {cpu('check200') * 1000:.1f} ms CPU; `hurlfmt --check` of the 200 Hurl files {h[0] * 1000:.1f} ms wall, {cpu('hurlfmt200') * 1000:.1f} ms CPU (hurlfmt / ops: {h[0] / c[0]:.2f} wall, {cpu('hurlfmt200') / cpu('check200'):.2f} CPU)")
EOF
cat "$report"
