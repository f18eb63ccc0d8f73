#!/usr/bin/env bats
# Command line: versions, help, mount forms, options, foreground, signals.

load helpers

@test "cli: -V and --version print layerfs's and libfuse's versions" {
	local opt
	for opt in -V --version; do
		run -0 "$LAYERFS" "$opt"
		[[ "$output" =~ layerfs[^0-9]*[0-9]+\.[0-9]+ ]] ||
			fail "$opt: no layerfs version in: $output"
		[[ "$output" =~ (FUSE|fuse)[^0-9]*3\.[0-9]+ ]] ||
			fail "$opt: no libfuse version in: $output"
	done
}

@test "cli: -h and --help list the options and exit 0" {
	local opt o
	for opt in -h --help; do
		run -0 "$LAYERFS" "$opt"
		for o in lowerdir upperdir workdir fsync volatile static_nlink noacl timeout threaded spin idlepoll; do
			[[ "$output" == *"$o"* ]] || fail "$opt does not mention $o"
		done
	done
}

@test "cli: each subcommand's --help prints its usage on stdout and exits 0" {
	local cmd
	for cmd in features mount umount check diff commit reset export import; do
		"$LAYERFS" "$cmd" --help >"$T/out" 2>"$T/err" ||
			fail "layerfs $cmd --help exited $?"
		grep -q "^Usage: layerfs $cmd" "$T/out" ||
			fail "layerfs $cmd --help: no usage on stdout: $(cat "$T/out" "$T/err")"
		[[ ! -s $T/err ]] || fail "layerfs $cmd --help wrote to stderr: $(cat "$T/err")"
	done
}

@test "cli: returns once the mount is live, daemon stays in background" {
	echo top >"$L1/a"
	echo bottom >"$L2/b"
	"$LAYERFS" -o "lowerdir=$L1:$L2,upperdir=$U,workdir=$W" "$M" 3>&- >"$T/out" 2>"$T/err"
	# no waiting: the mount must be there when the command returns
	is_mounted "$M" || fail "not mounted when $LAYERFS returned"
	local pid
	pid=$(find_daemon_pid "$M") || fail "no daemon in background"
	echo "fuse $pid $M" >>"$MOUNTS_FILE"
	eq "$(names "$M")" "a b"
	eq "$(cat "$M/a")" top
	unmount_layerfs "$M"
	! is_mounted "$M" || fail "still mounted"
}

