#!/usr/bin/env bats
# Ownership between the disk and the mount: uidmapping=/gidmapping=,
# squash_to_*, xattr_permissions= and the user.containers.override_stat
# overrides, and the ids stored inside POSIX ACLs and v3 file capabilities.
# Run as root, on real mounts.
#
# uidmapping=D:S:N is fuse-overlayfs's order ("disk:shown:count", what
# containers-storage passes): an owner D+i on disk shows as S+i in the
# mount (i < N), writes map back, other owners show as 65534.

load helpers

setup() {
	need_root
	common_setup
	umask 022
}

# owner PATH...: "uid:gid" of each path (no follow), space separated
owner() {
	local out
	out=$(stat -c '%u:%g' -- "$@" | tr '\n' ' ')
	echo "${out% }"
}

# acl PATH: the named user and group entries of the access and default
# ACLs, numeric, on one line (getfacl -n, no effective-rights comments)
acl() {
	local out
	out=$(getfacl -p -n -c -E -- "$1" | grep -E '^(default:)?(user|group):[0-9]+:' | tr '\n' ' ')
	echo "${out% }"
}

# cap_rootid FILE: the rootid of a v3 security.capability, decimal
# (the last four bytes of the value, little-endian)
cap_rootid() {
	local hex
	hex=$(getfattr --absolute-names --only-values -n security.capability -- "$1" | od -An -tx1 | tr -d ' \n')
	[ "${#hex}" -eq 48 ] || { echo "not a v3 capability: $hex"; return 1; }
	echo $((16#${hex:46:2}${hex:44:2}${hex:42:2}${hex:40:2}))
}

# the error chown(1) prints, or "ok"
chown_err() {
	local out
	if out=$(chown "$@" 2>&1); then
		echo ok
	else
		echo "${out##*: }"
	fi
}

@test "idmap: a later uidmapping= or gidmapping= replaces the list, as fuse-overlayfs takes it; of ro and rw the last wins" {
	echo x >"$L1/f"
	chown 0:0 "$L1/f"
	mount_layerfs "uidmapping=0:1000:1,gidmapping=0:3000:1,uidmapping=0:2000:1"
	eq "$(stat -c %u:%g "$M/f")" 2000:3000
	unmount_layerfs
	mount_layerfs "ro,rw"
	echo y >"$M/g" || fail "ro,rw: not writable"
	unmount_layerfs
	mount_layerfs "rw,ro"
	! touch "$M/h" 2>/dev/null || fail "rw,ro: writable"
	unmount_layerfs
}

@test "idmap: owners D+i on disk show as S+i; ids outside the mapping show as 65534" {
	touch "$L1/first" "$L1/last" "$L1/past" "$L1/below" "$L1/root"
	chown 1000:2000 "$L1/first"
	chown 1009:2009 "$L1/last"
	chown 1010:2010 "$L1/past"
	chown 999:1999 "$L1/below"
	mkdir "$L2/dir"
	chown 1005:2007 "$L2/dir"
	ln -s first "$L1/link"
	chown -h 1003:2004 "$L1/link"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	eq "$(owner "$M/first" "$M/last" "$M/past" "$M/below" "$M/root")" \
		"0:100 9:109 65534:65534 65534:65534 65534:65534"
	eq "$(owner "$M/dir" "$M/link")" "5:107 3:104"
	# the root of the mount (owned by 0:0 on disk, outside the mapping)
	eq "$(owner "$M")" "65534:65534"
	# reading changed nothing on disk
	eq "$(owner "$L1/first" "$L1/past")" "1000:2000 1010:2010"
	eq "$(names "$U")" ""
}

@test "idmap: chown in the mount is stored mapped back; unmapped ids fail with EINVAL" {
	touch "$L1/f" "$L1/g" "$L1/stranger"
	chown 1000:2000 "$L1/f" "$L1/g"
	chown 1010:2010 "$L1/stranger"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	chown 3:105 "$M/f"
	eq "$(owner "$M/f")" "3:105"
	eq "$(owner "$U/f")" "1003:2005" "copied up with the disk ids"
	eq "$(owner "$L1/f")" "1000:2000" "lower untouched"
	chown 9 "$M/f"
	chgrp 109 "$M/f"
	eq "$(owner "$U/f")" "1009:2009"

	# Ids the mapping cannot store are refused with EINVAL, as the kernel
	# refuses a chown to an id outside a user namespace's map (fuse-overlayfs
	# would store the overflow id 65534 instead). Nothing changes.
	eq "$(chown_err 10 "$M/g")" "Invalid argument" "uid just past the range"
	eq "$(chown_err :99 "$M/g")" "Invalid argument" "gid just below the range"
	eq "$(chown_err 65534:100 "$M/g")" "Invalid argument" "the overflow id itself"
	eq "$(owner "$M/g")" "0:100"
	# a refused chown copies nothing up
	eq "$(names "$U")" "f"

	# changing the group of an object whose owner is unmapped keeps the
	# owner's disk id
	chgrp 101 "$M/stranger"
	eq "$(owner "$M/stranger")" "65534:101"
	eq "$(owner "$U/stranger")" "1010:2001"
}

@test "idmap: a leading colon (as podman passes it) and chained triples" {
	touch "$L1/a0" "$L1/a4999" "$L1/a5000" "$L1/w"
	chown 0:0 "$L1/a0"
	chown 4999:4999 "$L1/a4999"
	chown 5000:5000 "$L1/a5000"
	mount_layerfs "uidmapping=:0:100:5000,gidmapping=:0:100:5000"
	eq "$(owner "$M/a0" "$M/a4999" "$M/a5000")" "100:100 5099:5099 65534:65534"
	chown 100:5099 "$M/w"
	eq "$(owner "$U/w")" "0:4999"
	eq "$(chown_err 99 "$M/w")" "Invalid argument"
	unmount_layerfs

	# three chained ranges, as podman builds them for --userns=keep-id:
	# disk 0..1001 show as 1..1002, disk 1002 shows as 0, disk 1003..200000
	# show as themselves
	rm -rf "$U" "$W" && mkdir "$U" "$W"
	local id map=:0:1:1002:1002:0:1:1003:1003:198998
	for id in 0 1001 1002 1003 200000 200001; do
		touch "$L1/d$id"
		chown "$id:$id" "$L1/d$id"
	done
	mount_layerfs "uidmapping=$map,gidmapping=$map"
	eq "$(owner "$M/d0" "$M/d1001" "$M/d1002" "$M/d1003" "$M/d200000" "$M/d200001")" \
		"1:1 1002:1002 0:0 1003:1003 200000:200000 65534:65534"
	chown 0:1 "$M/d0"
	eq "$(owner "$U/d0")" "1002:0"
	chown 1002:200000 "$M/d1003"
	eq "$(owner "$U/d1003")" "1001:200000"
	eq "$(chown_err 200001 "$M/d1002")" "Invalid argument"
}

@test "idmap: malformed mappings and ranges that would wrap around are refused" {
	local o
	for o in uidmapping=0:1 uidmapping=0:1:2:3 uidmapping=a:1:2 gidmapping= \
		uidmapping=0:4294967295:2 gidmapping=4294967290:0:6; do
		run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$W,$o" "$M"
		if is_mounted "$M"; then
			# let teardown unmount it
			echo "fuse $(find_daemon_pid "$M") $M" >>"$MOUNTS_FILE"
			fail "mounted with $o"
		fi
		eq "$status" 1 "exit status with $o"
		[[ "$output" == *"option '${o%%=*}=${o#*=}'"* ]] || fail "message does not name $o: $output"
	done
	run "$LAYERFS" -o "lowerdir=$L1,upperdir=$U,workdir=$W,uidmapping=0:4294967295:2" "$M"
	eq "$output" "layerfs: option 'uidmapping=0:4294967295:2': range 0:4294967295:2 runs past id 4294967294"
}

@test "idmap: new files, dirs, symlinks and fifos get the creator's ids mapped to disk" {
	mkdir -m 1777 "$L1/pub"
	make_traversable
	chmod 755 "$M"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	as_user 4 106 sh -c "cd '$M/pub' && touch f && mkdir d && ln -s f s && mkfifo p"
	eq "$(owner "$M/pub/f" "$M/pub/d" "$M/pub/s" "$M/pub/p")" "4:106 4:106 4:106 4:106"
	eq "$(owner "$U/pub/f" "$U/pub/d" "$U/pub/s" "$U/pub/p")" \
		"1004:2006 1004:2006 1004:2006 1004:2006"
	eq "$(stat -c %F "$U/pub/p")" "fifo"
	# root in the mount is uid 1000 on disk; its gid 0 is outside the gid
	# mapping (shown 100..109), so it gets the overflow id
	touch "$M/rootfile"
	eq "$(owner "$U/rootfile")" "1000:65534"
	eq "$(owner "$M/rootfile")" "0:65534"
	# A creator outside the mapping gets the overflow id on disk, as with
	# fuse-overlayfs; it shows as 65534 (disk 65534 is not mapped here), so
	# the creator does not own what it made (touch(1) fails to set times).
	as_user 500 500 sh -c ": >'$M/pub/stranger'"
	eq "$(owner "$U/pub/stranger")" "65534:65534"
	eq "$(owner "$M/pub/stranger")" "65534:65534"
}

@test "idmap: a setgid directory passes its group on, in disk terms" {
	mkdir "$L1/sg"
	chown 1001:2003 "$L1/sg"
	chmod 2777 "$L1/sg"
	make_traversable
	chmod 755 "$M"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	eq "$(owner "$M/sg")" "1:103"
	as_user 4 106 sh -c "cd '$M/sg' && touch f && mkdir d && mkfifo p"
	eq "$(owner "$M/sg/f" "$M/sg/d" "$M/sg/p")" "4:103 4:103 4:103"
	eq "$(owner "$U/sg/f" "$U/sg/d" "$U/sg/p")" "1004:2003 1004:2003 1004:2003"
	eq "$(stat -c %A "$M/sg/d")" "drwxr-sr-x" "a new directory inherits the setgid bit"
	eq "$(stat -c %A "$M/sg/f")" "-rw-r--r--" "a new file does not"
}

@test "idmap: ls -ln (readdirplus) shows the owners stat shows" {
	local i
	mkdir "$L1/d" "$L2/d"
	for i in 0 3 7 12; do
		touch "$L1/d/u$i"
		chown "$((1000 + i)):$((2000 + i))" "$L1/d/u$i"
		mkdir "$L2/d/v$i"
		chown "$((1000 + i)):$((2000 + i))" "$L2/d/v$i"
	done
	local want="u0=0:100 u12=65534:65534 u3=3:103 u7=7:107 v0=0:100 v12=65534:65534 v3=3:103 v7=7:107"
	# first listing after the mount: the kernel asks with readdirplus and
	# takes the attributes from it
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	eq "$(ls -ln "$M/d" | awk 'NR > 1 { print $9 "=" $3 ":" $4 }' | sort | tr '\n' ' ')" "$want "
	unmount_layerfs
	# the same names through lookup and getattr on a fresh mount
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	local got=""
	for i in u0 u12 u3 u7 v0 v12 v3 v7; do
		got+="$i=$(owner "$M/d/$i") "
	done
	eq "$got" "$want "
}

@test "idmap: POSIX ACL entries are mapped both ways, default ACLs too" {
	touch "$L1/low" "$L1/odd"
	setfacl -m u:1003:rwx,g:2005:r "$L1/low"
	setfacl -m u:77:r "$L1/odd"
	mkdir "$L1/dir"
	chmod 777 "$L1/dir"
	setfacl -d -m u:1002:rx,g:2001:rx "$L1/dir"
	make_traversable
	chmod 755 "$M"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"

	# lower ACLs show in the mount's terms
	eq "$(acl "$M/low")" "user:3:rwx group:105:r--"
	eq "$(acl "$M/dir")" "default:user:2:r-x default:group:101:r-x"
	# an entry naming an id outside the mapping is left out: shown as
	# 65534 it would give its rights to the mount's uid 65534
	eq "$(acl "$M/odd")" "" "an id outside the mapping"
	getfacl -n "$M/odd" | grep -q '^mask::r--$'
	eq "$(acl "$L1/odd")" "user:77:r--" "lower untouched"

	# setfacl through the mount stores disk ids in the upper file
	touch "$M/new"
	setfacl -m u:4:rwx,g:107:rw "$M/new"
	eq "$(acl "$M/new")" "user:4:rwx group:107:rw-"
	eq "$(acl "$U/new")" "user:1004:rwx group:2007:rw-"
	setfacl -m u:6:r "$M/low"
	eq "$(acl "$U/low")" "user:1003:rwx user:1006:r-- group:2005:r--"
	eq "$(acl "$L1/low")" "user:1003:rwx group:2005:r--" "lower untouched"

	# default ACLs: set through the mount, stored mapped, inherited by a
	# new file created on the upper
	mkdir -m 777 "$M/inherit"
	setfacl -d -m u:8:rwx "$M/inherit"
	eq "$(acl "$U/inherit")" "default:user:1008:rwx"
	as_user 4 106 touch "$M/inherit/child"
	eq "$(acl "$M/inherit/child")" "user:8:rwx"
	eq "$(acl "$U/inherit/child")" "user:1008:rwx"
	as_user 4 106 touch "$M/dir/child"
	eq "$(acl "$U/dir/child")" "user:1002:r-x group:2001:r-x"
	eq "$(acl "$M/dir/child")" "user:2:r-x group:101:r-x"

	# an ACL naming an unmapped id cannot be stored
	run ! setfacl -m u:10:r "$M/new"
	[[ "$output" == *"Invalid argument"* ]] || fail "setfacl u:10: $output"
	eq "$(acl "$U/new")" "user:1004:rwx group:2007:rw-"
}

@test "idmap: the rootid of v3 file capabilities is mapped both ways" {
	need_cmd setcap
	cp /bin/true "$L1/low"
	setcap -n 1007 cap_net_raw+ep "$L1/low"
	cp /bin/true "$L1/v2"
	setcap cap_net_raw+ep "$L1/v2"
	cp /bin/true "$L1/out"
	setcap -n 1010 cap_net_raw+ep "$L1/out"
	cp /bin/true "$L1/set"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	eq "$(cap_rootid "$M/low")" 7
	eq "$(cap_rootid "$L1/low")" 1007
	eq "$(cap_rootid "$M/out")" 65534 "a rootid outside the mapping"
	# v2 capabilities carry no rootid and pass unchanged
	eq "$(getfattr --absolute-names --only-values -n security.capability "$M/v2" | od -An -tx1 | tr -d ' \n')" \
		"$(getfattr --absolute-names --only-values -n security.capability "$L1/v2" | od -An -tx1 | tr -d ' \n')"

	setcap -n 3 cap_net_raw+ep "$M/set"
	eq "$(cap_rootid "$M/set")" 3
	eq "$(cap_rootid "$U/set")" 1003
	run ! setcap -n 30 cap_net_raw+ep "$M/low"
	eq "$(cap_rootid "$M/low")" 7 "a refused rootid changes nothing"
	# copy-up keeps the disk value
	touch "$M/low"
	eq "$(cap_rootid "$U/low")" 1007
	eq "$(cap_rootid "$M/low")" 7
}

@test "idmap: squash_to_root shows every object as root; a chown changes nothing" {
	touch "$L1/f"
	chown 1000:2000 "$L1/f"
	mkdir "$L1/d"
	chown 7:8 "$L1/d"
	ln -s f "$L1/s"
	chown -h 9:9 "$L1/s"
	setfacl -m u:1003:r "$L1/f"
	mount_layerfs "squash_to_root"
	mkfifo "$M/p"
	mkdir "$M/nd"
	eq "$(owner "$M/f" "$M/d" "$M/s" "$M/p" "$M/nd" "$M")" "0:0 0:0 0:0 0:0 0:0 0:0"
	eq "$(ls -ln "$M" | awk 'NR > 1 { print $3 ":" $4 }' | sort -u)" "0:0"
	chown 5:6 "$M/f"
	eq "$(owner "$M/f")" "0:0"
	eq "$(owner "$U/f")" "1000:2000" "disk owner unchanged"
	# ids inside ACLs name users, not the owner: they are not squashed
	eq "$(acl "$M/f")" "user:1003:r--"
}

@test "idmap: squash_to_uid= and squash_to_gid= fix only their own id" {
	touch "$L1/f" "$L1/g"
	chown 1000:2000 "$L1/f" "$L1/g"
	mount_layerfs "squash_to_uid=42"
	eq "$(owner "$M/f")" "42:2000"
	chown 5:6 "$M/f"
	eq "$(owner "$M/f")" "42:6" "the group is not squashed: chgrp works"
	eq "$(owner "$U/f")" "1000:6"
	unmount_layerfs
	mount_layerfs "squash_to_gid=43"
	eq "$(owner "$M/f" "$M/g")" "1000:43 1000:43"
	chown 5:6 "$M/g"
	eq "$(owner "$M/g")" "5:43"
	eq "$(owner "$U/g")" "5:2000"
	unmount_layerfs
	mount_layerfs "squash_to_uid=42,squash_to_gid=43,uidmapping=1000:0:10"
	touch "$M/new"
	eq "$(owner "$M/f" "$M/g" "$M/new" "$M")" "42:43 42:43 42:43 42:43"
	eq "$(owner "$U/new")" "1000:0" "the creator is still mapped to disk"
}

@test "idmap: xattr_permissions=1 and =2 keep chown and chmod in an override xattr" {
	local n x
	for n in 1 2; do
		[ "$n" = 1 ] && x=security.fuseoverlayfs.override_stat || x=user.fuseoverlayfs.override_stat
		rm -rf "$U" "$W" "$L1"/* && mkdir "$U" "$W"
		echo low >"$L1/f"
		chown 1000:2000 "$L1/f"
		mount_layerfs "xattr_permissions=$n"
		chown 5:6 "$M/f"
		chmod 4710 "$M/f"
		touch "$M/new"
		chown 7:8 "$M/new"
		chmod 640 "$M/new"
		mkdir "$M/dir"
		chown 9:10 "$M/dir"
		eq "$(owner "$M/f" "$M/new" "$M/dir")" "5:6 7:8 9:10" "owners shown ($x)"
		eq "$(stat -c %a "$M/f")" 4710
		eq "$(getfattr --absolute-names --only-values -n "$x" "$U/f")" "5:6:04710"
		eq "$(getfattr --absolute-names --only-values -n "$x" "$U/new")" "7:8:0640"
		eq "$(getfattr --absolute-names --only-values -n "$x" "$U/dir")" "9:10:0755"
		# the upper root carries the marker that tells later readers
		eq "$(getfattr --absolute-names --only-values -n "$x" "$U")" "0:0:0755"
		# on disk the files keep the daemon's owner, and the real mode never
		# gets set-id bits from the override
		eq "$(owner "$U/f" "$U/new" "$U/dir")" "0:0 0:0 0:0"
		eq "$(stat -c %a "$U/f")" 710
		unmount_layerfs
		# the override, not the real mode, is what shows after a remount
		chmod 600 "$U/f"
		mount_layerfs "xattr_permissions=$n"
		eq "$(owner "$M/f" "$M/new" "$M/dir")" "5:6 7:8 9:10" "after remount ($x)"
		eq "$(stat -c %a "$M/f")" 4710
		unmount_layerfs
	done
}

@test "idmap: fifos (which take no user.* xattr) keep owner and mode in the real object under xattr_permissions=2" {
	mkfifo -m 644 "$L1/lp"
	mount_layerfs "xattr_permissions=2"
	mkfifo -m 640 "$M/p"
	chmod 600 "$M/p" "$M/lp"
	chown 5:6 "$M/p" "$M/lp"
	eq "$(stat -c '%a %u:%g' "$M/p" "$M/lp" | tr '\n' ' ')" "600 5:6 600 5:6 "
	eq "$(stat -c '%a %u:%g' "$U/p" "$U/lp" | tr '\n' ' ')" "600 5:6 600 5:6 "
	unmount_layerfs
	mount_layerfs "xattr_permissions=2"
	eq "$(stat -c '%a %u:%g' "$M/p" "$M/lp" | tr '\n' ' ')" "600 5:6 600 5:6 "
}

@test "idmap: under an override xattr, an access ACL moves the mode shown and chmod moves the ACL's mask, as on the kernel's overlay" {
	need_kernel_overlay
	need_cmd setfacl
	echo x >"$L1/f"
	chmod 644 "$L1/f"
	mkdir "$L1/d" "$L1/e"
	chmod 770 "$L1/d"
	chmod 700 "$L1/e"
	mount_beside_kernel "xattr_permissions=2"
	local m out=()
	for m in "$M" "$T/k"; do
		setfacl -m u:0:rwx,m::rwx "$m/f"
		setfacl -m u:1000:rwx "$m/d"
		chmod 700 "$m/d"
		setfacl -m u:1000:rx "$m/e"
		out+=("$(stat -c '%n %a' "$m/f" "$m/d" "$m/e" | sed "s|^$m/||")
$(getfacl -cpn "$m/d" | grep mask)
$(setpriv --reuid=1000 --regid=1000 --clear-groups ls "$m/e" >/dev/null 2>&1; echo "ls e: $?")")
	done
	eq "${out[0]}" "${out[1]}"
}

@test "idmap: a copy-up under an override xattr gives the daemon-owned copy no set-id bits" {
	echo low >"$L1/suid"
	chown 1000:1000 "$L1/suid"
	chmod 6755 "$L1/suid"
	mount_layerfs "xattr_permissions=2"
	touch "$M/suid"
	eq "$(owner "$M/suid") $(stat -c %a "$M/suid")" "1000:1000 6755" "shown as in the layer"
	eq "$(getfattr --absolute-names --only-values -n user.fuseoverlayfs.override_stat "$U/suid")" "1000:1000:06755"
	eq "$(owner "$U/suid") $(stat -c %a "$U/suid")" "0:0 755" "the real copy"
}

@test "idmap: override xattrs hold disk ids when a mapping is active" {
	touch "$L1/f"
	chown 1000:2000 "$L1/f"
	mount_layerfs "xattr_permissions=2,uidmapping=1000:0:10,gidmapping=2000:100:10"
	eq "$(owner "$M/f")" "0:100"
	chown 3:104 "$M/f"
	eq "$(owner "$M/f")" "3:104"
	eq "$(getfattr --absolute-names --only-values -n user.fuseoverlayfs.override_stat "$U/f")" "1003:2004:0644"
	eq "$(chown_err 10 "$M/f")" "Invalid argument"
}

@test "idmap: a lower layer with user.containers.override_stat shows those owners and modes" {
	echo x >"$L2/f"
	echo y >"$L2/g"
	mkdir "$L2/d"
	# the layer root says the layer carries overrides (as containers-storage
	# writes it); the newer form has a type suffix
	setfattr -n user.containers.override_stat -v "0:0:0755" "$L2"
	setfattr -n user.containers.override_stat -v "1005:2005:0750" "$L2/f"
	setfattr -n user.containers.override_stat -v "1001:2001:04755:file" "$L2/g"
	setfattr -n user.containers.override_stat -v "1002:2002:0700:dir" "$L2/d"
	# a layer whose root has no marker: its overrides are not read
	echo z >"$L1/plain"
	setfattr -n user.containers.override_stat -v "1003:2003:0600" "$L1/plain"
	mount_layerfs "uidmapping=1000:0:10,gidmapping=2000:100:10"
	eq "$(stat -c '%u:%g %a' "$M/f" "$M/g" "$M/d" "$M/plain" | tr '\n' ' ')" \
		"5:105 750 1:101 4755 2:102 700 65534:65534 644 "
	# the override xattrs themselves are never visible in the mount
	run ! getfattr --absolute-names -n user.containers.override_stat "$M/f"
	[[ "$output" == *"No such attribute"* ]] || fail "getfattr: $output"
	# a copy-up turns the override into real ownership on an upper that
	# chowns, and does not copy the override xattr
	echo more >>"$M/f"
	eq "$(stat -c '%u:%g %a' "$U/f")" "1005:2005 750"
	run ! getfattr --absolute-names -n user.containers.override_stat "$U/f"
	eq "$(stat -c '%u:%g %a' "$M/f")" "5:105 750"
}

@test "idmap: override xattrs are never listed, read or set through the mount" {
	local x
	touch "$L1/f"
	mount_layerfs "xattr_permissions=1"
	chown 5:6 "$M/f"
	setfattr -n user.visible -v 1 "$M/f"
	setfattr -n user.containers.override_stat -v "1:1:0644" "$U/f"
	setfattr -n user.fuseoverlayfs.override_stat -v "1:1:0644" "$U/f"
	eq "$(getfattr --absolute-names -d -m - "$M/f" | grep -v '^#' | grep . | tr '\n' ' ')" 'user.visible="1" '
	eq "$(getfattr --absolute-names -d -m - "$M" | grep -v '^#' | grep -c .)" 0 "root dir"
	for x in security.fuseoverlayfs.override_stat user.fuseoverlayfs.override_stat \
		user.containers.override_stat; do
		run ! getfattr --absolute-names -n "$x" "$M/f"
		[[ "$output" == *"No such attribute"* ]] || fail "getfattr $x: $output"
		run ! setfattr -n "$x" -v "0:0:0777" "$M/f"
		[[ "$output" == *"Operation not permitted"* ]] || fail "setfattr $x: $output"
	done
	eq "$(getfattr --absolute-names --only-values -n security.fuseoverlayfs.override_stat "$U/f")" "5:6:0644"
	eq "$(owner "$M/f")" "5:6"
}
