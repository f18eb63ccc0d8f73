#!/usr/bin/env bats
# Rootless podman with layerfs (or another mount_program) as the overlay
# driver's mount program.  Needs root (it runs podman as an unprivileged
# user it creates), podman, runc, uidmap and busybox-static.
#
#   MOUNT_PROGRAM=/path/to/prog bats tests/podman.bats
#
# The mount program is $MOUNT_PROGRAM, else $LAYERFS, else
# /usr/bin/fuse-overlayfs; MOUNT_PROGRAM=none uses the kernel's overlayfs.
# Set LFS_KEEP=1 to keep the work directory (its path is printed as
# "# workdir ..." on fd 3).  See docs/podman-notes.md.

bats_require_minimum_version 1.5.0

HERE=$BATS_TEST_DIRNAME/podman
IMG=localhost/lfs-layers:test
BASE=localhost/busybox:base

setup_file() {
	if [ "$(id -u)" != 0 ] || ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
		skip "needs root, podman and runc"
	fi
	export MOUNT_PROGRAM=${MOUNT_PROGRAM:-${LAYERFS:-/usr/bin/fuse-overlayfs}}
	LFS_WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/lfs-podman.XXXXXX")
	export LFS_WORKDIR
	echo "# workdir $LFS_WORKDIR, mount program $MOUNT_PROGRAM" >&3
	"$HERE/setup.sh" "$LFS_WORKDIR" >"$LFS_WORKDIR.setup.log" 2>&1 || {
		cat "$LFS_WORKDIR.setup.log" >&3
		return 1
	}
	rm -f "$LFS_WORKDIR.setup.log"
}

teardown_file() {
	[ -n "${LFS_WORKDIR:-}" ] || return 0
	[ "${LFS_KEEP:-0}" = 1 ] && return 0
	"$HERE/teardown.sh" "$LFS_WORKDIR"
}

setup() {
	[ -n "${LFS_WORKDIR:-}" ] && [ -f "$LFS_WORKDIR/env" ] || skip "setup_file did not complete"
	# shellcheck disable=SC1091
	. "$LFS_WORKDIR/env"
	W=$LFS_WORKDIR
	MP=$LFS_MOUNT_PROGRAM
	# owner of the podman user's own id inside its user namespace:
	# ns id N (1 <= N <= count) is host id SUBSTART + N - 1
	SUBSTART=${LFS_SUBID%%:*}
}

teardown() {
	[ -n "${LFS_WORKDIR:-}" ] && [ -f "$LFS_WORKDIR/env" ] || return 0
	if [ -s "$LFS_WORKDIR/tmp/holder.pid" ]; then
		kill -9 "$(cat "$LFS_WORKDIR/tmp/holder.pid")" 2>/dev/null || true
		rm -f "$LFS_WORKDIR/tmp/holder.pid"
	fi
	pm rm -a -f -t 0 >/dev/null 2>&1 || true
	pm rmi -f localhost/lfs-commit:test localhost/lfs-build:test localhost/lfs-big:test >/dev/null 2>&1 || true
}

