#!/usr/bin/env bats
# Lookup and merged directory listings.

load helpers

@test "lookup: names are found top-down (upper, then lowers in order)" {
	echo L2 >"$L2/a"
	echo L2 >"$L2/b"
	echo L2 >"$L2/c"
	echo L1 >"$L1/b"
	echo L1 >"$L1/c"
	echo U >"$U/c"
	mount_layerfs
	eq "$(cat "$M/a")" L2
	eq "$(cat "$M/b")" L1
	eq "$(cat "$M/c")" U
	eq "$(names "$M")" "a b c"
}

@test "lookup: merged directories list the union once" {
	mkdir -p "$U/d" "$L1/d" "$L2/d"
	touch "$U/d/u1" "$U/d/both" "$L1/d/l1" "$L1/d/both" "$L2/d/l2" "$L2/d/both" "$L2/d/l1"
	mkdir "$L1/d/sub" "$L2/d/sub"
	touch "$L1/d/sub/x" "$L2/d/sub/y"
	mount_layerfs
	eq "$(names "$M/d")" "both l1 l2 sub u1"
	eq "$(names "$M/d/sub")" "x y"
	# no duplicates from any reader
	eq "$(ls -a "$M/d" | sort | uniq -d)" ""
	eq "$(find "$M/d" | sort | uniq -d)" ""
	eq "$(find "$M/d" | wc -l)" 8
	eq "$(ls -a "$M/d" | grep -c '^\.\.\?$')" 2 "one . and one .."
}

@test "lookup: the object of the upper-most layer decides the type" {
	# file over dir
	mkdir "$L1/fd"
	touch "$L1/fd/inner"
	echo file >"$U/fd"
	# dir over file
	echo file >"$L2/df"
	mkdir "$L1/df"
	touch "$L1/df/x"
	# dir over file over dir: merge stops at the file
	mkdir "$L1/dfd" "$L3/dfd"
	touch "$L1/dfd/top" "$L3/dfd/bottom"
	echo f >"$L2/dfd"
	# symlink over dir
	mkdir "$L2/sd"
	touch "$L2/sd/x"
	ln -s target "$L1/sd"
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	[ -f "$M/fd" ] || fail "fd should be a file"
	eq "$(cat "$M/fd")" file
	[ -d "$M/df" ] || fail "df should be a dir"
	eq "$(names "$M/df")" x
	eq "$(names "$M/dfd")" top "merge below a non-directory"
	[ -L "$M/sd" ] || fail "sd should be a symlink"
	eq "$(readlink "$M/sd")" target
}

@test "lookup: whiteouts and opaque dirs of lower layers hide what is below" {
	need_root
	echo x >"$L2/gone_chr"
	mkwhiteout "$L1/gone_chr"
	echo x >"$L2/gone_wh"
	touch "$L1/.wh.gone_wh"
	mkdir -p "$L2/dir_gone/sub"
	touch "$L2/dir_gone/sub/f"
	mkwhiteout "$L1/dir_gone"
	local k
	for k in opq trusted user fuseoverlayfs; do
		mkdir -p "$L1/o_$k" "$L2/o_$k"
		touch "$L1/o_$k/top" "$L2/o_$k/hidden"
	done
	touch "$L1/o_opq/.wh..wh..opq"
	setfattr -n trusted.overlay.opaque -v y "$L1/o_trusted"
	setfattr -n user.overlay.opaque -v y "$L1/o_user"
	setfattr -n user.fuseoverlayfs.opaque -v y "$L1/o_fuseoverlayfs"
	mount_layerfs
	eq "$(names "$M")" "o_fuseoverlayfs o_opq o_trusted o_user"
	for k in gone_chr gone_wh dir_gone; do
		[ ! -e "$M/$k" ] || fail "$k visible"
		expect_errno ENOENT stat "$M/$k"
	done
	for k in opq trusted user fuseoverlayfs; do
		eq "$(names "$M/o_$k")" top "opaque ($k)"
		expect_errno ENOENT stat "$M/o_$k/hidden"
	done
}

