#!/usr/bin/env python3
"""capwrite.py DIR: whether file capabilities survive writes that reach the
file system from the kernel's page cache, and go with write(2).

DIR/low must be a regular file of at least 4 KiB with a file capability.
Makes DIR/new: written, given a capability through its descriptor (as rpm
installs a file), then closed (with a writeback cache the data reaches the
file system at the close). Stores into DIR/low through a shared mapping
(msync). Then appends to both with write(2). Prints whether each has a
capability after the first steps and after the appends:
"cap cap none none" on a local file system and the kernel's overlayfs.
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


def main():
    d = sys.argv[1]
    new, low = os.path.join(d, "new"), os.path.join(d, "low")
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(fd, b"x" * 100000)
    os.setxattr(fd, CAP, VALUE)
    os.close(fd)
    fd = os.open(low, os.O_RDWR)
    m = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
    m[0:4] = b"ZZZZ"
    m.flush()
    m.close()
    os.close(fd)
    out = [has_cap(new), has_cap(low)]
    for p in (new, low):
        with open(p, "ab") as f:
            f.write(b"more")
    out += [has_cap(new), has_cap(low)]
    print(" ".join(out))


if __name__ == "__main__":
    main()
