#!/bin/bash
# Mount the sample stack in contrib/sample with layerfs and show, and check,
# what an overlay does: merging, shadowing, whiteouts, opaque directories,
# copy-up on write and whiteouts written on delete.
#
#   contrib/demo.sh [PATH-TO-LAYERFS]      (default: ./layerfs)
#
# Works on a copy in a temporary directory; the sample itself is never
# touched. Exits 0 only if every fact shown holds.
set -euo pipefail

LAYERFS=${1:-./layerfs}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sample=$here/sample

die() { echo "demo: $*" >&2; exit 1; }

[[ $LAYERFS == */* ]] || LAYERFS=$(command -v "$LAYERFS" || echo "./$LAYERFS")
[[ -x $LAYERFS ]] || die "no layerfs binary at '$LAYERFS' (build it first: make)"
[[ -d $sample/lower1 && -d $sample/lower2 ]] || die "sample stack not found in '$sample'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/layerfs-demo.XXXXXX")
mnt=$tmp/mnt
failures=0

# From the mount table: mountpoint(1) says no for a FUSE mount whose daemon died.
is_mounted() { findmnt -rn --mountpoint "$1" >/dev/null 2>&1; }
not_mounted() { ! is_mounted "$1"; }

cleanup() {
	local rc=$?
	if is_mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null ||
			umount -l "$mnt" 2>/dev/null || true
	fi
	if is_mounted "$mnt"; then
		echo "demo: could not unmount $mnt; leaving $tmp in place" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo: FAILED: line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

heading() { printf '\n== %s\n' "$*"; }

# check DESCRIPTION COMMAND...: run COMMAND, report the fact as true or false.
check() {
	local what=$1
	shift
	if "$@"; then
		echo "   ok: $what"
	else
		echo "   FAILED: $what" >&2
		failures=$((failures + 1))
	fi
}

is_whiteout_dev() {
	[[ -c $1 && $(stat -c '%t:%T' "$1") == 0:0 ]]
}

cp -R "$sample/lower1" "$sample/lower2" "$tmp/"
chmod -R u+w "$tmp"	# a distcheck source tree is read-only
mkdir "$tmp/upper" "$tmp/work" "$mnt"
lower1=$tmp/lower1 lower2=$tmp/lower2 upper=$tmp/upper
orig_base_only=$(cat "$lower2/base-only.txt")

heading "Mounting lower1 (top) over lower2 (base) with a writable upper"
echo "   T=$tmp"
echo "   $LAYERFS -o lowerdir=\$T/lower1:\$T/lower2,upperdir=\$T/upper,workdir=\$T/work \$T/mnt"
"$LAYERFS" -o "lowerdir=$lower1:$lower2,upperdir=$upper,workdir=$tmp/work" "$mnt" ||
	die "layerfs failed to mount"
is_mounted "$mnt" || die "$mnt is not a mount point after layerfs returned"

heading "Merged tree (find, sorted)"
(cd "$mnt" && find . | LC_ALL=C sort | sed 's/^/   /')
check "base-only.txt comes from the base layer" test -f "$mnt/base-only.txt"
check "merged/ holds files of both layers" \
	test -f "$mnt/merged/from-base.txt" -a -f "$mnt/merged/from-top.txt"
check "no .wh.* name shows in the merged view" \
	test -z "$(cd "$mnt" && find . -name '.wh.*')"

heading "A file shadowed by the top layer: cat shadowed.txt"
sed 's/^/   /' "$mnt/shadowed.txt"
check "shadowed.txt shows the top layer's version" \
	cmp -s "$mnt/shadowed.txt" "$lower1/shadowed.txt"

heading "Whited out: lower1/.wh.deleted.txt hides lower2/deleted.txt"
(cd "$mnt" && ls -d deleted.txt 2>&1) | sed 's/^/   /' || true
check "deleted.txt is absent" test ! -e "$mnt/deleted.txt"

heading "Opaque: lower1/opaque/.wh..wh..opq hides lower2/opaque/*"
ls -A "$mnt/opaque" | sed 's/^/   /'
check "opaque/ lists only the top layer's visible.txt" \
	test "$(ls -A "$mnt/opaque")" = visible.txt
check "opaque/hidden.txt (base layer) is absent" test ! -e "$mnt/opaque/hidden.txt"

heading "Copy-up: append a line to base-only.txt"
echo "A line appended through the mount." >>"$mnt/base-only.txt"
sed 's/^/   mount: /' "$mnt/base-only.txt"
(cd "$upper" && ls -l base-only.txt 2>&1) | sed 's/^/   upper: /'
check "the upper now holds the copied-up file with the new line" \
	test "$(cat "$upper/base-only.txt" 2>/dev/null)" = \
	"$orig_base_only"$'\n'"A line appended through the mount."
check "the lower file is unchanged" \
	test "$(cat "$lower2/base-only.txt")" = "$orig_base_only"

heading "Whiteout: rm merged/from-base.txt"
rm "$mnt/merged/from-base.txt"
ls -lA "$upper/merged" | sed '/^total /d; s/^/   upper\/merged: /'
check "merged/from-base.txt is gone from the mount" test ! -e "$mnt/merged/from-base.txt"
check "merged/from-top.txt is still there" test -f "$mnt/merged/from-top.txt"
if [[ -e $upper/merged/.wh.from-base.txt ]]; then
	# the form written where the daemon may not mknod a 0:0 device
	check "the upper holds a .wh.from-base.txt whiteout file" \
		test -f "$upper/merged/.wh.from-base.txt"
else
	check "the upper holds a whiteout: character device 0,0" \
		is_whiteout_dev "$upper/merged/from-base.txt"
fi
check "the lower file is still there" test -f "$lower2/merged/from-base.txt"

heading "Unmounting"
fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt"
check "\$T/mnt is no longer a mount point" not_mounted "$mnt"
check "the top layer is as shipped" diff -r "$sample/lower1" "$lower1"
check "the base layer is as shipped" diff -r "$sample/lower2" "$lower2"

echo
if ((failures)); then
	echo "demo: $failures check(s) FAILED" >&2
	exit 1
fi
echo "demo: all checks passed"
