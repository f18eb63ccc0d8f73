#!/bin/bash
# setid.sh build DIR | run DIR: set-id bits after writes, truncates,
# O_TRUNC opens, O_DIRECT writes and chowns, by root and by another user.
# "run" prints "name mode size" per file; the differential test compares
# that between the kernel's overlayfs and layerfs.
set -u
D=$2
if [ "$1" = build ]; then
	for f in app trunc otrunc direct roottrunc rootapp chown chownsg falloc cfr; do
		echo data >"$D/$f"
		chmod 4777 "$D/$f"
	done
	echo data >"$D/sgx" && chmod 2777 "$D/sgx"	# group may execute
	echo data >"$D/sgnox" && chmod 2767 "$D/sgnox"	# no: kept for members only
	echo data >"$D/sgmember" && chmod 2767 "$D/sgmember" && chgrp 1000 "$D/sgmember"
	chmod 6755 "$D/chownsg"
	exit 0
fi
user() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }
user sh -c "echo x >>'$D/app'"
user sh -c "echo x >>'$D/sgx'"
user sh -c "echo x >>'$D/sgnox'"
user sh -c "echo x >>'$D/sgmember'"
user truncate -s 1 "$D/trunc"
user sh -c ": >'$D/otrunc'"
user dd if=/dev/zero of="$D/direct" bs=4096 count=1 oflag=direct conv=notrunc status=none
user fallocate -l 8192 "$D/falloc"
user /usr/bin/python3 -c 'import os, sys
a = os.open(sys.argv[1], os.O_RDONLY)
b = os.open(sys.argv[2], os.O_WRONLY)
os.copy_file_range(a, b, 3, 0, 0)' "$D/app" "$D/cfr"
truncate -s 2 "$D/roottrunc"
echo x >>"$D/rootapp"
chown 0:0 "$D/chown"
chown 5:0 "$D/chownsg"
# a file created through the mount, then written by the other user
echo data >"$D/new" && chmod 4777 "$D/new"
user sh -c "echo x >>'$D/new'"
for f in app sgx sgnox sgmember trunc otrunc direct falloc cfr roottrunc rootapp chown chownsg new; do
	echo "$f $(stat -c '%a %s' "$D/$f")"
done
