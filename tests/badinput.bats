#!/usr/bin/env bats
# Bad input: a message naming the offending path, a non-zero exit status,
# nothing mounted and nothing created on disk.

load helpers

# try_mount OPTIONS [MOUNTPOINT]: run the daemon, expecting it to fail.
# Sets status and err (its stderr).
try_mount() {
	local opts=$1 mnt=${2:-$M}
	status=0
	timeout -k 5 60 "$LAYERFS" -o "$opts" "$mnt" >"$T/try.out" 2>"$T/try.err" 3>&- || status=$?
	err=$(cat "$T/try.err" "$T/try.out")
	if is_mounted "$mnt"; then
		# record it so that teardown cleans up, then fail
		echo "fuse $(find_daemon_pid "$mnt" || echo 0) $mnt" >>"$MOUNTS_FILE"
	fi
}

# refused PATH: the last try failed, named PATH, and left nothing behind
refused() {
	local path=$1 mnt=${2:-$M}
	[ "$status" -ne 0 ] || fail "exit status 0 for bad input (stderr: $err)"
	[ "$status" -ne 124 ] || fail "the daemon hung on bad input"
	[[ "$err" == *"$path"* ]] || fail "stderr does not name $path: $err"
	! is_mounted "$mnt" || fail "$mnt was mounted"
	[ -z "$(find_daemon_pid "$mnt")" ] || fail "a daemon is still running for $mnt"
	eq "$(find "$W" -mindepth 1 2>/dev/null)" "" "work dir not empty"
	eq "$(find "$U" -mindepth 1 2>/dev/null)" "" "upper dir not empty"
}

@test "badinput: missing lowerdir" {
	try_mount "lowerdir=$T/nope:$L2,upperdir=$U,workdir=$W"
	refused "$T/nope"
	try_mount "lowerdir=$L1:$T/nope2,upperdir=$U,workdir=$W"
	refused "$T/nope2"
}

@test "badinput: lowerdir that is not a directory" {
	echo x >"$T/file"
	try_mount "lowerdir=$T/file,upperdir=$U,workdir=$W"
	refused "$T/file"
}

@test "badinput: no lowerdir, empty lowerdir, empty layer in the list" {
	try_mount "upperdir=$U,workdir=$W"
	[ "$status" -ne 0 ] || fail "mounted without lowerdir"
	[[ "$err" == *lowerdir* ]] || fail "message does not mention lowerdir: $err"
	! is_mounted "$M" || fail "$M is still mounted"
	try_mount "lowerdir=,upperdir=$U,workdir=$W"
	[ "$status" -ne 0 ] || fail "mounted with an empty lowerdir"
	! is_mounted "$M" || fail "$M is still mounted"
	eq "$(find "$W" -mindepth 1)" ""
}

@test "badinput: data-only layers ('::', datadir+=) and lowerdir+= after lowerdir= are refused" {
	try_mount "lowerdir=$L1::$L2,upperdir=$U,workdir=$W"
	refused "lowerdir '$L1::$L2': '::' marks data-only layers"
	try_mount "lowerdir+=$L1,datadir+=$L2,upperdir=$U,workdir=$W"
	refused "option 'datadir+=$L2': data-only layers"
	try_mount "lowerdir=$L1,lowerdir+=$L2,upperdir=$U,workdir=$W"
	refused "option 'lowerdir+=$L2' cannot follow lowerdir="
}

@test "badinput: unreadable lowerdir (unprivileged daemon)" {
	need_root
	command -v fusermount3 >/dev/null && [ -u "$(command -v fusermount3)" ] ||
		skip "fusermount3 is not setuid: unprivileged mounts impossible"
	[ -w /dev/fuse ] || skip "no /dev/fuse"
	local nu ng
	nu=$(id -u nobody) && ng=$(id -g nobody) || skip "no user nobody (fusermount3 needs a user name)"
	make_traversable
	need_user_exec "$nu" "$ng" "$LAYERFS"
	chown "$nu:$ng" "$L2" "$U" "$W" "$M"
	chmod 000 "$L1"
	chown "$nu:$ng" "$L1"
	local rc=0
	as_user "$nu" "$ng" timeout -k 5 60 "$LAYERFS" -o "lowerdir=$L1:$L2,upperdir=$U,workdir=$W" "$M" \
		>"$T/try.out" 2>"$T/try.err" 3>&- || rc=$?
	err=$(cat "$T/try.err")
	if is_mounted "$M"; then
		echo "fuse $(find_daemon_pid "$M" || echo 0) $M" >>"$MOUNTS_FILE"
	fi
	status=$rc
	refused "$L1"
}

@test "badinput: missing or non-directory upperdir" {
	try_mount "lowerdir=$L1,upperdir=$T/noupper,workdir=$W"
	refused "$T/noupper"
	echo x >"$T/upfile"
	try_mount "lowerdir=$L1,upperdir=$T/upfile,workdir=$W"
	refused "$T/upfile"
}

