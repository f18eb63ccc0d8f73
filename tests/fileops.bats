#!/usr/bin/env bats
# File operations: statfs, access, fsync, fallocate, copy_file_range,
# lseek, locks, name length, unlinked files, mmap, parallel I/O.

load helpers

@test "fileops: statfs reports the upper layer's file system" {
	mount_layerfs
	eq "$(stat -f -c '%b %S %c' "$M")" "$(stat -f -c '%b %S %c' "$U")" "blocks, block size, inodes"
	eq "$(stat -f -c %l "$M")" "$(stat -f -c %l "$U")" "namemax"
	local fm fu
	fm=$(stat -f -c %a "$M")
	fu=$(stat -f -c %a "$U")
	# free blocks move a little while the test runs: same order of magnitude
	[ $((fm - fu)) -lt 10000 ] && [ $((fu - fm)) -lt 10000 ] || fail "free blocks $fm vs $fu"
}

@test "fileops: a name of f_namemax chars works, one more gives ENAMETOOLONG" {
	mkdir "$L1/d"
	mount_layerfs
	local n ok long
	n=$(stat -f -c %l "$M")
	[ "$n" -gt 0 ] || fail "f_namemax is $n"
	ok=$(printf 'a%.0s' $(seq 1 "$n"))
	long=${ok}b
	echo x >"$M/$ok"
	eq "$(cat "$M/$ok")" x
	"$FSOPS" mkdir "$M/d/$ok"
	expect_errno ok stat "$M/d/$ok"
	expect_errno ENAMETOOLONG stat "$M/$long"
	expect_errno ENAMETOOLONG stat "$M/d/$long"
	expect_errno ENAMETOOLONG write "$M/$long" x
	expect_errno ENAMETOOLONG mkdir "$M/d/$long"
	expect_errno ENAMETOOLONG symlink x "$M/$long"
	expect_errno ENAMETOOLONG rename "$M/$ok" "$M/$long"
	eq "$(ls "$M" | wc -l)" 2
}

@test "fileops: fstat of an open file after unlink reports st_nlink 0 (upper file)" {
	mount_layerfs
	echo data >"$M/f"
	run -0 "$FSOPS" unlinkstat "$M/f"
	[[ "$output" == *"nlink=0 "* ]] || fail "fstat after unlink: $output"
	[[ "$output" == *"size=5 "* ]] || fail "size after unlink: $output"
	expect_errno ENOENT stat "$M/f"
}

@test "fileops: fstat of an open file after unlink reports st_nlink 0 (lower file)" {
	echo data >"$L1/f"
	mount_layerfs
	run -0 "$FSOPS" unlinkstat "$M/f"
	[[ "$output" == *"nlink=0 "* ]] || fail "fstat after unlink: $output"
	expect_errno ENOENT stat "$M/f"
	eq "$(cat "$L1/f")" data
}

@test "fileops: fstat of an open file after unlink reports st_nlink 0 (lower file with hard links), with and without the writeback cache" {
	local opts
	echo data >"$L1/f"
	ln "$L1/f" "$L1/g"
	ln "$L1/f" "$L1/h"
	for opts in "" passthrough=0 noopen; do
		mount_fresh "$opts"
		run -0 "$FSOPS" unlinkstat "$M/f"
		# the writeback cache keeps the count the kernel lowered itself
		[[ "$output" == *"nlink=0 "* ]] || fail "fstat after unlink ($opts): $output"
		eq "$(stat -c %h "$M/g")" 3 "the lower count of another name ($opts)"
		unmount_layerfs
	done
}

@test "fileops: an unlinked open file keeps its data for the holder" {
	echo data >"$L1/f"
	mount_layerfs
	spawn "$FSOPS" holdopen "$M/f" r "$T/ready" "$T/release" read >"$T/out"
	local p=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "holdopen did not start"
	rm "$M/f"
	echo other >"$M/f"
	touch "$T/release"
	wait "$p"
	eq "$(cat "$T/out")" data
	eq "$(cat "$M/f")" other
}

