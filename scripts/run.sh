#!/usr/bin/env bash
# Installs what zlh-flow needs, builds zlhd and runs it on its embedded default: the journal in
# ./zlh-data, the simulated fleet in-process, no Redis. Arguments are passed to zlhd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release zlhd
exec build/release/tools/zlhd "$@"
