#!/usr/bin/env bats
# unlink/rmdir and the whiteouts and opaque directories they write.

load helpers

# kernel overlayfs view of the upper as the top lower layer, read-only
kernel_view_of_upper() { # MOUNTPOINT
	kovl_mount "lowerdir=$U:$L1:$L2" "$1"
}

@test "whiteout: unlink of a lower file writes a char 0:0 whiteout (as root)" {
	need_root
	echo x >"$L1/f"
	echo y >"$L2/g"
	mount_layerfs
	rm "$M/f" "$M/g"
	[ ! -e "$M/f" ] && [ ! -e "$M/g" ] || fail "still visible"
	expect_errno ENOENT stat "$M/f"
	eq "$(names "$M")" ""
	eq "$(stat -c '%F %t:%T' "$U/f")" "character special file 0:0"
	eq "$(stat -c '%F %t:%T' "$U/g")" "character special file 0:0"
	eq "$(cat "$L1/f")" x "lower layer untouched"
}

@test "whiteout: mknod of a 0:0 character device is refused (EPERM), also for a plain user; a lower file stays" {
	echo low >"$L1/f"
	mkdir -p "$L1/d"
	chmod 777 "$L1/d"
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	run ! mknod "$M/f" c 0 0
	[[ "$output" == *"File exists"* ]] || fail "over a lower file: $output"
	run ! mknod "$M/w" c 0 0
	[[ "$output" == *"Operation not permitted"* ]] || fail "as root: $output"
	if [ "$(id -u)" = 0 ]; then
		run ! as_user 4242 4242 mknod "$M/d/w" c 0 0
		[[ "$output" == *"Operation not permitted"* ]] || fail "as a plain user: $output"
	fi
	[ ! -e "$U/w" ] && [ ! -e "$U/d/w" ] || fail "left something in the upper"
	eq "$(cat "$M/f")" low
	eq "$(names "$M")" "d f"
	# a real device node still works (as root)
	if [ "$(id -u)" = 0 ]; then
		mknod "$M/null" c 1 3
		eq "$(stat -c %t:%T "$M/null")" 1:3
	fi
}

@test "whiteout: unlink of an upper-only file leaves no whiteout" {
	mount_layerfs
	echo x >"$M/f"
	mkdir "$M/d"
	rm "$M/f"
	rmdir "$M/d"
	eq "$(names "$U")" "" "upper after removing upper-only objects"
}

@test "whiteout: unlink of a copied-up file leaves a whiteout" {
	need_root
	echo x >"$L1/f"
	mount_layerfs
	echo y >>"$M/f"
	[ -f "$U/f" ] || fail "not copied up"
	rm "$M/f"
	expect_errno ENOENT stat "$M/f"
	eq "$(stat -c '%F %t:%T' "$U/f")" "character special file 0:0"
}

@test "whiteout: rmdir of a merged dir that looks empty succeeds and hides lower content" {
	need_root
	mkdir -p "$L1/d" "$L2/d"
	touch "$L1/d/a" "$L2/d/b"
	mount_layerfs
	run ! rmdir "$M/d"
	[[ "$output" == *"not empty"* ]] || fail "rmdir of a non-empty dir: $output"
	expect_errno ENOTEMPTY rmdir "$M/d"
	rm "$M/d/a" "$M/d/b"
	eq "$(names "$M/d")" ""
	rmdir "$M/d"
	expect_errno ENOENT stat "$M/d"
	eq "$(names "$M")" ""
	eq "$(stat -c '%F %t:%T' "$U/d")" "character special file 0:0"
	# recreated: empty, and opaque on disk
	mkdir "$M/d"
	eq "$(names "$M/d")" ""
	eq "$(getfattr --only-values -n trusted.overlay.opaque "$U/d" 2>/dev/null)" y "opaque xattr"
}

@test "whiteout: rm -rf of a lower tree, then the same names again" {
	mkdir -p "$L2/t/a/b/c" "$L1/t/a/x"
	touch "$L2/t/a/b/c/f" "$L1/t/a/x/g" "$L2/t/top"
	mount_layerfs
	rm -rf "$M/t"
	expect_errno ENOENT stat "$M/t"
	mkdir -p "$M/t/a/b"
	eq "$(find "$M/t" | sort | tr '\n' ' ')" "$M/t $M/t/a $M/t/a/b "
	echo new >"$M/t/top"
	eq "$(cat "$M/t/top")" new
	eq "$(names "$M/t")" "a top"
}