@test "fileops: access(2)" {
	need_root
	echo x >"$L1/f"
	chmod 644 "$L1/f"
	echo x >"$L1/exe"
	chmod 755 "$L1/exe"
	mount_layerfs
	expect_errno ok access "$M/f" f
	expect_errno ok access "$M/f" rw
	expect_errno EACCES access "$M/f" x
	expect_errno ok access "$M/exe" rx
	expect_errno ENOENT access "$M/none" f
	eq "$(names "$U")" "" "access does not copy up"
	make_traversable
	chmod 755 "$M"
	need_user_exec 4242 4242 "$FSOPS"
	run -0 as_user 4242 4242 "$FSOPS" access "$M/f" r
	run -1 as_user 4242 4242 "$FSOPS" access "$M/f" w
	eq "$output" EACCES
	unmount_layerfs
	mount_ro
	expect_errno EROFS access "$M/f" w
	expect_errno ok access "$M/f" r
}

@test "fileops: fsync, fdatasync and fsyncdir" {
	mkdir "$L1/d"
	echo x >"$L1/f"
	mount_layerfs
	echo y >"$M/g"
	expect_errno ok fsync "$M/g"
	expect_errno ok fdatasync "$M/g"
	expect_errno ok fsync "$M/f"
	expect_errno ok fsyncdir "$M/d"
	expect_errno ok fsyncdir "$M"
	unmount_layerfs
	mount_layerfs fsync=0
	expect_errno ok fsync "$M/g"
	expect_errno ok fsyncdir "$M/d"
}

@test "fileops: fallocate: allocate, keep size, punch hole" {
	echo lower >"$L1/low"
	mount_layerfs
	touch "$M/f"
	"$FSOPS" fallocate "$M/f" 0 0 1048576
	eq "$(stat -c %s "$M/f")" 1048576
	[ "$(stat -c %b "$U/f")" -ge 2048 ] || fail "blocks not allocated"
	"$FSOPS" fallocate "$M/f" keep 1048576 1048576
	eq "$(stat -c %s "$M/f")" 1048576 "KEEP_SIZE changed the size"
	"$FSOPS" fill "$M/g" 1048576 5
	"$FSOPS" fallocate "$M/g" punch 0 524288
	eq "$(head -c 524288 "$M/g" | tr -d '\0' | wc -c)" 0 "punched range reads zeros"
	eq "$(stat -c %s "$M/g")" 1048576
	# on a lower file: copied up first
	"$FSOPS" fallocate "$M/low" 0 0 8192
	eq "$(stat -c %s "$M/low")" 8192
	eq "$(head -c 5 "$M/low")" lower
	eq "$(stat -c %s "$L1/low")" 6
}

@test "fileops: copy_file_range" {
	"$FSOPS" fill "$L1/src" 5000000 9
	mount_layerfs
	run -0 "$FSOPS" cfr "$M/src" "$M/dst"
	eq "$output" 5000000
	eq "$(sha "$M/dst")" "$(sha "$L1/src")"
	eq "$(sha "$U/dst")" "$(sha "$L1/src")"
	"$FSOPS" fill "$M/src2" 100000 10
	run -0 "$FSOPS" cfr "$M/src2" "$M/dst"
	eq "$(sha "$M/dst")" "$(sha "$M/src2")"
}

@test "fileops: lseek SEEK_DATA and SEEK_HOLE" {
	mount_layerfs
	truncate -s 10M "$M/sp"
	printf data | dd of="$M/sp" bs=1M seek=5 conv=notrunc status=none
	eq "$("$FSOPS" seek "$M/sp" data 0)" 5242880
	eq "$("$FSOPS" seek "$M/sp" hole 0)" 0
	local h
	h=$("$FSOPS" seek "$M/sp" hole 5242880)
	[ "$h" -gt 5242880 ] && [ "$h" -le 10485760 ] || fail "hole after data at $h"
	expect_errno ENXIO seek "$M/sp" data 6291456
	expect_errno ENXIO seek "$M/sp" data 20000000
	# the same on a lower sparse file
	truncate -s 4M "$L1/lsp"
	printf x | dd of="$L1/lsp" bs=1M seek=2 conv=notrunc status=none
	eq "$("$FSOPS" segments "$M/lsp")" "$("$FSOPS" segments "$L1/lsp")"
}

@test "fileops: SEEK_DATA and SEEK_HOLE find data that is still in the kernel's writeback cache (noopen, passthrough=0), and in passthrough mode" {
	local opt out
	for opt in "" noopen passthrough=0; do
		mount_fresh "$opt"
		out=$(python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"x" * 100000)
print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE), os.fstat(fd).st_size)
os.fsync(fd)
os.pwrite(fd, b"y" * 100000, 100000)
print(os.lseek(fd, 150000, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE))
' "$M/f")
		eq "$out" "$(printf '0 100000 100000\n150000 200000')" "${opt:-default}"
		unmount_layerfs "$M"
	done
}

