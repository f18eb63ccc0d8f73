#!/usr/bin/env bats
# A killed daemon: stale staging entries, interrupted copy-ups, remounts.

load helpers

# a staged file with data: named somewhere under the work dir, or an
# unnamed one (O_TMPFILE) there that the daemon holds open (its links
# name paths below the root the daemon moved to)
staging_has_data() {
	[ -n "$(find "$W" -mindepth 2 -type f -size +0 2>/dev/null | head -n 1)" ] && return 0
	local fd
	for fd in $(find /proc/"$DAEMON_PID"/fd -maxdepth 1 -lname "*/layerfs/#* (deleted)" 2>/dev/null); do
		[ "$(stat -L -c %s "$fd" 2>/dev/null || echo 0)" -gt 0 ] && return 0
	done
	return 1
}

no_entries_below() { # DIR MINDEPTH
	[ -z "$(find "$1" -mindepth "$2" 2>/dev/null)" ]
}

kill_daemon() {
	kill -9 "$DAEMON_PID"
	wait_until 20 _pid_gone "$DAEMON_PID" || fail "daemon survived kill -9"
	forget_mount "$M"
}

@test "crash: stale entries in WORKDIR/layerfs are cleaned at the next mount" {
	need_root
	mkdir -p "$W/layerfs/stale_dir/sub/deeper" "$W/layerfs/locked"
	echo junk >"$W/layerfs/stale_file"
	echo junk >"$W/layerfs/stale_dir/sub/deeper/f"
	mknod "$W/layerfs/wh" c 0 0
	ln -s / "$W/layerfs/rootlink"
	touch "$W/layerfs/locked/f"
	chmod 000 "$W/layerfs/locked"
	setfattr -n trusted.overlay.opaque -v y "$W/layerfs/stale_dir"
	echo x >"$L1/f"
	mount_layerfs
	wait_until 10 no_entries_below "$W/layerfs" 1 || fail "stale entries left: $(ls -A "$W/layerfs")"
	eq "$(cat "$M/f")" x
	eq "$(names "$M")" f "stale entries never show in the mount"
	[ -e /etc/passwd ] || fail "the cleanup followed a symlink"
}

@test "crash: a daemon killed by SIGKILL leaves the mount dead; a remount works" {
	echo x >"$L1/f"
	mount_layerfs
	echo y >"$M/g"
	kill_daemon
	mount_layerfs
	eq "$(cat "$M/f") $(cat "$M/g")" "x y"
	eq "$(find "$W" -mindepth 2)" ""
}

# kill_during_copyup WHEN: WHEN is "first" (as soon as staged data exists)
# or a number of 1/20 s to wait after that
kill_during_copyup() {
	local when=$1 size=$((512 * 1024 * 1024)) sum i
	"$FSOPS" fill "$L1/big" "$size" 11
	sum=$(sha "$L1/big")
	mount_layerfs
	spawn "$FSOPS" append "$M/big" "APPENDED"
	local p=$BG_PID
	wait_until 60 staging_has_data || echo "# no staged data seen before the kill" >&3
	if [ "$when" != first ]; then
		for ((i = 0; i < when; i++)); do sleep 0.05; done
	fi
	if ! pid_alive "$p"; then
		echo "# the copy-up finished before the kill" >&3
	fi
	kill_daemon
	wait "$p" 2>/dev/null || true
	# the copy was an unnamed file: the kernel freed it with the daemon
	eq "$(find "$W/layerfs" -mindepth 1)" "" "a killed copy-up left its copy in the work dir"
	mount_layerfs
	local sz
	sz=$(stat -c %s "$M/big")
	case $sz in
	"$size")
		eq "$(sha "$M/big")" "$sum" "old content after the crash"
		;;
	$((size + 8)))
		eq "$(head -c "$size" "$M/big" | sha256sum | cut -d' ' -f1)" "$sum" "new content: data"
		eq "$(tail -c 8 "$M/big")" APPENDED
		;;
	*)
		fail "partial file in the merged view: size $sz (want $size or $((size + 8)))"
		;;
	esac
	if [ -e "$U/big" ]; then
		sz=$(stat -c %s "$U/big")
		[ "$sz" = "$size" ] || [ "$sz" = $((size + 8)) ] || fail "partial upper file: $sz"
	fi
	wait_until 10 no_entries_below "$W" 2 || fail "staging leftovers: $(find "$W" -mindepth 2)"
}

@test "crash: kill -9 right at the start of a big copy-up: nothing left in the work dir, no partial file after remount" {
	kill_during_copyup first
}

@test "crash: kill -9 in the middle of a big copy-up: nothing left in the work dir, no partial file after remount" {
	kill_during_copyup 6
}

@test "crash: kill -9 during the copy-up of a renamed directory: old or new, complete" {
	mkdir -p "$L1/d"
	local i
	for i in $(seq 1 20); do "$FSOPS" fill "$L1/d/f$i" 8000000 "$i"; done
	(cd "$L1/d" && sha256sum f* >"$T/sums")
	mount_layerfs
	spawn mv "$M/d" "$M/e"
	wait_until 60 staging_has_data || true
	sleep 0.2
	kill_daemon
	mount_layerfs
	local names_now
	names_now=$(names "$M")
	case "$names_now" in
	d) (cd "$M/d" && sha256sum -c --quiet "$T/sums") || fail "old d incomplete" ;;
	e) (cd "$M/e" && sha256sum -c --quiet "$T/sums") || fail "new e incomplete" ;;
	"d e")
		# mv fell back to copy + delete (EXDEV): d must still be whole
		(cd "$M/d" && sha256sum -c --quiet "$T/sums") || fail "d incomplete while e exists"
		;;
	*) fail "unexpected top level after the crash: $names_now" ;;
	esac
	wait_until 10 no_entries_below "$W" 2 || fail "staging leftovers: $(find "$W" -mindepth 2)"
}

@test "crash: the daemon stays alive through a mixed workload" {
	mkdir -p "$L1/d/sub" "$L2/d/other"
	echo x >"$L1/d/f"
	mount_layerfs
	local pid=$DAEMON_PID
	cp -a /usr/share/doc/bash "$M/d/" 2>/dev/null || cp -a /etc/default "$M/d/"
	rm -rf "$M/d/sub"
	mv "$M/d" "$M/e"
	ln -s e "$M/link"
	ls -laR "$M" >/dev/null
	find "$M" -type f -exec cat {} + >/dev/null
	rm -rf "$M/e"
	pid_alive "$pid" || fail "daemon died"
	eq "$(names "$M")" link
}
