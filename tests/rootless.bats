#!/usr/bin/env bats
# Unprivileged operation: layerfs run by an ordinary user, inside
# `unshare -Urm` (one id mapped), inside a user namespace with a
# subordinate id range (newuidmap), and without any namespace through
# fusermount3; the capabilities the daemon keeps; what `layerfs features`
# reports.  Needs root to set up: the tests run as the user $NSUSER
# (created if missing) on files in a directory that user owns.
#
# A mount made inside a namespace is invisible outside it. The daemon
# keeps the namespaces alive, so the tests reach the mount by entering the
# daemon's namespaces (nsenter, as the same user) and unmount it from
# there with fusermount3; they mount with detach_unseen=0, else the daemon
# would detach the mount that no process sees between two commands.

load helpers

NSUSER=lfsuser

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root to run commands as $NSUSER"
	local c
	for c in unshare nsenter runuser fusermount3 getfattr; do
		command -v "$c" >/dev/null || skip "needs $c"
	done
	id "$NSUSER" >/dev/null 2>&1 || useradd -m "$NSUSER"
	(cd / && runuser -u "$NSUSER" -- unshare -Ur true) ||
		skip "$NSUSER cannot make a user namespace (unprivileged user namespaces disabled?)"
}

setup() {
	need_root
	common_setup
	umask 022
	NS_DAEMONS=$T/.ns-daemons
	: >"$NS_DAEMONS"
	make_traversable
	# the user's own directory: lower layers, upper, work, mount points
	R=$T/rl
	mkdir -p "$R/lower/d" "$R/lower/empty" "$R/base" "$R/upper" "$R/work" "$R/mnt"
	echo "lower a" >"$R/lower/a"
	echo "lower b" >"$R/lower/b"
	echo gone >"$R/lower/gone"
	echo x >"$R/lower/d/x"
	echo y >"$R/lower/d/y"
	echo base >"$R/base/basefile"
	chown -R "$NSUSER:" "$R"
	# a file of the real root, unmapped in the user's namespaces
	echo "root's" >"$R/lower/rootfile"
	chmod 755 "$R"
	as_nsuser test -x "$LAYERFS" || skip "$NSUSER cannot execute $LAYERFS"
	NS_UID=$(id -u "$NSUSER")
	NS_GID=$(id -g "$NSUSER")
	LOWERS=$R/lower:$R/base
}

teardown() {
	ns_cleanup
	# an append-only file left by a failed test would stay behind
	[ -n "${R:-}" ] && [ -e "$R/lower/app" ] && chattr -a "$R/lower/app" 2>/dev/null
	common_teardown
}

as_nsuser() {
	(cd "$R" && runuser -u "$NSUSER" -- "$@")
}

# ns_mount UNSHARE-ARGS... -- OPTIONS MOUNTPOINT: as $NSUSER, create the
# namespaces and mount layerfs inside them; sets NS_PID to the daemon
ns_mount() {
	local uargs=()
	while [ "$1" != -- ]; do
		uargs+=("$1")
		shift
	done
	shift
	as_nsuser unshare "${uargs[@]}" sh -c 'exec "$0" -o "$1" "$2"' \
		"$LAYERFS" "$1,detach_unseen=0" "$2" 2>"$T/daemon.err" 3>&- || {
		echo "mount in unshare ${uargs[*]} failed:" >&2
		cat "$T/daemon.err" >&2
		return 1
	}
	NS_PID=$(find_daemon_pid "$2") || fail "no daemon found for $2"
	echo "$NS_PID $2" >>"$NS_DAEMONS"
}

# user_mount OPTIONS: as $NSUSER, no namespace, mount layerfs (through
# fusermount3) with the test's layers and OPTIONS on $R/mnt; sets pid
# to the daemon. user_umount: fusermount3 -u, and the daemon must exit.
user_mount() {
	as_nsuser "$LAYERFS" -o "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work$1" "$R/mnt" \
		2>"$T/daemon.err" 3>&- || fail "mount failed: $(cat "$T/daemon.err")"
	pid=$(find_daemon_pid "$R/mnt") || fail "no daemon"
	echo "fuse $pid $R/mnt" >>"$MOUNTS_FILE"
}

user_umount() {
	as_nsuser fusermount3 -u "$R/mnt"
	wait_until 20 _pid_gone "$pid" || fail "daemon $pid still running after fusermount3 -u"
	_forget_mount "$R/mnt"
}

# in_ns COMMAND...: run as $NSUSER inside the namespaces of the daemon
in_ns() {
	as_nsuser nsenter -t "$NS_PID" -U -m --preserve-credentials -- "$@"
}

