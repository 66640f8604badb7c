#!/usr/bin/env bash
# The local lab the repository's runbooks run against (see runbooks/lab/README.md).
#
#   runbooks/lab/lab.sh up      # engine + PostgreSQL + Redis + webhook sink + platform stacks
#   runbooks/lab/lab.sh env     # the environment the lab runbooks read, for `eval`
#   runbooks/lab/lab.sh status  # what runs, by PID
#   runbooks/lab/lab.sh down    # stops everything `up` started (by PID) and removes its state
#
# Everything lives in $OPS_LAB_DIR (default /tmp/ops-lab) and listens on 127.0.0.1 only.
# `up` is idempotent: what already runs is kept. The platform stacks are brought up by the
# repository's own runbook (runbooks/platform/start-platform.rb.ops) through `ops`
# ($OPS_BIN, default target/release/ops, built when missing).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
LAB=${OPS_LAB_DIR:-/tmp/ops-lab}
PG_PORT=15432
REDIS_PORT=16379
HOOK_PORT=18099
OPS=${OPS_BIN:-$repo/target/release/ops}
# An engine of your own (OPS_ENGINE_DIR set, as in CI) is used and left running; otherwise
# the lab starts one under $LAB/engine and stops it at `down`.
if [ -n "${OPS_ENGINE_DIR:-}" ]; then OWN_ENGINE=0; else OWN_ENGINE=1; fi
export OPS_ENGINE_DIR="${OPS_ENGINE_DIR:-$LAB/engine}"

