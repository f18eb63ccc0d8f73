#!/usr/bin/env bats
# Read-ahead of file data: a program that reads a directory's files in
# turn finds the next ones in the page cache. Nothing a program sees may
# change; these tests look at the layers' page cache (fincore), which
# only the daemon's reads fill.

load helpers

setup() {
	common_setup
	need_root	# drop_caches
	need_cmd fincore
	mkdir -p "$L2/d"
	for i in $(seq -w 1 40); do
		head -c 9000 /dev/urandom >"$L2/d/f$i"
	done
}

teardown() {
	common_teardown
}

# cached_files: how many of the lower files in d have pages in the cache
cached_files() {
	fincore -n -o PAGES "$L2"/d/f* | awk '$1 > 0' | wc -l
}

at_least_cached() {
	[ "$(cached_files)" -ge "$1" ]
}

# listing_order: the names of d as a listing through the mount gives them
listing_order() {
	mount_layerfs
	ls -f "$M/d" | grep -v '^\.' >"$T/order"
	unmount_layerfs
	eq "$(wc -l <"$T/order")" 40 "names in d"
}

cold() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	eq "$(cached_files)" 0 "lower files cached after drop_caches"
}

# cold_mount [OPTIONS]: the names of d in listing order in $T/order, the
# caches dropped, and a fresh mount
cold_mount() {
	listing_order
	cold
	mount_layerfs "$@"
}

# nth N: the Nth name of d in listing order
nth() {
	sed -n "${1}p" "$T/order"
}

# lister_opens NAME...: one process lists d (bash's glob) and then opens
# each NAME in turn; between two opens it waits for the batch of the
# first to be read
lister_opens() {
	bash -c 'cd "$1" && shift && files=(*) || exit 1
		first=1
		for f in "$@"; do
			[ -n "$first" ] || sleep 2
			first=
			read -r -n 1 x <"$f" || exit 1
		done' _ "$M/d" "$@"
}

# others_read LINES: the names on LINES of $T/order (a sed range), each
# read by a process of its own that did not list d
others_read() {
	local f
	for f in $(sed -n "${1}p" "$T/order"); do cat "$M/d/$f" >/dev/null; done
}

@test "prefetch: a process that lists a directory and opens a file gets the files after it read ahead" {
	cold_mount
	lister_opens "$(nth 1)"
	wait_until 10 at_least_cached 33 || fail "$(cached_files) files cached, wanted 33"
	# the contents are the layers' own
	for f in $(head -5 "$T/order"); do cmp "$M/d/$f" "$L2/d/$f"; done
}

@test "prefetch: four opens in listing order by other processes read the next files ahead, the next batch as the reader goes on" {
	cold_mount
	others_read 1,4
	# the four and a batch of 32 after them
	wait_until 10 at_least_cached 36 || fail "$(cached_files) files cached, wanted 36"
	eq "$(cached_files)" 36 "files cached after the first batch"
	# halfway through the batch the next one is read: the remaining 4
	others_read 5,20
	wait_until 10 at_least_cached 40 || fail "$(cached_files) files cached, wanted 40"
}

@test "prefetch: a reader that got past the files read ahead, still in listing order, gets the next ones" {
	cold_mount
	others_read 1,4
	wait_until 10 at_least_cached 36 || fail "$(cached_files) files cached, wanted 36"
	# the 38th is past the batch (5th to 36th): the 39th and 40th follow
	others_read 38
	wait_until 10 at_least_cached 39 || fail "$(cached_files) files cached, wanted 39"
	fincore -n -o PAGES "$L2/d/$(nth 37)" | grep -qx ' *0' ||
		fail "the 37th file, before the reader, was read"
}

@test "prefetch: a directory listed again gets its files read ahead again" {
	cold_mount
	lister_opens "$(nth 1)"
	wait_until 10 at_least_cached 33 || fail "$(cached_files) files cached, wanted 33"
	# page caches only: the kernel keeps the directory's inode, and so
	# the daemon its node, but reads the listing again
	sync
	echo 1 >/proc/sys/vm/drop_caches
	eq "$(cached_files)" 0 "lower files cached after drop_caches"
	lister_opens "$(nth 1)"
	wait_until 10 at_least_cached 33 || fail "$(cached_files) files cached the second time, wanted 33"
}

@test "prefetch: a process that listed the directory and opens files anywhere gets one batch" {
	cold_mount
	# the first file, then the 36th, past the batch of 32 after the first
	lister_opens "$(nth 1)" "$(nth 36)"
	wait_until 10 at_least_cached 34 || fail "$(cached_files) files cached, wanted 34"
	sleep 1
	eq "$(cached_files)" 34 "files cached: the first, its batch of 32 and the 36th"
}

@test "prefetch: opens out of listing order by processes that did not list read nothing ahead" {
	cold_mount
	for n in 4 3 2 1; do others_read "$n"; done
	sleep 1
	eq "$(cached_files)" 4 "files cached after four opens in reverse order"
}

@test "prefetch: nothing is read ahead of a file whose data is in the page cache already (a directory read a moment ago)" {
	local o
	for o in "" noopen; do
		cold_mount $o
		# the first file's data cached, as by an earlier container
		cat "$L2/d/$(nth 1)" >/dev/null
		lister_opens "$(nth 1)"
		sleep 1
		eq "$(cached_files)" 1 "files cached with '$o'"
		# files not cached, opened in listing order, start it after all
		others_read 2,5
		wait_until 10 at_least_cached 36 || fail "$(cached_files) files cached with '$o', wanted 36"
		unmount_layerfs
	done
}

@test "prefetch: prefetch=0 reads no file ahead" {
	cold_mount prefetch=0
	lister_opens "$(nth 1)"
	others_read 2,4
	sleep 1
	eq "$(cached_files)" 4 "files cached after four opens with prefetch=0"
}
