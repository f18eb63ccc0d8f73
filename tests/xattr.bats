#!/usr/bin/env bats
# Extended attributes and POSIX ACLs.

load helpers

@test "xattr: user.* set, get, list and remove on upper and lower files" {
	echo x >"$L1/low"
	setfattr -n user.a -v 1 "$L1/low"
	setfattr -n user.b -v 2 "$L1/low"
	mount_layerfs
	echo y >"$M/up"
	setfattr -n user.u -v "hello world" "$M/up"
	eq "$(getfattr --only-values -n user.u "$M/up")" "hello world"
	eq "$(getfattr --only-values -n user.u "$U/up")" "hello world"
	eq "$(getfattr -d --absolute-names "$M/low" | grep -c '^user\.')" 2
	setfattr -n user.c -v 3 "$M/low"
	eq "$(getfattr -d --absolute-names "$M/low" | grep '^user\.' | tr '\n' ' ')" 'user.a="1" user.b="2" user.c="3" '
	setfattr -x user.a "$M/low"
	eq "$(getfattr -d --absolute-names "$M/low" | grep '^user\.' | tr '\n' ' ')" 'user.b="2" user.c="3" '
	run ! setfattr -x user.nonexistent "$M/low"
	[[ "$output" == *"No such attribute"* ]] || fail "remove of a missing xattr: $output"
	run ! getfattr -n user.nonexistent "$M/up"
}

@test "xattr: binary and large values" {
	mount_layerfs
	echo x >"$M/f"
	setfattr -n user.bin -v 0x00ff10200a0d "$M/f"
	eq "$(getfattr -e hex --only-values -n user.bin "$M/f" | od -An -tx1 | tr -d ' \n')" 00ff10200a0d
	local big
	big=$(head -c 3000 /dev/zero | tr '\0' 'z')
	setfattr -n user.big -v "$big" "$M/f"
	eq "$(getfattr --only-values -n user.big "$M/f")" "$big"
	# the size query (getxattr with size 0) is answered right
	eq "$(getfattr --only-values -n user.big "$M/f" | wc -c)" 3000
}

@test "xattr: xattrs on a lower directory copy it up, children stay visible" {
	mkdir -p "$L1/d/sub"
	touch "$L1/d/f"
	mount_layerfs
	setfattr -n user.dir -v yes "$M/d"
	eq "$(getfattr --only-values -n user.dir "$M/d")" yes
	eq "$(names "$M/d")" "f sub"
	eq "$(getfattr --only-values -n user.dir "$U/d")" yes
}

@test "xattr: security.* and trusted.* pass through" {
	need_root
	echo x >"$L1/f"
	setfattr -n security.lower -v s "$L1/f"
	mount_layerfs
	eq "$(getfattr --only-values -n security.lower "$M/f")" s
	setfattr -n security.test -v sec "$M/f"
	eq "$(getfattr --only-values -n security.test "$M/f")" sec
	eq "$(getfattr --only-values -n security.test "$U/f")" sec
	eq "$(getfattr --only-values -n security.lower "$U/f")" s "kept on copy-up"
	setfattr -n trusted.mine -v t "$M/f"
	eq "$(getfattr --only-values -n trusted.mine "$M/f")" t
}

@test "xattr: trusted.* names are listed to CAP_SYS_ADMIN only (not to a user, nor to root of a user namespace), as on the kernel's overlay" {
	need_root
	need_kernel_overlay
	echo x >"$L1/f"
	echo x >"$L1/g"
	setfattr -n trusted.foo -v bar "$L1/f"
	setfattr -n user.u -v 1 "$L1/f"
	setfattr -n trusted.only -v 1 "$L1/g"
	mount_beside_kernel
	local py=/usr/bin/python3 prog='import os, sys; print(sorted(os.listxattr(sys.argv[1])), sorted(os.listxattr(sys.argv[2])))'
	need_user_exec 4242 4242 "$py"
	local m user ns root
	for m in "$T/k" "$M"; do
		user=$(as_user 4242 4242 "$py" -c "$prog" "$m/f" "$m/g")
		ns=$(as_user 4242 4242 unshare -Ur "$py" -c "$prog" "$m/f" "$m/g")
		root=$("$py" -c "$prog" "$m/f" "$m/g")
		eq "$user" "['user.u'] []" "a user, $m"
		eq "$ns" "['user.u'] []" "root of a user namespace, $m"
		# after an empty list for g: root still sees its name
		eq "$root" "['trusted.foo', 'user.u'] ['trusted.only']" "root, $m"
	done
	kovl_umount "$T/k"
}