@test "whiteout: lower directories emptied and removed leave nothing in the staging area" {
	# each rmdir puts a directory full of whiteouts aside and empties it
	local i j
	for i in $(seq 1 40); do
		mkdir -p "$L1/t/d$i" "$L2/t/d$i/sub"
		for j in $(seq 1 30); do
			echo "$j" >"$L1/t/d$i/f$j"
			echo "$j" >"$L2/t/d$i/sub/g$j"
		done
	done
	mount_layerfs
	rm -rf "$M/t"
	expect_errno ENOENT stat "$M/t"
	mkdir "$M/t"
	eq "$(names "$M/t")" ""
	eq "$(find "$W" -mindepth 2 ! -name whiteout | wc -l)" 0 "staging area: $(find "$W" -mindepth 2 | head -5)"
	eq "$(names "$U")" t
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/t")" ""
}

@test "whiteout: mkdir over a whiteout of a lower layer shows an empty dir" {
	need_root
	mkdir -p "$L2/d"
	touch "$L2/d/old"
	mkwhiteout "$L1/d"
	mount_layerfs
	expect_errno ENOENT stat "$M/d"
	mkdir "$M/d"
	eq "$(names "$M/d")" ""
	touch "$M/d/new"
	eq "$(names "$M/d")" new
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/d")" new "after remount"
	unmount_layerfs
	# (the kernel does not mark this one opaque: the lower whiteout stays)
	mkdir "$T/kv"
	kovl_mount "lowerdir=$U:$L1:$L2" "$T/kv"
	eq "$(names "$T/kv/d")" new "kernel view of the upper"
}

@test "whiteout: a file created over a whiteout replaces it in the upper" {
	need_root
	echo old >"$L1/f"
	mount_layerfs
	rm "$M/f"
	echo new >"$M/f"
	eq "$(cat "$M/f")" new
	eq "$(stat -c %F "$U/f")" "regular file"
	ln -s tgt "$M/g" 2>/dev/null || true
	rm "$M/f"
	mkfifo "$M/f"
	eq "$(stat -c %F "$M/f")" fifo
}

@test "whiteout: the kernel's overlayfs reads the upper as we showed it" {
	need_root
	mkdir -p "$L1/a/keep" "$L2/a/gone" "$L2/b" "$L2/c/sub"
	touch "$L1/a/f1" "$L2/a/f2" "$L2/a/gone/x" "$L2/b/y" "$L2/c/sub/z" "$L2/rmme"
	mount_layerfs
	rm "$M/a/f2" "$M/rmme"
	rm -rf "$M/a/gone" "$M/c"
	mkdir "$M/c"
	touch "$M/c/new"
	rm -rf "$M/b"
	mkdir "$M/b"
	mkdir "$M/a/gone"
	echo data >"$M/a/keep/k"
	bash "$SCRIPTS/dumptree.sh" "$M" >"$T/ours"
	unmount_layerfs
	mkdir "$T/kv"
	kernel_view_of_upper "$T/kv"
	bash "$SCRIPTS/dumptree.sh" "$T/kv" >"$T/kernel"
	diff -u "$T/ours" "$T/kernel" >&2 || fail "kernel view of the upper differs"
	grep -q '^c/new ' "$T/kernel" || fail "sanity: c/new not in the kernel view"
}

@test "whiteout: an opaque marker on a layer's root hides no layer below it, as on the kernel's overlay" {
	need_kernel_overlay
	echo 1 >"$L1/one"
	echo 2 >"$L2/two"
	mkdir -p "$L2/dd" "$T/ku"
	echo 3 >"$L2/dd/three"
	local where
	for where in lower upper; do
		if [ "$where" = lower ]; then
			setfattr -n trusted.overlay.opaque -v y "$L1"
		else
			setfattr -x trusted.overlay.opaque "$L1"
			setfattr -n trusted.overlay.opaque -v y "$U"
			setfattr -n trusted.overlay.opaque -v y "$T/ku"
		fi
		mount_beside_kernel
		eq "$(names "$T/k")" "dd one two" "sanity: the kernel's view"
		eq "$(names "$M")" "$(names "$T/k")" "$where root opaque"
		eq "$(cat "$M/dd/three")" 3
		unmount_layerfs
		kovl_umount "$T/k"
	done
	# nor does a .wh..wh..opq file (the kernel shows it as a name)
	setfattr -x trusted.overlay.opaque "$U"
	touch "$L1/.wh..wh..opq"
	mount_layerfs
	eq "$(names "$M")" "dd one two"
}

