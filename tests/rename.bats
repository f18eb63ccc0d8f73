#!/usr/bin/env bats
# rename(2) and renameat2(2): files, directories, flags.

load helpers

@test "rename: upper-only file and directory" {
	mount_layerfs
	echo x >"$M/a"
	mkdir -p "$M/d/e"
	echo y >"$M/d/e/f"
	"$FSOPS" rename "$M/a" "$M/b"
	"$FSOPS" rename "$M/d" "$M/d2"
	eq "$(names "$M")" "b d2"
	eq "$(cat "$M/b")" x
	eq "$(cat "$M/d2/e/f")" y
	eq "$(names "$U")" "b d2" "no whiteouts for upper-only names"
}

@test "rename: a lower file is copied up, the old name is whited out" {
	echo x >"$L1/a"
	echo q >"$L2/keep"
	mount_layerfs
	"$FSOPS" rename "$M/a" "$M/b"
	eq "$(names "$M")" "b keep"
	eq "$(cat "$M/b")" x
	eq "$(cat "$U/b")" x
	expect_errno ENOENT stat "$M/a"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" "b keep" "after remount"
}

@test "rename: replacing a target (lower over lower, upper over lower, lower over upper)" {
	echo src1 >"$L1/s1"
	echo dst1 >"$L2/d1"
	echo dst2 >"$L1/d2"
	echo src3 >"$L2/s3"
	mount_layerfs
	echo src2 >"$M/s2"
	echo dst3 >"$M/d3"
	"$FSOPS" rename "$M/s1" "$M/d1"
	"$FSOPS" rename "$M/s2" "$M/d2"
	"$FSOPS" rename "$M/s3" "$M/d3"
	eq "$(names "$M")" "d1 d2 d3"
	eq "$(cat "$M/d1") $(cat "$M/d2") $(cat "$M/d3")" "src1 src2 src3"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" "d1 d2 d3"
	eq "$(cat "$M/d1") $(cat "$M/d2") $(cat "$M/d3")" "src1 src2 src3"
}

@test "rename: across directories, lower file into a lower dir of another layer" {
	mkdir -p "$L2/from/sub" "$L1/to/deep"
	echo moved >"$L2/from/sub/f"
	mount_layerfs
	"$FSOPS" rename "$M/from/sub/f" "$M/to/deep/g"
	eq "$(cat "$M/to/deep/g")" moved
	eq "$(names "$M/from/sub")" ""
	eq "$(cat "$U/to/deep/g")" moved
	mv "$M/to/deep/g" "$M/from/back"
	eq "$(cat "$M/from/back")" moved
	eq "$(names "$M/to/deep")" ""
}

@test "rename: a directory with lower content succeeds (no EXDEV) and is complete in the upper" {
	mkdir -p "$L2/d/sub/subsub" "$L1/d/sub"
	echo one >"$L2/d/one"
	echo two >"$L1/d/sub/two"
	echo three >"$L2/d/sub/subsub/three"
	"$FSOPS" fill "$L2/d/big" 3000000 3
	ln -s ../one "$L2/d/sub/link"
	local bigsum
	bigsum=$(sha "$L2/d/big")
	mount_layerfs
	run "$FSOPS" rename "$M/d" "$M/e"
	eq "$output" "" "renameat of a lower dir (fuse-overlayfs/kernel give EXDEV)"
	eq "$status" 0
	expect_errno ENOENT stat "$M/d"
	eq "$(names "$M")" e
	eq "$(names "$M/e")" "big one sub"
	eq "$(names "$M/e/sub")" "link subsub two"
	eq "$(cat "$M/e/sub/two")" two
	eq "$(cat "$M/e/sub/link")" one
	# really present in the upper under its new name, with full data
	eq "$(cat "$U/e/one")" one
	eq "$(cat "$U/e/sub/two")" two
	eq "$(cat "$U/e/sub/subsub/three")" three
	eq "$(sha "$U/e/big")" "$bigsum"
	eq "$(readlink "$U/e/sub/link")" ../one
	# the old name shows nothing any more, even when recreated
	mkdir "$M/d"
	eq "$(names "$M/d")" ""
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" "d e"
	eq "$(names "$M/d")" ""
	eq "$(find "$M/e" | wc -l)" 8
}

