#!/usr/bin/env bats
# A system's life in a chroot, against the kernel's overlayfs: one lower
# layer holds this machine's /usr (hard links, so nothing is copied) with
# copies of its /etc and dpkg database, and one above it deletes, hides
# and replaces a few of its names; tests/tools/sysworkload.sh runs
# dpkg, the shadow tools, ldconfig, update-alternatives, python, sqlite,
# cc and make, git, tar, cp -al, rm -rf, mv of lower directories, ACLs
# and file capabilities in a chroot of layerfs and of the kernel's
# overlayfs. Its output, and every object either upper holds (with the
# names of each directory there), must be the same on both, and both
# uppers must hold the same objects.

load helpers

# files that record inode numbers or times: git's index, ldconfig's
# auxiliary cache, apt's caches, the logs of dpkg, apt and
# update-alternatives
VOLATILE='^(root/repo/\.git/index|var/cache/ldconfig/aux-cache|var/cache/apt/.*\.bin|var/log/.*\.log|var/log/apt/eipp\.log\.xz)$'

setup() {
	common_setup
	need_kernel_overlay
	command -v dpkg >/dev/null || skip "needs a Debian system (dpkg)"
	[ "$(stat -c %d /usr/.)" = "$(stat -c %d "$T/.")" ] ||
		skip "the test directory $T is not on the file system of /usr (hard links of /usr)"
	# the lower layer: /usr linked, the rest copied; the merged-/usr
	# symlinks as they are
	local R=$T/rootfs d
	mkdir -p "$R"/{proc,dev,sys,run,root,home,opt,tmp,var/lib,var/log,var/cache,var/tmp,usr/local}
	chmod 1777 "$R/tmp" "$R/var/tmp"
	chmod 0700 "$R/root"
	cp -a --link /usr "$R/"
	for d in bin sbin lib lib32 lib64 libx32; do
		[ -L "/$d" ] && cp -a "/$d" "$R/"
	done
	cp -a /etc "$R/"
	cp -a /var/lib/dpkg "$R/var/lib/"
	[ -d /var/lib/apt/lists ] && cp -a /var/lib/apt "$R/var/lib/"
	# lower files with an ACL and a file capability, for their copy-up
	setfacl -m u:2346:r "$R/etc/issue"
	cp /usr/bin/env "$R/usr/local/bin/env-lower"
	setcap cap_net_raw+ep "$R/usr/local/bin/env-lower"
	# nothing may write through to the files this machine runs
	mkdir "$T/lower"
	mount --bind "$R" "$T/lower"
	record_mount "$T/lower"
	mount -o remount,bind,ro "$T/lower"
	# a lower layer above it: whiteouts of a file the workload makes
	# again and of a directory of the package it removes, an opaque
	# /etc/skel that useradd -m copies, a file that replaces one
	R=$T/top
	mkdir -p "$R/etc/skel" "$R/usr/share/doc"
	mkwhiteout "$R/etc/motd"
	mkwhiteout "$R/usr/share/doc/psmisc"
	cp -a /etc/skel/.bashrc "$R/etc/skel/"
	setfattr -n trusted.overlay.opaque -v y "$R/etc/skel"
	echo lfs-top >"$R/etc/hostname"
	mkdir -p "$T"/{k,l}/{upper,work,mnt}
}

# run_workload DIR: sysworkload.sh in a chroot of DIR/mnt, with /proc and
# /dev; its output in DIR/out, the trace of its commands in DIR/trace
run_workload() {
	local m=$1/mnt rc=0
	cp "$SCRIPTS/sysworkload.sh" "$m/tmp/"
	mount -t proc proc "$m/proc"
	mount --rbind /dev "$m/dev"
	(cd / && env -i /usr/sbin/chroot "$m" /bin/bash /tmp/sysworkload.sh) >"$1/out" 2>&1 9>"$1/trace" || rc=$?
	umount -R "$m/proc" "$m/dev"
	rm "$m/tmp/sysworkload.sh"
	[ "$rc" = 0 ] || {
		tail -5 "$1/trace" >&2
		tail -20 "$1/out" >&2
		fail "the workload failed in $m (exit $rc)"
	}
}

