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

@test "prefetch: a process that lists a directory and opens a file gets the files after it read ahead" {
	listing_order
	cold
	mount_layerfs
	# bash lists d for the glob and opens the first file itself
	first=$(head -1 "$T/order")
	bash -c 'cd "$1" && files=(*) && read -r -n 1 x <"$2"' _ "$M/d" "$first"
	wait_until 10 at_least_cached 33 || fail "$(cached_files) files cached, wanted 33"
	# the contents are the layers' own
	for f in $(head -5 "$T/order"); do cmp "$M/d/$f" "$L2/d/$f"; done
}

@test "prefetch: four opens in listing order by other processes read the next files ahead, the next batch as the reader goes on" {
	listing_order
	cold
	mount_layerfs
	for f in $(head -4 "$T/order"); do cat "$M/d/$f" >/dev/null; done
	# the four and a batch of 32 after them
	wait_until 10 at_least_cached 36 || fail "$(cached_files) files cached, wanted 36"
	eq "$(cached_files)" 36 "files cached after the first batch"
	# halfway through the batch the next one is read: the remaining 4
	for f in $(sed -n 5,20p "$T/order"); do cat "$M/d/$f" >/dev/null; done
	wait_until 10 at_least_cached 40 || fail "$(cached_files) files cached, wanted 40"
}

@test "prefetch: a reader that got past the files read ahead, still in listing order, gets the next ones" {
	listing_order
	cold
	mount_layerfs
	for f in $(head -4 "$T/order"); do cat "$M/d/$f" >/dev/null; done
	wait_until 10 at_least_cached 36 || fail "$(cached_files) files cached, wanted 36"
	# the 38th is past the batch (5th to 36th): the 39th and 40th follow
	cat "$M/d/$(sed -n 38p "$T/order")" >/dev/null
	wait_until 10 at_least_cached 39 || fail "$(cached_files) files cached, wanted 39"
	fincore -n -o PAGES "$L2/d/$(sed -n 37p "$T/order")" | grep -qx ' *0' ||
		fail "the 37th file, before the reader, was read"
}

@test "prefetch: a directory listed again gets its files read ahead again" {
	listing_order
	cold
	mount_layerfs
	first=$(head -1 "$T/order")
	bash -c 'cd "$1" && files=(*) && read -r -n 1 x <"$2"' _ "$M/d" "$first"
	wait_until 10 at_least_cached 33 || fail "$(cached_files) files cached, wanted 33"
	# page caches only: the kernel keeps the directory's inode, and so
	# the daemon its node, but reads the listing again
	sync
	echo 1 >/proc/sys/vm/drop_caches
	eq "$(cached_files)" 0 "lower files cached after drop_caches"
	bash -c 'cd "$1" && files=(*) && read -r -n 1 x <"$2"' _ "$M/d" "$first"
	wait_until 10 at_least_cached 33 || fail "$(cached_files) files cached the second time, wanted 33"
}

@test "prefetch: a process that listed the directory and opens files anywhere gets one batch" {
	listing_order
	cold
	mount_layerfs
	# the first file, then the 36th, past the batch of 32 after the first
	first=$(head -1 "$T/order")
	other=$(sed -n 36p "$T/order")
	bash -c 'cd "$1" && files=(*) && read -r -n 1 x <"$2" && sleep 2 && read -r -n 1 x <"$3"' \
		_ "$M/d" "$first" "$other"
	wait_until 10 at_least_cached 34 || fail "$(cached_files) files cached, wanted 34"
	sleep 1
	eq "$(cached_files)" 34 "files cached: the first, its batch of 32 and the 36th"
}

@test "prefetch: opens out of listing order by processes that did not list read nothing ahead" {
	listing_order
	cold
	mount_layerfs
	for f in $(head -4 "$T/order" | tac); do cat "$M/d/$f" >/dev/null; done
	sleep 1
	eq "$(cached_files)" 4 "files cached after four opens in reverse order"
}

@test "prefetch: prefetch=0 reads no file ahead" {
	listing_order
	cold
	mount_layerfs prefetch=0
	first=$(head -1 "$T/order")
	bash -c 'cd "$1" && files=(*) && read -r -n 1 x <"$2"' _ "$M/d" "$first"
	for f in $(sed -n 2,4p "$T/order"); do cat "$M/d/$f" >/dev/null; done
	sleep 1
	eq "$(cached_files)" 4 "files cached after four opens with prefetch=0"
}
