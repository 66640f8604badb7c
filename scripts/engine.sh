#!/usr/bin/env bash
# A private Docker engine for the compose tests, the lab and the benchmarks.
#
#   scripts/engine.sh start   # dockerd on $OPS_ENGINE_DIR/docker.sock + the offline test image
#   scripts/engine.sh stop    # stops that dockerd by the PID in its pidfile
#   scripts/engine.sh env     # prints `export DOCKER_HOST=...` for eval
#
# Nothing system-wide is touched: the socket, data, exec root and pidfile live in
# $OPS_ENGINE_DIR (default /tmp/ops-engine). No registry is reachable from these machines,
# so the test image `ops-test/busybox:1` is built offline from the static busybox of
# Debian's busybox-static package (sh, httpd, sleep, wget, ...).
set -euo pipefail
DIR=${OPS_ENGINE_DIR:-/tmp/ops-engine}
SOCK="$DIR/docker.sock"
export DOCKER_HOST="unix://$SOCK"
IMAGE=ops-test/busybox:1

ping() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }

start() {
  command -v dockerd >/dev/null || { echo "dockerd not found: apt-get install -y docker.io" >&2; exit 1; }
  [ -x /bin/busybox ] || { echo "/bin/busybox not found: apt-get install -y busybox-static" >&2; exit 1; }
  mkdir -p "$DIR"
  if [ -f "$DIR/dockerd.pid" ] && kill -0 "$(cat "$DIR/dockerd.pid")" 2>/dev/null && ping; then
    echo "engine already running (pid $(cat "$DIR/dockerd.pid")) on $SOCK"
  else
    rm -f "$SOCK" "$DIR/dockerd.pid"
    # --iptables=false: no host firewall changes; published ports go through the userland proxy.
    nohup dockerd --host "unix://$SOCK" --data-root "$DIR/data" --exec-root "$DIR/exec" \
      --pidfile "$DIR/dockerd.pid" --iptables=false >"$DIR/dockerd.log" 2>&1 &
    for _ in $(seq 1 150); do ping && break; sleep 0.2; done
    ping || { echo "dockerd did not answer /_ping within 30s; log: $DIR/dockerd.log" >&2; tail -20 "$DIR/dockerd.log" >&2; exit 1; }
    echo "engine started (pid $(cat "$DIR/dockerd.pid")) on $SOCK"
  fi
  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
    cp /bin/busybox "$root/bin/busybox"
    for tool in sh httpd sleep wget cat echo ls mkdir rm touch true false test env kill ps nc id; do
      ln -s busybox "$root/bin/$tool"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    printf '{"status":"ok"}\n' >"$root/www/healthz"
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
    rm -rf "$root"
    echo "built $IMAGE offline"
  fi
}

stop() {
  if [ -f "$DIR/dockerd.pid" ]; then
    pid=$(cat "$DIR/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    echo "engine stopped (pid $pid)"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export DOCKER_HOST=unix://$SOCK" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
