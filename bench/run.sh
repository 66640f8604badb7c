#!/usr/bin/env bash
# Benchmark of `ops run` / `ops run --dry-run` against peers, measured in one run.
#
#   bench/run.sh [SCRATCH]        (default SCRATCH: /tmp/ops-bench)
#
# Installs the peers into SCRATCH/peers (never into the repository): ansible-core from
# PyPI in a venv, just and hurl 8.0.1 from crates.io (`cargo install --root`), hyperfine,
# GNU time and curl from Debian. Starts a loopback HTTP server (bench/slow_server.py:
# /slow answers after 100 ms) and stops it by PID at the end. Generates the workload
# (bench/gen_run_workload.py), prints a Markdown report and writes SCRATCH/report-run.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
peers="$scratch/peers"
work="$scratch/run-work"
port="${OPS_BENCH_PORT:-18931}"
mkdir -p "$peers" "$work"

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
install_peers ansible just hurl

log "building ops (release)"
(cd "$repo" && cargo build --release --quiet)
ops="$repo/target/release/ops"

# ---------------------------------------------------------------- workload and server
python3 "$repo/bench/gen_run_workload.py" "$work" "$port"
python3 "$repo/bench/slow_server.py" "$port" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/fast" >/dev/null && break; sleep 0.1; done
"$ops" check "$work"/*.rb.ops >/dev/null || { echo "the workload does not check clean" >&2; exit 1; }
"$ops" run "$work/parallel50.rb.ops" >/dev/null || { echo "the parallel workload fails" >&2; exit 1; }

json="$scratch/hyperfine-run"
mkdir -p "$json"
run() { # name runs command...
  local name="$1" runs="$2"; shift 2
  log "timing $name"
  hyperfine --style none --warmup 3 --runs "$runs" --export-json "$json/$name.json" "$@" >/dev/null
}

export ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False
cd "$work"
run ops_one 200 -N "$ops run one.rb.ops"
run just_one 200 -N "$just --justfile just/one.just hello"
run hurl_one 100 -N "$hurl --test hurl/one.hurl"
run ansible_one 5 "$ansible ansible/one.yml"
run ops_noop1 200 -N "$ops run noop1.rb.ops"
run ops_noop1000 50 -N "$ops run noop1000.rb.ops"
urls=$(for i in $(seq 0 49); do printf ' -o /dev/null http://127.0.0.1:%s/slow?n=%s' "$port" "$i"; done)
run ops_par50 30 -N "$ops run parallel50.rb.ops"
hurl_files=$(printf ' hurl/p%02d.hurl' $(seq 0 49))   # -N runs without a shell: no globbing
run hurl_par50 30 -N "$hurl --test --jobs 50$hurl_files"
run curl_par50 30 -N "curl -s --parallel --parallel-immediate --parallel-max 50$urls"
run ops_seq50 50 -N "$ops run sequential50.rb.ops"
run hurl_seq50 50 -N "$hurl --test hurl/sequential50.hurl"
run ansible_seq50 2 "$ansible ansible/sequential50.yml"
run ops_plan50 200 -N "$ops run --dry-run plan50.rb.ops"
run ansible_plan50 3 "$ansible --check ansible/plan50.yml"

peak() { local max=0 v; for _ in $(seq 20); do v=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1); [ "$v" -gt "$max" ] && max=$v; done; echo "$max"; }
rss_one=$(peak "$ops" run one.rb.ops)
rss_par=$(peak "$ops" run parallel50.rb.ops)
rss_ansible=$(peak "$ansible" ansible/one.yml)
rss_big=$(peak "$ops" run bigbody.rb.ops)

report="$scratch/report-run.md"
python3 - "$json" "$rss_one" "$rss_par" "$rss_ansible" "$rss_big" > "$report" <<'PY'
import json, os, sys
d = sys.argv[1]
rss_one, rss_par, rss_ansible, rss_big = (int(x) / 1024 for x in sys.argv[2:6])
def m(name):
    p = os.path.join(d, name + '.json')
    if not os.path.exists(p):
        return None
    r = json.load(open(p))['results'][0]
    return r['mean'], r['stddev'] or 0.0
ms = lambda s: f"{s[0]*1000:.1f} ms ± {s[1]*1000:.1f}"
one, jo, ho, ao = m('ops_one'), m('just_one'), m('hurl_one'), m('ansible_one')
print("| workload | tool | mean | ratio (peer / ops) |")
print("|---|---|---|---|")
print(f"| one-step run | `ops run` | {ms(one)} | 1 |")
print(f"| | `just` (one recipe) | {ms(jo)} | {jo[0]/one[0]:.1f}x |")
print(f"| | `hurl --test` (one request) | {ms(ho)} | {ho[0]/one[0]:.1f}x |")
print(f"| | `ansible-playbook` (one debug task) | {ms(ao)} | {ao[0]/one[0]:.0f}x |")
n1000 = m('ops_noop1000')
print(f"| 1,000 no-op steps (`wait 0s`) | `ops run` | {ms(n1000)} | |")
p, hp, cp = m('ops_par50'), m('hurl_par50'), m('curl_par50')
print(f"| 50 x GET of a 100 ms endpoint, concurrently | `ops run` (`parallel`) | {ms(p)} | 1 |")
print(f"| | `hurl --test --jobs 50` (50 files) | {ms(hp)} | {hp[0]/p[0]:.2f}x |")
print(f"| | `curl --parallel` (one process) | {ms(cp)} | {cp[0]/p[0]:.2f}x |")
sq, hsq, asq = m('ops_seq50'), m('hurl_seq50'), m('ansible_seq50')
print(f"| 50 sequential GETs, status and a JSON field asserted | `ops run` | {ms(sq)} | 1 |")
print(f"| | `hurl --test` (one file, 50 entries) | {ms(hsq)} | {hsq[0]/sq[0]:.2f}x |")
print(f"| | `ansible-playbook` (50 `uri` tasks) | {ms(asq)} | {asq[0]/sq[0]:.0f}x |")
pl, apl = m('ops_plan50'), m('ansible_plan50')
print(f"| dry-run of 50 steps | `ops run --dry-run` | {ms(pl)} | 1 |")
print(f"| | `ansible-playbook --check` (50 tasks; runs the probes) | {ms(apl)} | {apl[0]/pl[0]:.0f}x |")
print()
n1 = m('ops_noop1')
per_step = (n1000[0] - n1[0]) / 999 * 1e6
print(f"- per-step interpreter overhead: (1,000 steps {n1000[0]*1000:.1f} ms - 1 step {n1[0]*1000:.1f} ms) / 999 = {per_step:.1f} µs (plan + run + events)")
print(f"- peak RSS: `ops run` one step {rss_one:.1f} MB, 50 parallel probes {rss_par:.1f} MB; ansible-playbook one task {rss_ansible:.1f} MB")
print(f"- peak RSS of a probe of a 100 MB body with `max_body = 1MiB`: {rss_big:.1f} MB (the rest is not read)")
PY
cat "$report"
