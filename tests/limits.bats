#!/usr/bin/env bats
# More directories than the daemon may keep open: each directory the
# kernel caches holds a descriptor per layer, and near the open-file limit
# the daemon has the kernel drop what nothing uses (FUSE_NOTIFY_PRUNE).

load helpers

# need_prune: the kernel takes FUSE_NOTIFY_PRUNE (FUSE 7.45, Linux 6.18)
need_prune() {
	local v
	v=$(uname -r | sed 's/[^0-9.].*//')
	[ "$(printf '%s\n' 6.18 "$v" | sort -V | head -n 1)" = 6.18 ] ||
		skip "Linux $v cannot be asked to forget inodes (6.18 and later can)"
}

# mount_small_limit N [OPTS]: layerfs with N open files at most, and no
# CAP_SYS_RESOURCE to raise that
mount_small_limit() {
	local n=$1
	shift
	lfs_mount_small_limit "$n" "lowerdir=$L1:$L2,upperdir=$U,workdir=$W${1:+,$1}"
}

# lfs_mount_small_limit N OPTIONS: the same with OPTIONS of the caller's
lfs_mount_small_limit() {
	local n=$1
	need_cmd setpriv prlimit
	LFS_WRAP="setpriv --bounding-set=-sys_resource prlimit --nofile=$n:$n" lfs_mount "$2" "$M"
	grep -q "^Max open files *$n *$n " "/proc/$(find_daemon_pid "$M")/limits" ||
		fail "sanity: the daemon's limit is not $n: $(grep 'open files' "/proc/$(find_daemon_pid "$M")/limits")"
}

# three hundred directories in both layers, a file in each: 600
# descriptors for the directories alone
make_wide_tree() {
	local i
	for i in $(seq 1 300); do
		mkdir -p "$L1/d$i/sub" "$L2/d$i"
		echo "a$i" >"$L1/d$i/a"
		echo "b$i" >"$L2/d$i/b"
	done
}

@test "limits: with 256 open files, walks of 300 directories in two layers see every entry, twice, and files in them can be read and written" {
	need_root
	need_prune
	make_wide_tree
	mount_small_limit 256
	run find "$M"
	[ "$status" -eq 0 ] || fail "find failed: $(grep -v '^/' <<<"$output" | head -5)"
	eq "$(grep -c . <<<"$output")" 1201
	eq "$(find "$M" -name b | wc -l)" 300
	eq "$(cat "$M/d7/a" "$M/d7/b" "$M/d300/b")" "a7
b7
b300"
	for i in 1 150 300; do
		echo "new$i" >"$M/d$i/sub/new"
	done
	run ls -lR "$M"
	[ "$status" -eq 0 ] || fail "ls -lR failed: $(grep 'cannot' <<<"$output" | head -5)"
	eq "$(cat "$M/d150/sub/new")" new150
	eq "$(cat "$U/d300/sub/new")" new300
}

@test "limits: what is in use stays while the daemon has the kernel forget the rest: an open file, a working directory, a mount point below the mount" {
	need_root
	need_prune
	make_wide_tree
	mount_small_limit 256
	mkdir -p "$T/inner"
	echo inside >"$T/inner/f"
	mount --bind "$T/inner" "$M/d20/sub"
	record_mount "$M/d20/sub"
	exec 5<"$M/d10/a"
	(cd "$M/d30" && exec sleep 30) &
	local holder=$!
	run find "$M"
	[ "$status" -eq 0 ] || fail "find failed: $(grep -v '^/' <<<"$output" | head -5)"
	run find "$M"
	[ "$status" -eq 0 ] || fail "find failed the second time"
	eq "$(cat <&5)" a10
	exec 5<&-
	eq "$(cat "/proc/$holder/cwd/b")" b30
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	mountpoint -q "$M/d20/sub" || fail "the mount below the mount went"
	eq "$(cat "$M/d20/sub/f")" inside
	umount "$M/d20/sub"
}