@test "xattr: a symlink's own xattrs survive its copy-up" {
	need_root
	ln -s target "$L1/sl"
	ln -s target "$L1/sl2"
	local big
	big=$(head -c 3000 /dev/zero | tr '\0' 'v')
	setfattr -h -n trusted.sec -v keep "$L1/sl"
	setfattr -h -n security.label -v "$big" "$L1/sl"
	setfattr -h -n trusted.other -v o "$L1/sl2"
	mount_layerfs
	eq "$(getfattr -h --only-values -n trusted.sec "$M/sl")" keep
	chown -h 7:7 "$M/sl"
	[ -L "$U/sl" ] || fail "chown -h did not copy the symlink up"
	eq "$(getfattr -h --only-values -n trusted.sec "$M/sl")" keep
	eq "$(getfattr -h --only-values -n trusted.sec "$U/sl")" keep "on disk"
	eq "$(getfattr -h --only-values -n security.label "$U/sl")" "$big"
	eq "$(readlink "$M/sl")" target
	# a copy-up for a new xattr keeps the old ones
	setfattr -h -n trusted.new -v n "$M/sl2"
	eq "$(getfattr -h --only-values -n trusted.other "$U/sl2")" o
	eq "$(getfattr -h --only-values -n trusted.new "$U/sl2")" n
}

@test "xattr: a symlink with several hard links shows, takes and drops its xattrs" {
	need_root
	ln -s target "$L1/lsl"
	ln -P "$L1/lsl" "$L1/lsl2"
	setfattr -h -n trusted.low -v l "$L1/lsl"
	mount_layerfs
	eq "$(getfattr -h --only-values -n trusted.low "$M/lsl2")" l "lower, second name"
	ln -s target "$M/usl"
	ln -P "$M/usl" "$M/usl2"
	eq "$(stat -c %h "$M/usl")" 2
	setfattr -h -n trusted.a -v 1 "$M/usl2"
	eq "$(getfattr -h --only-values -n trusted.a "$M/usl")" 1
	eq "$(getfattr -h --only-values -n trusted.a "$U/usl")" 1 "on disk"
	getfattr -h -d -m trusted "$M/usl2" | grep -q '^trusted.a="1"' || fail "not listed"
	setfattr -h -x trusted.a "$M/usl"
	run ! getfattr -h -n trusted.a "$M/usl2"
	# a lower one is copied up (that name only) with its xattrs, and
	# stays a symlink
	setfattr -h -n trusted.b -v 2 "$M/lsl2"
	eq "$(getfattr -h --only-values -n trusted.low "$M/lsl2")" l
	eq "$(getfattr -h --only-values -n trusted.b "$U/lsl2")" 2 "on disk"
	eq "$(readlink "$M/lsl2")" target
	# and one unlinked while a descriptor holds it
	ln -s target "$M/gone"
	setfattr -h -n trusted.g -v 3 "$M/gone"
	run -0 python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_PATH | os.O_NOFOLLOW)
os.unlink(sys.argv[1])
p = "/proc/self/fd/%d" % fd
os.setxattr(p, "trusted.h", b"4")
print(os.getxattr(p, "trusted.g").decode(), os.getxattr(p, "trusted.h").decode())' "$M/gone"
	eq "$output" "3 4" "xattrs of an unlinked symlink"
}

@test "xattr: overlay attributes set through the mount are escaped: they show, survive a remount and mark nothing; ownership overrides stay refused" {
	need_root
	mkdir -p "$L1/d" "$L2/d"
	touch "$L2/d/below" "$L1/f"
	mount_layerfs
	local n
	for n in trusted.overlay.opaque user.overlay.opaque user.fuseoverlayfs.opaque; do
		setfattr -n "$n" -v y "$M/d"
		eq "$(names "$M/d")" below "after setting $n"
	done
	for n in user.containers.override_stat user.fuseoverlayfs.override_stat; do
		run setfattr -n "$n" -v 0:0:04755 "$M/f"
		[ "$status" -ne 0 ] || fail "$n was set"
	done
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M/d")" below "after remount"
	eq "$(getfattr -d -m - --absolute-names "$M/d" | grep -c '\.opaque="y"')" 3 "the three attributes read back"
	eq "$(getfattr -n trusted.overlay.overlay.opaque --only-values "$U/d")" y "trusted.overlay.opaque in the upper"
	eq "$(getfattr -n user.overlay.overlay.opaque --only-values "$U/d")" y "user.overlay.opaque in the upper"
	eq "$(getfattr -d -m - --absolute-names "$M/f" | grep -c override)" 0 "overrides"
}

