#!/usr/bin/env bats
# Data integrity: tests/tools/stress does random writes, truncates,
# appends, mmap writes, reads and copy_file_range from several threads and
# processes, on files that start in a lower layer and on new files, and
# the same on a plain reference directory; the contents must be the same,
# also after a remount.  `make stress` runs it for much longer.

load helpers

STRESS_OPTS=(-p 2 -t 3 -f 3)

setup() {
	common_setup
	STRESS=$TOOLS/stress
	[ -x "$STRESS" ] || fail "helper $STRESS missing: run make check (or make tests/tools/stress)"
	REF=$T/ref
	mkdir -p "$REF"
}

# stress_round SEED ROUNDS: lower files in $L1 and $L2, run on the mount,
# compare, remount, compare again
stress_round() {
	local seed=$1 rounds=$2
	echo "# stress seed $seed; rerun: $STRESS run -s $seed -r $rounds ${STRESS_OPTS[*]} MNT REF" >&2
	"$STRESS" prepare -s "$seed" "${STRESS_OPTS[@]}" "$REF" "$L1" "$L2"
	mount_layerfs
	"$STRESS" run -s "$seed" -r "$rounds" "${STRESS_OPTS[@]}" "$M" "$REF"
	unmount_layerfs
	mount_layerfs
	"$STRESS" verify -s "$seed" "${STRESS_OPTS[@]}" "$M" "$REF"
}

@test "integrity: random I/O by threads and processes matches a plain directory, and after a remount (seed 1)" {
	stress_round 1 "${STRESS_TEST_ROUNDS:-1500}"
}

@test "integrity: the same with a random seed (printed on failure)" {
	stress_round $(((RANDOM << 15) | RANDOM)) "${STRESS_TEST_ROUNDS:-1500}"
}

@test "integrity: the checker reports a mismatch (stress -X flips a reference byte)" {
	"$STRESS" prepare "${STRESS_OPTS[@]}" "$REF" "$L1" "$L2"
	mount_layerfs
	run -1 "$STRESS" run -X -r 200 "${STRESS_OPTS[@]}" "$M" "$REF"
	[[ $output == *"MISMATCH seed=1 file=shared/w00/"*": offset "*": expected 0x"* ]] ||
		fail "no mismatch reported: $output"
	[[ $output == *"1 of 36 files differ"* ]] || fail "wrong count: $output"
}

@test "integrity: an open with O_TRUNC racing a write leaves the mount and the upper agreeing on the size (default, passthrough=0, noopen)" {
	# With the kernel's writeback cache an O_TRUNC open must not be
	# truncated by the daemon in the OPEN: the kernel empties its own
	# copy later, after a write may have reached the upper
	local opts
	for opts in "" passthrough=0 noopen; do
		mount_fresh "$opts"
		"$TOOLS/truncrace" "$M/f" "$U/f" 1000 ||
			fail "the mount and the upper disagree with options '$opts'"
		unmount_layerfs
	done
}
