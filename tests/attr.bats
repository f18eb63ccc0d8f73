#!/usr/bin/env bats
# setattr: mode, owner, size, times.

load helpers

@test "attr: chmod of upper and lower files, special bits" {
	echo x >"$L1/low"
	mount_layerfs
	echo y >"$M/up"
	local m
	for m in 4755 2755 1777 0000 0640 0777; do
		chmod "$m" "$M/up"
		eq "$(stat -c %a "$M/up")" "$(printf '%o' $((8#$m)))" "mode $m"
		eq "$(stat -c %a "$U/up")" "$(printf '%o' $((8#$m)))" "mode $m on disk"
		chmod "$m" "$M/low"
		eq "$(stat -c %a "$M/low")" "$(printf '%o' $((8#$m)))" "mode $m (lower file)"
	done
	eq "$(stat -c %a "$L1/low")" 644 "lower untouched"
}

@test "attr: chmod of upper, merged and lower directories, set-id and sticky bits, and by an owner who cannot read the directory" {
	mkdir -p "$L1/low/sub" "$L1/merged" "$L2/merged"
	touch "$L2/merged/in2"
	mount_layerfs
	mkdir "$M/up"
	local m d
	# five digits: GNU chmod keeps a directory's set-id bits for fewer
	for m in 01777 02755 00700 00000 00750 00755; do
		for d in up low merged low/sub; do
			chmod "$m" "$M/$d"
			eq "$(stat -c %a "$M/$d")" "$(printf '%o' $((8#$m)))" "mode $m of $d"
			eq "$(stat -c %a "$U/$d")" "$(printf '%o' $((8#$m)))" "mode $m of $d on disk"
		done
	done
	eq "$(stat -c %a "$L1/low")" 755 "lower untouched"
	eq "$(names "$M/merged")" in2
	# a directory of a user who may chmod it but not read it
	need_root
	make_traversable
	chmod 755 "$M"
	mkdir "$M/priv"
	chown 4242:4242 "$M/priv"
	as_user 4242 4242 chmod 0300 "$M/priv"
	eq "$(stat -c %a "$M/priv")" 300
	as_user 4242 4242 chmod 0700 "$M/priv"
	eq "$(stat -c %a "$U/priv")" 700
}

@test "attr: chown of uid only, gid only, both, and of a symlink" {
	need_root
	echo x >"$L1/f"
	ln -s f "$L1/l"
	mount_layerfs
	chown 100 "$M/f"
	eq "$(stat -c '%u %g' "$M/f")" "100 0"
	chgrp 200 "$M/f"
	eq "$(stat -c '%u %g' "$M/f")" "100 200"
	chown 300:400 "$M/f"
	eq "$(stat -c '%u %g' "$M/f")" "300 400"
	eq "$(stat -c '%u %g' "$U/f")" "300 400"
	chown -h 5:6 "$M/l"
	eq "$(stat -c '%u %g' "$M/l")" "5 6"
	eq "$(stat -c '%u %g' "$M/f")" "300 400" "chown -h does not follow"
}

@test "attr: chown of a setuid file clears the setuid bit like the kernel" {
	need_root
	echo x >"$L1/f"
	chmod 4755 "$L1/f"
	echo x >"$L1/g"
	chmod 6755 "$L1/g"
	mount_layerfs
	chown 1:1 "$M/f" "$M/g"
	eq "$(stat -c %a "$M/f")" 755
	eq "$(stat -c %a "$M/g")" 755
}

