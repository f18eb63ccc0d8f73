#!/usr/bin/env bats
# Copy-up: what triggers it and what it preserves.

load helpers

# a lower file with distinctive metadata
make_lower_file() { # PATH
	echo "lower content" >"$1"
	chown 123:456 "$1"
	chmod 0640 "$1"
	setfattr -n user.keep -v kept "$1"
	touch -d '2001-02-03 04:05:06.123456789' "$1"
}

# the staging area must be empty: nothing deeper than WORKDIR/*/
no_staging_leftovers() {
	local left
	left=$(find "$W" -mindepth 2 2>/dev/null)
	[ -z "$left" ] || fail "leftovers in the work dir: $left"
}

@test "copyup: read-only access does not copy up" {
	make_lower_file "$L1/f"
	mkdir -p "$L1/d/e"
	mount_layerfs
	cat "$M/f" >/dev/null
	stat "$M/f" >/dev/null
	getfattr -d "$M/f" >/dev/null
	ls -lR "$M" >/dev/null
	"$FSOPS" open "$M/f" r >/dev/null
	"$FSOPS" access "$M/f" rw >/dev/null
	eq "$(names "$U")" "" "upper after read-only access"
}

@test "copyup: open for write (without writing) copies up with the same data" {
	make_lower_file "$L1/f"
	mount_layerfs
	run -0 "$FSOPS" open "$M/f" w
	[ -f "$U/f" ] || fail "not copied up on open for write"
	eq "$(cat "$U/f")" "lower content"
	eq "$(stat -c '%a %u %g %y' "$U/f")" "$(stat -c '%a %u %g %y' "$L1/f")"
	no_staging_leftovers
}

@test "copyup: truncate copies up" {
	make_lower_file "$L2/f"
	mount_layerfs
	truncate -s 5 "$M/f"
	eq "$(cat "$U/f")" lower
	eq "$(cat "$M/f")" lower
	eq "$(cat "$L2/f")" "lower content" "lower layer untouched"
	# open with O_TRUNC too
	make_lower_file "$L2/g"
	"$FSOPS" open "$M/g" wt
	eq "$(stat -c %s "$U/g")" 0
}

@test "copyup: chmod copies up and keeps the data" {
	make_lower_file "$L1/f"
	mount_layerfs
	chmod 0604 "$M/f"
	eq "$(stat -c %a "$M/f")" 604
	eq "$(stat -c '%a %u %g' "$U/f")" "604 123 456"
	eq "$(cat "$U/f")" "lower content"
	eq "$(stat -c %a "$L1/f")" 640 "lower mode untouched"
}

@test "copyup: chown copies up" {
	need_root
	make_lower_file "$L1/f"
	mount_layerfs
	chown 777:888 "$M/f"
	eq "$(stat -c '%u %g' "$M/f")" "777 888"
	eq "$(stat -c '%u %g %a' "$U/f")" "777 888 640"
	eq "$(cat "$U/f")" "lower content"
	eq "$(stat -c '%u %g' "$L1/f")" "123 456"
}

@test "copyup: utimes (touch -d) copies up" {
	make_lower_file "$L1/f"
	mount_layerfs
	touch -d '2010-10-10 10:10:10' "$M/f"
	eq "$(stat -c %Y "$U/f")" "$(date -d '2010-10-10 10:10:10' +%s)"
	eq "$(cat "$U/f")" "lower content"
	eq "$(stat -c %Y "$M/f")" "$(date -d '2010-10-10 10:10:10' +%s)"
}

@test "copyup: setxattr and removexattr copy up" {
	make_lower_file "$L1/f"
	make_lower_file "$L1/g"
	mount_layerfs
	setfattr -n user.new -v 1 "$M/f"
	eq "$(getfattr --only-values -n user.new "$U/f")" 1
	eq "$(getfattr --only-values -n user.keep "$U/f")" kept
	setfattr -x user.keep "$M/g"
	[ -f "$U/g" ] || fail "removexattr did not copy up"
	run ! getfattr -n user.keep "$U/g"
	run ! getfattr -n user.keep "$M/g"
	eq "$(getfattr --only-values -n user.keep "$L1/g")" kept "lower untouched"
}

