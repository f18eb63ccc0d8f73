#!/bin/sh
# A mount_program that logs how containers-storage calls it, then runs the
# real one.  Log: $MP_LOG (default /tmp/lfs-mp.log, must be writable by the
# podman user); real program: $MP_REAL (default /usr/bin/fuse-overlayfs).
LOG=${MP_LOG:-/tmp/lfs-mp.log}
REAL=${MP_REAL:-/usr/bin/fuse-overlayfs}
fds="stdin=$(readlink /proc/$$/fd/0) stdout=$(readlink /proc/$$/fd/1) stderr=$(readlink /proc/$$/fd/2)"
{
	echo "=== $(date +%T.%N) pid=$$ ppid=$PPID"
	echo "argc=$#"
	for a in "$@"; do printf '  argv: [%s]\n' "$a"; done
	echo "pwd: $(pwd)"
	echo "id: $(id)"
	echo "uid_map: $(tr -s ' ' </proc/self/uid_map | tr '\n' ';')"
	echo "gid_map: $(tr -s ' ' </proc/self/gid_map | tr '\n' ';')"
	echo "parent: $(tr '\0' ' ' </proc/$PPID/cmdline)"
	echo "fds: $fds"
	echo "env: $(env | sort | tr '\n' ' ')"
} >>"$LOG" 2>&1
if [ "$1" = --version ] || [ "$1" = -V ]; then
	o=$(mktemp) e=$(mktemp)
	"$REAL" "$@" >"$o" 2>"$e"; rc=$?
	{ echo "version rc=$rc stdout:"; cat "$o"; echo "version stderr:"; cat "$e"; } >>"$LOG"
	cat "$o"; cat "$e" >&2
	rm -f "$o" "$e"
	[ -n "${MP_VERSION_RC:-}" ] && exit "$MP_VERSION_RC"
	exit $rc
fi
"$REAL" "$@"
rc=$?
echo "--- pid=$$ exit rc=$rc" >>"$LOG"
exit $rc