ns_is_mounted() {
	in_ns awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# ns_umount MOUNTPOINT: fusermount3 -u inside the namespace; the daemon
# must exit (and with it the namespaces)
ns_umount() {
	local pid=$NS_PID
	in_ns fusermount3 -u "$1" || return 1
	wait_until 20 _pid_gone "$pid" || fail "daemon $pid still running after fusermount3 -u"
	awk -v p="$pid" '$1 != p' "$NS_DAEMONS" >"$NS_DAEMONS.new"
	mv "$NS_DAEMONS.new" "$NS_DAEMONS"
}

# teardown: daemons of a failed test are unmounted from inside, else
# killed (only those this test started, still running layerfs)
ns_cleanup() {
	local pid mnt exe
	[ -f "${NS_DAEMONS:-}" ] || return 0
	exe=$(readlink -f "$LAYERFS")
	while read -r pid mnt; do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || continue
		NS_PID=$pid in_ns fusermount3 -u "$mnt" 2>/dev/null
		wait_until 10 _pid_gone "$pid" || kill -9 "$pid" 2>/dev/null
	done <"$NS_DAEMONS"
	: >"$NS_DAEMONS"
}

# the capability names of a hex mask, space separated (capsh's spelling,
# which is libcap's, as `layerfs features` prints them)
cap_names() {
	local d
	d=$(capsh --decode="$1")
	d=${d#*=}
	if [ -z "$d" ]; then
		echo none
	else
		echo "${d//,/ }"
	fi
}

# what the daemon keeps (src/caps.c): CHOWN 0, DAC_OVERRIDE 1,
# DAC_READ_SEARCH 2, FOWNER 3, FSETID 4, SYS_ADMIN 21, MKNOD 27, SETFCAP 31
KEPT_CAPS=000000008820001f

# caps_of PID: "CapPrm CapEff CapBnd" from /proc
caps_of() {
	awk '/^CapPrm|^CapEff|^CapBnd/ { printf "%s%s", sep, $2; sep = " " } END { print "" }' "/proc/$1/status"
}

# the line of `layerfs features` output starting with $1
feature() {
	awk -v k="$1:" 'index($0, k) == 1 { sub(/^[^:]*: */, ""); print }' <<<"$2"
}

# can $NSUSER, with no privilege at all, make a 0:0 character device (a
# kernel overlayfs whiteout; allowed since Linux 5.8)?
user_can_mknod_whiteout() {
	local ok=1
	as_nsuser mknod "$R/work/probe" c 0 0 2>/dev/null && ok=0
	rm -f "$R/work/probe"
	return $ok
}

# tree DIR: every path below DIR with its type, sorted, one line
tree() {
	(cd "$1" && find . -mindepth 1 -printf '%p:%y\n' | LC_ALL=C sort | tr '\n' ' ')
}

@test "rootless: layerfs features as a plain user, in unshare -Ur and as root" {
	need_cmd capsh
	local out wh
	user_can_mknod_whiteout && wh="character device 0:0" || wh=".wh.NAME file"

	out=$(as_nsuser "$LAYERFS" features "$R/work")
	eq "$(feature capabilities "$out")" none
	eq "$(feature whiteouts "$out")" "$wh"
	eq "$(feature "opaque directories" "$out")" "xattr user.overlay.opaque=y"
	eq "$(feature ownership "$out")" "kept in the user.containers.override_stat xattr"
	[[ "$(feature "file data of upper files" "$out")" == "through the daemon"* ]] || fail "plain user: $out"
	eq "$(feature "opening files" "$out")" "a request to the daemon (noopen needs CAP_DAC_OVERRIDE)"

	# one id mapped: every capability, in the namespace only; still no
	# trusted.* xattrs and no chown to other ids
	out=$(as_nsuser unshare -Ur "$LAYERFS" features "$R/work")
	eq "$(feature capabilities "$out")" \
		"$(cap_names "$(as_nsuser unshare -Ur awk '/^CapEff/ { print $2 }' /proc/self/status)")"
	[[ "$(feature capabilities "$out")" == *cap_sys_admin* ]] || fail "namespace root without cap_sys_admin: $out"
	eq "$(feature whiteouts "$out")" "$wh"
	eq "$(feature "opaque directories" "$out")" "xattr user.overlay.opaque=y"
	eq "$(feature ownership "$out")" "kept in the user.containers.override_stat xattr"
	[[ "$(feature "file data of upper files" "$out")" == "through the daemon"* ]] ||
		fail "namespace root cannot register backing files: $out"
	[[ "$(feature "opening files" "$out")" == "no request to the daemon (noopen"* ]] ||
		fail "namespace root: $out"

	# real root
	out=$("$LAYERFS" features "$R/work")
	eq "$(feature capabilities "$out")" "$(cap_names "$(awk '/^CapEff/ { print $2 }' /proc/self/status)")"
	eq "$(feature whiteouts "$out")" "character device 0:0"
	eq "$(feature "opaque directories" "$out")" "xattr trusted.overlay.opaque=y"
	eq "$(feature ownership "$out")" "chown on disk"
	[[ "$(feature "file data of upper files" "$out")" == "passed through"* ]] || fail "root: $out"
	[[ "$(feature "opening files" "$out")" == "a request to the daemon (noopen is off"* ]] || fail "root: $out"
	# the probe leaves nothing behind in the work dir
	eq "$(names "$R/work")" ""
}

@test "rootless: unshare -Urm: copy-up, whiteouts, opaque dirs, ownership in override xattrs" {
	local feat wh
	feat=$(as_nsuser unshare -Ur "$LAYERFS" features "$R/work")
	wh=$(feature whiteouts "$feat")
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	ns_is_mounted "$R/mnt" || fail "not mounted in the namespace"
	! is_mounted "$R/mnt" || fail "the mount leaked out of the namespace"
	eq "$(in_ns id -u)" 0
	eq "$(in_ns stat -c '%u:%g' "$R/mnt/a" "$R/mnt/rootfile" | tr '\n' ' ')" "0:0 65534:65534 "

	# copy-up
	in_ns sh -c "echo more >>'$R/mnt/a'"
	eq "$(cat "$R/upper/a")" "lower a
more"
	eq "$(cat "$R/lower/a")" "lower a"
	eq "$(stat -c '%u:%g' "$R/upper/a")" "$NS_UID:$NS_GID" "the user owns the copy"

	# unlink of a lower file: a whiteout of the form features announced
	in_ns rm "$R/mnt/gone"
	case $wh in
	"character device 0:0")
		eq "$(stat -c '%F %t:%T' "$R/upper/gone")" "character special file 0:0" ;;
	".wh.NAME file")
		eq "$(stat -c %F "$R/upper/.wh.gone")" "regular empty file" ;;
	*) fail "unknown whiteout form: $wh" ;;
	esac
	# rmdir of a lower directory
	in_ns rmdir "$R/mnt/empty"
	# a lower directory emptied and removed, then made again: opaque
	in_ns rm "$R/mnt/d/x" "$R/mnt/d/y"
	in_ns rmdir "$R/mnt/d"
	in_ns mkdir "$R/mnt/d"
	in_ns sh -c "echo new >'$R/mnt/d/new'"
	eq "$(in_ns ls -A "$R/mnt/d")" "new"
	eq "$(getfattr --absolute-names --only-values -n user.overlay.opaque "$R/upper/d")" y
	eq "$(in_ns ls -A "$R/mnt" | tr '\n' ' ')" "a b basefile d rootfile "

	# Only id 0 is mapped: the kernel refuses a chown to any other id with
	# EINVAL before layerfs sees it. Owner and mode changes the daemon
	# cannot make on disk go to user.containers.override_stat.
	run ! in_ns chown 5 "$R/mnt/b"
	[[ "$output" == *"Invalid argument"* ]] || fail "chown 5: $output"
	in_ns chown 0:0 "$R/mnt/b"
	eq "$(getfattr --absolute-names --only-values -n user.containers.override_stat "$R/upper/b")" "0:0:0644"
	in_ns chmod 600 "$R/mnt/a"
	eq "$(getfattr --absolute-names --only-values -n user.containers.override_stat "$R/upper/a")" "0:0:0600"
	in_ns mkdir -m 750 "$R/mnt/newdir"
	eq "$(getfattr --absolute-names --only-values -n user.containers.override_stat "$R/upper/newdir")" "0:0:0750"
	eq "$(getfattr --absolute-names --only-values -n user.containers.override_stat "$R/upper")" "0:0:0755" "the upper root's marker"
	# a file whose owner has no id in the namespace cannot be changed: the
	# kernel refuses with EOVERFLOW before asking the daemon
	run ! in_ns chmod 600 "$R/mnt/rootfile"
	[[ "$output" == *"Value too large for defined data type"* ]] || fail "chmod of rootfile: $output"
	eq "$(in_ns cat "$R/mnt/rootfile")" "root's"
	# the override xattrs never show in the mount
	eq "$(in_ns getfattr --absolute-names -d -m - "$R/mnt/a" 2>&1 | grep -c '^[a-z]')" 0

	local view
	view=$(in_ns sh -c "cd '$R/mnt' && find . -mindepth 1 -printf '%p:%y\n' | LC_ALL=C sort | tr '\n' ' '")
	eq "$view" "./a:f ./b:f ./basefile:f ./d/new:f ./d:d ./newdir:d ./rootfile:f "
	ns_umount "$R/mnt"

	# The override, not the file's real mode, is what the next mount shows.
	as_nsuser chmod 644 "$R/upper/a"
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	eq "$(in_ns stat -c '%a %u:%g' "$R/mnt/a" "$R/mnt/newdir" | tr '\n' ' ')" "600 0:0 750 0:0 "
	eq "$(in_ns cat "$R/mnt/a")" "lower a