@test "lookup: a whiteout in a middle layer hides only what is below it" {
	need_root
	echo top >"$L1/a"
	mkwhiteout "$L2/a"
	echo bottom >"$L3/a"
	mkwhiteout "$L2/b"
	echo bottom >"$L3/b"
	mkdir "$L1/d" "$L3/d"
	touch "$L1/d/x" "$L3/d/y"
	setfattr -n trusted.overlay.opaque -v y "$L1/d"
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	eq "$(cat "$M/a")" top
	eq "$(names "$M")" "a d"
	eq "$(names "$M/d")" x
}

@test "lookup: names starting with .wh. never appear and cannot be created (EPERM)" {
	touch "$L1/.wh.foo" "$L1/.wh..wh..opq" "$L1/real" "$L2/foo"
	mkdir "$U/d"
	touch "$U/d/.wh.bar"
	mount_layerfs
	eq "$(names "$M")" "d real"
	eq "$(names "$M/d")" ""
	expect_errno ENOENT stat "$M/.wh.foo"
	expect_errno ENOENT stat "$M/.wh..wh..opq"
	expect_errno EPERM write "$M/.wh.new" x
	expect_errno EPERM mkdir "$M/.wh.newdir"
	expect_errno EPERM symlink target "$M/.wh.link"
	expect_errno EPERM mkfifo "$M/.wh.fifo"
	expect_errno EPERM link "$M/real" "$M/.wh.hl"
	expect_errno EPERM rename "$M/real" "$M/.wh.renamed"
	[ -e "$M/real" ] || fail "real vanished after a refused rename"
	eq "$(ls -A "$U" | grep -c '^\.wh\.new')" 0
}

@test "lookup: overlay-internal xattrs never appear in the merged view" {
	need_root
	mkdir "$L1/d" "$L2/d"
	touch "$L1/f"
	setfattr -n trusted.overlay.opaque -v y "$L1/d"
	setfattr -n user.overlay.opaque -v y "$L1/d"
	setfattr -n user.fuseoverlayfs.opaque -v y "$L1/d"
	setfattr -n trusted.overlay.origin -v abc "$L1/f"
	setfattr -n user.overlay.redirect -v abc "$L1/f"
	setfattr -n user.fuseoverlayfs.foo -v abc "$L1/f"
	setfattr -n user.visible -v yes "$L1/f"
	mount_layerfs
	local out
	out=$(getfattr -d -m - --absolute-names "$M/d" "$M/f" 2>&1)
	[[ "$out" != *overlay* ]] || fail "internal xattrs shown: $out"
	[[ "$out" == *user.visible* ]] || fail "user.visible missing: $out"
	run ! getfattr -n trusted.overlay.opaque "$M/d"
	run ! getfattr -n user.fuseoverlayfs.foo "$M/f"
}

@test "lookup: ownership, modes, sizes and times of lower objects are shown as in the layer" {
	need_root
	echo hello >"$L2/f"
	chown 123:456 "$L2/f"
	chmod 4751 "$L2/f"
	touch -d '2001-02-03 04:05:06' "$L2/f"
	mkdir "$L1/d"
	chown 7:8 "$L1/d"
	chmod 1700 "$L1/d"
	ln -s somewhere "$L1/l"
	mount_layerfs
	eq "$(stat -c '%u %g %a %s %Y' "$M/f")" "$(stat -c '%u %g %a %s %Y' "$L2/f")"
	eq "$(stat -c '%u %g %a %F' "$M/d")" "7 8 1700 directory"
	eq "$(stat -c '%F %s' "$M/l")" "symbolic link 9"
}

