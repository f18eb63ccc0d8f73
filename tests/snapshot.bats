#!/usr/bin/env bats
# layerfs diff, commit and reset on stack files: what they report and
# change, the lock against a running daemon, and a commit killed at every
# step or stopped by a full disk. Needs root; uses $LAYERFS.

bats_require_minimum_version 1.5.0

load stack_helpers

setup() {
	stack_setup
	make_stack
}

teardown() {
	stack_teardown
}

# Changes of every kind, made through a mount.
change_things() {
	with_mount stack.json '
		echo new >new
		echo changed >etc/b
		rm etc/c
		rm -rf d && mkdir d && echo z >d/z
		rm keep/k
		ln new new-link
		chmod 0750 etc'
}

@test "diff: added, changed and deleted paths" {
	change_things
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	expected="C /d
D /d/sub
D /d/x
A /d/z
C /etc
C /etc/b
D /etc/c
C /keep
D /keep/k
A /new
A /new-link"
	[ "$output" = "$expected" ]
}

@test "diff: a name whose kind changed is changed; nothing below a directory replaced by a file or symlink, what a directory replacing a file holds is added (as podman diff shows it)" {
	with_mount stack.json 'rm -rf d && echo file >d && rm -rf keep && ln -s /x keep && rm etc/b && mkdir etc/b && echo n >etc/b/n'
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	expected="C /d
C /etc
C /etc/b
A /etc/b/n
C /keep"
	[ "$output" = "$expected" ] || fail "$output"
}

@test "diff: a directory the kernel's overlay renamed (redirect_dir=on) is listed with a warning that what it shows from below is not" {
	# what the kernel leaves for mv d d2 with redirect_dir=on
	mkdir upper/d2
	setfattr -n trusted.overlay.redirect -v d upper/d2
	mknod upper/d c 0 0
	run --separate-stderr "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[ "$output" = "D /d
A /d2" ] || fail "$output"
	[[ "$stderr" == *"warning: upper: /d2: "*"renamed"*"at /d, is not listed"* ]] || fail "no warning: $stderr"
	# moved back: no warning
	rm -r upper/d2 upper/d
	mkdir upper/d
	setfattr -n trusted.overlay.redirect -v d upper/d
	run --separate-stderr "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ] && [ -z "$stderr" ] || fail "$stderr"
	# a redirect to a path no layer has: nothing from below to miss
	mkdir upper/d3
	setfattr -n trusted.overlay.redirect -v nowhere upper/d3
	run --separate-stderr "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ] && [ -z "$stderr" ] || fail "$stderr"
}

@test "diff --json: a name that is not UTF-8 is listed, its bad bytes as U+FFFD, not dropped" {
	touch "upper/$(printf 'bad\377name')" upper/good
	run "$LAYERFS" diff --json stack.json
	[ "$status" -eq 0 ]
	run python3 -c 'import json, sys; print(ascii(json.loads(sys.argv[1])["added"]))' "$output"
	[ "$output" = "['/bad\ufffdname', '/good']" ]
}

@test "diff: the same whether mounted or not" {
	change_things
	"$LAYERFS" diff stack.json >unmounted.txt
	"$LAYERFS" mount stack.json
	"$LAYERFS" diff stack.json >mounted.txt
	"$LAYERFS" umount stack.json
	diff unmounted.txt mounted.txt
}

@test "diff: an opaque marker on the upper's root hides no lower name, as in the mount" {
	setfattr -n trusted.overlay.opaque -v y upper
	echo new >upper/new
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[ "$output" = "A /new" ]
	"$LAYERFS" mount stack.json
	run cat mnt/etc/a
	"$LAYERFS" umount stack.json
	[ "$output" = app-a ]
}