# the CPUs each thread of process $1 may run on
daemon_cpus() {
	local f
	for f in /proc/"$1"/task/*/status; do
		awk '/^Cpus_allowed_list:/ { print $2 }' "$f"
	done | sort -u
}

# process $1 has more than $2 threads
threads_over() { [ "$(ls /proc/"$1"/task | wc -l)" -gt "$2" ]; }

# others_block_stop_signals PID WHAT: every thread of PID but the first
# blocks SIGINT, SIGHUP and SIGTERM, and there are at least two (WHAT)
others_block_stop_signals() {
	local pid=$1 t tid blk n=0
	for t in /proc/"$pid"/task/*; do
		tid=${t##*/}
		[ "$tid" != "$pid" ] || continue
		blk=$(awk '/^SigBlk:/ { print $2 }' "$t/status")
		(( (16#$blk & 0x4003) == 0x4003 )) || fail "thread $tid ($(cat "$t/comm")) takes signals: SigBlk $blk"
		n=$((n + 1))
	done
	[ "$n" -ge 2 ] || fail "expected $2, found $n other threads"
}

@test "cli: the daemon's threads may run on every CPU the mount command could (its fork is made on one)" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	local cpus
	echo a >"$L1/a"
	LFS_WRAP="taskset -c 0,1" mount_layerfs
	ls -lR "$M" >/dev/null
	wait_until 5 threads_over "$DAEMON_PID" 2 || fail "the daemon started no threads"
	cpus=$(daemon_cpus "$DAEMON_PID")
	eq "$cpus" "0-1"
	unmount_layerfs "$M"
	# a narrower set is kept as it was given
	LFS_WRAP="taskset -c 1" mount_layerfs
	ls -lR "$M" >/dev/null
	cpus=$(daemon_cpus "$DAEMON_PID")
	eq "$cpus" "1"
}

@test "cli: mount.fuse3 form SOURCE MOUNTPOINT -o OPTIONS" {
	echo x >"$L1/f"
	"$LAYERFS" overlay "$M" -o "lowerdir=$L1,upperdir=$U,workdir=$W" 3>&- 2>"$T/err"
	wait_until 10 is_mounted "$M" || fail "not mounted: $(cat "$T/err")"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	eq "$(cat "$M/f")" x
	echo y >"$M/g"
	eq "$(cat "$U/g")" y "write went to the upper layer"
}

@test "cli: mount.fuse3 form: SOURCE is the mount's source, as on the kernel's overlay (mount -a finds an fstab line mounted); fsname= wins" {
	"$LAYERFS" merged1 "$M" -o "lowerdir=$L1,upperdir=$U,workdir=$W" 3>&- 2>"$T/err"
	wait_until 10 is_mounted "$M" || fail "not mounted: $(cat "$T/err")"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	eq "$(findmnt -n -o SOURCE --mountpoint "$M")" merged1
	unmount_layerfs "$M"
	"$LAYERFS" merged1 "$M" -o "lowerdir=$L1,fsname=mine,upperdir=$U,workdir=$W" 3>&- 2>"$T/err"
	wait_until 10 is_mounted "$M" || fail "not mounted: $(cat "$T/err")"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	eq "$(findmnt -n -o SOURCE --mountpoint "$M")" mine
}

@test "cli: -f stays in the foreground; fusermount3 -u ends it with status 0" {
	echo x >"$L1/f"
	spawn "$LAYERFS" -f -o "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	local pid=$BG_PID
	wait_until 10 is_mounted "$M" || fail "foreground daemon did not mount"
	kill -0 "$pid" || fail "foreground process exited"
	eq "$(cat "$M/f")" x
	fusermount3 -u "$M"
	local rc=0
	wait "$pid" || rc=$?
	eq "$rc" 0 "exit status of the foreground daemon"
	! is_mounted "$M" || fail "$M is still mounted"
}

@test "cli: -d (debug) runs in the foreground and logs requests" {
	echo x >"$L1/f"
	spawn "$LAYERFS" -d -o "lowerdir=$L1,upperdir=$U,workdir=$W" "$M" 2>"$T/debug.log"
	local pid=$BG_PID
	wait_until 10 is_mounted "$M" || fail "debug daemon did not mount"
	eq "$(cat "$M/f")" x
	fusermount3 -u "$M"
	wait "$pid" || true
	[ -s "$T/debug.log" ] || fail "-d logged nothing"
	! is_mounted "$M" || fail "$M is still mounted"
}

@test "cli: -o debug (fuse-overlayfs's and libfuse's spelling) is -d" {
	echo x >"$L1/f"
	spawn "$LAYERFS" -o "lowerdir=$L1,debug,upperdir=$U,workdir=$W" "$M" 2>"$T/debug.log"
	local pid=$BG_PID
	wait_until 10 is_mounted "$M" || fail "debug daemon did not mount: $(cat "$T/debug.log")"
	kill -0 "$pid" || fail "-o debug did not stay in the foreground"
	eq "$(cat "$M/f")" x
	fusermount3 -u "$M"
	wait "$pid" || true
	! grep -q "unknown option" "$T/debug.log" || fail "$(cat "$T/debug.log")"
	grep -q LOOKUP "$T/debug.log" || fail "-o debug logged no request"
}

@test "cli: SIGTERM unmounts and exits" {
	echo x >"$L1/f"
	mount_layerfs
	local pid=$DAEMON_PID
	kill -TERM "$pid"
	wait_until 20 _pid_gone "$pid" || fail "daemon still running after SIGTERM"
	wait_until 10 eval '! is_mounted "$M"' || fail "still mounted after SIGTERM"
	_forget_mount "$M"
}

@test "cli: only the thread that ends the session takes SIGTERM, SIGINT and SIGHUP" {
	# a signal handled by another thread would not wake the loop
	need_cmd chrt ionice
	mkdir -p "$L1/d/sub"
	mount_layerfs
	ls -l "$M/d" >/dev/null	# starts the workers and the prefetch threads
	wait_until 10 six_idle || fail "the prefetch threads did not start"
	others_block_stop_signals "$DAEMON_PID" "at least two other threads"
}

@test "cli: the thread that starts the helper threads while the loop starts takes no signal either" {
	# held at its start; unblocked, a SIGTERM there would not wake the
	# loop if the stop thread were missing
	LAYERFS_TEST_PAUSE="late_start::3000" mount_layerfs
	ls "$M" >/dev/null
	others_block_stop_signals "$DAEMON_PID" "the stop thread and the held starter"
}

@test "cli: SIGINT and SIGTERM unmount and exit 0 (foreground)" {
	# background jobs of a script start with SIGINT ignored: undo that
	spawn env --default-signal=INT "$LAYERFS" -f -o "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	local pid=$BG_PID
	wait_until 10 is_mounted "$M" || fail "not mounted"
	kill -INT "$pid"
	wait_until 20 _pid_gone "$pid" || fail "daemon still running after SIGINT"
	wait_until 10 eval '! is_mounted "$M"' || fail "still mounted after SIGINT"
	# a service told to stop exits 0 (systemd would call 1 a failure)
	local rc=0
	wait "$pid" || rc=$?
	eq "$rc" 0 "exit status after SIGINT"
	spawn "$LAYERFS" -f -o "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	pid=$BG_PID
	wait_until 10 is_mounted "$M" || fail "not mounted"
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	eq "$rc" 0 "exit status after SIGTERM"
	wait_until 10 eval '! is_mounted "$M"' || fail "still mounted after SIGTERM"
}

@test "cli: SIGTERM, SIGHUP and SIGINT first have the kernel write back what files still open hold in its writeback cache (as an unmount does)" {
	# the data was dropped: the upper file stayed empty while the
	# writer's write(2) had returned, and only its close said ENOTCONN
	# a suite started as a background job of a script (`make check &`)
	# hands its daemons SIGINT ignored, and nohup SIGHUP: undo both
	local o sig pid
	for o in threaded=1 threaded=0; do
		for sig in TERM HUP INT; do
			LFS_WRAP="env --default-signal=INT,HUP" mount_fresh "passthrough=0,$o"
			pid=$DAEMON_PID
			rm -f "$T/written" "$T/go"
			# holds its only descriptor of the file: a close writes
			# the pages back
			spawn python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 3000000)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
	time.sleep(0.05)
' "$M/f" "$T/written" "$T/go"
			wait_until 20 test -e "$T/written" || fail "the writer did not write"
			kill -"$sig" "$pid"
			wait_until 20 _pid_gone "$pid" || fail "$o: daemon still running after SIG$sig"
			! is_mounted "$M" || fail "$o: still mounted after SIG$sig"
			_forget_mount "$M"
			touch "$T/go"
			wait "$BG_PID" || true
			eq "$(stat -c %s "$U/f")" 3000000 "$o SIG$sig: size on the upper"
			eq "$(tr -d x <"$U/f" | wc -c)" 0 "$o SIG$sig: bytes on the upper that are not the data"
		done
	done
}

@test "cli: SIGTERM leaves a file system mounted on top of the mount alone; the daemon's own mount stays beneath, dead, as after kill -9" {
	# libfuse unmounts by the path: the tmpfs went, and the dead mount
	# of layerfs came back to the top
	need_root
	echo x >"$L1/f"
	mount_layerfs
	local pid=$DAEMON_PID
	mount -t tmpfs lfscover "$M"
	record_mount "$M"
	touch "$M/on-tmpfs"
	kill -TERM "$pid"
	wait_until 20 _pid_gone "$pid" || fail "daemon still running after SIGTERM"
	[ -e "$M/on-tmpfs" ] || fail "the tmpfs on top was unmounted: $(grep " $M " /proc/self/mountinfo)"
	umount "$M"
	_forget_mount "$M"
	run ls "$M"
	[[ "$status" -ne 0 && "$output" == *"not connected"* ]] ||
		fail "beneath: $status $output"
	umount "$M"
	_forget_mount "$M"
}

