#!/usr/bin/env bats
# A hostile lower layer (symlinks to /, .., ../../etc/passwd, absolute
# targets, hard links to outside files): nothing outside the layers may be
# touched by the daemon.  The mount point is at another depth than the
# layers, so that a relative link followed by the caller (which is legal)
# lands elsewhere than the same link followed inside a layer (which is not).

load helpers

setup() {
	common_setup
	M=$T/x/y/mnt
	mkdir -p "$M"
	OUT=$T/outside
	mkdir -p "$OUT/dir/sub"
	echo canary >"$OUT/canary"
	echo canary2 >"$OUT/dir/canary2"
	chmod 640 "$OUT/canary"
	setfattr -n user.canary -v 1 "$OUT/canary"
	touch -d '2001-01-01' "$OUT/canary" "$OUT/dir/canary2" "$OUT/dir/sub" "$OUT/dir" "$OUT"
}

# a description of everything outside that must not change
snapshot() {
	(cd "$OUT" && find . -printf '%p %y %m %u %g %s %T@ %n\n' | sort
		getfattr -R -d -m - --absolute-names . 2>/dev/null
		find . -type f -exec sha256sum {} + | sort)
	stat -c '%n %a %u %g %s %Y %h' /etc/passwd /etc "$T/x"
	sha256sum /etc/passwd
	ls -A / | tr '\n' ' '
	echo
}

hostile_lower() {
	mkdir -p "$L1/tree/inner" "$L2/tree/inner"
	ln -s / "$L1/root"
	ln -s .. "$L1/up"
	ln -s ../.. "$L1/tree/upup"
	ln -s ../../etc/passwd "$L1/passwd"
	ln -s ../../../../../../../../etc/passwd "$L1/tree/inner/passwd"
	ln -s "$OUT/canary" "$L1/abs"
	ln -s "$OUT/dir" "$L1/absdir"
	ln -s ../outside/canary "$L1/rel_canary"
	ln -s ../../outside/dir "$L2/tree/inner/rel_dir"
	ln -s / "$L2/tree/inner/root2"
	echo lower >"$L2/tree/inner/file"
	# a hard link of an outside file inside the layer (same file system)
	ln "$OUT/canary" "$L1/hardcanary"
	# the opaque marker and a whiteout as symlinks
	mkdir -p "$L1/odd" "$L2/odd"
	touch "$L2/odd/below"
	ln -s "$OUT/canary" "$L1/odd/.wh..wh..opq"
	ln -s /etc/passwd "$L1/.wh.gone"
	echo x >"$L2/gone"
}

