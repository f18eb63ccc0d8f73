#!/usr/bin/env bats
# Inode numbers: unique, stable, shared by hard links; tree walkers are happy.

load helpers

# put every layer on its own tmpfs, so that the real inode numbers of the
# layers collide (each tmpfs numbers its inodes from the same start)
layers_on_tmpfs() {
	local d
	for d in "$L1" "$L2" "$T/uw"; do
		mkdir -p "$d"
		mount -t tmpfs -o size=64m tmpfs "$d"
		record_mount "$d"
	done
	U=$T/uw/upper
	W=$T/uw/work
	mkdir -p "$U" "$W"
}

# the same tree shape in every layer
populate_same_shape() {
	local l
	for l in "$L1" "$L2" "$U"; do
		mkdir -p "$l/a/b/c" "$l/x/y"
		echo "$l" >"$l/a/f"
		echo "$l" >"$l/x/y/g"
	done
	mkdir -p "$L2/only2/deeper" "$L1/only1"
	touch "$L2/only2/deeper/h" "$L1/only1/i" "$L2/a/b/c/j" "$L1/x/k"
}

@test "inode: inode numbers are unique within the mount (layers with colliding numbers)" {
	need_root
	layers_on_tmpfs
	populate_same_shape
	# sanity: the layers really do share inode numbers
	[ -n "$( (find "$L1" "$L2" -printf '%i\n') | sort | uniq -d)" ] ||
		skip "tmpfs did not produce colliding inode numbers"
	mount_layerfs
	local dups
	dups=$(find "$M" -printf '%i\n' | sort | uniq -d)
	eq "$dups" "" "duplicate st_ino in the merged view"
	eq "$(find "$M" -printf '%D\n' | sort -u | wc -l)" 1 "one st_dev for the whole mount"
}

@test "inode: find, du, tar and cp -a over the mount print no warnings" {
	need_root
	layers_on_tmpfs
	populate_same_shape
	echo same >"$L2/hl1"
	ln "$L2/hl1" "$L2/hl2"
	ln -s a "$L1/sym"
	mount_layerfs
	rm -rf "$M/x/y"
	echo new >>"$M/a/b/c/j"
	run -0 --separate-stderr find "$M" -xdev
	eq "$stderr" "" "find stderr"
	run -0 --separate-stderr du -s "$M"
	eq "$stderr" "" "du stderr"
	run -0 --separate-stderr tar -C "$M" -cf /dev/null .
	eq "$stderr" "" "tar cf /dev/null stderr"
	# (GNU tar does not read file data for /dev/null: write an archive too)
	run -0 --separate-stderr tar -C "$M" -cf "$T/out.tar" .
	eq "$stderr" "" "tar stderr"
	run -0 --separate-stderr cp -a "$M" "$T/copy"
	eq "$stderr" "" "cp -a stderr"
	diff -r --no-dereference "$M" "$T/copy" >&2 || fail "cp -a copy differs"
	eq "$(stat -c %i "$T/copy/hl1")" "$(stat -c %i "$T/copy/hl2")" "cp -a kept the hard link"
	eq "$(tar -tf "$T/out.tar" | wc -l)" "$(find "$M" | wc -l)"
}

@test "inode: st_ino is stable across copy-up (chmod) and rename" {
	echo x >"$L1/f"
	mkdir -p "$L2/d/e"
	touch "$L2/d/e/g"
	mount_layerfs
	local fi di gi
	fi=$(stat -c %i "$M/f")
	di=$(stat -c %i "$M/d")
	gi=$(stat -c %i "$M/d/e/g")
	chmod 600 "$M/f"
	eq "$(stat -c %i "$M/f")" "$fi" "file ino after chmod copy-up"
	chmod 700 "$M/d"
	eq "$(stat -c %i "$M/d")" "$di" "dir ino after copy-up"
	echo y >>"$M/d/e/g"
	eq "$(stat -c %i "$M/d/e/g")" "$gi" "ino after copy-up by write"
	mv "$M/f" "$M/f2"
	eq "$(stat -c %i "$M/f2")" "$fi" "ino after rename"
	# an open descriptor sees the same number
	eq "$(bash -c "exec 5<'$M/f2'; stat -L -c %i /dev/fd/5")" "$fi"
}

