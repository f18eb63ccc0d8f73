#!/usr/bin/env bats
# Inode flags through the mount: lsattr and chattr (FS_IOC_GETFLAGS,
# FS_IOC_SETFLAGS), and what immutable and append-only objects refuse.

load helpers

setup() {
	common_setup
	need_cmd lsattr chattr
}

teardown() {
	# immutable or append-only files would outlive the test
	[ -n "${T:-}" ] && chattr -R -i -a "$T" 2>/dev/null
	common_teardown
}

# flags F: the flag letters lsattr shows for F, without the dashes
flags() {
	lsattr -d "$1" | awk '{print $1}' | tr -d -- '-'
}

# refused CMD...: each shell command fails with EPERM
refused() {
	local c
	for c in "$@"; do
		run ! sh -c "$c"
		[[ "$output" == *"Operation not permitted"* ]] || fail "$c: $output"
	done
}

# skip unless the test directory's file system keeps inode flags
can_chattr() {
	touch "$T/probe"
	chattr +d "$T/probe" 2>/dev/null || skip "no inode flags on the test directory's file system"
	chattr -d "$T/probe"
}

@test "fileattr: lsattr shows the flags of lower and upper files and directories" {
	need_root
	can_chattr
	echo x >"$L1/f"
	mkdir "$L1/d"
	chattr +d "$L1/f"
	chattr +A "$L1/d"
	mount_layerfs
	[[ "$(flags "$M/f")" == *d* ]] || fail "lower file: $(lsattr -d "$M/f")"
	[[ "$(flags "$M/d")" == *A* ]] || fail "lower dir: $(lsattr -d "$M/d")"
	[ ! -e "$U/f" ] && [ ! -e "$U/d" ] || fail "lsattr copied up"
	echo y >"$M/new"
	chattr +d "$U/new"
	[[ "$(flags "$M/new")" == *d* ]] || fail "upper file: $(lsattr -d "$M/new")"
}

@test "fileattr: chattr +i of a lower file copies it up; it then refuses writes, unlink, rename, chmod and link until chattr -i; the upper stays removable" {
	need_root
	can_chattr
	echo data >"$L1/f"
	mount_layerfs
	chattr +i "$M/f"
	# kept as the kernel keeps it: in overlay.protattr, not on the file
	[[ "$(flags "$U/f")" != *i* ]] || fail "the real copy is immutable: $(lsattr -d "$U/f")"
	eq "$(getfattr --only-values -n trusted.overlay.protattr "$U/f")" i
	[[ "$(flags "$M/f")" == *i* ]] || fail "through the mount: $(lsattr -d "$M/f")"
	# other flags still change, as on the kernel
	chattr +d "$M/f"
	[[ "$(flags "$M/f")" == *i*d* || "$(flags "$M/f")" == *d*i* ]] || fail "$(lsattr -d "$M/f")"
	run ! sh -c "echo more >>'$M/f'"
	[[ "$output" == *"Operation not permitted"* ]] || fail "append: $output"
	run ! rm -f "$M/f"
	run ! mv "$M/f" "$M/g"
	run ! chmod 600 "$M/f"
	run ! ln "$M/f" "$M/h"
	eq "$(cat "$M/f")" data
	eq "$(names "$M")" f
	# still refused after a remount
	unmount_layerfs
	mount_layerfs
	run ! sh -c "echo more >>'$M/f'"
	[[ "$(flags "$M/f")" == *i* ]] || fail "after a remount: $(lsattr -d "$M/f")"
	chattr -i "$M/f"
	echo more >>"$M/f"
	eq "$(cat "$M/f")" "data
more"
	chattr +a "$M/f"
	unmount_layerfs
	# a container's upper goes away whatever was chattr'ed inside
	rm -rf "$U"
	[ ! -e "$U" ]
}