@test "diff: under a directory renamed away and back (copied up whole, opaque), what the layers have is changed, not added, and what went is deleted" {
	with_mount stack.json 'mv d d2 && mv d2 d && rm d/sub/y'
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[ "$output" = "C /d
C /d/sub
D /d/sub/y
C /d/x" ]
}

# A tree two levels deep below o, over both layers, and names the upper
# makes again at each level.
make_deep_tree() {
	mkdir -p layers/base/o/s1/s2 layers/app/o/s1/s2
	touch layers/base/o/top layers/base/o/s1/gone1 layers/base/o/s1/keep
	touch layers/base/o/s1/s2/gone2 layers/app/o/s1/s2/keep layers/app/o/s1/s2/gone-app
}

@test "diff: below a directory made again (opaque), what the layers have at any depth and the upper lacks is deleted" {
	make_deep_tree
	with_mount stack.json 'rm -rf o && mkdir -p o/s1/s2 && touch o/s1/keep o/s1/s2/keep o/s1/s2/new'
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	expected="C /o
C /o/s1
D /o/s1/gone1
C /o/s1/keep
C /o/s1/s2
D /o/s1/s2/gone-app
D /o/s1/s2/gone2
C /o/s1/s2/keep
A /o/s1/s2/new
D /o/top"
	[ "$output" = "$expected" ] || fail "$output"
	run "$LAYERFS" diff --json stack.json
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["added"] == ["/o/s1/s2/new"], d
assert d["changed"] == ["/o", "/o/s1", "/o/s1/keep", "/o/s1/s2", "/o/s1/s2/keep"], d
assert d["deleted"] == ["/o/s1/gone1", "/o/s1/s2/gone-app", "/o/s1/s2/gone2", "/o/top"], d
'
}

@test "diff: below a lower layer's opaque directory, what the layers under it hid is not deleted again" {
	make_deep_tree
	with_mount stack.json 'rm -rf o && mkdir -p o/s1/s2 && touch o/s1/s2/keep'
	"$LAYERFS" commit stack.json
	# made again once more: the upper hides only what commit-1 shows
	with_mount stack.json 'rm -rf o && mkdir -p o/s1/s2'
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[ "$output" = "C /o
C /o/s1
C /o/s1/s2
D /o/s1/s2/keep" ] || fail "$output"
}

@test "diff: a stack mounted over its own layer is refused while mounted, naming the layer" {
	sed -i 's|"mountpoint": "mnt"|"mountpoint": "layers/app"|' stack.json
	"$LAYERFS" mount stack.json
	rm layers/app/etc/app
	run "$LAYERFS" diff stack.json
	"$LAYERFS" umount stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"layer $T/layers/app is under the mount point"* ]]
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[ "$output" = "C /etc
D /etc/app" ]
}

@test "diff --json" {
	change_things
	run "$LAYERFS" diff --json stack.json
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["added"] == ["/d/z", "/new", "/new-link"], d
assert d["changed"] == ["/d", "/etc", "/etc/b", "/keep"], d
assert d["deleted"] == ["/d/sub", "/d/x", "/etc/c", "/keep/k"], d
'
}

@test "diff: every whiteout and opaque form, written by other tools" {
	mkdir -p layers/base/o1/in layers/base/o2 layers/base/o3 layers/base/o4 layers/base/xw
	touch layers/base/o1/in/f layers/base/o1/g layers/base/o2/g layers/base/o3/g layers/base/o4/g
	touch layers/base/xw/gone layers/base/xw/kept layers/base/whf
	mkdir -p upper/o1 upper/o2 upper/o3 upper/o4 upper/xw upper/etc
	setfattr -n trusted.overlay.opaque -v y upper/o1
	setfattr -n user.overlay.opaque -v y upper/o2
	setfattr -n user.fuseoverlayfs.opaque -v y upper/o3
	touch upper/o4/.wh..wh..opq upper/o4/h
	mknod upper/etc/a c 0 0
	touch upper/.wh.whf
	# the kernel's xattr whiteouts
	setfattr -n user.overlay.opaque -v x upper/xw
	touch upper/xw/gone
	setfattr -n user.overlay.whiteout -v y upper/xw/gone
	# a whiteout for a name nothing below has is not a deletion
	mknod upper/etc/never c 0 0
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	expected="C /etc
D /etc/a
C /o1
D /o1/g
D /o1/in
C /o2
D /o2/g
C /o3
D /o3/g
C /o4
D /o4/g
A /o4/h
D /whf
C /xw
D /xw/gone"
	[ "$output" = "$expected" ]
}

@test "diff: names deleted by a lower layer's whiteouts are not deleted again" {
	touch layers/app/etc/.wh.c
	mkdir -p upper/etc
	mknod upper/etc/c c 0 0
	mkdir upper/etc/c2
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[ "$output" = "C /etc
A /etc/c2" ]
}

@test "diff: no upper, no diff" {
	echo '{"version": 1, "layers": ["layers/base"]}' >ro.json
	refuses diff ro.json "upper: missing: this is a read-only stack"
}

@test "commit: the upper becomes the top layer, the view is unchanged" {
	change_things
	with_mount stack.json 'chmod 0700 .'
	"$LAYERFS" mount stack.json
	tree_listing mnt >before.list
	stat -c %a mnt >before.root
	"$LAYERFS" umount stack.json
	upper_files=$(cd upper && find . | sort)

	run "$LAYERFS" commit stack.json
	[ "$status" -eq 0 ]
	[[ "$output" == *"as layer commit-1"* ]]
	# the layer is the old upper, whiteouts and opaque markers included
	[ "$(cd layers/commit-1 && find . | sort)" = "$upper_files" ]
	[ "$(stat -c %t:%T layers/commit-1/etc/c)" = 0:0 ]
	python3 -c '
import json
d = json.load(open("stack.json"))
assert d["layers"][-1] == {"path": "layers/commit-1", "name": "commit-1"}, d
assert len(d["layers"]) == 3 and d["upper"] == "upper" and d["options"] == {"fsync": False}, d
'
	[ -z "$(ls -A upper)" ]
	[ "$(ls -A work)" = layerfs.lock ]
	[ "$(stat -c %a upper)" = 700 ]

	"$LAYERFS" mount stack.json
	tree_listing mnt >after.list
	stat -c %a mnt >after.root
	"$LAYERFS" umount stack.json
	diff before.list after.list
	diff before.root after.root
	run "$LAYERFS" diff stack.json
	[ -z "$output" ]
}

@test "commit: the stack file keeps its owner and mode" {
	chown 1000:1000 stack.json
	chmod 664 stack.json
	with_mount stack.json 'echo new >new'
	(umask 022 && "$LAYERFS" commit stack.json)
	[ "$(stat -c '%u:%g %a' stack.json)" = "1000:1000 664" ]
	grep -q commit-1 stack.json
}

@test "commit: twice, with --name, names are checked" {
	with_mount stack.json 'echo one >one'
	"$LAYERFS" commit --name first stack.json
	[ -d layers/first ]
	with_mount stack.json 'echo two >two; rm one'
	run "$LAYERFS" commit stack.json --name first
	[ "$status" -eq 1 ]
	[[ "$output" == *"--name 'first'"*"choose another"* ]]
	run "$LAYERFS" commit stack.json --name app
	[ "$status" -eq 1 ]
	run "$LAYERFS" commit stack.json --name ../x
	[ "$status" -eq 1 ]
	run "$LAYERFS" commit stack.json --name .hidden
	[ "$status" -eq 1 ]
	"$LAYERFS" commit stack.json
	[ -d layers/commit-1 ]
	"$LAYERFS" mount stack.json
	[ ! -e mnt/one ]
	[ "$(cat mnt/two)" = two ]
	"$LAYERFS" umount stack.json
	[ "$("$LAYERFS" check stack.json | grep -c '^  [0-9]')" -eq 4 ]
}

@test "commit: nothing to commit" {
	refuses commit stack.json "nothing to commit"
	[ ! -e layers/commit-1 ]
}

@test "commit: a --name too long for a file name, or a layers/ that is not a directory, is refused before the journal; a first rename that fails gives the commit up, and the stack stays usable" {
	with_mount stack.json 'echo one >one'
	cp stack.json stack.before
	ls -A layers >layers.before
	run "$LAYERFS" commit stack.json --name "$(printf 'n%.0s' $(seq 256))"
	[ "$status" -eq 1 ]
	[[ "$output" == *"longer than the 255 bytes a name may have in"* ]]
	[ ! -e .stack.json.commit ]
	ls -A layers | cmp - layers.before
	# the upper cannot be moved (immutable): nothing moved, nothing left
	chattr +i upper
	run "$LAYERFS" commit stack.json
	chattr -i upper
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot rename"*"Operation not permitted"* ]]
	[[ "$output" == *"the commit is given up (journal "*".stack.json.commit removed)"* ]]
	[ ! -e .stack.json.commit ]
	ls -A layers | cmp - layers.before
	cmp stack.json stack.before
	"$LAYERFS" check stack.json >/dev/null
	[ "$(cat upper/one)" = one ]
	"$LAYERFS" commit stack.json
	[ "$(cat layers/commit-1/one)" = one ]
	# a stack of its own whose layers/ is a file
	mkdir -p s2/l s2/u s2/w
	echo x >s2/u/f
	echo '{"version": 1, "layers": ["l"], "upper": "u", "work": "w"}' >s2/s.json
	touch s2/layers
	run "$LAYERFS" commit s2/s.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"s2/layers: not a directory"* ]]
	[ ! -e s2/.s.json.commit ] && [ -f s2/layers ] && [ "$(cat s2/u/f)" = x ]
}

