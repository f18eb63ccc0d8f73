#!/usr/bin/env python3
"""Stores through a shared mapping against stat through the mount.

mapstat.py MOUNT UPPER NAME...: for each NAME (a file under MOUNT, new or
in a lower layer), set its times far in the past, store through a shared
read-write mapping, and check that stat through the mount shows what the
real file in UPPER holds (mtime, ctime, blocks): with the file open, after
msync, after the close, and for stores made after the descriptor was
closed while the mapping stayed. Prints one line per check that fails and
exits 1 then; prints "ok" otherwise."""
import mmap
import os
import sys

OLD = 1000000000
SIZE = 1 << 20
bad = []


def same(what, mpath, upath, fd=None):
    a = os.fstat(fd) if fd is not None else os.stat(mpath)
    b = os.stat(upath)
    got = (a.st_mtime_ns, a.st_ctime_ns, a.st_blocks)
    want = (b.st_mtime_ns, b.st_ctime_ns, b.st_blocks)
    if got != want:
        bad.append(f"{what}: mount shows (mtime, ctime, blocks) {got}, "
                   f"the real file {want}")
    if a.st_mtime_ns <= OLD * 10**9:
        bad.append(f"{what}: mtime not updated ({a.st_mtime_ns})")


def main():
    mnt, upper, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    for name in names:
        mpath, upath = os.path.join(mnt, name), os.path.join(upper, name)
        fd = os.open(mpath, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(fd, SIZE)
        os.close(fd)
        os.utime(mpath, (OLD, OLD))
        fd = os.open(mpath, os.O_RDWR)
        m = mmap.mmap(fd, SIZE)
        os.fstat(fd)    # the kernel's copy, taken after the mmap
        m[:] = b"m" * SIZE
        m.flush()
        same(f"{name}, open, after msync", mpath, upath, fd)
        m.close()
        os.close(fd)
        same(f"{name}, after the close", mpath, upath)
        # stores after the descriptor went, the mapping still there
        os.utime(mpath, (OLD, OLD))
        fd = os.open(mpath, os.O_RDWR)
        m = mmap.mmap(fd, SIZE)
        os.close(fd)
        os.stat(mpath)  # the kernel's copy, taken before the stores
        m[:4096] = b"n" * 4096
        m.flush()
        same(f"{name}, stored after the close, after msync", mpath, upath)
        m.close()
        same(f"{name}, after munmap", mpath, upath)
    for b in bad:
        print(b)
    print("ok" if not bad else f"{len(bad)} failed")
    return 1 if bad else 0


sys.exit(main())
