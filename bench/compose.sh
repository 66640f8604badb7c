#!/usr/bin/env bash
# Benchmark of `compose up` against Debian's docker-compose (Compose v1) on the same
# compose file and the same engine, measured in one run.
#
#   bench/compose.sh [SCRATCH]        (default SCRATCH: /tmp/ops-bench)
#
# Installs hyperfine and docker-compose from Debian when missing (never into the
# repository), starts a private dockerd with the offline test image (scripts/engine.sh,
# data in SCRATCH/engine) and stops it by PID at the end. The stack: 5 services of the
# test image on a project network, two of them (api, worker) built from a context FROM
# the test image, a named volume, two published ports, a `depends_on` chain with two
# services per level (db, cache -> api -> worker, ui). Measured: `up` from nothing
# (containers, network, volume and the built images removed before each run, so both
# tools build) and the no-change `up`, for `ops run` (wait = none, like
# `docker-compose up -d`, and the default wait = running) and for `docker-compose up -d`,
# each under its own project name and image names. OPS_BIN=path measures another ops.
# Prints a Markdown report and writes SCRATCH/report-compose.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/ops-bench}"
work="$scratch/compose-work"
mkdir -p "$work"
log() { printf '>> %s\n' "$*" >&2; }

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

export OPS_ENGINE_DIR="$scratch/engine"
trap '"$repo/scripts/engine.sh" stop >/dev/null' EXIT
"$repo/scripts/engine.sh" start >&2
export DOCKER_HOST="unix://$OPS_ENGINE_DIR/docker.sock"

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
ops_binary

p1=$((20000 + RANDOM % 5000)); p2=$((p1 + 1)); p3=$((p1 + 2)); p4=$((p1 + 3))
cat >"$work/docker-compose.yml" <<EOF
x-base: &base
  image: ops-test/busybox:1
  init: true
  command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
services:
  db:
    <<: *base
    volumes:
      - data:/data
  cache:
    <<: *base
  api:
    <<: *base
    image: "\${PREFIX}-api"
    build: ./app
    environment:
      DB: db
    ports:
      - "127.0.0.1:\${API_PORT}:8080"
    depends_on: [db, cache]
  worker:
    <<: *base
    image: "\${PREFIX}-worker"
    build: ./app
    depends_on: [api]
  ui:
    <<: *base
    ports:
      - "127.0.0.1:\${UI_PORT}:8080"
    depends_on: [api]
volumes:
  data:
EOF
mkdir -p "$work/app"
printf 'FROM ops-test/busybox:1\nRUN mkdir -p /www && echo built > /www/index.html\n' >"$work/app/Dockerfile"
for mode in none running; do
  cat >"$work/up-$mode.rb.ops" <<EOF
runbook "bench-up-$mode" {
  title = "bench: compose up (wait = $mode)"
  owner = "bench"
}

compose up "docker-compose.yml" {
  project = "benchops"
  env     = { API_PORT = "$p1", UI_PORT = "$p2", PREFIX = "benchops-built" }
  wait    = $mode
  timeout 2m
}
EOF
done
cat >"$work/down.rb.ops" <<'EOF'
runbook "bench-down" {
  title = "bench: compose down"
  owner = "bench"
}

compose down "docker-compose.yml" {
  project = "benchops"
  env     = { API_PORT = "0", UI_PORT = "0", PREFIX = "benchops-built" }
  volumes = true
}
EOF
cd "$work"
"$ops" check ./*.rb.ops >/dev/null
v1="docker-compose -p benchv1 -f docker-compose.yml"
v1env="env API_PORT=$p3 UI_PORT=$p4 PREFIX=benchv1-built"
# From nothing: the built images go too (the builder's cache with them), for both tools.
ops_down="$ops run down.rb.ops >/dev/null; docker image rm -f benchops-built-api benchops-built-worker >/dev/null 2>&1; true"
v1_down="$v1env $v1 down -v -t 1 >/dev/null 2>&1; docker image rm -f benchv1-built-api benchv1-built-worker >/dev/null 2>&1; true"

json="$scratch/hyperfine-compose"
mkdir -p "$json"
run() { # name runs prepare command
  local name="$1" runs="$2" prepare="$3" cmd="$4"
  log "timing $name"
  hyperfine --style none --warmup 1 --runs "$runs" --prepare "$prepare" \
    --export-json "$json/$name.json" "$cmd" >/dev/null
}
run ops_cold_none 10 "$ops_down" "$ops run up-none.rb.ops"
run ops_cold_running 10 "$ops_down" "$ops run up-running.rb.ops"
run v1_cold 10 "$v1_down" "$v1env $v1 up -d"
"$ops" run up-running.rb.ops >/dev/null
$v1env $v1 up -d >/dev/null 2>&1
run ops_noop 20 "true" "$ops run up-running.rb.ops"
run v1_noop 20 "true" "$v1env $v1 up -d"
bash -c "$ops_down"
bash -c "$v1_down"

report="$scratch/report-compose.md"
python3 - "$json" > "$report" <<'PY'
import json, os, sys
d = sys.argv[1]
def m(name):
    r = json.load(open(os.path.join(d, name + '.json')))['results'][0]
    return r['mean'], r['stddev'] or 0.0
def f(x):
    return f"{x[0]*1000:.0f} ms ± {x[1]*1000:.0f}"
oc, orr, vc = m('ops_cold_none'), m('ops_cold_running'), m('v1_cold')
on, vn = m('ops_noop'), m('v1_noop')
print("| 5-service stack (2 built), same engine | ops | docker-compose 1.29 | ratio (compose / ops) |")
print("|---|---|---|---|")
print(f"| `up` from nothing (wait = none vs `up -d`) | {f(oc)} | {f(vc)} | {vc[0]/oc[0]:.2f}x |")
print(f"| `up` from nothing (ops default wait = running) | {f(orr)} | {f(vc)} | {vc[0]/orr[0]:.2f}x |")
print(f"| no-change `up` | {f(on)} | {f(vn)} | {vn[0]/on[0]:.2f}x |")
PY
cat "$report"
