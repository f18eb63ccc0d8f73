#!/bin/bash
# dumptree.sh DIR [LIST]: print a canonical description of the tree under
# DIR, or of the paths (relative to DIR) in the file LIST, NUL-separated,
# one line per object, sorted by path:
#   PATH TYPE MODE UID GID [nlink=N] [size=S sha256=H | -> TARGET | dev=MA:MI] [xattrs]
# (with LIST, a path that does not exist prints as "PATH absent", and a
# directory also shows a hash of the sorted names it lists)
# Directories have no size (it differs between file systems); xattrs are
# listed sorted as name=hexvalue, overlay-internal ones (trusted.overlay.*,
# user.overlay.*, user.fuseoverlayfs.*) left out.  Set DUMPTREE_NLINK=0 to
# leave st_nlink out.
set -u
dir=${1:?usage: dumptree.sh DIR [LIST]}
list=${2:-}
[ -z "$list" ] || list=$(realpath -- "$list") || exit 1
cd "$dir" || exit 1
nlink=${DUMPTREE_NLINK:-1}

paths() {
	if [ -n "$list" ]; then
		sed -z 's|^|./|' "$list"
	else
		find . -mindepth 1 -print0
	fi
}

paths | LC_ALL=C sort -zu | while IFS= read -r -d '' p; do
	if [ -n "$list" ] && [ ! -e "$p" ] && [ ! -L "$p" ]; then
		echo "${p#./} absent"
		continue
	fi
	st=$(stat -c '%F|%a|%u|%g|%h|%s|%t:%T' -- "$p") || { echo "$p STAT-FAILED"; continue; }
	IFS='|' read -r ftype mode uid gid nl size dev <<<"$st"
	case "$ftype" in
	"regular file" | "regular empty file") t=f ;;
	directory) t=d ;;
	"symbolic link") t=l ;;
	fifo) t=p ;;
	socket) t=s ;;
	"character special file") t=c ;;
	"block special file") t=b ;;
	*) t="?" ;;
	esac
	line="${p#./} $t $mode $uid $gid"
	[ "$t" != d ] && [ "$nlink" = 1 ] && line="$line nlink=$nl"
	case $t in
	f) line="$line size=$size sha256=$(sha256sum <"$p" | cut -c1-16)" ;;
	l) line="$line -> $(readlink -- "$p")" ;;
	c | b) line="$line dev=$dev" ;;
	d) [ -n "$list" ] && line="$line names=$(ls -A -- "$p" | LC_ALL=C sort | sha256sum | cut -c1-16)" ;;
	esac
	x=$(getfattr -h -d -m - -e hex --absolute-names -- "$p" 2>/dev/null |
		grep -v -e '^#' -e '^$' -e '^trusted\.overlay\.' -e '^user\.overlay\.' \
			-e '^user\.fuseoverlayfs\.' | LC_ALL=C sort | tr '\n' ' ')
	[ -n "$x" ] && line="$line xattrs: ${x% }"
	printf '%s\n' "$line"
done
