#!/usr/bin/env bats
# Kernel caches: after a change made through the mount, no process (in any
# mount namespace) sees the old object.

load helpers

# views DIR: the listing of DIR from this shell, another process and
# another mount namespace, as three lines
views() {
	names "$1"
	bash -c "ls -A '$1' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ \$//'; echo"
	unshare -m bash -c "ls -A '$1' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ \$//'; echo"
}

# all_see WHAT SNIPPET: run the shell snippet here, in another process and
# in another mount namespace; all outputs must equal WHAT
all_see() {
	local want=$1 snippet=$2 out
	export -f names
	out=$(eval "$snippet" 2>&1)
	eq "$out" "$want" "this shell: $snippet"
	out=$(bash -c "$snippet" 2>&1)
	eq "$out" "$want" "another process: $snippet"
	out=$(unshare -m bash -c "$snippet" 2>&1)
	eq "$out" "$want" "another mount namespace: $snippet"
}

# pages FILE: how many pages of FILE the kernel caches; fincore opens
# the file, reading nothing
pages() {
	fincore -n -o PAGES "$1" | tr -d ' '
}

lower_tree() {
	mkdir -p "$L2/d/sub/deeper" "$L1/d/sub" "$L1/d/other"
	echo a >"$L2/d/a"
	echo b >"$L1/d/b"
	echo c >"$L2/d/sub/deeper/c"
	echo e >"$L1/d/sub/e"
}

@test "cache: rm -rf d; mkdir d shows an empty d everywhere (fuse-overlayfs 1.10 bug)" {
	need_cmd unshare
	lower_tree
	mount_layerfs
	# fill the kernel's caches first
	ls -laR "$M/d" >/dev/null
	unshare -m ls -laR "$M/d" >/dev/null
	rm -rf "$M/d"
	mkdir "$M/d"
	eq "$(views "$M/d")" "$(printf '\n\n')" "listing of the recreated d (this shell / other process / other mount ns)"
	all_see "" "find '$M/d' -mindepth 1"
	expect_errno ENOENT stat "$M/d/a"
	expect_errno ENOENT stat "$M/d/sub"
	run ! unshare -m stat "$M/d/sub/e"
	eq "$(names "$M/d")" "" "after the lookups"
}

@test "cache: rm -rf d; mkdir d, repeated, with children of the same names recreated" {
	lower_tree
	mount_layerfs
	local i
	for i in 1 2 3; do
		ls -R "$M/d" >/dev/null
		rm -rf "$M/d"
		mkdir "$M/d"
		eq "$(views "$M/d")" "$(printf '\n\n')" "round $i"
		mkdir "$M/d/sub"
		eq "$(names "$M/d/sub")" "" "recreated d/sub, round $i"
		echo "new$i" >"$M/d/a"
		all_see "new$i" "cat '$M/d/a'"
		touch "$M/d/sub/x$i"
		eq "$(views "$M/d/sub")" "$(printf 'x%s\nx%s\nx%s' $i $i $i)"
	done
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/d")" "a sub"
	eq "$(names "$M/d/sub")" x3
}

@test "cache: a child that changed type after rm -rf and recreate" {
	lower_tree
	mount_layerfs
	ls -R "$M/d" >/dev/null
	rm -rf "$M/d"
	mkdir "$M/d"
	echo file >"$M/d/sub"
	all_see "regular file" "stat -c %F '$M/d/sub'"
	all_see file "cat '$M/d/sub'"
}

@test "cache: after a copy-up every process reads the new data" {
	echo old >"$L1/f"
	mount_layerfs
	all_see old "cat '$M/f'"
	echo new >"$M/f"
	all_see new "cat '$M/f'"
	chmod 600 "$M/f"
	all_see 600 "stat -c %a '$M/f'"
	echo more >>"$M/f"
	all_see "$(printf 'new\nmore')" "cat '$M/f'"
}

@test "cache: after a rename nobody sees the old name" {
	mkdir -p "$L1/dir/sub"
	echo x >"$L1/dir/sub/f"
	echo y >"$L2/file"
	mount_layerfs
	ls -R "$M" >/dev/null
	unshare -m ls -R "$M" >/dev/null
	mv "$M/file" "$M/file2"
	mv "$M/dir" "$M/dir2"
	all_see "dir2 file2" "names '$M'"
	all_see x "cat '$M/dir2/sub/f'"
	run ! unshare -m cat "$M/dir/sub/f"
	run ! bash -c "cat '$M/file'"
	# and the old name reused for something else
	mkdir "$M/dir"
	all_see "" "names '$M/dir'"
}

@test "cache: after unlink (whiteout) nobody sees the file" {
	echo x >"$L2/f"
	mkdir -p "$L1/d"
	touch "$L1/d/g"
	mount_layerfs
	all_see x "cat '$M/f'"
	all_see g "names '$M/d'"
	rm "$M/f" "$M/d/g"
	all_see "d" "names '$M'"
	all_see "" "names '$M/d'"
	run ! unshare -m cat "$M/f"
}

