#!/usr/bin/env python3
"""difffuzz: random operations on layerfs and on the kernel's overlayfs,
over the same generated lower layers; every result and, now and then, the
whole merged view must be the same on both.

    difffuzz.py --layerfs PATH --dir DIR [--seed N] [--ops N] [--opts ,OPT...]
                [--workers N] [--nochrdev FSOPS]

(make fuzz runs many seeds; tests/differential.bats a few.)

Needs root (the kernel mount, trusted.* xattrs, whiteout devices), or,
with --userns, root of a user namespace with a mount namespace of its
own and uid and gid 1000 mapped (as rootless podman runs; run by root
of the initial namespace, it makes one itself, with ids 0-65535). DIR
must be empty or absent; the script mounts DIR/kernel and DIR/layerfs
and unmounts them before it exits. On a difference it prints the seed,
the operations so far and the difference, and exits 1. At the end, both
uppers must hold the same objects (no copy-up the kernel did not make,
or the other way round), the view must stay the same across a remount of
layerfs, and when the kernel mounts layerfs's upper as the top lower
layer.

Names come from a small pool, so operations keep meeting names that
exist in some layers, are whited out in others, or sit in opaque
directories. Known, documented differences are not exercised: a
directory rename the kernel refuses with EXDEV is not done on layerfs
either (layerfs would do it); with noopen, a write of nothing (not
truncating) is done on neither, nor an open for writing without O_TRUNC,
since the open alone copies up on the kernel and not on layerfs (a
hard-linked lower file keeps its link count); without the writeback
cache, root does not write to or fallocate a set-id file with a file
capability (layerfs drops the set-id bits with the capability, see
README); with --userns, nothing writes to, truncates or fallocates a
file with a file capability and more than one name (the kernel's
overlay with userxattr makes each name an inode of its own, and one
that a write found without security xattrs skips the check after the
capability was set through another name: the capability stays, where
layerfs and a local file system drop it), and no other user or root
without capabilities acts on a regular file with more than one name (the
second name's inode there keeps the owner and mode it had when it was
first looked up, and its permission checks follow them); fallocate's
collapse and insert range, which FUSE refuses (EOPNOTSUPP), are done on
the kernel's overlay only where layerfs failed otherwise; with the
writeback cache SEEK_DATA/SEEK_HOLE tell only what lies past the end
(the kernel's FUSE shows no holes); with --nochrdev no character device
is made; a listing read with seekdir/telldir while names come and go is
judged by what POSIX promises (the two list in different orders); and
times and inode numbers are not compared, but for the times utimensat
sets or leaves (UTIME_NOW, UTIME_OMIT) and the inode number a file open
across its copy-up keeps.

The operations: writes (at the end, in the middle, truncating, through
a shared mapping, before and after a rename or an unlink, beside a
reader opened before the copy-up, through a second name of a file),
truncate and ftruncate of open files, fallocate with each mode,
copy_file_range and FICLONE, reads, lseek SEEK_DATA/SEEK_HOLE, open(2)
with various flags (O_TMPFILE linked in), stat, access(2), listings
(also with seekdir/telldir and rewinddir around creates and unlinks),
mkdir, rmdir, a whole tree removed (merged directories left with only
whiteouts), unlink, rename and renameat2 (RENAME_NOREPLACE, _EXCHANGE,
_WHITEOUT; now and then over an existing object), link, symlink, mknod
(FIFOs, sockets, devices, the 0/0 whiteout device), chmod, chown,
utimes, utimensat with UTIME_NOW and UTIME_OMIT, xattrs (user.*,
trusted.*, the overlay's opaque marker) on files, directories and
symlinks, file capabilities, POSIX ACLs (default ones on directories,
and what is made in them), and directories given an owner and a mode
by root and then changed by the user; as root, as a user (uid 1000),
or as root without capabilities.

With --workers N, N processes each apply --ops random operations to
layerfs alone, at once, where no result can be foretold; then only the
last two checks are made: the view stays the same across a remount, and
the kernel reads the upper as layerfs showed it. Workers store through
no mapping (a truncation by another would end the worker with SIGBUS).

With --nochrdev, layerfs may not make character devices (a seccomp
filter), as where whiteout devices are refused: it writes .wh. files,
which the last check turns into devices for the kernel.
"""
import argparse
import ctypes
import errno
import fcntl
import hashlib
import mmap
import os
import random
import stat
import struct
import subprocess
import sys
import time

NAMES = ["a", "b", "c", "d"]
MAXDEPTH = 3
# relative and never above the directory holding the link: following one
# must stay inside the mount (both mounts would otherwise share the file)
LINKS = ["a", "b/c", "x", "d/../a"]
# the kernel's features that layerfs does not have, off whatever the
# kernel's defaults (as KOPTS in tests/helpers.bash)
KOPTS = "redirect_dir=off,index=off,metacopy=off"
# the xattr that makes a lower directory opaque (user.overlay.opaque and
# the kernel's userxattr with --userns)
OPAQUE = "trusted.overlay.opaque"
# from Linux 6.7 the kernel's overlay takes its own attributes through the
# mount (escaped); before, it refuses them
ESCAPES = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2]) >= (6, 7)


# whether the kernel's writeback cache is on for layerfs's files (main())
WRITEBACK = False

# the paths of the kernel's view at its last snapshot: half the paths
# of the operations are taken from them, so that they meet files and
# directories (most names of the pool exist in no layer); operations on
# file data take regular files
existing = []
existing_files = []
existing_dirs = []
DATA_OPS = ("write", "read", "held_read", "truncate", "fallocate", "setcap",
            "mmap_write", "write_setcap", "copy_range", "write_unlink", "write_punch",
            "falloc_mode", "clone", "link_write", "held_ino", "held_truncate", "seek_hole")


def note_existing(view):
    existing[:] = sorted(view)
    existing_files[:] = [p for p in existing if view[p][0] == stat.S_IFREG]
    existing_dirs[:] = [p for p in existing if view[p][0] == stat.S_IFDIR]


def rand_dir(rng):
    """An existing directory most of the time (never the root)."""
    if existing_dirs and rng.random() < 0.8:
        return rng.choice(existing_dirs)
    return rand_path(rng)


def rand_target(rng):
    """A name to rename or link to: now and then an existing object (a
    directory over another, maybe empty or holding only whiteouts)."""
    if existing and rng.random() < 0.3:
        return rng.choice(existing)
    return rand_path(rng)