more"
	eq "$(in_ns ls -A "$R/mnt" | tr '\n' ' ')" "a b basefile d newdir rootfile "
	ns_umount "$R/mnt"

	# The kernel's overlayfs (as root, with userxattr, since an unprivileged
	# daemon writes user.overlay.*) reads the upper the same way, when the
	# whiteouts are the kernel's kind.
	[ "$wh" = "character device 0:0" ] || return 0
	mkdir "$T/kovl"
	kovl_mount "lowerdir=$R/upper:$LOWERS,userxattr" "$T/kovl"
	eq "$(tree "$T/kovl")" "$view"
	eq "$(cat "$T/kovl/a")" "lower a
more"
	kovl_umount "$T/kovl"
}

# need_subids: skip unless $NSUSER can map its subordinate ids
# (unshare -r --map-auto: ns id N >= 1 is the range's N-th id)
need_subids() {
	awk -F: -v u="$NSUSER" '$1 == u { f = 1 } END { exit !f }' /etc/subuid /etc/subgid ||
		skip "$NSUSER has no subordinate ids"
	command -v newuidmap >/dev/null || skip "needs newuidmap (uidmap)"
	unshare --help | grep -q -- --map-auto || skip "unshare has no --map-auto (util-linux < 2.38)"
}

@test "rootless: a subordinate id range (newuidmap): chown is stored on disk" {
	need_subids
	local feat subu subg
	feat=$(as_nsuser unshare -r --map-auto "$LAYERFS" features "$R/work")
	eq "$(feature ownership "$feat")" "chown on disk"
	mkdir -m 1777 "$R/lower/pub"
	ns_mount -rm --map-auto -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	# ns id N >= 1 is host id SUB + N - 1
	subu=$(awk '$1 == 1 { print $2 }' "/proc/$NS_PID/uid_map")
	subg=$(awk '$1 == 1 { print $2 }' "/proc/$NS_PID/gid_map")
	[ -n "$subu" ] && [ -n "$subg" ] || fail "no range at id 1: $(cat "/proc/$NS_PID/uid_map")"

	in_ns chown 5:6 "$R/mnt/a"
	eq "$(in_ns stat -c '%u:%g' "$R/mnt/a")" "5:6"
	eq "$(stat -c '%u:%g' "$R/upper/a")" "$((subu + 4)):$((subg + 5))"
	run ! getfattr --absolute-names -n user.containers.override_stat "$R/upper/a"
	run ! getfattr --absolute-names -n user.containers.override_stat "$R/upper"
	# an id outside the namespace's map
	run ! in_ns chown 70000 "$R/mnt/b"
	[[ "$output" == *"Invalid argument"* ]] || fail "chown 70000: $output"
	# new objects belong to their creator
	in_ns setpriv --reuid=7 --regid=8 --clear-groups sh -c "cd '$R/mnt/pub' && : >f && mkdir d"
	eq "$(in_ns stat -c '%u:%g' "$R/mnt/pub/f" "$R/mnt/pub/d" | tr '\n' ' ')" "7:8 7:8 "
	eq "$(stat -c '%u:%g' "$R/upper/pub/f" "$R/upper/pub/d" | tr '\n' ' ')" \
		"$((subu + 6)):$((subg + 7)) $((subu + 6)):$((subg + 7)) "
	ns_umount "$R/mnt"
}