@test "safety: walking, reading and listing a hostile lower changes nothing outside" {
	hostile_lower
	snapshot >"$T/before"
	mount_layerfs
	ls -laR "$M" >/dev/null 2>&1 || true
	find "$M" >/dev/null 2>&1 || true
	cat "$M"/* "$M"/tree/inner/* >/dev/null 2>&1 || true
	getfattr -R -d -m - "$M" >/dev/null 2>&1 || true
	eq "$(readlink "$M/root")" /
	eq "$(readlink "$M/tree/inner/passwd")" ../../../../../../../../etc/passwd
	[ -L "$M/absdir" ] || fail "absdir is not shown as a symlink"
	snapshot >"$T/after"
	diff -u "$T/before" "$T/after" >&2 || fail "something outside changed"
}

@test "safety: chown -h, touch -h, chmod -R, setfattr -h on hostile links stay inside" {
	need_root
	hostile_lower
	snapshot >"$T/before"
	mount_layerfs
	chown -h 77:77 "$M/root" "$M/up" "$M/passwd" "$M/abs" "$M/absdir" "$M/tree/upup" "$M/tree/inner/root2"
	touch -h -d '2011-11-11' "$M/root" "$M/abs" "$M/tree/inner/passwd"
	setfattr -h -n trusted.x -v 1 "$M/abs" "$M/passwd"
	chmod -R go-rwx "$M" 2>/dev/null || true
	chown -hR 88:88 "$M"
	eq "$(stat -c '%u %F' "$U/abs")" "88 symbolic link"
	eq "$(readlink "$U/abs")" "$OUT/canary"
	eq "$(stat -c '%F' "$U/root")" "symbolic link"
	snapshot >"$T/after"
	diff -u "$T/before" "$T/after" >&2 || fail "something outside changed"
}

@test "safety: writes, mkdir, hard link copy-up and renames stay inside" {
	need_root
	hostile_lower
	snapshot >"$T/before"
	mount_layerfs
	echo new >"$M/tree/inner/newfile"
	mkdir "$M/tree/inner/newdir"
	echo more >>"$M/tree/inner/file"
	# a layer's hard link of an outside file is copied up, never written
	echo appended >>"$M/hardcanary"
	chmod 600 "$M/hardcanary"
	eq "$(cat "$M/hardcanary")" "$(printf 'canary\nappended')"
	eq "$(stat -c %h "$U/hardcanary")" 1
	# relative links resolved from the mount point are not the layer's view
	echo via-link >"$M/rel_canary" 2>/dev/null || true
	# renaming directories full of hostile links copies the links as links
	mv "$M/tree" "$M/tree2"
	eq "$(stat -c %F "$U/tree2/upup")" "symbolic link"
	eq "$(stat -c %F "$U/tree2/inner/root2")" "symbolic link"
	eq "$(stat -c %F "$U/tree2/inner/rel_dir")" "symbolic link"
	eq "$(readlink "$U/tree2/inner/rel_dir")" ../../outside/dir
	eq "$(cat "$U/tree2/inner/file")" "$(printf 'lower\nmore')"
	mv "$M/root" "$M/root_renamed"
	mv "$M/absdir" "$M/absdir2"
	ln "$M/abs" "$M/abs_hardlink" 2>/dev/null || true
	[ -L "$U/abs" ] || fail "hard link of a symlink: not a symlink in the upper"
	snapshot >"$T/after"
	diff -u "$T/before" "$T/after" >&2 || fail "something outside changed"
}

@test "safety: cp -a of the tree and rm -rf stay inside" {
	hostile_lower
	snapshot >"$T/before"
	mount_layerfs
	cp -a "$M" "$T/copy"
	eq "$(find "$T/copy" -type l | wc -l)" "$(find "$M" -type l | wc -l)" "links copied as links"
	[ ! -e "$T/copy/root/etc" ] || [ -L "$T/copy/root" ] || fail "cp -a followed a link"
	rm -rf "$M"/* "$M"/.[!.]* 2>/dev/null || true
	eq "$(names "$M")" ""
	rm -rf "$T/copy"
	snapshot >"$T/after"
	diff -u "$T/before" "$T/after" >&2 || fail "something outside changed"
	[ -e "$OUT/canary" ] || fail "canary removed"
}

@test "safety: a symlink in a middle layer ends the merge; the daemon never follows it" {
	mkdir -p "$U/d" "$L2/d"
	touch "$U/d/u" "$L2/d/lowfile"
	ln -s "$OUT/dir" "$L1/d"
	mkdir -p "$U/r" "$L2/r"
	ln -s / "$L1/r"
	mount_layerfs
	eq "$(names "$M/d")" u "merge must stop at the symlink in the middle layer"
	eq "$(names "$M/r")" ""
	touch "$M/d/new"
	rm "$M/d/u"
	rm -rf "$M/r"
	eq "$(names "$OUT/dir")" "canary2 sub"
	[ -e /etc/passwd ] || fail "/etc/passwd gone"
}

@test "safety: symlinked opaque markers and whiteout names do not leak" {
	hostile_lower
	mount_layerfs
	eq "$(cat "$OUT/canary")" canary
	# whatever the daemon decides for them, names starting with .wh. stay hidden
	[ -z "$(ls -A "$M" "$M/odd" | grep '^\.wh\.')" ] || fail ".wh. names visible"
	rm -rf "$M/odd"
	eq "$(cat "$OUT/canary")" canary
	[ -L "$L1/odd/.wh..wh..opq" ] || fail "lower layer modified"
}
