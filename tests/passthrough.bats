#!/usr/bin/env bats
# FUSE passthrough (root, Linux 6.9+): file data of the upper layer goes
# straight between the kernel and the real file; lower files, and files
# open through the page cache when they were copied up, keep going
# through the daemon. Data must be the same whichever way it went.

load helpers

setup() {
	common_setup
	need_root
}

teardown() {
	common_teardown
}

@test "passthrough: writes and reads of upper files do not reach the daemon" {
	kernel_at_least 6 9 || skip "FUSE passthrough needs Linux 6.9"
	head -c 4194304 /dev/urandom >"$T/data"
	debug_mount
	grep -q "passes through" "$T/debug.log" || fail "passthrough not negotiated: $(head -20 "$T/debug.log")"
	dd if="$T/data" of="$M/new" bs=64k status=none
	sync "$M/new"
	echo 3 >/proc/sys/vm/drop_caches
	eq "$(sha256sum <"$M/new")" "$(sha256sum <"$T/data")" "read back"
	# small writes at random offsets, then through mmap
	"$FSOPS" writeat "$M/new" 12345 hello
	python3 -c 'import mmap, sys
with open(sys.argv[1], "r+b") as f:
	m = mmap.mmap(f.fileno(), 0)
	m[100:105] = b"world"
	m.flush()' "$M/new"
	printf hello | dd of="$T/data" bs=1 seek=12345 conv=notrunc status=none
	printf world | dd of="$T/data" bs=1 seek=100 conv=notrunc status=none
	eq "$(sha256sum <"$M/new")" "$(sha256sum <"$T/data")" "after writeat and mmap"
	eq "$(sha256sum <"$U/new")" "$(sha256sum <"$T/data")" "the upper file"
	eq "$(requests WRITE)" 0 "WRITE requests"
	eq "$(requests READ)" 0 "READ requests"
	debug_umount
}

@test "passthrough: passthrough=0 sends file data through the daemon" {
	debug_mount passthrough=0
	! grep -q "passes through" "$T/debug.log" || fail "passthrough negotiated with passthrough=0"
	echo data >"$M/new"
	eq "$(cat "$M/new")" data
	[ "$(requests WRITE)" -gt 0 ] || fail "no WRITE request with passthrough=0"
	debug_umount
}

@test "passthrough: a lower file read while another opener writes it, then passed through" {
	seq 1 10000 >"$L1/f"
	mount_layerfs
	exec 4<"$M/f"
	head -c 5 <&4 >/dev/null
	# copy-up while fd 4 reads through the page cache: this writer goes
	# through the page cache too
	echo "first" >"$M/f"
	eq "$(cat "$M/f")" first
	exec 4<&-
	# nothing open through the page cache any more: this one passes through
	echo "second" >>"$M/f"
	eq "$(cat "$M/f")" "$(printf 'first\nsecond')"
	exec 5<"$M/f"
	echo "third" >>"$M/f"
	eq "$(cat <&5)" "$(printf 'first\nsecond\nthird')" "an open reader sees the appended data"
	exec 5<&-
	eq "$(cat "$U/f")" "$(printf 'first\nsecond\nthird')"
	eq "$(wc -l <"$L1/f")" 10000 "the lower file is untouched"
}

@test "passthrough: stores through a shared mapping show in stat (times, blocks), with the file open, after its close and after munmap" {
	kernel_at_least 6 9 || skip "FUSE passthrough needs Linux 6.9"
	printf 'lower\n' >"$L1/low"
	mount_layerfs
	# fails when the kernel keeps attributes it took before the stores:
	# the real file's mtime moves, the mount's stays in the past
	run python3 "$TOOLS/mapstat.py" "$M" "$U" new low
	eq "$output" ok
	eq "$status" 0
	eq "$(cat "$L1/low")" lower "the lower file is untouched"
}
