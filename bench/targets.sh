# Mounting and unmounting the benchmark's targets; sourced by bench/run.
#
# Targets: layerfs, layerfs-noopen (layerfs -o noopen: the opens and the
# writeback cache of a user namespace, where layerfs runs rootless, as
# root), fuse-overlayfs, kernel (overlayfs), native (a plain directory,
# nothing mounted).  One target is mounted at a time, on $MNT,
# over a fresh $RUN/upper and $RUN/work.  Every mount and daemon started
# here is recorded; bench_cleanup undoes them, and only them.
#
# After start_target:
#   R      where the merged tree is read (tree/, rm/, big/)
#   WR     where new files are written (the mount; for native a fresh
#          scratch directory on the same file system as the layers)
#   DPID   the daemon's pid (FUSE targets), else empty
#   MOUNT_SECS  seconds from starting the mount command to its return

MAIN_PID=$BASHPID  # the shell that sourced this file
STARTED_MOUNTS=()  # mount points we mounted
STARTED_PIDS=()    # daemons serving them

us_to_secs() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }

# timeit VAR COMMAND...: run COMMAND, store its wall time in seconds in VAR
timeit() {
	local -n _out=$1
	shift
	# the clock read in place: a $(...) forks bash, and on a VM where a
	# fork costs milliseconds that was most of a mount's time
	local t0=${EPOCHREALTIME/./} t1 rc
	"$@"
	rc=$?
	t1=${EPOCHREALTIME/./}
	_out=$(us_to_secs $((t1 - t0)))
	return $rc
}

is_mounted() {
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

target_binary() {
	case $1 in
	layerfs | layerfs-noopen) echo "$LAYERFS" ;;
	fuse-overlayfs) echo "$FUSE_OVERLAYFS" ;;
	esac
}

# pid of the process started as BINARY (its argv[0]) with MNT as one of
# its arguments.  Not /proc/PID/exe: a rebuild replaces the binary under a
# running daemon.  Shell builtins only: a fork costs more than the scan.
daemon_pid() {
	local exe=$1 mnt=$2 p arg args
	for p in /proc/[0-9]*; do
		args=()
		while IFS= read -r -d '' arg; do
			args+=("$arg")
		done 2>/dev/null <"$p/cmdline"
		[ "${args[0]:-}" = "$exe" ] || continue
		for arg in "${args[@]:1}"; do
			if [ "$arg" = "$mnt" ]; then
				echo "${p#/proc/}"
				return 0
			fi
		done
	done
	return 1
}

pid_alive() { # a zombie counts as gone
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# mount_cmd TARGET LOWERDIRS [EXTRA_OPTS]: mount on $MNT; no bookkeeping
mount_cmd() {
	local target=$1 lower=$2 extra=${3:-}
	local opts="lowerdir=$lower,upperdir=$RUN/upper,workdir=$RUN/work${extra:+,$extra}"
	case $target in
	layerfs)
		"$LAYERFS" -o "$opts" "$MNT" >>"$RUN/daemon.log" 2>&1 8>&- 9>&-
		;;
	layerfs-noopen)
		"$LAYERFS" -o "$opts,noopen" "$MNT" >>"$RUN/daemon.log" 2>&1 8>&- 9>&-
		;;
	fuse-overlayfs)
		"$FUSE_OVERLAYFS" -o "$opts" "$MNT" >>"$RUN/daemon.log" 2>&1 8>&- 9>&-
		;;
	kernel)
		# paths relative to $DATA: 100 layers must fit in one page of
		# options (cd, not a subshell, to keep a fork out of the time)
		local rc old=$PWD
		cd "$DATA" || return 1
		mount -t overlay overlay -o "${opts//$DATA\//}" "$MNT"
		rc=$?
		cd "$old" || return 1
		return $rc
		;;
	esac
}

