#!/bin/bash
# dumptree.sh DIR: print a canonical description of the tree under DIR,
# one line per object, sorted by path:
#   PATH TYPE MODE UID GID [nlink=N] [size=S sha256=H | -> TARGET | dev=MA:MI] [xattrs]
# Directories have no size (it differs between file systems); xattrs are
# listed sorted as name=hexvalue, overlay-internal ones (trusted.overlay.*,
# user.overlay.*, user.fuseoverlayfs.*) left out.  Set DUMPTREE_NLINK=0 to
# leave st_nlink out.
set -u
dir=${1:?usage: dumptree.sh DIR}
cd "$dir" || exit 1
nlink=${DUMPTREE_NLINK:-1}

find . -mindepth 1 -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' p; do
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
	esac
	x=$(getfattr -h -d -m - -e hex --absolute-names -- "$p" 2>/dev/null |
		grep -v -e '^#' -e '^$' -e '^trusted\.overlay\.' -e '^user\.overlay\.' \
			-e '^user\.fuseoverlayfs\.' | LC_ALL=C sort | tr '\n' ' ')
	[ -n "$x" ] && line="$line xattrs: ${x% }"
	printf '%s\n' "$line"
done