def rand_path(rng, depth=None, files=False):
    pool = existing_files if files and existing_files else existing
    if pool and depth is None and rng.random() < 0.5:
        return rng.choice(pool)
    depth = depth or rng.randint(1, MAXDEPTH)
    return "/".join(rng.choice(NAMES) for _ in range(depth))


def rand_data(rng):
    n = rng.choice([0, 1, 7, 100, 4096, 5000, 70000])
    return bytes(rng.getrandbits(8) for _ in range(min(n, 64))) * (n // 64 + 1)


# ---- lower layers -------------------------------------------------------

def build_layer(rng, root, layer, below):
    """Fill ROOT (layer LAYER, 1 = top) with random objects; BELOW is the
    set of paths that exist in the layers underneath."""
    made = set()
    for _ in range(40):
        p = rand_path(rng)
        full = os.path.join(root, p)
        parent = os.path.dirname(full)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError:
            continue  # a file or a dangling symlink on the way
        if os.path.lexists(full):
            continue
        kind = rng.random()
        try:
            if layer < 3 and p in below and kind < 0.25:
                os.mknod(full, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            elif kind < 0.55:
                with open(full, "wb") as f:
                    f.write(rand_data(rng))
                os.chmod(full, rng.choice([0o644, 0o600, 0o755, 0o444, 0o4755, 0o2755]))
                if rng.random() < 0.2:
                    os.setxattr(full, "user.fuzz", b"v%d" % layer)
                if rng.random() < 0.15:
                    os.setxattr(full, "security.capability", FILECAP)
            elif kind < 0.8:
                os.mkdir(full)
                if layer < 3 and p in below and rng.random() < 0.4:
                    os.setxattr(full, OPAQUE, b"y")
            elif kind < 0.9:
                os.symlink(rng.choice(LINKS), full)
            else:
                others = [q for q in made if os.path.isfile(os.path.join(root, q))
                          and not os.path.islink(os.path.join(root, q))]
                if others:
                    os.link(os.path.join(root, rng.choice(others)), full)
                else:
                    open(full, "wb").close()
        except OSError:
            continue
        made.add(p)
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            made.add(os.path.relpath(os.path.join(dirpath, n), root))
    return made


# ---- operations ---------------------------------------------------------

def result(fn):
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, str(e.errno)))


USER = 1000


def result_in_child(fn, become):
    """FN's result in a child that first calls BECOME."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            become()
            os.write(w, repr(result(fn)).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        out += b
    os.close(r)
    os.waitpid(pid, 0)
    return eval(out.decode()) if out else ("child died",)


def become_user():
    os.setgroups([])
    os.setgid(USER)
    os.setuid(USER)


def result_as_user(fn):
    """As uid and gid USER, no other groups: the permission checks of
    the merged view."""
    return result_in_child(fn, become_user)


def drop_capabilities():
    # capset(2), _LINUX_CAPABILITY_VERSION_3: two sets of (effective,
    # permitted, inheritable), all empty
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(ctypes.byref(hdr), ctypes.byref(data)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def result_without_caps(fn):
    """As root without capabilities (podman --cap-drop=all): the kernel
    checks permissions as for anyone, and the daemon's own decisions
    (set-id bits) must follow the capabilities, not the uid."""
    return result_in_child(fn, drop_capabilities)


# a file capability (cap_net_raw=ep, revision 2): a write or a chown of
# the file must drop it, as the kernel does
FILECAP = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)

libc = ctypes.CDLL(None, use_errno=True)
RENAME_FLAGS = {"noreplace": 1, "exchange": 2, "whiteout": 4}


def op_rename2(m, a):
    src, dst, how = a
    if libc.renameat2(-100, os.path.join(m, src).encode(), -100,
                      os.path.join(m, dst).encode(), RENAME_FLAGS[how]) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def op_utime(m, a):
    full = os.path.join(m, a[0])
    os.utime(full, ns=(a[1], a[1] + 7), follow_symlinks=False)
    st = os.lstat(full)
    return st.st_atime_ns, st.st_mtime_ns


def op_write(m, a):
    path, data, how = a
    full = os.path.join(m, path)
    if how == "trunc":
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    elif how == "append":
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    else:
        flags = os.O_RDWR
    fd = os.open(full, flags | os.O_NONBLOCK, 0o644)
    try:
        if how == "middle":
            os.lseek(fd, 3, os.SEEK_SET)
        return os.write(fd, data)
    finally:
        os.close(fd)


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def op_read(m, a):
    # O_NONBLOCK everywhere: a FIFO must not stop the run
    fd = os.open(os.path.join(m, a[0]), os.O_RDONLY | os.O_NONBLOCK)
    try:
        return hashlib.sha1(read_all(fd)).hexdigest()
    finally:
        os.close(fd)


def op_held_read(m, a):
    # a reader opened before a writer (and so before a copy-up) sees the
    # new data, as with the kernel since 4.19
    path, data = a
    full = os.path.join(m, path)
    r = os.open(full, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.pread(r, 1, 0)
        w = os.open(full, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
        try:
            os.write(w, data)
        finally:
            os.close(w)
        return hashlib.sha1(os.pread(r, 1 << 20, 0)).hexdigest()
    finally:
        os.close(r)


def phantom(path):
    """The kernel's overlayfs can list a name that a lower layer whites out
    in a merged directory while no lookup finds it (seen with Linux 6.18,
    a whiteout over a directory of a lower layer); such a name is no part
    of the view."""
    try:
        os.lstat(path)
        return False
    except FileNotFoundError:
        return True


def op_listdir(m, a):
    d = os.path.join(m, a[0])
    names = os.listdir(d)
    if len(names) != len(set(names)):
        return ("duplicates", sorted(names))
    return sorted(n for n in names if not phantom(os.path.join(d, n)))


def op_stat(m, a):
    st = os.lstat(os.path.join(m, a[0]))
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
            st.st_size if not stat.S_ISDIR(st.st_mode) else None,
            st.st_nlink, st.st_uid, st.st_gid)


def op_rename(m, a):
    os.rename(os.path.join(m, a[0]), os.path.join(m, a[1]))


def op_truncate(m, a):
    os.truncate(os.path.join(m, a[0]), a[1])


def op_xattr(m, a):
    """user.fuzz, or the overlay's own opaque marker: set through a mount
    it is an ordinary attribute, escaped in the upper (Linux 6.7), that
    must not make the directory opaque, then or after a remount."""
    full = os.path.join(m, a[0])
    if a[1] is None:
        os.removexattr(full, a[2], follow_symlinks=False)
    else:
        os.setxattr(full, a[2], a[1], follow_symlinks=False)


def op_fallocate(m, a):
    fd = os.open(os.path.join(m, a[0]), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.posix_fallocate(fd, a[1], a[2])
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def filecap_stat(path):
    """The stat of a regular file with a file capability, else None."""
    try:
        st = os.stat(path)
        os.getxattr(path, "security.capability")
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


# the operations that write file data (and so may clear set-id bits and
# a file capability)
WRITES = ("write", "held_read", "fallocate", "write_setcap", "copy_range",
          "write_rename", "write_unlink", "write_punch", "falloc_mode",
          "link_write", "held_truncate", "seek_hole")


def written(name, a):
    """The path whose data operation NAME with arguments A changes."""
    return a[1] if name in ("copy_range", "clone") else a[0]


def linked(path):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1


def linked_with_filecap(path):
    st = filecap_stat(path)
    return st is not None and st.st_nlink > 1


def setid_with_filecap(path):
    st = filecap_stat(path)
    return st is not None and bool(st.st_mode & (stat.S_ISUID | stat.S_ISGID))


OPEN_FLAGS = {"creat": os.O_CREAT, "excl": os.O_EXCL, "trunc": os.O_TRUNC,
              "append": os.O_APPEND, "directory": os.O_DIRECTORY,
              "nofollow": os.O_NOFOLLOW}
OPEN_ACCESS = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR,
               "tmpfile": os.O_TMPFILE | os.O_WRONLY, "path": os.O_PATH}


def op_open(m, a):
    """open(2) with flags the other operations do not use (through
    symlinks, with a trailing slash, O_TMPFILE linked in by name), and
    what the descriptor shows."""
    path, access, extra, slash, link = a
    flags = OPEN_ACCESS[access] | os.O_NONBLOCK
    for x in extra:
        flags |= OPEN_FLAGS[x]
    fd = os.open(os.path.join(m, path) + slash, flags, 0o640)
    try:
        st = os.fstat(fd)
        out = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
               st.st_size if stat.S_ISREG(st.st_mode) else None]
        if access == "tmpfile":
            os.write(fd, b"tmpfile")
            if link.count("/") % 2:
                # linkat(2) with AT_EMPTY_PATH (CAP_DAC_READ_SEARCH)
                out.append(result(lambda: libc.linkat(fd, b"", -100, os.path.join(m, link).encode(),
                                                      0x1000) == 0 or raise_errno()))
            else:
                out.append(result(lambda: os.link("/proc/self/fd/%d" % fd,
                                                  os.path.join(m, link))))
        return out
    finally:
        os.close(fd)


def op_setcap(m, a):
    os.setxattr(os.path.join(m, a[0]), "security.capability", FILECAP,
                follow_symlinks=False)


def open_nonempty(path):
    """PATH opened for reading and writing if it is a non-empty regular
    file, else None (and nothing opened: an open for writing alone copies
    up on the kernel's overlay, and with noopen not on layerfs)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return None
    return os.open(path, os.O_RDWR | os.O_NONBLOCK)


def op_mmap_write(m, a):
    """A store through a shared mapping of a non-empty regular file, which
    the kernel writes back later."""
    path, off, data = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, mmap.MAP_SHARED)
        try:
            off = off % size
            n = min(len(data), size - off)
            mm[off:off + n] = data[:n]
            mm.flush()
        finally:
            mm.close()
        return hashlib.sha1(read_all(fd)).hexdigest()
    finally:
        os.close(fd)