@test "rootless: the daemon keeps only the capabilities it needs" {
	need_cmd capsh
	# as root: the eight kept ones, dropped from the bounding set too
	echo x >"$L1/f"
	mkdir "$L1/d"
	touch "$L1/d/x"
	mount_layerfs
	eq "$(caps_of "$DAEMON_PID")" "$KEPT_CAPS $KEPT_CAPS $KEPT_CAPS" \
		"CapPrm CapEff CapBnd of the root daemon ($(cap_names "$(caps_of "$DAEMON_PID" | cut -d' ' -f2)"))"
	# and they are enough for what a root mount writes: device whiteouts,
	# trusted.* opaque markers, other owners
	rm "$M/f"
	eq "$(stat -c '%F %t:%T' "$U/f")" "character special file 0:0"
	rm -r "$M/d"
	mkdir "$M/d"
	eq "$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$U/d")" y
	touch "$M/mine"
	chown 1234:5678 "$M/mine"
	eq "$(stat -c %u:%g "$U/mine")" 1234:5678
	unmount_layerfs

	# as the root of a user namespace: the same, relative to it
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	eq "$(caps_of "$NS_PID")" "$KEPT_CAPS $KEPT_CAPS $KEPT_CAPS"
	ns_umount "$R/mnt"
}

@test "rootless: a plain user mounts through fusermount3, no namespace" {
	local pid
	user_mount ""
	is_mounted "$R/mnt" || fail "not mounted"
	eq "$(awk '/^Uid/ { print $2 }' "/proc/$pid/status")" "$NS_UID"
	eq "$(caps_of "$pid")" "0000000000000000 0000000000000000 $(awk '/^CapBnd/ { print $2 }' /proc/self/status)" \
		"CapPrm CapEff CapBnd of an unprivileged daemon"

	eq "$(as_nsuser stat -c '%u:%g' "$R/mnt/a")" "$NS_UID:$NS_GID"
	as_nsuser sh -c "echo more >>'$R/mnt/a'"
	as_nsuser rm "$R/mnt/gone"
	user_can_mknod_whiteout && eq "$(stat -c '%F %t:%T' "$R/upper/gone")" "character special file 0:0" ||
		eq "$(stat -c %F "$R/upper/.wh.gone")" "regular empty file"
	as_nsuser chmod 600 "$R/mnt/b"
	eq "$(getfattr --absolute-names --only-values -n user.containers.override_stat "$R/upper/b")" "$NS_UID:$NS_GID:0600"
	run ! as_nsuser chown root "$R/mnt/b"
	[[ "$output" == *"Operation not permitted"* ]] || fail "chown to root: $output"
	# a directory's real mode follows a chmod, but keeps the owner's
	# bits the daemon needs to walk it
	as_nsuser chmod 000 "$R/mnt/d"
	eq "$(as_nsuser stat -c %a "$R/mnt/d") $(stat -c %a "$R/upper/d")" "0 700"
	as_nsuser chmod 750 "$R/mnt/d"
	eq "$(as_nsuser stat -c %a "$R/mnt/d") $(stat -c %a "$R/upper/d")" "750 750"
	eq "$(as_nsuser ls -A "$R/mnt" | tr '\n' ' ')" "a b basefile d empty rootfile "

	user_umount

	# a flag it cannot set that protects something fails the mount
	run ! as_nsuser "$LAYERFS" -o "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work,nosymfollow" "$R/mnt" 3>&-
	[[ "$output" == *"nosymfollow"* ]] || fail "no message naming nosymfollow: $output"
	! is_mounted "$R/mnt" || fail "mounted without nosymfollow"
	# the access-time ones change nothing the daemon does not do itself
	user_mount ",relatime,nodiratime"
	user_umount
}