@test "lookup: reading lower layers never changes them, access times included (a private read-only, noatime mount), with and without noopen" {
	mkdir -p "$L1/d" "$L2/e"
	echo f >"$L1/f"
	echo g >"$L1/g"
	echo h >"$L2/h"
	ln "$L1/f" "$L1/f2"
	ln -s f "$L1/sl"
	echo x >"$L1/d/x"
	echo y >"$L2/e/y"
	local p
	for opt in "" noopen; do
		for p in "$L1/f" "$L1/g" "$L2/h" "$L1/sl" "$L1/d" "$L1/d/x" "$L2/e" "$L2/e/y"; do
			touch -h -d @1000000000 "$p"
		done
		mount_fresh "$opt"
		cat "$M/f" "$M/h" "$M/d/x" "$M/e/y" >/dev/null
		readlink "$M/sl" >/dev/null
		ls -l "$M/d" "$M/e" "$M" >/dev/null
		find "$M" -type f -exec cat {} + >/dev/null
		# a copy-up reads the file, and every name of it
		chmod 600 "$M/g" "$M/f2"
		eq "$(stat -c %X "$M/f" "$M/d" "$M/e/y" | sort -u)" 1000000000 "shown (${opt:-default})"
		unmount_layerfs "$M"
		eq "$(stat -c %X "$L1/f" "$L1/g" "$L2/h" "$L1/sl" "$L1/d" "$L1/d/x" "$L2/e" "$L2/e/y" | sort -u)" \
			1000000000 "on disk (${opt:-default})"
	done
}

