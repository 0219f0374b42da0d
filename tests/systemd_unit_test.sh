#!/usr/bin/env bash
# dist/systemd/zlhd.service under systemd's own checker (SPEC §11). `systemd-analyze verify` wants
# the ExecStart binary to exist, so it checks a copy whose ExecStart names the zlhd just built, the
# rest of the unit unchanged; any message about the unit (a misspelt key, a bad value) fails, not
# only an error. The flags of ExecStart must be zlhd's own (its --help), the lines SPEC §11 asks for
# must be there (ExecReload sending SIGHUP among them), and `systemd-analyze security` must rate the
# hardening 2.0 or better.
# Usage: systemd_unit_test.sh ZLHD UNIT. Exit 77 (skipped) when systemd-analyze is not installed.
set -euo pipefail
zlhd=$1
unit=$2

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd; scripts/install-deps.sh)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[[ $exec_start == "/usr/bin/zlhd "* ]] || fail "ExecStart is not /usr/bin/zlhd: '$exec_start'"
help=$("$zlhd" --help)
for flag in $(grep -o -- '--[a-z-]*' <<<"$exec_start"); do
  grep -q -- "  $flag " <<<"$help" || fail "ExecStart: zlhd has no flag $flag"
done

for line in Type=notify NotifyAccess=main WatchdogSec=30s Restart=always User=zlh \
  StateDirectory=zlh StateDirectoryMode=0700 ProtectSystem=strict NoNewPrivileges=yes \
  PrivateTmp=yes ProtectHome=yes CapabilityBoundingSet=; do
  grep -qx -- "$line" "$unit" || fail "no line '$line'"
done

grep -qxF -- 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "no ExecReload sending SIGHUP"

sed "s#^ExecStart=/usr/bin/zlhd #ExecStart=$zlhd #" "$unit" >"$tmp/zlhd.service"
if ! out=$(systemd-analyze verify --man=no "$tmp/zlhd.service" 2>&1); then
  echo "$out" >&2
  fail "systemd-analyze verify refused the unit"
fi
echo "$out"
if grep -q zlhd <<<"$out"; then fail "systemd-analyze verify has something to say about the unit"; fi

if ! systemd-analyze security --offline=yes --threshold=20 "$tmp/zlhd.service" >"$tmp/security"; then
  cat "$tmp/security" >&2
  fail "systemd-analyze security rates the hardening worse than 2.0"
fi
tail -1 "$tmp/security"
echo "ok: $unit"