@test "limits: with 256 open files, two walkers, a writer and a renamer at once over 300 directories meet no error" {
	need_root
	need_prune
	make_wide_tree
	mount_small_limit 256
	local i pids=()
	(for i in 1 2; do find "$M" >/dev/null || echo "find failed"; done) >"$T/w1" 2>&1 &
	pids+=($!)
	# a file the renamer moves between ls's listing and its stat is gone,
	# on any file system; every other message is an error
	(for i in 1 2; do
		ls -lR "$M" 2>&1 >/dev/null |
			grep -Ev "/d[0-9]+/a'?: No such file or directory$"
	done) >"$T/w2" 2>&1 &
	pids+=($!)
	(for i in $(seq 1 300); do echo "$i" >"$M/d$i/w" || echo "write $i failed"; done) >"$T/w3" 2>&1 &
	pids+=($!)
	(for i in $(seq 1 150); do mv "$M/d$i/a" "$M/d$i/a2" || echo "mv $i failed"; done) >"$T/w4" 2>&1 &
	pids+=($!)
	# not a bare wait: the watchdog's sleep is a child too
	wait "${pids[@]}"
	for i in 1 2 3 4; do
		[ ! -s "$T/w$i" ] || fail "worker $i: $(head -5 "$T/w$i")"
	done
	eq "$(find "$M" -name a2 | wc -l)" 150
	eq "$(cat "$M/d1/w" "$M/d300/w")" "1
300"
	eq "$(cat "$U/d150/a2")" a150
}

# Each request thread keeps a clone of /dev/fuse and a splice pipe for as
# long as it lives, which no round frees: sixteen of them, started by a
# burst of reads, held 48 of 64 descriptors, and a path seven directories
# deep in both layers then failed with EMFILE however long it waited.
# The daemon needs a descriptor or two per layer to set up and serve; the
# detached mount trees it holds until it serves must not take them (with
# twenty layers the mount failed: EMFILE opening /dev/fuse).
@test "limits: with 64 open files, twenty lower layers mount and each one's file reads" {
	need_root
	local i lows=$L1:$L2
	echo f1 >"$L1/f1"
	echo f2 >"$L2/f2"
	for i in $(seq 3 20); do
		mkdir "$T/l$i"
		echo "f$i" >"$T/l$i/f$i"
		lows+=:$T/l$i
	done
	lfs_mount_small_limit 64 "lowerdir=$lows,upperdir=$U,workdir=$W"
	for i in $(seq 1 20); do
		eq "$(cat "$M/f$i")" "f$i"
	done
}

@test "limits: with 64 open files, after a burst of parallel reads a file seven directories deep in both layers can be read" {
	need_root
	need_prune
	local i pids=()
	for i in $(seq 1 24); do
		head -c 2M /dev/zero >"$L1/f$i"
	done
	mkdir -p "$L1/a/b/c/d/e/f" "$L2/a/b/c/d/e/f"
	echo deep >"$L1/a/b/c/d/e/f/file"
	# noopen: a file open for reading keeps no descriptor in the daemon
	mount_small_limit 64 noopen
	# direct reads: each READ reaches the daemon, side by side
	for i in $(seq 1 24); do
		dd if="$M/f$i" of=/dev/null bs=128k iflag=direct 2>"$T/dd$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || fail "read $((i + 1)) failed: $(cat "$T/dd$((i + 1))")"
	done
	run cat "$M/a/b/c/d/e/f/file"
	[ "$status" -eq 0 ] || fail "cat failed: $output (the daemon's descriptors: $(ls -l "/proc/$DAEMON_PID/fd" | awk '{print $NF}' | sed 's/:.*//' | sort | uniq -c | sort -rn | head -3 | tr -s ' \n' ' '))"
	eq "$output" deep
}