# Since Linux 6.7 the kernel's overlay escapes the attributes of its own
# namespace: set as trusted.overlay.X through the mount, kept as
# trusted.overlay.overlay.X in the layers, so that an overlay can take
# layers that live in another
@test "xattr: trusted.overlay.* attributes are escaped in the layers and shown unescaped, as on the kernel's overlayfs; the bare prefix is refused" {
	need_root
	need_kernel_overlay
	kernel_at_least 6 7 || skip "the kernel's overlay escapes its attributes from Linux 6.7"
	echo x >"$L1/f"
	mkdir "$L1/d"
	setfattr -n trusted.overlay.overlay.bar -v low "$L1/f"
	setfattr -n trusted.overlay.overlay.opaque -v y "$L1/d"
	mount_beside_kernel
	local prog='
import errno, os, sys
m = sys.argv[1]
out = []
def show(p):
    out.append(p + ": " + " ".join(sorted("%s=%s" % (n, os.getxattr(m + "/" + p, n).decode())
                                          for n in os.listxattr(m + "/" + p))))
def do(f, *a):
    try:
        f(*a)
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
show("f"); show("d")
do(os.setxattr, m + "/f", "trusted.overlay.foo", b"1")
do(os.setxattr, m + "/f", "trusted.overlay.overlay.x", b"2")
do(os.setxattr, m + "/f", "user.overlay.foo", b"3")
do(os.removexattr, m + "/f", "trusted.overlay.bar")
do(os.getxattr, m + "/f", "trusted.overlay.overlay.bar")
do(os.setxattr, m + "/f", "trusted.overlay." + "a" * 234, b"4")
do(os.getxattr, m + "/d", "trusted.overlay.opaque")
do(os.setxattr, m + "/f", "trusted.overlay.", b"5")
do(os.getxattr, m + "/f", "trusted.overlay.")
do(os.removexattr, m + "/f", "trusted.overlay.")
show("f")
print("\n".join(out))
'
	local got want
	got=$(/usr/bin/python3 -c "$prog" "$M")
	want=$(/usr/bin/python3 -c "$prog" "$T/k")
	eq "$got" "$want" "layerfs vs the kernel's overlay"
	case $got in
	*"f: trusted.overlay.foo=1 trusted.overlay.overlay.x=2 user.overlay.foo=3") ;;
	*) fail "unexpected view: $got" ;;
	esac
	eq "$(getfattr -d -m '^trusted\.overlay\.overlay\.' --absolute-names "$U/f" | sed 1d)" \
		"$(getfattr -d -m '^trusted\.overlay\.overlay\.' --absolute-names "$T/ku/f" | sed 1d)" "the uppers' escaped names"
	kovl_umount "$T/k"
}

