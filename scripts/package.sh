#!/usr/bin/env bash
# Builds the Debian package of zlh-flow (SPEC §11): the release build of scripts/build.sh (its
# build/release, ccache) of zlhd, zlh-journal and zlh-sim, then CPack's DEB generator
# (dist/CMakeLists.txt says what goes in). Prints the package's path as its last line:
#   apt install "$(scripts/package.sh | tail -1)"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >&2
scripts/build.sh release zlhd zlh-journal zlh-sim zlh_debian_changelog >&2

out=build/release/package
rm -rf "$out"
mkdir -p "$out"
(cd build/release && cpack -G DEB -B "$PWD/package") >&2
debs=("$out"/*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  echo "package.sh: expected one .deb in $out, found: ${debs[*]}" >&2
  exit 1
fi
realpath "${debs[0]}"