# A directory copied up keeps its lower descriptors for as long as the
# kernel holds it (a file open in it): once, not again beside the upper's
# (the copy-up dup'd them, and a directory in two layers kept five; the
# eighth copy-up here failed with EMFILE).
@test "limits: with 64 open files, eleven lower directories with a file open in each are copied up" {
	need_root
	need_prune
	local i fds=()
	for i in $(seq 1 11); do
		mkdir "$L1/d$i" "$L2/d$i"
		echo "f$i" >"$L1/d$i/f"
	done
	mount_small_limit 64 noopen
	for i in $(seq 1 11); do
		exec {fd}<"$M/d$i/f"
		fds+=("$fd")
	done
	# a write's copy-up of each file and its directory; the open files
	# keep the directories in the kernel (closed before any failure, so
	# that the mount can go)
	for i in $(seq 1 11); do
		touch "$M/d$i/f" 2>>"$T/touch" || break
	done
	for fd in "${fds[@]}"; do
		exec {fd}<&-
	done
	[ ! -s "$T/touch" ] || fail "copy-up $i: $(cat "$T/touch")"
	eq "$(cat "$U/d11/f")" f11
}

# Files open through the page cache keep a descriptor each, which no
# round frees. With as many open as the limit allowed, SIGTERM could not
# open the mount to have it written back (each file lost what it held),
# nor read the mount table, and glibc could not load libgcc_s for the
# pthread_cancel() at the end of libfuse's loop: it aborted the daemon,
# and the mount stayed, dead.
@test "limits: with 64 open files, SIGTERM with as many files open as the limit allows writes back what they hold and unmounts" {
	need_root
	local pid n
	mount_small_limit 64 passthrough=0
	pid=$DAEMON_PID
	# opens files until the daemon has no descriptor left, writes to
	# each (the kernel's writeback cache holds it), and keeps them open
	spawn python3 -c '
import os, sys, time
fds = []
for i in range(100):
	try:
		fds.append(os.open(os.path.join(sys.argv[1], "f%d" % i), os.O_WRONLY | os.O_CREAT, 0o644))
	except OSError:
		break
for fd in fds:
	os.write(fd, b"x" * 5000)
with open(sys.argv[2], "w") as f:
	f.write("%d\n" % len(fds))
while not os.path.exists(sys.argv[3]):
	time.sleep(0.05)
' "$M" "$T/written" "$T/go"
	wait_until 20 test -s "$T/written" || fail "the writer did not write"
	n=$(cat "$T/written")
	[ "$n" -gt 30 ] && [ "$n" -lt 64 ] || fail "sanity: $n files open, not the limit's worth"
	kill -TERM "$pid"
	wait_until 20 _pid_gone "$pid" || fail "daemon still running after SIGTERM"
	! is_mounted "$M" || fail "still mounted after SIGTERM"
	_forget_mount "$M"
	touch "$T/go"
	wait "$BG_PID" || true
	eq "$(cat "$U"/f* | wc -c)" $((n * 5000)) "bytes on the upper in $n files"
}

# The kernel takes a listing's entries (READDIRPLUS) one by one and stops
# at an entry a lookup is under way for, until that lookup ends; the
# nodes of the entries after it keep their descriptors meanwhile, so no
# round can free them. A lookup the listing waits for must find one left.
@test "limits: with 256 open files, a lookup that a listing of 300 directories waits for gets a descriptor" {
	need_root
	need_prune
	make_wide_tree
	mount_small_limit 256
	local first sp lp
	# the first entry the listing gives (names are served in hash order)
	first=$(ls -U "$M" | head -1)
	unmount_layerfs
	LAYERFS_TEST_PAUSE=lookup_request:$first:1500 mount_small_limit 256
	# its lookup waits 1.5 s before it opens anything; the listing's
	# reply is read meanwhile
	stat -c %n "$M/$first" >"$T/stat.out" 2>&1 &
	sp=$!
	sleep 0.3
	ls -l "$M" >"$T/ls.out" 2>"$T/ls.err" &
	lp=$!
	wait "$sp" || fail "stat of $first failed: $(cat "$T/stat.out")"
	wait "$lp" || fail "ls -l failed: $(head -5 "$T/ls.err")"
	eq "$(grep -c '^d' "$T/ls.out")" 300 "directories listed"
}

