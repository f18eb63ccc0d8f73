#!/usr/bin/env bats
# Trees deeper than PATH_MAX, reached with *at calls one component at a time.

load helpers

DEPTH=30

# deep_path DEPTH: a relative path of DEPTH components of ~200 chars
deep_path() {
	local comp i p=""
	comp=$(printf 'd%.0s' $(seq 1 200))
	for ((i = 1; i <= $1; i++)); do
		p="$p${p:+/}${comp}_$i"
	done
	echo "$p"
}

@test "deep: create, read, rename and remove beyond PATH_MAX through the mount" {
	local p
	p=$(deep_path $DEPTH)
	[ ${#p} -gt 4096 ] || fail "test path too short: ${#p}"
	mount_layerfs
	"$FSOPS" mkdirs "$M/top/$p"
	"$FSOPS" write "$M/top/$p/file" "deep data"
	eq "$("$FSOPS" cat "$M/top/$p/file")" "deep data"
	eq "$("$FSOPS" cat "$U/top/$p/file")" "deep data" "on disk in the upper"
	"$FSOPS" rename "$M/top/$p/file" "$M/top/$p/renamed"
	expect_errno ENOENT stat "$M/top/$p/file"
	eq "$("$FSOPS" cat "$M/top/$p/renamed")" "deep data"
	# rename a directory in the middle of the chain
	local head=${p%%/*} rest=${p#*/}
	"$FSOPS" rename "$M/top/$head" "$M/top/moved"
	eq "$("$FSOPS" cat "$M/top/moved/$rest/renamed")" "deep data"
	"$FSOPS" symlink target "$M/top/moved/$rest/link"
	eq "$("$FSOPS" readlink "$M/top/moved/$rest/link")" target
	"$FSOPS" rmtree "$M/top"
	eq "$(names "$M")" ""
	eq "$(names "$U")" "" "upper after removing an upper-only deep tree"
}

@test "deep: a lower tree beyond PATH_MAX: read, copy-up at the bottom, remove" {
	local p
	p=$(deep_path $DEPTH)
	"$FSOPS" mkdirs "$L2/top/$p"
	"$FSOPS" write "$L2/top/$p/file" "lower deep"
	"$FSOPS" write "$L2/top/$p/other" "other"
	mount_layerfs
	eq "$("$FSOPS" cat "$M/top/$p/file")" "lower deep"
	eq "$("$FSOPS" ls "$M/top/$p")" "$(printf 'file\nother')"
	"$FSOPS" append "$M/top/$p/file" " appended"
	eq "$("$FSOPS" cat "$M/top/$p/file")" "lower deep appended"
	eq "$("$FSOPS" cat "$U/top/$p/file")" "lower deep appended" "copied up with all parents"
	eq "$("$FSOPS" cat "$L2/top/$p/file")" "lower deep"
	"$FSOPS" unlink "$M/top/$p/other"
	eq "$("$FSOPS" ls "$M/top/$p")" file
	"$FSOPS" rmtree "$M/top"
	eq "$(names "$M")" ""
	unmount_layerfs
	mount_layerfs
	eq "$(names "$M")" "" "after remount"
}

@test "deep: renaming a lower directory that holds a tree beyond PATH_MAX" {
	local p
	p=$(deep_path $DEPTH)
	"$FSOPS" mkdirs "$L1/src/$p"
	"$FSOPS" write "$L1/src/$p/file" "bottom"
	mount_layerfs
	"$FSOPS" rename "$M/src" "$M/dst"
	expect_errno ENOENT stat "$M/src"
	eq "$("$FSOPS" cat "$M/dst/$p/file")" "bottom"
	eq "$("$FSOPS" cat "$U/dst/$p/file")" "bottom" "whole tree in the upper"
}

@test "deep: find and du walk a tree beyond PATH_MAX without errors" {
	local p
	p=$(deep_path $DEPTH)
	"$FSOPS" mkdirs "$L1/t/$p"
	"$FSOPS" write "$L1/t/$p/f" x
	mount_layerfs
	run -0 find "$M/t" -name f
	eq "$(echo "$output" | wc -l)" 1
	run -0 find "$M/t" -type d
	eq "$(echo "$output" | wc -l)" $((DEPTH + 1))
	run -0 du -s "$M/t"
}
