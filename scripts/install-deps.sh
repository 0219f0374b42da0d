#!/usr/bin/env bash
# Installs the Debian 12 packages zlh-flow builds and tests with. Idempotent: when every package is
# already installed it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-16 libclang-rt-16-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libhiredis-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev librapidcheck-dev libhowardhinnant-date-dev tzdata
  redis-server
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
