#!/usr/bin/env bash
# Runs one client script of this folder (an official client library, tests/clients/README.md)
# against a fresh zlh-sim: `run_client.sh ZLH_SIM SCRIPT.mjs`. Installs the pinned packages first
# when they are missing (npm ci: package-lock.json, offline from npm's cache when it holds them).
set -euo pipefail
sim_bin=$1
script=$2
here="$(cd "$(dirname "$0")" && pwd)"

command -v node >/dev/null || { echo "run_client: node is not installed (scripts/install-deps.sh)" >&2; exit 1; }
if ! npm ls --prefix "$here" --depth=0 >/dev/null 2>&1; then
  npm ci --prefix "$here" --no-audit --no-fund --prefer-offline >&2
fi

tmp=$(mktemp -d)
out="$tmp/sim.out"
"$sim_bin" --listen 127.0.0.1:0 --state "$tmp/sim.json" >"$out" 2>"$tmp/sim.err" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$out" && break
  kill -0 $sim_pid 2>/dev/null || { cat "$tmp/sim.err" >&2; exit 1; }
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$out" | head -1)
[ -n "$url" ] || { echo "run_client: zlh-sim did not say where it listens" >&2; exit 1; }
node "$here/$script" "$url"
