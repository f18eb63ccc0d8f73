#!/usr/bin/env bats
# layerfs export and import: OCI layer tarballs. The tarballs are read
# back and built with Python's tarfile module, an independent reader and
# writer. Needs root and python3; uses $LAYERFS.

bats_require_minimum_version 1.5.0

load stack_helpers

setup() {
	stack_setup
	command -v python3 >/dev/null || skip "needs python3"
	make_stack
}

teardown() {
	stack_teardown
}

change_things() {
	with_mount stack.json '
		echo new >new
		echo changed >etc/b
		rm etc/c
		rm -rf d && mkdir d && echo z >d/z
		ln new new-link
		ln -s /etc/passwd abs-link
		mkfifo fifo
		mknod null c 1 3
		chown 123:456 new
		chmod 4755 etc/b
		chmod 0750 etc
		setfattr -n user.note -v hello new
		setfattr -n trusted.mine -v t etc/b'
}

# python3 tarfile.py ARCHIVE: one line per entry
list_tar() {
	python3 - "$1" <<-'EOF'
	import sys, tarfile
	kinds = {tarfile.REGTYPE: "f", tarfile.DIRTYPE: "d", tarfile.SYMTYPE: "l",
	         tarfile.LNKTYPE: "h", tarfile.FIFOTYPE: "p", tarfile.CHRTYPE: "c"}
	for m in tarfile.open(sys.argv[1]):
	    x = ",".join(sorted(k[len("SCHILY.xattr."):] for k in m.pax_headers if k.startswith("SCHILY.xattr.")))
	    print(m.name, kinds.get(m.type, m.type), "%o" % m.mode, "%d:%d" % (m.uid, m.gid),
	          m.linkname or "-", x or "-")
	EOF
}

# python3 mktar.py OUT NAME:TYPE[:TARGET] ...: a tarball with the given entries
make_tar() {
	python3 - "$@" <<-'EOF'
	import io, sys, tarfile
	with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
	    for spec in sys.argv[2:]:
	        name, kind, *rest = spec.split(":", 2)
	        i = tarfile.TarInfo(name)
	        i.mode = 0o755 if kind == "d" else 0o644
	        if kind == "d":
	            i.type = tarfile.DIRTYPE
	            t.addfile(i)
	        elif kind == "l":
	            i.type, i.linkname = tarfile.SYMTYPE, rest[0]
	            t.addfile(i)
	        elif kind == "h":
	            i.type, i.linkname = tarfile.LNKTYPE, rest[0]
	            t.addfile(i)
	        else:
	            data = (rest[0] if rest else "data").encode()
	            i.size = len(data)
	            t.addfile(i, io.BytesIO(data))
	EOF
}

@test "export: whiteouts, opaque dirs, owners, modes, xattrs, hard links" {
	change_things
	# forms other tools write, made by hand in the upper
	mkdir -p upper/keep
	setfattr -n user.overlay.opaque -v y upper/keep
	touch upper/etc/.wh.app
	# owners and modes kept in an override attribute (a rootless upper
	# that could not chown), named on the upper's root
	setfattr -n user.containers.override_stat -v 0:0:0755 upper
	echo o >upper/ovr
	setfattr -n user.containers.override_stat -v 1000:2000:0600 upper/ovr
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 0 ]
	list_tar out.tar >list.txt
	cat list.txt
	# (tarfile shows directory names without their trailing slash)
	grep -qx 'd d 755 0:0 - -' list.txt
	grep -qx 'd/.wh..wh..opq f 644 0:0 - -' list.txt
	grep -qx 'd/z f 644 0:0 - -' list.txt
	grep -qx 'etc d 750 0:0 - -' list.txt
	grep -qx 'etc/.wh.c f 644 0:0 - -' list.txt
	grep -qx 'etc/.wh.app f 644 0:0 - -' list.txt
	grep -qx 'etc/b f 4755 0:0 - trusted.mine' list.txt
	grep -qx 'keep/.wh..wh..opq f 644 0:0 - -' list.txt
	grep -qx 'abs-link l 777 0:0 /etc/passwd -' list.txt
	grep -qx 'fifo p 644 0:0 - -' list.txt
	grep -qx 'null c 644 0:0 - -' list.txt
	# one of the two names carries the data, the other links to it
	grep -qx 'new f 644 123:456 - user.note' list.txt
	grep -qx 'new-link h 644 123:456 new user.note' list.txt
	grep -qx 'ovr f 600 1000:2000 - -' list.txt
	# nothing of the overlay's own
	[ -z "$(grep overlay list.txt)" ]
	[ "$(grep -c '^keep' list.txt)" -eq 2 ]
}