@test "fileattr: chattr +a lets appends through and refuses overwrites; chattr +i of a directory refuses new and removed names, also after a remount" {
	need_root
	can_chattr
	mkdir "$L1/d"
	echo one >"$L1/d/log"
	echo keep >"$L1/d/k"
	echo low >"$L1/d/w"
	mkdir -p "$L1/d/full/x"
	mount_layerfs
	chattr +a "$M/d/log"
	echo two >>"$M/d/log"
	run ! sh -c "echo over >'$M/d/log'"
	eq "$(cat "$M/d/log")" "one
two"
	chattr +i "$M/d"
	[[ "$(flags "$M/d")" == *i* ]] || fail "$(lsattr -d "$M/d")"
	run ! touch "$M/d/new"
	run ! rm "$M/d/k"
	run ! mkdir "$M/d/sub"
	run ! rmdir "$M/d/full"
	[[ "$output" == *"Operation not permitted"* ]] || fail "rmdir: EPERM before ENOTEMPTY: $output"
	# as on the kernel's overlay, a lower file inside can still change:
	# the flag is kept in overlay.protattr, not on the real directory
	echo more >>"$M/d/w"
	eq "$(cat "$M/d/w")" "low
more"
	[[ "$(flags "$U/d")" != *i* ]] || fail "the real directory is immutable"
	eq "$(getfattr --only-values -n trusted.overlay.protattr "$U/d")" i
	run ! getfattr -n trusted.overlay.protattr "$M/d"
	unmount_layerfs
	mount_layerfs
	[[ "$(flags "$M/d")" == *i* ]] || fail "after a remount: $(lsattr -d "$M/d")"
	run ! touch "$M/d/new"
	chattr -i "$M/d"
	touch "$M/d/new"
	rm "$M/d/k"
	eq "$(names "$M/d")" "full log new w"
	run ! getfattr -n trusted.overlay.protattr "$U/d"
}

@test "fileattr: flags of fifos and symlinks are not supported; a read-only mount refuses chattr" {
	need_root
	can_chattr
	mkfifo "$L1/p"
	echo x >"$L1/f"
	mount_ro
	run ! chattr +d "$M/f"
	[[ "$output" == *"Read-only file system"* ]] || fail "$output"
	[[ "$(flags "$M/f")" != *d* ]]
	run ! lsattr -d "$M/p"
	[[ "$output" == *"Operation not supported"* ]] || fail "a fifo: $output"
}

@test "fileattr: an immutable lower file refuses writes, truncation, removal, renames, links and metadata changes, without copy-up" {
	need_root
	can_chattr
	echo hi >"$L1/imm"
	chattr +i "$L1/imm"
	mount_layerfs
	refused "echo more >>'$M/imm'" "echo more >'$M/imm'" "truncate -s 0 '$M/imm'" \
		"rm -f '$M/imm'" "mv '$M/imm' '$M/imm2'" "ln '$M/imm' '$M/l'" \
		"chmod 600 '$M/imm'" "chown 5 '$M/imm'" "touch '$M/imm'" \
		"touch -d 2001-01-01 '$M/imm'" "setfattr -n user.x -v 1 '$M/imm'"
	[ ! -e "$U/imm" ] || fail "copied up"
	eq "$(cat "$M/imm")" hi
	eq "$(names "$M")" imm
	# chattr -i is allowed (the kernel checked the caller): it copies up
	chattr -i "$M/imm"
	echo more >>"$M/imm"
	eq "$(cat "$M/imm")" "hi
more"
}

@test "fileattr: an append-only lower file takes appends, keeps the flag in its copy, and refuses the rest (with and without the writeback cache)" {
	need_root
	can_chattr
	local opts
	for opts in "" passthrough=0 noopen; do
		rm -rf "$U" "$W"
		mkdir -p "$U" "$W"
		append_only_case "$opts"
	done
}

