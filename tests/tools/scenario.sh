#!/bin/bash
# scenario.sh: the scripted workload of the differential test.
#
#   scenario.sh build DIR   create lower layers DIR/l1 (top) DIR/l2 DIR/l3
#                           with whiteouts (char 0:0), opaque directories
#                           (trusted.overlay.opaque=y), symlinks, hard links,
#                           special files, xattrs, odd modes and owners.
#                           Needs root.
#   scenario.sh run MNT     run the same operations on a mounted overlay;
#                           prints one line per step with its exit status,
#                           so that two runs can be compared.
#
# Only formats the kernel's overlayfs reads are used, so that it can serve
# as the reference.  Directory renames use mv: where the kernel refuses
# (EXDEV) mv copies and deletes, so the resulting views must be the same.
set -u
umask 022

fsops=${FSOPS:-$(dirname "$0")/fsops}

build() {
	local d=$1 l1=$1/l1 l2=$1/l2 l3=$1/l3
	mkdir -p "$l1" "$l2" "$l3"

	# ---- l3, the bottom layer
	mkdir -p "$l3"/etc "$l3"/usr/bin "$l3"/usr/lib "$l3"/var/log "$l3"/var/cache/pkg/p1 \
		"$l3"/var/cache/pkg/p2 "$l3"/home/user/docs/old "$l3"/opt/app/bin "$l3"/hard \
		"$l3"/data "$l3"/tree/a/b/c "$l3"/mixed
	printf 'root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$l3/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$l3/etc/group"
	printf '127.0.0.1 localhost\n' >"$l3/etc/hosts"
	printf '#!/bin/sh\necho tool1\n' >"$l3/usr/bin/tool1"
	printf '#!/bin/sh\necho tool2\n' >"$l3/usr/bin/tool2"
	chmod 755 "$l3/usr/bin/tool1" "$l3/usr/bin/tool2"
	chmod 4755 "$l3/usr/bin/tool2"
	head -c 20000 /dev/zero | tr '\0' 'L' >"$l3/usr/lib/libx.so.1"
	ln -s libx.so.1 "$l3/usr/lib/libx.so"
	printf 'log a\n' >"$l3/var/log/a.log"
	printf 'log b line 1\nlog b line 2\n' >"$l3/var/log/b.log"
	printf 'p1\n' >"$l3/var/cache/pkg/p1/data"
	printf 'p2\n' >"$l3/var/cache/pkg/p2/data"
	printf 'export PS1=x\n' >"$l3/home/user/.bashrc"
	printf 'd1\n' >"$l3/home/user/docs/d1"
	printf 'd2\n' >"$l3/home/user/docs/d2"
	printf 'old\n' >"$l3/home/user/docs/old/o"
	chown -R 1000:1000 "$l3/home/user"
	chmod 750 "$l3/home/user"
	printf 'conf\n' >"$l3/opt/app/conf"
	printf 'run\n' >"$l3/opt/app/bin/run"
	printf 'shared\n' >"$l3/hard/h1"
	ln "$l3/hard/h1" "$l3/hard/h2"
	printf 'single\n' >"$l3/hard/single"
	truncate -s 3M "$l3/data/sparse"
	printf 'middle' | dd of="$l3/data/sparse" bs=1M seek=1 conv=notrunc status=none
	printf 'file\n' >"$l3/data/file_then_dir"
	mkdir "$l3/data/dir_then_file"
	printf 'x\n' >"$l3/data/dir_then_file/x"
	printf 'c\n' >"$l3/tree/a/b/c/leaf"
	printf 'b\n' >"$l3/tree/a/b/bfile"
	mknod "$l3/data/null" c 1 3
	mkfifo "$l3/data/fifo"
	setfattr -n user.origin -v l3 "$l3/etc/hosts"
	setfattr -n user.dirattr -v tree "$l3/tree"
	printf 'm3\n' >"$l3/mixed/from3"

	# ---- l2, the middle layer
	mkdir -p "$l2"/etc "$l2"/usr/bin "$l2"/var/log "$l2"/var/cache/pkg/p9 \
		"$l2"/home/user/docs "$l2"/opt/app2 "$l2"/mixed "$l2"/tree/a
	printf '127.0.0.1 localhost\n10.0.0.1 l2host\n' >"$l2/etc/hosts"
	setfattr -n user.origin -v l2 "$l2/etc/hosts"
	mknod "$l2/var/log/a.log" c 0 0
	setfattr -n trusted.overlay.opaque -v y "$l2/var/cache"
	printf 'p9\n' >"$l2/var/cache/pkg/p9/data"
	printf '#!/bin/sh\necho tool3\n' >"$l2/usr/bin/tool3"
	ln -sf tool1 "$l2/usr/bin/tool2"
	printf 'd3\n' >"$l2/home/user/docs/d3"
	chown -R 1000:1000 "$l2/home/user"
	chmod 750 "$l2/home/user"
	mknod "$l2/opt/app" c 0 0
	printf 'app2\n' >"$l2/opt/app2/conf"
	printf 'm2\n' >"$l2/mixed/from2"
	printf 'a2\n' >"$l2/tree/a/a2"

	# ---- l1, the top lower layer
	mkdir -p "$l1"/etc "$l1"/data/file_then_dir "$l1"/home/user/new "$l1"/mixed "$l1"/hard
	printf 'welcome\n' >"$l1/etc/motd"
	mknod "$l1/etc/group" c 0 0
	printf 'now a dir\n' >"$l1/data/file_then_dir/inner"
	printf 'now a file\n' >"$l1/data/dir_then_file"
	printf 'n\n' >"$l1/home/user/new/n"
	chown -R 1000:1000 "$l1/home/user"
	chmod 750 "$l1/home/user"
	setfattr -n trusted.overlay.opaque -v y "$l1/mixed"
	printf 'm1\n' >"$l1/mixed/from1"
	printf 'top single\n' >"$l1/hard/single"
}