@test "rootless: noopen is the default in unshare -Urm: reads, copy-up at the first write, O_TRUNC, files of unmapped owners; noopen=0 copies up at the open" {
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	eq "$(in_ns cat "$R/mnt/a" "$R/mnt/rootfile" "$R/mnt/basefile" | tr '\n' ' ')" "lower a root's base "
	in_ns sh -c "exec 5>>'$R/mnt/a'"
	[ ! -e "$R/upper/a" ] || fail "an open for writing copied up"
	in_ns sh -c "echo more >>'$R/mnt/a'"
	eq "$(cat "$R/upper/a")" "lower a
more"
	eq "$(stat -c '%u:%g' "$R/upper/a")" "$NS_UID:$NS_GID" "the user owns the copy"
	in_ns sh -c "echo new >'$R/mnt/b'"
	eq "$(cat "$R/upper/b")" new "O_TRUNC of a lower file"
	eq "$(cat "$R/lower/b")" "lower b"
	ns_umount "$R/mnt"

	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work,noopen=0" "$R/mnt"
	[ ! -e "$R/upper/basefile" ] || fail "basefile in the upper before the test"
	in_ns sh -c "exec 5>>'$R/mnt/basefile'"
	[ -e "$R/upper/basefile" ] || fail "noopen=0: an open for writing copied nothing up"
	ns_umount "$R/mnt"
}