append_only_case() {
	echo log >"$L1/app"
	chattr +a "$L1/app"
	mount_layerfs "$1"
	refused "echo more >'$M/app'" "truncate -s 0 '$M/app'" "rm -f '$M/app'" \
		"mv '$M/app' '$M/app2'" "ln '$M/app' '$M/l'" "chmod 600 '$M/app'" \
		"touch -d 2001-01-01 '$M/app'" "setfattr -n user.x -v 1 '$M/app'"
	touch "$M/app"
	echo more >>"$M/app"
	eq "$(getfattr --only-values -n trusted.overlay.protattr "$U/app")" a "the copy's marker ($1)"
	touch "$M/app"
	run ! touch -m -d 2001-01-01 "$M/app"
	[[ "$output" == *"Operation not permitted"* ]] || fail "an old mtime ($1): $output"
	run ! sh -c "echo over >'$M/app'"
	run ! rm -f "$M/app"
	echo again >>"$M/app"
	eq "$(cat "$M/app")" "log
more
again"
	unmount_layerfs
	chattr -a "$L1/app"
}

@test "fileattr: an immutable lower directory refuses new, removed and renamed names, also once a file below it was copied up" {
	need_root
	can_chattr
	mkdir "$L1/di" "$L1/d"
	echo y >"$L1/di/h"
	echo x >"$L1/d/g"
	chattr +i "$L1/di"
	mount_layerfs
	refused "touch '$M/di/new'" "mkdir '$M/di/sub'" "rm -f '$M/di/h'" \
		"mv '$M/di/h' '$M/di/h2'" "mv '$M/d/g' '$M/di/g'" "mv '$M/di/h' '$M/d/h'" \
		"ln -s t '$M/di/s'" "chmod 700 '$M/di'"
	echo more >>"$M/di/h"
	[ -d "$U/di" ] || fail "not copied up"
	run ! touch "$M/di/new"
	[[ "$output" == *"Operation not permitted"* ]] || fail "after the copy-up: $output"
	[[ "$(flags "$M/di")" == *i* ]] || fail "$(lsattr -d "$M/di")"
	eq "$(names "$M/di")" h
	eq "$(names "$M/d")" g
}

@test "fileattr: an append-only file open for writing cannot be changed through a shared mapping or a cleared O_APPEND" {
	need_root
	can_chattr
	echo hello >"$L1/f"
	mount_layerfs
	chattr +a "$M/f"
	run python3 -c '
import os, fcntl, mmap, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_APPEND)
try:
    fcntl.fcntl(fd, fcntl.F_SETFL, 0)
except OSError:
    pass
try:
    os.pwrite(fd, b"XX", 0)
except OSError:
    pass
try:
    m = mmap.mmap(fd, 0)
    m[0:1] = b"M"
    m.flush()
    print("mapped and written")
except OSError:
    pass
os.close(fd)' "$M/f"
	[[ "$output" != *"mapped and written"* ]] || fail "a shared writable mapping: $output"
	[[ "$(head -c 5 "$M/f")" == hello ]] || fail "the start changed: $(cat "$M/f")"
	[[ "$(head -c 5 "$U/f")" == hello ]] || fail "the start changed on disk: $(cat "$U/f")"
}

@test "fileattr: an append-only file opens for appending while it is open for reading, and the reader sees the appends" {
	need_root
	can_chattr
	local opts
	echo hello >"$L1/f"
	for opts in "" passthrough=0 noopen; do
		mount_fresh "$opts"
		chattr +a "$M/f"
		# a reader first: by default its open passed through, and the
		# kernel then refused the append's open, which does not (EIO)
		exec 5<"$M/f"
		echo more >>"$M/f" || fail "an append beside a reader ($opts)"
		eq "$(cat <&5)" "hello
more" "what the reader reads ($opts)"
		exec 6>>"$M/f"
		exec 7<"$M/f"
		echo again >>"$M/f" || fail "a second append beside a reader ($opts)"
		exec 5<&- 6>&- 7<&-
		eq "$(cat "$M/f")" "hello
more
again" "($opts)"
		chattr -a "$M/f"
		# made append-only while a reader's open passes through: other
		# readers still open it (appends do not, see README)
		exec 5<"$M/f"
		chattr +a "$M/f"
		eq "$(cat "$M/f")" "hello
more
again" "a second reader ($opts)"
		exec 5<&-
		unmount_layerfs
	done
}