@test "commit: refused while mounted, naming the daemon's pid" {
	"$LAYERFS" mount stack.json
	echo x >mnt/x
	pid=$(awk '{print $1}' work/layerfs.lock)
	cp stack.json stack.saved
	refuses commit stack.json "workdir '$T/work' is in use by layerfs pid $pid (mount)"
	cmp stack.json stack.saved
	[ -f upper/x ]
	[ ! -e layers/commit-1 ]
	"$LAYERFS" umount stack.json
	"$LAYERFS" commit stack.json
}

@test "commit: refused while a -o daemon elsewhere uses the upper" {
	with_mount stack.json 'echo x >x'
	mkdir mnt2
	"$LAYERFS" -o "lowerdir=$T/layers/app:$T/layers/base,upperdir=$T/upper,workdir=$T/work" mnt2
	refuses commit stack.json "is in use by layerfs pid"
	refuses reset stack.json "is in use by layerfs pid"
	[ -f upper/x ]
	fusermount3 -u mnt2
}

@test "commit: refused, as reset, while a mount of the stack unmounted lazily is still in use (its daemon still writes the upper); check names it; a new mount is not refused" {
	"$LAYERFS" mount stack.json
	pid=$(awk '{print $1}' work/layerfs.lock)
	sh -c "cd '$T/mnt' && exec sleep 600" &
	holder=$!
	echo "$holder" >>"$T/.pids"
	for i in $(seq 50); do [ "$(readlink "/proc/$holder/cwd")" = "$T/mnt" ] && break; sleep 0.1; done
	umount -l mnt
	for i in $(seq 50); do [ -e "work/layerfs/#$(printf %x "$pid").detached" ] && break; sleep 0.1; done
	refuses commit stack.json "upperdir '$T/upper' is still written by layerfs pid $pid: its mount was unmounted lazily"
	refuses reset stack.json "upperdir '$T/upper' is still written by layerfs pid $pid"
	run "$LAYERFS" check stack.json
	[[ "$output" == *"detached: layerfs pid $pid still serves a mount of the upper that was unmounted lazily"* ]] || fail "$output"
	echo x >"/proc/$holder/cwd/x"
	[ -f upper/x ]
	[ ! -e layers/commit-1 ]
	"$LAYERFS" mount stack.json
	"$LAYERFS" umount stack.json
	kill "$holder"
	for i in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	[ ! -d "/proc/$pid" ] || fail "the detached daemon is still there"
	"$LAYERFS" commit stack.json
	[ -f layers/commit-1/x ]
}

