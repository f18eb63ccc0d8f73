#!/usr/bin/env bats
# Stack files (layerfs-stack(5)): validation, layerfs check, mount and
# umount, and the work dir lock. Needs root; uses $LAYERFS.

bats_require_minimum_version 1.5.0

load stack_helpers

setup() {
	stack_setup
	make_stack
}

teardown() {
	stack_teardown
}

@test "check: summary of a valid stack, layers base first" {
	run "$LAYERFS" check stack.json
	[ "$status" -eq 0 ]
	[[ "$output" == *"layers (base first): 2"* ]]
	[[ "${lines[2]}" == *"1. $T/layers/base" ]]
	[[ "${lines[3]}" == *"2. $T/layers/app  name app" ]]
	[[ "$output" == *"upper: $T/upper"* ]]
	[[ "$output" == *"work: $T/work"* ]]
	[[ "$output" == *"state: not mounted"* ]]
}

@test "check: a syntax error is FILE:LINE:COLUMN" {
	printf '{\n  "version": 1,\n  "layers": ["layers/base",]\n}\n' >bad.json
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[[ "$output" =~ ^layerfs:\ bad.json:3:[0-9]+:\  ]]
}

@test "check: duplicate keys are syntax errors" {
	echo '{"version": 1, "version": 1, "layers": ["layers/base"]}' >bad.json
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.json:1:"*"duplicate object key"* ]]
}

# A stack file is read whole: anything but a regular file of a sane size
# is refused before it is read (a FIFO blocked for ever, /dev/zero and a
# sparse file of gigabytes filled the memory), by every subcommand.
@test "stack files: a FIFO, a device or a directory is refused, naming it, by every subcommand" {
	local cmd out
	mkfifo fifo.json
	for cmd in check mount diff commit reset export; do
		out=()
		[ "$cmd" = export ] && out=(out.tar)
		run timeout 10 "$LAYERFS" "$cmd" fifo.json "${out[@]}"
		[ "$status" -eq 1 ] || fail "$cmd: status $status: $output"
		[[ "$output" == *"$T/fifo.json: not a regular file (a FIFO)"* ]] || fail "$cmd: $output"
	done
	[ ! -e out.tar ]
	run timeout 10 "$LAYERFS" check /dev/zero
	[ "$status" -eq 1 ]
	[ "$output" = "layerfs: /dev/zero: not a regular file (a character device): a stack file is a JSON file" ]
	mkdir dir.json
	refuses check dir.json "$T/dir.json: not a regular file (a directory)"
}