# a directory the kernel's overlay renamed (redirect_dir=on) in a layer
# made by it: the new name has a redirect to the old, which a whiteout
# hides; following a redirect opens each directory on its path
@test "limits: with 256 open files, walks of 300 renamed directories (redirects in a layer) see every entry" {
	need_root
	need_prune
	local i
	for i in $(seq 1 300); do
		mkdir -p "$L1/n$i/sub" "$L2/o$i/deeper"
		echo "a$i" >"$L1/n$i/a"
		echo "b$i" >"$L2/o$i/b"
		setfattr -n trusted.overlay.redirect -v "/o$i" "$L1/n$i"
		mknod "$L1/o$i" c 0 0
	done
	mount_small_limit 256
	for i in 1 2; do
		run find "$M"
		[ "$status" -eq 0 ] || fail "find failed: $(grep -v '^/' <<<"$output" | head -5)"
		eq "$(grep -c . <<<"$output")" 1501 "entries, walk $i"
		eq "$(grep -c '/n[0-9]*/deeper$' <<<"$output")" 300 "directories found through a redirect, walk $i"
	done
	eq "$(cat "$M/n7/a" "$M/n7/b" "$M/n300/b")" "a7
b7
b300"
	[ ! -e "$M/o7" ] || fail "the renamed directory's old name shows"
}

# descriptors daemon $DAEMON_PID holds of the directories d1, d2, ... of
# the layers, and of removed directories (which it keeps by descriptor)
held_dir_fds() {
	find "/proc/$DAEMON_PID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null |
		grep -c -e '/d[0-9]*$' -e ' (deleted)$'
}

no_dir_fds_held() {
	[ "$(held_dir_fds)" = 0 ]
}

# the kernel forgets what it does not use: a lookup of x gives it
# something to forget each time, in case the read-ahead of the listing
# ended after the FORGETs of its directories
forgotten_all_dirs() {
	stat "$M/x" >/dev/null
	echo 2 >/proc/sys/vm/drop_caches
	no_dir_fds_held
}

# A listing hands the subdirectories it names to the read-ahead threads,
# a daemon reference each; the references of those read were dropped at
# the next listing that named subdirectories only, so on a mount nobody
# listed again the directories kept their descriptors (one per layer,
# removed ones too) after the kernel had forgotten them, for good.
@test "limits: directories read ahead of a listing keep no descriptors once the kernel has forgotten them" {
	need_root
	local i
	for i in $(seq 1 40); do
		mkdir "$L1/d$i" "$L2/d$i"
	done
	echo x >"$L1/x"
	mount_layerfs
	for i in $(seq 41 45); do
		mkdir "$M/d$i"
	done
	ls -l "$M" >/dev/null
	ls -l "$M" >/dev/null
	rmdir "$M/d45" "$M/d40"
	wait_until 30 forgotten_all_dirs ||
		fail "the daemon holds $(held_dir_fds) descriptors of directories the kernel has forgotten"
	ls -l "$M" >/dev/null
	eq "$(ls "$M" | grep -c '^d')" 43
}

# rm -rf lists each directory before it removes it, and each rmdir has the
# kernel forget the directory at once: read-ahead of those listings, at
# idle priority, that ends after the last FORGET left its references to
# the next one, which a mount nobody uses does not get
@test "limits: directories removed while read-ahead reads them keep no descriptors once it is done, on a mount left alone" {
	need_root
	local i dirs=()
	for i in 1 2 3 4 5; do
		mkdir -p "$L2/t/d$i"
		dirs+=("$L2/t/d$i")
	done
	"$FSOPS" holdopens "$T/probe.ready" 0 "$L2/t" || {
		[ $? = 77 ] && skip "no fanotify permission events here"
		fail "holdopens failed"
	}
	mount_layerfs
	# the read-ahead's opens of the directories wait until rm is done
	spawn "$FSOPS" holdopens "$T/held.ready" 3 "${dirs[@]}" >"$T/held"
	wait_until 10 test -e "$T/held.ready" || fail "holdopens did not start"
	rm -rf "$M/t"
	[ ! -e "$M/t" ] || fail "t is still there"
	wait_until 10 grep -q . "$T/held" || fail "the read-ahead did not reach the directories while rm ran"
	wait_until 30 no_dir_fds_held ||
		fail "the daemon holds $(held_dir_fds) descriptors of removed directories"
}