@test "export: a device node with two names goes as one node and a hard link to it, as a file does" {
	mkdir upper/dev
	mknod upper/dev/null c 1 3
	ln upper/dev/null upper/null2
	mknod upper/dev/loop b 7 200
	ln upper/dev/loop upper/dev/loop2
	"$LAYERFS" export stack.json out.tar
	list_tar out.tar >list.txt
	cat list.txt
	grep -qx 'dev/null c 644 0:0 - -' list.txt
	grep -qx 'null2 h 644 0:0 dev/null -' list.txt
	grep -qx 'dev/loop2 h 644 0:0 dev/loop -' list.txt
	"$LAYERFS" import out.tar layers/imported
	[ "$(stat -c %i layers/imported/dev/null)" = "$(stat -c %i layers/imported/null2)" ]
	[ "$(stat -c '%h %t,%T' layers/imported/dev/loop2)" = "2 7,c8" ]
}

@test "export: xattr names with a space, bytes outside ASCII or '%' go as they are, not %-escaped; one with '=' is left out with a warning" {
	echo x >upper/f
	setfattr -n 'user.café' -v 1 upper/f
	setfattr -n 'user.a b' -v 2 upper/f
	setfattr -n 'user.100%' -v 3 upper/f
	setfattr -n "$(printf 'user.\377')" -v 4 upper/f
	setfattr -n 'user.a=b' -v 5 upper/f
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 0 ]
	python3 - out.tar >keys.txt <<-'EOF'
	import sys, tarfile
	for m in tarfile.open(sys.argv[1], encoding="utf-8", errors="surrogateescape"):
	    for k, v in sorted(m.pax_headers.items()):
	        if k.startswith("SCHILY.xattr."):
	            print(ascii(k[len("SCHILY.xattr."):]), v)
	EOF
	cat keys.txt
	grep -qxF "'user.caf\\xe9' 1" keys.txt
	grep -qx "'user.a b' 2" keys.txt
	grep -qx "'user.100%' 3" keys.txt
	grep -qxF "'user.\\udcff' 4" keys.txt
	[ "$(wc -l <keys.txt)" -eq 4 ]
	[[ "$output" == *"f: xattr 'user.a=b'"*"skipped"* ]]
	# and back
	"$LAYERFS" import out.tar layers/imported
	[ "$(getfattr --only-values -n 'user.café' layers/imported/f)" = 1 ]
	[ "$(getfattr --only-values -n 'user.100%' layers/imported/f)" = 3 ]
	[ "$(getfattr --only-values -n "$(printf 'user.\377')" layers/imported/f)" = 4 ]
}

@test "export: an opaque marker on the upper's root (which hides nothing in a mount) is not written" {
	echo new >upper/new
	setfattr -n trusted.overlay.opaque -v y upper
	: >upper/.wh..wh..opq
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 0 ]
	list_tar out.tar >list.txt
	grep -qx 'new f 644 0:0 - -' list.txt
	[ -z "$(grep wh list.txt)" ]
}

@test "export: no entry for the upper's root, as podman and docker write a container's layer (a chmod of the mount's root stays out)" {
	with_mount stack.json 'chmod 0700 . && setfattr -n user.root -v r . && echo new >new'
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 0 ]
	list_tar out.tar >list.txt
	[ "$(cat list.txt)" = 'new f 644 0:0 - -' ] || fail "entries: $(cat list.txt)"
}

@test "export: the tarball is complete and readable by other tools" {
	change_things
	"$LAYERFS" export stack.json out.tar
	mkdir x
	tar -C x -xf out.tar
	[ "$(cat x/new)" = new ]
	[ "$(stat -c %i x/new)" = "$(stat -c %i x/new-link)" ]
	[ "$(cat x/etc/b)" = changed ]
}

@test "export: modification times in whole seconds, with or without an extended header" {
	# a name with an xattr needs a pax header, which could carry the
	# nanoseconds; one without needs none: both go as whole seconds
	echo a >upper/plain
	echo b >upper/noted
	setfattr -n user.note -v x upper/noted
	touch -d '2020-02-02 12:00:00.75' upper/plain upper/noted
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 0 ]
	python3 - out.tar >times.txt <<-'EOF'
	import sys, tarfile
	for m in tarfile.open(sys.argv[1]):
	    print(m.name, repr(m.mtime), "mtime" in m.pax_headers)
	EOF
	cat times.txt
	local s
	s=$(stat -c %Y upper/plain)
	grep -qx "plain $s False" times.txt
	grep -qx "noted $s False" times.txt
}

