#!/usr/bin/env bats
# noopen: the kernel opens files without a request (FUSE's no-open mode);
# layerfs reaches the real file at each read or write and copies up at
# the first write. writeback=0: no writeback cache. What programs read
# and write must not change.

load helpers

teardown() {
	# an append-only file left by a failed test would stay behind
	[ -n "${U:-}" ] && [ -e "$U/g" ] && chattr -a "$U/g" 2>/dev/null
	common_teardown
}

lower_files() {
	mkdir -p "$L2/d" "$L1/d"
	echo lowerdata >"$L2/d/f"
	echo one >"$L2/d/a"
	echo two >"$L1/d/b"
	printf abcdef >"$L1/d/t"
	head -c 300000 /dev/urandom >"$L2/d/big"
}

@test "noopen: opening, reading and closing files sends no OPEN and no RELEASE" {
	lower_files
	debug_mount noopen
	for i in 1 2 3; do
		eq "$(cat "$M/d/f" "$M/d/a" "$M/d/b")" "$(printf 'lowerdata\none\ntwo')"
		cmp "$M/d/big" "$L2/d/big"
	done
	debug_umount
	# the first open of the mount is asked once; ENOSYS tells the
	# kernel to stop asking
	[ "$(requests OPEN)" -le 1 ] || fail "$(requests OPEN) OPEN requests"
	eq "$(requests RELEASE)" 0 "RELEASE requests"
	[ "$(requests READ)" -ge 1 ] || fail "no READ: the data came from elsewhere"
	[ ! -e "$U/d" ] || fail "reading copied something up: $(ls -R "$U")"
}

@test "noopen,writeback=0: a cached file is opened, read, stat'ed and closed without any request" {
	local holder
	lower_files
	debug_mount noopen,writeback=0
	cat "$M/d/f" "$M/d/a" "$M/d/big" >/dev/null
	stat "$M/d/f" "$M/d/a" "$M/d/big" >/dev/null
	# held open, the files keep their inodes in the kernel should it
	# reclaim dentries meanwhile (a FORGET and a LOOKUP would be asked),
	# and mapped and locked, their pages: this project's VM reclaims
	# memory it finds cold (DAMON), and a page of big it took came back
	# with a READ (one run in twenty, under load)
	spawn "$FSOPS" holdcached "$T/held" "$M/d/f" "$M/d/a" "$M/d/big"
	holder=$BG_PID
	wait_until 10 test -e "$T/held" || fail "the files were not held in the cache"
	local lines=$(wc -l <"$T/debug.log") asked
	for i in 1 2 3; do
		eq "$(cat "$M/d/f" "$M/d/a")" "$(printf 'lowerdata\none')"
		cmp "$M/d/big" "$L2/d/big"
		stat -c %s "$M/d/f" "$M/d/a" "$M/d/big" >/dev/null
	done
	asked=$(tail -n +$((lines + 1)) "$T/debug.log" | grep -a 'opcode: ' | head -5)
	echo more >>"$M/d/a"
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	debug_umount
	eq "$asked" "" "requests for cached files"
	eq "$(cat "$U/d/a")" "$(printf 'one\nmore')" "a write without the writeback cache"
}

@test "noopen: files made after the kernel stopped asking hold no descriptor in the daemon" {
	lower_files
	mount_layerfs noopen
	local pid=$(_mount_pid "$M") before after i
	cat "$M/d/f" >/dev/null	# the OPEN answered ENOSYS
	before=$(ls "/proc/$pid/fd" | wc -l)
	for i in $(seq 200); do
		echo "$i" >"$M/n$i"
	done
	after=$(ls "/proc/$pid/fd" | wc -l)
	[ "$after" -lt $((before + 20)) ] || fail "the daemon's fds went from $before to $after"
	eq "$(cat "$M/n7" "$U/n200" | tr '\n' ' ')" "7 200 " "created files"
	rm "$M/n1"
	eq "$(ls "$U" | grep -c '^n')" 199 "files in the upper after a delete"
}

