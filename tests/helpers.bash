# Shared setup, teardown and helpers for the layerfs bats tests.
#
# Environment:
#   LAYERFS   the daemon under test (default: ../layerfs next to this dir,
#             e.g. LAYERFS=/usr/bin/fuse-overlayfs to compare)
#   TOOLS     directory of the compiled C helpers (default: tools/ here)
#   LFS_TEST_TIMEOUT  seconds after which a hanging test's daemons are
#             killed so that the test fails instead of hanging (default 600)
#
# Each test gets, under $BATS_TEST_TMPDIR ($T):
#   $L1 $L2 $L3  lower layers (L1 top-most), $U upper, $W work, $M mount point
# mount_layerfs mounts lowerdir=$L1:$L2,upperdir=$U,workdir=$W on $M.
# Every mount made through the helpers is recorded and undone in teardown,
# which also fails the test if a daemon died before its unmount.

bats_require_minimum_version 1.5.0

if [ -z "${LAYERFS:-}" ]; then
	LAYERFS=$(cd "$BATS_TEST_DIRNAME/.." && pwd)/layerfs
fi
: "${TOOLS:=$BATS_TEST_DIRNAME/tools}"
export LAYERFS TOOLS
FSOPS=$TOOLS/fsops
# shell scripts live in the source tree (TOOLS may be a build dir)
SCRIPTS=$BATS_TEST_DIRNAME/tools

# fuse-overlayfs is run with the same command line for comparison; a few
# tests know it differs and say so in their failure message.
case "$(basename "$LAYERFS")" in
fuse-overlayfs*) IS_FUSE_OVERLAYFS=1 ;;
*) IS_FUSE_OVERLAYFS=0 ;;
esac

# ---------------------------------------------------------------- setup

common_setup() {
	T=$BATS_TEST_TMPDIR
	L1=$T/lower1
	L2=$T/lower2
	L3=$T/lower3
	U=$T/upper
	W=$T/work
	M=$T/mnt
	mkdir -p "$L1" "$L2" "$L3" "$U" "$W" "$M"
	MOUNTS_FILE=$T/.mounts
	PIDS_FILE=$T/.pids
	: >"$MOUNTS_FILE"
	: >"$PIDS_FILE"
	[ -x "$LAYERFS" ] || {
		echo "LAYERFS=$LAYERFS is not an executable" >&2
		return 1
	}
	[ -x "$FSOPS" ] || {
		echo "helper $FSOPS missing: run make check, or build it:" >&2
		echo "  gcc -O2 -o tests/tools/fsops tests/tools/fsops.c" >&2
		return 1
	}
	start_watchdog
}

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# Kill the test's daemons (only those) if the test runs too long, so that
# blocked file-system calls return ENOTCONN and the test fails.
start_watchdog() {
	local limit=${LFS_TEST_TIMEOUT:-600}
	(
		exec 3>&- 1>/dev/null 2>&1
		# the sleep dies with us: teardown's kill must not orphan it
		sleep "$limit" &
		trap 'kill $! 2>/dev/null; exit 0' TERM
		wait $! || exit 0
		echo "test ran longer than ${limit}s: watchdog killed its daemons" >"$T/.watchdog"
		while read -r kind pid mnt; do
			[ "$kind" = fuse ] && kill -9 "$pid"
		done <"$MOUNTS_FILE"
		while read -r pid; do kill -9 "$pid"; done <"$PIDS_FILE"
	) &
	WATCHDOG_PID=$!
}