log() { printf 'lab: %s\n' "$*" >&2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
alive() { [ -f "$1" ] && kill -0 "$(head -1 "$1")" 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  log "nothing listens on 127.0.0.1:$1"; return 1
}

env_lines() {
  cat <<EOF
export DOCKER_HOST=unix://$OPS_ENGINE_DIR/docker.sock
export DATABASE_URL=postgresql://ops@127.0.0.1:$PG_PORT/app
export SCRATCH_URL=postgresql://ops@127.0.0.1:$PG_PORT/scratch
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export NORNS_SESSION_SECRET=$(cat "$LAB/session-secret" 2>/dev/null || echo unset)
export OPS_WEBHOOK=http://127.0.0.1:$HOOK_PORT/cgi-bin/hook
export OPS_VAR_backup_dir=$LAB/backups
export OPS_VAR_llm_api=http://127.0.0.1:18000
export OPS_VAR_prometheus=http://127.0.0.1:19090
export OPS_VAR_grafana=http://127.0.0.1:13001
export OPS_VAR_loki=http://127.0.0.1:13100
export OPS_VAR_gateway=http://127.0.0.1:18080
export OPS_VAR_ui=http://127.0.0.1:13000
export SUMMIT_GATEWAY_PORT=18080
export SUMMIT_UI_PORT=13000
EOF
}

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

start_postgres() {
  local data="$LAB/pg/data" bin
  bin=$(pg_bin)
  [ -x "$bin/initdb" ] || { log "PostgreSQL server not found: apt-get install -y postgresql"; exit 1; }
  if alive "$data/postmaster.pid"; then log "postgres already running"; return; fi
  mkdir -p "$LAB/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$LAB/pg"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data" -A trust -U ops --no-sync >"$LAB/pg/initdb.log" 2>&1
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$LAB/pg/log" -w \
    -o "-p $PG_PORT -k $LAB/pg -c listen_addresses=127.0.0.1" start >/dev/null
  export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=ops
  if ! psql -d postgres -Atc "select 1 from pg_database where datname = 'app'" | grep -q 1; then
    createdb app && createdb scratch
    pgbench -i -s 1 -q app >/dev/null 2>&1
  fi
  log "postgres on 127.0.0.1:$PG_PORT (pid $(head -1 "$data/postmaster.pid"))"
}

start_redis() {
  if alive "$LAB/redis/redis.pid"; then log "redis already running"; return; fi
  mkdir -p "$LAB/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$LAB/redis" --save "" \
    --daemonize yes --pidfile "$LAB/redis/redis.pid" --logfile "$LAB/redis/log"
  wait_port "$REDIS_PORT"
  redis-cli -p "$REDIS_PORT" set session:lab-operator '{"user":"operator"}' EX 86400 >/dev/null
  for i in $(seq 1 50); do redis-cli -p "$REDIS_PORT" set "cache:item:$i" "value-$i" >/dev/null; done
  log "redis on 127.0.0.1:$REDIS_PORT (pid $(cat "$LAB/redis/redis.pid"))"
}

start_webhook() {
  if alive "$LAB/webhook/httpd.pid"; then log "webhook sink already running"; return; fi
  mkdir -p "$LAB/webhook/www/cgi-bin"
  cat >"$LAB/webhook/www/cgi-bin/hook" <<EOF
#!/bin/sh
# Appends each request body to the log, answers 200 like Slack does.
body=\$(head -c "\${CONTENT_LENGTH:-0}")
printf '%s %s\n' "\$(date -u +%Y-%m-%dT%H:%M:%SZ)" "\$body" >>"$LAB/webhook.log"
printf 'Content-Type: text/plain\r\n\r\nok\n'
EOF
  chmod +x "$LAB/webhook/www/cgi-bin/hook"
  touch "$LAB/webhook.log"
  busybox httpd -f -p "127.0.0.1:$HOOK_PORT" -h "$LAB/webhook/www" \
    </dev/null >"$LAB/webhook/httpd.log" 2>&1 &
  echo $! >"$LAB/webhook/httpd.pid"
  wait_port "$HOOK_PORT"
  log "webhook sink on 127.0.0.1:$HOOK_PORT (pid $(cat "$LAB/webhook/httpd.pid")), log $LAB/webhook.log"
}

ops_bin() {
  if [ ! -x "$OPS" ]; then
    log "building ops (release)"
    (cd "$repo" && cargo build --release --quiet)
  fi
}

up() {
  mkdir -p "$LAB/backups"
  [ -f "$LAB/session-secret" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LAB/session-secret"
  "$repo/scripts/engine.sh" start >&2
  start_postgres
  start_redis
  start_webhook
  ops_bin
  eval "$(env_lines)"
  log "bringing the platform stacks up through runbooks/platform/start-platform.rb.ops"
  (cd "$repo" && "$OPS" run runbooks/platform/start-platform.rb.ops --yes >"$LAB/start-platform.log" 2>&1) || {
    log "start-platform failed; its output:"; cat "$LAB/start-platform.log" >&2; exit 1
  }
  if [ -f "$repo/runbooks/lab/lab-stacks.rb.ops" ]; then
    (cd "$repo" && "$OPS" run runbooks/lab/lab-stacks.rb.ops --yes >"$LAB/lab-stacks.log" 2>&1) || {
      log "lab-stacks failed; its output:"; cat "$LAB/lab-stacks.log" >&2; exit 1
    }
  fi
  log "up; run: eval \"\$($0 env)\""
}

down() {
  if alive "$LAB/webhook/httpd.pid"; then kill "$(cat "$LAB/webhook/httpd.pid")"; log "webhook sink stopped"; fi
  if alive "$LAB/redis/redis.pid"; then
    pid=$(cat "$LAB/redis/redis.pid"); kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "redis stopped (pid $pid)"
  fi
  if alive "$LAB/pg/data/postmaster.pid"; then
    pid=$(head -1 "$LAB/pg/data/postmaster.pid"); kill -INT "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "postgres stopped (pid $pid)"
  fi
  if [ "$OWN_ENGINE" = 1 ]; then
    # Stopping the engine stops its containers; its data root goes with the lab directory.
    "$repo/scripts/engine.sh" stop >&2 || true
  elif [ -S "$OPS_ENGINE_DIR/docker.sock" ]; then
    # A shared engine stays up: remove the lab's containers and networks from it.
    export DOCKER_HOST="unix://$OPS_ENGINE_DIR/docker.sock"
    for project in platform-langgraph platform-observability platform-security \
      platform-infrastructure summit lab-shared; do
      ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
      if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
      nets=$(docker network ls -q --filter "label=com.docker.compose.project=$project")
      if [ -n "$nets" ]; then docker network rm $nets >/dev/null; fi
    done
    log "lab containers removed from the shared engine"
  fi
  if [ -d "$LAB" ]; then
    # Container state is owned by root when the engine ran as root; the lab dir is ours.
    rm -rf "$LAB" 2>/dev/null || log "could not remove all of $LAB (still in use?)"
  fi
  log "down"
}

status() {
  for f in "$OPS_ENGINE_DIR/dockerd.pid" "$LAB/pg/data/postmaster.pid" "$LAB/redis/redis.pid" \
    "$LAB/webhook/httpd.pid"; do
    if alive "$f"; then echo "running  $f (pid $(head -1 "$f"))"; else echo "stopped  $f"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) env_lines ;;
  status) status ;;
  *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