@test "writeback=0: an mmap write into an O_APPEND file lands at its offset (with and without noopen)" {
	local o
	for o in passthrough=0,writeback=0 noopen,writeback=0 noopen; do
		mount_layerfs "$o"
		python3 - "$M/app" <<-'EOF' || fail "with $o"
		import mmap, os, sys
		fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o644)
		os.write(fd, b"a" * 8192)
		m = mmap.mmap(fd, 8192)
		m[0:1] = b"X"
		m.flush()
		m.close()
		os.write(fd, b"tail")
		os.close(fd)
		EOF
		unmount_layerfs
		eq "$(stat -c %s "$U/app")" 8196 "size with $o"
		eq "$(head -c 2 "$U/app")" Xa "start with $o"
		eq "$(tail -c 4 "$U/app")" tail "end with $o"
		rm "$U/app"
	done
}

@test "append-only files (chattr +a): appends land once, through the writeback cache, without it and with noopen" {
	need_root
	local o pad
	head -c 3000000 /dev/urandom >"$T/big"
	head -c 8192 /dev/urandom >"$T/direct"
	for o in passthrough=0 passthrough=0,writeback=0 noopen noopen,writeback=0 ""; do
		mount_layerfs "$o"
		echo a >"$M/g"
		sync "$M/g"
		chattr +a "$U/g" 2>/dev/null || skip "no chattr +a on the test directory's file system"
		# appends of part of a page: the writeback cache sends the page
		# from its start, with the bytes the file already holds; close
		# and fsync must not fail (the kernel sends the new mtime)
		python3 - "$M/g" <<-'EOF' || fail "append, fsync and close with '$o'"
		import os, sys
		fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
		os.write(fd, b"more\n")
		os.fsync(fd)
		os.close(fd)
		EOF
		echo third >>"$M/g" || fail "second append with '$o'"
		sync "$M/g" || fail "fsync with '$o'"
		if [[ "$o" != noopen* ]]; then
			# an open for writing without O_APPEND is refused
			! printf X 2>/dev/null >"$M/g" || fail "O_TRUNC open of an append-only file with '$o'"
			! python3 -c 'import os, sys; os.open(sys.argv[1], os.O_WRONLY)' "$M/g" 2>/dev/null ||
				fail "plain write open with '$o'"
		fi
		eq "$(cat "$M/g")" "$(printf 'a\nmore\nthird')" "read back with '$o'"
		# more than one request's worth (1 MiB): the writeback cache
		# sends the pieces at once, to threads that serve them in any
		# order
		cat "$T/big" >>"$M/g" || fail "large append with '$o'"
		sync "$M/g" || fail "fsync of the large append with '$o'"
		if [[ "$o" != noopen* ]]; then
			# O_DIRECT appends of whole blocks, at an aligned end
			cp "$U/g" "$T/expect"
			pad=$(( (4096 - $(stat -c %s "$U/g") % 4096) % 4096 ))
			head -c "$pad" /dev/zero >>"$M/g" || fail "padding with '$o'"
			head -c "$pad" /dev/zero >>"$T/expect"
			sync "$M/g"
			dd if="$T/direct" of="$M/g" bs=4096 oflag=direct,append conv=notrunc status=none ||
				fail "O_DIRECT append with '$o'"
			cat "$T/direct" >>"$T/expect"
		else
			{ printf 'a\nmore\nthird\n'; cat "$T/big"; } >"$T/expect"
		fi
		unmount_layerfs
		chattr -a "$U/g"
		cmp "$U/g" "$T/expect" || fail "on disk with '$o'"
		rm "$U/g"
	done
}

@test "noopen: the copy-up comes with the first write, and a read-only descriptor then reads the upper copy" {
	lower_files
	mount_layerfs noopen
	exec 5<"$M/d/f"
	exec 6>>"$M/d/f"
	[ ! -e "$U/d/f" ] || fail "an open for writing copied up without a write"
	echo more >&6
	exec 6>&-
	eq "$(cat <&5)" "$(printf 'lowerdata\nmore')" "the descriptor opened before the copy-up"
	exec 5<&-
	eq "$(cat "$U/d/f")" "$(printf 'lowerdata\nmore')" "upper copy"
	eq "$(cat "$L2/d/f")" lowerdata "lower file"
	unmount_layerfs
	mount_layerfs noopen
	eq "$(cat "$M/d/f")" "$(printf 'lowerdata\nmore')" "after a remount"
}