@test "commit: a read-only stack has nothing to commit" {
	echo '{"version": 1, "layers": ["layers/base"]}' >ro.json
	refuses commit ro.json "read-only stack"
}

# Kill commit right after step N; the stack file must be the old or the
# new one, no upper file may be lost, and the next command must finish
# the commit so that the view is what it was.
crash_at() {
	local n=$1
	change_things
	"$LAYERFS" mount stack.json
	tree_listing mnt >before.list
	"$LAYERFS" umount stack.json
	(cd upper && find . -mindepth 1 | sort) >upper.files
	cp stack.json stack.old

	run env LAYERFS_TEST_CRASH_AT="$n" "$LAYERFS" commit stack.json
	[ "$status" -eq 137 ]	# SIGKILL

	nlayers=$(python3 -c 'import json; print(len(json.load(open("stack.json"))["layers"]))')
	[ "$nlayers" = 2 ] || [ "$nlayers" = 3 ]
	[ "$nlayers" = 3 ] || cmp stack.json stack.old
	# every file of the upper is in the upper or in the new layer
	while read -r f; do
		[ -e "upper/$f" ] || [ -L "upper/$f" ] || [ -e "layers/commit-1/$f" ] || [ -L "layers/commit-1/$f" ] || {
			echo "lost $f"
			return 1
		}
	done <upper.files

	run "$LAYERFS" check stack.json
	[ "$status" -eq 0 ]
	[ ! -e .stack.json.commit ]
	[ "$(python3 -c 'import json; print(len(json.load(open("stack.json"))["layers"]))')" = 3 ]
	[ "$(cd layers/commit-1 && find . -mindepth 1 | sort)" = "$(cat upper.files)" ]
	[ -z "$(ls -A upper)" ]
	"$LAYERFS" mount stack.json
	tree_listing mnt >after.list
	"$LAYERFS" umount stack.json
	diff before.list after.list
}

