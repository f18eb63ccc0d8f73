#!/bin/bash
# Rootless podman test environment for layerfs (run as root, idempotent).
#
#   tests/podman/setup.sh [WORKDIR]
#
# WORKDIR (default /tmp/lfs-podman) receives graphroot, runroot, the
# XDG_RUNTIME_DIR of the test user and the busybox rootfs.  Environment:
#   MOUNT_PROGRAM  mount_program for containers-storage (default
#                  /usr/bin/fuse-overlayfs; "none" = kernel overlay)
#   LFS_USER       unprivileged user to run podman as (default lfstest)
#   LFS_SUBID      START:COUNT of its /etc/subuid and /etc/subgid range
#                  (default 200000:200000)
# Afterwards WORKDIR/env holds the variables the tests need.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
W=${1:-/tmp/lfs-podman}
U=${LFS_USER:-lfstest}
SUBID=${LFS_SUBID:-200000:200000}
MP=${MOUNT_PROGRAM-/usr/bin/fuse-overlayfs}
[ "$MP" = none ] && MP=
BASE_IMAGE=localhost/busybox:base
TEST_IMAGE=localhost/lfs-layers:test

die() { echo "setup.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
for p in podman runc conmon newuidmap newgidmap; do
	command -v "$p" >/dev/null || die "$p not installed"
done
[ -x /bin/busybox ] || die "/bin/busybox missing (apt-get install busybox-static)"
if [ -n "$MP" ]; then
	[ -x "$MP" ] || die "mount program $MP not executable"
fi

# FUSE for everyone (rootless fuse-overlayfs/layerfs open /dev/fuse themselves)
[ -c /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229
chmod 0666 /dev/fuse

# the user and its subordinate id ranges
if ! id -u "$U" >/dev/null 2>&1; then
	useradd -m -s /bin/bash "$U"
fi
HOMEDIR=$(getent passwd "$U" | cut -d: -f6)
UID_=$(id -u "$U")
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	if ! grep -qx "$U:$SUBID" "$f"; then
		sed -i "/^$U:/d" "$f"
		echo "$U:$SUBID" >>"$f"
	fi
done

# directories (the user must be able to reach WORKDIR)
mkdir -p "$W"
chmod 0755 "$W"
for d in graph run xdg tmp; do
	mkdir -p "$W/$d"
done
chown "$U:" "$W/graph" "$W/run" "$W/xdg" "$W/tmp"
chmod 0700 "$W/xdg"

# the mount program must be executable by the user; copy it if it is not
if [ -n "$MP" ] && ! runuser -u "$U" -- test -x "$MP"; then
	mkdir -p "$W/bin"
	install -m 0755 "$MP" "$W/bin/$(basename "$MP")"
	MP=$W/bin/$(basename "$MP")
fi

# configuration
cfg=$HOMEDIR/.config/containers
install -d -o "$U" -g "$U" "$HOMEDIR/.config" "$cfg"
{
	echo '[storage]'
	echo 'driver = "overlay"'
	echo "graphroot = \"$W/graph\""
	echo "runroot = \"$W/run\""
	echo '[storage.options]'
	echo 'auto-userns-min-size = 1024'
	echo 'auto-userns-max-size = 65536'
	echo '[storage.options.overlay]'
	if [ -n "$MP" ]; then
		echo "mount_program = \"$MP\""
	fi
} >"$cfg/storage.conf"
cat >"$cfg/containers.conf" <<CONF
[containers]
netns = "none"
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/run/events.log"
tmp_dir = "$W/tmp"
image_default_transport = "containers-storage:"
[network]
default_rootless_network_cmd = "slirp4netns"
CONF
chown "$U:" "$cfg/storage.conf" "$cfg/containers.conf"

cat >"$W/env" <<ENV
LFS_USER=$U
LFS_HOME=$HOMEDIR
LFS_UID=$UID_
LFS_SUBID=$SUBID
LFS_WORKDIR=$W
LFS_MOUNT_PROGRAM=$MP
LFS_BASE_IMAGE=$BASE_IMAGE
LFS_TEST_IMAGE=$TEST_IMAGE
ENV
chmod 0644 "$W/env"

pm() {
	(cd / && runuser -u "$U" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		HOME="$HOMEDIR" USER="$U" LOGNAME="$U" XDG_RUNTIME_DIR="$W/xdg" TMPDIR="$W/tmp" \
		podman --runtime runc --cgroup-manager cgroupfs "$@")
}

# a storage.conf change (another mount program) needs the podman pause
# process restarted; harmless otherwise
pm system migrate >/dev/null 2>&1 || true

# busybox base image, imported from a local rootfs (no network)
if ! pm image exists "$BASE_IMAGE"; then
	rootfs=$W/rootfs
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,home,var}
	chmod 1777 "$rootfs/tmp"
	cp /bin/busybox "$rootfs/bin/busybox"
	chroot "$rootfs" /bin/busybox --install -s
	cat >"$rootfs/etc/passwd" <<PW
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
	cat >"$rootfs/etc/group" <<GR
root:x:0:
user:x:1000:
nogroup:x:65534:
GR
	mkdir -p "$rootfs/home/user"
	chown 1000:1000 "$rootfs/home/user"
	tar -C "$rootfs" --numeric-owner -c . | pm import \
		--change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
		- "$BASE_IMAGE" >/dev/null
	rm -rf "$rootfs"
fi

# multi-layer test image
if ! pm image exists "$TEST_IMAGE"; then
	ctx=$W/ctx
	rm -rf "$ctx"
	cp -r "$here/context" "$ctx"
	chown -R "$U:" "$ctx"
	pm build --network none -q -t "$TEST_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
	rm -rf "$ctx"
fi
echo "setup.sh: ready (user $U, workdir $W, mount_program ${MP:-<kernel overlay>})"