def op_write_setcap(m, a):
    """A file written and given a capability through its descriptor
    before its close: with a writeback cache the data reaches the file
    system at the close (a setxattr does not write it back first)."""
    path, data = a
    fd = os.open(os.path.join(m, path),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o755)
    try:
        n = os.write(fd, data)
        os.setxattr(fd, "security.capability", FILECAP)
        return n
    finally:
        os.close(fd)


def op_copy_range(m, a):
    """copy_file_range(2) from part of one file into another, made
    empty first (without O_TRUNC an open for writing that copies nothing
    would copy up on the kernel's overlay only, with noopen)."""
    src, dst, off, n = a
    fi = os.open(os.path.join(m, src), os.O_RDONLY | os.O_NONBLOCK)
    try:
        fo = os.open(os.path.join(m, dst),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
        try:
            return os.copy_file_range(fi, fo, n, off, 3)
        finally:
            os.close(fo)
    finally:
        os.close(fi)


def op_write_rename(m, a):
    """Writes through a descriptor before and after its file is renamed
    (with a writeback cache the data reaches the file system later)."""
    src, dst, data = a
    fd = os.open(os.path.join(m, src),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
    try:
        os.write(fd, data)
        moved = result(lambda: os.rename(os.path.join(m, src), os.path.join(m, dst)))
        os.write(fd, b"after the rename")
        return moved
    finally:
        os.close(fd)


def op_write_unlink(m, a):
    """Writes through a descriptor before and after its file is removed,
    and what the descriptor reads and shows then."""
    path, data = a
    fd = os.open(os.path.join(m, path),
                 os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
    try:
        os.write(fd, data)
        os.unlink(os.path.join(m, path))
        os.write(fd, b"after the unlink")
        st = os.fstat(fd)
        return (hashlib.sha1(os.pread(fd, 1 << 20, 0)).hexdigest(), st.st_size, st.st_nlink)
    finally:
        os.close(fd)


FALLOC = {"punch": 0x01 | 0x02, "zero": 0x10, "zero_keep": 0x10 | 0x01}


def op_write_punch(m, a):
    """A write through a descriptor, then a hole punched or a range zeroed
    over part of it and what the descriptor reads then (the written pages
    may still be in a writeback cache)."""
    path, how, off, n = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        os.pwrite(fd, b"w" * 9000, 100)
        if libc.fallocate(fd, FALLOC[how], ctypes.c_long(off), ctypes.c_long(n)) < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return (hashlib.sha1(read_all(fd)).hexdigest(), os.fstat(fd).st_size)
    finally:
        os.close(fd)


def raise_errno():
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))


# fallocate(2) modes beyond plain allocation; collapse and insert range
# never reach a FUSE daemon (EOPNOTSUPP, README): they are done on the
# kernel's overlay only where layerfs did not refuse them so
FALLOC_MODES = {"keep": 0x01, "punch": 0x01 | 0x02, "zero": 0x10,
                "zero_keep": 0x10 | 0x01, "collapse": 0x08, "insert": 0x20}
FALLOC_UNPASSED = ("collapse", "insert")


def op_falloc_mode(m, a):
    """fallocate(2) with a mode, on a descriptor held open for reading
    and writing, and what it reads and shows then."""
    path, how, off, n = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        if libc.fallocate(fd, FALLOC_MODES[how], ctypes.c_long(off), ctypes.c_long(n)) < 0:
            raise_errno()
        return (hashlib.sha1(os.pread(fd, 1 << 20, 0)).hexdigest(), os.fstat(fd).st_size)
    finally:
        os.close(fd)


FICLONE = 0x40049409


def op_clone(m, a):
    """ioctl(FICLONE) of one file into another made empty first: the
    backing file systems here have no reflinks, so both refuse, but
    with the same errno (EXDEV, EBADF, EISDIR...)."""
    src, dst = a
    fi = os.open(os.path.join(m, src), os.O_RDONLY | os.O_NONBLOCK)
    try:
        fo = os.open(os.path.join(m, dst),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, 0o644)
        try:
            fcntl.ioctl(fo, FICLONE, fi)
        finally:
            os.close(fo)
    finally:
        os.close(fi)


def op_link_write(m, a):
    """A second name for a file (a lower one breaks its links to other
    lower names at the copy-up), a write through the new name, and what
    both names show then."""
    src, dst, data = a
    s, d = os.path.join(m, src), os.path.join(m, dst)
    os.link(s, d, follow_symlinks=False)
    fd = os.open(d, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    out = []
    for p in (s, d):
        st = os.lstat(p)
        with open(p, "rb") as f:
            out.append((hashlib.sha1(f.read()).hexdigest(), st.st_size, st.st_nlink))
    return out


def op_held_ino(m, a):
    """A file kept open for reading across its copy-up (a chmod by path):
    its st_ino stays the same through the descriptor and the path."""
    path, mode = a
    full = os.path.join(m, path)
    fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        before = os.fstat(fd).st_ino
        os.chmod(full, mode)
        return (os.fstat(fd).st_ino == before, os.lstat(full).st_ino == before,
                stat.S_IMODE(os.fstat(fd).st_mode))
    finally:
        os.close(fd)


def op_held_truncate(m, a):
    """truncate(2) by path or ftruncate(2) of a file held open for
    reading and writing, a write through the descriptor past the new
    end, and what the descriptor reads and shows then."""
    path, size, how = a
    full = os.path.join(m, path)
    fd = open_nonempty(full)
    if fd is None:
        return "not a non-empty file"
    try:
        os.pread(fd, 10, 0)
        if how == "path":
            os.truncate(full, size)
        else:
            os.ftruncate(fd, size)
        os.pwrite(fd, b"past", size + 10)
        st = os.fstat(fd)
        return (hashlib.sha1(os.pread(fd, 1 << 20, 0)).hexdigest(), st.st_size)
    finally:
        os.close(fd)


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_SYMLINK_NOFOLLOW = 0x100


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def op_utimens(m, a):
    """utimensat(2) with UTIME_NOW or UTIME_OMIT for either time (which
    a user may also use on another's file it may write, when both are
    UTIME_NOW), and which time moved: kept, set to the value, or now."""
    path, at, mt, follow = a
    full = os.path.join(m, path)
    before = os.lstat(full) if not follow else os.stat(full)
    ts = (Timespec * 2)()
    for t, spec in zip(ts, (at, mt)):
        t.tv_sec, t.tv_nsec = (0, UTIME_NOW) if spec == "now" else \
            (0, UTIME_OMIT) if spec == "omit" else (spec, 5)
    start = time.time_ns() - 2 * 10**9
    if libc.utimensat(-100, full.encode(), ts, 0 if follow else AT_SYMLINK_NOFOLLOW) < 0:
        raise_errno()
    st = os.lstat(full) if not follow else os.stat(full)
    out = []
    for spec, old, new, atime in ((at, before.st_atime_ns, st.st_atime_ns, True),
                                  (mt, before.st_mtime_ns, st.st_mtime_ns, False)):
        if spec == "omit":
            # an atime may move on by itself (relatime: a listing of a
            # directory after a change in it), and the kernel's FUSE may
            # show a cached one before the call: only a move back counts
            out.append("kept" if new == old or (new > old and atime) else "moved")
        elif spec == "now":
            out.append("now" if new >= start else "not now")
        else:
            out.append("set" if new == spec * 10**9 + 5 else "not set")
    return out


MKNOD = {"fifo": (stat.S_IFIFO, 0), "sock": (stat.S_IFSOCK, 0),
         "null": (stat.S_IFCHR, os.makedev(1, 3)),
         "whiteout": (stat.S_IFCHR, os.makedev(0, 0)),
         "blk": (stat.S_IFBLK, os.makedev(7, 200))}


def op_mknod(m, a):
    """mknod(2) of each kind; a 0/0 character device, the overlay's
    whiteout, is refused through the mount."""
    path, kind = a
    mode, dev = MKNOD[kind]
    os.mknod(os.path.join(m, path), mode | 0o640, dev)


def op_access(m, a):
    """access(2): the permission checks the overlay makes on lower
    objects as the caller, with a trailing slash now and then."""
    path, mode, slash = a
    return os.access(os.path.join(m, path) + slash, mode)


def op_dir_user(m, a):
    """A directory given an owner and a mode by root, then changed and
    read as the user: a create, a listing, a removal."""
    path, uid, mode, name = a
    d = os.path.join(m, path)
    os.chown(d, uid, uid, follow_symlinks=False)
    os.chmod(d, mode)

    def as_user():
        return (result(lambda: os.close(os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o600))),
                result(lambda: sorted(n for n in os.listdir(d) if not phantom(os.path.join(d, n)))),
                result(lambda: os.unlink(os.path.join(d, name))),
                result(lambda: os.mkdir(os.path.join(d, name + name))),
                result(lambda: os.rename(os.path.join(d, name + name), os.path.join(d, name))))
    return result_as_user(as_user)


def op_rmtree(m, a):
    """Everything under a directory removed, deepest first and in name
    order, then the directory: the removal of a merged directory whose
    names are all whiteouts, and what each step returned."""
    out = []

    def rm(p):
        full = os.path.join(m, p)
        st = os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            names = result(lambda: sorted(n for n in os.listdir(full)
                                          if not phantom(os.path.join(full, n))))
            if names[0] == "ok":
                for n in names[1]:
                    rm(os.path.join(p, n))
            else:
                out.append((p, "listdir", names))
            out.append((p, result(lambda: os.rmdir(full))))
        else:
            out.append((p, result(lambda: os.unlink(full))))
    rm(a[0])
    return out


def op_seek_hole(m, a):
    """lseek(2) SEEK_DATA and SEEK_HOLE from a few offsets, after a write
    and a hole punched through the same descriptor (pages the writeback
    cache may still hold)."""
    path, off, n = a
    fd = open_nonempty(os.path.join(m, path))
    if fd is None:
        return "not a non-empty file"
    try:
        os.pwrite(fd, b"s" * 100, 20000)
        if libc.fallocate(fd, FALLOC_MODES["punch"], ctypes.c_long(off), ctypes.c_long(n)) < 0:
            raise_errno()
        size = os.fstat(fd).st_size
        out = []
        for start in (0, 4096, 12288, 20000, 30000):
            if WRITEBACK:
                # the kernel's FUSE answers itself: no holes (README),
                # so only what lies past the end is the same
                out.append(start >= size)
                continue
            for whence in (os.SEEK_DATA, os.SEEK_HOLE):
                out.append(result(lambda: os.lseek(fd, start, whence)))
        return out
    finally:
        os.close(fd)


# POSIX ACLs as the kernel stores them (version 2; tag, permissions, id)
ACL_TAGS = {"user_obj": 1, "user": 2, "group_obj": 4, "group": 8, "mask": 0x10, "other": 0x20}
ACLS = {
    "min": [("user_obj", 7, -1), ("group_obj", 5, -1), ("other", 0, -1)],
    "user": [("user_obj", 7, -1), ("user", 7, USER), ("group_obj", 5, -1),
             ("mask", 7, -1), ("other", 1, -1)],
    "group": [("user_obj", 6, -1), ("group_obj", 4, -1), ("group", 6, USER),
              ("mask", 4, -1), ("other", 4, -1)],
}


def acl_value(name):
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", ACL_TAGS[t], perm, i & 0xffffffff) for t, perm, i in ACLS[name])


def op_acl(m, a):
    """A POSIX ACL set on an object (a default one on a directory: the
    modes and ACLs of what is made in it follow it), or removed; then a
    file and a directory made in it, and their modes."""
    path, which, acl = a
    full = os.path.join(m, path)
    name = "system.posix_acl_" + which
    if acl is None:
        os.removexattr(full, name)
    else:
        os.setxattr(full, name, acl_value(acl))
    st = os.lstat(full)
    out = [stat.S_IMODE(st.st_mode)]
    if stat.S_ISDIR(st.st_mode):
        for made, mk in (("af", lambda p: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o666))),
                         ("ad", lambda p: os.mkdir(p, 0o777))):
            p = os.path.join(full, made)
            out.append(result(lambda: mk(p)))
            out.append(result(lambda: stat.S_IMODE(os.lstat(p).st_mode)))
    return out


