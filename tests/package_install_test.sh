#!/usr/bin/env bash
# The Debian package's maintainer scripts, run by apt and dpkg on a throw-away copy of this machine:
# in a mount namespace of its own, / is overlaid with a tmpfs (every change lands there and is gone
# with the namespace) and the package made by package_test is installed into it with
# `apt-get install ./zlh-flow_*.deb`, as docs/operations.md says. Then: the zlh system user,
# /var/lib/zlh 0700 zlh:zlh, /etc/zlh 0750 and /etc/zlh/zlh.json 0640 root:zlh, a registered
# conffile, the unit not enabled; an edited config kept by a reinstall; remove keeps the state and
# the config and masks the unit; purge deletes /var/lib/zlh and the config and unmasks it.
# Usage: package_install_test.sh WORK (package_test's). Exit 77 (skipped) without root.
set -euo pipefail
work=$1

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [ "${2:-}" != --inside ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: installing a package into an overlay of / needs root"
    exit 77
  fi
  debs=("$work"/cpack/*.deb)
  [ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "no package in $work/cpack (package_test)"
  # The mount point only: what is mounted on it lives and dies with the namespace.
  layers=$(mktemp -d)
  trap 'rmdir "$layers"' EXIT
  unshare --mount --fork "$0" "$work" --inside "${debs[0]}" "$layers"
  exit 0
fi

# In the namespace: the overlay, a /dev of four devices, then the checks chrooted into it.
deb=$3
layers=$4
mount --make-rprivate /
mount -t tmpfs zlh-package-test "$layers"
mkdir "$layers/upper" "$layers/work" "$layers/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$layers/root"
mount -t tmpfs zlh-package-dev "$layers/root/dev"
for device in null zero random urandom; do
  touch "$layers/root/dev/$device"
  mount --bind "/dev/$device" "$layers/root/dev/$device"
done
mount -t proc proc "$layers/root/proc"
cp "$deb" "$layers/root/tmp/"
in_root() { chroot "$layers/root" "$@"; }
owner_mode() { in_root stat -c '%U:%G %a' "$1"; }
expect_owner_mode() {
  [ "$(owner_mode "$1")" = "$2" ] || fail "$1 is $(owner_mode "$1"), expected $2"
}
package=/tmp/$(basename "$deb")
[ ! -e "$layers/root/usr/bin/zlhd" ] || fail "zlhd is installed on this machine already"

in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o Dpkg::Use-Pty=0 "$package" || fail "apt-get install $package failed"
in_root dpkg-query -W -f='${Status}\n' zlh-flow | grep -q 'install ok installed' ||
  fail "zlh-flow is not installed"
IFS=: read -r _ _ uid _ _ home shell <<<"$(in_root getent passwd zlh)" || fail "no user zlh"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/zlh ] && [ "$shell" = /usr/sbin/nologin ] ||
  fail "zlh is not a system user with home /var/lib/zlh: uid $uid, $home, $shell"
expect_owner_mode /var/lib/zlh 'zlh:zlh 700'
expect_owner_mode /etc/zlh 'root:zlh 750'
expect_owner_mode /etc/zlh/zlh.json 'root:zlh 640'
as_user() { in_root setpriv --reuid="$1" --regid="$2" --init-groups "${@:3}"; }
as_user zlh zlh test -r /etc/zlh/zlh.json || fail "zlh cannot read its config"
as_user zlh zlh test -w /var/lib/zlh || fail "zlh cannot write /var/lib/zlh"
as_user nobody nogroup test ! -r /etc/zlh/zlh.json || fail "anyone can read the config"
in_root dpkg-query -W -f='${Conffiles}\n' zlh-flow | grep -q '^ /etc/zlh/zlh.json ' ||
  fail "/etc/zlh/zlh.json is not a conffile"
[ -f "$layers/root/usr/lib/systemd/system/zlhd.service" ] || fail "no zlhd.service"
[ ! -e "$layers/root/etc/systemd/system/multi-user.target.wants/zlhd.service" ] ||
  fail "the unit was enabled before the config was edited"

# The operator's config survives a reinstall (an upgrade's path through the scripts).
echo '{"edited": true}' >"$layers/root/etc/zlh/zlh.json"
in_root dpkg -i "$package" >/dev/null || fail "reinstalling failed"
[ "$(cat "$layers/root/etc/zlh/zlh.json")" = '{"edited": true}' ] || fail "the edit was replaced"
expect_owner_mode /var/lib/zlh 'zlh:zlh 700'

# Remove keeps the state and the config; purge deletes both. The user stays.
touch "$layers/root/var/lib/zlh/journal-file"
in_root dpkg -r zlh-flow >/dev/null || fail "dpkg -r failed"
[ ! -e "$layers/root/usr/bin/zlhd" ] || fail "zlhd is still there after remove"
[ -e "$layers/root/var/lib/zlh/journal-file" ] || fail "remove deleted /var/lib/zlh"
[ -e "$layers/root/etc/zlh/zlh.json" ] || fail "remove deleted the config"
[ "$(readlink "$layers/root/etc/systemd/system/zlhd.service")" = /dev/null ] ||
  fail "remove did not mask the unit"
in_root dpkg --purge zlh-flow >/dev/null || fail "dpkg --purge failed"
[ ! -e "$layers/root/var/lib/zlh" ] || fail "purge left /var/lib/zlh"
[ ! -e "$layers/root/etc/zlh/zlh.json" ] || fail "purge left /etc/zlh/zlh.json"
[ ! -L "$layers/root/etc/systemd/system/zlhd.service" ] || fail "purge left the unit masked"
in_root getent passwd zlh >/dev/null || fail "purge removed the zlh user"
echo "ok: $(basename "$deb") installed, reinstalled, removed and purged"