@test "rootless: a plain user: noopen says it is off and opens are sent; files and directories made 0444/0555 take their owner xattr and writes" {
	local pid
	as_nsuser "$LAYERFS" -f -o "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work,noopen" "$R/mnt" \
		2>"$T/daemon.err" 3>&- &
	wait_until 10 is_mounted "$R/mnt" || fail "not mounted: $(cat "$T/daemon.err")"
	pid=$(find_daemon_pid "$R/mnt") || fail "no daemon"
	echo "fuse $pid $R/mnt" >>"$MOUNTS_FILE"
	as_nsuser python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
os.fchmod(fd, 0o444)
os.write(fd, b"object data")
os.fsync(fd)
os.close(fd)' "$R/mnt/obj"
	eq "$(cat "$R/upper/obj")" "object data" "writes after an fchmod 0444 through the creating descriptor"
	# as git makes its objects: created 0444, written through the
	# creating descriptor (the owner lives in an xattr here)
	as_nsuser python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o444)
os.write(fd, b"git object")
os.close(fd)' "$R/mnt/obj2"
	eq "$(cat "$R/upper/obj2")" "git object"
	eq "$(as_nsuser stat -c %a "$R/mnt/obj2")" 444 "mode shown"
	eq "$(getfattr --absolute-names --only-values -n user.containers.override_stat "$R/upper/obj2")" \
		"$NS_UID:$NS_GID:0444" "owner and mode in the xattr"
	as_nsuser mkdir -m 555 "$R/mnt/rodir"
	eq "$(as_nsuser stat -c %a "$R/mnt/rodir")" 555 "a directory made 0555"
	[[ "$(cat "$T/daemon.err")" == *"noopen: the daemon cannot open files whatever their mode"* ]] ||
		fail "no message: $(cat "$T/daemon.err")"
	user_umount
}

@test "rootless: a plain user's noopen says it is off also when the daemon goes to the background" {
	local pid
	# the message was written once the kernel's INIT came, after the
	# daemon had left the terminal: the command said nothing
	user_mount ",noopen"
	[[ "$(cat "$T/daemon.err")" == *"noopen: the daemon cannot open files whatever their mode"* ]] ||
		fail "no message: $(cat "$T/daemon.err")"
	user_umount
}

@test "rootless: an append-only lower file stays append-only after its copy-up (user.overlay.protattr), as with the kernel's userxattr" {
	touch "$T/probe"
	chattr +a "$T/probe" 2>/dev/null || skip "no inode flags on the test directory's file system"
	chattr -a "$T/probe"
	echo log >"$R/lower/app"
	chown "$NSUSER:" "$R/lower/app"
	chattr +a "$R/lower/app"
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	in_ns sh -c "echo more >>'$R/mnt/app'"
	eq "$(getfattr --only-values -n user.overlay.protattr "$R/upper/app")" a
	run ! in_ns sh -c "echo over >'$R/mnt/app'"
	[[ "$output" == *"Operation not permitted"* ]] || fail "overwrite: $output"
	run ! in_ns rm -f "$R/mnt/app"
	[[ "$output" == *"Operation not permitted"* ]] || fail "rm: $output"
	in_ns sh -c "echo again >>'$R/mnt/app'"
	eq "$(in_ns cat "$R/mnt/app")" "log
more
again"
	ns_umount "$R/mnt"
	chattr -a "$R/lower/app"
}

@test "rootless: unshare -Urm: xattr_permissions=1 (security.*, refused in a user namespace) fails the mount with a message; =2 mounts" {
	run ! as_nsuser unshare -Urm "$LAYERFS" -o "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work,xattr_permissions=1,detach_unseen=0" "$R/mnt"
	[[ "$output" == *"xattr_permissions=1: cannot write security.fuseoverlayfs.override_stat in workdir"*"Operation not permitted"* ]] ||
		fail "no message: $output"
	! is_mounted "$R/mnt" || fail "mounted"
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work,xattr_permissions=2" "$R/mnt"
	in_ns chmod 700 "$R/mnt/a"
	eq "$(in_ns stat -c '%a' "$R/mnt/a")" 700
	eq "$(getfattr --absolute-names --only-values -n user.fuseoverlayfs.override_stat "$R/upper/a")" "0:0:0700"
	ns_umount "$R/mnt"
}

