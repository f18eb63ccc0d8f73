#!/usr/bin/env python3
"""times.py: which times and link counts an operation changes.

    times.py build DIR    make a lower layer in DIR (every time set to 1000)
    times.py run MOUNT    do the operations on MOUNT, print what changed

For each operation, `run` prints its result and, for each path it names
(the object and its parent directories), which of mtime, ctime and atime
moved and by how much the link count did; tests/differential.bats runs
it on the kernel's overlayfs and on layerfs over the same layer and
compares the two outputs. Times are compared as "changed or not", never
by value. Most objects start in the lower layer, so most operations
copy up first.
"""
import errno
import os
import sys
import time


def build(d):
    for sub in ("d1", "d2"):
        os.makedirs(os.path.join(d, sub, "sub"))
        for f in ("f", "g", "h", "x"):
            with open(os.path.join(d, sub, f), "w") as fh:
                fh.write("data\n")
        os.symlink("f", os.path.join(d, sub, "sl"))
    for dirpath, dirs, files in os.walk(d):
        for n in dirs + files:
            os.utime(os.path.join(dirpath, n), (1000, 1000), follow_symlinks=False)
    os.utime(d, (1000, 1000))


def append(p, data):
    with open(p, "a") as f:
        f.write(data)


def touch(p):
    open(p, "w").close()


def open_rw(p):
    open(p, "r+").close()


# name, operation on mount M, paths to watch
OPS = [
    ("create", lambda m: touch(m + "/d1/new"), ["d1", "d1/new"]),
    ("append to a lower file", lambda m: append(m + "/d1/f", "x"), ["d1", "d1/f"]),
    ("truncate a lower file", lambda m: os.truncate(m + "/d1/h", 2), ["d1", "d1/h"]),
    ("chmod a lower file", lambda m: os.chmod(m + "/d2/f", 0o600), ["d2", "d2/f"]),
    ("chown a lower file", lambda m: os.chown(m + "/d2/g", 1, 1), ["d2", "d2/g"]),
    ("setxattr on a lower file", lambda m: os.setxattr(m + "/d2/h", "user.a", b"1"),
     ["d2", "d2/h"]),
    ("utime of a lower file", lambda m: os.utime(m + "/d2/x", (5000, 5000)), ["d2", "d2/x"]),
    ("unlink a lower file", lambda m: os.unlink(m + "/d1/x"), ["d1"]),
    ("link a lower symlink", lambda m: os.link(m + "/d2/sl", m + "/d2/sl2",
                                               follow_symlinks=False), ["d2", "d2/sl"]),
    ("rename in a directory", lambda m: os.rename(m + "/d1/f", m + "/d1/f2"), ["d1", "d1/f2"]),
    ("rename across directories", lambda m: os.rename(m + "/d1/g", m + "/d2/g2"),
     ["d1", "d2", "d2/g2"]),
    ("rename over a file", lambda m: os.rename(m + "/d2/g2", m + "/d2/h"), ["d2", "d2/h"]),
    ("mkdir", lambda m: os.mkdir(m + "/d1/nd"), ["d1", "d1/nd"]),
    ("rmdir a lower directory", lambda m: os.rmdir(m + "/d1/sub"), ["d1"]),
    ("symlink", lambda m: os.symlink("zz", m + "/d1/ns"), ["d1"]),
    ("mkfifo", lambda m: os.mkfifo(m + "/d1/ff"), ["d1", "d1/ff"]),
    ("create in a lower subdirectory", lambda m: touch(m + "/d2/sub/n"),
     ["d2", "d2/sub", "d2/sub/n"]),
    ("rename an upper directory", lambda m: os.rename(m + "/d1/nd", m + "/d1/nd2"),
     ["d1", "d1/nd2"]),
    ("chmod a lower directory", lambda m: os.chmod(m + "/d2", 0o700), ["", "d2"]),
    ("unlink an upper file", lambda m: os.unlink(m + "/d1/new"), ["d1"]),
    ("utime now of a lower directory", lambda m: os.utime(m + "/d2/sub"), ["d2", "d2/sub"]),
    ("read a lower file", lambda m: open(m + "/d2/f").read(), ["d2", "d2/f"]),
    ("list a merged directory", lambda m: os.listdir(m + "/d2"), ["d2"]),
]

# only where the file's data passes through the kernel's overlay or FUSE
# passthrough: an open for writing without a write copies up, and the
# copy's new ctime shows (with the writeback cache the kernel keeps the
# ctime it has; with noopen the open does not copy up)
OPEN_RW = ("open a lower file for writing, no write", lambda m: open_rw(m + "/d1/g"),
           ["d1", "d1/g"])


def stamp(m, p):
    try:
        s = os.lstat(os.path.join(m, p))
    except OSError as e:
        return errno.errorcode[e.errno]
    return (s.st_mtime_ns, s.st_ctime_ns, s.st_atime_ns, s.st_nlink)


def run(m, ops):
    for name, fn, paths in ops:
        before = {p: stamp(m, p) for p in paths}
        time.sleep(0.02)  # a change gets a time of its own
        try:
            fn(m)
            res = "ok"
        except OSError as e:
            res = errno.errorcode[e.errno]
        seen = []
        for p in paths:
            b, a = before[p], stamp(m, p)
            if isinstance(a, str) or isinstance(b, str):
                seen.append("%s:%s" % (p or ".", "new" if isinstance(b, str) else a))
                continue
            moved = "".join(c if a[i] != b[i] else "-" for i, c in enumerate("mca"))
            links = " nlink%+d" % (a[3] - b[3]) if a[3] != b[3] else ""
            seen.append("%s:%s%s" % (p or ".", moved, links))
        print("%s: %s; %s" % (name, res, ", ".join(seen)))


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("build", "run"):
        sys.exit("usage: times.py build DIR | run MOUNT [open-rw]")
    if sys.argv[1] == "build":
        build(sys.argv[2])
    else:
        ops = OPS + ([OPEN_RW] if sys.argv[3:] == ["open-rw"] else [])
        run(sys.argv[2], ops)


if __name__ == "__main__":
    main()