@test "copyup: link and rename copy up" {
	make_lower_file "$L1/f"
	make_lower_file "$L1/g"
	mount_layerfs
	ln "$M/f" "$M/f2"
	[ -f "$U/f" ] && [ -f "$U/f2" ] || fail "link did not copy up"
	eq "$(stat -c %i "$U/f")" "$(stat -c %i "$U/f2")"
	mv "$M/g" "$M/g2"
	eq "$(cat "$U/g2")" "lower content"
	eq "$(stat -c '%a %u %g %y' "$U/g2")" "$(stat -c '%a %u %g %y' "$L1/g")"
	no_staging_leftovers
}

@test "copyup: preserves mode, owner, timestamps and xattrs incl. security.capability" {
	need_root
	need_cmd setcap getcap
	make_lower_file "$L1/f"
	setfattr -n trusted.mine -v t "$L1/f"
	setcap cap_net_raw+ep "$L1/f"
	touch -d '2001-02-03 04:05:06.123456789' "$L1/f"
	local want_caps
	want_caps=$(getcap "$L1/f" | awk '{print $2}')
	mount_layerfs
	setfattr -n user.trigger -v 1 "$M/f"
	[ -f "$U/f" ] || fail "not copied up"
	eq "$(stat -c '%a %u %g %y' "$U/f")" "0640 123 456 $(stat -c %y "$L1/f")" 2>/dev/null ||
		eq "$(stat -c '%a %u %g %y' "$U/f")" "640 123 456 $(stat -c %y "$L1/f")"
	eq "$(getcap "$U/f" | awk '{print $2}')" "$want_caps" "security.capability on the copy"
	eq "$(getfattr --only-values -n trusted.mine "$U/f")" t
	eq "$(getfattr --only-values -n user.keep "$U/f")" kept
	eq "$(getcap "$M/f" | awk '{print $2}')" "$want_caps" "capability seen through the mount"
}

@test "copyup: xattr values of every length, empty ones between others, are copied exactly" {
	echo x >"$L1/f"
	mkdir "$L1/d"
	local p big
	big=$(head -c 3000 /dev/zero | tr '\0' 'b')
	for p in "$L1/f" "$L1/d"; do
		setfattr -n user.a -v '""' "$p"
		setfattr -n user.b -v hello-world-value "$p"
		setfattr -n user.c -v '""' "$p"
		setfattr -n user.d -v "$big" "$p"
		setfattr -n user.e -v x "$p"
	done
	mount_layerfs
	chmod 600 "$M/f"
	chmod 700 "$M/d"
	for p in "$U/f" "$U/d"; do
		eq "$(getfattr -d --absolute-names -m '^user\.[a-e]$' "$p" | grep -v '^#' | grep -v '^user.d' | tr '\n' ' ')" \
			'user.a="" user.b="hello-world-value" user.c="" user.e="x"  ' "$p"
		eq "$(getfattr --only-values -n user.d "$p")" "$big" "$p: user.d"
	done
}

@test "copyup: preserves the type of symlinks, fifos, sockets and device nodes" {
	need_root
	ln -s some/target "$L1/l"
	mkfifo "$L1/p"
	"$FSOPS" socket "$L1/s"
	mknod "$L1/c" c 1 3
	mknod "$L1/b" b 7 0
	mkdir "$L1/d"
	touch "$L1/d/inside"
	mount_layerfs
	chown -h 5:6 "$M/l"
	chown 5:6 "$M/p" "$M/s" "$M/c" "$M/b" "$M/d"
	eq "$(stat -c '%F|%N|%u:%g' "$U/l")" "symbolic link|'$U/l' -> 'some/target'|5:6"
	eq "$(stat -c '%F %u:%g' "$U/p")" "fifo 5:6"
	eq "$(stat -c '%F %u:%g' "$U/s")" "socket 5:6"
	eq "$(stat -c '%F %t:%T %u:%g' "$U/c")" "character special file 1:3 5:6"
	eq "$(stat -c '%F %t:%T %u:%g' "$U/b")" "block special file 7:0 5:6"
	eq "$(stat -c '%F %u:%g' "$U/d")" "directory 5:6"
	eq "$(names "$U/d")" "" "a directory's copy-up does not copy its children"
	eq "$(names "$M/d")" inside
}