@test "fileattr: fallocate only allocates on an append-only file, and does nothing on one made immutable while open, as the kernel refuses the rest" {
	need_root
	can_chattr
	local opts
	echo hello >"$L1/f"
	echo imm >"$L1/g"
	for opts in "" passthrough=0 noopen; do
		mount_fresh "$opts"
		chattr +a "$M/f"
		# the descriptors are O_APPEND and opened before chattr +i:
		# the kernel lets them through, knowing neither flag
		run -0 python3 -c '
import ctypes, errno, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
def fa(fd, mode):
    r = libc.fallocate(fd, mode, 0, 4)
    return errno.errorcode[ctypes.get_errno()] if r else "ok"
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
print("punch", fa(fd, 3), "zero", fa(fd, 0x10), "keep", fa(fd, 1))
fd = os.open(sys.argv[2], os.O_RDWR)
subprocess.run(["chattr", "+i", sys.argv[2]], check=True)
print("immutable", fa(fd, 0))
subprocess.run(["chattr", "-i", sys.argv[2]], check=True)' "$M/f" "$M/g"
		eq "$output" "punch EPERM zero EPERM keep ok
immutable EPERM" "(${opts:-default})"
		eq "$(cat "$M/f")" hello "(${opts:-default})"
		eq "$(cat "$M/g")" imm "(${opts:-default})"
		unmount_layerfs
		eq "$(cat "$U/f")" hello "on disk (${opts:-default})"
	done
}

@test "fileattr: noopen: copy_file_range into an append-only file is refused" {
	need_root
	can_chattr
	echo hello >"$L1/f"
	echo XXXXX >"$L1/src"
	mount_layerfs noopen
	chattr +a "$M/f"
	# with noopen the kernel opens it for writing without asking
	run -0 python3 -c '
import errno, os, sys
src = os.open(sys.argv[2], os.O_RDONLY)
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.copy_file_range(src, fd, 5, 0, 0)
    print("copied")
except OSError as e:
    print(errno.errorcode[e.errno])' "$M/f" "$M/src"
	eq "$output" EPERM
	eq "$(cat "$M/f")" hello
}

@test "fileattr: noopen: a write an immutable file refuses at writeback leaves the mount showing the file as it is" {
	need_root
	can_chattr
	mount_layerfs noopen
	echo orig >"$M/i"
	chattr +i "$M/i"
	# the kernel opens it for writing without asking: the refusal comes
	# when the page is written back
	run write_fsync "$M/i" <<<changed
	[[ "$output" == "fsync: Operation not permitted"* ]] || fail "'$output'"
	wait_until 10 cmp -s "$M/i" "$U/i" ||
		fail "the mount shows '$(cat "$M/i")', the upper '$(cat "$U/i")'"
	chattr -i "$M/i"
}

@test "fileattr: rmdir and rename over a directory succeed when the old upper entries cannot be removed; the names stay gone after a remount" {
	need_root
	can_chattr
	# d and t are empty in the merged view: their upper dirs hold only
	# .wh. markers, which the kernel's overlay would not let go either
	# if they were immutable
	mkdir -p "$L1/d" "$L1/t" "$L1/src" "$U/d" "$U/t"
	echo x >"$L1/d/f"
	echo y >"$L1/t/g"
	echo z >"$L1/src/h"
	touch "$U/d/.wh.f" "$U/t/.wh.g"
	chattr +i "$U/d/.wh.f" "$U/t/.wh.g"
	mount_layerfs
	eq "$(names "$M/d")" ""
	rmdir "$M/d" || fail "rmdir failed although the directory went"
	[ ! -e "$M/d" ] || fail "d still there"
	mv -T "$M/src" "$M/t" || fail "rename over t failed"
	eq "$(cat "$M/t/h")" z
	[ ! -e "$M/src" ] || fail "src still there"
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" "t"
	eq "$(cat "$M/t/h")" z
}
