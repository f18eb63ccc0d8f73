#!/usr/bin/env bats
# Hard links, symlinks, fifos, sockets, device nodes.

load helpers

@test "links: hard link of a lower file: copied up first, nlink 2, same st_ino" {
	echo data >"$L1/f"
	mount_layerfs
	ln "$M/f" "$M/g"
	eq "$(stat -c %h "$M/f")" 2
	eq "$(stat -c %h "$M/g")" 2
	eq "$(stat -c %i "$M/f")" "$(stat -c %i "$M/g")"
	eq "$(stat -c %i "$U/f")" "$(stat -c %i "$U/g")" "one inode in the upper"
	eq "$(stat -c %h "$L1/f")" 1 "lower file untouched"
	echo more >>"$M/g"
	eq "$(cat "$M/f")" "$(printf 'data\nmore')"
	rm "$M/f"
	eq "$(stat -c %h "$M/g")" 1
	eq "$(cat "$M/g")" "$(printf 'data\nmore')"
	expect_errno ENOENT stat "$M/f"
}

@test "links: hard link into another (lower) directory copies that parent up" {
	mkdir -p "$L2/a" "$L1/b/c"
	echo x >"$L2/a/f"
	mount_layerfs
	ln "$M/a/f" "$M/b/c/g"
	eq "$(stat -c %i "$M/a/f")" "$(stat -c %i "$M/b/c/g")"
	eq "$(stat -c %h "$M/b/c/g")" 2
	[ -f "$U/b/c/g" ] || fail "link not in the upper"
	eq "$(stat -c %i "$U/a/f")" "$(stat -c %i "$U/b/c/g")"
}

@test "links: link counts follow link and unlink of upper files" {
	mount_layerfs
	echo x >"$M/a"
	ln "$M/a" "$M/b"
	ln "$M/a" "$M/c"
	eq "$(stat -c %h "$M/a")" 3
	rm "$M/b"
	eq "$(stat -c %h "$M/a")" 2
	eq "$(stat -c %h "$M/c")" 2
	expect_errno EEXIST link "$M/a" "$M/c"
}

@test "links: link over a deleted lower name, and EEXIST over a live lower name" {
	echo old >"$L1/t"
	echo live >"$L1/live"
	mount_layerfs
	echo src >"$M/s"
	expect_errno EEXIST link "$M/s" "$M/live"
	rm "$M/t"
	"$FSOPS" link "$M/s" "$M/t"
	eq "$(cat "$M/t")" src
	eq "$(stat -c %h "$M/t")" 2
	unmount_layerfs
	mount_layerfs
	eq "$(cat "$M/t")" src
	eq "$(stat -c %i "$M/t")" "$(stat -c %i "$M/s")"
}

@test "links: hard link to a directory is refused (EPERM)" {
	mkdir "$L1/d"
	mount_layerfs
	expect_errno EPERM link "$M/d" "$M/d2"
}

@test "links: symlinks: create, readlink, lstat, follow, lower symlinks" {
	mkdir -p "$L1/dir"
	echo inside >"$L1/dir/f"
	ln -s dir "$L2/lowlink"
	mount_layerfs
	ln -s dir "$M/rel"
	ln -s /nonexistent/absolute "$M/abs"
	ln -s "$(printf 'x%.0s' $(seq 1 300))" "$M/long"
	eq "$(readlink "$M/rel")" dir
	eq "$(readlink "$M/abs")" /nonexistent/absolute
	eq "$(readlink "$M/long" | wc -c)" 301
	eq "$(readlink "$M/lowlink")" dir
	eq "$(stat -c '%F %s' "$M/rel")" "symbolic link 3"
	eq "$(cat "$M/rel/f")" inside
	eq "$(cat "$M/lowlink/f")" inside
	eq "$(readlink "$U/rel")" dir
	expect_errno EINVAL readlink "$M/dir/f"
	expect_errno ENOENT stat "$M/abs/x"
	# a symlink over a deleted lower file
	rm "$M/lowlink"
	ln -s other "$M/lowlink"
	eq "$(readlink "$M/lowlink")" other
}

@test "links: fifos work through the mount" {
	mkfifo "$L1/lowfifo"
	mount_layerfs
	mkfifo "$M/fifo"
	eq "$(stat -c %F "$M/fifo")" fifo
	eq "$(stat -c %F "$U/fifo")" fifo
	eq "$(stat -c %F "$M/lowfifo")" fifo
	spawn bash -c "echo through >'$M/fifo'"
	local p=$BG_PID
	eq "$(timeout 20 cat "$M/fifo")" through
	wait "$p"
}