@test "stack files: one larger than 16 MiB is refused, naming it; one of 16 MiB is read" {
	local json='{"version": 1, "layers": ["layers/base"]}'
	{ printf '%s' "$json"; head -c $((16 * 1024 * 1024 - ${#json})) /dev/zero | tr '\0' ' '; } >max.json
	[ "$(stat -c %s max.json)" -eq $((16 * 1024 * 1024)) ]
	run "$LAYERFS" check max.json
	[ "$status" -eq 0 ] || fail "16 MiB: $output"
	echo >>max.json
	refuses check max.json "$T/max.json: larger than the 16 MiB a stack file may have"
	# sparse: read whole, it took 2 GiB of memory (and aborted under a limit)
	truncate -s 2G big.json
	run bash -c 'ulimit -v 1000000; exec "$0" check big.json' "$LAYERFS"
	[ "$status" -eq 1 ] || fail "status $status: $output"
	[ "$output" = "layerfs: $T/big.json: larger than the 16 MiB a stack file may have" ]
}

@test "check: an unknown version is refused clearly" {
	echo '{"version": 2, "layers": ["layers/base"], "new-thing": 1}' >bad.json
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[ "$output" = "layerfs: bad.json: version: unsupported stack file version 2 (this layerfs reads version 1)" ]
	echo '{"layers": ["layers/base"]}' >bad.json
	refuses check bad.json "version: missing"
}

@test "check: unknown keys are errors naming the key" {
	cat >bad.json <<-EOF
	{"version": 1, "layer": [], "layers": [{"path": "layers/base", "nmae": "b"}],
	 "options": {"fsycn": true, "bind": true}, "idmap": {"uid": [{"from": 0, "to": 1, "count": 1, "cuont": 2}], "pid": []}}
	EOF
	refuses check bad.json "bad.json: layer: unknown key"
	[[ "$output" == *"bad.json: layers[0].nmae: unknown key"* ]]
	[[ "$output" == *"bad.json: options.fsycn: unknown option"* ]]
	# a stack file describes a mount: bind means something at a remount only
	[[ "$output" == *"bad.json: options.bind: unknown option"* ]]
	[[ "$output" == *"bad.json: idmap.uid[0].cuont: unknown key"* ]]
	[[ "$output" == *"bad.json: idmap.pid: unknown key"* ]]
}

@test "check: wrong types are reported with their JSON path" {
	cat >bad.json <<-EOF
	{"version": 1, "layers": ["layers/base", 7, {"path": true}], "upper": 3, "work": "work",
	 "mountpoint": [], "options": {"fsync": 1, "timeout": "long", "fsname": 5, "subtype": "", "ro": "yes",
	 "squash_to_uid": -1, "xattr_permissions": 3},
	 "idmap": {"uid": {"from": 0}, "gid": [{"from": "0", "to": 0, "count": 0}]}}
	EOF
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"layers[1]: expected a path string or an object with \"path\", got an integer"* ]]
	[[ "$output" == *"layers[2].path: expected a path string, got a boolean"* ]]
	[[ "$output" == *"upper: expected a path string, got an integer"* ]]
	[[ "$output" == *"mountpoint: expected a path string, got an array"* ]]
	[[ "$output" == *"options.fsync: expected true or false, got an integer"* ]]
	[[ "$output" == *"options.timeout: expected a number of seconds, got a string"* ]]
	[[ "$output" == *"options.fsname: expected a non-empty string, got an integer"* ]]
	[[ "$output" == *"options.subtype: expected a non-empty string, got an empty one"* ]]
	[[ "$output" == *"options.ro: expected true or false, got a string"* ]]
	[[ "$output" == *"options.squash_to_uid: -1 is out of range"* ]]
	[[ "$output" == *"options.xattr_permissions: 3 is out of range (0 to 2)"* ]]
	[[ "$output" == *"idmap.uid: expected an array"* ]]
	[[ "$output" == *"idmap.gid[0].from: expected an integer, got a string"* ]]
	[[ "$output" == *"idmap.gid[0].count: 0 is out of range"* ]]
}

@test "check: options that belong elsewhere say where; fuseblk's blksize and blkdev are refused, naming why" {
	echo '{"version": 1, "layers": ["layers/base"], "options": {"lowerdir": "x", "uidmapping": "0:1:1", "blksize": 4096, "blkdev": true}}' >bad.json
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[[ "$output" == *'options.lowerdir: not an option here: use the top-level "layers"'* ]]
	[[ "$output" == *'options.uidmapping: not an option here: use the "idmap" section'* ]]
	[[ "$output" == *"options.blksize: for FUSE mounts of a block device only"* ]]
	[[ "$output" == *"options.blkdev: for FUSE mounts of a block device only"* ]]
}

@test "check: overlapping idmap ranges are refused" {
	echo '{"version": 1, "layers": ["layers/base"], "idmap": {"uid": [{"from": 0, "to": 100, "count": 10}, {"from": 20, "to": 105, "count": 1}]}}' >bad.json
	refuses check bad.json "idmap.uid[1]: overlaps an earlier range"
}

@test "check: a missing layer directory is reported with its JSON path" {
	echo '{"version": 1, "layers": ["layers/base", "layers/app", {"path": "/nonexistent-x"}]}' >bad.json
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[ "$output" = "layerfs: bad.json: layers[2].path: /nonexistent-x: No such file or directory" ]
	touch notadir
	echo '{"version": 1, "layers": ["notadir"]}' >bad.json
	run "$LAYERFS" check bad.json
	[ "$output" = "layerfs: bad.json: layers[0]: $T/notadir: Not a directory" ]
}

@test "check: a layer listed twice" {
	ln -s layers/base alias
	echo '{"version": 1, "layers": ["layers/base", "layers/app", "alias"]}' >bad.json
	refuses check bad.json "layers[2]: $T/alias: listed twice (also layers[0])"
}

@test "check: a layer inside another layer, either order" {
	mkdir -p layers/base/sub
	echo '{"version": 1, "layers": ["layers/base", "layers/app", "layers/base/sub"]}' >bad.json
	refuses check bad.json "layers[2]: $T/layers/base/sub: inside layers[0] ($T/layers/base): layers must not overlap"
	echo '{"version": 1, "layers": ["layers/base/sub", {"path": "layers/base"}]}' >bad.json
	refuses mount bad.json "layers[1].path: $T/layers/base: contains layers[0] ($T/layers/base/sub): layers must not overlap"
}

@test "check: bind mounts hide no overlap: a layer bound elsewhere listed again, a directory bound out of a layer, an upper that is a layer bound elsewhere, a work dir on another mount of the upper's file system" {
	mkdir -p layers/base/sub b1 bsub wsrc wbind
	mount --bind layers/base b1
	mount --bind layers/base/sub bsub
	mount --bind wsrc wbind
	echo '{"version": 1, "layers": ["layers/base", "layers/app", "b1"]}' >bad.json
	refuses check bad.json "layers[2]: $T/b1: listed twice (also layers[0])"
	echo '{"version": 1, "layers": ["layers/base", "bsub"]}' >bad.json
	refuses check bad.json "layers[1]: $T/bsub: inside layers[0] ($T/layers/base): layers must not overlap"
	echo '{"version": 1, "layers": ["layers/base"], "upper": "b1", "work": "work"}' >bad.json
	refuses check bad.json "upper: $T/b1: inside layers[0] ($T/layers/base)"
	echo '{"version": 1, "layers": ["layers/base"], "upper": "upper", "work": "wbind"}' >bad.json
	refuses mount bad.json "work: $T/wbind: on another mount than upper ($T/upper)"
	[ -z "$(ls -A wbind)" ]
}

@test "check: a subtype other than layerfs is refused: check and umount would not find the mount" {
	echo '{"version": 1, "layers": ["layers/base"], "options": {"subtype": "foo"}}' >bad.json
	refuses check bad.json "options.subtype: \"foo\": layerfs finds its mounts by their type, fuse.layerfs"
}

@test "check: an upper inside a layer, and a layer inside the upper" {
	mkdir -p layers/base/up upper/lay
	echo '{"version": 1, "layers": ["layers/base"], "upper": "layers/base/up", "work": "work"}' >bad.json
	refuses check bad.json "upper: $T/layers/base/up: inside layers[0] ($T/layers/base)"
	echo '{"version": 1, "layers": ["layers/base", {"path": "upper/lay"}], "upper": "upper", "work": "work"}' >bad.json
	refuses check bad.json "layers[1].path: $T/upper/lay: inside upper ($T/upper)"
	echo '{"version": 1, "layers": ["layers/base"], "upper": "upper", "work": "upper/lay"}' >bad.json
	refuses check bad.json "work: $T/upper/lay: overlaps upper"
}

@test "check: a work dir on another filesystem than the upper" {
	mkdir otherfs
	mount -t tmpfs -o size=1m none otherfs
	echo '{"version": 1, "layers": ["layers/base"], "upper": "upper", "work": "otherfs"}' >bad.json
	run "$LAYERFS" check bad.json
	[ "$status" -eq 1 ]
	[ "$output" = "layerfs: bad.json: work: $T/otherfs: on another filesystem than upper ($T/upper)" ]
}

@test "check: an upper without a work dir, and a work dir alone" {
	echo '{"version": 1, "layers": ["layers/base"], "upper": "upper"}' >bad.json
	refuses check bad.json "work: missing"
	echo '{"version": 1, "layers": []}' >bad.json
	refuses check bad.json "layers: empty"
}

@test "relative paths resolve against the stack file's directory" {
	mkdir elsewhere
	cd elsewhere
	run "$LAYERFS" check ../stack.json
	[ "$status" -eq 0 ]
	[[ "$output" == *"upper: $T/upper"* ]]
	run "$LAYERFS" mount ../stack.json
	[ "$status" -eq 0 ]
	[ "$(cat "$T/mnt/etc/a")" = app-a ]
}

@test "mount: layers are base first, the last one on top" {
	"$LAYERFS" mount stack.json
	is_mounted "$T/mnt"
	[ "$(cat mnt/etc/a)" = app-a ]
	[ "$(cat mnt/etc/b)" = base-b ]
	[ "$(cat mnt/etc/app)" = app-only ]
	echo new >mnt/new
	[ "$(cat upper/new)" = new ]
	"$LAYERFS" umount stack.json
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
}

@test "mount: the same view as the -o form with lowerdir in reverse order" {
	"$LAYERFS" mount stack.json
	tree_listing mnt >stack.list
	"$LAYERFS" umount stack.json
	mkdir mnt2
	"$LAYERFS" -o "lowerdir=$T/layers/app:$T/layers/base,upperdir=$T/upper,workdir=$T/work" mnt2
	tree_listing mnt2 >oform.list
	fusermount3 -u mnt2
	diff stack.list oform.list
}

@test "mount: a mount point on the command line wins over the file's" {
	mkdir other
	"$LAYERFS" mount stack.json other
	is_mounted "$T/other"
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
	[ "$(cat other/etc/a)" = app-a ]
	"$LAYERFS" umount other
}

@test "mount: without a mount point anywhere" {
	echo '{"version": 1, "layers": ["layers/base"]}' >ro.json
	refuses mount ro.json "no mount point"
}

@test "mount: a missing mount point is a validation error" {
	rmdir mnt
	refuses mount stack.json "mountpoint: $T/mnt: No such file or directory"
}

@test "mount: a stack without upper is read-only" {
	echo '{"version": 1, "layers": ["layers/base", "layers/app"], "mountpoint": "mnt"}' >ro.json
	"$LAYERFS" mount ro.json
	[ "$(cat mnt/etc/a)" = app-a ]
	run touch mnt/x
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only file system"* ]]
	"$LAYERFS" umount ro.json
}

@test "mount: options map onto the -o options" {
	cat >opt.json <<-EOF
	{"version": 1, "layers": ["layers/base"], "upper": "upper", "work": "work", "mountpoint": "mnt",
	 "options": {"ro": true, "fsname": "my,stack", "timeout": 0.5, "volatile": true, "noexec": true,
	             "threaded": false, "spin": false, "idlepoll": false, "static_nlink": true, "noacl": true, "prefetch": false, "detach_unseen": false,
	             "max_read": 131072, "context": "system_u:object_r:container_file_t:s0:c1,c2"}}
	EOF
	"$LAYERFS" mount opt.json
	line=$(grep " $T/mnt " /proc/self/mountinfo)
	[[ "$line" == *" ro,"*"noexec"*" - fuse.layerfs my,stack "* ]]
	[[ "$line" == *",max_read=131072"* ]]
	[[ "$line" != *"nosuid"* && "$line" != *"nodev"* ]] || fail "root mount nosuid or nodev: $line"
	run touch mnt/x
	[[ "$output" == *"Read-only file system"* ]]
	"$LAYERFS" umount opt.json
	# false turns a flag into its opposite
	sed -i 's/"noexec": true/"suid": false, "dev": false, "exec": false/' opt.json
	"$LAYERFS" mount opt.json
	line=$(grep " $T/mnt " /proc/self/mountinfo)
	[[ "$line" == *" ro,nosuid,nodev,noexec"*" - fuse.layerfs "* ]] || fail "$line"
	"$LAYERFS" umount opt.json
}

@test "mount: \"userxattr\": true marks opaque directories with user.overlay.opaque, also as root" {
	sed -i 's/"options": {"fsync": false}/"options": {"fsync": false, "userxattr": true}/' stack.json
	"$LAYERFS" check stack.json
	"$LAYERFS" mount stack.json
	rm -rf mnt/d
	mkdir mnt/d
	"$LAYERFS" umount stack.json
	[ "$(getfattr --absolute-names -h --only-values -n user.overlay.opaque upper/d)" = y ]
	run getfattr --absolute-names -h -n trusted.overlay.opaque upper/d
	[ "$status" -ne 0 ]
}

@test "mount: \"noxattrs\": true answers every xattr call with EOPNOTSUPP" {
	sed -i 's/"options": {"fsync": false}/"options": {"fsync": false, "noxattrs": true}/' stack.json
	"$LAYERFS" check stack.json
	"$LAYERFS" mount stack.json
	touch mnt/x
	run setfattr -n user.a -v 1 mnt/x
	[[ "$output" == *"Operation not supported"* ]] || fail "setfattr: $output"
	run getfattr -d mnt/x
	[[ "$output" == *"Operation not supported"* ]] || fail "getfattr: $output"
	"$LAYERFS" umount stack.json
}

@test "mount: \"noopen\": true opens files without copy-up until the first write; a non-boolean is refused" {
	cat >noopen.json <<-EOF
	{"version": 1, "layers": ["layers/base"], "upper": "upper", "work": "work", "mountpoint": "mnt",
	 "options": {"noopen": true, "writeback": false}}
	EOF
	"$LAYERFS" mount noopen.json
	exec 5>>mnt/etc/a
	exec 5>&-
	[ ! -e upper/etc/a ] || fail "an open for writing copied up"
	echo more >>mnt/etc/a
	[ -f upper/etc/a ] || fail "a write did not copy up"
	"$LAYERFS" umount noopen.json
	sed -i 's/"noopen": true/"noopen": "yes"/' noopen.json
	run ! "$LAYERFS" mount noopen.json
	[[ "$output" == *"noopen"* ]] || fail "the error does not name the option: $output"
	is_mounted "$T/mnt" && fail "mounted anyway"
	true
}

@test "mount: idmap maps owners like uidmapping=/gidmapping=" {
	chown 3:4 layers/base/etc/a
	cat >map.json <<-EOF
	{"version": 1, "layers": ["layers/base"], "upper": "upper", "work": "work", "mountpoint": "mnt",
	 "idmap": {"uid": [{"from": 0, "to": 1000, "count": 10}], "gid": [{"from": 0, "to": 2000, "count": 10}]}}
	EOF
	"$LAYERFS" mount map.json
	[ "$(stat -c %u:%g mnt/etc/a)" = 1003:2004 ]
	# writes map back: "from" is the disk side, as D in uidmapping=D:S:N
	chown 1005:2006 mnt/etc/a
	[ "$(stat -c %u:%g upper/etc/a)" = 5:6 ]
	run ! chown 1010 mnt/etc/a
	[[ "$output" == *"Invalid argument"* ]]
	"$LAYERFS" umount map.json
}

@test "mount: nothing is mounted when validation fails" {
	echo '{"version": 1, "layers": ["layers/base", "gone"], "mountpoint": "mnt"}' >bad.json
	refuses mount bad.json "layers[1]: $T/gone: No such file or directory"
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
	[ -z "$(ls -A work)" ]
}

@test "mount: a stack whose layer directory vanished" {
	mv layers/app layers/app.gone
	refuses mount stack.json "layers[1].path: $T/layers/app: No such file or directory"
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
}

@test "mount -f stays in the foreground until unmounted" {
	"$LAYERFS" mount -f stack.json 3>&- &
	pid=$!
	wait_mounted "$T/mnt"
	kill -0 "$pid"
	"$LAYERFS" umount stack.json
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || fail "pid $pid still alive"
	wait "$pid"
}

@test "umount: by stack and by mount point; a clear error when not mounted" {
	"$LAYERFS" mount stack.json
	"$LAYERFS" umount "$T/mnt"
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
	run "$LAYERFS" umount stack.json
	[ "$status" -eq 1 ]
	[ "$output" = "layerfs: $T/mnt: not mounted (no layerfs mount there)" ]
	refuses umount "$T/mnt" "not mounted"
}

@test "umount: works on a stack whose layer vanished meanwhile" {
	"$LAYERFS" mount stack.json
	mv layers/app layers/app.gone
	"$LAYERFS" umount stack.json
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
}

# umount(2) of a path takes away the top-most mount there: a file system
# mounted over a layerfs mount is refused, not unmounted in its stead.
@test "umount: a tmpfs mounted on top of a layerfs mount is refused, naming it; both stay; reset --remount refuses too" {
	"$LAYERFS" mount stack.json
	echo kept >mnt/kept
	mount -t tmpfs lfscover mnt
	touch mnt/on-tmpfs
	for arg in stack.json "$T/mnt"; do
		run "$LAYERFS" umount "$arg"
		[ "$status" -eq 1 ] || fail "umount $arg: not refused: $output"
		[ "$output" = "layerfs: $T/mnt: a tmpfs mount lies on top of the layerfs mount there: unmount it first" ] ||
			fail "umount $arg: $output"
		[ -e mnt/on-tmpfs ] || fail "umount $arg: the tmpfs went"
		is_mounted "$T/mnt" || fail "umount $arg: the layerfs mount went"
	done
	run "$LAYERFS" reset --remount stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/mnt: a tmpfs mount lies on top"* ]] || fail "reset --remount: $output"
	[ -e mnt/on-tmpfs ] || fail "reset --remount: the tmpfs went"
	is_mounted "$T/mnt" || fail "reset --remount: the layerfs mount went"
	[ "$(cat upper/kept)" = kept ]
	# still mounted, for check
	run "$LAYERFS" check stack.json
	[[ "$output" == *"state: mounted on $T/mnt (daemon pid"* ]] || fail "check: $output"
	umount mnt
	[ "$(cat mnt/kept)" = kept ]
	"$LAYERFS" umount stack.json
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
	# a tmpfs alone is no layerfs mount either
	mount -t tmpfs lfscover mnt
	run "$LAYERFS" umount "$T/mnt"
	[ "$status" -eq 1 ]
	[ "$output" = "layerfs: $T/mnt: not a layerfs mount (the mount there is tmpfs)" ]
	grep -q " $T/mnt .* - tmpfs " /proc/self/mountinfo || fail "the tmpfs went"
	umount mnt
}

@test "umount, check and mount: a mount point reached through a symbolic link, or named mnt/ or mnt/., is the mount itself, live or with its daemon gone" {
	ln -s mnt mlink
	sed 's|"mountpoint": "mnt"|"mountpoint": "mlink"|' stack.json >s2.json
	"$LAYERFS" mount s2.json
	is_mounted "$T/mnt" || fail "not mounted on $T/mnt"
	run "$LAYERFS" check s2.json
	[[ "$output" == *"state: mounted on"* ]] || fail "check: $output"
	"$LAYERFS" umount s2.json
	! is_mounted "$T/mnt" || fail "umount s2.json left the mount"
	# a read-only stack takes no lock: only the mount table tells
	echo '{"version": 1, "layers": ["layers/base"], "mountpoint": "mlink"}' >ro2.json
	"$LAYERFS" mount ro2.json
	run "$LAYERFS" mount ro2.json
	[ "$status" -eq 1 ] && [[ "$output" == *"already a layerfs mount"* ]] || fail "a second mount: $status $output"
	[ "$(grep -c " $T/mnt fuse.layerfs " /proc/mounts)" -eq 1 ] || fail "two mounts stacked"
	"$LAYERFS" umount ro2.json
	! is_mounted "$T/mnt" || fail "umount ro2.json left the mount"
	# the daemon gone: the path still names the mount, not what it shows
	"$LAYERFS" mount stack.json
	local pid
	pid=$(awk '{print $1}' work/layerfs.lock)
	kill -9 "$pid"
	for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	"$LAYERFS" umount "$T/mnt/." || fail "umount mnt/. of a dead mount"
	! is_mounted "$T/mnt" || fail "umount mnt/. left the mount"
}

@test "mount: a mount point given on the command line inside the upper or the work dir is refused, as the stack's own \"mountpoint\" is" {
	mkdir -p upper/in work/in
	refuses_mount() {
		run "$LAYERFS" mount stack.json "$1"
		[ "$status" -eq 1 ] || fail "$1: $status $output"
		[[ "$output" == *"stack.json: mount point $1: inside the $2"* ]] || fail "$1: $output"
		! is_mounted "$T/$1" || fail "$1 was mounted"
	}
	refuses_mount upper/in upper
	refuses_mount work/in "work dir"
	[ "$(ls -A work)" = in ] || fail "work: $(ls -A work)"
}

@test "check: shows a live mount and the daemon's pid" {
	"$LAYERFS" mount stack.json
	run "$LAYERFS" check stack.json
	[ "$status" -eq 0 ]
	[[ "$output" =~ state:\ mounted\ on\ $T/mnt\ \(daemon\ pid\ ([0-9]+)\) ]]
	pid=${BASH_REMATCH[1]}
	grep -q layerfs "/proc/$pid/comm"
	"$LAYERFS" umount stack.json
	run "$LAYERFS" check stack.json
	[[ "$output" == *"state: not mounted"* ]]
}

@test "lock: two daemons never share an upper and work dir" {
	"$LAYERFS" mount stack.json
	pid=$(awk '{print $1}' work/layerfs.lock)
	grep -q layerfs "/proc/$pid/comm"
	mkdir mnt2
	run "$LAYERFS" -o "lowerdir=$T/layers/base,upperdir=$T/upper,workdir=$T/work" mnt2
	[ "$status" -ne 0 ]
	[[ "$output" == *"workdir '$T/work' is in use by layerfs pid $pid (mount)"* ]]
	! is_mounted "$T/mnt2" || fail "$T/mnt2 is still mounted"
	run "$LAYERFS" mount stack.json mnt2
	[ "$status" -ne 0 ]
	[[ "$output" == *"is in use by layerfs pid $pid"* ]]
	! is_mounted "$T/mnt2" || fail "$T/mnt2 is still mounted"
	"$LAYERFS" umount stack.json
}

@test "lock: a second mount of the same upper with another work dir is refused; it mounts once the first is gone" {
	"$LAYERFS" mount stack.json
	echo kept >mnt/newfile
	mkdir mnt2 work2
	run "$LAYERFS" -o "lowerdir=$T/layers/base,upperdir=$T/upper,workdir=$T/work2" mnt2
	[ "$status" -ne 0 ]
	[[ "$output" == *"upperdir '$T/upper' is the upper of another layerfs mount"* ]]
	! is_mounted "$T/mnt2" || fail "$T/mnt2 is still mounted"
	# a read-only view of the upper as a lower layer is no second upper
	"$LAYERFS" -o "lowerdir=$T/upper" mnt2
	[ "$(cat mnt2/newfile)" = kept ]
	umount mnt2
	"$LAYERFS" umount stack.json
	"$LAYERFS" -o "lowerdir=$T/layers/base,upperdir=$T/upper,workdir=$T/work2" mnt2
	[ "$(cat mnt2/newfile)" = kept ]
	umount mnt2
}

@test "lock: commit and reset refuse an upper that another mount (with another work dir) serves" {
	echo kept >upper/newfile
	mkdir mnt2 work2
	"$LAYERFS" -o "lowerdir=$T/layers/base,upperdir=$T/upper,workdir=$T/work2" mnt2
	run "$LAYERFS" check stack.json
	[ "$status" -eq 0 ]
	[[ "$output" == *"state: its upper is served by another layerfs mount (with another workdir)"* ]]
	cp stack.json stack.before
	ls layers >layers.before
	for cmd in commit reset; do
		run "$LAYERFS" "$cmd" stack.json
		[ "$status" -ne 0 ]
		[[ "$output" == *"upperdir '$T/upper' is the upper of another layerfs mount"* ]]
		[[ "$output" == *"cannot $cmd while the upper is in use"* ]]
		[ "$(cat upper/newfile)" = kept ]
		[ "$(cat mnt2/newfile)" = kept ]
		cmp stack.json stack.before
		[ "$(ls layers)" = "$(cat layers.before)" ]
	done
	fusermount3 -u mnt2
	"$LAYERFS" commit stack.json --name next
	[ "$(cat layers/next/newfile)" = kept ]
	[ -z "$(ls -A upper)" ]
}

# A mount, commit or reset that is refused because another mount serves
# its upper waits up to 5 s for that upper: holding its work dir's lock
# meanwhile, it turned away a mount of that work dir, which waited as long.
# (reset takes its locks as commit does)
@test "lock: one refused since another mount serves its upper never holds its work dir's lock while it waits for the upper" {
	local cmd pid held
	mkdir mnt2
	# the upper is served: this shell holds its flock, as a daemon does
	exec 8<"$T/upper"
	flock -x 8
	for cmd in "-o lowerdir=$T/layers/base,upperdir=$T/upper,workdir=$T/work mnt2" \
		"commit stack.json" "mount stack.json mnt2"; do
		# shellcheck disable=SC2086
		"$LAYERFS" $cmd 3>&- 8<&- 2>refused.err &
		pid=$!
		held=
		# (a bounded poll: the command ends when its wait does)
		while kill -0 "$pid" 2>/dev/null; do
			if [ -e work/layerfs.lock ] && ! flock -n work/layerfs.lock true 8<&-; then
				held=$(cat work/layerfs.lock)
			fi
			sleep 0.05
		done
		wait "$pid" && fail "$cmd: not refused"
		grep -q "upperdir '$T/upper' is the upper of another layerfs mount" refused.err ||
			fail "$cmd: $(cat refused.err)"
		[ -z "$held" ] || fail "$cmd: the work dir was locked while it waited ($held)"
		! is_mounted "$T/mnt2" || fail "$cmd: mounted"
	done
	exec 8<&-
}

@test "lock: the plain -o form takes the lock too, with its own pid" {
	mkdir mnt2
	"$LAYERFS" -o "lowerdir=$T/layers/base,upperdir=$T/upper,workdir=$T/work" mnt2
	pid=$(awk '{print $1}' work/layerfs.lock)
	grep -q layerfs "/proc/$pid/comm"
	run "$LAYERFS" mount stack.json
	[ "$status" -ne 0 ]
	[[ "$output" == *"workdir '$T/work' is in use by layerfs pid $pid (mount)"* ]]
	run "$LAYERFS" check stack.json
	[[ "$output" == *"state: in use by layerfs pid $pid"* ]]
	fusermount3 -u mnt2
}

@test "lock: the lock file lives in the work dir, not in the upper" {
	"$LAYERFS" mount stack.json
	[ -f work/layerfs.lock ]
	[ -z "$(ls -A upper)" ]
	"$LAYERFS" umount stack.json
}

# A second stack on its own upper and work dir, on the same mount point.
make_other_stack() {
	mkdir -p upper2 work2
	echo '{"version": 1, "layers": ["layers/base"], "upper": "upper2", "work": "work2", "mountpoint": "mnt"}' >other.json
}

# refused_clean CMD... MESSAGE: `layerfs CMD...` exits with status 1,
# says MESSAGE, and leaves work2 empty, then (with a lock file made
# before) leaves that lock file
refused_clean() {
	local msg=${*: -1}
	local -a cmd=("${@:1:$#-1}")
	run "$LAYERFS" "${cmd[@]}"
	[ "$status" -eq 1 ] || fail "${cmd[*]}: status $status: $output"
	[[ "$output" == *"$msg"* ]] || fail "${cmd[*]}: $output"
	[ -z "$(ls -A work2)" ] || fail "${cmd[*]} left: $(ls -A work2)"
	: >work2/layerfs.lock
	run "$LAYERFS" "${cmd[@]}"
	[ "$status" -eq 1 ] || fail "${cmd[*]}: status $status: $output"
	[ "$(ls -A work2)" = layerfs.lock ] || fail "${cmd[*]}, with an earlier lock file: $(ls -A work2)"
	rm work2/layerfs.lock
}

@test "lock: a mount refused after it locked (the mount point already a layerfs mount, live or dead) leaves no lock file it made" {
	make_other_stack
	"$LAYERFS" mount stack.json
	refused_clean mount other.json "$T/mnt: already a layerfs mount"
	pid=$(awk '{print $1}' work/layerfs.lock)
	kill -9 "$pid"
	for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	! ls mnt 2>/dev/null || fail "the mount is not dead"
	refused_clean mount other.json mnt "mnt: already a layerfs mount"
	umount "$T/mnt"
}

@test "lock: a commit or reset refused after it locked (nothing to commit, a bind-mounted upper) leaves no lock file it made" {
	make_other_stack
	refused_clean commit other.json "nothing to commit"
	mkdir elsewhere
	echo new >elsewhere/new
	mount --bind elsewhere upper2
	refused_clean commit other.json "on another mount than upper"
	refused_clean reset other.json "on another mount than upper"
	[ "$(cat upper2/new)" = new ]
	umount upper2
	# one that succeeds keeps its lock file, as a mount's stays
	echo new >upper2/new
	"$LAYERFS" commit other.json
	[ "$(ls -A work2)" = layerfs.lock ]
}

@test "the example stacks in contrib/stacks validate and mount" {
	cp -r "$BATS_TEST_DIRNAME/../contrib/stacks" ex
	cd ex
	mkdir upper work rootfs view
	"$LAYERFS" check sandbox.json
	"$LAYERFS" check readonly.json
	"$LAYERFS" mount sandbox.json
	[ "$(cat rootfs/etc/motd)" = "Welcome to the tools layer." ]
	[ -f rootfs/etc/os-release ]
	[ ! -e rootfs/usr/share/doc/README ]
	[ "$(ls -A rootfs/var/cache)" = new ]
	[ "$(rootfs/usr/bin/hello)" = "hello from the tools layer" ]
	echo hi >rootfs/hi
	[ "$("$LAYERFS" diff sandbox.json)" = "A /hi" ]
	"$LAYERFS" umount sandbox.json
	"$LAYERFS" mount readonly.json
	[ "$(cat view/etc/motd)" = "Welcome to the tools layer." ]
	[ ! -e view/hi ]
	run view/usr/bin/hello
	[ "$status" -ne 0 ]	# noexec
	"$LAYERFS" umount readonly.json
}