@test "export: a full disk leaves no broken tarball and the old one intact" {
	with_mount stack.json 'head -c 3000000 /dev/urandom >big'
	mkdir small
	mount -t tmpfs -o size=1m none small
	echo old >small/out.tar
	run "$LAYERFS" export stack.json small/out.tar
	[ "$status" -eq 1 ]
	[[ "$output" == *"small/out.tar"*"No space left on device"* ]]
	[ "$(cat small/out.tar)" = old ]
	[ "$(ls -A small)" = out.tar ]
	rm small/out.tar
	run "$LAYERFS" export stack.json small/out.tar
	[ "$status" -eq 1 ]
	[ -z "$(ls -A small)" ]
}

@test "export: killed while writing, it leaves no temporary file behind" {
	# the tarball is written to an unnamed file (O_TMPFILE), named only
	# once complete
	with_mount stack.json 'head -c 200000000 /dev/zero >big'
	mkdir out
	echo old >out/out.tar
	"$LAYERFS" export stack.json out/out.tar &
	local pid=$! writing=
	for _ in $(seq 500); do
		writing=$(find /proc/$pid/fd -lname "$T/out/*" 2>/dev/null | head -1)
		[ -n "$writing" ] && break
		sleep 0.01
	done
	kill -9 "$pid"
	wait "$pid" || true
	[ -n "$writing" ] || fail "export never opened its output"
	[ "$(ls -A out)" = out.tar ] || fail "left behind: $(ls -A out)"
	[ "$(cat out/out.tar)" = old ]
}

@test "export: where FILE's file system has no O_TMPFILE, a named temporary beside it is renamed once complete, and removed on failure" {
	# fuse-overlayfs 1.10 answers O_TMPFILE with EOPNOTSUPP; its upper is
	# a 1 MiB tmpfs, so a big tarball runs out of space there
	command -v fuse-overlayfs >/dev/null || skip "needs fuse-overlayfs"
	change_things
	"$LAYERFS" export stack.json plain.tar
	mkdir -p fo/l fo/t fo/m
	mount -t tmpfs -o size=1m none fo/t
	mkdir fo/t/u fo/t/w
	fuse-overlayfs -o "lowerdir=$T/fo/l,upperdir=$T/fo/t/u,workdir=$T/fo/t/w" fo/m
	python3 -c 'import os, sys; os.open(sys.argv[1], os.O_TMPFILE | os.O_WRONLY, 0o600)' fo/m 2>/dev/null &&
		skip "this fuse-overlayfs takes O_TMPFILE"
	"$LAYERFS" export stack.json fo/m/out.tar || fail "export onto fuse-overlayfs failed"
	cmp plain.tar fo/m/out.tar || fail "the tarball differs from one written elsewhere"
	[ "$(ls -A fo/m)" = out.tar ] || fail "the export left: $(ls -A fo/m)"
	# the temporary of a long FILE has a short name of its own (251
	# bytes, the most fuse-overlayfs takes: it keeps room for ".wh.")
	local long
	long=$(printf 'n%.0s' $(seq 247)).tar
	"$LAYERFS" export stack.json "fo/m/$long" || fail "a 251-byte name onto fuse-overlayfs failed"
	cmp plain.tar "fo/m/$long"
	rm "fo/m/$long"
	with_mount stack.json 'head -c 3000000 /dev/urandom >big'
	run "$LAYERFS" export stack.json fo/m/out.tar
	[[ "$status" -eq 1 && "$output" == *"fo/m/out.tar"*"No space left on device"* ]] ||
		fail "export onto a full disk: $status $output"
	cmp plain.tar fo/m/out.tar || fail "the old tarball changed"
	[ "$(ls -A fo/m)" = out.tar ] || fail "the failed export left: $(ls -A fo/m)"
}

# sizelie MNT SIZE DATA: mount at MNT a file system whose one file, f,
# has the stat size SIZE and the content DATA (tests/tools/sizelie.c)
sizelie() {
	local tool=${TOOLS:-$BATS_TEST_DIRNAME/tools}/sizelie
	[ -x "$tool" ] || fail "no $tool: make check builds it"
	mkdir -p "$1"
	# (it goes to the background: not with bats's output pipe)
	"$tool" "$@" 3>&-
}

