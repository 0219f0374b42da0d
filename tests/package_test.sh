#!/usr/bin/env bash
# The install layout and the Debian package (SPEC §11). `cmake --install` into WORK/prefix must put
# exactly the files §11 lists (no test, no test-only binary). scripts/package.sh must print the path
# of the package it made of build/release as its last line; the package, copied to WORK/cpack, is
# taken apart with `dpkg-deb -x` into WORK/root: the same files under /usr plus /etc/zlh/zlh.json,
# listed as the control archive's conffile, and the maintainer scripts; the packaged zlhd must take
# the example config as a complete real-fleet file; `lintian` must report no error (its warnings
# are printed). systemd_notify_packaged_test then runs the extracted zlhd
# (ZLHD_BINARY=WORK/root/usr/bin/zlhd) and package_install_test installs WORK/cpack's package.
# Usage: package_test.sh CMAKE BUILD_DIR SOURCE_DIR WORK, BUILD_DIR being SOURCE_DIR/build/release
# (the tree package.sh packages). A missing tool fails the test (it is not skipped):
# scripts/install-deps.sh installs them all.
set -euo pipefail
cmake=$1
build=$2
src=$3
work=$4

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
for tool in "$cmake" dpkg-deb dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null || fail "no $tool (scripts/install-deps.sh installs it)"
done
[ "$(realpath "$build")" = "$(realpath "$src/build/release")" ] ||
  fail "scripts/package.sh packages $src/build/release, not this build ($build)"

rm -rf "$work"
mkdir -p "$work/cpack"
"$src/scripts/package.sh" >"$work/package.out" 2>"$work/package.log" ||
  { cat "$work/package.log" >&2; fail "scripts/package.sh failed"; }
made=$(tail -1 "$work/package.out")
[[ $made == "$(realpath "$build")/package/zlh-flow_"*.deb && -f $made ]] ||
  fail "scripts/package.sh's last line is not the package it made: '$made'"
deb=$work/cpack/$(basename "$made")
cp "$made" "$deb"
echo "package: $made"
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"
root=$work/root

# `cmake --install` puts exactly these files under its prefix (no test, no test-only binary)...
doc=share/doc/zlh-flow
{
  printf '%s\n' bin/zlh-journal bin/zlh-sim bin/zlhd lib/systemd/system/zlhd.service \
    share/zlh-flow/zlh.example.json $doc/README.md $doc/copyright
  for md in "$src"/docs/*.md; do echo "$doc/$(basename "$md")"; done
} | sort >"$work/installed.expected"
"$cmake" --install "$build" --prefix "$work/prefix" --strip >"$work/install.log"
(cd "$work/prefix" && find . ! -type d | sed 's|^\./||' | sort) >"$work/installed"
diff -u "$work/installed.expected" "$work/installed" || fail "cmake --install: other files"
# ...and the package the same under /usr, plus the conffile and the Debian changelog.
{
  sed 's|^|./usr/|' "$work/installed.expected"
  printf '%s\n' ./etc/zlh/zlh.json ./usr/$doc/changelog.Debian.gz
} | sort >"$work/expected"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort >"$work/files"
diff -u "$work/expected" "$work/files" || fail "the package's files are not the expected ones"

mode() { stat -c '%a' "$root/$1"; }
for bin in zlhd zlh-journal zlh-sim; do
  [ "$(mode usr/bin/$bin)" = 755 ] || fail "usr/bin/$bin is mode $(mode usr/bin/$bin)"
done
cmp "$root/usr/lib/systemd/system/zlhd.service" "$src/dist/systemd/zlhd.service" ||
  fail "the packaged unit is not dist/systemd/zlhd.service"
cmp "$root/etc/zlh/zlh.json" "$root/usr/share/zlh-flow/zlh.example.json" ||
  fail "/etc/zlh/zlh.json does not start as the example"
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/zlhd.service")
[[ $exec_start == "/usr/bin/zlhd --config /etc/zlh/zlh.json --data /var/lib/zlh "* ]] ||
  fail "ExecStart does not run the packaged zlhd on /etc/zlh/zlh.json and /var/lib/zlh: $exec_start"
grep -qx 'Documentation=file:///usr/share/doc/zlh-flow/systemd.md' \
  "$root/usr/lib/systemd/system/zlhd.service" || fail "the unit's Documentation= is not shipped"

# The control archive: the conffile, the maintainer scripts, the dependencies.
[ "$(cat "$work/control/conffiles")" = /etc/zlh/zlh.json ] ||
  fail "conffiles is not /etc/zlh/zlh.json: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "no executable $script"
  sh -n "$work/control/$script" || fail "$script is not valid sh"
done
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for dep in adduser libc6 librocksdb libcurl4 libssl3 libprotobuf; do
  grep -q "$dep" <<<"$depends" || fail "Depends lacks $dep (from shlibs)"
done

# The packaged zlhd runs, and takes the example as a complete real-fleet config (exit 2 would be a
# refused file). Its probes go to a proxy on a closed port, never to the example's hosts: each
# fails at once (exit 1).
"$root/usr/bin/zlhd" --help >/dev/null || fail "the packaged zlhd does not run"
set +e
example=$root/usr/share/zlh-flow/zlh.example.json
env -u https_proxy -u HTTPS_PROXY -u http_proxy -u no_proxy -u NO_PROXY \
  all_proxy=http://127.0.0.1:9 timeout 120 "$root/usr/bin/zlhd" --check-config --config "$example" \
  >"$work/check-config.out" 2>&1
code=$?
set -e
cat "$work/check-config.out"
[ $code -eq 1 ] || fail "zlhd --check-config on the example exited $code (expected 1: probes fail)"
grep -q '^ok   config: ' "$work/check-config.out" || fail "the example config was refused"

# lintian: no error; warnings are listed.
lintian --tag-display-limit 0 "$deb" >"$work/lintian.out" 2>&1 || true
cat "$work/lintian.out"
if grep -q '^E: ' "$work/lintian.out"; then fail "lintian reports errors"; fi
echo "ok: $deb"