@test "noopen: O_DIRECT reads and writes are checked for alignment as on the real file" {
	head -c 65536 /dev/urandom >"$L1/low"
	cp "$L1/low" "$T/real"
	# offset/length pairs: aligned, short, at a misaligned offset
	local prog='
import errno, mmap, os, sys
buf = mmap.mmap(-1, 8192)
out = []
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    for off, n in ((0, 4096), (0, 100), (100, 4096)):
        for op in (os.preadv, os.pwritev):
            try:
                op(fd, [memoryview(buf)[:n]], off)
                out.append("ok")
            except OSError as e:
                out.append(errno.errorcode[e.errno])
    os.close(fd)
print(" ".join(out))
'
	local real o
	real=$(python3 -c "$prog" "$T/real")
	for o in noopen noopen,writeback=0; do
		mount_fresh "$o"
		# the daemon read and wrote any of them through a plain descriptor
		eq "$(python3 -c "$prog" "$M/low")" "$real" "O_DIRECT results with '$o'"
		unmount_layerfs
	done
}

@test "noopen: a lower file deleted while open for writing takes the writes and reads them back" {
	lower_files
	mount_layerfs noopen
	python3 - "$M/d/f" <<-'EOF'
	import os, sys
	fd = os.open(sys.argv[1], os.O_RDWR)
	os.unlink(sys.argv[1])
	os.pwrite(fd, b"NEW", 0)
	os.fsync(fd)
	with open("/proc/sys/vm/drop_caches", "w") as f:
	    f.write("3")
	got = os.pread(fd, 100, 0)
	assert got == b"NEWerdata\n", got
	assert os.fstat(fd).st_nlink == 0
	os.close(fd)
	EOF
	[ ! -e "$M/d/f" ] || fail "the file came back"
	eq "$(cat "$L2/d/f")" lowerdata "lower file"
	eq "$(find "$W" -name '#*' | wc -l)" 0 "staging files left"
}

@test "noopen: removing a lower file copies nothing, also while it is held open" {
	local copies
	lower_files
	ln "$L2/d/f" "$L2/d/f2"
	mount_layerfs noopen
	exec 5<"$M/d/big"
	# the writeback cache moves the ctime of the file it unlinks and
	# sends it back with the mtime as it was: nothing to copy for
	rm "$M/d/f" "$M/d/big"
	copies=$(ls -l "/proc/$DAEMON_PID/fd" | grep -F "$W" | grep -F '(deleted)' || true)
	cmp - "$L2/d/big" <&5 || copies="$copies; the held descriptor read other data"
	exec 5<&-
	[ -z "$copies" ] || fail "copied: $copies"
	[ ! -e "$U/d/f2" ] || fail "the other name of the hard link was copied up"
	eq "$(cat "$M/d/f2")" lowerdata "the other name"
	[ ! -e "$M/d/f" ] && [ ! -e "$M/d/big" ] || fail "a removed file is still there"
}

@test "noopen: a file read in several requests keeps one descriptor in the daemon, which a copy-up leaves behind" {
	head -c 3000000 /dev/urandom >"$L2/huge"
	echo small >"$L2/small"
	mount_layerfs noopen
	python3 - "$M" "$L2/huge" "$DAEMON_PID" <<-'EOF'
	import os, sys
	m, lower, pid = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
	def dropped():
	    with open("/proc/sys/vm/drop_caches", "w") as f:
	        f.write("3")
	def kept(name):
	    # the daemon sees the lower layers through a mount of its own
	    n = 0
	    for fd in os.listdir(f"/proc/{pid}/fd"):
	        try:
	            n += os.readlink(f"/proc/{pid}/fd/{fd}").endswith("/" + name)
	        except FileNotFoundError:
	            pass
	    return n
	rd = os.open(m + "/huge", os.O_RDONLY)
	for off in (2000000, 1000000, 0, 2999000):
	    dropped()
	    assert os.pread(rd, 1000, off) == lower[off:off + 1000], off
	open(m + "/small").read()
	assert (kept("huge"), kept("small")) == (1, 0), (kept("huge"), kept("small"))
	wr = os.open(m + "/huge", os.O_WRONLY)
	os.pwrite(wr, b"X" * 5000, 1500000)
	os.fsync(wr)
	os.close(wr)
	dropped()
	for fd in (rd, os.open(m + "/huge", os.O_RDONLY)):
	    got = os.pread(fd, 8000, 1499000)
	    assert got == lower[1499000:1500000] + b"X" * 5000 + lower[1505000:1507000], "stale data"
	EOF
	cmp -n 1500000 "$U/huge" "$L2/huge" || fail "the copy"
}