@test "rename: the moved lower directory is opaque in the upper" {
	need_root
	mkdir -p "$L1/d" "$L1/e"
	touch "$L1/d/x" "$L1/e/olde"
	mount_layerfs
	rm "$M/e/olde"
	rmdir "$M/e"
	"$FSOPS" rename "$M/d" "$M/e"
	eq "$(names "$M/e")" x
	eq "$(getfattr --only-values -n trusted.overlay.opaque "$U/e" 2>/dev/null)" y "moved dir opaque"
	unmount_layerfs
	# the kernel sees the same thing with the upper as the top layer
	mkdir "$T/kv"
	kovl_mount "lowerdir=$U:$L1" "$T/kv"
	eq "$(names "$T/kv")" e
	eq "$(names "$T/kv/e")" x
}

@test "rename: mv of a lower directory tree keeps everything (mv needs no fallback)" {
	mkdir -p "$L1/src/a/b"
	local i
	for i in 1 2 3; do echo "$i" >"$L1/src/a/b/f$i"; done
	mount_layerfs
	mv "$M/src" "$M/dst"
	eq "$(cd "$M/dst" && find . | sort | tr '\n' ' ')" ". ./a ./a/b ./a/b/f1 ./a/b/f2 ./a/b/f3 "
	eq "$(cat "$M/dst/a/b/f2")" 2
	mv "$M/dst/a" "$M/a2"
	eq "$(cat "$M/a2/b/f3")" 3
	eq "$(names "$M/dst")" ""
}

@test "rename: hard links inside a moved lower directory stay links, as mv keeps them; a link to outside the tree does not (default and noopen)" {
	mkdir -p "$L1/d/sub"
	echo a >"$L1/d/a"
	ln "$L1/d/a" "$L1/d/b"
	ln "$L1/d/a" "$L1/d/sub/c"
	ln -s tgt "$L1/d/s"
	ln "$L1/d/s" "$L1/d/s2"
	echo o >"$L1/out"
	ln "$L1/out" "$L1/d/o"
	local opt
	for opt in "" noopen; do
		mount_fresh "$opt"
		# the kernel holds nodes of some names, and cached data of b
		# (with its writeback cache, such names get copies apart: see
		# the next test)
		if [ -z "$opt" ]; then
			ls -l "$M/d" >/dev/null
			cat "$M/d/b" "$M/d/a" >/dev/null
		fi
		mv "$M/d" "$M/d2"
		eq "$(stat -c '%h' "$M/d2/a" "$M/d2/b" "$M/d2/sub/c" | tr '\n' ' ')" "3 3 3 " "${opt:-default}"
		eq "$(stat -c '%i' "$M/d2/a" "$M/d2/b" "$M/d2/sub/c" | sort -u | wc -l)" 1 "one inode"
		eq "$(stat -c '%h %i' "$M/d2/s" | cut -d' ' -f1)" 2 "linked symlinks"
		eq "$(stat -c '%i' "$M/d2/s" "$M/d2/s2" | sort -u | wc -l)" 1
		echo more >>"$M/d2/a"
		eq "$(cat "$M/d2/b")" "a
more" "a write through one name shows through the others (${opt:-default})"
		eq "$(cat "$M/d2/sub/c")" "a
more"
		eq "$(stat -c %s "$M/d2/b")" 7
		# the name linked to a file outside the tree is a copy of its own
		eq "$(stat -c '%h' "$M/d2/o" "$M/out" | tr '\n' ' ')" "1 2 "
		eq "$(stat -c %h "$U/d2/a")" 3 "links on disk"
		unmount_layerfs "$M"
		mount_layerfs "$opt"
		echo again >>"$M/d2/sub/c"
		eq "$(tail -n 1 "$M/d2/b")" again "after a remount"
		unmount_layerfs "$M"
		eq "$(cat "$L1/d/a")" a "the lower file"
	done
}

@test "rename: names of a lower hard link in a moved tree that the kernel holds lose no write through its writeback cache (noopen)" {
	mkdir -p "$L1/d"
	echo a >"$L1/d/x"
	ln "$L1/d/x" "$L1/d/y"
	local opt
	for opt in "" noopen; do
		mount_fresh "$opt"
		# descriptors held on both names across the move (with noopen,
		# the open copies nothing up), each writing at the end of its
		# file after it
		run -0 python3 -c '
import os, sys
os.chdir(sys.argv[1])
fds = [os.open("d/" + n, os.O_RDWR) for n in ("x", "y")]
for fd in fds:
    os.read(fd, 100)
os.rename("d", "d2")
for fd, w in zip(fds, (b"1\n", b"2\n")):
    os.lseek(fd, 0, os.SEEK_END)
    os.write(fd, w)
    os.close(fd)
print(open("d2/x").read().replace("\n", " ") + "/ " + open("d2/y").read().replace("\n", " "))' "$M"
		# each name a copy of its own, as a lower file opened for
		# writing is copied up by default
		eq "$output" "a 1 / a 2 " "${opt:-default}: no write lost"
		unmount_layerfs "$M"
		eq "$(cat "$U/d2/x" | tr '\n' ' ')/ $(cat "$U/d2/y" | tr '\n' ' ')" "a 1 / a 2 " "${opt:-default}: the upper as shown"
	done
}