@test "badinput: missing workdir" {
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$T/nowork"
	refused "$T/nowork"
	[ ! -e "$T/nowork" ] || fail "workdir was created"
}

@test "badinput: upperdir without workdir" {
	try_mount "lowerdir=$L1,upperdir=$U"
	[ "$status" -ne 0 ] || fail "mounted an upperdir without workdir"
	[[ "$err" == *workdir* ]] || fail "message does not mention workdir: $err"
	! is_mounted "$M" || fail "$M is still mounted"
	eq "$(find "$U" -mindepth 1)" ""
}

@test "badinput: workdir on another file system than upperdir" {
	need_root
	mkdir -p "$T/otherfs"
	mount -t tmpfs -o size=8m tmpfs "$T/otherfs"
	record_mount "$T/otherfs"
	mkdir "$T/otherfs/work"
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$T/otherfs/work"
	refused "$T/otherfs/work"
	eq "$(find "$T/otherfs/work" -mindepth 1)" "" "the other work dir stays empty"
}

@test "badinput: upperdir inside a lower layer, and a lower layer inside the upper" {
	mkdir -p "$L1/nested/up" "$L1/nested/work"
	try_mount "lowerdir=$L1,upperdir=$L1/nested/up,workdir=$L1/nested/work"
	[ "$status" -ne 0 ] || fail "accepted an upperdir inside a lower layer"
	[[ "$err" == *"$L1"* ]] || fail "message does not name the paths: $err"
	! is_mounted "$M" || fail "$M is still mounted"
	eq "$(find "$L1/nested" -mindepth 2)" ""
	mkdir -p "$U/low"
	touch "$U/low/f"
	try_mount "lowerdir=$U/low,upperdir=$U,workdir=$W"
	[ "$status" -ne 0 ] || fail "accepted a lower layer inside the upperdir"
	[[ "$err" == *"$U"* ]] || fail "message does not name the paths: $err"
	! is_mounted "$M" || fail "$M is still mounted"
	eq "$(find "$W" -mindepth 1)" ""
	# the same directory as lower and upper
	try_mount "lowerdir=$L2,upperdir=$L2,workdir=$W"
	[ "$status" -ne 0 ] || fail "accepted the same dir as lower and upper"
	! is_mounted "$M" || fail "$M is still mounted"
}

@test "badinput: a lower layer inside another lower layer (either order), as the kernel's overlay refuses" {
	mkdir -p "$L1/sub/d"
	try_mount "lowerdir=$L1:$L1/sub,upperdir=$U,workdir=$W"
	[ "$status" -ne 0 ] || fail "accepted a lower layer inside another"
	[[ "$err" == *"lowerdir '$L1/sub' is inside lowerdir '$L1'"* ]] || fail "message: $err"
	! is_mounted "$M" || fail "$M is still mounted"
	try_mount "lowerdir=$L1/sub:$L2:$L1"
	[ "$status" -ne 0 ] || fail "accepted a lower layer inside a later one"
	[[ "$err" == *"lowerdir '$L1/sub' is inside lowerdir '$L1'"* ]] || fail "message: $err"
	! is_mounted "$M" || fail "$M is still mounted"
	eq "$(find "$U" "$W" -mindepth 1)" ""
}

@test "badinput: bind mounts hide no overlap: a lower layer bound elsewhere listed again, a directory bound out of a layer, an upper that is a layer bound elsewhere, a work dir on another mount of the upper's file system, as the kernel's overlay refuses" {
	need_root
	mkdir -p "$L1/sub" "$T/b1" "$T/bsub" "$T/wsrc" "$T/wbind"
	mount --bind "$L1" "$T/b1" && record_mount "$T/b1"
	mount --bind "$L1/sub" "$T/bsub" && record_mount "$T/bsub"
	mount --bind "$T/wsrc" "$T/wbind" && record_mount "$T/wbind"
	try_mount "lowerdir=$L1:$L2:$T/b1"
	refused "lowerdir '$T/b1' is listed twice (also as '$L1')"
	try_mount "lowerdir=$L1:$T/bsub"
	refused "lowerdir '$T/bsub' is inside lowerdir '$L1'"
	try_mount "lowerdir=$L1,upperdir=$T/b1,workdir=$W"
	refused "upperdir '$T/b1' is inside lowerdir '$L1'"
	eq "$(ls -A "$L1")" sub "the lower layer is untouched"
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$T/wbind"
	refused "workdir '$T/wbind' and upperdir '$U' are on different mounts"
	# the same directories by their own paths mount
	mount_layerfs
	unmount_layerfs
}

@test "badinput: uidmapping= and gidmapping= ranges of no ids, or sharing ids with an earlier range (on disk or as shown), are refused, as in a stack file" {
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,uidmapping=0:1000:0"
	refused "option 'uidmapping=0:1000:0': range 0:1000:0 maps no ids"
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,gidmapping=0:1000:10:5:2000:10"
	refused "option 'gidmapping=0:1000:10:5:2000:10': range 5:2000:10 shares ids with an earlier range"
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,uidmapping=0:1000:10:100:1005:3"
	refused "range 100:1005:3 shares ids with an earlier range"
}