@test "fileops: flock between two processes (EWOULDBLOCK), released on exit" {
	echo x >"$L1/f"
	mount_layerfs
	echo y >"$M/g"
	local f p
	for f in f g; do
		rm -f "$T/ready" "$T/release"
		spawn "$FSOPS" lockhold flock "$M/$f" "$T/ready" "$T/release"
		p=$BG_PID
		wait_until 10 test -e "$T/ready" || fail "holder did not lock $f"
		expect_errno EAGAIN locktry flock "$M/$f"
		touch "$T/release"
		wait "$p"
		expect_errno locked locktry flock "$M/$f" 2>/dev/null ||
			eq "$("$FSOPS" locktry flock "$M/$f")" locked "lock after release ($f)"
	done
}

@test "fileops: POSIX record locks between two processes" {
	echo x >"$L1/f"
	mount_layerfs
	local p out
	spawn "$FSOPS" lockhold posix "$M/f" "$T/ready" "$T/release"
	p=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "holder did not lock"
	out=$(errno_of locktry posix "$M/f")
	[ "$out" = EAGAIN ] || [ "$out" = EACCES ] || fail "second F_SETLK: $out"
	out=$(errno_of locktry ofd "$M/f")
	[ "$out" = EAGAIN ] || [ "$out" = EACCES ] || fail "OFD lock against a POSIX lock: $out"
	touch "$T/release"
	wait "$p"
	eq "$("$FSOPS" locktry posix "$M/f")" locked
}

@test "fileops: O_EXCL create fails on lower names, works over deleted ones" {
	echo x >"$L2/f"
	mount_layerfs
	expect_errno EEXIST open "$M/f" wcx
	rm "$M/f"
	expect_errno ok open "$M/f" wcx
	eq "$(stat -c %s "$M/f")" 0
}

@test "fileops: O_APPEND and pwrite on lower and upper files" {
	printf 0123456789 >"$L1/f"
	mount_layerfs
	"$FSOPS" append "$M/f" abc
	eq "$(cat "$M/f")" 0123456789abc
	"$FSOPS" writeat "$M/f" 2 XY
	eq "$(cat "$M/f")" 01XY456789abc
	"$FSOPS" writeat "$M/f" 20 Z
	eq "$(stat -c %s "$M/f")" 21
}

@test "fileops: shared mmap writes reach the file" {
	need_cmd python3
	"$FSOPS" fill "$L1/f" 65536 3
	mount_layerfs
	python3 - "$M/f" <<-'EOF'
		import mmap, sys
		with open(sys.argv[1], "r+b") as f:
		    m = mmap.mmap(f.fileno(), 0)
		    m[100:105] = b"HELLO"
		    m.flush(); m.close()
	EOF
	eq "$(dd if="$M/f" bs=1 skip=100 count=5 status=none)" HELLO
	eq "$(dd if="$U/f" bs=1 skip=100 count=5 status=none)" HELLO
	eq "$(head -c 100 "$M/f" | sha256sum)" "$(head -c 100 "$L1/f" | sha256sum)"
}

@test "fileops: several processes reading and writing different files at once" {
	local i
	for i in $(seq 1 6); do "$FSOPS" fill "$L1/in$i" 4000000 "$i"; done
	mount_layerfs
	cat >"$T/reader" <<-'EOF'
		while [ ! -e "$1/go" ]; do sleep 0.01; done
		for k in 1 2 3; do sha256sum <"$2" >"$1/sum$3.$k"; done
	EOF
	cat >"$T/appender" <<-'EOF'
		while [ ! -e "$1/go" ]; do sleep 0.01; done
		for k in $(seq 1 200); do echo "$k" >>"$2"; done
	EOF
	local pids=()
	for i in $(seq 1 6); do
		FSOPS_BARRIER=$T/go spawn "$FSOPS" fill "$M/out$i" 3000000 $((i + 100))
		pids+=("$BG_PID")
		spawn bash "$T/reader" "$T" "$M/in$i" "$i"
		pids+=("$BG_PID")
		spawn bash "$T/appender" "$T" "$M/app$i"
		pids+=("$BG_PID")
	done
	touch "$T/go"
	for i in "${pids[@]}"; do wait "$i" || fail "worker $i failed"; done
	for i in $(seq 1 6); do
		"$FSOPS" fill "$T/ref" 3000000 $((i + 100))
		eq "$(sha "$M/out$i")" "$(sha "$T/ref")" "out$i"
		eq "$(sha "$U/out$i")" "$(sha "$T/ref")" "out$i on disk"
		eq "$(cut -d' ' -f1 "$T/sum$i.1") $(cut -d' ' -f1 "$T/sum$i.3")" "$(sha "$L1/in$i") $(sha "$L1/in$i")"
		eq "$(seq 1 200 | sha256sum)" "$(sha256sum <"$M/app$i")" "app$i"
	done
}

