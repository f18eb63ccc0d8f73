#!/usr/bin/env bats
# Differential test against the kernel's overlayfs: the same layers, the
# same operations (tests/tools/scenario.sh), the same merged view
# (tests/tools/dumptree.sh); then each upper read by the kernel as the top
# lower layer must give the same view again.

load helpers

setup() {
	common_setup
	need_kernel_overlay
	export FSOPS
	K=$T/kernel
	F=$T/ours
	mkdir -p "$K" "$F"
	bash "$SCRIPTS/scenario.sh" build "$K"
	# identical copies (cp -a keeps whiteouts, xattrs and hard links)
	cp -a "$K/l1" "$K/l2" "$K/l3" "$F/"
	mkdir -p "$K/upper" "$K/work" "$K/mnt" "$F/upper" "$F/work" "$F/mnt"
}

dump() {
	bash "$SCRIPTS/dumptree.sh" "$1"
}

@test "differential: the layers alone give the same view" {
	kovl_mount "lowerdir=$K/l1:$K/l2:$K/l3,upperdir=$K/upper,workdir=$K/work,$KOPTS" "$K/mnt"
	lfs_mount "lowerdir=$F/l1:$F/l2:$F/l3,upperdir=$F/upper,workdir=$F/work" "$F/mnt"
	dump "$K/mnt" >"$T/k.dump"
	dump "$F/mnt" >"$T/f.dump"
	[ "$(wc -l <"$T/k.dump")" -gt 40 ] || fail "sanity: the reference view is too small"
	diff -u "$T/k.dump" "$T/f.dump" >&2 || fail "merged views differ (- kernel, + layerfs)"
}

@test "differential: the same operations give the same view, and the same uppers" {
	kovl_mount "lowerdir=$K/l1:$K/l2:$K/l3,upperdir=$K/upper,workdir=$K/work,$KOPTS" "$K/mnt"
	lfs_mount "lowerdir=$F/l1:$F/l2:$F/l3,upperdir=$F/upper,workdir=$F/work" "$F/mnt"
	bash "$SCRIPTS/scenario.sh" run "$K/mnt" >"$T/k.log"
	bash "$SCRIPTS/scenario.sh" run "$F/mnt" >"$T/f.log"
	diff -u "$T/k.log" "$T/f.log" >&2 || fail "exit statuses of the steps differ (- kernel, + layerfs)"
	dump "$K/mnt" >"$T/k.dump"
	dump "$F/mnt" >"$T/f.dump"
	[ "$(wc -l <"$T/k.dump")" -gt 40 ] || fail "sanity: the reference view is too small"
	diff -u "$T/k.dump" "$T/f.dump" >&2 || fail "merged views differ (- kernel, + layerfs)"

	# both uppers as the top lower layer of a fresh read-only kernel overlay
	kovl_umount "$K/mnt"
	unmount_layerfs "$F/mnt"
	mkdir -p "$K/ro" "$F/ro"
	kovl_mount "lowerdir=$K/upper:$K/l1:$K/l2:$K/l3" "$K/ro"
	kovl_mount "lowerdir=$F/upper:$F/l1:$F/l2:$F/l3" "$F/ro"
	dump "$K/ro" >"$T/k.ro.dump"
	dump "$F/ro" >"$T/f.ro.dump"
	diff -u "$T/k.ro.dump" "$T/f.ro.dump" >&2 ||
		fail "kernel views of the uppers differ (- kernel's upper, + layerfs's upper)"
	# and the kernel reads our upper as we showed it
	diff -u "$T/f.dump" "$T/f.ro.dump" >&2 ||
		fail "the kernel's view of our upper differs from our own view (- ours, + kernel)"
}

@test "differential: remounting layerfs shows the same view as before" {
	lfs_mount "lowerdir=$F/l1:$F/l2:$F/l3,upperdir=$F/upper,workdir=$F/work" "$F/mnt"
	bash "$SCRIPTS/scenario.sh" run "$F/mnt" >/dev/null
	dump "$F/mnt" >"$T/before"
	unmount_layerfs "$F/mnt"
	lfs_mount "lowerdir=$F/l1:$F/l2:$F/l3,upperdir=$F/upper,workdir=$F/work" "$F/mnt"
	dump "$F/mnt" >"$T/after"
	diff -u "$T/before" "$T/after" >&2 || fail "view changed across a remount"
}