@test "cache: listings follow creates and removals (cached readdir)" {
	mkdir -p "$L1/d"
	touch "$L1/d/a"
	mount_layerfs
	all_see a "names '$M/d'"
	touch "$M/d/b"
	all_see "a b" "names '$M/d'"
	rm "$M/d/a"
	all_see b "names '$M/d'"
	mv "$M/d/b" "$M/d/c"
	all_see c "names '$M/d'"
	mkdir "$M/d/e"
	rmdir "$M/d/e"
	all_see c "names '$M/d'"
}

# A listing reads each entry's attributes before it answers; a directory
# made meanwhile in one of its directories must not leave the kernel with
# the attributes read before (it keeps them for a day): the daemon holds
# the listing at its entry x (LAYERFS_TEST_PAUSE; the first lookup of x
# is the stat before) while another process makes x/sub
@test "cache: a listing held up while a directory is made in one of its entries leaves that entry's link count and times fresh" {
	need_dir_nlink
	mkdir -p "$U/d/x"
	LAYERFS_TEST_PAUSE=lookup:x:800:2 mount_layerfs
	stat "$M/d/x" >/dev/null
	python3 -c 'import os, sys; os.listdir(sys.argv[1])' "$M/d" &
	local pid=$!
	sleep 0.3
	mkdir "$M/d/x/sub"
	kill -0 "$pid" 2>/dev/null || fail "sanity: the listing was not held up"
	wait "$pid"
	eq "$(stat -c '%h %.9Y %.9Z' "$M/d/x")" "$(stat -c '%h %.9Y %.9Z' "$U/d/x")" \
		"link count, mtime and ctime of d/x"
	eq "$(stat -c %h "$M/d/x")" 3
}

@test "cache: lower content does not come back after rmdir, across remount and drop_caches" {
	need_root
	lower_tree
	mount_layerfs
	ls -R "$M" >/dev/null
	rm -rf "$M/d/sub"
	mkdir "$M/d/sub"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	all_see "" "names '$M/d/sub'"
	unmount_layerfs
	mount_layerfs
	all_see "" "names '$M/d/sub'"
	all_see "a b other sub" "names '$M/d'"
}

@test "cache: as root, the mount reads ahead 4 MiB and may hold dirty pages like a disk" {
	need_root
	mount_layerfs
	local bdi=/sys/class/bdi/$(mountpoint -d "$M")
	[ -e "$bdi/max_ratio" ] || skip "no $bdi"
	eq "$(cat "$bdi/read_ahead_kb")" 4096 "read_ahead_kb"
	eq "$(cat "$bdi/max_ratio")" 100 "max_ratio"
	unmount_layerfs
	# without an upper nothing is written: the kernel's cap stays
	mount_ro
	bdi=/sys/class/bdi/$(mountpoint -d "$M")
	eq "$(cat "$bdi/read_ahead_kb")" 4096 "read_ahead_kb, read-only"
	[ "$(cat "$bdi/max_ratio")" != 100 ] || fail "max_ratio raised on a read-only mount"
}

@test "cache: a lower file's data is spliced to the kernel, in reads a pipe can hold whole" {
	need_root
	need_cmd strace
	head -c 6M /dev/urandom >"$L2/big"
	mount_layerfs
	awk -v m="$M" '$5 == m' /proc/self/mountinfo | grep -q 'max_read=524288' ||
		fail "no max_read=524288 in the mount's options"
	# the daemon drops CAP_SYS_RESOURCE: its pipes cannot grow past
	# pipe-max-size, and a read that does not fit is copied, not spliced
	spawn strace -f -qq -y -e trace=splice,pread64,preadv,preadv2 -o "$T/strace" -p "$DAEMON_PID"
	wait_until 10 all_traced "$DAEMON_PID" || fail "strace did not attach"
	cmp "$M/big" "$L2/big"
	kill "$BG_PID"
	wait "$BG_PID" || true
	grep -q 'splice(' "$T/strace" || fail "no splice: $(head -5 "$T/strace")"
	# (the request loop reads /proc/loadavg now and then: not file data)
	! grep -E 'pread64\(|preadv2?\(' "$T/strace" | grep -v '</proc/loadavg>' ||
		fail "file data was copied through a buffer"
	# copied into the kernel's pages, not offered to move: the real
	# file's pages cannot be moved, and the attempt costs more than it saves
	! grep 'SPLICE_F_MOVE' "$T/strace" || fail "a read reply was spliced with SPLICE_F_MOVE"
}

@test "cache: max_read= of the caller wins over the default" {
	need_root
	head -c 3M /dev/urandom >"$L2/big"
	mount_layerfs max_read=131072
	awk -v m="$M" '$5 == m' /proc/self/mountinfo | grep -q 'max_read=131072' ||
		fail "max_read=131072 not in the mount's options"
	cmp "$M/big" "$L2/big"
	unmount_layerfs
	# decimal, with a leading zero too: the kernel, libfuse and the
	# daemon must all agree on the value
	mount_layerfs max_read=0131072
	awk -v m="$M" '$5 == m' /proc/self/mountinfo | grep -q 'max_read=131072' ||
		fail "max_read=0131072 not read as 131072"
	cmp "$M/big" "$L2/big"
}