# start_target TARGET [LOWERDIRS [EXTRA_OPTS]]
start_target() {
	local target=$1 lower=${2:-$LOWERS} extra=${3:-}
	DPID=
	MOUNT_SECS=
	rm -rf "$RUN/upper" "$RUN/work" "$RUN/scratch"
	mkdir -p "$RUN/upper" "$RUN/work" "$MNT"
	if [ "$target" = native ]; then
		mkdir -p "$RUN/scratch"
		R=$DATA/native
		WR=$RUN/scratch
		return 0
	fi
	STARTED_MOUNTS+=("$MNT")
	timeit MOUNT_SECS mount_cmd "$target" "$lower" "$extra" || {
		echo "bench: mounting $target failed (options: $extra)" >&2
		tail -n 5 "$RUN/daemon.log" >&2
		return 1
	}
	is_mounted "$MNT" || {
		echo "bench: $target returned before $MNT was mounted" >&2
		return 1
	}
	if [ "$target" != kernel ]; then
		DPID=$(daemon_pid "$(target_binary "$target")" "$MNT") || {
			echo "bench: no $target daemon found for $MNT" >&2
			return 1
		}
		STARTED_PIDS+=("$DPID")
		echo "$DPID" >"$RUN/dpid"
	fi
	R=$MNT
	WR=$MNT
}

# stop_target TARGET: unmount, wait for the daemon to exit; fails if the
# daemon had died before the unmount
stop_target() {
	local target=$1 rc=0 i
	[ "$target" = native ] && { rm -rf "$RUN/scratch"; return 0; }
	if [ -n "$DPID" ] && ! pid_alive "$DPID"; then
		echo "bench: the $target daemon (pid $DPID) died during the workload" >&2
		rc=1
	fi
	unmount_one "$MNT" || rc=1
	if [ -n "$DPID" ]; then
		for ((i = 0; i < 200; i++)); do
			pid_alive "$DPID" || break
			sleep 0.05
		done
		if pid_alive "$DPID"; then
			echo "bench: $target daemon $DPID still running after unmount; killing it" >&2
			kill -9 "$DPID"
			rc=1
		fi
	fi
	DPID=
	: >"$RUN/dpid"
	return $rc
}

unmount_one() {
	local mnt=$1
	is_mounted "$mnt" || return 0
	umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || {
		sleep 0.5
		umount "$mnt" 2>/dev/null
	} || {
		echo "bench: $mnt busy; lazy unmount" >&2
		umount -l "$mnt"
		return 1
	}
}

# A workload that runs longer than $LIMIT seconds is stopped: its daemon
# is killed (blocked requests then fail with ENOTCONN) and so are the
# commands it started.  The watchdog waits in the read builtin (no child
# to leave behind) and is stopped with SIGKILL: a subshell killed by a
# signal it does not trap, before it has reset its traps, runs the EXIT
# trap it inherited (bench_cleanup) on its way out.
start_watchdog() {
	[ -p "$RUN/watchdog.fifo" ] || mkfifo "$RUN/watchdog.fifo"
	(
		trap - EXIT INT TERM
		exec >/dev/null 2>&1 8>&- 9>&-
		read -r -t "$LIMIT" _ <>"$RUN/watchdog.fifo" && exit 0
		echo "timed out after $LIMIT s" >"$RUN/timed-out"
		[ -s "$RUN/dpid" ] && kill -9 "$(cat "$RUN/dpid")"
		pkill -9 -P "$MAIN_PID"
	) &
	WATCHDOG=$!
}

stop_watchdog() {
	kill -9 "$WATCHDOG" 2>/dev/null
	{ wait "$WATCHDOG"; } 2>/dev/null
	if [ -f "$RUN/timed-out" ]; then
		echo "bench: workload $(cat "$RUN/timed-out")" >&2
		rm -f "$RUN/timed-out"
		return 1
	fi
}

# on exit, error or ^C: our background jobs, our mounts, our daemons
bench_cleanup() {
	local m p
	[ "$BASHPID" = "$MAIN_PID" ] || exit 1 # only the main shell cleans up
	trap - EXIT INT TERM
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	for m in "${STARTED_MOUNTS[@]}"; do
		is_mounted "$m" && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	for p in "${STARTED_PIDS[@]}"; do
		pid_alive "$p" && kill -9 "$p" 2>/dev/null
	done
	[ -n "${RUN:-}" ] && rm -rf "$RUN"
	return 0
}

# cache states
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

daemon_kib() { # PID FIELD: VmHWM or VmRSS in KiB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