@test "cli: umount MNT ends the daemon" {
	mount_layerfs
	local pid=$DAEMON_PID
	umount "$M"
	wait_until 20 _pid_gone "$pid" || fail "daemon still running after umount"
	_forget_mount "$M"
}

@test "cli: once umount MNT returns, the layers' file system is free to unmount" {
	# the kernel's overlayfs lets go of its layers within umount(2); a
	# daemon still exiting holds its upper open (unionmount-testsuite
	# unmounts the upper's tmpfs right after the union)
	need_root
	local fs=$T/fs i pid busy=0
	mkdir "$fs"
	for i in $(seq 1 20); do
		mkdir "$L1/d$i"
		echo x >"$L1/d$i/f"
	done
	for i in $(seq 1 100); do
		mount -t tmpfs lfstest "$fs"
		record_mount "$fs"
		mkdir "$fs/u" "$fs/w"
		lfs_mount "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w" "$M"
		pid=$DAEMON_PID
		ls -lR "$M" >/dev/null
		cat "$M"/d*/f >/dev/null
		echo y >>"$M/d3/f"
		touch "$M/new"
		rm "$M/d4/f"
		umount "$M"
		if ! umount "$fs" 2>/dev/null; then
			busy=$((busy + 1))
			wait_until 20 _pid_gone "$pid"
			umount "$fs"
		fi
		_forget_mount "$M"
		_forget_mount "$fs"
	done
	eq "$busy" 0 "rounds in which the daemon still held the upper after umount returned"
}

@test "cli: the upper's and work dir's file system may be unmounted while the union is mounted, as under the kernel's overlay; the union keeps working" {
	# both reach their upper and work dir through private clones of the
	# mount: the daemon's locks pinned the given mount ("target is busy")
	need_root
	local fs=$T/fs
	mkdir "$fs"
	echo low >"$L1/f"
	mount -t tmpfs lfstest "$fs"
	record_mount "$fs"
	mkdir "$fs/u" "$fs/w"
	lfs_mount "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w" "$M"
	echo new >"$M/new"
	# the locks, moved onto the clones, still turn a second daemon away
	mkdir "$T/m2" "$fs/w2"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w" "$T/m2"
	[[ "$status" -ne 0 && "$output" == *"in use by layerfs pid $DAEMON_PID"* ]] ||
		fail "a second mount of the work dir: $status $output"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w2" "$T/m2"
	[[ "$status" -ne 0 && "$output" == *"upper of another layerfs mount"* ]] ||
		fail "a second mount of the upper: $status $output"
	run umount "$fs"
	eq "$status" 0 "umount of the upper's file system: $output"
	_forget_mount "$fs"
	eq "$(cat "$M/new")" new
	echo more >>"$M/f"
	eq "$(cat "$M/f")" "$(printf 'low\nmore')"
}

# detach_held: a shell with its cwd in $M (BG_PID), then umount -l of $M,
# served by $DAEMON_PID: its daemon serves on, and marks its staging
# entries (lock.c, DETACHED_MARK)
detach_held() {
	spawn sh -c "cd '$M' && exec sleep 600"
	wait_until 5 cwd_is "$BG_PID" "$M" || fail "the holder has no cwd in the mount"
	umount -l "$M"
	_forget_mount "$M"
	wait_until 5 test -e "$(detached_mark "$DAEMON_PID")" ||
		fail "the detached daemon made no mark: $(ls -A "$W/layerfs")"
}

# detached_mark PID: the mark of a detached daemon in $W's staging dir
detached_mark() { echo "$W/layerfs/#$(printf %x "$1").detached"; }

# lfs_mount found the first daemon with $M in its argv, the detached one:
# record the work dir lock's holder as $M's daemon instead
adopt_lock_holder() {
	DAEMON_PID=$(awk '{print $1}' "$W/layerfs.lock")
	_forget_mount "$M"
	echo "fuse $DAEMON_PID $M" >>"$MOUNTS_FILE"
}

@test "cli: a mount unmounted lazily while a process holds a directory in it hands its upper and work dir to the next mount (as the kernel's overlay mounts it again); both serve until the holder lets go" {
	# podman: stop unmounts with MNT_DETACH when a shell outside still has
	# its cwd in merged, then start mounts the same upper and work dir
	need_root
	local first old_mark stale held wh
	echo low >"$L1/f"
	echo gone >"$L1/gone"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	first=$DAEMON_PID
	# the staging dir's shared whiteout, which the first daemon links
	rm "$M/gone"
	wh=$(stat -c %i "$W/layerfs/whiteout") || fail "no shared whiteout"
	spawn sh -c "cd '$M' && exec sleep 600"
	wait_until 5 cwd_is "$BG_PID" "$M" || fail "the holder has no cwd in the mount"
	run umount "$M"
	[ "$status" -ne 0 ] || fail "a plain unmount of a mount in use succeeded"
	umount -l "$M"
	_forget_mount "$M"
	old_mark=$(detached_mark "$first")
	wait_until 5 test -e "$old_mark" || fail "the detached daemon made no mark: $(ls -A "$W/layerfs")"
	# a detached daemon's staging entries stay at the next mount, a dead one's go
	held="$W/layerfs/#$(printf %x "$first").7"
	stale="$W/layerfs/#1.7"
	: >"$held"
	: >"$stale"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M" || fail "no second mount"
	adopt_lock_holder
	[ "$DAEMON_PID" != "$first" ] || fail "the work dir lock is still the first daemon's"
	grep -q "also written by layerfs pid $first, whose mount was unmounted lazily" "$T/daemon.err" ||
		fail "no warning: $(cat "$T/daemon.err")"
	[ -e "$held" ] || fail "the detached daemon's staging entry was removed"
	eq "$(stat -c %i "$W/layerfs/whiteout")" "$wh" "the shared whiteout's inode after the second mount"
	[ ! -e "$stale" ] || fail "a stale staging entry was left"
	# the old mount, through the holder's cwd, and the new one both write the upper
	echo old >>"/proc/$BG_PID/cwd/f"
	echo new >"$M/n"
	eq "$(cat "$U/f")" "$(printf 'low\nold')"
	eq "$(cat "$U/n")" new
	eq "$(cat "$M/n")" new
	kill "$BG_PID"
	wait_until 10 _pid_gone "$first" || fail "the detached daemon stayed after its holder left"
	[ ! -e "$old_mark" ] || fail "the detached daemon left its mark"
	# a plain unmount hands nothing over
	unmount_layerfs "$M"
	! ls -A "$W/layerfs" | grep -q '\.detached$' || fail "a mark after a plain unmount: $(ls -A "$W/layerfs")"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	! grep -q "also written" "$T/daemon.err" || fail "a warning with no detached daemon: $(cat "$T/daemon.err")"
}

