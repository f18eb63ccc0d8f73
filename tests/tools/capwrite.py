#!/usr/bin/env python3
"""capwrite.py DIR [UPPER]: whether file capabilities survive writes that reach the
file system from the kernel's page cache, and go with write(2).

DIR/low must be a regular file of at least 4 KiB with a file capability,
DIR/setid one of at least 4 KiB with mode 4755. Makes DIR/new: written,
given a capability through its descriptor, then closed (with a
writeback cache the data reaches the file system at the close: a
setxattr, unlike a chmod, chown or utimes, does not write it back first). Stores into DIR/low and DIR/setid through a shared mapping
(msync). Then appends to all three with write(2). Prints whether new and
low have a capability after the first steps and after the appends, and
the mode of setid after each: "cap cap none none 4755 4755" on a local
file system and the kernel's overlayfs as root; in a user namespace the
append drops the set-user-ID bit (its root lacks CAP_FSETID where the
file system asks), "... 4755 755". With UPPER, the modes are those of
UPPER/setid, the real file under an overlay (a FUSE mount may show
the mode it cached).
"""
import mmap
import os
import struct
import sys

CAP = "security.capability"
# cap_net_raw=ep, revision 2
VALUE = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)


def has_cap(path):
    try:
        os.getxattr(path, CAP)
        return "cap"
    except OSError:
        return "none"


def store(path):
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
    m[0:4] = b"ZZZZ"
    m.flush()
    m.close()
    os.close(fd)


def mode(path):
    return "%o" % (os.stat(path).st_mode & 0o7777)


def main():
    d = sys.argv[1]
    new, low = os.path.join(d, "new"), os.path.join(d, "low")
    setid = os.path.join(d, "setid")
    real = os.path.join(sys.argv[2], "setid") if len(sys.argv) > 2 else setid
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(fd, b"x" * 100000)
    os.setxattr(fd, CAP, VALUE)
    os.close(fd)
    store(low)
    store(setid)
    out = [has_cap(new), has_cap(low)]
    stored = mode(real)
    for p in (new, low, setid):
        with open(p, "ab") as f:
            f.write(b"more")
    out += [has_cap(new), has_cap(low), stored, mode(real)]
    print(" ".join(out))


if __name__ == "__main__":
    main()