@test "noopen: O_TRUNC truncates on disk (the kernel sends it as a setattr)" {
	lower_files
	mount_layerfs noopen
	echo x >"$M/d/t"
	eq "$(cat "$M/d/t")" x "merged"
	eq "$(cat "$U/d/t")" x "upper"
	eq "$(stat -c %s "$U/d/t")" 2 "upper size"
	eq "$(cat "$L1/d/t")" abcdef "lower"
}

@test "noopen: mmap writes, fsync, fallocate, copy_file_range and SEEK_DATA reach the real files" {
	lower_files
	mount_layerfs noopen
	python3 - "$M/d" <<'EOF'
import mmap, os, sys
d = sys.argv[1]
fd = os.open(d + "/a", os.O_RDWR)
m = mmap.mmap(fd, 4)
m[0:3] = b"ONE"
m.flush()
m.close()
os.fsync(fd)
os.close(fd)
fd = os.open(d + "/new", os.O_RDWR | os.O_CREAT, 0o644)
os.posix_fallocate(fd, 0, 8192)
src = os.open(d + "/big", os.O_RDONLY)
assert os.copy_file_range(src, fd, 1000, 0, 0) == 1000
assert os.lseek(src, 0, os.SEEK_DATA) == 0
os.close(src)
os.close(fd)
fd = os.open(d + "/b", os.O_WRONLY)
os.posix_fallocate(fd, 0, 10000)
os.close(fd)
EOF
	eq "$(cat "$U/d/a")" ONE "mmap write in the upper"
	cmp -n 1000 "$U/d/new" "$L2/d/big"
	eq "$(stat -c %s "$U/d/new")" 8192 "size after fallocate"
	eq "$(stat -c %s "$U/d/b")" 10000 "fallocate copied b up"
	eq "$(head -c 4 "$U/d/b")" "$(printf 'two\n')" "b's data copied up"
	eq "$(stat -c %s "$M/d/b")" 10000 "merged size"
}

# refused_write FILE WHAT: with the small upper (upper_on_small_tmpfs 2m)
# filled to about 140 KiB free, write 400 KiB of y ($T/y) to FILE and fsync it
# (write_fsync, which takes AFTER_OPEN and AFTER_FSYNC): the page cache
# takes all of it, the upper only a part of the WRITE that brings it, and
# the fsync must fail with ENOSPC. WHAT names the case in a failure.
refused_write() {
	head -c 400K /dev/zero | tr '\0' y >"$T/y"
	rm -f "$T/fs/fill"
	head -c 1900K /dev/zero >"$T/fs/fill"
	run write_fsync "$1" <"$T/y"
	[[ "$output" == "fsync: No space left on device"* ]] ||
		fail "$2: '$output' (upper: $(stat -c %s "$U/f" 2>/dev/null) bytes)"
}

@test "writeback cache: a write the upper has only part of the room for fails at fsync, and the mount then shows what the upper holds" {
	upper_on_small_tmpfs 2m
	for o in noopen passthrough=0; do
		mount_fresh "$o"
		refused_write "$M/f" "with $o"
		# the kernel drops what it kept of the refused pages, and the
		# inode once closed (it takes the size from us only then)
		wait_until 10 cmp -s "$M/f" "$U/f" ||
			fail "with $o the mount shows $(tr -d y <"$M/f" | wc -c) bytes that are no y and $(stat -c %s "$M/f") in all, the upper $(stat -c %s "$U/f")"
		unmount_layerfs
	done
}