# lie_export SIZE DATA: `layerfs export stack.json out.tar` (run) with
# upper/f replaced by sizelie's file of the stat size SIZE and the
# content DATA, bound over it for the export
lie_export() {
	sizelie lie "$1" "$2"
	mount --bind lie/f upper/f
	run "$LAYERFS" export stack.json out.tar
	umount upper/f
	fusermount3 -u lie
}

@test "export: a file whose data ends before its size or goes on past it (written to during the export) fails the export, naming it; no tarball" {
	# a file that shrank or grew between its stat and its read, without
	# a race: sizelie's file, mounted over a file of the upper
	echo old >out.tar
	echo x >upper/f
	lie_export 100000 short
	[ "$status" -eq 1 ] || fail "a file that shrank: $status $output"
	[[ "$output" == *"upper: f: the file shrank from 100000 to 5 bytes while it was read"* ]] ||
		fail "message: $output"
	[ "$(cat out.tar)" = old ]
	lie_export 3 'longer data'
	[ "$status" -eq 1 ] || fail "a file that grew: $status $output"
	[[ "$output" == *"upper: f: the file grew past its 3 bytes while it was read"* ]] ||
		fail "message: $output"
	[ "$(cat out.tar)" = old ]
	[ "$(ls -A | grep '^\.')" = "" ] || fail "left behind: $(ls -A | grep '^\.')"
	# size and data that agree: the same file exports
	lie_export 5 short
	[ "$status" -eq 0 ] || fail "a file that did not change: $output"
	[ "$(tar -xOf out.tar f)" = short ]
}

@test "export and import: FILE.tar and LAYERDIR of 255-byte names (the temporary beside each has a short name of its own)" {
	echo data >upper/f
	local tar dir
	tar=$(printf 'n%.0s' $(seq 251)).tar
	dir=$(printf 'd%.0s' $(seq 255))
	run "$LAYERFS" export stack.json "$tar"
	[ "$status" -eq 0 ] || fail "export: $output"
	[ "$(tar -xOf "$tar" f)" = data ]
	run "$LAYERFS" import "$tar" "$dir"
	[ "$status" -eq 0 ] || fail "import: $output"
	[ "$(cat "$dir/f")" = data ]
	[ "$(ls -A | grep '^\.')" = "" ] || fail "left behind: $(ls -A | grep '^\.')"
}

@test "export: FILE naming a directory (an existing one, or a name ending in '/') or in a missing one is refused before the upper is read" {
	# an upper export refuses once it reads it: the output is refused first
	mkdir -p upper/etc outdir
	truncate -s 5 upper/etc/a
	setfattr -n trusted.overlay.metacopy -v "" upper/etc/a
	echo f >file
	local out
	for out in outdir:"outdir: is a directory" \
		   outdir/:"outdir/: ends in '/'" \
		   new/:"new/: ends in '/'" \
		   nodir/out.tar:"nodir/out.tar: nodir: No such file or directory" \
		   file/out.tar:"file/out.tar: file: Not a directory"; do
		run "$LAYERFS" export stack.json "${out%%:*}"
		[ "$status" -eq 1 ] || fail "${out%%:*}: $status $output"
		[[ "$output" == *"${out#*:}"* && "$output" != *metacopy* ]] ||
			fail "${out%%:*}: message: $output"
	done
	[ -z "$(ls -A outdir)" ]
	[ ! -e new ] && [ ! -e nodir ]
}

@test "export: a stack without upper, a missing directory for FILE" {
	echo '{"version": 1, "layers": ["layers/base"]}' >ro.json
	run "$LAYERFS" export ro.json out.tar
	[ "$status" -eq 1 ]
	[[ "$output" == *"read-only stack"* ]]
	run "$LAYERFS" export stack.json nodir/out.tar
	[ "$status" -eq 1 ]
	[[ "$output" == *"nodir"*"No such file or directory"* ]]
}

@test "export: a metacopy file (kernel's metacopy=on: data in a lower layer) is refused, not written as zeros" {
	mkdir -p upper/etc
	# what the kernel leaves for a chown with metacopy=on: holes only
	truncate -s 5 upper/etc/a
	setfattr -n trusted.overlay.metacopy -v "" upper/etc/a
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 1 ]
	[[ "$output" == *"etc/a"*"metacopy"* ]]
	[ ! -e out.tar ]
	[ -z "$(ls -A . | grep '^\.')" ]
}

