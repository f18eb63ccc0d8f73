#!/usr/bin/env bats
# Merged listings without a directory handle: the kernel opens directories
# without asking the daemon, and every READDIR stands alone. An offset is a
# cookie made from the name, so a stream that outlives its cached listing,
# or whose directory changes under it, still sees each name once.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# make_dirs N: directories d1..dN merged from both lowers and the upper,
# 24 names each (one lower name shadowed by the other lower); the names
# expected under $M, sorted, in $T/want
make_dirs() {
	local d i
	for ((d = 1; d <= $1; d++)); do
		mkdir -p "$L1/d$d" "$L2/d$d" "$U/d$d"
		for ((i = 1; i <= 12; i++)); do : >"$L2/d$d/low$i"; done
		for ((i = 1; i <= 6; i++)); do : >"$L1/d$d/mid$i"; : >"$U/d$d/up$i"; done
		: >"$L1/d$d/low1"
		for ((i = 1; i <= 12; i++)); do echo "d$d/low$i"; done
		for ((i = 1; i <= 6; i++)); do echo "d$d/mid$i"; echo "d$d/up$i"; done
	done | sort >"$T/want"
}

# drain_all N: read d1..dN a few entries at a time, in turn, removing
# what was read; each name must come exactly once and nothing may be left
drain_all() {
	local args=() d
	for ((d = 1; d <= $1; d++)); do args+=("$M/d$d"); done
	"$FSOPS" drain "${args[@]}" >"$T/drained" || fail "drain: $(cat "$T/drained")"
	sed "s|^$M/||" "$T/drained" | sort >"$T/got"
	eq "$(sort "$T/got" | uniq -d)" "" "names seen twice"
	diff "$T/want" "$T/got" >&2 || fail "names seen differ from the names there"
	eq "$(find "$M" -mindepth 2 | wc -l)" 0 "entries left after the drain"
}

@test "readdir: removing entries while reading 80 directories at once loses and repeats no name" {
	# more streams than the daemon keeps listings for: some lose theirs
	# mid-way, after their directory changed
	make_dirs 80
	mount_layerfs
	drain_all 80
}

@test "readdir: removing entries while re-reading listings the kernel has cached loses and repeats no name" {
	make_dirs 20
	mount_layerfs
	ls -R "$M" >/dev/null
	drain_all 20
}

@test "readdir: seekdir returns to every telldir position, and positions fit in 31 bits" {
	local i
	mkdir -p "$L2/s" "$U/s"
	for ((i = 1; i <= 300; i++)); do : >"$L2/s/f$i"; done
	for ((i = 1; i <= 100; i++)); do : >"$U/s/g$i"; done
	mkwhiteout "$U/s/f7"
	mount_layerfs
	run "$FSOPS" seekdir "$M/s"
	eq "$status" 0
	# 300 + 100 names, one whited out, and . and ..
	eq "$output" "checked 401"
}

