#!/usr/bin/env bash
# Configures and builds one variant of zlh-flow: `release` (build/release, -O2 -g) or `asan`
# (build/asan, -O1 with AddressSanitizer and UndefinedBehaviorSanitizer). Extra arguments name the
# targets to build (default: all). Compiles with clang++-16 (see CMakeLists.txt), Ninja and ccache.
set -euo pipefail
cd "$(dirname "$0")/.."

variant=${1:-release}
shift || true
case "$variant" in
  release) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZLH_SANITIZE=OFF) ;;
  asan) flags=(-DCMAKE_BUILD_TYPE=Sanitize -DZLH_SANITIZE=ON) ;;
  *) echo "usage: scripts/build.sh release|asan [targets...]" >&2; exit 2 ;;
esac

launcher=(-DCMAKE_CXX_COMPILER=clang++-16)
command -v ccache >/dev/null && launcher+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
dir="build/$variant"
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" "${launcher[@]}" >/dev/null
fi
# Two compile jobs: the machines have two cores and Beast/Asio translation units are large.
cmake --build "$dir" -j 2 ${1:+--target "$@"}