@test "copyup: sparse files keep their holes" {
	truncate -s 64M "$L1/sparse"
	printf 'head' | dd of="$L1/sparse" conv=notrunc status=none
	printf 'middle' | dd of="$L1/sparse" bs=1M seek=32 conv=notrunc status=none
	printf 'tail' | dd of="$L1/sparse" bs=1 seek=$((64 * 1024 * 1024 - 4)) conv=notrunc status=none
	local sum
	sum=$(sha "$L1/sparse")
	mount_layerfs
	chmod 600 "$M/sparse"
	[ -f "$U/sparse" ] || fail "not copied up"
	eq "$(sha "$U/sparse")" "$sum"
	eq "$(stat -c %s "$U/sparse")" $((64 * 1024 * 1024))
	local kb
	kb=$(du -k "$U/sparse" | cut -f1)
	[ "$kb" -lt 1024 ] || fail "copy-up filled the holes: du says ${kb}K"
	# SEEK_HOLE/SEEK_DATA see the holes through the mount too
	eq "$("$FSOPS" seek "$M/sparse" hole 0)" "$("$FSOPS" seek "$U/sparse" hole 0)"
	eq "$("$FSOPS" seek "$M/sparse" data 4096)" "$("$FSOPS" seek "$U/sparse" data 4096)"
}

@test "copyup: parent directories are copied up with mode, owner, mtime and xattrs" {
	need_root
	mkdir -p "$L2/a/b/c"
	echo f >"$L2/a/b/c/f"
	chown 11:12 "$L2/a"
	chmod 0751 "$L2/a"
	chown 13:14 "$L2/a/b"
	chmod 2770 "$L2/a/b"
	setfattr -n user.dir -v b "$L2/a/b"
	touch -d '2002-01-01 00:00:01' "$L2/a/b/c"
	touch -d '2003-01-01 00:00:01' "$L2/a/b"
	touch -d '2004-01-01 00:00:01' "$L2/a"
	mount_layerfs
	echo more >>"$M/a/b/c/f"
	local d
	for d in a a/b a/b/c; do
		eq "$(stat -c '%F %a %u %g %Y' "$U/$d")" "$(stat -c '%F %a %u %g %Y' "$L2/$d")" "copied-up parent $d"
	done
	eq "$(getfattr --only-values -n user.dir "$U/a/b")" b
	eq "$(cat "$U/a/b/c/f")" "$(printf 'f\nmore')"
	# the merged view shows the same mtimes for the untouched parents
	eq "$(stat -c %Y "$M/a")" "$(stat -c %Y "$L2/a")"
	eq "$(stat -c %Y "$M/a/b")" "$(stat -c %Y "$L2/a/b")"
	no_staging_leftovers
}

@test "copyup: a copy-up changes the ctime of the parent's upper directory, and stat of the parent shows it at once, as on the kernel's overlay" {
	mkdir -p "$L1/p"
	echo 1 >"$L1/p/f1"
	echo 2 >"$L1/p/f2"
	echo 3 >"$L1/p/f3"
	mount_layerfs
	chmod 600 "$M/p/f1"
	eq "$(stat -c %z "$M/p")" "$(stat -c %z "$U/p")" "after the parent's own copy-up"
	# ctime steps with the kernel's coarse clock
	sleep 0.1
	chmod 600 "$M/p/f2"
	eq "$(stat -c %z "$M/p")" "$(stat -c %z "$U/p")" "after a chmod"
	sleep 0.1
	echo more >>"$M/p/f3"
	eq "$(stat -c %z "$M/p")" "$(stat -c %z "$U/p")" "after an append"
	eq "$(stat -c %Y "$M/p")" "$(stat -c %Y "$L1/p")" "mtime kept"
}

