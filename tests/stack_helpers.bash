# Helpers for the stack-file and snapshot tests (stack.bats, snapshot.bats,
# tar.bats). Each test gets a scratch directory $T with a small layer
# tree; teardown unmounts whatever layerfs or tmpfs mounts were made
# below $T and removes it, also when the test failed.

# the binary of the tree the tests are in, as helpers.bash takes it (a
# fixed path tested another checkout's build)
LAYERFS=${LAYERFS:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/layerfs}

stack_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -x "$LAYERFS" ] || skip "no layerfs binary at $LAYERFS"
	T=$(mktemp -d /tmp/lfs-stack-test.XXXXXX)
	cd "$T" || return 1
}

# fail MESSAGE: end the test with MESSAGE
fail() {
	echo "$*" >&2
	return 1
}

# Mount points below $T, deepest first.
mounts_below() {
	awk -v t="$T" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

stack_teardown() {
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	cd /
	local mp i
	# processes a test started and listed in $T/.pids
	[ -f "$T/.pids" ] && xargs -r kill -9 <"$T/.pids" 2>/dev/null
	for i in 1 2 3; do
		for mp in $(mounts_below); do
			fusermount3 -u "$mp" 2>/dev/null || umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
		done
		[ -z "$(mounts_below)" ] && break
		sleep 0.2
	done
	# daemons whose lock files live here are gone with their mounts;
	# anything still holding one is ours to stop
	local lock pid
	for lock in $(find "$T" -xdev -name layerfs.lock 2>/dev/null); do
		pid=$(awk '{print $1}' "$lock" 2>/dev/null)
		if [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q layerfs "/proc/$pid/comm" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$T"
}

# A base layer and a second layer above it, an upper, a work dir and a
# mount point, and stack.json describing them.
make_stack() {
	mkdir -p layers/base/etc layers/base/d/sub layers/base/keep layers/app/etc upper work mnt
	echo base-a >layers/base/etc/a
	echo base-b >layers/base/etc/b
	echo base-c >layers/base/etc/c
	echo x >layers/base/d/x
	echo y >layers/base/d/sub/y
	echo k >layers/base/keep/k
	echo app-a >layers/app/etc/a
	echo app-only >layers/app/etc/app
	cat >stack.json <<-EOF
	{
	  "version": 1,
	  "layers": ["layers/base", {"path": "layers/app", "name": "app"}],
	  "upper": "upper",
	  "work": "work",
	  "mountpoint": "mnt",
	  "options": {"fsync": false}
	}
	EOF
}

# refuses CMD FILE MESSAGE: `layerfs CMD FILE` exits with status 1 and
# says MESSAGE (matched literally: JSON paths hold brackets)
refuses() {
	run "$LAYERFS" "$1" "$2"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$3"* ]]
}

# A stable description of a tree: path, type, mode, owner, link target,
# and a checksum of file contents. Used to compare merged views.
tree_listing() {
	(cd "$1" && {
		find . -mindepth 1 -printf '%p %y %m %U:%G %l\n'
		find . -mindepth 1 -type f -exec md5sum {} + | awk '{ print $2 " md5 " $1 }'
	} | sort)
}

wait_mounted() {
	local i
	for i in $(seq 50); do
		grep -q " $1 .* - fuse.layerfs " /proc/self/mountinfo && return 0
		sleep 0.1
	done
	return 1
}

is_mounted() {
	grep -q " $1 .* - fuse.layerfs " /proc/self/mountinfo
}

# Writing into a stack through a mount, for setting up uppers.
# usage: with_mount STACK COMMANDS... (run in the mount point)
with_mount() {
	local stack=$1
	shift
	"$LAYERFS" mount "$stack" || return 1
	local mp
	mp=$("$LAYERFS" check "$stack" | sed -n 's/^mountpoint: //p')
	(cd "$mp" && eval "$*")
	local rc=$?
	"$LAYERFS" umount "$stack" || return 1
	return $rc
}