@test "reset and commit as a plain user: read-only directories with content (go's module cache) are removed, and the stack does not get stuck" {
	mkdir -p upper/ro/sub upper/none
	echo x >upper/ro/sub/f
	echo y >upper/none/g
	chmod 0555 upper/ro/sub upper/ro
	chmod 0000 upper/none
	chmod 755 "$T"
	chown -R 65534:65534 "$T"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$LAYERFS" reset stack.json
	[ "$status" -eq 0 ] || fail "reset as a plain user: $output"
	[ -z "$(ls -A upper)" ]
	[ ! -e .upper.layerfs-new ]
	# the same through a commit that finds an old attempt's leftovers
	mkdir -p upper/n .upper.layerfs-new/ro
	echo n >upper/n/f
	echo z >.upper.layerfs-new/ro/z
	chmod 0555 .upper.layerfs-new/ro
	chown -R 65534:65534 "$T"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$LAYERFS" commit stack.json
	[ "$status" -eq 0 ] || fail "commit as a plain user: $output"
	[ ! -e .stack.json.commit ]
	[ "$(cat layers/commit-1/n/f)" = n ]
	[ -d upper ] && [ -z "$(ls -A upper)" ]
}

@test "commit: killed after step 1 (journal written)" { crash_at 1; }
@test "commit: killed after step 2 (upper moved to the layer)" { crash_at 2; }
@test "commit: killed after step 3 (fresh upper made aside)" { crash_at 3; }
@test "commit: killed after step 4 (fresh upper in place)" { crash_at 4; }
@test "commit: killed after step 5 (stack file replaced)" { crash_at 5; }
@test "commit: killed after step 6 (work dir emptied)" { crash_at 6; }
@test "commit: killed after step 7 (journal removed)" { crash_at 7; }

@test "commit: recovery runs on the next command, whichever it is" {
	change_things
	run env LAYERFS_TEST_CRASH_AT=2 "$LAYERFS" commit stack.json
	[ "$status" -eq 137 ]
	[ -e .stack.json.commit ]
	run "$LAYERFS" diff stack.json
	[ "$status" -eq 0 ]
	[[ "$output" == *"finished an interrupted commit"* ]]
	[ ! -e .stack.json.commit ]
	[ -d layers/commit-1 ]
}

@test "commit: a stack in a directory whose path is not UTF-8; a --name that is not is refused and leaves nothing" {
	# the journal (JSON) names paths as the stack file does, relative
	local d
	d=$(printf 'st\377ack')
	mkdir "$d"
	mv layers upper work mnt stack.json "$d"
	echo n >"$d/upper/n"
	run "$LAYERFS" commit --name "$(printf 'x\376')" "$d/stack.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not valid UTF-8"* ]] || fail "$output"
	[ "$(cat "$d/upper/n")" = n ]
	[ ! -e "$d/.stack.json.commit" ]
	# a commit refused before it started leaves no layers dir it made
	mv "$d/layers" "$d/old"
	sed -i 's|"layers/|"old/|g' "$d/stack.json"
	run "$LAYERFS" commit --name "$(printf 'x\376')" "$d/stack.json"
	[ "$status" -eq 1 ]
	[ ! -e "$d/layers" ] || fail "layers dir left behind"
	run "$LAYERFS" commit "$d/stack.json"
	[ "$status" -eq 0 ] || fail "commit: $output"
	[ "$(cat "$d/layers/commit-1/n")" = n ]
	[ ! -e "$d/.stack.json.commit" ]
	# killed after the journal: the next command finishes it
	echo m >"$d/upper/m"
	run env LAYERFS_TEST_CRASH_AT=1 "$LAYERFS" commit "$d/stack.json"
	[ "$status" -eq 137 ]
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["layer"] == "layers/commit-2", j' \
		"$d/.stack.json.commit"
	run "$LAYERFS" check "$d/stack.json"
	[ "$status" -eq 0 ] || fail "check: $output"
	[[ "$output" == *"finished an interrupted commit"* ]]
	[ "$(cat "$d/layers/commit-2/m")" = m ]
	[ -z "$(ls -A "$d/upper")" ]
}