@test "writeback cache: after a write the upper had no room for, each name of a file with two shows what the upper holds, and an append through one leaves no hole" {
	# the kernel keeps an inode's size itself under the writeback cache:
	# dropping the written name's entry is not enough while another
	# name (a hard link the kernel has looked up) still holds the inode
	kernel_at_least 6 18 || skip "needs FUSE_NOTIFY_PRUNE (Linux 6.18)"
	upper_on_small_tmpfs 2m
	for o in noopen passthrough=0; do
		mount_fresh "$o"
		rm -f "$T/fs/fill"
		echo base >"$M/f"
		ln "$M/f" "$M/g"
		refused_write "$M/f" "with $o"
		for n in f g; do
			wait_until 10 cmp -s "$M/$n" "$U/f" ||
				fail "with $o $n shows $(stat -c %s "$M/$n") bytes, the upper holds $(stat -c %s "$U/f")"
		done
		rm "$T/fs/fill"
		local size
		size=$(stat -c %s "$U/f")
		run write_fsync "$M/g" append <<<more
		eq "$output" "" "the append with $o"
		eq "$(stat -c %s "$U/f")" $((size + 5)) "upper size after the append with $o"
		cmp "$M/f" "$U/f" || fail "with $o the mount and the upper differ after the append"
		unmount_layerfs
	done
}

# after_pages_dropped CMD: write $T/after, a script for write_fsync's
# AFTER_FSYNC that waits until the kernel dropped the refused pages of
# $T/mnt/f (its last byte reads as a zero: past the upper's end), and
# with them the file's entry, then runs the shell command CMD (which
# sees the script's arguments)
after_pages_dropped() {
	cat >"$T/after" <<-EOF
		i=0
		while [ \$i -lt 100 ] && [ "\$(tail -c 1 '$T/mnt/f' | od -An -tx1 | tr -d ' ')" != 00 ]; do
			sleep 0.1; i=\$((i + 1))
		done
		$1
	EOF
}

@test "writeback cache: after a write the upper had no room for, a name looked up or listed again before the close shows what the upper holds after it" {
	upper_on_small_tmpfs 2m
	# after the fsync the name is looked up again while the file is open
	after_pages_dropped "if [ \"\$1\" = ls ]; then ls -l '$T/mnt' >/dev/null; else stat '$T/mnt/f' >/dev/null; fi"
	for o in noopen passthrough=0; do
		# by a stat, and by a listing (READDIRPLUS)
		for look in stat ls; do
			mount_fresh "$o"
			AFTER_FSYNC="sh $T/after $look" refused_write "$M/f" "with $o"
			wait_until 10 cmp -s "$M/f" "$U/f" ||
				fail "with $o and $look the mount shows $(stat -c %s "$M/f") bytes, the upper holds $(stat -c %s "$U/f")"
			unmount_layerfs
		done
	done
}

# A LINK's reply is an entry of the inode too: made while the file is
# open after its writeback failed, it kept the inode, and the size the
# failed write made, past the last close, through both names.
@test "writeback cache: after a write the upper had no room for, a hard link made before the close shows what the upper holds after it" {
	upper_on_small_tmpfs 2m
	after_pages_dropped "ln '$T/mnt/f' '$T/mnt/h'"
	for o in noopen passthrough=0; do
		mount_fresh "$o"
		AFTER_FSYNC="sh $T/after" refused_write "$M/f" "with $o"
		for n in f h; do
			wait_until 10 cmp -s "$M/$n" "$U/f" ||
				fail "with $o $n shows $(stat -c %s "$M/$n") bytes, the upper holds $(stat -c %s "$U/f")"
		done
		unmount_layerfs
	done
}

@test "writeback cache: appends to an upper file leave its access time alone, as on the kernel's overlay (noopen, passthrough=0)" {
	local o
	echo hello >"$L2/f"
	for o in noopen passthrough=0; do
		touch -a -d @1000000000 "$L2/f"
		mount_fresh "$o"
		# copied up without its data in the page cache: the append
		# below makes the kernel fill the page from the upper file
		chmod 640 "$M/f"
		eq "$(stat -c %X "$U/f")" 1000000000 "$o: the copy-up kept the atime"
		echo more >>"$M/f"
		unmount_layerfs
		eq "$(stat -c %X "$U/f")" 1000000000 "$o: a write-only append moved the atime"
		eq "$(cat "$U/f")" "$(printf 'hello\nmore')" "$o: data"
		touch -a -d @1000000000 "$U/f"
		# a read of the caller's does move it (relatime)
		mount_layerfs "$o"
		cat "$M/f" >/dev/null
		unmount_layerfs
		[ "$(stat -c %X "$U/f")" -gt 1000000000 ] || fail "$o: a read left the atime"
	done
}