n=0
step() {
	n=$((n + 1))
	"$@" >/dev/null 2>&1
	echo "step $n rc=$? $*"
}

sh_step() {
	n=$((n + 1))
	bash -c "$1" >/dev/null 2>&1
	echo "step $n rc=$? $1"
}

run() {
	cd "$1" || exit 1
	# create
	step mkdir -p newdir/sub
	sh_step 'printf "new file\n" >newdir/sub/f'
	sh_step 'printf "in lower dir\n" >etc/newconf'
	sh_step 'printf "deep\n" >tree/a/b/c/new'
	# write, append, truncate
	sh_step 'printf "appended\n" >>etc/hosts'
	sh_step 'printf "#!/bin/sh\necho replaced\n" >usr/bin/tool1'
	step truncate -s 3 var/log/b.log
	step truncate -s 10000 home/user/.bashrc
	step truncate -s 0 usr/lib/libx.so.1
	sh_step 'printf "x" | dd of=data/sparse bs=1M seek=2 conv=notrunc status=none'
	# chmod, chown
	step chmod 700 usr/bin/tool3
	step chmod 1777 var/log
	step chmod 640 etc/motd
	step chown 123:456 etc/hosts
	step chown -h 7:7 usr/lib/libx.so
	step chown 1000:1000 tree/a/b
	step chmod 2775 tree/a/b
	# xattrs
	step setfattr -n user.tag -v scenario etc/motd
	step setfattr -x user.origin etc/hosts
	step setfattr -n user.dirtag -v d tree/a
	# rename files
	step mv etc/passwd etc/passwd.old
	step mv home/user/docs/d1 var/d1.moved
	step mv mixed/from1 mixed/renamed1
	step mv hard/single hard/single.renamed
	step "$fsops" rename usr/bin/tool3 usr/bin/tool1 exchange
	# rename directories (lower content: the kernel needs mv's fallback)
	step mv home/user/docs home/user/documents
	step mv var/cache/pkg var/pkg
	step mv opt/app2 opt/app
	step mv newdir newdir2
	step mv tree/a/b tree/b_moved
	# hard links
	step ln etc/hosts etc/hosts.link
	step ln newdir2/sub/f newdir2/f.link
	step ln hard/h1 hard/h3
	# symlinks
	step ln -s ../etc/hosts usr/hostlink
	step ln -sfn tool1 usr/bin/tool2
	step ln -s /absolute/target data/abs
	# special files
	step mkfifo newdir2/fifo
	step mknod newdir2/null c 1 3
	step "$fsops" socket newdir2/sock
	# rm -rf of lower trees, then the same names again
	step rm -rf var/log
	step rm -rf usr/lib
	step mkdir var/log
	sh_step 'printf "fresh\n" >var/log/fresh.log'
	step mkdir -p usr/lib/new
	step rm -rf home/user/documents/old
	step rm data/null data/fifo
	# mkdir over whiteouts of lower layers
	step mkdir etc/group
	sh_step 'printf "g\n" >etc/group/inside'
	step rm -rf data/dir_then_file
	step mkdir data/dir_then_file
	step rm -rf data/file_then_dir
	sh_step 'printf "file again\n" >data/file_then_dir'
	# remove and recreate
	step rm etc/hosts.link
	step rm mixed/renamed1
	sh_step 'printf "again\n" >mixed/renamed1'
	step rmdir tree/a 2>/dev/null
	step rm -rf tree/b_moved/c
	step mkdir tree/b_moved/c
	# errors must match too
	step mkdir etc
	step rmdir var/pkg
	step cat opt/app/bin/run
	step ln -s x etc/motd
	return 0
}

case "${1:-}" in
build) build "$2" ;;
run) run "$2" ;;
*)
	echo "usage: $0 build DIR | run MNT" >&2
	exit 2
	;;
esac