class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]
libc.rewinddir.argtypes = [ctypes.c_void_p]


def op_readdir_seek(m, a):
    """A listing read in part, a position taken (telldir), more read,
    names made and removed, then a seekdir back and the rest read. Names
    made or removed meanwhile may or may not show (POSIX); the others must
    show exactly once before the position or after it, and those read
    after the position must show again after the seekdir, in the same
    order. The result is what broke that, and the names that stayed."""
    path, k, j, new, gone = a
    d = os.path.join(m, path)
    # the name to remove, by name: the two list in different orders
    names = sorted(n for n in os.listdir(d) if not phantom(os.path.join(d, n)))
    victim = names[gone % len(names)] if names and gone is not None else None
    dp = libc.opendir(d.encode())
    if not dp:
        raise_errno()

    def read(n):
        names = []
        while n is None or len(names) < n:
            ctypes.set_errno(0)
            e = libc.readdir(dp)
            if not e:
                if ctypes.get_errno():
                    raise_errno()
                break
            name = e.contents.d_name.decode("utf-8", "surrogateescape")
            if name not in (".", ".."):
                names.append(name)
        return names
    try:
        first = read(k)
        pos = libc.telldir(dp)
        middle = read(j)
        touched = {new}
        changes = [result(lambda: os.close(os.open(os.path.join(d, new), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)))]
        if victim is not None:
            touched.add(victim)
            changes.append(result(lambda: os.unlink(os.path.join(d, victim))))
        libc.seekdir(dp, pos)
        rest = read(None)
        # after a rewinddir the listing is the directory's now (the
        # descriptor was opened before its copy-up, maybe)
        libc.rewinddir(dp)
        rewound = set(n for n in read(None) if not phantom(os.path.join(d, n)))
    finally:
        libc.closedir(dp)
    now = set(n for n in os.listdir(d) if not phantom(os.path.join(d, n)))
    kept = now - touched
    broken = []
    seen = first + rest
    for n in sorted(kept):
        if seen.count(n) != 1:
            broken.append((n, "seen %d times" % seen.count(n)))
    for n in sorted(set(seen) - kept - touched):
        if not phantom(os.path.join(d, n)):
            broken.append((n, "not in the directory"))
    if rewound != now:
        broken.append(("after a rewinddir", sorted(rewound ^ now)))
    again = [n for n in rest if n in set(middle) and n in kept]
    if again != [n for n in middle if n in kept]:
        broken.append(("after the seekdir", "read %r, then %r" % (middle, rest)))
    return (sorted(kept), [c[0] for c in changes], broken)


