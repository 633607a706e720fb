# Shared by scripts/up, scripts/test and scripts/bench. Source it; do not run it.
# Installs the Debian packages kube9 builds and tests with, when any is missing.

KUBE9_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KUBE9_APT_PACKAGES=(liblua5.4-dev libsqlite3-dev libcurl4-openssl-dev pkg-config libedit-dev python3-venv tmux)

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