@test "rename: a lower directory holding upper files with several names moves, the names stay linked" {
	mkdir -p "$L1/A/sub"
	echo q >"$L1/A/q"
	echo o >"$L1/out"
	mount_layerfs
	echo n >"$M/A/n"
	ln "$M/A/n" "$M/A/n2"
	ln "$M/A/n" "$M/A/sub/n3"
	ln "$M/out" "$M/A/o2"
	ls -l "$M/A" "$M/A/sub" >/dev/null
	mv "$M/A" "$M/B"
	eq "$(names "$M/B")" "n n2 o2 q sub"
	eq "$(stat -c %h "$M/B/n" "$M/B/n2" "$M/B/sub/n3" | tr '\n' ' ')" "3 3 3 "
	eq "$(stat -c %i "$M/B/n" "$M/B/n2" "$M/B/sub/n3" | sort -u | wc -l)" 1
	eq "$(stat -c %i "$M/B/o2")" "$(stat -c %i "$M/out")" "an upper link to outside the tree"
	eq "$(cat "$M/B/q")" q
}

@test "rename: with noopen, a write through a descriptor held on one name of a lower hard link across the move of its directory reaches no other name (against the kernel's overlay)" {
	need_kernel_overlay
	mkdir -p "$L1/d"
	echo a >"$L1/d/x"
	ln "$L1/d/x" "$L1/d/y"
	ln "$L1/d/x" "$L1/d/z"
	# through a mapping too: its pages are written back after the move
	local script='
import errno, mmap, os, subprocess, sys
os.chdir(sys.argv[1])
fd = os.open("d/" + sys.argv[2], os.O_RDWR)
m = mmap.mmap(fd, 2)
m[0:1] = b"M"
try:
    os.rename("d", "d2")
except OSError as e:	# the kernel'"'"'s overlay: mv copies the tree
    if e.errno != errno.EXDEV:
        raise
    subprocess.run(["mv", "d", "d2"], check=True)
os.lseek(fd, 0, os.SEEK_END)
os.write(fd, b"w\n")
m.close()
os.close(fd)
print(" ".join(open("d2/" + n).read().replace("\n", "|") for n in "xyz"))'
	local opt name
	for opt in noopen noopen,writeback=0; do
		for name in x y z; do
			rm -rf "$T/k" "$T/ku" "$T/kw"
			mount_fresh "$opt"
			mkdir -p "$T/k" "$T/ku" "$T/kw"
			kovl_mount "$KOPTS,lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
			run -0 python3 -c "$script" "$T/k" "$name"
			local kern=$output
			# the kernel's descriptor writes to the copy its open
			# made, which mv's copy of the tree leaves behind: only
			# the other names are compared
			run -0 python3 -c "$script" "$M" "$name"
			local i
			for i in 1 2 3; do
				[ "$(echo xyz | cut -c$i)" = "$name" ] && continue
				eq "$(echo "$output" | cut -d' ' -f$i)" "$(echo "$kern" | cut -d' ' -f$i)" \
					"$opt, written through $name: name $(echo xyz | cut -c$i)"
			done
			eq "$(echo "$output" | tr ' ' '\n' | grep -c '^a|$')" 2 "$opt, $name: $output"
			eq "$(stat -c %h "$M/d2/$name")" 1 "$opt: $name is a file apart"
			kovl_umount "$T/k"
			unmount_layerfs "$M"
			eq "$(cat "$U/d2/$name")" "M
w" "$opt: $name's copy holds its writes"
			eq "$(cat "$L1/d/x")" a "the lower file"
		done
	done
}

