#!/usr/bin/env bash
# Scaling benchmark: `ops check`, `ops plan` and `ops run` of every runbook shape at
# 10, 100, 1,000, 10,000 and 40,000 steps, with the ratio of each size's time to the
# previous one (10× more steps: a ratio near 10 is linear, near 100 quadratic).
#
#   bench/scale.sh [SCRATCH] [SIZES...]     (default SCRATCH: /tmp/ops-bench)
#   OPS_BIN=path/to/ops bench/scale.sh ...    (time that binary instead of building one)
#
# The shapes are described in bench/gen_scale_workload.py. Runs go against a TCP listener
# on 127.0.0.1 (bench/tcp_listener.py) with their journals in SCRATCH/scale-state.
# Each cell is the median of its runs. Prints a Markdown table, writes it to
# SCRATCH/report-scale.md, and exits 1 when a ratio from 1,000 to 10,000 steps is 12 or
# more (the linearity bound of issue 17).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000 10000 40000)
peers="$scratch/peers"
work="$scratch/scale"
mkdir -p "$peers" "$work"

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
install_peers

ops_binary

portfile="$work/port"
rm -f "$portfile"
python3 "$repo/bench/tcp_listener.py" "$portfile" &
listener=$!
trap 'kill "$listener" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.05; done
port="$(cat "$portfile")"

log "generating the workload (listener on 127.0.0.1:$port)"
rm -rf "$work/w"
python3 "$repo/bench/gen_scale_workload.py" "$work/w" "$port" "${sizes[@]}"
export OPS_STATE_DIR="$work/scale-state"
rm -rf "$OPS_STATE_DIR"

shapes=(unnamed waits named referenced parallel loops calls nesting)
json="$scratch/hyperfine-scale"
mkdir -p "$json"

runs_for() { # size -> hyperfine runs
  if [ "$1" -le 100 ]; then echo 20; elif [ "$1" -le 1000 ]; then echo 10
  elif [ "$1" -le 10000 ]; then echo 5; else echo 2; fi
}

cd "$work/w"
for shape in "${shapes[@]}"; do
  for n in "${sizes[@]}"; do
    f="$shape-$n.rb.ops"
    # Each must succeed before it is timed: a failing run would time an error path.
    "$ops" check "$f" >/dev/null
    "$ops" run "$f" >/dev/null
    for cmd in check plan run; do
      log "$cmd $f"
      hyperfine -N --style none --warmup 1 --runs "$(runs_for "$n")" \
        --export-json "$json/$shape-$n-$cmd.json" "$ops $cmd $f" >/dev/null
    done
  done
done

report="$scratch/report-scale.md"
python3 - "$json" "${sizes[*]}" "${shapes[*]}" >"$report" <<'EOF'
import json, sys
d, sizes, shapes = sys.argv[1], [int(s) for s in sys.argv[2].split()], sys.argv[3].split()
# The median: one run slowed by the machine (two shared cores) must not move a cell.
def median(shape, n, cmd):
    return json.load(open(f"{d}/{shape}-{n}-{cmd}.json"))["results"][0]["median"]
def fmt(t):
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"
print("| shape | command | " + " | ".join(f"{n:,}" for n in sizes) + " |")
print("|---|---|" + "---|" * len(sizes))
bad = []
for shape in shapes:
    for cmd in ("check", "plan", "run"):
        cells, prev = [], None
        for n in sizes:
            t = median(shape, n, cmd)
            cell = fmt(t)
            if prev is not None:
                ratio = t / prev
                cell += f" (×{ratio:.1f})"
                if prev_n == 1000 and n == 10000 and ratio >= 12:
                    bad.append(f"{shape} {cmd}: ×{ratio:.1f} from 1,000 to 10,000 steps")
            cells.append(cell)
            prev, prev_n = t, n
        print(f"| {shape} | {cmd} | " + " | ".join(cells) + " |")
print()
if not {1000, 10000} <= set(sizes):
    print("No verdict: the sizes do not include both 1,000 and 10,000.")
elif bad:
    print("Superlinear (ratio ≥ 12 from 1,000 to 10,000 steps): " + "; ".join(bad))
else:
    print("Every ratio from 1,000 to 10,000 steps is under 12.")
EOF
cat "$report"
! grep -q '^Superlinear' "$report"