@test "whiteout: with userxattr, root writes user.overlay.* only, and the kernel's overlayfs with userxattr reads the upper as we showed it" {
	need_root
	mkdir -p "$L1/a/keep" "$L2/a/gone" "$L2/b" "$L2/mv/sub"
	touch "$L1/a/f1" "$L2/a/f2" "$L2/a/gone/x" "$L2/b/y" "$L2/mv/sub/z"
	echo lower >"$L2/cp"
	mount_layerfs userxattr
	rm "$M/a/f2"
	rm -rf "$M/a/gone" "$M/b"
	mkdir "$M/b" "$M/a/gone"
	touch "$M/b/new"
	mv "$M/mv" "$M/moved"
	echo more >>"$M/cp"
	bash "$SCRIPTS/dumptree.sh" "$M" >"$T/ours"
	unmount_layerfs
	eq "$(getfattr --absolute-names -R -h -d -m '^trusted\.' "$U" 2>/dev/null)" "" "trusted.* xattrs in the upper"
	eq "$(getfattr --absolute-names -h --only-values -n user.overlay.opaque "$U/b")" y "b's opaque marker"
	mkdir "$T/kv"
	kovl_mount "lowerdir=$U:$L1:$L2,userxattr" "$T/kv"
	bash "$SCRIPTS/dumptree.sh" "$T/kv" >"$T/kernel"
	diff -u "$T/ours" "$T/kernel" >&2 || fail "the kernel's userxattr view of the upper differs"
	grep -q '^b/new ' "$T/kernel" || fail "sanity: b/new not in the kernel view"
	! grep -q '^b/y ' "$T/kernel" || fail "sanity: b/y in the kernel view"
}

@test "whiteout: whiteouts of several formats in one lower dir, then removal through the mount" {
	need_root
	mkdir -p "$L1/d" "$L2/d"
	touch "$L2/d/a" "$L2/d/b" "$L2/d/c" "$L1/d/keep"
	mkwhiteout "$L1/d/a"
	touch "$L1/d/.wh.b"
	mount_layerfs
	eq "$(names "$M/d")" "c keep"
	rm "$M/d/c" "$M/d/keep"
	eq "$(names "$M/d")" ""
	rmdir "$M/d"
	eq "$(names "$M")" ""
}

@test "whiteout: unlink and rmdir on a read-only lower through the mount never touch the lowers" {
	mkdir -p "$L1/d/e"
	touch "$L1/d/e/f" "$L2/g"
	(cd "$T" && find lower1 lower2 -printf '%p %y %m\n' | sort) >"$T/before"
	mount_layerfs
	rm -rf "$M/d" "$M/g"
	eq "$(names "$M")" ""
	(cd "$T" && find lower1 lower2 -printf '%p %y %m\n' | sort) >"$T/after"
	diff -u "$T/before" "$T/after" >&2 || fail "lower layers changed"
}

@test "whiteout: rename over a lower file and removal of the source leave the right whiteouts" {
	need_root
	echo a >"$L1/a"
	echo b >"$L1/b"
	mount_layerfs
	mv "$M/a" "$M/b"
	eq "$(names "$M")" b
	eq "$(cat "$M/b")" a
	eq "$(stat -c '%F %t:%T' "$U/a")" "character special file 0:0"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" b
	eq "$(cat "$M/b")" a
}