@test "copyup: two concurrent copy-ups of the same large file give one correct copy" {
	"$FSOPS" fill "$L1/big" $((96 * 1024 * 1024)) 7
	local sum
	sum=$(sha "$L1/big")
	mount_layerfs
	local p1 p2 rc=0
	FSOPS_BARRIER=$T/go spawn "$FSOPS" append "$M/big" "AAAA"
	p1=$BG_PID
	FSOPS_BARRIER=$T/go spawn "$FSOPS" append "$M/big" "BBBB"
	p2=$BG_PID
	touch "$T/go"
	wait "$p1" || rc=1
	wait "$p2" || rc=2
	eq "$rc" 0 "append exit status"
	eq "$(stat -c %s "$M/big")" $((96 * 1024 * 1024 + 8)) "size after two appends"
	eq "$(head -c $((96 * 1024 * 1024)) "$M/big" | sha256sum | cut -d' ' -f1)" "$sum" "copied data"
	local tail8
	tail8=$(tail -c 8 "$M/big")
	[ "$tail8" = AAAABBBB ] || [ "$tail8" = BBBBAAAA ] || fail "tail: $tail8 (a write was lost)"
	eq "$(tail -c 8 "$U/big")" "$tail8"
	no_staging_leftovers
}

@test "copyup: concurrent chmod, setxattr and append on one lower file all apply" {
	echo base >"$L1/f"
	mount_layerfs
	local i pids=()
	FSOPS_BARRIER=$T/go spawn "$FSOPS" append "$M/f" "more"
	pids+=("$BG_PID")
	for i in 1 2 3; do
		spawn bash -c "while [ ! -e '$T/go' ]; do sleep 0.01; done; setfattr -n user.k$i -v $i '$M/f'"
		pids+=("$BG_PID")
	done
	spawn bash -c "while [ ! -e '$T/go' ]; do sleep 0.01; done; chmod 0600 '$M/f'"
	pids+=("$BG_PID")
	touch "$T/go"
	for i in "${pids[@]}"; do wait "$i"; done
	eq "$(cat "$M/f")" "$(printf 'base\nmore')"
	eq "$(stat -c %a "$M/f")" 600
	for i in 1 2 3; do
		eq "$(getfattr --only-values -n user.k$i "$M/f")" "$i"
	done
	eq "$(cat "$U/f")" "$(printf 'base\nmore')"
	no_staging_leftovers
}

@test "copyup: a descriptor opened read-only before the copy-up reads the new data" {
	echo old >"$L1/f"
	mount_layerfs
	spawn "$FSOPS" holdopen "$M/f" r "$T/ready" "$T/release" read >"$T/out"
	local p=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "holdopen did not start"
	echo new >"$M/f"
	touch "$T/release"
	wait "$p"
	eq "$(cat "$T/out")" new "read on an fd opened before copy-up"
}

@test "copyup: many copy-ups leave nothing in the staging area and data stays right" {
	local i
	mkdir -p "$L1/d"
	for i in $(seq 1 50); do echo "file $i" >"$L1/d/f$i"; done
	mount_layerfs
	for i in $(seq 1 50); do echo "more $i" >>"$M/d/f$i"; done
	for i in $(seq 1 50); do
		eq "$(cat "$M/d/f$i")" "$(printf 'file %s\nmore %s' "$i" "$i")"
	done
	eq "$(ls "$U/d" | wc -l)" 50
	no_staging_leftovers
	[ -d "$W/layerfs" ] || fail "no staging dir WORKDIR/layerfs"
}

@test "copyup: a change through the descriptor of a deleted lower file applies to a copy of its own" {
	echo "lower data" >"$L2/gone"
	chmod 644 "$L2/gone"
	mount_layerfs
	python3 - "$M/gone" <<-'EOF'
	import os, stat, sys
	fd = os.open(sys.argv[1], os.O_RDONLY)
	os.unlink(sys.argv[1])
	os.fchmod(fd, 0o600)
	st = os.fstat(fd)
	assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
	assert st.st_nlink == 0, st.st_nlink
	assert os.pread(fd, 100, 0) == b"lower data\n"
	os.close(fd)
	EOF
	[ ! -e "$M/gone" ] || fail "the file came back"
	eq "$(stat -c %a "$L2/gone")" 644 "lower file"
	eq "$(find "$W" -name '#*' | wc -l)" 0 "staging files left"
}

