#!/bin/bash
# setid.sh build DIR | run DIR: set-id bits after writes, truncates,
# O_TRUNC opens, O_DIRECT writes and chowns (also to -1:-1), by root and
# by another user.
# "run" prints "name mode size" per file; the differential test compares
# that between the kernel's overlayfs and layerfs.
set -u
D=$2
if [ "$1" = build ]; then
	for f in app trunc otrunc direct roottrunc rootapp chown chownsg falloc cfr chownnone; do
		echo data >"$D/$f"
		chmod 4777 "$D/$f"
	done
	echo data >"$D/sgx" && chmod 2777 "$D/sgx"	# group may execute
	echo data >"$D/sgnox" && chmod 2767 "$D/sgnox"	# no: kept for members only
	echo data >"$D/sgmember" && chmod 2767 "$D/sgmember" && chgrp 1000 "$D/sgmember"
	chmod 6755 "$D/chownsg"
	echo data >"$D/chownnonesg" && chmod 2745 "$D/chownnonesg"
	echo data >"$D/userchown" && chmod 4755 "$D/userchown"
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
# both ids -1: set-user-ID goes even for root, set-group-ID stays without g+x
python3 -c 'import os, sys
for f in sys.argv[1:]:
	os.chown(f, -1, -1)' "$D/chownnone" "$D/chownnonesg"
# a file created through the mount, then written by the other user
echo data >"$D/new" && chmod 4777 "$D/new"
user sh -c "echo x >>'$D/new'"
# by a user who neither owns nor may write it: EPERM (it would drop a bit)
echo "userchown: $(user /usr/bin/python3 -c 'import os, sys
try:
	os.chown(sys.argv[1], -1, -1)
	print("ok")
except OSError as e:
	print(os.strerror(e.errno))' "$D/userchown")"
for f in app sgx sgnox sgmember trunc otrunc direct falloc cfr roottrunc rootapp chown chownsg chownnone chownnonesg userchown new; do
	echo "$f $(stat -c '%a %s' "$D/$f")"
done