@test "rootless: unshare -Urm: a lower ACL naming ids the namespace does not map can be read and copied up (those entries left out)" {
	need_cmd setfacl
	setfacl -m "u:0:r,u:$NS_UID:rw,g:0:r" "$R/lower/a"
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	run -0 in_ns getfacl -npc "$R/mnt/a"
	eq "$(echo "$output" | tr '\n' ' ')" "user::rw- user:0:rw- group::r-- mask::rw- other::r-- " "getfacl"
	in_ns chmod 660 "$R/mnt/a"
	eq "$(in_ns getfacl -npc "$R/mnt/a" | grep . | tr '\n' ' ')" "user::rw- user:0:rw- group::r-- mask::rw- other::--- " "after the copy-up"
	eq "$(getfacl -npc "$R/upper/a" | grep . | tr '\n' ' ')" "user::rw- user:$NS_UID:rw- group::r-- mask::rw- other::--- " "on disk"
	ns_umount "$R/mnt"
}

@test "rootless: unshare -Urm: O_TMPFILE files are made in the upper, owned by the caller, and linked by name" {
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	run -0 in_ns "$FSOPS" tmpfile "$R/mnt/d" 0640 "made " "$R/mnt/d/t" linked
	eq "$output" "nlink=0 mode=0640 uid=0 gid=0
linked nlink=1"
	eq "$(in_ns stat -c '%u:%g %a %h' "$R/mnt/d/t")" "0:0 640 1"
	eq "$(in_ns cat "$R/mnt/d/t")" "made linked"
	eq "$(cat "$R/upper/d/t")" "made linked" "on disk"
	eq "$(stat -c '%u:%g' "$R/upper/d/t")" "$NS_UID:$NS_GID" "the user owns the file"
	ns_umount "$R/mnt"
}

@test "rootless: a subordinate id range: a file capability and the set-user-ID bit survive writes the kernel sends from its page cache (writeback cache); write(2) drops them" {
	need_subids
	head -c 8192 /dev/urandom >"$R/lower/low"
	chown "$NSUSER:" "$R/lower/low"
	# set in a namespace of the user's: stored with the user as its root
	as_nsuser unshare -Ur python3 -c 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0))' "$R/lower/low"
	head -c 8192 /dev/urandom >"$R/lower/setid"
	chown "$NSUSER:" "$R/lower/setid"
	chmod 4755 "$R/lower/setid"
	ns_mount -rm --map-auto -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	# as the kernel's overlay with userxattr gives it in the namespace: a
	# mapped store keeps the set-user-ID bit, the namespace's root's
	# write(2) drops it
	eq "$(in_ns python3 "$SCRIPTS/capwrite.py" "$R/mnt" "$R/upper")" "cap cap none none 4755 755"
	ns_umount "$R/mnt"
}

@test "rootless: unshare -Urm: a copy-up fails with EOVERFLOW where a file capability names a root id the namespace does not map (the copy would lose it), as on the kernel's overlay; a capability it can read is copied" {
	local cap
	# v3 capabilities (cap_net_raw): rootid 100, unmapped in the
	# user's namespace, and the user as the namespace's root
	for f in far own; do
		printf x >"$R/lower/$f"
		chown "$NSUSER:" "$R/lower/$f"
		chmod 755 "$R/lower/$f"
	done
	setfattr -n security.capability -v 0x010000030020000000000000000000000000000064000000 "$R/lower/far"
	as_nsuser unshare -Ur python3 -c 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0))' "$R/lower/own"
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	run in_ns chmod 700 "$R/mnt/far"
	[ "$status" -ne 0 ] || fail "chmod of far succeeded"
	[[ $output == *"Value too large"* ]] || fail "chmod of far: $output"
	[ ! -e "$R/upper/far" ] || fail "far was copied up"
	eq "$(in_ns stat -c %a "$R/mnt/far")" 755
	in_ns chmod 700 "$R/mnt/own"
	cap=$(in_ns getfattr -e hex -n security.capability "$R/mnt/own" | sed -n 's/^security.capability=//p')
	[ -n "$cap" ] || fail "own lost its capability in the copy-up"
	eq "$(stat -c %a "$R/upper/own")" 700
	ns_umount "$R/mnt"
}

@test "rootless: unshare -Urm: reading lower files and directories, and copying them up, leaves their access times alone" {
	local p
	echo f >"$R/lower/af"
	echo g >"$R/lower/ag"
	chown "$NSUSER:" "$R/lower/af" "$R/lower/ag"
	for p in "$R/lower/af" "$R/lower/ag" "$R/lower/d"; do
		touch -d @1000000000 "$p"
	done
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work" "$R/mnt"
	in_ns cat "$R/mnt/af" >/dev/null
	in_ns ls -l "$R/mnt/d" >/dev/null
	in_ns chmod 600 "$R/mnt/ag"
	ns_umount "$R/mnt"
	eq "$(stat -c %X "$R/lower/af" "$R/lower/ag" "$R/lower/d" | sort -u)" 1000000000
}