OPS = {
    "write": op_write,
    "read": op_read,
    "held_read": op_held_read,
    "listdir": op_listdir,
    "stat": op_stat,
    "mkdir": lambda m, a: os.mkdir(os.path.join(m, a[0]), 0o755),
    "rmdir": lambda m, a: os.rmdir(os.path.join(m, a[0])),
    "unlink": lambda m, a: os.unlink(os.path.join(m, a[0])),
    "rename": op_rename,
    "link": lambda m, a: os.link(os.path.join(m, a[0]), os.path.join(m, a[1]),
                                 follow_symlinks=False),
    "symlink": lambda m, a: os.symlink(a[0], os.path.join(m, a[1])),
    "chmod": lambda m, a: os.chmod(os.path.join(m, a[0]), a[1]),
    "chown": lambda m, a: os.chown(os.path.join(m, a[0]), a[1], a[2],
                                   follow_symlinks=False),
    "truncate": op_truncate,
    "xattr": op_xattr,
    "mkfifo": lambda m, a: os.mkfifo(os.path.join(m, a[0]), 0o600),
    "rename2": op_rename2,
    "utime": op_utime,
    "setcap": op_setcap,
    "fallocate": op_fallocate,
    "open": op_open,
    "mmap_write": op_mmap_write,
    "write_setcap": op_write_setcap,
    "copy_range": op_copy_range,
    "write_rename": op_write_rename,
    "write_unlink": op_write_unlink,
    "write_punch": op_write_punch,
    "falloc_mode": op_falloc_mode,
    "clone": op_clone,
    "link_write": op_link_write,
    "held_ino": op_held_ino,
    "held_truncate": op_held_truncate,
    "utimens": op_utimens,
    "mknod": op_mknod,
    "access": op_access,
    "dir_user": op_dir_user,
    "rmtree": op_rmtree,
    "readdir_seek": op_readdir_seek,
    "seek_hole": op_seek_hole,
    "acl": op_acl,
}