# rss_anon PID: the daemon's anonymous resident memory, in KiB
rss_anon() {
	awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"
}

# rss_anon_below PID KIB
rss_anon_below() {
	[ "$(rss_anon "$1")" -lt "$2" ]
}

# need_plain_build: memory is measured on a build without AddressSanitizer
# (its redzones and quarantine take their own)
need_plain_build() {
	! grep -q __asan_init "$LAYERFS" ||
		skip "an --enable-sanitizers build: its allocator's memory is its own"
}

@test "limits: a node per entry the kernel holds takes under 192 bytes of the daemon's memory, and a dropped cache gives it back" {
	need_root
	need_plain_build
	# 40 directories of 1000 files in the lower layer, names of 17
	# characters (prefetch=0: read-ahead's listings stay out of it)
	python3 -c '
import os, sys
for d in range(40):
    p = os.path.join(sys.argv[1], "dir%02d" % d)
    os.mkdir(p)
    for f in range(1000):
        open(os.path.join(p, "file-%04d.txt" % f), "w").close()
' "$L1"
	mount_layerfs prefetch=0
	stat "$M" >/dev/null
	local before after freed per
	before=$(rss_anon "$DAEMON_PID")
	eq "$(find "$M" -printf '%s\n' | wc -l)" 40041
	after=$(rss_anon "$DAEMON_PID")
	# a node, its first set of objects and its name in one allocation,
	# and a hash table of one slot per node: about 170 bytes each
	# (separate allocations and half-empty slots took 215)
	per=$(( (after - before) * 1024 / 40040 ))
	[ "$per" -lt 192 ] || fail "$per bytes per entry ($before KiB before the walk, $after after)"
	# the kernel forgets the inodes: the nodes go, and most of their
	# memory goes back to the system (malloc_trim after each 4096
	# FORGETs; what is freed after the last trim may stay)
	sync
	echo 2 >/proc/sys/vm/drop_caches
	wait_until 10 rss_anon_below "$DAEMON_PID" $((before + (after - before) / 2)) ||
		fail "RssAnon $(rss_anon "$DAEMON_PID") KiB after the kernel forgot (before the walk $before, after it $after)"
}

@test "limits: the request buffers a burst of large writes filled go back once the mount is idle (noopen)" {
	need_root
	need_plain_build
	mount_layerfs noopen
	stat "$M" >/dev/null
	local before i pids=()
	# not zeros: a page given back while in use reads as zeros
	head -c 64M /dev/urandom >"$T/pattern"
	before=$(rss_anon "$DAEMON_PID")
	# through the writeback cache: WRITEs of up to 1 MiB, read into a
	# buffer of each request thread that serves one
	for i in 1 2 3 4; do
		dd if="$T/pattern" of="$M/f$i" bs=1M status=none &
		pids+=($!)
	done
	wait "${pids[@]}"
	sync
	# the sanity check: the burst did fill them
	[ "$(rss_anon "$DAEMON_PID")" -gt $((before + 4096)) ] ||
		skip "the writes grew the daemon by less than 4 MiB ($before KiB, then $(rss_anon "$DAEMON_PID"))"
	wait_until 10 rss_anon_below "$DAEMON_PID" $((before + 2048)) ||
		fail "RssAnon $(rss_anon "$DAEMON_PID") KiB a while after the writes ($before before)"
	# what the daemon wrote, in the upper layer (the mount would show
	# the kernel's cache of what dd wrote)
	for i in 1 2 3 4; do
		cmp "$T/pattern" "$U/f$i" || fail "the upper f$i is not what was written"
	done
}