@test "rename: a descriptor held on a linked name across the move reads its file after the name is reused" {
	mkdir -p "$L1/d"
	echo data >"$L1/d/a"
	ln "$L1/d/a" "$L1/d/b"
	local opt
	for opt in "" noopen; do
		mount_fresh "$opt"
		ls -l "$M/d" >/dev/null
		run -0 python3 -c '
import os, sys
m = sys.argv[1]
fds = [os.open(m + "/d/" + n, os.O_RDONLY) for n in ("a", "b")]
os.rename(m + "/d", m + "/d2")
for n in ("a", "b"):
    os.unlink(m + "/d2/" + n)
    with open(m + "/d2/" + n, "w") as f:
        f.write("UNRELATED")
out = []
for fd in fds:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    out.append(os.pread(fd, 4, 0).decode())
print(" ".join(out))' "$M"
		eq "$output" "data data" "${opt:-default}"
		unmount_layerfs "$M"
	done
}

@test "rename: names deleted from a lower directory stay deleted for lookups made while the directory moves (its whiteouts are purged)" {
	need_root
	mkdir -p "$L2/d"
	local i
	for i in $(seq -w 1 2000); do : >"$L2/d/w$i"; done
	echo k >"$L2/d/keep"
	mount_layerfs
	rm "$M"/d/w*
	unmount_layerfs "$M"
	# a fresh mount: the kernel holds no negative entries for the names
	mount_layerfs
	# each lookup waits until the move's purge took that name's whiteout
	# out of the upper, then asks through a descriptor of the directory
	run -0 python3 -c '
import os, sys, threading
m, up = sys.argv[1], sys.argv[2] + "/d"
order = [n for n in os.listdir(up) if n.startswith("w")]
dfd = os.open(m + "/d", os.O_RDONLY | os.O_DIRECTORY)
t = threading.Thread(target=os.rename, args=(m + "/d", m + "/e"))
t.start()
found = []
for n in order:
    while os.path.lexists(up + "/" + n) and t.is_alive():
        pass
    try:
        os.stat(n, dir_fd=dfd, follow_symlinks=False)
        found.append(n)
    except FileNotFoundError:
        pass
    if not t.is_alive():
        break
t.join()
print(len(found), found[:3])' "$M" "$U"
	eq "$output" "0 []"
	eq "$(names "$M/e")" keep
	unmount_layerfs "$M"
	mount_layerfs
	eq "$(names "$M/e")" keep
}

@test "rename: a file made over a whiteout while its directory moves (and the whiteouts are purged) is made" {
	mkdir -p "$L1/d"
	echo x >"$L1/d/x"
	echo y >"$L1/d/y"
	# the create finds the whiteout of x in its way, then waits while
	# the move purges the directory's whiteouts
	LAYERFS_TEST_PAUSE=install:x:1000 mount_layerfs
	rm "$M/d/x"
	(echo new >"$M/d/x") 2>"$T/create.err" &
	local pid=$!
	sleep 0.3
	mv "$M/d" "$M/e"
	wait "$pid" || fail "the create failed: $(cat "$T/create.err")"
	eq "$(cat "$M/e/x")" new
	eq "$(names "$M/e")" "x y"
}

@test "rename: a stat of a lower file below a directory being moved answers, also when the move copied the file up in the middle of it" {
	mkdir -p "$L1/d/sub"
	echo orig >"$L1/d/sub/g"
	# the stat (a GETATTR: no attribute caching) waits between reading
	# g's layers and its parent's, while the move copies the tree up
	LAYERFS_TEST_PAUSE=oref:g:1500 mount_layerfs timeout=0
	ls "$M/d/sub" >/dev/null
	(stat -c %s "$M/d/sub/g" >"$T/stat.out" 2>&1) &
	local pid=$!
	sleep 0.4
	mv "$M/d" "$M/e"
	wait "$pid" || fail "the stat failed: $(cat "$T/stat.out")"
	eq "$(cat "$T/stat.out")" 5
	eq "$(cat "$M/e/sub/g")" orig
}

