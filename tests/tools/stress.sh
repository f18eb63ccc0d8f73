#!/bin/bash
# stress.sh: the long run of tests/tools/stress (`make stress`).  Sets up
# two lower layers, an upper and a work dir in a temporary directory,
# mounts them with layerfs, and repeats: random I/O compared with a plain
# reference directory, unmount, remount, compare again.  Unmounts and
# removes everything at the end, also on failure or ^C (the directory is
# kept on failure, for inspection).  Needs root (or a FUSE-capable user).
#
# Environment:
#   LAYERFS          daemon to test (default ./layerfs)
#   STRESS           the stress program (default tests/tools/stress)
#   STRESS_ROUNDS    operations per worker and epoch (default 100000)
#   STRESS_EPOCHS    run/remount/verify cycles (default 3)
#   STRESS_SEED      seed of the first epoch (default: random, printed)
#   STRESS_PROCS, STRESS_THREADS, STRESS_FILES  (default 3, 3, 4)
#   STRESS_DIR       where to make the temporary directory (default /var/tmp)
set -uo pipefail

LAYERFS=$(realpath "${LAYERFS:-./layerfs}")
STRESS=$(realpath "${STRESS:-tests/tools/stress}")
rounds=${STRESS_ROUNDS:-100000}
epochs=${STRESS_EPOCHS:-3}
seed=${STRESS_SEED:-$(((RANDOM << 15) | RANDOM))}
opts=(-p "${STRESS_PROCS:-3}" -t "${STRESS_THREADS:-3}" -f "${STRESS_FILES:-4}")

for x in "$LAYERFS" "$STRESS"; do
	[ -x "$x" ] || { echo "stress.sh: $x is not an executable (make, make check)" >&2; exit 1; }
done

dir=$(mktemp -d "${STRESS_DIR:-/var/tmp}/layerfs-stress.XXXXXX") || exit 1
mnt=$dir/mnt
pid=
ok=

mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

cleanup() {
	if mounted "$mnt"; then
		umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	sleep 0.2
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	if [ -n "$ok" ]; then
		rm -rf "$dir"
	else
		echo "stress.sh: failed; kept $dir (seed $seed)" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_it() {
	local p arg args
	"$LAYERFS" -o "lowerdir=$dir/l1:$dir/l2,upperdir=$dir/upper,workdir=$dir/work" "$mnt" || return 1
	mounted "$mnt" || return 1
	pid=
	# started as $LAYERFS with $mnt among its arguments
	for p in /proc/[0-9]*; do
		args=()
		while IFS= read -r -d '' arg; do
			args+=("$arg")
		done 2>/dev/null <"$p/cmdline"
		[ "${args[0]:-}" = "$LAYERFS" ] || continue
		for arg in "${args[@]:1}"; do
			[ "$arg" = "$mnt" ] && pid=${p#/proc/}
		done
	done
	[ -n "$pid" ] || { echo "stress.sh: no daemon found for $mnt" >&2; return 1; }
}

unmount_it() {
	kill -0 "$pid" 2>/dev/null || { echo "stress.sh: the daemon $pid died" >&2; return 1; }
	umount "$mnt" || return 1
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	pid=
}

mkdir -p "$dir"/{l1,l2,upper,work,mnt,ref}
echo "stress.sh: $LAYERFS in $dir: seed $seed, $epochs epochs of $rounds operations per worker"
"$STRESS" prepare -s "$seed" "${opts[@]}" "$dir/ref" "$dir/l1" "$dir/l2" || exit 1
for ((e = 0; e < epochs; e++)); do
	s=$((seed + e))
	mount_it || exit 1
	"$STRESS" run -s "$s" -r "$rounds" "${opts[@]}" "$mnt" "$dir/ref" || exit 1
	unmount_it || exit 1
	mount_it || exit 1
	"$STRESS" verify -s "$s" "${opts[@]}" "$mnt" "$dir/ref" || exit 1
	unmount_it || exit 1
	echo "stress.sh: epoch $((e + 1))/$epochs passed (seed $s)"
done
ok=1
echo "stress.sh: passed"
