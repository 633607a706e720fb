# Shared by scripts/up, scripts/test and scripts/bench. Source it; do not run it.
# Installs the Debian packages kube9 builds and tests with, when any is missing.

KUBE9_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KUBE9_APT_PACKAGES=(liblua5.4-dev libsqlite3-dev libcurl4-openssl-dev pkg-config libedit-dev python3-venv tmux docker.io busybox-static curl iproute2)

kube9_install_packages() {
  local missing=()
  for package in "${KUBE9_APT_PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  echo "kube9: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -o DPkg::Lock::Timeout=600 -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
}

kube9_require_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
      export PATH="/opt/swift/usr/bin:$PATH"
    else
      echo "kube9: no Swift toolchain found (expected swift on PATH or /opt/swift)" >&2
      return 1
    fi
  fi
}

kube9_build_release() {
  (cd "$KUBE9_ROOT" && swift build -c release 2>&1 | grep -v -E '^\[[0-9]+/[0-9]+\]' || true)
  test -x "$KUBE9_ROOT/.build/release/kube9" || { echo "kube9: release build failed" >&2; return 1; }
}

# A private Docker daemon for tests and benchmarks (no systemd here): its own socket, data
# and exec roots under DIR, no iptables changes. Exports DOCKER_HOST. Stop it with
# kube9_stop_dockerd DIR.
kube9_start_dockerd() {
  local dir="$1" link
  mkdir -p "$dir"
  # A bridge left by a daemon that died without cleaning up (10.89.0.1/16, kube9's pod subnet,
  # and no carrier) keeps a route to the subnet: pods on the new daemon's bridge would then be
  # unreachable from the host. Remove such leftovers before the new daemon makes its own.
  if command -v ip >/dev/null 2>&1; then
    for link in $(ip -o -4 addr show | awk '$4 == "10.89.0.1/16" {print $2}'); do
      if ip link show "$link" | grep -q "NO-CARRIER"; then
        echo "kube9: removing the stale bridge $link (10.89.0.1/16, no carrier)" >&2
        ip link del "$link" >/dev/null 2>&1 || true
      fi
    done
  fi
  dockerd -H "unix://$dir/docker.sock" --data-root="$dir/data" --exec-root="$dir/exec" \
    --pidfile="$dir/dockerd.pid" --iptables=false --ip-forward=false >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do
    if curl -fsS --unix-socket "$dir/docker.sock" http://docker/_ping >/dev/null 2>&1; then
      export DOCKER_HOST="unix://$dir/docker.sock"
      return 0
    fi
    sleep 0.1
  done
  echo "kube9: the private dockerd did not answer; its log:" >&2
  tail -20 "$dir/dockerd.log" >&2
  return 1
}

# Removes every container and the kube9 network of the private daemon, then stops it by pid.
kube9_stop_dockerd() {
  local dir="$1" socket="$1/docker.sock" pid bridge=""
  if [ -S "$socket" ]; then
    bridge="$(curl -fsS --unix-socket "$socket" http://docker/networks/kube9 2>/dev/null \
              | python3 -c 'import json,sys; print("br-" + json.load(sys.stdin)["Id"][:12])' 2>/dev/null || true)"
    for id in $(curl -fsS --unix-socket "$socket" 'http://docker/containers/json?all=1' 2>/dev/null \
                | python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))' 2>/dev/null); do
      curl -fsS -X DELETE --unix-socket "$socket" "http://docker/containers/$id?force=1" >/dev/null 2>&1 || true
    done
    curl -fsS -X DELETE --unix-socket "$socket" http://docker/networks/kube9 >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/dockerd.pid" ]; then
    pid="$(cat "$dir/dockerd.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if command -v ip >/dev/null 2>&1; then
    ip link del docker0 >/dev/null 2>&1 || true
    if [ -n "$bridge" ]; then ip link del "$bridge" >/dev/null 2>&1 || true; fi
  fi
  rm -rf "$dir" 2>/dev/null || true
}