@test "xattr: a kernel overlay takes layers that live in a layerfs mount: opaque directories and xattr whiteouts set through it work there, as through the kernel's overlay" {
	need_root
	need_kernel_overlay
	kernel_at_least 6 7 || skip "xattr whiteouts and escaped attributes need Linux 6.7"
	mount_beside_kernel
	local m got want
	for m in "$M" "$T/k"; do
		mkdir -p "$m/base/sub" "$m/base/dir" "$m/top/sub" "$m/top/dir" "$m/in/u" "$m/in/w" "$T/in$m"
		echo y >"$m/base/sub/gone"
		echo z >"$m/base/sub/keep"
		echo old >"$m/base/dir/old"
		echo new >"$m/top/dir/new"
		touch "$m/top/sub/gone"
		setfattr -n trusted.overlay.whiteout -v y "$m/top/sub/gone"
		setfattr -n trusted.overlay.opaque -v x "$m/top/sub"
		setfattr -n trusted.overlay.whiteouts -v y "$m/top"
		setfattr -n trusted.overlay.opaque -v y "$m/top/dir"
	done
	# the inner overlay's upper and work dir cannot be on FUSE: on tmpfs
	mkdir -p "$T/iu"
	mount -t tmpfs tmpfs "$T/iu"
	record_mount "$T/iu"
	for m in "$M" "$T/k"; do
		mkdir -p "$T/iu/$m/u" "$T/iu/$m/w"
		kovl_mount "lowerdir=$m/top:$m/base,upperdir=$T/iu/$m/u,workdir=$T/iu/$m/w" "$T/in$m"
	done
	got=$(cd "$T/in$M" && find . | LC_ALL=C sort | tr '\n' ' ')
	want=$(cd "$T/in$T/k" && find . | LC_ALL=C sort | tr '\n' ' ')
	eq "$got" "$want" "the inner overlay over layerfs vs over the kernel's"
	eq "$got" ". ./dir ./dir/new ./sub ./sub/keep " "the inner overlay's view"
	for m in "$M" "$T/k"; do
		kovl_umount "$T/in$m"
	done
	kovl_umount "$T/iu"
	kovl_umount "$T/k"
}

@test "xattr: POSIX ACLs can be set, read and are enforced" {
	need_root
	need_cmd setfacl getfacl
	echo secret >"$L1/f"
	chmod 600 "$L1/f"
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	run ! as_user 4242 4242 cat "$M/f"
	setfacl -m u:4242:r "$M/f"
	getfacl -p "$M/f" | grep -q '^user:4242:r--$' || fail "ACL not shown: $(getfacl -p "$M/f")"
	getfacl -p "$U/f" | grep -q '^user:4242:r--$' || fail "ACL not on the upper file"
	run -0 as_user 4242 4242 cat "$M/f"
	eq "$output" secret
	run ! as_user 4243 4243 cat "$M/f"
	setfacl -b "$M/f"
	run ! as_user 4242 4242 cat "$M/f"
}

@test "xattr: a default ACL on a directory is inherited by new files and dirs" {
	need_root
	need_cmd setfacl getfacl
	mkdir "$L1/d"
	mount_layerfs
	setfacl -d -m u:4242:rwx "$M/d"
	setfacl -d -m g::r-x "$M/d"
	setfacl -d -m o::--- "$M/d"
	(umask 077 && echo x >"$M/d/newfile" && mkdir "$M/d/newdir")
	getfacl -p "$M/d/newfile" | grep -q '^user:4242:rwx' || fail "file did not inherit: $(getfacl -p "$M/d/newfile")"
	getfacl -p "$M/d/newdir" | grep -q '^default:user:4242:rwx' || fail "dir did not inherit the default ACL"
	getfacl -p "$U/d/newfile" | grep -q '^user:4242:rwx' || fail "inherited ACL not on disk"
	# the default ACL, not the umask 077, decides the group class bits
	eq "$(stat -c %A "$M/d/newfile" | cut -c5-7)" "rw-" "mask of the new file"
}

@test "xattr: a name that replaces a deleted lower one inherits the parent's default ACL; the work dir's default ACL reaches nothing (as on the kernel's overlay)" {
	need_root
	need_kernel_overlay
	need_cmd setfacl getfacl
	mkdir "$L1/d" "$L1/d/olddir" "$L1/e"
	echo x >"$L1/d/old"
	echo x >"$L1/f"
	echo x >"$L1/e/g"
	setfacl -d -m u:4242:rwx,g::r-x,o::--- "$L1/d"
	mkdir -p "$T/kw"
	setfacl -d -m u:4243:rwx,o::rwx "$W" "$T/kw"
	mount_beside_kernel
	local m f
	for m in "$M" "$T/k"; do
		rm "$m/d/old"
		rm -r "$m/d/olddir"
		(umask 022 && touch "$m/d/old" && mkdir "$m/d/olddir" &&
			echo y >>"$m/f" && touch "$m/e/g" "$m/e/new" && mkdir "$m/e/newdir")
	done
	for f in d/old d/olddir f e e/g e/new e/newdir; do
		eq "$(cd "$M" && stat -c %A "$f" && getfacl -pc "$f")" \
		   "$(cd "$T/k" && stat -c %A "$f" && getfacl -pc "$f")" "$f: layerfs vs the kernel's overlay"
	done
	# what both show
	getfacl -pc "$M/d/old" | grep -q '^user:4242:rwx' || fail "d/old did not inherit: $(getfacl -pc "$M/d/old")"
	getfacl -pc "$M/d/olddir" | grep -q '^default:user:4242:rwx' || fail "d/olddir did not inherit the default ACL"
	eq "$(stat -c %A "$M/d/old")" "-rw-rw----" "d/old: the default ACL, not the umask"
	eq "$(getfacl -pc --skip-base "$M/e/new" "$M/f" "$M/e" 2>/dev/null)" "" "ACLs from the work dir"
	eq "$(stat -c %a "$M/e/new")" 644 "e/new: the umask"
	kovl_umount "$T/k"
}

