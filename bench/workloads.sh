# The benchmark's workloads; sourced by bench/run.
#
# wl_NAME TARGET runs one workload on one target: it mounts the target
# fresh, measures, records with `rec ROW VALUE`, and unmounts.  A non-zero
# return marks the workload failed for that target and repetition.  Rows
# and what "native" means for each are described in bench/README.md;
# their labels are in bench/report.py.
#
# `chk ROW VALUE` records a value that must be the same on every target
# (a file count, a byte count): the report flags differences.

# measure ROW COMMAND...: time COMMAND (a function or a program), record it.
# Forks are slow on small VMs: the commands measured start as few
# processes as they can.  bench/run's watchdog bounds every workload.
measure() {
	local row=$1 secs
	shift
	timeit secs "$@" || return 1
	rec "$row" "$secs"
}

walk() { find "$1" -printf '%s %m\n' >/dev/null; }
readbig() { dd if="$1" of=/dev/null bs=1M status=none; }
append_byte() { printf x >>"$1"; }

wl_mount() {
	local target=$1 n k lower
	[ "$target" = native ] && return 0
	for n in 3 20 100; do
		if [ "$n" = 3 ]; then
			lower=$LOWERS
		else
			lower=$(printf "$DATA/m/%03d:" $(seq $((n - 1)) -1 0))
			lower=${lower%:}
		fi
		for ((k = 0; k < MOUNT_SAMPLES; k++)); do
			start_target "$target" "$lower" || return 1
			rec "mount_$n" "$MOUNT_SECS"
			stop_target "$target" || return 1
		done
	done
}

ls_lr() { ls -lR "$1" >/dev/null; }

wl_walk() {
	local target=$1 lines
	start_target "$target" || return 1
	drop_caches
	measure walk_cold walk "$R" || return 1
	measure walk_warm walk "$R" || return 1
	[ -n "$DPID" ] && rec rss_peak "$(daemon_kib "$DPID" VmHWM)"
	measure lsR_warm ls_lr "$R" || return 1
	lines=$(find "$R" | wc -l)
	chk entries "$lines"
	if [ -n "$DPID" ]; then
		sync
		echo 2 >/proc/sys/vm/drop_caches
		sleep "$FORGET_WAIT" # FORGETs arrive asynchronously
		rec rss_forget "$(daemon_kib "$DPID" VmRSS)"
	fi
	stop_target "$target"
}

# tar to a pipe: GNU tar reads nothing when its output is /dev/null
tar_count() { tar -cf - -C "$1" tree | wc -c >"$2"; }

wl_readsmall() {
	local target=$1
	start_target "$target" || return 1
	drop_caches
	measure read_small_cold tar_count "$R" "$RUN/tarbytes" || return 1
	chk tar_bytes "$(cat "$RUN/tarbytes")"
	stop_target "$target"
}

wl_seqread() {
	local target=$1
	start_target "$target" || return 1
	drop_caches
	measure seqread_cold readbig "$R/big/f1g" || return 1
	measure seqread_warm readbig "$R/big/f1g" || return 1
	stop_target "$target"
}

wl_seqwrite() {
	local target=$1
	start_target "$target" || return 1
	drop_caches
	measure seqwrite dd if=/dev/zero of="$WR/written" bs=1M count="$BIG1_MIB" conv=fsync status=none || return 1
	chk seqwrite_size "$(stat -c %s "$WR/written")"
	stop_target "$target"
}

copy_append() { cp "$1" "$2" && printf x >>"$2"; }

# copy-up by appending one byte; native copies the file by hand instead
copyup() {
	local target=$1 row=$2 extra=${3:-} f
	start_target "$target" "$LOWERS" "$extra" || return 1
	drop_caches
	if [ "$target" = native ]; then
		f=$WR/f256
		measure "$row" copy_append "$R/big/f256" "$f" || return 1
	else
		f=$R/big/f256
		measure "$row" append_byte "$f" || return 1
	fi
	chk "${row}_size" "$(stat -c %s "$f")"
	stop_target "$target"
}

# FUNC TARGET ROW: FUNC TARGET ROW [EXTRA] with the target's defaults
# (layerfs and the kernel fsync each copy, fuse-overlayfs does not), then
# as ROW_nofsync without fsync (fsync=0; the kernel's overlay: volatile)
with_and_without_fsync() {
	local fn=$1 target=$2 row=$3 fast=fsync=0
	[ "$target" = kernel ] && fast=volatile
	[ "$target" = native ] && fast=
	"$fn" "$target" "$row" || return 1
	"$fn" "$target" "${row}_nofsync" "$fast"
}

wl_copyup() { with_and_without_fsync copyup "$1" copyup; }

wl_untar() {
	local target=$1
	start_target "$target" || return 1
	drop_caches
	cat "$DATA/untar.tar" >/dev/null
	measure untar tar -xf "$DATA/untar.tar" -C "$WR" || return 1
	chk untar_files "$(find "$WR/u" -type f | wc -l)"
	stop_target "$target"
}

wl_rm() {
	local target=$1 dir
	start_target "$target" || return 1
	dir=$R/rm
	if [ "$target" = native ]; then
		cp -a "$R/rm" "$WR/rm"
		dir=$WR/rm
	fi
	drop_caches
	find "$dir" >/dev/null # names cached: the row measures the removal
	measure rm_tree rm -rf "$dir" || return 1
	chk rm_gone "$([ -e "$dir" ] && echo present || echo gone)"
	stop_target "$target"
}

