#!/usr/bin/env bats
# podman run as root with layerfs as the overlay driver's mount program:
# the daemon runs as real root, so file data of the container's upper
# layer passes through to the real files (see passthrough= in layerfs(1)).
# The storage lives in a directory of its own; nothing of the machine's
# /var/lib/containers is touched.  Needs podman, runc and busybox-static.

bats_require_minimum_version 1.5.0

setup_file() {
	if [ "$(id -u)" != 0 ] || ! command -v podman >/dev/null ||
		! command -v runc >/dev/null || [ ! -x /bin/busybox ]; then
		skip "needs root, podman, runc and busybox-static"
	fi
	PR=$(mktemp -d /tmp/lfs-podman-root.XXXXXX)
	export PR
	mkdir -p "$PR/root" "$PR/run" "$PR/rootfs/bin" "$PR/rootfs/etc"
	cat >"$PR/storage.conf" <<EOC
[storage]
driver = "overlay"
graphroot = "$PR/root"
runroot = "$PR/run"
[storage.options.overlay]
mount_program = "$LAYERFS"
EOC
	cp /bin/busybox "$PR/rootfs/bin/busybox"
	for c in sh cat echo ls dd chmod stat rm mv sync sleep sha256sum cp wc; do
		ln -s busybox "$PR/rootfs/bin/$c"
	done
	echo "from the image" >"$PR/rootfs/etc/motd"
	tar -C "$PR/rootfs" -cf "$PR/rootfs.tar" .
	rpm_ import "$PR/rootfs.tar" localhost/lfs-root:test >"$PR/import.log" 2>&1 || {
		cat "$PR/import.log" >&3
		return 1
	}
}

teardown_file() {
	[ -n "${PR:-}" ] || return 0
	rpm_ rm -a -f -t 0 >/dev/null 2>&1 || true
	rpm_ rmi -a -f >/dev/null 2>&1 || true
	# conmon starts "podman container cleanup" (its command line names
	# the storage) when a container exits, and that may come after the
	# commands above and mount the storage's overlay/ directory on itself
	# again (once in CI: rm: Device or resource busy): wait for such
	# processes, 10 s at most
	for _ in $(seq 40); do
		pgrep -f -- "$PR/" >/dev/null || break
		sleep 0.25
	done
	# anything still mounted below the storage (a failed run), and again
	# while the removal meets a mount point, 10 s at most
	for _ in $(seq 40); do
		unmount_below "$PR/"
		rm -rf "$PR" 2>/dev/null && return 0
		sleep 0.25
	done
	rm -rf "$PR"
}

unmount_below() { # PREFIX: lazily, deepest first
	awk -v p="$1" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
}

# podman as root on the test's own storage
rpm_() {
	CONTAINERS_STORAGE_CONF=$PR/storage.conf timeout -k 10 240 podman "$@"
}

# the run options this machine needs: runc, no network, no systemd, and
# open-file and process limits podman may set (its defaults can exceed
# the hard limits root has here)
run_opts() {
	echo --runtime runc --cgroup-manager cgroupfs --network none \
		--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096
}

@test "podman-root: a container writes, appends, renames and deletes files on a layerfs rootfs" {
	# shellcheck disable=SC2046
	run -0 rpm_ run --rm $(run_opts) localhost/lfs-root:test sh -c '
		echo hi >/new && cat /new
		dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null && stat -c %s /big
		echo appended >>/etc/motd && cat /etc/motd
		chmod 4755 /new && stat -c %a /new
		mv /new /moved && cat /moved
		rm /big && ls /big 2>&1 | wc -l
		mkdir /x && cp /bin/busybox /x/busybox && /x/busybox echo runs'
	[ "${lines[0]}" = hi ] || { echo "$output"; false; }
	[ "${lines[1]}" = 8388608 ]
	[ "${lines[2]}" = "from the image" ]
	[ "${lines[3]}" = appended ]
	[ "${lines[4]}" = 4755 ]
	[ "${lines[5]}" = hi ]
	[ "${lines[7]}" = runs ]
}

@test "podman-root: the rootfs is a layerfs mount whose writes reach the container's upper" {
	local cid mnt upper
	# shellcheck disable=SC2046
	cid=$(rpm_ run -d $(run_opts) localhost/lfs-root:test sh -c 'echo data >/written; sleep 60')
	mnt=$(rpm_ inspect -f '{{.GraphDriver.Data.MergedDir}}' "$cid")
	upper=$(rpm_ inspect -f '{{.GraphDriver.Data.UpperDir}}' "$cid")
	for _ in $(seq 50); do [ -e "$upper/written" ] && break; sleep 0.1; done
	[ "$(findmnt -n -o FSTYPE --mountpoint "$mnt")" = fuse.layerfs ] ||
		{ echo "no fuse.layerfs mount at $mnt: $(findmnt -n --mountpoint "$mnt")"; false; }
	[ "$(cat "$upper/written")" = data ]
	[ "$(rpm_ exec "$cid" cat /written)" = data ]
	rpm_ exec "$cid" sh -c 'echo more >>/written'
	[ "$(cat "$upper/written")" = "$(printf 'data\nmore')" ]
	rpm_ rm -f -t 0 "$cid" >/dev/null
	! awk -v m="$mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo ||
		{ echo "$mnt still mounted after rm"; false; }
}