@test "xattr: ACLs of lower files are shown and kept by copy-up" {
	need_root
	need_cmd setfacl getfacl
	echo x >"$L1/f"
	setfacl -m u:4242:rw "$L1/f"
	mkdir "$L1/d"
	setfacl -d -m u:4242:rx "$L1/d"
	mount_layerfs
	getfacl -p "$M/f" | grep -q '^user:4242:rw-' || fail "lower ACL not shown"
	chmod g-w "$M/f"
	getfacl -p "$U/f" | grep -q '^user:4242:' || fail "ACL lost by copy-up"
	touch "$M/d/new"
	getfacl -p "$M/d/new" | grep -q '^user:4242:r-x' || fail "default ACL of a lower dir not applied"
}

@test "xattr: an ACL set by an owner outside the file's group clears its set-group-ID bit, as on the kernel's overlay" {
	need_root
	need_kernel_overlay
	need_cmd setfacl getfacl
	echo x >"$L1/f"
	echo x >"$L1/g"
	chown 4242:5000 "$L1/f"
	chown 4242:4242 "$L1/g"
	chmod 2775 "$L1/f" "$L1/g"
	mount_beside_kernel
	local m
	for m in "$T/k" "$M"; do
		as_user 4242 4242 setfacl -m u:4243:r "$m/f" "$m/g"
	done
	eq "$(stat -c %A "$M/f")" "$(stat -c %A "$T/k/f")" "f: layerfs vs the kernel's overlay"
	eq "$(stat -c %A "$M/g")" "$(stat -c %A "$T/k/g")" "g: layerfs vs the kernel's overlay"
	eq "$(stat -c %a "$M/f")" 775 "f: not in group 5000"
	eq "$(stat -c %a "$M/g")" 2775 "g: in its group"
	eq "$(stat -c %a "$U/f")" 775 "f on disk"
	getfacl -pc "$M/f" | grep -q '^user:4243:r--' || fail "the ACL was not set"
	kovl_umount "$T/k"
}

# The kernel's overlay removes an access ACL with the mounter's rights,
# so it clears set-group-ID itself first where the caller is outside the
# group and lacks CAP_FSETID; FUSE marks only an ACL set, not a removal.
@test "xattr: an access ACL removed by an owner outside the object's group clears its set-group-ID bit (file, directory, no ACL at all), as on the kernel's overlay" {
	need_root
	need_kernel_overlay
	need_cmd setfacl setfattr
	mkdir "$L1/d" "$L1/in"
	echo x >"$L1/f"
	echo x >"$L1/none"
	chown 4242:5000 "$L1/d" "$L1/f" "$L1/none"
	chown 4242:4242 "$L1/in"
	chmod 2775 "$L1/d" "$L1/f" "$L1/none" "$L1/in"
	setfacl -m u:4243:rwx "$L1/d" "$L1/f" "$L1/in"
	mount_beside_kernel
	local m f out rc
	for m in "$T/k" "$M"; do
		out=
		for f in d f none in; do
			as_user 4242 4242 setfattr -x system.posix_acl_access "$m/$f" 2>/dev/null && rc=0 || rc=$?
			out="$out$f:$rc:$(stat -c %a "$m/$f") "
		done
		eq "$out" "d:0:775 f:0:775 none:0:775 in:0:2775 " "results on $m"
	done
	[ -e "$U/none" ] || fail "none: no copy-up"
	eq "$(getfacl -pc "$M/f" | grep -c '^user:4243')" 0 "the ACL was removed"
	kovl_umount "$T/k"
}