@test "links: unix sockets can be bound and connected through the mount" {
	need_cmd python3
	"$FSOPS" socket "$L1/lowsock"
	mount_layerfs
	"$FSOPS" socket "$M/sock"
	eq "$(stat -c %F "$M/sock")" socket
	eq "$(stat -c %F "$U/sock")" socket
	eq "$(stat -c %F "$M/lowsock")" socket
	rm "$M/sock"
	# a listening socket bound inside the mount accepts connections
	cat >"$T/srv.py" <<-'EOF'
		import socket, sys, os
		s = socket.socket(socket.AF_UNIX)
		os.chdir(sys.argv[1]); s.bind("live"); s.listen(1)
		open(sys.argv[2], "w").close()
		c, _ = s.accept(); c.sendall(b"hello"); c.close()
	EOF
	spawn python3 "$T/srv.py" "$M" "$T/ready"
	local p=$BG_PID
	wait_until 10 test -e "$T/ready" || fail "server did not start"
	run -0 timeout 20 python3 -c "import socket,os; os.chdir('$M'); s=socket.socket(socket.AF_UNIX); s.connect('live'); print(s.recv(10).decode())"
	eq "$output" hello
	wait "$p"
}

@test "links: device nodes (mknod c 1 3) are created in the upper" {
	need_root
	mknod "$L1/lownull" c 1 3
	mount_layerfs
	mknod "$M/null" c 1 3
	mknod "$M/blk" b 7 1
	eq "$(stat -c '%F %t:%T' "$M/null")" "character special file 1:3"
	eq "$(stat -c '%F %t:%T' "$U/null")" "character special file 1:3"
	eq "$(stat -c '%F %t:%T' "$M/blk")" "block special file 7:1"
	eq "$(stat -c '%F %t:%T' "$M/lownull")" "character special file 1:3"
	# a 0:0 char device can not be made through the mount (it is a whiteout)
	# or, if it can, it must show up as a char device
	if mknod "$M/zero00" c 0 0 2>/dev/null; then
		eq "$(stat -c '%F %t:%T' "$M/zero00")" "character special file 0:0"
	fi
}

@test "links: readlink of lower and copied-up symlinks after chown -h" {
	need_root
	ln -s ../target/path "$L2/l"
	mount_layerfs
	chown -h 9:9 "$M/l"
	eq "$(readlink "$M/l")" ../target/path
	eq "$(stat -c '%u:%g' "$M/l")" 9:9
	eq "$(readlink "$U/l")" ../target/path
}

@test "links: hard links between two lower names stay one object until copy-up" {
	echo shared >"$L1/a"
	ln "$L1/a" "$L1/b"
	mount_layerfs
	eq "$(stat -c %i "$M/a")" "$(stat -c %i "$M/b")"
	eq "$(stat -c %h "$M/a")" 2
	# a link made through the mount from one of them
	ln "$M/a" "$M/c"
	eq "$(cat "$M/c")" shared
	eq "$(stat -c %i "$M/a")" "$(stat -c %i "$M/c")"
}

# A lower file with two names: a change through one name copies up that
# name only and breaks the link, as the kernel's overlayfs (index=off) does.
# Both mounts run the same steps; the kernel's results are the reference.
lower_link_steps() { # MOUNTPOINT
	local m=$1
	# h2 is looked up first, then the pair is changed through h1
	stat -c '%h' "$m/d/h2" "$m/d/h1"
	[ "$(stat -c %i "$m/d/h1")" = "$(stat -c %i "$m/d/h2")" ] && echo same-ino
	chown 5:6 "$m/d/h1"
	stat -c '%n %h %u:%g' "$m/d/h1" "$m/d/h2"
	[ "$(stat -c %i "$m/d/h1")" != "$(stat -c %i "$m/d/h2")" ] && echo split-ino
	rm "$m/d/h2"
	cat "$m/d/h1"
	stat -c '%n %h %u:%g' "$m/d/h1" "$m/d/h3"
	ln "$m/d/h1" "$m/d/h4"
	echo more >>"$m/d/h4"
	cat "$m/d/h1"
	[ "$(stat -c %i "$m/d/h1")" = "$(stat -c %i "$m/d/h4")" ] && echo linked
	stat -c '%n %h' "$m/d/h1" "$m/d/h3" "$m/d/h4"
	cat "$m/d/h3"
}

@test "links: changing one name of a lower hard link changes only that name, like the kernel" {
	need_root
	mkdir -p "$L1/d"
	echo hl >"$L1/d/h1"
	ln "$L1/d/h1" "$L1/d/h2"
	ln "$L1/d/h1" "$L1/d/h3"
	mkdir -p "$T/ku" "$T/kw" "$T/km"
	kovl_mount "lowerdir=$L1:$L2,upperdir=$T/ku,workdir=$T/kw,index=off" "$T/km"
	want=$(lower_link_steps "$T/km" 2>&1)
	kovl_umount "$T/km"
	mount_layerfs
	got=$(lower_link_steps "$M" 2>&1)
	[ "$got" = "$(echo "$want" | sed "s|$T/km|$M|g")" ] ||
		fail "layerfs:"$'\n'"$got"$'\n'"kernel:"$'\n'"$want"
	eq "$(cat "$L1/d/h1")" hl "the lower layer is untouched"
	eq "$(stat -c %h "$L1/d/h1")" 3
}