# podman as the test user
pm() {
	(cd / && timeout -k 10 "${LFS_PM_TIMEOUT:-240}" runuser -u "$LFS_USER" -- env -i \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$LFS_HOME" \
		USER="$LFS_USER" LOGNAME="$LFS_USER" XDG_RUNTIME_DIR="$W/xdg" TMPDIR="$W/tmp" \
		podman --log-level=error --runtime runc --cgroup-manager cgroupfs "$@")
}

# Check helpers for scripts run inside containers: `check EXPR` and
# `eq CMD EXPECTED` print FAIL lines; the script ends with `done_checks`.
CHECKS='fails=0
check() { if eval "$1"; then :; else echo "FAIL: $1"; fails=$((fails+1)); fi; }
eq() { v=$(eval "$1" 2>&1); if [ "$v" = "$2" ]; then :; else echo "FAIL: $1 -> [$v], expected [$2]"; fails=$((fails+1)); fi; }
done_checks() { if [ $fails -eq 0 ]; then echo ALL-CHECKS-OK; else echo "$fails check(s) failed"; exit 1; fi; }
'

# in_ctr PODMAN-RUN-ARGS... <script: run `sh` in a new container with the
# check helpers and the script from stdin
in_ctr() {
	{ printf '%s\n' "$CHECKS"; cat; } | pm run -i "$@" sh -s
}
# the same in a running container (podman exec)
in_exec() {
	{ printf '%s\n' "$CHECKS"; cat; } | pm exec -i "$@" sh -s
}

assert_checks() {
	if [ "$status" -ne 0 ] || [[ $output != *ALL-CHECKS-OK* ]]; then
		echo "status $status, output:"
		echo "$output"
		return 1
	fi
}

# container -> its layer directory (parent of diff/, merged/)
layer_dir() {
	local up
	up=$(pm inspect --format '{{.GraphDriver.Data.UpperDir}}' "$1") || return 1
	[ -n "$up" ] || return 1
	dirname "$up"
}

# live (non-zombie) processes of the user that work on $1 (command line, cwd
# or an open file descriptor mentions it)
procs_on() {
	local p
	for p in $(pgrep -u "$LFS_USER" 2>/dev/null); do
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && continue
		if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$1" ||
			ls -l "/proc/$p/fd/" "/proc/$p/cwd" 2>/dev/null | grep -qF -- "$1"; then
			echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-200)"
		fi
	done
}

# mounts of the podman user namespace (the pause process's) on $1
mounts_on() {
	local p
	p=$(cat "$W/tmp/pause.pid" 2>/dev/null) || return 0
	grep -F -- "$1" "/proc/$p/mountinfo" 2>/dev/null || true
}

# wait up to ~10 s for no process and no mount working on $1
assert_released() {
	local i
	for i in $(seq 1 40); do
		[ -z "$(procs_on "$1")" ] && [ -z "$(mounts_on "$1")" ] && return 0
		sleep 0.25
	done
	echo "still in use: $1"
	echo "processes:"
	procs_on "$1"
	echo "mounts:"
	mounts_on "$1"
	return 1
}

# owner of a path as seen in the podman user namespace (= on disk, shifted
# by the rootless mapping)
ns_owner() {
	pm unshare stat -c %u:%g "$1"
}
assert_ns_owner() {
	local got
	got=$(ns_owner "$1") || return 1
	[ "$got" = "$2" ] || { echo "owner of $1 in the podman namespace: $got, expected $2"; return 1; }
}