@test "fileops: large sequential write and read back" {
	mount_layerfs
	"$FSOPS" fill "$T/ref" 50000000 42
	cp "$T/ref" "$M/big"
	eq "$(sha "$M/big")" "$(sha "$T/ref")"
	cat "$M/big" >/dev/null
	cp "$M/big" "$T/back"
	cmp "$T/back" "$T/ref"
}

@test "fileops: O_DIRECT writes and reads, on a new file and over a lower one" {
	head -c 3145728 /dev/urandom >"$T/data"
	cp "$T/data" "$L1/low"
	mount_layerfs
	dd if="$T/data" of="$M/new" bs=1M oflag=direct status=none
	eq "$(sha256sum <"$M/new")" "$(sha256sum <"$T/data")" "new file"
	# 4 KiB in the middle of the lower file, O_DIRECT, without truncating
	head -c 4096 /dev/urandom >"$T/patch"
	dd if="$T/patch" of="$M/low" bs=4096 seek=100 oflag=direct conv=notrunc status=none
	dd if="$T/patch" of="$T/data" bs=4096 seek=100 conv=notrunc status=none
	eq "$(dd if="$M/low" bs=1M iflag=direct status=none | sha256sum)" "$(sha256sum <"$T/data")" "read back with O_DIRECT"
	eq "$(sha256sum <"$U/low")" "$(sha256sum <"$T/data")" "the upper copy"
	# a misaligned O_DIRECT write does what it does on the real file
	# system: ext4 and XFS refuse it, btrfs writes it through its cache
	cp "$T/data" "$T/direct"
	local real=0
	dd if="$T/patch" of="$T/direct" bs=100 count=1 oflag=direct conv=notrunc status=none 2>/dev/null ||
		real=1
	run dd if="$T/patch" of="$M/low" bs=100 count=1 oflag=direct conv=notrunc status=none
	[ "$((status != 0))" = "$real" ] || fail "a 100-byte O_DIRECT write: status $status, on the real file system $real"
}

@test "fileops: a file opened O_DIRECT can be mapped shared, lower or upper, with and without passthrough" {
	printf 'lower data\n' >"$L1/low"
	printf 'upper data\n' >"$U/up"
	local prog='
import mmap, os, sys
for name, flags in (("low", os.O_RDONLY), ("up", os.O_RDWR)):
    fd = os.open(sys.argv[1] + "/" + name, flags | os.O_DIRECT)
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if flags == os.O_RDWR else 0)
    m = mmap.mmap(fd, 0, mmap.MAP_SHARED, prot)
    print(name, m[:5].decode())
    m.close()
    os.close(fd)
'
	# a file created O_DIRECT
	local cprog='
import mmap, os, sys
fd = os.open(sys.argv[1] + "/new", os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_DIRECT, 0o644)
buf = mmap.mmap(-1, 4096)
buf.write(b"n" * 4096)
os.pwritev(fd, [buf], 0)
m = mmap.mmap(fd, 0)
m[0:3] = b"map"
m.close()
os.close(fd)
'
	local o out
	for o in "" passthrough=0 noopen noopen,writeback=0; do
		mount_layerfs "$o"
		# the kernel refused the mapping (ENODEV) where the open was direct_io
		out=$(python3 -c "$prog" "$M" 2>&1) || fail "mmap of an O_DIRECT file with '$o': $out"
		eq "$out" "$(printf 'low lower\nup upper')" "mapped data with '$o'"
		out=$(python3 -c "$cprog" "$M" 2>&1) || fail "mmap of a file created O_DIRECT with '$o': $out"
		eq "$(head -c 4 "$M/new")" mapn "created file with '$o'"
		rm "$M/new"
		unmount_layerfs
	done
}