@test "cache: a small lower file's data reaches the kernel with its open, a large one's with reads" {
	need_root
	need_cmd fincore
	head -c 5000 /dev/urandom >"$L2/small"
	head -c 70000 /dev/urandom >"$L2/large"
	mount_layerfs
	eq "$(pages "$M/small")" 2 "pages of a 5000-byte file after an open"
	eq "$(pages "$M/large")" 0 "pages of a 70000-byte file after an open"
	cmp "$M/small" "$L2/small"
	cmp "$M/large" "$L2/large"
	# with the pages dropped, reads bring them back
	sync
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$M/small" "$L2/small"
	# after a copy-up the kernel's pages are the upper file's
	echo tail >>"$M/small"
	{ cat "$L2/small"; echo tail; } | cmp - "$M/small"
	cmp "$U/small" "$M/small"
}

@test "cache: a small or empty lower file whose data the kernel holds is opened again without a descriptor in the daemon; reads through such an open stay right after its pages are dropped, a copy-up and an unlink" {
	need_root
	local i before held p
	mkdir "$L2/d"
	# every fifth one empty (an __init__.py)
	for i in $(seq 100); do head -c $((i % 5 ? 3000 : 0)) /dev/urandom >"$L2/d/f$i"; done
	cp "$L2/d/f2" "$T/f2"
	mount_layerfs
	cat "$M"/d/f* >/dev/null	# the first opens hand the data over
	before=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
	cat >"$T/opener.py" <<-'EOF'
	import os, sys, time
	m, low, t = sys.argv[1:]
	fds = {i: os.open(f"{m}/f{i}", os.O_RDONLY) for i in range(1, 101)}
	open(f"{t}/ready", "w").close()
	while not os.path.exists(f"{t}/go"):
	    time.sleep(0.05)
	def drop():
	    os.sync()
	    with open("/proc/sys/vm/drop_caches", "w") as f:
	        f.write("3")
	drop()
	for i, fd in fds.items():
	    want = open(f"{low}/f{i}", "rb").read()
	    assert os.pread(fd, 8192, 0) == want, f"f{i} after its pages were dropped"
	    assert os.pread(fd, 8192, 1000) == want[1000:], f"f{i} from 1000"
	# another opener copies f1 up and appends: the open reads the upper file
	with open(f"{m}/f1", "ab") as w:
	    w.write(b"tail")
	want = open(f"{low}/f1", "rb").read() + b"tail"
	assert os.pread(fds[1], 8192, 0) == want, "f1 after the copy-up"
	drop()
	assert os.pread(fds[1], 8192, 0) == want, "f1 after the copy-up, pages dropped"
	# f2 goes from the merged view while open: its data stays readable
	os.unlink(f"{m}/f2")
	drop()
	assert os.pread(fds[2], 8192, 0) == open(f"{t}/f2", "rb").read(), "f2 after unlink"
	print("ok")
	EOF
	spawn python3 "$T/opener.py" "$M/d" "$L2/d" "$T"
	p=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "the opener did not start"
	held=$(($(ls "/proc/$DAEMON_PID/fd" | wc -l) - before))
	[ "$held" -lt 10 ] || fail "100 opens of files read before hold $held more descriptors in the daemon"
	touch "$T/go"
	wait "$p" || fail "reads through the opens went wrong"
	[ ! -e "$M/d/f2" ] || fail "f2 is back"
	eq "$(tail -c 4 "$U/d/f1")" tail "the copy-up of f1"
}

@test "cache: reading a small lower file and stat-ing it takes an OPEN and nothing more" {
	echo "some text" >"$L2/small"
	debug_mount
	stat "$M/small" >/dev/null	# looked up before the count starts
	: >"$T/debug.log"
	tar -cf - -C "$M" small | tar -xOf - >"$T/got"
	eq "$(cat "$T/got")" "some text" "the file's content"
	eq "$(requests OPEN)" 1 "OPEN requests"
	eq "$(requests READ)" 0 "READ requests"
	eq "$(requests GETATTR)" 0 "GETATTR requests (tar stats the file after reading it)"
	debug_umount
}

@test "cache: an upper file's data, and any file's with -s or prefetch=0, is left to reads" {
	need_root
	need_cmd fincore
	echo upper >"$U/up"
	head -c 5000 /dev/urandom >"$L2/small"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	mount_layerfs
	eq "$(pages "$M/up")" 0 "pages of an upper file after an open"
	unmount_layerfs
	lfs_mount "lowerdir=$L1:$L2,upperdir=$U,workdir=$W" "$M" -s
	eq "$(pages "$M/small")" 0 "pages after an open, single-threaded"
	cmp "$M/small" "$L2/small"
	unmount_layerfs
	sync
	echo 3 >/proc/sys/vm/drop_caches
	mount_layerfs prefetch=0
	eq "$(pages "$M/small")" 0 "pages after an open with prefetch=0"
	cmp "$M/small" "$L2/small"
}