@test "xattr: removing an xattr or ACL an object lacks: the upper's file system answers, a lower object is not copied up (as on the kernel's overlay)" {
	need_root
	need_kernel_overlay
	echo x >"$L1/low"
	mount_beside_kernel
	local prog='
import os, sys
out = []
for f in ("up", "low", "d"):
    for n in ("system.posix_acl_access", "system.posix_acl_default", "user.none"):
        try:
            os.removexattr(sys.argv[1] + "/" + f, n)
            out.append("ok")
        except OSError as e:
            out.append(e.strerror)
print(" ".join(out))
'
	local m
	for m in "$M" "$T/k"; do
		echo y >"$m/up"
		mkdir "$m/d"
	done
	eq "$(/usr/bin/python3 -c "$prog" "$M")" "$(/usr/bin/python3 -c "$prog" "$T/k")" "layerfs vs the kernel's overlay"
	[ ! -e "$U/low" ] || fail "low was copied up"
	kovl_umount "$T/k"
}

@test "xattr: with -o noacl, setfacl fails" {
	need_root
	need_cmd setfacl
	echo x >"$L1/f"
	mount_layerfs noacl
	run ! setfacl -m u:4242:r "$M/f"
	run ! getfattr -n system.posix_acl_access "$M/f"
	echo y >"$M/g"
	run ! setfacl -m u:4242:r "$M/g"
	[ -z "$(getfattr -m - -d --absolute-names "$U/g" 2>/dev/null | grep posix_acl)" ] || fail "an ACL reached the upper"
}

# fuse-overlayfs's noxattrs=1: every xattr call fails as on a file system
# without xattrs (fuse-overlayfs 1.10 still removes one; layerfs does not)
@test "xattr: with -o noxattrs=1 reading, listing, setting and removing xattrs fail with EOPNOTSUPP and change nothing; noxattrs=0 keeps them" {
	need_root
	echo x >"$L1/low"
	setfattr -n user.a -v 1 "$L1/low"
	mkdir "$L1/d"
	local prog='
import errno, os, sys
out = []
for f in sys.argv[2:]:
    p = os.path.join(sys.argv[1], f)
    for name, call in (("list", lambda: os.listxattr(p)),
                       ("get", lambda: os.getxattr(p, "user.a")),
                       ("set", lambda: os.setxattr(p, "user.b", b"2")),
                       ("trusted", lambda: os.setxattr(p, "trusted.b", b"2")),
                       ("remove", lambda: os.removexattr(p, "user.a")),
                       ("acl", lambda: os.getxattr(p, "system.posix_acl_access"))):
        try:
            call()
            out.append(f + ":" + name + ":ok")
        except OSError as e:
            out.append(f + ":" + name + ":" + errno.errorcode[e.errno])
print(" ".join(out))
'
	mount_layerfs noxattrs=1
	# (python names EOPNOTSUPP ENOTSUP, the same number on Linux)
	echo y >"$M/up"
	eq "$(/usr/bin/python3 -c "$prog" "$M" low up d)" \
		"$(for f in low up d; do printf '%s ' "$f:list:ENOTSUP $f:get:ENOTSUP $f:set:ENOTSUP $f:trusted:ENOTSUP $f:remove:ENOTSUP $f:acl:ENODATA"; done | sed 's/ $//')"
	[ ! -e "$U/low" ] || fail "low was copied up"
	run ! setfacl -m u:4242:r "$M/up"
	# the layer's attribute is still copied up with its file
	chmod 600 "$M/low"
	eq "$(getfattr --only-values -n user.a "$U/low")" 1 "not removed"
	run ! getfattr -n user.b "$U/up"
	run ! getfattr -n trusted.b "$U/up"
	run ! getfattr -n system.posix_acl_access "$U/up"
	unmount_layerfs
	mount_layerfs noxattrs=0
	eq "$(/usr/bin/python3 -c "$prog" "$M" low)" \
		"low:list:ok low:get:ok low:set:ok low:trusted:ok low:remove:ok low:acl:ENODATA"
	eq "$(getfattr --only-values -n user.b "$U/low")" 2
}

@test "xattr: a user named in a lower file's ACL reads it; with -o noacl the mode bits alone decide" {
	need_root
	need_cmd setfacl
	echo secret >"$L1/f"
	chmod 640 "$L1/f"
	setfacl -m u:4242:r "$L1/f"
	make_traversable
	chmod 755 "$M"
	mount_layerfs
	eq "$(as_user 4242 4242 cat "$M/f")" secret
	unmount_layerfs
	mount_layerfs noacl
	run ! as_user 4242 4242 cat "$M/f"
	[[ "$output" == *"Permission denied"* ]] || fail "noacl: $output"
	eq "$(cat "$M/f")" secret
}