@test "copyup: a listing that meets the copy before the copy-up is done shows the one file the writer has open" {
	need_root
	need_cmd strace
	# d is merged already: the copy-up of d/f then sets one xattr after
	# the copy is in place (the impure mark of d's upper directory), and
	# strace holds that call back while d is listed
	mkdir -p "$L1/d" "$U/d"
	echo lower >"$L1/d/f"
	mount_layerfs
	spawn strace -f -qq -e trace=fsetxattr -e inject=fsetxattr:delay_exit=1000000 \
		-o "$T/strace" -p "$DAEMON_PID"
	local tracer=$BG_PID
	wait_until 10 all_traced "$DAEMON_PID" || fail "strace did not attach"
	cat >"$T/writer.py" <<-'PY'
	import os, sys, time
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
	os.write(fd, b"one\n")
	while not os.path.exists(sys.argv[2]):
	    time.sleep(0.02)
	os.write(fd, b"two\n")
	st = os.fstat(fd)
	with open(sys.argv[3], "w") as f:
	    f.write("%d %d\n" % (st.st_ino, st.st_size))
	os.close(fd)
	PY
	spawn python3 "$T/writer.py" "$M/d/f" "$T/release" "$T/fstat"
	local writer=$BG_PID
	wait_until 10 test -e "$U/d/f" || fail "no copy of d/f"
	ls -l "$M/d" >/dev/null
	touch "$T/release"
	wait "$writer" || fail "the writer failed"
	kill "$tracer"
	wait "$tracer" || true
	grep -q 'impure.*DELAYED' "$T/strace" || fail "the impure mark was not held back: $(cat "$T/strace")"
	eq "$(stat -c '%i %s' "$M/d/f")" "$(cat "$T/fstat")" "inode number and size by name, and through the writer's descriptor"
	eq "$(cat "$M/d/f")" "$(printf 'lower\none\ntwo')"
}

# copy_held SECONDS: append to $M/big (1 MiB, made by the test) while
# strace holds the copy of its data back for SECONDS; returns once the
# copy began. copy_done: the append ends, and big has the right size.
copy_held() {
	# an upper that clones files (XFS, btrfs) copies no data at a copy-up
	if cp --reflink=always "$L1/big" "$T/clone" 2>/dev/null; then
		skip "the layers' file system clones files: a copy-up copies no data"
	fi
	spawn strace -f -qq -e trace=copy_file_range \
		-e inject=copy_file_range:delay_enter=$(($1 * 1000000)) -o "$T/strace" -p "$DAEMON_PID"
	TRACER=$BG_PID
	wait_until 10 all_traced "$DAEMON_PID" || fail "strace did not attach"
	spawn bash -c "echo more >>'$M/big'"
	WRITER=$BG_PID
	wait_until 10 grep -q copy_file_range "$T/strace" || fail "the copy did not start"
}

copy_done() {
	wait "$WRITER" || fail "the append failed"
	kill "$TRACER"
	wait "$TRACER" || true
	eq "$(stat -c %s "$M/big")" $((1024 * 1024 + 5)) "size after the append"
}

@test "copyup: a listing does not wait for the data of a copy-up to be copied" {
	need_root
	need_cmd strace
	head -c 1M /dev/urandom >"$L1/big"
	mount_layerfs
	copy_held 8
	ls -l "$M" >"$T/ls" || fail "ls -l failed"
	[ ! -e "$U/big" ] || fail "the listing waited for the copy-up to end"
	grep -q ' big$' "$T/ls" || fail "big not listed: $(cat "$T/ls")"
	copy_done
}