@test "export: a directory the kernel's overlay renamed (redirect_dir=on), whose files below are at its old path, is refused, not written without them" {
	# what the kernel leaves for mv d d2 with redirect_dir=on
	mkdir upper/d2
	setfattr -n trusted.overlay.redirect -v d upper/d2
	mknod upper/d c 0 0
	"$LAYERFS" mount stack.json
	[ -e mnt/d2/x ] || fail "the mount does not follow the redirect"
	"$LAYERFS" umount stack.json
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 1 ] || fail "exported: $output"
	[[ "$output" == *"upper: d2: "*"renamed"*"/d,"* ]] || fail "message: $output"
	[ ! -e out.tar ]
	# moved back (the kernel keeps the redirect), or made opaque: what
	# shows below is at the directory's own path, and it exports
	rm -r upper/d2 upper/d
	mkdir upper/d upper/keep
	setfattr -n trusted.overlay.redirect -v d upper/d
	setfattr -n trusted.overlay.redirect -v /d upper/keep
	setfattr -n trusted.overlay.opaque -v y upper/keep
	run "$LAYERFS" export stack.json out.tar
	[ "$status" -eq 0 ] || fail "moved back: $output"
}

@test "round trip: export, import as a layer on the base, same merged view" {
	change_things
	"$LAYERFS" mount stack.json
	tree_listing mnt >before.list
	"$LAYERFS" umount stack.json
	"$LAYERFS" export stack.json out.tar
	run "$LAYERFS" import out.tar layers/imported
	[ "$status" -eq 0 ]
	cat >ro.json <<-EOF
	{"version": 1, "layers": ["layers/base", "layers/app", "layers/imported"], "mountpoint": "mnt"}
	EOF
	"$LAYERFS" mount ro.json
	tree_listing mnt >after.list
	[ "$(stat -c %i mnt/new)" = "$(stat -c %i mnt/new-link)" ]
	[ "$(getfattr --only-values -n user.note mnt/new)" = hello ]
	"$LAYERFS" umount ro.json
	diff before.list after.list
	# and as the base of a writable stack
	cat >rw.json <<-EOF
	{"version": 1, "layers": ["layers/base", "layers/app", "layers/imported"],
	 "upper": "upper2", "work": "work2", "mountpoint": "mnt"}
	EOF
	mkdir upper2 work2
	"$LAYERFS" mount rw.json
	rm mnt/new
	[ "$(cat mnt/new-link)" = new ]
	"$LAYERFS" umount rw.json
}

@test "import: compressed layers, whiteouts written by other tools" {
	make_tar other.tar etc/:d etc/.wh.a:f etc/added:f:hi d/:d d/.wh..wh..opq:f d/new:f
	gzip -k other.tar
	"$LAYERFS" import other.tar.gz layers/other
	[ -f layers/other/etc/.wh.a ]
	[ -f layers/other/d/.wh..wh..opq ]
	echo '{"version": 1, "layers": ["layers/base", "layers/app", "layers/other"], "mountpoint": "mnt"}' >ro.json
	"$LAYERFS" mount ro.json
	[ ! -e mnt/etc/a ]
	[ "$(cat mnt/etc/added)" = hi ]
	[ "$(cat mnt/etc/b)" = base-b ]
	[ "$(ls mnt/d)" = new ]
	"$LAYERFS" umount ro.json
}

@test "import: a whiteout of a 252 to 255-byte name (.wh.NAME too long for a file name) becomes a 0/0 character device" {
	long=$(printf 'L%.0s' $(seq 255))
	touch "layers/base/etc/$long"
	make_tar t.tar "etc/.wh.$long:f:"
	run "$LAYERFS" import t.tar lay
	[ "$status" -eq 0 ] || fail "import: $output"
	[ "$(stat -c %F:%t:%T "lay/etc/$long")" = "character special file:0:0" ]
	echo '{"version": 1, "layers": ["layers/base", "lay"], "mountpoint": "mnt"}' >imp.json
	"$LAYERFS" mount imp.json
	run ls mnt/etc
	"$LAYERFS" umount imp.json
	[ "$output" = "$(printf 'a\nb\nc')" ]
	# Linux lets a plain user make a 0/0 device (a whiteout) too
	chmod 755 "$T"
	chown -R 65534:65534 "$T"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$LAYERFS" import t.tar lay2
	[ "$status" -eq 0 ] || fail "import as a plain user: $output"
	[ "$(stat -c %t:%T "lay2/etc/$long")" = "0:0" ]
}