@test "inode: copied-up objects keep their st_ino across a remount, and readdir agrees" {
	echo x >"$L1/f"
	mkdir -p "$L2/d/e" "$L2/m"
	touch "$L2/d/e/g" "$L2/m/src"
	ln -s target "$L1/s"
	mount_layerfs
	local before after
	inos() { (cd "$M" && stat -c '%n %i' f s d d/e d/e/g m2/dst 2>/dev/null); }
	before=$(cd "$M" && stat -c '%n %i' f s d d/e d/e/g m/src | sed 's,m/src,m2/dst,')
	chmod 600 "$M/f"
	chown -h 7 "$M/s" 2>/dev/null || touch -h "$M/s"
	echo y >>"$M/d/e/g"
	touch "$M/d/new"
	mv "$M/m" "$M/m2"
	mv "$M/m2/src" "$M/m2/dst"
	eq "$(inos)" "$before" "while mounted"
	unmount_layerfs
	mount_layerfs
	after=$(inos)
	if [ "$(id -u)" != 0 ]; then
		# user.* xattrs do not go on symlinks: their number is new
		after=$(echo "$after" | grep -v '^s ')
		before=$(echo "$before" | grep -v '^s ')
	fi
	eq "$after" "$before" "after a remount"
	# readdir's d_ino, before any lookup in the new mount
	unmount_layerfs
	mount_layerfs
	eq "$(ls -i "$M/d/e" | awk '{print $1}')" "$(echo "$before" | awk '$1 == "d/e/g" {print $2}')"
	eq "$(stat -c %i "$M/d/e/g")" "$(echo "$before" | awk '$1 == "d/e/g" {print $2}')"
}

@test "inode: st_ino is the same after the kernel dropped its caches" {
	need_root
	echo x >"$L1/f"
	mkdir -p "$L1/d/e"
	mount_layerfs timeout=0
	local a b c
	a=$(stat -c %i "$M/f")
	b=$(stat -c %i "$M/d/e")
	echo y >"$M/new"
	c=$(stat -c %i "$M/new")
	sync
	echo 3 >/proc/sys/vm/drop_caches
	eq "$(stat -c %i "$M/f")" "$a"
	eq "$(stat -c %i "$M/d/e")" "$b"
	eq "$(stat -c %i "$M/new")" "$c"
}

@test "inode: file handles are refused as by the kernel's overlay (they could not be opened once the inode is evicted); fanotify's file ids are made" {
	need_kernel_overlay
	kernel_at_least 6 8 || skip "FUSE_NO_EXPORT_SUPPORT is Linux 6.8's"
	echo x >"$L2/low"
	mkdir -p "$L1/dir"
	mount_beside_kernel
	echo y >"$M/new"
	echo y >"$T/k/new"
	local p got want
	for p in low dir new .; do
		want=$("$FSOPS" handle "$T/k/$p" || true)
		eq "$want" EOPNOTSUPP
		got=$("$FSOPS" handle "$M/$p" || true)
		eq "$got" "$want"
		# a file id's type differs between the two: only that it is made
		want=$("$FSOPS" handle "$T/k/$p" fid | cut -d' ' -f1)
		got=$("$FSOPS" handle "$M/$p" fid | cut -d' ' -f1)
		eq "$got" "$want"
	done
}

@test "inode: hard links inside a layer share st_ino, with the right st_nlink" {
	echo one >"$L2/a"
	ln "$L2/a" "$L2/b"
	ln "$L2/a" "$L2/c"
	echo two >"$L2/single"
	mkdir -p "$U/u"
	echo three >"$U/u/p"
	ln "$U/u/p" "$U/u/q"
	mount_layerfs
	eq "$(stat -c %i "$M/a")" "$(stat -c %i "$M/b")"
	eq "$(stat -c %i "$M/a")" "$(stat -c %i "$M/c")"
	eq "$(stat -c %h "$M/a")" 3
	eq "$(stat -c %h "$M/single")" 1
	ne "$(stat -c %i "$M/single")" "$(stat -c %i "$M/a")"
	eq "$(stat -c %i "$M/u/p")" "$(stat -c %i "$M/u/q")"
	eq "$(stat -c %h "$M/u/q")" 2
}