def shown_args(name, a):
    """A's data as its length, for the log."""
    return tuple(len(x) if isinstance(x, bytes) and name != "xattr" else x for x in a)


def rand_op(rng):
    name = rng.choice(list(OPS) + ["write", "write", "stat", "listdir"])
    p = rand_path(rng, files=name in DATA_OPS)
    if name == "write":
        return name, (p, rand_data(rng), rng.choice(["trunc", "append", "middle"]))
    if name == "held_read":
        return name, (p, b"more")
    if name == "mmap_write":
        return name, (p, rng.choice([0, 5, 4090, 5000]), rng.choice([b"M", b"mapped" * 200]))
    if name in ("write_setcap", "write_unlink"):
        return name, (p, rand_data(rng))
    if name == "copy_range":
        return name, (p, rand_path(rng), rng.choice([0, 1, 4096, 5000]),
                      rng.choice([1, 100, 70000]))
    if name == "write_punch":
        return name, (p, rng.choice(list(FALLOC)), rng.choice([0, 50, 4096, 8192]),
                      rng.choice([1, 100, 4096, 20000]))
    if name == "write_rename":
        return name, (p, rand_path(rng), rand_data(rng))
    if name in ("rename", "link"):
        return name, (p, rand_target(rng))
    if name == "rename2":
        return name, (p, rand_target(rng), rng.choice(list(RENAME_FLAGS)))
    if name == "falloc_mode":
        return name, (p, rng.choice(list(FALLOC_MODES)), rng.choice([0, 50, 4096, 8192]),
                      rng.choice([1, 100, 4096, 20000]))
    if name == "clone":
        return name, (p, rand_path(rng))
    if name == "link_write":
        return name, (p, rand_path(rng), rand_data(rng) or b"x")
    if name == "held_ino":
        return name, (p, rng.choice([0o600, 0o644, 0o755]))
    if name == "held_truncate":
        return name, (p, rng.choice([0, 1, 4096, 5000, 100000]), rng.choice(["path", "fd"]))
    if name == "utimens":
        return name, (p, rng.choice(["now", "omit", rng.randrange(1, 1 << 32)]),
                      rng.choice(["now", "omit", rng.randrange(1, 1 << 32)]), rng.random() < 0.3)
    if name == "mknod":
        return name, (p, rng.choice(list(MKNOD)))
    if name == "access":
        return name, (p, rng.choice([os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.W_OK]),
                      "/" if rng.random() < 0.1 else "")
    if name == "dir_user":
        return name, (rand_dir(rng), rng.choice([0, USER]), rng.choice([0o755, 0o777, 0o1777, 0o700, 0o500]),
                      rng.choice(NAMES))
    if name == "seek_hole":
        return name, (p, rng.choice([0, 4096, 8192]), rng.choice([4096, 8192, 40000]))
    if name == "acl":
        which = rng.choice(["access", "default"])
        return name, (rand_dir(rng) if which == "default" else p, which,
                      rng.choice([None] + list(ACLS)))
    if name == "rmtree":
        return name, (rand_dir(rng),)
    if name == "readdir_seek":
        return name, (rng.choice(["", rand_dir(rng)]), rng.randint(0, 3), rng.randint(0, 3),
                      "n" + rng.choice(NAMES), rng.choice([None, 0, 1, 2]))
    if name == "utime":
        return name, (p, rng.randrange(1, 1 << 40) * 1000)
    if name == "symlink":
        return name, (rng.choice(LINKS), p)
    if name == "chmod":
        return name, (p, rng.choice([0o600, 0o644, 0o755, 0o700, 0o4755, 0o2775, 0o3777]))
    if name == "chown":
        return name, (p, rng.choice([-1, 0, 1000]), rng.choice([-1, 0, 1000]))
    if name == "fallocate":
        return name, (p, rng.choice([0, 100, 5000]), rng.choice([1, 4096, 70000]))
    if name == "truncate":
        return name, (p, rng.choice([0, 1, 4096, 100000]))
    if name == "xattr":
        return name, (p, rng.choice([None, b"x", b"longer value"]),
                      rng.choice(["user.fuzz", "user.fuzz", "trusted.fuzz", OPAQUE] if ESCAPES
                                 else ["user.fuzz", "trusted.fuzz"]))
    if name == "open":
        access = rng.choice(["r", "r", "w", "rw", "tmpfile", "path"])
        extra = [x for x in OPEN_FLAGS if rng.random() < 0.15]
        return name, (p, access, extra, "/" if rng.random() < 0.1 else "", rand_path(rng))
    if name == "listdir":
        return name, (rng.choice(["", p.rsplit("/", 1)[0]]),)
    return name, (p,)


# ---- the whole view -----------------------------------------------------

def snapshot(m):
    view = {}
    for dirpath, dirs, files in os.walk(m):
        dirs.sort()
        for n in sorted(dirs + files):
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, m)
            if phantom(full):
                continue
            st = os.lstat(full)
            item = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                    st.st_uid, st.st_gid]
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    item += [st.st_size, st.st_nlink, hashlib.sha1(f.read()).hexdigest()]
            elif stat.S_ISLNK(st.st_mode):
                item.append(os.readlink(full))
            else:
                item.append(st.st_nlink)
            for x in ("user.fuzz", "trusted.fuzz", "security.capability", OPAQUE,
                      "system.posix_acl_access", "system.posix_acl_default"):
                try:
                    item.append(os.getxattr(full, x, follow_symlinks=False))
                except OSError:
                    pass
            # the names a program sees: none of the overlay's own
            item.append(sorted(os.listxattr(full, follow_symlinks=False)))
            view[rel] = item
    return view


def upper_objects(u):
    """What an upper layer holds: each path's type, whiteouts (a 0/0
    device or a .wh. file) as such. Opacity is left out: the kernel makes
    a directory opaque when it is made where a lower layer has a whiteout,
    layerfs only where a lower directory would show through."""
    out = {}
    for dirpath, dirs, files in os.walk(u):
        for n in dirs + files:
            full = os.path.join(dirpath, n)
            st = os.lstat(full)
            if n == ".wh..wh..opq":
                continue
            if n.startswith(".wh."):
                n, kind = n[4:], "whiteout"
            elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                kind = "whiteout"
            else:
                kind = stat.S_IFMT(st.st_mode)
            out[os.path.relpath(os.path.join(dirpath, n), u)] = kind
    return out