@test "copyup: changes of other objects do not wait for the data of a copy-up" {
	need_root
	need_cmd strace
	local i
	head -c 1M /dev/urandom >"$L1/big"
	for i in $(seq 1 1000); do mkdir "$L1/d$i"; done
	mount_layerfs
	# node locks are shared by stripes of nodes: with a lock held through
	# the copy, some of the 1,000 directory copy-ups below would wait
	copy_held 10
	chmod 700 "$M"/d* || fail "chmod failed"
	[ ! -e "$U/big" ] || fail "the directory copy-ups waited for the copy-up of big"
	eq "$(find "$U" -maxdepth 1 -name 'd*' -perm 700 | wc -l)" 1000 "directories copied up"
	copy_done
}

@test "copyup: a full upper file system fails the copy-up with ENOSPC, leaves nothing behind and the mount goes on" {
	head -c 5M /dev/urandom >"$L1/big"
	echo small >"$L1/small"
	mkdir "$T/fs"
	mount -t tmpfs -o size=1m lfsfull "$T/fs"
	record_mount "$T/fs"
	U=$T/fs/upper W=$T/fs/work
	mkdir "$U" "$W"
	mount_layerfs
	for opts in "append" "chmod" "rename"; do
		case $opts in
		append) run bash -c "echo x >>'$M/big'" ;;
		chmod) run chmod 600 "$M/big" ;;
		rename) run mv "$M/big" "$M/big2" ;;
		esac
		[ "$status" -ne 0 ] || fail "$opts of a 5 MiB lower file on a 1 MiB upper succeeded"
		[[ "$output" == *"No space left on device"* ]] || fail "$opts: $output"
		eq "$(sha "$M/big")" "$(sha "$L1/big")" "big after a failed $opts"
		eq "$(sf %a "$M/big")" 644 "mode after a failed $opts"
		eq "$(names "$U")" "" "upper after a failed $opts"
		no_staging_leftovers
	done
	[ ! -e "$M/big2" ]
	# what fits still works
	echo more >>"$M/small"
	eq "$(cat "$M/small")" "small
more"
	eq "$(cat "$U/small")" "small
more"
}

@test "copyup: an xattr the upper has no room for fails the copy-up (trusted.*, security.*, user.*), as on the kernel's overlay" {
	# 8000 bytes fit an xattr on tmpfs, not on ext4 (one 4 KiB block)
	: >"$U/probe"
	if setfattr -n user.big -v "0s$(head -c 8000 /dev/zero | base64 -w0)" "$U/probe" 2>/dev/null; then
		skip "the upper's file system keeps 8000-byte xattrs"
	fi
	rm "$U/probe"
	mount -t tmpfs -o size=16m lfslow "$L1"
	record_mount "$L1"
	local ns
	for ns in trusted security user; do
		echo data >"$L1/$ns"
		python3 -c 'import os, sys
os.setxattr(sys.argv[1], sys.argv[2] + ".big", b"v" * 8000)' "$L1/$ns" "$ns"
	done
	mount_layerfs
	for ns in trusted security user; do
		run touch "$M/$ns"
		[ "$status" -ne 0 ] || fail "$ns: the copy-up dropped the xattr"
		[[ "$output" == *"No space left on device"* ]] || fail "$ns: $output"
		eq "$(cat "$M/$ns")" data
		[ ! -e "$U/$ns" ] || fail "$ns: a copy was left in the upper"
	done
}

@test "copyup: a mkdir over a whiteout under a default ACL that fails for want of inodes leaves nothing in the work dir" {
	need_cmd setfacl
	mkdir -p "$L1/d"
	echo x >"$L1/d/x"
	upper_on_small_tmpfs
	mount_layerfs
	setfacl -d -m u:1234:rwx "$M/d" || skip "no ACLs on tmpfs here"
	rm "$M/d/x"
	local i=0
	while (: >"$U/fill$i") 2>/dev/null; do i=$((i + 1)); done
	# one inode: the new directory's staging place takes it
	rm "$U/fill0"
	run mkdir "$M/d/x"
	[ "$status" -ne 0 ] || fail "mkdir with no inode left succeeded"
	[[ "$output" == *"No space left on device"* ]] || fail "mkdir: $output"
	eq "$(find "$W" -mindepth 2 -name '#*')" "" "staged objects left"
	[ ! -e "$M/d/x" ] || fail "the whiteout no longer hides x"
}