@test "whiteout: a directory made through the mount and moved into a merged directory is made opaque, as by the kernel's overlay" {
	need_kernel_overlay
	mkdir -p "$L1/m" "$L1/x"
	echo f >"$L1/m/f"
	mount_beside_kernel
	local top r opq
	for top in "$M" "$T/k"; do
		mkdir "$top/n" "$top/n2" "$top/n3" "$top/e" "$top/m/e2"
		mv "$top/n" "$top/m/n"		# into a merged dir, no lower name
		mv "$top/n2" "$top/n2b"		# within the merged root
		mkdir "$top/n3/sub"
		mv "$top/n3" "$top/x/n3"
		"$FSOPS" rename "$top/e" "$top/m/e2" exchange
	done
	for r in m/n n2b x/n3 x/n3/sub e m/e2; do
		for top in "$U" "$T/ku"; do
			opq=$(getfattr --absolute-names -n trusted.overlay.opaque --only-values "$top/$r" 2>/dev/null) || opq=-
			echo "$r $opq"
		done
	done >"$T/opq"
	eq "$(awk 'NR % 2 { a = $0; next } { print (a == $0 ? "same" : "differ: " a " / " $0) }' "$T/opq" | sort -u)" same \
		"opaque markers differ from the kernel's: $(cat "$T/opq")"
	grep -q '^m/n y$' "$T/opq" || fail "sanity: the kernel made m/n opaque: $(cat "$T/opq")"
}

@test "whiteout: unprivileged-style .wh. files and user.overlay.opaque in the upper are honoured" {
	mkdir -p "$L1/d" "$L1/o" "$U/d" "$U/o"
	touch "$L1/d/x" "$L1/d/y" "$L1/o/hidden" "$U/.wh.top" "$L1/top"
	touch "$U/d/.wh.x"
	setfattr -n user.overlay.opaque -v y "$U/o"
	mount_layerfs
	eq "$(names "$M")" "d o"
	eq "$(names "$M/d")" y
	eq "$(names "$M/o")" ""
	# and a name whited out by a .wh. file can be created again
	echo back >"$M/top"
	eq "$(cat "$M/top")" back
	eq "$(names "$M")" "d o top"
	touch "$M/d/x"
	eq "$(names "$M/d")" "x y"
}

@test "whiteout: an unprivileged daemon writes whiteouts it can make and user.overlay.opaque" {
	need_root
	[ -u "$(command -v fusermount3)" ] || skip "fusermount3 is not setuid"
	local nu ng
	nu=$(id -u nobody) && ng=$(id -g nobody) || skip "no user nobody (fusermount3 needs a user name)"
	make_traversable
	need_user_exec "$nu" "$ng" "$LAYERFS"
	echo x >"$L1/f"
	mkdir -p "$L1/d" "$L2/d"
	touch "$L1/d/a" "$L2/d/b"
	chown -R "$nu:$ng" "$L1" "$L2" "$U" "$W" "$M"
	as_user "$nu" "$ng" "$LAYERFS" -o "lowerdir=$L1:$L2,upperdir=$U,workdir=$W" "$M" 3>&- 2>"$T/daemon.err" ||
		fail "unprivileged mount failed: $(cat "$T/daemon.err")"
	wait_until 10 is_mounted "$M" || fail "not mounted"
	echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
	as_user "$nu" "$ng" rm "$M/f"
	as_user "$nu" "$ng" rm -rf "$M/d"
	as_user "$nu" "$ng" mkdir "$M/d"
	as_user "$nu" "$ng" touch "$M/d/new"
	eq "$(as_user "$nu" "$ng" ls -A "$M" | tr '\n' ' ')" "d "
	eq "$(as_user "$nu" "$ng" ls -A "$M/d" | tr '\n' ' ')" "new "
	# since Linux 5.8 anyone may mknod a 0:0 whiteout: then that is the form
	mkdir "$T/probe"
	chown "$nu:$ng" "$T/probe"
	if as_user "$nu" "$ng" mknod "$T/probe/wh" c 0 0 2>/dev/null; then
		eq "$(stat -c '%F %t:%T' "$U/f")" "character special file 0:0" "whiteout"
	else
		[ -f "$U/.wh.f" ] || fail "no .wh.f file in the upper: $(ls -la "$U")"
		[ ! -e "$U/f" ] || fail "upper has f: $(stat -c %F "$U/f")"
	fi
	eq "$(getfattr --only-values -n user.overlay.opaque "$U/d" 2>/dev/null)" y "user.overlay.opaque on the new dir"
	unmount_layerfs
	# a privileged mount reads those formats the same way
	mount_layerfs
	eq "$(names "$M")" d
	eq "$(names "$M/d")" new
}