@test "xattr: listxattr of a file with many attributes" {
	echo x >"$L2/f"
	local i
	for i in $(seq 1 40); do setfattr -n "user.attr$i" -v "$i" "$L2/f"; done
	mount_layerfs
	eq "$(getfattr -d --absolute-names "$M/f" | grep -c '^user\.attr')" 40
	setfattr -n user.attr41 -v 41 "$M/f"
	eq "$(getfattr -d --absolute-names "$U/f" | grep -c '^user\.attr')" 41
}

# layerfs remembers which objects carry no xattr at all and answers for
# them without asking the layers; every change must be seen at once.
@test "xattr: an object known to carry none shows new xattrs, ACLs and capabilities at once" {
	need_root
	echo x >"$L1/low"
	mkdir "$L1/dir"
	mount_layerfs
	echo y >"$M/up"
	for f in low up dir; do
		run ! getfattr -n user.a "$M/$f"
		eq "$(getfattr -d -m - --absolute-names "$M/$f" | grep -c =)" 0 "$f has no xattr yet"
		setfattr -n user.a -v "v-$f" "$M/$f"
		eq "$(getfattr --only-values -n user.a "$M/$f")" "v-$f"
		setfattr -x user.a "$M/$f"
		run ! getfattr -n user.a "$M/$f"
		eq "$(getfattr -d -m - --absolute-names "$M/$f" | grep -c =)" 0 "$f has none again"
	done
	# ACLs through setfacl, and capabilities through setcap
	getfacl -p "$M/up" >/dev/null
	setfacl -m u:1234:r "$M/up"
	[[ "$(getfacl -pn "$M/up")" == *"user:1234:r--"* ]] || fail "ACL not shown: $(getfacl -pn "$M/up")"
	run ! getfattr -n security.capability "$M/low"
	setcap cap_net_raw+ep "$M/low"
	[[ "$(getcap "$M/low")" == *cap_net_raw* ]] || fail "capability not shown: $(getcap "$M/low")"
	# a write by someone without CAP_FSETID drops the capability, as on disk
	chmod 666 "$M/low"
	as_user 1000 1000 sh -c "echo more >>'$M/low'"
	eq "$(getcap "$M/low")" "" "capability cleared by the write"
	eq "$(getcap "$U/low")" ""
}

# Writes that reach the daemon from the kernel's page cache (a store
# through a shared mapping; with the writeback cache, every write) must
# not drop a file capability: the real file system drops it at the
# daemon's write. A file given a capability through its descriptor is
# written back at its close; a mapped store keeps it on the kernel's
# overlay. write(2) still drops it.
@test "xattr: a file capability and set-id bits survive writes from the page cache (mmap stores, data written back after an fsetxattr), write(2) drops the capability, as on the kernel's overlayfs" {
	need_kernel_overlay
	local opts want got
	head -c 8192 /dev/urandom >"$L1/low"
	python3 -c 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0))' "$L1/low"
	head -c 8192 /dev/urandom >"$L1/setid"
	chmod 4755 "$L1/setid"
	mkdir -p "$T/k" "$T/ku" "$T/kw"
	kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw" "$T/k"
	want=$(python3 "$SCRIPTS/capwrite.py" "$T/k" "$T/ku")
	eq "$want" "cap cap none none 4755 4755" "the kernel's overlay"
	for opts in "" noopen passthrough=0 noopen,writeback=0; do
		mount_fresh "$opts"
		got=$(python3 "$SCRIPTS/capwrite.py" "$M" "$U")
		eq "$got" "$want" "layerfs -o '$opts'"
		unmount_layerfs
	done
}