@test "readdir: a listing read in part, then a name removed and one made: seekdir over the next listing finds what it listed (the kernel's unfinished cache is dropped)" {
	local i victim
	mount_layerfs
	mkdir "$M/d"
	for ((i = 1; i <= 100; i++)); do : >"$M/d/f$i"; done
	# the first batch of a listing goes to the kernel's cache, the rest
	# never comes: the cache stays unfinished
	victim=$(python3 -c 'import os, sys
it = os.scandir(sys.argv[1])
names = [next(it).name for _ in range(5)]
it.close()
print(names[2])' "$M/d")
	rm "$M/d/$victim"
	: >"$M/d/new"
	# a new listing read whole, then seekdir back to each position: the
	# kernel had joined the old part (with the removed name, without the
	# new one) to the new listing's rest
	run "$FSOPS" seekdir "$M/d"
	eq "$status" 0
	eq "$output" "checked 102"
	eq "$(ls "$M/d" | wc -l)" 100
}

@test "readdir: a stream that starts with a seekdir to an older stream's position sees the changes made since" {
	local how pos fifth out
	mount_layerfs
	mkdir "$M/d"
	(cd "$M/d" && seq -f 'f%g' 1 3000 | xargs touch)
	for how in complete unfinished; do
		if [ "$how" = complete ]; then
			# a stream stops early, a second reads the listing whole:
			# the kernel's cache of it is complete, and checked
			# against the directory only by a stream from offset 0
			pos=$("$FSOPS" tell "$M/d" 5)
			"$FSOPS" seekread "$M/d" 0 >"$T/before"
		else
			# after a change, a stream reads from the daemon and stops
			# early, its listing left there
			"$FSOPS" seekread "$M/d" 0 >"$T/before"
			touch "$M/d/x-$how"
			pos=$("$FSOPS" tell "$M/d" 5)
		fi
		fifth=$(sed -n 5p "$T/before")
		sed -n '10,400p' "$T/before" | grep -vx -- "$fifth" | (cd "$M/d" && xargs rm)
		touch "$M/d/new-$how-1" "$M/d/new-$how-2" "$M/d/new-$how-3"
		out=$("$FSOPS" seekread "$M/d" "$pos")
		# what a fresh listing holds after the fifth name
		eq "$out" "$("$FSOPS" seekread "$M/d" 0 | sed '1,/^'"$fifth"'$/d')" "$how"
		grep -q "^new-$how-1$" <<<"$out" || fail "sanity: no new name after the position"
	done
}

@test "readdir: names whose cookies collide keep their positions: removing one, seekdir to a position before the change finds the other" {
	local n pos out
	mount_layerfs
	mkdir "$M/d"
	# f198619 and f6721 have the same 30-bit name hash: the one that
	# sorts second takes another offset
	touch "$M/d/a" "$M/d/b" "$M/d/f198619" "$M/d/f6721" "$M/d/z"
	ls -fa "$M/d" >"$T/order"
	n=$(grep -nx f198619 "$T/order" | cut -d: -f1)
	grep -A9 -x f198619 "$T/order" | grep -qx f6721 ||
		fail "sanity: f6721 is not listed after f198619"
	pos=$("$FSOPS" tell "$M/d" "$n")
	rm "$M/d/f198619"
	out=$("$FSOPS" seekread "$M/d" "$pos")
	grep -qx f6721 <<<"$out" || fail "f6721 skipped after its collision partner went: $out"
	eq "$(ls -fa "$M/d" | sort | tr '\n' ' ')" ". .. a b f6721 z " "listing"
}

@test "readdir: directories open without a round trip; a second listing comes from the kernel's cache" {
	mkdir -p "$L1/a" "$L2/b" "$U/c"
	touch "$L1/a/x" "$L2/b/y" "$U/c/z"
	debug_mount
	eq "$(ls "$M/a" "$M/b" "$M/c" | tr '\n' ' ')" "$M/a: x  $M/b: y  $M/c: z "
	local first=$(($(requests READDIR) + $(requests READDIRPLUS)))
	[ "$first" -ge 3 ] || fail "only $first listing requests for three directories"
	ls "$M/a" "$M/b" "$M/c" >/dev/null
	touch "$M/c/new"
	eq "$(ls "$M/c" | tr '\n' ' ')" "new z " "listing after a create"
	local opens=$(requests OPENDIR) releases=$(requests RELEASEDIR)
	local second=$(($(requests READDIR) + $(requests READDIRPLUS)))
	debug_umount
	# one OPENDIR, answered ENOSYS: the kernel stops sending them
	[ "$opens" -le 1 ] || fail "$opens OPENDIR requests"
	eq "$releases" 0 "RELEASEDIR requests"
	# only the changed directory was read again
	[ "$second" -le $((first + 2)) ] || fail "$((second - first)) listing requests for a cached listing and one changed directory"
}

# find and rm (fts) read a whole directory before they stat or remove an
# entry: in the kernel's "auto" mode only the first listing request of a
# directory carried attributes, and every later entry cost a LOOKUP
@test "readdir: every listing request carries attributes: find and rm -r over directories of 600 entries look up none of them" {
	local i walk plain removal
	mkdir -p "$L1/big" "$L2/big" "$L2/gone"
	for ((i = 1; i <= 300; i++)); do
		: >"$L1/big/upper-lower-$i"
		: >"$L2/big/lower-lower-$i"
		: >"$L2/gone/first-$i"
		: >"$L2/gone/second-$i"
	done
	debug_mount
	eq "$(find "$M/big" -mindepth 1 -printf '%s %m\n' | sort | uniq -c | tr -s ' ')" " 600 0 644" "sizes and modes found"
	walk=$(requests LOOKUP)
	plain=$(requests READDIR)
	rm -r "$M/gone" || fail "rm -r failed"
	removal=$(($(requests LOOKUP) - walk))
	debug_umount
	[ -e "$L2/gone/first-1" ] || fail "the lower layer changed"
	[ -c "$U/gone" ] || fail "no whiteout for the removed directory"
	eq "$plain" 0 "listing requests without attributes"
	[ "$walk" -le 2 ] || fail "$walk LOOKUP requests for find's walk of 600 listed entries"
	[ "$removal" -le 2 ] || fail "$removal LOOKUP requests for rm -r of 600 listed entries"
}

# the directories of $L2/d the daemon has read so far (fsops watchaccess)
read_dirs() {
	sort "$ACCESS" | tr '\n' ' '
}

both_read() {
	[ "$(read_dirs)" = "$L2/d/s1 $L2/d/s2 " ]
}

# watch_reads N: start watching s1, s2 and s2/deeper of $L2/d for reads,
# into $T/access.N (a watcher started before is stopped)
watch_reads() {
	[ -z "${WATCH_PID:-}" ] || kill "$WATCH_PID" 2>/dev/null
	ACCESS=$T/access.$1
	rm -f "$T/ready"
	spawn "$FSOPS" watchaccess "$T/ready" 15 "$L2/d/s1" "$L2/d/s2" "$L2/d/s2/deeper" >"$ACCESS"
	WATCH_PID=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "watchaccess did not start"
}

@test "readdir: a listing's subdirectories are read ahead in the layers (prefetch), not with prefetch=0" {
	mkdir -p "$L2/d/s1" "$L2/d/s2" "$L2/d/s2/deeper"
	touch "$L2/d/s1/f" "$L2/d/s2/f" "$L2/d/file"
	mount_layerfs
	watch_reads 1
	# a listing with attributes of d alone; s1 and s2 are only named
	eq "$(ls "$M/d" | tr '\n' ' ')" "file s1 s2 "
	wait_until 10 both_read || fail "the subdirectories were not read ahead: $(read_dirs)"
	# one level only
	sleep 1
	eq "$(read_dirs)" "$L2/d/s1 $L2/d/s2 " "read two levels ahead"
	unmount_layerfs

	mount_layerfs prefetch=0
	watch_reads 2
	eq "$(ls "$M/d" | tr '\n' ' ')" "file s1 s2 "
	sleep 1
	eq "$(read_dirs)" "" "read with prefetch=0"
}


some_idle() {
	[ -n "$(idle_threads "$DAEMON_PID")" ]
}

# the six prefetch threads exist and all wait for work (state S)
six_idle_asleep() {
	local tid
	six_idle || return 1
	for tid in $(idle_threads "$DAEMON_PID"); do
		[ "$(proc_state "$DAEMON_PID/task/$tid")" = S ] || return 1
	done
}

@test "readdir: the prefetch threads run at SCHED_IDLE at the lowest I/O priority, the first from the start, the others from the first listing; prefetch=0 starts none" {
	need_cmd chrt ionice
	mkdir -p "$L2/d/s1" "$L2/d/s2"
	mount_layerfs
	# the first starts right after the mount returns
	wait_until 10 some_idle || fail "no idle thread"
	eq "$(idle_threads "$DAEMON_PID" | wc -l)" 1 "idle threads before a listing"
	ls "$M/d" >/dev/null
	# as many as src/prefetch.c's PF_THREADS
	wait_until 10 six_idle || fail "idle threads after a listing: $(idle_threads "$DAEMON_PID" | wc -l)"
	unmount_layerfs
	mount_layerfs prefetch=0
	eq "$(idle_threads "$DAEMON_PID" | wc -l)" 0 "idle threads with prefetch=0"
}

# the subdirectories of $L2/d read so far, sorted, on one line
dirs_read() {
	sort "$T/access" | tr '\n' ' '
}

rest_read() {
	[ "$(dirs_read)" = "$WANT" ]
}

@test "readdir: subdirectories are read ahead side by side: one that waits for its layer holds up none of the others" {
	local i first rest=()
	for i in 1 2 3 4 5; do
		mkdir -p "$L2/d/s$i"
		touch "$L2/d/s$i/f"
	done
	mkdir -p "$L2/w/a" "$L2/w/b"
	# the listing's order (the names' cookies): the read-ahead takes the
	# first one named first
	mount_layerfs
	first=$(ls -U "$M/d" | head -n 1)
	unmount_layerfs
	for i in 1 2 3 4 5; do
		[ "s$i" = "$first" ] || rest+=("$L2/d/s$i")
	done
	"$FSOPS" holdopens "$T/probe.ready" 0 "$L2/d" || {
		[ $? = 77 ] && skip "no fanotify permission events here"
		fail "holdopens failed"
	}
	mount_layerfs
	# a first listing starts the threads; then they wait for work, and
	# the next listing must wake them
	ls "$M/w" >/dev/null
	wait_until 10 six_idle_asleep || fail "the prefetch threads did not start and settle"
	# the read-ahead's open of the first waits (the daemon's own lookups
	# do not)
	spawn "$FSOPS" holdopens "$T/held.ready" 30 "$L2/d/$first" >"$T/held"
	wait_until 10 test -e "$T/held.ready" || fail "holdopens did not start"
	spawn "$FSOPS" watchaccess "$T/access.ready" 30 "${rest[@]}" >"$T/access"
	wait_until 10 test -e "$T/access.ready" || fail "watchaccess did not start"
	eq "$(ls "$M/d" | tr '\n' ' ')" "s1 s2 s3 s4 s5 "
	wait_until 10 grep -qx "$L2/d/$first" "$T/held" || fail "the read-ahead did not reach $first"
	WANT="${rest[*]} "
	wait_until 10 rest_read ||
		fail "read ahead while $first waits: $(dirs_read)"
	# and the walker itself is not held up by it
	run -0 timeout 10 ls "$M/d/$first"
	eq "$output" f
}

# watch_ahead N PATH...: watch PATHs for reads into $T/ahead.N, as
# watch_reads does
watch_ahead() {
	local n=$1
	shift
	[ -z "${WATCH_PID:-}" ] || kill "$WATCH_PID" 2>/dev/null
	ACCESS=$T/ahead.$n
	rm -f "$T/ready"
	spawn "$FSOPS" watchaccess "$T/ready" 15 "$@" >"$ACCESS"
	WATCH_PID=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "watchaccess did not start"
}

s1_read() {
	[ "$(read_dirs)" = "$L1/d/s1 $L2/d/s1 " ]
}

# attributes of everything in $M/d/s1, as the walker's listing gives them
s1_attrs() {
	(cd "$M/d/s1" && stat -c '%n %i %f %s %h %u %g %Y %F' -- * sub/*)
}

@test "readdir: a lower-only directory's listing read ahead serves the walker's first listing, with the same entries and attributes" {
	mkdir -p "$L1/d/s1" "$L2/d/s1/sub" "$L2/d/s2"
	echo top >"$L1/d/s1/shadowed"
	echo bottom, longer >"$L2/d/s1/shadowed"
	head -c 5000 /dev/urandom >"$L2/d/s1/big"
	chmod 640 "$L2/d/s1/big"
	ln "$L2/d/s1/big" "$L2/d/s1/hard"
	ln -s shadowed "$L2/d/s1/link"
	chown 12:34 "$L2/d/s1/link" "$L1/d/s1/shadowed"
	: >"$L2/d/s1/gone"
	mkwhiteout "$L1/d/s1/gone"
	touch -d '2001-02-03 04:05:06' "$L2/d/s1/sub/x"
	mkfifo "$L2/d/s1/fifo"

	# without the read-ahead, the walker's listing reads both layers
	mount_layerfs prefetch=0
	ls "$M/d" >/dev/null
	watch_ahead 1 "$L1/d/s1" "$L2/d/s1"
	s1_attrs >"$T/want"
	wait_until 10 s1_read || fail "the listing did not read the layers: $(read_dirs)"
	unmount_layerfs
	grep -q '^gone ' "$T/want" && fail "a whited-out name is listed"
	[ "$(wc -l <"$T/want")" = 7 ] || fail "listed: $(cat "$T/want")"

	# with it, listing d reads s1 ahead, and the walker's listing of s1
	# takes what was read
	mount_layerfs
	watch_ahead 2 "$L1/d/s1" "$L2/d/s1"
	ls "$M/d" >/dev/null
	wait_until 10 s1_read || fail "s1 was not read ahead: $(read_dirs)"
	# the thread that read it has published the listing once all of
	# them wait for work again
	wait_until 10 six_idle_asleep || fail "the prefetch threads did not settle"
	watch_ahead 3 "$L1/d/s1" "$L2/d/s1"
	s1_attrs >"$T/got"
	sleep 1
	eq "$(read_dirs)" "" "layers read again by the walker's listing"
	diff "$T/want" "$T/got" >&2 || fail "entries or attributes differ from prefetch=0"
}

@test "readdir: a listing read ahead is not used once its directory changed through the mount" {
	mkdir -p "$L2/d/s1"
	: >"$L2/d/s1/a"
	: >"$L2/d/s1/b"
	: >"$L2/d/s1/c"
	mount_layerfs
	watch_ahead 1 "$L2/d/s1"
	ls "$M/d" >/dev/null
	wait_until 10 test -s "$ACCESS" || fail "s1 was not read ahead"
	wait_until 10 six_idle_asleep || fail "the prefetch threads did not settle"
	rm "$M/d/s1/a"
	mv "$M/d/s1/b" "$M/d/s1/B"
	touch "$M/d/s1/new"
	eq "$(ls "$M/d/s1" | tr '\n' ' ')" "B c new " "listing after the changes"
	# and the same for a subdirectory whose lower file changed only
	mkdir -p "$L2/d/s2"
	echo 12345 >"$L2/d/s2/f"
	unmount_layerfs
	mount_layerfs
	watch_ahead 2 "$L2/d/s2"
	ls "$M/d" >/dev/null
	wait_until 10 test -s "$ACCESS" || fail "s2 was not read ahead"
	wait_until 10 six_idle_asleep || fail "the prefetch threads did not settle"
	echo 1234567890 >>"$M/d/s2/f"
	eq "$(ls -l "$M/d/s2" | awk 'NR > 1 { print $1, $5, $9 }')" "-rw-r--r-- 17 f" "attributes after an append"
}