@test "cli: a mount unmounted lazily while in use keeps its upper from a mount with another work dir; commit of that stack is refused; the same work dir mounts again" {
	# the hand-over is for the next mount of the same work dir (podman's
	# start); the upper's flock let go with it let a mount of the same
	# upper with another work dir in, and a commit through it, while the
	# detached daemon still wrote the upper
	need_root
	local first
	echo low >"$L1/f"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	first=$DAEMON_PID
	detach_held
	mkdir "$T/w2" "$T/m2"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$T/w2" "$T/m2"
	[[ "$status" -ne 0 && "$output" == *"upper of another layerfs mount"* ]] ||
		fail "a mount of the upper with another work dir: $status $output"
	cat >"$T/stack2.json" <<-EOF
	{ "version": 1, "layers": ["$L1"], "upper": "$U", "work": "$T/w2" }
	EOF
	run "$LAYERFS" commit "$T/stack2.json"
	[ "$status" -ne 0 ] || fail "a commit of the upper through another work dir: $output"
	# the same work dir is handed over, at once
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M" || fail "no second mount of the work dir"
	adopt_lock_holder
	echo new >"$M/n"
	eq "$(cat "$U/n")" new
	# and once the detached daemon is gone, the new one still keeps the
	# upper from another work dir
	kill "$BG_PID"
	wait_until 10 _pid_gone "$first" || fail "the detached daemon stayed after its holder left"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$T/w2" "$T/m2"
	[[ "$status" -ne 0 && "$output" == *"upper of another layerfs mount"* ]] ||
		fail "a mount of the upper with another work dir after the detached daemon left: $status $output"
}

