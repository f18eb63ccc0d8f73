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

@test "passthrough: a lower file opened just before a copy-up finishes is never the file later opens pass through to" {
	kernel_at_least 6 9 || skip "FUSE passthrough needs Linux 6.9"
	echo old >"$L1/f"
	# the first open of f waits after opening the lower file, while a
	# chmod copies f up
	LAYERFS_TEST_PAUSE=open:f:1000 mount_layerfs
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
time.sleep(1.5)
print(os.pread(fd, 100, 0).decode(), end="")' "$M/f" >"$T/held" &
	local pid=$!
	sleep 0.3
	chmod 600 "$M/f"
	sleep 1.2
	echo NEW >>"$M/f" || fail "append after the copy-up"
	eq "$(cat "$M/f")" "old
NEW"
	wait "$pid"
	eq "$(cat "$T/held")" "old
NEW" "the descriptor opened before the copy-up"
	eq "$(cat "$L1/f")" old "the lower file"
	eq "$(cat "$U/f")" "old
NEW" "the upper file"
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

@test "passthrough: files open and unlinked take one descriptor each in the daemon: 450 under a limit of 512 it may not raise, with fsync, ftruncate, fallocate, pread and SEEK_DATA on each" {
	kernel_at_least 6 9 || skip "FUSE passthrough needs Linux 6.9"
	command -v capsh >/dev/null || skip "capsh not installed"
	local pid
	# without CAP_SYS_RESOURCE the daemon cannot lift the hard limit
	(ulimit -n 512 && capsh --drop=cap_sys_resource -- -c \
		"exec '$LAYERFS' -o 'lowerdir=$L1:$L2,upperdir=$U,workdir=$W' '$M'") 3>&- 2>"$T/daemon.err"
	pid=$(find_daemon_pid "$M") || fail "no daemon: $(cat "$T/daemon.err")"
	echo "fuse $pid $M" >>"$MOUNTS_FILE"
	grep -q '^Max open files *512 *512' "/proc/$pid/limits" || fail "limit: $(grep 'open files' "/proc/$pid/limits")"
	# each handle kept an fd, and each unlinked file pins one more: EMFILE
	# at about 250 files before
	run python3 -c 'import os, sys
fds = []
for i in range(450):
    p = "%s/f%d" % (sys.argv[1], i)
    fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o644)
    os.write(fd, b"x%d" % i)
    os.unlink(p)
    fds.append(fd)
for i, fd in enumerate(fds):
    os.fsync(fd)
    os.ftruncate(fd, 100)
    os.posix_fallocate(fd, 0, 8192)
    assert os.pread(fd, 8, 0).startswith(b"x%d" % i), i
    assert os.fstat(fd).st_size == 8192, i
    assert os.lseek(fd, 0, os.SEEK_DATA) == 0, i
print("ok", len(fds))' "$M"
	eq "$output" "ok 450"
	eq "$status" 0
}

# The first open for reading and writing of an upper file that passes
# through drops what the kernel kept of the inode, after the reply; the
# opener may close the file before that, and its RELEASE free the handle
# in another thread. The daemon read the node from the freed handle: a
# build with --enable-sanitizers died of a heap-use-after-free.
@test "passthrough: files opened for writing and closed at once by several processes: the daemon lives" {
	kernel_at_least 6 9 || skip "FUSE passthrough needs Linux 6.9"
	local i
	for ((i = 0; i < 3000; i++)); do echo x >"$U/f$i"; done
	mount_layerfs
	run -0 python3 -c '
import os, sys
m, bad = sys.argv[1], 0
kids = []
for n in range(3):
    pid = os.fork()
    if pid == 0:
        for i in range(n, 3000, 3):
            try:
                os.close(os.open(f"{m}/f{i}", os.O_RDWR))
            except OSError as e:
                print(f"f{i}: {e.strerror}")
                os._exit(1)
        os._exit(0)
    kids.append(pid)
for k in kids:
    bad |= os.waitpid(k, 0)[1]
print("bad" if bad else "ok")
' "$M"
	eq "$output" ok "opens"
}
