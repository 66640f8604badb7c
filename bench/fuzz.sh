#!/usr/bin/env bash
# Fuzzes the parser+checker and the formatter's idempotence with libFuzzer.
#
#   bench/fuzz.sh [SECONDS] [SCRATCH]    (default: 300 s per target, /tmp/ops-fuzz)
#
# Installs cargo-fuzz from crates.io into SCRATCH/tools (never into the repository) and
# builds the targets of fuzz/ on the stable toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz
# passes nightly-only sanitizer flags). The seed corpus is every `.rb.ops` file of
# runbooks/ and tests/fixtures/, copied into SCRATCH/corpus/TARGET; what the fuzzer adds
# stays there between runs. Crashes land in fuzz/artifacts/TARGET (the script fails).
# Prints one Markdown table row per target (executions, rate, coverage, corpus, crashes)
# and writes them to SCRATCH/report-fuzz.md; FUZZING.md records the figures.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-300}"
scratch="${2:-/tmp/ops-fuzz}"
mkdir -p "$scratch/tools"
log() { printf '>> %s\n' "$*" >&2; }

if [ ! -x "$scratch/tools/bin/cargo-fuzz" ]; then
  log "installing cargo-fuzz (crates.io) into $scratch/tools"
  cargo install -q --root "$scratch/tools" cargo-fuzz --locked
fi
export PATH="$scratch/tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1

report="$scratch/report-fuzz.md"
printf '| target | seconds | executions | exec/s | coverage (edges) | corpus | crashes |\n|---|---|---|---|---|---|---|\n' >"$report"
failed=0
for target in parse_check fmt_idempotent; do
  corpus="$scratch/corpus/$target"
  mkdir -p "$corpus"
  # The seeds: every runbook and fixture, named by content so reruns add nothing twice.
  while IFS= read -r -d '' f; do
    cp "$f" "$corpus/seed-$(sha256sum "$f" | cut -c1-16)"
  done < <(find "$repo/runbooks" "$repo/tests/fixtures" -name '*.rb.ops' -print0)
  log "fuzzing $target for ${seconds}s ($(find "$corpus" -type f | wc -l) inputs in the corpus)"
  out="$scratch/$target.log"
  set +e
  (cd "$repo/fuzz" && cargo fuzz run --release "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=10 -print_final_stats=1) \
    >"$out" 2>&1
  status=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$out" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*')
  size=$(find "$corpus" -type f | wc -l)
  crashes=$(find "$repo/fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "$size" "$crashes" | tee -a "$report"
  if [ "$status" -ne 0 ]; then
    log "$target stopped with status $status; see $out and fuzz/artifacts/$target"
    failed=1
  fi
done
log "report: $report"
exit "$failed"