is_mounted() {
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# mount_flags MOUNTPOINT: the per-mount flags of the top-most mount there
# (mountinfo's sixth field, e.g. "rw,nosuid,relatime")
mount_flags() {
	awk -v m="$1" '$5 == m { f = $6 } END { print f }' /proc/self/mountinfo
}

# pid of the daemon serving mount point $1 (its command line names it)
find_daemon_pid() {
	local mnt=$1 exe p arg
	exe=$(readlink -f "$LAYERFS")
	for p in /proc/[0-9]*; do
		# -ef compares the files without a fork per process
		[ "$p/exe" -ef "$exe" ] || continue
		while IFS= read -r -d '' arg; do
			if [ "$arg" = "$mnt" ]; then
				echo "${p#/proc/}"
				return 0
			fi
		done <"$p/cmdline" 2>/dev/null
	done
	return 1
}

wait_until() { # wait_until SECONDS COMMAND... (bounded poll)
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# cwd_is PID DIR: the working directory of process PID is DIR (for
# wait_until, which runs its command again each time)
cwd_is() { [ "$(readlink "/proc/$1/cwd")" = "$2" ]; }

# lfs_mount OPTIONS MOUNTPOINT [EXTRA ARGS...]: mount with $LAYERFS, record
# the mount and its daemon's pid.  The daemon's stderr is in $T/daemon.err.
# LFS_WRAP: words of a command that runs the daemon (and execs it)
lfs_mount() {
	local opts=$1 mnt=$2 pid
	shift 2
	# shellcheck disable=SC2086
	$LFS_WRAP "$LAYERFS" "$@" -o "$opts" "$mnt" >"$T/daemon.out" 2>"$T/daemon.err" 3>&- || {
		echo "mount failed: $LAYERFS $* -o $opts $mnt" >&2
		cat "$T/daemon.err" >&2
		return 1
	}
	wait_until 10 is_mounted "$mnt" || {
		echo "not mounted after $LAYERFS returned: $mnt" >&2
		return 1
	}
	pid=$(find_daemon_pid "$mnt") || {
		echo "no daemon process found for $mnt" >&2
		return 1
	}
	echo "fuse $pid $mnt" >>"$MOUNTS_FILE"
	DAEMON_PID=$pid
}

# mount_layerfs [EXTRA_OPTIONS]: the standard mount of $L1:$L2 + $U on $M
mount_layerfs() {
	lfs_mount "lowerdir=$L1:$L2,upperdir=$U,workdir=$W${1:+,$1}" "$M"
}

# mount_fresh [EXTRA_OPTIONS]: the standard mount over an empty upper and
# work dir (a test that repeats itself with other options)
mount_fresh() {
	rm -rf "$U" "$W"
	mkdir "$U" "$W"
	mount_layerfs "$@"
}

# kernel_at_least MAJOR MINOR
kernel_at_least() {
	local v
	v=$(uname -r)
	local maj=${v%%.*} rest=${v#*.}
	local min=${rest%%[!0-9]*}
	[ "$maj" -gt "$1" ] || { [ "$maj" -eq "$1" ] && [ "$min" -ge "$2" ]; }
}

# debug_mount [OPTIONS]: the standard mount, in the foreground with -d,
# requests logged to $T/debug.log
debug_mount() {
	spawn "$LAYERFS" -d -o "lowerdir=$L1:$L2,upperdir=$U,workdir=$W${1:+,$1}" "$M" 2>"$T/debug.log"
	DEBUG_PID=$BG_PID
	wait_until 10 is_mounted "$M" || fail "debug daemon did not mount"
}

debug_umount() {
	fusermount3 -u "$M"
	wait "$DEBUG_PID" || true
}

# requests OPCODE: how many OPCODE requests the daemon logged
requests() {
	grep -ac "opcode: $1 " "$T/debug.log" || true
}

# mount_ro [EXTRA_OPTIONS]: $L1:$L2 without upper on $M
mount_ro() {
	lfs_mount "lowerdir=$L1:$L2${1:+,$1}" "$M"
}

# The kernel's overlayfs as the reference for a merged view, with its
# features that layerfs does not have off, whatever the kernel's defaults
# (tests/tools/difffuzz.py has the same)
KOPTS="redirect_dir=off,index=off,metacopy=off"

# need_kernel_overlay: skip unless root can mount the kernel's overlayfs
need_kernel_overlay() {
	[ "$(id -u)" = 0 ] || skip "needs root (the kernel's overlayfs)"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || skip "no overlay file system in the kernel"
}

# kernel overlayfs, recorded for teardown
kovl_mount() { # kovl_mount OPTIONS MOUNTPOINT
	mount -t overlay overlay -o "$1" "$2" || return 1
	echo "kernel - $2" >>"$MOUNTS_FILE"
}

# mount_beside_kernel [OPTIONS]: layerfs on $M (mount_layerfs OPTIONS) and
# the kernel's overlayfs on $T/k over the same layers with an upper and
# work dir of its own ($T/ku, $T/kw), both open to other users
mount_beside_kernel() {
	make_traversable
	mkdir -p "$T/k" "$T/ku" "$T/kw"
	chmod 755 "$M" "$T/k"
	mount_layerfs "$@" &&
		kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
}

# record any other mount (e.g. a tmpfs) for teardown
record_mount() {
	echo "kernel - $1" >>"$MOUNTS_FILE"
}

# upper_on_small_tmpfs [SIZE]: $U and $W move onto a fresh tmpfs of SIZE
# (default 16m) and 64 inodes, $T/fs, for tests of what happens when the
# upper runs out of inodes or space
upper_on_small_tmpfs() {
	mkdir "$T/fs"
	mount -t tmpfs -o "size=${1:-16m},nr_inodes=64" lfsfull "$T/fs"
	record_mount "$T/fs"
	U=$T/fs/upper W=$T/fs/work
	mkdir "$U" "$W"
}

_forget_mount() {
	awk -v m="$1" '$3 != m' "$MOUNTS_FILE" >"$MOUNTS_FILE.new"
	mv "$MOUNTS_FILE.new" "$MOUNTS_FILE"
}

_mount_pid() {
	awk -v m="$1" '$3 == m { p = $2 } END { if (p == "") exit 1; print p }' "$MOUNTS_FILE"
}

_unmount_fuse() { # mountpoint pid
	local mnt=$1 pid=$2
	if is_mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null ||
			umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
	fi
	if ! wait_until 20 _pid_gone "$pid"; then
		echo "daemon $pid did not exit after unmount of $mnt; killing it" >&2
		{ for t in /proc/$pid/task/*; do echo "$t $(cat $t/comm) $(cat $t/wchan) $(cat $t/stat | cut -d' ' -f3)"; done; gdb -p $pid -batch -ex "thread apply all bt" 2>&1; } > /tmp/hang.$pid.txt
		kill -9 "$pid" 2>/dev/null
		return 1
	fi
}

# proc_state PID[/task/TID]: the state letter (R, S, D, T, Z...), empty
# for a process that is gone
proc_state() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
	echo "${st%% *}"
}

# a zombie counts as gone (the parent of a daemonized process may reap late)
_pid_gone() {
	local st
	st=$(proc_state "$1")
	[ -z "$st" ] || [ "$st" = Z ]
}

pid_alive() { ! _pid_gone "$1"; }

# unmount_layerfs [MOUNTPOINT]: unmount a recorded layerfs mount; fails if
# the daemon died before, or did not exit after.
unmount_layerfs() {
	local mnt=${1:-$M} pid rc=0
	pid=$(_mount_pid "$mnt") || {
		echo "no recorded mount on $mnt" >&2
		return 1
	}
	if ! pid_alive "$pid"; then
		echo "daemon $pid of $mnt died before its unmount" >&2
		rc=1
	fi
	_unmount_fuse "$mnt" "$pid" || rc=1
	_forget_mount "$mnt"
	return $rc
}

# forget_mount MOUNTPOINT: the test ended the daemon itself (kill -9 ...);
# unmount whatever is left without complaining
forget_mount() {
	local mnt=$1 pid
	pid=$(_mount_pid "$mnt") || return 0
	is_mounted "$mnt" && { fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt"; }
	wait_until 20 _pid_gone "$pid" || kill -9 "$pid" 2>/dev/null
	_forget_mount "$mnt"
}

kovl_umount() {
	umount "$1" || umount -l "$1"
	_forget_mount "$1"
}

# every thread of process $1 is traced
all_traced() {
	local t
	for t in /proc/"$1"/task/*; do
		awk '/^TracerPid:/ { exit $2 == 0 }' "$t/status" || return 1
	done
}

# spawn COMMAND...: run in background, recorded so that teardown kills it;
# sets BG_PID
spawn() {
	"$@" 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$PIDS_FILE"
}

common_teardown() {
	local rc=0 kind pid mnt
	[ -n "${T:-}" ] && [ -f "${MOUNTS_FILE:-/nonexistent}" ] || return 0
	# processes the test started
	while read -r pid; do
		kill -9 "$pid" 2>/dev/null
	done <"$PIDS_FILE"
	while read -r pid; do
		wait_until 10 _pid_gone "$pid"
	done <"$PIDS_FILE"
	# mounts, newest first; a daemon must still be alive at this point
	while read -r kind pid mnt; do
		if [ "$kind" = fuse ]; then
			if ! pid_alive "$pid"; then
				echo "daemon $pid of $mnt is gone before unmount (crashed?)" >&2
				[ -s "$T/daemon.err" ] && sed 's/^/daemon stderr: /' "$T/daemon.err" >&2
				rc=1
			fi
			_unmount_fuse "$mnt" "$pid" || rc=1
		else
			umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
		fi
	done < <(tac "$MOUNTS_FILE")
	: >"$MOUNTS_FILE"
	# nothing may stay mounted below the test's directory
	local left
	left=$(awk -v t="$T" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if [ -n "$left" ]; then
		echo "mounts left behind: $left" >&2
		rc=1
		for mnt in $left; do umount -l "$mnt" 2>/dev/null; done
	fi
	if [ -n "${WATCHDOG_PID:-}" ]; then
		kill "$WATCHDOG_PID" 2>/dev/null
		pkill -P "$WATCHDOG_PID" 2>/dev/null
		wait "$WATCHDOG_PID" 2>/dev/null
	fi
	if [ -f "$T/.watchdog" ]; then
		cat "$T/.watchdog" >&2
		rc=1
	fi
	return $rc
}

# ---------------------------------------------------------------- checks

# eq ACTUAL EXPECTED [WHAT]
eq() {
	if [ "$1" != "$2" ]; then
		printf '%s\n  expected: %q\n  actual:   %q\n' "${3:-values differ}" "$2" "$1" >&2
		return 1
	fi
}

ne() {
	if [ "$1" = "$2" ]; then
		printf '%s\n  both: %q\n' "${3:-values should differ}" "$1" >&2
		return 1
	fi
}

fail() {
	echo "$*" >&2
	return 1
}

# names DIR: the entries of DIR, sorted, on one line
names() {
	local out
	out=$(ls -A "$1" | LC_ALL=C sort | tr '\n' ' ') || return 1
	echo "${out% }"
}

# errno_of COMMAND...: run the fsops command; prints the errno name or "ok"
errno_of() {
	local out
	if out=$("$FSOPS" "$@" 2>&1); then
		echo ok
	else
		echo "$out" | tail -n 1
	fi
}

# expect_errno ERRNO FSOPS-ARGS...
expect_errno() {
	local want=$1 got
	shift
	got=$(errno_of "$@")
	eq "$got" "$want" "fsops $*"
}

# stat_field FORMAT PATH (no follow)
sf() { stat -c "$1" -- "$2"; }

mkwhiteout() { mknod "$1" c 0 0; }

sha() { sha256sum <"$1" | cut -d' ' -f1; }

# write_fsync FILE [append]: write stdin to FILE (made if missing) in one
# write(2), at its start or appending, then fsync and close; prints
# "CALL: strerror" for each call that failed. $AFTER_OPEN, if set, is run
# by sh once the file is open, $AFTER_FSYNC after the fsync.
write_fsync() {
	python3 -c '
import os, subprocess, sys
flags = os.O_WRONLY | os.O_CREAT
if sys.argv[2:] == ["append"]:
    flags |= os.O_APPEND
fd = os.open(sys.argv[1], flags, 0o644)
if os.environ.get("AFTER_OPEN"):
    subprocess.run(os.environ["AFTER_OPEN"], shell=True, check=True)
for call, f in (("write", lambda: os.write(fd, sys.stdin.buffer.read())),
                ("fsync", lambda: os.fsync(fd)), ("close", lambda: os.close(fd))):
    try:
        f()
    except OSError as e:
        print(call + ": " + e.strerror)
    if call == "fsync" and os.environ.get("AFTER_FSYNC"):
        subprocess.run(os.environ["AFTER_FSYNC"], shell=True, check=True)' "$@"
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# threads of daemon $1 at SCHED_IDLE and the lowest best-effort I/O
# priority (the prefetch threads), one per line (needs chrt, ionice)
idle_threads() {
	local t tid
	for t in /proc/"$1"/task/*; do
		tid=${t##*/}
		chrt -p "$tid" | grep -q SCHED_IDLE && ionice -p "$tid" | grep -qx 'best-effort: prio 7' && echo "$tid"
	done
}

# all of the mount's prefetch threads run (src/prefetch.c's PF_THREADS)
six_idle() {
	[ "$(idle_threads "$DAEMON_PID" | wc -l)" = 6 ]
}

# need_dir_nlink: skip where the layers' file system keeps every
# directory's link count at 1 (btrfs) instead of counting subdirectories
need_dir_nlink() {
	mkdir -p "$T/nlink-probe/sub"
	[ "$(stat -c %h "$T/nlink-probe")" = 3 ] ||
		skip "the layers' file system does not count subdirectories in link counts"
	rm -r "$T/nlink-probe"
}

need_cmd() {
	local c
	for c; do
		command -v "$c" >/dev/null || skip "needs $c"
	done
}

# let unprivileged users traverse the path down to $T
make_traversable() {
	local d=$T
	while [ "$d" != / ] && [ -n "$d" ]; do
		chmod o+x "$d" 2>/dev/null || true
		d=$(dirname "$d")
	done
}

# need_user_exec UID GID PROGRAM...: skip unless that user can run them
need_user_exec() {
	local uid=$1 gid=$2 p
	shift 2
	for p; do
		as_user "$uid" "$gid" test -x "$p" || skip "uid $uid cannot execute $p"
	done
}

as_user() { # as_user UID GID COMMAND...
	local uid=$1 gid=$2
	shift 2
	setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
}