@test "differential: set-id bits after writes, truncates and chowns match the kernel's" {
	make_traversable
	mkdir -p "$K/s" "$F/s"
	bash "$SCRIPTS/setid.sh" build "$K/s"
	cp -a "$K/s/." "$F/s/"
	kovl_mount "lowerdir=$K/s,upperdir=$K/upper,workdir=$K/work,$KOPTS" "$K/mnt"
	lfs_mount "lowerdir=$F/s,upperdir=$F/upper,workdir=$F/work" "$F/mnt"
	bash "$SCRIPTS/setid.sh" run "$K/mnt" >"$T/k.log" 2>&1
	bash "$SCRIPTS/setid.sh" run "$F/mnt" >"$T/f.log" 2>&1
	grep -q '^app 777 ' "$T/k.log" || fail "sanity: the kernel kept set-user-ID on app: $(cat "$T/k.log")"
	diff -u "$T/k.log" "$T/f.log" >&2 || fail "modes differ (- kernel, + layerfs)"
	# and the same after a remount: what reached the upper
	unmount_layerfs "$F/mnt"
	lfs_mount "lowerdir=$F/s,upperdir=$F/upper,workdir=$F/work" "$F/mnt"
	for f in app sgnox trunc otrunc direct chownsg; do
		eq "$(stat -c %a "$F/mnt/$f")" "$(stat -c %a "$K/mnt/$f")" "$f after a remount"
	done
}

# set-id bits after changes by root, with and without CAP_FSETID: the
# kernel keeps them when root (with it) writes to a file that carries a
# file capability, and drops the capability; a chown to -1:-1 drops both;
# root without CAP_FSETID (podman --cap-drop) loses them at a write or a
# fallocate, and root without CAP_FOWNER may not chown another's set-id
# file to -1:-1, nor may a user chown root's (which then keeps its file
# capability, too). With file data passing through (as root, by default)
# layerfs cannot tell the first from the second and drops the bits
# (README, differences from the kernel's overlayfs): those files (w6, w2)
# are compared only where the writeback cache is on.
@test "differential: set-id bits after root's writes to files with a file capability, a chown -1:-1, and changes by root without capabilities" {
	command -v setcap >/dev/null || skip "needs setcap (libcap2-bin)"
	local d f opts files out
	make_traversable
	mkdir -p "$K/c" "$F/c"
	for d in "$K/c" "$F/c"; do
		for f in w6 w2 c4 nw nf cn uc; do
			echo data >"$d/$f"
			chmod 4755 "$d/$f"
		done
		chown 1000:1000 "$d/cn"	# which clears the bit: set it again
		chmod 4755 "$d/cn"
		chmod 2755 "$d/w2"
		for f in w6 w2 c4 uc; do
			setcap cap_net_raw=ep "$d/$f"
		done
	done
	kovl_mount "lowerdir=$K/c,upperdir=$K/upper,workdir=$K/work,$KOPTS" "$K/mnt"
	for opts in "" ,noopen ,passthrough=0; do
		rm -rf "$F/upper" "$F/work"
		mkdir -p "$F/upper" "$F/work"
		lfs_mount "lowerdir=$F/c,upperdir=$F/upper,workdir=$F/work$opts" "$F/mnt"
		# the kernel's mount is changed once, in the first round
		for d in "$K/mnt" "$F/mnt"; do
			[ -z "$opts" ] || [ "$d" = "$F/mnt" ] || continue
			echo more >>"$d/w6"
			echo more >>"$d/w2"
			python3 -c 'import os, sys; os.chown(sys.argv[1], -1, -1)' "$d/c4"
			setpriv --bounding-set -fsetid sh -c 'echo more >>"$1"' sh "$d/nw"
			setpriv --bounding-set -fsetid fallocate -l 8192 "$d/nf"
			# without CAP_FOWNER, not the owner: the chown may not clear them
			! setpriv --bounding-set -all python3 -c \
				'import os, sys; os.chown(sys.argv[1], -1, -1)' "$d/cn" 2>/dev/null ||
				fail "$d: chown -1:-1 of another's set-id file without capabilities succeeded"
			# another user: refused, and the file keeps its capability too
			# (the kernel removes it before it asks for the chown)
			out=$(setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 -c \
				'import os, sys; os.chown(sys.argv[1], -1, -1)' "$d/uc" 2>&1) &&
				fail "$d: chown -1:-1 of root's set-id file by a user succeeded"
			[[ $out == *"Operation not permitted"* ]] || fail "$d: chown -1:-1 of uc by a user: $out"
		done
		files="c4 nw nf cn uc"
		[ -z "$opts" ] || files="w6 w2 $files"
		for f in $files; do
			eq "$(stat -c %a "$F/mnt/$f")" "$(stat -c %a "$K/mnt/$f")" "$f, options '$opts'"
		done
		for f in w6 w2 c4; do
			run ! getfattr -n security.capability "$F/mnt/$f"
		done
		getfattr -n security.capability "$F/mnt/uc" >/dev/null ||
			fail "uc lost its capability, options '$opts'"
		unmount_layerfs "$F/mnt"
	done
	eq "$(stat -c %a "$K/mnt/w6" "$K/mnt/w2" "$K/mnt/c4" "$K/mnt/nw" "$K/mnt/nf" "$K/mnt/cn" "$K/mnt/uc" | tr '\n' ' ')" \
		"4755 2755 755 755 755 4755 4755 " "sanity: the kernel's modes"
	getfattr -n security.capability "$K/mnt/uc" >/dev/null || fail "sanity: the kernel's uc lost its capability"
}