@test "import: a later entry replaces an earlier one; parents are created" {
	make_tar t.tar a/b/c:f:one a/b/c:f:two a/b/:d
	"$LAYERFS" import t.tar lay
	[ "$(cat lay/a/b/c)" = two ]
}

@test "import: a directory named twice takes the last entry's mode and times, as with tar -x" {
	python3 - <<-'EOF'
	import io, tarfile
	with tarfile.open("twice.tar", "w", format=tarfile.PAX_FORMAT) as t:
	    for mode, mtime in ((0o700, 1000000000), (0o751, 1500000000)):
	        i = tarfile.TarInfo("d")
	        i.type, i.mode, i.mtime = tarfile.DIRTYPE, mode, mtime
	        t.addfile(i)
	    i = tarfile.TarInfo("d/f")
	    i.size = 1
	    t.addfile(i, io.BytesIO(b"x"))
	EOF
	"$LAYERFS" import twice.tar lay
	mkdir ref
	tar -C ref -xpf twice.tar
	[ "$(stat -c %a:%Y ref/d)" = 751:1500000000 ]
	[ "$(stat -c %a:%Y lay/d)" = 751:1500000000 ]
}

@test "import: a read-only directory takes its entries, also for a plain user; a file named twice (a hard link to itself) and a directory a later entry replaced are fine" {
	mkdir -p src/ro src/gone
	echo data >src/ro/file
	echo g >src/gone/x
	chmod 0555 src/ro
	tar -C src -cf ro.tar ro ro/file
	chmod 755 "$T"
	chown -R 65534:65534 "$T"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$LAYERFS" import ro.tar lay
	[ "$status" -eq 0 ] || fail "import as a plain user: $output"
	[ "$(stat -c %a lay/ro)" = 555 ]
	[ "$(cat lay/ro/file)" = data ]
	chmod -R u+w lay src
	# a directory, then a symlink in its place
	python3 - <<-'EOF'
	import io, tarfile
	with tarfile.open("replaced.tar", "w", format=tarfile.PAX_FORMAT) as t:
	    d = tarfile.TarInfo("c"); d.type = tarfile.DIRTYPE; d.mode = 0o700; t.addfile(d)
	    f = tarfile.TarInfo("c/x"); f.size = 1; t.addfile(f, io.BytesIO(b"x"))
	    l = tarfile.TarInfo("c"); l.type = tarfile.SYMTYPE; l.linkname = "elsewhere"; t.addfile(l)
	EOF
	run "$LAYERFS" import replaced.tar lay2
	[ "$status" -eq 0 ] || fail "a directory replaced: $output"
	[ "$(readlink lay2/c)" = elsewhere ]
}

@test "import in a plain user's user namespace (unshare -Ur): owners it does not map and device nodes (and hard links to them) are left out with a warning, not a failed import" {
	python3 - <<-'EOF'
	import io, tarfile
	with tarfile.open("owned.tar", "w", format=tarfile.PAX_FORMAT) as t:
	    d = tarfile.TarInfo("dev"); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
	    n = tarfile.TarInfo("dev/null"); n.type = tarfile.CHRTYPE; n.devmajor, n.devminor = 1, 3; t.addfile(n)
	    # hard links to a device node left out go with it
	    h = tarfile.TarInfo("dev/null2"); h.type = tarfile.LNKTYPE; h.linkname = "dev/null"; t.addfile(h)
	    h = tarfile.TarInfo("null3"); h.type = tarfile.LNKTYPE; h.linkname = "dev/null2"; t.addfile(h)
	    p = tarfile.TarInfo("fifo"); p.type = tarfile.FIFOTYPE; t.addfile(p)
	    f = tarfile.TarInfo("f"); f.size = 2; f.uid = f.gid = 5; t.addfile(f, io.BytesIO(b"hi"))
	EOF
	chmod 755 "$T"
	chown -R 65534:65534 "$T"
	run setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Ur "$LAYERFS" import owned.tar lay
	[ "$status" -eq 0 ] || fail "import in a user namespace: $output"
	[[ "$output" == *"not permitted to set owners"* ]] || fail "no owner warning: $output"
	[[ "$output" == *"not permitted to make device nodes"* ]] || fail "no device warning: $output"
	[ "$(cat lay/f)" = hi ]
	[ -p lay/fifo ]
	[ ! -e lay/dev/null ]
	[ ! -e lay/dev/null2 ] && [ ! -e lay/null3 ]
}