@test "fileops: pages written back through an O_DIRECT open reach the upper: buffered writes beside it, stores to its mapping" {
	printf 'content-a\n' >"$L1/a"
	printf 'content-b\n' >"$L1/b"
	# the kernel writes a file's cached pages back through any handle
	# open for writing, the latest first: here the O_DIRECT one, whose
	# descriptor refused the partial block (EINVAL at fsync, data lost)
	local prog='
import mmap, os, sys
d = sys.argv[1]
b = os.open(d + "/a", os.O_RDWR)
a = os.open(d + "/a", os.O_RDWR | os.O_DIRECT)
os.pwrite(b, b"hello", 0)
os.fsync(b)
os.close(b)
os.close(a)
fd = os.open(d + "/b", os.O_RDWR | os.O_DIRECT)
m = mmap.mmap(fd, 0)
m[0:4] = b"MAPW"
m.flush()
m.close()
os.fsync(fd)
os.close(fd)
'
	local o out
	for o in "" passthrough=0 passthrough=0,writeback=0 noopen; do
		mount_fresh "$o"
		out=$(python3 -c "$prog" "$M" 2>&1) || fail "with '$o': $out"
		unmount_layerfs
		eq "$(cat "$U/a")" "hellont-a" "upper a with '$o'"
		eq "$(cat "$U/b")" "MAPWent-b" "upper b with '$o'"
	done
}

@test "fileops: O_TMPFILE in a lower directory: unnamed in the upper copy, named by linkat, kept across a remount" {
	mkdir "$L1/d"
	echo low >"$L1/d/f"
	for opt in "" noopen; do
		mount_fresh "$opt"
		run -0 "$FSOPS" tmpfile "$M/d" 0640 hidden
		eq "$output" "nlink=0 mode=0640 uid=0 gid=0" "${opt:-default}"
		eq "$(names "$M/d")" f "an unlinked O_TMPFILE file is not listed (${opt:-default})"
		[ -d "$U/d" ] || fail "the directory was not copied up (${opt:-default})"
		eq "$(find "$U/d" "$W" -type f ! -name layerfs.lock | wc -l)" 0 "left behind"
		run -0 "$FSOPS" tmpfile "$M/d" 0600 "before " "$M/d/named" after
		eq "$output" "nlink=0 mode=0600 uid=0 gid=0
linked nlink=1" "${opt:-default}"
		eq "$(cat "$M/d/named")" "before after" "written before and after the link"
		eq "$(names "$M/d")" "f named"
		eq "$(sf %h "$M/d/named")" 1
		unmount_layerfs "$M"
		eq "$(cat "$U/d/named")" "before after" "on disk"
		mount_layerfs "$opt"
		eq "$(cat "$M/d/named")" "before after" "after a remount"
		unmount_layerfs "$M"
	done
}

@test "fileops: O_TMPFILE: fsync, fdatasync, fallocate and SEEK_DATA on the unnamed file" {
	mkdir "$L1/d"
	for opt in "" passthrough=0 noopen; do
		mount_fresh "$opt"
		# by default the file passes through, and these requests open
		# their own descriptor of it, which O_TMPFILE made ENOTDIR
		run -0 python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600)
os.write(fd, b"data")
os.fsync(fd)
os.fdatasync(fd)
os.posix_fallocate(fd, 0, 8192)
print(os.lseek(fd, 0, os.SEEK_DATA), os.fstat(fd).st_size)' "$M/d"
		eq "$output" "0 8192" "${opt:-default}"
		unmount_layerfs "$M"
	done
}

@test "fileops: O_TMPFILE: O_EXCL forbids the link, the umask and a setgid directory apply, no upper is EROFS" {
	mkdir "$L1/d" "$L1/sg"
	chown 0:7 "$L1/sg"
	chmod 2775 "$L1/sg"
	mount_layerfs
	# an O_EXCL file may never be linked; the kernel says ENOENT
	run -1 "$FSOPS" tmpfile "$M/d" 0644 x excl "$M/d/x"
	eq "${lines[-1]}" ENOENT
	[ ! -e "$M/d/x" ] || fail "O_EXCL O_TMPFILE file was linked"
	run -0 sh -c "umask 077; '$FSOPS' tmpfile '$M/d' 0666 x '$M/d/masked'"
	eq "$(sf %a "$M/d/masked")" 600 "umask"
	run -0 "$FSOPS" tmpfile "$M/sg" 0644 x "$M/sg/g"
	eq "$(sf %g "$M/sg/g")" 7 "group of a setgid directory"
	expect_errno ENOTDIR tmpfile "$M/d/masked" 0644 x
	unmount_layerfs "$M"
	mount_ro
	expect_errno EROFS tmpfile "$M/d" 0644 x
}