@test "whiteout: a daemon that may not mknod writes .wh. files; an upper file that cannot be taken out of the view stays visible, with no marker left" {
	need_root
	need_cmd chattr
	echo x >"$L1/f"
	echo y >"$L1/g"
	# mknod of character devices fails with EPERM, as before Linux 5.8
	# in a user namespace
	LFS_WRAP="$FSOPS nochrdev" mount_layerfs
	echo more >>"$M/f"
	chattr +i "$U/f" 2>/dev/null || skip "no inode flags on the test directory's file system"
	run ! rm "$M/f"
	chattr -i "$U/f"
	[[ "$output" == *"Operation not permitted"* ]] || fail "rm of an immutable upper file: $output"
	eq "$(cat "$M/f")" "x
more" "the refused rm hid the file"
	[ ! -e "$U/.wh.f" ] || fail "a marker was left for a file still there"
	rm "$M/f" "$M/g"
	eq "$(names "$M")" ""
	[ -f "$U/.wh.f" ] && [ -f "$U/.wh.g" ] || fail "no .wh. files: $(ls -A "$U")"
	[ ! -e "$U/f" ] || fail "the upper still has f"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" ""
}

@test "whiteout: with .wh. files, a lower name too long for a marker is neither removed nor renamed, and a refused rename changes nothing" {
	need_root
	local long
	long=$(printf 'n%.0s' $(seq 253))
	mkdir -p "$L1/d"
	echo one >"$L1/d/$long"
	echo two >"$L1/d/${long}b"
	echo moved >"$L1/d/m"
	LFS_WRAP="$FSOPS nochrdev" mount_layerfs
	expect_errno ENAMETOOLONG unlink "$M/d/$long"
	expect_errno ENAMETOOLONG rename "$M/d/${long}b" "$M/d/short"
	eq "$(cat "$M/d/${long}b")" two
	[ ! -e "$M/d/short" ] || fail "the refused rename left its target"
	[ ! -e "$U/d/short" ] || fail "the refused rename left its target in the upper"
	# a name that fits takes a marker, made before the move
	mv "$M/d/m" "$M/d/${long}c"
	[ -f "$U/d/.wh.m" ] || fail "no marker for m: $(ls -A "$U/d")"
	unmount_layerfs
	mount_layerfs
	eq "$(ls "$M/d" | wc -l)" 3
	eq "$(cat "$M/d/$long" "$M/d/${long}b" "$M/d/${long}c")" "one
two
moved"
	[ ! -e "$M/d/short" ] && [ ! -e "$M/d/m" ] || fail "after a remount: $(ls "$M/d")"
}

@test "whiteout: where rename cannot leave a whiteout itself (RENAME_WHITEOUT), a lower file's rename still leaves one" {
	need_root
	mkdir -p "$L1/d"
	echo a >"$L1/d/a"
	echo b >"$L1/d/b"
	echo up >"$L1/d/c"
	LFS_WRAP="$FSOPS norenamewhiteout" mount_layerfs
	echo t >"$M/d/target"
	mv "$M/d/a" "$M/d/moved"
	mv "$M/d/b" "$M/d/target"
	echo more >>"$M/d/c"
	mv "$M/d/c" "$M/d/c2"
	eq "$(names "$M/d")" "c2 moved target"
	local n
	for n in a b c; do
		eq "$(stat -c '%F %t:%T' "$U/d/$n")" "character special file 0:0" "$n"
	done
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/d")" "c2 moved target"
	eq "$(cat "$M/d/moved" "$M/d/target" "$M/d/c2")" "a
b
up
more"
}

@test "whiteout: a .wh. file hides its name in the layers below, not the name beside it in its own layer (listings agree with lookups)" {
	mkdir -p "$L1/d" "$L2/d"
	local i
	for i in $(seq 1 12); do
		echo "top$i" >"$L1/d/n$i"
		: >"$L1/d/.wh.n$i"
		echo "low$i" >"$L2/d/n$i"
	done
	: >"$L1/d/.wh.gone"
	echo low >"$L2/d/gone"
	echo low >"$L2/d/other"
	mount_layerfs
	eq "$(names "$M/d")" "n1 n10 n11 n12 n2 n3 n4 n5 n6 n7 n8 n9 other"
	eq "$(cat "$M/d/n7")" top7
	[ ! -e "$M/d/gone" ] || fail "gone is not hidden"
}