# dump_changes DIR: every path either upper holds, and their parents, as
# DIR/mnt shows them
dump_changes() {
	bash "$SCRIPTS/dumptree.sh" "$1/mnt" "$T/changed"
}

compare_with_kernel() { # compare_with_kernel [LAYERFS OPTIONS]
	local n
	set -- "${1:-}"
	kovl_mount "lowerdir=$T/top:$T/lower,upperdir=$T/k/upper,workdir=$T/k/work,$KOPTS" "$T/k/mnt"
	lfs_mount "lowerdir=$T/top:$T/lower,upperdir=$T/l/upper,workdir=$T/l/work${1:+,$1}" "$T/l/mnt"
	run_workload "$T/k"
	run_workload "$T/l"
	grep -q '^sysworkload: done$' "$T/l/out" || fail "the workload did not finish"
	diff -u "$T/k/out" "$T/l/out" >&2 || fail "the workload's output differs (- kernel, + layerfs)"
	# the paths, from both uppers (a whiteout has the name it hides)
	{
		(cd "$T/k/upper" && find . -mindepth 1 -printf '%P\n')
		(cd "$T/l/upper" && find . -mindepth 1 -printf '%P\n')
	} | grep -Ev "$VOLATILE" | awk -F/ '{ p = $1; print p; for (i = 2; i <= NF; i++) { p = p "/" $i; print p } }' |
		LC_ALL=C sort -u | tr '\n' '\0' >"$T/changed"
	n=$(tr -cd '\0' <"$T/changed" | wc -c)
	[ "$n" -gt 500 ] || fail "sanity: the workload changed only $n paths"
	dump_changes "$T/k" >"$T/k.dump"
	dump_changes "$T/l" >"$T/l.dump"
	grep -q '^usr/bin/true.distrib f' "$T/l.dump" || fail "sanity: the dump lacks the diverted file"
	eq "$(cat "$T/l/mnt/etc/issue.net")" lfs-top "sanity: /etc/hostname of the top layer"
	[ -e "$T/l/mnt/home/lfstwo/.bashrc" ] && [ ! -e "$T/l/mnt/home/lfstwo/.profile" ] ||
		fail "sanity: useradd -m did not copy the opaque /etc/skel of the top layer"
	[ ! -d /var/lib/apt/lists ] || [ -s "$T/l/mnt/var/cache/apt/pkgcache.bin" ] ||
		fail "sanity: apt made no cache"
	diff -u "$T/k.dump" "$T/l.dump" >&2 || fail "the merged views differ (- kernel, + layerfs)"
	# and nothing copied up, whited out or made that the kernel did not
	# (with noopen, a file opened for writing and not written is copied up
	# by the kernel only: lckpwdf's /etc/.pwd.lock)
	upper_objects "$T/k/upper" >"$T/k.objects"
	upper_objects "$T/l/upper" >"$T/l.objects"
	if [[ ,$1, == *,noopen,* ]]; then
		grep -vxF -e 'etc/.pwd.lock f' "$T/k.objects" >"$T/k.objects.new"
		mv "$T/k.objects.new" "$T/k.objects"
	fi
	diff -u "$T/k.objects" "$T/l.objects" >&2 || fail "the uppers hold different objects (- kernel, + layerfs)"
}

# upper_objects UPPER: each path and its type (whiteouts are 0/0 devices)
upper_objects() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y\n' | LC_ALL=C sort)
}

@test "workload: dpkg, useradd, ldconfig, sqlite, make, git, tar and rm -rf in a chroot leave what they leave on the kernel's overlayfs" {
	compare_with_kernel
}

@test "workload: the same with noopen (no open requests, the writeback cache: how a rootless mount runs)" {
	compare_with_kernel noopen
}