@test "commit: SIGKILL at random moments never breaks the stack" {
	for i in $(seq 6); do
		with_mount stack.json "for k in \$(seq 40); do echo \$k >f$i-\$k; done; rm -f etc/a"
		"$LAYERFS" mount stack.json
		tree_listing mnt >before.list
		"$LAYERFS" umount stack.json
		"$LAYERFS" commit stack.json >/dev/null &
		pid=$!
		# a commit takes some 20 ms: kill it anywhere in them
		sleep "$(printf '0.%03d' $((RANDOM % 30)))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		python3 -c 'import json; json.load(open("stack.json"))'
		"$LAYERFS" check stack.json >/dev/null
		"$LAYERFS" mount stack.json
		tree_listing mnt >after.list
		"$LAYERFS" umount stack.json
		diff before.list after.list
	done
}

@test "commit: a full disk stops it cleanly, with a clear error" {
	mkdir small
	mount -t tmpfs -o size=1m none small
	cd small
	make_stack
	with_mount stack.json 'echo new >new; rm etc/b'
	cp stack.json ../stack.saved
	(cd upper && find . | sort) >../upper.saved
	dd if=/dev/zero of=filler bs=4k 2>/dev/null || true
	refuses commit stack.json "No space left on device"
	cmp stack.json ../stack.saved
	[ "$(cd upper && find . | sort)" = "$(cat ../upper.saved)" ]
	[ ! -e layers/commit-1 ]
	[ ! -e .stack.json.commit ]
	rm filler
	"$LAYERFS" commit stack.json
	"$LAYERFS" mount stack.json
	[ "$(cat mnt/new)" = new ]
	[ ! -e mnt/etc/b ]
	"$LAYERFS" umount stack.json
}

@test "commit: an upper on another filesystem than the stack's layers dir" {
	mkdir -p other
	mount -t tmpfs -o size=1m none other
	mkdir other/upper other/work
	echo '{"version": 1, "layers": ["layers/base"], "upper": "other/upper", "work": "other/work"}' >far.json
	echo x >other/upper/x
	refuses commit far.json "on different filesystems"
	[ -f other/upper/x ]
}

@test "reset: back to the pristine layers" {
	"$LAYERFS" mount stack.json
	tree_listing mnt >pristine.list
	"$LAYERFS" umount stack.json
	change_things
	mkdir -p work/layerfs/leftover
	run "$LAYERFS" reset stack.json
	[ "$status" -eq 0 ]
	[ -z "$(ls -A upper)" ]
	[ "$(ls -A work)" = layerfs.lock ]
	[ -z "$(ls -A . | grep layerfs-new)" ]
	"$LAYERFS" mount stack.json
	tree_listing mnt >after.list
	"$LAYERFS" umount stack.json
	diff pristine.list after.list
}

@test "reset: the mount's root is the layers' root again, its mode, owner, times and xattrs changed through the mount undone" {
	touch -d '2001-02-03 04:05:06' layers/app
	setfattr -n user.layer -v app layers/app
	with_mount stack.json 'chmod 0700 . && chown 5:6 . && setfattr -n user.sandbox -v dirty . && touch new'
	[ "$(stat -c '%a %u:%g' upper)" = "700 5:6" ] || fail "the chmod and chown did not reach the upper's root"
	"$LAYERFS" reset stack.json
	"$LAYERFS" mount stack.json
	local got xattrs
	got=$(stat -c '%a %u:%g %Y' mnt)
	xattrs=$(getfattr --absolute-names -d -m user. mnt | grep -v '^#')
	"$LAYERFS" umount stack.json
	[ "$got" = "$(stat -c '%a %u:%g %Y' layers/app)" ] || fail "root after reset: $got"
	[ "$xattrs" = 'user.layer="app"' ] || fail "root's xattrs after reset: $xattrs"
}