# difffuzz SEED ARGS...: tests/tools/difffuzz.py with that seed, in a
# directory of its own; its output is the failure message
difffuzz() {
	local seed=$1
	shift
	python3 "$SCRIPTS/difffuzz.py" --layerfs "$LAYERFS" --dir "$T/fuzz$seed" \
		--seed "$seed" "$@" >"$T/fuzz.out" 2>&1 || fail "$(cat "$T/fuzz.out")"
}

# random operations (tests/tools/difffuzz.py): each result and the merged
# view after every 25 operations must match the kernel's; `make fuzz`
# runs more seeds (FUZZ_SEEDS, FUZZ_OPS)
@test "differential: random operations on names in every layer give the kernel's results" {
	local seed opts
	for seed in $(seq 1 16); do
		# the last seeds without passthrough: the page cache and the
		# writeback cache, as rootless mounts run
		opts=
		[ "$seed" -gt 12 ] && opts=,passthrough=0
		difffuzz "$seed" --ops 400 --opts "$opts"
	done
}

# --userns run by root of the initial namespace (not in one, as
# tests/rootless.bats runs it): difffuzz makes a user namespace itself.
# Before, layerfs, really root, wrote trusted.overlay.* beside the
# kernel's overlay with userxattr, which read them as plain xattrs and
# its opaque directories as not opaque: the last check failed after any
# copy-up
@test "differential: difffuzz --userns run by root goes into a user namespace of its own, where layerfs writes user.overlay.* as the kernel's overlay with userxattr reads" {
	difffuzz 9104 --ops 200 --userns
	getfattr -R -m '^trusted\.overlay\.' "$T/fuzz9104/lu" 2>/dev/null | grep -q . &&
		fail "trusted.overlay.* in layerfs's upper: $(getfattr -R -m '^trusted\.overlay\.' "$T/fuzz9104/lu")"
	getfattr -R -m '^user\.overlay\.' "$T/fuzz9104/lu" 2>/dev/null | grep -q . ||
		fail "sanity: no user.overlay.* in layerfs's upper"
}

# the same operations from four processes at once, on layerfs alone: no
# result can be foretold, but what they leave must read the same after a
# remount and through the kernel's overlayfs (make fuzz FUZZ_WORKERS=4
# runs more seeds)
@test "differential: random operations from four processes at once leave a view that stays across a remount and reads the same through the kernel" {
	local seed opts
	for seed in $(seq 1 9); do
		case $((seed % 3)) in
		0) opts= ;;
		1) opts=,noopen ;;
		2) opts=,passthrough=0 ;;
		esac
		difffuzz "$seed" --ops 1500 --workers 4 --opts "$opts"
	done
}

# where whiteout devices cannot be made (a seccomp filter refuses mknod
# of character devices, as before Linux 5.8 in a user namespace) the
# daemon writes .wh. files: the same results, and the kernel reads the
# upper, its .wh. files turned into devices, as layerfs showed it
@test "differential: random operations with .wh. file whiteouts (no character devices) give the kernel's results" {
	local seed opts
	for seed in $(seq 21 26); do
		opts=
		[ "$seed" -gt 24 ] && opts=,noopen
		difffuzz "$seed" --ops 400 --opts "$opts" --nochrdev "$FSOPS"
	done
	difffuzz 27 --ops 1500 --workers 4 --nochrdev "$FSOPS"
}

# times_both LAYERFS_OPTS [open-rw]: tests/tools/times.py over the same
# layer on the kernel's overlayfs and on layerfs; outputs in $T/k.log and
# $T/f.log
times_both() {
	# built twice: a copy would read the files, and move their atimes
	python3 "$SCRIPTS/times.py" build "$K/t"
	python3 "$SCRIPTS/times.py" build "$F/t"
	kovl_mount "lowerdir=$K/t,upperdir=$K/upper,workdir=$K/work,$KOPTS" "$K/mnt"
	lfs_mount "lowerdir=$F/t,upperdir=$F/upper,workdir=$F/work$1" "$F/mnt"
	python3 "$SCRIPTS/times.py" run "$K/mnt" ${2:-} >"$T/k.log" 2>&1
	python3 "$SCRIPTS/times.py" run "$F/mnt" ${2:-} >"$T/f.log" 2>&1
}

@test "differential: operations change the same times and link counts as on the kernel" {
	times_both "" open-rw
	grep -q '^append to a lower file: ok; d1:-c-, d1/f:mc-$' "$T/k.log" ||
		fail "sanity: the kernel's changes: $(cat "$T/k.log")"
	diff -u "$T/k.log" "$T/f.log" >&2 || fail "changes differ (- kernel, + layerfs)"
}

@test "differential: the same times and link counts with noopen and the writeback cache" {
	times_both ,noopen
	[ "$(wc -l <"$T/k.log")" -gt 20 ] || fail "sanity: $(cat "$T/k.log")"
	diff -u "$T/k.log" "$T/f.log" >&2 || fail "changes differ (- kernel, + layerfs)"
}