@test "whiteout: whiteouts share one inode, as the kernel's overlay makes them; a copied-up file replaced by one too" {
	need_root
	local k
	echo a >"$L1/a"
	echo b >"$L1/b"
	mkdir "$L2/d"
	echo c >"$L2/d/c"
	echo e >"$L1/e"
	mount_layerfs
	echo more >>"$M/e"	# copied up, then removed: whiteout_replace
	rm "$M/a" "$M/b" "$M/d/c" "$M/e"
	eq "$(stat -c '%t:%T' "$U/a" "$U/b" "$U/d/c" "$U/e" | sort -u)" 0:0 "all are 0:0 devices"
	eq "$(stat -c %i "$U/a" "$U/b" "$U/d/c" "$U/e" | sort -u | wc -l)" 1 "distinct inodes among the whiteouts"
	[ "$(stat -c %h "$U/a")" -ge 4 ] || fail "link count $(stat -c %h "$U/a")"
	eq "$(names "$M")" "d" "merged root"
	eq "$(names "$M/d")" "" "merged d"
	unmount_layerfs
	# the kernel's overlay, for reference: one inode as well
	k=$T/k
	mkdir -p "$k/u" "$k/w" "$k/m"
	kovl_mount "lowerdir=$L1:$L2,upperdir=$k/u,workdir=$k/w" "$k/m"
	rm "$k/m/a" "$k/m/b"
	eq "$(stat -c %i "$k/u/a" "$k/u/b" | sort -u | wc -l)" 1 "kernel: distinct inodes"
	# a remount starts afresh and still reads them all as whiteouts
	mount_layerfs
	eq "$(names "$M")" "d"
	rmdir "$M/d"
	[ ! -e "$M/d" ] || fail "d still there"
	eq "$(stat -c '%t:%T' "$U/d")" 0:0
}

@test "whiteout: more whiteouts than a file can have links (ext4: 65000) start a new shared inode" {
	need_root
	local lo=$T/lo n i
	[ "$(stat -f -c %T "$U")" = ext2/ext3 ] || skip "the upper is not on ext4 ($(stat -f -c %T "$U"))"
	mkdir "$lo"
	mount -t tmpfs -o size=64m,nr_inodes=100000 tmpfs "$lo"
	record_mount "$lo"
	# 65,010 lower files in 26 directories
	python3 -c '
import os, sys
for d in range(26):
    os.mkdir(f"{sys.argv[1]}/d{d}")
    for f in range(2500 + (10 if d == 0 else 0)):
        open(f"{sys.argv[1]}/d{d}/f{f}", "w").close()
' "$lo"
	lfs_mount "lowerdir=$lo,upperdir=$U,workdir=$W" "$M"
	find "$M" -type f -delete
	eq "$(find "$M" -type f | wc -l)" 0 "files left in the merged view"
	n=$(find "$U" -type c | wc -l)
	eq "$n" 65010 "whiteouts in the upper"
	eq "$(find "$U" -type c -printf '%i\n' | sort -u | wc -l)" 2 "shared inodes"
	eq "$(stat -c '%t:%T' "$U/d25/f2499")" 0:0
	unmount_layerfs
	lfs_mount "lowerdir=$lo,upperdir=$U,workdir=$W" "$M"
	eq "$(find "$M" -type f | wc -l)" 0 "files after a remount"
	eq "$(ls "$M" | wc -l)" 26
}

@test "whiteout: the mount's probe for opaque xattrs leaves nothing on the staging directory; opaque dirs still get the xattr" {
	need_root
	mkdir -p "$L1/d"
	echo x >"$L1/d/f"
	mount_layerfs
	eq "$(getfattr --absolute-names -d -m - "$W/layerfs" 2>/dev/null)" "" "xattrs of the staging directory"
	rm -r "$M/d"
	mkdir "$M/d"
	eq "$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$U/d" 2>/dev/null)" y "opaque marker"
	eq "$(names "$M/d")" ""
}

@test "whiteout: the first whiteout of a mount needs only the inode the kernel's overlay needs" {
	echo x >"$L1/f"
	upper_on_small_tmpfs
	mount_layerfs
	local i=0
	while (: >"$U/fill$i") 2>/dev/null; do i=$((i + 1)); done
	# one inode left: the kernel's overlay removes f with it
	rm "$U/fill0"
	rm "$M/f" || fail "unlink with one inode left failed"
	[ ! -e "$M/f" ] || fail "f still shows"
	[ -c "$U/f" ] || fail "no whiteout in the upper"
	rm "$U"/fill*
	echo y >"$L1/g"
	rm "$M/g"
	[ ! -e "$M/g" ] || fail "g still shows"
}