@test "reset as a plain user who may not give the upper's root the top layer's owner: the upper keeps its own attributes, with a warning" {
	chmod 755 "$T"
	chown -R 65534:65534 "$T"
	chown 0:0 layers/app
	chmod 0751 upper
	echo x >upper/x
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$LAYERFS" reset stack.json
	[ "$status" -eq 0 ] || fail "reset as a plain user: $output"
	[[ "$output" == *"cannot give the upper's root the owner and attributes of"* ]] || fail "no warning: $output"
	[ -z "$(ls -A upper)" ]
	[ "$(stat -c '%a %u:%g' upper)" = "751 65534:65534" ] || fail "upper: $(stat -c '%a %u:%g' upper)"
	# a top layer root the user may not read
	chmod 0711 layers/app
	echo x >upper/x
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$LAYERFS" reset stack.json
	[ "$status" -eq 0 ] || fail "reset as a plain user, unreadable top layer: $output"
	[ -z "$(ls -A upper)" ]
	[ "$(stat -c '%a %u:%g' upper)" = "751 65534:65534" ] || fail "upper: $(stat -c '%a %u:%g' upper)"
}

@test "commit and reset: an upper named upper/, upper/. or through a symlink is the directory itself; a bind-mounted one is refused before anything changes" {
	local form d
	for form in slash dot link; do
		d=$T/$form
		mkdir "$d"
		cd "$d"
		make_stack
		case $form in
		slash) sed -i 's|"upper": "upper"|"upper": "upper/"|' stack.json ;;
		dot) sed -i 's|"upper": "upper"|"upper": "upper/."|' stack.json ;;
		link) mv upper real-upper && ln -s real-upper upper ;;
		esac
		with_mount stack.json 'echo new >new'
		run "$LAYERFS" commit stack.json
		[ "$status" -eq 0 ] || fail "$form: commit: $output"
		[ "$(cat layers/commit-1/new)" = new ] || fail "$form: the layer"
		[ -z "$(ls -A upper/)" ] || fail "$form: the upper after commit"
		"$LAYERFS" check stack.json >/dev/null || fail "$form: check after commit"
		with_mount stack.json 'cat new && echo two >two' >out
		[ "$(cat out)" = new ] || fail "$form: the view after commit"
		run "$LAYERFS" reset stack.json
		[ "$status" -eq 0 ] || fail "$form: reset: $output"
		[ -z "$(ls -A upper/)" ] || fail "$form: the upper after reset"
		if [ "$form" = link ]; then
			[ -L upper ] && [ "$(readlink upper)" = real-upper ] || fail "the symlink went"
		fi
		cd "$T"
	done
	mkdir "$T/bind" && cd "$T/bind" && make_stack
	mkdir elsewhere
	mount --bind elsewhere upper
	# not mounted either: the work dir is on another mount than it
	run "$LAYERFS" mount stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"work: $T/bind/work: on another mount than upper"* ]] || fail "mount: $output"
	echo new >upper/new
	cp stack.json stack.before
	run "$LAYERFS" commit stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"on another mount than upper"* ]] || fail "commit: $output"
	run "$LAYERFS" reset stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"on another mount than upper"* ]] || fail "reset: $output"
	cmp stack.json stack.before
	[ ! -e .stack.json.commit ] || fail "a journal was left"
	[ "$(cat upper/new)" = new ] || fail "the upper lost its change"
	umount upper
	"$LAYERFS" check stack.json >/dev/null
}

@test "reset: refused while mounted, --remount unmounts, resets and mounts" {
	"$LAYERFS" mount stack.json
	tree_listing mnt >pristine.list
	echo junk >mnt/junk
	rm mnt/etc/a
	run "$LAYERFS" reset stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == *"mounted on $T/mnt: unmount it first"*"--remount"* ]]
	[ -f upper/junk ]
	run "$LAYERFS" reset --remount stack.json
	[ "$status" -eq 0 ]
	wait_mounted "$T/mnt"
	[ ! -e mnt/junk ]
	[ "$(cat mnt/etc/a)" = app-a ]
	tree_listing mnt >after.list
	diff pristine.list after.list
	pid=$(awk '{print $1}' work/layerfs.lock)
	grep -q layerfs "/proc/$pid/comm"
	echo again >mnt/again
	[ -f upper/again ]
	"$LAYERFS" umount stack.json
}

@test "reset --remount on a stack that is not mounted just resets" {
	with_mount stack.json 'echo junk >junk'
	"$LAYERFS" reset --remount stack.json
	[ -z "$(ls -A upper)" ]
	! is_mounted "$T/mnt" || fail "$T/mnt is still mounted"
}

@test "reset: a read-only stack has nothing to reset" {
	echo '{"version": 1, "layers": ["layers/base"]}' >ro.json
	refuses reset ro.json "read-only stack"
}
