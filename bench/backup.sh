#!/usr/bin/env bash
# Benchmark of `backup postgres` against plain `pg_dump -Fc` of the same database, in
# the same run.
#
#   bench/backup.sh [SCRATCH] [SCALE] [NOISE_MB]
#       defaults: /tmp/ops-bench, pgbench scale 20 (≈ 300 MB, compresses ~50:1), NOISE_MB 0
#
# NOISE_MB adds a table of random hex text (compresses only ~2:1), so that hashing and the
# copy through ops weigh as they would on a database of less compressible data.
#
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 (as the `postgres` user when run as
# root), loads it with `pgbench -i -s SCALE`, times both dumps with hyperfine, measures
# peak RSS with GNU time, stops the cluster by its PID and prints a Markdown report (also
# written to SCRATCH/report-backup.md).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
scale="${2:-20}"
noise_mb="${3:-0}"
work="$scratch/backup-work"
port="${OPS_BENCH_PG_PORT:-18932}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
rm -rf "$work" && mkdir -p "$work/out"
log() { printf '>> %s\n' "$*" >&2; }

command -v hyperfine >/dev/null || apt-get install -y hyperfine >/dev/null
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$work"
log "starting a cluster on port $port"
as_pg "$bin/initdb" -D "$work/data" -A trust -U ops --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -o "-p $port -k $work -c listen_addresses=127.0.0.1" -l "$work/log" -w start >/dev/null
trap 'kill -INT "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null || true' EXIT
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=ops PGDATABASE=postgres
log "loading pgbench scale $scale"
pgbench -i -s "$scale" -q >/dev/null 2>&1
if [ "$noise_mb" -gt 0 ]; then
  log "adding $noise_mb MB of random hex text"
  # 64 hex characters per row + row overhead: about 100 bytes on disk per row.
  psql -q -c "create table noise as select i, md5(random()::text) || md5(random()::text) as t
              from generate_series(1, $noise_mb * 10000) as i" >/dev/null
fi
db_size=$(psql -Atc "select pg_database_size('postgres')")

log "building ops (release)"
(cd "$repo" && cargo build --release --quiet)
ops="$repo/target/release/ops"
cat > "$work/backup.rb.ops" <<RB
runbook "bench-backup" {
  title = "backup postgres"
  owner = "bench"
}

secret DATABASE_URL

backup postgres DATABASE_URL {
  into        = "$work/out"
  compression = 6
}
RB
export DATABASE_URL="postgresql://ops@127.0.0.1:$port/postgres"
json="$scratch/hyperfine-backup"
mkdir -p "$json"
log "timing"
hyperfine --style none --warmup 1 --runs 5 --export-json "$json/ops.json" \
  --prepare "rm -rf $work/out/*" "$ops run $work/backup.rb.ops" >/dev/null
hyperfine --style none --warmup 1 --runs 5 --export-json "$json/pgdump.json" \
  --prepare "rm -f $work/plain.dump" "pg_dump -Fc -Z 6 -f $work/plain.dump" >/dev/null
rm -rf "$work/out"/* && rss_ops=$(/usr/bin/time -f %M "$ops" run "$work/backup.rb.ops" 2>&1 >/dev/null | tail -1)
rss_dump=$(/usr/bin/time -f %M pg_dump -Fc -Z 6 -f "$work/plain.dump" 2>&1 >/dev/null | tail -1)
dump_size=$(stat -c %s "$work/plain.dump")

report="$scratch/report-backup.md"
python3 - "$json" "$db_size" "$dump_size" "$rss_ops" "$rss_dump" > "$report" <<'PY'
import json, os, sys
d, db, dump, rss_ops, rss_dump = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def m(n):
    r = json.load(open(os.path.join(d, n + '.json')))['results'][0]
    return r['mean'], r['stddev'] or 0.0
o, p = m('ops'), m('pgdump')
print(f"database {db/1e6:.0f} MB (pgbench), dump {dump/1e6:.0f} MB")
print()
print("| tool | mean | overhead |")
print("|---|---|---|")
print(f"| `pg_dump -Fc -Z 6` | {p[0]:.2f} s ± {p[1]:.2f} | |")
print(f"| `ops run` with `backup postgres` (stream, SHA-256, fsync, manifest) | {o[0]:.2f} s ± {o[1]:.2f} | {(o[0]/p[0]-1)*100:+.1f}% |")
print()
print(f"- peak RSS: ops {rss_ops/1024:.1f} MB (pg_dump, its child, {rss_dump/1024:.1f} MB on its own)")
PY
cat "$report"