@test "podman info reports the storage driver and the mount program's --version" {
	run -0 pm info --format '{{.Store.GraphDriverName}}'
	[ "$output" = overlay ]
	run -0 pm info --format '{{json .Store.GraphOptions}}'
	if [ -z "$MP" ]; then
		[[ $output != *mount_program* ]]
	else
		[[ $output == *"\"Executable\":\"$MP\""* ]]
		# podman runs PROG --version and shows its stdout
		[[ $output =~ \"Version\":\"[^\"]+ ]] || { echo "$output"; false; }
	fi
}

@test "run: files of every layer are there, deleted ones are gone, the opaque directory hides the lower one" {
	run in_ctr --rm "$IMG" <<'EOF'
eq 'cat /data/l1/a.txt' layer1-a
eq 'cat /data/l2.txt' layer2
eq 'cat /data/copied.txt' 'copied into the image'
eq 'cat /data/ren/sub/n2' n2
check 'test ! -e /data/l1/b.txt'
check '! cat /data/l1/b.txt 2>/dev/null'
check 'test ! -e /data/l1/gone'
check 'test ! -e /data/l1/gone/x'
eq 'ls -A /data/l1' a.txt
eq 'ls -A /data/opq' n
eq 'cat /data/opq/n' new
check 'test ! -e /data/opq/old1'
check 'test ! -e /data/opq/sub'
check 'test ! -e /data/opq/sub/old2'
eq 'ls -A /data/rmrf | tr "\n" " "' 'r1 sub '
eq 'stat -c %a /data/sgid' 2777
eq 'stat -c %u:%g /data/owned' 1234:2345
eq 'find /data -name ".wh.*" | wc -l' 0
done_checks
EOF
	assert_checks
}

@test "run: write, append, truncate, rename, delete; podman diff reports A/C/D" {
	run in_ctr --name c_diff "$IMG" <<'EOF'
echo replaced > /data/edit.txt
echo more >> /data/append.txt
: > /data/trunc.txt
mv /data/mv.txt /data/mv2.txt
rm /data/rm.txt
echo new > /data/new.txt
mkdir /data/newdir && echo f > /data/newdir/f
mv /data/ren /data/ren2
eq 'cat /data/edit.txt' replaced
eq 'cat /data/append.txt | tr "\n" " "' 'append more '
eq 'stat -c %s /data/trunc.txt' 0
eq 'cat /data/mv2.txt' rename-me
check 'test ! -e /data/mv.txt'
check 'test ! -e /data/rm.txt'
eq 'cat /data/newdir/f' f
check 'test ! -e /data/ren'
eq 'cat /data/ren2/n1 /data/ren2/sub/n2 | tr "\n" " "' 'n1 n2 '
done_checks
EOF
	assert_checks
	run -0 pm diff c_diff
	local want
	for want in "C /data/edit.txt" "C /data/append.txt" "C /data/trunc.txt" \
		"D /data/mv.txt" "A /data/mv2.txt" "D /data/rm.txt" "A /data/new.txt" \
		"A /data/newdir" "A /data/newdir/f" "D /data/ren" "A /data/ren2"; do
		grep -qxF "$want" <<<"$output" || { echo "missing '$want' in:"; echo "$output"; false; }
	done
	for want in "A /data/edit.txt" "D /data/edit.txt" "C /data/rm.txt" "A /data/rm.txt" \
		"D /data/l1/a.txt" "C /data/l1/a.txt" "D /data/opq"; do
		! grep -qxF "$want" <<<"$output" || { echo "unexpected '$want' in:"; echo "$output"; false; }
	done
}

@test "run: a lower directory removed with rm -rf and made again stays empty (also after a whiteout beside it and after a restart)" {
	run -0 pm run -d --name c_rmrf "$IMG" sleep 600
	run in_exec c_rmrf <<'EOF'
rm /data/rm.txt
rm -rf /data/rmrf
mkdir /data/rmrf
echo fresh > /data/rmrf/fresh
rm -rf /data/l1 && mkdir /data/l1
done_checks
EOF
	assert_checks
	local pass
	for pass in running restarted; do
		if [ $pass = restarted ]; then
			run -0 pm stop -t 0 c_rmrf
			run -0 pm start c_rmrf
		fi
		run in_exec c_rmrf <<'EOF'
eq 'ls -A /data/rmrf' fresh
check 'test ! -e /data/rmrf/r1'
check '! cat /data/rmrf/r1 2>/dev/null'
check 'test ! -e /data/rmrf/sub'
check 'test ! -e /data/rmrf/sub/r2'
check 'test ! -e /data/l1/a.txt'
eq 'ls -A /data/l1 | wc -l' 0
check 'test ! -e /data/rm.txt'
done_checks
EOF
		echo "# $pass"
		assert_checks
	done
}

@test "commit: deletions are kept, new content is there, a directory removed with rm -rf and made again keeps none of its old entries" {
	run in_ctr --name c_commit "$IMG" <<'EOF'
echo changed > /data/edit.txt
echo new > /data/new.txt
rm /data/rm.txt
rm -rf /data/rmrf
mkdir /data/rmrf
echo fresh > /data/rmrf/fresh
rm -rf /data/l1
mv /data/ren /data/ren2
rm /data/opq/n
echo n2 > /data/opq/n2
done_checks
EOF
	assert_checks
	run -0 pm commit -q c_commit localhost/lfs-commit:test
	run in_ctr --rm localhost/lfs-commit:test <<'EOF'
eq 'cat /data/edit.txt' changed
eq 'cat /data/new.txt' new
check 'test ! -e /data/rm.txt'
eq 'ls -A /data/rmrf' fresh
eq 'cat /data/rmrf/fresh' fresh
check 'test ! -e /data/rmrf/r1'
check 'test ! -e /data/rmrf/sub'
check 'test ! -e /data/l1'
check 'test ! -e /data/ren'
eq 'cat /data/ren2/n1 /data/ren2/sub/n2 | tr "\n" " "' 'n1 n2 '
eq 'ls -A /data/opq' n2
check 'test ! -e /data/opq/old1'
eq 'cat /data/l2.txt' layer2
eq 'find /data -name ".wh.*" | wc -l' 0
done_checks
EOF
	assert_checks
}

@test "build: RUN steps remove a lower directory with rm -rf and make it again, and rename a lower directory" {
	rm -rf "$W/ctx-build"
	cp -r "$HERE/build" "$W/ctx-build"
	chown -R "$LFS_USER:" "$W/ctx-build"
	run pm build --network none -q -t localhost/lfs-build:test -f "$W/ctx-build/Containerfile" "$W/ctx-build"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run in_ctr --rm localhost/lfs-build:test <<'EOF'
eq 'ls -A /data/rmrf' b
check 'test ! -e /data/rmrf/r1'
check 'test ! -e /data/rmrf/sub'
check 'test ! -e /data/rm.txt'
check 'test ! -e /data/ren'
eq 'cat /data/ren2/n1 | tr "\n" " "' 'n1 moved '
eq 'cat /data/ren2/sub/n2' n2
eq 'cat /data/step3' step3
eq 'cat /data/l1/a.txt' layer1-a
eq 'find /data -name ".wh.*" | wc -l' 0
done_checks
EOF
	assert_checks
}

@test "--uidmap: owners of image files and of new files, inside and on disk" {
	run in_ctr --name c_uidmap --uidmap 0:100:5000 --gidmap 0:100:5000 "$IMG" <<'EOF'
eq 'head -n1 /proc/self/uid_map | tr -s " " | sed "s/^ //"' '0 100 5000'
eq 'stat -c %u:%g /data/owned' 1234:2345
eq 'stat -c %u:%g /data/owneddir' 1234:2345
eq 'stat -c %u:%g /data/rootfile' 0:0
eq 'stat -c %u:%g /data/sgid' 0:2345
touch /data/byroot
eq 'stat -c %u:%g /data/byroot' 0:0
echo x > /data/byuser && chown 1234:2345 /data/byuser
eq 'stat -c %u:%g /data/byuser' 1234:2345
mkdir /data/d7 && chown 7:8 /data/d7
eq 'stat -c %u:%g /data/d7' 7:8
echo more >> /data/owned
eq 'stat -c %u:%g /data/owned' 1234:2345
touch /data/owneddir/inside && chown 1234:2345 /data/owneddir/inside
eq 'stat -c %u:%g /data/owneddir' 1234:2345
done_checks
EOF
	assert_checks
	local d
	d=$(layer_dir c_uidmap)/diff
	# With a mount program the layer on disk keeps the ids the container sees
	# (the mount program shifts them); podman's kernel overlay instead works
	# on a chowned copy, so its upper layer holds the shifted ids.
	local off=0
	[ -n "$MP" ] || off=100
	assert_ns_owner "$d/data/byuser" $((1234 + off)):$((2345 + off))
	assert_ns_owner "$d/data/d7" $((7 + off)):$((8 + off))
	assert_ns_owner "$d/data/byroot" $off:$off
	assert_ns_owner "$d/data/owned" $((1234 + off)):$((2345 + off))
	assert_ns_owner "$d/data/owneddir" $((1234 + off)):$((2345 + off))
	# host view: ns id N > 0 is SUBSTART + N - 1
	[ "$(stat -c %u:%g "$d/data/byuser")" = "$((SUBSTART + 1233 + off)):$((SUBSTART + 2344 + off))" ]
}

@test "--uidmap with split ranges (podman makes an id-shifted copy of the image through the mount program)" {
	run in_ctr --rm --uidmap 0:1:1000 --uidmap 1000:3000:4000 --gidmap 0:1:5000 "$IMG" <<'EOF'
eq 'stat -c %u:%g /data/owned' 1234:2345
eq 'stat -c %u:%g /data/rootfile' 0:0
eq 'stat -c %u:%g /home/user' 1000:1000
check 'test -p /data/links/fifo'
eq 'cat /data/links/h2' hl
eq 'stat -c %h /data/links/h1' 2
touch /data/new && chown 1500:1500 /data/new
eq 'stat -c %u:%g /data/new' 1500:1500
done_checks
EOF
	assert_checks
}

@test "--userns=auto: owners of image files and of new files, inside and on disk" {
	# a first container takes the first range, so the second one is shifted further
	run -0 pm create --userns=auto --name c_auto_hold "$IMG" true
	run in_ctr --name c_auto --userns=auto "$IMG" <<'EOF'
read -r ns_in ns_out ns_len < /proc/self/uid_map
check 'test "$ns_in" = 0 && test "$ns_out" -gt 1 && test "$ns_len" -ge 2346'
echo "NSOUT $ns_out"
eq 'stat -c %u:%g /data/owned' 1234:2345
eq 'stat -c %u:%g /data/rootfile' 0:0
eq 'stat -c %u:%g /home/user' 1000:1000
echo x > /data/made && chown 4321:4322 /data/made
eq 'stat -c %u:%g /data/made' 4321:4322
touch /data/byroot
eq 'stat -c %u:%g /data/byroot' 0:0
echo more >> /data/owned
eq 'stat -c %u:%g /data/owned' 1234:2345
done_checks
EOF
	assert_checks
	local d off=0
	[ -n "$MP" ] || off=$(sed -n 's/^NSOUT //p' <<<"$output")
	d=$(layer_dir c_auto)/diff
	assert_ns_owner "$d/data/made" $((4321 + off)):$((4322 + off))
	assert_ns_owner "$d/data/byroot" $off:$off
	assert_ns_owner "$d/data/owned" $((1234 + off)):$((2345 + off))
}

@test "--userns=keep-id: the user's own id inside, owners of image files and of new files" {
	run in_ctr --name c_keepid --userns=keep-id "$IMG" <<EOF
eq 'id -u' $LFS_UID
eq 'stat -c %u:%g /data/owned' 1234:2345
eq 'stat -c %u:%g /data/rootfile' 0:0
touch /tmp/mine
eq 'stat -c %u /tmp/mine' $LFS_UID
check '! touch /data/rootfile 2>/dev/null'
done_checks
EOF
	assert_checks
	# keep-id maps the user's uid inside to id 0 of the podman namespace
	local want=$LFS_UID
	[ -n "$MP" ] || want=0
	run -0 ns_owner "$(layer_dir c_keepid)/diff/tmp/mine"
	[ "${output%%:*}" = "$want" ] || { echo "owner on disk $output, expected uid $want"; false; }
}

@test "permissions: a non-root user cannot write a root-owned 0644 file; root can chmod and chown; setgid directories pass on their group and bit" {
	run -0 pm run -d --name c_perm "$IMG" sleep 600
	run in_exec --user 1000:1000 c_perm <<'EOF'
eq 'id -u' 1000
check '! sh -c "echo x >> /data/rootfile" 2>/dev/null'
check '! sh -c "echo x > /data/rootfile" 2>/dev/null'
check '! touch /data/rootfile 2>/dev/null'
check '! chmod 666 /data/rootfile 2>/dev/null'
check '! chown 1000 /data/rootfile 2>/dev/null'
check '! rm -f /data/rootfile 2>/dev/null'
check '! touch /data/newfile 2>/dev/null'
eq 'cat /data/rootfile' rootfile
eq 'stat -c %a:%u:%g /data/rootfile' 644:0:0
mkdir /data/sgid/udir
eq 'stat -c %u:%g /data/sgid/udir' 1000:2345
check 'stat -c %A /data/sgid/udir | grep -q "^d.....s"'
touch /data/sgid/ufile
eq 'stat -c %u:%g /data/sgid/ufile' 1000:2345
check 'stat -c %A /data/sgid/ufile | grep -q "^-.....-"'
done_checks
EOF
	assert_checks
	run in_exec c_perm <<'EOF'
chmod 0600 /data/rootfile
eq 'stat -c %a /data/rootfile' 600
chown 1000:1000 /data/rootfile
eq 'stat -c %u:%g /data/rootfile' 1000:1000
chmod 4755 /data/l1/a.txt
eq 'stat -c %a /data/l1/a.txt' 4755
mkdir -p /data/sgid/a/b
eq 'stat -c %g /data/sgid/a/b' 2345
check 'stat -c %A /data/sgid/a | grep -q "^d.....s"'
check 'stat -c %A /data/sgid/a/b | grep -q "^d.....s"'
done_checks
EOF
	assert_checks
	run in_exec --user 1000:1000 c_perm <<'EOF'
echo mine >> /data/rootfile
eq 'cat /data/rootfile | tr "\n" " "' 'rootfile mine '
done_checks
EOF
	assert_checks
}

@test "hard links, symlinks and fifos" {
	run in_ctr --rm "$IMG" <<'EOF'
# h2 is looked up first, then the pair is used through h1
eq 'stat -c %h /data/links/h2' 2
eq 'stat -c %h /data/links/h1' 2
check 'test "$(stat -c %i /data/links/h1)" = "$(stat -c %i /data/links/h2)"'
eq 'readlink /data/links/s' h1
eq 'cat /data/links/s' hl
# change one name of the lower pair, remove the other
chown 5:5 /data/links/h1
rm /data/links/h2
eq 'stat -c %u:%g /data/links/h1' 5:5
eq 'cat /data/links/h1' hl
check 'test ! -e /data/links/h2'
eq 'ls /data/links/dirlink/' a.txt
eq 'stat -c %F /data/links/s' 'symbolic link'
# a new link to a lower file
ln /data/links/h1 /data/links/h3
check 'test "$(stat -c %i /data/links/h1)" = "$(stat -c %i /data/links/h3)"'
echo more >> /data/links/h3
eq 'cat /data/links/h1 | tr "\n" " "' 'hl more '
# links made in the container
echo a > /data/n1 && ln /data/n1 /data/n2
eq 'stat -c %h /data/n2' 2
echo b >> /data/n2
eq 'cat /data/n1 | tr "\n" " "' 'a b '
rm /data/n1
eq 'stat -c %h /data/n2' 1
eq 'cat /data/n2 | tr "\n" " "' 'a b '
# symlinks
ln -s /nonexistent /data/dangling
eq 'readlink /data/dangling' /nonexistent
check 'test ! -e /data/dangling && test -L /data/dangling'
ln -sf h2 /data/links/s
eq 'readlink /data/links/s' h2
mv /data/links/s /data/links/s2
eq 'readlink /data/links/s2' h2
check 'test ! -L /data/links/s'
# fifos: the lower one, one made here, and one copied up by chmod/chown
check 'test -p /data/links/fifo'
(sleep 0.3; echo ping > /data/links/fifo) &
read -r x < /data/links/fifo
eq 'echo $x' ping
wait
mkfifo /data/f2
check 'test -p /data/f2'
(sleep 0.3; echo pong > /data/f2) &
read -r y < /data/f2
eq 'echo $y' pong
wait
chmod 600 /data/links/fifo
eq 'stat -c %a /data/links/fifo' 600
chown 1000:1000 /data/links/fifo
eq 'stat -c %u:%g /data/links/fifo' 1000:1000
check 'test -p /data/links/fifo'
done_checks
EOF
	assert_checks
}

@test "a 100 MB file is written and read back with the same checksum (also after a remount and from a lower layer)" {
	run in_ctr --name c_big "$IMG" <<'EOF'
dd if=/dev/urandom of=/data/big bs=1M count=100 2>/dev/null
eq 'stat -c %s /data/big' 104857600
sync
echo "SUM $(sha256sum /data/big | cut -d" " -f1)"
done_checks
EOF
	assert_checks
	local sum
	sum=$(sed -n 's/^SUM //p' <<<"$output")
	[ ${#sum} -eq 64 ]
	# in the upper directory on disk
	[ "$(sha256sum "$(layer_dir c_big)/diff/data/big" | cut -d' ' -f1)" = "$sum" ]
	# from the upper layer after a remount
	run -0 pm commit -q c_big localhost/lfs-big:test
	run in_ctr --rm localhost/lfs-big:test <<EOF
eq 'sha256sum /data/big | cut -d" " -f1' $sum
echo tail >> /data/big
eq 'stat -c %s /data/big' 104857605
done_checks
EOF
	assert_checks
}

@test "create/start/stop/start keeps data; stopped and removed containers leave no mount program process and no mount" {
	run -0 pm create --name c_life "$IMG" sleep 600
	run -0 pm start c_life
	local ld
	ld=$(layer_dir c_life)
	[ -n "$(mounts_on "$ld/merged")" ] || { echo "no mount on $ld/merged"; false; }
	if [ -n "$MP" ]; then
		[ -n "$(procs_on "$ld")" ] || { echo "no mount program process for $ld"; false; }
	fi
	run in_exec c_life <<'EOF'
echo kept > /data/life.txt
rm /data/rm.txt
echo changed > /data/edit.txt
done_checks
EOF
	assert_checks
	run -0 pm stop -t 0 c_life
	assert_released "$ld/"
	run -0 pm start c_life
	run in_exec c_life <<'EOF'
eq 'cat /data/life.txt' kept
check 'test ! -e /data/rm.txt'
eq 'cat /data/edit.txt' changed
echo again >> /data/life.txt
done_checks
EOF
	assert_checks
	run -0 pm stop -t 0 c_life
	run -0 pm start c_life
	run in_exec c_life <<'EOF'
eq 'cat /data/life.txt | tr "\n" " "' 'kept again '
done_checks
EOF
	assert_checks
	run -0 pm rm -f -t 0 c_life
	assert_released "$ld/"
	[ ! -e "$ld" ]
}

@test "stop and start while a process outside the container keeps its cwd in merged (the unmount detaches the mount): start mounts the upper again, as the kernel's overlay does" {
	run -0 pm run -d --name c_hold "$IMG" sleep 600
	local ld holder
	ld=$(layer_dir c_hold)
	run in_exec c_hold <<'EOF'
echo one > /data/hold.txt
done_checks
EOF
	assert_checks
	# a shell in podman's namespace, cd'd into the container's root
	pm unshare sh -c 'echo $$ >"$1"; cd "$2" && exec sleep 300' sh "$W/tmp/holder.pid" "$ld/merged" &
	for _ in $(seq 50); do [ -s "$W/tmp/holder.pid" ] && break; sleep 0.1; done
	holder=$(cat "$W/tmp/holder.pid")
	for _ in $(seq 50); do [ "$(readlink "/proc/$holder/cwd")" = "$ld/merged" ] && break; sleep 0.1; done
	[ "$(readlink "/proc/$holder/cwd")" = "$ld/merged" ] || { echo "the holder is not in merged"; false; }
	run -0 pm stop -t 0 c_hold
	run pm start c_hold
	[ "$status" -eq 0 ] || { echo "start while the old mount is held: $output"; false; }
	run in_exec c_hold <<'EOF'
eq 'cat /data/hold.txt' one
echo two >> /data/hold.txt
done_checks
EOF
	assert_checks
	kill "$holder"
	rm -f "$W/tmp/holder.pid"
	run -0 pm stop -t 0 c_hold
	assert_released "$ld/"
	run -0 pm start c_hold
	run in_exec c_hold <<'EOF'
eq 'cat /data/hold.txt | tr "\n" " "' 'one two '
done_checks
EOF
	assert_checks
	run -0 pm rm -f -t 0 c_hold
	assert_released "$ld/"
}

@test "podman rm of a running container leaves no mount program process and no mount" {
	run -0 pm run -d --name c_rm "$IMG" sleep 600
	local ld
	ld=$(layer_dir c_rm)
	[ -n "$(mounts_on "$ld/merged")" ]
	run -0 pm rm -f -t 0 c_rm
	assert_released "$ld/"
	# --rm containers too
	run -0 pm run --rm "$IMG" true
	local n
	n=$(mounts_on "$W/graph/overlay/" | grep -c " $W/graph/overlay/[0-9a-f]*/merged " || true)
	[ "$n" -eq 0 ] || { mounts_on "$W/graph/overlay/"; false; }
}

@test "image mount: read-only, lowerdir only (multi-layer and single-layer images)" {
	run pm unshare sh -c '
		set -e
		m=$(podman --log-level=error image mount '"$IMG"')
		cat "$m/data/l1/a.txt" "$m/data/l2.txt" "$m/data/opq/n"
		test ! -e "$m/data/l1/b.txt" && test ! -e "$m/data/opq/old1" && echo hidden-ok
		if touch "$m/data/x" 2>/dev/null; then echo WRITABLE; fi
		podman --log-level=error image umount '"$IMG"' >/dev/null
		b=$(podman --log-level=error image mount '"$BASE"')
		test -x "$b/bin/busybox" && test -L "$b/bin/sh" && echo base-ok
		podman --log-level=error image umount '"$BASE"' >/dev/null
		echo done'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ $output == *layer1-a*layer2*new*hidden-ok* ]]
	[[ $output != *WRITABLE* ]]
	[[ $output == *base-ok*done* ]]
}

@test "run -v SRC:DST:O: an overlay volume through the mount program takes the container's changes and leaves the source alone" {
	local src=$W/ovol
	mkdir -p "$src/sub"
	echo orig >"$src/a"
	echo kept >"$src/sub/b"
	# owned by the user and its group: the kernel's overlayfs cannot copy up
	# a file whose group the user namespace does not map (EOVERFLOW)
	chown -R "$LFS_USER:$LFS_USER" "$src"
	run in_ctr --rm --network none -v "$src:/v:O" "$IMG" <<'SCRIPT'
eq 'cat /v/a /v/sub/b' "orig
kept"
echo new >/v/a
echo more >>/v/sub/b
rm -r /v/sub
mkdir /v/sub
echo c >/v/c
eq 'cat /v/a /v/c' "new
c"
eq 'ls -A /v/sub | wc -l' 0
eq 'ls /v' "a
c
sub"
grep ' /v ' /proc/mounts
done_checks
SCRIPT
	assert_checks
	# podman mounts the volume with the mount program when it has one
	if [ -n "$MP" ]; then
		[[ $output == *" /v fuse"* ]] || { echo "$output"; false; }
	fi
	# the source as it was, nothing added
	[ "$(cat "$src/a" "$src/sub/b")" = "orig
kept" ]
	[ "$(ls -A "$src")" = "a
sub" ]
	# and a second container starts from the source again
	run in_ctr --rm --network none -v "$src:/v:O" "$IMG" <<'SCRIPT'
eq 'cat /v/a /v/sub/b' "orig
kept"
check 'test ! -e /v/c'
done_checks
SCRIPT
	assert_checks
}

@test "run --read-only: the image mounts read-only, writes fail with EROFS, /tmp stays writable" {
	run in_ctr --rm --network none --read-only "$IMG" <<'SCRIPT'
eq 'touch /new 2>&1' "touch: /new: Read-only file system"
eq 'rm /data/l2.txt 2>&1' "rm: can't remove '/data/l2.txt': Read-only file system"
check 'cat /data/l2.txt >/dev/null'
check 'touch /tmp/y'
done_checks
SCRIPT
	assert_checks
}