# no_path_fds PID: PID holds no O_PATH descriptor (a detached mount tree
# from open_tree is one)
no_path_fds() {
	local f flags
	for f in /proc/"$1"/fdinfo/*; do
		flags=$(awk '$1 == "flags:" { print $2 }' "$f" 2>/dev/null) || continue
		[ -n "$flags" ] || continue
		(((8#$flags & 8#10000000) == 0)) || return 1
	done
}

@test "lookup: the detached mounts the layers are read through are let go of once the daemon serves (no descriptor of them stays open), and the layers still read" {
	need_root
	echo f >"$L1/f"
	echo h >"$L2/h"
	mount_layerfs
	local pid
	pid=$(find_daemon_pid "$M") || fail "no daemon for $M"
	wait_until 5 no_path_fds "$pid" || {
		ls -l /proc/"$pid"/fd >&2
		fail "the daemon still holds O_PATH descriptors"
	}
	eq "$(cat "$M/f" "$M/h")" "f
h"
	touch "$M/new"
	[ -e "$U/new" ] || fail "no copy in the upper"
}

@test "lookup: a file system mounted on a directory of a lower layer is not part of the layer: the directory underneath shows, as on the kernel's overlay" {
	need_root
	mkdir -p "$L1/sub" "$T/ku" "$T/kw" "$T/k"
	echo under >"$L1/sub/under"
	mount -t tmpfs lfs-test "$L1/sub"
	record_mount "$L1/sub"
	echo over >"$L1/sub/over"
	kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
	eq "$(names "$T/k/sub")" under "the kernel's overlay"
	mount_layerfs
	eq "$(names "$M/sub")" under
	eq "$(cat "$M/sub/under")" under
	expect_errno ENOENT stat "$M/sub/over"
	eq "$(stat -c %d "$M/sub")" "$(stat -c %d "$M")" "one device"
	# the directory is copied up as any other
	echo new >"$M/sub/new"
	eq "$(names "$M/sub")" "new under"
	eq "$(cat "$U/sub/new")" new
	eq "$(names "$L1/sub")" over "the mounted file system is untouched"
}

@test "lookup: read-only mount of several lowers merges the same way" {
	mkdir "$L1/d" "$L2/d"
	echo 1 >"$L1/d/a"
	echo 2 >"$L2/d/a"
	echo 2 >"$L2/d/b"
	mount_ro
	eq "$(names "$M/d")" "a b"
	eq "$(cat "$M/d/a")" 1
}

@test "lookup: a lower layer may be a symlink to a directory and contain . entries" {
	mkdir "$T/real"
	echo r >"$T/real/f"
	ln -s "$T/real" "$T/link"
	lfs_mount "lowerdir=$T/link:$L2,upperdir=$U,workdir=$W" "$M"
	eq "$(cat "$M/f")" r
	eq "$(stat -c %i "$M/.")" "$(stat -c %i "$M")"
	eq "$(stat -c %i "$M/.." 2>/dev/null)" "$(stat -c %i "$T")"
}

@test "lookup: large directory (3000 entries over two layers) lists each name once" {
	mkdir "$L1/big" "$L2/big"
	(cd "$L2/big" && seq -f 'n%g' 1 2000 | xargs touch)
	(cd "$L1/big" && seq -f 'n%g' 1001 3000 | xargs touch)
	mount_layerfs
	eq "$(ls "$M/big" | wc -l)" 3000
	eq "$(ls "$M/big" | sort | uniq -d | wc -l)" 0
	eq "$(ls "$M/big" | sort)" "$(seq -f 'n%g' 1 3000 | sort)"
}

@test "lookup: a metacopy file of a lower layer is listed but refused (EPERM), as by the kernel's default; a sparse file is not one" {
	need_root
	echo realdata >"$L2/mc"
	truncate -s 9 "$L1/mc"
	setfattr -n trusted.overlay.metacopy -v "" "$L1/mc"
	truncate -s 1M "$L1/sparse"
	mount_layerfs
	eq "$(ls "$M")" "mc
sparse"
	run ! stat "$M/mc"
	[[ "$output" == *"Operation not permitted"* ]] || fail "stat: $output"
	run ! cat "$M/mc"
	[[ "$output" == *"Operation not permitted"* ]] || fail "cat: $output"
	eq "$(stat -c %s "$M/sparse")" 1048576
	eq "$(tr -d '\0' <"$M/sparse" | wc -c)" 0
	# the kernel's overlay, as the reference
	mkdir -p "$T/ku" "$T/kw" "$T/k"
	kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
	run ! stat "$T/k/mc"
	[[ "$output" == *"Operation not permitted"* ]] || fail "kernel: $output"
}

@test "lookup: a small metacopy file in the upper whose xattrs take a block of their own (metacopy and origin, as the kernel writes them) is refused too" {
	need_root
	echo realdata >"$L2/mc"
	truncate -s 9 "$U/mc"
	setfattr -n trusted.overlay.metacopy -v "" "$U/mc"
	setfattr -n trusted.overlay.origin -v 0x00fb1d0001000000000000000000000000000000009304b000dd2a82f3 "$U/mc"
	echo small >"$U/plain"
	[ "$(stat -c %b "$U/mc")" -gt 0 ] || skip "the xattrs fit in the inode here"
	mount_layerfs
	run ! cat "$M/mc"
	[[ "$output" == *"Operation not permitted"* ]] || fail "cat: $output"
	eq "$(cat "$M/plain")" small
	unmount_layerfs
	rm -rf "$T/ku" "$T/kw"
	mkdir -p "$T/ku" "$T/kw" "$T/k"
	cp -a "$U/." "$T/ku/"
	kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
	run ! cat "$T/k/mc"
	[[ "$output" == *"Operation not permitted"* ]] || fail "kernel: $output"
}

# cwd_is PID DIR: the process PID has its working directory in DIR
cwd_is() {
	[ "$(readlink "/proc/$1/cwd")" = "$2" ]
}

# hold_dir DIR: a process of the test stays in DIR (BG_PID), so the kernel
# cannot forget DIR (drop_caches, reclaim) while it runs
hold_dir() {
	spawn bash -c "cd '$1' && exec sleep 600"
	wait_until 10 cwd_is "$BG_PID" "$1" || fail "no process in $1"
}

@test "lookup: redirects of the kernel's overlay in a layer are followed, to a path or a name, chained, and stopped by a whiteout" {
	need_root
	mkdir -p "$L3/old" "$L3/z/deep" "$L3/gone/old" "$L2/old" "$L2/y" "$L1/new" "$L1/rel" "$L1/x" "$L1/wh"
	echo a >"$L3/old/a"
	echo zz >"$L3/z/zf"
	echo d >"$L3/z/deep/df"
	echo hidden >"$L3/gone/old/h"
	echo b >"$L2/old/b"
	echo y2 >"$L2/y/yf"
	mknod "$L2/gone" c 0 0
	echo c >"$L1/new/c"
	setfattr -n trusted.overlay.redirect -v /z "$L2/y"
	setfattr -n trusted.overlay.redirect -v /old "$L1/new"
	setfattr -n trusted.overlay.redirect -v old "$L1/rel"
	setfattr -n trusted.overlay.redirect -v /y "$L1/x"
	setfattr -n trusted.overlay.redirect -v /gone/old "$L1/wh"
	mkdir -p "$U/up"
	setfattr -n trusted.overlay.redirect -v /old "$U/up"
	mkdir -p "$T/ku" "$T/kw" "$T/k"
	cp -a "$U/." "$T/ku/"
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	kovl_mount "lowerdir=$L1:$L2:$L3,upperdir=$T/ku,workdir=$T/kw" "$T/k"
	local d
	for d in new rel x up wh; do
		eq "$(cd "$M/$d" && find . -mindepth 1 | sort | tr '\n' ' ')" \
		   "$(cd "$T/k/$d" && find . -mindepth 1 | sort | tr '\n' ' ')" "$d"
	done
	eq "$(cd "$M/new" && find . -mindepth 1 | sort | tr '\n' ' ')" "./a ./b ./c "
	eq "$(cat "$M/x/deep/df")" d
	# new, rel and up lead to one lower directory: its file shows under
	# each path, with one inode number, as on the kernel's overlay, in
	# whichever order the paths are met (rel first: the kernel holds
	# rel/a when new/a is looked up)
	eq "$(cat "$M/rel/a")" a
	eq "$(stat -c %i "$M/rel/a" "$M/new/a" "$M/up/a" | sort -u | wc -l)" 1 "inode numbers"
	eq "$(stat -c %i "$M/new/a")" "$(stat -c %i "$T/k/new/a")" "inode number"
	# a change below a redirected directory copies it up, under the path
	# it came through; the upper copy keeps finding the lower content
	# after a remount (the kernel's overlay shows the copy under the
	# other paths too while it holds the one inode, but not after a
	# remount: here each path keeps the lower file)
	echo more >>"$M/new/a"
	eq "$(cat "$M/new/a")" "a
more"
	eq "$(cat "$M/rel/a")" a "rel/a after the copy-up of new/a"
	eq "$(cat "$M/up/a")" a "up/a after the copy-up of new/a"
	[ ! -e "$U/up/a" ] || fail "the copy-up of new/a landed in up"
	echo other >>"$M/up/a"
	unmount_layerfs
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	eq "$(cd "$M/new" && find . -mindepth 1 | sort | tr '\n' ' ')" "./a ./b ./c "
	eq "$(cat "$M/new/a")" "a
more"
	eq "$(cat "$M/up/a")" "a
other"
	eq "$(cat "$M/rel/a")" a
}

@test "lookup: redirect paths as the kernel walks them: opaque directories on the way, redirects on the way, malformed ones, and two paths to one directory" {
	need_root
	# the path crosses an opaque directory: nothing below it shows
	mkdir -p "$L1/a/b" "$L2/a/b"
	touch "$L1/a/b/new" "$L2/a/b/old_hidden"
	setfattr -n trusted.overlay.opaque -v y "$L1/a"
	mkdir "$U/c"
	setfattr -n trusted.overlay.redirect -v /a/b "$U/c"
	# the path crosses a directory that is itself redirected
	mkdir -p "$L1/e/f" "$L2/x/f"
	touch "$L1/e/f/in_ef" "$L2/x/f/in_xf"
	setfattr -n trusted.overlay.redirect -v /x "$L1/e"
	mkdir "$U/g"
	setfattr -n trusted.overlay.redirect -v /e/f "$U/g"
	# malformed
	mkdir "$U/bad" "$U/dots"
	setfattr -n trusted.overlay.redirect -v p/q "$U/bad"
	setfattr -n trusted.overlay.redirect -v /p/../x "$U/dots"
	# two paths to one lower directory
	mkdir -p "$L2/t/c" "$L2/t/s" "$U/y1" "$U/y2"
	touch "$L2/t/c/inside"
	echo s >"$L2/t/s/f"
	setfattr -n trusted.overlay.redirect -v /t "$U/y1"
	setfattr -n trusted.overlay.redirect -v /t "$U/y2"
	mkdir -p "$T/ku" "$T/kw" "$T/k"
	cp -a "$U/." "$T/ku/"
	mount_layerfs
	kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
	local d
	for d in c g; do
		eq "$(ls "$M/$d" | tr '\n' ' ')" "$(ls "$T/k/$d" | tr '\n' ' ')" "$d"
	done
	eq "$(ls "$M/c" | tr '\n' ' ')" "new "
	eq "$(ls "$M/g" | tr '\n' ' ')" "in_ef in_xf "
	run ! stat "$M/bad"
	[[ "$output" == *"Invalid argument"* ]] || fail "p/q: $output"
	run ! stat "$M/dots"
	[[ "$output" == *"Permission denied"* ]] || fail "/p/../x: $output"
	eq "$(ls "$M/y1/c")" inside
	# the kernel holds y1/c while a process is in it (else drop_caches
	# or reclaim could let y2/c become the first path met)
	hold_dir "$M/y1/c"
	run ! touch "$M/y2/c/newfile"
	[[ "$output" == *"Stale file handle"* ]] || fail "the second path: $output"
	[ ! -e "$U/y1/c/newfile" ] || fail "a write through y2 landed in y1"
	# the lower directory's own path (t is not whited out here) is
	# another path to it too, also on the kernel
	run ! touch "$M/t/c/newfile"
	[[ "$output" == *"Stale file handle"* ]] || fail "the lower path: $output"
	[ ! -e "$U/y1/c/newfile" ] || fail "a write through t landed in y1"
	# a level further down: once y1/s has an upper directory, y2/s is
	# another directory (the kernel's overlay answers ESTALE for it),
	# and a change of a lower file through it lands below y2
	touch "$M/y1/s/new"
	eq "$(cat "$M/y1/s/f")" s
	echo more >>"$M/y2/s/f"
	eq "$(cat "$M/y1/s/f")" s "y1/s/f after the append through y2"
	eq "$(cat "$M/y2/s/f")" "s
more"
	[ -f "$U/y2/s/f" ] && [ ! -e "$U/y1/s/f" ] || fail "the append through y2/s did not land in y2/s"
}

# names for the name-filter tests: in every layer, shadowed, whited out in
# each way, and absent everywhere; D is the directory they are looked up in
filter_layers() {
	mkdir -p "$L1/d" "$L2/d" "$L3/d"
	for i in $(seq 0 299); do echo "3-$i" >"$L3/d/f$i"; done
	for i in $(seq 0 9); do mkdir "$L3/d/s$i"; echo "3s$i" >"$L3/d/s$i/in3"; done
	for i in $(seq 1 20); do mkwhiteout "$L2/d/f$i"; done	# char 0:0
	setfattr -n trusted.overlay.whiteouts -v y "$L2/d"	# xattr whiteouts
	for i in $(seq 21 30); do
		: >"$L2/d/f$i"
		setfattr -n trusted.overlay.whiteout -v y "$L2/d/f$i"
	done
	for i in $(seq 50 60); do echo "1-$i" >"$L1/d/f$i"; done
	echo "2-70" >"$L2/d/f70"
	mkdir "$L1/d/s0" "$L2/d/s1"
	echo 1s0 >"$L1/d/s0/in1"
	setfattr -n trusted.overlay.opaque -v y "$L1/d/s0"
	echo 2s1 >"$L2/d/s1/in2"
	touch "$L1/d/x$(printf 'n%.0s' $(seq 1 252))"	# no room for a .wh. form
}

# every candidate name of filter_layers, as paths under $1/d
filter_paths() {
	local i
	for i in $(seq 0 299); do echo "$1/d/f$i"; done
	for i in $(seq 0 9); do echo "$1/d/s$i"; echo "$1/d/s$i/in1"; echo "$1/d/s$i/in2"; echo "$1/d/s$i/in3"; done
	for i in $(seq 0 199); do echo "$1/d/g$i"; done
	echo "$1/d/x$(printf 'n%.0s' $(seq 1 252))"
	echo "$1/d/y$(printf 'n%.0s' $(seq 1 252))"
}

# stat of every candidate name under mount $1, looked up by path (no
# listing first): name, type, size and content of the objects found
filter_stat() {
	filter_paths "$1" | while read -r p; do
		if [ -e "$p" ]; then
			printf '%s %s %s\n' "${p#"$1"/}" "$(stat -c '%F %s' "$p")" \
				"$( [ -f "$p" ] && cat "$p")"
		fi
	done
}

@test "lookup: a lower directory whose names are read once answers lookups by name as the kernel's overlay does (shadowed names, whiteouts of each kind, opaque dirs, names found nowhere)" {
	need_root
	need_cmd setfattr
	kernel_at_least 6 7 || skip "the kernel's overlay reads xattr whiteouts since Linux 6.7"
	filter_layers
	mkdir "$T/k"
	kovl_mount "lowerdir=$L1:$L2:$L3" "$T/k"
	filter_stat "$T/k" >"$T/want"
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	filter_stat "$M" >"$T/got"
	diff "$T/want" "$T/got" || fail "lookups by name differ from the kernel's overlay"
	# checked against the layers too, not only against the kernel
	grep -q '^d/f1 ' "$T/got" && fail "f1 (char whiteout) shows"
	grep -q '^d/f25 ' "$T/got" && fail "f25 (xattr whiteout) shows"
	grep -q '^d/f55 regular file 5 1-55$' "$T/got" || fail "f55 not from the top layer"
	grep -q '^d/f70 regular file 5 2-70$' "$T/got" || fail "f70 not from the middle layer"
	grep -q '^d/s0/in3 ' "$T/got" && fail "the opaque s0 shows its lower content"
	grep -q '^d/x' "$T/got" || fail "the long name of the top layer is missing"
	[ "$(grep -c '^d/g' "$T/got")" = 0 ] || fail "a name found nowhere shows"
	[ "$(wc -l <"$T/got")" = 292 ] || fail "$(wc -l <"$T/got") names found, 292 expected"
	# changes through the mount after the lookups: a new name, a removal
	echo new >"$M/d/g5"
	rm "$M/d/f200"
	eq "$(cat "$M/d/g5")" new
	[ ! -e "$M/d/f200" ] || fail "f200 shows after its removal"
	[ -c "$U/d/f200" ] || fail "no whiteout for the lower f200"
	rm "$M/d/g5"
	[ ! -e "$U/d/g5" ] || fail "a whiteout for g5, which no lower layer has"
}

@test "lookup: AUFS-style .wh. files keep hiding names once a lower directory's names were read, and removals leave a whiteout exactly where a lower layer has the name" {
	long=$(printf 'l%.0s' $(seq 1 255))	# too long for a .wh. form
	mkdir -p "$L1/d" "$L2/d" "$L3/d"
	for i in $(seq 0 199); do echo "3-$i" >"$L3/d/f$i"; done
	for i in $(seq 0 19); do : >"$L2/d/.wh.f$i"; done
	for i in $(seq 0 9); do : >"$L1/d/.wh.gone$i"; echo "3-gone$i" >"$L3/d/gone$i"; done
	echo long >"$L3/d/$long"
	lfs_mount "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W" "$M"
	for i in $(seq 199 -1 0); do
		if [ "$i" -lt 20 ]; then
			[ ! -e "$M/d/f$i" ] || fail "f$i shows over its .wh. file"
		else
			eq "$(cat "$M/d/f$i")" "3-$i"
		fi
	done
	for i in $(seq 0 9); do
		[ ! -e "$M/d/gone$i" ] || fail "gone$i shows over its .wh. file"
	done
	eq "$(cat "$M/d/$long")" long
	# d is copied up; its lower layers' names go on answering lookups
	echo new >"$M/d/new"
	for i in $(seq 0 49); do
		[ ! -e "$M/d/absent$i" ] || fail "absent$i shows"
	done
	# removals ask each lower layer whether it has the name
	rm "$M/d/new" "$M/d/f150" "$M/d/$long"
	[ ! -e "$U/d/new" ] && [ ! -e "$U/d/.wh.new" ] || fail "a whiteout for new, which no lower layer has"
	[ -c "$U/d/f150" ] || [ -e "$U/d/.wh.f150" ] || fail "no whiteout for f150"
	[ -c "$U/d/$long" ] || fail "no whiteout for the long name"
	[ ! -e "$M/d/f150" ] && [ ! -e "$M/d/$long" ] || fail "a removed name shows"
	eq "$(cat "$M/d/f151")" "3-151"
}

# stats_of_missing PREFIX: look up PREFIX0..PREFIX99 in $M/d (none
# exists) with the daemon traced; sets N to how many of its stat calls
# named one of them or its .wh. form
stats_of_missing() {
	spawn strace -f -qq -e trace=newfstatat,statx -o "$T/strace.$1" -p "$DAEMON_PID"
	wait_until 10 all_traced "$DAEMON_PID" || fail "strace did not attach"
	for i in $(seq 0 99); do [ ! -e "$M/d/$1$i" ] || fail "$1$i shows"; done
	eq "$(cat "$M/d/top")" ""
	kill "$BG_PID"
	wait "$BG_PID" || true
	N=$(grep -c "\"$1[0-9]*\"\|\"\.wh\.$1" "$T/strace.$1" || true)
}

@test "lookup: once a lower directory's names are read, a name it lacks costs no system call in that layer" {
	need_root
	need_cmd strace
	mkdir -p "$L1/d" "$L2/d"
	for i in $(seq 0 99); do : >"$L2/d/f$i"; done
	: >"$L1/d/top"
	mount_layerfs
	# the names read live as long as the daemon's node of d: a process
	# in d keeps the kernel from forgetting it (drop_caches, reclaim)
	hold_dir "$M/d"
	# found in the lower layer, missed in the top one: its names are read
	for i in $(seq 0 99); do [ -e "$M/d/f$i" ] || fail "f$i missing"; done
	# missed in both: the lower one's names are read too
	for i in $(seq 0 29); do [ ! -e "$M/d/warm$i" ] || fail "warm$i shows"; done
	# each missing name is looked up (the kernel asks), but the daemon
	# stats it or its .wh. form in neither layer: 400 stats without the
	# filters, up to two for each false positive (a few in a thousand)
	stats_of_missing nope
	[ "$N" -le 8 ] || fail "$N stats of missing names: $(grep nope "$T/strace.nope" | head -3)"
	# a copy-up of d gives its lower layers new descriptors: the names
	# read go with them, and only the upper is probed (name and .wh. form)
	: >"$M/d/new"
	stats_of_missing more
	[ "$N" -ge 100 ] || fail "only $N stats of missing names: the upper was not probed"
	[ "$N" -le 208 ] || fail "$N stats of missing names after the copy-up"
}
