#!/usr/bin/env bash
# Installs the Debian 12 packages zlh-flow builds and tests with, and the npm packages of the client
# tests (tests/clients, pinned by its package-lock.json; needs Node.js 20 and npm). Idempotent: when
# everything is already installed it does nothing (no apt-get update, no network).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-16 libclang-rt-16-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libhiredis-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev librapidcheck-dev libhowardhinnant-date-dev tzdata
  redis-server python3-aiosmtpd openssl
  systemd
  # the Debian package: dpkg-shlibdeps (scripts/package.sh) and lintian (package_test)
  dpkg-dev lintian
)

# The client tests' packages: `npm ci` only when `npm ls` finds one missing or of another version.
install_clients() {
  if ! command -v npm >/dev/null; then
    echo "install-deps: npm not found: the client tests (tests/clients) need Node.js 20 and npm" >&2
    return 0
  fi
  npm ls --prefix tests/clients --depth=0 >/dev/null 2>&1 ||
    npm ci --prefix tests/clients --no-audit --no-fund --prefer-offline
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  install_clients
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
install_clients
