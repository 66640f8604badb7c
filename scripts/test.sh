#!/usr/bin/env bash
# The full test suite, on a fresh Debian machine with only the Rust toolchain.
#
#   scripts/test.sh [cargo test arguments...]
#
# Installs what the tests need when it is missing (apt, as root): PostgreSQL server
# binaries, redis-server and openssl (stdlib, backup and hardening tests), docker.io and
# busybox-static (a private Docker engine and its offline test image), docker-compose
# (Compose v1, the peer that must recognise our stacks), openssh-client (ssh-keygen signs
# approvals). PostgreSQL, Redis and the
# HTTP/TLS servers are started by the tests themselves on 127.0.0.1 and stopped by PID
# (tests/services/mod.rs). The Docker engine is started here on a private socket
# (scripts/engine.sh) unless one already answers there, and then stopped by the PID in its
# pidfile when this script exits, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v openssl >/dev/null || need+=(openssl)
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v script >/dev/null || need+=(bsdutils)
command -v curl >/dev/null || need+=(curl)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (apt)"
  # No cluster of our own: the tests create throwaway ones.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/ops-ci.conf
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts redis-server on install; stop that instance by its PID (tests run their own).
  if [ -f /run/redis/redis-server.pid ]; then
    kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null || true
  fi
fi

export OPS_ENGINE_DIR="${OPS_ENGINE_DIR:-/tmp/ops-engine}"
if curl -fsS --max-time 2 --unix-socket "$OPS_ENGINE_DIR/docker.sock" http://localhost/_ping >/dev/null 2>&1; then
  echo "== using the Docker engine already running on $OPS_ENGINE_DIR/docker.sock"
else
  echo "== a private Docker engine and the offline test image"
  trap 'scripts/engine.sh stop' EXIT
  scripts/engine.sh start
fi

# Every tier: plain `cargo test` runs the hermetic one and lists the services and engine
# tests as ignored, with the reason; here they run too.
echo "== cargo test --workspace (every tier)"
cargo test --workspace "$@" -- --include-ignored