@test "xattr: without SELinux on the host, a missing security.selinux is 'not supported', a present one is shown" {
	[ ! -e /sys/fs/selinux/enforce ] || skip "SELinux is enabled on this host"
	echo x >"$L1/plain"
	echo x >"$L1/labelled"
	setfattr -n security.selinux -v "system_u:object_r:etc_t:s0" "$L1/labelled" ||
		skip "the layer's file system refuses security.selinux"
	mount_layerfs
	run getfattr -n security.selinux "$M/plain"
	[ "$status" -ne 0 ] || fail "getfattr found a label on plain"
	[[ "$output" == *"Operation not supported"* ]] || fail "not ENOTSUP: $output"
	eq "$(getfattr --only-values -n security.selinux "$M/labelled")" "system_u:object_r:etc_t:s0"
	# other missing security.* names stay "no such attribute"
	run getfattr -n security.other "$M/plain"
	[[ "$output" == *"No such attribute"* ]] || fail "security.other: $output"
	# and a new file through the mount, with no label
	echo y >"$M/new"
	run getfattr -n security.selinux "$M/new"
	[[ "$output" == *"Operation not supported"* ]] || fail "new file: $output"
}

@test "xattr: where the kernel lacks the *xattrat calls (before Linux 6.13), lower and upper xattrs still work" {
	need_root
	case $(uname -m) in x86_64 | aarch64) ;; *) skip "syscall numbers known for x86_64 and aarch64" ;; esac
	echo x >"$L1/low"
	setfattr -n user.a -v 1 "$L1/low"
	ln -s low "$L1/sym"
	setfattr -h -n trusted.s -v link "$L1/sym"
	# the daemon runs with setxattrat, getxattrat, listxattrat and
	# removexattrat failing with ENOSYS
	LFS_WRAP="$FSOPS enosys 463,464,465,466" mount_layerfs
	eq "$(getfattr --only-values -n user.a "$M/low")" 1
	eq "$(getfattr -h --only-values -n trusted.s "$M/sym")" link
	setfattr -n user.b -v 2 "$M/low"
	eq "$(getfattr -d --absolute-names "$M/low" | grep '^user\.' | tr '\n' ' ')" 'user.a="1" user.b="2" '
	setfattr -x user.a "$M/low"
	eq "$(getfattr -d --absolute-names "$M/low" | grep '^user\.' | tr '\n' ' ')" 'user.b="2" '
	eq "$(getfattr --only-values -n user.b "$U/low")" 2
	setfattr -h -n trusted.t -v 2 "$M/sym"
	eq "$(getfattr -h --only-values -n trusted.t "$M/sym")" 2
	echo y >"$M/up"
	setfattr -n user.u -v up "$M/up"
	eq "$(getfattr --only-values -n user.u "$M/up")" up
	grep -q "^Seccomp:[[:space:]]*2" /proc/"$DAEMON_PID"/status || fail "the daemon runs without the filter"
}

@test "xattr: a capability set while pages written before it are written back stays (writeback cache, no passthrough)" {
	# the kernel's overlay dropped privileges at the write(2); a write
	# from the page cache puts back what the real file system drops, and
	# the look at what the file carries must still hold at its write:
	# strace holds the write back while the capability is set
	need_root
	need_cmd strace
	mount_layerfs passthrough=0
	echo x >"$M/f"
	spawn strace -f -qq -e trace=pwrite64 -e inject=pwrite64:delay_enter=300000 \
		-o "$T/strace" -p "$DAEMON_PID"
	local tracer=$BG_PID
	wait_until 10 all_traced "$DAEMON_PID" || fail "strace did not attach"
	python3 - "$M/f" <<-'PY'
	import ctypes, os, struct, sys, threading, time
	libc = ctypes.CDLL(None, use_errno=True)
	fd = os.open(sys.argv[1], os.O_RDWR)
	os.pwrite(fd, b"a" * 262144, 0)
	# start the writeback (SYNC_FILE_RANGE_WRITE); fsync would hold the
	# inode's lock, and the setxattr would wait for it
	t = threading.Thread(target=libc.sync_file_range,
	                     args=(fd, ctypes.c_longlong(0), ctypes.c_longlong(0), 2))
	t.start()
	time.sleep(0.1)
	os.setxattr(fd, "security.capability", struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0))
	t.join()
	os.fsync(fd)
	PY
	kill "$tracer"
	wait "$tracer" || true
	grep -q 'pwrite64.*DELAYED' "$T/strace" || fail "no write was held back: $(cat "$T/strace")"
	getfattr -n security.capability "$M/f" >/dev/null ||
		fail "the capability set after the writes was dropped by their writeback"
	getfattr -n security.capability "$U/f" >/dev/null || fail "the upper file lost it"
}