# tests/tools/difffuzz.py as rootless podman runs: root of a user
# namespace with subordinate ids, layerfs with its defaults there (noopen,
# the writeback cache, user.* xattrs), the kernel's overlayfs with
# userxattr beside it; each result and the merged view must match
@test "rootless: random operations in a user namespace give the results of the kernel's overlayfs with userxattr" {
	need_subids
	local seed
	cp "$SCRIPTS/difffuzz.py" "$SCRIPTS/fuzzops.py" "$R/"
	for seed in $(seq 1 8); do
		as_nsuser unshare -rm --map-auto python3 "$R/difffuzz.py" --userns \
			--layerfs "$LAYERFS" --dir "$R/fuzz$seed" --seed "$seed" --ops 400 \
			>"$T/fuzz.out" 2>&1 || fail "$(cat "$T/fuzz.out")"
	done
}

# mountwatch.c looks every 5 s and detaches after 4 looks without a viewer
@test "rootless: a mount whose namespace has no other process left is detached and its daemon exits (as a kernel overlay goes with its namespace); not while another namespace holds it, nor with detach_unseen=0" {
	local opts a a2 b c d
	mkdir -p "$R/up2" "$R/wk2" "$R/up3" "$R/wk3" "$R/up4" "$R/wk4" "$R/up5" "$R/wk5" \
		"$R/m2" "$R/m3" "$R/m4" "$R/m5"
	chown "$NSUSER:" "$R/up2" "$R/wk2" "$R/up3" "$R/wk3" "$R/up5" "$R/wk5" "$R/m2" "$R/m3" "$R/m5"
	opts="lowerdir=$LOWERS,upperdir=$R/upper,workdir=$R/work"
	# a and a2: the shell that mounted both writes a file and exits (the
	# two daemons see each other's mounts)
	as_nsuser unshare -Urm sh -c '"$0" -o "$1" "$2" && "$0" -o "$3" "$4" && echo kept >"$2/new"' \
		"$LAYERFS" "$opts" "$R/mnt" "lowerdir=$LOWERS,upperdir=$R/up5,workdir=$R/wk5" "$R/m5" 3>&-
	a=$(find_daemon_pid "$R/mnt") || fail "no daemon for a"
	echo "$a $R/mnt" >>"$NS_DAEMONS"
	a2=$(find_daemon_pid "$R/m5") || fail "no daemon for a2"
	echo "$a2 $R/m5" >>"$NS_DAEMONS"
	# b: a namespace made from it after the mount reads a file 30 s later
	as_nsuser unshare -Urm sh -c '"$0" -o "$1" "$2" &&
		{ unshare -m sh -c "sleep 30; cat \"\$0/a\" >\"\$1\" 2>&1" "$2" "$3" & }' \
		"$LAYERFS" "lowerdir=$LOWERS,upperdir=$R/up2,workdir=$R/wk2" "$R/m2" "$R/b.out" 3>&- >/dev/null 2>&1
	b=$(find_daemon_pid "$R/m2") || fail "no daemon for b"
	echo "$b $R/m2" >>"$NS_DAEMONS"
	# c: kept for nsenter
	ns_mount -Urm -- "lowerdir=$LOWERS,upperdir=$R/up3,workdir=$R/wk3" "$R/m3"
	c=$NS_PID
	# d: root, in a mount namespace of its own
	unshare -m sh -c '"$0" -o "$1" "$2"' "$LAYERFS" \
		"lowerdir=$LOWERS,upperdir=$R/up4,workdir=$R/wk4" "$R/m4" 3>&-
	d=$(find_daemon_pid "$R/m4") || fail "no daemon for d"
	echo "$d $R/m4" >>"$NS_DAEMONS"
	wait_until 40 _pid_gone "$a" || fail "daemon a still runs"
	wait_until 10 _pid_gone "$a2" || fail "daemon a2 still runs"
	eq "$(cat "$R/upper/new")" kept "what a wrote"
	wait_until 10 _pid_gone "$d" || fail "daemon d (root) still runs"
	pid_alive "$b" || fail "daemon b went while another namespace held its mount"
	pid_alive "$c" || fail "daemon c went with detach_unseen=0"
	wait_until 60 _pid_gone "$b" || fail "daemon b still runs after the other namespace went"
	eq "$(cat "$R/b.out")" "lower a" "what b's other namespace read at 30 s"
	pid_alive "$c" || fail "daemon c went with detach_unseen=0"
	ns_umount "$R/m3"
}

