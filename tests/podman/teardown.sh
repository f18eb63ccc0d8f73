#!/bin/bash
# Undo tests/podman/setup.sh (run as root):  tests/podman/teardown.sh [WORKDIR]
# Removes the test user's containers, images and storage under WORKDIR, ends
# the processes this podman setup left (pause process, conmon, mount program
# daemons working on WORKDIR) by pid, and removes WORKDIR.  The user, its
# subordinate ids and its ~/.config/containers stay (setup.sh rewrites them);
# LFS_REMOVE_USER=1 removes the user as well.
set -uo pipefail

W=${1:-/tmp/lfs-podman}
U=${LFS_USER:-lfstest}
[ "$(id -u)" = 0 ] || { echo "teardown.sh: must run as root" >&2; exit 1; }
case $W in
/ | "") echo "teardown.sh: refusing WORKDIR '$W'" >&2; exit 1 ;;
esac

if id -u "$U" >/dev/null 2>&1 && [ -d "$W/graph" ]; then
	HOMEDIR=$(getent passwd "$U" | cut -d: -f6)
	pm() {
		(cd / && timeout 120 runuser -u "$U" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
			HOME="$HOMEDIR" USER="$U" LOGNAME="$U" XDG_RUNTIME_DIR="$W/xdg" TMPDIR="$W/tmp" \
			podman --runtime runc --cgroup-manager cgroupfs "$@")
	}
	pm rm -a -f -t 0 >/dev/null 2>&1
	pm system reset -f >/dev/null 2>&1
fi

# processes of this setup only: the pause process recorded under WORKDIR and
# any process of the user whose command line or working directory is in WORKDIR
pids=()
if [ -s "$W/tmp/pause.pid" ]; then
	p=$(cat "$W/tmp/pause.pid")
	if [ -d "/proc/$p" ] && [ "$(stat -c %U "/proc/$p")" = "$U" ]; then
		pids+=("$p")
	fi
fi
if id -u "$U" >/dev/null 2>&1; then
	for p in $(pgrep -u "$U" 2>/dev/null); do
		if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$W/" ||
			[[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" == "$W"/* ]]; then
			pids+=("$p")
		fi
	done
fi
if [ ${#pids[@]} -gt 0 ]; then
	kill -TERM "${pids[@]}" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=()
		for p in "${pids[@]}"; do
			[ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive+=("$p")
		done
		[ ${#alive[@]} -eq 0 ] && break
		sleep 0.5
	done
	[ ${#alive[@]} -gt 0 ] && kill -KILL "${alive[@]}" 2>/dev/null
fi

# mounts left in the host namespace (normally there are none: rootless
# mounts live in the user's own mount namespace)
grep -F " $W/" /proc/self/mountinfo 2>/dev/null | awk '{print $5}' | sort -r |
	while read -r m; do umount -l "$m" 2>/dev/null; done

rm -rf "$W"
if [ "${LFS_REMOVE_USER:-0}" = 1 ] && id -u "$U" >/dev/null 2>&1; then
	userdel -r "$U" 2>/dev/null
	sed -i "/^$U:/d" /etc/subuid /etc/subgid
fi
exit 0