@test "cli: a daemon in the background writes its messages, and the warnings of its mount, to the system log (/dev/log), named layerfs[PID]" {
	# its stderr is /dev/null once it has gone to the background; the
	# hand-over's warning is one such message. /dev/log is our own socket
	# here: a tmpfs on /dev in a mount namespace of the test's own
	need_root
	mkdir "$T/olddev"
	cat >"$T/inner.sh" <<-EOF
	set -e
	mount --bind /dev '$T/olddev'
	mount -t tmpfs -o mode=755 testdev /dev
	for n in fuse null zero urandom; do
		touch /dev/\$n
		mount --bind '$T/olddev'/\$n /dev/\$n
	done
	python3 '$SCRIPTS/logsink.py' /dev/log '$T/syslog' & sink=\$!
	# a daemon left by a failure serves a mount nobody else sees: it goes too
	cleanup() {
		kill \$sink \${holder:-} 2>/dev/null
		for p in \${pid:-} \$(cat '$T/second.pid' 2>/dev/null); do
			[ "\$(cat /proc/\$p/comm 2>/dev/null)" = layerfs ] && kill \$p
		done
		return 0
	}
	trap cleanup EXIT
	for i in \$(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
	'$LAYERFS' -o 'lowerdir=$L1,upperdir=$U,workdir=$W' '$M'
	pid=\$(awk '{print \$1}' '$W/layerfs.lock')
	echo "\$pid" >'$T/daemon.pid'
	sh -c "cd '$M' && exec sleep 600" & holder=\$!
	for i in \$(seq 50); do [ "\$(readlink /proc/\$holder/cwd)" = '$M' ] && break; sleep 0.1; done
	umount -l '$M'
	for i in \$(seq 100); do grep -q 'unmounted lazily' '$T/syslog' 2>/dev/null && break; sleep 0.1; done
	# the next mount's warning, on its stderr, and in the log as well
	'$LAYERFS' -o 'lowerdir=$L1,upperdir=$U,workdir=$W' '$M' 2>'$T/second.err'
	awk '{print \$1}' '$W/layerfs.lock' >'$T/second.pid'
	umount '$M'
	kill \$holder
	for i in \$(seq 100); do kill -0 \$pid 2>/dev/null || break; sleep 0.1; done
	EOF
	run unshare -m --propagation private bash "$T/inner.sh"
	[ "$status" -eq 0 ] || fail "the namespace's script: $status $output"
	local pid
	pid=$(cat "$T/daemon.pid")
	_pid_gone "$pid" || fail "the daemon $pid stayed"
	grep -q "layerfs\[$pid\]: $M: unmounted lazily, still in use" "$T/syslog" ||
		fail "no hand-over message in the log: $(cat "$T/syslog" 2>&1)"
	# facility daemon (3), priority warning (4): <3*8+4>
	grep -q "^<28>.*layerfs\[$pid\]" "$T/syslog" || fail "not a warning of the daemon facility: $(cat "$T/syslog")"
	# the second mount's warning, given before it went to the background
	grep -q "is also written by layerfs pid $pid" "$T/second.err" ||
		fail "no warning on the second mount's stderr: $(cat "$T/second.err")"
	# there it names the mount, as every message of a mounted daemon does
	grep -q "layerfs\[$(cat "$T/second.pid")\]: $M: upperdir '$U' is also written by layerfs pid $pid" "$T/syslog" ||
		fail "the second mount's warning is not in the log: $(cat "$T/syslog")"
}

@test "cli: a mount unmounted here but still mounted in another mount namespace (a private copy of ours) hands nothing over until that namespace is gone" {
	# umount(8) without -l succeeds here while unshare -m's copy of the
	# namespace keeps the file system, and its daemon, alive: that is a
	# mount, not a process holding a file, and it may live for ever
	need_root
	local first ns
	echo low >"$L1/f"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	first=$DAEMON_PID
	spawn unshare -m --propagation private sleep 600
	ns=$BG_PID
	wait_until 5 grep -q " $M " "/proc/$ns/mountinfo" || fail "no copy of the mount"
	umount "$M"
	_forget_mount "$M"
	sleep 1
	[ ! -e "$(detached_mark "$first")" ] || fail "the daemon handed over while its mount lives on in another namespace"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	[[ "$status" -ne 0 && "$output" == *"is in use by layerfs pid $first"* ]] ||
		fail "a second mount while the first lives on in another namespace: $status $output"
	# the namespace gone, a holder of a directory in it is what is left:
	# handed over then (at the next look: our table does not change)
	spawn sh -c "cd '/proc/$ns/root$M' && exec sleep 600"
	wait_until 5 test -e "/proc/$BG_PID/cwd/f" || fail "the holder has no cwd in the mount"
	kill "$ns"
	wait_until 12 test -e "$(detached_mark "$first")" || fail "no hand-over once the namespace was gone"
	kill "$BG_PID"
	wait_until 10 _pid_gone "$first" || fail "the daemon stayed after its last user left"
}

@test "cli: a mount refused after it locked the work dir leaves the work dir as it found it; a lock file it did not make stays" {
	# the lock file and the staging dir were left behind by a refused
	# mount: a second mount of a served upper, a workdir without user.*
	# xattrs for userxattr or xattr_permissions=2 (ramfs has none)
	need_root
	local fs=$T/fs opt
	echo low >"$L1/f"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M"
	mkdir "$T/w2" "$T/m2"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$T/w2" "$T/m2"
	[[ "$status" -ne 0 && "$output" == *"upper of another layerfs mount"* ]] ||
		fail "a second mount of the upper: $status $output"
	eq "$(ls -A "$T/w2")" "" "what the refused mount left in its work dir"
	# through a stack file too (its mount takes the lock before the daemon)
	cat >"$T/stack.json" <<-EOF
	{ "version": 1, "layers": ["$L1"], "upper": "$U", "work": "$T/w2" }
	EOF
	run "$LAYERFS" mount "$T/stack.json" "$T/m2"
	[[ "$status" -ne 0 && "$output" == *"upper of another layerfs mount"* ]] ||
		fail "a second mount of the upper from a stack file: $status $output"
	eq "$(ls -A "$T/w2")" "" "what the refused stack mount left in its work dir"
	# a lock file made by an earlier mount is not the refused one's to remove
	: >"$T/w2/layerfs.lock"
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$T/w2" "$T/m2"
	[ "$status" -ne 0 ] || fail "the second mount of the upper was not refused"
	eq "$(ls -A "$T/w2")" layerfs.lock "the work dir with an earlier lock file"

	mkdir "$fs"
	mount -t ramfs lfstest "$fs"
	record_mount "$fs"
	mkdir "$fs/u" "$fs/w"
	for opt in userxattr xattr_permissions=2; do
		run "$LAYERFS" -o "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w,$opt" "$T/m2"
		[[ "$status" -ne 0 && "$output" == *"workdir '$fs/w'"* ]] ||
			fail "$opt on a workdir without user.* xattrs: $status $output"
		eq "$(ls -A "$fs/w")" "" "what the refused $opt mount left in its work dir"
		! is_mounted "$T/m2" || fail "$T/m2 is mounted"
	done
	# the same mount without the option still works there
	lfs_mount "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w" "$T/m2"
	eq "$(cat "$T/m2/f")" low
}

@test "cli: the upper's file system may be remounted read-only while the union is mounted, as under the kernel's overlay; changes fail with EROFS, reads go on" {
	# the daemon kept its work dir lock open for writing: the remount
	# failed with EBUSY ("mount point is busy")
	need_root
	local fs=$T/fs opts
	mkdir "$fs"
	echo low >"$L1/f"
	mkdir "$L1/d"
	mount -t tmpfs lfstest "$fs"
	record_mount "$fs"
	for opts in "" passthrough=0 noopen; do
		rm -rf "$fs/u" "$fs/w"
		mkdir "$fs/u" "$fs/w"
		lfs_mount "lowerdir=$L1,upperdir=$fs/u,workdir=$fs/w${opts:+,$opts}" "$M"
		echo up >"$M/up"
		run mount -o remount,ro "$fs"
		eq "$status" 0 "$opts: remount,ro of the upper's file system: $output"
		expect_errno EROFS write "$M/new" x
		expect_errno EROFS mkdir "$M/newdir"
		expect_errno EROFS unlink "$M/up"
		expect_errno EROFS unlink "$M/f"
		expect_errno EROFS rmdir "$M/d"
		expect_errno EROFS rename "$M/up" "$M/up2"
		run chmod 600 "$M/f"
		[[ "$status" -ne 0 && "$output" == *"Read-only file system"* ]] ||
			fail "$opts: chmod of a lower file: $status $output"
		eq "$(cat "$M/f") $(cat "$M/up") $(names "$M")" "low up d f up" "$opts: reads"
		mount -o remount,rw "$fs"
		echo more >>"$M/up"
		eq "$(cat "$fs/u/up")" "$(printf 'up\nmore')" "$opts: a write after remount,rw"
		unmount_layerfs
	done
}

@test "cli: no thread reads the device after the daemon closed its descriptors at the end of the connection" {
	# when umount ends the connection, the thread that reads the end
	# closes every descriptor and exits at once; another thread that read
	# the device in between got EBADF ("fuse: reading device: Bad file
	# descriptor" on stderr), or could have read a file that an open in
	# between had got the number of. strace holds the close back. Under
	# strace, libfuse's cancel of the other workers also caught one at its
	# read's return (no thread was the last: no close), and the mount
	# watch, woken by the unmount, read the mount table during the close
	# (each in about one run in seven).
	need_root
	need_cmd strace
	local o tracer pid
	for o in spin=1 spin=0; do
		mount_layerfs "$o"
		pid=$DAEMON_PID
		ls "$M" >/dev/null
		spawn strace -f -qq -e trace=read,close_range \
			-e inject=close_range:delay_exit=500000 -o "$T/strace" -p "$pid"
		tracer=$BG_PID
		wait_until 10 all_traced "$pid" || fail "strace did not attach"
		umount "$M"
		_forget_mount "$M"
		wait_until 20 _pid_gone "$pid" || fail "$o: the daemon did not exit"
		wait "$tracer" || true
		grep -q 'close_range.*DELAYED' "$T/strace" ||
			fail "$o: the daemon did not close its descriptors: $(cat "$T/strace")"
		! grep EBADF "$T/strace" ||
			fail "$o: a thread read a closed descriptor"
	done
}

@test "cli: unknown options give one warning line and are ignored (podman's ,,volatile)" {
	echo x >"$L1/f"
	"$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$W,,volatile,no_such_option=3," "$M" 3>&- 2>"$T/err"
	wait_until 10 is_mounted "$M" || fail "mount failed: $(cat "$T/err")"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	eq "$(cat "$M/f")" x
	eq "$(grep -c . "$T/err")" 1 "stderr lines: $(cat "$T/err")"
	grep -q no_such_option "$T/err" || fail "warning does not name the option"
}

@test "cli: fuse-overlayfs's fast_ino, plugins= and redirect_dir=off|follow are accepted without a warning; a plugin named, redirect_dir=on or nofollow are refused" {
	local o
	echo x >"$L1/f"
	for o in fast_ino=1 fast_ino=0 plugins= redirect_dir=off redirect_dir=follow; do
		lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W,$o" "$M" || fail "option $o refused"
		eq "$(cat "$T/daemon.err")" "" "stderr with $o"
		eq "$(cat "$M/f")" x "content with $o"
		unmount_layerfs "$M"
	done
	for o in plugins=/usr/lib/x.so redirect_dir=on redirect_dir=nofollow fast_ino=yes; do
		run ! "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$W,$o" "$M" 3>&-
		! is_mounted "$M" || fail "mounted with $o"
		[[ "$output" == *"option '$o'"* ]] || fail "$o: the message does not name it: $output"
	done
}

@test "cli: commas between double quotes stay in the option (podman's context=\"...:c1,c2\"); without SELinux the context options are left out, as mount(8) leaves them" {
	local ctx='context="system_u:object_r:container_file_t:s0:c1,c2"'
	echo x >"$L1/f"
	"$LAYERFS" -o "lowerdir=$L1,$ctx,fsname=\"my,src\",upperdir=$U,workdir=$W" "$M" 3>&- 2>"$T/err" ||
		fail "mount failed: $(cat "$T/err")"
	wait_until 10 is_mounted "$M" || fail "not mounted"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	eq "$(cat "$T/err")" "" "stderr"
	# the options after the quoted ones still count
	echo y >"$M/g"
	eq "$(cat "$U/g")" y
	eq "$(findmnt -no SOURCE "$M")" '"my,src"'
	if [ ! -e /sys/fs/selinux/enforce ]; then
		! grep " $M " /proc/self/mountinfo | grep -q context ||
			fail "a context reached the kernel without SELinux: $(grep " $M " /proc/self/mountinfo)"
	fi
}

@test "cli: idmapping and squash options are accepted" {
	local o
	echo x >"$L1/f"
	for o in uidmapping=0:0:4294967295 gidmapping=0:0:4294967295 \
		"uidmapping=0:0:1000:1000:1000:64536,gidmapping=0:0:65536" \
		squash_to_root squash_to_uid=0 squash_to_gid=0 \
		xattr_permissions=0 xattr_permissions=1 xattr_permissions=2; do
		lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W,$o" "$M" || fail "option $o refused"
		eq "$(cat "$M/f")" x "content with $o"
		unmount_layerfs "$M"
	done
}

@test "cli: fsync, volatile, static_nlink, noacl, timeout, threaded, spin, idlepoll, prefetch, noopen and writeback options" {
	local o
	mkdir -p "$L1/d/sub1" "$L1/d/sub2"
	for o in fsync=0 fsync=1 volatile static_nlink noacl timeout=0 timeout=5 threaded=0 threaded=1 \
		spin=0 spin=1 "threaded=0,spin=1" idlepoll=0 idlepoll=1 \
		prefetch=0 prefetch=1 "threaded=0,prefetch=1" noopen "noopen,threaded=0" writeback=0 \
		"noopen,writeback=0" noopen=1 noopen=0; do
		lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W,$o" "$M" || fail "option $o refused"
		echo "$o" >"$M/file"
		eq "$(cat "$M/file")" "$o" "write and read back with $o"
		eq "$(cat "$U/file")" "$o" "upper content with $o"
		if [ "$o" = static_nlink ]; then
			eq "$(stat -c %h "$M/d")" 1 "static_nlink: st_nlink of a directory"
		else
			eq "$(stat -c %h "$M/d")" "$(stat -c %h "$L1/d")" "st_nlink of a directory with 2 subdirs ($o)"
		fi
		unmount_layerfs "$M"
	done
}

@test "cli: -s single-threaded works" {
	echo x >"$L1/f"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$M" -s
	eq "$(cat "$M/f")" x
}

@test "cli: without upperdir the mount is read-only (EROFS)" {
	echo x >"$L1/f"
	mkdir "$L1/d"
	mount_ro
	eq "$(cat "$M/f")" x
	expect_errno EROFS write "$M/f" y
	expect_errno EROFS write "$M/new" y
	expect_errno EROFS mkdir "$M/newdir"
	expect_errno EROFS unlink "$M/f"
	expect_errno EROFS rmdir "$M/d"
	expect_errno EROFS rename "$M/f" "$M/g"
	run ! chmod 600 "$M/f"
	[[ "$output" == *"Read-only"* ]] || fail "chmod: $output"
	run ! setfattr -n user.x -v 1 "$M/f"
	eq "$(cat "$L1/f")" x
	eq "$(stat -c %a "$L1/f")" 644
	eq "$(names "$L1")" "d f"
}

@test "cli: \\: escapes a colon in a lowerdir path" {
	mkdir -p "$T/a:b" "$T/c"
	echo colon >"$T/a:b/f1"
	echo plain >"$T/c/f2"
	lfs_mount "lowerdir=$T/a\\:b:$T/c,upperdir=$U,workdir=$W" "$M"
	eq "$(names "$M")" "f1 f2"
	eq "$(cat "$M/f1")" colon
}

@test "cli: as on the kernel's overlay, a backslash in lowerdir=, upperdir= and workdir= takes the next character as it is" {
	mkdir -p "$T/ab" "$T/a\\b" "$T/up:x" "$T/wk:y"
	echo plain >"$T/ab/f"
	echo backslash >"$T/a\\b/f"
	lfs_mount "lowerdir=$T/a\\b,upperdir=$T/up\\:x,workdir=$T/wk\\:y" "$M"
	eq "$(cat "$M/f")" plain "lowerdir=a\\b names ab, as for the kernel"
	echo new >"$M/g"
	eq "$(cat "$T/up:x/g")" new "upperdir=up\\:x names up:x"
	[ -d "$T/wk:y/layerfs" ] || fail "workdir=wk\\:y does not name wk:y"
}

@test "cli: three lower layers, the first is the top-most" {
	echo A >"$L1/x"
	echo B >"$L2/x"
	echo C >"$L3/x"
	echo B >"$L2/y"
	echo C >"$L3/y"
	echo C >"$L3/z"
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	eq "$(cat "$M/x")" A
	eq "$(cat "$M/y")" B
	eq "$(cat "$M/z")" C
}

@test "cli: as on the kernel's overlay, a later lowerdir= replaces the list, and lowerdir+= adds one layer with its colons" {
	mkdir -p "$T/a:b"
	echo A >"$L1/x"
	echo B >"$L2/x"
	echo B >"$L2/y"
	echo colon >"$T/a:b/z"
	lfs_mount "lowerdir=$L1,lowerdir=$L2,upperdir=$U,workdir=$W" "$M"
	eq "$(names "$M")" "x y"
	eq "$(cat "$M/x")" B
	unmount_layerfs
	lfs_mount "lowerdir+=$L1,lowerdir+=$L2,lowerdir+=$T/a:b,upperdir=$U,workdir=$W" "$M"
	eq "$(names "$M")" "x y z"
	eq "$(cat "$M/x")" A
	eq "$(cat "$M/z")" colon
	unmount_layerfs
	# the kernel's overlay takes lowerdir+= since Linux 6.7
	if kernel_at_least 6 7 && grep -qw overlay /proc/filesystems; then
		mkdir "$T/k" "$T/kw"
		kovl_mount "lowerdir+=$L1,lowerdir+=$L2,lowerdir+=$T/a:b,upperdir=$U,workdir=$T/kw" "$T/k"
		eq "$(names "$T/k")" "x y z" "the kernel's view"
	fi
}

@test "cli: file systems mounted inside the upper are not seen through, also the mount itself on a directory of its upper, as on the kernel's overlay" {
	need_root
	echo lower >"$L1/f"
	mkdir "$U/sub" "$U/later" "$U/mnt"
	touch "$U/sub/under"
	mount -t tmpfs lfsbefore "$U/sub"
	record_mount "$U/sub"
	touch "$U/sub/ontop"
	lfs_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$U/mnt"
	mount -t tmpfs lfslater "$U/later"
	record_mount "$U/later"
	touch "$U/later/ontop"
	eq "$(names "$U/mnt")" "f later mnt sub"
	eq "$(names "$U/mnt/sub")" "under" "a file system mounted before"
	eq "$(names "$U/mnt/later")" "" "a file system mounted after"
	eq "$(names "$U/mnt/mnt")" "" "the mount inside itself"
	# copy-ups, whiteouts and staging still work through the private mount
	echo more >>"$U/mnt/f"
	rm "$U/mnt/sub/under"
	mkdir "$U/mnt/newdir"
	eq "$(cat "$U/mnt/f")" "lower
more"
	eq "$(names "$U/mnt/sub")" ""
	umount "$U/later"
	_forget_mount "$U/later"
	eq "$(cat "$U/f")" "lower
more" "the copy in the upper"
	[ -d "$U/newdir" ] || fail "newdir not in the upper"
}

@test "cli: as root, allow_other is set: another user can read the mount" {
	need_root
	echo x >"$L1/f"
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	grep -E " $M fuse\S* \S*allow_other" /proc/mounts >/dev/null ||
		fail "allow_other not in mount options: $(grep "$M" /proc/mounts)"
	run -0 as_user 4242 4242 cat "$M/f"
	eq "$output" x
}

@test "cli: as root, set-id programs and device nodes work as on a kernel overlay; nosuid,nodev turn them off" {
	need_root
	cp /usr/bin/id "$L1/id"
	chmod 4755 "$L1/id"
	mknod -m 666 "$L1/null" c 1 3
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	grep -E " $M fuse\S* \S*(nosuid|nodev)" /proc/mounts &&
		fail "mounted nosuid or nodev: $(grep "$M" /proc/mounts)"
	run -0 as_user 4242 4242 "$M/id" -u
	eq "$output" 0
	run -0 as_user 4242 4242 sh -c "echo x >$M/null"
	unmount_layerfs
	mount_layerfs nosuid,nodev
	run -0 as_user 4242 4242 "$M/id" -u
	eq "$output" 4242
	run ! as_user 4242 4242 sh -c "echo x >$M/null"
	[[ "$output" == *"Permission denied"* ]] || fail "writing a device node on nodev: $output"
}

@test "cli: options after the mount point (-o last) and several -o" {
	echo x >"$L1/f"
	"$LAYERFS" "$M" -o "lowerdir=$L1" -o "upperdir=$U,workdir=$W" 3>&- 2>"$T/err" ||
		fail "failed: $(cat "$T/err")"
	wait_until 10 is_mounted "$M" || fail "not mounted"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	echo y >"$M/g"
	eq "$(cat "$U/g")" y
}

@test "cli: mount(8) flags libfuse does not know (relatime, strictatime, nodiratime, nosymfollow, lazytime, ...) are set on the mount" {
	need_root
	ln -s /etc/hostname "$L1/sl"
	local o want
	# as mount(2) decides: strictatime wins, then noatime, else relatime
	for o in relatime=relatime strictatime=strict norelatime=relatime \
		nostrictatime=relatime nodiratime=nodiratime lazytime=relatime \
		nosymfollow=nosymfollow relatime,noatime=noatime noatime,relatime=noatime \
		strictatime,noatime=strict noatime,strictatime,nostrictatime=noatime; do
		want=${o#*=}
		o=${o%%=*}
		mount_layerfs "$o"
		local got=",$(mount_flags "$M"),"
		if [ "$want" = strict ]; then
			[[ "$got" != *,relatime,* && "$got" != *,noatime,* ]] || fail "$o: $got"
		else
			[[ "$got" == *",$want,"* ]] || fail "$o: $got"
		fi
		[ ! -s "$T/daemon.err" ] || fail "$o: $(cat "$T/daemon.err")"
		unmount_layerfs "$M"
	done
	mount_layerfs nosymfollow
	eq "$(readlink "$M/sl")" /etc/hostname
	run ! cat "$M/sl"
	[[ "$output" == *"Too many levels of symbolic links"* ]] || fail "nosymfollow: $output"
	unmount_layerfs "$M"
	# mount(8) makes bind mounts itself: bind reaches layerfs at a remount only
	mount_layerfs bind,diratime
	grep -q "option 'bind' means something with remount only; ignored" "$T/daemon.err" ||
		fail "bind: $(cat "$T/daemon.err")"
	[[ ",$(mount_flags "$M")," != *,nodiratime,* ]] || fail "diratime"
}

@test "cli: noatime and nodiratime keep the daemon's reads of the upper layer from setting access times" {
	echo x >"$U/f"
	mkdir "$U/d"
	touch -m -d @1000000500 "$U/f" "$U/d"
	local o
	# noatime turns passthrough off unless asked for: the kernel would
	# read the upper file with the caller's flags
	for o in noatime noatime,noopen relatime,noatime nodiratime,passthrough=0 \
		noatime,passthrough=1; do
		touch -a -d @1000000000 "$U/f" "$U/d"
		mount_layerfs "$o"
		cat "$M/f" >/dev/null
		ls "$M/d" >/dev/null
		unmount_layerfs "$M"
		eq "$(stat -c %X "$U/d")" 1000000000 "$o: directory"
		case $o in
		nodiratime*|*passthrough=1)
			[ "$(stat -c %X "$U/f")" -gt 1000000000 ] || fail "$o: the file's atime did not change" ;;
		*)
			eq "$(stat -c %X "$U/f")" 1000000000 "$o: file" ;;
		esac
	done
	touch -a -d @1000000000 "$U/f" "$U/d"
	mount_layerfs passthrough=0
	cat "$M/f" >/dev/null
	ls "$M/d" >/dev/null
	unmount_layerfs "$M"
	[ "$(stat -c %X "$U/f")" -gt 1000000000 ] || fail "relatime: file"
	[ "$(stat -c %X "$U/d")" -gt 1000000000 ] || fail "relatime: directory"
}