# rename_rmdir_race N REL...: the lower directories d0..d(N-1) of $M are
# renamed to r0..r(N-1) by one process while another removes RELs of each
# (in order, under either name), the two meeting at a barrier per
# directory; prints "ok" or the first failures, then checks every rK is
# left empty.
rename_rmdir_race() {
	local n=$1 i
	shift
	run -0 python3 -c '
import os, sys, multiprocessing as mp
m, n, rels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def ren(bar, q):
    bad = []
    for i in range(n):
        bar.wait()
        try:
            os.rename(f"{m}/d{i}", f"{m}/r{i}")
        except OSError as e:
            bad.append(f"rename d{i}: {e.strerror}")
    q.put(bad)
def rm(bar, q):
    bad = []
    for i in range(n):
        bar.wait()
        for rel in rels:
            errs = []
            for d in (f"{m}/d{i}/{rel}", f"{m}/r{i}/{rel}"):
                try:
                    os.rmdir(d)
                    break
                except OSError as e:
                    errs.append(e.strerror)
            else:
                bad.append(f"rmdir d{i}/{rel}: {errs}")
    q.put(bad)
bar, q = mp.Barrier(2), mp.Queue()
ps = [mp.Process(target=f, args=(bar, q)) for f in (ren, rm)]
[p.start() for p in ps]
bad = q.get(timeout=120) + q.get(timeout=120)
[p.join() for p in ps]
print("\n".join(bad[:5]) if bad else "ok")' "$M" "$n" "$@"
	eq "$output" ok
	for ((i = 0; i < n; i++)); do
		[ -z "$(ls -A "$M/r$i")" ] || fail "r$i: $(ls -A "$M/r$i")"
	done
}

@test "rename: a lower directory moved while another process removes its subdirectories: neither fails" {
	local i s rels=()
	for ((i = 0; i < 100; i++)); do
		for ((s = 0; s < 20; s++)); do mkdir -p "$L2/d$i/s$s"; done
	done
	for ((s = 19; s >= 0; s--)); do rels+=("s$s"); done
	mount_layerfs
	rename_rmdir_race 100 "${rels[@]}"
}

@test "rename: a lower directory moved while another process removes a nested directory in it: neither fails" {
	local i s rels=()
	for ((i = 0; i < 250; i++)); do
		for ((s = 0; s < 8; s++)); do mkdir -p "$L2/d$i/e$s/x"; done
	done
	for ((s = 7; s >= 0; s--)); do rels+=("e$s/x" "e$s"); done
	mount_layerfs
	# the old code failed the rename with ENOTDIR about one run in three
	rename_rmdir_race 250 "${rels[@]}"
}

# rmdir of a merged directory whose last lower entry was just removed
# (a whiteout in its upper) lists it while the move of its parent makes
# it opaque and purges that whiteout: the listing takes the directory's
# layers, waits (LAYERFS_TEST_PAUSE), and reads them after the purge
@test "rename: rmdir of an emptied merged directory while a move of its parent makes it opaque: the directory is empty" {
	mkdir -p "$L1/d/e/x" "$L1/d/f"
	LAYERFS_TEST_PAUSE=listing:e:1000 mount_layerfs
	rmdir "$M/d/e/x"
	(rmdir "$M/d/e") 2>"$T/rmdir.err" &
	local pid=$!
	sleep 0.3
	mv "$M/d" "$M/d2"
	wait "$pid" || fail "the rmdir failed: $(cat "$T/rmdir.err")"
	eq "$(names "$M/d2")" f
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/d2")" f "after a remount"
}

# The same rmdir, when its listing takes the directory's new set, the
# upper alone, before the move purged the whiteout of x there: the
# listing reads the whiteout's name, the purge removes it (the tree copy
# waits before it, LAYERFS_TEST_PAUSE "purge"), and only then does the
# listing stat it (the second listing that reads x waits, "list_entry";
# the first is the tree copy's own)
@test "rename: rmdir of an emptied merged directory while a move of its parent purges the whiteouts there: the directory is empty" {
	mkdir -p "$L1/d/e/x" "$L1/d/f"
	LAYERFS_TEST_PAUSE="purge:e:1000;list_entry:x:1500:2" mount_layerfs
	rmdir "$M/d/e/x"
	(mv "$M/d" "$M/d2") 2>"$T/mv.err" &
	local pid=$!
	sleep 0.4
	rmdir "$M/d/e" || fail "the rmdir failed"
	wait "$pid" || fail "the move failed: $(cat "$T/mv.err")"
	eq "$(names "$M/d2")" f
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/d2")" f "after a remount"
}