@test "inode: . and .. agree with the directories they name" {
	mkdir -p "$L1/d/sub" "$L2/d/other"
	mount_layerfs
	eq "$(stat -c %i "$M/d/.")" "$(stat -c %i "$M/d")"
	eq "$(stat -c %i "$M/d/sub/..")" "$(stat -c %i "$M/d")"
	eq "$(stat -c %i "$M/d/other/..")" "$(stat -c %i "$M/d")"
	eq "$(stat -c %i "$M/d/..")" "$(stat -c %i "$M")"
	# a merged directory reports st_nlink 1 ("unknown", as the kernel's
	# overlayfs does) or the real count 2 + 2 subdirectories; anything else
	# misleads find's leaf optimisation
	local n
	n=$(stat -c %h "$M/d")
	[ "$n" = 1 ] || [ "$n" = 4 ] || fail "st_nlink of a merged dir with 2 subdirs: $n"
	eq "$(stat -c %h "$M/d/sub")" "$(stat -c %h "$L1/d/sub")"
}

@test "inode: readdir d_ino matches stat st_ino" {
	need_cmd python3
	mkdir -p "$L1/d" "$L2/d"
	touch "$L1/d/a" "$L2/d/b"
	mkdir "$L2/d/c"
	mount_layerfs
	echo x >"$M/d/u"
	run -0 python3 -c "
import os, sys
bad = []
for e in os.scandir(sys.argv[1]):
    st = os.lstat(e.path)
    if e.inode() != st.st_ino:
        bad.append('%s d_ino=%d st_ino=%d' % (e.name, e.inode(), st.st_ino))
print(' '.join(bad))
" "$M/d"
	eq "$output" "" "d_ino/st_ino mismatches"
}

@test "inode: records of a copied upper (cp -a, a restore) are not trusted: numbers stay unique" {
	need_root
	mkdir -p "$L1/d"
	for i in 1 2 3 4; do echo $i >"$L1/d/f$i"; done
	mount_layerfs
	chmod 600 "$M/d/f1" "$M/d/f2"
	unmount_layerfs
	# the layers as a backup restores them: other inode numbers
	rm -rf "$T/l1b" "$T/u2" "$T/w2"
	cp -a "$L1" "$T/l1b"
	cp -a "$U" "$T/u2"
	mkdir -p "$T/w2"
	lfs_mount "lowerdir=$T/l1b,upperdir=$T/u2,workdir=$T/w2" "$M"
	local inos
	inos=$(stat -c %i "$M"/d/* "$M/d")
	eq "$(echo "$inos" | sort | uniq -d)" "" "duplicate inode numbers: $inos"
	eq "$(stat -c %i "$M/d/f1")" "$(stat -c %i "$T/u2/d/f1")" "a stale record ignored"
}

@test "inode: after one name of a lower hard link is copied up, a cached listing's d_ino follows its new st_ino" {
	mkdir -p "$L1/h"
	echo h >"$L1/h/h1"
	ln "$L1/h/h1" "$L1/h/h2"
	mount_layerfs
	local check='import os, sys
d = sys.argv[1]
for e in os.scandir(d):
    s = os.lstat(os.path.join(d, e.name))
    if e.inode() != s.st_ino:
        print("%s: d_ino %d, st_ino %d" % (e.name, e.inode(), s.st_ino))'
	eq "$(python3 -c "$check" "$M/h")" ""
	chmod 600 "$M/h/h1"
	eq "$(python3 -c "$check" "$M/h")" "" "after the copy-up"
}

@test "inode: a merged directory that records no number shows its lower directory's, as on the kernel's overlay (an upper from another overlay)" {
	need_kernel_overlay
	mkdir -p "$L1/d/sub" "$L2/d" "$U/d/sub" "$T/ku/d/sub"
	touch "$L1/d/x" "$U/d/new" "$T/ku/d/new"
	mount_beside_kernel
	local want
	want=$(stat -c %i "$L1/d" "$L1/d/sub")
	eq "$(stat -c %i "$T/k/d" "$T/k/d/sub")" "$want" "the kernel's overlay"
	eq "$(stat -c %i "$M/d" "$M/d/sub")" "$want" "layerfs"
	# a rename copies it up whole and makes it opaque: it keeps its number
	mv "$M/d" "$M/d2"
	eq "$(stat -c %i "$M/d2" "$M/d2/sub")" "$want" "after a rename"
	unmount_layerfs
	mount_layerfs
	eq "$(stat -c %i "$M/d2" "$M/d2/sub")" "$want" "after a remount"
}
