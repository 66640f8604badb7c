#!/usr/bin/env bash
# `ops check` of files with 6,400 and 64,000 problems (one unknown step kind per line):
# how rendering scales with the number of diagnostics.
#
#   bench/diagnostics.sh [SCRATCH] [OLD_OPS]   (default SCRATCH: /tmp/ops-bench)
#
# With OLD_OPS (an `ops` binary built from another commit) both are timed side by side.
# Prints wall seconds and peak memory (GNU time) per file and binary.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
old="${2:-}"
mkdir -p "$scratch/diagnostics"
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
(cd "$repo" && cargo build --release --quiet)
new="$repo/target/release/ops"
for n in 6400 64000; do
  f="$scratch/diagnostics/n$n.rb.ops"
  if [ ! -f "$f" ]; then
    { printf 'runbook "big" {\n  title = "Big"\n  owner = "ops"\n}\n'
      seq 0 $((n - 1)) | sed 's/^/probez x/; s/$/ "a"/'; } >"$f"
  fi
  for bin in "$new" ${old:+"$old"}; do
    /usr/bin/time -f "$n diagnostics, $bin: %e s, %M KB" "$bin" check "$f" >/dev/null 2>"$scratch/diagnostics/time" || true
    tail -1 "$scratch/diagnostics/time"
  done
done