@test "rename: a moved tree's lower files of many names need no descriptor each (a low fd limit)" {
	mkdir -p "$L1/d"
	local i
	for i in $(seq 1 600); do
		echo "$i" >"$L1/d/f$i"
		ln "$L1/d/f$i" "$L1/d/g$i"
	done
	# the daemon keeps this limit: root may raise it, so test as root
	# with a limit it cannot pass the prlimit of its own
	mount_layerfs
	prlimit --pid "$DAEMON_PID" --nofile=256:256
	mv "$M/d" "$M/d2"
	eq "$(stat -c %h "$M/d2/f600" "$M/d2/g600" | tr '\n' ' ')" "2 2 "
	eq "$(cat "$M/d2/g1")" 1
	eq "$(ls "$M/d2" | wc -l)" 1200
}

@test "rename: a moved lower tree keeps the access and modification times of its directories" {
	mkdir -p "$L1/A/sub"
	echo f >"$L1/A/sub/f"
	touch -d @1000000500 "$L1/A" "$L1/A/sub"
	touch -a -d @1000000000 "$L1/A" "$L1/A/sub"
	mount_layerfs
	mv "$M/A" "$M/B"
	eq "$(stat -c '%X %Y' "$M/B" "$M/B/sub" "$U/B" "$U/B/sub" | sort -u)" "1000000000 1000000500"
}

@test "rename: RENAME_NOREPLACE fails with EEXIST on an existing target" {
	echo a >"$L1/a"
	echo b >"$L2/b"
	mount_layerfs
	echo c >"$M/c"
	expect_errno EEXIST rename "$M/a" "$M/b" noreplace
	expect_errno EEXIST rename "$M/c" "$M/a" noreplace
	expect_errno EEXIST rename "$M/a" "$M/c" noreplace
	eq "$(cat "$M/a") $(cat "$M/b") $(cat "$M/c")" "a b c" "nothing changed"
	# a whited-out target does not exist
	rm "$M/b"
	"$FSOPS" rename "$M/a" "$M/b" noreplace
	eq "$(cat "$M/b")" a
	"$FSOPS" rename "$M/c" "$M/new" noreplace
	eq "$(names "$M")" "b new"
}

@test "rename: RENAME_EXCHANGE swaps files (upper/upper, lower/upper, lower/lower)" {
	echo l1 >"$L1/l1"
	echo l2 >"$L2/l2"
	mount_layerfs
	echo u1 >"$M/u1"
	echo u2 >"$M/u2"
	"$FSOPS" rename "$M/u1" "$M/u2" exchange
	eq "$(cat "$M/u1") $(cat "$M/u2")" "u2 u1"
	"$FSOPS" rename "$M/l1" "$M/u1" exchange
	eq "$(cat "$M/l1") $(cat "$M/u1")" "u2 l1"
	"$FSOPS" rename "$M/l2" "$M/u1" exchange
	eq "$(cat "$M/l2") $(cat "$M/u1")" "l1 l2"
	expect_errno ENOENT rename "$M/l2" "$M/missing" exchange
	unmount_layerfs
	mount_layerfs
	eq "$(cat "$M/l1") $(cat "$M/l2") $(cat "$M/u1") $(cat "$M/u2")" "u2 l1 l2 u1"
}

@test "rename: RENAME_EXCHANGE of a file and a lower directory" {
	mkdir -p "$L1/d"
	echo inside >"$L1/d/x"
	echo f >"$L2/f"
	mount_layerfs
	run "$FSOPS" rename "$M/d" "$M/f" exchange
	eq "$output" "" "exchange of a lower dir"
	[ -f "$M/d" ] && [ -d "$M/f" ] || fail "not exchanged"
	eq "$(cat "$M/d")" f
	eq "$(cat "$M/f/x")" inside
	unmount_layerfs
	mount_layerfs
	eq "$(cat "$M/d") $(cat "$M/f/x")" "f inside"
}

@test "rename: errors: ENOTEMPTY, EISDIR, ENOTDIR, EINVAL, ENOENT" {
	mkdir -p "$L1/full" "$L1/empty" "$L2/full2/sub"
	touch "$L1/full/x" "$L1/file"
	mount_layerfs
	mkdir "$M/upperdir"
	expect_errno ENOTEMPTY rename "$M/upperdir" "$M/full"
	expect_errno ENOTEMPTY rename "$M/empty" "$M/full2"
	expect_errno EISDIR rename "$M/file" "$M/empty"
	expect_errno ENOTDIR rename "$M/empty" "$M/file"
	expect_errno EINVAL rename "$M/full2" "$M/full2/sub/inside"
	expect_errno ENOENT rename "$M/nothing" "$M/x"
	eq "$(names "$M")" "empty file full full2 upperdir"
}

