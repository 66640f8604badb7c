# Sourced by the bench scripts: installs the peers into $peers (a scratch folder, never
# the repository) and the Debian tools the scripts use. Call `install_peers TOOL...` with
# any of: ansible just hurl hurlfmt. Sets $ansible, $just, $hurl, $hurlfmt.

log() { printf '>> %s\n' "$*" >&2; }

install_peers() {
  local need_apt=() tool p
  command -v hyperfine >/dev/null || need_apt+=(hyperfine)
  command -v curl >/dev/null || need_apt+=(curl)
  [ -x /usr/bin/time ] || need_apt+=(time)
  for tool in "$@"; do
    case "$tool" in
      hurl|hurlfmt)
        if [ ! -x "$peers/cargo/bin/$tool" ]; then
          for p in libcurl4-openssl-dev libxml2-dev libclang-dev pkg-config; do
            dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
          done
        fi ;;
    esac
  done
  if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]} (apt)"
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y "${need_apt[@]}" >/dev/null
  fi
  for tool in "$@"; do
    case "$tool" in
      ansible)
        if [ ! -x "$peers/ansible/bin/ansible-playbook" ]; then
          log "installing ansible-core (PyPI) into $peers/ansible"
          python3 -m venv "$peers/ansible"
          "$peers/ansible/bin/pip" install -q ansible-core
        fi ;;
      just|hurl|hurlfmt)
        if [ ! -x "$peers/cargo/bin/$tool" ]; then
          log "installing $tool (crates.io) into $peers/cargo"
          local version=()
          # hurl and hurlfmt 8.1 need a newer rustc than this machine's 1.95
          [ "$tool" != just ] && version=(--version 8.0.1)
          cargo install -q --root "$peers/cargo" "$tool" "${version[@]}" --locked
        fi ;;
    esac
  done
  ansible="$peers/ansible/bin/ansible-playbook"
  just="$peers/cargo/bin/just"
  hurl="$peers/cargo/bin/hurl"
  hurlfmt="$peers/cargo/bin/hurlfmt"
}

# Sets $ops: the binary in $OPS_BIN when given (another build, e.g. an earlier commit's,
# for a before/after table), else a release build of this checkout.
ops_binary() {
  if [ -n "${OPS_BIN:-}" ]; then
    ops="$(realpath "$OPS_BIN")"
  else
    log "building ops (release)"
    (cd "$repo" && cargo build --release --quiet)
    ops="$repo/target/release/ops"
  fi
}