@test "badinput: a subtype= other than layerfs is refused (layerfs finds its mounts by their type); subtype=layerfs, what mount.fuse3 passes, mounts" {
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,subtype=foo"
	refused "option 'subtype=foo': layerfs finds its mounts by their type, fuse.layerfs"
	mount_layerfs "subtype=layerfs"
	unmount_layerfs
}

@test "badinput: nonexistent mount point" {
	try_mount "lowerdir=$L1,upperdir=$U,workdir=$W" "$T/nomnt"
	refused "$T/nomnt" "$T/nomnt"
	[ ! -e "$T/nomnt" ] || fail "mount point was created"
}

@test "badinput: missing mount point argument and unknown command line flags" {
	status=0
	timeout 30 "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$W" >"$T/o" 2>"$T/e" 3>&- || status=$?
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "no mount point: status $status"
	[ -s "$T/e" ] || fail "no message for a missing mount point"
	eq "$(find "$W" -mindepth 1)" ""
	status=0
	timeout 30 "$LAYERFS" --no-such-flag -o "lowerdir=$L1" "$M" >"$T/o" 2>"$T/e" 3>&- || status=$?
	if is_mounted "$M"; then
		echo "fuse $(find_daemon_pid "$M" || echo 0) $M" >>"$MOUNTS_FILE"
		fail "mounted with an unknown flag"
	fi
	[ "$status" -ne 0 ] || fail "unknown flag accepted"
}

@test "badinput: max_read= that is not a 32-bit count" {
	local v
	for v in abc 0 -5 99999999999 12k ""; do
		try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,max_read=$v"
		refused "max_read=$v"
		[[ "$err" == *"expected a number"* ]] || fail "no reason given: $err"
	done
}

@test "badinput: blksize= and blkdev, fuseblk's options, are ignored with a warning" {
	local o
	echo x >"$L1/f"
	# the kernel refuses blksize= on a FUSE mount of no block device and
	# blkdev wants SOURCE to be one: the mount failed, naming neither
	for o in blksize=4096 blkdev; do
		try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,$o"
		[ "$status" -eq 0 ] || fail "$o: status $status: $err"
		[[ "$err" == *"option '$o' is for FUSE mounts of a block device only; ignored"* ]] ||
			fail "$o: no warning: $err"
		eq "$(cat "$M/f")" x "content with $o"
		unmount_layerfs "$M"
	done
}

@test "badinput: squash_to_uid= and squash_to_gid= that are no id name the range" {
	local opt v
	for opt in squash_to_uid squash_to_gid; do
		for v in abc -1 4294967295 99999999999 ""; do
			try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,$opt=$v"
			refused "$opt=$v"
			[[ "$err" == *"expected an id from 0 to 4294967294"* ]] || fail "no reason given: $err"
		done
	done
}

@test "badinput: timeout= that is not a finite number of seconds" {
	local v
	for v in abc -1 nan inf 1e400 ""; do
		try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,timeout=$v"
		refused "timeout=$v"
		[[ "$err" == *"expected a number of seconds"* ]] || fail "no reason given: $err"
	done
}

@test "badinput: boolean options with a value that is not 0 or 1" {
	local opt v
	for opt in fsync threaded spin idlepoll passthrough prefetch noopen writeback; do
		for v in yes 2 ""; do
			try_mount "lowerdir=$L1,upperdir=$U,workdir=$W,$opt=$v"
			refused "$opt=$v"
			[[ "$err" == *"'$opt=$v': expected $opt=0 or $opt=1"* ]] || fail "no reason given: $err"
		done
	done
}

@test "badinput: a double quote that is not closed" {
	try_mount "lowerdir=$L1,fsname=\"x,upperdir=$U,workdir=$W"
	refused 'fsname="x'
	[[ "$err" == *"a double quote is not closed"* ]] || fail "no reason given: $err"
}

@test "badinput: a mistyped command is named as one, not taken for a mount without lowerdir" {
	cd "$T"
	run "$LAYERFS" moutn stack.json
	[ "$status" -eq 1 ]
	[[ "$output" == "layerfs: unknown command 'moutn' (see layerfs --help)" ]] || fail "$output"
	# a SOURCE that exists, or the mount.fuse3 form with options, is a mount
	mkdir src
	run "$LAYERFS" src "$M"
	[[ "$output" == *"no lowerdir given"* ]] || fail "$output"
	run "$LAYERFS" tank "$M" -o ro
	[[ "$output" == *"no lowerdir given"* ]] || fail "$output"
}

@test "badinput: a good mount still works after the failed attempts" {
	try_mount "lowerdir=$T/nope,upperdir=$U,workdir=$W"
	[ "$status" -ne 0 ]
	echo x >"$L1/f"
	mount_layerfs
	eq "$(cat "$M/f")" x
}