@test "import: POSIX ACLs that tar --acls recorded (SCHILY.acl.*) are not dropped without a warning" {
	command -v setfacl >/dev/null || skip "no setfacl"
	mkdir -p src
	echo x >src/f
	setfacl -m u:1234:r src/f
	tar --acls -C src -cf acl.tar f
	run "$LAYERFS" import acl.tar lay
	[ "$status" -eq 0 ]
	[[ "$output" == *"POSIX ACLs recorded as SCHILY.acl.*"*"not imported"* ]] || fail "no warning: $output"
	[ "$(cat lay/f)" = x ]
	tar -C src -cf plain.tar f
	run "$LAYERFS" import plain.tar lay2
	[ "$status" -eq 0 ]
	[[ "$output" != *ACL* ]] || fail "a warning for a tarball without ACLs: $output"
}

# Each hostile tarball is refused as a whole: no layer dir, no temporary
# dir, nothing written outside.
refused() {
	local tarball=$1 what=$2
	run "$LAYERFS" import "$tarball" layers/evil
	[ "$status" -eq 1 ]
	echo "$output"
	[[ "$output" == *"$what"* ]]
	[ ! -e layers/evil ]
	[ -z "$(ls -A layers | grep import)" ]
	[ ! -e "$T/outside" ]
	[ ! -e /tmp/lfs-evil-abs ]
}

@test "import: a directory's default ACL is set after its entries, which do not inherit it (as with tar -x)" {
	command -v setfacl >/dev/null || skip "needs setfacl"
	mkdir -p upper/d/sub
	echo f >upper/d/f
	setfacl -d -m u:6:rwx upper/d
	setfacl -m u:7:r upper/d/sub
	"$LAYERFS" export stack.json out.tar
	"$LAYERFS" import out.tar layers/imported
	getfacl -pcn layers/imported/d layers/imported/d/f layers/imported/d/sub
	getfacl -pcn layers/imported/d | grep -qx 'default:user:6:rwx'
	# (a "! cmd" line would not fail the test)
	[ -z "$(getfacl -pcn layers/imported/d/f | grep 'user:6')" ]
	[ -z "$(getfacl -pcn layers/imported/d/sub | grep 'user:6')" ]
	getfacl -pcn layers/imported/d/sub | grep -q '^user:7:r'
	[ "$(stat -c %a layers/imported/d/f)" = 644 ]
}

@test "import: entries escaping the layer directory are refused" {
	make_tar dotdot.tar ok:f ../outside:f
	refused dotdot.tar "entry '../outside': '..' escapes the layer directory"
	make_tar deep.tar a/:d a/../../outside:f
	refused deep.tar "escapes the layer directory"
	make_tar abs.tar /tmp/lfs-evil-abs:f
	refused abs.tar "entry '/tmp/lfs-evil-abs': absolute path"
}

@test "import: links pointing outside are refused" {
	make_tar hl.tar "h:h:../outside"
	refused hl.tar "hard link target '../outside'"
	make_tar hlabs.tar "h:h:/etc/passwd"
	refused hlabs.tar "hard link target '/etc/passwd': absolute path"
	make_tar hlmissing.tar "h:h:nothere"
	refused hlmissing.tar "hard link target 'nothere' is not in the layer"
	make_tar hldir.tar d/:d "h:h:d"
	refused hldir.tar "hard link target 'd' is a directory"
}

@test "import: nothing is written through a symlink an entry planted" {
	mkdir outside-dir
	make_tar sl.tar "s:l:$T/outside-dir" s/f:f
	refused sl.tar "entry 's/f': 's' is not a directory (a symlink?)"
	[ -z "$(ls -A outside-dir)" ]
	make_tar sl2.tar "s:l:.." s/outside:f
	refused sl2.tar "refusing to go through it"
	make_tar sl3.tar "s:l:$T/outside-dir" d/:d "d/h:h:s/x"
	refused sl3.tar "refusing to go through it"
	# symlinks themselves are data, kept as they are
	make_tar ok.tar "s:l:/etc" "r:l:../../x"
	"$LAYERFS" import ok.tar layers/links
	[ "$(readlink layers/links/s)" = /etc ]
	[ "$(readlink layers/links/r)" = ../../x ]
}

@test "import: an existing layer dir, a broken tarball" {
	make_tar t.tar a:f
	mkdir exists
	run "$LAYERFS" import t.tar exists
	[ "$status" -eq 1 ]
	[[ "$output" == *"exists: already exists"* ]]
	head -c 700 t.tar >broken.tar
	run "$LAYERFS" import broken.tar lay
	[ "$status" -eq 1 ]
	[ ! -e lay ]
	[ -z "$(ls -A . | grep import)" ]
	run "$LAYERFS" import missing.tar lay
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing.tar"* ]]
}