@test "rename: a directory over an empty-looking merged directory" {
	mkdir -p "$L2/target"
	touch "$L2/target/old"
	mkdir -p "$L1/src"
	touch "$L1/src/new"
	mount_layerfs
	rm "$M/target/old"
	"$FSOPS" rename "$M/src" "$M/target"
	eq "$(names "$M/target")" new "old lower children must not come back"
	eq "$(names "$M")" target
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/target")" new
}

@test "rename: rename to the same name and to a hard link of itself is a no-op" {
	echo x >"$L1/a"
	mount_layerfs
	"$FSOPS" rename "$M/a" "$M/a"
	eq "$(cat "$M/a")" x
	ln "$M/a" "$M/b"
	"$FSOPS" rename "$M/a" "$M/b"
	eq "$(names "$M")" "a b"
}

@test "rename: a file from a renamed lower dir and back again" {
	mkdir -p "$L1/d"
	echo 1 >"$L1/d/f"
	mount_layerfs
	mv "$M/d" "$M/e"
	mv "$M/e/f" "$M/f"
	mv "$M/e" "$M/d"
	mv "$M/f" "$M/d/f"
	eq "$(names "$M")" d
	eq "$(cat "$M/d/f")" 1
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" d
	eq "$(cat "$M/d/f")" 1
}

@test "rename: a renamed directory that a process has as cwd keeps working" {
	mkdir -p "$L1/d"
	echo 1 >"$L1/d/f"
	mount_layerfs
	spawn bash -c "cd '$M/d' && touch '$T/ready' && while [ ! -e '$T/go' ]; do sleep 0.05; done; cat f >'$T/out'; echo 2 >g"
	local p=$BG_PID
	wait_until 10 test -e "$T/ready"
	mv "$M/d" "$M/e"
	touch "$T/go"
	wait "$p" || fail "process in the renamed dir failed"
	eq "$(cat "$T/out")" 1
	eq "$(cat "$M/e/g")" 2
}

@test "rename: reads through an open file while renames move names around it answer for that file" {
	# Its attributes, data, xattr and flags are asked for by name in
	# its directory; a rename that gives the name to another file in
	# the meantime must not make the answer that file's (the kernel
	# keeps renames apart from changes of a file, not from reads).
	local opts
	for opts in "" noopen passthrough=0; do
		mount_fresh "$opts"
		"$TOOLS/renamerace" "$M" 3000 ||
			fail "answers for another file, or none, with options '$opts'"
		unmount_layerfs
	done
}

@test "rename: a merged directory inside a moved lower tree shows its own link count once the move is done, also to a stat during the move" {
	# the tree copy makes the directory opaque and upper-only after its
	# files are copied; a stat in between sees a merged directory (link
	# count 1), which the kernel must not keep
	need_dir_nlink
	mkdir -p "$L1/P/D/x" "$L2/P/D/y"
	head -c 96M /dev/zero >"$L1/P/D/big1"
	head -c 96M /dev/zero >"$L1/P/D/big2"
	mount_layerfs
	run -0 python3 -c '
import os, subprocess, sys
m = sys.argv[1]
fd = os.open(m + "/P/D", os.O_RDONLY)
mv = subprocess.Popen(["mv", m + "/P", m + "/Q"])
while mv.poll() is None:
    os.fstat(fd)
assert mv.returncode == 0
print(os.fstat(fd).st_nlink, os.stat(m + "/Q/D").st_nlink)' "$M"
	eq "$output" "4 4" "through the descriptor held across the move, and by name"
	unmount_layerfs
	mount_layerfs
	eq "$(stat -c %h "$M/Q/D")" 4 "after a remount"
}