@test "noopen: a write a read-only upper refused leaves nothing in the mount, nor in a later append" {
	# (without noopen the daemon holds the upper file open for writing,
	# and the upper cannot be made read-only under it)
	upper_on_small_tmpfs 2m
	mount_layerfs noopen
	echo base >"$M/f"
	AFTER_OPEN="mount -o remount,ro '$T/fs'" run write_fsync "$M/f" append <<<refused
	mount -o remount,rw "$T/fs"
	[[ "$output" == "fsync: Read-only file system"* ]] || fail "'$output'"
	wait_until 10 cmp -s "$M/f" "$U/f" ||
		fail "the mount shows '$(cat "$M/f")', the upper '$(cat "$U/f")'"
	run write_fsync "$M/f" append <<<more
	eq "$output" "" "the append after"
	eq "$(cat "$U/f")" "base
more" "upper"
	eq "$(cat "$M/f")" "base
more" "mount"
}

# The kernel may forget a file once the reply to its failed writeback
# ends that writeback (here: the last descriptor of an unlinked file is
# closed). The daemon holds the reply's work after it (LAYERFS_TEST_PAUSE)
# until that FORGET is served: the node must still be its own then. The
# use of the freed node shows in a build with --enable-sanitizers, whose
# report goes to $T/asan.PID (the daemon's stderr is /dev/null); leaks
# are not looked for (libfuse's at an exit during a paused request).
@test "writeback cache: a file forgotten right after the reply to its failed writeback is still the daemon's to invalidate" {
	upper_on_small_tmpfs 2m
	LAYERFS_TEST_PAUSE=write_failed::800 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:log_path=$T/asan" mount_layerfs noopen
	head -c 1900K /dev/zero >"$T/fs/fill"
	head -c 400K /dev/zero >"$T/z"
	AFTER_OPEN="rm '$M/f'" run write_fsync "$M/f" <"$T/z"
	[[ "$output" == "fsync: "* ]] || fail "sanity: the writeback did not fail: '$output'"
	unmount_layerfs
	! compgen -G "$T/asan.*" >/dev/null || fail "$(cat "$T"/asan.*)"
}

# stress_noopen OPTIONS: the integrity test (integrity.bats) on a mount
# with OPTIONS, a random seed
stress_noopen() {
	local seed=$(((RANDOM << 15) | RANDOM)) opts=(-p 2 -t 3 -f 3)
	rm -rf "$T/ref" "$U" "$W" "$L1" "$L2"
	mkdir -p "$T/ref" "$U" "$W" "$L1" "$L2"
	echo "# stress seed $seed with $1" >&2
	"$TOOLS/stress" prepare -s "$seed" "${opts[@]}" "$T/ref" "$L1" "$L2"
	mount_layerfs "$1"
	"$TOOLS/stress" run -s "$seed" -r "${STRESS_TEST_ROUNDS:-1500}" "${opts[@]}" "$M" "$T/ref"
	unmount_layerfs
	mount_layerfs "$1"
	"$TOOLS/stress" verify -s "$seed" "${opts[@]}" "$M" "$T/ref"
	unmount_layerfs
}

@test "noopen: random I/O by threads and processes matches a plain directory, and after a remount" {
	stress_noopen noopen
	stress_noopen noopen,writeback=0
}

@test "noopen: random operations on names in every layer give the kernel's results" {
	local seed
	local opts
	for seed in 101 102 103 104 105 106; do
		opts=,noopen
		[ "$seed" -gt 104 ] && opts=,noopen,writeback=0
		python3 "$SCRIPTS/difffuzz.py" --layerfs "$LAYERFS" --dir "$T/fuzz$seed" \
			--seed "$seed" --ops 400 --opts "$opts" >"$T/fuzz.out" 2>&1 ||
			fail "$(cat "$T/fuzz.out")"
	done
}