@test "cli: mount -o remount (as mount.fuse3 runs it) makes the mount read-only and writable again; the same daemon serves; other mounts are refused" {
	need_root
	command -v mount.fuse3 >/dev/null || skip "mount.fuse3 not installed"
	[ "$(basename "$LAYERFS")" = layerfs ] || skip "mount.fuse3 runs the program named layerfs"
	echo a >"$L1/a"
	mount_layerfs
	# mount(8) hands a remount of a fuse.layerfs mount to mount.fuse3,
	# which runs "layerfs SOURCE MOUNTPOINT -o remount,..." from PATH
	PATH=$(dirname "$LAYERFS"):$PATH run -0 mount.fuse3 layerfs "$M" -t layerfs -o remount,ro
	[[ "$(mount_flags "$M")" == ro,* ]] || fail "not read-only: $(mount_flags "$M")"
	run touch "$M/b"
	[[ "$output" == *"Read-only file system"* ]] || fail "a create on the read-only mount: $output"
	eq "$(cat "$M/a")" a
	PATH=$(dirname "$LAYERFS"):$PATH run -0 mount.fuse3 layerfs "$M" -t layerfs -o remount,rw,nosuid
	[[ "$(mount_flags "$M")" == rw,nosuid,* ]] || fail "not rw,nosuid: $(mount_flags "$M")"
	echo b >"$M/b"
	eq "$(cat "$U/b")" b
	pid_alive "$DAEMON_PID" || fail "the daemon is gone"
	eq "$(find_daemon_pid "$M")" "$DAEMON_PID"
	# the direct form, as mount.fuse3 passes it, with the superblock's
	# own options that mount(8) repeats from mountinfo
	run -0 "$LAYERFS" layerfs "$M" -o ro,relatime,remount,user_id=0,group_id=0,default_permissions,allow_other,dev,suid
	eq "$output" ""
	[[ "$(mount_flags "$M")" == ro,relatime ]] || fail "flags: $(mount_flags "$M")"
	# nothing mounted there, or not layerfs: refused, nothing changed
	run -1 "$LAYERFS" layerfs "$L1" -o remount,ro
	[[ "$output" == *"'$L1'"*"nothing is mounted there"* ]] || fail "$output"
	mkdir "$T/tm"
	mount -t tmpfs tmpfs "$T/tm"
	echo "kernel - $T/tm" >>"$MOUNTS_FILE"
	run -1 "$LAYERFS" layerfs "$T/tm" -o remount,ro
	[[ "$output" == *"'$T/tm'"*"tmpfs mount, not layerfs"* ]] || fail "$output"
	[[ "$(mount_flags "$T/tm")" == rw,* ]] || fail "the tmpfs was remounted: $(mount_flags "$T/tm")"
}