def diff_views(k, l):
    out = []
    for p in sorted(set(k) | set(l)):
        if k.get(p) != l.get(p):
            out.append("  %s: kernel %r, layerfs %r" % (p, k.get(p), l.get(p)))
    return out


# ---- mounts -------------------------------------------------------------

def initial_userns():
    """Whether this process is in the initial user namespace, the one that
    maps every id to itself."""
    with open("/proc/self/uid_map") as f:
        return f.read().split() == ["0", "0", "4294967295"]


CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
# the ids a user namespace of difffuzz's own maps (each to itself)
NS_IDS = 65536


def enter_userns():
    """Move into a new user namespace, ids 0 to NS_IDS - 1 mapped to
    themselves, and a mount namespace of its own: --userns run by root
    of the initial namespace. Outside one, layerfs, really root, would
    write trusted.overlay.* markers (as the kernel's overlay without
    userxattr does), which the kernel's overlay with userxattr beside it
    reads as plain xattrs, and show opaque directories that overlay
    does not honour. A child left outside writes the maps (an
    unprivileged process could map only itself)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(w)
            if os.read(r, 1) == b"u":
                ns = "/proc/%d/" % os.getppid()
                for name in ("uid_map", "gid_map"):
                    with open(ns + name, "w") as f:
                        f.write("0 0 %d\n" % NS_IDS)
                code = 0
        finally:
            os._exit(code)
    os.close(r)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0:
        e = ctypes.get_errno()
        os.close(w)
        os.waitpid(pid, 0)
        sys.exit("difffuzz: --userns: unshare: %s" % os.strerror(e))
    os.write(w, b"u")
    os.close(w)
    if os.waitpid(pid, 0)[1] != 0 or initial_userns():
        sys.exit("difffuzz: --userns: could not map the ids of a user namespace")


def mounted(m):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == m for line in f)


def umount(m):
    if not mounted(m):
        return
    for cmd in (["umount", m], ["umount", "-l", m]):
        if subprocess.run(cmd, stderr=subprocess.DEVNULL).returncode == 0:
            break
    for _ in range(100):
        if not mounted(m):
            return
        time.sleep(0.05)


def layerfs_cmd(args):
    """layerfs, behind fsops nochrdev with --nochrdev"""
    if args.nochrdev:
        return [args.nochrdev, "nochrdev", args.layerfs]
    return [args.layerfs]


def chardev_whiteouts(src, dst):
    """Copy the upper SRC to DST with each .wh.NAME file turned into the
    0/0 device NAME, the only form of whiteout the kernel reads. Returns
    the names that had both forms."""
    subprocess.run(["cp", "-a", src, dst], check=True)
    both = []
    for dirpath, dirs, files in os.walk(dst):
        for n in files:
            if not n.startswith(".wh.") or n == ".wh..wh..opq":
                continue
            target = os.path.join(dirpath, n[4:])
            os.unlink(os.path.join(dirpath, n))
            if os.path.lexists(target):
                both.append(os.path.relpath(target, dst))
                continue
            os.mknod(target, stat.S_IFCHR | 0o600, 0)
    return both


def mount_both(args, d):
    lower = ":".join(os.path.join(d, "lower", "l%d" % i) for i in (1, 2, 3))
    km, lm = os.path.join(d, "kernel"), os.path.join(d, "layerfs")
    for x in ("ku", "kw", "lu", "lw"):
        os.makedirs(os.path.join(d, x), exist_ok=True)
    os.makedirs(km, exist_ok=True)
    os.makedirs(lm, exist_ok=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=%s,upperdir=%s/ku,workdir=%s/kw,%s" % (lower, d, d, KOPTS),
                    km], check=True)
    subprocess.run(layerfs_cmd(args) + ["-o",
                    "lowerdir=%s,upperdir=%s/lu,workdir=%s/lw%s" % (lower, d, d, args.opts), lm],
                   check=True)
    for _ in range(100):
        if mounted(lm):
            break
        time.sleep(0.05)
    return km, lm


def run_workers(lm, seed, workers, ops, logs):
    """WORKERS processes apply OPS random operations each to LM at once;
    results are not judged, but each worker logs its operations and
    results, with the time they started, to LOGS/wN.log. Returns the
    workers that died."""
    pids = []
    for k in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                rng = random.Random(seed * 1000 + k)
                with open(os.path.join(logs, "w%d.log" % k), "w") as log:
                    for i in range(ops):
                        name, a = rand_op(rng)
                        if name == "mmap_write":
                            # another worker's truncation would kill this
                            # one with SIGBUS
                            continue
                        t = time.monotonic()
                        r = result(lambda: OPS[name](lm, a))
                        shown = shown_args(name, a)
                        log.write("%.6f w%d.%d %s %r: %r\n" % (t, k, i, name, shown, r))
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    return [p for p in pids if os.waitpid(p, 0)[1] != 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layerfs", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--opts", default="", help="more layerfs -o options")
    ap.add_argument("--userns", action="store_true",
                    help="run inside a user namespace (as root of it, with "
                    "uid and gid %d mapped; root of the initial namespace "
                    "makes one): the layers use user.overlay.* "
                    "xattrs, the kernel mounts with userxattr" % USER)
    ap.add_argument("--workers", type=int, default=0,
                    help="apply operations from this many processes at "
                    "once, to layerfs alone")
    ap.add_argument("--nochrdev", metavar="FSOPS",
                    help="run layerfs behind FSOPS nochrdev (tests/tools/fsops): "
                    "it may not make whiteout devices and writes .wh. files")
    args = ap.parse_args()
    if args.userns:
        if initial_userns():
            # the comparison holds only where layerfs runs as rootless
            # podman runs it (user.overlay.*, as the kernel's userxattr)
            if os.geteuid() != 0:
                sys.exit("difffuzz: --userns: run as root, or as root of a user "
                         "namespace (unshare -rm --map-auto)")
            enter_userns()
        global KOPTS, OPAQUE
        KOPTS = KOPTS.replace("redirect_dir=off", "redirect_dir=nofollow") + ",userxattr"
        OPAQUE = "user.overlay.opaque"
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    if os.listdir(d):
        sys.exit("difffuzz: %s is not empty" % d)
    os.umask(0o022)
    rng = random.Random(args.seed)
    below = set()
    for layer in (3, 2, 1):
        root = os.path.join(d, "lower", "l%d" % layer)
        os.makedirs(root)
        below |= build_layer(rng, root, layer, below)
    km, lm = mount_both(args, d)
    note_existing(snapshot(km))
    lower = ":".join(os.path.join(d, "lower", "l%d" % i) for i in (1, 2, 3))
    done = []
    failed = []
    # noopen is layerfs's default in a user namespace
    opts = args.opts.split(",")
    noopen = "noopen" in opts or "noopen=1" in opts or \
        (args.userns and "noopen=0" not in opts)
    # the kernel's writeback cache: wherever file data does not pass
    # through (never in a user namespace)
    writeback = (noopen or args.userns or "passthrough=0" in opts) and \
        "writeback=0" not in opts
    global WRITEBACK
    WRITEBACK = writeback
    try:
        if args.workers:
            dead = run_workers(lm, args.seed, args.workers, args.ops, d)
            if dead:
                failed.append("%d worker(s) died" % len(dead))
            # on a failure, the last operations of all workers in time order
            for k in range(args.workers):
                with open(os.path.join(d, "w%d.log" % k)) as f:
                    done += f.read().splitlines()
            done.sort()
        for i in range(0 if args.workers else args.ops):
            name, a = rand_op(rng)
            if noopen and (name == "write" and not a[1] and a[2] != "trunc" or
                           name == "open" and a[1] in ("w", "rw") and "trunc" not in a[2]):
                done.append("%d %s %r: nothing written, skipped with noopen" % (i, name, a[0]))
                continue
            # a quarter of the operations run as another user, a tenth
            # as root without capabilities
            r = rng.random()
            run = result_as_user if r < 0.25 else result_without_caps if r < 0.35 else result
            if not writeback and name in WRITES and \
                    run is result and \
                    setid_with_filecap(os.path.join(km, written(name, a))):
                done.append("%d %s %r: set-id with a file capability, by root, " % (i, name, a[0]) +
                            "skipped without the writeback cache")
                continue
            if args.userns and (name in WRITES + ("truncate",) or
                                name == "open" and a[1] in ("w", "rw")) and \
                    linked_with_filecap(os.path.join(km, written(name, a))):
                done.append("%d %s %r: a file capability and more than one name, " % (i, name, a[0]) +
                            "skipped in a user namespace")
                continue
            if args.userns and run is not result and linked(os.path.join(km, a[0])):
                done.append("%d %s %r: by another user, a file with more than one name, " % (i, name, a[0]) +
                            "skipped in a user namespace")
                continue
            if args.nochrdev and name == "mknod" and a[1] == "null":
                done.append("%d %s %r: no character devices with --nochrdev, skipped" % (i, name, a))
                continue
            if args.userns and name == "link_write" and \
                    (run is not result or filecap_stat(os.path.join(km, a[0]))):
                done.append("%d %s %r: a second name, then a write by another user or " % (i, name, a[0]) +
                            "to a file with a file capability, skipped in a user namespace")
                continue
            if name == "falloc_mode" and a[1] in FALLOC_UNPASSED:
                # layerfs first: FUSE refuses these modes before the
                # daemon (README), the kernel's overlay passes them on
                rl = run(lambda: OPS[name](lm, a))
                if rl == ("err", errno.errorcode[errno.EOPNOTSUPP]):
                    # but the open for writing copies up (not with
                    # noopen, where the kernel's overlay would)
                    if not noopen:
                        run(lambda: os.close(open_nonempty(os.path.join(km, a[0]))))
                    done.append("%d %s %r: EOPNOTSUPP on layerfs, only opened on the kernel" % (i, name, a[:2]))
                    continue
                rk = run(lambda: OPS[name](km, a))
            else:
                rk = run(lambda: OPS[name](km, a))
                if name in ("rename", "rename2") and rk == ("err", "EXDEV"):
                    done.append("%d %s %r: kernel EXDEV, skipped" % (i, name, a[:2]))
                    continue
                rl = run(lambda: OPS[name](lm, a))
            shown = shown_args(name, a)
            who = {result_as_user: " (user)", result_without_caps: " (no caps)"}.get(run, "")
            done.append("%d %s%s %r: %r" % (i, name, who,
                                               shown, rk))
            if rk != rl:
                failed.append("op %d %s %r: kernel %r, layerfs %r" % (i, name, shown, rk, rl))
                break
            if i % 25 == 24 or i == args.ops - 1:
                view = snapshot(km)
                note_existing(view)
                diffs = diff_views(view, snapshot(lm))
                if diffs:
                    failed.append("views differ after op %d:" % i)
                    failed += diffs[:20]
                    break
        if not failed and not args.workers:
            # nothing copied up, whited out or made that the kernel did not
            diffs = diff_views(upper_objects(os.path.join(d, "ku")),
                               upper_objects(os.path.join(d, "lu")))
            if diffs:
                failed.append("the uppers hold different objects:")
                failed += diffs[:20]
        if not failed:
            # what layerfs wrote reads back the same after a remount
            before = snapshot(lm)
            umount(lm)
            subprocess.run(layerfs_cmd(args) + ["-o", "lowerdir=%s,upperdir=%s/lu,workdir=%s/lw%s" % (
                lower, d, d, args.opts), lm], check=True)
            diffs = diff_views(before, snapshot(lm))
            if diffs:
                failed.append("layerfs view changed across a remount:")
                failed += diffs[:20]
        if not failed:
            # and the kernel reads the upper as layerfs shows it (the upper
            # as the top lower layer: what podman commits as a layer)
            umount(lm)
            umount(km)
            top = os.path.join(d, "lu")
            if args.nochrdev:
                top = os.path.join(d, "lu-chardev")
                both = chardev_whiteouts(os.path.join(d, "lu"), top)
                if both:
                    failed.append("the upper has both a .wh. file and the name: %s" % both)
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s:%s,%s" % (top, lower, KOPTS), km], check=True)
            diffs = diff_views(snapshot(km), before)
            if diffs:
                failed.append("the kernel reads layerfs's upper differently:")
                failed += diffs[:20]
    finally:
        umount(lm)
        umount(km)
    if failed:
        print("difffuzz: seed %d" % args.seed)
        print("\n".join(done[-40:]))
        print("\n".join(failed))
        sys.exit(1)
    if args.workers:
        print("difffuzz: seed %d, %d workers of %d operations, the same after a remount "
              "and through the kernel" % (args.seed, args.workers, args.ops))
    else:
        print("difffuzz: seed %d, %d operations, same results" % (args.seed, args.ops))


if __name__ == "__main__":
    main()