# chown -R of the rm/ tree's copy: every file and directory copied up,
# data too (the kernel's overlay without metacopy copies it as well); the
# data read through the mount first, so the row measures the copy-ups, not
# the disk. ROW, then the target's extra mount options.
chown_tree() {
	local target=$1 row=$2 extra=${3:-} dir
	start_target "$target" "$LOWERS" "$extra" || return 1
	dir=$R/rm
	if [ "$target" = native ]; then
		cp -a "$R/rm" "$WR/rm"
		dir=$WR/rm
	fi
	drop_caches
	find "$dir" -type f -exec cat {} + >/dev/null
	measure "$row" chown -R 1:1 "$dir" || return 1
	chk "${row}_left" "$(find "$dir" ! -user 1 | wc -l)"
	stop_target "$target"
}

wl_chown() { with_and_without_fsync chown_tree "$1" chown_tree; }

# fio_iops RW FILE [EXTRA...]: 4k random I/O, prints the IOPS.  No
# --invalidate: on FUSE it drops only the mount's page cache, on the kernel
# overlay the real file's, which would compare different things.
fio_iops() {
	local rw=$1 file=$2 out f
	shift 2
	out=$(fio --name=bench --filename="$file" --rw="$rw" --bs=4k --ioengine=psync \
		--runtime="$FIO_RUNTIME" --time_based --invalidate=0 \
		--output-format=terse --terse-version=3 "$@") || return 1
	# terse v3: field 8 is the read IOPS, field 49 the write IOPS
	IFS=';' read -r -a f <<<"$out"
	if [ "$rw" = randread ]; then echo "${f[7]}"; else echo "${f[48]}"; fi
}

wl_fio() {
	local target=$1 iops
	start_target "$target" || return 1
	drop_caches
	iops=$(fio_iops randread "$R/big/f256" --readonly) || return 1
	rec fio_randread_cold "$iops"
	cat "$R/big/f256" >/dev/null
	iops=$(fio_iops randread "$R/big/f256" --readonly) || return 1
	rec fio_randread_warm "$iops"
	# a new file: it lives in the upper from the start
	iops=$(fio_iops randwrite "$WR/fio.w" --size="${FIO_MIB}M" --end_fsync=1) || return 1
	rec fio_randwrite "$iops"
	stop_target "$target"
}

walk_serial() { walk "$1/tree/a" && walk "$1/tree/b"; }

walk_parallel() {
	local a b
	walk "$1/tree/a" &
	a=$!
	walk "$1/tree/b" &
	b=$!
	wait "$a" && wait "$b"
}

wl_parwalk() {
	local target=$1 serial par
	start_target "$target" || return 1
	drop_caches
	timeit serial walk_serial "$R" || return 1
	stop_target "$target" || return 1
	start_target "$target" || return 1
	drop_caches
	timeit par walk_parallel "$R" || return 1
	rec walk2_serial "$serial"
	rec walk2_parallel "$par"
	rec walk2_speedup "$(awk -v s="$serial" -v p="$par" 'BEGIN { printf "%.3f", s / p }')"
	stop_target "$target"
}

# stat_paths DIR LIST: stat each path of LIST (relative to DIR) by name, as
# `git status` or a build's up-to-date checks do: a LOOKUP for every
# component the kernel has not seen yet, no listing.  Prints how many
# exist (missing names are part of some lists, so stat's failures are
# not the workload's: the count is checked against the kernel's instead).
stat_paths() {
	(cd "$1" && { xargs -a "$2" stat -c %s 2>/dev/null || true; } | wc -l)
}

# Paths for the lookup rows, made once per run: every file of the merged
# tree; and over the 100 small layers every file of usr/lib/pK (in layer K
# only), the shared etc/ names, and names that no layer has in usr/lib
# (present in all 100) and in usr/lib/pK.
lookup_lists() {
	local k j
	[ -s "$RUN/paths3" ] || (cd "$DATA/native" && find tree -type f) >"$RUN/paths3"
	[ -s "$RUN/paths100" ] && return 0
	for ((k = 0; k < 100; k++)); do
		for ((j = 0; j < 20; j++)); do echo "usr/lib/p$k/f$j"; done
		echo "usr/lib/none$k" "usr/lib/p$k/none"
	done | tr ' ' '\n' >"$RUN/paths100"
	printf 'etc/conf%d\n' 0 1 2 3 4 >>"$RUN/paths100"
}

wl_lookup() {
	local target=$1 lower found secs
	lookup_lists
	# the layers' own directories cached, the mount fresh: the row
	# measures the overlay's lookups, not the disk
	drop_caches
	find "$DATA/layers" "$DATA/m" "$DATA/native" >/dev/null
	start_target "$target" || return 1
	timeit secs stat_paths_to found "$R" "$RUN/paths3" || return 1
	rec lookup_3 "$secs"
	chk lookup3_found "$found"
	stop_target "$target" || return 1
	[ "$target" = native ] && return 0
	lower=$(printf "$DATA/m/%03d:" $(seq 99 -1 0))
	start_target "$target" "${lower%:}" || return 1
	timeit secs stat_paths_to found "$R" "$RUN/paths100" || return 1
	rec lookup_100 "$secs"
	chk lookup100_found "$found"
	stop_target "$target"
}

# stat_paths_to VAR DIR LIST: stat_paths, its count in VAR
stat_paths_to() {
	local -n _n=$1
	_n=$(stat_paths "$2" "$3")
}

WORKLOADS=(mount walk readsmall seqread seqwrite copyup untar rm chown fio parwalk lookup)