@test "attr: chown to -1:-1 moves the ctime of upper, lower and merged objects and clears a file's set-id bits, as on the real file (default and noopen)" {
	need_root
	local o f before after
	for o in "" noopen; do
		rm -rf "${L1:?}"/* "${U:?}"/* "${W:?}"/*
		echo x >"$L1/low"
		mkdir "$L1/ldir"
		ln -s low "$L1/lsym"
		mount_layerfs "$o"
		echo y >"$M/up"
		mkdir "$M/udir"
		echo z >"$M/setid"
		chmod 6755 "$M/setid"
		for f in up udir low ldir lsym setid; do
			before=$(stat -c %.9Z "$M/$f")
			sleep 0.05
			python3 -c 'import os, sys; os.chown(sys.argv[1], -1, -1, follow_symlinks=False)' "$M/$f"
			after=$(stat -c %.9Z "$M/$f")
			[[ "$after" > "$before" ]] || fail "$f ($o): ctime $before, after chown -1:-1 $after"
		done
		eq "$(stat -c %a "$M/setid")" 755 "set-id bits ($o)"
		eq "$(stat -c %a "$U/setid")" 755 "set-id bits on disk ($o)"
		unmount_layerfs
	done
}

# as_4242_on_both PROG WANT FILES MODES: run python PROG as uid/gid 4242
# on the kernel's overlay ($T/k) and on layerfs ($M) with DIR/s as its
# argument; it prints WANT on both, and FILES there have MODES after.
as_4242_on_both() {
	local m out
	need_user_exec 4242 4242 /usr/bin/python3
	for m in "$T/k" "$M"; do
		out=$(as_user 4242 4242 /usr/bin/python3 -c "$1" "$m/s")
		eq "$out" "$2" "results on $m"
		# shellcheck disable=SC2086
		eq "$(cd "$m/s" && stat -c %a $3 | tr '\n' ' ')" "$4" "modes on $m"
	done
}

# nonowner_setid_chowns [OPTS]: a user other than the owner chowns three
# set-id files anyone may write to -1:-1, writes a fourth and fallocates
# a fifth, on layerfs (mounted with OPTS) and on the kernel's overlay:
# the chowns are refused and change nothing, the write and the fallocate
# clear the bits. With the writeback cache a chown carries the ctime;
# without it, a SETATTR that sets nothing is both a chown and the
# kernel's order to clear the bits before a write, and only the second
# comes while the file is open for writing.
nonowner_setid_chowns() {
	need_root
	need_kernel_overlay
	mkdir "$L1/s"
	chmod 777 "$L1/s"
	local f m
	for f in c6767 c2767 c4777 w6767 f6767; do
		printf xyz >"$L1/s/$f"
		chown 1003:1001 "$L1/s/$f"
		chmod "${f#?}" "$L1/s/$f"
	done
	mount_beside_kernel "$@"
	local prog='
import os, sys
out = []
for f in ("c6767", "c2767", "c4777"):
    try:
        os.chown(sys.argv[1] + "/" + f, -1, -1)
        out.append("ok")
    except OSError as e:
        out.append(e.strerror)
with open(sys.argv[1] + "/w6767", "a") as f:
    f.write("x")
with open(sys.argv[1] + "/f6767", "r+") as f:
    os.posix_fallocate(f.fileno(), 0, 8192)
print(" ".join(out))
'
	as_4242_on_both "$prog" "Operation not permitted Operation not permitted Operation not permitted" \
		"c6767 c2767 c4777 w6767 f6767" "6767 2767 4777 767 767 "
	[ ! -e "$U/s/c4777" ] || fail "a refused chown copied the file up"
	kovl_umount "$T/k"
}

@test "attr: noopen (the writeback cache): a non-owner's chown -1:-1 of a set-id file anyone may write is refused, a write and a fallocate still clear the bits, as on the kernel's overlay" {
	nonowner_setid_chowns noopen
}

@test "attr: default mount: a non-owner's chown -1:-1 of a set-id file anyone may write is refused while nobody has it open for writing, a write and a fallocate still clear the bits, as on the kernel's overlay" {
	nonowner_setid_chowns
}

# acl_writer_setid [OPTS]: a user whom an ACL entry (a named group's, a
# named user's) lets write set-id files of root's that the mode bits do
# not, writes to two and fallocates two, on layerfs (mounted with OPTS)
# and on the kernel's overlay: each succeeds and clears the bits. The
# daemon took the order to clear them for a chown -1:-1 by someone who
# may not write the file (the mode bits alone), and refused the write.
acl_writer_setid() {
	need_root
	need_kernel_overlay
	command -v setfacl >/dev/null || skip "needs setfacl (acl)"
	mkdir "$L1/s"
	local f m
	for f in wg6775 wu4775 fg2775 fu6775; do
		printf xyz >"$L1/s/$f"
		chmod "${f#??}" "$L1/s/$f"
	done
	setfacl -m g:4242:rw "$L1/s/wg6775" "$L1/s/fg2775"
	setfacl -m u:4242:rw "$L1/s/wu4775" "$L1/s/fu6775"
	mount_beside_kernel "$@"
	local prog='
import os, sys
out = []
for f in ("wg6775", "wu4775", "fg2775", "fu6775"):
    try:
        fd = os.open(sys.argv[1] + "/" + f, os.O_WRONLY | os.O_APPEND)
        if f[0] == "w":
            os.write(fd, b"x")
        else:
            os.posix_fallocate(fd, 0, 8192)
        os.close(fd)
        out.append("ok")
    except OSError as e:
        out.append(e.strerror)
print(" ".join(out))
'
	as_4242_on_both "$prog" "ok ok ok ok" "wg6775 wu4775 fg2775 fu6775" "775 775 775 775 "
	kovl_umount "$T/k"
}

@test "attr: default mount: a user an ACL entry lets write a set-id file writes and fallocates it, which clears the bits, as on the kernel's overlay" {
	acl_writer_setid
}

@test "attr: noopen: a user an ACL entry lets write a set-id file writes and fallocates it, which clears the bits, as on the kernel's overlay" {
	acl_writer_setid noopen
}

@test "attr: truncate up and down" {
	printf 'hello world' >"$L1/f"
	mount_layerfs
	truncate -s 5 "$M/f"
	eq "$(cat "$M/f")" hello
	eq "$(stat -c %s "$M/f")" 5
	truncate -s 100000 "$M/f"
	eq "$(stat -c %s "$M/f")" 100000
	eq "$(head -c 5 "$M/f")" hello
	eq "$(tail -c +6 "$M/f" | tr -d '\0' | wc -c)" 0 "extension reads as zeros"
	"$FSOPS" truncate "$M/f" 3
	eq "$(cat "$M/f")" hel
	truncate -s 0 "$M/f"
	eq "$(stat -c %s "$M/f")" 0
	eq "$(stat -c %s "$U/f")" 0
	eq "$(cat "$L1/f")" "hello world"
}

# did truncate(2) (python's os.truncate) of FILE to SIZE move its mtime?
truncate_moves() {
	touch -d @1000 "$1"
	python3 -c 'import os, sys; os.truncate(sys.argv[1], int(sys.argv[2]))' "$1" "$2"
	[ "$(stat -c %Y "$1")" != 1000 ] && echo moved || echo kept
}

@test "attr: truncate(2) to the size a file has leaves its times to the upper's file system (tmpfs keeps them for an empty file), ftruncate(2) moves them, as on the kernel's overlay" {
	upper_on_small_tmpfs
	: >"$L1/low"
	: >"$T/fs/plain"
	mount_layerfs
	: >"$M/up"
	local f
	eq "$(truncate_moves "$T/fs/plain" 0)" kept "sanity: tmpfs itself"
	for f in low up; do
		eq "$(truncate_moves "$M/$f" 0)" kept "$f: truncate(2)"
		touch -d @1000 "$M/$f"
		# coreutils truncate opens the file: ftruncate(2)
		truncate -s 0 "$M/$f"
		[ "$(stat -c %Y "$M/$f")" != 1000 ] || fail "$f: mtime after ftruncate(2) did not move"
	done
	eq "$(truncate_moves "$M/up" 0)" kept "up again, once its times were set"
}

@test "attr: utimensat with explicit times, UTIME_OMIT and UTIME_NOW" {
	echo x >"$L1/f"
	mount_layerfs
	"$FSOPS" utimens "$M/f" 1000000000.123456789 1100000000.987654321
	eq "$("$FSOPS" times "$M/f")" "1000000000.123456789 1100000000.987654321"
	eq "$("$FSOPS" times "$U/f")" "1000000000.123456789 1100000000.987654321" "on disk"
	"$FSOPS" utimens "$M/f" omit 1200000000.5
	eq "$("$FSOPS" times "$M/f")" "1000000000.123456789 1200000000.000000005"
	"$FSOPS" utimens "$M/f" 1300000000 omit
	eq "$("$FSOPS" times "$M/f")" "1300000000.000000000 1200000000.000000005"
	local before after t
	before=$(date +%s)
	"$FSOPS" utimens "$M/f" omit now
	after=$(date +%s)
	t=$("$FSOPS" times "$M/f")
	eq "${t%% *}" 1300000000.000000000 "atime kept with UTIME_OMIT"
	t=${t#* }
	t=${t%.*}
	[ "$t" -ge "$before" ] && [ "$t" -le "$after" ] || fail "UTIME_NOW mtime $t not in [$before, $after]"
	"$FSOPS" utimens "$M/f" now omit
	t=$("$FSOPS" times "$M/f")
	t=${t%%.*}
	[ "$t" -ge "$before" ] || fail "UTIME_NOW atime $t < $before"
	# touch -h on a symlink changes the link, not its target
	ln -s f "$M/l"
	"$FSOPS" utimens "$M/l" 1000 2000
	eq "$("$FSOPS" times "$M/l")" "1000.000000000 2000.000000000"
	eq "$(stat -c %Y "$M/f")" "$(stat -c %Y "$U/f")"
}

@test "attr: utimes of a lower directory copies it up without its children" {
	mkdir -p "$L1/d"
	touch "$L1/d/a"
	mount_layerfs
	touch -d '2005-05-05 05:05:05' "$M/d"
	eq "$(stat -c %Y "$M/d")" "$(date -d '2005-05-05 05:05:05' +%s)"
	eq "$(stat -c %Y "$U/d")" "$(date -d '2005-05-05 05:05:05' +%s)"
	eq "$(names "$M/d")" a
	eq "$(names "$U/d")" ""
}

@test "attr: writing updates mtime and ctime; chmod updates ctime only" {
	echo x >"$L1/f"
	touch -d '2000-01-01' "$L1/f"
	mount_layerfs
	local m0 c0
	m0=$(stat -c %Y "$M/f")
	echo y >>"$M/f"
	[ "$(stat -c %Y "$M/f")" -gt "$m0" ] || fail "mtime not updated by write"
	touch -d '2000-01-01' "$M/f"
	m0=$(stat -c %Y "$M/f")
	c0=$(stat -c %Z "$M/f")
	chmod 600 "$M/f"
	eq "$(stat -c %Y "$M/f")" "$m0" "chmod keeps mtime"
	[ "$(stat -c %Z "$M/f")" -ge "$c0" ] || fail "ctime went back"
}

@test "attr: permission checks for an unprivileged user (default_permissions)" {
	need_root
	echo secret >"$L1/rootonly"
	chmod 600 "$L1/rootonly"
	echo public >"$L1/pub"
	mkdir "$L1/userdir"
	chown 4242:4242 "$L1/userdir"
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	run ! as_user 4242 4242 cat "$M/rootonly"
	[[ "$output" == *"Permission denied"* ]] || fail "read of a 0600 root file: $output"
	run ! as_user 4242 4242 sh -c "echo x >>'$M/pub'"
	run ! as_user 4242 4242 chmod 777 "$M/pub"
	[[ "$output" == *"not permitted"* ]] || fail "chmod by a non-owner: $output"
	run ! as_user 4242 4242 touch "$M/newfile"
	as_user 4242 4242 sh -c "echo mine >'$M/userdir/f'"
	eq "$(stat -c '%u %g' "$M/userdir/f")" "4242 4242"
	eq "$(stat -c '%u %g' "$U/userdir/f")" "4242 4242"
	as_user 4242 4242 chmod 600 "$M/userdir/f"
	eq "$(stat -c %a "$M/userdir/f")" 600
	eq "$(cat "$L1/pub")" public
}

@test "attr: st_size, st_blocks and st_blksize of a lower file are the layer's" {
	"$FSOPS" fill "$L2/f" 1000000 1
	mount_layerfs
	eq "$(stat -c '%s %b' "$M/f")" "$(stat -c '%s %b' "$L2/f")"
	[ "$(stat -c %o "$M/f")" -gt 0 ] || fail "st_blksize is 0"
}

@test "attr: set-id bits a non-root creator asks for are kept (file, fifo, O_TMPFILE; plain and setgid directory), as on the kernel's overlay" {
	need_root
	need_kernel_overlay
	mkdir "$L1/pl" "$L1/sg"
	chmod 777 "$L1/pl"
	chgrp 5000 "$L1/sg"
	chmod 2777 "$L1/sg"
	mount_beside_kernel
	local prog='
import os, sys
os.umask(0)
for d in sys.argv[1:]:
    os.close(os.open(d + "/pl/f", os.O_CREAT | os.O_WRONLY, 0o6775))
    os.mkfifo(d + "/pl/p", 0o6775)
    os.close(os.open(d + "/sg/f", os.O_CREAT | os.O_WRONLY, 0o6775))
'
	need_user_exec 4242 4242 /usr/bin/python3
	as_user 4242 4242 /usr/bin/python3 -c "$prog" "$M" "$T/k"
	for d in "$M" "$T/k"; do
		as_user 4242 4242 sh -c 'umask 0 && exec "$@"' sh "$FSOPS" tmpfile "$d/pl" 6775 "" "$d/pl/t" >/dev/null
	done
	local d f
	for f in pl/f pl/p pl/t sg/f; do
		eq "$(stat -c '%A %u %g' "$M/$f")" "$(stat -c '%A %u %g' "$T/k/$f")" "$f: layerfs vs the kernel's overlay"
	done
	eq "$(stat -c %a "$M/pl/f")" 6775 "pl/f"
	eq "$(stat -c %a "$M/pl/p")" 6775 "pl/p (fifo)"
	eq "$(stat -c %a "$M/pl/t")" 6775 "pl/t (O_TMPFILE)"
	# not in group 5000: the kernel drops the set-group-ID bit itself
	eq "$(stat -c '%a %g' "$M/sg/f")" "4775 5000" "sg/f"
	eq "$(stat -c '%a %u' "$U/pl/f")" "6775 4242" "on disk"
	kovl_umount "$T/k"
}

# $T/fullns.py PROG ARGS...: run PROG as root of a namespace of all ids
# 0-65535 as they are, made by root: its root is privileged over files of
# those ids, but holds no capability in the initial namespace
write_fullns_py() {
	cat >"$T/fullns.py" <<'EOF_'
import ctypes, os, sys
r, w = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:
        os._exit(3)
    os.write(w, b"x")
    os.read(r2, 1)
    os.execv(sys.argv[1], sys.argv[1:])
os.read(r, 1)
for m in ("uid_map", "gid_map"):
    with open("/proc/%d/%s" % (pid, m), "w") as f:
        f.write("0 0 65536\n")
os.write(w2, b"x")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
EOF_
}

@test "attr: root of a user namespace counts as privileged only over files whose ids its namespace maps (chown -1:-1, write, fallocate, truncate of set-id files), as on the kernel's overlay" {
	need_root
	need_kernel_overlay
	mkdir "$L1/s"
	chmod 777 "$L1/s"
	# b: setuid; a, c, e: setgid and writable by anyone (chown first:
	# it would clear the bits)
	printf x >"$L1/s/b"
	for f in a c e; do
		printf xyz >"$L1/s/$f"
	done
	chown 1003:1001 "$L1"/s/*
	chmod 4755 "$L1/s/b"
	chmod 2767 "$L1/s/a" "$L1/s/c" "$L1/s/e"
	cat >"$T/ops.py" <<'EOF_'
import os, sys
d = sys.argv[1]
try:
    os.chown(d + "/b", -1, -1)
    r = "chown ok"
except OSError as e:
    r = "chown " + e.strerror
with open(d + "/a", "a") as f:
    f.write("x")
fd = os.open(d + "/c", os.O_WRONLY)
os.posix_fallocate(fd, 0, 8192)
os.close(fd)
os.truncate(d + "/e", 1)
print(r)
EOF_
	write_fullns_py
	local py=/usr/bin/python3 ns m out kout f
	need_user_exec 4242 4242 "$py"
	for ns in own full; do
		rm -rf "$U" "$W" "$T/ku" "$T/kw"
		mkdir "$U" "$W"
		mount_beside_kernel
		for m in "$T/k" "$M"; do
			if [ "$ns" = own ]; then
				# anyone's unshare -Ur: root inside, uid 4242 outside
				out=$(as_user 4242 4242 unshare -Ur "$py" "$T/ops.py" "$m/s")
			else
				out=$("$py" "$T/fullns.py" "$py" "$T/ops.py" "$m/s")
			fi
			[ "$m" = "$T/k" ] && kout=$out
		done
		eq "$out" "$kout" "$ns namespace: chown -1:-1 of b, layerfs vs the kernel's overlay"
		for f in a b c e; do
			eq "$(stat -c %A "$M/s/$f")" "$(stat -c %A "$T/k/s/$f")" "$ns namespace: s/$f, layerfs vs the kernel's overlay"
		done
		if [ "$ns" = own ]; then
			eq "$out" "chown Operation not permitted" "own namespace: chown -1:-1 of b"
			eq "$(stat -c %a "$M/s/b" "$M/s/a" "$M/s/c" "$M/s/e" | tr '\n' ' ')" "4755 767 767 767 " "own namespace: modes"
		else
			eq "$out" "chown ok" "full namespace: chown -1:-1 of b"
		fi
		unmount_layerfs
		kovl_umount "$T/k"
	done
}

@test "attr: fallocate and copy_file_range by root of a namespace that maps the files' ids clear set-user-ID and a set-group-ID the group may execute (CAP_FSETID counts in the initial namespace only), as on the kernel's overlay; host root keeps them" {
	need_root
	need_kernel_overlay
	mkdir "$L1/s"
	# u*: set-user-ID, g*: set-group-ID with group execute; *f get a
	# fallocate, *c a copy_file_range
	for f in uf uc gf gc; do
		printf xyz >"$L1/s/$f"
	done
	printf abc >"$L1/s/src"
	chmod 4755 "$L1/s/uf" "$L1/s/uc"
	chmod 2755 "$L1/s/gf" "$L1/s/gc"
	cat >"$T/ops.py" <<'EOF_'
import os, sys
d = sys.argv[1]
for f in ("uf", "gf"):
    fd = os.open(d + "/" + f, os.O_RDWR)
    os.posix_fallocate(fd, 0, 8192)
    os.close(fd)
src = os.open(d + "/src", os.O_RDONLY)
for f in ("uc", "gc"):
    fd = os.open(d + "/" + f, os.O_RDWR)
    os.copy_file_range(src, fd, 3, 0, 0)
    os.close(fd)
EOF_
	write_fullns_py
	local py=/usr/bin/python3 opts who m want
	for opts in "" noopen passthrough=0; do
		for who in ns host; do
			rm -rf "$U" "$W" "$T/ku" "$T/kw"
			mkdir "$U" "$W"
			mount_beside_kernel "$opts"
			for m in "$T/k" "$M"; do
				if [ "$who" = ns ]; then
					"$py" "$T/fullns.py" "$py" "$T/ops.py" "$m/s"
				else
					"$py" "$T/ops.py" "$m/s"
				fi
			done
			want="755 755 755 755 "
			[ "$who" = host ] && want="4755 4755 2755 2755 "
			eq "$(stat -c %a "$T/k/s/uf" "$T/k/s/uc" "$T/k/s/gf" "$T/k/s/gc" | tr '\n' ' ')" "$want" "${opts:-defaults}, $who: the kernel's overlay"
			eq "$(stat -c %a "$M/s/uf" "$M/s/uc" "$M/s/gf" "$M/s/gc" | tr '\n' ' ')" "$want" "${opts:-defaults}, $who: layerfs"
			unmount_layerfs
			kovl_umount "$T/k"
		done
	done
}

@test "attr: set-group-ID goes as on the kernel's overlay: an ACL set on a directory by a caller outside its group, a chgrp by one who had not the old group, a truncate by one with more than 64 groups" {
	need_kernel_overlay
	need_cmd setfacl
	mkdir "$L1/d"
	chown 1000:0 "$L1/d"
	chmod 2775 "$L1/d"
	echo x >"$L1/f"
	chown 1000:3000 "$L1/f"
	chmod 2644 "$L1/f"
	echo x >"$L1/t"
	chown 1000:4000 "$L1/t"
	chmod 2666 "$L1/t"
	mount_beside_kernel
	local m out=() groups
	groups=$(seq -s, 3000 3069),4000
	for m in "$M" "$T/k"; do
		setpriv --reuid=1000 --regid=1000 --clear-groups setfacl -m u:2000:rwx "$m/d"
		setpriv --reuid=1000 --regid=1001 --clear-groups chgrp 1001 "$m/f"
		setpriv --reuid=2000 --regid=2000 --groups="$groups" truncate -s 1 "$m/t"
		out+=("$(stat -c '%n %a %u:%g' "$m/d" "$m/f" "$m/t" | sed "s|^$m/||")")
	done
	eq "${out[0]}" "${out[1]}"
	eq "${out[1]}" "d 775 1000:0
f 644 1000:1001
t 2666 1000:4000" "sanity: the kernel's overlay"
}

@test "attr: setgid directory: new files inherit its group, new subdirs its group and bit" {
	need_root
	mkdir "$L1/sg"
	chgrp 5000 "$L1/sg"
	chmod 2777 "$L1/sg"
	mkdir "$L1/plain"
	chmod 1777 "$L1/plain"
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	mkdir "$M/sg2"
	chgrp 5001 "$M/sg2"
	chmod 2777 "$M/sg2"
	local d g
	for d in sg:5000 sg2:5001; do
		g=${d#*:}
		d=${d%:*}
		as_user 4242 4242 touch "$M/$d/file"
		as_user 4242 4242 mkdir "$M/$d/sub"
		eq "$(stat -c '%u %g' "$M/$d/file")" "4242 $g" "owner and group of a new file in $d"
		eq "$(stat -c '%u %g' "$M/$d/sub")" "4242 $g" "owner and group of a new dir in $d"
		[ $((8#$(stat -c %a "$M/$d/sub") & 02000)) -ne 0 ] || fail "$d/sub lost the setgid bit: $(stat -c %a "$M/$d/sub")"
		[ $((8#$(stat -c %a "$M/$d/file") & 02000)) -eq 0 ] || fail "$d/file got the setgid bit"
		eq "$(stat -c '%u %g' "$U/$d/file")" "4242 $g" "on disk"
		eq "$(stat -c '%u %g' "$U/$d/sub")" "4242 $g" "on disk"
		# and one level deeper, inherited again
		as_user 4242 4242 touch "$M/$d/sub/deeper"
		eq "$(stat -c %g "$M/$d/sub/deeper")" "$g"
	done
	eq "$(stat -c '%a %g' "$U/sg")" "2777 5000" "copied-up setgid dir keeps bit and group"
	as_user 4242 4242 touch "$M/plain/mine"
	eq "$(stat -c '%u %g' "$M/plain/mine")" "4242 4242" "no setgid: the creator's group"
}

@test "attr: statx shows the birth time of the top-most real object (lower, upper, copied up) and the same other fields, with and without noopen" {
	[ "$(stat -c %W "$T")" != 0 ] || skip "the test directory's file system keeps no birth time"
	echo a >"$L1/f"
	mkdir "$L1/d" "$L2/d"
	mknod "$L1/c" c 136 70000
	local opt
	for opt in "" noopen; do
		mount_fresh "$opt"
		eq "$(stat -c '%W %w' "$M/f")" "$(stat -c '%W %w' "$L1/f")" "lower file (${opt:-default})"
		eq "$(stat -c '%W %t %T' "$M/c")" "$(stat -c '%W %t %T' "$L1/c")" "device"
		echo n >"$M/new"
		eq "$(stat -c %w "$M/new")" "$(stat -c %w "$U/new")" "new file"
		echo 2 >"$L1/g"
		chmod 600 "$M/g"
		eq "$(stat -c %w "$M/g")" "$(stat -c %w "$U/g")" "copied up"
		echo x >"$M/d/x"
		eq "$(stat -c %w "$M/d")" "$(stat -c %w "$U/d")" "merged directory"
		chmod 600 "$M/f"
		# the statx reply carries the attributes as a stat does
		eq "$(stat -c '%s %a %u %g %h %i %Y %Z %W' "$M/f" | cut -d' ' -f1-8)" \
			"$(stat -c '%s %a %u %g %h %i %Y %Z' "$M/f")"
		unmount_layerfs "$M"
	done
}

@test "attr: statx asking for the birth time while another process's requests are interrupted by signals: no call fails" {
	echo a >"$L1/f"
	mount_layerfs
	# libfuse answers a late INTERRUPT from the thread that read the
	# next request, before that request's own reply
	run "$FSOPS" statxstorm "$M/f" 30000
	[ "$status" -eq 0 ] || fail "$output"
	[[ "$output" == "0 failed, 0 without birth time, of 30000" ]] || fail "$output"
}