@test "import: a gzip layer cut short in its trailer, a missing tarball: refused with the reason" {
	make_tar t.tar a:f:hello
	gzip -k t.tar
	# the 8-byte trailer (CRC and length) gone
	head -c -8 t.tar.gz >c8.tar.gz
	refused c8.tar.gz "c8.tar.gz: gzip: unexpected end of file"
	[[ "$output" != *"(null)"* ]] || fail "message: $output"
	refused missing.tar "missing.tar: No such file or directory"
	mkdir dir.tar
	refused dir.tar "dir.tar: Is a directory"
}

# flip_byte FILE OFFSET: the byte at OFFSET (negative: from the end) inverted
flip_byte() {
	python3 - "$@" <<-'EOF'
	import os, sys
	with open(sys.argv[1], "r+b") as f:
	    f.seek(int(sys.argv[2]), os.SEEK_END if int(sys.argv[2]) < 0 else os.SEEK_SET)
	    b = f.read(1)[0]
	    f.seek(-1, os.SEEK_CUR)
	    f.write(bytes([b ^ 0xff]))
	EOF
}

@test "import: a gzip layer whose trailer holds a wrong CRC or length: refused with the reason (libarchive checks neither)" {
	make_tar t.tar a:f:hello
	gzip -k t.tar
	# the trailer's last 8 bytes: the CRC32, then the length
	cp t.tar.gz crc.tar.gz
	flip_byte crc.tar.gz -8
	refused crc.tar.gz "crc.tar.gz: gzip: incorrect data check"
	cp t.tar.gz len.tar.gz
	flip_byte len.tar.gz -4
	refused len.tar.gz "len.tar.gz: gzip: incorrect length check"
}

@test "import: a gzip trailer after the end of the tar is checked too, and so is what follows the last member" {
	make_tar t.tar a:f:hello
	# megabytes of zeros after the tar's end blocks, which libarchive
	# stops at: the trailer comes long after
	{ cat t.tar; head -c 3000000 /dev/zero; } | gzip >pad.tar.gz
	flip_byte pad.tar.gz -8
	refused pad.tar.gz "pad.tar.gz: gzip: incorrect data check"
	# a second member after the tar, its CRC wrong
	{ gzip -c t.tar; echo more | gzip; } >m2.tar.gz
	flip_byte m2.tar.gz -8
	refused m2.tar.gz "m2.tar.gz: gzip member 2: incorrect data check"
	# what is not gzip after the last member, as tar -xz refuses it
	{ gzip -c t.tar; echo garbage; } >junk.tar.gz
	refused junk.tar.gz "junk.tar.gz: gzip: trailing garbage after the compressed data"
	{ gzip -c t.tar; head -c 100 /dev/zero; echo garbage; } >zjunk.tar.gz
	refused zjunk.tar.gz "zjunk.tar.gz: gzip: trailing garbage after the compressed data"
}

@test "import: a gzip layer of several members (gzip -c a >x; gzip -c b >>x), zero bytes after the last: one stream, as gzip -d reads it" {
	make_tar t.tar a:f:hello b:f:world d/:d d/c:f:inside
	# the tar cut inside a's header and inside b's data ("world" at 1536)
	{ head -c 300 t.tar | gzip; tail -c +301 t.tar | head -c 1240 | gzip;
	  tail -c +1541 t.tar | gzip; head -c 10240 /dev/zero; } >multi.tar.gz
	tar -tzf multi.tar.gz
	"$LAYERFS" import multi.tar.gz layers/multi
	[ "$(cat layers/multi/a)" = hello ]
	[ "$(cat layers/multi/b)" = world ]
	[ "$(cat layers/multi/d/c)" = inside ]
	[ -z "$(ls -A layers | grep import)" ]
}

@test "import: a full disk leaves no partial layer" {
	head -c 3000000 /dev/urandom >big
	python3 -c 'import tarfile; t = tarfile.open("big.tar", "w"); t.add("big"); t.close()'
	mkdir small
	mount -t tmpfs -o size=1m none small
	run "$LAYERFS" import big.tar small/lay
	[ "$status" -eq 1 ]
	[[ "$output" == *"No space left on device"* ]]
	[ -z "$(ls -A small)" ]
}