@test "rename: a directory onto a deleted name or an emptied merged directory that fails for want of space changes nothing; so does one that succeeds, but for the move (upper and lower sources)" {
	need_root
	need_cmd mkfs.ext4
	local v fs=$T/fs img=$T/up.img
	for v in whiteout emptied; do
		rm -rf "$L1" "$L2" "$img"
		mkdir -p "$L1/P/t" "$L1/Q" "$L2" "$fs"
		echo a >"$L1/P/t/a"
		echo q >"$L1/Q/q"
		# 128-byte inodes: the opaque xattr needs a block of its own
		truncate -s 8M "$img"
		mkfs.ext4 -q -F -I 128 -m 0 -O ^has_journal "$img" >/dev/null 2>&1
		mount -o loop "$img" "$fs" || skip "no loop device"
		record_mount "$fs"
		mkdir -p "$fs/U/P/s" "$fs/W"
		echo x >"$fs/U/P/s/x"
		if [ "$v" = whiteout ]; then
			mknod "$fs/U/P/t" c 0 0
		else
			mkdir "$fs/U/P/t"
			mknod "$fs/U/P/t/a" c 0 0
		fi
		lfs_mount "lowerdir=$L1:$L2,upperdir=$fs/U,workdir=$fs/W" "$M"
		dd if=/dev/zero of="$fs/fill" bs=4k status=none 2>/dev/null || true
		dd if=/dev/zero of="$fs/fill2" bs=1k status=none 2>/dev/null || true
		run -1 "$FSOPS" rename "$M/P/s" "$M/P/t"
		[[ "$output" == *ENOSPC* ]] || fail "$v: rename: $output"
		echo 2 >/proc/sys/vm/drop_caches
		if [ "$v" = whiteout ]; then
			eq "$(names "$M/P")" s "$v: the deleted name stays deleted"
		else
			eq "$(names "$M/P") / $(names "$M/P/t")" "s t / " "$v: the emptied directory stays empty"
		fi
		unmount_layerfs
		rm -f "$fs/fill" "$fs/fill2"
		lfs_mount "lowerdir=$L1:$L2,upperdir=$fs/U,workdir=$fs/W" "$M"
		if [ "$v" = whiteout ]; then
			eq "$(names "$M/P")" s "$v, after a remount"
		else
			eq "$(names "$M/P/t")" "" "$v, after a remount"
		fi
		# with room, the same rename, and one of a lower directory
		"$FSOPS" rename "$M/P/s" "$M/P/t"
		eq "$(names "$M/P") / $(names "$M/P/t")" "t / x" "$v: moved"
		rm "$M/P/t/x"
		"$FSOPS" rename "$M/Q" "$M/P/t"
		eq "$(names "$M") / $(names "$M/P/t")" "P / q" "$v: a lower directory moved over it"
		unmount_layerfs
		umount "$fs"
		_forget_mount "$fs"
	done
}

@test "rename: a lower directory moves while names in it are removed meanwhile (no ENOENT for a name gone since the listing)" {
	local i
	mkdir "$L1/D"
	for i in $(seq 1 3000); do echo x >"$L1/D/f$i"; done
	mount_layerfs
	(for i in $(seq 3000 -1 1); do rm -f "$M/D/f$i" "$M/E/f$i"; done) &
	local rmpid=$!
	sleep 0.2
	run "$FSOPS" rename "$M/D" "$M/E"
	wait "$rmpid"
	[ "$status" -eq 0 ] || fail "rename failed: $output"
	[ ! -e "$M/D" ] || fail "D is still there"
	eq "$(names "$M/E")" "" "every name was removed, before or after the move"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" E
	eq "$(names "$M/E")" "" "after a remount"
}

# Renaming a merged directory copies its tree up and makes each directory
# in it opaque, purging the whiteouts it no longer needs. A lookup below
# that read a directory's layers just before (the daemon pauses it there,
# LAYERFS_TEST_PAUSE) must not keep them: the node it files would show
# the lower entries again, the whited-out one among them.
@test "rename: a lookup below a merged directory, under way while the directory is renamed, brings no whited-out entry back" {
	mkdir -p "$L1/p/d/s" "$U/p/d/s"
	echo keep >"$L1/p/d/s/keep"
	echo gone >"$L1/p/d/s/gone"
	mknod "$U/p/d/s/gone" c 0 0
	LAYERFS_TEST_PAUSE=lookup:s:600 mount_layerfs
	stat "$M/p/d/s" >"$T/stat.out" 2>&1 &
	local pid=$!
	sleep 0.2
	mv "$M/p" "$M/q"
	wait "$pid" || fail "stat of p/d/s: $(cat "$T/stat.out")"
	[ -n "$(getfattr --absolute-names -n trusted.overlay.opaque --only-values "$U/q/d/s" 2>/dev/null)" ] ||
		fail "sanity: the rename did not make q/d/s opaque"
	eq "$(names "$M/q/d/s")" keep
	expect_errno ENOENT stat "$M/q/d/s/gone"
	eq "$(stat -c %h "$M/q/d/s")" "$(stat -c %h "$U/q/d/s")" "link count of an opaque directory"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/q/d/s")" keep "after a remount"
}
